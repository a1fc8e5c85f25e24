// The engine's two waits: sleepUntil (a send's time: never early, its last stretch spun) and
// sleepRoughly (the engine's own polling: never early, no spin, so it costs no CPU).
import { describe, expect, it } from 'vitest';
import { runClock } from '../../../src/core/clock.js';
import { pacerSpinUs, sleepRoughly, sleepUntil } from '../../../src/engine/pacer.js';

describe('sleepRoughly', () => {
  it('never resolves early, and spins nothing (the precise wait spins its last stretch)', async () => {
    const clock = runClock();
    const spinBefore = pacerSpinUs;
    for (const ms of [0, 3, 20]) {
      const due = clock.now() + ms * 1000;
      await sleepRoughly(clock, due, () => false);
      expect(clock.now()).toBeGreaterThanOrEqual(due);
    }
    expect(pacerSpinUs).toBe(spinBefore);
    const due = clock.now() + 10_000;
    await sleepUntil(clock, due, () => false);
    expect(clock.now()).toBeGreaterThanOrEqual(due);
    expect(pacerSpinUs).toBeGreaterThan(spinBefore);
  });

  it('ends as soon as it is told to stop, long before its time', async () => {
    const clock = runClock();
    let stop = false;
    setTimeout(() => (stop = true), 20);
    const t0 = clock.now();
    await sleepRoughly(clock, t0 + 60_000_000, () => stop);
    // checked at least every 100 ms
    expect(clock.now() - t0).toBeLessThan(1_000_000);
  });
});
