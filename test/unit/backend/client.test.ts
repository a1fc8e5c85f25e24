// The streaming client against a scripted real HTTP server: framing, stamps, failure classes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../../src/backend/openai/client.js';
import { runClock } from '../../../src/core/clock.js';
import { RequestRecord } from '../../../src/core/record.js';
import {
  DONE,
  roleChunk,
  sleep,
  sseHead,
  startScriptedServer,
  tokenChunk,
  usageChunk,
  type Script,
  type ScriptedServer,
} from '../../helpers/scripted-server.js';

let server: ScriptedServer;
const clock = runClock();

beforeAll(async () => {
  server = await startScriptedServer((_q, res) => {
    res.end();
  });
});
afterAll(async () => {
  await server.close();
});

async function send(script: Script, opts: { apiKey?: string; idleTimeoutS?: number; endpoint?: 'chat' | 'completions' } = {}) {
  server.setScript(script);
  const backend = new OpenAIBackend({
    baseUrl: server.baseUrl,
    model: 'm',
    endpoint: opts.endpoint ?? 'chat',
    apiKey: opts.apiKey,
    ignoreEos: true,
    minTokens: false,
    temperature: 0,
    idleTimeoutS: opts.idleTimeoutS ?? 10,
    clock,
  });
  const record = new RequestRecord(0, clock.now(), 10, false);
  const done = new Promise<RequestRecord>((resolve) => backend.send({ prompt: 'hi', maxTokens: 3, promptTokens: 1 }, record, resolve));
  const r = await done;
  await backend.close();
  return r;
}

