// Pure: a load spec + a seeded RNG → intended send times. Open-loop arrivals are generated
// in "count space": the cumulative expected arrivals N(t) = ∫ rate is inverted, so constant
// arrivals sit at N = 0, 1, 2, ... and Poisson/gamma arrivals at sums of unit-mean increments
// (time rescaling: a unit-rate process mapped through N⁻¹ has exactly the intended rate, even
// while the rate ramps). This is how k6 spaces ramping-arrival-rate iterations.
import type { Rng } from '../core/rng.js';
import type { ArrivalProcess, LoadSpec, Stage } from '../core/types.js';

export type ArrivalLoad = Extract<LoadSpec, { executor: 'constant-arrival-rate' | 'ramping-arrival-rate' }>;
export type VuLoad = Extract<LoadSpec, { executor: 'constant-vus' | 'ramping-vus' }>;
export type TraceLoad = Extract<LoadSpec, { executor: 'trace' }>;

export function isArrivalLoad(load: LoadSpec): load is ArrivalLoad {
  return load.executor === 'constant-arrival-rate' || load.executor === 'ramping-arrival-rate';
}

/** Open loop: arrivals at intended times that do not wait for the server (a rate, or a trace's own times). */
export function isOpenLoop(load: LoadSpec): load is ArrivalLoad | TraceLoad {
  return isArrivalLoad(load) || load.executor === 'trace';
}

/** Length of the load phase in seconds (duration, or the sum of the stages). */
export function loadDurationS(load: LoadSpec): number {
  switch (load.executor) {
    case 'constant-arrival-rate':
    case 'constant-vus':
      return load.durationS;
    case 'ramping-arrival-rate':
    case 'ramping-vus':
      return sumStages(load.stages);
    case 'trace':
      // the replayed part of the trace, scaled; a trace replayed to its end has its length
      // filled in from the file before the run (workload/trace.ts)
      return (load.durationS ?? 0) / load.speedup;
    default: {
      const never: never = load;
      throw new Error(`unknown executor ${JSON.stringify(never)}`);
    }
  }
}

function sumStages(stages: readonly Stage[]): number {
  let s = 0;
  for (const st of stages) s += st.durationS;
  return s;
}

/** One piece of the piecewise-linear rate (arrivals per second). */
interface Segment {
  t0: number;
  t1: number;
  r0: number;
  r1: number;
  /** cumulative expected arrivals at t0 and t1 */
  n0: number;
  n1: number;
}

/** The rate profile of an arrival-rate executor, in arrivals per second. */
export function rateSegments(load: ArrivalLoad): Segment[] {
  const perS = 1 / load.timeUnitS;
  const segs: Segment[] = [];
  let t = 0;
  let n = 0;
  const push = (d: number, r0: number, r1: number): void => {
    const dn = ((r0 + r1) / 2) * d;
    segs.push({ t0: t, t1: t + d, r0, r1, n0: n, n1: n + dn });
    t += d;
    n += dn;
  };
  if (load.executor === 'constant-arrival-rate') {
    push(load.durationS, load.rate * perS, load.rate * perS);
  } else {
    let r = load.startRate * perS;
    for (const st of load.stages) {
      const next = st.target * perS;
      push(st.durationS, r, next);
      r = next;
    }
  }
  return segs;
}

/** The target arrival rate (per second) at time `tS`. */
export function rateAt(segs: readonly Segment[], tS: number): number {
  for (const s of segs) {
    if (tS < s.t1) return s.t1 === s.t0 ? s.r1 : s.r0 + ((s.r1 - s.r0) * (tS - s.t0)) / (s.t1 - s.t0);
  }
  return segs.length > 0 ? segs[segs.length - 1]!.r1 : 0;
}

/** The next intended arrival time, in µs since the run's start, or null when there is none. */
export interface ArrivalSchedule {
  next(): number | null;
}

export interface ArrivalOptions {
  /**
   * make exactly this many arrivals; the load's duration no longer ends the run. Past the end of
   * the load, arrivals go on at its tail level (see `tailLevel`) until the count is made.
   */
  requests?: number;
}

