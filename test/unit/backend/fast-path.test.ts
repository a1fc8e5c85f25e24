// The byte-search fast path must agree with full JSON parsing on every chunk shape we know
// (vLLM, SGLang, TGI, llama.cpp key orders, completions, reasoning, escapes, errors, usage).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParseStats } from '../../../src/backend/openai/client.js';
import { runClock } from '../../../src/core/clock.js';
import { RequestRecord } from '../../../src/core/record.js';
import { parsingBackend } from '../../helpers/backend.js';
import { sseHead, startScriptedServer, type ScriptedServer } from '../../helpers/scripted-server.js';

let server: ScriptedServer;
let body = '';
/** 0: the whole body in one write; n: written n bytes at a time, a timer apart (separate reads) */
let pieceBytes = 0;
/** events per parsing path in the last `read` */
let lastStats: ParseStats = { template: 0, search: 0, json: 0 };
beforeAll(async () => {
  server = await startScriptedServer(async (_q, res) => {
    sseHead(res);
    if (pieceBytes === 0) {
      res.end(body);
      return;
    }
    const b = Buffer.from(body);
    for (let i = 0; i < b.length; i += pieceBytes) {
      res.write(b.subarray(i, i + pieceBytes));
      await new Promise((r) => setTimeout(r, 1));
    }
    res.end();
  });
});
afterAll(async () => {
  await server.close();
});

async function read(stream: string, parseEveryEvent: boolean, endpoint: 'chat' | 'completions' = 'chat', pieces = 0) {
  body = stream;
  pieceBytes = pieces;
  const clock = runClock();
  const backend = parsingBackend(server.baseUrl, endpoint, parseEveryEvent, clock);
  const r = await new Promise<RequestRecord>((resolve) =>
    backend.send({ prompt: 'x', maxTokens: 4, promptTokens: 1 }, new RequestRecord(0, clock.now(), 1, false), resolve),
  );
  await backend.close();
  lastStats = backend.parseStats();
  return {
    ok: r.ok,
    errorClass: r.errorClass,
    chunks: r.chunkUs.length,
    chars: r.chunkChars,
    firstChunk: !Number.isNaN(r.firstChunkUs),
    firstToken: !Number.isNaN(r.firstTokenUs),
    usage: r.outputTokensUsage,
    cached: r.cachedTokensUsage,
    finish: r.finishReason,
    emit: r.emitMs,
  };
}