describe('OpenAIBackend streaming', () => {
  it('takes the role-only chunk as first chunk, not first token, and reads usage from the empty-choices chunk', async () => {
    const r = await send(async (_q, res) => {
      sseHead(res);
      res.write(roleChunk());
      await sleep(200);
      res.write(tokenChunk(' a'));
      await sleep(20);
      res.write(tokenChunk(' b') + tokenChunk(' c', 'length'));
      res.write(usageChunk(7, 3));
      res.end(DONE);
    });
    expect(r.ok).toBe(true);
    expect(r.errorClass).toBeNull();
    expect(r.httpStatus).toBe(200);
    // the role chunk is the first chunk, not the first token (bound well below the 200 ms apart,
    // so a loaded machine that delays the first read cannot fail it)
    expect(r.firstTokenUs - r.firstChunkUs).toBeGreaterThan(100_000);
    expect(r.chunkUs).toHaveLength(3);
    expect(r.chunkUs[0]).toBe(r.firstTokenUs);
    // the last two tokens arrived in one write: one arrival time
    expect(r.chunkUs[2]).toBe(r.chunkUs[1]);
    expect(r.outputTokensUsage).toBe(3);
    expect(r.promptTokensUsage).toBe(7);
    expect(r.finishReason).toBe('length');
    expect(r.sentUs).toBeLessThanOrEqual(r.headersUs);
    expect(r.headersUs).toBeLessThanOrEqual(r.firstChunkUs);
    expect(r.endUs).toBeGreaterThanOrEqual(r.chunkUs[2]!);
  });

  it('stamps bytes when they arrive even if an event is split across TCP writes', async () => {
    const r = await send(async (_q, res) => {
      sseHead(res);
      const c = tokenChunk(' x');
      res.write(c.slice(0, 10));
      await sleep(250);
      res.write(c.slice(10));
      res.write(tokenChunk(' y', 'stop'));
      res.end(DONE);
    });
    expect(r.ok).toBe(true);
    expect(r.chunkUs).toHaveLength(2);
    // the token is complete only with the second write: stamped then, not at the first bytes
    expect(r.firstTokenUs - r.headersUs).toBeGreaterThan(125_000);
  });

  it('sends the request body OpenAI servers expect, with the key as a bearer token', async () => {
    await send(
      (_q, res) => {
        sseHead(res);
        res.end(tokenChunk('a', 'stop') + DONE);
      },
      { apiKey: 'sk-secret-123' },
    );
    const req = server.requests[server.requests.length - 1]!;
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-secret-123');
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({ model: 'm', stream: true, stream_options: { include_usage: true }, max_tokens: 3, ignore_eos: true });
    expect(body.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('reads completions-style `text` chunks from /v1/completions', async () => {
    const r = await send(
      (_q, res) => {
        sseHead(res);
        res.write('data: {"choices":[{"index":0,"text":" a","finish_reason":null}]}\n\n');
        res.end('data: {"choices":[{"index":0,"text":" b","finish_reason":"length"}]}\n\n' + DONE);
      },
      { endpoint: 'completions' },
    );
    expect(server.requests[server.requests.length - 1]!.url).toBe('/v1/completions');
    expect(r.ok).toBe(true);
    expect(r.chunkUs).toHaveLength(2);
    expect(r.outputTokensUsage).toBeNull();
    expect(r.outputTokens).toBe(2);
  });

  it('counts reasoning_content as tokens', async () => {
    const r = await send((_q, res) => {
      sseHead(res);
      res.end('data: {"choices":[{"delta":{"reasoning_content":"think"}}]}\n\n' + tokenChunk('a', 'stop') + DONE);
    });
    expect(r.chunkUs).toHaveLength(2);
  });

  it('tolerates keep-alive comments and CRLF framing', async () => {
    const r = await send((_q, res) => {
      sseHead(res);
      res.write(': ping\r\n\r\n');
      res.write(tokenChunk('a').replace(/\n/g, '\r\n'));
      res.end(': ping\n\n' + tokenChunk('b', 'stop') + DONE);
    });
    expect(r.ok).toBe(true);
    expect(r.chunkUs).toHaveLength(2);
  });

  it('fails an HTTP-200 stream that carries an error event (never an empty success)', async () => {
    const r = await send((_q, res) => {
      sseHead(res);
      res.write(roleChunk() + tokenChunk('a'));
      res.write('data: {"error":{"message":"CUDA out of memory","type":"InternalServerError","code":500}}\n\n');
      res.end(DONE);
    });
    expect(r.ok).toBe(false);
    expect(r.errorClass).toBe('stream_error');
    expect(r.errorMessage).toContain('CUDA out of memory');
  });

  it('fails a llama.cpp-style `error:` field as a stream error', async () => {
    const r = await send((_q, res) => {
      sseHead(res);
      res.end('error: {"code":500,"message":"context full","type":"server_error"}\n\n');
    });
    expect(r.errorClass).toBe('stream_error');
    expect(r.errorMessage).toBe('context full');
  });

  it('fails a stream that ends without [DONE] or a finish reason as truncated', async () => {
    const r = await send((_q, res) => {
      sseHead(res);
      res.end(roleChunk() + tokenChunk('a'));
    });
    expect(r.ok).toBe(false);
    expect(r.errorClass).toBe('truncated');
    expect(r.chunkUs).toHaveLength(1);
  });

  it('ends a request at [DONE] even when the server keeps the response open', async () => {
    const t0 = Date.now();
    const r = await send(
      (_q, res) => {
        sseHead(res);
        res.write(tokenChunk('a', 'stop') + DONE);
        // and never ends the response
      },
      { idleTimeoutS: 5 },
    );
    expect(r.ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('accepts a stream with a finish reason but no [DONE]', async () => {
    const r = await send((_q, res) => {
      sseHead(res);
      res.end(tokenChunk('a', 'stop'));
    });
    expect(r.ok).toBe(true);
  });

  it('classifies HTTP 429, 4xx and 5xx with the server\'s message', async () => {
    const mk = (status: number): Script => (_q, res) => {
      res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { message: `status ${status}`, type: 'x' } }));
    };
    const r429 = await send(mk(429));
    expect([r429.errorClass, r429.httpStatus, r429.errorMessage]).toEqual(['http_429', 429, 'HTTP 429: status 429']);
    expect((await send(mk(400))).errorClass).toBe('http_4xx');
    expect((await send(mk(503))).errorClass).toBe('http_5xx');
  });

  it('classifies a connection closed mid-stream as truncated, and one reset mid-stream as reset', async () => {
    // destroy() with nothing unread sends a FIN: the stream was cut, not reset
    const closed = await send(async (_q, res) => {
      sseHead(res);
      res.write(tokenChunk('a'));
      await sleep(20);
      res.socket?.destroy();
    });
    expect(closed.ok).toBe(false);
    expect(closed.errorClass).toBe('truncated');
    expect(closed.chunkUs).toHaveLength(1);
    const reset = await send(async (_q, res) => {
      sseHead(res);
      res.write(tokenChunk('a'));
      await sleep(20);
      res.socket?.resetAndDestroy();
    });
    expect(reset.errorClass).toBe('reset');
    expect(reset.chunkUs).toHaveLength(1);
  });

  it('times out a stalled stream with the idle deadline', async () => {
    const r = await send(
      (_q, res) => {
        sseHead(res);
        res.write(tokenChunk('a'));
        // then nothing
      },
      { idleTimeoutS: 0.3 },
    );
    expect(r.errorClass).toBe('timeout');
  });

  it('fails a 200 that is not an event stream as an invalid response', async () => {
    const r = await send((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices":[{"message":{"content":"hi"}}]}');
    });
    expect(r.errorClass).toBe('invalid_response');
  });

  it('fails an event that is not JSON as an invalid response', async () => {
    const r = await send((_q, res) => {
      sseHead(res);
      res.end('data: {not json\n\n' + DONE);
    });
    expect(r.errorClass).toBe('invalid_response');
  });

  it('classifies a refused connection as connect', async () => {
    const backend = new OpenAIBackend({
      baseUrl: 'http://127.0.0.1:1/v1',
      model: 'm',
      endpoint: 'chat',
      ignoreEos: false,
      minTokens: false,
      temperature: 0,
      idleTimeoutS: 5,
      clock,
    });
    const record = new RequestRecord(0, clock.now(), 1, false);
    const r = await new Promise<RequestRecord>((resolve) => backend.send({ prompt: 'x', maxTokens: 1, promptTokens: 1 }, record, resolve));
    await backend.close();
    expect(r.errorClass).toBe('connect');
  });

  it('never puts the API key into an error message', async () => {
    const r = await send(
      (_q, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad key sk-secret-123 for you' } }));
      },
      { apiKey: 'sk-secret-123' },
    );
    expect(r.errorClass).toBe('http_4xx');
    expect(r.errorMessage).not.toContain('sk-secret-123');
    expect(r.errorMessage).toContain('***');
  });
});
