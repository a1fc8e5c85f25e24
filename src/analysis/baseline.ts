// Baselines: what the regression gate keeps of each run (a small digest: identity, the compared
// metrics, and coarsened time windows with their encoded histograms), the baseline file that holds
// the last N such digests (`"schema": "inferload/baseline@1"`), and the rule for which runs are
// comparable at all. Pure: checking a file read is results/read.ts's job, writing one
// cli/baseline-command.ts's.
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { decodeHistogram, encodeHistogram } from '../metrics/hdr.js';
import type { WindowResult } from '../metrics/recorder.js';
import type { RunResult, RunStatus } from '../results/types.js';

export const BASELINE_SCHEMA = 'inferload/baseline@1';
/** Runs a baseline keeps by default (e.g. one per night for a week and a half). */
export const DEFAULT_BASELINE_MAX_RUNS = 10;
/**
 * Windows kept per run: adjacent windows are merged (histograms added exactly) down to this many.
 * Enough blocks for a window bootstrap, small enough that ten runs of a 30-minute soak stay near 1 MB.
 */
export const BASELINE_MAX_WINDOWS_PER_RUN = 60;

/** The metrics the gate compares, in reading order. Latencies in ms, throughputs per second. */
export const COMPARED_METRICS = [
  'ttft_p50_ms',
  'ttft_p95_ms',
  'ttft_p99_ms',
  'itl_p50_ms',
  'itl_p95_ms',
  'itl_p99_ms',
  'tpot_p50_ms',
  'tpot_p95_ms',
  'tpot_p99_ms',
  'e2e_p50_ms',
  'e2e_p95_ms',
  'e2e_p99_ms',
  'request_per_s',
  'output_tokens_per_s',
  'goodput_request_per_s',
  'error_ratio',
] as const;
export type MetricKey = (typeof COMPARED_METRICS)[number];

/** The histograms a baseline window keeps (schedule lag is the client's, not the server's). */
export const BASELINE_WINDOW_HISTOGRAMS = ['ttft', 'itl', 'e2e'] as const;
export type BaselineWindowHistogram = (typeof BASELINE_WINDOW_HISTOGRAMS)[number];

/** One (possibly merged) time window of a baseline run: counts and encoded histograms (integer µs). */
export interface BaselineWindow {
  t_s: number;
  window_s: number;
  completed: number;
  failed: number;
  output_tokens: number;
  hdr: Record<BaselineWindowHistogram, string>;
}

/** What identifies the test a run performed: runs must agree on it to be compared. */
export interface RunIdentity {
  scenario: string;
  /** the run's load section (results.run.load) */
  load: Record<string, unknown>;
  /** the run's workload section (results.run.workload) */
  workload: Record<string, unknown>;
  endpoint: string;
}

/** One run as a baseline keeps it. */
export interface BaselineRun extends RunIdentity {
  id: string;
  started_at: string;
  status: RunStatus;
  inferload_version: string;
  seed: number;
  warmup_s: number;
  window_s: number;
  model: string;
  simulator: { profile: string; speed: number } | null;
  /** names of the run's SLOs: goodput counts requests that met all of them */
  slo: string[];
  /** whether the load generator kept up (results.generator.valid) */
  generator_valid: boolean;
  duration_s: number;
  requests: { sent: number; completed: number; failed: number; dropped: number };
  metrics: Record<MetricKey, number | null>;
  /** the measured windows (after warm-up, while arrivals were made), merged down to at most 60 */
  windows: BaselineWindow[];
}

/** A baseline file: the last `max_runs` runs of one scenario and workload, oldest first. */
export interface Baseline {
  schema: typeof BASELINE_SCHEMA;
  scenario: string;
  max_runs: number;
  updated_at: string;
  runs: BaselineRun[];
}

