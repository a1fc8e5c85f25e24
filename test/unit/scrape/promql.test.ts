// PromQL as the source of server signals, without a Prometheus: the query set generated from the
// profiles (vLLM, DCGM, Triton, every rule of every profile), the deployment's selector parsed and
// written back safely, /api/v1/query answers read, and the source against a stand-in Prometheus
// (per-replica signals, counters with a restart, GPUs of two nodes, failures that never throw,
// credentials masked). The real Prometheus is test/integration/promql-sim.test.ts.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runClock } from '../../../src/core/clock.js';
import { parseExposition } from '../../../src/scrape/parser.js';
import { PROFILES } from '../../../src/scrape/profiles.js';
import { PromqlSource, serverSignalSource, type PromqlSample, type PrometheusTarget } from '../../../src/scrape/promql.js';
import { Scraper } from '../../../src/scrape/poller.js';
import {
  buildPlan,
  detectionQuery,
  matchesLabels,
  parseQueryAnswer,
  parseSelector,
  planQueries,
  promDurationS,
  promFloat,
  promString,
  rateRangeS,
  selectorText,
  vectorSelector,
} from '../../../src/scrape/promql-query.js';

const fixtureNames = (file: string): string[] => {
  const parsed = parseExposition(readFileSync(new URL(`../../fixtures/metrics/${file}`, import.meta.url), 'utf8'));
  return [...new Set(parsed.families.flatMap((f) => f.samples.map((s) => s.name)))];
};

const SEL = parseSelector('{namespace="prod",job="vllm"}');
const S = 'namespace="prod",job="vllm"';

