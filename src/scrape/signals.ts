// Canonical signals from parsed scrapes: snapshotSignals (one scrape: gauges, GPUs, raw counter and
// histogram state) and rateSignals (two scrapes: counter rates with resets handled, per-interval
// histogram quantiles and means). Pure functions; the poller calls them every scrape.
//
// Keys produced (metrics.md's vocabulary; units in the names):
//   snapshot  requests_running, queue_depth, kv_cache_usage_ratio, prefix_cache_hit_ratio (gauge
//             sources: SGLang, vLLM V0), gpu_utilization_ratio, gpu_sm_active_ratio,
//             gpu_memory_used_ratio (means over GPUs), gpu_memory_used_bytes,
//             gpu_memory_free_bytes, gpu_memory_total_bytes, gpu_power_watts (sums over GPUs),
//             gpu_count (distinct GPUs)
//   rates     preemptions_per_s, prompt_tokens_per_s, generation_tokens_per_s,
//             prefix_cache_hit_ratio (Δhits / Δqueries, vLLM V1; overrides the gauge),
//             server_{ttft,itl,e2e,queue_time}_s_{p50,p95,p99,mean} (observations in the interval)
//   cumulative (since the server started, one scrape is enough): preemptions_total,
//             prompt_tokens_total, generation_tokens_total, prefix_cache_{hits,queries}_total,
//             prefix_cache_hit_ratio (from those), server_*_s_{count,mean,p50,p95,p99}
// A key is absent when the server does not expose it or (rates) nothing happened in the interval.
import type { MetricFamily, Sample } from './parser.js';
import { PROFILES, detectProfiles, type CounterSignal, type GaugeSignal, type GpuRule, type GpuSignal, type HistogramSignal, type LatencySource, type ProfileName, type Selector } from './profiles.js';

/** Rate keys derived from counters. */
export type RateSignal = 'preemptions_per_s' | 'prompt_tokens_per_s' | 'generation_tokens_per_s';
/** Statistics of a server histogram over an interval. */
export type HistogramStat = 'p50' | 'p95' | 'p99' | 'mean';
/** Every key {@link snapshotSignals} and {@link rateSignals} can produce. */
export type CanonicalSignal = GaugeSignal | GpuSignal | 'gpu_count' | RateSignal | `${HistogramSignal}_${HistogramStat}`;
/** Canonical signal values; absent keys were not exposed (or nothing happened). */
export type Signals = Partial<Record<CanonicalSignal, number>>;

/** One GPU's signals; `gpu` is the exporter's index label (or the order of appearance), `uuid` may be ''. */
export type GpuSignals = { gpu: string; uuid: string } & Partial<Record<GpuSignal, number>>;

/** Cumulative state of one histogram series (its labels without `le`), in seconds. */
export interface HistogramSeries {
  key: string;
  /** cumulative counts, ascending `le`; empty for a sum/count pair that only gives a mean */
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

/** Everything one scrape says, in canonical terms. */
export interface SignalSnapshot {
  profiles: ProfileName[];
  /** gauges and GPU aggregates */
  signals: Signals;
  perGpu: GpuSignals[];
  /** cumulative counter totals summed over series, e.g. `generation_tokens_total` */
  counters: Partial<Record<`${CounterSignal}_total`, number>>;
  /** the same per series (labels), so a reset of one series is seen */
  counterSeries: Partial<Record<CounterSignal, Record<string, number>>>;
  histograms: Partial<Record<HistogramSignal, HistogramSeries[]>>;
  /** which metric fed each signal / counter / histogram, for people */
  sources: Record<string, string>;
  /** families no profile reads (kept raw in the parse result, never dropped) */
  unmapped: string[];
}

/** The keys of {@link cumulativeSignals}: counter totals and lifetime histogram statistics. */
export type CumulativeValues = Record<string, number>;

const RATE_COUNTERS: readonly [CounterSignal, RateSignal][] = [
  ['preemptions', 'preemptions_per_s'],
  ['prompt_tokens', 'prompt_tokens_per_s'],
  ['generation_tokens', 'generation_tokens_per_s'],
];
const HISTOGRAM_SIGNALS: readonly HistogramSignal[] = ['server_ttft_s', 'server_itl_s', 'server_e2e_s', 'server_queue_time_s'];
const QUANTILES: readonly [HistogramStat, number][] = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
];
/** GPU signals aggregated by sum (bytes, watts); the others are ratios, averaged. */
const GPU_SUMMED = new Set<string>(['gpu_memory_used_bytes', 'gpu_memory_free_bytes', 'gpu_memory_total_bytes', 'gpu_memory_reserved_bytes', 'gpu_power_watts']);
const GPU_SIGNAL_ORDER: readonly GpuSignal[] = [
  'gpu_utilization_ratio',
  'gpu_sm_active_ratio',
  'gpu_memory_used_ratio',
  'gpu_memory_used_bytes',
  'gpu_memory_free_bytes',
  'gpu_memory_total_bytes',
  'gpu_power_watts',
];

