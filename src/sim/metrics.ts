// The simulator's own telemetry: vLLM V1's `/metrics` (names, types, HELP texts, labels and bucket
// boundaries copied from real vLLM captures) and a DCGM-exporter-style `/gpu/metrics` whose figures
// are derived from the engine model's steps and KV blocks, so a scraper reads the same truth the
// simulated clients see.

import { createHash } from 'node:crypto';
import type { EngineCounters, EngineGauges, StepPlan, TokenEvent } from './model.js';
import type { SimProfile } from './profiles.js';

/** `Content-Type` of Prometheus text format 0.0.4, as prometheus_client serves it. */
export const PROMETHEUS_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * vLLM V1's histogram bucket upper bounds (`+Inf` implied), as in the captures of vLLM 0.11 and
 * nightly in `test/fixtures/metrics/vllm-v1-*.prom` (vllm/v1/metrics/loggers.py).
 */
export const VLLM_BUCKETS = {
  /** `vllm:time_to_first_token_seconds` */
  ttftSeconds: [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
    640.0, 2560.0,
  ],
  /** `vllm:inter_token_latency_seconds` */
  itlSeconds: [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
  ],
  /** `vllm:e2e_request_latency_seconds`, `vllm:request_queue_time_seconds` and the other request phases */
  requestLatencySeconds: [
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
    7680.0,
  ],
  /** `vllm:iteration_tokens_total` (tokens computed per engine step) */
  iterationTokens: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
} as const;

/**
 * vLLM's `build_1_2_5_buckets(max_value)`: 1, 2, 5, 10, 20, 50, ... up to `maxValue`, the bounds of
 * `vllm:request_prompt_tokens` and `vllm:request_generation_tokens` (with `max_model_len`).
 */
export function buckets125(maxValue: number): number[] {
  const out: number[] = [];
  for (let exponent = 0; ; exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const value = mantissa * 10 ** exponent;
      if (value > maxValue) return out;
      out.push(value);
    }
  }
}

/**
 * A number as prometheus_client writes it (`floatToGoString`): Python's `repr` (`1.0`, `0.075`,
 * `1e-05`), with Go's earlier switch to exponents for values of 7+ integer digits (`1e+06`,
 * `1.7624384230434499e+09`), `+Inf`, `-Inf`, `NaN`.
 */
export function formatPrometheusFloat(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  const s = pythonFloatRepr(value);
  const dot = s.indexOf('.');
  if (value > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

/** Python's `repr(float)`: shortest round-trip digits; exponent form below 1e-4 and from 1e16. */
function pythonFloatRepr(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [digitsPart, expPart] = value.toExponential().split('e') as [string, string];
  const exponent = Number(expPart);
  const negative = digitsPart.startsWith('-');
  const digits = digitsPart.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${mantissa}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integerDigits = exponent + 1;
  if (digits.length <= integerDigits) return `${sign}${digits.padEnd(integerDigits, '0')}.0`;
  return `${sign}${digits.slice(0, integerDigits)}.${digits.slice(integerDigits)}`;
}

/** A Prometheus histogram with fixed upper bounds: O(log buckets) per observation. */
export class BucketHistogram {
  /** per-bucket counts (not cumulative); the last slot is `+Inf` */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly upperBounds: readonly number[]) {
    for (let i = 1; i < upperBounds.length; i++) {
      if (!(upperBounds[i]! > upperBounds[i - 1]!)) throw new RangeError('bucket bounds must increase');
    }
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    // first bound >= value (Prometheus buckets are `le`)
    let lo = 0;
    let hi = this.upperBounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.upperBounds[mid]! >= value) hi = mid;
      else lo = mid + 1;
    }
    this.counts[lo]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative count of observations <= each bound, `+Inf` last. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (const c of this.counts) out.push((running += c));
    return out;
  }
}

/** Share of an interval that engine steps kept the GPU busy, and how (roofline parts). */
export interface StepActivity {
  /** wall time in steps / interval: DCGM's GPU utilisation and graphics-engine activity */
  busyRatio: number;
  /** time in the compute-bound part of steps / interval: SM activity */
  smActiveRatio: number;
  /** time reading weights and KV from HBM / interval: DRAM activity */
  dramActiveRatio: number;
}

