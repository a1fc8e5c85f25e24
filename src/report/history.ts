// `inferload history`: many saved runs of one scenario as a trend, each judged by the regression
// gate the way a nightly job would have judged it. Pure: reading the files is cli/history-command.ts's
// job, rendering history-html.ts's and history-markdown.ts's.
//
// How each run is judged. The nightly recipe (README, "Nightly gate") compares tonight's run with a
// baseline file and adds the run to the file only when the gate passed, so a regression never
// becomes the reference. History replays that: walking the runs oldest first, it keeps a rolling
// baseline of the last K runs that passed (complete, something completed, no regression) and
// judges each run against it with `compareRuns` (analysis/compare.ts: the same noise bands,
// tolerance and verdicts as `inferload compare`), then adds it with `addRun` (analysis/baseline.ts:
// the same rules as `inferload baseline add`). A change of load or workload (an edited scenario, or
// a sweep whose best step ran at another rate) cannot be compared; such a run starts a baseline of
// its own, and a later run is judged against the baseline of the runs it is comparable with.
//
// Capacity per GPU (sweeps) is not among the gate's metrics: it is judged here by the gate's rule
// (worse, beyond the tolerance, and beyond the run-to-run 95 % prediction band of the earlier
// sweeps when there are two or more: `predictionHalfWidth`), against the last K passing sweeps of
// the same workload, whatever rate their best step ran at.
import {
  addRun,
  comparabilityProblems,
  COMPARED_METRICS,
  DEFAULT_BASELINE_MAX_RUNS,
  emptyBaseline,
  type Baseline,
  type BaselineRun,
  type MetricKey,
} from '../analysis/baseline.js';
import { compareRuns, DEFAULT_TOLERANCE_PCT, METRIC_INFO, predictionHalfWidth, type Comparison, type MetricComparison, type MetricInfo } from '../analysis/compare.js';
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { LATENCY_METRICS } from '../metrics/recorder.js';
import { RESULTS_SCHEMA, type RunResult, type RunStatus } from '../results/types.js';
import { oneLine } from './common.js';
import { fmtChange, fmtMetricValue } from './compare-markdown.js';

export const HISTORY_SCHEMA = 'inferload/history@1';
/** Runs in the rolling baseline by default: what `inferload baseline add` keeps by default. */
export const DEFAULT_HISTORY_BASELINE_RUNS = DEFAULT_BASELINE_MAX_RUNS;

/** The figures a history follows: the gate's metrics, the goodput ratio and a sweep's capacity per GPU. */
export type HistoryMetricKey = MetricKey | 'goodput_ratio' | 'capacity_per_gpu_request_per_s';
export const HISTORY_METRICS: readonly HistoryMetricKey[] = [...COMPARED_METRICS, 'goodput_ratio', 'capacity_per_gpu_request_per_s'];

/** Label, unit and good direction of every figure; `gated`: a change can be a regression. */
export const HISTORY_METRIC_INFO: Record<HistoryMetricKey, MetricInfo & { gated: boolean }> = {
  ...(Object.fromEntries(COMPARED_METRICS.map((k) => [k, { ...METRIC_INFO[k], gated: true }])) as Record<MetricKey, MetricInfo & { gated: boolean }>),
  goodput_ratio: { label: 'goodput ratio', unit: 'ratio', better: 'larger', gated: false },
  capacity_per_gpu_request_per_s: { label: 'capacity per GPU', unit: 'req/s', better: 'larger', gated: true },
};

/** A sweep's capacity (results.capacity), as history keeps it. */
export interface HistoryCapacity {
  per_gpu_request_per_s: number | null;
  per_gpu_output_tokens_per_s: number | null;
  sustainable_request_per_s: number | null;
  gpu_count: number | null;
}

