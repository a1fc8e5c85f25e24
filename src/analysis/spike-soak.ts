// Spike and soak analysis (metrics.md "Spike and soak"), pure functions of a RunResult:
// time to recover from a spike, peak queue depth, what failed or was dropped during it; and for
// long runs the drift (slope per hour) of p95 TTFT/ITL, of server signals and of the
// generator's own memory, with a verdict.
import { decodeHistogram, newHistogram, percentileMs, type Histogram } from '../metrics/hdr.js';
import type { WindowResult } from '../metrics/recorder.js';
import type { RunResult } from '../results/types.js';

/** Recovery is judged on p95 TTFT of the requests that arrived in buckets of windows this long. */
export const RECOVERY_BUCKET_S = 5;
/** Recovered when p95 TTFT is back within this fraction of the pre-spike level. */
export const RECOVERY_TOLERANCE = 0.1;
/**
 * A bucket the end of the load cuts short is judged only with at least this many TTFTs: then its
 * p95 is not simply its largest value, and a handful of late requests cannot call a recovery.
 */
export const RECOVERY_PARTIAL_MIN_TTFTS = 20;

export interface SpikeAnalysis {
  /** the load level before the spike and at its peak (arrivals/s or VUs) */
  base_level: number;
  peak_level: number;
  unit: 'req/s' | 'vus';
  spike_start_s: number;
  spike_end_s: number;
  pre_spike_ttft_p95_ms: number | null;
  peak_ttft_p95_ms: number | null;
  /**
   * from the end of the spike to the start of the first window from which the requests that
   * arrived over 5 s had p95 TTFT within 10 % of the pre-spike level (metrics.md "Spike")
   */
  time_to_recover_s: number | null;
  recovered: boolean;
  peak_queue_depth: number | null;
  failed_during_spike: number;
  dropped_during_spike: number;
  finding: string;
}

interface Level {
  tS: number;
  level: number;
}

/** The load's level over time (the stage end points), or null for non-ramping executors. */
function levels(result: RunResult): { points: Level[]; unit: 'req/s' | 'vus' } | null {
  const load = result.run.load as { executor?: string; stages?: { durationS: number; target: number }[]; startRate?: number; startVUs?: number; timeUnitS?: number };
  if (!load.stages || load.stages.length === 0) return null;
  const perS = load.executor === 'ramping-arrival-rate' ? 1 / (load.timeUnitS ?? 1) : 1;
  const unit = load.executor === 'ramping-arrival-rate' ? 'req/s' : 'vus';
  const points: Level[] = [{ tS: 0, level: (load.startRate ?? load.startVUs ?? 0) * perS }];
  let t = 0;
  for (const st of load.stages) {
    t += st.durationS;
    points.push({ tS: t, level: st.target * perS });
  }
  return { points, unit };
}

function levelAt(points: Level[], tS: number): number {
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    if (tS <= b.tS) return b.tS === a.tS ? b.level : a.level + ((b.level - a.level) * (tS - a.tS)) / (b.tS - a.tS);
  }
  return points[points.length - 1]!.level;
}

/** window bounds closer than this (s) are equal: they come from µs integers */
const EDGE_TOLERANCE_S = 1e-6;

/** The spike's start and end are sampled on this grid (s) from the end of the warm-up. */
const SPIKE_SAMPLE_S = 0.1;

/**
 * The i-th sample of the spike's grid, to the µs, computed afresh for each i: a running sum of
 * 0.1s drifts (250 of them add up to 25.000000000000085), and a sample meant for 25 s then read the
 * level after a stage that ends there, moving the spike's end 0.1 s early and its recovery late.
 */
function sampleAt(fromS: number, i: number): number {
  return Math.round((fromS + i * SPIKE_SAMPLE_S) * 1e6) / 1e6;
}

/**
 * Whether the level is above `mid` at `tS`. At a stage of no duration (a jump) both levels hold
 * at its instant: a jump up at 20 s starts the spike at 20 s, a jump down at 25 s ends it at 25 s.
 */
