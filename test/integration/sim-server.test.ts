// The simulator over real sockets (undici, raw TCP): vLLM's SSE framing, non-streaming bodies,
// the side endpoints, errors, emit timestamps, step timing without drift, client aborts, faults.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { approxTokenCount } from '../../src/core/tokens.js';
import { startSimServer } from '../../src/sim/server.js';
import type { SimServer, SimServerOptions } from '../../src/sim/server.js';
import { stepTime } from '../../src/sim/model.js';
import { SIM_PROFILES, resolveProfile } from '../../src/sim/profiles.js';

interface Frame {
  data: string;
  atMs: number;
}

interface StreamResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  frames: Frame[];
  /** bytes after the last complete frame */
  rest: string;
  error: unknown;
}

/** POST a streaming request and collect its SSE frames with their arrival times. */
async function postStream(
  url: string,
  body: unknown,
  options: { headers?: Record<string, string>; signal?: AbortSignal; onFrame?: (f: Frame) => void } = {},
): Promise<StreamResult> {
  const res = await request(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const frames: Frame[] = [];
  let buf = '';
  let error: unknown;
  try {
    for await (const chunk of res.body) {
      const atMs = performance.now();
      buf += (chunk as Buffer).toString('utf8');
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const raw = buf.slice(0, i);
        buf = buf.slice(i + 2);
        expect(raw.startsWith('data: ')).toBe(true);
        const frame = { data: raw.slice(6), atMs };
        frames.push(frame);
        options.onFrame?.(frame);
      }
    }
  } catch (err) {
    error = err;
  }
  return { status: res.statusCode, headers: res.headers, frames, rest: buf, error };
}

async function postJson(url: string, body: unknown): Promise<{ status: number; headers: StreamResult['headers']; json: any }> {
  const res = await request(url, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

const chat = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'meta-llama/Llama-3.1-8B-Instruct',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Tell me about the sea and the sky.' },
  ],
  ...extra,
});
const chatPromptTokens = approxTokenCount('You are terse.') + approxTokenCount('Tell me about the sea and the sky.');

