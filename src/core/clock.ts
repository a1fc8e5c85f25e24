// The one monotonic clock every stamp is taken on. Microseconds as float64 (sub-µs resolution
// from performance.now()); histograms round to integer µs at record time.

/** Monotonic microseconds since an arbitrary origin (the process's time origin). */
export function nowUs(): number {
  return performance.now() * 1000;
}

/** A clock whose zero is the run's start. Tests pass a fake `now`. */
export interface Clock {
  /** µs since the run's start */
  now(): number;
  /** wall-clock epoch ms that corresponds to `now() === 0` */
  readonly epochMs: number;
}

export function runClock(startUs: number = nowUs()): Clock {
  const epochMs = Date.now() - (nowUs() - startUs) / 1000;
  return { now: () => nowUs() - startUs, epochMs };
}

/** A manual clock for tests and simulations. */
export class FakeClock implements Clock {
  t = 0;
  readonly epochMs = 0;
  now(): number {
    return this.t;
  }
  advance(us: number): void {
    this.t += us;
  }
}
