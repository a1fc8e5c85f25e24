// The simulator's telemetry in virtual time: prometheus_client's number format, vLLM's bucket
// bounds and HELP texts (checked against real captures), histograms fed by engine events, and the
// DCGM-style GPU figures derived from steps and KV blocks.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BucketHistogram,
  SimMetrics,
  StepActivityWindow,
  VLLM_BUCKETS,
  buckets125,
  formatPrometheusFloat,
} from '../../../src/sim/metrics.js';
import { EngineModel } from '../../../src/sim/model.js';
import type { SimRequestSpec, TokenEvent } from '../../../src/sim/model.js';
import { StepLoop } from '../../../src/sim/loop.js';
import { resolveProfile } from '../../../src/sim/profiles.js';
import type { SimProfile } from '../../../src/sim/profiles.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/metrics');
const V1_IDLE = resolve(FIXTURES, 'vllm-v1-0.11-idle.prom');
const V1_NIGHTLY = resolve(FIXTURES, 'vllm-v1-nightly-spec-decode.prom');

function spec(promptTokens: number, outputTokens: number): SimRequestSpec {
  return { promptTokens, outputTokens, finishReason: 'length' };
}

/** An engine with telemetry attached, run in virtual time; returns every token event. */
function simulate(
  profile: SimProfile,
  requests: Array<{ spec: SimRequestSpec; arrivalUs: number }>,
): { model: EngineModel<null>; metrics: SimMetrics; events: Array<TokenEvent<null>>; endUs: number } {
  const model = new EngineModel<null>(profile);
  const metrics = new SimMetrics(model, { createdEpochS: 1_762_438_423.0434499, instanceId: 'test' });
  const events: Array<TokenEvent<null>> = [];
  let endUs = 0;
  const loop = new StepLoop<null>(
    model,
    (step, stepEndUs) => {
      events.push(...step);
      metrics.onTokens(step, stepEndUs);
      endUs = stepEndUs;
    },
    Infinity,
    (plan) => metrics.onStep(plan),
  );
  const pending = [...requests].sort((a, b) => a.arrivalUs - b.arrivalUs);
  let nowUs = 0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    while (pending.length > 0 && pending[0]!.arrivalUs <= nowUs) {
      const r = pending.shift()!;
      model.add(r.spec, null, r.arrivalUs);
    }
    const due = loop.advance(nowUs);
    const nextArrival = pending[0]?.arrivalUs;
    if (due === undefined && nextArrival === undefined) return { model, metrics, events, endUs };
    nowUs = Math.min(due ?? Infinity, nextArrival ?? Infinity);
  }
  throw new Error('never went idle');
}

