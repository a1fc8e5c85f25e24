// Waiting for an intended send time precisely. A timer alone fires 1-2 ms late (libuv rounds
// to whole milliseconds and runs timers after I/O), which would show up as schedule lag; so
// the timer wakes us SPIN_US early and the rest is spent yielding with setImmediate, which
// lets socket I/O run between checks of the clock.
import type { Clock } from '../core/clock.js';

/** how early the timer wakes before the due time, µs */
export const SPIN_US = 1500;
/** the longest single timer, so that a stop is noticed within this many ms */
const MAX_TIMER_MS = 100;

/** Resolves at `dueUs` on `clock` (never early), or as soon as `shouldStop()` turns true. */
export function sleepUntil(clock: Clock, dueUs: number, shouldStop: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const step = (): void => {
      if (shouldStop()) return resolve();
      const remaining = dueUs - clock.now();
      if (remaining <= 0) return resolve();
      if (remaining > SPIN_US) setTimeout(step, Math.min(MAX_TIMER_MS, (remaining - SPIN_US) / 1000));
      else setImmediate(step);
    };
    step();
  });
}
