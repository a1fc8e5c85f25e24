// The HTML report's charts as vega-lite specs: pure functions of a RunResult, data inline. Every
// chart about time shares one x domain (0 to the end of the last window, s), y axes have a fixed
// width so plot areas line up vertically, and p50/p95/p99 have one colour each everywhere.
// User- or server-supplied strings (GPU ids, signal names, error classes) only ever appear as data
// values, never as field names or inside vega expressions, so they cannot change what a spec does.
import type { TopLevelSpec } from 'vega-lite';
import { parseThreshold } from '../core/threshold.js';
import { decodeHistogram } from '../metrics/hdr.js';
import type { WindowResult } from '../metrics/recorder.js';
import type { RunResult, RunSummary, SloVerdict } from '../results/types.js';
import { classEntries, fmtMs, maxOf, modelEntries, promptTokensPerRequest, turnEntries } from './common.js';

/** The fixed colour of each percentile, in every chart and table. */
export const PERCENTILE_COLORS = { p50: '#1f77b4', p95: '#ff7f0e', p99: '#d62728' } as const;
export type PercentileName = keyof typeof PERCENTILE_COLORS;
const PERCENTILES: PercentileName[] = ['p50', 'p95', 'p99'];

/** Colours for series that are not percentiles: none of them is a percentile's colour. */
const SERIES_PALETTE = ['#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#393b79', '#7f7f7f', '#637939', '#843c39'];

/** Fixed colours per error class (metrics.md's classes), so a class keeps its colour across runs. */
const ERROR_CLASS_COLORS: Record<string, string> = {
  http_4xx: '#9467bd',
  http_429: '#e377c2',
  http_5xx: '#8c564b',
  timeout: '#bcbd22',
  connect: '#7f7f7f',
  reset: '#17becf',
  stream_error: '#393b79',
  truncated: '#637939',
  invalid_response: '#843c39',
};

/** Plot size of the charts that share the time axis, px. */
export const TIME_CHART = { width: 860, height: 130 } as const;
/** Plot size of a percentile-curve chart, px (two per row). */
export const CURVE_CHART = { width: 380, height: 190 } as const;
/** Width of every y axis (ticks + labels), px: equal widths line the plot areas up. */
const Y_AXIS_EXTENT = 52;
/** Mirrors HEALTH_LIMITS.scheduleLagP99Ms in engine/health.ts (report/ never imports the engine). */
export const SCHEDULE_LAG_WARN_MS = 5;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const TIME_TITLE = 'time since run start (s)';
/** Above this many windows, line points are invisible (they still carry the tooltips)... */
const VISIBLE_POINTS_MAX = 120;
/** ...and above this many, there are none: thousands of hidden SVG symbols per chart would slow the page down. */
const POINTS_MAX = 600;

/** Where a chart goes in the report. */
export type ChartSection = 'capacity' | 'time-client' | 'time-server' | 'errors' | 'classes' | 'turns' | 'models' | 'distribution' | 'generator';

/** One chart of the report: a stable id (used for its HTML element), a title, a caption, the spec. */
export interface ReportChart {
  id: string;
  section: ChartSection;
  title: string;
  /** one or two sentences: what to read from the chart */
  caption: string;
  spec: TopLevelSpec;
}

/** One row of a time series: a window's midpoint, its bounds, the series name and the value (null: no data). */
export interface TimeRow {
  t_s: number;
  t_start_s: number;
  t_end_s: number;
  series: string;
  value: number | null;
}

/** One point of a percentile curve: x = 1/(1−p) (HdrHistogram's plot), the percentile in %, the value in ms. */
export interface CurvePoint {
  x: number;
  percentile: number;
  value_ms: number;
}

type Series = { name: string; color: string; dash?: number[] };
type LayerList = NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']>;
type VConcatList = Extract<TopLevelSpec, { vconcat: unknown }>['vconcat'];

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The x domain every time chart shares, s: from 0 to the end of the last window (or the duration). */
export function timeDomainS(result: RunResult): [number, number] {
  let end = 0;
  for (const w of result.windows) end = Math.max(end, w.t_s + w.window_s);
  if (end === 0) end = Math.max(result.summary.duration_s + result.run.warmup_s, 1);
  return [0, r3(end)];
}

function rowOf(w: WindowResult, series: string, value: number | null | undefined): TimeRow {
  const v = value === undefined || value === null || !Number.isFinite(value) ? null : r3(value);
  return { t_s: r3(w.t_s + w.window_s / 2), t_start_s: r3(w.t_s), t_end_s: r3(w.t_s + w.window_s), series, value: v };
}

/** Shared look: fixed y-axis width, legends on top (so they never shift the plot area), quiet grid. */
function baseConfig(): NonNullable<TopLevelSpec['config']> {
  return {
    font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', titleColor: '#333', gridColor: '#e8e8e8' },
    axisY: { minExtent: Y_AXIS_EXTENT, maxExtent: Y_AXIS_EXTENT },
    legend: { orient: 'top', labelFontSize: 11, titleFontSize: 11, labelLimit: 260 },
    view: { stroke: '#ccc' },
    title: { fontSize: 12, anchor: 'start', fontWeight: 'normal' },
  };
}

/** The spike of a ramping run on the time axis: its stretch and, when it came, the moment latency recovered. */
export interface SpikeBand {
  from: number;
  to: number;
  recovered_at: number | null;
}

/** The spike of `result` (results.spike), or null when the run had none. */
export function spikeBand(result: RunResult): SpikeBand | null {
  const sp = result.spike;
  if (!sp || !(sp.spike_end_s > sp.spike_start_s)) return null;
  return { from: sp.spike_start_s, to: sp.spike_end_s, recovered_at: sp.time_to_recover_s !== null ? r3(sp.spike_end_s + sp.time_to_recover_s) : null };
}

/**
 * The bands behind every time chart: the warm-up in grey (arrivals there are not counted) and a
 * spike in light purple with a dotted line where latency recovered, each labelled in the top-left.
 */