/** One run read for a history: the gate's digest of it, and what the trend shows beside it. */
export interface HistoryInput {
  digest: BaselineRun;
  status_reason: string | null;
  goodput_ratio: number | null;
  capacity: HistoryCapacity | null;
  /** SLO verdicts: passed of total; null without SLOs, or unknown (a baseline file keeps only their names) */
  slo: { passed: number; total: number } | null;
  /** where it was read: a results.json, or `BASELINE runs[i]` */
  source: string;
  from: 'results' | 'baseline';
  /** the run's report.html as a link relative to the history's directory, or null */
  report: string | null;
}

/** One change the gate found, named for people: `TTFT p95 +21.0 % (14.1 ms → 17.0 ms)`. */
export interface HistoryChange {
  metric: HistoryMetricKey;
  label: string;
  unit: MetricInfo['unit'];
  baseline: number | null;
  current: number | null;
  delta: number | null;
  change_ratio: number | null;
  /** label, signed change and the two values */
  text: string;
}

export type HistoryVerdict = Comparison['verdict'] | 'not judged';

/** A gate row (`inferload compare --json`'s metrics[]) for any figure of the history. */
export type JudgedMetric = Omit<MetricComparison, 'metric'> & { metric: HistoryMetricKey };

/** One run of the history, judged. */
export interface HistoryRun {
  id: string;
  started_at: string;
  /** the run's start as UTC day (`2026-11-30`), with the time when another run started the same day */
  night: string;
  status: RunStatus;
  status_reason: string | null;
  source: string;
  report: string | null;
  inferload_version: string;
  model: string;
  simulator: { profile: string; speed: number } | null;
  generator_valid: boolean;
  requests: { sent: number; completed: number; failed: number; dropped: number };
  slo: { passed: number; total: number } | null;
  values: Record<HistoryMetricKey, number | null>;
  capacity: HistoryCapacity | null;
  verdict: HistoryVerdict;
  /** why the run was not judged, when it was not */
  not_judged: string | null;
  /** the selected metrics that regressed (beyond noise and tolerance, worse) */
  regressions: HistoryChange[];
  /** the selected metrics that improved beyond noise and tolerance */
  improvements: HistoryChange[];
  /** the runs it was judged against (ids, oldest first); [] when not judged */
  baseline_runs: string[];
  /** whether it joined the rolling baseline (complete, measured, and no regression) */
  joined_baseline: boolean;
  /** how the load, workload, endpoint or scenario differ from the previous run's ([] when they do not) */
  changed: string[];
  /** the gate's full comparison (`inferload compare --json`'s shape); null when not judged */
  comparison: Comparison | null;
  /** capacity per GPU judged against the earlier sweeps; null for runs that are not sweeps or had nothing to compare with */
  capacity_judgement: JudgedMetric | null;
}

/** history.json. */
export interface History {
  schema: typeof HISTORY_SCHEMA;
  scenario: string;
  tolerance_pct: number;
  /** K: the rolling baseline holds the last K runs that passed */
  baseline_runs: number;
  seed: number;
  /** the metrics shown and gated (`--metric`; all by default) */
  metrics: HistoryMetricKey[];
  /** oldest first */
  runs: HistoryRun[];
  /** the runs with a regression, oldest first, with what regressed */
  regressed: { id: string; night: string; regressions: HistoryChange[] }[];
  newest: { id: string; night: string; verdict: HistoryVerdict; not_judged: string | null };
}

export interface HistoryOptions {
  tolerancePct?: number;
  /** K (default 10) */
  baselineRuns?: number;
  seed?: number;
  metrics?: readonly HistoryMetricKey[];
  /** keep only this scenario's runs (inputs of several scenarios are refused otherwise) */
  scenario?: string;
}

// ---- inputs -----------------------------------------------------------------------------------

