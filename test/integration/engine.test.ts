// The engine over real sockets against a scripted server: pacing, the in-flight cap and
// dropped arrivals, closed loops, graceful stop, interrupts, a target that is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../src/backend/openai/client.js';
import { runClock } from '../../src/core/clock.js';
import type { RequestRecord } from '../../src/core/record.js';
import type { LoadSpec, ScenarioSpec } from '../../src/core/types.js';
import type { Backend } from '../../src/backend/types.js';
import { Engine } from '../../src/engine/engine.js';
import { HealthMonitor } from '../../src/engine/health.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { Workload } from '../../src/workload/workload.js';
import { DONE, sleep, sseHead, startScriptedServer, tokenChunk, usageChunk, type ScriptedServer } from '../helpers/scripted-server.js';
import { testSpec } from '../helpers/spec.js';

let server: ScriptedServer;
/** how long the scripted server takes per request, ms */
let serviceMs = 20;

beforeAll(async () => {
  server = await startScriptedServer(async (_q, res) => {
    sseHead(res);
    res.write(tokenChunk('a'));
    await sleep(serviceMs);
    res.write(tokenChunk('b', 'length'));
    res.end(usageChunk(16, 2) + DONE);
  });
});
afterAll(async () => {
  await server.close();
});

async function run(spec: ScenarioSpec, baseUrl = server.baseUrl, during?: (e: Engine) => void) {
  const clock = runClock();
  const backend = new OpenAIBackend({
    baseUrl,
    model: 'm',
    endpoint: 'chat',
    ignoreEos: true,
    minTokens: false,
    temperature: 0,
    idleTimeoutS: 10,
    clock,
  });
  const recorder = new Recorder({ windowS: 1 });
  const records: RequestRecord[] = [];
  const engine = new Engine({
    spec,
    backend,
    workload: new Workload(spec.workload, spec.seed, 'chat'),
    recorder,
    clock,
    onRequestEnd: (r) => records.push(r),
  });
  during?.(engine);
  const outcome = await engine.run();
  await backend.close();
  recorder.flush();
  return { outcome, records, snapshot: recorder.snapshot() };
}

const rate = (r: number, durationS: number, maxInFlight = 1000): LoadSpec => ({
  executor: 'constant-arrival-rate',
  rate: r,
  durationS,
  timeUnitS: 1,
  arrival: 'constant',
  burstiness: 1,
  maxInFlight,
  gracefulStopS: 5,
});

