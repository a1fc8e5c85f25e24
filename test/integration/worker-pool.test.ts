// WorkerPoolBackend (`--workers N`): the client in worker threads, the recorder on the main
// thread. Stamps land on the main run clock, aborts and timeouts come back with their class, a
// dying thread fails only its own requests, close() is bounded, and a whole run through
// executeRun gives the same kind of results with 2 workers as with 1. The thread entry is the
// compiled dist/backend/worker/thread.js: needs `npm run build` first (npm test does it).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { packResults, unpackResult, STAMPS_PER_RECORD } from '../../src/backend/worker/protocol.js';
import { threadEntryPath, WorkerPoolBackend, type WorkerPoolBackendOptions } from '../../src/backend/worker/pool.js';
import { executeRun } from '../../src/cli/execute.js';
import { runClock, type Clock } from '../../src/core/clock.js';
import { InvalidInputError } from '../../src/core/errors.js';
import { RequestRecord } from '../../src/core/record.js';
import type { LoadSpec } from '../../src/core/types.js';
import { Engine } from '../../src/engine/engine.js';
import { clientCores, HealthMonitor } from '../../src/engine/health.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { normalizeResults } from '../../src/results/read.js';
import { Workload } from '../../src/workload/workload.js';
import { DONE, sleep, sseHead, startScriptedServer, tokenChunk, usageChunk, type Script, type ScriptedServer } from '../helpers/scripted-server.js';
import { testSpec } from '../helpers/spec.js';

const REQ = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 2, promptTokens: 1 };

/** a fast, complete stream of two tokens */
const quick: Script = (_q, res) => {
  sseHead(res);
  res.write(tokenChunk('a'));
  res.end(tokenChunk('b', 'length') + usageChunk(1, 2) + DONE);
};
/** headers, one token, then nothing until the connection is cut */
const stall: Script = (_q, res) => {
  sseHead(res);
  res.write(tokenChunk('a'));
};

let server: ScriptedServer;
const pools: WorkerPoolBackend[] = [];

beforeAll(async () => {
  server = await startScriptedServer(quick);
});
afterEach(async () => {
  server.setScript(quick);
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  await server.close();
});

function pool(over: Partial<WorkerPoolBackendOptions> = {}): WorkerPoolBackend {
  const p = new WorkerPoolBackend({
    baseUrl: server.baseUrl,
    model: 'm',
    endpoint: 'chat',
    ignoreEos: true,
    minTokens: false,
    temperature: 0,
    idleTimeoutS: 10,
    clock: runClock(),
    workers: 2,
    ...over,
  });
  pools.push(p);
  return p;
}

/** A run clock that can be restarted under the pool, like execute.ts's live view. */
function restartableClock(): { clock: Clock; restart: () => void } {
  let c = runClock();
  return {
    clock: { now: () => c.now(), get epochMs() { return c.epochMs; } },
    restart: () => {
      c = runClock();
    },
  };
}

/** Sends one request; resolves with the record once `done` ran (and says if it ran inside send). */
function sendOne(p: WorkerPoolBackend, id = 0): { done: Promise<RequestRecord>; abort: (c: 'timeout' | 'aborted', m: string) => void; syncDone: () => boolean } {
  let inside = true;
  let sync = false;
  let resolve!: (r: RequestRecord) => void;
  const done = new Promise<RequestRecord>((r) => (resolve = r));
  const handle = p.send(REQ, new RequestRecord(id, 0, 1, false), (r) => {
    if (inside) sync = true;
    resolve(r);
  });
  inside = false;
  return { done, abort: (c, m) => handle.abort(c, m), syncDone: () => sync };
}

/** Waits until the server has received `n` requests in total. */
async function serverGot(n: number): Promise<void> {
  for (let i = 0; i < 200 && server.requests.length < n; i++) await sleep(10);
  expect(server.requests.length).toBeGreaterThanOrEqual(n);
}