const isMeasuredValue = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** What history keeps of a run's results (the digest is `baselineRunOf(result)`). */
export function historyInputOfResult(result: RunResult, digest: BaselineRun, source: string, report: string | null): HistoryInput {
  const cap = result.capacity;
  return {
    digest,
    status_reason: result.status_reason ?? null,
    goodput_ratio: result.summary.throughput.goodput_ratio,
    capacity: cap
      ? {
          per_gpu_request_per_s: cap.per_gpu.request_per_s,
          per_gpu_output_tokens_per_s: cap.per_gpu.output_tokens_per_s,
          sustainable_request_per_s: cap.sustainable_request_per_s,
          gpu_count: cap.gpu_count,
        }
      : null,
    slo: result.slo.length > 0 ? { passed: result.slo.filter((s) => s.passed).length, total: result.slo.length } : null,
    source,
    from: 'results',
    report,
  };
}

/** The runs of a baseline file. It keeps no capacity, SLO verdicts or report; the goodput ratio is goodput / throughput. */
export function historyInputsOfBaseline(baseline: Baseline, source: string): HistoryInput[] {
  return baseline.runs.map((digest, i) => {
    const good = digest.metrics.goodput_request_per_s;
    const all = digest.metrics.request_per_s;
    return {
      digest,
      status_reason: null,
      goodput_ratio: isMeasuredValue(good) && isMeasuredValue(all) && all > 0 ? Math.min(1, Math.round((good / all) * 1000) / 1000) : null,
      capacity: null,
      slo: null,
      source: `${source} runs[${i}]`,
      from: 'baseline' as const,
      report: null,
    };
  });
}

/**
 * A RunResult that the gate reads as exactly `run`: `baselineRunOf(resultForGate(run))` equals
 * `run` (a test checks it), so `compareRuns(baseline, resultForGate(run))` judges the run as
 * `inferload compare` judges its results.json. History keeps digests, not whole results (a month
 * of nightly results would not fit in memory), and a baseline file holds nothing else.
 * (`compareRuns` could take a digest directly: then this goes.)
 */
export function resultForGate(run: BaselineRun, statusReason: string | null): RunResult {
  const m = run.metrics;
  const latency = (k: 'ttft' | 'itl' | 'tpot' | 'e2e' | null): RunResult['summary']['latency_ms']['ttft'] => {
    const p = k === null ? [null, null, null] : [m[`${k}_p50_ms`], m[`${k}_p95_ms`], m[`${k}_p99_ms`]];
    const any = p.some((v) => v !== null);
    return { p50: p[0]!, p90: null, p95: p[1]!, p99: p[2]!, p999: null, max: null, mean: null, stddev: null, count: any ? 1 : 0, hdr: '' };
  };
  const latencyMs = Object.fromEntries(
    LATENCY_METRICS.map((k) => [k, latency(k === 'ttft' || k === 'itl' || k === 'tpot' || k === 'e2e' ? k : null)]),
  ) as RunResult['summary']['latency_ms'];
  // measuredWindows keeps windows from the warm-up's end to the end of the arrivals: all of these
  const lastStart = run.windows.reduce((a, w) => Math.max(a, w.t_s - run.warmup_s), 0);
  return {
    schema: RESULTS_SCHEMA,
    status: run.status,
    status_reason: statusReason,
    run: {
      id: run.id,
      scenario: run.scenario,
      description: null,
      started_at: run.started_at,
      ended_at: null,
      seed: run.seed,
      warmup_s: run.warmup_s,
      window_s: run.window_s,
      requests_limit: null,
      target: { url: '', model: run.model, endpoint: run.endpoint, api_key_env: null, simulator: run.simulator ? { ...run.simulator } : null },
      load: run.load,
      workload: run.workload,
      inferload_version: run.inferload_version,
      node_version: '',
      platform: '',
      cpus: 0,
      argv: [],
    },
    summary: {
      duration_s: run.duration_s,
      requests: { ...run.requests, interrupted: 0, good: 0, warmup_sent: 0, warmup_dropped: 0 },
      errors: {},
      throughput: {
        request_per_s: m.request_per_s ?? 0,
        output_tokens_per_s: m.output_tokens_per_s ?? 0,
        total_tokens_per_s: 0,
        goodput_request_per_s: m.goodput_request_per_s ?? 0,
        goodput_ratio: null,
      },
      rate: { target_per_s: null, achieved_per_s: null, arrival_period_s: lastStart + 1 },
      latency_ms: latencyMs,
      tokens: { prompt: 0, output: 0, output_usage: 0, output_chunks: 0, output_estimated_requests: 0 },
    },
    windows: run.windows.map((w) => ({
      t_s: w.t_s,
      window_s: w.window_s,
      arrivals: 0,
      sent: 0,
      completed: w.completed,
      failed: w.failed,
      dropped: 0,
      in_flight_max: 0,
      errors: {},
      ttft_p50_ms: null,
      ttft_p95_ms: null,
      ttft_p99_ms: null,
      itl_p50_ms: null,
      itl_p95_ms: null,
      itl_p99_ms: null,
      e2e_p50_ms: null,
      e2e_p95_ms: null,
      e2e_p99_ms: null,
      schedule_lag_p99_ms: null,
      output_tokens: w.output_tokens,
      output_tokens_per_s: 0,
      request_per_s: 0,
      server: {},
      hdr: { ...w.hdr, schedule_lag: '' },
    })),
    server: { endpoints: [], tokens: null, gpu_count: null, alerts: [] },
    correlation: {},
    slo: run.slo.map((name) => ({ name, metric: 'unknown', threshold: '', observed: null, passed: true, abort_on_fail: false })),
    generator: {
      event_loop_lag_p99_ms: null,
      event_loop_lag_max_ms: null,
      cpu_ratio: null,
      schedule_lag_p99_ms: null,
      rss_max_bytes: 0,
      valid: run.generator_valid,
      warnings: [],
    },
    error_samples: [],
  };
}