describe('Engine', () => {
  it('sends an open-loop schedule on time: 100 req/s for 1 s = 100 arrivals, intended 10 ms apart', async () => {
    serviceMs = 5;
    const { outcome, records, snapshot } = await run(testSpec(rate(100, 1)));
    expect(outcome.stoppedBy).toBe('schedule');
    expect(records).toHaveLength(100);
    expect(records.every((r) => r.ok)).toBe(true);
    const intended = records.map((r) => r.intendedStartUs).sort((a, b) => a - b);
    expect(intended[99]! - intended[0]!).toBeCloseTo(990_000, 0);
    // never early; late by little on an idle machine
    for (const r of records) expect(r.sentUs).toBeGreaterThanOrEqual(r.intendedStartUs);
    // an idle machine does far better (see bench/); this bound only rules out a broken pacer
    expect(snapshot.latencyMs.schedule_lag.p50!).toBeLessThan(20);
    expect(snapshot.counters).toMatchObject({ sent: 100, completed: 100, failed: 0, dropped: 0 });
  });

  it('drops and counts arrivals that find no free slot, never delaying them', async () => {
    serviceMs = 300;
    const { records, snapshot } = await run(testSpec(rate(50, 1, 5)));
    const dropped = records.filter((r) => r.dropped);
    const sent = records.filter((r) => !r.dropped);
    expect(records).toHaveLength(50);
    expect(dropped.length).toBeGreaterThan(30);
    expect(sent.length).toBeGreaterThanOrEqual(5);
    expect(snapshot.counters.dropped).toBe(dropped.length);
    // a sent request still left on time: the cap never turns into delay (which would be ~300 ms)
    expect(snapshot.latencyMs.schedule_lag.max!).toBeLessThan(100);
    for (const d of dropped) expect(Number.isNaN(d.sentUs)).toBe(true);
  });

  it('runs closed-loop users back to back (think time respected)', async () => {
    serviceMs = 20;
    const { records } = await run(
      testSpec({ executor: 'constant-vus', vus: 3, durationS: 0.6, thinkTimeS: 0.05, gracefulStopS: 5 }),
    );
    expect(records.length).toBeGreaterThanOrEqual(6);
    expect(records.length).toBeLessThanOrEqual(3 * 10);
    // intended start of each user's next request = previous end + think time
    const sorted = [...records].sort((a, b) => a.intendedStartUs - b.intendedStartUs);
    const ends = sorted.map((r) => r.endUs);
    for (const r of sorted.slice(3)) {
      const prior = ends.filter((e) => e <= r.intendedStartUs - 49_000);
      expect(prior.length).toBeGreaterThan(0);
    }
  });

  it('gives closed-loop requests in flight the graceful stop, then cuts them as unfinished', async () => {
    serviceMs = 5_000;
    const t0 = Date.now();
    const { records, outcome } = await run(testSpec({ executor: 'constant-vus', vus: 3, durationS: 0.3, thinkTimeS: 0, gracefulStopS: 0.5 }));
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(outcome.abortedInFlight).toBe(3);
    expect(records.map((r) => r.errorClass)).toEqual(['unfinished', 'unfinished', 'unfinished']);
  });

  it('ramps users down without restarting them (think time longer than the tick)', async () => {
    serviceMs = 5;
    const { records } = await run(
      testSpec({
        executor: 'ramping-vus',
        startVUs: 0,
        stages: [
          { durationS: 0.4, target: 4 },
          { durationS: 1.2, target: 0 },
        ],
        thinkTimeS: 0.5,
        gracefulStopS: 2,
      }),
    );
    // at most 4 users, each sending every ~0.5 s for ~1.6 s: a handful each, never dozens
    expect(records.length).toBeGreaterThan(3);
    expect(records.length).toBeLessThanOrEqual(4 * 4);
  });

  it('makes exactly N arrivals with a request count', async () => {
    serviceMs = 5;
    const { records, outcome } = await run(testSpec(rate(200, 60), { requests: 37 }));
    expect(records).toHaveLength(37);
    expect(outcome.stoppedBy).toBe('requests');
  });

  it('cuts requests still in flight at the graceful stop deadline: the server had that long, so they failed (unfinished)', async () => {
    serviceMs = 2_000;
    const load = { ...rate(10, 0.2), gracefulStopS: 0.3 };
    const { records, outcome } = await run(testSpec(load));
    expect(outcome.abortedInFlight).toBe(2);
    expect(records.map((r) => [r.ok, r.errorClass])).toEqual([
      [false, 'unfinished'],
      [false, 'unfinished'],
    ]);
    expect(records[0]!.errorMessage).toBe('still in flight when the graceful stop (0.3 s) ended');
  });

  it('a graceful stop of 0 s gives the server no time: what it cuts is only interrupted', async () => {
    serviceMs = 2_000;
    const { records, outcome } = await run(testSpec({ ...rate(10, 0.2), gracefulStopS: 0 }));
    expect(outcome.abortedInFlight).toBe(2);
    expect(records.map((r) => [r.errorClass, r.errorMessage])).toEqual([
      ['aborted', 'still in flight when the graceful stop (0 s) ended'],
      ['aborted', 'still in flight when the graceful stop (0 s) ended'],
    ]);
  });

  it('an interrupt cuts requests as interrupted, not unfinished, even after a graceful stop began', async () => {
    serviceMs = 5_000;
    const t0 = Date.now();
    const { records, outcome } = await run(testSpec({ ...rate(10, 0.2), gracefulStopS: 30 }), undefined, (e) => {
      setTimeout(() => e.stop('interrupted', 'test', 0.2), 400);
    });
    // the interrupt's 0.2 s grace counts from the interrupt, inside the 30 s graceful stop
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(outcome.stoppedBy).toBe('interrupted');
    expect(records).toHaveLength(2);
    expect(records.every((r) => r.errorClass === 'aborted')).toBe(true);
  });

  it('stops sending on interrupt and keeps what it measured', async () => {
    serviceMs = 5;
    const { records, outcome } = await run(testSpec(rate(100, 30)), undefined, (e) => {
      setTimeout(() => e.stop('interrupted', 'test', 1), 300);
    });
    expect(outcome.stoppedBy).toBe('interrupted');
    expect(records.length).toBeGreaterThan(10);
    expect(records.length).toBeLessThan(100);
    expect(records.filter((r) => r.ok).length).toBeGreaterThan(10);
  });

  it('gives up early when the target never answers', async () => {
    const t0 = Date.now();
    const { outcome, records } = await run(testSpec(rate(100, 30)), 'http://127.0.0.1:1/v1');
    expect(outcome.stoppedBy).toBe('target-failed');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(records.every((r) => r.errorClass === 'connect')).toBe(true);
  });
});