/**
 * The steps of the last `intervalUs`, to sample activity like DCGM samples its counters: over a
 * rolling interval ending now. Steps arrive in time order (they chain), so old ones fall off the
 * front; memory is bounded by the steps of one interval.
 */
export class StepActivityWindow {
  private startUs = new Float64Array(256);
  private endUs = new Float64Array(256);
  private smShare = new Float64Array(256);
  private dramShare = new Float64Array(256);
  private head = 0;
  private length = 0;

  constructor(readonly intervalUs: number) {
    if (!(intervalUs > 0)) throw new RangeError(`intervalUs must be positive, got ${intervalUs}`);
  }

  /** A step on [startUs, endUs) whose SM and DRAM activity are the given shares of its duration. */
  add(startUs: number, endUs: number, smShare: number, dramShare: number): void {
    const horizonUs = startUs - this.intervalUs;
    while (this.length > 0 && this.endUs[this.head]! <= horizonUs) {
      this.head = (this.head + 1) % this.startUs.length;
      this.length--;
    }
    if (this.length === this.startUs.length) this.grow();
    const i = (this.head + this.length) % this.startUs.length;
    this.startUs[i] = startUs;
    this.endUs[i] = endUs;
    this.smShare[i] = smShare;
    this.dramShare[i] = dramShare;
    this.length++;
  }

  /** Activity over `[nowUs - intervalUs, nowUs]`; the part of a step after `nowUs` is not counted yet. */
  sample(nowUs: number): StepActivity {
    const fromUs = nowUs - this.intervalUs;
    let busyUs = 0;
    let smUs = 0;
    let dramUs = 0;
    const cap = this.startUs.length;
    for (let k = 0; k < this.length; k++) {
      const i = (this.head + k) % cap;
      const overlapUs = Math.min(this.endUs[i]!, nowUs) - Math.max(this.startUs[i]!, fromUs);
      if (overlapUs <= 0) continue;
      busyUs += overlapUs;
      smUs += overlapUs * this.smShare[i]!;
      dramUs += overlapUs * this.dramShare[i]!;
    }
    const clamp = (x: number): number => Math.min(1, Math.max(0, x / this.intervalUs));
    return { busyRatio: clamp(busyUs), smActiveRatio: clamp(smUs), dramActiveRatio: clamp(dramUs) };
  }

  private grow(): void {
    const cap = this.startUs.length;
    const copy = (from: Float64Array): Float64Array<ArrayBuffer> => {
      const to = new Float64Array(cap * 2);
      for (let k = 0; k < this.length; k++) to[k] = from[(this.head + k) % cap]!;
      return to;
    };
    this.startUs = copy(this.startUs);
    this.endUs = copy(this.endUs);
    this.smShare = copy(this.smShare);
    this.dramShare = copy(this.dramShare);
    this.head = 0;
  }
}

/** One simulated GPU as `/gpu/metrics` reports it. */
export interface SimGpuSample {
  index: number;
  uuid: string;
  /** DCGM_FI_DEV_GPU_UTIL / 100 */
  utilizationRatio: number;
  smActiveRatio: number;
  dramActiveRatio: number;
  fbUsedBytes: number;
  fbFreeBytes: number;
  fbReservedBytes: number;
  powerWatts: number;
  temperatureC: number;
  /** since the simulator started (DCGM: since boot) */
  energyJoules: number;
}

/** What the telemetry reads from the engine: its profile, cumulative counters and state. */
export interface SimMetricsSource {
  readonly profile: SimProfile;
  readonly counters: Readonly<EngineCounters>;
  /** automatic prefix caching on (cache_config_info's enable_prefix_caching); absent: off */
  readonly prefixCaching?: boolean;
  gauges(): EngineGauges;
  /** adapters with running and waiting requests (`vllm:lora_requests_info`); absent: none */
  loraAdapters?(): { running: readonly string[]; waiting: readonly string[] };
}

