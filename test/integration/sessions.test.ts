// Multi-turn sessions over real sockets against a scripted server that answers every turn with
// a reply of its own (quotes, escapes, non-ASCII: what a client must resend exactly as streamed):
// each turn carries the whole history with the previous replies byte for byte, turns follow
// their think times, a failed turn ends its session, and per-turn slices add up to the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../src/backend/openai/client.js';
import { runClock } from '../../src/core/clock.js';
import type { RequestRecord } from '../../src/core/record.js';
import type { LoadSpec, ScenarioSpec, SessionsSpec } from '../../src/core/types.js';
import { Engine } from '../../src/engine/engine.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { Workload } from '../../src/workload/workload.js';
import { sliceResults } from '../../src/results/slices.js';
import { buildSummary } from '../../src/results/build.js';
import { DONE, sseHead, startScriptedServer, tokenChunk, usageChunk, type ScriptedServer } from '../helpers/scripted-server.js';
import { testSpec } from '../helpers/spec.js';

let server: ScriptedServer;
/** the reply streamed to each request, by its order of arrival at the server */
const replies: string[] = [];
/** requests this says fail get HTTP 500 */
let failWhen: ((session: string, body: string) => boolean) | null = null;

beforeAll(async () => {
  server = await startScriptedServer(async (q, res, body) => {
    const n = replies.length;
    if (failWhen?.(String(q.headers['x-session-id']), body)) {
      replies.push('');
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"boom"}}');
      return;
    }
    // three pieces, one with a quote, a backslash and a newline, one non-ASCII
    const pieces = [`reply ${n} `, 'says "hi"\\\n ', 'ünïcødé ✓'];
    replies.push(pieces.join(''));
    sseHead(res);
    // the completions endpoint streams `text`, chat `delta.content`
    const chunk = q.url?.endsWith('/chat/completions')
      ? tokenChunk
      : (text: string, finish: string | null = null): string => `data: ${JSON.stringify({ id: 'c1', object: 'text_completion', choices: [{ index: 0, text, finish_reason: finish }] })}\n\n`;
    for (const p of pieces) res.write(chunk(p));
    res.end(chunk('', 'length') + usageChunk(10, 3) + DONE);
  });
});
afterAll(async () => {
  await server.close();
});

const sessions = (over: Partial<SessionsSpec> = {}): SessionsSpec => ({
  turns: { dist: 'fixed', value: 3 },
  thinkTimeS: 0.05,
  thinkTimeDist: 'fixed',
  header: 'x-session-id',
  ...over,
});

async function run(spec: ScenarioSpec) {
  replies.length = 0;
  server.requests.length = 0;
  const clock = runClock();
  const backend = new OpenAIBackend({ baseUrl: server.baseUrl, model: 'm', endpoint: spec.target.endpoint, ignoreEos: true, minTokens: false, temperature: 0, idleTimeoutS: 10, clock });
  const recorder = new Recorder({ windowS: 1 });
  const records: RequestRecord[] = [];
  const workload = new Workload(spec.workload, spec.seed, spec.target.endpoint, undefined, undefined, undefined, spec.target.models);
  const engine = new Engine({ spec, backend, workload, recorder, clock, onRequestEnd: (r) => records.push(r) });
  const outcome = await engine.run();
  await backend.close();
  recorder.flush();
  return { outcome, records, engine, snapshot: recorder.snapshot() };
}

const openLoop = (rate: number, durationS: number): LoadSpec => ({
  executor: 'constant-arrival-rate',
  rate,
  durationS,
  timeUnitS: 1,
  arrival: 'constant',
  burstiness: 1,
  maxInFlight: 1000,
  gracefulStopS: 5,
});

type Message = { role: string; content: string };

/** The server's view: each request's messages and session header, in arrival order. */
function received(): { session: string; messages: Message[] }[] {
  return server.requests.map((q) => ({ session: String(q.headers['x-session-id']), messages: (JSON.parse(q.body) as { messages: Message[] }).messages }));
}

