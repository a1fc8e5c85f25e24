// Ground truth in virtual time: the knee with the default workload, the saturated capacity, the
// speed factor, determinism for a seed.

import { describe, expect, it } from 'vitest';
import { DEFAULT_SIM_WORKLOAD, measureCapacity, simulateOpenLoop } from '../../../src/sim/capacity.js';

describe('capacity of the default profile with the default workload', () => {
  const capacity = measureCapacity({ profile: 'default', workload: DEFAULT_SIM_WORKLOAD });

  it('lies between 5 and 50 req/s', () => {
    expect(capacity.requestsPerS).toBeGreaterThan(5);
    expect(capacity.requestsPerS).toBeLessThan(50);
    // every request yields 256 tokens: the two throughputs agree within a few %
    expect(capacity.outputTokensPerS / (capacity.requestsPerS * 256)).toBeGreaterThan(0.97);
    expect(capacity.outputTokensPerS / (capacity.requestsPerS * 256)).toBeLessThan(1.03);
    // saturated: max_num_seqs is the binding limit with this workload, not the KV cache
    expect(capacity.meanRunning).toBeGreaterThan(250);
  });

  it('shows a knee: TTFT flat at light load, queueing and climbing TTFT past capacity', () => {
    const light = simulateOpenLoop({ ratePerS: capacity.requestsPerS * 0.2, durationS: 60 });
    const busy = simulateOpenLoop({ ratePerS: capacity.requestsPerS * 0.7, durationS: 60 });
    const over = simulateOpenLoop({ ratePerS: capacity.requestsPerS * 1.2, durationS: 60 });
    // light load: a 512-token prefill (~21 ms) plus at most a step of waiting
    expect(light.ttftMs.p50).toBeLessThan(50);
    expect(light.queueMs.p99).toBeLessThan(50);
    expect(light.maxWaiting).toBe(0);
    // below capacity the queue stays empty, ITL grows with the batch
    expect(busy.ttftMs.p50).toBeLessThan(100);
    expect(busy.tpotMs.p50).toBeGreaterThan(light.tpotMs.p50);
    // past capacity: max_num_seqs is full, requests queue and TTFT climbs to seconds
    expect(over.maxRunning).toBe(256);
    expect(over.maxWaiting).toBeGreaterThan(100);
    expect(over.ttftMs.p50).toBeGreaterThan(1000);
    expect(over.ttftMs.p99).toBeGreaterThan(over.ttftMs.p50);
    expect(over.requestThroughputPerS).toBeLessThan(capacity.requestsPerS * 1.02);
  });

  it('scales with the speed factor', () => {
    const slower = measureCapacity({ speed: 0.8 });
    expect(slower.requestsPerS / capacity.requestsPerS).toBeGreaterThan(0.77);
    expect(slower.requestsPerS / capacity.requestsPerS).toBeLessThan(0.83);
  });

  it('tp2 serves more than the single GPU', () => {
    const tp2 = measureCapacity({ profile: 'tp2' });
    expect(tp2.requestsPerS).toBeGreaterThan(capacity.requestsPerS * 1.5);
  });
});

describe('simulateOpenLoop', () => {
  it('is deterministic for a seed', () => {
    const a = simulateOpenLoop({ ratePerS: 20, durationS: 20, seed: 7 });
    const b = simulateOpenLoop({ ratePerS: 20, durationS: 20, seed: 7 });
    const c = simulateOpenLoop({ ratePerS: 20, durationS: 20, seed: 8 });
    expect(a).toEqual(b);
    expect(c.ttftMs).not.toEqual(a.ttftMs);
  });

  it('preempts when long outputs fill the KV cache', () => {
    const r = simulateOpenLoop({
      ratePerS: 40,
      durationS: 30,
      workload: { promptTokensMean: 2000, outputTokens: 2000 },
    });
    expect(r.preemptions).toBeGreaterThan(0);
  });
});
