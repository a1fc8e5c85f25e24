// history.html's charts as vega-lite specs: one chart per figure (TTFT, ITL, TPOT and E2E at
// p50/p95/p99, throughput, output tokens, goodput and error ratio, capacity per GPU), every one
// over the same time axis (when each run started, UTC). Each run is a point that links to its
// report.html; a run that regressed gets a red dashed rule across every chart, and each figure
// that regressed a red ring around its point. Run ids and nights are data values only, never
// field names or expressions.
import type { TopLevelSpec } from 'vega-lite';
import { fmtChange } from './compare-markdown.js';
import { PERCENTILE_COLORS, TIME_CHART } from './charts.js';
import { HISTORY_METRIC_INFO, type History, type HistoryMetricKey } from './history.js';

/** One chart of the history page. */
export interface HistoryChart {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

/** One point: a run's value of one figure. */
export interface HistoryPoint {
  /** when the run started, ms since the epoch (UTC) */
  at: number;
  night: string;
  run: string;
  series: string;
  value: number;
  /** the run's report.html relative to the history ('' when there is none: no link) */
  href: string;
  verdict: string;
  /** `+21.0 % (regression)` when this figure regressed in this run, else '' */
  change: string;
}

/** Plot height of each chart, px (the width is the report's time charts'). */
const HEIGHT = 170;

/** The colour of a regression, in the charts and the page. */
export const REGRESSION_COLOR = '#b42318';

interface Group {
  id: string;
  title: string;
  caption: string;
  yTitle: string;
  format: string;
  series: { name: string; key: HistoryMetricKey; color: string }[];
}

const percentiles = (m: 'ttft' | 'itl' | 'tpot' | 'e2e'): Group['series'] => [
  { name: 'p50', key: `${m}_p50_ms`, color: PERCENTILE_COLORS.p50 },
  { name: 'p95', key: `${m}_p95_ms`, color: PERCENTILE_COLORS.p95 },
  { name: 'p99', key: `${m}_p99_ms`, color: PERCENTILE_COLORS.p99 },
];

const GROUPS: Group[] = [
  {
    id: 'ttft',
    title: 'Time to first token (TTFT) per run',
    caption: 'The whole-run p50, p95 and p99 of every run (warm-up excluded). A red ring marks a percentile the gate called a regression that night.',
    yTitle: 'TTFT (ms)',
    format: ',.1f',
    series: percentiles('ttft'),
  },
  {
    id: 'itl',
    title: 'Inter-token latency (ITL) per run',
    caption: 'The gap between streamed tokens: p50, p95 and p99 of every run.',
    yTitle: 'ITL (ms)',
    format: ',.2f',
    series: percentiles('itl'),
  },
  {
    id: 'tpot',
    title: 'Time per output token (TPOT) per run',
    caption: 'Per request, (E2E − TTFT) / (output tokens − 1): p50, p95 and p99 of every run.',
    yTitle: 'TPOT (ms)',
    format: ',.2f',
    series: percentiles('tpot'),
  },
  {
    id: 'e2e',
    title: 'End-to-end latency (E2E) per run',
    caption: 'From sending a request to its last token: p50, p95 and p99 of every run.',
    yTitle: 'E2E (ms)',
    format: ',.1f',
    series: percentiles('e2e'),
  },
  {
    id: 'throughput',
    title: 'Throughput and goodput per run',
    caption: 'Requests completed per second, and those that met every SLO (goodput). At a fixed arrival rate these follow the rate; a drop means requests failed or were cut.',
    yTitle: 'req/s',
    format: ',.2f',
    series: [
      { name: 'requests completed', key: 'request_per_s', color: '#2ca02c' },
      { name: 'goodput', key: 'goodput_request_per_s', color: '#9467bd' },
    ],
  },
  {
    id: 'output-tokens',
    title: 'Output tokens per second per run',
    caption: 'Output tokens the server streamed per second over each run.',
    yTitle: 'tok/s',
    format: ',.0f',
    series: [{ name: 'output tokens', key: 'output_tokens_per_s', color: '#17becf' }],
  },
  {
    id: 'ratios',
    title: 'Goodput ratio and error ratio per run',
    caption: 'Goodput ratio: the share of completed requests that met every SLO. Error ratio: failed / (completed + failed).',
    yTitle: 'share of requests',
    format: '.2%',
    series: [
      { name: 'goodput ratio', key: 'goodput_ratio', color: '#9467bd' },
      { name: 'error ratio', key: 'error_ratio', color: '#8c564b' },
    ],
  },
  {
    id: 'capacity',
    title: 'Capacity per GPU (sweeps)',
    caption: 'The sustainable rate a sweep found under the SLOs, divided by the GPUs serving it. Judged against the earlier sweeps of the same workload.',
    yTitle: 'req/s per GPU',
    format: ',.3f',
    series: [{ name: 'capacity per GPU', key: 'capacity_per_gpu_request_per_s', color: '#393b79' }],
  },
];

/** The page's charts: one per figure group with data for a selected metric. */
export function buildHistoryCharts(h: History): HistoryChart[] {
  const selected = new Set(h.metrics);
  const times = h.runs.map((r) => Date.parse(r.started_at));
  const domain: [number, number] = [Math.min(...times), Math.max(...times)];
  const regressedNights = h.runs
    .map((r, i) => ({ at: times[i]!, night: r.night, run: r.id, label: 'regression' }))
    .filter((_, i) => h.runs[i]!.verdict === 'regression');
  const charts: HistoryChart[] = [];
  for (const g of GROUPS) {
    const series = g.series.filter((s) => selected.has(s.key));
    const points: HistoryPoint[] = [];
    h.runs.forEach((r, i) => {
      for (const s of series) {
        const v = r.values[s.key];
        if (v === null) continue;
        const reg = r.regressions.find((c) => c.metric === s.key);
        points.push({
          at: times[i]!,
          night: r.night,
          run: r.id,
          series: s.name,
          value: v,
          href: r.report ?? '',
          verdict: r.verdict === 'not judged' ? `not judged: ${r.not_judged ?? ''}` : r.verdict,
          change: reg ? `${fmtChange(reg)} (regression)` : '',
        });
      }
    });
    if (points.length === 0) continue;
    charts.push({ id: g.id, title: g.title, caption: g.caption, spec: spec(g, series, points, regressedNights, domain) });
  }
  return charts;
}

type LayerList = NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']>;

function spec(g: Group, series: Group['series'], points: HistoryPoint[], regressed: { at: number; night: string; run: string; label: string }[], domain: [number, number]): TopLevelSpec {
  const names = series.map((s) => s.name);
  // padding in px keeps the first and last points whole (an explicit temporal domain compiles to
  // a domain vega warns about: "Infinite extent for field data")
  // ticks on whole days (about ten of them) when the runs span days, dates as the runs are labelled
  const spanDays = (domain[1] - domain[0]) / 86_400_000;
  const axis =
    spanDays >= 2
      ? { format: '%Y-%m-%d', tickCount: { interval: 'day' as const, step: Math.max(1, Math.ceil(spanDays / 10)) }, labelAngle: 0 }
      : { format: '%Y-%m-%d %H:%M', labelAngle: 0 };
  const x = { field: 'at', type: 'temporal', scale: { type: 'utc', padding: 16, nice: false }, axis, title: 'run started (UTC)' } as const;
  const y = { field: 'value', type: 'quantitative', title: g.yTitle, scale: { zero: true }, axis: { format: g.format === '.2%' ? '.0%' : '~s' } } as const;
  const color = {
    field: 'series',
    type: 'nominal',
    scale: { domain: names, range: series.map((s) => s.color) },
    legend: { title: null, orient: 'top', direction: 'horizontal' },
  } as const;
  const tooltip = [
    { field: 'night', type: 'nominal', title: 'run started' },
    { field: 'run', type: 'nominal', title: 'run' },
    { field: 'series', type: 'nominal', title: 'series' },
    { field: 'value', type: 'quantitative', title: g.yTitle, format: g.format },
    { field: 'verdict', type: 'nominal', title: 'gate' },
    { field: 'change', type: 'nominal', title: 'regressed' },
  ] as const;
  // every chart spans all the runs, whichever have this figure: the time axes line up
  const layers: LayerList = [{ data: { values: domain.map((at) => ({ at })) }, mark: { type: 'rule', opacity: 0 }, encoding: { x } }];
  if (regressed.length > 0)
    layers.push(
      {
        data: { values: regressed },
        mark: { type: 'rule', color: REGRESSION_COLOR, strokeDash: [4, 3], strokeWidth: 1.5, opacity: 0.7 },
        encoding: { x },
      },
      {
        data: { values: regressed },
        // at the foot of the rule, where the points rarely are
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 3, dy: -2, y: HEIGHT, fontSize: 10, color: REGRESSION_COLOR },
        encoding: { x, text: { field: 'label', type: 'nominal' } },
      },
    );
  layers.push(
    { mark: { type: 'line', strokeWidth: 1.6 }, encoding: { x, y, color } },
    {
      mark: { type: 'point', filled: true, size: 46, opacity: 1 },
      encoding: { x, y, color, tooltip: [...tooltip], href: { field: 'href', type: 'nominal' } },
    },
  );
  // a ring around the points of a figure that regressed that night (no layer without any: an
  // empty layer has no extent, and vega warns about it)
  if (points.some((p) => p.change !== ''))
    layers.push({
      transform: [{ filter: { not: { field: 'change', oneOf: [''] } } }],
      mark: { type: 'point', filled: false, size: 260, strokeWidth: 2.5, color: REGRESSION_COLOR, opacity: 1 },
      encoding: { x, y, tooltip: [...tooltip], href: { field: 'href', type: 'nominal' } },
    });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: TIME_CHART.width,
    height: HEIGHT,
    data: { values: points },
    layer: layers,
    config: {
      font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
      axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', titleColor: '#333', gridColor: '#e8e8e8' },
      axisY: { minExtent: 52, maxExtent: 52 },
      legend: { labelFontSize: 11, labelLimit: 260 },
      view: { stroke: '#ccc' },
    },
  };
}
