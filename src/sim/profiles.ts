// The simulator's hardware/model profiles: the physical figures given in the README ("The built-in simulator") (roofline inputs,
// KV cache size, scheduler limits) and the lookup by name used by the server and the CLI.

/** Everything the engine model needs to know about one deployment (model + GPUs + vLLM limits). */
export interface SimProfile {
  name: string;
  /** one line for `inferload sim --help` */
  description: string;
  /** the id served by `/v1/models` and echoed in responses */
  modelName: string;
  gpuCount: number;
  /** prompt + output tokens of one request, at most */
  maxModelLen: number;
  /** model parameters (all GPUs together) */
  paramsCount: number;
  /** bytes of weights read once per step (all GPUs together) */
  weightBytes: number;
  /** KV cache bytes per token of context (all layers, K and V, all GPUs together) */
  kvBytesPerToken: number;
  /** KV cache size in blocks of `blockSizeTokens` */
  kvCacheBlocks: number;
  blockSizeTokens: number;
  /** HBM bandwidth of one GPU */
  memBandwidthBytesPerS: number;
  /** dense bf16 peak of one GPU */
  peakFlopsPerS: number;
  /** model FLOPs utilisation reached by real kernels */
  mfu: number;
  /** scheduling, sampling and launch overhead of one step */
  stepOverheadUs: number;
  /** tensor-parallel all-reduce latency per step (0 on one GPU) */
  commFixedUsPerStep: number;
  /** all-reduce bytes per token in the step (0 on one GPU) */
  commBytesPerToken: number;
  /**
   * LoRA kernels (shrink and expand on every adapted layer) per distinct adapter computed in a
   * step; a step of base-model requests only pays none
   */
  loraOverheadUsPerAdapter: number;
  /** GPU-to-GPU bandwidth used by the all-reduces */
  interconnectBytesPerS: number;
  /** vLLM `max_num_batched_tokens`: the token budget of one step */
  maxNumBatchedTokens: number;
  /** vLLM `max_num_seqs`: requests in the batch at most */
  maxNumSeqs: number;
  /** framebuffer of one GPU (for GPU signals derived later) */
  gpuMemoryBytes: number;
  idlePowerWatts: number;
  tdpWatts: number;
}

const H100_SXM_MEMORY_BYTES = 81_559 * 1024 * 1024; // what nvidia-smi reports for an "80 GB" H100
const H100_SXM_BANDWIDTH_BYTES_PER_S = 3.35e12;
const H100_SXM_BF16_FLOPS_PER_S = 989e12;
const GPU_MEMORY_UTILIZATION = 0.9; // vLLM's default --gpu-memory-utilization
const ACTIVATION_BYTES_PER_GPU = 2e9; // activations, CUDA graphs, sampler buffers
const LLAMA_8B_PARAMS = 8.0e9;
const LLAMA_8B_WEIGHT_BYTES = 16e9; // 2 bytes per parameter
const LLAMA_8B_KV_BYTES_PER_TOKEN = 32 * 8 * 128 * 2 * 2; // layers x KV heads x dims x (K,V) x 2 bytes
const LLAMA_8B_ALLREDUCE_BYTES_PER_TOKEN = 2 * 32 * 4096 * 2; // 2 all-reduces per layer of a 4096-wide bf16 row
const BLOCK_SIZE_TOKENS = 16;
/**
 * ~7 % of the default profile's small-batch decode step (5.8 ms) per distinct adapter: one adapter
 * costs +7 %, four (the default max_loras) +28 %, the span measured for one adapter against the
 * base model, from 8-24 % (Llama-3.1-8B on a TPU v6e, vLLM PR #15655) to 34 % (Llama-2-7B on an
 * A100, 2694 -> 1788 output tok/s, vLLM PR #11267). A rank-16 adapter's weights are only ~84 MB
 * (25 µs of HBM at 3.35 TB/s): the cost is the punica-style kernels, which Punica (arXiv
 * 2310.18547) puts at ~2 ms per token for a whole batch of distinct adapters. Linear in the adapter
 * count is a simplification (real kernels have a fixed part and a smaller per-adapter part) that
 * keeps 1 to 4 adapters in the measured range.
 */
const LORA_OVERHEAD_US_PER_ADAPTER = 400;

/** KV blocks left once weights and activations are resident, as vLLM sizes its cache at start-up. */
function kvCacheBlocksFor(gpuCount: number): number {
  const perGpuBytes =
    H100_SXM_MEMORY_BYTES * GPU_MEMORY_UTILIZATION - LLAMA_8B_WEIGHT_BYTES / gpuCount - ACTIVATION_BYTES_PER_GPU;
  const tokens = (perGpuBytes * gpuCount) / LLAMA_8B_KV_BYTES_PER_TOKEN;
  return Math.floor(tokens / BLOCK_SIZE_TOKENS);
}