/** Reads one parsed scrape into canonical signals (profiles detected from the metric names). */
export function snapshotSignals(parsed: { families: readonly MetricFamily[] }): SignalSnapshot {
  const index = new Map<string, Sample[]>();
  for (const fam of parsed.families) {
    for (const smp of fam.samples) {
      const list = index.get(smp.name);
      if (list === undefined) index.set(smp.name, [smp]);
      else list.push(smp);
    }
  }
  // `used`: metrics that fed a signal; the others are reported as unmapped (kept raw).
  const used = new Set<string>();
  const select: Select = (sel) => {
    const all = index.get(sel.metric);
    if (all === undefined) return [];
    const where = sel.where;
    return where === undefined ? all : all.filter((smp) => Object.entries(where).every(([k, v]) => smp.labels[k] === v));
  };
  const use = (metric: string): void => {
    used.add(metric);
  };

  // A family's name carries its samples' prefix (an untyped family is named after its sample).
  const detected = new Set(detectProfiles(parsed.families.map((f) => f.name)));
  const profiles = PROFILES.filter((p) => detected.has(p.name));
  const snap: SignalSnapshot = {
    profiles: profiles.map((p) => p.name),
    signals: {},
    perGpu: [],
    counters: {},
    counterSeries: {},
    histograms: {},
    sources: {},
    unmapped: [],
  };

  for (const profile of profiles) {
    for (const rule of profile.gauges) {
      if (snap.signals[rule.signal] !== undefined) continue;
      for (const sel of rule.sources) {
        const values = select(sel)
          .map((smp) => smp.value * (rule.scale ?? 1))
          .filter(Number.isFinite);
        if (values.length === 0) continue;
        const total = values.reduce((a, b) => a + b, 0);
        snap.signals[rule.signal] = rule.aggregation === 'sum' ? total : total / values.length;
        snap.sources[rule.signal] = describe(sel);
        use(sel.metric);
        break;
      }
    }
    for (const rule of profile.counters) {
      if (snap.counterSeries[rule.counter] !== undefined) continue;
      for (const sel of rule.sources) {
        const samples = select(sel).filter((smp) => Number.isFinite(smp.value));
        if (samples.length === 0) continue;
        const series: Record<string, number> = {};
        let total = 0;
        for (const smp of samples) {
          series[seriesKey(smp.labels)] = smp.value;
          total += smp.value;
        }
        snap.counterSeries[rule.counter] = series;
        snap.counters[`${rule.counter}_total`] = total;
        snap.sources[`${rule.counter}_total`] = describe(sel);
        use(sel.metric);
        break;
      }
    }
    for (const rule of profile.histograms) {
      if (snap.histograms[rule.signal] !== undefined) continue;
      for (const source of rule.sources) {
        const series = readLatency(source, select, use);
        if (series.length === 0) continue;
        snap.histograms[rule.signal] = series;
        snap.sources[rule.signal] = 'histogram' in source ? source.histogram : `${source.sum} / ${source.count}`;
        break;
      }
    }
  }
  readGpus(
    profiles.flatMap((p) => p.gpus),
    select,
    use,
    snap,
  );
  snap.unmapped = parsed.families.filter((f) => !f.samples.some((smp) => used.has(smp.name))).map((f) => f.name);
  return snap;
}

/**
 * Signals over the interval between two snapshots of one endpoint, `dtS` seconds apart: counter
 * rates (a counter that went down restarted from 0; a series new in `curr` counts from 0), the
 * prefix-cache hit ratio from counters, and quantiles (Prometheus's histogram_quantile: linear
 * within a bucket) and means (Δsum / Δcount) of the observations the histograms gained.
 */
