// The byte-search fast path must agree with full JSON parsing on every chunk shape we know
// (vLLM, SGLang, TGI, llama.cpp key orders, completions, reasoning, escapes, errors, usage).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../../src/backend/openai/client.js';
import { runClock } from '../../../src/core/clock.js';
import { RequestRecord } from '../../../src/core/record.js';
import { sseHead, startScriptedServer, type ScriptedServer } from '../../helpers/scripted-server.js';

let server: ScriptedServer;
let body = '';
beforeAll(async () => {
  server = await startScriptedServer((_q, res) => {
    sseHead(res);
    res.end(body);
  });
});
afterAll(async () => {
  await server.close();
});

async function read(stream: string, parseEveryEvent: boolean, endpoint: 'chat' | 'completions' = 'chat') {
  body = stream;
  const clock = runClock();
  const backend = new OpenAIBackend({
    baseUrl: server.baseUrl,
    model: 'm',
    endpoint,
    ignoreEos: false,
    minTokens: false,
    temperature: 0,
    idleTimeoutS: 5,
    clock,
    parseEveryEvent,
    recordEmitTimes: true,
  });
  const r = await new Promise<RequestRecord>((resolve) =>
    backend.send({ prompt: 'x', maxTokens: 4, promptTokens: 1 }, new RequestRecord(0, clock.now(), 1, false), resolve),
  );
  await backend.close();
  return {
    ok: r.ok,
    errorClass: r.errorClass,
    chunks: r.chunkUs.length,
    chars: r.chunkChars,
    firstChunk: !Number.isNaN(r.firstChunkUs),
    firstToken: !Number.isNaN(r.firstTokenUs),
    usage: r.outputTokensUsage,
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
      expect(fast.finish).toBe(full.finish);
      expect(fast.emit).toEqual(full.emit);
      // content sizes: bytes of the JSON-escaped text (fast) vs characters (full) may differ for
      // escapes and non-ASCII; both only weight the split of usage tokens over chunks
      expect(fast.chars.length).toBe(full.chars.length);
    });
  }

  it('completions `text` chunks', async () => {
    const stream = [
      'data: {"id":"c","object":"text_completion","choices":[{"index":0,"text":" a","logprobs":null,"finish_reason":null}]}\n\n',
      'data: {"id":"c","object":"text_completion","choices":[{"index":0,"text":" b","logprobs":null,"finish_reason":"length"}]}\n\n',
      'data: [DONE]\n\n',
    ].join('');
    expect(await read(stream, false, 'completions')).toEqual(await read(stream, true, 'completions'));
  });
});
