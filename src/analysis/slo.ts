// SLO verdicts: each threshold of the scenario (k6 syntax) judged against a run's summary, and
// the throughputs' windowed aggregations against its windows (metrics.md, SLO verdicts). Every
// comparison is exact: the observed value is a ratio of integers, compared with the threshold's
// decimal literal by cross-multiplication, so no rounding and no floating-point edge can flip it.
import { compareExact, decimalFraction, parseThreshold, type Fraction, type ParsedThreshold } from '../core/threshold.js';
import type { ScenarioSpec } from '../core/types.js';
import type { RunSummary, SloVerdict } from '../results/types.js';
import type { LatencyMetric, WindowResult } from '../metrics/recorder.js';
import { decodeHistogram, percentileMs } from '../metrics/hdr.js';

const LATENCY: Record<string, LatencyMetric> = {
  ttft_ms: 'ttft',
  ttft_sent_ms: 'ttft_sent',
  itl_ms: 'itl',
  itl_per_token_ms: 'itl_per_token',
  tpot_ms: 'tpot',
  e2e_ms: 'e2e',
  schedule_lag_ms: 'schedule_lag',
};

/** The run's time series, which the throughputs' p(N), min, max and med are judged over. */
export interface SloWindows {
  windows: readonly WindowResult[];
  /** the run's `warmup` (run.warmup_s): windows before its end are not samples */
  warmupS: number;
}

/**
 * The run's arrival period is recorded to the millisecond (summary.rate.arrival_period_s): a
 * window ending within half a millisecond past it may end exactly where the arrivals did.
 */
const ARRIVALS_END_SLACK_US = 500;

const ratio = (num: number, den: number): Fraction => ({ num: BigInt(num), den: BigInt(den) });

/** A value as the summary writes it (a latency in ms to the µs), read as the decimal it shows. */
const shown = (x: number): Fraction => decimalFraction(String(x));

/**
 * `count / seconds` as the summary's figures give them: `seconds` is a decimal of at most a few
 * places (duration_s to the ms, window_s to the µs), read exactly. 0 when `seconds` is 0, as the
 * summary's throughputs are.
 */
function perSecond(count: number, seconds: number): Fraction {
  if (seconds === 0) return ratio(0, 1);
  const s = shown(seconds);
  return { num: BigInt(count) * s.den, den: s.num };
}

/**
 * The throughput samples a windowed aggregation is judged over: one per window that lies wholly
 * in the measured arrival period, from the end of the warm-up to the end of the arrivals
 * (`warmup + summary.rate.arrival_period_s`). A window cut by either end holds part of the
 * warm-up's or of the drain's figures; the windows after the arrivals only drain, where
 * throughput falls because nothing more is sent, not because of the server.
 */
function windowSamples(summary: RunSummary, run: SloWindows, count: (w: WindowResult) => number): Fraction[] {
  const fromUs = Math.round(run.warmupS * 1e6);
  const toUs = Math.round((run.warmupS + summary.rate.arrival_period_s) * 1e6) + ARRIVALS_END_SLACK_US;
  const out: Fraction[] = [];
  for (const w of run.windows) {
    const startUs = Math.round(w.t_s * 1e6);
    const widthUs = Math.round(w.window_s * 1e6);
    if (widthUs > 0 && startUs >= fromUs && startUs + widthUs <= toUs) {
      out.push({ num: BigInt(count(w)) * 1_000_000n, den: BigInt(widthUs) });
    }
  }
  return out;
}

const minus = (a: Fraction, b: Fraction): Fraction => ({ num: a.num * b.den - b.num * a.den, den: a.den * b.den });
/** ascending order, for sort() */
const byValue = (a: Fraction, b: Fraction): number => {
  const d = minus(a, b).num;
  return d > 0n ? 1 : d < 0n ? -1 : 0;
};

/**
 * k6's percentile of a Trend (TrendSink.P in go.k6.io/k6/metrics): over the n samples sorted,
 * the rank i = p/100 × (n − 1), and the value linearly interpolated between the closest ranks,
 * s[⌊i⌋] + (s[⌈i⌉] − s[⌊i⌋]) × (i − ⌊i⌋); one sample is every percentile. k6's `med` is the
 * same at p = 50 (the mean of the two middle samples when n is even). Computed exactly here.
 */