const llama8bOnH100 = {
  modelName: 'meta-llama/Llama-3.1-8B-Instruct',
  maxModelLen: 32_768,
  paramsCount: LLAMA_8B_PARAMS,
  weightBytes: LLAMA_8B_WEIGHT_BYTES,
  kvBytesPerToken: LLAMA_8B_KV_BYTES_PER_TOKEN,
  blockSizeTokens: BLOCK_SIZE_TOKENS,
  memBandwidthBytesPerS: H100_SXM_BANDWIDTH_BYTES_PER_S,
  peakFlopsPerS: H100_SXM_BF16_FLOPS_PER_S,
  mfu: 0.4,
  stepOverheadUs: 1000,
  loraOverheadUsPerAdapter: LORA_OVERHEAD_US_PER_ADAPTER,
  maxNumBatchedTokens: 8192,
  maxNumSeqs: 256,
  gpuMemoryBytes: H100_SXM_MEMORY_BYTES,
  idlePowerWatts: 70,
  tdpWatts: 700,
} as const;

/** The built-in profiles, by name. */
export const SIM_PROFILES: Readonly<Record<string, SimProfile>> = {
  default: {
    ...llama8bOnH100,
    name: 'default',
    description: 'Llama-3.1-8B class model, bf16, on one 80 GB H100 SXM (~450k-token KV cache)',
    gpuCount: 1,
    kvCacheBlocks: kvCacheBlocksFor(1),
    commFixedUsPerStep: 0,
    commBytesPerToken: 0,
    interconnectBytesPerS: 1, // unused on one GPU
  },
  tp2: {
    ...llama8bOnH100,
    name: 'tp2',
    description:
      'the same 8B model tensor-parallel over 2 H100 SXM (NVLink): half the weights per GPU, ' +
      '~1M-token KV cache, an all-reduce cost per step',
    gpuCount: 2,
    kvCacheBlocks: kvCacheBlocksFor(2),
    // 64 small all-reduces per step (2 per layer) at a few µs each with vLLM's custom all-reduce
    commFixedUsPerStep: 400,
    commBytesPerToken: LLAMA_8B_ALLREDUCE_BYTES_PER_TOKEN,
    interconnectBytesPerS: 450e9, // NVLink 4, one direction
  },
};

/** Profile names with their one-line descriptions, for `inferload sim --help`. */
export function listProfiles(): Array<{ name: string; description: string }> {
  return Object.values(SIM_PROFILES).map((p) => ({ name: p.name, description: p.description }));
}

/**
 * The profile called `name` (or a custom profile object, checked), with its KV-derived limits
 * made consistent: `maxModelLen` never exceeds the KV cache, so any admitted request can run.
 * Throws an Error listing the valid names when `name` is unknown.
 */
export function resolveProfile(profile: string | SimProfile = 'default'): SimProfile {
  let p: SimProfile;
  if (typeof profile === 'string') {
    const found = Object.hasOwn(SIM_PROFILES, profile) ? SIM_PROFILES[profile] : undefined;
    if (!found) {
      throw new Error(
        `unknown simulator profile "${profile}"; valid profiles: ${Object.keys(SIM_PROFILES).join(', ')}`,
      );
    }
    p = found;
  } else {
    p = profile;
  }
  checkProfile(p);
  const kvTokens = p.kvCacheBlocks * p.blockSizeTokens;
  return p.maxModelLen <= kvTokens ? { ...p } : { ...p, maxModelLen: kvTokens };
}

function checkProfile(p: SimProfile): void {
  const positive: Array<keyof SimProfile> = [
    'gpuCount',
    'maxModelLen',
    'paramsCount',
    'weightBytes',
    'kvBytesPerToken',
    'kvCacheBlocks',
    'blockSizeTokens',
    'memBandwidthBytesPerS',
    'peakFlopsPerS',
    'mfu',
    'interconnectBytesPerS',
    'maxNumBatchedTokens',
    'maxNumSeqs',
  ];
  for (const key of positive) {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new Error(`simulator profile "${p.name}": ${key} must be a positive number, got ${String(v)}`);
    }
  }
  const integers: Array<keyof SimProfile> = [
    'gpuCount',
    'maxModelLen',
    'kvCacheBlocks',
    'blockSizeTokens',
    'maxNumBatchedTokens',
    'maxNumSeqs',
  ];
  for (const key of integers) {
    if (!Number.isInteger(p[key])) throw new Error(`simulator profile "${p.name}": ${key} must be an integer`);
  }
  for (const key of ['stepOverheadUs', 'commFixedUsPerStep', 'commBytesPerToken', 'loraOverheadUsPerAdapter'] as const) {
    if (!Number.isFinite(p[key]) || p[key] < 0) {
      throw new Error(`simulator profile "${p.name}": ${key} must be >= 0`);
    }
  }
}
