// Sessions' conversations under a real tokenizer: every turn's planned prompt tokens equal the
// tokenizer's count of the whole conversation as sent (system prefix, every earlier reply, the
// chat template), on both endpoints, before and after historyTokens leaves old turns out; turns
// are deterministic for the seed, and sessions differ from their first token.
import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/core/record.js';
import { Rng } from '../../../src/core/rng.js';
import type { SessionsSpec, WorkloadSpec } from '../../../src/core/types.js';
import { loadTokenizer, type Tokenizer } from '../../../src/workload/tokenizer.js';
import { loadWorkload, Workload } from '../../../src/workload/workload.js';
import { testSpec } from '../../helpers/spec.js';

const sessions = (over: Partial<SessionsSpec> = {}): SessionsSpec => ({ turns: { dist: 'fixed', value: 5 }, thinkTimeS: 1, thinkTimeDist: 'fixed', ...over });

const workloadSpec = (over: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
  promptTokens: { dist: 'uniform', min: 10, max: 60 },
  outputTokens: { dist: 'fixed', value: 20 },
  ignoreEos: true,
  minTokens: false,
  temperature: 0,
  sharedPrefix: { groups: 2, prefixTokens: 100, share: 1 },
  sessions: sessions(),
  ...over,
});

async function workloadFor(endpoint: 'chat' | 'completions', tokenizer: Tokenizer, over: Partial<WorkloadSpec> = {}): Promise<Workload> {
  const base = testSpec({ executor: 'constant-vus', vus: 1, durationS: 1, thinkTimeS: 0, gracefulStopS: 1 });
  return loadWorkload({ ...base, seed: 5, target: { ...base.target, endpoint }, workload: workloadSpec(over) }, tokenizer);
}

/** What the server streamed: one-token words, `tokens` of them (their count is what usage reports). */
function reply(tokenizer: Tokenizer, tokens: number, seed: number): RequestRecord {
  const r = new RequestRecord(0, 0, 0, false);
  r.reply = tokenizer.words(tokens, Rng.derive(seed, 'reply')).text;
  r.outputTokensUsage = tokens;
  r.ok = true;
  return r;
}

describe('sessions under llama3', () => {
  for (const endpoint of ['chat', 'completions'] as const) {
    it(`${endpoint}: every turn's planned tokens are the tokenizer's count of the conversation sent`, async () => {
      const tokenizer = await loadTokenizer('llama3', endpoint);
      const w = await workloadFor(endpoint, tokenizer);
      for (let s = 0; s < 3; s++) {
        const conv = w.startSession(s);
        expect(conv.turns).toBe(5);
        for (let t = 1; t <= 5; t++) {
          const req = w.turnRequest(conv);
          expect(req.turn).toBe(t);
          expect(req.session).toBe(s);
          expect(req.captureReply === true).toBe(t < 5);
          const prompt = endpoint === 'chat' ? req.messages! : req.prompt!;
          expect(await tokenizer.countPrompt(prompt), `session ${s} turn ${t}`).toBe(req.promptTokens);
          if (endpoint === 'chat') expect(req.messages![0]!.role).toBe('system');
          w.noteReply(conv, reply(tokenizer, 7 + t, s * 10 + t));
        }
      }
    });
  }

  it('historyTokens leaves the oldest turns out whole, keeps the system prefix and the newest message, and stays exact', async () => {
    const tokenizer = await loadTokenizer('llama3', 'chat');
    const w = await workloadFor('chat', tokenizer, { sessions: sessions({ turns: { dist: 'fixed', value: 8 }, historyTokens: 400 }) });
    const conv = w.startSession(0);
    let trimmedOnce = false;
    for (let t = 1; t <= 8; t++) {
      const req = w.turnRequest(conv);
      const m = req.messages!;
      expect(await tokenizer.countPrompt(m)).toBe(req.promptTokens);
      expect(m[0]!.role).toBe('system');
      expect(m[1]!.role).toBe('user');
      expect(m[m.length - 1]!.role).toBe('user');
      // within the limit, unless only the system prefix and the newest message are left
      if (m.length > 2) expect(req.promptTokens).toBeLessThanOrEqual(400);
      if (conv.dropped > 0) trimmedOnce = true;
      w.noteReply(conv, reply(tokenizer, 40, t));
    }
    expect(trimmedOnce).toBe(true);
  });

  it('the same seed makes the same conversation; sessions differ from their first token after the prefix', async () => {
    const tokenizer = await loadTokenizer('llama3', 'chat');
    const a = await workloadFor('chat', tokenizer, { sharedPrefix: undefined });
    const b = await workloadFor('chat', tokenizer, { sharedPrefix: undefined });
    const first = (w: Workload, s: number): string => w.turnRequest(w.startSession(s)).messages![0]!.content;
    expect(first(a, 3)).toBe(first(b, 3));
    const starts = new Set(Array.from({ length: 50 }, (_, s) => first(a, s).split(' ')[0]));
    expect(starts.size).toBe(50);
  });

  it('think times: fixed, or exponential with the given mean, drawn per turn', async () => {
    const tokenizer = await loadTokenizer('llama3', 'chat');
    const fixed = await workloadFor('chat', tokenizer);
    const conv = fixed.startSession(0);
    fixed.turnRequest(conv);
    expect(fixed.thinkUs(conv)).toBe(1e6);
    const exp = await workloadFor('chat', tokenizer, { sessions: sessions({ thinkTimeDist: 'exponential', thinkTimeS: 2 }) });
    let sum = 0;
    const n = 2000;
    for (let s = 0; s < n; s++) {
      const c = exp.startSession(s);
      exp.turnRequest(c);
      sum += exp.thinkUs(c);
    }
    // the mean of 2000 exponential draws of mean 2 s: within 4 standard errors (2/√2000 ≈ 0.045 s)
    expect(Math.abs(sum / n / 1e6 - 2)).toBeLessThan(0.18);
  });
});