function aboveAt(points: Level[], tS: number, mid: number): boolean {
  if (levelAt(points, tS) > mid) return true;
  return points.some((p) => Math.abs(p.tS - tS) <= EDGE_TOLERANCE_S && p.level > mid);
}

/**
 * Each window's TTFT histogram (encoded) of the requests that arrived in it (`by_arrival`): what
 * the load of that moment met, however late it ended. Results written before windows carried
 * `by_arrival` only have the requests that ended in each window. Null when the window has none.
 */
function ttftOfWindows(windows: readonly WindowResult[]): (w: WindowResult) => string | null {
  if (windows.some((w) => w.by_arrival !== undefined)) return (w) => (w.by_arrival && w.by_arrival.completed > 0 ? w.by_arrival.hdr.ttft : null);
  return (w) => (w.completed > 0 ? w.hdr.ttft : null);
}

/** p95 TTFT of `windows` merged exactly, in ms; null when they hold none. */
function ttftP95(windows: readonly WindowResult[], ttftOf: (w: WindowResult) => string | null): number | null {
  const merged = newHistogram();
  for (const w of windows) {
    const encoded = ttftOf(w);
    if (encoded) merged.add(decodeHistogram(encoded));
  }
  return percentileMs(merged, 95);
}

/**
 * The start of the first window, at or after the spike's end `stopS`, from which the requests that
 * arrived over RECOVERY_BUCKET_S had p95 TTFT within RECOVERY_TOLERANCE of `pre`; null when none
 * did. A bucket is the windows whose start lies within RECOVERY_BUCKET_S of its first window's; one
 * the end of the load (`loadEndS`) cuts short counts when it holds RECOVERY_PARTIAL_MIN_TTFTS.
 */
function recoveredAt(
  ordered: readonly WindowResult[],
  ttftOf: (w: WindowResult) => string | null,
  stopS: number,
  loadEndS: number,
  pre: number,
): number | null {
  const after = ordered.filter((w) => w.t_s >= stopS - EDGE_TOLERANCE_S);
  // one histogram slides over the windows: each is decoded once, added when the bucket reaches
  // it and subtracted when the bucket leaves it (half the cost of merging each bucket afresh)
  const held: (Histogram | null)[] = [];
  const bucket = newHistogram();
  let next = 0;
  for (let k = 0; k < after.length; k++) {
    if (k > 0 && held[k - 1]) {
      bucket.subtract(held[k - 1]!);
      held[k - 1] = null;
    }
    const fromS = after[k]!.t_s;
    for (; next < after.length && after[next]!.t_s < fromS + RECOVERY_BUCKET_S - EDGE_TOLERANCE_S; next++) {
      const encoded = ttftOf(after[next]!);
      held[next] = encoded ? decodeHistogram(encoded) : null;
      if (held[next]) bucket.add(held[next]!);
    }
    const cutShort = fromS + RECOVERY_BUCKET_S > loadEndS + EDGE_TOLERANCE_S;
    // later buckets are cut shorter still and hold fewer TTFTs
    if (cutShort && bucket.totalCount < RECOVERY_PARTIAL_MIN_TTFTS) return null;
    const p95 = percentileMs(bucket, 95);
    if (p95 !== null && p95 <= pre * (1 + RECOVERY_TOLERANCE)) return fromS;
  }
  return null;
}

/**
 * The largest of a series, in a loop: `Math.max(...xs)` passes one argument per value, and a
 * merged file's series (one value per window or stage) can outgrow the stack.
 */