// ---- the history ------------------------------------------------------------------------------

/** The value of a figure in a run. */
function valueOf(input: HistoryInput, key: HistoryMetricKey): number | null {
  if (key === 'goodput_ratio') return input.goodput_ratio;
  if (key === 'capacity_per_gpu_request_per_s') return input.capacity?.per_gpu_request_per_s ?? null;
  const v = input.digest.metrics[key];
  return isMeasuredValue(v) ? v : null;
}

/** A change named for people: `TTFT p95 +21.0 % (14.1 ms → 17.0 ms)`. */
function changeOf(m: JudgedMetric): HistoryChange {
  const info = HISTORY_METRIC_INFO[m.metric];
  return {
    metric: m.metric,
    label: info.label,
    unit: info.unit,
    baseline: m.baseline,
    current: m.current,
    delta: m.delta,
    change_ratio: m.change_ratio,
    text: `${info.label} ${fmtChange(m)} (${fmtMetricValue(m, m.baseline)} → ${fmtMetricValue(m, m.current)})`,
  };
}

/** Why a run measured nothing the gate can judge, or null when it measured something. */
function unmeasured(input: HistoryInput): string | null {
  const d = input.digest;
  if (d.status === 'running') return 'still running: its results.json is a checkpoint, not the final results';
  if (d.status === 'failed') return `the run failed${input.status_reason ? ` (${oneLine(input.status_reason, 200)})` : ''}: it measured nothing to judge`;
  if (d.requests.completed === 0) return `no request completed (${d.requests.failed} failed, ${d.requests.dropped} dropped): it measured nothing to judge`;
  return null;
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * Capacity per GPU against the earlier sweeps' (the gate's rule: worse, beyond the tolerance, and
 * beyond the run-to-run prediction band when two or more earlier values give one).
 */