describe('the wire format of finished records', () => {
  it('carries every field the backend fills, and moves every stamp (NaN stays NaN)', () => {
    const a = new RequestRecord(7, 0, 1, false);
    Object.assign(a, { sentUs: 10, headersUs: 20, firstChunkUs: 30, firstTokenUs: 31, endUs: 90, chunkUs: [31, 40.5, 52], chunkChars: [3, 1, 70000] });
    Object.assign(a, { emitMs: [1.5, 2.5, 3.5], httpStatus: 200, ok: true, promptTokensUsage: 12, outputTokensUsage: 3, finishReason: 'length' });
    const b = new RequestRecord(8, 0, 1, false);
    Object.assign(b, { headersUs: 15, endUs: 16, httpStatus: 503, errorClass: 'http_5xx', errorMessage: 'HTTP 503: busy' });
    const m = packResults([a, b], { template: 5, search: 2, json: 1 });
    expect(m.parse).toEqual({ template: 5, search: 2, json: 1 });
    expect(m.stamps).toBeInstanceOf(Float64Array);
    expect(m.stamps.length).toBe(2 * STAMPS_PER_RECORD + 3);
    const outA = new RequestRecord(7, 5, 1, false);
    const outB = new RequestRecord(8, 5, 1, false);
    unpackResult(m, m.recs[0]!, 0, 0, 1000, outA);
    unpackResult(m, m.recs[1]!, STAMPS_PER_RECORD + 3, 3, 1000, outB);
    expect(outA).toMatchObject({ sentUs: 1010, headersUs: 1020, firstChunkUs: 1030, firstTokenUs: 1031, endUs: 1090, chunkUs: [1031, 1040.5, 1052], chunkChars: [3, 1, 70000] });
    expect(outA).toMatchObject({ emitMs: [1.5, 2.5, 3.5], httpStatus: 200, ok: true, errorClass: null, errorMessage: null, promptTokensUsage: 12, outputTokensUsage: 3, finishReason: 'length' });
    expect(outB).toMatchObject({ headersUs: 1015, endUs: 1016, chunkUs: [], chunkChars: [], httpStatus: 503, ok: false, errorClass: 'http_5xx', errorMessage: 'HTTP 503: busy' });
    expect(outB.sentUs).toBeNaN();
    expect(outB.firstTokenUs).toBeNaN();
    expect(outB.promptTokensUsage).toBeNull();
    // what the record was created with stays the caller's
    expect(outA.intendedStartUs).toBe(5);
  });
});