function largest(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

/** The spike of a ramping run: where the load rose to its peak and came back. Null when there is none. */
export function analyzeSpike(result: RunResult): SpikeAnalysis | null {
  const lv = levels(result);
  if (!lv) return null;
  const measuredFrom = result.run.warmup_s;
  const base = levelAt(lv.points, measuredFrom);
  const peak = largest(lv.points.map((p) => p.level));
  if (!(peak > base * 1.2) || peak <= 0) return null;
  const mid = base + (peak - base) / 2;
  // a spike comes back down; a ramp that ends at its peak is not one
  if (levelAt(lv.points, lv.points[lv.points.length - 1]!.tS) > mid) return null;
  // the spike: from the first moment the level passes halfway to the peak, to the last
  const end = lv.points[lv.points.length - 1]!.tS;
  let start: number | null = null;
  let stop: number | null = null;
  for (let i = 0; ; i++) {
    const t = sampleAt(measuredFrom, i);
    if (t > end + EDGE_TOLERANCE_S) break;
    if (aboveAt(lv.points, t, mid)) {
      start ??= t;
      stop = t;
    }
  }
  if (start === null || stop === null) return null;
  const windows = [...result.windows].sort((a, b) => a.t_s - b.t_s);
  const ttftOf = ttftOfWindows(windows);
  const endOf = (w: WindowResult): number => w.t_s + w.window_s;
  // a window that holds the spike's start is the spike's: its arrivals met it
  const inOrAfterSpike = (w: WindowResult): boolean => endOf(w) > start + EDGE_TOLERANCE_S;
  const pre = ttftP95(
    windows.filter((w) => w.t_s >= measuredFrom - EDGE_TOLERANCE_S && !inOrAfterSpike(w)),
    ttftOf,
  );
  const during = ttftP95(
    windows.filter((w) => inOrAfterSpike(w) && w.t_s < stop + RECOVERY_BUCKET_S - EDGE_TOLERANCE_S),
    ttftOf,
  );
  const loadEnd = windows.length > 0 ? Math.min(end, endOf(windows[windows.length - 1]!)) : end;
  const recoveredAtS = pre === null ? null : recoveredAt(windows, ttftOf, stop, loadEnd, pre);
  const recoverS = recoveredAtS === null ? null : recoveredAtS - stop;
  const queue = windows.filter((w) => inOrAfterSpike(w) && typeof w.server.queue_depth === 'number').map((w) => w.server.queue_depth!);
  const untilS = (recoveredAtS ?? stop) + RECOVERY_BUCKET_S - EDGE_TOLERANCE_S;
  const inSpike = windows.filter((w) => inOrAfterSpike(w) && w.t_s < untilS);
  const failed = inSpike.reduce((a, w) => a + w.failed, 0);
  const dropped = inSpike.reduce((a, w) => a + w.dropped, 0);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  const unit = lv.unit;
  const parts = [`A spike from ${r(base)} to ${r(peak)} ${unit} between ${r(start)} s and ${r(stop)} s`];
  if (pre !== null && during !== null) parts.push(`took p95 TTFT from ${pre.toFixed(0)} ms to ${during.toFixed(0)} ms`);
  parts.push(recoverS !== null ? `and it recovered ${r(recoverS)} s after the spike` : 'and it had not recovered when the run ended');
  const peakQueue = queue.length > 0 ? largest(queue) : null;
  if (peakQueue !== null) parts.push(`(peak queue ${peakQueue.toFixed(0)})`);
  if (failed + dropped > 0) parts.push(`; ${failed} failed and ${dropped} dropped during it`);
  return {
    base_level: r(base),
    peak_level: r(peak),
    unit,
    spike_start_s: r(start),
    spike_end_s: r(stop),
    pre_spike_ttft_p95_ms: pre,
    peak_ttft_p95_ms: during,
    time_to_recover_s: recoverS === null ? null : r(recoverS),
    recovered: recoverS !== null,
    peak_queue_depth: peakQueue,
    failed_during_spike: failed,
    dropped_during_spike: dropped,
    finding: parts.join(' ') + '.',
  };
}

export interface DriftLine {
  /** change per hour, in the series' own unit */
  slope_per_hour: number;
  mean: number;
  /** slope × run length / mean: how much the series moved over the run */
  relative_change: number;
  r2: number;
  drifting: boolean;
}

export interface SoakAnalysis {
  duration_h: number;
  series: Record<string, DriftLine>;
  /** the generator's own memory growth after its first minute (must stay flat) */
  generator_rss_growth_ratio: number | null;
  verdict: 'stable' | 'drifting' | 'too short';
  finding: string;
}

/** A series drifts when it moved by more than this fraction of its mean over the run, with r² ≥ 0.3. */
export const DRIFT_THRESHOLD = 0.1;
/** Drift is judged only on runs at least this long. */
export const SOAK_MIN_S = 600;

/** Least-squares line through (x, y). */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const r2 = sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
  return { slope, intercept: my - slope * mx, r2 };
}

