// Exact merging of shards of one run (several processes or machines, each with a share of the
// rate and a common start time): counts add, HDR histograms add, windows of the same time merge,
// and every percentile is recomputed from the merged histograms, never averaged.
import { createHash } from 'node:crypto';
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { availabilitySloOf, computeErrorBudget } from './error-budget.js';
import { correlationAlignment, correlations } from './server.js';
import { decodeHistogram, summarizeMs } from '../metrics/hdr.js';
import { LATENCY_METRICS, mergeConcurrentWindows, type LatencyMetric, type WindowResult } from '../metrics/recorder.js';
import type { ClassResult, GroupResult, RunResult, RunStatus, RunSummary, SessionsSection, SloVerdict, TurnResult } from '../results/types.js';
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
 * What a run measured (its summary, windows and the load generator's own figures: CPU, event-loop
 * lag, peak RSS in bytes), hashed; null when it sent nothing. Two processes never measure all of
 * that alike, so two files with one value are one run saved twice, whatever id, start or shard
 * index they say.
 */
function measurementsOf(r: RunResult): string | null {
  if (!(r.summary.requests.sent > 0)) return null;
  return createHash('sha256').update(JSON.stringify([r.summary, r.windows, r.generator])).digest('hex');
}

/**
 * Shards are parts of one run's load, driven at the same time: a file given twice (or a run's
 * checkpoint with its final results) would count its requests twice, and runs that did not
 * overlap in time would add up to a rate that never hit the server. Names both files of each
 * such pair. (Shards made by separate processes have their own run ids; when they come to share
 * one, a shard id must tell them apart here.)
 */
function sameRunProblems(results: readonly RunResult[], pathOf: (i: number) => string): InputProblem[] {
  const problems: InputProblem[] = shardProblems(results, pathOf);
  if (problems.length > 0) return problems;
  const spans = results.map(spanOf);
  const measured = results.map(measurementsOf);
  const iso = (ms: number): string => new Date(ms).toISOString();
  for (let j = 1; j < results.length; j++) {
    const b = results[j]!;
    for (let i = 0; i < j; i++) {
      const a = results[i]!;
      // shards of one run share its id and start: their indices tell them apart (shardProblems)
      const shards = a.shard !== undefined && b.shard !== undefined;
      if (!shards && a.run.id === b.run.id && a.run.started_at === b.run.started_at) {
        problems.push({
          path: pathOf(j),
          message: `the same run as ${pathOf(i)} (run.id ${JSON.stringify(b.run.id)}, started_at ${b.run.started_at}): give each shard once`,
        });
        break;
      }
      // a copy with its id, start or shard index edited still holds the same measurements
      if (measured[j] !== null && measured[j] === measured[i]) {
        problems.push({
          path: pathOf(j),
          message: `the same measurements as ${pathOf(i)} (run.id ${JSON.stringify(a.run.id)}): a copy of one run's results, not another shard; give each shard once`,
        });
        break;
      }
      if (shards) continue;
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
      // windows merge by their time from each run's start: runs that overlapped only in part
      // (started 14 s apart, 15 s each) add windows of different moments into one, at up to twice
      // the rate; shards start together (--shard runs within 2 s), so most of each must overlap
      const overlap = Math.min(sa.to, sb.to) - Math.max(sa.from, sb.from);
      const shorter = Math.min(sa.to - sa.from, sb.to - sb.from);
      if (overlap < shorter * MIN_OVERLAP && Math.abs(sa.from - sb.from) > 2000) {
        problems.push({
          path: pathOf(j),
          message:
            `ran from ${iso(sb.from)} to ${iso(sb.to)}, ${pathOf(i)} from ${iso(sa.from)} to ${iso(sa.to)}: they overlap for ${r3(Math.max(0, overlap) / 1000)} s, ` +
            `under half of the shorter run, so they are not shards of one run (shards start together, each with part of the load)`,
        });
        break;
      }
    }
  }
  return problems;
}

/** The share of the shorter of two shards' spans that both must cover (see sameRunProblems). */
const MIN_OVERLAP = 0.5;

/**
 * Shards made with --shard/--shards say whose they are: the run id and the scenario's hash must
 * be the same in all, each index must come once, and a shard does not merge with a whole run.
 * Files written before shards carried these fields are judged by the other checks alone.
 */