describe('WorkerPoolBackend', () => {
  it('finds the compiled thread entry', () => {
    expect(existsSync(threadEntryPath()), `${threadEntryPath()} missing: run npm run build`).toBe(true);
  });

  it("puts the threads' stamps on the main thread's run clock, restarted after the pool started, within a millisecond", async () => {
    const { clock: live, restart } = restartableClock();
    const p = pool({ clock: live, workers: 1 });
    // a thread's first request pays for its warm-up (JIT, the HTTP parser's WebAssembly): not measured
    await p.preconnect(1);
    expect((await sendOne(p).done).ok).toBe(true);
    await sleep(30);
    // restarted like execute.ts does right before engine.run(): the pool must not have cached it
    restart();
    const writes: number[] = [];
    let headersWrittenUs = NaN;
    server.setScript(async (_q, res) => {
      headersWrittenUs = live.now();
      sseHead(res);
      for (let i = 0; i < 20; i++) {
        await sleep(5);
        writes.push(live.now());
        res.write(tokenChunk(`t${i}`));
      }
      res.end(tokenChunk('', 'length') + usageChunk(1, 20) + DONE);
    });
    const sentUs = live.now();
    const r = await sendOne(p).done;
    const doneUs = live.now();
    expect(r.ok).toBe(true);
    expect(r.chunkUs).toHaveLength(20);
    // in order on the main clock: send ≤ sent ≤ headers written ≤ headers arrived ≤ end ≤ done
    expect(r.sentUs).toBeGreaterThanOrEqual(sentUs);
    expect(r.sentUs).toBeLessThanOrEqual(headersWrittenUs + 100);
    expect(r.headersUs).toBeGreaterThanOrEqual(headersWrittenUs - 100);
    expect(r.headersUs).toBeLessThanOrEqual(r.firstTokenUs);
    expect(r.endUs).toBeLessThanOrEqual(doneUs);
    // every chunk arrives after its write (a clock offset below −0.1 ms would break this) and,
    // the offset being one constant, the quickest arrival bounds it from above: < 1 ms
    const delays = r.chunkUs.map((t, i) => t - writes[i]!);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(-100);
    expect(Math.min(...delays)).toBeLessThan(1000);
    for (const d of delays) expect(d).toBeLessThan(20_000);
  });

  it('spreads requests over the threads (fewest in flight, ties round-robin) and never calls done inside send', async () => {
    const p = pool({ workers: 3 });
    await p.ready();
    server.setScript(stall);
    const before = server.requests.length;
    const sends = Array.from({ length: 6 }, (_, i) => sendOne(p, i));
    await serverGot(before + 6);
    expect(p.inflightPerThread()).toEqual([2, 2, 2]);
    await p.close();
    const records = await Promise.all(sends.map((s) => s.done));
    expect(records.every((r) => !r.ok && r.errorClass !== null)).toBe(true);
    expect(sends.some((s) => s.syncDone())).toBe(false);
    expect(p.inflightPerThread()).toEqual([0, 0, 0]);
  });

  it('aborts through the thread: the record comes back failed with the class given', async () => {
    const p = pool();
    server.setScript(stall);
    const before = server.requests.length;
    const a = sendOne(p, 0);
    const b = sendOne(p, 1);
    await serverGot(before + 2);
    // let the headers and the first token reach the threads (loopback: well within this)
    await sleep(150);
    a.abort('timeout', 'no end of stream within 1 s');
    b.abort('aborted', 'cut at the graceful stop');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra).toMatchObject({ ok: false, errorClass: 'timeout', errorMessage: 'no end of stream within 1 s', httpStatus: 200 });
    expect(rb).toMatchObject({ ok: false, errorClass: 'aborted', errorMessage: 'cut at the graceful stop' });
    // what the thread saw before the cut came back too
    expect(ra.chunkUs).toHaveLength(1);
    expect(ra.headersUs).toBeLessThan(ra.endUs);
    // an abort after the end is a no-op
    a.abort('timeout', 'again');
    expect(ra.errorMessage).toBe('no end of stream within 1 s');
  });

  it("times out through the engine's deadline and cuts at the graceful stop, like the in-thread client", async () => {
    server.setScript(stall);
    const { clock, restart } = restartableClock();
    const p = pool({ clock });
    const p2 = pool({ clock });
    await Promise.all([p.ready(), p2.ready()]);
    restart();
    const load: LoadSpec = { executor: 'constant-arrival-rate', rate: 10, durationS: 0.5, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 100, gracefulStopS: 5 };
    const spec = testSpec(load, { target: { endpoint: 'chat', metrics: [], timeoutS: 0.3 } });
    const records: RequestRecord[] = [];
    const engine = new Engine({ spec, backend: p, workload: new Workload(spec.workload, 1, 'chat'), recorder: new Recorder({ windowS: 1 }), clock, onRequestEnd: (r) => records.push(r) });
    const outcome = await engine.run();
    await p.close();
    expect(outcome.stoppedBy).toBe('schedule');
    expect(records).toHaveLength(5);
    for (const r of records) expect(r).toMatchObject({ ok: false, errorClass: 'timeout' });
    // the deadline counts from the send on the main thread (the thread's own send stamp, kept in
    // the record, is a hop later): cut about 0.3 s after it, within a tick or two
    for (const r of records) expect(r.endUs - r.sentUs).toBeGreaterThan(250_000);
    for (const r of records) expect(r.endUs - r.sentUs).toBeLessThan(600_000);

    // graceful stop 0.2 s, deadline far away: cut as 'unfinished' (the server had the graceful
    // stop), and every record comes back
    restart();
    const spec2 = testSpec({ ...load, gracefulStopS: 0.2 });
    const records2: RequestRecord[] = [];
    const engine2 = new Engine({ spec: spec2, backend: p2, workload: new Workload(spec2.workload, 1, 'chat'), recorder: new Recorder({ windowS: 1 }), clock, onRequestEnd: (r) => records2.push(r) });
    const outcome2 = await engine2.run();
    await p2.close();
    expect(outcome2.abortedInFlight).toBe(5);
    expect(records2.map((r) => r.errorClass)).toEqual(['unfinished', 'unfinished', 'unfinished', 'unfinished', 'unfinished']);
  });

  it('fails only the requests in flight on a thread that dies; new requests go to the survivors', async () => {
    const p = pool();
    server.setScript(stall);
    const before = server.requests.length;
    const sends = Array.from({ length: 4 }, (_, i) => sendOne(p, i));
    await serverGot(before + 4);
    p.crashThreadForTest(0, 'throw');
    // thread 0 had requests 0 and 2 (round-robin on ties)
    const dead = await Promise.all([sends[0]!.done, sends[2]!.done]);
    for (const r of dead) {
      expect(r).toMatchObject({ ok: false, errorClass: 'reset' });
      expect(r.errorMessage).toMatch(/client worker thread 0 died with the request in flight \(Error: client worker thread crashed on purpose/);
      expect(r.endUs).toBeGreaterThanOrEqual(r.sentUs);
    }
    expect(p.liveThreads).toBe(1);
    // the survivor's requests are untouched, and new ones go to it
    server.setScript(quick);
    const next = await Promise.all([sendOne(p, 10).done, sendOne(p, 11).done]);
    expect(next.every((r) => r.ok)).toBe(true);
    expect(p.inflightPerThread()).toEqual([0, 2]);
    sends[1]!.abort('aborted', 'done with it');
    sends[3]!.abort('aborted', 'done with it');
    expect((await sends[1]!.done).errorClass).toBe('aborted');
    expect((await sends[3]!.done).errorClass).toBe('aborted');

    // the last thread exits (process.exit in the thread): nothing left, sends fail at once, deferred
    p.crashThreadForTest(1, 'exit');
    for (let i = 0; i < 100 && p.liveThreads > 0; i++) await sleep(10);
    expect(p.liveThreads).toBe(0);
    const orphan = sendOne(p, 20);
    expect(orphan.syncDone()).toBe(false);
    const r = await orphan.done;
    expect(r).toMatchObject({ ok: false, errorClass: 'reset', errorMessage: 'every client worker thread has died' });
    expect(r.sentUs).toBeNaN();
    await p.close();
  });

  it('keeps a run going when a thread dies mid-run', async () => {
    server.setScript(async (_q, res) => {
      sseHead(res);
      res.write(tokenChunk('a'));
      await sleep(100);
      res.end(tokenChunk('b', 'length') + usageChunk(1, 2) + DONE);
    });
    const { clock, restart } = restartableClock();
    const p = pool({ clock });
    await p.ready();
    restart();
    const spec = testSpec({ executor: 'constant-arrival-rate', rate: 50, durationS: 1, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 100, gracefulStopS: 5 });
    const records: RequestRecord[] = [];
    const engine = new Engine({ spec, backend: p, workload: new Workload(spec.workload, 1, 'chat'), recorder: new Recorder({ windowS: 1 }), clock, onRequestEnd: (r) => records.push(r) });
    setTimeout(() => p.crashThreadForTest(0, 'throw'), 400);
    const outcome = await engine.run();
    await p.close();
    expect(outcome.stoppedBy).toBe('schedule');
    expect(records).toHaveLength(50);
    const failed = records.filter((r) => !r.ok);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(10);
    for (const r of failed) expect(r.errorMessage).toMatch(/client worker thread 0 died/);
    // everything after the crash went to thread 1 and completed
    expect(records.filter((r) => r.intendedStartUs > 500_000).every((r) => r.ok)).toBe(true);
  });

  it('closes within its bound with requests in flight, each ending exactly once; close twice is fine', async () => {
    const p = pool();
    server.setScript(stall);
    const before = server.requests.length;
    let calls = 0;
    const rs = Array.from({ length: 4 }, (_, i) => p.send(REQ, new RequestRecord(i, 0, 1, false), () => calls++));
    expect(rs).toHaveLength(4);
    await serverGot(before + 4);
    const t0 = performance.now();
    await Promise.all([p.close(), p.close()]);
    expect(performance.now() - t0).toBeLessThan(6_000);
    expect(calls).toBe(4);
    await sleep(50);
    expect(calls).toBe(4);
    // after close: fails, deferred
    const late = sendOne(p, 9);
    expect(late.syncDone()).toBe(false);
    expect((await late.done).errorMessage).toBe('the client worker pool is closed');
  });

  it('hands the API key to the threads only in workerData: no message carries it, failures are scrubbed', async () => {
    const key = 'sk-test-0123456789abcdef';
    const posted: string[] = [];
    const realPost = Worker.prototype.postMessage;
    const spy = vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, m: unknown, t?: readonly unknown[]) {
      posted.push(JSON.stringify(m));
      return realPost.call(this, m, t as never);
    });
    try {
      server.setScript((q, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `invalid key: ${String(q.headers.authorization)}` } }));
      });
      const p = pool({ apiKey: key });
      const before = server.requests.length;
      const r = await sendOne(p).done;
      await p.close();
      expect(server.requests[before]!.headers.authorization).toBe(`Bearer ${key}`);
      expect(r).toMatchObject({ ok: false, errorClass: 'http_4xx', httpStatus: 401 });
      expect(r.errorMessage).toContain('***');
      expect(r.errorMessage).not.toContain(key);
      expect(posted.length).toBeGreaterThan(0);
      for (const m of posted) expect(m).not.toContain(key);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('the generator section with client threads', () => {
  it('records the worker count, reads older results as 1, and judges CPU against the cores the threads can use', () => {
    const h = new HealthMonitor({ workers: 3 });
    const g = h.report(null);
    h.stop();
    expect(g.workers).toBe(3);
    const h1 = new HealthMonitor();
    expect(h1.report(null).workers).toBe(1);
    h1.stop();
    expect(clientCores(1)).toBe(1);
    expect(clientCores(2)).toBeGreaterThanOrEqual(1);
    expect(clientCores(2)).toBeLessThanOrEqual(3);
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/results/smoke-base-1.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect((fixture.generator as Record<string, unknown>).workers).toBeUndefined();
    expect(normalizeResults(fixture).generator.workers).toBe(1);
  });
});

