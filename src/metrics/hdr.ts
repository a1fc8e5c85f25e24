// HDR histograms as inferload uses them: integer microseconds, 1 µs to 1 h, 3 significant
// digits, 32-bit counts; encoded in the standard compressed base64 form so that results
// from any process or machine merge exactly by adding histograms.
import { deflateSync, inflateSync, type ZlibOptions } from 'node:zlib';
import { createRequire } from 'node:module';
import type * as hdr from 'hdr-histogram-js';
// the 32-bit histogram class alone: the package's index also loads its WebAssembly build, a
// third of the CLI's start-up cost (150 ms of CPU), for nothing inferload uses
import Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';

const Int32Histogram = (Int32HistogramModule as unknown as { default: new (lowest: number, highest: number, digits: number) => hdr.Histogram }).default ??
  (Int32HistogramModule as unknown as new (lowest: number, highest: number, digits: number) => hdr.Histogram);
/** the whole library, loaded only for a histogram of another shape than ours (a foreign file) */
const library = (): typeof hdr => createRequire(import.meta.url)('hdr-histogram-js') as typeof hdr;

export type Histogram = hdr.Histogram;

export const HDR_LOWEST_US = 1;
export const HDR_HIGHEST_US = 3_600_000_000;
export const HDR_DIGITS = 3;

/** A new empty latency histogram (integer µs). */
export function newHistogram(): Histogram {
  // what hdr.build({bitBucketSize: 32, autoResize: false, useWebAssembly: false}) makes
  const h = new Int32Histogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_DIGITS);
  useIntegerIndex(h);
  useDirectRecord(h);
  return h;
}

interface RecordInternals {
  _counts: unknown;
  _totalCount: number;
  maxValue: number;
  minNonZeroValue: number;
  countsArrayLength: number;
  subBucketHalfCountMagnitude: number;
  subBucketHalfCount: number;
  unitMagnitude: number;
  unitMagnitudeMask: number;
  lowestDiscernibleValueRounded: number;
  recordValue(value: number): void;
}

/**
 * recordValue through the library is a chain of five method calls (index, bounds, increment,
 * min/max, total) at about 60 ns, and the client records up to three values per chunk. For
 * our shape (1 µs unit, 32-bit counts, no resizing) the same effects take one function: the
 * slot from the integer index below, then the count, the total, the max and the min non-zero
 * value updated exactly as the library does (a test compares every field after random values).
 * Anything outside that shape (a fractional or out-of-range value) goes to the library's own.
 */