export interface SimMetricsOptions {
  /** start of the simulator on the engine clock (µs); energy counts from here (default 0) */
  startUs?: number;
  /**
   * epoch seconds written in the `_created` series (default: now); also the wall clock at
   * `startUs`, from which `vllm:lora_requests_info` stamps its series
   */
  createdEpochS?: number;
  /** LoRA serving on: `vllm:lora_requests_info` with this `max_lora` label; absent: no such family */
  maxLoras?: number;
  /** makes the GPU UUIDs unique to this simulator instance (default `inferload-sim`) */
  instanceId?: string;
  /** DCGM's `Hostname` label (default `inferload-sim`) */
  hostname?: string;
  /** DCGM's `modelName` label (default `NVIDIA H100 80GB HBM3`, the built-in profiles' GPU) */
  gpuModelName?: string;
  /** DCGM sampling interval over which utilisation and activity are averaged (default 1 s) */
  gpuSampleIntervalUs?: number;
}

/** Framebuffer the driver keeps for itself (DCGM_FI_DEV_FB_RESERVED; ~0.6 % on an 80 GB H100). */
const FB_RESERVED_BYTES = 512 * 1024 * 1024;
/** CUDA context, activations, CUDA graphs and sampler buffers of a vLLM worker on each GPU */
const WORKER_OVERHEAD_BYTES_PER_GPU = 2e9;
/** memory-bound steps move the power needle through HBM traffic, up to this share of the range */
const DRAM_POWER_WEIGHT = 0.6;
const IDLE_TEMPERATURE_C = 30;
const TEMPERATURE_RISE_AT_TDP_C = 45;
const MIB = 1024 * 1024;
const DCGM_DRIVER_VERSION = '580.105.08';
const FINISHED_REASONS = ['stop', 'length', 'abort'] as const;
/**
 * label sets of `vllm:lora_requests_info` kept: prometheus_client keeps every one it has seen (each
 * at the time it was last set, hence a scraper takes the newest); a long run with many adapters
 * would make that thousands, so the least recently set go beyond this many
 */
const MAX_LORA_INFO_SERIES = 100;

/** The histograms vLLM V1 observes per request (and per step: `iterationTokens`). */
interface RequestHistograms {
  promptTokens: BucketHistogram;
  generationTokens: BucketHistogram;
  iterationTokens: BucketHistogram;
  ttft: BucketHistogram;
  itl: BucketHistogram;
  e2e: BucketHistogram;
  queueTime: BucketHistogram;
  inferenceTime: BucketHistogram;
  prefillTime: BucketHistogram;
  decodeTime: BucketHistogram;
}

/**
 * The simulator's telemetry. Feed it every step (`onStep`) and every step's tokens (`onTokens`);
 * render with `vllmText()` and `dcgmText(nowUs)`. Histograms are observed once per token event or
 * finished request, never per byte written.
 */
export class SimMetrics {
  private readonly profile: SimProfile;
  private readonly h: RequestHistograms;
  private readonly activity: StepActivityWindow;
  private readonly startUs: number;
  private readonly createdText: string;
  /** `model_name="..."`: vLLM's labels are `engine`, then any of `finished_reason`/`le`, then this (sorted) */
  private readonly modelLabel: string;
  private readonly vllmLabels: string;
  private readonly gpuLabels: string[];
  private readonly gpuUuids: string[];
  /** energy above idle of one GPU, J */
  private dynamicEnergyJoulesPerGpu = 0;
  private readonly createdEpochS: number;
  private readonly maxLoras: number | undefined;
  /** `vllm:lora_requests_info` label text → epoch seconds it was last set, in first-seen order */
  private readonly loraInfo = new Map<string, number>();