/** Drift of latency, server signals and generator memory over a long run. */
export function analyzeSoak(result: RunResult, rssSamples: readonly [number, number][] = []): SoakAnalysis {
  const measured = result.windows.filter((w) => w.t_s >= result.run.warmup_s);
  const durationS = measured.length > 0 ? measured[measured.length - 1]!.t_s + measured[measured.length - 1]!.window_s - measured[0]!.t_s : 0;
  const durationH = durationS / 3600;
  const series: Record<string, DriftLine> = {};
  const pick: [string, (w: WindowResult) => number | null | undefined][] = [
    ['ttft_p95_ms', (w) => w.ttft_p95_ms],
    ['itl_p95_ms', (w) => w.itl_p95_ms],
    ['queue_depth', (w) => w.server.queue_depth],
    ['kv_cache_usage_ratio', (w) => w.server.kv_cache_usage_ratio],
    ['gpu_memory_used_bytes', (w) => w.server.gpu_memory_used_bytes],
  ];
  for (const [name, get] of pick) {
    const xs: number[] = [];
    const ys: number[] = [];
    for (const w of measured) {
      const v = get(w);
      if (typeof v === 'number' && Number.isFinite(v)) {
        xs.push((w.t_s + w.window_s / 2) / 3600);
        ys.push(v);
      }
    }
    if (xs.length < 10) continue;
    const fit = linearFit(xs, ys);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const rel = mean !== 0 ? (fit.slope * durationH) / Math.abs(mean) : 0;
    series[name] = {
      slope_per_hour: round6(fit.slope),
      mean: round6(mean),
      relative_change: round6(rel),
      r2: round6(fit.r2),
      drifting: durationS >= SOAK_MIN_S && Math.abs(rel) > DRIFT_THRESHOLD && fit.r2 >= 0.3,
    };
  }
  let rssGrowth: number | null = null;
  const after = rssSamples.filter(([t]) => t >= 60);
  if (after.length >= 2) rssGrowth = round6((after[after.length - 1]![1] - after[0]![1]) / after[0]![1]);
  const drifting = Object.entries(series).filter(([, d]) => d.drifting);
  const verdict: SoakAnalysis['verdict'] = durationS < SOAK_MIN_S ? 'too short' : drifting.length > 0 ? 'drifting' : 'stable';
  const finding =
    verdict === 'too short'
      ? `Drift is judged on runs of ${SOAK_MIN_S / 60} minutes or more; this one measured ${(durationS / 60).toFixed(1)}.`
      : verdict === 'stable'
        ? `No drift over ${durationH.toFixed(2)} h: every series stayed within ${DRIFT_THRESHOLD * 100} % of its mean.`
        : `Drifting over ${durationH.toFixed(2)} h: ` +
          drifting.map(([k, d]) => `${k} ${d.relative_change > 0 ? '+' : ''}${(d.relative_change * 100).toFixed(0)} % (${d.slope_per_hour.toPrecision(3)}/h)`).join(', ') +
          '.';
  return { duration_h: round6(durationH), series, generator_rss_growth_ratio: rssGrowth, verdict, finding };
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
