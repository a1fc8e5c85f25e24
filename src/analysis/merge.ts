// Exact merging of shards of one run (several processes or machines, each with a share of the
// rate and a common start time): counts add, HDR histograms add, windows of the same time merge,
// and every percentile is recomputed from the merged histograms, never averaged.
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { availabilitySloOf, computeErrorBudget } from './error-budget.js';
import { correlationAlignment, correlations } from './server.js';
import { decodeHistogram, summarizeMs } from '../metrics/hdr.js';
import { LATENCY_METRICS, mergeConcurrentWindows, type LatencyMetric, type WindowResult } from '../metrics/recorder.js';
import type { RunResult, RunStatus, SloVerdict } from '../results/types.js';
import type { LatencySummaryMs } from '../metrics/hdr.js';
import { mergePromptPlanned, type PromptPlannedVsServer } from '../metrics/prompt-planned.js';
import { evaluateSlos } from './slo.js';
import { evaluateAlerts } from './alerts.js';
import type { ScenarioSpec } from '../core/types.js';

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** `99.99 %`: an availability as a scenario writes it, free of float noise */
const asPercent = (slo: number): string => `${Number((slo * 100).toPrecision(12))} %`;

/** When a run ran, ms since the epoch: from its start to its end (for a checkpoint, its last window's). */
function spanOf(r: RunResult): { from: number; to: number } {
  const from = Date.parse(r.run.started_at);
  if (r.run.ended_at !== null) return { from, to: Math.max(from, Date.parse(r.run.ended_at)) };
  let lastS = r.run.warmup_s + r.summary.duration_s;
  for (const w of r.windows) lastS = Math.max(lastS, w.t_s + w.window_s);
  return { from, to: from + lastS * 1000 };
}

/**
 * Shards are parts of one run's load, driven at the same time: a file given twice (or a run's
 * checkpoint with its final results) would count its requests twice, and runs that did not
 * overlap in time would add up to a rate that never hit the server. Names both files of each
 * such pair. (Shards made by separate processes have their own run ids; when they come to share
 * one, a shard id must tell them apart here.)
 */
function sameRunProblems(results: readonly RunResult[], pathOf: (i: number) => string): InputProblem[] {
  const problems: InputProblem[] = [];
  const spans = results.map(spanOf);
  const iso = (ms: number): string => new Date(ms).toISOString();
  for (let j = 1; j < results.length; j++) {
    const b = results[j]!;
    for (let i = 0; i < j; i++) {
      const a = results[i]!;
      if (a.run.id === b.run.id && a.run.started_at === b.run.started_at) {
        problems.push({
          path: pathOf(j),
          message: `the same run as ${pathOf(i)} (run.id ${JSON.stringify(b.run.id)}, started_at ${b.run.started_at}): give each shard once`,
        });
        break;
      }
      const sa = spans[i]!;
      const sb = spans[j]!;
      if (sa.from > sb.to || sb.from > sa.to) {
        problems.push({
          path: pathOf(j),
          message:
            `ran from ${iso(sb.from)} to ${iso(sb.to)}, ${pathOf(i)} from ${iso(sa.from)} to ${iso(sa.to)}: they do not overlap in time, ` +
            'so they are not shards of one run (shards run together, each with part of the load)',
        });
        break;
      }
    }
  }
  return problems;
}

/**
 * Shards must be of one scenario and workload, at the same time and each once, and their error
 * budgets of one availability SLO (a shard without one, e.g. a checkpoint's results, agrees with
 * any); names what differs.
 */
function comparability(results: readonly RunResult[], paths: readonly string[]): InputProblem[] {
  const first = results[0]!;
  const pathOf = (i: number): string => paths[i] ?? `results[${i}]`;
  const problems = sameRunProblems(results, pathOf);
  // the first shard that carries an error budget sets the SLO the others must share
  let sloShard: { slo: number; path: string } | null = null;
  results.forEach((r, i) => {
    const slo = availabilitySloOf(r);
    if (slo !== null && !(slo > 0 && slo < 1))
      problems.push({ path: pathOf(i), message: `error_budget.availability_slo ${slo} is not an availability between 0 and 1 exclusive` });
    else if (slo !== null && sloShard === null) sloShard = { slo, path: pathOf(i) };
    else if (slo !== null && sloShard !== null && slo !== sloShard.slo)
      problems.push({
        path: pathOf(i),
        message:
          `its error budget is at ${asPercent(slo)} availability (error_budget.availability_slo ${slo}), ` +
          `${sloShard.path}'s at ${asPercent(sloShard.slo)} (${sloShard.slo}): shards of one run share their errorBudget.availability`,
      });
    if (i === 0) return;
    if (r.run.scenario !== first.run.scenario)
      problems.push({ path: pathOf(i), message: `scenario "${r.run.scenario}" is not "${first.run.scenario}" (${pathOf(0)}'s): shards of one run share their scenario` });
    if (JSON.stringify(r.run.workload) !== JSON.stringify(first.run.workload))
      problems.push({ path: pathOf(i), message: `its workload differs from ${pathOf(0)}'s: these are not shards of one run` });
    if (r.run.window_s !== first.run.window_s)
      problems.push({ path: pathOf(i), message: `window ${r.run.window_s} s differs from ${pathOf(0)}'s ${first.run.window_s} s` });
  });
  return problems;
}

