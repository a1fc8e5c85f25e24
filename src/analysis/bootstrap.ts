// The window bootstrap: how much a run's percentiles and rates move by chance, estimated by
// resampling its time windows (in blocks of consecutive windows) with replacement and recomputing
// each statistic from the merged window histograms. Never resamples requests: requests that
// overlap in time share the server's state (batch, queue, KV cache), so they are not independent.
import type { Rng } from '../core/rng.js';
import { decodeHistogram, type Histogram } from '../metrics/hdr.js';
import { BASELINE_WINDOW_HISTOGRAMS, type BaselineWindow, type BaselineWindowHistogram } from './baseline.js';

/** The statistics a window bootstrap can recompute (TPOT and goodput have no per-window data). */
export const BOOTSTRAP_METRICS = [
  'ttft_p50_ms',
  'ttft_p95_ms',
  'ttft_p99_ms',
  'itl_p50_ms',
  'itl_p95_ms',
  'itl_p99_ms',
  'e2e_p50_ms',
  'e2e_p95_ms',
  'e2e_p99_ms',
  'request_per_s',
  'output_tokens_per_s',
  'error_ratio',
] as const;
export type BootstrapMetric = (typeof BOOTSTRAP_METRICS)[number];

const PERCENTILES = [50, 95, 99] as const;

/** A histogram as sorted (bucket value, count) pairs: what percentiles of weighted merges need. */
export interface SparseHistogram {
  /** the top of each non-empty bucket, integer µs, ascending (HDR reports a percentile this way) */
  valuesUs: Float64Array;
  counts: Float64Array;
}

interface HistogramInternals {
  countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  highestEquivalentValue(value: number): number;
}

/** The non-empty buckets of an encoded histogram. */
export function sparseHistogram(encoded: string): SparseHistogram {
  return sparseOf(decodeHistogram(encoded));
}

function sparseOf(h: Histogram): SparseHistogram {
  const internals = h as unknown as HistogramInternals;
  const values: number[] = [];
  const counts: number[] = [];
  if (h.totalCount > 0)
    for (let i = 0; i < internals.countsArrayLength; i++) {
      const c = internals.getCountAtIndex(i);
      if (c > 0) {
        values.push(internals.highestEquivalentValue(internals.valueFromIndex(i)));
        counts.push(c);
      }
    }
  return { valuesUs: Float64Array.from(values), counts: Float64Array.from(counts) };
}

/** One metric's windows over a shared, sorted set of bucket values. */
interface IndexedWindows {
  valuesUs: Float64Array;
  index: Int32Array[];
  counts: Float64Array[];
}

function indexWindows(hists: SparseHistogram[]): IndexedWindows {
  const all = new Set<number>();
  for (const h of hists) for (const v of h.valuesUs) all.add(v);
  const valuesUs = Float64Array.from([...all].sort((a, b) => a - b));
  const pos = new Map<number, number>();
  valuesUs.forEach((v, i) => pos.set(v, i));
  return {
    valuesUs,
    index: hists.map((h) => Int32Array.from(h.valuesUs, (v) => pos.get(v)!)),
    counts: hists.map((h) => h.counts),
  };
}

/** HDR's rank for a percentile: the count that must be reached, at least 1. */
function rankAt(percentile: number, total: number): number {
  const fp = (percentile / 100) * total;
  return Math.max(1, Math.ceil(fp - fp * 1e-12));
}

/** A run's windows prepared for resampling. */
export interface PreparedWindows {
  windows: number;
  /** resampling units: consecutive windows grouped together */
  blocks: number;
  /** mean duration of a block, s */
  block_s: number;
  blockOfWindow: Int32Array;
  windowS: Float64Array;
  completed: Float64Array;
  failed: Float64Array;
  outputTokens: Float64Array;
  hist: Record<BaselineWindowHistogram, IndexedWindows>;
}

/**
 * Groups windows into blocks of about `blockS` seconds (consecutive windows are correlated while
 * requests overlap them, so the block should be at least as long as a typical request) while
 * keeping at least `minBlocks` blocks when there are that many windows.
 */