function shardProblems(results: readonly RunResult[], pathOf: (i: number) => string): InputProblem[] {
  const problems: InputProblem[] = [];
  const first = results[0]!;
  const seen = new Map<number, number>();
  results.forEach((r, i) => {
    if (i > 0 && r.run_id !== undefined && first.run_id !== undefined && r.run_id !== first.run_id)
      problems.push({ path: pathOf(i), message: `is of run ${JSON.stringify(r.run_id)}, ${pathOf(0)} of run ${JSON.stringify(first.run_id)}: merge the shards of one run` });
    else if (i > 0 && r.scenario_hash !== undefined && first.scenario_hash !== undefined && r.scenario_hash !== first.scenario_hash)
      problems.push({
        path: pathOf(i),
        message: `ran another scenario than ${pathOf(0)} (scenario_hash ${r.scenario_hash.slice(0, 12)}… against ${first.scenario_hash.slice(0, 12)}…): shards of one run share the scenario and its overrides`,
      });
    if ((r.shard === undefined) !== (first.shard === undefined)) {
      if (i > 0) problems.push({ path: pathOf(i), message: `${r.shard ? `is shard ${r.shard.index}/${r.shard.count}` : 'is a whole run'}, ${pathOf(0)} ${first.shard ? `shard ${first.shard.index}/${first.shard.count}` : 'a whole run'}: merge the shards of one run` });
      return;
    }
    if (!r.shard) return;
    if (r.shard.count !== first.shard!.count)
      problems.push({ path: pathOf(i), message: `is shard ${r.shard.index} of ${r.shard.count}, ${pathOf(0)} of ${first.shard!.count}: the shards of one run agree on their count` });
    // shards of one run count from one common start (--start-at): a shard of another attempt of
    // the same run id (a Job applied again) started elsewhere in time
    const apartMs = Math.abs(Date.parse(r.run.started_at) - Date.parse(first.run.started_at));
    if (i > 0 && apartMs > 2000)
      problems.push({ path: pathOf(i), message: `started at ${r.run.started_at}, ${pathOf(0)} at ${first.run.started_at}: shards of one run start together (another attempt of the run?)` });
    const before = seen.get(r.shard.index);
    if (before !== undefined) problems.push({ path: pathOf(i), message: `is shard ${r.shard.index}, as ${pathOf(before)} is: give each shard once` });
    else seen.set(r.shard.index, i);
  });
  return problems;
}

/** The shards a merge had and the ones it lacked, when the files are shards (absent otherwise). */
function mergedShards(results: readonly RunResult[]): RunResult['merged_shards'] {
  const count = results[0]!.shard?.count;
  if (count === undefined) return undefined;
  const merged = results.map((r) => r.shard!.index).sort((a, b) => a - b);
  const have = new Set(merged);
  return { count, merged, missing: Array.from({ length: count }, (_, i) => i).filter((i) => !have.has(i)) };
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
    // a class's share of arrivals is the scenario's: the merged class keeps the first's
    for (const [name, c] of Object.entries(r.classes ?? {})) {
      const theirs = first.classes?.[name];
      if (theirs !== undefined && theirs.weight !== c.weight)
        problems.push({ path: pathOf(i), message: `class "${name}" has weight ${c.weight}, ${pathOf(0)}'s ${theirs.weight}: shards of one run share their classes` });
    }
  });
  return problems;
}

/**
 * Merges the summaries of one run's shards (or of one slice of it: a class, a turn, a model)
 * exactly: counts and token totals add, histograms add and every percentile is recomputed from
 * them, each `max` is the largest of the exact maxima. Throughputs are the summed counts over
 * `durationS`, by default the longest of the summaries' `duration_s`. `prefix` is left out (its
 * warm and cold percentiles cannot be merged from summaries).
 */
