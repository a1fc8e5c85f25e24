// The report's vega-lite specs as data: they compile cleanly, share one time axis, keep the
// percentile colours, carry units, leave out what has no data, and keep user strings as data only.
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { encodeHistogram, newHistogram, recordUs, summarizeMs } from '../../../src/metrics/hdr.js';
import {
  buildCharts,
  concurrencyChart,
  distributionChart,
  errorsOverTimeChart,
  gpuUtilizationChart,
  latencyOverTimeChart,
  loadChart,
  percentileCurve,
  PERCENTILE_COLORS,
  signalFamilies,
  signalUnit,
  sweepLatencyChart,
  sweepThroughputChart,
  timeDomainS,
  type ReportChart,
} from '../../../src/report/charts.js';
import { HOSTILE, syntheticResult, withHostileStrings } from './fixtures.js';

const withServer = syntheticResult({ server: true });
const plain = syntheticResult();
const noneCompleted = syntheticResult({ noneCompleted: true });

/** Every object in a spec that has the given key, depth first. */
function collect(node: unknown, key: string, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(node)) for (const x of node) collect(x, key, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (key in o) out.push(o);
    for (const v of Object.values(o)) collect(v, key, out);
  }
  return out;
}

/** The x / y encodings of every (sub)spec. */
function encodings(spec: TopLevelSpec, channel: 'x' | 'y'): Record<string, unknown>[] {
  return collect(spec, 'encoding').flatMap((o) => {
    const enc = (o.encoding as Record<string, unknown>)[channel];
    return enc && typeof enc === 'object' ? [enc as Record<string, unknown>] : [];
  });
}

function compileWarnings(spec: TopLevelSpec): string[] {
  const warnings: string[] = [];
  const note = (prefix: string) => (...a: unknown[]): void => void warnings.push(prefix + a.join(' '));
  const logger: { level(): unknown; error(...a: unknown[]): void; warn(...a: unknown[]): void; info(): void; debug(): void } = {
    level: () => logger,
    error: note('error: '),
    warn: note(''),
    info: () => undefined,
    debug: () => undefined,
  };
  compile(spec, { logger: logger as never });
  return warnings;
}

const timeCharts = (charts: ReportChart[]): ReportChart[] => charts.filter((c) => c.section !== 'distribution');

