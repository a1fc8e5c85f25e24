// The regression gate's judgement: a run against a baseline, metric by metric, with the noise
// each change must clear before it counts. Pure (no I/O, seeded randomness): the same inputs give
// the same Comparison on every machine.
//
// How noise is judged, and why. With thousands of requests, any test on pooled requests calls a
// 1 % shift "significant", yet two runs of the same build differ by more than that: the unit of
// independent variation is the run (process start, server state, neighbours on the machine), not
// the request. So:
//  - A baseline with several runs: the question is "could the current run be one more run of the
//    baseline's build?", which is a prediction interval for a new observation, not a confidence
//    interval for a mean (a t-test of means would shrink with more baseline runs and flag a single
//    ordinary run). The band is mean ± t(n−1) · s · √(1 + 1/n) over the run-level values; with few
//    runs the t quantile widens it honestly (n = 2: ×12.7). A window bootstrap of the current run
//    against the newest baseline run sets a floor, so baseline runs that happen to agree exactly
//    (or all have zero errors) cannot turn sampling noise into a "significant" change.
//  - A baseline with one run: the run-to-run spread is unknown, so within-run noise is the best
//    available estimate: both runs' time windows are resampled in blocks (see bootstrap.ts), each
//    statistic recomputed from merged window histograms, and the change counts as beyond noise when
//    it lies outside the bootstrap distribution of (current − baseline), centred on its estimate
//    (the basic bootstrap: equivalent to "the difference's interval excludes 0"). The report says
//    that this understates run-to-run noise.
// A metric regresses when its change is beyond noise AND beyond the tolerance AND in the worse direction.
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { RunResult } from '../results/types.js';
import {
  assertComparable,
  baselineRunOf,
  COMPARED_METRICS,
  type Baseline,
  type BaselineRun,
  type MetricKey,
} from './baseline.js';
import { bootstrapWindows, prepareWindows, quantile, type BootstrapMetric, type WindowBootstrap } from './bootstrap.js';

export const COMPARISON_SCHEMA = 'inferload/comparison@1';
/** The usual runbook rule: a change smaller than this is tolerated even when it is real. */
export const DEFAULT_TOLERANCE_PCT = 20;

/** Options of compareRuns. */
export interface CompareOptions {
  /** relative change tolerated, percent (default 20) */
  tolerancePct?: number;
  /** confidence of noise bands (default 0.95) */
  confidence?: number;
  /** bootstrap resamples (default 1000) */
  resamples?: number;
  /** seed of the bootstrap (default 1) */
  seed?: number;
  /**
   * error ratios move in whole requests: a change smaller than this (absolute, default 0.001 =
   * 0.1 percentage points, the usual error SLO) is never beyond tolerance, whatever its relative size
   */
  errorRatioFloor?: number;
}

export type MetricUnit = 'ms' | 'req/s' | 'tok/s' | 'ratio';

/** How one compared metric reads. */
export interface MetricInfo {
  label: string;
  unit: MetricUnit;
  better: 'smaller' | 'larger';
}

/** Label, unit and good direction of every compared metric. */
export const METRIC_INFO: Record<MetricKey, MetricInfo> = {
  ttft_p50_ms: { label: 'TTFT p50', unit: 'ms', better: 'smaller' },
  ttft_p95_ms: { label: 'TTFT p95', unit: 'ms', better: 'smaller' },
  ttft_p99_ms: { label: 'TTFT p99', unit: 'ms', better: 'smaller' },
  itl_p50_ms: { label: 'ITL p50', unit: 'ms', better: 'smaller' },
  itl_p95_ms: { label: 'ITL p95', unit: 'ms', better: 'smaller' },
  itl_p99_ms: { label: 'ITL p99', unit: 'ms', better: 'smaller' },
  tpot_p50_ms: { label: 'TPOT p50', unit: 'ms', better: 'smaller' },
  tpot_p95_ms: { label: 'TPOT p95', unit: 'ms', better: 'smaller' },
  tpot_p99_ms: { label: 'TPOT p99', unit: 'ms', better: 'smaller' },
  e2e_p50_ms: { label: 'E2E p50', unit: 'ms', better: 'smaller' },
  e2e_p95_ms: { label: 'E2E p95', unit: 'ms', better: 'smaller' },
  e2e_p99_ms: { label: 'E2E p99', unit: 'ms', better: 'smaller' },
  request_per_s: { label: 'request throughput', unit: 'req/s', better: 'larger' },
  output_tokens_per_s: { label: 'output token throughput', unit: 'tok/s', better: 'larger' },
  goodput_request_per_s: { label: 'goodput', unit: 'req/s', better: 'larger' },
  error_ratio: { label: 'error ratio', unit: 'ratio', better: 'smaller' },
};