describe('queries generated from the profiles', () => {
  it('vLLM V1 (a real capture\'s names): gauges summed or averaged, counters as rates and totals, histograms as quantiles and means', () => {
    const plan = buildPlan({ names: fixtureNames('vllm-v1-0.11-idle.prom'), matchers: SEL, replicaLabel: 'instance', rangeS: 60 });
    expect(plan.profiles).toEqual(['vllm']);
    const gauge = (s: string) => plan.gauges.find((g) => g.signal === s)!;
    expect(gauge('queue_depth').total).toBe(`sum(vllm:num_requests_waiting{${S}})`);
    expect(gauge('queue_depth').perReplica).toBe(`sum by (instance) (vllm:num_requests_waiting{${S}})`);
    expect(gauge('requests_running').total).toBe(`sum(vllm:num_requests_running{${S}})`);
    // a ratio averages over replicas; V1's name wins over V0's
    expect(gauge('kv_cache_usage_ratio').total).toBe(`avg(vllm:kv_cache_usage_perc{${S}})`);
    expect(gauge('kv_cache_usage_ratio').perReplica).toBe(`avg by (instance) (vllm:kv_cache_usage_perc{${S}})`);
    // V0's gauge is not in a V1 capture: no query for it
    expect(plan.gauges.map((g) => g.signal)).not.toContain('prefix_cache_hit_ratio');

    const gen = plan.counters.find((c) => c.counter === 'generation_tokens')!;
    expect(gen.rate).toBe(`sum(rate(vllm:generation_tokens_total{${S}}[60s]))`);
    expect(gen.ratePerReplica).toBe(`sum by (instance) (rate(vllm:generation_tokens_total{${S}}[60s]))`);
    expect(gen.totalPerReplica).toBe(`sum by (instance) (vllm:generation_tokens_total{${S}})`);
    expect(plan.counters.map((c) => c.counter).sort()).toEqual(['generation_tokens', 'preemptions', 'prefix_cache_hits', 'prefix_cache_queries', 'prompt_tokens']);

    const ttft = plan.histograms.find((h) => h.signal === 'server_ttft_s')!;
    expect(ttft.quantiles.map((q) => q.query)).toEqual(
      [0.5, 0.95, 0.99].map((q) => `histogram_quantile(${q}, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{${S}}[60s])))`),
    );
    expect(ttft.mean).toBe(`sum(rate(vllm:time_to_first_token_seconds_sum{${S}}[60s])) / sum(rate(vllm:time_to_first_token_seconds_count{${S}}[60s]))`);
    // V1's inter-token latency, not V0's time_per_output_token (both are in 0.11)
    expect(plan.histograms.find((h) => h.signal === 'server_itl_s')!.source).toBe('vllm:inter_token_latency_seconds');
    expect(plan.gpus).toEqual([]);
  });

  it('vLLM V0 and counters without _total: the later sources of each rule', () => {
    const plan = buildPlan({
      names: ['vllm:gpu_cache_usage_perc', 'vllm:generation_tokens', 'vllm:time_per_output_token_seconds_bucket', 'vllm:time_per_output_token_seconds_count'],
      matchers: [],
      replicaLabel: 'pod',
      rangeS: 4,
    });
    expect(plan.gauges).toEqual([{ signal: 'kv_cache_usage_ratio', source: 'vllm:gpu_cache_usage_perc', total: 'avg(vllm:gpu_cache_usage_perc)', perReplica: 'avg by (pod) (vllm:gpu_cache_usage_perc)' }]);
    expect(plan.counters[0]!.rate).toBe('sum(rate(vllm:generation_tokens[4s]))');
    expect(plan.histograms[0]!.signal).toBe('server_itl_s');
    expect(plan.histograms[0]!.source).toBe('vllm:time_per_output_token_seconds');
  });

  it('DCGM (a real capture\'s names): one row per GPU by its index, UUID and node, units converted', () => {
    const plan = buildPlan({ names: fixtureNames('dcgm-exporter-l4-prof.prom'), matchers: SEL, replicaLabel: 'instance', rangeS: 60 });
    expect(plan.profiles).toEqual(['dcgm']);
    const by = 'gpu, minor_number, UUID, uuid, gpu_uuid, Hostname, instance';
    const q = (signal: string) => plan.gpus.filter((g) => g.signal === signal).map((g) => g.query);
    expect(q('gpu_utilization_ratio')).toEqual([`(avg by (${by}) (DCGM_FI_DEV_GPU_UTIL{${S}})) * 0.01`]);
    expect(q('gpu_memory_used_bytes')).toEqual([`(sum by (${by}) (DCGM_FI_DEV_FB_USED{${S}})) * 1048576`]);
    expect(q('gpu_power_watts')).toEqual([`sum by (${by}) (DCGM_FI_DEV_POWER_USAGE{${S}})`]);
    // no SM_ACTIVE in this capture: the graphics-engine activity stands in
    expect(q('gpu_sm_active_ratio')).toEqual([`avg by (${by}) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{${S}})`]);
    expect(plan.gauges).toEqual([]);
    expect(plan.counters).toEqual([]);
  });

  it('Triton: label values of a rule stay in the selector, millisecond histograms are scaled to seconds', () => {
    const plan = buildPlan({
      names: ['nv_trt_llm_request_metrics', 'nv_inference_first_response_histogram_ms_bucket', 'nv_inference_request_duration_us', 'nv_inference_request_success'],
      matchers: parseSelector('job="triton"'),
      replicaLabel: 'instance',
      rangeS: 20,
    });
    expect(plan.gauges.find((g) => g.signal === 'requests_running')!.total).toBe('sum(nv_trt_llm_request_metrics{request_type="active",job="triton"})');
    expect(plan.gauges.find((g) => g.signal === 'queue_depth')!.total).toBe('sum(nv_trt_llm_request_metrics{request_type="waiting",job="triton"})');
    const ttft = plan.histograms.find((h) => h.signal === 'server_ttft_s')!;
    expect(ttft.quantiles[1]!.query).toBe('(histogram_quantile(0.95, sum by (le) (rate(nv_inference_first_response_histogram_ms_bucket{job="triton"}[20s])))) * 0.001');
    // a sum/count pair gives a mean only
    const e2e = plan.histograms.find((h) => h.signal === 'server_e2e_s')!;
    expect(e2e.quantiles).toEqual([]);
    expect(e2e.mean).toBe('(sum(rate(nv_inference_request_duration_us{job="triton"}[20s])) / sum(rate(nv_inference_request_success{job="triton"}[20s]))) * 0.000001');
  });

  it('every rule of every profile turns into a query from its data, none written by hand', () => {
    for (const profile of PROFILES) {
      const names = [
        ...profile.gauges.flatMap((r) => r.sources.map((s) => s.metric)),
        ...profile.counters.flatMap((r) => r.sources.map((s) => s.metric)),
        ...profile.histograms.flatMap((r) => r.sources.flatMap((s) => ('histogram' in s ? [`${s.histogram}_bucket`] : [s.sum, s.count]))),
        ...profile.gpus.map((r) => r.metric),
      ];
      const plan = buildPlan({ names, matchers: [], replicaLabel: 'instance', rangeS: 8 });
      expect(plan.profiles).toContain(profile.name);
      const all = planQueries(plan).join('\n');
      for (const r of profile.gauges) expect(all).toContain(r.sources[0]!.metric);
      for (const r of profile.counters) expect(all).toContain(r.sources[0]!.metric);
      for (const r of profile.histograms) expect(all).toContain('histogram' in r.sources[0]! ? r.sources[0].histogram : r.sources[0]!.sum);
      for (const r of profile.gpus) expect(all).toContain(r.metric);
    }
  });

  it('a plan redone later keeps the sources it chose (a counter never switches between its first and last value)', () => {
    const first = buildPlan({ names: ['vllm:generation_tokens'], matchers: [], replicaLabel: 'instance', rangeS: 8 });
    const later = buildPlan({ names: ['vllm:generation_tokens', 'vllm:generation_tokens_total', 'vllm:num_requests_waiting'], matchers: [], replicaLabel: 'instance', rangeS: 8, previous: first });
    expect(later.counters.find((c) => c.counter === 'generation_tokens')!.source).toBe('vllm:generation_tokens');
    expect(later.gauges.map((g) => g.signal)).toEqual(['queue_depth']);
  });

  it('detection asks for the profiles\' prefixes behind the selector', () => {
    const q = detectionQuery(SEL);
    expect(q.startsWith('count by (__name__) ({__name__=~"(?:')).toBe(true);
    for (const p of PROFILES) for (const prefix of p.prefixes) expect(q).toContain(prefix);
    expect(q.endsWith(`).*",${S}})`)).toBe(true);
  });

  it('the rate window is 4 scrape intervals, at least the window and the query interval', () => {
    expect(rateRangeS(15, 1, 5)).toBe(60);
    expect(rateRangeS(1, 1, 5)).toBe(5);
    expect(rateRangeS(0.5, 10, 1)).toBe(10);
    expect(rateRangeS(0.1, 0.5, 0.2)).toBe(1);
  });
});