describe('buildCharts', () => {
  it('draws every chart of a run with server signals, and each compiles without a warning', () => {
    const charts = buildCharts(withServer);
    expect(charts.map((c) => c.id)).toEqual([
      'load',
      'ttft-over-time',
      'concurrency',
      'itl-over-time',
      'e2e-over-time',
      'tokens',
      'kv-cache',
      'prefix-cache',
      'preemptions',
      'gpu-utilization',
      'gpu-memory',
      'server-other',
      'errors',
      'schedule-lag',
      'ttft-distribution',
      'itl-distribution',
      'tpot-distribution',
      'e2e-distribution',
    ]);
    for (const c of charts) expect(compileWarnings(c.spec), c.id).toEqual([]);
    expect(new Set(charts.map((c) => c.id)).size).toBe(charts.length);
  });

  it('is a pure function: same charts for the same result, and the result is not touched', () => {
    const before = JSON.stringify(withServer);
    expect(JSON.stringify(buildCharts(withServer))).toBe(JSON.stringify(buildCharts(withServer)));
    expect(JSON.stringify(withServer)).toBe(before);
  });

  it('gives every chart about time one x domain: 0 to the end of the last window', () => {
    const domain = timeDomainS(withServer);
    expect(domain).toEqual([0, 60]);
    for (const c of timeCharts(buildCharts(withServer))) {
      const xs = encodings(c.spec, 'x').filter((x) => x.scale !== undefined);
      expect(xs.length, c.id).toBeGreaterThan(0);
      for (const x of xs) {
        expect(x.scale, c.id).toMatchObject({ domain, nice: false });
        expect(x.title, c.id).toBe('time since run start (s)');
      }
    }
  });

  it('puts a unit on every axis title', () => {
    for (const c of buildCharts(withServer)) {
      for (const ch of ['x', 'y'] as const) {
        const titled = encodings(c.spec, ch).filter((e) => typeof e.title === 'string');
        expect(titled.length, `${c.id} ${ch}`).toBeGreaterThan(0);
        for (const e of titled) expect(e.title, `${c.id} ${ch}`).toMatch(/\(.+\)|^(%|ms|s|W|GiB|1\/s|value)$/);
      }
    }
  });

  it('keeps one colour per percentile in every latency chart and distribution', () => {
    const expected = { domain: ['p50', 'p95', 'p99'], range: [PERCENTILE_COLORS.p50, PERCENTILE_COLORS.p95, PERCENTILE_COLORS.p99] };
    for (const m of ['ttft', 'itl', 'e2e'] as const) {
      const c = latencyOverTimeChart(withServer, m)!;
      const colors = collect(c.spec, 'encoding').map((o) => (o.encoding as Record<string, { scale?: unknown }>).color).filter(Boolean);
      expect(colors[0]!.scale).toEqual(expected);
    }
    for (const m of ['ttft', 'itl', 'tpot', 'e2e'] as const) {
      const c = distributionChart(withServer, m)!;
      const colors = collect(c.spec, 'encoding').map((o) => (o.encoding as Record<string, { scale?: unknown }>).color).filter(Boolean);
      expect(colors.map((x) => x!.scale)).toEqual([expected]);
    }
    // no other chart reuses a percentile colour for something that is not a percentile
    const percentileColors = new Set(Object.values(PERCENTILE_COLORS));
    for (const id of ['load', 'concurrency', 'tokens', 'kv-cache', 'gpu-utilization', 'gpu-memory', 'errors']) {
      const c = buildCharts(withServer).find((x) => x.id === id)!;
      const ranges = collect(c.spec, 'range').flatMap((o) => o.range as string[]);
      for (const color of ranges) if (typeof color === 'string' && color.startsWith('#')) expect(percentileColors.has(color as never), `${id} ${color}`).toBe(false);
    }
  });

  it('draws percentile SLO thresholds on the latency charts, and names those far above the data instead', () => {
    const ttft = latencyOverTimeChart(withServer, 'ttft')!;
    const rules = collect(ttft.spec, 'mark').filter((o) => (o.mark as { type?: string }).type === 'rule');
    expect(rules).toHaveLength(1);
    expect((rules[0]!.data as { values: { value: number; color: string }[] }).values[0]).toMatchObject({ value: 500, color: PERCENTILE_COLORS.p95 });
    const low = structuredClone(plain);
    low.slo = [{ name: 'ttft_ms: p(95)<900000', metric: 'ttft_ms', threshold: 'p(95)<900000', observed: 1, passed: true, abort_on_fail: false }];
    const far = latencyOverTimeChart(low, 'ttft')!;
    expect(collect(far.spec, 'mark').filter((o) => (o.mark as { type?: string }).type === 'rule')).toHaveLength(0);
    expect(far.caption).toContain('SLO p95 < 900000 ms: far above this chart');
  });

  it('shades the warm-up on every time chart', () => {
    for (const c of timeCharts(buildCharts(withServer)).filter((x) => x.id !== 'server-other')) {
      const bands = collect(c.spec, 'mark').filter((o) => (o.mark as { type?: string }).type === 'rect' && (o.data as { values?: { to: number }[] } | undefined)?.values?.[0]?.to === 10);
      expect(bands, c.id).toHaveLength(1);
    }
    expect(collect(loadChart(syntheticResult({ warmupS: 0 }))!.spec, 'mark').filter((o) => (o.mark as { type?: string }).type === 'rect')).toHaveLength(0);
  });

  it('leaves out the server charts when nothing was scraped, and the client view stays', () => {
    const ids = buildCharts(plain).map((c) => c.id);
    for (const id of ['kv-cache', 'preemptions', 'gpu-utilization', 'gpu-memory', 'server-other']) expect(ids).not.toContain(id);
    const conc = concurrencyChart(plain)!;
    expect((conc.spec as { layer: { encoding?: { color?: { scale?: { domain?: string[] } } } }[] }).layer.flatMap((l) => l.encoding?.color?.scale?.domain ?? [])).toEqual([
      'client: in flight (max)',
    ]);
  });

  it('with zero completed requests draws load, in-flight and errors, and no latency', () => {
    const ids = buildCharts(noneCompleted).map((c) => c.id);
    expect(ids).toEqual(['load', 'concurrency', 'errors']);
    for (const c of buildCharts(noneCompleted)) expect(compileWarnings(c.spec), c.id).toEqual([]);
  });

  it('draws load as target, sent and completed per second (req/s)', () => {
    const c = loadChart(withServer)!;
    const rows = (c.spec as { data: { values: { series: string; t_s: number; value: number }[] } }).data.values;
    const at = (series: string, t: number): number | undefined => rows.find((r) => r.series === series && r.t_s === t)?.value;
    const w = withServer.windows[20]!;
    expect(at('target (scheduled arrivals)', 20.5)).toBe(w.arrivals);
    expect(at('sent', 20.5)).toBe(w.sent);
    expect(at('completed', 20.5)).toBe(w.completed);
  });

  it('stacks failures per second by error class with a fixed colour per class', () => {
    const c = errorsOverTimeChart(withServer)!;
    const color = collect(c.spec, 'encoding')
      .map((o) => (o.encoding as Record<string, { scale?: { domain: string[]; range: string[] } }>).color)
      .find(Boolean)!;
    expect(color.scale!.domain).toEqual(['http_429', 'timeout']);
    expect(color.scale!.range).toEqual(['#e377c2', '#bcbd22']);
    expect(errorsOverTimeChart(syntheticResult({ windows: 20 }))).toBeNull();
  });

  it('draws one line per GPU, with SM activity dashed when reported', () => {
    const r = structuredClone(withServer);
    for (const w of r.windows) for (const g of w.gpus ?? []) g.gpu_sm_active_ratio = 0.5;
    const c = gpuUtilizationChart(r)!;
    const enc = collect(c.spec, 'encoding').map((o) => o.encoding as Record<string, { scale?: { domain: string[]; range: unknown[] } }>);
    const main = enc.find((e) => e.strokeDash)!;
    expect(main.color!.scale!.domain).toEqual(['GPU 0 busy', 'GPU 0 SM active', 'GPU 1 busy', 'GPU 1 SM active']);
    expect(main.color!.scale!.range[0]).toBe(main.color!.scale!.range[1]);
    expect(main.strokeDash!.scale!.range[1]).toEqual([6, 4]);
  });

  it('groups other server signals by family and shows server latencies in ms', () => {
    expect([...signalFamilies(['server_ttft_s_p50', 'server_ttft_s_mean', 'gpu_power_watts']).entries()]).toEqual([
      ['server_ttft_s', ['server_ttft_s_p50', 'server_ttft_s_mean']],
      ['gpu_power_watts', ['gpu_power_watts']],
    ]);
    expect(signalUnit('server_ttft_s_p95')).toEqual({ unit: 'ms', scale: 1000 });
    expect(signalUnit('kv_cache_usage_ratio')).toEqual({ unit: '%', scale: 100 });
    expect(signalUnit('gpu_memory_used_bytes').unit).toBe('GiB');
    expect(signalUnit('preemptions_per_s').unit).toBe('1/s');
  });

  it('keeps hostile strings as data values: never a field name, never inside an expression', () => {
    const charts = buildCharts(withHostileStrings(withServer));
    const fields = new Set(collect(charts.map((c) => c.spec), 'field').map((o) => o.field));
    for (const f of fields) expect(typeof f === 'string' && /^[a-z0-9_]+$/.test(f), String(f)).toBe(true);
    const exprs = [...collect(charts.map((c) => c.spec), 'labelExpr'), ...collect(charts.map((c) => c.spec), 'expr')].map((o) => JSON.stringify(o));
    for (const e of exprs) for (const h of HOSTILE) expect(e).not.toContain(h);
    // and the hostile GPU ids are there, as values
    const gpu = charts.find((c) => c.id === 'gpu-utilization')!;
    expect(JSON.stringify(gpu.spec)).toContain(JSON.stringify(`GPU ${HOSTILE[0]} busy`).slice(1, -1));
    for (const c of charts) expect(compileWarnings(c.spec), c.id).toEqual([]);
  });
});