/** The value of one compared metric in a run's summary, or null when the run has no data for it. */
export function metricOf(result: RunResult, key: MetricKey): number | null {
  const s = result.summary;
  const lat = (m: 'ttft' | 'itl' | 'tpot' | 'e2e', p: 'p50' | 'p95' | 'p99'): number | null => {
    const l = s.latency_ms[m];
    return l && l.count > 0 ? l[p] : null;
  };
  switch (key) {
    case 'ttft_p50_ms':
      return lat('ttft', 'p50');
    case 'ttft_p95_ms':
      return lat('ttft', 'p95');
    case 'ttft_p99_ms':
      return lat('ttft', 'p99');
    case 'itl_p50_ms':
      return lat('itl', 'p50');
    case 'itl_p95_ms':
      return lat('itl', 'p95');
    case 'itl_p99_ms':
      return lat('itl', 'p99');
    case 'tpot_p50_ms':
      return lat('tpot', 'p50');
    case 'tpot_p95_ms':
      return lat('tpot', 'p95');
    case 'tpot_p99_ms':
      return lat('tpot', 'p99');
    case 'e2e_p50_ms':
      return lat('e2e', 'p50');
    case 'e2e_p95_ms':
      return lat('e2e', 'p95');
    case 'e2e_p99_ms':
      return lat('e2e', 'p99');
    case 'request_per_s':
      return s.duration_s > 0 ? s.throughput.request_per_s : null;
    case 'output_tokens_per_s':
      return s.duration_s > 0 ? s.throughput.output_tokens_per_s : null;
    case 'goodput_request_per_s':
      return s.duration_s > 0 ? s.throughput.goodput_request_per_s : null;
    case 'error_ratio': {
      const ended = s.requests.completed + s.requests.failed;
      return ended > 0 ? s.requests.failed / ended : null;
    }
    default: {
      const never: never = key;
      throw new Error(`unknown metric ${String(never)}`);
    }
  }
}

/**
 * The windows that measure the run: after the warm-up and before arrivals ended. The drain after
 * the last arrival (graceful stop) has few completions and would read as a throughput collapse.
 */
export function measuredWindows(result: RunResult): WindowResult[] {
  const startS = result.run.warmup_s;
  const periodS = result.summary.rate.arrival_period_s > 0 ? result.summary.rate.arrival_period_s : result.summary.duration_s;
  const endS = startS + periodS;
  const eps = 1e-6;
  return result.windows.filter((w) => w.t_s >= startS - eps && w.t_s < endS - eps && w.window_s > 0);
}

/** Merges consecutive windows (counts add, histograms add exactly). */
export function mergeBaselineWindows(group: BaselineWindow[]): BaselineWindow {
  const first = group[0];
  if (!first) throw new Error('mergeBaselineWindows: empty group');
  if (group.length === 1) return first;
  const hdr = {} as Record<BaselineWindowHistogram, string>;
  for (const m of BASELINE_WINDOW_HISTOGRAMS) {
    const h = decodeHistogram(first.hdr[m]);
    for (let i = 1; i < group.length; i++) h.add(decodeHistogram(group[i]!.hdr[m]));
    hdr[m] = encodeHistogram(h);
  }
  let windowS = 0;
  let completed = 0;
  let failed = 0;
  let outputTokens = 0;
  for (const w of group) {
    windowS += w.window_s;
    completed += w.completed;
    failed += w.failed;
    outputTokens += w.output_tokens;
  }
  return { t_s: first.t_s, window_s: windowS, completed, failed, output_tokens: outputTokens, hdr };
}

/** Merges runs of `ceil(n / maxWindows)` consecutive windows so that at most `maxWindows` remain. */
export function coarsenWindows(windows: BaselineWindow[], maxWindows: number): BaselineWindow[] {
  const per = Math.max(1, Math.ceil(windows.length / Math.max(1, maxWindows)));
  if (per === 1) return windows;
  const out: BaselineWindow[] = [];
  for (let i = 0; i < windows.length; i += per) out.push(mergeBaselineWindows(windows.slice(i, i + per)));
  return out;
}

