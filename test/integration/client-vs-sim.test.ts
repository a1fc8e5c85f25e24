// inferload's own client and engine against the simulator over real sockets, with every kind of
// fault injected: the failure counts by class must match what the simulator says it did, stalls
// must end in timeouts, and nothing may hang.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../src/backend/openai/client.js';
import { runClock } from '../../src/core/clock.js';
import type { RequestRecord } from '../../src/core/record.js';
import { Engine } from '../../src/engine/engine.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { startSimServer, type SimServer } from '../../src/sim/index.js';
import { Workload } from '../../src/workload/workload.js';
import { testSpec } from '../helpers/spec.js';

let sim: SimServer;
beforeAll(async () => {
  sim = await startSimServer({
    port: 0,
    speed: 4,
    seed: 7,
    faults: { http500Ratio: 0.08, http429Ratio: 0.08, stallRatio: 0.08, stallS: 30, dropRatio: 0.08, midStreamErrorRatio: 0.08 },
  });
});
afterAll(async () => {
  await sim.close();
});

describe('client vs simulator with faults', () => {
  it('counts every failure in its class, times out stalls, and agrees with the server on tokens', async () => {
    const spec = testSpec(
      {
        executor: 'constant-arrival-rate',
        rate: 60,
        durationS: 3,
        timeUnitS: 1,
        arrival: 'poisson',
        burstiness: 1,
        maxInFlight: 1000,
        gracefulStopS: 10,
      },
      { target: { endpoint: 'chat', metrics: [], timeoutS: 2 } },
    );
    const clock = runClock();
    const backend = new OpenAIBackend({
      baseUrl: sim.url,
      model: 'm',
      endpoint: 'chat',
      ignoreEos: true,
      minTokens: false,
      temperature: 0,
      idleTimeoutS: 1.5,
      clock,
    });
    const recorder = new Recorder({ windowS: 1 });
    const records: RequestRecord[] = [];
    const engine = new Engine({ spec, backend, workload: new Workload(spec.workload, 1, 'chat'), recorder, clock, onRequestEnd: (r) => records.push(r) });
    const t0 = Date.now();
    await engine.run();
    await backend.close();
    expect(Date.now() - t0).toBeLessThan(15_000);

    const byClass = (c: string): number => records.filter((r) => r.errorClass === c).length;
    const faults = sim.stats().faults;
    expect(records.length).toBeGreaterThan(120);
    expect(byClass('http_5xx')).toBe(faults.http500);
    expect(byClass('http_429')).toBe(faults.http429);
    expect(byClass('stream_error')).toBe(faults.midStreamError);
    // the simulator's drop closes the socket (a FIN) in the middle of the stream: the response
    // had started and ended early, so `truncated`, not `reset` (that is for a real RST)
    expect(byClass('truncated')).toBe(faults.drop);
    expect(byClass('reset')).toBe(0);
    // a 30 s stall is cut by the 1.5 s idle deadline
    expect(byClass('timeout')).toBe(faults.stall);
    for (const c of ['http500', 'http429', 'midStreamError', 'drop', 'stall'] as const) expect(faults[c]).toBeGreaterThan(0);
    const ok = records.filter((r) => r.ok);
    expect(ok.length + byClass('http_5xx') + byClass('http_429') + byClass('stream_error') + byClass('truncated') + byClass('timeout')).toBe(records.length);
    // every successful stream carried exactly the tokens asked for, by usage and by chunks
    for (const r of ok) {
      expect(r.outputTokensUsage).toBe(4);
      expect(r.outputChunks).toBe(4);
      expect(r.firstChunkUs).toBeLessThanOrEqual(r.firstTokenUs);
    }
    // failures stay out of the latency histograms
    recorder.flush();
    expect(recorder.snapshot().latencyMs.ttft.count).toBe(ok.length);
  });
});