async function withServer<R>(options: SimServerOptions, fn: (s: SimServer) => Promise<R>): Promise<R> {
  const s = await startSimServer(options);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('simulator endpoints', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await startSimServer({ speed: 20, seed: 1 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('streams chat like vLLM: role-only chunk, one chunk per token, usage chunk, [DONE]', async () => {
    const r = await postStream(`${sim.url}/chat/completions`, chat({
      stream: true,
      max_tokens: 20,
      ignore_eos: true,
      stream_options: { include_usage: true },
    }));
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toMatch(/^text\/event-stream/);
    expect(r.error).toBeUndefined();
    expect(r.rest).toBe('');
    expect(r.frames).toHaveLength(1 + 20 + 1 + 1);
    const chunks = r.frames.slice(0, -1).map((f) => JSON.parse(f.data));
    expect(r.frames.at(-1)!.data).toBe('[DONE]');
    const [role, ...rest] = chunks;
    expect(role).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
    expect(role.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    const content = rest.slice(0, 20);
    for (const [i, c] of content.entries()) {
      expect(c.id).toBe(role.id);
      expect(c.choices).toHaveLength(1);
      expect(c.choices[0].delta.content).toMatch(/^ \w+$/);
      expect(c.choices[0].finish_reason).toBe(i === 19 ? 'length' : null);
    }
    const usage = rest[20];
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({
      prompt_tokens: chatPromptTokens,
      completion_tokens: 20,
      total_tokens: chatPromptTokens + 20,
    });
  });

  it('streams completions with choices[0].text and honours max_completion_tokens', async () => {
    const r = await postStream(`${sim.url}/completions`, {
      prompt: 'Once upon a time',
      stream: true,
      max_completion_tokens: 7,
      ignore_eos: true,
      stream_options: { include_usage: true },
    });
    expect(r.status).toBe(200);
    const chunks = r.frames.slice(0, -1).map((f) => JSON.parse(f.data));
    expect(chunks).toHaveLength(7 + 1);
    for (const c of chunks.slice(0, 7)) {
      expect(c.object).toBe('text_completion');
      expect(c.id).toMatch(/^cmpl-/);
      expect(c.choices[0].text).toMatch(/^ \w+$/);
    }
    expect(chunks[6].choices[0].finish_reason).toBe('length');
    expect(chunks[7].usage).toEqual({ prompt_tokens: 4, completion_tokens: 7, total_tokens: 11 });
    expect(r.frames.at(-1)!.data).toBe('[DONE]');
  });

  it('without include_usage sends no usage chunk; without ignore_eos it may stop early', async () => {
    const r = await postStream(`${sim.url}/chat/completions`, chat({ stream: true, max_tokens: 40 }));
    const chunks = r.frames.slice(0, -1).map((f) => JSON.parse(f.data));
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    const tokens = chunks.length - 1;
    expect(tokens).toBeGreaterThanOrEqual(16);
    expect(tokens).toBeLessThanOrEqual(40);
    expect(chunks.at(-1).choices[0].finish_reason).toBe(tokens === 40 ? 'length' : 'stop');
  });

  it('answers non-streaming chat and completions with the whole text and usage', async () => {
    const c = await postJson(`${sim.url}/chat/completions`, chat({ max_tokens: 12, ignore_eos: true }));
    expect(c.status).toBe(200);
    expect(c.json).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'length' }],
      usage: { prompt_tokens: chatPromptTokens, completion_tokens: 12, total_tokens: chatPromptTokens + 12 },
    });
    expect(approxTokenCount(c.json.choices[0].message.content)).toBe(12);
    const p = await postJson(`${sim.url}/completions`, { prompt: [1, 2, 3, 4, 5], max_tokens: 3, ignore_eos: true });
    expect(p.json).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, finish_reason: 'length' }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    });
  });

  it('lists the profile model and answers /health', async () => {
    const models = await request(`${sim.url}/models`);
    expect(models.statusCode).toBe(200);
    expect(await models.body.json()).toMatchObject({
      object: 'list',
      data: [{ id: 'meta-llama/Llama-3.1-8B-Instruct', object: 'model', max_model_len: 32768 }],
    });
    const health = await request(sim.url.replace(/\/v1$/, '/health'));
    expect(health.statusCode).toBe(200);
    await health.body.dump();
  });

  it('rejects bad bodies with 400 and unknown paths with 404, OpenAI-style', async () => {
    const bad = await postJson(`${sim.url}/chat/completions`, '{not json');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ type: 'BadRequestError', code: 400 });
    expect((await postJson(`${sim.url}/chat/completions`, { model: 'x' })).json.error.message).toMatch(/messages/);
    expect((await postJson(`${sim.url}/completions`, { max_tokens: 5 })).json.error.message).toMatch(/prompt/);
    expect((await postJson(`${sim.url}/completions`, { prompt: 'a', max_tokens: 0 })).status).toBe(400);
    expect((await postJson(`${sim.url}/completions`, { prompt: 'a', stream_options: { include_usage: true } })).status).toBe(400);
    const missing = await request(`${sim.url}/embeddings`, { method: 'POST', body: '{}' });
    expect(missing.statusCode).toBe(404);
    expect(((await missing.body.json()) as { error: { code: number } }).error.code).toBe(404);
    const wrongMethod = await request(`${sim.url}/chat/completions`);
    expect(wrongMethod.statusCode).toBe(405);
    await wrongMethod.body.dump();
  });

  it('counts requests that carried an Authorization header', async () => {
    const before = sim.stats().authorizationSeenTotal;
    await postStream(`${sim.url}/chat/completions`, chat({ stream: true, max_tokens: 2 }), {
      headers: { authorization: 'Bearer sk-test-not-a-secret' },
    });
    expect(sim.stats().authorizationSeenTotal).toBe(before + 1);
    expect(JSON.stringify(sim.stats())).not.toContain('sk-test');
  });

  it('frames SSE over raw TCP as chunked HTTP/1.1 with text/event-stream', async () => {
    const { port } = sim;
    const body = JSON.stringify({ prompt: 'hi', stream: true, max_tokens: 3, ignore_eos: true });
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const [head, payload] = raw.split('\r\n\r\n', 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(head.toLowerCase()).toContain('content-type: text/event-stream');
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
    expect(payload).toContain('data: {"id":"cmpl-');
    expect(payload).toContain('data: [DONE]\n\n');
  });

  it('serves hundreds of concurrent streams past max_num_seqs', async () => {
    const n = 300;
    const results = await Promise.all(
      Array.from({ length: n }, () =>
        postStream(`${sim.url}/chat/completions`, chat({ stream: true, max_tokens: 10, ignore_eos: true })),
      ),
    );
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.frames).toHaveLength(1 + 10 + 1);
    }
    const g = sim.stats().engine;
    expect(g).toMatchObject({ running: 0, waiting: 0, kvBlocksUsed: 0 });
  });
});

