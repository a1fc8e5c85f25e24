// Signal math on synthetic expositions: histogram_quantile interpolation, interval quantiles and
// means, counter rates with resets, unit conversions, per-GPU aggregation, profile precedence.
import { describe, expect, it } from 'vitest';
import { parseExposition } from '../../../src/scrape/parser.js';
import { detectProfiles } from '../../../src/scrape/profiles.js';
import { bucketQuantile, counterDeltas, cumulativeSignals, rateSignals, snapshotSignals } from '../../../src/scrape/signals.js';

const snap = (text: string) => {
  const parsed = parseExposition(text);
  expect(parsed.problems).toEqual([]);
  return snapshotSignals(parsed);
};

/** A vLLM-style exposition: counters and a TTFT histogram with the given cumulative bucket counts. */
function vllm(o: { gen: number | number[]; prompt?: number; buckets: [number, number, number, number]; sum: number; hits?: number; queries?: number }): string {
  const gens = Array.isArray(o.gen) ? o.gen : [o.gen];
  const [b1, b2, b3, inf] = o.buckets;
  return [
    '# TYPE vllm:generation_tokens_total counter',
    ...gens.map((g, i) => `vllm:generation_tokens_total{engine="${i}",model_name="m"} ${g}`),
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total{engine="0",model_name="m"} ${o.prompt ?? 0}`,
    '# TYPE vllm:prefix_cache_hits_total counter',
    `vllm:prefix_cache_hits_total{engine="0",model_name="m"} ${o.hits ?? 0}`,
    '# TYPE vllm:prefix_cache_queries_total counter',
    `vllm:prefix_cache_queries_total{engine="0",model_name="m"} ${o.queries ?? 0}`,
    '# TYPE vllm:time_to_first_token_seconds histogram',
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} ${b1}`,
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",model_name="m"} ${b2}`,
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="1.0",model_name="m"} ${b3}`,
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} ${inf}`,
    `vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} ${inf}`,
    `vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} ${o.sum}`,
    '',
  ].join('\n');
}

describe('bucketQuantile (Prometheus histogram_quantile)', () => {
  const b = [
    { le: 0.1, count: 10 },
    { le: 0.5, count: 60 },
    { le: 1, count: 90 },
    { le: Infinity, count: 100 },
  ];
  it('interpolates linearly inside the bucket that holds the rank', () => {
    expect(bucketQuantile(0.5, b)).toBeCloseTo(0.1 + 0.4 * (40 / 50), 12); // rank 50 in (0.1, 0.5]
    expect(bucketQuantile(0.05, b)).toBeCloseTo(0.05, 12); // the first bucket starts at 0
    expect(bucketQuantile(0.75, b)).toBeCloseTo(0.5 + 0.5 * (15 / 30), 12);
  });
  it('answers the highest finite bound for a rank in +Inf, and NaN without +Inf or observations', () => {
    expect(bucketQuantile(0.95, b)).toBe(1);
    expect(bucketQuantile(0.99, b)).toBe(1);
    expect(bucketQuantile(0.5, b.slice(0, 3))).toBeNaN();
    expect(bucketQuantile(0.5, b.map((x) => ({ ...x, count: 0 })))).toBeNaN();
    expect(bucketQuantile(0.5, [{ le: Infinity, count: 5 }])).toBeNaN();
  });
  it('returns a non-positive lowest bound as is, and repairs non-monotonic counts', () => {
    expect(bucketQuantile(0.1, [{ le: -1, count: 5 }, { le: 1, count: 10 }, { le: Infinity, count: 10 }])).toBe(-1);
    expect(bucketQuantile(0.5, [{ le: 1, count: 10 }, { le: 2, count: 8 }, { le: Infinity, count: 20 }])).toBe(1);
  });
});