function judgeCapacity(values: number[], current: number, tolerancePct: number): JudgedMetric {
  const info = HISTORY_METRIC_INFO.capacity_per_gpu_request_per_s;
  const base = values.reduce((a, v) => a + v, 0) / values.length;
  const delta = current - base;
  const half = values.length >= 2 ? predictionHalfWidth(values) : null;
  const beyondNoise = half === null ? null : Math.abs(delta) > half;
  const beyondTolerance = Math.abs(delta) > (tolerancePct / 100) * Math.abs(base);
  const direction = delta === 0 ? 'same' : delta < 0 ? 'worse' : 'better';
  return {
    metric: 'capacity_per_gpu_request_per_s',
    label: info.label,
    unit: info.unit,
    better: info.better,
    baseline: round6(base),
    current,
    delta: round6(delta),
    change_ratio: base !== 0 ? round6(delta / Math.abs(base)) : null,
    direction,
    noise_band: half === null ? null : { low: round6(-half), high: round6(half) },
    noise_source: half === null ? null : `run-to-run (${values.length} sweeps)`,
    beyond_noise: beyondNoise,
    beyond_tolerance: beyondTolerance,
    regressed: direction === 'worse' && beyondTolerance && beyondNoise !== false,
    note: half === null ? 'one earlier sweep: noise unknown, judged on the tolerance alone' : null,
  };
}

/** Whether two runs test the same thing apart from the load (a sweep picks the rate of its best step). */
function sameWorkload(a: BaselineRun, b: BaselineRun): boolean {
  return comparabilityProblems(a, b).every((p) => p.path.startsWith('run.load'));
}

/** The day of each run (UTC), with the time where two runs share a day. */
function nightLabels(runs: BaselineRun[]): string[] {
  const iso = runs.map((r) => new Date(Date.parse(r.started_at)).toISOString());
  const days = iso.map((s) => s.slice(0, 10));
  const perDay = new Map<string, number>();
  for (const d of days) perDay.set(d, (perDay.get(d) ?? 0) + 1);
  return iso.map((s, i) => (perDay.get(days[i]!)! > 1 ? `${days[i]} ${s.slice(11, 19)}` : days[i]!));
}

/** The runs of one scenario, each once, oldest first; InvalidInputError (exit 104) naming the files otherwise. */
export function selectRuns(inputs: HistoryInput[], scenario?: string): HistoryInput[] {
  const byScenario = new Map<string, HistoryInput[]>();
  for (const i of inputs) {
    const list = byScenario.get(i.digest.scenario) ?? [];
    list.push(i);
    byScenario.set(i.digest.scenario, list);
  }
  const show = (s: string): string => JSON.stringify(oneLine(s, 80));
  let chosen: HistoryInput[];
  if (scenario !== undefined) {
    chosen = byScenario.get(scenario) ?? [];
    if (chosen.length === 0)
      throw new InvalidInputError([
        {
          path: '--scenario',
          message: `no run of scenario ${show(scenario)} among the inputs; they hold ${[...byScenario.keys()].map(show).join(', ')}`,
        },
      ]);
  } else if (byScenario.size > 1) {
    throw new InvalidInputError([
      {
        path: 'RUNS',
        message:
          `the runs are of ${byScenario.size} scenarios: ${[...byScenario.entries()].map(([s, l]) => `${show(s)} (${l.length} run${l.length === 1 ? '' : 's'}, e.g. ${l[0]!.source})`).join('; ')}. ` +
          'A history follows one scenario: pick one with --scenario NAME, or run history once per scenario',
      },
    ]);
  } else chosen = inputs;

  // each run once: a baseline file repeats runs that are also given as results (kept: they say more)
  const byId = new Map<string, HistoryInput>();
  const problems: InputProblem[] = [];
  for (const i of chosen) {
    const seen = byId.get(i.digest.id);
    if (!seen) byId.set(i.digest.id, i);
    else if (seen.from === 'baseline' && i.from === 'results') byId.set(i.digest.id, i);
    else if (seen.from === 'results' && i.from === 'results')
      problems.push({
        path: i.source,
        message: `run ${JSON.stringify(oneLine(i.digest.id, 120))} again (also ${seen.source}): give each run once (a copy, or shards of one run: merge them first with inferload merge)`,
      });
  }
  if (problems.length > 0) throw new InvalidInputError(problems, 'the runs of the history');
  const runs = [...byId.values()].sort(
    (a, b) => Date.parse(a.digest.started_at) - Date.parse(b.digest.started_at) || (a.digest.id < b.digest.id ? -1 : a.digest.id > b.digest.id ? 1 : 0),
  );
  if (runs.length < 2)
    throw new InvalidInputError([
      {
        path: 'RUNS',
        message: `a history needs at least 2 runs, found ${runs.length}${runs[0] ? ` (${runs[0].source})` : ''}: give the run directories, a directory of them, or a baseline file`,
      },
    ]);
  return runs;
}

