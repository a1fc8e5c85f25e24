// Ground truth from the engine model in virtual time (no sockets, no timers): open-loop load runs
// (latency vs arrival rate, the knee) and the saturated throughput that is the simulator's true
// capacity for a workload. Deterministic for a seed; a minute of simulated load takes milliseconds.

import { Rng } from '../core/rng.js';
import { EngineModel, stepTime } from './model.js';
import type { SimRequest } from './model.js';
import { StepLoop } from './loop.js';
import { resolveProfile } from './profiles.js';
import type { SimProfile } from './profiles.js';

/** The request mix: prompt lengths (lognormal when a stddev is given) and a fixed output length. */
export interface SimWorkload {
  promptTokensMean: number;
  /** 0 or absent: every prompt has the mean length */
  promptTokensStddev?: number;
  /** tokens generated per request (as with ignore_eos) */
  outputTokens: number;
}

/** inferload's default workload: prompts lognormal(512, 128), 256 output tokens, ignore_eos. */
export const DEFAULT_SIM_WORKLOAD: Readonly<SimWorkload> = {
  promptTokensMean: 512,
  promptTokensStddev: 128,
  outputTokens: 256,
};

interface ModelRunOptions {
  profile?: string | SimProfile;
  speed?: number;
  seed?: number;
  workload?: SimWorkload;
}

