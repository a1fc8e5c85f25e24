// Recorder snapshot + run facts → RunSummary and RunResult (metrics.md's per-run definitions).
import type { RecorderSnapshot } from '../metrics/recorder.js';
import type { TallySnapshot } from '../metrics/tally.js';
import { summarizePromptPlanned } from '../metrics/prompt-planned.js';
import type { GeneratorHealth, RunIdentity, RunMeta, RunResult, RunStatus, RunSummary, ServerSection, SloVerdict, WorkloadSection } from './types.js';
import { RESULTS_SCHEMA } from './types.js';

export interface SummaryFacts {
  warmupS: number;
  /** when arrivals ended (µs since start); `now` while the run goes on */
  arrivalsEndUs: number;
  /** closed-loop executors have no target rate */
  openLoop: boolean;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export function buildSummary(snap: TallySnapshot, facts: SummaryFacts): RunSummary {
  const c = snap.counters;
  const warmupUs = facts.warmupS * 1e6;
  // metrics.md: from the end of warm-up to the last completion of a request that arrived inside
  // the window; with no completion at all, to the last end of any (every throughput is 0 then)
  const lastEndUs = Number.isNaN(c.lastEndUs) ? c.lastAnyEndUs : c.lastEndUs;
  const durationS = Number.isNaN(lastEndUs) ? 0 : Math.max(0, (lastEndUs - warmupUs) / 1e6);
  const arrivalPeriodS = Math.max(0, (facts.arrivalsEndUs - warmupUs) / 1e6);
  const perS = (n: number): number => (durationS > 0 ? r3(n / durationS) : 0);
  return {
    duration_s: r3(durationS),
    requests: {
      sent: c.sent,
      completed: c.completed,
      failed: c.failed,
      dropped: c.dropped,
      interrupted: c.interrupted,
      good: c.good,
      warmup_sent: c.warmupSent,
      warmup_dropped: c.warmupDropped,
    },
    errors: { ...c.errors },
    throughput: {
      request_per_s: perS(c.completed),
      output_tokens_per_s: perS(c.outputTokens),
      total_tokens_per_s: perS(c.promptTokens + c.outputTokens),
      goodput_request_per_s: perS(c.good),
      goodput_ratio: c.completed > 0 ? r3(c.good / c.completed) : null,
    },
    rate: {
      target_per_s: facts.openLoop && arrivalPeriodS > 0 ? r3((c.sent + c.dropped) / arrivalPeriodS) : null,
      achieved_per_s: arrivalPeriodS > 0 ? r3(c.sent / arrivalPeriodS) : null,
      arrival_period_s: r3(arrivalPeriodS),
    },
    latency_ms: snap.latencyMs,
    tokens: {
      prompt: c.promptTokens,
      output: c.outputTokens,
      output_usage: c.outputTokensUsage,
      output_chunks: c.outputChunks,
      output_estimated_requests: c.outputTokensEstimated,
      prompt_planned_vs_server: summarizePromptPlanned(c.promptPlanned),
    },
    ...(snap.prefix && { prefix: snap.prefix }),
  };
}

export interface ResultParts {
  status: RunStatus;
  statusReason: string | null;
  meta: RunMeta;
  summary: RunSummary;
  snapshot: RecorderSnapshot;
  slo: SloVerdict[];
  generator: GeneratorHealth;
  errorSamples: RunResult['error_samples'];
  server?: ServerSection;
  workload?: WorkloadSection;
  correlation?: Record<string, number>;
  correlationAlignment?: RunResult['correlation_alignment'];
  /** per class, turn and model (results/slices.ts) */
  slices?: Pick<RunResult, 'classes' | 'turns' | 'models'>;
  sessions?: RunResult['sessions'];
  identity?: RunIdentity;
}

export function buildResult(p: ResultParts): RunResult {
  return {
    schema: RESULTS_SCHEMA,
    ...(p.identity && { run_id: p.identity.run_id, scenario_hash: p.identity.scenario_hash, ...(p.identity.shard && { shard: p.identity.shard }) }),
    status: p.status,
    status_reason: p.statusReason,
    run: p.meta,
    summary: p.summary,
    ...(p.workload && { workload: p.workload }),
    windows: p.snapshot.windows,
    server: p.server ?? { endpoints: [], tokens: null, gpu_count: null, alerts: [] },
    correlation: p.correlation ?? {},
    ...(p.correlationAlignment && { correlation_alignment: p.correlationAlignment }),
    slo: p.slo,
    generator: p.generator,
    ...(p.slices?.classes && { classes: p.slices.classes }),
    ...(p.slices?.turns && { turns: p.slices.turns }),
    ...(p.slices?.models && { models: p.slices.models }),
    ...(p.sessions && { sessions: p.sessions }),
    error_samples: p.errorSamples,
  };
}