/** One metric, baseline against current. */
export interface MetricComparison {
  metric: MetricKey;
  label: string;
  unit: MetricUnit;
  better: 'smaller' | 'larger';
  /** the baseline's value: the mean over its runs */
  baseline: number | null;
  current: number | null;
  /** current − baseline, in the metric's unit */
  delta: number | null;
  /** (current − baseline) / baseline; null when the baseline is 0 or either side has no data */
  change_ratio: number | null;
  direction: 'worse' | 'better' | 'same' | 'unknown';
  /** the changes (current − baseline, in the metric's unit) chance alone produces at the confidence level */
  noise_band: { low: number; high: number } | null;
  /** how the band was estimated, e.g. `run-to-run (5 runs)`, `window bootstrap`; null when it could not be */
  noise_source: string | null;
  /** the change lies outside the noise band; null when noise could not be estimated (then tolerance alone judges) */
  beyond_noise: boolean | null;
  /** |change| exceeds the tolerance (and, for the error ratio, the absolute floor) */
  beyond_tolerance: boolean;
  /** beyond noise (or noise unknown), beyond tolerance, and worse */
  regressed: boolean;
  /** why this row is judged differently, when it is */
  note: string | null;
}

export type NoiseMethod = 'run-to-run' | 'window-bootstrap';
export type ComparisonVerdict = 'regression' | 'improvement' | 'no significant change';

/** The result of compareRuns: also the `--json` output of `inferload compare`. */
export interface Comparison {
  schema: typeof COMPARISON_SCHEMA;
  scenario: string;
  tolerance_pct: number;
  confidence: number;
  noise: {
    method: NoiseMethod;
    baseline_runs: number;
    resamples: number;
    seed: number;
    /** resampling units of the bootstrap (blocks of consecutive windows), per side; null when none ran */
    bootstrap: { baseline_blocks: number; current_blocks: number; block_s: number } | null;
    description: string;
  };
  baseline: { runs: { id: string; started_at: string; inferload_version: string }[] };
  current: { id: string; started_at: string; inferload_version: string };
  metrics: MetricComparison[];
  /** metrics that regressed (the gate fails when any did) */
  regressions: MetricKey[];
  /** metrics that improved beyond noise and tolerance */
  improvements: MetricKey[];
  verdict: ComparisonVerdict;
  notes: string[];
}

/** Whether a value is a baseline file (as opposed to one run's results). */
function isBaselineFile(b: Baseline | RunResult): b is Baseline {
  return b.schema === 'inferload/baseline@1';
}

/**
 * Compares a run against a baseline (a baseline file of several runs, or one run's results) metric
 * by metric. Throws InvalidInputError (exit 104) naming every difference when the runs are not
 * comparable (scenario, load apart from its duration, workload, endpoint).
 */
