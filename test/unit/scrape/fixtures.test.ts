// Every real capture (test/fixtures/metrics; see its SOURCES.md) parses leniently with no
// problem and yields its profile and canonical signals, numbers read from the files themselves.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseExposition } from '../../../src/scrape/parser.js';
import { cumulativeSignals, snapshotSignals, type SignalSnapshot } from '../../../src/scrape/signals.js';

const DIR = fileURLToPath(new URL('../../fixtures/metrics/', import.meta.url));
const MIB = 1024 * 1024;

function load(file: string): { snap: SignalSnapshot; cumulative: Record<string, number> } {
  const parsed = parseExposition(readFileSync(DIR + file, 'utf8'));
  expect(parsed.problems).toEqual([]);
  expect(parsed.format).toBe('prometheus');
  const snap = snapshotSignals(parsed);
  return { snap, cumulative: cumulativeSignals(snap) };
}

describe('real captures → profiles and canonical signals', () => {
  it('vLLM V1 nightly (26 requests, speculative decoding)', () => {
    const { snap, cumulative } = load('vllm-v1-nightly-spec-decode.prom');
    expect(snap.profiles).toEqual(['vllm']);
    expect(snap.signals).toEqual({ requests_running: 0, queue_depth: 0, kv_cache_usage_ratio: 0 });
    expect(snap.sources['kv_cache_usage_ratio']).toBe('vllm:kv_cache_usage_perc');
    expect(snap.counters).toEqual({ preemptions_total: 0, prompt_tokens_total: 3675428, generation_tokens_total: 44995, prefix_cache_hits_total: 3241216, prefix_cache_queries_total: 3675428 });
    expect(cumulative['prefix_cache_hit_ratio']).toBeCloseTo(3241216 / 3675428, 12);
    expect(cumulative['server_ttft_s_count']).toBe(26);
    expect(cumulative['server_ttft_s_mean']).toBeCloseTo(417.90156173706055 / 26, 12);
    // 14 of 26 at le=2.5, 9 at le=1.0: the median (rank 13) interpolates in (1.0, 2.5]
    expect(cumulative['server_ttft_s_p50']).toBeCloseTo(1.0 + 1.5 * (4 / 5), 12);
    expect(snap.sources['server_itl_s']).toBe('vllm:inter_token_latency_seconds');
    expect(snap.unmapped).toContain('vllm:spec_decode_num_drafts_total'); // unknown metrics are kept raw
    expect(snap.unmapped).not.toContain('vllm:generation_tokens_total');
  });

  it('vLLM V1 0.11 idle: V1 names, all zero, *_created ignored', () => {
    const { snap, cumulative } = load('vllm-v1-0.11-idle.prom');
    expect(snap.profiles).toEqual(['vllm']);
    expect(snap.signals).toEqual({ requests_running: 0, queue_depth: 0, kv_cache_usage_ratio: 0 });
    expect(snap.counters.generation_tokens_total).toBe(0);
    expect(cumulative['server_ttft_s_count']).toBe(0);
    expect(cumulative['server_ttft_s_p50']).toBeUndefined();
    expect(snap.sources['server_queue_time_s']).toBe('vllm:request_queue_time_seconds');
  });

  it('vLLM V0 0.5: gpu_cache_usage_perc and time_per_output_token_seconds', () => {
    const { snap, cumulative } = load('vllm-v0-0.5.prom');
    expect(snap.profiles).toEqual(['vllm']);
    expect(snap.sources['kv_cache_usage_ratio']).toBe('vllm:gpu_cache_usage_perc');
    expect(snap.sources['server_itl_s']).toBe('vllm:time_per_output_token_seconds');
    expect(snap.counters).toMatchObject({ prompt_tokens_total: 5, generation_tokens_total: 7, preemptions_total: 0 });
    expect(cumulative['server_itl_s_count']).toBe(6);
    expect(cumulative['server_itl_s_mean']).toBeCloseTo(0.19016313552856445 / 6, 12);
    expect(cumulative['server_e2e_s_mean']).toBeCloseTo(0.5034303665161133, 12);
  });

  it('SGLang: token_usage, cache_hit_rate, histograms with _sum first', () => {
    const { snap, cumulative } = load('sglang-docs-sample.prom');
    expect(snap.profiles).toEqual(['sglang']);
    expect(snap.signals).toEqual({ requests_running: 162, queue_depth: 2826, kv_cache_usage_ratio: 0.28, prefix_cache_hit_ratio: 0.007507552643049313 });
    expect(snap.counters).toEqual({ prompt_tokens_total: 8128902, generation_tokens_total: 7557572 });
    expect(cumulative['server_ttft_s_count']).toBe(11008);
    expect(cumulative['server_ttft_s_mean']).toBeCloseTo(2351897.9474117756 / 11008, 9);
    // 8495 of 11008 are above the last finite bucket (30 s): histogram_quantile answers 30
    expect(cumulative['server_ttft_s_p50']).toBe(30);
    expect(cumulative['server_itl_s_count']).toBe(7400757);
    expect(cumulative['server_e2e_s_count']).toBe(11228);
  });

  it('TGI 3.3: counters without _total, tokens from histogram sums, no TTFT', () => {
    const { snap, cumulative } = load('tgi-3.3.prom');
    expect(snap.profiles).toEqual(['tgi']);
    expect(snap.signals).toEqual({ requests_running: 0, queue_depth: 0 });
    expect(snap.counters).toEqual({ prompt_tokens_total: 662, generation_tokens_total: 3423 });
    expect(cumulative['server_queue_time_s_count']).toBe(109);
    expect(cumulative['server_queue_time_s_mean']).toBeCloseTo(295.275961956 / 109, 12);
    expect(cumulative['server_e2e_s_mean']).toBeCloseTo(541.2140316159999 / 109, 12);
    expect(cumulative['server_itl_s_mean']).toBeCloseTo(8.643160945 / 109, 12);
    expect(cumulative['server_ttft_s_count']).toBeUndefined();
  });

  it('llama.cpp (current, under load): requests_processing / deferred, counters; per-scrape gauges unused', () => {
    const { snap } = load('llamacpp-cpu-live.prom');
    expect(snap.profiles).toEqual(['llamacpp']);
    expect(snap.signals).toEqual({ requests_running: 8, queue_depth: 0 });
    expect(snap.counters).toEqual({ prompt_tokens_total: 1074, generation_tokens_total: 8384 });
    expect(snap.unmapped).toContain('llamacpp:predicted_tokens_seconds');
  });

  it('llama.cpp (server-cuda) and the legacy KV-cache build', () => {
    expect(load('llamacpp.prom').snap.counters).toEqual({ prompt_tokens_total: 26129, generation_tokens_total: 10911 });
    const legacy = load('llamacpp-legacy-kvcache.prom').snap;
    expect(legacy.signals).toEqual({ requests_running: 0, queue_depth: 0, kv_cache_usage_ratio: 0.491063 });
    expect(legacy.counters).toEqual({ prompt_tokens_total: 6886, generation_tokens_total: 3469 });
  });

  it('Triton + TensorRT-LLM: state chosen by label value', () => {
    const { snap } = load('triton-trtllm.prom');
    expect(snap.profiles).toEqual(['triton']);
    expect(snap.signals).toEqual({ requests_running: 0, queue_depth: 1, kv_cache_usage_ratio: 0.4875 });
    expect(snap.sources['requests_running']).toBe('nv_trt_llm_request_metrics{request_type="active"}');
  });

  it('Triton base families: pending request count, µs duration counters', () => {
    const { snap, cumulative } = load('triton-trtllm-base.prom');
    expect(snap.profiles).toEqual(['triton']);
    expect(snap.signals).toEqual({ queue_depth: 0 });
    expect(snap.sources['server_queue_time_s']).toBe('nv_inference_queue_duration_us / nv_inference_request_success');
    expect(cumulative['server_queue_time_s_count']).toBe(0);
  });

  it('Triton with the vLLM backend (partial): detected, nothing canonical, everything kept raw', () => {
    const { snap } = load('triton-vllm-backend-partial.prom');
    expect(snap.profiles).toEqual(['triton']);
    expect(snap.signals).toEqual({});
    expect(snap.unmapped).toEqual(['nv_inference_request_success', 'nv_inference_request_failure', 'nv_inference_count']);
  });

  it('DCGM exporter, 1× L4 with profiling metrics: MiB → bytes, percent → ratio', () => {
    const { snap } = load('dcgm-exporter-l4-prof.prom');
    expect(snap.profiles).toEqual(['dcgm']);
    const gpu = { gpu_utilization_ratio: 0, gpu_sm_active_ratio: 0, gpu_memory_used_ratio: 0, gpu_memory_used_bytes: 0, gpu_memory_free_bytes: 22563 * MIB, gpu_memory_total_bytes: (22563 + 0 + 470) * MIB, gpu_power_watts: 16.365 };
    expect(snap.signals).toEqual({ ...gpu, gpu_count: 1 });
    expect(snap.perGpu).toEqual([{ gpu: '0', uuid: 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c', ...gpu }]);
    expect(snap.sources['gpu_sm_active_ratio']).toBe('DCGM_FI_PROF_GR_ENGINE_ACTIVE');
  });

  it('DCGM exporter, 8× H100 (no HELP/TYPE, pod labels on one GPU only)', () => {
    const { snap } = load('dcgm-exporter-8gpu-k8s.prom');
    expect(snap.profiles).toEqual(['dcgm']);
    expect(snap.signals.gpu_count).toBe(8);
    expect(snap.signals.gpu_utilization_ratio).toBe(0);
    expect(snap.signals.gpu_power_watts).toBeCloseTo(113.611 + 68.347 + 65.709 + 67.316 + 68.717 + 65.742 + 67.328 + 66.997, 9);
    expect(snap.perGpu.map((g) => g.gpu)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(snap.perGpu[0]).toEqual({ gpu: '0', uuid: 'GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005', gpu_utilization_ratio: 0, gpu_power_watts: 113.611 });
  });
});
