// The simulator's vLLM-style POST /tokenize (at the root, not under /v1): a prompt or chat messages,
// counted as its generation requests are counted (here: the approximation, no tokenizer named).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimServer, type SimServer } from '../../src/sim/server.js';

describe('simulator POST /tokenize', () => {
  let sim: SimServer;
  let root: string;
  beforeAll(async () => {
    sim = await startSimServer({ speed: 20 });
    root = sim.url.replace(/\/v1$/, '');
  });
  afterAll(() => sim.close());

  const post = async (body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${root}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('counts a prompt and a conversation as vLLM answers them, and as the chat requests count', async () => {
    const prompt = await post({ model: sim.profile.modelName, prompt: 'the cat sat on the mat' });
    expect(prompt.status).toBe(200);
    expect(prompt.json).toMatchObject({ count: 6, max_model_len: expect.any(Number) as number, token_strs: null });
    expect(prompt.json.tokens).toHaveLength(6);
    const chat = await post({ model: sim.profile.modelName, messages: [{ role: 'user', content: 'the cat sat' }, { role: 'user', content: [{ type: 'text', text: 'on the mat' }] }] });
    expect(chat.json.count).toBe(6);
    const res = await fetch(`${sim.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: sim.profile.modelName, messages: [{ role: 'user', content: 'the cat sat on the mat' }], max_tokens: 1 }),
    });
    expect(((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBe(6);
  });

  it('rejects what it cannot count', async () => {
    expect((await post({ prompt: 42 })).status).toBe(400);
    expect((await post({ messages: [] })).status).toBe(400);
    expect((await fetch(`${root}/tokenize`)).status).toBe(405);
  });
});