  constructor(
    private readonly source: SimMetricsSource,
    options: SimMetricsOptions = {},
  ) {
    const p = source.profile;
    this.profile = p;
    this.startUs = options.startUs ?? 0;
    this.activity = new StepActivityWindow(options.gpuSampleIntervalUs ?? 1_000_000);
    this.createdEpochS = options.createdEpochS ?? (performance.timeOrigin + performance.now()) / 1000;
    this.createdText = formatPrometheusFloat(this.createdEpochS);
    this.maxLoras = options.maxLoras;
    this.modelLabel = `model_name="${escapeLabelValue(p.modelName)}"`;
    this.vllmLabels = `engine="0",${this.modelLabel}`;
    const tokenBuckets = buckets125(p.maxModelLen);
    this.h = {
      promptTokens: new BucketHistogram(tokenBuckets),
      generationTokens: new BucketHistogram(tokenBuckets),
      iterationTokens: new BucketHistogram(VLLM_BUCKETS.iterationTokens),
      ttft: new BucketHistogram(VLLM_BUCKETS.ttftSeconds),
      itl: new BucketHistogram(VLLM_BUCKETS.itlSeconds),
      e2e: new BucketHistogram(VLLM_BUCKETS.requestLatencySeconds),
      queueTime: new BucketHistogram(VLLM_BUCKETS.requestLatencySeconds),
      inferenceTime: new BucketHistogram(VLLM_BUCKETS.requestLatencySeconds),
      prefillTime: new BucketHistogram(VLLM_BUCKETS.requestLatencySeconds),
      decodeTime: new BucketHistogram(VLLM_BUCKETS.requestLatencySeconds),
    };
    const instanceId = options.instanceId ?? 'inferload-sim';
    const hostname = escapeLabelValue(options.hostname ?? 'inferload-sim');
    const gpuModelName = escapeLabelValue(options.gpuModelName ?? 'NVIDIA H100 80GB HBM3');
    this.gpuUuids = [];
    this.gpuLabels = [];
    for (let i = 0; i < p.gpuCount; i++) {
      const uuid = gpuUuid(instanceId, i);
      const busId = `00000000:${(0x18 + 0x11 * i).toString(16).toUpperCase().padStart(2, '0')}:00.0`;
      this.gpuUuids.push(uuid);
      this.gpuLabels.push(
        `gpu="${i}",UUID="${uuid}",pci_bus_id="${busId}",device="nvidia${i}",modelName="${gpuModelName}",` +
          `Hostname="${hostname}",DCGM_FI_DRIVER_VERSION="${DCGM_DRIVER_VERSION}"`,
      );
    }
  }

  /** A step began (StepLoop's `onStep`): GPU activity and vLLM's tokens-per-iteration histogram. */
  onStep(plan: StepPlan): void {
    const t = plan.time;
    // shares of the step: roofline parts over the step's length, both before the speed factor
    const undividedUs = this.profile.stepOverheadUs + Math.max(t.memoryUs, t.computeUs) + t.commUs + t.loraUs;
    const smShare = undividedUs > 0 ? t.computeUs / undividedUs : 0;
    const dramShare = undividedUs > 0 ? t.memoryUs / undividedUs : 0;
    this.activity.add(plan.startUs, plan.endUs, smShare, dramShare);
    this.dynamicEnergyJoulesPerGpu +=
      (this.profile.tdpWatts - this.profile.idlePowerWatts) * powerShare(smShare, dramShare) * ((plan.endUs - plan.startUs) / 1e6);
    this.h.iterationTokens.observe(plan.scheduledTokens);
    this.recordLora(plan.startUs);
  }

  /** The tokens of one step, given at the step's end (StepLoop's sink): latency histograms. */
  onTokens(events: ReadonlyArray<TokenEvent<unknown>>, stepEndUs: number): void {
    const h = this.h;
    for (const e of events) {
      const r = e.request;
      if (e.tokenCount === 1) h.ttft.observe((stepEndUs - r.arrivalUs) / 1e6);
      else if (r.previousTokenUs >= 0) h.itl.observe((stepEndUs - r.previousTokenUs) / 1e6);
      if (e.finishReason === null) continue;
      const scheduledUs = r.firstScheduledUs >= 0 ? r.firstScheduledUs : r.arrivalUs;
      const firstTokenUs = r.firstTokenUs >= 0 ? r.firstTokenUs : stepEndUs;
      h.e2e.observe((stepEndUs - r.arrivalUs) / 1e6);
      h.queueTime.observe((scheduledUs - r.arrivalUs) / 1e6);
      h.inferenceTime.observe((stepEndUs - scheduledUs) / 1e6);
      h.prefillTime.observe((firstTokenUs - scheduledUs) / 1e6);
      h.decodeTime.observe((stepEndUs - firstTokenUs) / 1e6);
      h.promptTokens.observe(r.spec.promptTokens);
      h.generationTokens.observe(e.tokenCount);
    }
    this.recordLora(stepEndUs);
  }