function bandLayers(warmupS: number, spike: SpikeBand | null | undefined, domain: [number, number]): LayerList {
  const layers: LayerList = [];
  const band = (from: number, to: number, label: string, color: string, opacity: number): LayerList => [
    {
      data: { values: [{ from, to, label }] },
      mark: { type: 'rect', color, opacity },
      encoding: {
        x: { field: 'from', type: 'quantitative', scale: { domain, nice: false, zero: true }, title: TIME_TITLE },
        x2: { field: 'to' },
      },
    },
    {
      data: { values: [{ from, to, label }] },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10, color: '#666', y: 0 },
      encoding: { x: { field: 'from', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
    },
  ];
  if (warmupS > 0) layers.push(...band(0, Math.min(warmupS, domain[1]), 'warm-up (not counted)', '#999', 0.12));
  if (spike) {
    layers.push(...band(Math.min(spike.from, domain[1]), Math.min(spike.to, domain[1]), 'spike', '#9467bd', 0.1));
    if (spike.recovered_at !== null && spike.recovered_at <= domain[1])
      layers.push(
        {
          data: { values: [{ at: spike.recovered_at, label: 'recovered' }] },
          mark: { type: 'rule', strokeDash: [2, 3], color: '#9467bd' },
          encoding: { x: { field: 'at', type: 'quantitative' } },
        },
        {
          data: { values: [{ at: spike.recovered_at, label: 'recovered' }] },
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10, color: '#9467bd', y: 0 },
          encoding: { x: { field: 'at', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
        },
      );
  }
  return layers;
}

interface TimeChartOptions {
  id: string;
  section: ChartSection;
  title: string;
  caption: string;
  yTitle: string;
  yFormat: string;
  rows: TimeRow[];
  series: Series[];
  domain: [number, number];
  warmupS: number;
  spike?: SpikeBand | null;
  windows: number;
  yDomain?: [number, number];
  /** horizontal reference lines (SLO thresholds, health limits) */
  rules?: { value: number; label: string; color: string }[];
}

/** A line chart over the shared time axis, one coloured line per series. */
function timeLineChart(o: TimeChartOptions): ReportChart {
  const names = o.series.map((s) => s.name);
  const colors = o.series.map((s) => s.color);
  const dashes = o.series.map((s) => s.dash ?? [1, 0]);
  const pointOpacity = o.windows <= VISIBLE_POINTS_MAX ? 1 : 0;
  // all zeros (no preemption at all, say) would collapse the y scale to one point: show 0 to 1
  const yDomain = o.yDomain ?? (o.rows.every((r) => r.value === null || r.value === 0) ? ([0, 1] as [number, number]) : undefined);
  const x = { field: 't_s', type: 'quantitative', scale: { domain: o.domain, nice: false, zero: true }, title: TIME_TITLE } as const;
  const y = {
    field: 'value',
    type: 'quantitative',
    title: o.yTitle,
    scale: yDomain ? { domain: yDomain, nice: false } : { zero: true },
  } as const;
  // stroke symbols show each series' dash pattern in the legend
  const legend = { title: null, orient: 'top', direction: 'horizontal', symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 260 } as const;
  const layers: LayerList = [
    ...bandLayers(o.warmupS, o.spike, o.domain),
    {
      mark: {
        type: 'line',
        strokeWidth: 1.8,
        invalid: 'break-paths-filter-domains',
        point: o.windows <= POINTS_MAX ? { filled: true, size: 16, opacity: pointOpacity } : false,
      },
      encoding: {
        x,
        y,
        color: { field: 'series', type: 'nominal', scale: { domain: names, range: colors }, legend },
        strokeDash: { field: 'series', type: 'nominal', scale: { domain: names, range: dashes }, legend },
        // a line's own tooltip would show one arbitrary point: tooltips only ride on the points
        ...(o.windows <= POINTS_MAX
          ? {
              tooltip: [
                { field: 'series', type: 'nominal', title: 'series' },
                { field: 't_start_s', type: 'quantitative', title: 'window from (s)', format: '.1f' },
                { field: 't_end_s', type: 'quantitative', title: 'window to (s)', format: '.1f' },
                { field: 'value', type: 'quantitative', title: o.yTitle, format: o.yFormat },
              ],
            }
          : {}),
      },
    },
  ];
  // one layer pair per reference line with a fixed mark colour: no encoding, so no extra legend entries
  for (const rule of o.rules ?? []) {
    layers.push(
      {
        data: { values: [rule] },
        mark: { type: 'rule', strokeDash: [5, 4], strokeWidth: 1.2, color: rule.color },
        encoding: { y: { field: 'value', type: 'quantitative' } },
      },
      {
        data: { values: [rule] },
        // labelled just right of the warm-up band, whose own label sits in the top-left corner
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -2, fontSize: 10, color: rule.color },
        encoding: {
          x: { datum: Math.min(Math.max(0, o.warmupS), o.domain[1]), type: 'quantitative' },
          y: { field: 'value', type: 'quantitative' },
          text: { field: 'label', type: 'nominal' },
        },
      },
    );
  }
  return {
    id: o.id,
    section: o.section,
    title: o.title,
    caption: o.caption,
    spec: {
      $schema: SCHEMA,
      width: TIME_CHART.width,
      height: TIME_CHART.height,
      data: { values: o.rows },
      layer: layers,
      config: baseConfig(),
    },
  };
}

const hasValue = (rows: TimeRow[]): boolean => rows.some((r) => r.value !== null);

/** Offered and achieved load per window: target arrivals, sent, completed and dropped, req/s. */
export function loadChart(result: RunResult): ReportChart | null {
  if (result.windows.length === 0) return null;
  const openLoop = result.summary.rate.target_per_s !== null;
  const series: Series[] = [];
  if (openLoop) series.push({ name: 'target (scheduled arrivals)', color: '#555', dash: [6, 4] });
  series.push({ name: 'sent', color: '#17becf' }, { name: 'completed', color: '#2ca02c' });
  const anyDropped = result.windows.some((w) => w.dropped > 0);
  if (anyDropped) series.push({ name: 'dropped (in-flight cap)', color: '#9467bd' });
  const rows: TimeRow[] = [];
  for (const w of result.windows) {
    if (openLoop) rows.push(rowOf(w, 'target (scheduled arrivals)', w.arrivals / w.window_s));
    rows.push(rowOf(w, 'sent', w.sent / w.window_s), rowOf(w, 'completed', w.completed / w.window_s));
    if (anyDropped) rows.push(rowOf(w, 'dropped (in-flight cap)', w.dropped / w.window_s));
  }
  return timeLineChart({
    id: 'load',
    section: 'time-client',
    title: 'Load: requests per second',
    caption: openLoop
      ? 'Arrivals the schedule made (target), requests sent, and requests completed per second. Sent below target means the generator fell behind or dropped arrivals; completed below sent means requests pile up.'
      : 'Closed loop: requests sent and completed per second (each user waits for its previous answer, so the rate follows the server).',
    yTitle: 'rate (req/s)',
    yFormat: ',.2~f',
    rows,
    series,
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    spike: spikeBand(result),
    windows: result.windows.length,
  });
}

/**
 * A replayed trace's arrival rate in its own buckets (results.workload.trace.arrival_rate), with
 * the requests sent per second over the same buckets: did the replay keep the trace's pace?
 */
export function traceArrivalChart(result: RunResult): ReportChart | null {
  const rate = result.workload?.trace?.arrival_rate;
  if (!rate || rate.per_s.length === 0) return null;
  const width = rate.bucket_s;
  const sent = new Array<number>(rate.per_s.length).fill(0);
  for (const w of result.windows) {
    const i = Math.floor((w.t_s + w.window_s / 2) / width);
    if (i < sent.length) sent[i]! += w.sent;
  }
  const rows: TimeRow[] = [];
  rate.per_s.forEach((v, i) => {
    const bucket = { t_s: r3((i + 0.5) * width), t_start_s: r3(i * width), t_end_s: r3((i + 1) * width) };
    rows.push({ ...bucket, series: 'trace (arrivals)', value: v }, { ...bucket, series: 'sent', value: r3(sent[i]! / width) });
  });
  return timeLineChart({
    id: 'trace-arrivals',
    section: 'time-client',
    title: `Trace: arrival rate over time (${width} s buckets)`,
    caption:
      "The replayed trace's arrivals per second at its own times (scaled by the speedup), and the requests sent in the same buckets. Sent below the trace means arrivals were dropped at the in-flight cap or the run ended early.",
    yTitle: 'rate (req/s)',
    yFormat: ',.2~f',
    rows,
    series: [
      { name: 'trace (arrivals)', color: '#555', dash: [6, 4] },
      { name: 'sent', color: '#17becf' },
    ],
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    windows: rate.per_s.length,
  });
}

/** The SLO thresholds on a latency metric that can be drawn as lines (percentile thresholds). */
function sloRules(result: RunResult, metric: string, maxData: number): { rules: { value: number; label: string; color: string }[]; offChart: string[] } {
  const rules: { value: number; label: string; color: string }[] = [];
  const offChart: string[] = [];
  for (const s of result.slo) {
    // a request class's own SLOs judge its requests alone, not the run's curves drawn here
    if (s.metric !== metric || s.class !== undefined) continue;
    const t = parseThreshold(s.threshold);
    if (!t || t.aggregation.kind !== 'p') continue;
    const p = t.aggregation.percentile;
    const key = `p${p}`;
    const color = key in PERCENTILE_COLORS ? PERCENTILE_COLORS[key as PercentileName] : '#555';
    const label = `SLO p${p} ${t.op} ${t.value} ms`;
    // a threshold far above the data would squash the lines into the floor: name it instead
    if (maxData > 0 && t.value > maxData * 3) offChart.push(label);
    else rules.push({ value: t.value, label, color });
  }
  return { rules, offChart };
}

/** TTFT, ITL or E2E p50/p95/p99 per window, ms, with the scenario's percentile SLOs as dashed lines. */
export function latencyOverTimeChart(result: RunResult, metric: 'ttft' | 'itl' | 'e2e'): ReportChart | null {
  const label = metric === 'ttft' ? 'TTFT' : metric === 'itl' ? 'ITL' : 'E2E';
  const rows: TimeRow[] = [];
  for (const w of result.windows) {
    for (const p of PERCENTILES) rows.push(rowOf(w, p, w[`${metric}_${p}_ms`]));
  }
  if (!hasValue(rows)) return null;
  const maxData = maxOf(rows.map((r) => r.value ?? 0));
  const { rules, offChart } = sloRules(result, `${metric}_ms`, maxData);
  const what =
    metric === 'ttft'
      ? 'Time to first token, from the intended send time (coordinated-omission correct)'
      : metric === 'itl'
        ? 'Inter-token latency: gaps between streamed chunks'
        : 'End-to-end latency, from the intended send time to the last token';
  return timeLineChart({
    id: `${metric}-over-time`,
    section: 'time-client',
    title: `${label} per window: p50, p95, p99 (ms)`,
    caption: `${what}, by the window in which requests ended.${offChart.length > 0 ? ` ${offChart.join(', ')}: far above this chart.` : ''}`,
    yTitle: `${label} (ms)`,
    yFormat: ',.2~f',
    rows,
    series: PERCENTILES.map((p) => ({ name: p, color: PERCENTILE_COLORS[p] })),
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    spike: spikeBand(result),
    windows: result.windows.length,
    rules,
  });
}

/** Known server signals with a chart of their own; others go to `otherServerSignalsChart`. */
const CHARTED_SIGNALS = new Set([
  'queue_depth',
  'requests_running',
  'kv_cache_usage_ratio',
  'prefix_cache_hit_ratio',
  'preemptions_per_s',
  'gpu_utilization_ratio',
  'gpu_memory_used_bytes',
  'gpu_memory_free_bytes',
  'generation_tokens_per_s',
  'prompt_tokens_per_s',
  'gpu_count',
]);

const serverValue = (w: WindowResult, key: string): number | null => {
  const v = w.server?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

/** Client in-flight requests beside the server's running and waiting requests, per window. */
export function concurrencyChart(result: RunResult): ReportChart | null {
  if (result.windows.length === 0) return null;
  const hasRunning = result.windows.some((w) => serverValue(w, 'requests_running') !== null);
  const hasQueue = result.windows.some((w) => serverValue(w, 'queue_depth') !== null);
  const series: Series[] = [{ name: 'client: in flight (max)', color: '#8c564b', dash: [6, 4] }];
  if (hasRunning) series.push({ name: 'server: running', color: '#2ca02c' });
  if (hasQueue) series.push({ name: 'server: waiting (queue depth)', color: '#e377c2' });
  const rows: TimeRow[] = [];
  for (const w of result.windows) {
    rows.push(rowOf(w, 'client: in flight (max)', w.in_flight_max));
    if (hasRunning) rows.push(rowOf(w, 'server: running', serverValue(w, 'requests_running')));
    if (hasQueue) rows.push(rowOf(w, 'server: waiting (queue depth)', serverValue(w, 'queue_depth')));
  }
  return timeLineChart({
    id: 'concurrency',
    section: 'time-client',
    title: hasRunning || hasQueue ? 'Requests in flight: client vs server (queue depth, running)' : 'Requests in flight (client)',
    caption:
      hasRunning || hasQueue
        ? 'What the client had open against what the server was running and holding in its queue. A growing queue is where TTFT comes from.'
        : 'The most requests the client had open at once in each window.',
    yTitle: 'in flight (requests)',
    yFormat: ',.2~f',
    rows,
    series,
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    spike: spikeBand(result),
    windows: result.windows.length,
  });
}

/** Output tokens per second seen by the client, beside the server's own token rates when scraped. */
export function tokenThroughputChart(result: RunResult): ReportChart | null {
  if (result.windows.length === 0 || result.summary.requests.completed === 0) return null;
  const hasGen = result.windows.some((w) => serverValue(w, 'generation_tokens_per_s') !== null);
  const hasPrompt = result.windows.some((w) => serverValue(w, 'prompt_tokens_per_s') !== null);
  const series: Series[] = [{ name: 'client: output tokens', color: '#17becf' }];
  if (hasGen) series.push({ name: 'server: generation tokens', color: '#2ca02c', dash: [6, 4] });
  if (hasPrompt) series.push({ name: 'server: prompt tokens', color: '#bcbd22' });
  const rows: TimeRow[] = [];
  for (const w of result.windows) {
    rows.push(rowOf(w, 'client: output tokens', w.output_tokens_per_s));
    if (hasGen) rows.push(rowOf(w, 'server: generation tokens', serverValue(w, 'generation_tokens_per_s')));
    if (hasPrompt) rows.push(rowOf(w, 'server: prompt tokens', serverValue(w, 'prompt_tokens_per_s')));
  }
  return timeLineChart({
    id: 'tokens',
    section: 'time-client',
    title: 'Token throughput (tok/s)',
    caption: hasGen
      ? "Output tokens the client received per second, and the server's own count of tokens generated (they should agree)."
      : 'Output tokens the client received per second, by the window in which requests ended.',
    yTitle: 'throughput (tok/s)',
    yFormat: ',.2~f',
    rows,
    series,
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    spike: spikeBand(result),
    windows: result.windows.length,
  });
}

/** A per-window server signal (aggregate), scaled for display; null when never scraped. */
function signalChart(
  result: RunResult,
  o: { id: string; key: string; series: string; title: string; caption: string; yTitle: string; yFormat: string; scale: number; yDomain?: [number, number] },
): ReportChart | null {
  const rows = result.windows.map((w) => {
    const v = serverValue(w, o.key);
    return rowOf(w, o.series, v === null ? null : v * o.scale);
  });
  if (!hasValue(rows)) return null;
  return timeLineChart({
    id: o.id,
    section: 'time-server',
    title: o.title,
    caption: o.caption,
    yTitle: o.yTitle,
    yFormat: o.yFormat,
    rows,
    series: [{ name: o.series, color: '#9467bd' }],
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    spike: spikeBand(result),
    windows: result.windows.length,
    yDomain: o.yDomain,
  });
}

/** KV-cache usage of the server, %. */
export function kvCacheChart(result: RunResult): ReportChart | null {
  return signalChart(result, {
    id: 'kv-cache',
    key: 'kv_cache_usage_ratio',
    series: 'server: KV-cache usage',
    title: 'KV-cache usage (%)',
    caption: 'Share of the KV cache in use. Near 100 % the server must preempt (evict and recompute) requests.',
    yTitle: 'KV cache used (%)',
    yFormat: ',.2~f',
    scale: 100,
    yDomain: [0, 100],
  });
}

/** The server's prefix-cache hit ratio per window (tokens found / tokens looked up), %. */
export function prefixCacheChart(result: RunResult): ReportChart | null {
  return signalChart(result, {
    id: 'prefix-cache',
    key: 'prefix_cache_hit_ratio',
    series: 'server: prefix-cache hits',
    title: 'Prefix-cache hit ratio (%)',
    caption: "Share of the prompt tokens the server looked up that it found in its prefix cache; each hit skips its prefill, so TTFT falls as this rises.",
    yTitle: 'prompt tokens cached (%)',
    yFormat: ',.2~f',
    scale: 100,
    yDomain: [0, 100],
  });
}

/** Preemptions per second. */
export function preemptionsChart(result: RunResult): ReportChart | null {
  return signalChart(result, {
    id: 'preemptions',
    key: 'preemptions_per_s',
    series: 'server: preemptions',
    title: 'Preemptions (per second)',
    caption: 'Requests evicted from the batch because the KV cache was full; each costs a recompute and shows up as latency.',
    yTitle: 'preemptions (1/s)',
    yFormat: ',.2~f',
    scale: 1,
  });
}

/** One measure drawn per GPU: its key, the suffix of its series names, and its dash (solid for the main one). */
interface GpuMeasure {
  key: string;
  suffix: string;
  dash?: number[];
}

/**
 * Per-GPU signals over time: one colour per GPU (from windows[].gpus[]), one dash per measure; the
 * aggregate (windows[].server) stands in when no per-GPU data was scraped.
 */
function perGpuChart(
  result: RunResult,
  o: { id: string; measures: GpuMeasure[]; aggregateName: string; title: string; caption: string; yTitle: string; yFormat: string; scale: number; yDomain?: [number, number] },
): ReportChart | null {
  const main = o.measures[0]!.key;
  const perGpu = result.windows.some((w) => (w.gpus ?? []).some((g) => typeof g[main] === 'number'));
  const rows: TimeRow[] = [];
  const series: Series[] = [];
  const gpuColor = new Map<string, string>();
  const seriesFor = (base: string, m: GpuMeasure, color: string): string => {
    const name = `${base}${m.suffix}`;
    if (!series.some((x) => x.name === name)) series.push({ name, color, dash: m.dash });
    return name;
  };
  for (const w of result.windows) {
    if (perGpu) {
      for (const g of w.gpus ?? []) {
        const base = `GPU ${String(g.gpu)}`;
        if (!gpuColor.has(base)) gpuColor.set(base, SERIES_PALETTE[gpuColor.size % SERIES_PALETTE.length]!);
        for (const m of o.measures) {
          const v = g[m.key];
          if (typeof v !== 'number' || !Number.isFinite(v)) continue;
          rows.push(rowOf(w, seriesFor(base, m, gpuColor.get(base)!), v * o.scale));
        }
      }
    } else {
      for (const m of o.measures) {
        const v = serverValue(w, m.key);
        if (v === null && m !== o.measures[0]) continue;
        rows.push(rowOf(w, seriesFor(o.aggregateName, m, SERIES_PALETTE[0]!), v === null ? null : v * o.scale));
      }
    }
  }
  if (!rows.some((r) => r.value !== null && r.series.endsWith(o.measures[0]!.suffix))) return null;
  // series in a stable order: GPU by GPU, measure by measure
  return timeLineChart({
    id: o.id,
    section: 'time-server',
    title: o.title,
    caption: o.caption,
    yTitle: o.yTitle,
    yFormat: o.yFormat,
    rows,
    series,
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    spike: spikeBand(result),
    windows: result.windows.length,
    yDomain: o.yDomain,
  });
}

/** GPU utilisation per GPU, % (and SM activity, dashed, when the exporter reports it). */
export function gpuUtilizationChart(result: RunResult): ReportChart | null {
  return perGpuChart(result, {
    id: 'gpu-utilization',
    measures: [
      { key: 'gpu_utilization_ratio', suffix: ' busy' },
      { key: 'gpu_sm_active_ratio', suffix: ' SM active', dash: [6, 4] },
    ],
    aggregateName: 'all GPUs (mean)',
    title: 'GPU utilisation per GPU (%)',
    caption:
      'Busy: share of time a kernel ran. SM active (dashed, when reported): share of the streaming multiprocessors doing work, a truer measure of how full the GPU is. Busy GPUs with a growing queue mean the deployment is at capacity.',
    yTitle: 'GPU (%)',
    yFormat: ',.1~f',
    scale: 100,
    yDomain: [0, 100],
  });
}

/** GPU memory used per GPU, GiB (with the GPU's capacity, dashed, when reported). */
export function gpuMemoryChart(result: RunResult): ReportChart | null {
  return perGpuChart(result, {
    id: 'gpu-memory',
    measures: [
      { key: 'gpu_memory_used_bytes', suffix: ' used' },
      { key: 'gpu_memory_total_bytes', suffix: ' capacity', dash: [2, 3] },
    ],
    aggregateName: 'all GPUs (sum)',
    title: 'GPU memory used per GPU (GiB)',
    caption: 'Framebuffer memory in use, against each GPU’s capacity (dotted, when reported). Servers that reserve their KV cache at start-up stay flat here; a climb means memory is being allocated during the run.',
    yTitle: 'memory (GiB)',
    yFormat: ',.2~f',
    scale: 1 / 2 ** 30,
  });
}

/** A signal's display unit and scale, from its name (metrics.md: names carry their unit). Server latencies show in ms, like the client's. */
export function signalUnit(key: string): { unit: string; scale: number } {
  if (key.endsWith('_ratio')) return { unit: '%', scale: 100 };
  if (key.endsWith('_per_s')) return { unit: '1/s', scale: 1 };
  if (key.endsWith('_bytes')) return { unit: 'GiB', scale: 1 / 2 ** 30 };
  if (key.endsWith('_watts')) return { unit: 'W', scale: 1 };
  if (key.endsWith('_ms')) return { unit: 'ms', scale: 1 };
  if (/_s(_(mean|p\d+|max|min))?$/.test(key)) return { unit: 'ms', scale: 1000 };
  return { unit: 'value', scale: 1 };
}

/** Signals shown elsewhere, or constant: never in the "other signals" panels. */
const NOT_OTHER = new Set([
  ...CHARTED_SIGNALS,
  'gpu_sm_active_ratio',
  'gpu_memory_total_bytes',
  'gpu_memory_used_ratio',
]);

/** Most panels of other signals drawn, to keep the page bounded. */
const OTHER_PANELS_MAX = 10;
/** Families drawn first: the server's own view of the latencies the client measures. */
const FAMILY_ORDER = ['server_ttft_s', 'server_queue_time_s', 'server_itl_s', 'server_e2e_s'];
const STAT_SUFFIX = /_(mean|p50|p90|p95|p99|p999|max|min)$/;

/** Groups signal keys into families: `server_ttft_s_p95` and `server_ttft_s_mean` → `server_ttft_s`. */
export function signalFamilies(keys: string[]): Map<string, string[]> {
  const families = new Map<string, string[]>();
  for (const k of keys) {
    const family = k.replace(STAT_SUFFIX, '');
    const list = families.get(family) ?? [];
    list.push(k);
    families.set(family, list);
  }
  return families;
}

const statColor = (key: string, i: number): string => {
  const stat = STAT_SUFFIX.exec(key)?.[1];
  if (stat === 'p50' || stat === 'p95' || stat === 'p99') return PERCENTILE_COLORS[stat];
  if (stat === 'mean') return '#555';
  return SERIES_PALETTE[i % SERIES_PALETTE.length]!;
};

/** Every other scraped server signal (server-side latencies, prefix-cache hits, power, ...) as small panels, one per family. */
export function otherServerSignalsChart(result: RunResult): ReportChart | null {
  const keys = new Set<string>();
  for (const w of result.windows) for (const k of Object.keys(w.server ?? {})) if (!NOT_OTHER.has(k)) keys.add(k);
  const withData = [...keys].filter((k) => result.windows.some((w) => serverValue(w, k) !== null)).sort();
  const families = [...signalFamilies(withData).entries()].sort((a, b) => {
    const ia = FAMILY_ORDER.indexOf(a[0]);
    const ib = FAMILY_ORDER.indexOf(b[0]);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  });
  if (families.length === 0) return null;
  const shown = families.slice(0, OTHER_PANELS_MAX);
  const domain = timeDomainS(result);
  const statOrder = ['p50', 'p90', 'p95', 'p99', 'p999', 'max', 'min', 'mean'];
  const panels: VConcatList = shown.map(([family, members]): VConcatList[number] => {
    const { unit, scale } = signalUnit(members[0]!);
    const ordered = [...members].sort((a, b) => {
      const sa = statOrder.indexOf(STAT_SUFFIX.exec(a)?.[1] ?? '');
      const sb = statOrder.indexOf(STAT_SUFFIX.exec(b)?.[1] ?? '');
      return sa - sb;
    });
    const names = ordered.map((k) => (k === family ? family : (STAT_SUFFIX.exec(k)?.[1] ?? k)));
    const rows = result.windows.flatMap((w) =>
      ordered.map((k, i) => {
        const v = serverValue(w, k);
        return rowOf(w, names[i]!, v === null ? null : v * scale);
      }),
    );
    return {
      data: { values: rows },
      width: TIME_CHART.width,
      height: 70,
      title: { text: `${family} (${unit})` },
      mark: {
        type: 'line',
        strokeWidth: 1.5,
        invalid: 'break-paths-filter-domains',
        point: result.windows.length <= POINTS_MAX ? { size: 10, opacity: 0 } : false,
      },
      encoding: {
        x: { field: 't_s', type: 'quantitative', scale: { domain, nice: false, zero: true }, title: TIME_TITLE },
        y: { field: 'value', type: 'quantitative', title: unit, axis: { tickCount: 3 } },
        color: {
          field: 'series',
          type: 'nominal',
          scale: { domain: names, range: ordered.map((k, i) => statColor(k, i)) },
          legend: names.length > 1 ? { title: null, orient: 'top', direction: 'horizontal', symbolType: 'stroke' } : null,
        },
        tooltip: [
          { field: 'series', type: 'nominal', title: family },
          { field: 't_start_s', type: 'quantitative', title: 'window from (s)', format: '.1f' },
          { field: 'value', type: 'quantitative', title: unit, format: ',.3~f' },
        ],
      },
    };
  });
  const more = families.length - shown.length;
  return {
    id: 'server-other',
    section: 'time-server',
    title: 'Server-side latency and other server signals',
    caption: `The server's own latency histograms (in ms, like the client's; its TTFT excludes the network and the client) and every other signal the scraper produced, each on its own scale.${more > 0 ? ` ${more} more not drawn (see report.md).` : ''}`,
    spec: {
      $schema: SCHEMA,
      vconcat: panels,
      spacing: 14,
      resolve: { scale: { color: 'independent', y: 'independent' }, legend: { color: 'independent' } },
      config: baseConfig(),
    },
  };
}

/** Failed requests per second by error class, stacked per window. */
export function errorsOverTimeChart(result: RunResult): ReportChart | null {
  const rows: { t_start_s: number; t_end_s: number; error_class: string; count: number; per_s: number }[] = [];
  const classes: string[] = [];
  for (const w of result.windows) {
    for (const [cls, n] of Object.entries(w.errors ?? {})) {
      if (!(n > 0)) continue;
      if (!classes.includes(cls)) classes.push(cls);
      rows.push({ t_start_s: r3(w.t_s), t_end_s: r3(w.t_s + w.window_s), error_class: cls, count: n, per_s: r3(n / w.window_s) });
    }
  }
  if (rows.length === 0) return null;
  classes.sort();
  let extra = 0;
  const colors = classes.map((c) => ERROR_CLASS_COLORS[c] ?? SERIES_PALETTE[extra++ % SERIES_PALETTE.length]!);
  const domain = timeDomainS(result);
  return {
    id: 'errors',
    section: 'errors',
    title: 'Failed requests by error class (per second)',
    caption: 'Failures per second in each window, stacked by class, by the time the request ended. Failures never enter the latency charts.',
    spec: {
      $schema: SCHEMA,
      width: TIME_CHART.width,
      height: TIME_CHART.height,
      layer: [
        ...bandLayers(result.run.warmup_s, spikeBand(result), domain),
        {
          data: { values: rows },
          // a rect per window and class, stacked explicitly: a bar with x and x2 would be read as horizontal
          transform: [{ stack: 'per_s', groupby: ['t_start_s'], sort: [{ field: 'error_class', order: 'ascending' }], as: ['y0', 'y1'] }],
          mark: { type: 'rect', stroke: '#fff', strokeWidth: 0.3 },
          encoding: {
            x: { field: 't_start_s', type: 'quantitative', scale: { domain, nice: false, zero: true }, title: TIME_TITLE },
            x2: { field: 't_end_s' },
            y: { field: 'y1', type: 'quantitative', scale: { zero: true }, title: 'failures (1/s)' },
            y2: { field: 'y0' },
            color: {
              field: 'error_class',
              type: 'nominal',
              scale: { domain: classes, range: colors },
              legend: { title: null, orient: 'top', direction: 'horizontal' },
            },
            tooltip: [
              { field: 'error_class', type: 'nominal', title: 'class' },
              { field: 't_start_s', type: 'quantitative', title: 'window from (s)', format: '.1f' },
              { field: 'count', type: 'quantitative', title: 'failed requests' },
              { field: 'per_s', type: 'quantitative', title: 'failures (1/s)', format: '.2~f' },
            ],
          },
        },
      ],
      config: baseConfig(),
    },
  };
}

/** The generator's own lateness: schedule lag p99 per window, ms, with the health limit. */
export function scheduleLagChart(result: RunResult): ReportChart | null {
  const rows = result.windows.map((w) => rowOf(w, 'schedule lag p99', w.schedule_lag_p99_ms));
  if (!hasValue(rows)) return null;
  return timeLineChart({
    id: 'schedule-lag',
    section: 'generator',
    title: 'Schedule lag p99 per window (ms)',
    caption: `How late requests left compared with the schedule (the generator's own delay plus the in-flight cap). Above ${SCHEDULE_LAG_WARN_MS} ms the run is flagged.`,
    yTitle: 'schedule lag (ms)',
    yFormat: ',.2~f',
    rows,
    series: [{ name: 'schedule lag p99', color: PERCENTILE_COLORS.p99 }],
    domain: timeDomainS(result),
    warmupS: result.run.warmup_s,
    spike: spikeBand(result),
    windows: result.windows.length,
    rules: [{ value: SCHEDULE_LAG_WARN_MS, label: `warning limit ${SCHEDULE_LAG_WARN_MS} ms`, color: '#555' }],
  });
}

/** Points per decade of 1/(1−p) on a percentile curve. */
const CURVE_STEPS_PER_DECADE = 20;

/**
 * The percentile curve of an encoded HDR histogram (µs), in ms: points at x = 1/(1−p) spaced
 * evenly on a log scale from x = 1 (p = 0) up to the last sample (x = count), which is the maximum.
 * A decoded histogram only knows the top of the maximum's bucket: pass the exact maximum the
 * summary recorded (`maxMs`) and the curve ends there, as the tables do. Empty histograms give no points.
 */
export function percentileCurve(encoded: string, maxMs?: number | null): CurvePoint[] {
  const h = decodeHistogram(encoded);
  const count = h.totalCount;
  if (count === 0) return [];
  const maxUs = maxMs !== null && maxMs !== undefined && Number.isFinite(maxMs) ? Math.min(maxMs * 1000, h.maxValue) : h.maxValue;
  const out: CurvePoint[] = [];
  for (let k = 0; ; k++) {
    const x = 10 ** (k / CURVE_STEPS_PER_DECADE);
    if (x >= count) break;
    const p = 100 * (1 - 1 / x);
    out.push({ x: r3(x), percentile: Math.round(p * 1e4) / 1e4, value_ms: r3(Math.min(h.getValueAtPercentile(p), maxUs) / 1000) });
  }
  out.push({ x: count, percentile: 100, value_ms: r3(maxUs / 1000) });
  return out;
}

/** The x-axis ticks of a percentile curve, and the label expression that names them as percentiles. */
const CURVE_TICKS = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
const CURVE_LABEL_EXPR =
  "datum.value == 1 ? '0%' : datum.value == 2 ? '50%' : datum.value == 10 ? '90%' : datum.value == 100 ? '99%' : " +
  "datum.value == 1000 ? '99.9%' : datum.value == 10000 ? '99.99%' : datum.value == 100000 ? '99.999%' : " +
  "datum.value == 1000000 ? '99.9999%' : ''";

/** The metrics drawn as percentile curves, with their labels. */
export const CURVE_METRICS = { ttft: 'TTFT', itl: 'ITL', tpot: 'TPOT', e2e: 'E2E' } as const;
export type CurveMetric = keyof typeof CURVE_METRICS;

/** A latency distribution as an HdrHistogram-style percentile curve (x: percentile, log-scaled tail; y: ms). */
export function distributionChart(result: RunResult, metric: CurveMetric): ReportChart | null {
  const summary = result.summary.latency_ms[metric];
  if (!summary || summary.count === 0) return null;
  const curve = percentileCurve(summary.hdr, summary.max);
  if (curve.length === 0) return null;
  const label = CURVE_METRICS[metric];
  const count = summary.count;
  const xMax = Math.max(10, 10 ** Math.ceil(Math.log10(count)));
  const ticks = CURVE_TICKS.filter((t) => t <= xMax);
  const markers = PERCENTILES.flatMap((p) => {
    const v = summary[p];
    const pct = Number(p.slice(1));
    const x = 1 / (1 - pct / 100);
    return v === null || x > count ? [] : [{ x: r3(x), percentile: pct, value_ms: v, label: p }];
  });
  const x = {
    field: 'x',
    type: 'quantitative',
    scale: { type: 'log', domain: [1, xMax] as number[], nice: false },
    title: 'percentile (log scale of 1/(1−p): the tail stretched)',
    axis: { values: ticks, labelExpr: CURVE_LABEL_EXPR, grid: true },
  } as const;
  const y = { field: 'value_ms', type: 'quantitative', title: `${label} (ms)`, scale: { zero: true } } as const;
  return {
    id: `${metric}-distribution`,
    section: 'distribution',
    title: `${label} distribution (ms)`,
    caption: `${count.toLocaleString('en-US')} samples; p50 ${fmtMs(summary.p50)} ms, p99 ${fmtMs(summary.p99)} ms, max ${fmtMs(summary.max)} ms.`,
    spec: {
      $schema: SCHEMA,
      width: CURVE_CHART.width,
      height: CURVE_CHART.height,
      layer: [
        {
          data: { values: curve },
          mark: { type: 'line', color: '#444', strokeWidth: 1.8, interpolate: 'step-after', point: { size: 10, opacity: 0 } },
          encoding: {
            x,
            y,
            tooltip: [
              { field: 'percentile', type: 'quantitative', title: 'percentile (%)', format: '.4~f' },
              { field: 'value_ms', type: 'quantitative', title: `${label} (ms)`, format: ',.3~f' },
            ],
          },
        },
        {
          data: { values: markers },
          mark: { type: 'point', filled: true, size: 70, opacity: 1 },
          encoding: {
            x: { field: 'x', type: 'quantitative' },
            y: { field: 'value_ms', type: 'quantitative' },
            color: {
              field: 'label',
              type: 'nominal',
              scale: { domain: PERCENTILES, range: PERCENTILES.map((p) => PERCENTILE_COLORS[p]) },
              legend: { title: null, orient: 'top', direction: 'horizontal' },
            },
            tooltip: [
              { field: 'label', type: 'nominal', title: 'percentile' },
              { field: 'value_ms', type: 'quantitative', title: `${label} (ms)`, format: ',.3~f' },
            ],
          },
        },
      ],
      config: baseConfig(),
    },
  };
}

/** One step of a sweep as a chart row: the offered rate, a series, its value, and whether the step held. */
interface SweepRow {
  rate_per_s: number;
  series: string;
  value: number | null;
  sustainable: string;
}

/** Vertical markers of a sweep chart: the knee and the sustainable rate. */
function sweepMarkers(result: RunResult): LayerList {
  const cap = result.capacity;
  if (!cap) return [];
  const marks: { rate: number; label: string; color: string }[] = [];
  if (cap.sustainable_request_per_s !== null) marks.push({ rate: cap.sustainable_request_per_s, label: `sustainable ${cap.sustainable_request_per_s} req/s`, color: '#2ca02c' });
  if (cap.knee) marks.push({ rate: cap.knee.rate_per_s, label: `knee ≈ ${cap.knee.rate_per_s} req/s`, color: '#555' });
  return marks.flatMap((m, i): LayerList => [
    { data: { values: [m] }, mark: { type: 'rule', strokeDash: [5, 4], color: m.color }, encoding: { x: { field: 'rate', type: 'quantitative' } } },
    {
      data: { values: [m] },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3 + 12 * i, fontSize: 10, color: m.color, y: 0 },
      encoding: { x: { field: 'rate', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
    },
  ]);
}

function sweepChart(
  result: RunResult,
  o: {
    id: string;
    title: string;
    caption: string;
    yTitle: string;
    series: { name: string; color: string; dash?: number[]; value: (s: NonNullable<RunResult['capacity']>['steps'][number]) => number | null }[];
    /** SLO thresholds of this metric, drawn as horizontal dashed lines */
    sloMetric?: string;
  },
): ReportChart | null {
  const steps = [...(result.capacity?.steps ?? [])].sort((a, b) => a.rate_per_s - b.rate_per_s);
  if (steps.length === 0) return null;
  const rows: SweepRow[] = steps.flatMap((st) =>
    o.series.map((se) => {
      const v = se.value(st);
      return { rate_per_s: st.rate_per_s, series: se.name, value: v === null || !Number.isFinite(v) ? null : r3(v), sustainable: st.sustainable ? 'yes' : 'no' };
    }),
  );
  if (!rows.some((r) => r.value !== null)) return null;
  const names = o.series.map((s) => s.name);
  const maxData = maxOf(rows.map((r) => r.value ?? 0));
  const rules = o.sloMetric ? sloRules(result, o.sloMetric, maxData).rules : [];
  const ruleLayers: LayerList = rules.flatMap((rule): LayerList => [
    { data: { values: [rule] }, mark: { type: 'rule', strokeDash: [5, 4], strokeWidth: 1.2, color: rule.color }, encoding: { y: { field: 'value', type: 'quantitative' } } },
    {
      data: { values: [rule] },
      mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -2, x: 0, fontSize: 10, color: rule.color },
      encoding: { y: { field: 'value', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
    },
  ]);
  return {
    id: o.id,
    section: 'capacity',
    title: o.title,
    caption: o.caption,
    spec: {
      $schema: SCHEMA,
      width: TIME_CHART.width,
      height: 170,
      layer: [
        {
          data: { values: rows },
          mark: { type: 'line', strokeWidth: 1.8, invalid: 'break-paths-filter-domains', point: { filled: true, size: 40 } },
          encoding: {
            x: { field: 'rate_per_s', type: 'quantitative', title: 'offered rate (req/s)', scale: { zero: true } },
            y: { field: 'value', type: 'quantitative', title: o.yTitle, scale: { zero: true } },
            color: { field: 'series', type: 'nominal', scale: { domain: names, range: o.series.map((s) => s.color) }, legend: { title: null, orient: 'top', direction: 'horizontal', symbolType: 'stroke' } },
            strokeDash: { field: 'series', type: 'nominal', scale: { domain: names, range: o.series.map((s) => s.dash ?? [1, 0]) }, legend: { title: null, orient: 'top', direction: 'horizontal', symbolType: 'stroke' } },
            tooltip: [
              { field: 'series', type: 'nominal', title: 'series' },
              { field: 'rate_per_s', type: 'quantitative', title: 'offered rate (req/s)', format: ',.2~f' },
              { field: 'value', type: 'quantitative', title: o.yTitle, format: ',.2~f' },
              { field: 'sustainable', type: 'nominal', title: 'sustainable' },
            ],
          },
        },
        ...sweepMarkers(result),
        ...ruleLayers,
      ],
      config: baseConfig(),
    },
  };
}

/** A sweep's latency per offered rate: TTFT p50/p95/p99 of each step, with the knee and the sustainable rate. */
export function sweepLatencyChart(result: RunResult): ReportChart | null {
  return sweepChart(result, {
    id: 'sweep-latency',
    title: 'Sweep: TTFT per offered rate (ms)',
    caption: 'Each point is one step of the sweep held at a constant rate. Where the curves leave their low-load level is the knee; the sustainable rate is the highest step at which every SLO held and the server kept up.',
    yTitle: 'TTFT (ms)',
    series: PERCENTILES.map((p) => ({ name: `TTFT ${p}`, color: PERCENTILE_COLORS[p], value: (st) => st[`ttft_${p}_ms`] })),
    sloMetric: 'ttft_ms',
  });
}

/** A sweep's throughput per offered rate: completed requests against the offered rate (the diagonal). */
export function sweepThroughputChart(result: RunResult): ReportChart | null {
  return sweepChart(result, {
    id: 'sweep-throughput',
    title: 'Sweep: throughput per offered rate (req/s)',
    caption: 'Completed requests per second at each step. While the server keeps up they follow the offered rate (dashed); where they fall below it, requests pile up.',
    yTitle: 'throughput (req/s)',
    series: [
      { name: 'offered', color: '#555', dash: [6, 4], value: (st) => st.rate_per_s },
      { name: 'completed', color: '#2ca02c', value: (st) => st.request_per_s },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Slices of the run: turns of a session, request classes, models. Turn indices, class and model
// names are data values only (the class and model names come from the scenario or the server).

/** One turn index's TTFT percentile, with the figures its tooltip shows. */
export interface TurnRow {
  turn: number;
  series: 'p50' | 'p95';
  value_ms: number | null;
  completed: number;
  prompt_tokens_per_request: number | null;
  cached_token_ratio: number | null;
}

/** One turn index's prompt tokens per request: the part the server reported cached, and the rest. */
interface TurnTokensRow {
  turn: number;
  part: string;
  tokens: number;
}

const finiteOrNull = (v: number | null | undefined): number | null => (v === null || v === undefined || !Number.isFinite(v) ? null : r3(v));

/** Plot width of a chart with one band per item: wide enough for the items, never wider than the time charts. */
const bandWidth = (n: number): number => Math.min(TIME_CHART.width, Math.max(300, 48 * n));

/**
 * TTFT p50 and p95 of each turn index of the sessions, over the prompt tokens per request each
 * turn sent (the part reported cached set apart): later turns send the conversation so far, so
 * without a prefix cache their TTFT grows with the prompt, and with one it stays near turn 1's.
 */
export function turnTtftChart(result: RunResult): ReportChart | null {
  const turns = turnEntries(result);
  if (turns.length === 0) return null;
  const rows: TurnRow[] = turns.flatMap((t) =>
    (['p50', 'p95'] as const).map((p) => ({
      turn: t.turn,
      series: p,
      value_ms: finiteOrNull(t.summary.latency_ms.ttft[p]),
      completed: t.summary.requests.completed,
      prompt_tokens_per_request: finiteOrNull(promptTokensPerRequest(t.summary)),
      cached_token_ratio: finiteOrNull(t.summary.prefix?.cached_token_ratio),
    })),
  );
  if (!rows.some((r) => r.value_ms !== null)) return null;
  const anyCached = rows.some((r) => r.cached_token_ratio !== null);
  const parts = anyCached ? ['cached (server-reported)', 'not cached'] : ['prompt'];
  const tokenRows: TurnTokensRow[] = turns.flatMap((t) => {
    const per = promptTokensPerRequest(t.summary);
    if (per === null) return [];
    const ratio = t.summary.prefix?.cached_token_ratio ?? null;
    if (!anyCached) return [{ turn: t.turn, part: 'prompt', tokens: r3(per) }];
    const cached = ratio === null ? 0 : per * ratio;
    return [
      { turn: t.turn, part: 'cached (server-reported)', tokens: r3(cached) },
      { turn: t.turn, part: 'not cached', tokens: r3(per - cached) },
    ];
  });
  const turnAxis = { field: 'turn', type: 'ordinal', title: "turn of the session (1 = its first request)", axis: { labelAngle: 0, labelOverlap: true } } as const;
  const width = bandWidth(turns.length);
  const tooltip = [
    { field: 'turn', type: 'ordinal', title: 'turn' },
    { field: 'series', type: 'nominal', title: 'percentile' },
    { field: 'value_ms', type: 'quantitative', title: 'TTFT (ms)', format: ',.2~f' },
    { field: 'completed', type: 'quantitative', title: 'completed requests' },
    { field: 'prompt_tokens_per_request', type: 'quantitative', title: 'prompt tokens per request', format: ',.0f' },
    ...(anyCached ? [{ field: 'cached_token_ratio', type: 'quantitative', title: 'prompt tokens cached', format: '.1%' } as const] : []),
  ] as const;
  const panels: VConcatList = [
    {
      width,
      height: 170,
      data: { values: rows },
      mark: { type: 'line', strokeWidth: 1.8, invalid: 'break-paths-filter-domains', point: { filled: true, size: 40 } },
      encoding: {
        x: turnAxis,
        y: { field: 'value_ms', type: 'quantitative', title: 'TTFT (ms)', scale: { zero: true } },
        color: {
          field: 'series',
          type: 'nominal',
          scale: { domain: ['p50', 'p95'], range: [PERCENTILE_COLORS.p50, PERCENTILE_COLORS.p95] },
          legend: { title: null, orient: 'top', direction: 'horizontal', symbolType: 'stroke' },
        },
        tooltip: [...tooltip],
      },
    },
  ];
  if (tokenRows.length > 0)
    panels.push({
      width,
      height: 90,
      data: { values: tokenRows },
      mark: { type: 'bar' },
      encoding: {
        x: turnAxis,
        y: { field: 'tokens', type: 'quantitative', title: 'prompt (tokens)', stack: 'zero' },
        color: {
          field: 'part',
          type: 'nominal',
          scale: { domain: parts, range: anyCached ? ['#9467bd', '#c5b0d5'] : ['#c5b0d5'] },
          sort: parts,
          legend: { title: 'prompt tokens per request', orient: 'top', direction: 'horizontal' },
        },
        order: { field: 'part', type: 'nominal', sort: 'ascending' },
        tooltip: [
          { field: 'turn', type: 'ordinal', title: 'turn' },
          { field: 'part', type: 'nominal', title: 'part' },
          { field: 'tokens', type: 'quantitative', title: 'tokens per request', format: ',.0f' },
        ],
      },
    });
  return {
    id: 'turns-ttft',
    section: 'turns',
    title: 'TTFT by turn of a session: p50, p95 (ms)',
    caption: anyCached
      ? "Each later turn sends the conversation so far, so its prompt grows (below; the part the server reported cached in dark). With a prefix cache the turns' TTFT stays near turn 1's although the prompt grows; without one it grows with the prompt."
      : "Each later turn sends the conversation so far, so its prompt grows (below). With a prefix cache the turns' TTFT stays near turn 1's although the prompt grows; without one it grows with the prompt. The server reported no cached tokens.",
    spec: {
      $schema: SCHEMA,
      vconcat: panels,
      resolve: { scale: { color: 'independent' } },
      config: baseConfig(),
    },
  };
}

/** One slice (class or model) as a bar: its name, TTFT p95, and the figures of its tooltip. */
export interface SliceBarRow {
  name: string;
  ttft_p95_ms: number | null;
  ttft_p50_ms: number | null;
  completed: number;
  /** the class's own SLOs, e.g. `2/3 passed`; `-` without any (and for models) */
  slo: string;
}

/** A class's TTFT p95 threshold (its own, or the run's it kept), drawn as a tick on its bar. */
export interface SliceThresholdRow {
  name: string;
  threshold_ms: number;
  label: string;
  passed: string;
}

/** The p95 TTFT thresholds among a class's SLO verdicts (the ones a p95 bar can be read against). */
export function ttftP95Thresholds(verdicts: readonly SloVerdict[]): { value: number; label: string; passed: boolean }[] {
  const out: { value: number; label: string; passed: boolean }[] = [];
  for (const v of verdicts) {
    if (v.metric !== 'ttft_ms') continue;
    const t = parseThreshold(v.threshold);
    if (!t || t.aggregation.kind !== 'p' || t.aggregation.percentile !== 95 || !Number.isFinite(t.value)) continue;
    out.push({ value: t.value, label: `SLO p95 ${t.op} ${t.value} ms`, passed: v.passed });
  }
  return out;
}

function sliceBarChart(o: {
  id: string;
  section: ChartSection;
  title: string;
  caption: string;
  what: string;
  slices: { name: string; summary: RunSummary; slo: readonly SloVerdict[] | null }[];
}): ReportChart | null {
  if (o.slices.length === 0) return null;
  const rows: SliceBarRow[] = o.slices.map((c) => {
    const passed = c.slo === null || c.slo.length === 0 ? null : c.slo.filter((v) => v.passed).length;
    return {
      name: c.name,
      ttft_p95_ms: finiteOrNull(c.summary.latency_ms.ttft.p95),
      ttft_p50_ms: finiteOrNull(c.summary.latency_ms.ttft.p50),
      completed: c.summary.requests.completed,
      slo: passed === null ? '-' : `${passed}/${c.slo!.length} passed`,
    };
  });
  if (!rows.some((r) => r.ttft_p95_ms !== null)) return null;
  const ticks: SliceThresholdRow[] = o.slices.flatMap((c) =>
    ttftP95Thresholds(c.slo ?? []).map((t) => ({ name: c.name, threshold_ms: t.value, label: t.label, passed: t.passed ? 'yes' : 'no' })),
  );
  const names = o.slices.map((c) => c.name);
  // horizontal bars: long names read along the y axis, which gets room for them (the time charts' fixed extent is far too narrow)
  const y = {
    field: 'name',
    type: 'nominal',
    scale: { domain: names },
    title: null,
    axis: { minExtent: Y_AXIS_EXTENT, maxExtent: 220, labelLimit: 200 },
  } as const;
  const layers: LayerList = [
    {
      data: { values: rows },
      mark: { type: 'bar', color: PERCENTILE_COLORS.p95, height: { band: 0.7 } },
      encoding: {
        y,
        x: { field: 'ttft_p95_ms', type: 'quantitative', title: 'TTFT p95 (ms)', scale: { zero: true } },
        tooltip: [
          { field: 'name', type: 'nominal', title: o.what },
          { field: 'ttft_p95_ms', type: 'quantitative', title: 'TTFT p95 (ms)', format: ',.2~f' },
          { field: 'ttft_p50_ms', type: 'quantitative', title: 'TTFT p50 (ms)', format: ',.2~f' },
          { field: 'completed', type: 'quantitative', title: 'completed requests' },
          ...(o.slices.some((c) => c.slo !== null) ? [{ field: 'slo', type: 'nominal', title: 'its SLOs' } as const] : []),
        ],
      },
    },
  ];
  if (ticks.length > 0)
    layers.push({
      data: { values: ticks },
      mark: { type: 'tick', color: '#222', thickness: 3 },
      encoding: {
        y: { field: 'name', type: 'nominal' },
        x: { field: 'threshold_ms', type: 'quantitative' },
        tooltip: [
          { field: 'name', type: 'nominal', title: o.what },
          { field: 'label', type: 'nominal', title: 'threshold' },
          { field: 'passed', type: 'nominal', title: 'held' },
        ],
      },
    });
  return {
    id: o.id,
    section: o.section,
    title: o.title,
    caption: o.caption,
    spec: {
      $schema: SCHEMA,
      width: CURVE_CHART.width + 180,
      height: { step: 26 },
      layer: layers,
      config: baseConfig(),
    },
  };
}

/** TTFT p95 of each request class, with the class's own TTFT p95 threshold (a tick) where it has one. */
export function classTtftChart(result: RunResult): ReportChart | null {
  const classes = classEntries(result);
  const withTicks = classes.some(([, c]) => ttftP95Thresholds(c.slo).length > 0);
  return sliceBarChart({
    id: 'classes-ttft',
    section: 'classes',
    title: 'TTFT p95 per request class (ms)',
    caption: `Each class's requests alone.${withTicks ? " The dark tick is the TTFT p95 threshold the class is judged on (its own, or the run's where it sets none): a bar past its tick failed." : ''} Hover a bar for p50, the requests and the class's SLOs.`,
    what: 'class',
    slices: classes.map(([name, c]) => ({ name, summary: c.summary, slo: c.slo })),
  });
}

/** TTFT p95 of each model name of the mix (base model or adapter). */
export function modelTtftChart(result: RunResult): ReportChart | null {
  return sliceBarChart({
    id: 'models-ttft',
    section: 'models',
    title: 'TTFT p95 per model (ms)',
    caption: 'The requests sent to each model name alone (base model or adapter). Hover a bar for p50 and the requests.',
    what: 'model',
    slices: modelEntries(result).map(([name, m]) => ({ name, summary: m.summary, slo: null })),
  });
}

/** Every chart the report has data for, in page order. Charts without data are left out (the page says why). */
export function buildCharts(result: RunResult): ReportChart[] {
  const charts = [
    sweepLatencyChart(result),
    sweepThroughputChart(result),
    loadChart(result),
    traceArrivalChart(result),
    latencyOverTimeChart(result, 'ttft'),
    // right under TTFT: the queue is where TTFT comes from
    concurrencyChart(result),
    latencyOverTimeChart(result, 'itl'),
    latencyOverTimeChart(result, 'e2e'),
    tokenThroughputChart(result),
    kvCacheChart(result),
    prefixCacheChart(result),
    preemptionsChart(result),
    gpuUtilizationChart(result),
    gpuMemoryChart(result),
    otherServerSignalsChart(result),
    errorsOverTimeChart(result),
    classTtftChart(result),
    turnTtftChart(result),
    modelTtftChart(result),
    scheduleLagChart(result),
    ...(Object.keys(CURVE_METRICS) as CurveMetric[]).map((m) => distributionChart(result, m)),
  ];
  return charts.filter((c): c is ReportChart => c !== null);
}