describe('executeRun --workers', () => {
  const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-workers-'));
  const load: LoadSpec = { executor: 'constant-arrival-rate', rate: 20, durationS: 1, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 100, gracefulStopS: 5 };

  it('runs the built-in simulator with 2 workers to the same kind of results as with 1', async () => {
    const spec = testSpec(load, { requests: 20 });
    spec.workload.outputTokens = { dist: 'fixed', value: 16 };
    const out: Record<number, { result: Awaited<ReturnType<typeof executeRun>>['result']; lines: number }> = {};
    for (const workers of [1, 2]) {
      const dir = tmp();
      const { result, exitCode } = await executeRun(spec, { out: dir, workers, log: () => undefined, checkpointS: 60 });
      expect(exitCode === 0 || exitCode === 107, `exit ${exitCode}`).toBe(true);
      const lines = readFileSync(join(dir, 'requests.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0).length;
      out[workers] = { result, lines };
    }
    for (const workers of [1, 2]) {
      const { result, lines } = out[workers]!;
      expect(result.status).toBe('complete');
      expect(result.summary.requests).toMatchObject({ sent: 20, completed: 20, failed: 0, dropped: 0, interrupted: 0 });
      expect(lines).toBe(20);
      const lat = result.summary.latency_ms;
      expect(lat.ttft.count).toBe(20);
      expect(lat.ttft_sent.count).toBe(20);
      expect(lat.itl.count).toBe(20 * 15);
      expect(lat.e2e.count).toBe(20);
      expect(lat.tpot.count).toBe(20);
      expect(lat.ttft.hdr).toBeTruthy();
      expect(lat.itl.p50!).toBeGreaterThan(0);
      expect(result.summary.tokens.output_usage).toBe(20 * 16);
      expect(result.generator.workers).toBe(workers);
      // every event counted once on some parsing path, from the threads too: per request a role
      // chunk, 16 content chunks (the last with its finish reason) and a usage chunk ([DONE] is
      // not counted)
      const parsing = result.generator.chunk_parsing!;
      expect(parsing.template + parsing.search + parsing.json).toBe(20 * 18);
      expect(parsing.template).toBeGreaterThan(20 * 10);
      // stamps on the run clock: nothing before the run's start, TTFT from send below E2E
      expect(lat.schedule_lag.count).toBe(20);
      expect(lat.ttft_sent.p50!).toBeLessThanOrEqual(lat.e2e.p50!);
    }
    // the same schedule and workload: the same tokens
    expect(out[2]!.result.summary.tokens).toEqual(out[1]!.result.summary.tokens);
  }, 60_000);

  it('rejects a worker count out of range with exit 104 naming --workers', async () => {
    for (const workers of [0, 65, 1.5, Number.NaN]) {
      const err = await executeRun(testSpec(load), { out: tmp(), workers, log: () => undefined }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).exitCode).toBe(104);
      expect((err as InvalidInputError).problems[0]!.path).toBe('--workers');
    }
  });
});