describe('emit timestamps', () => {
  it('every chunk carries inferload_emit_ms (server option)', async () => {
    await withServer({ speed: 20, emitTimestamps: true }, async (s) => {
      const before = Date.now();
      const r = await postStream(`${s.url}/chat/completions`, chat({
        stream: true,
        max_tokens: 5,
        ignore_eos: true,
        stream_options: { include_usage: true },
      }));
      const after = Date.now();
      const chunks = r.frames.slice(0, -1).map((f) => JSON.parse(f.data));
      expect(chunks).toHaveLength(7);
      for (const c of chunks) {
        expect(c.inferload_emit_ms).toBeGreaterThanOrEqual(before - 1);
        expect(c.inferload_emit_ms).toBeLessThanOrEqual(after + 1);
      }
    });
  });

  it('can be asked per request with x-inferload-emit-timestamps: 1', async () => {
    await withServer({ speed: 20 }, async (s) => {
      const url = `${s.url}/completions`;
      const body = { prompt: 'x', stream: true, max_tokens: 3, ignore_eos: true };
      const off = await postStream(url, body);
      expect(JSON.parse(off.frames[0]!.data).inferload_emit_ms).toBeUndefined();
      const on = await postStream(url, body, { headers: { 'x-inferload-emit-timestamps': '1' } });
      expect(typeof JSON.parse(on.frames[0]!.data).inferload_emit_ms).toBe('number');
    });
  });
});

describe('engine timing over the wire', () => {
  it('emits tokens at the roofline step times, without drift', async () => {
    const profile = resolveProfile('default');
    await withServer({ speed: 1, emitTimestamps: true }, async (s) => {
      const tokens = 80;
      const r = await postStream(`${s.url}/completions`, {
        prompt: 'the sea and the sky',
        stream: true,
        max_tokens: tokens,
        ignore_eos: true,
      });
      const emits = r.frames.slice(0, -1).map((f) => JSON.parse(f.data).inferload_emit_ms as number);
      expect(emits).toHaveLength(tokens);
      const promptTokens = 5;
      let expectedUs = 0;
      for (let k = 1; k < tokens; k++) expectedUs += stepTime(profile, 1, promptTokens + k).durationUs;
      const actualMs = emits.at(-1)! - emits[0]!;
      // one late timer at the end at most; no accumulation over 79 steps (~460 ms)
      expect(Math.abs(actualMs - expectedUs / 1000)).toBeLessThan(4);
      const gaps = emits.slice(1).map((t, i) => t - emits[i]!);
      const meanGapMs = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      expect(meanGapMs).toBeGreaterThan(5.3);
      expect(meanGapMs).toBeLessThan(6.3);
    });
  });

  it('frees the slot of a client that disconnects', async () => {
    const oneSeq = { ...SIM_PROFILES.default!, name: 'one-seq', maxNumSeqs: 1 };
    await withServer({ profile: oneSeq, speed: 5 }, async (s) => {
      const url = `${s.url}/chat/completions`;
      const abort = new AbortController();
      let firstChunk!: () => void;
      const gotFirst = new Promise<void>((resolve) => (firstChunk = resolve));
      const long = postStream(url, chat({ stream: true, max_tokens: 5000, ignore_eos: true }), {
        signal: abort.signal,
        onFrame: () => firstChunk(),
      });
      await gotFirst;
      const short = postStream(url, chat({ stream: true, max_tokens: 3, ignore_eos: true }));
      // the second request waits behind the first (max_num_seqs = 1)
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(s.stats().engine).toMatchObject({ running: 1, waiting: 1 });
      abort.abort();
      const started = performance.now();
      const r = await short;
      expect(performance.now() - started).toBeLessThan(1000);
      expect(r.frames).toHaveLength(1 + 3 + 1);
      expect((await long).frames.length).toBeLessThan(5000);
      const stats = s.stats();
      expect(stats.clientAbortsTotal).toBe(1);
      expect(stats.engine).toMatchObject({ running: 0, waiting: 0, kvBlocksUsed: 0, requestsAbortedTotal: 1 });
    });
  });

  it('close() ends open streams promptly', async () => {
    const s = await startSimServer({ speed: 1 });
    let firstChunk!: () => void;
    const gotFirst = new Promise<void>((resolve) => (firstChunk = resolve));
    const stream = postStream(`${s.url}/chat/completions`, chat({ stream: true, max_tokens: 10000, ignore_eos: true }), {
      onFrame: () => firstChunk(),
    });
    await gotFirst;
    const started = performance.now();
    await s.close();
    expect(performance.now() - started).toBeLessThan(500);
    const r = await stream;
    expect(r.frames.at(-1)!.data).not.toBe('[DONE]');
  });

  it('rejects an unknown profile, naming the valid ones', async () => {
    await expect(startSimServer({ profile: 'h200' })).rejects.toThrow(/valid profiles: default, tp2/);
  });
});