export function rateSignals(prev: SignalSnapshot, curr: SignalSnapshot, dtS: number): Signals {
  const out: Signals = {};
  const deltas = counterDeltas(prev, curr);
  if (Number.isFinite(dtS) && dtS > 0) {
    for (const [counter, key] of RATE_COUNTERS) {
      const d = deltas[counter];
      if (d !== undefined) out[key] = d / dtS;
    }
  }
  const hits = deltas.prefix_cache_hits;
  const queries = deltas.prefix_cache_queries;
  if (hits !== undefined && queries !== undefined && queries > 0) out.prefix_cache_hit_ratio = Math.min(1, hits / queries);
  for (const signal of HISTOGRAM_SIGNALS) {
    const before = prev.histograms[signal];
    const after = curr.histograms[signal];
    if (before === undefined || after === undefined) continue;
    writeStats(out as Record<string, number>, signal, histogramStats(histogramDelta(before, after)), false);
  }
  return out;
}

/** How much each counter grew between two snapshots, resets handled per series. */
export function counterDeltas(prev: SignalSnapshot, curr: SignalSnapshot): Partial<Record<CounterSignal, number>> {
  const out: Partial<Record<CounterSignal, number>> = {};
  for (const counter of Object.keys(curr.counterSeries) as CounterSignal[]) {
    const before = prev.counterSeries[counter];
    const after = curr.counterSeries[counter];
    if (before === undefined || after === undefined) continue;
    let delta = 0;
    for (const [key, value] of Object.entries(after)) {
      const was = before[key];
      delta += was === undefined || value < was ? value : value - was;
    }
    out[counter] = delta;
  }
  return out;
}

/** Counter totals and lifetime histogram statistics from one snapshot (since the server started). */
export function cumulativeSignals(snap: SignalSnapshot): CumulativeValues {
  const out: CumulativeValues = { ...snap.counters };
  const hits = snap.counters.prefix_cache_hits_total;
  const queries = snap.counters.prefix_cache_queries_total;
  if (hits !== undefined && queries !== undefined && queries > 0) out['prefix_cache_hit_ratio'] = Math.min(1, hits / queries);
  for (const signal of HISTOGRAM_SIGNALS) {
    const series = snap.histograms[signal];
    if (series !== undefined) writeStats(out, signal, histogramStats(mergeSeries(series)), true);
  }
  return out;
}

/** Count, mean and p50/p95/p99 of a merged histogram; quantiles NaN without buckets or observations. */
export function histogramStats(h: { buckets: readonly { le: number; count: number }[]; count: number; sum: number }): { count: number; mean: number; p50: number; p95: number; p99: number } {
  return {
    count: h.count,
    mean: h.count > 0 ? h.sum / h.count : NaN,
    p50: bucketQuantile(0.5, h.buckets),
    p95: bucketQuantile(0.95, h.buckets),
    p99: bucketQuantile(0.99, h.buckets),
  };
}

/**
 * The q-quantile of cumulative buckets, as Prometheus's histogram_quantile computes it: linear
 * interpolation within the bucket holding the rank; the lowest bucket starts at 0 (when its bound
 * is positive); a rank in the +Inf bucket returns the highest finite bound. NaN when there is no
 * +Inf bucket, fewer than two buckets, or no observations.
 */
export function bucketQuantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  const n = buckets.length;
  if (n < 2 || buckets[n - 1]!.le !== Infinity || !(q >= 0 && q <= 1)) return NaN;
  // Cumulative counts must not decrease (merged or racy series can); Prometheus fixes them the same way.
  const counts = new Array<number>(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    max = Math.max(max, buckets[i]!.count);
    counts[i] = max;
  }
  const total = counts[n - 1]!;
  if (!(total > 0)) return NaN;
  let rank = q * total;
  let b = 0;
  while (b < n - 1 && counts[b]! < rank) b++;
  if (b === n - 1) return buckets[n - 2]!.le;
  if (b === 0 && buckets[0]!.le <= 0) return buckets[0]!.le;
  const start = b === 0 ? 0 : buckets[b - 1]!.le;
  const below = b === 0 ? 0 : counts[b - 1]!;
  const inBucket = counts[b]! - below;
  rank -= below;
  return inBucket > 0 ? start + (buckets[b]!.le - start) * (rank / inBucket) : buckets[b]!.le;
}