describe('spike band', () => {
  it('shades the spike and marks the recovery on every time chart', () => {
    const r = syntheticResult({ server: true, spikeSoak: true });
    for (const c of timeCharts(buildCharts(r)).filter((x) => x.id !== 'server-other')) {
      const rects = collect(c.spec, 'mark').filter((o) => (o.mark as { type?: string }).type === 'rect' && (o.data as { values?: { label?: string }[] } | undefined)?.values?.[0]?.label === 'spike');
      expect(rects, c.id).toHaveLength(1);
      expect((rects[0]!.data as { values: { from: number; to: number }[] }).values[0]).toMatchObject({ from: 30, to: 45 });
      const recovered = collect(c.spec, 'data').filter((o) => (o.data as { values?: { label?: string; at?: number }[] }).values?.[0]?.label === 'recovered');
      expect(recovered.length, c.id).toBe(2);
    }
    for (const c of buildCharts(r)) expect(compileWarnings(c.spec), c.id).toEqual([]);
  });
});

describe('sweep charts', () => {
  const sweep = syntheticResult({ server: true, capacity: true });

  it('come first, compile cleanly, and draw latency per offered rate in the percentile colours', () => {
    const charts = buildCharts(sweep);
    expect(charts.slice(0, 2).map((c) => c.id)).toEqual(['sweep-latency', 'sweep-throughput']);
    for (const c of charts.slice(0, 2)) expect(compileWarnings(c.spec), c.id).toEqual([]);
    const lat = sweepLatencyChart(sweep)!;
    const color = collect(lat.spec, 'encoding')
      .map((o) => (o.encoding as Record<string, { scale?: { domain: string[]; range: string[] } }>).color)
      .find(Boolean)!;
    expect(color.scale).toEqual({ domain: ['TTFT p50', 'TTFT p95', 'TTFT p99'], range: [PERCENTILE_COLORS.p50, PERCENTILE_COLORS.p95, PERCENTILE_COLORS.p99] });
    expect(encodings(lat.spec, 'x')[0]!.title).toBe('offered rate (req/s)');
  });

  it('mark the knee and the sustainable rate', () => {
    const rules = collect(sweepThroughputChart(sweep)!.spec, 'mark')
      .filter((o) => (o.mark as { type?: string }).type === 'rule')
      .map((o) => (o.data as { values: { rate: number; label: string }[] }).values[0]);
    expect(rules).toEqual([
      expect.objectContaining({ rate: 40, label: 'sustainable 40 req/s' }),
      expect.objectContaining({ rate: 33.3, label: 'knee ≈ 33.3 req/s' }),
    ]);
    expect(sweepLatencyChart(withServer)).toBeNull();
  });
});