describe('rateSignals', () => {
  it('turns counters into per-second rates and histograms into interval quantiles and means', () => {
    const a = snap(vllm({ gen: 1000, prompt: 500, buckets: [10, 60, 90, 100], sum: 40, hits: 10, queries: 100 }));
    // 100 more requests, all in (0.5, 1]; mean 0.75
    const b = snap(vllm({ gen: 1500, prompt: 700, buckets: [10, 60, 190, 200], sum: 115, hits: 40, queries: 200 }));
    const r = rateSignals(a, b, 2);
    expect(r.generation_tokens_per_s).toBe(250);
    expect(r.prompt_tokens_per_s).toBe(100);
    expect(r.prefix_cache_hit_ratio).toBeCloseTo(0.3, 12);
    expect(r.server_ttft_s_mean).toBeCloseTo(0.75, 12);
    expect(r.server_ttft_s_p50).toBeCloseTo(0.75, 12);
    expect(r.server_ttft_s_p95).toBeCloseTo(0.5 + 0.5 * 0.95, 12);
    expect(r.preemptions_per_s).toBeUndefined(); // not exposed here
  });

  it('omits interval latency when nothing was observed, and rates when dt is not positive', () => {
    const a = snap(vllm({ gen: 5, buckets: [1, 1, 1, 1], sum: 0.05 }));
    const r = rateSignals(a, a, 1);
    expect(r.generation_tokens_per_s).toBe(0);
    expect(r.server_ttft_s_p50).toBeUndefined();
    expect(r.server_ttft_s_mean).toBeUndefined();
    expect(rateSignals(a, a, 0).generation_tokens_per_s).toBeUndefined();
  });

  it('handles a counter reset: a counter that went down restarted from 0, per series', () => {
    const a = snap(vllm({ gen: [100, 200], buckets: [0, 0, 0, 0], sum: 0 }));
    const b = snap(vllm({ gen: [150, 10], buckets: [0, 0, 0, 0], sum: 0 }));
    expect(counterDeltas(a, b).generation_tokens).toBe(50 + 10);
    expect(rateSignals(a, b, 1).generation_tokens_per_s).toBe(60);
  });

  it('handles a histogram reset (server restart): the new counts are the interval', () => {
    const a = snap(vllm({ gen: 0, buckets: [10, 60, 90, 100], sum: 40 }));
    const b = snap(vllm({ gen: 0, buckets: [0, 4, 4, 4], sum: 1.2 }));
    const r = rateSignals(a, b, 1);
    expect(r.server_ttft_s_mean).toBeCloseTo(0.3, 12);
    expect(r.server_ttft_s_p50).toBeCloseTo(0.1 + 0.4 * 0.5, 12);
  });

  it('reads `le` from the data: another bucket layout works the same', () => {
    const text = (n: number) => `# TYPE sglang:time_to_first_token_seconds histogram\nsglang:time_to_first_token_seconds_sum 0\nsglang:time_to_first_token_seconds_bucket{le="2.0"} ${n}\nsglang:time_to_first_token_seconds_bucket{le="+Inf"} ${n}\nsglang:time_to_first_token_seconds_count ${n}\n`;
    expect(rateSignals(snap(text(0)), snap(text(10)), 1).server_ttft_s_p50).toBeCloseTo(1, 12);
  });

  it('Triton: cumulative µs counters become a mean in seconds; the ms histogram is scaled', () => {
    const t = (us: number, ok: number, first: [number, number]) =>
      `# TYPE nv_inference_queue_duration_us counter\nnv_inference_queue_duration_us{model="m",version="1"} ${us}\n# TYPE nv_inference_request_success counter\nnv_inference_request_success{model="m",version="1"} ${ok}\n# TYPE nv_inference_first_response_histogram_ms histogram\nnv_inference_first_response_histogram_ms_bucket{model="m",version="1",le="100"} ${first[0]}\nnv_inference_first_response_histogram_ms_bucket{model="m",version="1",le="+Inf"} ${first[1]}\nnv_inference_first_response_histogram_ms_count{model="m",version="1"} ${first[1]}\nnv_inference_first_response_histogram_ms_sum{model="m",version="1"} 0\n`;
    const r = rateSignals(snap(t(1_000_000, 10, [0, 0])), snap(t(3_000_000, 20, [4, 4])), 1);
    expect(r.server_queue_time_s_mean).toBeCloseTo(0.2, 12);
    expect(r.server_ttft_s_p50).toBeCloseTo(0.05, 12); // 50 ms
  });
});