/** Merges N shard results into one, exactly. */
export function mergeResults(results: readonly RunResult[], paths: readonly string[] = []): RunResult {
  if (results.length === 0) throw new InvalidInputError([{ path: 'RESULTS', message: 'give at least one results.json' }]);
  const problems = comparability(results, paths);
  if (problems.length > 0) throw new InvalidInputError(problems);
  const first = results[0]!;

  const latency = {} as Record<LatencyMetric, LatencySummaryMs>;
  for (const m of LATENCY_METRICS) {
    const hs = results.map((r) => r.summary.latency_ms[m]?.hdr).filter((x): x is string => typeof x === 'string');
    const merged = decodeHistogram(hs[0]!);
    for (const e of hs.slice(1)) merged.add(decodeHistogram(e));
    const summary = summarizeMs(merged);
    // the encoding keeps buckets, not the exact maximum: the shards' own maxima are exact
    const maxes = results.map((r) => r.summary.latency_ms[m]?.max).filter((x): x is number => typeof x === 'number');
    if (maxes.length > 0) {
      const max = Math.max(...maxes);
      summary.max = max;
      for (const k of ['p50', 'p90', 'p95', 'p99', 'p999'] as const) if (summary[k] !== null && summary[k]! > max) summary[k] = max;
    }
    latency[m] = summary;
  }
  const sum = (f: (r: RunResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.summary.errors)) errors[k] = (errors[k] ?? 0) + v;
  const durationS = Math.max(...results.map((r) => r.summary.duration_s));
  const completed = sum((r) => r.summary.requests.completed);
  // the exact count when the shards carry it (older results only have the rounded ratio)
  const good = sum((r) => r.summary.requests.good ?? Math.round((r.summary.throughput.goodput_ratio ?? 0) * r.summary.requests.completed));
  const promptTokens = sum((r) => r.summary.tokens.prompt);
  const planned = results.map((r) => r.summary.tokens.prompt_planned_vs_server).filter((p): p is PromptPlannedVsServer => p !== undefined);
  const outputTokens = sum((r) => r.summary.tokens.output);
  const perS = (n: number): number => (durationS > 0 ? r3(n / durationS) : 0);
  const period = Math.max(...results.map((r) => r.summary.rate.arrival_period_s));
  const summary: RunResult['summary'] = {
    duration_s: durationS,
    requests: {
      sent: sum((r) => r.summary.requests.sent),
      completed,
      failed: sum((r) => r.summary.requests.failed),
      dropped: sum((r) => r.summary.requests.dropped),
      interrupted: sum((r) => r.summary.requests.interrupted ?? 0),
      good,
      warmup_sent: sum((r) => r.summary.requests.warmup_sent),
      warmup_dropped: sum((r) => r.summary.requests.warmup_dropped),
    },
    errors,
    throughput: {
      request_per_s: perS(completed),
      output_tokens_per_s: perS(outputTokens),
      total_tokens_per_s: perS(promptTokens + outputTokens),
      goodput_request_per_s: perS(good),
      goodput_ratio: completed > 0 ? r3(good / completed) : null,
    },
    rate: {
      target_per_s: results.every((r) => r.summary.rate.target_per_s !== null) ? r3(sum((r) => r.summary.rate.target_per_s ?? 0)) : null,
      achieved_per_s: r3(sum((r) => r.summary.rate.achieved_per_s ?? 0)),
      arrival_period_s: period,
    },
    latency_ms: latency,
    tokens: {
      prompt: promptTokens,
      output: outputTokens,
      output_usage: sum((r) => r.summary.tokens.output_usage),
      output_chunks: sum((r) => r.summary.tokens.output_chunks),
      output_estimated_requests: sum((r) => r.summary.tokens.output_estimated_requests),
      // distributions add up; shards written before the field leave it out
      ...(planned.length === results.length && { prompt_planned_vs_server: mergePromptPlanned(planned) }),
    },
  };

  // windows: the same start and width across shards merge; others are kept as they are
  const byKey = new Map<string, WindowResult>();
  for (const r of results) {
    for (const w of r.windows) {
      const key = `${Math.round(w.t_s * 1e6)}:${Math.round(w.window_s * 1e6)}`;
      const cur = byKey.get(key);
      byKey.set(key, cur ? mergeConcurrentWindows(cur, w) : w);
    }
  }
  const windows = [...byKey.values()].sort((a, b) => a.t_s - b.t_s);

  // no prototype: a verdict's metric is a key here, and a file may name one "constructor"
  const sloSpec: ScenarioSpec['slo'] = Object.create(null) as ScenarioSpec['slo'];
  for (const v of first.slo) (sloSpec[v.metric] ??= []).push({ threshold: v.threshold, abortOnFail: v.abort_on_fail });
  // throughput SLOs over windows need every window to hold every shard's share: on grids that
  // differ (shards started apart) a window would hold one shard's completions and read low, so
  // then the windowed aggregations get no windows and fail with no data rather than mislead
  const grid = (r: RunResult): string => r.windows.map((w) => `${Math.round(w.t_s * 1e6)}:${Math.round(w.window_s * 1e6)}`).join(',');
  const aligned = results.every((r) => grid(r) === grid(first));
  const slo: SloVerdict[] = evaluateSlos(sloSpec, summary, aligned ? { windows, warmupS: first.run.warmup_s } : undefined);

  const worst: RunStatus = results.some((r) => r.status === 'failed')
    ? 'failed'
    : results.some((r) => r.status === 'interrupted')
      ? 'interrupted'
      : results.some((r) => r.status === 'running')
        ? 'running'
        : 'complete';
  const warnings = results.flatMap((r, i) => r.generator.warnings.map((w) => `shard ${i + 1}: ${w}`));
  const maxOf = (f: (r: RunResult) => number | null): number | null => {
    const xs = results.map(f).filter((x): x is number => x !== null);
    return xs.length > 0 ? Math.max(...xs) : null;
  };
  const endpoints = new Map(results.flatMap((r) => r.server.endpoints).map((e) => [e.url, e]));
  const merged: RunResult = {
    ...first,
    status: worst,
    status_reason: results.map((r) => r.status_reason).find((x) => x !== null) ?? null,
    run: { ...first.run, id: `${first.run.id}-merged-${results.length}`, argv: [...first.run.argv, `(merged from ${results.length} shards)`] },
    summary,
    windows,
    server: {
      endpoints: [...endpoints.values()],
      tokens: null,
      gpu_count: maxOf((r) => r.server.gpu_count),
      // the shards' rules, judged again on the merged windows
      alerts: evaluateAlerts(
        first.server.alerts.map((a) => ({ name: a.name, severity: a.severity, expr: a.condition, for_s: a.for_s })),
        windows,
      ),
    },
    slo,
    generator: {
      event_loop_lag_p99_ms: maxOf((r) => r.generator.event_loop_lag_p99_ms),
      event_loop_lag_max_ms: maxOf((r) => r.generator.event_loop_lag_max_ms),
      cpu_ratio: maxOf((r) => r.generator.cpu_ratio),
      schedule_lag_p99_ms: latency.schedule_lag.p99,
      rss_max_bytes: Math.max(...results.map((r) => r.generator.rss_max_bytes)),
      valid: results.every((r) => r.generator.valid),
      warnings,
      // each shard is its own process: the most client threads any shard ran with
      workers: Math.max(...results.map((r) => r.generator.workers ?? 1)),
    },
    error_samples: results.flatMap((r) => r.error_samples).slice(0, 20),
    // the same server seen by every shard: its signals pair with the merged client windows
    correlation: correlations(windows),
    correlation_alignment: correlationAlignment(windows),
    spike: undefined,
    soak: undefined,
    capacity: undefined,
  };
  // at the SLO the shards were judged at (they agree: see comparability), else the default
  merged.error_budget = computeErrorBudget(merged, { availabilitySlo: results.map(availabilitySloOf).find((x): x is number => x !== null) });
  return merged;
}