/** The digest of a run a baseline keeps (and the form the comparison reads both sides in). */
export function baselineRunOf(result: RunResult, maxWindows = BASELINE_MAX_WINDOWS_PER_RUN): BaselineRun {
  const windows = measuredWindows(result).map(
    (w): BaselineWindow => ({
      t_s: w.t_s,
      window_s: w.window_s,
      completed: w.completed,
      failed: w.failed,
      output_tokens: w.output_tokens,
      hdr: { ttft: w.hdr.ttft, itl: w.hdr.itl, e2e: w.hdr.e2e },
    }),
  );
  const metrics = Object.fromEntries(COMPARED_METRICS.map((k) => [k, metricOf(result, k)])) as Record<MetricKey, number | null>;
  const r = result.summary.requests;
  return {
    id: result.run.id,
    started_at: result.run.started_at,
    status: result.status,
    inferload_version: result.run.inferload_version,
    scenario: result.run.scenario,
    seed: result.run.seed,
    warmup_s: result.run.warmup_s,
    window_s: result.run.window_s,
    endpoint: result.run.target.endpoint,
    model: result.run.target.model,
    simulator: result.run.target.simulator ? { ...result.run.target.simulator } : null,
    load: structuredClone(result.run.load),
    workload: structuredClone(result.run.workload),
    slo: result.slo.map((s) => s.name),
    generator_valid: result.generator.valid,
    duration_s: result.summary.duration_s,
    requests: { sent: r.sent, completed: r.completed, failed: r.failed, dropped: r.dropped },
    metrics,
    windows: coarsenWindows(windows, maxWindows),
  };
}

/** A new, empty baseline for a scenario. */
export function emptyBaseline(scenario: string, maxRuns = DEFAULT_BASELINE_MAX_RUNS): Baseline {
  return { schema: BASELINE_SCHEMA, scenario, max_runs: maxRuns, updated_at: new Date(0).toISOString(), runs: [] };
}

/**
 * What a run measured, as text: two runs with the same key are one run saved twice (another id
 * or start time edited in), since no two runs measure the same durations, counts, percentiles
 * and windows to the microsecond.
 */
export function measurementKey(run: BaselineRun): string {
  return JSON.stringify([run.duration_s, run.requests, run.metrics, run.windows]);
}

/** What `addRun` did. */
export type AddRunOutcome = { kind: 'added'; dropped: BaselineRun[] } | { kind: 'already-present' };

/**
 * Appends a run to a baseline (in place) and drops the oldest beyond `max_runs`. Refuses, with
 * InvalidInputError (exit 104), a run that is not complete, completed no request, or is not
 * comparable with the baseline's newest run; a run already present (same id) is left alone, so
 * re-running a CI job is harmless.
 */
export function addRun(baseline: Baseline, run: BaselineRun, now: Date = new Date()): AddRunOutcome {
  if (run.status !== 'complete')
    throw new InvalidInputError(
      [{ path: 'status', message: `a baseline keeps complete runs only; this one is "${run.status}" (re-run it to completion)` }],
      `run ${run.id}`,
    );
  // a run that completed nothing measured nothing (a server that accepted connections and never
  // answered): as a baseline it would make every later run look like an improvement
  if (run.requests.completed === 0)
    throw new InvalidInputError(
      [
        {
          path: 'summary.requests.completed',
          message: `no request completed (${run.requests.failed} failed, ${run.requests.dropped} dropped): a baseline keeps runs that measured something; fix the target and re-run`,
        },
      ],
      `run ${run.id}`,
    );
  if (baseline.runs.some((r) => r.id === run.id)) return { kind: 'already-present' };
  // a copy of a run under another id (a results.json edited or re-saved): counted twice it
  // would narrow the noise band as a duplicate in the file does (read.ts refuses those)
  const key = measurementKey(run);
  const copied = baseline.runs.find((r) => measurementKey(r) === key);
  if (copied)
    throw new InvalidInputError(
      [
        {
          path: 'summary',
          message: `the same measurements as run ${JSON.stringify(copied.id)} (started ${copied.started_at}), already in the baseline: a copy of that run under another id; a baseline holds each run once`,
        },
      ],
      `run ${run.id}`,
    );
  const newest = baseline.runs[baseline.runs.length - 1];
  if (newest) assertComparable(newest, run, { baseline: 'the baseline', current: 'this run' }, `run ${run.id} vs the baseline's runs`);
  else baseline.scenario = run.scenario;
  baseline.runs.push(run);
  const dropped = baseline.runs.length > baseline.max_runs ? baseline.runs.splice(0, baseline.runs.length - baseline.max_runs) : [];
  baseline.updated_at = now.toISOString();
  return { kind: 'added', dropped };
}