/**
 * The history of the runs: each judged against the rolling baseline of the earlier runs that
 * passed (see the top of this file). Refuses (InvalidInputError, exit 104) runs of several
 * scenarios (unless `scenario` picks one), a run given twice, and fewer than two runs.
 */
export function buildHistory(inputs: HistoryInput[], opts: HistoryOptions = {}): History {
  const tolerancePct = opts.tolerancePct ?? DEFAULT_TOLERANCE_PCT;
  const k = opts.baselineRuns ?? DEFAULT_HISTORY_BASELINE_RUNS;
  const seed = opts.seed ?? 1;
  const selected = new Set<HistoryMetricKey>(opts.metrics && opts.metrics.length > 0 ? opts.metrics : HISTORY_METRICS);
  const metrics = HISTORY_METRICS.filter((m) => selected.has(m));
  const runs = selectRuns(inputs, opts.scenario);
  const scenario = runs[0]!.digest.scenario;
  const nights = nightLabels(runs.map((r) => r.digest));

  /** rolling baselines, one per load and workload, most recently used first */
  const baselines: Baseline[] = [];
  /** earlier sweeps that passed, for capacity per GPU */
  const sweeps: { digest: BaselineRun; value: number }[] = [];
  const out: HistoryRun[] = [];

  runs.forEach((input, i) => {
    const d = input.digest;
    const prev = i > 0 ? runs[i - 1]!.digest : null;
    const changed = prev ? comparabilityProblems(prev, d, 'the previous run', 'this run').map((p) => oneLine(`${p.path}: ${p.message}`, 400)) : [];
    const values = Object.fromEntries(HISTORY_METRICS.map((key) => [key, valueOf(input, key)])) as Record<HistoryMetricKey, number | null>;
    const row: HistoryRun = {
      id: d.id,
      started_at: d.started_at,
      night: nights[i]!,
      status: d.status,
      status_reason: input.status_reason,
      source: input.source,
      report: input.report,
      inferload_version: d.inferload_version,
      model: d.model,
      simulator: d.simulator,
      generator_valid: d.generator_valid,
      requests: { ...d.requests },
      slo: input.slo,
      values,
      capacity: input.capacity,
      verdict: 'not judged',
      not_judged: null,
      regressions: [],
      improvements: [],
      baseline_runs: [],
      joined_baseline: false,
      changed,
      comparison: null,
      capacity_judgement: null,
    };
    out.push(row);

    const why = unmeasured(input);
    if (why !== null) {
      row.not_judged = why;
      return;
    }
    const index = baselines.findIndex((b) => comparabilityProblems(b.runs[b.runs.length - 1]!, d).length === 0);
    const baseline = index >= 0 ? baselines.splice(index, 1)[0]! : null;
    if (baseline) {
      baselines.unshift(baseline);
      row.comparison = compareRuns(baseline, resultForGate(d, input.status_reason), { tolerancePct, seed });
      row.baseline_runs = baseline.runs.map((r) => r.id);
    }
    const capacity = values.capacity_per_gpu_request_per_s;
    if (capacity !== null) {
      const earlier = sweeps.filter((s) => sameWorkload(s.digest, d)).slice(-k);
      if (earlier.length > 0) row.capacity_judgement = judgeCapacity(earlier.map((s) => s.value), capacity, tolerancePct);
    }
    if (!row.comparison && !row.capacity_judgement) {
      row.not_judged =
        i === 0
          ? 'the first run: nothing earlier to compare with'
          : 'no earlier run that passed has the same load and workload: nothing to compare with (it starts a baseline of its own)';
    } else {
      const rows: JudgedMetric[] = [...(row.comparison?.metrics ?? []), ...(row.capacity_judgement ? [row.capacity_judgement] : [])].filter((m) =>
        selected.has(m.metric),
      );
      row.regressions = rows.filter((m) => m.regressed).map(changeOf);
      row.improvements = rows.filter((m) => m.direction === 'better' && m.beyond_tolerance && m.beyond_noise === true).map(changeOf);
      row.verdict = row.regressions.length > 0 ? 'regression' : row.improvements.length > 0 ? 'improvement' : 'no significant change';
    }
    // what the nightly recipe does: a run joins the baseline only when the gate passed
    if (row.verdict !== 'regression' && d.status === 'complete') {
      let target = baseline;
      if (!target) {
        target = emptyBaseline(scenario, k);
        baselines.unshift(target);
      }
      addRun(target, d, new Date(Date.parse(d.started_at)));
      row.joined_baseline = true;
      if (capacity !== null) sweeps.push({ digest: d, value: capacity });
    }
  });

  const newest = out[out.length - 1]!;
  return {
    schema: HISTORY_SCHEMA,
    scenario,
    tolerance_pct: tolerancePct,
    baseline_runs: k,
    seed,
    metrics,
    runs: out,
    regressed: out.filter((r) => r.verdict === 'regression').map((r) => ({ id: r.id, night: r.night, regressions: r.regressions })),
    newest: { id: newest.id, night: newest.night, verdict: newest.verdict, not_judged: newest.not_judged },
  };
}