describe('the deployment selector', () => {
  it('parses PromQL matchers with or without braces, every operator and quote', () => {
    expect(parseSelector('')).toEqual([]);
    expect(parseSelector('{}')).toEqual([]);
    expect(parseSelector(` { namespace = "prod" , job=~'vllm-.*', pod!~\`canary.*\`, zone!="a", } `)).toEqual([
      { label: 'namespace', op: '=', value: 'prod' },
      { label: 'job', op: '=~', value: 'vllm-.*' },
      { label: 'pod', op: '!~', value: 'canary.*' },
      { label: 'zone', op: '!=', value: 'a' },
    ]);
    expect(parseSelector('app="a\\"b\\\\c\\u00e9"')).toEqual([{ label: 'app', op: '=', value: 'a"b\\cé' }]);
  });

  it.each([
    ['vllm:num_requests_waiting{job="x"}', /metric name/],
    ['{__name__="x"}', /__name__/],
    ['{job="x"', /balanced braces/],
    ['{job=="x"}', /quoted value/],
    ['{job>"x"}', /operator/],
    ['{job="x" pod="y"}', /comma/],
    ['{job="x}', /closing/],
    ['{1job="x"}', /label name/],
    ['{job="\\q"}', /escape/],
  ])('refuses %s', (text, why) => {
    expect(() => parseSelector(text)).toThrow(why);
  });

  it('writes any value back as a PromQL string that parses to the same value (no injection)', () => {
    const hostile = 'x"} or vector(1) # \n\t\\ \u0000\u2028 é';
    const m = [{ label: 'job', op: '=' as const, value: hostile }];
    const text = selectorText(m);
    expect(text).not.toContain('\n');
    expect(parseSelector(text)).toEqual(m);
    expect(promString('a"b')).toBe('"a\\"b"');
    expect(vectorSelector('vllm:x', undefined, m)).toBe(`vllm:x${text}`);
    // a name PromQL cannot write bare
    expect(vectorSelector('my.metric', undefined, [])).toBe('{__name__="my.metric"}');
  });

  it('matches target labels as Prometheus would (absent is empty, regexes anchored)', () => {
    const m = parseSelector('{job=~"sim-.*",env!="dev"}');
    expect(matchesLabels(m, { job: 'sim-gpu' })).toBe(true);
    expect(matchesLabels(m, { job: 'xsim-gpu' })).toBe(false);
    expect(matchesLabels(m, { job: 'sim-a', env: 'dev' })).toBe(false);
  });
});