export function mergeSummaries(summaries: readonly RunSummary[], durationS = Math.max(...summaries.map((s) => s.duration_s))): RunSummary {
  if (summaries.length === 0) throw new Error('mergeSummaries: no summary to merge');
  const latency = {} as Record<LatencyMetric, LatencySummaryMs>;
  for (const m of LATENCY_METRICS) {
    const hs = summaries.map((s) => s.latency_ms[m]?.hdr).filter((x): x is string => typeof x === 'string');
    const merged = decodeHistogram(hs[0]!);
    for (const e of hs.slice(1)) merged.add(decodeHistogram(e));
    const summary = summarizeMs(merged);
    // the encoding keeps buckets, not the exact maximum: the shards' own maxima are exact
    const maxes = summaries.map((s) => s.latency_ms[m]?.max).filter((x): x is number => typeof x === 'number');
    if (maxes.length > 0) {
      const max = Math.max(...maxes);
      summary.max = max;
      for (const k of ['p50', 'p90', 'p95', 'p99', 'p999'] as const) if (summary[k] !== null && summary[k]! > max) summary[k] = max;
    }
    latency[m] = summary;
  }
  const sum = (f: (s: RunSummary) => number): number => summaries.reduce((a, s) => a + f(s), 0);
  const errors: Record<string, number> = {};
  for (const s of summaries) for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
  const completed = sum((s) => s.requests.completed);
  // the exact count when the shards carry it (older results only have the rounded ratio)
  const good = sum((s) => s.requests.good ?? Math.round((s.throughput.goodput_ratio ?? 0) * s.requests.completed));
  const promptTokens = sum((s) => s.tokens.prompt);
  const planned = summaries.map((s) => s.tokens.prompt_planned_vs_server).filter((p): p is PromptPlannedVsServer => p !== undefined);
  const outputTokens = sum((s) => s.tokens.output);
  const perS = (n: number): number => (durationS > 0 ? r3(n / durationS) : 0);
  const period = Math.max(...summaries.map((s) => s.rate.arrival_period_s));
  return {
    duration_s: durationS,
    requests: {
      sent: sum((s) => s.requests.sent),
      completed,
      failed: sum((s) => s.requests.failed),
      dropped: sum((s) => s.requests.dropped),
      interrupted: sum((s) => s.requests.interrupted ?? 0),
      good,
      warmup_sent: sum((s) => s.requests.warmup_sent),
      warmup_dropped: sum((s) => s.requests.warmup_dropped),
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
      target_per_s: summaries.every((s) => s.rate.target_per_s !== null) ? r3(sum((s) => s.rate.target_per_s ?? 0)) : null,
      achieved_per_s: r3(sum((s) => s.rate.achieved_per_s ?? 0)),
      arrival_period_s: period,
    },
    latency_ms: latency,
    tokens: {
      prompt: promptTokens,
      output: outputTokens,
      output_usage: sum((s) => s.tokens.output_usage),
      output_chunks: sum((s) => s.tokens.output_chunks),
      output_estimated_requests: sum((s) => s.tokens.output_estimated_requests),
      // distributions add up; shards written before the field leave it out
      ...(planned.length === summaries.length && { prompt_planned_vs_server: mergePromptPlanned(planned) }),
    },
  };
}

/** SLO thresholds back from their verdicts (metric, threshold, abort_on_fail), by metric in the order they first appear. */
function sloSpecOf(verdicts: readonly SloVerdict[]): ScenarioSpec['slo'] {
  // no prototype: a verdict's metric is a key here, and a file may name one "constructor"
  const spec: ScenarioSpec['slo'] = Object.create(null) as ScenarioSpec['slo'];
  for (const v of verdicts) (spec[v.metric] ??= []).push({ threshold: v.threshold, abortOnFail: v.abort_on_fail });
  return spec;
}

/** Every key of the shards' slices, in the order they first appear. */
function keysOf(records: readonly (Record<string, unknown> | undefined)[]): string[] {
  const keys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r ?? {})) keys.add(k);
  return [...keys];
}

/**
 * The shards' slices merged (results/slices.ts): every class, turn index and model present in
 * any shard, its summaries merged over the merged run's duration (as a run summarises its slices,
 * so that their counts and throughputs still add up to the run's); a shard without the slice
 * contributes nothing. A class keeps the first shard's weight (the scenario's: shards share it)
 * and has its own SLOs judged again on its merged summary, named and tagged as in a run.
 * Sessions add up.
 */
function mergeSlices(results: readonly RunResult[], durationS: number): Pick<RunResult, 'classes' | 'turns' | 'models' | 'sessions'> {
  const out: Pick<RunResult, 'classes' | 'turns' | 'models' | 'sessions'> = {};
  const merge = (summaries: (RunSummary | undefined)[]): RunSummary =>
    mergeSummaries(
      summaries.filter((s): s is RunSummary => s !== undefined),
      durationS,
    );
  if (results.some((r) => r.classes)) {
    const classes: Record<string, ClassResult> = {};
    for (const name of keysOf(results.map((r) => r.classes))) {
      const holders = results.map((r) => r.classes?.[name]).filter((c): c is ClassResult => c !== undefined);
      const summary = merge(holders.map((c) => c.summary));
      // judged as slices.ts judges a class: on its summary alone (no windows)
      const slo = evaluateSlos(sloSpecOf(holders[0]!.slo), summary).map((v) => ({ ...v, name: `class ${name}: ${v.name}`, class: name }));
      classes[name] = { weight: holders[0]!.weight, summary, slo };
    }
    out.classes = classes;
  }
  if (results.some((r) => r.turns)) {
    const byTurn = new Map<number, RunSummary[]>();
    for (const r of results) for (const t of r.turns ?? []) byTurn.set(t.turn, [...(byTurn.get(t.turn) ?? []), t.summary]);
    out.turns = [...byTurn.entries()].sort(([a], [b]) => a - b).map(([turn, summaries]): TurnResult => ({ turn, summary: merge(summaries) }));
  }
  if (results.some((r) => r.models)) {
    const models: Record<string, GroupResult> = {};
    for (const name of keysOf(results.map((r) => r.models))) models[name] = { summary: merge(results.map((r) => r.models?.[name]?.summary)) };
    out.models = models;
  }
  const sessions = results.map((r) => r.sessions).filter((s): s is SessionsSection => s !== undefined);
  if (sessions.length > 0) {
    const add = (k: keyof SessionsSection): number => sessions.reduce((a, s) => a + s[k], 0);
    out.sessions = { started: add('started'), completed: add('completed'), broken: add('broken'), cut: add('cut'), in_progress: add('in_progress') };
  }
  return out;
}