/**
 * Load fields that may differ between comparable runs: how long the load was held (a longer run
 * measures the same thing with more samples) and how long stragglers may finish. Everything else
 * in `load` (executor, rate, VUs, stages, arrival process, think time, max in flight) shapes the
 * load itself and must match, as must the whole workload (lengths, dataset, sampling) and the
 * endpoint. Not part of the identity, so free to differ: seed (another sample of the same
 * distributions), warm-up and window length (both only choose what is measured), target URL,
 * model name and simulator settings (the deployment under test is what a comparison is about;
 * a different model or profile is reported as a note).
 */
export const LOAD_FIELDS_ALLOWED_TO_DIFFER: readonly string[] = ['durationS', 'duration', 'gracefulStopS', 'gracefulStop'];

/** Every difference between two runs' identities, as problems naming the field. */
export function comparabilityProblems(baseline: RunIdentity, current: RunIdentity, baselineName = 'baseline', currentName = 'current'): InputProblem[] {
  const problems: InputProblem[] = [];
  const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));
  if (baseline.scenario !== current.scenario)
    problems.push({
      path: 'run.scenario',
      message: `${baselineName} ran scenario ${show(baseline.scenario)}, ${currentName} ran ${show(current.scenario)}: compare runs of the same scenario`,
    });
  if (baseline.endpoint !== current.endpoint)
    problems.push({ path: 'run.target.endpoint', message: `${baselineName} drove ${show(baseline.endpoint)}, ${currentName} drove ${show(current.endpoint)}` });
  const strip = (load: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(load).filter(([k]) => !LOAD_FIELDS_ALLOWED_TO_DIFFER.includes(k)));
  for (const d of differences(strip(baseline.load), strip(current.load), 'run.load'))
    problems.push({ path: d.path, message: `${baselineName} has ${show(d.a)}, ${currentName} has ${show(d.b)}: the load must be the same (only its duration may differ)` });
  for (const d of differences(baseline.workload, current.workload, 'run.workload'))
    problems.push({ path: d.path, message: `${baselineName} has ${show(d.a)}, ${currentName} has ${show(d.b)}: the workload must be the same` });
  return problems;
}

/**
 * Throws InvalidInputError (exit 104) naming every difference when two runs are not comparable.
 * `names` label the two sides inside each problem; `source` heads the message (which runs).
 */
export function assertComparable(
  baseline: RunIdentity,
  current: RunIdentity,
  names: { baseline: string; current: string } = { baseline: 'baseline', current: 'current' },
  source = 'the runs compared',
): void {
  const problems = comparabilityProblems(baseline, current, names.baseline, names.current);
  if (problems.length > 0) throw new InvalidInputError(problems, `${source} (not comparable: same scenario, load and workload needed)`);
}

/** Leaf-level differences between two JSON values, with dotted paths. */
function differences(a: unknown, b: unknown, path: string): { path: string; a: unknown; b: unknown }[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const out: { path: string; a: unknown; b: unknown }[] = [];
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) out.push(...differences(a[k], b[k], `${path}.${k}`));
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    const out: { path: string; a: unknown; b: unknown }[] = [];
    for (let i = 0; i < a.length; i++) out.push(...differences(a[i], b[i], `${path}[${i}]`));
    return out;
  }
  return Object.is(a, b) || JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, a, b }];
}