  /**
   * vLLM sets `vllm:lora_requests_info{max_lora, running_lora_adapters, waiting_lora_adapters}` to
   * the wall-clock time at every engine iteration; a label set no longer current keeps its last
   * time. Called at each step's start (admissions) and end (finishes).
   */
  private recordLora(nowUs: number): void {
    if (this.maxLoras === undefined || !this.source.loraAdapters) return;
    const { running, waiting } = this.source.loraAdapters();
    // prometheus_client writes labels sorted by name
    const labels =
      `max_lora="${this.maxLoras}",running_lora_adapters="${escapeLabelValue(running.join(','))}",` +
      `waiting_lora_adapters="${escapeLabelValue(waiting.join(','))}"`;
    this.loraInfo.set(labels, this.createdEpochS + (nowUs - this.startUs) / 1e6);
    if (this.loraInfo.size > MAX_LORA_INFO_SERIES) {
      let oldest: string | undefined;
      let oldestS = Infinity;
      for (const [key, s] of this.loraInfo) if (s < oldestS) [oldest, oldestS] = [key, s];
      this.loraInfo.delete(oldest!);
    }
  }

  /** `/metrics`: vLLM V1's families in prometheus_client's text format 0.0.4. */
  vllmText(): string {
    const c = this.source.counters;
    const g = this.source.gauges();
    const out: string[] = [];
    this.gauge(out, 'vllm:num_requests_running', 'Number of requests in model execution batches.', g.running);
    this.gauge(out, 'vllm:num_requests_waiting', 'Number of requests waiting to be processed.', g.waiting);
    this.gauge(out, 'vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', g.kvCacheUsageRatio);
    this.counter(out, 'vllm:num_preemptions', 'Cumulative number of preemption from the engine.', c.preemptionsTotal);
    this.counter(out, 'vllm:prompt_tokens', 'Number of prefill tokens processed.', c.promptTokensTotal);
    this.counter(out, 'vllm:generation_tokens', 'Number of generation tokens processed.', c.generationTokensTotal);
    this.counter(out, 'vllm:prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.', c.prefixCacheQueriesTotal);
    this.counter(out, 'vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.', c.prefixCacheHitsTotal);
    const byReason: Record<(typeof FINISHED_REASONS)[number], number> = {
      stop: c.requestsFinishedStopTotal,
      length: c.requestsFinishedLengthTotal,
      abort: c.requestsAbortedTotal,
    };
    this.counterByReason(out, 'vllm:request_success', 'Count of successfully processed requests.', byReason);
    const h = this.h;
    this.histogram(out, 'vllm:request_prompt_tokens', 'Number of prefill tokens processed.', h.promptTokens);
    this.histogram(out, 'vllm:request_generation_tokens', 'Number of generation tokens processed.', h.generationTokens);
    this.histogram(out, 'vllm:iteration_tokens_total', 'Histogram of number of tokens per engine_step.', h.iterationTokens);
    this.histogram(out, 'vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', h.ttft);
    this.histogram(out, 'vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', h.itl);
    this.histogram(out, 'vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', h.e2e);
    this.histogram(
      out,
      'vllm:request_queue_time_seconds',
      'Histogram of time spent in WAITING phase for request.',
      h.queueTime,
    );
    this.histogram(
      out,
      'vllm:request_inference_time_seconds',
      'Histogram of time spent in RUNNING phase for request.',
      h.inferenceTime,
    );
    this.histogram(
      out,
      'vllm:request_prefill_time_seconds',
      'Histogram of time spent in PREFILL phase for request.',
      h.prefillTime,
    );
    this.histogram(
      out,
      'vllm:request_decode_time_seconds',
      'Histogram of time spent in DECODE phase for request.',
      h.decodeTime,
    );
    if (this.maxLoras !== undefined) {
      out.push('# HELP vllm:lora_requests_info Running stats on lora requests.\n# TYPE vllm:lora_requests_info gauge\n');
      for (const [labels, epochS] of this.loraInfo) out.push(`vllm:lora_requests_info{${labels}} ${formatPrometheusFloat(epochS)}\n`);
    }
    const p = this.profile;
    out.push(
      '# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n',
      '# TYPE vllm:cache_config_info gauge\n',
      `vllm:cache_config_info{block_size="${p.blockSizeTokens}",cache_dtype="auto",` +
        `enable_prefix_caching="${this.source.prefixCaching === true ? 'True' : 'False'}",` +
        `engine="0",num_gpu_blocks="${p.kvCacheBlocks}"} 1.0\n`,
    );
    return out.join('');
  }

