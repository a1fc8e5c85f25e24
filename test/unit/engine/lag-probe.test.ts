// The event-loop lag probe measures how long the main thread takes to answer an event: a blocked
// loop shows as the time the probe's message waited. (How small it reads on a quiet process is a
// timing figure: bench/light-load.bench.mjs reports it, as idle_node_p99.)
import { describe, expect, it } from 'vitest';
import { LagProbe } from '../../../src/engine/lag-probe.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** waits until the probe thread has started and answered a few probes (a loaded machine starts a thread slowly) */
async function started(p: LagProbe, n = 3): Promise<void> {
  for (const until = Date.now() + 15_000; p.count < n && Date.now() < until; ) await sleep(20);
}

function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('the event-loop lag probe', () => {
  it('a loop blocked for 300 ms: the probe sent during it waited most of it', async () => {
    const p = new LagProbe(20);
    try {
      await started(p);
      p.reset();
      block(300);
      await sleep(100);
      expect(p.count).toBeGreaterThan(0);
      // the probe sent 20 ms or less into the block waited for the rest of it
      expect(p.maxMs()!).toBeGreaterThan(200);
      expect(p.maxMs()!).toBeLessThan(400);
      expect(p.percentileMs(100)!).toBeGreaterThan(200);
    } finally {
      p.stop();
    }
  });

  it('is unknown before a probe is answered, and counts from a reset', async () => {
    const p = new LagProbe(20);
    try {
      expect(p.percentileMs(99)).toBeNull();
      expect(p.maxMs()).toBeNull();
      await started(p);
      expect(p.count).toBeGreaterThan(2);
      block(120);
      await sleep(60);
      expect(p.maxMs()!).toBeGreaterThan(60);
      p.reset();
      expect(p.count).toBe(0);
      expect(p.maxMs()).toBeNull();
    } finally {
      p.stop();
    }
  });

  it('stops: no new probe is answered after stop', async () => {
    const p = new LagProbe(10);
    await started(p);
    p.stop();
    expect(p.running).toBe(false);
    const n = p.count;
    await sleep(80);
    // a message already on its way may still land; no new ones are sent
    expect(p.count - n).toBeLessThanOrEqual(1);
  });
});