function trendPercentile(sorted: readonly Fraction[], p: Fraction): Fraction {
  const n = BigInt(sorted.length);
  // i = p × (n − 1) / 100 = rankNum / rankDen; p lies in [0, 100], so ⌊i⌋ is a valid index
  const rankNum = p.num * (n - 1n);
  const rankDen = p.den * 100n;
  const lo = rankNum / rankDen;
  const at = sorted[Number(lo)]!;
  const rest = rankNum % rankDen;
  if (rest === 0n) return at;
  const gap = minus(sorted[Number(lo) + 1]!, at);
  return { num: at.num * gap.den * rankDen + gap.num * rest * at.den, den: at.den * gap.den * rankDen };
}

/** A throughput's p(N), min, max or med over the windows; null without a sample. */
function overWindows(samples: Fraction[], t: ParsedThreshold): Fraction | null {
  if (samples.length === 0) return null;
  const sorted = samples.sort(byValue);
  switch (t.aggregation.kind) {
    case 'p':
      return trendPercentile(sorted, t.aggregation.exact);
    case 'med':
      return trendPercentile(sorted, ratio(50, 1));
    case 'min':
      return sorted[0]!;
    case 'max':
      return sorted[sorted.length - 1]!;
    default:
      return null;
  }
}

/** A latency aggregation on the whole-run histogram, in ms; null when the histogram is empty. */
function latencyValue(summary: RunSummary, lat: LatencyMetric, t: ParsedThreshold): number | null {
  const s = summary.latency_ms[lat];
  const a = t.aggregation;
  // a count is observed whatever it is; every other aggregation of no value has no data
  if (s.count === 0 && a.kind !== 'count') return null;
  switch (a.kind) {
    case 'count':
      return s.count;
    case 'p': {
      const p = a.percentile;
      const named: Record<number, number | null> = { 50: s.p50, 90: s.p90, 95: s.p95, 99: s.p99, 99.9: s.p999, 100: s.max };
      if (p in named) return named[p]!;
      // as the summary's: the top of the bucket, never above the exact maximum (the decoded
      // histogram knows only the top of the maximum's bucket)
      return Math.min(percentileMs(decodeHistogram(s.hdr), p)!, s.max!);
    }
    case 'med':
      return s.p50;
    case 'avg':
      return s.mean;
    case 'max':
      return s.max;
    case 'min':
      return decodeHistogram(s.hdr).minNonZeroValue / 1000;
    case 'rate':
      return null;
    default: {
      const never: never = a;
      throw new Error(`unknown aggregation ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The observed value a threshold is judged on, exactly; null when the run has no data for it,
 * which includes a throughput's windowed aggregation when `run` is not given.
 */
export function observe(summary: RunSummary, metric: string, t: ParsedThreshold, run?: SloWindows): Fraction | null {
  const lat = LATENCY[metric];
  if (lat) {
    const v = latencyValue(summary, lat, t);
    return v === null ? null : shown(v);
  }
  const r = summary.requests;
  switch (metric) {
    case 'error_ratio': {
      const ended = r.completed + r.failed;
      return ended === 0 ? null : ratio(r.failed, ended);
    }
    case 'goodput_ratio':
      return r.completed === 0 ? null : ratio(r.good, r.completed);
    case 'request_throughput':
    case 'output_token_throughput': {
      const requests = metric === 'request_throughput';
      // avg and rate: the whole run, from its counts (the summary's throughputs are rounded)
      if (t.aggregation.kind === 'avg' || t.aggregation.kind === 'rate')
        return perSecond(requests ? r.completed : summary.tokens.output, summary.duration_s);
      if (!run) return null;
      return overWindows(windowSamples(summary, run, requests ? (w) => w.completed : (w) => w.output_tokens), t);
    }
    default:
      return null;
  }
}

/**
 * Every SLO of the scenario judged on the summary (and the windows, for the throughputs' p(N),
 * min, max and med: without `run` those fail with no data). A threshold with no data fails.
 */
export function evaluateSlos(slo: ScenarioSpec['slo'], summary: RunSummary, run?: SloWindows): SloVerdict[] {
  const out: SloVerdict[] = [];
  for (const [metric, thresholds] of Object.entries(slo)) {
    for (const t of thresholds) {
      const parsed = parseThreshold(t.threshold);
      const observed = parsed ? observe(summary, metric, parsed, run) : null;
      const passed = parsed !== null && observed !== null && compareExact(observed, parsed.op, parsed.exact);
      out.push({
        name: `${metric}: ${t.threshold}`,
        metric,
        threshold: t.threshold,
        observed: observed === null ? null : Math.round((Number(observed.num) / Number(observed.den)) * 1e6) / 1e6,
        passed,
        abort_on_fail: t.abortOnFail,
      });
    }
  }
  return out;
}