  /** The simulated GPUs at `nowUs` (engine clock): activity over the sampling interval ending then. */
  gpuSamples(nowUs: number): SimGpuSample[] {
    const p = this.profile;
    const activity = this.activity.sample(nowUs);
    const g = this.source.gauges();
    const kvBytesPerGpu = (g.kvBlocksUsed * p.blockSizeTokens * p.kvBytesPerToken) / p.gpuCount;
    const usable = Math.max(0, p.gpuMemoryBytes - FB_RESERVED_BYTES);
    const fbUsedBytes = Math.min(usable, p.weightBytes / p.gpuCount + WORKER_OVERHEAD_BYTES_PER_GPU + kvBytesPerGpu);
    const share = powerShare(activity.smActiveRatio, activity.dramActiveRatio);
    const powerWatts = p.idlePowerWatts + (p.tdpWatts - p.idlePowerWatts) * share;
    const elapsedS = Math.max(0, nowUs - this.startUs) / 1e6;
    const energyJoules = p.idlePowerWatts * elapsedS + this.dynamicEnergyJoulesPerGpu;
    // Tensor parallelism splits every step evenly: all GPUs of the profile do the same work.
    return this.gpuUuids.map((uuid, index) => ({
      index,
      uuid,
      utilizationRatio: activity.busyRatio,
      smActiveRatio: activity.smActiveRatio,
      dramActiveRatio: activity.dramActiveRatio,
      fbUsedBytes,
      fbFreeBytes: usable - fbUsedBytes,
      fbReservedBytes: Math.min(FB_RESERVED_BYTES, p.gpuMemoryBytes),
      powerWatts,
      temperatureC: IDLE_TEMPERATURE_C + TEMPERATURE_RISE_AT_TDP_C * share,
      energyJoules,
    }));
  }

  /** `/gpu/metrics`: DCGM exporter's families and labels, one series per simulated GPU. */
  dcgmText(nowUs: number): string {
    const gpus = this.gpuSamples(nowUs);
    const out: string[] = [];
    const family = (name: string, type: 'gauge' | 'counter', help: string, value: (s: SimGpuSample) => string): void => {
      out.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
      for (const s of gpus) out.push(`${name}{${this.gpuLabels[s.index]!}} ${value(s)}\n`);
    };
    const int = (x: number): string => String(Math.round(x));
    const fixed = (x: number): string => x.toFixed(6);
    const mib = (bytes: number): string => String(Math.floor(bytes / MIB));
    family('DCGM_FI_DEV_GPU_TEMP', 'gauge', 'GPU temperature (in C).', (s) => int(s.temperatureC));
    family('DCGM_FI_DEV_POWER_USAGE', 'gauge', 'Power draw (in W).', (s) => fixed(s.powerWatts));
    family('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'counter', 'Total energy consumption since boot (in mJ).', (s) =>
      int(s.energyJoules * 1000),
    );
    family('DCGM_FI_DEV_GPU_UTIL', 'gauge', 'GPU utilization (in %).', (s) => int(s.utilizationRatio * 100));
    family('DCGM_FI_DEV_FB_FREE', 'gauge', 'Framebuffer memory free (in MiB).', (s) => mib(s.fbFreeBytes));
    family('DCGM_FI_DEV_FB_USED', 'gauge', 'Framebuffer memory used (in MiB).', (s) => mib(s.fbUsedBytes));
    family('DCGM_FI_DEV_FB_RESERVED', 'gauge', 'Framebuffer memory reserved (in MiB).', (s) => mib(s.fbReservedBytes));
    family('DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'gauge', 'Ratio of time the graphics engine is active.', (s) =>
      fixed(s.utilizationRatio),
    );
    family('DCGM_FI_PROF_SM_ACTIVE', 'gauge', 'The ratio of cycles an SM has at least 1 warp assigned.', (s) =>
      fixed(s.smActiveRatio),
    );
    family(
      'DCGM_FI_PROF_DRAM_ACTIVE',
      'gauge',
      'Ratio of cycles the device memory interface is active sending or receiving data.',
      (s) => fixed(s.dramActiveRatio),
    );
    return out.join('');
  }

