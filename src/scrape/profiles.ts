// Server profiles: which real metric names (vLLM V1/V0, SGLang, TGI, llama.cpp, Triton/TRT-LLM,
// NVIDIA DCGM exporter) feed each canonical signal of metrics.md, with unit factors. Data only;
// signals.ts applies it. Names were read from the captures in test/fixtures/metrics and the servers' sources.

/** Profile names, as results.server.endpoints[].profiles reports them. */
export type ProfileName = 'vllm' | 'sglang' | 'tgi' | 'llamacpp' | 'triton' | 'dcgm';

/** Canonical gauges read from one scrape (metrics.md). */
export type GaugeSignal = 'requests_running' | 'queue_depth' | 'kv_cache_usage_ratio' | 'prefix_cache_hit_ratio';

/** Canonical per-GPU gauges (metrics.md), plus `gpu_memory_total_bytes` / `gpu_memory_used_ratio` for GPU-memory alerts. */
export type GpuSignal = 'gpu_utilization_ratio' | 'gpu_memory_used_bytes' | 'gpu_memory_free_bytes' | 'gpu_memory_total_bytes' | 'gpu_memory_used_ratio' | 'gpu_power_watts' | 'gpu_sm_active_ratio';

/** Cumulative counters; rates of the first three are canonical (`<name>_per_s`), the last two give `prefix_cache_hit_ratio`. */
export type CounterSignal = 'preemptions' | 'prompt_tokens' | 'generation_tokens' | 'prefix_cache_hits' | 'prefix_cache_queries';

/** Server-side latency distributions, always in seconds. */
export type HistogramSignal = 'server_ttft_s' | 'server_itl_s' | 'server_e2e_s' | 'server_queue_time_s';

/** How several series of one gauge combine: counts add up, ratios average. */
export type Aggregation = 'sum' | 'mean';

/** Samples of one metric name, optionally only those with these label values. */
export interface Selector {
  /** exact sample name */
  metric: string;
  where?: Readonly<Record<string, string>>;
}

/** A gauge: the first source with any sample wins (newer names first). */
export interface GaugeRule {
  signal: GaugeSignal;
  sources: readonly Selector[];
  aggregation: Aggregation;
  /** multiply each value (unit normalisation); default 1 */
  scale?: number;
}

/** A cumulative counter: the first source present wins; resets are handled per series. */
export interface CounterRule {
  counter: CounterSignal;
  sources: readonly Selector[];
}

/**
 * A latency distribution. `histogram` is a histogram family's base name (`_bucket`/`_sum`/`_count`
 * read from the data, `le` never hard-coded); `sum`/`count` is a pair of cumulative counters that
 * gives only a mean (Triton's `*_duration_us`). `scale` converts to seconds.
 */
export type LatencySource = { histogram: string; scale: number } | { sum: string; count: string; scale: number };

export interface HistogramRule {
  signal: HistogramSignal;
  sources: readonly LatencySource[];
}

/**
 * A per-GPU gauge; the GPU is named by its `UUID` / `gpu_uuid` and `gpu` labels.
 * `gpu_memory_reserved_bytes` only completes DCGM's total (used + free + reserved).
 */
export interface GpuRule {
  signal: Exclude<GpuSignal, 'gpu_memory_used_ratio'> | 'gpu_memory_reserved_bytes';
  metric: string;
  scale?: number;
}

export interface ServerProfile {
  name: ProfileName;
  /** the profile is detected when a metric name starts with one of these */
  prefixes: readonly string[];
  gauges: readonly GaugeRule[];
  counters: readonly CounterRule[];
  histograms: readonly HistogramRule[];
  gpus: readonly GpuRule[];
  /** notes for people: quirks this profile handles */
  notes: readonly string[];
}

/** Both spellings of a counter: with `_total` (preferred) and without (TGI, Triton, DCGM, old exporters). */
const counter = (base: string, where?: Record<string, string>): Selector[] => [
  { metric: `${base}_total`, ...(where ? { where } : {}) },
  { metric: base, ...(where ? { where } : {}) },
];
const s = (metric: string, where?: Record<string, string>): Selector => (where ? { metric, where } : { metric });
const secs = (histogram: string): LatencySource => ({ histogram, scale: 1 });