// `--requests N` (cli.md): the run is exactly N arrivals (sent or dropped), whatever the executor,
// whether N is below, at or above the number of users (or the in-flight cap), and whether the
// scenario's own length would make fewer or more; warm-up arrivals are part of N. The run ends
// once the N-th arrival was made and every request has ended, not at the scenario's duration.
describe('Engine with a request count', () => {
  const vus = (n: number, durationS = 60): LoadSpec => ({ executor: 'constant-vus', vus: n, durationS, thinkTimeS: 0, gracefulStopS: 5 });
  // up to 8 users within 0.2 s, then back to none: a ramp that ends at 0 (spike.yaml's shape);
  // the think time keeps it to a few dozen requests, so that 40 is more than the stages make
  const rampVus: LoadSpec = {
    executor: 'ramping-vus',
    startVUs: 0,
    stages: [
      { durationS: 0.2, target: 8 },
      { durationS: 0.2, target: 0 },
    ],
    thinkTimeS: 0.1,
    gracefulStopS: 5,
  };
  // ~20 arrivals over 0.4 s (up to 100/s and back to 0): also a ramp that ends at 0
  const rampRate: LoadSpec = {
    executor: 'ramping-arrival-rate',
    startRate: 0,
    stages: [
      { durationS: 0.2, target: 100 },
      { durationS: 0.2, target: 0 },
    ],
    timeUnitS: 1,
    arrival: 'constant',
    burstiness: 1,
    maxInFlight: 8,
    gracefulStopS: 5,
  };
  const cases: { name: string; load: LoadSpec; n: number }[] = [
    // 8 users (or a cap of 8 in flight): N below, equal to and above it
    ...[1, 3, 8, 21].map((n) => ({ name: `constant-vus, 8 users, 60 s`, load: vus(8), n })),
    // the duration would make more than N in the first case and fewer than N in the second
    { name: 'constant-vus, 2 users, 0.1 s', load: vus(2, 0.1), n: 1 },
    { name: 'constant-vus, 2 users, 0.1 s', load: vus(2, 0.1), n: 60 },
    ...[1, 8, 40].map((n) => ({ name: 'ramping-vus up to 8 users and back to 0', load: rampVus, n })),
    ...[1, 8, 37].map((n) => ({ name: 'constant-arrival-rate 200/s, 60 s, cap 8', load: rate(200, 60, 8), n })),
    { name: 'constant-arrival-rate 100/s, 0.1 s', load: rate(100, 0.1), n: 30 },
    ...[1, 8, 50].map((n) => ({ name: 'ramping-arrival-rate up to 100/s and back to 0', load: rampRate, n })),
  ];

  for (const { name, load, n } of cases) {
    for (const warmupS of [0, 0.1]) {
      it(`${name}: exactly ${n} arrival(s)${warmupS > 0 ? ', with warm-up' : ''}`, async () => {
        serviceMs = 5;
        const t0 = Date.now();
        const { records, outcome, snapshot } = await run(testSpec(load, { requests: n, warmupS }));
        expect(records).toHaveLength(n);
        expect(new Set(records.map((r) => r.id)).size).toBe(n);
        expect(outcome.stoppedBy).toBe('requests');
        // every arrival made was sent or dropped, and every sent one finished (none cut)
        const c = snapshot.counters;
        expect(c.sent + c.warmupSent + c.dropped + c.warmupDropped).toBe(n);
        expect(records.filter((r) => !r.dropped).every((r) => r.ok)).toBe(true);
        expect(outcome.abortedInFlight).toBe(0);
        // N ends the run, not the 60 s duration
        expect(Date.now() - t0).toBeLessThan(10_000);
      });
    }
  }
});