describe('sessions', () => {
  it('open loop: every turn resends the history, each earlier reply exactly as it was streamed', async () => {
    const spec = testSpec(openLoop(4, 1), { workload: { ...testSpec(openLoop(1, 1)).workload, sessions: sessions() } });
    const { records, engine, snapshot } = await run(spec);
    // 4 sessions of 3 turns; the last turns are due well inside the second the load lasts
    expect(engine.sessions).toEqual({ started: 4, completed: 4, broken: 0, cut: 0 });
    expect(records).toHaveLength(12);
    const got = received();
    const bySession = new Map<string, number[]>();
    got.forEach((g, i) => bySession.set(g.session, [...(bySession.get(g.session) ?? []), i]));
    expect(bySession.size).toBe(4);
    for (const order of bySession.values()) {
      expect(order).toHaveLength(3);
      for (let t = 0; t < 3; t++) {
        const messages = got[order[t]!]!.messages;
        // user, (assistant, user) per earlier turn
        expect(messages.map((m) => m.role)).toEqual(['user', ...Array.from({ length: t }, () => ['assistant', 'user']).flat()]);
        for (let k = 0; k < t; k++) expect(messages[1 + 2 * k]!.content).toBe(replies[order[k]!]);
        // the history is the previous turn's request and its reply, unchanged
        if (t > 0) expect(messages.slice(0, 2 * t - 1)).toEqual(got[order[t - 1]!]!.messages);
      }
    }
    // a turn is intended the think time after its previous turn's end
    const byId = new Map(records.map((r) => [`${r.session}:${r.turn}`, r]));
    for (const r of records) {
      if (r.turn === 1) continue;
      const prev = byId.get(`${r.session}:${r.turn! - 1}`)!;
      expect(r.intendedStartUs).toBeCloseTo(prev.endUs + 50_000, 0);
      expect(r.sentUs).toBeGreaterThanOrEqual(r.intendedStartUs);
    }
    // the slices: three turns of four requests each, adding up to the run
    const facts = { warmupS: 0, arrivalsEndUs: 1e6, openLoop: true };
    const { slices } = sliceResults(snapshot, spec, facts);
    const whole = buildSummary(snapshot, facts);
    expect(slices.turns!.map((t) => [t.turn, t.summary.requests.completed])).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
    ]);
    expect(slices.turns!.reduce((n, t) => n + t.summary.requests.completed, 0)).toBe(whole.requests.completed);
    expect(slices.turns!.reduce((n, t) => n + t.summary.tokens.output, 0)).toBe(whole.tokens.output);
    expect(slices.turns!.reduce((n, t) => n + (t.summary.latency_ms.ttft.count ?? 0), 0)).toBe(whole.latency_ms.ttft.count);
  });

  it('closed loop: a user holds one session at a time, and the planned prompt grows by each reply', async () => {
    const load: LoadSpec = { executor: 'constant-vus', vus: 2, durationS: 0.6, thinkTimeS: 0, gracefulStopS: 5 };
    const spec = testSpec(load, { workload: { ...testSpec(load).workload, sessions: sessions({ thinkTimeS: 0.01 }) } });
    const { records, engine } = await run(spec);
    expect(engine.sessions.started).toBeGreaterThanOrEqual(2);
    expect(engine.sessions.broken).toBe(0);
    // never two requests of one session at once: each turn starts after the one before ended
    const bySession = new Map<number, RequestRecord[]>();
    for (const r of records) bySession.set(r.session!, [...(bySession.get(r.session!) ?? []), r]);
    for (const list of bySession.values()) {
      list.sort((a, b) => a.turn! - b.turn!);
      list.forEach((r, i) => expect(r.turn).toBe(i + 1));
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.sentUs).toBeGreaterThanOrEqual(list[i - 1]!.endUs);
        // the approximation counts content only: the new turn adds the reply's 3 tokens and 16 of its own
        expect(list[i]!.promptTokensPlanned).toBe(list[i - 1]!.promptTokensPlanned + 3 + 16);
      }
    }
  });

  it('a failed turn ends its session (broken); the others go on', async () => {
    const spec = testSpec(openLoop(4, 1), { workload: { ...testSpec(openLoop(1, 1)).workload, sessions: sessions() } });
    // the second session's second turn (its body holds one reply)
    failWhen = (session, body) => session === 'inferload-1-1' && body.split('"assistant"').length === 2;
    try {
      const { engine, records } = await run(spec);
      expect(engine.sessions.broken).toBe(1);
      expect(engine.sessions.completed).toBe(3);
      expect(records.filter((r) => !r.ok)).toHaveLength(1);
      expect(records).toHaveLength(11);
    } finally {
      failWhen = null;
    }
  });

  it('turns due after the load ends are not sent: the session is cut', async () => {
    const spec = testSpec(openLoop(2, 0.5), { workload: { ...testSpec(openLoop(1, 1)).workload, sessions: sessions({ thinkTimeS: 1 }) } });
    const { engine, records } = await run(spec);
    expect(engine.sessions).toEqual({ started: 1, completed: 0, broken: 0, cut: 1 });
    expect(records.map((r) => r.turn)).toEqual([1]);
  });

  it('a request count counts every turn as an arrival', async () => {
    const spec = testSpec(openLoop(4, 1), { requests: 5, workload: { ...testSpec(openLoop(1, 1)).workload, sessions: sessions() } });
    const { records, outcome, engine } = await run(spec);
    expect(records).toHaveLength(5);
    expect(outcome.stoppedBy).toBe('requests');
    // the turns waiting for their think time when the count was made are settled before run()
    // returns: every session started has ended one way or another
    const c = engine.sessions;
    expect(c.completed + c.broken + c.cut).toBe(c.started);
  });

  it('completions: the history is the turns joined by newlines, replies included', async () => {
    const base = testSpec(openLoop(2, 0.5));
    const spec = testSpec(openLoop(2, 0.5), { target: { ...base.target, endpoint: 'completions' }, workload: { ...base.workload, sessions: sessions({ turns: { dist: 'fixed', value: 2 } }) } });
    await run(spec);
    const prompts = server.requests.map((q) => (JSON.parse(q.body) as { prompt: string }).prompt);
    const second = prompts.find((p) => p.includes('\n'))!;
    const first = prompts.find((p) => second.startsWith(`${p}\n`))!;
    expect(first).toBeDefined();
    const i = prompts.indexOf(first);
    expect(second.startsWith(`${first}\n${replies[i]}\n`)).toBe(true);
  });
});