/**
 * The level (arrivals per timeUnit, or users) a request count goes on at once the load's own
 * length is over: the last stage's target, or, when the stages wind down to 0 (spike.yaml's
 * shape), the last non-zero level before that. Ending there instead would leave a run of
 * `--requests N` short of N (arrival rate 0) or waiting for ever (no user left). 0 only when
 * the load never has any level at all.
 */
export function tailLevel(load: LoadSpec): number {
  switch (load.executor) {
    case 'constant-arrival-rate':
      return load.rate;
    case 'constant-vus':
      return load.vus;
    case 'ramping-arrival-rate':
      return lastNonZero(load.startRate, load.stages);
    case 'ramping-vus':
      return lastNonZero(load.startVUs, load.stages);
    case 'trace':
      // a trace has no level to go on at: its records are all the arrivals there are
      return 0;
    default: {
      const never: never = load;
      throw new Error(`unknown executor ${JSON.stringify(never)}`);
    }
  }
}

function lastNonZero(start: number, stages: readonly Stage[]): number {
  for (let i = stages.length - 1; i >= 0; i--) if (stages[i]!.target > 0) return stages[i]!.target;
  return start;
}

/** Open-loop arrivals for an arrival-rate executor. Deterministic for the RNG's seed. */
export function arrivalSchedule(load: ArrivalLoad, rng: Rng, opts: ArrivalOptions = {}): ArrivalSchedule {
  const segs = rateSegments(load);
  const endS = segs.length > 0 ? segs[segs.length - 1]!.t1 : 0;
  const tailRate = tailLevel(load) / load.timeUnitS;
  const limit = opts.requests;
  const increment = incrementFn(load.arrival, load.burstiness, rng);
  let count = 0;
  let position = load.arrival === 'constant' ? 0 : increment();
  let segIndex = 0;
  return {
    next(): number | null {
      if (limit !== undefined && count >= limit) return null;
      let tS: number | null = null;
      while (segIndex < segs.length) {
        const s = segs[segIndex]!;
        if (position < s.n1) {
          tS = invert(s, position);
          break;
        }
        segIndex++;
      }
      if (tS === null) {
        // past the stages: only a fixed request count goes on, at the tail rate
        if (limit === undefined || tailRate <= 0) return null;
        const nEnd = segs.length > 0 ? segs[segs.length - 1]!.n1 : 0;
        tS = endS + (position - nEnd) / tailRate;
      } else if (limit === undefined && tS >= endS) {
        return null;
      }
      count++;
      position += increment();
      return tS * 1e6;
    },
  };
}

/** t such that N(t) = n within segment s (numerically stable root of the quadratic). */
function invert(s: Segment, n: number): number {
  const d = s.t1 - s.t0;
  const dn = n - s.n0;
  if (dn <= 0) return s.t0;
  const a = d > 0 ? (s.r1 - s.r0) / (2 * d) : 0;
  const b = s.r0;
  if (Math.abs(a) < 1e-12) return b > 0 ? s.t0 + dn / b : s.t1;
  const disc = Math.max(0, b * b + 4 * a * dn);
  return s.t0 + (2 * dn) / (b + Math.sqrt(disc));
}

function incrementFn(process: ArrivalProcess, burstiness: number, rng: Rng): () => number {
  switch (process) {
    case 'constant':
      return () => 1;
    case 'poisson':
      return () => rng.exponential(1);
    case 'gamma':
      // shape k, scale 1/k: mean 1, coefficient of variation 1/√k
      return () => rng.gamma(burstiness, 1 / burstiness);
    default: {
      const never: never = process;
      throw new Error(`unknown arrival process ${String(never)}`);
    }
  }
}

/**
 * The number of virtual users a closed-loop executor wants at time `tS` (k6: linear ramps,
 * truncated). Past the load's end: none, or with a request count, the tail level.
 */
export function vuTargetAt(load: VuLoad, tS: number, opts: ArrivalOptions = {}): number {
  if (tS >= loadDurationS(load)) return opts.requests !== undefined ? tailLevel(load) : 0;
  if (load.executor === 'constant-vus') return load.vus;
  let t = 0;
  let from = load.startVUs;
  for (const st of load.stages) {
    if (tS < t + st.durationS) {
      const frac = st.durationS > 0 ? (tS - t) / st.durationS : 1;
      return Math.floor(from + (st.target - from) * frac);
    }
    t += st.durationS;
    from = st.target;
  }
  return 0;
}