const MIB = 1024 * 1024;

/** vLLM: V1 names first, V0 names (`gpu_cache_usage_perc`, `time_per_output_token_seconds`) as fallbacks. */
export const VLLM: ServerProfile = {
  name: 'vllm',
  prefixes: ['vllm:'],
  gauges: [
    { signal: 'requests_running', sources: [s('vllm:num_requests_running')], aggregation: 'sum' },
    { signal: 'queue_depth', sources: [s('vllm:num_requests_waiting')], aggregation: 'sum' },
    // both are 0–1 despite "perc"; 0.9.2–0.10 expose both with the same value
    { signal: 'kv_cache_usage_ratio', sources: [s('vllm:kv_cache_usage_perc'), s('vllm:gpu_cache_usage_perc')], aggregation: 'mean' },
    // V0 only; V1 derives it from the hit/query counters over an interval
    { signal: 'prefix_cache_hit_ratio', sources: [s('vllm:gpu_prefix_cache_hit_rate')], aggregation: 'mean' },
  ],
  counters: [
    { counter: 'preemptions', sources: counter('vllm:num_preemptions') },
    { counter: 'prompt_tokens', sources: counter('vllm:prompt_tokens') },
    { counter: 'generation_tokens', sources: counter('vllm:generation_tokens') },
    { counter: 'prefix_cache_hits', sources: counter('vllm:prefix_cache_hits') },
    { counter: 'prefix_cache_queries', sources: counter('vllm:prefix_cache_queries') },
  ],
  histograms: [
    { signal: 'server_ttft_s', sources: [secs('vllm:time_to_first_token_seconds')] },
    { signal: 'server_itl_s', sources: [secs('vllm:inter_token_latency_seconds'), secs('vllm:time_per_output_token_seconds')] },
    { signal: 'server_e2e_s', sources: [secs('vllm:e2e_request_latency_seconds')] },
    { signal: 'server_queue_time_s', sources: [secs('vllm:request_queue_time_seconds')] },
  ],
  gpus: [],
  notes: [
    'kv_cache_usage_perc (V1, from 0.9.2) and gpu_cache_usage_perc (V0, gone in 0.12) are both 0-1',
    'inter_token_latency_seconds (V1) replaced time_per_output_token_seconds (V0); both are per-token gaps',
    '*_created series (prometheus_client) are ignored',
  ],
};

/** SGLang: `token_usage` is the KV-pool usage ratio; retractions are its preemptions. */
export const SGLANG: ServerProfile = {
  name: 'sglang',
  prefixes: ['sglang:'],
  gauges: [
    { signal: 'requests_running', sources: [s('sglang:num_running_reqs')], aggregation: 'sum' },
    { signal: 'queue_depth', sources: [s('sglang:num_queue_reqs')], aggregation: 'sum' },
    { signal: 'kv_cache_usage_ratio', sources: [s('sglang:token_usage')], aggregation: 'mean' },
    { signal: 'prefix_cache_hit_ratio', sources: [s('sglang:cache_hit_rate')], aggregation: 'mean' },
  ],
  counters: [
    { counter: 'preemptions', sources: counter('sglang:num_retracted_requests') },
    { counter: 'prompt_tokens', sources: counter('sglang:prompt_tokens') },
    { counter: 'generation_tokens', sources: counter('sglang:generation_tokens') },
  ],
  histograms: [
    { signal: 'server_ttft_s', sources: [secs('sglang:time_to_first_token_seconds')] },
    { signal: 'server_itl_s', sources: [secs('sglang:inter_token_latency_seconds'), secs('sglang:time_per_output_token_seconds')] },
    { signal: 'server_e2e_s', sources: [secs('sglang:e2e_request_latency_seconds')] },
    { signal: 'server_queue_time_s', sources: [secs('sglang:queue_time_seconds')] },
  ],
  gpus: [],
  notes: ['older SGLang writes a histogram\'s _sum before its buckets', 'preemptions_per_s is the rate of sglang:num_retracted_requests_total'],
};