describe('/api/v1/query answers', () => {
  it('reads a vector, a scalar, NaN and infinities', () => {
    const v = parseQueryAnswer({
      status: 'success',
      data: { resultType: 'vector', result: [{ metric: { instance: 'a:1' }, value: [1700000000.1, '2.5'] }, { metric: {}, value: [1, 'NaN'] }, { metric: { x: 'y' }, value: [1, '+Inf'] }] },
      warnings: ['partial'],
    });
    expect(v.samples[0]).toEqual({ labels: { instance: 'a:1' }, value: 2.5 });
    expect(v.samples[1]!.value).toBeNaN();
    expect(v.samples[2]!.value).toBe(Infinity);
    expect(v.warnings).toEqual(['partial']);
    expect(parseQueryAnswer({ status: 'success', data: { resultType: 'scalar', result: [1, '3'] } }).samples).toEqual([{ labels: {}, value: 3 }]);
    expect(parseQueryAnswer({ status: 'success', data: { resultType: 'vector', result: [] } }).samples).toEqual([]);
    expect(promFloat('-Inf')).toBe(-Infinity);
    expect(promFloat(3)).toBeNaN();
  });

  it('says what was wrong: Prometheus\'s own error, a matrix, no data', () => {
    expect(() => parseQueryAnswer({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' })).toThrow('bad_data: parse error at char 5');
    expect(() => parseQueryAnswer({ status: 'success', data: { resultType: 'matrix', result: [] } })).toThrow(/instant vector/);
    expect(() => parseQueryAnswer({ status: 'success' })).toThrow(/no data/);
    expect(() => parseQueryAnswer('x')).toThrow(/JSON object/);
  });

  it('reads Prometheus durations', () => {
    expect(promDurationS('15s')).toBe(15);
    expect(promDurationS('1m30s')).toBe(90);
    expect(promDurationS('500ms')).toBe(0.5);
    expect(promDurationS('1d')).toBe(86_400);
    expect(promDurationS('x')).toBeNaN();
  });
});

// ---------------------------------------------------------------------------------------------
// The source against a stand-in Prometheus.

type Vec = { metric: Record<string, string>; value: [number, string] }[];

interface Fake {
  url: string;
  queries: string[];
  auth: (string | undefined)[];
  close(): Promise<void>;
}

let open: Fake[] = [];
afterEach(async () => {
  await Promise.all(open.map((f) => f.close()));
  open = [];
});

/** A Prometheus that answers /api/v1/query from `answer(query)` (a vector, or [status, body]). */
async function fakeProm(answer: (q: string) => Vec | [number, unknown], targets: unknown = { activeTargets: [{ labels: { job: 'vllm' }, scrapeInterval: '2s' }] }): Promise<Fake> {
  const queries: string[] = [];
  const auth: (string | undefined)[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    auth.push(req.headers.authorization);
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (u.pathname.endsWith('/api/v1/targets')) return send(200, { status: 'success', data: targets });
    if (u.pathname.endsWith('/api/v1/query')) {
      const q = u.searchParams.get('query') ?? '';
      queries.push(q);
      const a = answer(q);
      if (!Array.isArray(a[0]) && typeof a[0] === 'number') return send(a[0], a[1]);
      return send(200, { status: 'success', data: { resultType: 'vector', result: a } });
    }
    send(404, { status: 'error', errorType: 'not_found', error: 'no' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const fake: Fake = {
    url: `http://127.0.0.1:${port}`,
    queries,
    auth,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  open.push(fake);
  return fake;
}

const vec = (...rows: [Record<string, string>, number][]): Vec => rows.map(([metric, v]) => ({ metric, value: [1, String(v)] }));

/** Two vLLM replicas and one DCGM GPU "0" on each of two nodes; `gen` the replicas' generation counters. */
function deployment(state: { gen: [number, number]; third?: number; failQuery?: RegExp }) {
  return (q: string): Vec | [number, unknown] => {
    if (state.failQuery?.test(q)) return [422, { status: 'error', errorType: 'execution', error: 'too many samples\u0000\u001b[31m' + 'x'.repeat(2000) }];
    if (q.startsWith('count by (__name__)'))
      return vec(...['vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:generation_tokens_total', 'vllm:time_to_first_token_seconds_bucket', 'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_FREE'].map((n): [Record<string, string>, number] => [{ __name__: n }, 1]));
    const a = { instance: '10.0.0.1:8000' };
    const b = { instance: '10.0.0.2:8000' };
    if (q === 'sum(vllm:num_requests_waiting{job="vllm"})') return vec([{}, 7]);
    if (q === 'sum by (instance) (vllm:num_requests_waiting{job="vllm"})') return vec([a, 5], [b, 2]);
    if (q === 'avg(vllm:kv_cache_usage_perc{job="vllm"})') return vec([{}, 0.5]);
    if (q === 'avg by (instance) (vllm:kv_cache_usage_perc{job="vllm"})') return vec([a, 0.75], [b, 0.25]);
    if (q.startsWith('sum(rate(vllm:generation_tokens_total')) return vec([{}, 300]);
    if (q.startsWith('sum by (instance) (rate(vllm:generation_tokens_total')) return vec([a, 200], [b, 100]);
    const c = { instance: '10.0.0.3:8000' };
    if (q === 'sum by (instance) (vllm:generation_tokens_total{job="vllm"})')
      return vec([a, state.gen[0]], [b, state.gen[1]], ...(state.third !== undefined ? [[c, state.third] as [Record<string, string>, number]] : []));
    if (q.startsWith('histogram_quantile(0.95')) return vec([{}, 0.25]);
    if (q.startsWith('histogram_quantile(')) return vec([{}, NaN]);
    if (q.startsWith('sum(rate(vllm:time_to_first_token_seconds_sum')) return vec([{}, 0.125]);
    const gpu = (node: string, uuid: string) => ({ gpu: '0', UUID: uuid, Hostname: node, instance: `${node}:9400` });
    if (q.includes('DCGM_FI_DEV_GPU_UTIL')) return vec([gpu('n1', 'GPU-1'), 0.5], [gpu('n2', 'GPU-2'), 1]);
    if (q.includes('DCGM_FI_DEV_FB_USED')) return vec([gpu('n1', 'GPU-1'), 30 * 2 ** 30], [gpu('n2', 'GPU-2'), 10 * 2 ** 30]);
    if (q.includes('DCGM_FI_DEV_FB_FREE')) return vec([gpu('n1', 'GPU-1'), 10 * 2 ** 30], [gpu('n2', 'GPU-2'), 30 * 2 ** 30]);
    return vec();
  };
}

function source(url: string, samples: PromqlSample[], extra: Partial<PrometheusTarget> = {}): PromqlSource {
  return new PromqlSource({ url, selector: '{job="vllm"}', intervalS: 0.05, timeoutS: 2, replicaLabel: 'instance', ...extra }, runClock(), { onSample: (s) => samples.push(s as PromqlSample) }, 1);
}

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('PromqlSource against a stand-in Prometheus', () => {
  it('sums and keeps every replica, reads GPUs of two nodes apart, reconciles counters through a restart', async () => {
    const state: { gen: [number, number]; third?: number } = { gen: [1000, 500] };
    const prom = await fakeProm(deployment(state));
    const samples: PromqlSample[] = [];
    const src = source(prom.url, samples);
    await src.start();
    expect(samples).toHaveLength(1);
    const s = samples[0]!;
    expect(s.ok).toBe(true);
    expect(s.error).toBeNull();
    expect(s.profiles).toEqual(['vllm', 'dcgm']);
    expect(s.signals).toMatchObject({ queue_depth: 7, kv_cache_usage_ratio: 0.5, generation_tokens_per_s: 300, server_ttft_s_p95: 0.25, server_ttft_s_mean: 0.125, gpu_count: 2, gpu_utilization_ratio: 0.75 });
    // NaN (no observations) is absent, as from a direct scrape
    expect(s.signals.server_ttft_s_p50).toBeUndefined();
    expect(s.replicas).toEqual([
      { replica: '10.0.0.1:8000', signals: { queue_depth: 5, kv_cache_usage_ratio: 0.75, generation_tokens_per_s: 200 } },
      { replica: '10.0.0.2:8000', signals: { queue_depth: 2, kv_cache_usage_ratio: 0.25, generation_tokens_per_s: 100 } },
    ]);
    // the same GPU index on two nodes: two GPUs, named by node; memory total from used + free
    expect(s.perGpu.map((g) => g.gpu)).toEqual(['n1/0', 'n2/0']);
    expect(s.perGpu[0]).toMatchObject({ uuid: 'GPU-1', gpu_memory_total_bytes: 40 * 2 ** 30, gpu_memory_used_ratio: 0.75 });
    // Prometheus's 2 s scrape interval (from its targets): rates over 4 × 2 s
    expect(prom.queries.some((q) => q.includes('[8s]'))).toBe(true);

    await until(() => samples.length >= 2);
    // replica b restarted (its counter went down) and a third replica came up during the run
    state.gen = [1600, 50];
    state.third = 40;
    const n = samples.length;
    await until(() => samples.length >= n + 2);
    state.gen = [1700, 150];
    state.third = 90;
    const m = samples.length;
    await until(() => samples.length >= m + 1);
    await src.stop();
    // a: 1700 - 1000; b: (500 - 500) before its restart + 150 since; c: from 0, as a new series
    expect(src.serverGenerationTokens()).toBe(700 + 150 + 90);
    expect(src.gpuCount()).toBe(2);
    const reps = src.replicas();
    expect(reps.map((r) => [r.replica, r.queue_depth_max, r.kv_cache_usage_ratio_mean, r.generation_tokens])).toEqual([
      ['10.0.0.1:8000', 5, 0.75, 700],
      ['10.0.0.2:8000', 2, 0.25, 150],
      ['10.0.0.3:8000', null, null, 90],
    ]);
    expect(reps[0]!.generation_share).toBeCloseTo(700 / 940, 3);
    expect(reps[0]!.series.length).toBe(reps[0]!.samples);
    expect(reps[0]!.series[0]).toMatchObject({ queue_depth: 5, kv_cache_usage_ratio: 0.75 });
    const info = src.info()[0] as ReturnType<PromqlSource['info']>[0] & Record<string, unknown>;
    expect(info).toMatchObject({ url: prom.url, profiles: ['vllm', 'dcgm'], profile: 'vllm', failures: 0, selector: '{job="vllm"}', replica_label: 'instance', prometheus_scrape_interval_s: 2, rate_window_s: 8, replicas: 3 });
    expect((info['queries'] as string[]).length).toBeGreaterThan(10);
  });

  it('a failing query counts as a failed scrape with a bounded, escaped message; the others still give signals', async () => {
    const prom = await fakeProm(deployment({ gen: [1, 1], failQuery: /^histogram_quantile\(0\.95/ }));
    const samples: PromqlSample[] = [];
    const src = source(prom.url, samples, { intervalS: 60 });
    await src.start();
    await src.stop();
    expect(samples).toHaveLength(2);
    const s = samples[0]!;
    expect(s.ok).toBe(true);
    expect(s.signals.queue_depth).toBe(7);
    expect(s.signals.server_ttft_s_p95).toBeUndefined();
    expect(s.error).toMatch(/^1 of \d+ queries failed: .*HTTP 422: execution: too many samples\\u0000\\u001b\[31mxxx/);
    expect(s.error!.length).toBeLessThan(400);
    const info = src.info()[0]!;
    expect(info.failures).toBe(2);
    expect(info.warnings.some((w) => w.startsWith('2 of 2 query rounds failed'))).toBe(true);
  });

  it('a Prometheus that is down: failed samples, no throw, the run goes on', async () => {
    const prom = await fakeProm(() => vec());
    await prom.close();
    open = [];
    const samples: PromqlSample[] = [];
    const src = source(prom.url, samples, { intervalS: 60, timeoutS: 1 });
    await src.start();
    await src.stop();
    expect(samples.map((s) => s.ok)).toEqual([false, false]);
    expect(samples[0]!.error).toMatch(/ECONNREFUSED/);
    expect(samples[0]!.signals).toEqual({});
    expect(src.serverGenerationTokens()).toBeNull();
    expect(src.serverPrefixCache()).toBeNull();
    expect(src.gpuCount()).toBeNull();
    expect(src.info()[0]).toMatchObject({ failures: 2, scrapes: 2 });
  });

  it('Prometheus\'s own error (a bad regex in the selector) is the message', async () => {
    const prom = await fakeProm((q) => [400, { status: 'error', errorType: 'bad_data', error: `invalid parameter "query": ${q.slice(0, 40)}` }]);
    const samples: PromqlSample[] = [];
    const src = source(prom.url, samples, { intervalS: 60, selector: '{job=~"("}' });
    await src.start();
    await src.stop();
    expect(samples[0]!.ok).toBe(false);
    expect(samples[0]!.error).toContain('HTTP 400: bad_data: invalid parameter "query": count by (__name__)');
  });

  it('credentials in the URL go as HTTP Basic, and every output shows them masked', async () => {
    const prom = await fakeProm(() => [503, { status: 'error', errorType: 'unavailable', error: 'hunter2secret is not welcome' }]);
    const samples: PromqlSample[] = [];
    const url = prom.url.replace('http://', 'http://admin:hunter2secret@') + '/prom?tenant=team-a-token';
    const src = source(url, samples, { intervalS: 60 });
    await src.start();
    await src.stop();
    expect(prom.auth[0]).toBe(`Basic ${Buffer.from('admin:hunter2secret').toString('base64')}`);
    const everything = JSON.stringify({ samples, info: src.info() });
    expect(everything).not.toContain('hunter2secret');
    expect(everything).not.toContain('team-a-token');
    expect(samples[0]!.url).toBe(`${prom.url.replace('http://', 'http://admin:***@')}/prom?tenant=***`);
    expect(samples[0]!.error).toContain('unavailable: *** is not welcome');
  });

  it('a URL or selector that does not parse fails every round, never the run', async () => {
    for (const extra of [{ url: 'not a url' }, { selector: '{job=}' }]) {
      const samples: PromqlSample[] = [];
      const src = new PromqlSource({ url: 'http://127.0.0.1:9', selector: '', intervalS: 60, replicaLabel: 'instance', ...extra }, runClock(), { onSample: (s) => samples.push(s as PromqlSample) }, 1);
      await src.start();
      await src.stop();
      expect(samples.map((s) => s.ok)).toEqual([false, false]);
      expect(samples[0]!.error).toMatch(/^target\.prometheus\.(url is not a URL|selector does not parse: expected a quoted value after job)/);
    }
  });

  it('the run picks PromQL when target.prometheus is given, the direct scraper otherwise', () => {
    const sink = { onSample: () => {} };
    expect(serverSignalSource(undefined, [], runClock(), sink, 1)).toBeInstanceOf(Scraper);
    expect(serverSignalSource({ url: 'http://p:9090', selector: '', intervalS: 5, replicaLabel: 'instance' }, [], runClock(), sink, 1)).toBeInstanceOf(PromqlSource);
  });
});

