// How the client classifies a response that ends early, over real loopback sockets written byte
// by byte (node:net): a stream the server closes (FIN) after it had started is `truncated`,
// however the body was framed; a connection reset (RST) is `reset`, as is a close before any
// response byte; a response that breaks HTTP (a header block over the limit, a bad chunk size,
// an interim response nobody asked for) is `invalid_response`; a cut error body keeps its status class.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenAIBackend, type OpenAIBackendOptions } from '../../../src/backend/openai/client.js';
import { runClock } from '../../../src/core/clock.js';
import { RequestRecord } from '../../../src/core/record.js';
import { httpChunk, rawSseHead, sleep, startRawServer, tokenChunk, type RawConnection, type RawServer } from '../../helpers/scripted-server.js';
import { clientOptions } from '../../helpers/backend.js';

const clock = runClock();
let server: RawServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

/** One request against a raw server running `script`; resolves with the finished record. */
/** The transport under test: every ending is checked over the native client and over undici. */
let transport: 'native' | 'undici' = 'native';

async function send(script: (c: RawConnection) => void | Promise<void>, over: Partial<OpenAIBackendOptions> = {}): Promise<RequestRecord> {
  server = await startRawServer(script);
  const backend = new OpenAIBackend(clientOptions(server.baseUrl, clock, { transport, ...over }));
  const record = new RequestRecord(0, clock.now(), 10, false);
  const r = await new Promise<RequestRecord>((resolve) => backend.send({ prompt: 'hi', maxTokens: 3, promptTokens: 1 }, record, resolve));
  await backend.close();
  return r;
}

const threeChunks = tokenChunk('a') + tokenChunk('b') + tokenChunk('c');

