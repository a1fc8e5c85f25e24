// LoRA adapters over real sockets: /v1/models as vLLM lists them, vLLM's 404 for an unknown model,
// adapter requests served under their own name, max_loras holding a second adapter back while
// /metrics says so in `vllm:lora_requests_info`, and no change for a simulator without adapters.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { runSimCommand, startSimServer } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/index.js';
import { parseExposition } from '../../src/scrape/parser.js';

const BASE = 'meta-llama/Llama-3.1-8B-Instruct';
const PYTHON = '/usr/bin/python3';
const PYTHON_HAS_PROMETHEUS_CLIENT =
  spawnSync(PYTHON, ['-c', 'import prometheus_client.parser'], { stdio: 'ignore' }).status === 0;

async function postJson(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}

async function getText(url: string): Promise<string> {
  const res = await request(url);
  expect(res.statusCode).toBe(200);
  return res.body.text();
}

/** A streaming chat request; `firstToken` resolves on its first content chunk, `done` with every chunk. */
function streamChat(baseUrl: string, model: string | undefined, maxTokens: number): { firstToken: Promise<void>; done: Promise<{ status: number; chunks: any[] }> } {
  let onFirst!: () => void;
  const firstToken = new Promise<void>((resolve) => (onFirst = resolve));
  const done = (async () => {
    const res = await request(`${baseUrl}/chat/completions`, {
      method: 'POST',
      // the server's write time in each chunk: orders tokens of two streams even when a late timer
      // makes the simulator catch up several steps in one tick
      headers: { 'content-type': 'application/json', 'x-inferload-emit-timestamps': '1' },
      body: JSON.stringify({
        ...(model !== undefined ? { model } : {}),
        messages: [{ role: 'user', content: 'Write a query.' }],
        max_tokens: maxTokens,
        ignore_eos: true,
        stream: true,
      }),
    });
    const chunks: any[] = [];
    let buf = '';
    for await (const data of res.body) {
      buf += (data as Buffer).toString('utf8');
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const frame = buf.slice(6, i);
        buf = buf.slice(i + 2);
        if (frame === '[DONE]') continue;
        const chunk = JSON.parse(frame);
        chunks.push(chunk);
        if (chunk.choices?.[0]?.delta?.content) onFirst();
      }
    }
    return { status: res.statusCode, chunks };
  })();
  return { firstToken, done };
}

/** `vllm:lora_requests_info` series of an exposition, parsed by the repo's own parser. */
function loraSeries(text: string): Array<{ running: string; waiting: string; maxLora: string; value: number }> {
  const parsed = parseExposition(text);
  expect(parsed.problems).toEqual([]);
  const family = parsed.families.find((f) => f.name === 'vllm:lora_requests_info');
  if (!family) return [];
  expect(family.type).toBe('gauge');
  return family.samples.map((s) => ({
    running: s.labels.running_lora_adapters!,
    waiting: s.labels.waiting_lora_adapters!,
    maxLora: s.labels.max_lora!,
    value: s.value,
  }));
}