/** Merges N shard results into one, exactly. */
export function mergeResults(results: readonly RunResult[], paths: readonly string[] = []): RunResult {
  if (results.length === 0) throw new InvalidInputError([{ path: 'RESULTS', message: 'give at least one results.json' }]);
  const problems = comparability(results, paths);
  if (problems.length > 0) throw new InvalidInputError(problems);
  const first = results[0]!;

  const summary = mergeSummaries(results.map((r) => r.summary));

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

  // the run's own SLOs: a class's verdicts (`class` set) are judged on the class's requests below
  const sloSpec = sloSpecOf(first.slo.filter((v) => v.class === undefined));
  // throughput SLOs over windows need every window to hold every shard's share: on grids that
  // differ (shards started apart) a window would hold one shard's completions and read low, so
  // then the windowed aggregations get no windows and fail with no data rather than mislead
  const grid = (r: RunResult): string => r.windows.map((w) => `${Math.round(w.t_s * 1e6)}:${Math.round(w.window_s * 1e6)}`).join(',');
  const aligned = results.every((r) => grid(r) === grid(first));
  const slo: SloVerdict[] = evaluateSlos(sloSpec, summary, aligned ? { windows, warmupS: first.run.warmup_s } : undefined);
  const slices = mergeSlices(results, summary.duration_s);
  // as in a run: the classes' own verdicts count as the run's, after its own
  for (const c of Object.values(slices.classes ?? {})) slo.push(...c.slo);

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
  const { classes: _classes, turns: _turns, models: _models, sessions: _sessions, shard: _shard, ...rest } = first;
  const shards = mergedShards(results);
  // the shards of one run share its id: the merge is that run (without ids, one made up)
  const runId = first.shard !== undefined ? first.run.id : `${first.run.id}-merged-${results.length}`;
  const missingReason = shards && shards.missing.length > 0 ? `merged ${shards.merged.length} of ${shards.count} shards: ${missingText(shards.missing)} missing` : null;
  const merged: RunResult = {
    ...rest,
    ...(first.run_id !== undefined && { run_id: runId }),
    // a run short of shards is short of its load: failed, as merge's exit code (107) says
    status: missingReason !== null ? 'failed' : worst,
    status_reason: missingReason ?? results.map((r) => r.status_reason).find((x) => x !== null) ?? null,
    run: { ...first.run, id: runId, argv: [...first.run.argv, `(merged from ${results.length} shards)`] },
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
    ...slices,
    generator: {
      event_loop_lag_p99_ms: maxOf((r) => r.generator.event_loop_lag_p99_ms),
      event_loop_lag_max_ms: maxOf((r) => r.generator.event_loop_lag_max_ms),
      cpu_ratio: maxOf((r) => r.generator.cpu_ratio),
      schedule_lag_p99_ms: summary.latency_ms.schedule_lag.p99,
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
    ...(shards && { merged_shards: shards }),
  };
  // at the SLO the shards were judged at (they agree: see comparability), else the default
  merged.error_budget = computeErrorBudget(merged, { availabilitySlo: results.map(availabilitySloOf).find((x): x is number => x !== null) });
  return merged;
}

/** "shard 3", "shards 1, 4 and 7", "shards 0, 1, 2, … (12)" */
export function missingText(missing: readonly number[]): string {
  if (missing.length === 1) return `shard ${missing[0]}`;
  if (missing.length > 8) return `shards ${missing.slice(0, 8).join(', ')}, … (${missing.length})`;
  return `shards ${missing.slice(0, -1).join(', ')} and ${missing[missing.length - 1]}`;
}