describe('snapshotSignals', () => {
  const dcgm = [
    '# TYPE DCGM_FI_DEV_GPU_UTIL gauge',
    'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",modelName="H100"} 50',
    'DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b",modelName="H100"} 100',
    '# TYPE DCGM_FI_DEV_FB_USED gauge',
    'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a"} 1024',
    'DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b"} 3072',
    '# TYPE DCGM_FI_DEV_FB_FREE gauge',
    'DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-a"} 3072',
    'DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-b"} 1024',
    '# TYPE DCGM_FI_DEV_POWER_USAGE gauge',
    'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a"} 300.5',
    'DCGM_FI_DEV_POWER_USAGE{gpu="1",UUID="GPU-b",pod="p",namespace="n"} 400',
    '# TYPE DCGM_FI_PROF_SM_ACTIVE gauge',
    'DCGM_FI_PROF_SM_ACTIVE{gpu="0",UUID="GPU-a"} 0.25',
    'DCGM_FI_PROF_SM_ACTIVE{gpu="1",UUID="GPU-b"} 0.75',
    '# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge',
    'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-a"} 0.9',
    '',
  ].join('\n');

  it('DCGM: MiB → bytes, percent → ratio; means for ratios, sums for bytes and watts; gpu_count', () => {
    const s = snap(dcgm);
    const GiB = 1024 ** 3;
    expect(s.perGpu).toEqual([
      { gpu: '0', uuid: 'GPU-a', gpu_utilization_ratio: 0.5, gpu_sm_active_ratio: 0.25, gpu_memory_used_ratio: 0.25, gpu_memory_used_bytes: GiB, gpu_memory_free_bytes: 3 * GiB, gpu_memory_total_bytes: 4 * GiB, gpu_power_watts: 300.5 },
      { gpu: '1', uuid: 'GPU-b', gpu_utilization_ratio: 1, gpu_sm_active_ratio: 0.75, gpu_memory_used_ratio: 0.75, gpu_memory_used_bytes: 3 * GiB, gpu_memory_free_bytes: GiB, gpu_memory_total_bytes: 4 * GiB, gpu_power_watts: 400 },
    ]);
    expect(s.signals).toEqual({
      gpu_utilization_ratio: 0.75,
      gpu_sm_active_ratio: 0.5, // SM_ACTIVE wins over GR_ENGINE_ACTIVE
      gpu_memory_used_ratio: 0.5,
      gpu_memory_used_bytes: 4 * GiB,
      gpu_memory_free_bytes: 4 * GiB,
      gpu_memory_total_bytes: 8 * GiB,
      gpu_power_watts: 700.5,
      gpu_count: 2,
    });
  });

  it('Triton GPU metrics: already bytes and 0–1, keyed by gpu_uuid', () => {
    const s = snap('nv_gpu_utilization{gpu_uuid="GPU-x"} 0.4\nnv_gpu_utilization{gpu_uuid="GPU-y"} 0.8\nnv_gpu_memory_used_bytes{gpu_uuid="GPU-x"} 100\nnv_gpu_memory_used_bytes{gpu_uuid="GPU-y"} 300\nnv_gpu_memory_total_bytes{gpu_uuid="GPU-x"} 1000\nnv_gpu_memory_total_bytes{gpu_uuid="GPU-y"} 1000\nnv_gpu_power_usage{gpu_uuid="GPU-x"} 55.1\nnv_gpu_power_usage{gpu_uuid="GPU-y"} 44.9\n');
    expect(s.profiles).toEqual(['triton']);
    expect(s.signals.gpu_count).toBe(2);
    expect(s.signals.gpu_utilization_ratio).toBeCloseTo(0.6, 12);
    expect(s.signals.gpu_memory_used_bytes).toBe(400);
    expect(s.signals.gpu_memory_used_ratio).toBeCloseTo(0.2, 12);
    expect(s.signals.gpu_power_watts).toBeCloseTo(100, 12);
    expect(s.perGpu.map((g) => [g.gpu, g.uuid])).toEqual([
      ['0', 'GPU-x'],
      ['1', 'GPU-y'],
    ]);
  });

  it('sums counts and averages ratios over series (data-parallel engines)', () => {
    const s = snap('vllm:num_requests_running{engine="0"} 3\nvllm:num_requests_running{engine="1"} 5\nvllm:kv_cache_usage_perc{engine="0"} 0.2\nvllm:kv_cache_usage_perc{engine="1"} 0.6\n');
    expect(s.signals.requests_running).toBe(8);
    expect(s.signals.kv_cache_usage_ratio).toBeCloseTo(0.4, 12);
  });

  it('prefers V1 names over V0 names, and the first profile when several give a signal', () => {
    const s = snap('vllm:kv_cache_usage_perc 0.3\nvllm:gpu_cache_usage_perc 0.9\nvllm:num_requests_waiting 2\nnv_inference_pending_request_count{model="m"} 7\n');
    expect(s.profiles).toEqual(['vllm', 'triton']);
    expect(s.signals.kv_cache_usage_ratio).toBe(0.3);
    expect(s.signals.queue_depth).toBe(2);
  });

  it('reads OpenMetrics expositions the same way (counter family without _total, samples with it)', () => {
    const s = snapshotSignals(parseExposition('# TYPE vllm:generation_tokens counter\nvllm:generation_tokens_total{model_name="m"} 42.0\nvllm:generation_tokens_created{model_name="m"} 1.7e9\n# EOF\n'));
    expect(s.counters.generation_tokens_total).toBe(42);
  });

  it('TGI counters without _total are read as counters', () => {
    expect(detectProfiles(['tgi_queue_size', 'DCGM_FI_DEV_GPU_UTIL', 'other'])).toEqual(['tgi', 'dcgm']);
    const s = snap('# TYPE tgi_request_generated_tokens histogram\ntgi_request_generated_tokens_sum 3423\ntgi_request_generated_tokens_count 109\n# TYPE tgi_queue_size gauge\ntgi_queue_size 4\n');
    expect(s.counters.generation_tokens_total).toBe(3423);
    expect(s.signals.queue_depth).toBe(4);
  });

  it('ignores NaN gauges and keeps unknown metrics in `unmapped`', () => {
    const s = snap('vllm:num_requests_running NaN\nmy_custom_metric 1\n');
    expect(s.signals.requests_running).toBeUndefined();
    expect(s.unmapped).toEqual(['vllm:num_requests_running', 'my_custom_metric']);
    expect(cumulativeSignals(s)).toEqual({});
  });
});