for (const t of ['native', 'undici'] as const) {
  describe(`over the ${t} transport`, () => {
    beforeEach(() => {
      transport = t;
    });

    describe('a response the server cuts short', () => {
      it('is truncated when a chunked keep-alive stream ends with a FIN after three chunks (no last chunk, no [DONE])', async () => {
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead('transfer-encoding: chunked') + httpChunk(threeChunks));
          await sleep(20);
          socket.end();
        });
        expect(r.ok).toBe(false);
        expect(r.errorClass).toBe('truncated');
        expect(r.chunkUs).toHaveLength(3);
        expect(r.errorMessage).toMatch(/closed the connection after 3 content chunks .*without \[DONE\] or a finish_reason/);
      });

      it('is truncated when the server destroys the socket without the terminating 0-chunk', async () => {
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead('transfer-encoding: chunked') + httpChunk(tokenChunk('a')) + httpChunk(tokenChunk('b') + tokenChunk('c')));
          await sleep(20);
          // destroy() with nothing unread sends a FIN, not a reset
          socket.destroy();
        });
        expect(r.errorClass).toBe('truncated');
        expect(r.chunkUs).toHaveLength(3);
      });

      it('is truncated when the body is shorter than its Content-Length', async () => {
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead(`content-length: ${threeChunks.length + 500}`) + threeChunks);
          await sleep(20);
          socket.end();
        });
        expect(r.errorClass).toBe('truncated');
        expect(r.chunkUs).toHaveLength(3);
      });

      it('is truncated when a Connection: close body without framing simply ends', async () => {
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead('connection: close') + threeChunks);
          await sleep(20);
          socket.end();
        });
        expect(r.errorClass).toBe('truncated');
        expect(r.errorMessage).toMatch(/after 3 content chunks/);
      });

      it('is truncated when the connection closes after the headers, before any body byte', async () => {
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead('transfer-encoding: chunked'));
          await sleep(20);
          socket.end();
        });
        expect(r.errorClass).toBe('truncated');
        expect(r.chunkUs).toHaveLength(0);
      });

      it('is truncated when the connection closes in the middle of the header block', async () => {
        const r = await send(async ({ socket }) => {
          socket.write('HTTP/1.1 200 OK\r\ncontent-ty');
          await sleep(20);
          socket.end();
        });
        expect(r.errorClass).toBe('truncated');
        expect(r.errorMessage).toMatch(/inside the response headers/);
      });

      it('is truncated when the connection closes in the middle of an event, not invalid_response', async () => {
        const cut = tokenChunk('d').slice(0, 40);
        const framings: [string, (body: string) => string][] = [
          ['chunked', (body) => rawSseHead('transfer-encoding: chunked') + httpChunk(body)],
          ['unframed', (body) => rawSseHead('connection: close') + body],
        ];
        for (const [framing, frame] of framings) {
          const r = await send(async ({ socket }) => {
            socket.write(frame(threeChunks + cut));
            await sleep(20);
            socket.end();
          });
          await server!.close();
          server = null;
          expect([framing, r.errorClass]).toEqual([framing, 'truncated']);
          expect(r.chunkUs).toHaveLength(3);
        }
      });

      it('succeeds when the connection closes after a finish reason, as when the body ends there', async () => {
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead('transfer-encoding: chunked') + httpChunk(tokenChunk('a') + tokenChunk('b', 'stop')));
          await sleep(20);
          socket.end();
        });
        expect(r.ok).toBe(true);
        expect(r.finishReason).toBe('stop');
      });

      it('is reset when a keep-alive stream is reset (RST) after three chunks', async () => {
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead('transfer-encoding: chunked') + httpChunk(threeChunks));
          await sleep(20);
          socket.resetAndDestroy();
        });
        expect(r.errorClass).toBe('reset');
        expect(r.chunkUs).toHaveLength(3);
        expect(r.errorMessage).toMatch(/ECONNRESET/);
        expect(r.errorMessage).toMatch(/after 3 content chunks/);
      });

      it('is truncated, not reset, when the RST ends a Connection: close response (undici reads it as the body\'s end)', async () => {
        // undici (client-h1.js onHttpSocketError) turns an ECONNRESET on a response that will not be
        // kept alive into the end of its body, so the reset cannot be seen: the chunked body then
        // ends without its last chunk. Pinned so that a change in undici shows here.
        const r = await send(async ({ socket }) => {
          socket.write(rawSseHead('connection: close', 'transfer-encoding: chunked') + httpChunk(threeChunks));
          await sleep(20);
          socket.resetAndDestroy();
        });
        expect(r.errorClass).toBe('truncated');
      });

      it('is reset when the connection is reset before any response byte', async () => {
        const r = await send(async ({ socket }) => {
          await sleep(20);
          socket.resetAndDestroy();
        });
        expect(r.errorClass).toBe('reset');
        expect(r.errorMessage).toMatch(/ECONNRESET/);
      });

      it('is reset when the connection is closed before any response byte', async () => {
        const r = await send(async ({ socket }) => {
          await sleep(20);
          socket.end();
        });
        expect(r.errorClass).toBe('reset');
        expect(r.errorMessage).toMatch(/before any response byte/);
      });

      it('keeps the status class of an error response whose body is cut short', async () => {
        const body = JSON.stringify({ error: { message: 'overloaded' } });
        const r = await send(async ({ socket }) => {
          socket.write(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${body.length + 100}\r\n\r\n${body}`);
          await sleep(20);
          socket.end();
        });
        expect(r.errorClass).toBe('http_5xx');
        expect(r.httpStatus).toBe(503);
        expect(r.errorMessage).toMatch(/HTTP 503/);
        expect(r.errorMessage).toMatch(/overloaded/);
      });
    });

    describe('a response that breaks HTTP', () => {
      it('is invalid_response when its header block exceeds the 64 KiB limit, named in the message', async () => {
        const r = await send(({ socket }) => {
          // and never ends: only the client can close this connection
          socket.write(rawSseHead(`x-big: ${'a'.repeat(200_000)}`));
        });
        expect(r.errorClass).toBe('invalid_response');
        expect(r.errorMessage).toBe("the response headers exceeded 64 KiB (the client's maxHeaderSize)");
        const closed = await Promise.race([server!.connections[0]!.closed.then(() => true), sleep(5_000).then(() => false)]);
        expect(closed).toBe(true);
      });

      it('accepts a header block just under 64 KiB', async () => {
        const r = await send(({ socket }) => {
          socket.end(rawSseHead(`x-big: ${'a'.repeat(60_000)}`, 'connection: close') + tokenChunk('a', 'stop'));
        });
        expect(r.ok).toBe(true);
      });

      it('is invalid_response when a chunk size is not hexadecimal', async () => {
        const r = await send(({ socket }) => {
          socket.write(rawSseHead('transfer-encoding: chunked') + 'zz\r\nhello\r\n');
        });
        expect(r.errorClass).toBe('invalid_response');
      });

      it('is invalid_response when the status line is not HTTP', async () => {
        const r = await send(({ socket }) => {
          socket.write('SMTP ready\r\n\r\n');
        });
        expect(r.errorClass).toBe('invalid_response');
      });

      // undici ends these with its "bad response" / "bad upgrade" socket error, which read as a
      // response cut inside its headers (truncated)
      it('is invalid_response when the server answers a plain POST with 100 Continue or 101 Switching Protocols', async () => {
        for (const interim of ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n']) {
          const r = await send(({ socket }) => {
            socket.write(interim + rawSseHead('transfer-encoding: chunked'));
          });
          expect(r.errorClass).toBe('invalid_response');
          expect(r.errorMessage).toMatch(/^the server answered with an interim or upgrade response/);
        }
      });
    });

    describe('a request the run cuts before undici has started it', () => {
      // Found on a loaded CI machine: a graceful stop of 0 s cut a request still connecting; its
      // abort waited for the start, the pool was destroyed first, and the request came back as a
      // `connect` failure ("The client is destroyed"), a failure the server never had a chance to cause.
      it('ends at once with the class the run gave it, however the pool ends after', async () => {
        server = await startRawServer(async ({ socket }) => {
          socket.write(rawSseHead('transfer-encoding: chunked') + httpChunk(threeChunks));
        });
        const backend = new OpenAIBackend(clientOptions(server.baseUrl, clock, { transport }));
        const record = new RequestRecord(0, clock.now(), 10, false);
        const ended = new Promise<RequestRecord>((resolve) => {
          // no preconnect: the request waits for a connection, so its start has not come yet
          const handle = backend.send({ prompt: 'hi', maxTokens: 3, promptTokens: 1 }, record, resolve);
          handle.abort('aborted', 'cut by the test');
        });
        await backend.close();
        const r = await ended;
        expect([r.ok, r.errorClass, r.errorMessage]).toEqual([false, 'aborted', 'cut by the test']);
        expect(Number.isNaN(r.sentUs)).toBe(true);
      });

      it('is aborted on the wire once undici starts it, and the record is left as it ended', async () => {
        let connections = 0;
        server = await startRawServer(async ({ socket }) => {
          connections++;
          socket.write(rawSseHead('transfer-encoding: chunked') + httpChunk(threeChunks));
        });
        const backend = new OpenAIBackend(clientOptions(server.baseUrl, clock, { transport }));
        const record = new RequestRecord(0, clock.now(), 10, false);
        const r = await new Promise<RequestRecord>((resolve) => {
          backend.send({ prompt: 'hi', maxTokens: 3, promptTokens: 1 }, record, resolve).abort('unfinished', 'cut');
        });
        await sleep(100);
        await backend.close();
        expect([r.errorClass, r.chunkUs.length]).toEqual(['unfinished', 0]);
        expect(Number.isNaN(r.sentUs)).toBe(true);
        expect(connections).toBeLessThanOrEqual(1);
      });
    });
  });
}