describe('simulator with LoRA adapters', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await startSimServer({ speed: 5, seed: 1, adapters: ['sql-lora', 'chat-lora'], maxLoras: 1 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('lists the base model, then each adapter with the base as its parent, as vLLM does', async () => {
    const res = await request(`${sim.url}/models`);
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { object: string; data: Array<Record<string, any>> };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual([BASE, 'sql-lora', 'chat-lora']);
    const [base, sql, chat] = body.data;
    expect(base).toMatchObject({ object: 'model', owned_by: 'vllm', root: BASE, parent: null, max_model_len: 32768 });
    expect(sql).toMatchObject({ object: 'model', owned_by: 'vllm', root: 'sql-lora', parent: BASE, max_model_len: null });
    expect(chat).toMatchObject({ root: 'chat-lora', parent: BASE });
    for (const card of body.data) {
      expect(Object.keys(card)).toEqual(['id', 'object', 'created', 'owned_by', 'root', 'parent', 'max_model_len', 'permission']);
      expect(Number.isInteger(card.created)).toBe(true);
      expect(card.permission).toHaveLength(1);
      expect(card.permission[0]).toMatchObject({ object: 'model_permission', allow_sampling: true, organization: '*', group: null });
      expect(card.permission[0].id).toMatch(/^modelperm-[0-9a-f]{32}$/);
    }
  });

  it('answers an unknown model with vLLM 404 NotFoundError, its name escaped', async () => {
    const before = sim.stats();
    const r = await postJson(`${sim.url}/chat/completions`, { model: 'nope', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({
      error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
    });
    const odd = 'we"ird\\name\n';
    const c = await postJson(`${sim.url}/completions`, { model: odd, prompt: 'hi' });
    expect(c.status).toBe(404);
    expect(c.json.error.message).toBe(`The model \`${odd}\` does not exist.`);
    expect((await postJson(`${sim.url}/completions`, { model: 7, prompt: 'hi' })).status).toBe(400);
    const after = sim.stats();
    expect(after.badRequestsTotal - before.badRequestsTotal).toBe(3);
    expect(after.requestsTotal).toBe(before.requestsTotal);
  });

  it('serves the base model and each adapter, echoing the name requested', async () => {
    const sql = streamChat(sim.url, 'sql-lora', 4);
    const { status, chunks } = await sql.done;
    expect(status).toBe(200);
    expect(chunks.length).toBeGreaterThan(4);
    for (const chunk of chunks) expect(chunk.model).toBe('sql-lora');

    const chat = await postJson(`${sim.url}/completions`, { model: 'chat-lora', prompt: 'Once', max_tokens: 3, ignore_eos: true });
    expect(chat.status).toBe(200);
    expect(chat.json).toMatchObject({ model: 'chat-lora', usage: { completion_tokens: 3 } });
    const base = await postJson(`${sim.url}/completions`, { model: BASE, prompt: 'Once', max_tokens: 3 });
    expect(base.json.model).toBe(BASE);
    // vLLM serves a request without a model with the base model
    const none = await postJson(`${sim.url}/completions`, { prompt: 'Once', max_tokens: 3 });
    expect(none.status).toBe(200);
    expect(none.json.model).toBe(BASE);
  });

  it('max_loras 1: a second adapter waits for the first to leave the batch, and /metrics shows it', async () => {
    const sql = streamChat(sim.url, 'sql-lora', 400);
    await sql.firstToken;
    const chat = streamChat(sim.url, 'chat-lora', 3);
    const base = streamChat(sim.url, BASE, 3);
    // the base-model request is not held back
    const baseDone = await base.done;
    expect(baseDone.status).toBe(200);
    const during = loraSeries(await getText(sim.url.replace(/\/v1$/, '/metrics')));
    const newest = during.reduce((a, b) => (b.value > a.value ? b : a));
    expect(newest).toMatchObject({ running: 'sql-lora', waiting: 'chat-lora', maxLora: '1' });
    const [sqlDone, chatDone] = await Promise.all([sql.done, chat.done]);
    expect(chatDone.status).toBe(200);
    const emitted = (chunks: any[]): number[] =>
      chunks.filter((c) => c.choices?.[0]?.delta?.content).map((c) => c.inferload_emit_ms as number);
    expect(emitted(sqlDone.chunks)).toHaveLength(400);
    expect(emitted(chatDone.chunks)[0]).toBeGreaterThanOrEqual(emitted(sqlDone.chunks).at(-1)!);

    const after = loraSeries(await getText(sim.url.replace(/\/v1$/, '/metrics')));
    const last = after.reduce((a, b) => (b.value > a.value ? b : a));
    expect(last).toMatchObject({ running: '', waiting: '' });
    expect(last.value).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(last.value).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it.skipIf(!PYTHON_HAS_PROMETHEUS_CLIENT)('its /metrics parses with prometheus_client, lora_requests_info a gauge', async () => {
    const text = await getText(sim.url.replace(/\/v1$/, '/metrics'));
    const script = [
      'import sys',
      'from prometheus_client.parser import text_string_to_metric_families',
      'fs = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}',
      'f = fs["vllm:lora_requests_info"]',
      'print(f.type, len(f.samples), sorted(f.samples[0].labels))',
    ].join('\n');
    const run = spawnSync(PYTHON, ['-c', script], { input: text, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^gauge [1-9]\d* \['max_lora', 'running_lora_adapters', 'waiting_lora_adapters'\]\n$/);
  });

  it('rejects adapter lists it cannot serve', async () => {
    await expect(startSimServer({ adapters: [BASE] })).rejects.toThrow(/name of the base model/);
    await expect(startSimServer({ adapters: ['a', 'a'] })).rejects.toThrow(/twice/);
    await expect(startSimServer({ adapters: [''] })).rejects.toThrow(/non-empty/);
    await expect(startSimServer({ adapters: ['a'], maxLoras: 0 })).rejects.toThrow(/maxLoras/);
  });
});

describe('simulator defaults', () => {
  it('serves any model name as its own model, lists only it, and has no LoRA metric', async () => {
    const sim = await startSimServer({ speed: 20 });
    try {
      const r = await postJson(`${sim.url}/completions`, { model: 'anything-at-all', prompt: 'Once', max_tokens: 2 });
      expect(r.status).toBe(200);
      expect(r.json.model).toBe(BASE);
      const models = (await (await request(`${sim.url}/models`)).body.json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toEqual([BASE]);
      const text = await getText(sim.url.replace(/\/v1$/, '/metrics'));
      expect(text).not.toContain('lora');
      expect(sim.adapters).toEqual([]);
      expect(sim.maxLoras).toBeUndefined();
    } finally {
      await sim.close();
    }
  });

  it('max_loras defaults to the number of adapters, at most 4', async () => {
    for (const [adapters, expected] of [[['a'], 1], [['a', 'b', 'c'], 3], [['a', 'b', 'c', 'd', 'e', 'f'], 4]] as const) {
      const sim = await startSimServer({ adapters: [...adapters] });
      try {
        expect(sim.maxLoras).toBe(expected);
      } finally {
        await sim.close();
      }
    }
  });
});

describe('inferload sim with adapters', () => {
  it('says which adapters it serves on its one line', async () => {
    const stop = new AbortController();
    let printed!: (line: string) => void;
    const line = new Promise<string>((resolve) => (printed = resolve));
    const done = runSimCommand({ port: 0, speed: 20, adapters: ['sql-lora', 'chat-lora'], signal: stop.signal, write: (l) => printed(l) });
    expect(await line).toMatch(/ \(profile default, speed 20, seed 1, adapters sql-lora,chat-lora, max_loras 2\)\n$/);
    stop.abort();
    await done;
  });
});