function useDirectRecord(h: Histogram): void {
  const x = h as unknown as RecordInternals;
  if (!(x._counts instanceof Uint32Array) || x.unitMagnitude !== 0 || x.unitMagnitudeMask !== 0 || x.lowestDiscernibleValueRounded !== 1) return;
  const halfMag = x.subBucketHalfCountMagnitude;
  const halfCount = x.subBucketHalfCount;
  const length = x.countsArrayLength;
  const original = x.recordValue.bind(h);
  x.recordValue = (value: number): void => {
    if (!(value >= 0 && value < 4294967296) || value !== Math.floor(value)) {
      original(value);
      return;
    }
    const bucket = Math.max(0, 31 - Math.clz32(value) - halfMag);
    const index = ((bucket + 1) << halfMag) + (value >>> bucket) - halfCount;
    if (index >= length) {
      original(value); // the library's own error for an untrackable value
      return;
    }
    const counts = x._counts as Uint32Array;
    counts[index] = counts[index]! + 1;
    if (value > x.maxValue) x.maxValue = value;
    if (value !== 0 && value < x.minNonZeroValue) x.minNonZeroValue = value;
    x._totalCount++;
  };
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

interface CopyInternals {
  _counts: unknown;
  _totalCount: number;
  maxValue: number;
  minNonZeroValue: number;
  countsArrayLength: number;
}

/**
 * Makes `dst` (a histogram of inferload's shape) an exact copy of `src`: one typed-array copy
 * (~94 KB, tens of µs) instead of the library's add, which calls a method per slot. A live
 * histogram can then be summarised and encoded over several turns of the event loop from a
 * copy that no new value changes in between.
 */
export function copyHistogramInto(dst: Histogram, src: Histogram): void {
  const d = dst as unknown as CopyInternals;
  const s = src as unknown as CopyInternals;
  if (d._counts instanceof Uint32Array && s._counts instanceof Uint32Array && d._counts.length === s._counts.length && d.countsArrayLength === s.countsArrayLength) {
    d._counts.set(s._counts);
    d._totalCount = s._totalCount;
    d.maxValue = s.maxValue;
    d.minNonZeroValue = s.minNonZeroValue;
    return;
  }
  dst.reset();
  dst.add(src);
}

interface EncodeInternals {
  _counts: unknown;
  maxValue: number;
  countsArrayLength: number;
  numberOfSignificantValueDigits: number;
  lowestDiscernibleValue: number;
  highestTrackableValue: number;
  countsArrayIndex(v: number): number;
}

// The V2 encoding of HdrHistogram (the same bytes as hdr-histogram-js's encodeIntoByteBuffer:
// ZigZag LEB128 counts, runs of zeros as negative counts), deflated and base64'd.
const V2_COOKIE = 0x1c849303 | 0x10;
const V2_COMPRESSED_COOKIE = 0x1c849304 | 0x10;
const HEADER_BYTES = 40;
/** reused by every encoding: header + at most 5 bytes per slot (a 32-bit count, ZigZag'd) */
let scratch = new Uint8Array(0);
/**
 * zlib's default deflate state (a 32 KiB window, memLevel 8) costs ~1 ms per call to set up on
 * this kind of machine, far more than compressing the few hundred bytes of a histogram; a 2 KiB
 * window costs ~0.03 ms and compresses these payloads as well. Any zlib inflater reads it (the
 * window size is in the stream's header).
 */
const DEFLATE_OPTIONS: ZlibOptions = { windowBits: 11, memLevel: 3 };

/**
 * A histogram in the standard compressed base64 form (readable by every HdrHistogram library).
 * Written here rather than through hdr-histogram-js's encoder for its cost: that one calls a
 * method per slot and deflates with zlib's default state, together 0.3-1.5 ms per histogram, and
 * a run encodes four histograms per window on the event loop that stamps the chunks. A test
 * checks that the library decodes these to the same histogram and that the uncompressed bytes
 * are the library's own.
 */
export function encodeHistogram(h: Histogram): string {
  const x = h as unknown as EncodeInternals;
  const counts = x._counts;
  if (!(counts instanceof Uint32Array) || counts.length !== x.countsArrayLength) return library().encodeIntoCompressedBase64(h);
  const limit = Math.min(x.countsArrayLength, x.countsArrayIndex(x.maxValue) + 1);
  const need = HEADER_BYTES + 5 * limit + 8;
  if (scratch.length < need) scratch = new Uint8Array(Math.max(need, 1024));
  const buf = scratch;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setInt32(0, V2_COOKIE);
  view.setInt32(8, 1); // normalizingIndexOffset, as the library writes it
  view.setInt32(12, x.numberOfSignificantValueDigits);
  putInt64(view, 16, x.lowestDiscernibleValue);
  putInt64(view, 24, x.highestTrackableValue);
  putInt64(view, 32, 1); // integer-to-double conversion ratio
  let at = HEADER_BYTES;
  let i = 0;
  while (i < limit) {
    const c = counts[i++]!;
    let v: number;
    if (c === 0) {
      let zeros = 1;
      while (i < limit && counts[i] === 0) {
        zeros++;
        i++;
      }
      // a single zero is written as a count of 0, a run as its negated length (ZigZag: 2n-1)
      v = zeros > 1 ? 2 * zeros - 1 : 0;
    } else v = 2 * c;
    // LEB128 of v (< 2^34 here): seven bits a byte, high bit set while more follow
    while (v >= 0x80) {
      buf[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[at++] = v;
  }
  view.setInt32(4, at - HEADER_BYTES);
  const compressed = deflateSync(buf.subarray(0, at), DEFLATE_OPTIONS);
  const out = Buffer.allocUnsafe(8 + compressed.length);
  out.writeInt32BE(V2_COMPRESSED_COOKIE, 0);
  out.writeInt32BE(compressed.length, 4);
  compressed.copy(out, 8);
  return out.toString('base64');
}

function putInt64(view: DataView, at: number, value: number): void {
  view.setInt32(at, Math.floor(value / 4294967296));
  view.setInt32(at + 4, value | 0);
}

interface DecodeInternals {
  _counts: Uint32Array;
  _totalCount: number;
  maxValue: number;
  minNonZeroValue: number;
  countsArrayLength: number;
  valueFromIndex(i: number): number;
  highestEquivalentValue(v: number): number;
}

/**
 * Decodes an encoded histogram into a fresh 32-bit histogram of inferload's shape. Ours (1 µs to
 * 1 h, 3 digits) are read here, straight into the counts array, with the tracking values set as
 * the library's decoder sets them (a test compares every field); any other shape goes through
 * the library.
 */
export function decodeHistogram(encoded: string): Histogram {
  const h = newHistogram();
  if (decodeOurs(encoded, h as unknown as DecodeInternals)) return h;
  h.reset();
  const decoded = library().decodeFromCompressedBase64(encoded, 32, false);
  h.add(decoded);
  if (typeof decoded.destroy === 'function') decoded.destroy();
  return h;
}

/**
 * The inflated V2 payload of a compressed frame (`raw`, base64-decoded) when it is a histogram
 * of our shape (1 µs to 1 h, 3 digits) with its counts within the buffer; `bomb` when it
 * inflates past `maxOutputLength`; null for anything else.
 */
function oursPayload(raw: Buffer, maxOutputLength?: number): { buf: Buffer; end: number } | 'bomb' | null {
  if (raw.length < 8 || raw.readInt32BE(0) !== V2_COMPRESSED_COOKIE) return null;
  const length = raw.readInt32BE(4);
  if (length < 0 || 8 + length > raw.length) return null;
  let buf: Buffer;
  try {
    buf = inflateSync(raw.subarray(8, 8 + length), maxOutputLength === undefined ? undefined : { maxOutputLength });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'bomb' : null;
  }
  if (buf.length < HEADER_BYTES || buf.readInt32BE(0) !== V2_COOKIE) return null;
  const payload = buf.readInt32BE(4);
  const digits = buf.readInt32BE(12);
  const lowest = buf.readInt32BE(16) * 4294967296 + buf.readUInt32BE(20);
  const highest = buf.readInt32BE(24) * 4294967296 + buf.readUInt32BE(28);
  if (digits !== HDR_DIGITS || lowest !== HDR_LOWEST_US || highest !== HDR_HIGHEST_US || payload < 0 || HEADER_BYTES + payload > buf.length) return null;
  return { buf, end: HEADER_BYTES + payload };
}

/**
 * Walks the ZigZag LEB128 counts of a payload (LEB128 of at most 9 bytes in this variant; ours
 * never need more than 5): `put(index, count)` for each slot's count, runs of zeros skipped.
 * False when the payload is malformed or runs past `slots`.
 */
function walkCounts(buf: Buffer, end: number, slots: number, put: ((index: number, n: number) => void) | null): boolean {
  let at = HEADER_BYTES;
  let index = 0;
  while (at < end) {
    let v = 0;
    let scale = 1;
    for (let k = 0; ; k++) {
      if (at >= end) return false;
      const b = buf[at++]!;
      if (k === 8) {
        v += b * scale;
        break;
      }
      v += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    const n = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    if (n < 0) {
      index -= n;
      continue;
    }
    if (index >= slots || n > 0xffffffff) return false;
    if (put !== null && n > 0) put(index, n);
    index++;
  }
  return true;
}

/** slots of a histogram of our shape, read off one made once */
let oursSlots = 0;

/**
 * What a compressed frame (`raw`, base64-decoded) is, without allocating the 94 kB histogram a
 * decode fills (most of a decode's cost): `ours` when decodeHistogram reads it on its own fast
 * path, `bomb` when it inflates past `maxOutputLength` (never to be decoded), `other` when only
 * decoding can tell (another shape, or damage). For the readers of saved files.
 */
export function frameKind(raw: Buffer, maxOutputLength: number): 'ours' | 'bomb' | 'other' {
  const payload = oursPayload(raw, maxOutputLength);
  if (payload === 'bomb') return 'bomb';
  if (payload === null) return 'other';
  oursSlots ||= (newHistogram() as unknown as DecodeInternals).countsArrayLength;
  return walkCounts(payload.buf, payload.end, oursSlots, null) ? 'ours' : 'other';
}

/** false when the encoding is not a V2 histogram of our shape (nothing decoded then) */
function decodeOurs(encoded: string, x: DecodeInternals): boolean {
  const payload = oursPayload(Buffer.from(encoded.trim(), 'base64'));
  if (payload === null || payload === 'bomb') return false;
  const counts = x._counts;
  let total = 0;
  let maxIndex = -1;
  let minNonZeroIndex = -1;
  const ok = walkCounts(payload.buf, payload.end, x.countsArrayLength, (index, n) => {
    counts[index] = n;
    total += n;
    maxIndex = index;
    if (minNonZeroIndex === -1 && index !== 0) minNonZeroIndex = index;
  });
  // a malformed payload may have filled some slots: decodeHistogram resets before the library
  if (!ok) return false;
  x._totalCount = total;
  // as the library's decode followed by add() into a fresh histogram leaves them
  x.maxValue = maxIndex >= 0 ? x.highestEquivalentValue(x.valueFromIndex(maxIndex)) : 0;
  x.minNonZeroValue = minNonZeroIndex >= 0 ? x.valueFromIndex(minNonZeroIndex) : Number.MAX_SAFE_INTEGER;
  return true;
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

interface ScanInternals {
  countsArrayLength: number;
  _counts: ArrayLike<number>;
  maxValue: number;
  minNonZeroValue: number;
  countsArrayIndex(v: number): number;
  getCountAtIndex(i: number): number;
  valueFromIndex(i: number): number;
  highestEquivalentValue(v: number): number;
  medianEquivalentValue(v: number): number;
}

/** Percentiles (µs, each the top of its bucket like the library's), mean and stddev of a histogram. */
export interface Scan {
  percentiles: number[];
  mean: number;
  stddev: number;
}

/**
 * All the percentiles of a summary, the mean and the stddev in one pass over the counts.
 * hdr-histogram-js walks the whole counts array once per percentile and iterates objects for
 * the mean and stddev: ~25 ms for the nine histograms of a checkpoint, a visible stall on the
 * event loop that sends requests. This gives the library's exact values (a test compares them)
 * in well under a millisecond per histogram.
 */
export function scanHistogram(h: Histogram, percentiles: readonly number[]): Scan {
  const total = h.totalCount;
  if (total === 0) return { percentiles: new Array<number>(percentiles.length).fill(0), mean: 0, stddev: 0 };
  const x = h as unknown as ScanInternals;
  // the count each percentile needs, as getValueAtPercentile computes it (ulp-corrected ceil)
  const { need, order } = needsOf(percentiles, total);
  // Only the slots between the smallest and the largest value recorded can hold counts, read
  // straight from the counts array: a window's latencies span a few hundred of the ~23 500 slots,
  // and a checkpoint or a window close runs rarely enough to stay cold in the JIT, where a call
  // per slot over the whole array cost 0.5-1 ms per histogram (a stall the stamps pay for).
  const len = x.countsArrayLength;
  const counts = x._counts;
  const direct = counts instanceof Uint32Array && counts.length === len;
  if (direct) {
    const lo = counts[0] === 0 && x.minNonZeroValue > 0 && x.minNonZeroValue <= x.maxValue ? Math.max(0, x.countsArrayIndex(x.minNonZeroValue)) : 0;
    const hi = Math.min(len - 1, x.countsArrayIndex(x.maxValue));
    const scan = scanRange(x, counts, lo, hi, total, need, order, percentiles.length);
    // a histogram whose min/max did not follow its counts (no path here leaves one so) is read whole
    if (scan) return scan;
  }
  // a 32-bit slot can wrap when histograms are added (4.3e9 values in one slot) while the total
  // does not: then the counts, not the total, are what there is to read
  let actual = 0;
  for (let i = 0; i < len; i++) actual += x.getCountAtIndex(i);
  const counted = needsOf(percentiles, actual);
  return scanRange(x, null, 0, len - 1, actual, counted.need, counted.order, percentiles.length, false)!;
}

/** The count each percentile needs, as getValueAtPercentile computes it (ulp-corrected ceil), and the percentiles in order of it. */
function needsOf(percentiles: readonly number[], total: number): { need: number[]; order: number[] } {
  const need = percentiles.map((p) => {
    const fp = (Math.min(p, 100) / 100) * total;
    return Math.max(fp === 0 ? 0 : Math.ceil(fp - 2 ** (Math.floor(Math.log2(fp)) - 52)), 1);
  });
  return { need, order: percentiles.map((_, i) => i).sort((a, b) => need[a]! - need[b]!) };
}

/** One pass over slots lo..hi; null when they do not hold the whole total count. */
function scanRange(
  x: ScanInternals,
  counts: Uint32Array | null,
  lo: number,
  hi: number,
  total: number,
  need: readonly number[],
  order: readonly number[],
  nPercentiles: number,
  /** null when slots lo..hi do not hold the whole total; false: the whole array, whatever it holds */
  strict = true,
): Scan | null {
  const out: number[] = new Array<number>(nPercentiles).fill(0);
  let next = 0;
  let cumulative = 0;
  let sum = 0;
  const idx: number[] = [];
  const cnt: number[] = [];
  for (let i = lo; i <= hi; i++) {
    const c = counts ? counts[i]! : x.getCountAtIndex(i);
    if (c === 0) continue;
    cumulative += c;
    const v = x.valueFromIndex(i);
    sum += x.medianEquivalentValue(v) * c;
    idx.push(v);
    cnt.push(c);
    while (next < order.length && cumulative >= need[order[next]!]!) {
      out[order[next]!] = x.highestEquivalentValue(v);
      next++;
    }
  }
  if (cumulative !== total && strict) return null;
  const mean = cumulative > 0 ? sum / cumulative : 0;
  let dev = 0;
  for (let k = 0; k < idx.length; k++) {
    const d = x.medianEquivalentValue(idx[k]!) - mean;
    dev += d * d * cnt[k]!;
  }
  return { percentiles: out, mean, stddev: cumulative > 0 ? Math.sqrt(dev / cumulative) : 0 };
}

const SUMMARY_PERCENTILES = [50, 90, 95, 99, 99.9] as const;

/**
 * µs histogram → millisecond summary (µs resolution kept as three decimals). `encode: false`
 * leaves `hdr` empty, for a caller that encodes on a later turn of the event loop.
 */
export function summarizeMs(h: Histogram, encode = true): LatencySummaryMs {
  const count = h.totalCount;
  const max = h.maxValue;
  const scan = scanHistogram(h, SUMMARY_PERCENTILES);
  // a percentile is the top of its HDR bucket; never report one above the exact maximum
  const at = (i: number): number | null => (count === 0 ? null : round3(Math.min(scan.percentiles[i]!, max) / 1000));
  return {
    p50: at(0),
    p90: at(1),
    p95: at(2),
    p99: at(3),
    p999: at(4),
    max: count === 0 ? null : round3(max / 1000),
    mean: count === 0 ? null : round3(scan.mean / 1000),
    stddev: count === 0 ? null : round3(scan.stddev / 1000),
    count,
    hdr: encode ? encodeHistogram(h) : '',
  };
}

/** Percentiles in ms (null when the histogram is empty), in one pass. */
export function percentilesMs(h: Histogram, ps: readonly number[]): (number | null)[] {
  if (h.totalCount === 0) return ps.map(() => null);
  const max = h.maxValue;
  return scanHistogram(h, ps).percentiles.map((v) => round3(Math.min(v, max) / 1000));
}

/** A percentile in ms, or null when the histogram is empty. */
export function percentileMs(h: Histogram, p: number): number | null {
  return percentilesMs(h, [p])[0]!;
}