const d = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
const shapes: Record<string, string> = {
  vllm: [
    d({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }),
    d({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: ' Hello' }, logprobs: null, finish_reason: null }] }),
    d({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: ' "quoted\\" \\\\' }, logprobs: null, finish_reason: null }] }),
    d({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: '!' }, logprobs: null, finish_reason: 'length', stop_reason: null }] }),
    d({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, total_tokens: 6, completion_tokens: 3 } }),
    'data: [DONE]\n\n',
  ].join(''),
  'llama.cpp (sorted keys)': [
    d({ choices: [{ delta: { content: 'a' }, finish_reason: null, index: 0 }], created: 1, id: 'c', model: 'm', object: 'chat.completion.chunk' }),
    d({ choices: [{ delta: {}, finish_reason: 'stop', index: 0 }], created: 1, id: 'c', model: 'm', object: 'chat.completion.chunk', usage: { completion_tokens: 1, prompt_tokens: 2, total_tokens: 3 } }),
    'data: [DONE]\n\n',
  ].join(''),
  'reasoning then content': [
    d({ choices: [{ index: 0, delta: { reasoning_content: 'think', content: null }, finish_reason: null }] }),
    d({ choices: [{ index: 0, delta: { content: 'answer' }, finish_reason: null }] }),
    d({ choices: [{ index: 0, delta: { content: '' }, finish_reason: 'stop' }] }),
    'data: [DONE]\n\n',
  ].join(''),
  'continuous usage in every chunk': [
    d({ choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
    d({ choices: [{ index: 0, delta: { content: 'b' }, finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }),
    'data: [DONE]\n\n',
  ].join(''),
  'two choices': [
    d({ choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }, { index: 1, delta: { content: 'b' }, finish_reason: null }] }),
    d({ choices: [{ index: 0, delta: { content: 'c' }, finish_reason: 'length' }] }),
    'data: [DONE]\n\n',
  ].join(''),
  'spaced JSON (python json.dumps)': [
    'data: {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": null}]}\n\n',
    'data: {"choices": [{"index": 0, "delta": {"content": "b"}, "finish_reason": "length"}]}\n\n',
    'data: [DONE]\n\n',
  ].join(''),
  'error after tokens': [
    d({ choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }] }),
    d({ error: { message: 'boom', type: 'InternalServerError', code: 500 } }),
    'data: [DONE]\n\n',
  ].join(''),
  'error key inside a chunk with choices': [
    d({ error: { message: 'x' }, choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }] }),
    'data: [DONE]\n\n',
  ].join(''),
  'error key after the choices': [
    d({ choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }], error: { message: 'late' } }),
    'data: [DONE]\n\n',
  ].join(''),
  'emit timestamps': [
    d({ choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }], inferload_emit_ms: 1700000000123.456 }),
    d({ choices: [{ index: 0, delta: { content: 'b' }, finish_reason: null }], inferload_emit_ms: 1700000000133.5 }),
    d({ choices: [{ index: 0, delta: { content: '' }, finish_reason: 'length' }] }),
    'data: [DONE]\n\n',
  ].join(''),
  'content that looks like keys': [
    d({ choices: [{ index: 0, delta: { content: '"usage": "error" "finish_reason":null}]' }, finish_reason: null }] }),
    d({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }] }),
    'data: [DONE]\n\n',
  ].join(''),
  // many chunks of one shape: the template path (see client.ts fastEvent) takes most of them
  'vLLM, many chunks, escapes and a changed field': [
    ...['a', 'b', 'c\\', 'd"', '"e', 'f\\"g', '', 'h', 'é', 'i', '\n', 'j'].map((c, i) =>
      d({ id: 'c', object: 'chat.completion.chunk', created: i < 8 ? 1 : 2, model: 'm', choices: [{ index: 0, delta: { content: c }, logprobs: null, finish_reason: null }] }),
    ),
    d({ id: 'c', object: 'chat.completion.chunk', created: 2, model: 'm', choices: [{ index: 0, delta: { content: 'k' }, logprobs: null, finish_reason: 'stop' }] }),
    d({ id: 'c', object: 'chat.completion.chunk', created: 2, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 13, total_tokens: 16 } }),
    'data: [DONE]\n\n',
  ].join(''),
  'SGLang shape (usage: null in every chunk)': [
    ...['a', 'bb', 'ccc', 'dd', 'e'].map((c) =>
      d({ id: 's', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: null, content: c, reasoning_content: null, tool_calls: null }, logprobs: null, finish_reason: null, matched_stop: null }], usage: null }),
    ),
    d({ id: 's', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: null, content: 'f', reasoning_content: null, tool_calls: null }, logprobs: null, finish_reason: 'length', matched_stop: null }], usage: null }),
    d({ id: 's', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 } }),
    'data: [DONE]\n\n',
  ].join(''),
  'TGI shape, CRLF line ends': [
    ...['x', 'y', 'z', 'w'].map((c) =>
      `data: ${JSON.stringify({ object: 'chat.completion.chunk', id: '', created: 1, model: 'm', system_fingerprint: '2.3.1', choices: [{ index: 0, delta: { role: 'assistant', content: c }, logprobs: null, finish_reason: null }], usage: null })}\r\n\r\n`,
    ),
    `data: ${JSON.stringify({ object: 'chat.completion.chunk', id: '', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 } })}\r\n\r\n`,
    'data: [DONE]\r\n\r\n',
  ].join(''),
  'reasoning chunks then content chunks': [
    ...['r1', 'r2', 'r3'].map((c) => d({ choices: [{ index: 0, delta: { reasoning_content: c, content: null }, finish_reason: null }] })),
    ...['c1', 'c2', 'c3'].map((c) => d({ choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })),
    d({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
    'data: [DONE]\n\n',
  ].join(''),
  'an error event shaped like the chunks before it': [
    ...['a', 'b'].map((c) => d({ id: 'c', choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })),
    d({ id: 'c', choices: [{ index: 0, delta: { content: 'c' }, finish_reason: null }], error: { message: 'late' } }),
    'data: [DONE]\n\n',
  ].join(''),
  'an SSE id on every event (no template can match)': [
    ...Array.from({ length: 12 }, (_, i) => `id: ${i}\n` + d({ id: 'c', choices: [{ index: 0, delta: { content: `t${i}` }, finish_reason: null }] })),
    d({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
    'data: [DONE]\n\n',
  ].join(''),
  'finish reasons and stop reasons of every form': [
    d({ id: 'c', choices: [{ index: 0, delta: { content: 'a' }, logprobs: null, finish_reason: null }] }),
    d({ id: 'c', choices: [{ index: 0, delta: { content: 'b' }, logprobs: null, finish_reason: null, stop_reason: null }] }),
    d({ id: 'c', choices: [{ index: 0, delta: { content: 'c' }, logprobs: null, finish_reason: 'stop', stop_reason: 128001 }] }),
    d({ id: 'c', choices: [{ index: 0, delta: { content: '' }, logprobs: null, finish_reason: 'stop', stop_reason: '</s>' }] }),
    d({ id: 'c', choices: [{ index: 0, delta: { content: '' }, logprobs: null, finish_reason: 'we\\ird', stop_reason: 'x\\"y' }] }),
    d({ id: 'c', choices: [], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6, prompt_tokens_details: { cached_tokens: 2 } } }),
    'data: [DONE]\n\n',
  ].join(''),
  'usage forms: null fields, a float, detail objects': [
    d({ choices: [{ index: 0, delta: { content: 'a' }, finish_reason: 'length' }] }),
    d({ choices: [], usage: { prompt_tokens: null, completion_tokens: 1, total_tokens: 1, prompt_tokens_details: null } }),
    d({ choices: [], usage: { prompt_tokens: 2.5, completion_tokens: 7 } }),
    d({ choices: [], usage: { completion_tokens: 9, prompt_tokens: 4 }, inferload_emit_ms: 1.5 }),
    'data: [DONE]\n\n',
  ].join(''),
  'unicode content': [d({ choices: [{ index: 0, delta: { content: '日本語 ✓' }, finish_reason: null }] }), d({ choices: [{ index: 0, delta: { content: 'é' }, finish_reason: 'stop' }] }), 'data: [DONE]\n\n'].join(''),
};

describe('the fast path agrees with full JSON parsing', () => {
  for (const [name, stream] of Object.entries(shapes)) {
    it(name, async () => {
      const full = await read(stream, true);
      const fast = await read(stream, false);
      expect(fast.ok).toBe(full.ok);
      expect(fast.errorClass).toBe(full.errorClass);
      expect(fast.chunks).toBe(full.chunks);
      expect(fast.firstChunk).toBe(full.firstChunk);
      expect(fast.firstToken).toBe(full.firstToken);
      expect(fast.usage).toBe(full.usage);
      expect(fast.cached).toBe(full.cached);
      expect(fast.finish).toBe(full.finish);
      expect(fast.emit).toEqual(full.emit);
      // content sizes: bytes of the JSON-escaped text (fast) vs characters (full) may differ for
      // escapes and non-ASCII; both only weight the split of usage tokens over chunks
      expect(fast.chars.length).toBe(full.chars.length);
    });
  }

  it('agrees whatever the reads are cut to (a few bytes per write)', async () => {
    for (const name of ['vLLM, many chunks, escapes and a changed field', 'SGLang shape (usage: null in every chunk)', 'TGI shape, CRLF line ends', 'finish reasons and stop reasons of every form']) {
      const full = await read(shapes[name]!, true);
      for (const pieces of [7, 61]) {
        const fast = await read(shapes[name]!, false, 'chat', pieces);
        expect({ ...fast, chars: fast.chars.length }, `${name}, ${pieces}-byte writes`).toEqual({ ...full, chars: full.chars.length });
      }
    }
  });

  it('counts content bytes the same on every fast path', async () => {
    const stream = shapes['vLLM, many chunks, escapes and a changed field']!;
    // bytes of the JSON-escaped content (c\\ is 3, f\\\"g is 6, é is 2), whole and in pieces
    const bytes = [1, 1, 3, 3, 3, 6, 1, 2, 1, 2, 1, 1];
    expect((await read(stream, false)).chars).toEqual(bytes);
    expect((await read(stream, false, 'chat', 400)).chars).toEqual(bytes);
  });

  it('takes the template path for repeated chunk shapes, and only JSON when asked to parse everything', async () => {
    const expected: Record<string, Partial<ParseStats>> = {
      // role chunk by search; 'a' by search (learns); then template except escapes, empty, changed field
      'vLLM, many chunks, escapes and a changed field': { template: 5 },
      // usage:null defeats the search path: JSON once, checked, then the template
      'SGLang shape (usage: null in every chunk)': { template: 4 },
      'TGI shape, CRLF line ends': { template: 3 },
      'reasoning chunks then content chunks': { template: 4 },
      'an SSE id on every event (no template can match)': { template: 0, search: 13 },
      // the finish reasons, the flat usage and the usage with prompt_tokens_details by search; the escaped ones by JSON
      'finish reasons and stop reasons of every form': { template: 0, search: 5, json: 1 },
    };
    for (const [name, want] of Object.entries(expected)) {
      await read(shapes[name]!, false);
      expect(lastStats, name).toMatchObject(want);
      await read(shapes[name]!, true);
      expect(lastStats.template + lastStats.search, name).toBe(0);
    }
  });

  it('completions `text` chunks', async () => {
    const stream = [
      'data: {"id":"c","object":"text_completion","choices":[{"index":0,"text":" a","logprobs":null,"finish_reason":null}]}\n\n',
      'data: {"id":"c","object":"text_completion","choices":[{"index":0,"text":" b","logprobs":null,"finish_reason":"length"}]}\n\n',
      'data: [DONE]\n\n',
    ].join('');
    expect(await read(stream, false, 'completions')).toEqual(await read(stream, true, 'completions'));
  });
});
