// Waiting for an intended send time precisely. A timer alone fires 1-2 ms late (libuv rounds
// to whole milliseconds and runs timers after I/O), which would show up as schedule lag; so
// the timer wakes us SPIN_US early and the rest is spent yielding with setImmediate, which
// lets socket I/O run between checks of the clock.
import type { Clock } from '../core/clock.js';

/** how early the timer wakes before the due time, µs */
export const SPIN_US = 1500;
/** the longest single timer, so that a stop is noticed within this many ms */
const MAX_TIMER_MS = 100;

/**
 * Wall time spent in the yielding spin of the last stretch before a send, µs, since the process
 * started. The generator's health subtracts it from its CPU figure: at high rates the pacer
 * keeps the CPU busy on purpose, which says nothing about saturation.
 */
export let pacerSpinUs = 0;

/** Resolves at `dueUs` on `clock` (never early), or as soon as `shouldStop()` turns true. */
export function sleepUntil(clock: Clock, dueUs: number, shouldStop: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    let spinFrom = -1;
    const done = (): void => {
      if (spinFrom >= 0) pacerSpinUs += clock.now() - spinFrom;
      resolve();
    };
    const step = (): void => {
      if (shouldStop()) return done();
      const now = clock.now();
      const remaining = dueUs - now;
      if (remaining <= 0) return done();
      if (remaining > SPIN_US) setTimeout(step, Math.min(MAX_TIMER_MS, (remaining - SPIN_US) / 1000));
      else {
        if (spinFrom < 0) spinFrom = now;
        setImmediate(step);
      }
    };
    step();
  });
}