describe('percentileCurve', () => {
  it('runs from x = 1 to the last sample, never decreasing, and ends at the maximum', () => {
    const h = newHistogram();
    for (let i = 1; i <= 10_000; i++) recordUs(h, i * 100);
    const curve = percentileCurve(encodeHistogram(h), summarizeMs(h).max);
    expect(curve[0]).toMatchObject({ x: 1, percentile: 0 });
    // the maximum as the summary reports it (the top of its HDR bucket)
    expect(curve[curve.length - 1]).toEqual({ x: 10_000, percentile: 100, value_ms: summarizeMs(h).max });
    for (let i = 1; i < curve.length; i++) {
      expect(curve[i]!.x).toBeGreaterThan(curve[i - 1]!.x);
      expect(curve[i]!.value_ms).toBeGreaterThanOrEqual(curve[i - 1]!.value_ms);
    }
    const p99 = curve.find((p) => p.x === 100)!;
    expect(p99.percentile).toBe(99);
    expect(p99.value_ms).toBeCloseTo(990, 0);
    // 20 points a decade, four decades
    expect(curve.length).toBe(81);
  });

  it('gives nothing for an empty histogram and one point for one sample', () => {
    expect(percentileCurve(encodeHistogram(newHistogram()))).toEqual([]);
    const h = newHistogram();
    recordUs(h, 5000);
    expect(percentileCurve(encodeHistogram(h), 5)).toEqual([{ x: 1, percentile: 100, value_ms: 5 }]);
    // without the exact maximum, the top of its bucket
    expect(percentileCurve(encodeHistogram(h))[0]!.value_ms).toBeCloseTo(5, 1);
  });

  it('is what the distribution chart draws, with the tail on a log axis labelled in percentiles', () => {
    const c = distributionChart(withServer, 'ttft')!;
    const x = encodings(c.spec, 'x').find((e) => e.scale)!;
    expect(x.scale).toMatchObject({ type: 'log' });
    expect((x.axis as { values: number[] }).values).toEqual([1, 10, 100, 1000, 10000]);
    expect(JSON.stringify(c.spec)).toContain(JSON.stringify(percentileCurve(withServer.summary.latency_ms.ttft.hdr, withServer.summary.latency_ms.ttft.max)));
    expect(distributionChart(noneCompleted, 'ttft')).toBeNull();
  });
});

describe('a long run', () => {
  it('charts 200 000 windows (spreading their values into Math.max overflowed the stack)', () => {
    const r = syntheticResult({ server: true, windows: 12, warmupS: 2 });
    const w = r.windows[8]!;
    r.windows = Array.from({ length: 200_000 }, (_, i) => ({ ...w, t_s: i }));
    const chart = latencyOverTimeChart(r, 'ttft');
    expect(chart?.id).toBe('ttft-over-time');
  });
});