export function compareRuns(baseline: Baseline | RunResult, current: RunResult, opts: CompareOptions = {}): Comparison {
  const tolerancePct = opts.tolerancePct ?? DEFAULT_TOLERANCE_PCT;
  const confidence = opts.confidence ?? 0.95;
  const resamples = Math.max(1, Math.round(opts.resamples ?? 1000));
  const seed = opts.seed ?? 1;
  const errorRatioFloor = opts.errorRatioFloor ?? 0.001;
  if (!(tolerancePct >= 0 && Number.isFinite(tolerancePct))) throw new RangeError(`tolerancePct must be a number >= 0, got ${tolerancePct}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);

  const baseRuns: BaselineRun[] = isBaselineFile(baseline) ? baseline.runs : [baselineRunOf(baseline)];
  if (baseRuns.length === 0) throw new InvalidInputError([{ path: 'BASELINE runs', message: 'the baseline holds no runs yet; add one with `inferload baseline add`' }]);
  const cur = baselineRunOf(current);
  assertMeasured(baseline, baseRuns, current, cur);
  for (const b of baseRuns) assertComparable(b, cur, { baseline: 'baseline', current: 'current' }, `baseline run ${b.id} vs current run ${cur.id}`);
  const notes = comparisonNotes(baseRuns, cur);
  const sloDiffers = baseRuns.some((b) => !sameSet(b.slo, cur.slo));
  const noise = noiseEstimator(baseRuns[baseRuns.length - 1]!, cur, { resamples, seed, confidence });
  const metrics = COMPARED_METRICS.map((key) =>
    key === 'goodput_request_per_s' && sloDiffers
      ? { ...unjudged(key, baseRuns, cur), note: 'not judged: the runs have different SLOs, and goodput counts requests that met all of them' }
      : judgeMetric(key, baseRuns, cur, noise, { tolerancePct, errorRatioFloor }),
  );

  const regressions = metrics.filter((m) => m.regressed).map((m) => m.metric);
  const improvements = metrics.filter((m) => m.direction === 'better' && m.beyond_tolerance && m.beyond_noise === true).map((m) => m.metric);
  const verdict: ComparisonVerdict = regressions.length > 0 ? 'regression' : improvements.length > 0 ? 'improvement' : 'no significant change';
  const method: NoiseMethod = baseRuns.length >= 2 ? 'run-to-run' : 'window-bootstrap';
  const confPct = `${round6(confidence * 100)} %`;
  const description =
    method === 'run-to-run'
      ? `run-to-run spread of ${baseRuns.length} baseline runs: ${confPct} prediction interval for one more run (mean ± t·s·√(1+1/n)), ` +
        `never narrower than a window bootstrap of the current run against the newest baseline run`
      : `one baseline run: ${confPct} window bootstrap (${resamples} resamples of blocks of time windows, both runs); ` +
        `this measures within-run noise only, and runs of the same build usually differ by more`;
  return {
    schema: COMPARISON_SCHEMA,
    scenario: cur.scenario,
    tolerance_pct: tolerancePct,
    confidence,
    noise: {
      method,
      baseline_runs: baseRuns.length,
      resamples,
      seed,
      bootstrap: noise.bootstrap
        ? {
            baseline_blocks: noise.bootstrap.baseline.blocks,
            current_blocks: noise.bootstrap.current.blocks,
            block_s: round6(Math.max(noise.bootstrap.baseline.block_s, noise.bootstrap.current.block_s)),
          }
        : null,
      description,
    },
    baseline: { runs: baseRuns.map((r) => ({ id: r.id, started_at: r.started_at, inferload_version: r.inferload_version })) },
    current: { id: cur.id, started_at: cur.started_at, inferload_version: cur.inferload_version },
    metrics,
    regressions,
    improvements,
    verdict,
    notes,
  };
}

/**
 * A failed run, or one that completed no request, measured nothing: every latency reads "no
 * data", so the gate would pass a server that never answered. Refused (exit 104) with the reason,
 * on either side.
 */
function assertMeasured(baseline: Baseline | RunResult, baseRuns: BaselineRun[], current: RunResult, cur: BaselineRun): void {
  const problems: InputProblem[] = [];
  const why = (r: BaselineRun, reason: string | null): string | null =>
    r.status === 'failed'
      ? `failed${reason ? ` (${reason})` : ''}`
      : r.requests.completed === 0
        ? `completed no request (${r.requests.failed} failed, ${r.requests.dropped} dropped)`
        : null;
  const curWhy = why(cur, current.status_reason);
  if (curWhy) problems.push({ path: 'CURRENT', message: `run ${cur.id} ${curWhy}: there is nothing to compare; fix the target and re-run before gating on it` });
  baseRuns.forEach((r, i) => {
    const w = why(r, isBaselineFile(baseline) ? null : baseline.status_reason);
    if (w)
      problems.push({
        path: isBaselineFile(baseline) ? `BASELINE runs[${i}]` : 'BASELINE',
        message: `run ${r.id} ${w}: it measured nothing to compare with; ${isBaselineFile(baseline) ? 'delete it from the baseline' : 'compare with a run that completed'}`,
      });
  });
  if (problems.length > 0) throw new InvalidInputError(problems, 'the runs compared (a failed run measures nothing)');
}

type Band = { low: number; high: number };

/** Where a metric's noise band comes from: the window bootstrap of two runs, and proxies for it. */
interface NoiseEstimator {
  bootstrap: { baseline: WindowBootstrap; current: WindowBootstrap } | null;
  confidence: number;
  /** the bootstrap band of a metric (or of its proxy, scaled), in the metric's unit */
  bootstrapBand(key: MetricKey, baselineValue: number): { band: Band; source: string } | null;
}

function noiseEstimator(newest: BaselineRun, cur: BaselineRun, opts: { resamples: number; seed: number; confidence: number }): NoiseEstimator {
  const boot = bootstrapPair(newest, cur, opts.resamples, opts.seed);
  const alpha = 1 - opts.confidence;
  // the bootstrap distribution of (current − baseline), centred on its estimate: the changes that
  // resampling alone produces (the basic bootstrap; outside it ⇔ the difference's interval excludes 0)
  const band = (key: BootstrapMetric): Band | null => {
    if (!boot) return null;
    const bp = boot.baseline.point[key];
    const cp = boot.current.point[key];
    if (bp === null || cp === null) return null;
    const diffs = new Float64Array(opts.resamples);
    for (let r = 0; r < opts.resamples; r++) diffs[r] = boot.current.replicates[key][r]! - boot.baseline.replicates[key][r]!;
    const lo = quantile(diffs, alpha / 2);
    const hi = quantile(diffs, 1 - alpha / 2);
    return lo === null || hi === null ? null : { low: lo - (cp - bp), high: hi - (cp - bp) };
  };
  return {
    bootstrap: boot,
    confidence: opts.confidence,
    bootstrapBand(key, baselineValue) {
      const direct = bootstrapKeyOf(key);
      if (direct) {
        const b = band(direct);
        return b ? { band: b, source: 'window bootstrap' } : null;
      }
      const proxy = proxyOf(key);
      const b = proxy ? band(proxy) : null;
      const proxyBase = proxy && boot ? boot.baseline.point[proxy] : null;
      if (!proxy || !b || !proxyBase) return null;
      const scale = baselineValue / proxyBase;
      const what = key === 'goodput_request_per_s' ? 'a lower bound' : 'as a proxy';
      return { band: { low: b.low * scale, high: b.high * scale }, source: `window bootstrap of ${METRIC_INFO[proxy].label} (relative, ${what})` };
    },
  };
}

/** A row with the values filled in and nothing judged yet. */
function unjudged(key: MetricKey, baseRuns: BaselineRun[], cur: BaselineRun): MetricComparison {
  const info = METRIC_INFO[key];
  const values = runValues(baseRuns, key);
  return {
    metric: key,
    label: info.label,
    unit: info.unit,
    better: info.better,
    baseline: values.length > 0 ? round6(mean(values)) : null,
    current: cur.metrics[key],
    delta: null,
    change_ratio: null,
    direction: 'unknown',
    noise_band: null,
    noise_source: null,
    beyond_noise: null,
    beyond_tolerance: false,
    regressed: false,
    note: null,
  };
}

function runValues(runs: BaselineRun[], key: MetricKey): number[] {
  return runs.map((r) => r.metrics[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/** One metric judged: change, direction, noise band, tolerance, regression. */
function judgeMetric(
  key: MetricKey,
  baseRuns: BaselineRun[],
  cur: BaselineRun,
  noise: NoiseEstimator,
  limits: { tolerancePct: number; errorRatioFloor: number },
): MetricComparison {
  const row = unjudged(key, baseRuns, cur);
  const values = runValues(baseRuns, key);
  const curValue = cur.metrics[key];
  if (values.length === 0 || curValue === null) {
    row.note = values.length === 0 ? 'no data in the baseline' : 'no data in the current run';
    return row;
  }
  const baseValue = mean(values);
  const delta = curValue - baseValue;
  row.delta = round6(delta);
  row.change_ratio = baseValue !== 0 ? round6(delta / Math.abs(baseValue)) : null;
  row.direction = delta === 0 ? 'same' : (row.better === 'smaller') === delta > 0 ? 'worse' : 'better';

  let band: Band | null = null;
  let source: string | null = null;
  const floor = noise.bootstrapBand(key, baseValue);
  if (values.length >= 2) {
    const half = predictionHalfWidth(values, noise.confidence);
    band = { low: -half, high: half };
    source = `run-to-run (${values.length} runs)`;
    if (floor && (floor.band.low < band.low || floor.band.high > band.high)) {
      band = { low: Math.min(band.low, floor.band.low), high: Math.max(band.high, floor.band.high) };
      source += ', widened to the window-bootstrap floor';
    }
  } else if (floor) {
    band = floor.band;
    source = floor.source;
  }
  if (band) {
    row.noise_band = { low: round6(band.low), high: round6(band.high) };
    row.noise_source = source;
    row.beyond_noise = delta < band.low || delta > band.high;
  } else {
    row.note = 'noise could not be estimated (no per-window data for it): judged on the tolerance alone';
  }
  const allowed = (limits.tolerancePct / 100) * Math.abs(baseValue);
  const floorAbs = key === 'error_ratio' ? limits.errorRatioFloor : 0;
  row.beyond_tolerance = Math.abs(delta) > allowed && Math.abs(delta) > floorAbs;
  row.regressed = row.direction === 'worse' && row.beyond_tolerance && row.beyond_noise !== false;
  return row;
}

/** The bootstrap statistic a compared metric is, or null when windows do not carry it. */
function bootstrapKeyOf(key: MetricKey): BootstrapMetric | null {
  switch (key) {
    case 'tpot_p50_ms':
    case 'tpot_p95_ms':
    case 'tpot_p99_ms':
    case 'goodput_request_per_s':
      return null;
    default:
      return key;
  }
}

/**
 * Windows keep no TPOT histogram and no goodput count, so these borrow a proxy's relative noise.
 * A request's TPOT is (E2E − TTFT) / (tokens − 1): E2E has the same sample size (one value per
 * request) and, for a given output length, most of the same variation. Goodput is throughput times
 * the share of good requests, so its noise is at least the request throughput's: a lower bound,
 * which still keeps the gate from calling sampling noise a change.
 */
function proxyOf(key: MetricKey): BootstrapMetric | null {
  switch (key) {
    case 'tpot_p50_ms':
      return 'e2e_p50_ms';
    case 'tpot_p95_ms':
      return 'e2e_p95_ms';
    case 'tpot_p99_ms':
      return 'e2e_p99_ms';
    case 'goodput_request_per_s':
      return 'request_per_s';
    default:
      return null;
  }
}

/** Bootstraps both runs' windows; null when either has fewer than two windows. */
function bootstrapPair(baseline: BaselineRun, current: BaselineRun, resamples: number, seed: number): { baseline: WindowBootstrap; current: WindowBootstrap } | null {
  if (baseline.windows.length < 2 || current.windows.length < 2) return null;
  // blocks at least as long as a typical request lasts, so that one request's neighbours fall
  // mostly into its own block (metrics.md's E2E includes queueing, so it grows with load)
  const e2eS = (r: BaselineRun): number => (r.metrics.e2e_p95_ms ?? 0) / 1000;
  const blockS = Math.max(e2eS(baseline), e2eS(current));
  const rng = Rng.derive(seed, 'inferload/compare/window-bootstrap');
  return {
    baseline: bootstrapWindows(prepareWindows(baseline.windows, blockS), rng, resamples),
    current: bootstrapWindows(prepareWindows(current.windows, blockS), rng, resamples),
  };
}

/** What a reader must know about the runs compared (differences allowed, but worth saying). */
function comparisonNotes(baseRuns: BaselineRun[], cur: BaselineRun): string[] {
  const notes: string[] = [];
  if (baseRuns.length === 1)
    notes.push(
      'The baseline has a single run, so noise is estimated within runs (window bootstrap); two runs of the same build usually differ by more. ' +
        'Collect several runs with "inferload baseline add" for a gate that knows the run-to-run spread.',
    );
  const newest = baseRuns[baseRuns.length - 1]!;
  if (cur.status !== 'complete') notes.push(`The current run is "${cur.status}": it covers only part of the planned load.`);
  const incomplete = baseRuns.filter((r) => r.status !== 'complete');
  if (incomplete.length > 0) notes.push(`${incomplete.length} baseline run(s) are not complete: ${incomplete.map((r) => r.id).join(', ')}.`);
  if (!cur.generator_valid) notes.push('The load generator may have been the bottleneck in the current run: latency changes may be its own.');
  const invalid = baseRuns.filter((r) => !r.generator_valid);
  if (invalid.length > 0) notes.push(`The load generator may have been the bottleneck in ${invalid.length} baseline run(s).`);
  const models = new Set(baseRuns.map((r) => r.model));
  if (!models.has(cur.model) || models.size > 1)
    notes.push(`Model names differ: baseline ${[...models].map((m) => JSON.stringify(m)).join(', ')}, current ${JSON.stringify(cur.model)}.`);
  const sim = (r: BaselineRun): string => (r.simulator ? `simulator ${r.simulator.profile} at speed ${r.simulator.speed}` : 'an external target');
  const sims = new Set(baseRuns.map(sim));
  if (!sims.has(sim(cur)) || sims.size > 1) notes.push(`Targets differ: baseline ran against ${[...sims].join(', ')}; current against ${sim(cur)}.`);
  if (baseRuns.some((r) => !sameSet(r.slo, cur.slo))) notes.push('The runs have different SLOs: goodput is not judged.');
  if (newest.seed !== cur.seed) notes.push(`Seeds differ (${newest.seed} vs ${cur.seed}): the same workload distributions, other samples of them.`);
  const durations = new Set(baseRuns.map((r) => r.load.durationS));
  if (!durations.has(cur.load.durationS) || durations.size > 1)
    notes.push('Load durations differ: the longer run measures the same load with more samples.');
  return notes;
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function mean(values: number[]): number {
  return values.reduce((a, v) => a + v, 0) / values.length;
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Half-width of the prediction interval for one more run: t(n−1) · s · √(1 + 1/n). */
export function predictionHalfWidth(values: number[], confidence = 0.95): number {
  const n = values.length;
  if (n < 2) return Infinity;
  const m = mean(values);
  const s = Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1));
  return studentTQuantile((1 + confidence) / 2, n - 1) * s * Math.sqrt(1 + 1 / n);
}

/** The p-quantile of Student's t distribution with `df` degrees of freedom (p in (0, 1)). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  if (p === 0.5) return 0;
  // bisection on the CDF: 200 halvings of [0, 1e7] is far below double precision
  let lo = 0;
  let hi = 1e7;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * regularizedIncompleteBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** I_x(a, b) by its continued fraction (Lentz), the symmetric form for fast convergence. */
function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
function logGamma(x: number): number {
  const g = 7;
  const coef = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xx = x - 1;
  let a = coef[0]!;
  const t = xx + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += coef[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}