/** TGI: counters without `_total`; token counts exist only as histogram `_sum`s; no TTFT histogram. */
export const TGI: ServerProfile = {
  name: 'tgi',
  prefixes: ['tgi_'],
  gauges: [
    { signal: 'requests_running', sources: [s('tgi_batch_current_size')], aggregation: 'sum' },
    { signal: 'queue_depth', sources: [s('tgi_queue_size')], aggregation: 'sum' },
  ],
  counters: [
    // recorded when a request finishes, like llama.cpp's
    { counter: 'prompt_tokens', sources: [s('tgi_request_input_length_sum')] },
    { counter: 'generation_tokens', sources: [s('tgi_request_generated_tokens_sum')] },
  ],
  histograms: [
    { signal: 'server_queue_time_s', sources: [secs('tgi_request_queue_duration')] },
    { signal: 'server_e2e_s', sources: [secs('tgi_request_duration')] },
    // per request: inference time / generated tokens (includes the prefill): TGI's closest to ITL
    { signal: 'server_itl_s', sources: [secs('tgi_request_mean_time_per_token_duration')] },
  ],
  gpus: [],
  notes: ['no TTFT histogram (durations split by method="prefill|decode" are per batch, not per request)', 'server_itl_s is tgi_request_mean_time_per_token_duration, which includes the prefill'],
};

/** llama.cpp server: its `*_tokens_seconds` throughput gauges reset on every scrape and are not used. */
export const LLAMACPP: ServerProfile = {
  name: 'llamacpp',
  prefixes: ['llamacpp:'],
  gauges: [
    { signal: 'requests_running', sources: [s('llamacpp:requests_processing')], aggregation: 'sum' },
    { signal: 'queue_depth', sources: [s('llamacpp:requests_deferred')], aggregation: 'sum' },
    // old builds (and ik_llama.cpp) only
    { signal: 'kv_cache_usage_ratio', sources: [s('llamacpp:kv_cache_usage_ratio')], aggregation: 'mean' },
  ],
  counters: [
    // only tokens not reused from the prompt cache
    { counter: 'prompt_tokens', sources: [s('llamacpp:prompt_tokens_total')] },
    // grows when a request finishes, not per token; printed with 6 significant digits
    { counter: 'generation_tokens', sources: [s('llamacpp:tokens_predicted_total')] },
  ],
  histograms: [],
  gpus: [],
  notes: [
    'prompt_tokens_seconds / predicted_tokens_seconds are per-request averages that reset: not used',
    'tokens_predicted_total only grows when a request finishes, so short windows see bursts',
    'values above 1e6 print with 6 significant digits and are no longer exact',
  ],
};