  // ---- vLLM families in prometheus_client's layout -----------------------------------------------

  private gauge(out: string[], name: string, help: string, value: number): void {
    out.push(`# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name}{${this.vllmLabels}} ${formatPrometheusFloat(value)}\n`);
  }

  /** `name_total` plus prometheus_client's `name_created` gauge family. */
  private counter(out: string[], name: string, help: string, value: number): void {
    out.push(
      `# HELP ${name}_total ${help}\n# TYPE ${name}_total counter\n` +
        `${name}_total{${this.vllmLabels}} ${formatPrometheusFloat(value)}\n` +
        `# HELP ${name}_created ${help}\n# TYPE ${name}_created gauge\n` +
        `${name}_created{${this.vllmLabels}} ${this.createdText}\n`,
    );
  }

  private counterByReason(out: string[], name: string, help: string, values: Record<string, number>): void {
    const labels = (reason: string): string => `engine="0",finished_reason="${reason}",${this.modelLabel}`;
    out.push(`# HELP ${name}_total ${help}\n# TYPE ${name}_total counter\n`);
    for (const reason of FINISHED_REASONS) {
      out.push(`${name}_total{${labels(reason)}} ${formatPrometheusFloat(values[reason] ?? 0)}\n`);
    }
    out.push(`# HELP ${name}_created ${help}\n# TYPE ${name}_created gauge\n`);
    for (const reason of FINISHED_REASONS) out.push(`${name}_created{${labels(reason)}} ${this.createdText}\n`);
  }

  /** Buckets (labels sorted: `engine`, `le`, `model_name`, as Python sorts them), `_count`, `_sum`, `_created`. */
  private histogram(out: string[], name: string, help: string, h: BucketHistogram): void {
    out.push(`# HELP ${name} ${help}\n# TYPE ${name} histogram\n`);
    const cumulative = h.cumulative();
    for (let i = 0; i < cumulative.length; i++) {
      const le = i < h.upperBounds.length ? formatPrometheusFloat(h.upperBounds[i]!) : '+Inf';
      out.push(`${name}_bucket{engine="0",le="${le}",${this.modelLabel}} ${formatPrometheusFloat(cumulative[i]!)}\n`);
    }
    out.push(
      `${name}_count{${this.vllmLabels}} ${formatPrometheusFloat(h.count)}\n` +
        `${name}_sum{${this.vllmLabels}} ${formatPrometheusFloat(h.sum)}\n` +
        `# HELP ${name}_created ${help}\n# TYPE ${name}_created gauge\n` +
        `${name}_created{${this.vllmLabels}} ${this.createdText}\n`,
    );
  }
}

/** Dynamic power share (0-1 of idle→TDP): SM activity drives it; HBM traffic alone reaches part of it. */
function powerShare(smActiveRatio: number, dramActiveRatio: number): number {
  return Math.min(1, Math.max(smActiveRatio, DRAM_POWER_WEIGHT * dramActiveRatio));
}

/** A stable, NVIDIA-shaped UUID (`GPU-8-4-4-4-12` hex) for GPU `index` of one simulator instance. */
function gpuUuid(instanceId: string, index: number): string {
  const hex = createHash('sha256').update(`${instanceId}/gpu/${index}`).digest('hex');
  return `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
