// HDR histograms as inferload uses them: integer microseconds, 1 µs to 1 h, 3 significant
// digits, 32-bit counts; encoded in the standard compressed base64 form so that results
// from any process or machine merge exactly by adding histograms.
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export const HDR_LOWEST_US = 1;
export const HDR_HIGHEST_US = 3_600_000_000;
export const HDR_DIGITS = 3;

/** A new empty latency histogram (integer µs). */
export function newHistogram(): Histogram {
  const h = hdr.build({
    lowestDiscernibleValue: HDR_LOWEST_US,
    highestTrackableValue: HDR_HIGHEST_US,
    numberOfSignificantValueDigits: HDR_DIGITS,
    bitBucketSize: 32,
    autoResize: false,
    useWebAssembly: false,
  });
  useIntegerIndex(h);
  return h;
}

interface IndexInternals {
  countsArrayIndex(value: number): number;
  subBucketHalfCountMagnitude: number;
  subBucketHalfCount: number;
  unitMagnitude: number;
}

/**
 * hdr-histogram-js finds a value's slot with floating-point log2 and pow, which is most of its
 * cost per recorded value (the client records one value per chunk). For values below 2^32 (ours:
 * at most 3.6e9 µs) the same slot comes from integer arithmetic: the bucket is the position of
 * the highest set bit, exactly as the Java original's numberOfLeadingZeros. Same index for every
 * value (a test checks it against the library's own), about 3x cheaper.
 */
export function useIntegerIndex(h: Histogram): void {
  const internals = h as unknown as IndexInternals;
  const halfMag = internals.subBucketHalfCountMagnitude;
  const halfCount = internals.subBucketHalfCount;
  const unitMag = internals.unitMagnitude;
  if (typeof halfMag !== 'number' || typeof halfCount !== 'number' || typeof unitMag !== 'number') return;
  const original = internals.countsArrayIndex.bind(h);
  internals.countsArrayIndex = (value: number): number => {
    if (value < 0 || value >= 4294967296) return original(value);
    const bucket = Math.max(0, 31 - Math.clz32(value) - halfMag - unitMag);
    const sub = Math.floor(value / 2 ** (bucket + unitMag));
    return ((bucket + 1) << halfMag) + sub - halfCount;
  };
}

/** Records a µs value, rounded to an integer and clamped into the trackable range. */
export function recordUs(h: Histogram, us: number, count = 1): void {
  let v = Math.round(us);
  if (v < HDR_LOWEST_US) v = HDR_LOWEST_US;
  else if (v > HDR_HIGHEST_US) v = HDR_HIGHEST_US;
  if (count === 1) h.recordValue(v);
  else h.recordValueWithCount(v, count);
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Decodes an encoded histogram into a fresh 32-bit histogram of inferload's shape. */
export function decodeHistogram(encoded: string): Histogram {
  const decoded = hdr.decodeFromCompressedBase64(encoded, 32, false);
  const h = newHistogram();
  h.add(decoded);
  if (typeof decoded.destroy === 'function') decoded.destroy();
  return h;
}

/** The percentile summary of a histogram, in milliseconds, as results.json carries it. */
export interface LatencySummaryMs {
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  mean: number | null;
  stddev: number | null;
  count: number;
  /** the histogram, encoded (compressed base64, integer µs) */
  hdr: string;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** µs histogram → millisecond summary (µs resolution kept as three decimals). */
export function summarizeMs(h: Histogram): LatencySummaryMs {
  const count = h.totalCount;
  // a percentile is the top of its HDR bucket; never report one above the exact maximum
  const at = (p: number): number | null => (count === 0 ? null : round3(Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000));
  return {
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    max: count === 0 ? null : round3(h.maxValue / 1000),
    mean: count === 0 ? null : round3(h.mean / 1000),
    stddev: count === 0 ? null : round3(h.stdDeviation / 1000),
    count,
    hdr: encodeHistogram(h),
  };
}

/** A percentile in ms, or null when the histogram is empty. */
export function percentileMs(h: Histogram, p: number): number | null {
  return h.totalCount === 0 ? null : round3(Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000);
}
