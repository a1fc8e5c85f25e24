// Waiting for an intended send time precisely. A timer alone fires 1-2 ms late (libuv rounds
// to whole milliseconds and runs timers after I/O), which would show up as schedule lag; so
// the timer wakes us SPIN_US early and the rest is spent yielding with setImmediate, which
// lets socket I/O run between checks of the clock.
//
// A due time already past resolves at once, on a microtask: the caller's `await` then goes on
// without the event loop ever reaching its I/O, timer or signal phases. A loop that is behind its
// schedule (a rate it cannot keep up with, every arrival dropped at a full in-flight cap) would
// never leave that chain: at rate 1e9 SIGINT and SIGTERM went unhandled for minutes. So at most
// every MAX_BUSY_MS of such a chain one resolve waits for a turn of the loop (setImmediate).
import type { Clock } from '../core/clock.js';

/** how early the timer wakes before the due time, µs */
export const SPIN_US = 1500;
/** the longest single timer, so that a stop is noticed within this many ms */
const MAX_TIMER_MS = 100;
/** the longest the pacer resolves at once, without a turn of the event loop between, ms */
export const MAX_BUSY_MS = 1;

/**
 * Since when (ms) the pacer has been resolving waits at once with no turn of the event loop in
 * between; -1 once a turn came (an immediate queued at the start of the chain marks it).
 */
let busySinceMs = -1;
const turnCame = (): void => {
  busySinceMs = -1;
};

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
      if (remaining <= 0) {
        const t = performance.now();
        if (busySinceMs < 0) {
          busySinceMs = t;
          setImmediate(turnCame);
        } else if (t - busySinceMs >= MAX_BUSY_MS) {
          // the turn queued at the start of the chain runs first, then this wait resolves
          setImmediate(step);
          return;
        }
        return done();
      }
      if (remaining > SPIN_US) setTimeout(step, Math.min(MAX_TIMER_MS, (remaining - SPIN_US) / 1000));
      else {
        if (spinFrom < 0) spinFrom = now;
        setImmediate(step);
      }
    };
    step();
  });
}

/**
 * Resolves at `dueUs` or up to a couple of milliseconds after it (a timer's lateness), or as
 * soon as `shouldStop()` turns true, checked at least every MAX_TIMER_MS. For the engine's own
 * waits that no send time hangs on (the end of the stages, polling for the requests in flight):
 * the precise wait spins its last SPIN_US, which at one such wait every 50 ms kept 3 % of a core
 * busy for nothing.
 */
export function sleepRoughly(clock: Clock, dueUs: number, shouldStop: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const step = (): void => {
      const remaining = dueUs - clock.now();
      if (shouldStop() || remaining <= 0) return resolve();
      setTimeout(step, Math.max(1, Math.min(MAX_TIMER_MS, Math.ceil(remaining / 1000))));
    };
    step();
  });
}