export function prepareWindows(windows: BaselineWindow[], blockS: number, minBlocks = 8): PreparedWindows {
  const n = windows.length;
  const meanWindowS = n > 0 ? windows.reduce((a, w) => a + w.window_s, 0) / n : 1;
  const wanted = Math.max(1, Math.ceil(blockS / meanWindowS - 1e-9));
  const most = Math.max(1, Math.floor(n / Math.min(minBlocks, Math.max(1, n))));
  const perBlock = Math.min(wanted, most);
  const blockOfWindow = Int32Array.from({ length: n }, (_, i) => Math.floor(i / perBlock));
  const blocks = n === 0 ? 0 : blockOfWindow[n - 1]! + 1;
  const hist = {} as Record<BaselineWindowHistogram, IndexedWindows>;
  for (const m of BASELINE_WINDOW_HISTOGRAMS) hist[m] = indexWindows(windows.map((w) => sparseHistogram(w.hdr[m])));
  return {
    windows: n,
    blocks,
    block_s: blocks > 0 ? (meanWindowS * n) / blocks : 0,
    blockOfWindow,
    windowS: Float64Array.from(windows, (w) => w.window_s),
    completed: Float64Array.from(windows, (w) => w.completed),
    failed: Float64Array.from(windows, (w) => w.failed),
    outputTokens: Float64Array.from(windows, (w) => w.output_tokens),
    hist,
  };
}

/** Every bootstrap statistic of the windows weighted by `weight` (how often each window was drawn). */
export function statisticsOf(p: PreparedWindows, weight: Float64Array): Record<BootstrapMetric, number | null> {
  let seconds = 0;
  let completed = 0;
  let failed = 0;
  let tokens = 0;
  for (let i = 0; i < p.windows; i++) {
    const w = weight[i]!;
    if (w === 0) continue;
    seconds += w * p.windowS[i]!;
    completed += w * p.completed[i]!;
    failed += w * p.failed[i]!;
    tokens += w * p.outputTokens[i]!;
  }
  const out = {
    request_per_s: seconds > 0 ? completed / seconds : null,
    output_tokens_per_s: seconds > 0 ? tokens / seconds : null,
    error_ratio: completed + failed > 0 ? failed / (completed + failed) : null,
  } as Record<BootstrapMetric, number | null>;
  for (const m of BASELINE_WINDOW_HISTOGRAMS) {
    const ix = p.hist[m];
    const acc = new Float64Array(ix.valuesUs.length);
    let total = 0;
    for (let i = 0; i < p.windows; i++) {
      const w = weight[i]!;
      if (w === 0) continue;
      const idx = ix.index[i]!;
      const cnt = ix.counts[i]!;
      for (let j = 0; j < idx.length; j++) {
        const c = w * cnt[j]!;
        acc[idx[j]!]! += c;
        total += c;
      }
    }
    let k = 0;
    let cumulative = 0;
    for (const pct of PERCENTILES) {
      const key = `${m}_p${pct}_ms` as BootstrapMetric;
      if (total === 0) {
        out[key] = null;
        continue;
      }
      const rank = rankAt(pct, total);
      while (k < acc.length && cumulative + acc[k]! < rank) cumulative += acc[k++]!;
      out[key] = k < acc.length ? ix.valuesUs[k]! / 1000 : ix.valuesUs[acc.length - 1]! / 1000;
    }
  }
  return out;
}

/** A run's statistics on all its windows, and on each bootstrap resample. */
export interface WindowBootstrap {
  windows: number;
  blocks: number;
  block_s: number;
  resamples: number;
  /** the statistics of the windows as they are */
  point: Record<BootstrapMetric, number | null>;
  /** one value per resample (NaN where a resample has no data) */
  replicates: Record<BootstrapMetric, Float64Array>;
}

/**
 * Resamples the blocks with replacement `resamples` times (each resample draws as many blocks as
 * there are) and recomputes every statistic. Deterministic for a given Rng state.
 */
export function bootstrapWindows(p: PreparedWindows, rng: Rng, resamples: number): WindowBootstrap {
  const replicates = Object.fromEntries(BOOTSTRAP_METRICS.map((k) => [k, new Float64Array(resamples)])) as Record<BootstrapMetric, Float64Array>;
  const blockWeight = new Float64Array(p.blocks);
  const weight = new Float64Array(p.windows);
  for (let r = 0; r < resamples; r++) {
    blockWeight.fill(0);
    for (let b = 0; b < p.blocks; b++) blockWeight[rng.int(0, p.blocks - 1)]! += 1;
    for (let i = 0; i < p.windows; i++) weight[i] = blockWeight[p.blockOfWindow[i]!]!;
    const s = statisticsOf(p, weight);
    for (const k of BOOTSTRAP_METRICS) replicates[k][r] = s[k] ?? NaN;
  }
  return {
    windows: p.windows,
    blocks: p.blocks,
    block_s: p.block_s,
    resamples,
    point: statisticsOf(p, new Float64Array(p.windows).fill(1)),
    replicates,
  };
}

/** The q-quantile (0–1) of the finite values, linear between order statistics; null when none. */
export function quantile(values: Float64Array | number[], q: number): number | null {
  const finite = Array.from(values).filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  finite.sort((a, b) => a - b);
  const pos = q * (finite.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return finite[lo]! + (finite[hi]! - finite[lo]!) * (pos - lo);
}