/** Summary statistics in milliseconds. */
export interface LatencySummaryMs {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface OpenLoopOptions extends ModelRunOptions {
  ratePerS: number;
  durationS: number;
  /** default poisson */
  arrival?: 'poisson' | 'constant';
}

export interface OpenLoopResult {
  arrivals: number;
  completed: number;
  /** completions per second over the arrival window (completions after it are not counted) */
  requestThroughputPerS: number;
  outputTokenThroughputPerS: number;
  /** arrival to first token */
  ttftMs: LatencySummaryMs;
  /** arrival to first scheduling */
  queueMs: LatencySummaryMs;
  e2eMs: LatencySummaryMs;
  /** per request (last - first token) / (tokens - 1), then summarised */
  tpotMs: LatencySummaryMs;
  preemptions: number;
  maxWaiting: number;
  maxRunning: number;
  meanStepMs: number;
  steps: number;
}

export interface CapacityOptions extends ModelRunOptions {
  /** simulated seconds before measuring (default 60) */
  warmupS?: number;
  /** simulated seconds measured (default 240) */
  measureS?: number;
}

/** Saturated throughput: the arrival rate beyond which the queue grows without bound. */
export interface CapacityResult {
  profile: string;
  speed: number;
  workload: SimWorkload;
  requestsPerS: number;
  outputTokensPerS: number;
  totalTokensPerS: number;
  meanRunning: number;
  meanStepMs: number;
  preemptions: number;
}

function promptSampler(seed: number, w: SimWorkload): () => number {
  const rng = Rng.derive(seed, 'sim.capacity.prompts');
  const sd = w.promptTokensStddev ?? 0;
  return sd > 0
    ? () => Math.max(1, Math.round(rng.lognormal(w.promptTokensMean, sd)))
    : () => Math.max(1, Math.round(w.promptTokensMean));
}

/** Simulate an open-loop arrival process against the model and summarise the latencies. */
export function simulateOpenLoop(options: OpenLoopOptions): OpenLoopResult {
  const profile = resolveProfile(options.profile);
  const seed = options.seed ?? 1;
  const workload = options.workload ?? DEFAULT_SIM_WORKLOAD;
  if (!(options.ratePerS > 0) || !(options.durationS > 0)) throw new RangeError('ratePerS and durationS must be > 0');
  const nextPrompt = promptSampler(seed, workload);
  const arrivalRng = Rng.derive(seed, 'sim.capacity.arrivals');
  const meanGapUs = 1e6 / options.ratePerS;
  const gapUs = options.arrival === 'constant' ? () => meanGapUs : () => arrivalRng.exponential(meanGapUs);
  const endUs = options.durationS * 1e6;

  const finished: Array<SimRequest<null>> = [];
  const model = new EngineModel<null>(profile, {
    speed: options.speed ?? 1,
    onFinished: (r) => finished.push(r),
  });
  let maxRunning = 0;
  let maxWaiting = 0;
  let stepUsTotal = 0;
  const loop = new StepLoop<null>(model, () => undefined, Infinity, (plan) => {
    stepUsTotal += plan.time.durationUs;
    const g = model.gauges();
    if (g.running > maxRunning) maxRunning = g.running;
    if (g.waiting > maxWaiting) maxWaiting = g.waiting;
  });

  let arrivals = 0;
  let due: number | undefined;
  for (let t = gapUs(); t < endUs; t += gapUs()) {
    while (due !== undefined && due <= t) due = loop.advance(due);
    model.add(
      { promptTokens: nextPrompt(), outputTokens: workload.outputTokens, finishReason: 'length' },
      null,
      t,
    );
    arrivals++;
    due = loop.advance(t);
  }
  while (due !== undefined) due = loop.advance(due);

  const inWindow = finished.filter((r) => r.finishedUs <= endUs);
  const outputTokens = inWindow.reduce((s, r) => s + r.outputTokens, 0);
  const ms = (us: number): number => us / 1000;
  return {
    arrivals,
    completed: finished.length,
    requestThroughputPerS: inWindow.length / options.durationS,
    outputTokenThroughputPerS: outputTokens / options.durationS,
    ttftMs: summarise(finished.map((r) => ms(r.firstTokenUs - r.arrivalUs))),
    queueMs: summarise(finished.map((r) => ms(r.firstScheduledUs - r.arrivalUs))),
    e2eMs: summarise(finished.map((r) => ms(r.finishedUs - r.arrivalUs))),
    tpotMs: summarise(
      finished
        .filter((r) => r.outputTokens > 1)
        .map((r) => ms((r.lastTokenUs - r.firstTokenUs) / (r.outputTokens - 1))),
    ),
    preemptions: model.counters.preemptionsTotal,
    maxWaiting,
    maxRunning,
    meanStepMs: model.counters.stepsTotal > 0 ? ms(stepUsTotal / model.counters.stepsTotal) : 0,
    steps: model.counters.stepsTotal,
  };
}

/**
 * The profile's true capacity for a workload: the throughput of the engine held in overload
 * (Poisson arrivals at twice the compute-bound ceiling, the queue capped so memory stays flat),
 * measured in virtual time over a long window after a warm-up. An open-loop arrival rate above
 * this grows the queue, and TTFT, without bound; below it the queue stays bounded.
 */
export function measureCapacity(options: CapacityOptions = {}): CapacityResult {
  const profile = resolveProfile(options.profile);
  const speed = options.speed ?? 1;
  const seed = options.seed ?? 1;
  const workload = options.workload ?? DEFAULT_SIM_WORKLOAD;
  const warmupUs = (options.warmupS ?? 60) * 1e6;
  const measureEndUs = warmupUs + (options.measureS ?? 240) * 1e6;
  const nextPrompt = promptSampler(seed, workload);
  const arrivalRng = Rng.derive(seed, 'sim.capacity.overload');
  // no step computes faster than the FLOPs allow, so this rate is past capacity for sure
  const computeUsPerToken = stepTime(profile, 1, 0, speed).computeUs / speed;
  const ceilingPerS = 1e6 / computeUsPerToken / (workload.promptTokensMean + workload.outputTokens);
  const meanGapUs = 1e6 / (2 * ceilingPerS);
  const maxQueued = 4 * profile.maxNumSeqs;

  const model = new EngineModel<null>(profile, { speed });
  let completed = 0;
  let outputTokens = 0;
  let promptTokens = 0;
  let runningUsSum = 0;
  let stepsMeasured = 0;
  let stepUsMeasured = 0;
  let preemptionsAtWarmup = -1;
  const loop = new StepLoop<null>(
    model,
    (events, endUs) => {
      if (endUs < warmupUs || endUs >= measureEndUs) return;
      outputTokens += events.length;
      for (const e of events) {
        if (e.finishReason === null) continue;
        completed++;
        promptTokens += e.request.spec.promptTokens;
      }
    },
    Infinity,
    (plan) => {
      if (plan.startUs < warmupUs || plan.startUs >= measureEndUs) return;
      if (preemptionsAtWarmup < 0) preemptionsAtWarmup = model.counters.preemptionsTotal;
      stepsMeasured++;
      stepUsMeasured += plan.time.durationUs;
      runningUsSum += model.gauges().running * plan.time.durationUs;
    },
  );
  let due: number | undefined;
  for (let t = arrivalRng.exponential(meanGapUs); t < measureEndUs; t += arrivalRng.exponential(meanGapUs)) {
    while (due !== undefined && due <= t) due = loop.advance(due);
    if (model.gauges().waiting < maxQueued) {
      model.add({ promptTokens: nextPrompt(), outputTokens: workload.outputTokens, finishReason: 'length' }, null, t);
      due = loop.advance(t);
    }
  }
  const measureS = (measureEndUs - warmupUs) / 1e6;
  return {
    profile: profile.name,
    speed,
    workload: { ...workload },
    requestsPerS: completed / measureS,
    outputTokensPerS: outputTokens / measureS,
    totalTokensPerS: (outputTokens + promptTokens) / measureS,
    meanRunning: stepUsMeasured > 0 ? runningUsSum / stepUsMeasured : 0,
    meanStepMs: stepsMeasured > 0 ? stepUsMeasured / stepsMeasured / 1000 : 0,
    preemptions: model.counters.preemptionsTotal - Math.max(0, preemptionsAtWarmup),
  };
}

function summarise(values: number[]): LatencySummaryMs {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    count: sorted.length,
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
  };
}