/** `name{labels} value` lines of a family's samples, e.g. `vllm:num_requests_running`. */
function sampleValue(text: string, sample: string, labelFilter = ''): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${sample}{`) && l.includes(labelFilter));
  if (!line) throw new Error(`no sample ${sample} ${labelFilter}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The `le` values of a histogram's buckets, in order. */
function leValues(text: string, family: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${family}_bucket{`))
    .map((l) => /le="([^"]+)"/.exec(l)![1]!);
}

describe('formatPrometheusFloat (prometheus_client floatToGoString)', () => {
  it.each([
    [0, '0.0'],
    [1, '1.0'],
    [26, '26.0'],
    [-1, '-1.0'],
    [0.001, '0.001'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [0.07500000000000001, '0.07500000000000001'],
    [0.1 + 0.2, '0.30000000000000004'],
    [2560, '2560.0'],
    [20000, '20000.0'],
    [123456.5, '123456.5'],
    [1e6, '1e+06'],
    [1234567.5, '1.2345675e+06'],
    [1_762_438_423.0434499, '1.7624384230434499e+09'],
    [10_777_853_952, '1.0777853952e+010'],
    [1e16, '1e+16'],
    [1.5e22, '1.5e+22'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ])('%s -> %s', (value, text) => {
    expect(formatPrometheusFloat(value)).toBe(text);
  });
});

describe('vLLM bucket boundaries', () => {
  it('buckets125 is build_1_2_5_buckets: up to max_model_len', () => {
    expect(buckets125(32_768)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000]);
    expect(buckets125(1_000_000).at(-1)).toBe(1_000_000);
    expect(buckets125(1)).toEqual([1]);
  });

  it('a 32k-context model exposes the same le values as the vLLM 0.11 capture', () => {
    const { metrics } = simulate(resolveProfile('default'), []);
    const ours = metrics.vllmText();
    const expected: Record<string, string[]> = {
      'vllm:time_to_first_token_seconds': [...VLLM_BUCKETS.ttftSeconds.map(formatPrometheusFloat), '+Inf'],
      'vllm:inter_token_latency_seconds': [...VLLM_BUCKETS.itlSeconds.map(formatPrometheusFloat), '+Inf'],
      'vllm:e2e_request_latency_seconds': [...VLLM_BUCKETS.requestLatencySeconds.map(formatPrometheusFloat), '+Inf'],
      'vllm:request_queue_time_seconds': [...VLLM_BUCKETS.requestLatencySeconds.map(formatPrometheusFloat), '+Inf'],
      'vllm:request_prompt_tokens': [...buckets125(32_768).map(formatPrometheusFloat), '+Inf'],
    };
    for (const [family, les] of Object.entries(expected)) expect(leValues(ours, family), family).toEqual(les);
    expect(leValues(ours, 'vllm:time_to_first_token_seconds').slice(0, 3)).toEqual(['0.001', '0.005', '0.01']);
  });

  it(
    'bounds, HELP and TYPE lines equal the real vLLM V1 captures (test/fixtures/metrics)',
    () => {
      const idle = readFileSync(V1_IDLE, 'utf8');
      const nightly = readFileSync(V1_NIGHTLY, 'utf8');
      const ours = simulate(resolveProfile('default'), []).metrics.vllmText();
      const histograms = [
        'vllm:time_to_first_token_seconds',
        'vllm:inter_token_latency_seconds',
        'vllm:e2e_request_latency_seconds',
        'vllm:request_queue_time_seconds',
        'vllm:request_inference_time_seconds',
        'vllm:request_prefill_time_seconds',
        'vllm:request_decode_time_seconds',
        'vllm:request_prompt_tokens',
        'vllm:request_generation_tokens',
        'vllm:iteration_tokens_total',
      ];
      for (const h of histograms) expect(leValues(ours, h), h).toEqual(leValues(idle, h));
      // the nightly capture serves a ~1M-token model: the token buckets follow max_model_len
      const big = simulate(
        resolveProfile({ ...resolveProfile('default'), maxModelLen: 1_000_000, kvCacheBlocks: 100_000 }),
        [],
      );
      expect(leValues(big.metrics.vllmText(), 'vllm:request_prompt_tokens')).toEqual(
        leValues(nightly, 'vllm:request_prompt_tokens'),
      );
      const meta = (text: string): Set<string> => new Set(text.split('\n').filter((l) => /^# (HELP|TYPE) /.test(l)));
      const real = meta(idle);
      for (const line of meta(ours)) expect(real.has(line), line).toBe(true);
    },
  );
});

describe('BucketHistogram', () => {
  it('counts a value equal to a bound in that bucket (le), larger ones in +Inf', () => {
    const h = new BucketHistogram([1, 2, 5]);
    for (const v of [0.5, 1, 1.0001, 2, 5, 6, 100]) h.observe(v);
    expect([...h.counts]).toEqual([2, 2, 1, 2]);
    expect(h.cumulative()).toEqual([2, 4, 5, 7]);
    expect(h.count).toBe(7);
    expect(h.sum).toBeCloseTo(115.5001, 9);
  });

  it('rejects bounds that do not increase', () => {
    expect(() => new BucketHistogram([1, 1])).toThrow(RangeError);
  });
});

describe('StepActivityWindow', () => {
  it('averages busy, SM and DRAM time over the interval ending now', () => {
    const w = new StepActivityWindow(1_000_000);
    w.add(0, 200_000, 0.5, 0.25);
    w.add(200_000, 400_000, 1, 0);
    const a = w.sample(1_000_000);
    expect(a.busyRatio).toBeCloseTo(0.4, 12);
    expect(a.smActiveRatio).toBeCloseTo(0.3, 12);
    expect(a.dramActiveRatio).toBeCloseTo(0.05, 12);
    // half a second later the first step has left the interval
    expect(w.sample(1_300_000).busyRatio).toBeCloseTo(0.1, 12);
    expect(w.sample(5_000_000).busyRatio).toBe(0);
  });

  it('does not count the part of a step that lies after now', () => {
    const w = new StepActivityWindow(1_000_000);
    w.add(900_000, 1_900_000, 1, 0);
    expect(w.sample(1_000_000).busyRatio).toBeCloseTo(0.1, 12);
    expect(w.sample(1_900_000).busyRatio).toBeCloseTo(1, 12);
  });

  it('keeps only one interval of steps however many it sees, and grows past its first buffer', () => {
    const w = new StepActivityWindow(10_000);
    for (let i = 0; i < 100_000; i++) w.add(i * 10, i * 10 + 10, 0, 0);
    expect(w.sample(1_000_000).busyRatio).toBeCloseTo(1, 9);
    const big = new StepActivityWindow(1e9);
    for (let i = 0; i < 1000; i++) big.add(i * 100, i * 100 + 50, 1, 1);
    expect(big.sample(100_000).busyRatio).toBeCloseTo(50_000 / 1e9, 12);
  });
});

describe('SimMetrics /metrics (vLLM V1)', () => {
  const profile = resolveProfile('default');

  it('counters and histograms follow the engine: tokens, finishes, TTFT, ITL, e2e, queue time', () => {
    const requests = [
      { spec: spec(512, 8), arrivalUs: 0 },
      { spec: spec(100, 3), arrivalUs: 0 },
      { spec: spec(2000, 1), arrivalUs: 1_000 },
      { spec: { ...spec(64, 5), finishReason: 'stop' as const }, arrivalUs: 50_000 },
    ];
    const { model, metrics, events } = simulate(profile, requests);
    const text = metrics.vllmText();
    expect(sampleValue(text, 'vllm:generation_tokens_total')).toBe(8 + 3 + 1 + 5);
    expect(sampleValue(text, 'vllm:prompt_tokens_total')).toBe(512 + 100 + 2000 + 64);
    expect(sampleValue(text, 'vllm:request_success_total', 'finished_reason="length"')).toBe(3);
    expect(sampleValue(text, 'vllm:request_success_total', 'finished_reason="stop"')).toBe(1);
    expect(sampleValue(text, 'vllm:request_success_total', 'finished_reason="abort"')).toBe(0);
    expect(sampleValue(text, 'vllm:num_requests_running')).toBe(0);
    expect(sampleValue(text, 'vllm:kv_cache_usage_perc')).toBe(0);

    expect(sampleValue(text, 'vllm:time_to_first_token_seconds_count')).toBe(4);
    expect(sampleValue(text, 'vllm:inter_token_latency_seconds_count')).toBe(7 + 2 + 0 + 4);
    expect(sampleValue(text, 'vllm:e2e_request_latency_seconds_count')).toBe(4);
    expect(sampleValue(text, 'vllm:request_generation_tokens_sum')).toBe(17);
    expect(sampleValue(text, 'vllm:request_prompt_tokens_sum')).toBe(2676);
    expect(sampleValue(text, 'vllm:iteration_tokens_total_count')).toBe(model.counters.stepsTotal);

    // the same events, measured independently from the requests' own stamps
    const finished = events.filter((e) => e.finishReason !== null).map((e) => e.request);
    const sumS = (f: (r: (typeof finished)[number]) => number): number => finished.reduce((s, r) => s + f(r), 0) / 1e6;
    expect(sampleValue(text, 'vllm:e2e_request_latency_seconds_sum')).toBeCloseTo(sumS((r) => r.finishedUs - r.arrivalUs), 9);
    expect(sampleValue(text, 'vllm:time_to_first_token_seconds_sum')).toBeCloseTo(
      sumS((r) => r.firstTokenUs - r.arrivalUs),
      9,
    );
    expect(sampleValue(text, 'vllm:request_queue_time_seconds_sum')).toBeCloseTo(
      sumS((r) => r.firstScheduledUs - r.arrivalUs),
      9,
    );
    // ITL is step to step: all gaps of a request add up to last token - first token
    expect(sampleValue(text, 'vllm:inter_token_latency_seconds_sum')).toBeCloseTo(
      sumS((r) => r.lastTokenUs - r.firstTokenUs),
      9,
    );
    // light load: every request was scheduled within the first queue-time bucket
    expect(sampleValue(text, 'vllm:request_queue_time_seconds_bucket', 'le="0.3"')).toBe(4);
  });

  it('shows running, waiting and KV usage while requests are in the engine', () => {
    const small = resolveProfile({ ...profile, name: 'small', maxNumSeqs: 2 });
    const model = new EngineModel<null>(small);
    const metrics = new SimMetrics(model);
    for (let i = 0; i < 5; i++) model.add(spec(1000, 50), null, 0);
    const loop = new StepLoop<null>(model, (e, t) => metrics.onTokens(e, t), 1, (p) => metrics.onStep(p));
    loop.advance(0);
    const text = metrics.vllmText();
    expect(sampleValue(text, 'vllm:num_requests_running')).toBe(2);
    expect(sampleValue(text, 'vllm:num_requests_waiting')).toBe(3);
    const kv = sampleValue(text, 'vllm:kv_cache_usage_perc');
    expect(kv).toBeGreaterThan(0);
    expect(kv).toBeCloseTo((2 * Math.ceil(1000 / 16)) / small.kvCacheBlocks, 12);
  });

  it('writes prometheus_client layout: sorted labels, _total and _created families, buckets then _count and _sum', () => {
    const text = simulate(profile, [{ spec: spec(10, 2), arrivalUs: 0 }]).metrics.vllmText();
    const lines = text.split('\n');
    expect(lines).toContain(
      'vllm:num_preemptions_created{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.7624384230434499e+09',
    );
    expect(lines).toContain(
      'vllm:request_success_total{engine="0",finished_reason="length",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.0',
    );
    expect(lines).toContain(
      'vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.0',
    );
    const inf = lines.findIndex((l) => l.startsWith('vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf"'));
    expect(lines[inf + 1]).toMatch(/^vllm:e2e_request_latency_seconds_count\{/);
    expect(lines[inf + 2]).toMatch(/^vllm:e2e_request_latency_seconds_sum\{/);
    expect(lines[inf + 3]).toBe(
      '# HELP vllm:e2e_request_latency_seconds_created Histogram of e2e request latency in seconds.',
    );
    expect(text.endsWith('\n')).toBe(true);
  });

  it('escapes a model name that needs it', () => {
    const odd = resolveProfile({ ...profile, modelName: 'my "model"\\v1' });
    const text = new SimMetrics(new EngineModel(odd)).vllmText();
    expect(text).toContain('model_name="my \\"model\\"\\\\v1"');
  });
});

describe('SimMetrics /gpu/metrics (DCGM exporter)', () => {
  it('an idle GPU: 0 % utilisation, idle power, weights and worker overhead resident', () => {
    const profile = resolveProfile('default');
    const metrics = new SimMetrics(new EngineModel(profile));
    const [gpu, ...rest] = metrics.gpuSamples(5_000_000);
    expect(rest).toEqual([]);
    expect(gpu!.utilizationRatio).toBe(0);
    expect(gpu!.smActiveRatio).toBe(0);
    expect(gpu!.powerWatts).toBe(profile.idlePowerWatts);
    expect(gpu!.fbUsedBytes).toBe(profile.weightBytes + 2e9);
    expect(gpu!.fbUsedBytes + gpu!.fbFreeBytes + gpu!.fbReservedBytes).toBe(profile.gpuMemoryBytes);
    expect(gpu!.energyJoules).toBeCloseTo(5 * profile.idlePowerWatts, 9);
    expect(gpu!.uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('busy decode steps: full utilisation, SM activity well below DRAM activity, power from HBM traffic', () => {
    const profile = resolveProfile('default');
    const requests = Array.from({ length: 32 }, () => ({ spec: spec(200, 400), arrivalUs: 0 }));
    const model = new EngineModel<null>(profile);
    const metrics = new SimMetrics(model);
    for (const r of requests) model.add(r.spec, null, r.arrivalUs);
    const loop = new StepLoop<null>(model, (e, t) => metrics.onTokens(e, t), Infinity, (p) => metrics.onStep(p));
    let now = 0;
    while (now < 1_500_000) now = loop.advance(now)!;
    const [gpu] = metrics.gpuSamples(now);
    expect(gpu!.utilizationRatio).toBeGreaterThan(0.99);
    // a decode step of 32 tokens: ~1.3 ms of math against ~5 ms of weight and KV reads
    expect(gpu!.smActiveRatio).toBeGreaterThan(0.1);
    expect(gpu!.smActiveRatio).toBeLessThan(0.3);
    expect(gpu!.dramActiveRatio).toBeGreaterThan(0.6);
    expect(gpu!.powerWatts).toBeGreaterThan(300);
    expect(gpu!.powerWatts).toBeLessThan(profile.tdpWatts);
    const kvBytes = model.gauges().kvBlocksUsed * profile.blockSizeTokens * profile.kvBytesPerToken;
    expect(gpu!.fbUsedBytes).toBeCloseTo(profile.weightBytes + 2e9 + kvBytes, 0);
  });

  it('compute-bound prefill drives SM activity and power towards TDP', () => {
    const profile = resolveProfile('default');
    const model = new EngineModel<null>(profile);
    const metrics = new SimMetrics(model);
    for (let i = 0; i < 20; i++) model.add(spec(8000, 1), null, 0);
    const loop = new StepLoop<null>(model, (e, t) => metrics.onTokens(e, t), Infinity, (p) => metrics.onStep(p));
    let now = 0;
    while (now < 1_000_000) now = loop.advance(now)!;
    const [gpu] = metrics.gpuSamples(now);
    expect(gpu!.smActiveRatio).toBeGreaterThan(0.9);
    expect(gpu!.powerWatts).toBeGreaterThan(0.9 * profile.tdpWatts);
    expect(gpu!.temperatureC).toBeGreaterThan(65);
  });

  it('tp2 shows 2 GPUs with distinct UUIDs, each holding half the weights and half the KV blocks', () => {
    const tp2 = resolveProfile('tp2');
    const model = new EngineModel<null>(tp2);
    const metrics = new SimMetrics(model, { instanceId: 'a' });
    model.add(spec(4096, 10), null, 0);
    model.beginStep(0);
    const gpus = metrics.gpuSamples(0);
    expect(gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(2);
    const kvBytes = model.gauges().kvBlocksUsed * tp2.blockSizeTokens * tp2.kvBytesPerToken;
    for (const g of gpus) expect(g.fbUsedBytes).toBeCloseTo(tp2.weightBytes / 2 + 2e9 + kvBytes / 2, 0);
    // another simulator instance has other GPUs
    const other = new SimMetrics(new EngineModel(tp2), { instanceId: 'b' }).gpuSamples(0);
    expect(other[0]!.uuid).not.toBe(gpus[0]!.uuid);

    const text = metrics.dcgmText(0);
    const util = text.split('\n').filter((l) => l.startsWith('DCGM_FI_DEV_GPU_UTIL{'));
    expect(util).toHaveLength(2);
    expect(util[1]).toMatch(
      /^DCGM_FI_DEV_GPU_UTIL\{gpu="1",UUID="GPU-[0-9a-f-]+",pci_bus_id="00000000:29:00\.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="inferload-sim",DCGM_FI_DRIVER_VERSION="[0-9.]+"\} 0$/,
    );
    for (const family of [
      'DCGM_FI_DEV_GPU_UTIL',
      'DCGM_FI_DEV_FB_USED',
      'DCGM_FI_DEV_FB_FREE',
      'DCGM_FI_DEV_POWER_USAGE',
      'DCGM_FI_PROF_GR_ENGINE_ACTIVE',
      'DCGM_FI_PROF_SM_ACTIVE',
      'DCGM_FI_DEV_GPU_TEMP',
    ]) {
      expect(text).toContain(`# TYPE ${family} gauge\n`);
    }
    expect(text).toContain('# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n');
    expect(sampleValue(text, 'DCGM_FI_DEV_FB_USED', 'gpu="0"')).toBe(Math.floor(gpus[0]!.fbUsedBytes / 2 ** 20));
  });
});