/** `2026-11-30: TTFT p95 +21.0 % (regression), E2E p95 +20.4 % (regression)` (raw text: escape it for the target). */
export function regressionLine(r: Pick<HistoryRun, 'night' | 'regressions'>): string {
  return `${r.night}: ${r.regressions.map((c) => `${c.label} ${fmtChange(c)} (regression)`).join(', ')}`;
}

/** What a reader should know about some runs, one sentence each (raw text: escape it for the target). */
export function historyNotes(h: History): string[] {
  const notes: string[] = [];
  h.runs.forEach((r, i) => {
    if (r.changed.length > 0)
      notes.push(
        `${r.night}: the scenario, endpoint, load or workload differ from the previous run's (${r.changed.length} difference${r.changed.length === 1 ? '' : 's'}): ` +
          `${r.changed.slice(0, 3).join('; ')}${r.changed.length > 3 ? '; …' : ''}`,
      );
    if (r.verdict === 'not judged' && i > 0) notes.push(`${r.night}: not judged: ${r.not_judged ?? ''}`);
  });
  const limited = h.runs.filter((r) => !r.generator_valid);
  if (limited.length > 0)
    notes.push(
      `The load generator may have been the bottleneck in ${
        limited.length === h.runs.length
          ? 'every run'
          : `${limited.length} of ${h.runs.length} runs (${limited.length > 8 ? `${limited.slice(0, 8).map((r) => r.night).join(', ')}, …` : limited.map((r) => r.night).join(', ')})`
      }: their latencies may include the generator's own delays (see results.generator in their results.json).`,
    );
  return notes;
}

/** The newest run's verdict as one sentence (raw text). */
export function newestSentence(h: History): string {
  const n = h.runs[h.runs.length - 1]!;
  switch (n.verdict) {
    case 'regression':
      return `The newest run (${n.night}) regressed: ${n.regressions.map((c) => c.text).join('; ')}.`;
    case 'improvement':
      return `The newest run (${n.night}) improved, and nothing regressed: ${n.improvements.map((c) => c.text).join('; ')}.`;
    case 'no significant change':
      return `The newest run (${n.night}) shows no significant change against the ${n.baseline_runs.length} run${n.baseline_runs.length === 1 ? '' : 's'} before it.`;
    case 'not judged':
      return `The newest run (${n.night}) was not judged: ${n.not_judged ?? 'nothing to compare with'}.`;
    default: {
      const never: never = n.verdict;
      return String(never);
    }
  }
}