describe('classes and models', () => {
  it('spread requests by weight, per request, deterministically for the seed; each class its own lengths', async () => {
    const base = testSpec(openLoop(200, 1));
    const spec = testSpec(openLoop(200, 1), {
      target: { ...base.target, models: [{ name: 'base', weight: 3 }, { name: 'lora-a', weight: 1 }] },
      workload: {
        ...base.workload,
        classes: [
          { name: 'chat', weight: 0.75, promptTokens: { dist: 'fixed', value: 16 }, outputTokens: { dist: 'fixed', value: 4 }, slo: {} },
          { name: 'rag', weight: 0.25, promptTokens: { dist: 'fixed', value: 64 }, outputTokens: { dist: 'fixed', value: 8 }, slo: {} },
        ],
      },
    });
    const { records, snapshot } = await run(spec);
    expect(records).toHaveLength(200);
    const count = (f: (r: RequestRecord) => boolean): number => records.filter(f).length;
    // 200 draws at 3:1 — within five standard deviations (±31) of 150
    expect(Math.abs(count((r) => r.className === 'chat') - 150)).toBeLessThan(31);
    expect(Math.abs(count((r) => r.model === 'base') - 150)).toBeLessThan(31);
    for (const r of records) expect(r.promptTokensPlanned).toBe(r.className === 'chat' ? 16 : 64);
    for (const r of records) expect(r.outputTokensAsked).toBe(r.className === 'chat' ? 4 : 8);
    // the model asked for is the record's
    const sentModels = server.requests.map((q) => (JSON.parse(q.body) as { model: string }).model);
    expect(new Set(sentModels)).toEqual(new Set(['base', 'lora-a']));
    expect(sentModels.filter((m) => m === 'lora-a')).toHaveLength(count((r) => r.model === 'lora-a'));
    // the same seed draws the same mix
    const again = await run(spec);
    expect(again.records.map((r) => [r.id, r.className, r.model]).sort()).toEqual(records.map((r) => [r.id, r.className, r.model]).sort());
    // per-class and per-model slices add up to the run
    const g = snapshot.groups!;
    expect(g.classes.chat!.counters.completed + g.classes.rag!.counters.completed).toBe(200);
    expect(g.models.base!.counters.completed + g.models['lora-a']!.counters.completed).toBe(200);
    expect(g.turns).toEqual([]);
  });
});
