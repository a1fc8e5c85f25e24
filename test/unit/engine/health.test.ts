// The generator's self-check tells a busy machine from a busy client: the main thread's time
// waiting for a CPU (the kernel's scheduler statistics) decides which the warnings say.
import { describe, expect, it } from 'vitest';
import { HealthMonitor } from '../../../src/engine/health.js';

/** A schedstat reader that reports `waitMs` more wait each time it is read after the first. */
function schedstat(waitMs: number): () => string {
  let reads = 0;
  return () => `1000000 ${reads++ === 0 ? 0 : waitMs * 1e6} 10\n`;
}

async function busyLoop(ms: number): Promise<void> {
  // event-loop lag the monitor sees: the thread blocked, in a few pieces, each longer than the
  // probe's 50 ms period, so that probes surely wait in them
  for (let i = 0; i < 4; i++) {
    const until = performance.now() + ms / 4;
    while (performance.now() < until);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** the monitor's lag probe is a thread of its own: on a loaded machine it starts slowly */
async function settle(m: HealthMonitor): Promise<void> {
  for (const until = Date.now() + 15_000; m.lagProbes === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
}

describe('the generator self-check', () => {
  it('a thread kept from the CPU: the lag warning says the machine was busy, with the share of the run', async () => {
    const m = new HealthMonitor({ schedstat: schedstat(400) });
    await settle(m);
    await busyLoop(480);
    const h = m.report(20);
    m.stop();
    expect(h.cpu_wait_ratio).toBeGreaterThan(0.05);
    expect(h.load_average).toBeGreaterThanOrEqual(0);
    expect(h.valid).toBe(false);
    expect(h.warnings.find((w) => w.startsWith('event-loop lag'))).toMatch(/the machine was busy: the client's thread waited for a CPU \d+\.\d % of the run \(load average [\d.]+ on \d+ cores\)/);
    expect(h.warnings.find((w) => w.startsWith('schedule lag'))).toMatch(/the machine was busy, see above/);
  });

  it('a thread that had its CPU: the lag is the client\'s own', async () => {
    const m = new HealthMonitor({ schedstat: schedstat(0) });
    await settle(m);
    await busyLoop(480);
    const h = m.report(20);
    m.stop();
    expect(h.cpu_wait_ratio).toBe(0);
    expect(h.warnings.find((w) => w.startsWith('event-loop lag'))).toMatch(/the client was busy; latencies include its delays/);
    expect(h.warnings.find((w) => w.startsWith('schedule lag'))).toMatch(/client saturated or max-in-flight reached/);
  });

  it('where the kernel does not say, the ratio is null and the warnings are as before', () => {
    const m = new HealthMonitor({
      schedstat: () => {
        throw new Error('ENOENT');
      },
    });
    const h = m.report(null);
    m.stop();
    expect(h.cpu_wait_ratio).toBeNull();
  });
});
