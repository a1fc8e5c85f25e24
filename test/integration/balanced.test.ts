// Client-side balancing over replicas (target.urls) over real sockets: two scripted servers, one
// slow; least in flight sends the next request to the idle replica, round robin to each in turn,
// a session stays on its replica, and each record says where it went.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BalancedBackend, type BalancePolicy } from '../../src/backend/balanced.js';
import { OpenAIBackend } from '../../src/backend/openai/client.js';
import { runClock } from '../../src/core/clock.js';
import type { RequestRecord } from '../../src/core/record.js';
import type { LoadSpec, SessionsSpec } from '../../src/core/types.js';
import { Engine } from '../../src/engine/engine.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { Workload } from '../../src/workload/workload.js';
import { DONE, sleep, sseHead, startScriptedServer, tokenChunk, usageChunk, type ScriptedServer } from '../helpers/scripted-server.js';
import { clientOptions } from '../helpers/backend.js';
import { testSpec } from '../helpers/spec.js';

let fast: ScriptedServer;
let slow: ScriptedServer;
const answer = (ms: number) => async (_q: unknown, res: import('node:http').ServerResponse) => {
  sseHead(res);
  res.write(tokenChunk('a'));
  await sleep(ms);
  res.end(tokenChunk('b', 'length') + usageChunk(4, 2) + DONE);
};
beforeAll(async () => {
  fast = await startScriptedServer(answer(5));
  slow = await startScriptedServer(answer(400));
});
afterAll(async () => {
  await fast.close();
  await slow.close();
});

const load = (rate: number, durationS: number): LoadSpec => ({ executor: 'constant-arrival-rate', rate, durationS, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 100, gracefulStopS: 5 });

async function run(policy: BalancePolicy, sessions?: SessionsSpec) {
  fast.requests.length = 0;
  slow.requests.length = 0;
  const clock = runClock();
  const backend = new BalancedBackend([new OpenAIBackend(clientOptions(slow.baseUrl, clock)), new OpenAIBackend(clientOptions(fast.baseUrl, clock))], policy);
  const base = testSpec(load(20, 1));
  const spec = { ...base, workload: { ...base.workload, ...(sessions && { sessions }) } };
  const records: RequestRecord[] = [];
  const engine = new Engine({ spec, backend, workload: new Workload(spec.workload, spec.seed, 'chat'), recorder: new Recorder({ windowS: 1 }), clock, onRequestEnd: (r) => records.push(r) });
  await engine.run();
  await backend.close();
  return records;
}

describe('balancing over replicas', () => {
  it('round robin: each replica in turn, whatever it is doing', async () => {
    const records = await run('round-robin');
    expect(records).toHaveLength(20);
    const byId = [...records].sort((a, b) => a.id - b.id);
    expect(byId.map((r) => r.replica)).toEqual(byId.map((_, i) => i % 2));
    expect(slow.requests).toHaveLength(10);
    expect(fast.requests).toHaveLength(10);
  });

  it('least in flight: the slow replica gets a request only when the fast one is as busy', async () => {
    const records = await run('least-in-flight');
    expect(records).toHaveLength(20);
    // every 50 ms a request; the fast one (5 ms) is idle again each time, the slow one (400 ms)
    // only takes one when it has none in flight either (a tie, broken in turn)
    const onSlow = records.filter((r) => r.replica === 0).sort((a, b) => a.sentUs - b.sentUs);
    for (let i = 1; i < onSlow.length; i++) expect(onSlow[i]!.sentUs).toBeGreaterThanOrEqual(onSlow[i - 1]!.endUs);
    expect(onSlow.length).toBeLessThanOrEqual(3);
    expect(fast.requests.length).toBe(20 - onSlow.length);
    expect(slow.requests.length).toBe(onSlow.length);
  });

  it('a session stays on its replica', async () => {
    const records = await run('least-in-flight', { turns: { dist: 'fixed', value: 3 }, thinkTimeS: 0.01, thinkTimeDist: 'fixed' });
    const bySession = new Map<number, Set<number | null>>();
    for (const r of records) bySession.set(r.session!, (bySession.get(r.session!) ?? new Set()).add(r.replica));
    expect(bySession.size).toBeGreaterThan(4);
    for (const [session, replicas] of bySession) expect([...replicas]).toEqual([session % 2]);
  });
});