/** Triton (base `nv_inference_*`, GPU `nv_gpu_*`), its TensorRT-LLM backend (`nv_trt_llm_*`), and trtllm-serve. */
export const TRITON: ServerProfile = {
  name: 'triton',
  prefixes: ['nv_inference_', 'nv_trt_llm_', 'nv_gpu_', 'nv_energy_', 'trtllm_', 'trtllm:'],
  gauges: [
    {
      signal: 'requests_running',
      sources: [s('nv_trt_llm_request_metrics', { request_type: 'active' }), s('trtllm_num_requests_running'), s('trtllm:num_requests_running')],
      aggregation: 'sum',
    },
    {
      signal: 'queue_depth',
      sources: [
        s('nv_inference_pending_request_count'),
        s('nv_trt_llm_request_metrics', { request_type: 'waiting' }),
        s('trtllm_num_requests_waiting'),
        s('trtllm:num_requests_waiting'),
      ],
      aggregation: 'sum',
    },
    {
      signal: 'kv_cache_usage_ratio',
      sources: [s('nv_trt_llm_kv_cache_block_metrics', { kv_cache_block_type: 'fraction' }), s('trtllm_kv_cache_utilization'), s('trtllm:kv_cache_utilization')],
      aggregation: 'mean',
    },
    { signal: 'prefix_cache_hit_ratio', sources: [s('trtllm_kv_cache_hit_rate'), s('trtllm:kv_cache_hit_rate')], aggregation: 'mean' },
  ],
  counters: [],
  histograms: [
    {
      signal: 'server_ttft_s',
      sources: [
        secs('trtllm_time_to_first_token_seconds'),
        secs('trtllm:time_to_first_token_seconds'),
        // opt-in (--metrics-config histogram_latencies=true); time to the first response chunk
        { histogram: 'nv_inference_first_response_histogram_ms', scale: 1e-3 },
      ],
    },
    { signal: 'server_itl_s', sources: [secs('trtllm_time_per_output_token_seconds'), secs('trtllm:time_per_output_token_seconds')] },
    {
      signal: 'server_e2e_s',
      sources: [
        secs('trtllm_e2e_request_latency_seconds'),
        secs('trtllm:e2e_request_latency_seconds'),
        // cumulative µs over successful requests: a mean only
        { sum: 'nv_inference_request_duration_us', count: 'nv_inference_request_success', scale: 1e-6 },
      ],
    },
    {
      signal: 'server_queue_time_s',
      sources: [
        secs('trtllm_request_queue_time_seconds'),
        secs('trtllm:request_queue_time_seconds'),
        { sum: 'nv_inference_queue_duration_us', count: 'nv_inference_request_success', scale: 1e-6 },
      ],
    },
  ],
  gpus: [
    { signal: 'gpu_utilization_ratio', metric: 'nv_gpu_utilization' }, // already 0–1
    { signal: 'gpu_memory_used_bytes', metric: 'nv_gpu_memory_used_bytes' },
    { signal: 'gpu_memory_total_bytes', metric: 'nv_gpu_memory_total_bytes' },
    { signal: 'gpu_power_watts', metric: 'nv_gpu_power_usage' },
  ],
  notes: [
    'counters have no _total suffix; durations are cumulative microseconds (converted to s)',
    'TRT-LLM state is chosen by label value: request_type="active" (running), "waiting" (queue), kv_cache_block_type="fraction"',
    'nv_inference_first_response_histogram_ms is time to the first response chunk (ms, converted to s)',
  ],
};

/** NVIDIA DCGM exporter: utilisation in percent, framebuffer in MiB; default collection every 30 s. */
export const DCGM: ServerProfile = {
  name: 'dcgm',
  prefixes: ['DCGM_FI_'],
  gauges: [],
  counters: [],
  histograms: [],
  gpus: [
    { signal: 'gpu_utilization_ratio', metric: 'DCGM_FI_DEV_GPU_UTIL', scale: 0.01 },
    { signal: 'gpu_memory_used_bytes', metric: 'DCGM_FI_DEV_FB_USED', scale: MIB },
    { signal: 'gpu_memory_free_bytes', metric: 'DCGM_FI_DEV_FB_FREE', scale: MIB },
    { signal: 'gpu_memory_reserved_bytes', metric: 'DCGM_FI_DEV_FB_RESERVED', scale: MIB },
    { signal: 'gpu_power_watts', metric: 'DCGM_FI_DEV_POWER_USAGE' },
    // SM activity proper when profiling metrics are on, else the graphics-engine activity (both 0–1)
    { signal: 'gpu_sm_active_ratio', metric: 'DCGM_FI_PROF_SM_ACTIVE' },
    { signal: 'gpu_sm_active_ratio', metric: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE' },
  ],
  notes: ['GPU_UTIL is percent (converted to 0-1), FB_* are MiB (converted to bytes), PROF_* are already 0-1', 'the exporter samples every 30 s by default: coarser than a 1 s window'],
};

/** Every profile, in precedence order: when two give the same signal, the earlier one wins. */
export const PROFILES: readonly ServerProfile[] = [VLLM, SGLANG, TGI, LLAMACPP, TRITON, DCGM];

/** The profiles whose metric names appear in these family (or sample) names, in precedence order. */
export function detectProfiles(metricNames: Iterable<string>): ProfileName[] {
  const found = new Set<ProfileName>();
  for (const name of metricNames) {
    for (const p of PROFILES) {
      if (!found.has(p.name) && p.prefixes.some((prefix) => name.startsWith(prefix))) found.add(p.name);
    }
    if (found.size === PROFILES.length) break;
  }
  return PROFILES.filter((p) => found.has(p.name)).map((p) => p.name);
}

/** The profile of that name. */
export function profileByName(name: ProfileName): ServerProfile {
  return PROFILES.find((p) => p.name === name)!;
}