// ---------------------------------------------------------------------------------------------

function describe(sel: Selector): string {
  if (sel.where === undefined) return sel.metric;
  return `${sel.metric}{${Object.entries(sel.where)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

/** A stable key for a label set (sorted), without `le`. */
function seriesKey(labels: Record<string, string>): string {
  const keys = Object.keys(labels);
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const k of keys) if (k !== 'le') key += k + '\u0000' + labels[k]! + '\u0001';
  return key;
}

function parseLe(le: string | undefined): number {
  if (le === undefined) return NaN;
  const t = le.trim().toLowerCase();
  if (t === '+inf' || t === 'inf' || t === '+infinity' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  return t === '' ? NaN : Number(t);
}

type Select = (sel: Selector) => Sample[];

function readLatency(source: LatencySource, select: Select, use: (metric: string) => void): HistogramSeries[] {
  const bySeries = new Map<string, HistogramSeries>();
  const seriesOf = (labels: Record<string, string>): HistogramSeries => {
    const key = seriesKey(labels);
    let s = bySeries.get(key);
    if (s === undefined) {
      s = { key, buckets: [], count: NaN, sum: NaN };
      bySeries.set(key, s);
    }
    return s;
  };
  const scale = source.scale;
  if ('histogram' in source) {
    const buckets = select({ metric: `${source.histogram}_bucket` });
    const counts = select({ metric: `${source.histogram}_count` });
    if (buckets.length === 0 && counts.length === 0) return [];
    // `le` is read from the data: bucket layouts differ by server and version.
    for (const smp of buckets) {
      const le = parseLe(smp.labels['le']);
      if (Number.isNaN(le) || Number.isNaN(smp.value)) continue;
      seriesOf(smp.labels).buckets.push({ le: le * scale, count: smp.value });
    }
    for (const smp of counts) seriesOf(smp.labels).count = smp.value;
    for (const smp of select({ metric: `${source.histogram}_sum` })) seriesOf(smp.labels).sum = smp.value * scale;
  } else {
    const counts = select({ metric: source.count });
    const sums = select({ metric: source.sum });
    if (counts.length === 0 || sums.length === 0) return [];
    for (const smp of counts) seriesOf(smp.labels).count = smp.value;
    for (const smp of sums) seriesOf(smp.labels).sum = smp.value * scale;
  }
  const out: HistogramSeries[] = [];
  for (const s of bySeries.values()) {
    s.buckets.sort((a, b) => a.le - b.le);
    if (Number.isNaN(s.count)) s.count = s.buckets.length > 0 && s.buckets[s.buckets.length - 1]!.le === Infinity ? s.buckets[s.buckets.length - 1]!.count : NaN;
    if (Number.isNaN(s.count)) continue;
    if (Number.isNaN(s.sum)) s.sum = 0;
    out.push(s);
  }
  if (out.length > 0) {
    if ('histogram' in source) for (const suffix of ['_bucket', '_count', '_sum']) use(source.histogram + suffix);
    else {
      use(source.sum);
      use(source.count);
    }
  }
  return out;
}

/** The observations each series gained from `before` to `after`, merged; a series that went back restarted. */
function histogramDelta(before: readonly HistogramSeries[], after: readonly HistogramSeries[]): HistogramSeries {
  const prevByKey = new Map(before.map((s) => [s.key, s]));
  const deltas: HistogramSeries[] = [];
  for (const cur of after) {
    const was = prevByKey.get(cur.key);
    if (was === undefined || cur.count < was.count || !sameLayout(was, cur)) {
      deltas.push(cur);
      continue;
    }
    deltas.push({
      key: cur.key,
      buckets: cur.buckets.map((b, i) => ({ le: b.le, count: Math.max(0, b.count - was.buckets[i]!.count) })),
      count: cur.count - was.count,
      sum: cur.sum - was.sum,
    });
  }
  return mergeSeries(deltas);
}

function sameLayout(a: HistogramSeries, b: HistogramSeries): boolean {
  if (a.buckets.length !== b.buckets.length) return false;
  for (let i = 0; i < a.buckets.length; i++) if (a.buckets[i]!.le !== b.buckets[i]!.le) return false;
  return true;
}

/** Sums series bucket by bucket (`le` by value), as `sum by (le)` does. */
function mergeSeries(series: readonly HistogramSeries[]): HistogramSeries {
  if (series.length === 1) return series[0]!;
  const byLe = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const s of series) {
    count += s.count;
    sum += s.sum;
    for (const b of s.buckets) byLe.set(b.le, (byLe.get(b.le) ?? 0) + b.count);
  }
  const buckets = [...byLe.entries()].map(([le, c]) => ({ le, count: c })).sort((a, b) => a.le - b.le);
  return { key: '', buckets, count, sum };
}

function writeStats(out: Record<string, number>, signal: HistogramSignal, stats: ReturnType<typeof histogramStats>, withCount: boolean): void {
  if (!(stats.count > 0)) {
    if (withCount) out[`${signal}_count`] = stats.count;
    return;
  }
  if (withCount) out[`${signal}_count`] = stats.count;
  if (Number.isFinite(stats.mean)) out[`${signal}_mean`] = stats.mean;
  for (const [name] of QUANTILES) {
    const v = stats[name as 'p50' | 'p95' | 'p99'];
    if (Number.isFinite(v)) out[`${signal}_${name}`] = v;
  }
}

/** Per-GPU rows from the GPU rules (earlier rules win per GPU), then their aggregates. */
function readGpus(rules: readonly GpuRule[], select: Select, use: (metric: string) => void, snap: SignalSnapshot): void {
  const rows = new Map<string, GpuSignals>();
  const values = new Map<GpuSignals, Map<string, number>>();
  for (const rule of rules) {
    const perRow = new Map<GpuSignals, number[]>();
    for (const smp of select({ metric: rule.metric })) {
      const v = smp.value * (rule.scale ?? 1);
      if (!Number.isFinite(v)) continue;
      const uuid = smp.labels['UUID'] ?? smp.labels['uuid'] ?? smp.labels['gpu_uuid'] ?? '';
      const gpu = smp.labels['gpu'] ?? smp.labels['minor_number'];
      const key = uuid !== '' ? `uuid:${uuid}` : `gpu:${gpu ?? ''}`;
      let row = rows.get(key);
      if (row === undefined) {
        row = { gpu: gpu ?? String(rows.size), uuid };
        rows.set(key, row);
        values.set(row, new Map());
      }
      const list = perRow.get(row);
      if (list === undefined) perRow.set(row, [v]);
      else list.push(v);
    }
    for (const [row, list] of perRow) {
      const have = values.get(row)!;
      if (have.has(rule.signal)) continue;
      const total = list.reduce((a, b) => a + b, 0);
      have.set(rule.signal, GPU_SUMMED.has(rule.signal) ? total : total / list.length);
      snap.sources[rule.signal] ??= rule.metric;
      use(rule.metric);
    }
  }
  if (rows.size === 0) return;
  const sums = new Map<GpuSignal, { total: number; n: number }>();
  for (const [row, have] of values) {
    const used = have.get('gpu_memory_used_bytes');
    let total = have.get('gpu_memory_total_bytes');
    const free = have.get('gpu_memory_free_bytes');
    if (total === undefined && used !== undefined && free !== undefined) {
      // DCGM: total = used + free + reserved
      total = used + free + (have.get('gpu_memory_reserved_bytes') ?? 0);
      have.set('gpu_memory_total_bytes', total);
    }
    if (used !== undefined && total !== undefined && total > 0) have.set('gpu_memory_used_ratio', used / total);
    for (const signal of GPU_SIGNAL_ORDER) {
      const v = have.get(signal);
      if (v === undefined) continue;
      row[signal] = v;
      const acc = sums.get(signal) ?? { total: 0, n: 0 };
      acc.total += v;
      acc.n++;
      sums.set(signal, acc);
    }
  }
  for (const signal of GPU_SIGNAL_ORDER) {
    const acc = sums.get(signal);
    if (acc !== undefined) snap.signals[signal] = GPU_SUMMED.has(signal) ? acc.total : acc.total / acc.n;
  }
  snap.signals.gpu_count = rows.size;
  snap.perGpu = [...rows.values()];
}
