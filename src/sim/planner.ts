// Seeded per-request decisions of the simulator: how long the output is (EOS draw) and which
// fault, if any, the request suffers. The k-th request always gets the k-th draws, whatever its
// parameters, so a run is reproducible from the seed and the order of arrivals.

import { Rng } from '../core/rng.js';
import type { SimFaults } from '../core/types.js';
import type { FinishReason } from './model.js';

/** The fault one request suffers (at most one per request). */
export type PlannedFault =
  | { kind: 'none' }
  | { kind: 'http500' }
  | { kind: 'http429' }
  /** the stream pauses after `afterTokens` tokens, then continues */
  | { kind: 'stall'; afterTokens: number; stallUs: number }
  /** the socket is destroyed right after token `afterTokens` */
  | { kind: 'drop'; afterTokens: number }
  /** an in-stream error event replaces the rest of the stream after token `afterTokens` */
  | { kind: 'midStreamError'; afterTokens: number };

export type FaultKind = PlannedFault['kind'];

/** The outcome decided for one request before it enters the engine. */
export interface RequestPlan {
  /** ordinal of the request (0-based), also the seed of its text */
  ordinal: number;
  outputTokens: number;
  finishReason: FinishReason;
  fault: PlannedFault;
}

/** Sampling parameters that bear on the output length. */
export interface LengthParams {
  /** already capped by the model length */
  maxTokens: number;
  minTokens: number;
  ignoreEos: boolean;
}

/** Shortest natural (EOS) output: outputs are uniform in [min(16, max), max]. */
export const MIN_NATURAL_OUTPUT_TOKENS = 16;

export const DEFAULT_FAULTS: Readonly<SimFaults> = {
  http500Ratio: 0,
  http429Ratio: 0,
  stallRatio: 0,
  stallS: 5,
  dropRatio: 0,
  midStreamErrorRatio: 0,
};

/** Fill in defaults and check ratios (each in [0, 1], together at most 1). Throws RangeError. */
export function resolveFaults(faults: Partial<SimFaults> = {}): SimFaults {
  const f: SimFaults = { ...DEFAULT_FAULTS, ...stripUndefined(faults) };
  const ratios = ['http500Ratio', 'http429Ratio', 'stallRatio', 'dropRatio', 'midStreamErrorRatio'] as const;
  let sum = 0;
  for (const key of ratios) {
    const v = f[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      throw new RangeError(`faults.${key} must be a number in [0, 1], got ${String(v)}`);
    }
    sum += v;
  }
  if (sum > 1 + 1e-9) throw new RangeError(`fault ratios add up to ${sum}, more than 1`);
  if (typeof f.stallS !== 'number' || !Number.isFinite(f.stallS) || f.stallS < 0) {
    throw new RangeError(`faults.stallS must be a number >= 0, got ${String(f.stallS)}`);
  }
  return f;
}

function stripUndefined<O extends object>(o: O): Partial<O> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<O>;
}

/** Hands out the seeded plan of each request in arrival order. */
export class RequestPlanner {
  private readonly eosRng: Rng;
  private readonly faultRng: Rng;
  private readonly faults: SimFaults;
  private ordinal = 0;

  constructor(seed: number, faults: Partial<SimFaults> = {}) {
    this.eosRng = Rng.derive(seed, 'sim.eos');
    this.faultRng = Rng.derive(seed, 'sim.faults');
    this.faults = resolveFaults(faults);
  }

  /** The plan of the next request. Always consumes the same number of draws. */
  next(params: LengthParams): RequestPlan {
    const uLength = this.eosRng.next();
    const uKind = this.faultRng.next();
    const uPoint = this.faultRng.next();

    const max = Math.max(1, params.maxTokens);
    let outputTokens = max;
    if (!params.ignoreEos) {
      const lo = Math.max(Math.min(MIN_NATURAL_OUTPUT_TOKENS, max), Math.min(params.minTokens, max));
      outputTokens = lo + Math.floor(uLength * (max - lo + 1));
    }
    const finishReason: FinishReason = outputTokens >= max ? 'length' : 'stop';
    // mid-stream: after at least one token and, when there are two or more, before the last
    const afterTokens = outputTokens <= 1 ? 1 : 1 + Math.floor(uPoint * (outputTokens - 1));

    const f = this.faults;
    let fault: PlannedFault = { kind: 'none' };
    let edge = f.http500Ratio;
    if (uKind < edge) fault = { kind: 'http500' };
    else if (uKind < (edge += f.http429Ratio)) fault = { kind: 'http429' };
    else if (uKind < (edge += f.stallRatio)) fault = { kind: 'stall', afterTokens, stallUs: f.stallS * 1e6 };
    else if (uKind < (edge += f.dropRatio)) fault = { kind: 'drop', afterTokens };
    else if (uKind < (edge += f.midStreamErrorRatio)) fault = { kind: 'midStreamError', afterTokens };

    return { ordinal: this.ordinal++, outputTokens, finishReason, fault };
  }
}