// A schedule the loop cannot keep up with: every wait of the pacer is already past, and a loop
// of waits that resolve at once never reached the event loop's timer, I/O and signal phases (at
// rate 1e9 SIGINT and SIGTERM went unhandled for minutes). Timers must still fire, within a
// bounded time, however far behind the loop is.
describe('Engine behind its schedule', () => {
  /** A backend whose requests never end on their own (a server that stalls); abort ends them. */
  const stalling: Backend = {
    send: (_req, r, done) => ({
      abort: (errorClass, message) => {
        r.errorClass = errorClass;
        r.errorMessage = message;
        r.endUs = performance.now() * 1000;
        queueMicrotask(() => done(r));
      },
    }),
    close: async () => undefined,
  };
  /** A backend that answers on the next microtask: never synchronously, as Backend requires, and never through I/O. */
  const instant: Backend = {
    send: (_req, r, done) => {
      queueMicrotask(() => {
        r.ok = true;
        r.endUs = r.sentUs;
        done(r);
      });
      return { abort: () => undefined };
    },
    close: async () => undefined,
  };

  async function runOn(backend: Backend, spec: ScenarioSpec, stopAfterMs: number) {
    const recorder = new Recorder({ windowS: 1 });
    const engine = new Engine({ spec, backend, workload: new Workload(spec.workload, spec.seed, 'chat'), recorder, clock: runClock() });
    let stoppedAt = Number.NaN;
    const timer = setTimeout(() => {
      stoppedAt = performance.now();
      engine.stop('interrupted', 'test', 0);
    }, stopAfterMs);
    const t0 = performance.now();
    const outcome = await engine.run();
    clearTimeout(timer);
    return { outcome, engine, wallMs: performance.now() - t0, afterStopMs: performance.now() - stoppedAt };
  }

  it('a rate far beyond what it can schedule, every arrival dropped at a full in-flight cap: a stop still ends it at once', async () => {
    const { outcome, engine, afterStopMs } = await runOn(stalling, testSpec({ ...rate(1e9, 60, 1), gracefulStopS: 0 }), 300);
    expect(outcome.stoppedBy).toBe('interrupted');
    expect(afterStopMs).toBeLessThan(500);
    expect(engine.sent).toBe(1);
    expect(engine.dropped).toBeGreaterThan(1000);
  }, 10_000);

  it('closed-loop users of a backend that answers at once: timers still fire (the stop and the end of the load)', async () => {
    const { outcome, engine, wallMs } = await runOn(instant, testSpec({ executor: 'constant-vus', vus: 4, durationS: 0.3, thinkTimeS: 0, gracefulStopS: 1 }), 5_000);
    expect(outcome.stoppedBy).toBe('schedule');
    expect(wallMs).toBeLessThan(2_000);
    expect(engine.ended).toBeGreaterThan(100);
  }, 10_000);

  it('counts the users it started that never sent before the load ended, and the run says so (vus 1e6 sent nothing and reported complete)', async () => {
    // opening a connection costs the client's thread about 0.4 ms: here 1 ms a send
    const slowToSend: Backend = {
      send: (req, r, done) => {
        for (const until = performance.now() + 1; performance.now() < until; );
        return stalling.send(req, r, done);
      },
      close: async () => undefined,
    };
    const { outcome, engine } = await runOn(slowToSend, testSpec({ executor: 'constant-vus', vus: 2000, durationS: 0.3, thinkTimeS: 0, gracefulStopS: 0 }), 5_000);
    expect(outcome.stoppedBy).toBe('schedule');
    expect(engine.usersStarted).toBe(2000);
    expect(engine.usersSent).toBeLessThan(1000);
    expect(engine.usersSent).toBe(engine.sent);
    const health = new HealthMonitor();
    health.usersNeverSent(engine.usersStarted - engine.usersSent, engine.usersStarted);
    const report = health.report(null);
    health.stop();
    expect(report.valid).toBe(false);
    expect(report.warnings.join('\n')).toContain(`${2000 - engine.usersSent} of the 2000 users never sent a request before the load ended`);
  }, 10_000);
});