describe('fault injection', () => {
  const streamBody = chat({ stream: true, max_tokens: 12, ignore_eos: true });

  it('http500: a JSON error before any stream byte', async () => {
    await withServer({ speed: 20, faults: { http500Ratio: 1 } }, async (s) => {
      const r = await postJson(`${s.url}/chat/completions`, streamBody);
      expect(r.status).toBe(500);
      expect(r.json.error).toMatchObject({ code: 500, type: 'InternalServerError' });
      expect(s.stats().faults.http500).toBe(1);
    });
  });

  it('http429: with Retry-After: 1', async () => {
    await withServer({ speed: 20, faults: { http429Ratio: 1 } }, async (s) => {
      const r = await postJson(`${s.url}/chat/completions`, streamBody);
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json.error.code).toBe(429);
    });
  });

  it('stall: the stream pauses stallS mid-stream, then completes', async () => {
    await withServer({ speed: 20, faults: { stallRatio: 1, stallS: 0.3 } }, async (s) => {
      const r = await postStream(`${s.url}/chat/completions`, streamBody);
      expect(r.frames.at(-1)!.data).toBe('[DONE]');
      expect(r.frames).toHaveLength(1 + 12 + 1);
      const gaps = r.frames.slice(1).map((f, i) => f.atMs - r.frames[i]!.atMs);
      const longGaps = gaps.filter((g) => g > 250);
      expect(longGaps).toHaveLength(1);
      expect(longGaps[0]!).toBeLessThan(450);
    });
  });

  it('drop: the connection is destroyed mid-stream, no [DONE]', async () => {
    await withServer({ speed: 20, faults: { dropRatio: 1 } }, async (s) => {
      const r = await postStream(`${s.url}/chat/completions`, streamBody);
      expect(r.status).toBe(200);
      expect(r.error).toBeDefined();
      expect(r.frames.length).toBeGreaterThanOrEqual(2); // role + at least one token
      expect(r.frames.some((f) => f.data === '[DONE]')).toBe(false);
      expect(r.frames.length).toBeLessThan(1 + 12);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(s.stats().engine).toMatchObject({ running: 0, kvBlocksUsed: 0 });
    });
  });

  it('midStreamError: an HTTP-200 stream that carries vLLM’s error event, then [DONE]', async () => {
    await withServer({ speed: 20, faults: { midStreamErrorRatio: 1 } }, async (s) => {
      const r = await postStream(`${s.url}/chat/completions`, streamBody);
      expect(r.status).toBe(200);
      expect(r.error).toBeUndefined();
      const last = r.frames.at(-1)!;
      const error = JSON.parse(r.frames.at(-2)!.data);
      expect(last.data).toBe('[DONE]');
      expect(error).toEqual({ error: { message: 'Internal server error', type: 'InternalServerError', param: null, code: 500 } });
      const tokens = r.frames.slice(1, -2).map((f) => JSON.parse(f.data));
      expect(tokens.length).toBeGreaterThanOrEqual(1);
      expect(tokens.length).toBeLessThan(12);
      expect(tokens.every((c) => c.choices[0].finish_reason === null)).toBe(true);
      expect(s.stats().engine.kvBlocksUsed).toBe(0);
    });
  });

  it('is deterministic for a seed and request order', async () => {
    const outcomes = async (seed: number): Promise<string[]> =>
      withServer({ speed: 20, seed, faults: { http500Ratio: 0.3, http429Ratio: 0.3 } }, async (s) => {
        const out: string[] = [];
        for (let i = 0; i < 12; i++) {
          const r = await postJson(`${s.url}/completions`, { prompt: 'x', max_tokens: 40 });
          out.push(r.status === 200 ? `200:${r.json.usage.completion_tokens}` : String(r.status));
        }
        return out;
      });
    const a = await outcomes(5);
    expect(await outcomes(5)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(2);
  });
});
