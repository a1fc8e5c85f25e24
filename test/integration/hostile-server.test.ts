// The client against servers that try to make it hold unbounded bytes, over real loopback
// sockets: an SSE line that never ends, an event that never gets its blank line, a body that is
// not a stream and never ends (2xx and 5xx), endless tiny events (each one a stamp to keep), a
// compressed stream. Each must fail fast with its class, the limit named in the message, and
// the connection closed by the client (the server never ends these responses, so only the
// client can close them). The same through the worker-thread backend, which runs the same
// client (needs `npm run build` first, like worker-pool.test.ts).
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_EVENT_BYTES, OpenAIBackend, type OpenAIBackendOptions } from '../../src/backend/openai/client.js';
import { WorkerPoolBackend } from '../../src/backend/worker/pool.js';
import type { Backend } from '../../src/backend/types.js';
import { runClock } from '../../src/core/clock.js';
import { RequestRecord } from '../../src/core/record.js';
import { httpChunk, rawSseHead, startRawServer, tokenChunk, type RawConnection, type RawServer } from '../helpers/scripted-server.js';
import { clientOptions } from '../helpers/backend.js';

const clock = runClock();
const KiB = 1024;
const MiB = 1024 * KiB;
/** the limit these tests set: small, so that a few MiB from the server are many times over it */
const LIMIT = 64 * KiB;
/**
 * The idle timeout: longer than any of these requests may take (the time checks below are
 * shorter), so it cannot be what ends them; short enough that a client without the limit fails
 * the test by timing out well inside vitest's 30 s.
 */
const IDLE_S = 8;

let server: RawServer | null = null;
const backends: Backend[] = [];

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await server?.close();
  server = null;
});

const baseOptions = (baseUrl: string): OpenAIBackendOptions => clientOptions(baseUrl, clock, { idleTimeoutS: IDLE_S });

/**
 * Writes `piece` over and over, as fast as the client reads, until `total` bytes or until the
 * socket closes; never ends the response. Resolves with the bytes written.
 */
async function pump(socket: Socket, piece: string, total: number): Promise<number> {
  let written = 0;
  while (written < total && !socket.destroyed) {
    written += piece.length;
    if (!socket.write(piece)) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }
  return written;
}

/** Resolves true when the connection closes within `ms`, false otherwise. */
async function closedWithin(c: RawConnection, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const closed = await Promise.race([c.closed.then(() => true), timeout]);
  clearTimeout(timer);
  return closed;
}

/** One request through `make(baseUrl)` to a raw server running `script`; the record and its wall time. */
async function send(script: (c: RawConnection) => void | Promise<void>, make: (baseUrl: string) => Backend, maxTokens = 3) {
  server = await startRawServer(script);
  const backend = make(server.baseUrl);
  backends.push(backend);
  const t0 = performance.now();
  const record = new RequestRecord(0, clock.now(), 10, false);
  const r = await new Promise<RequestRecord>((resolve) => backend.send({ prompt: 'hi', maxTokens, promptTokens: 1 }, record, resolve));
  return { r, ms: performance.now() - t0 };
}

const inThread = (maxEventBytes?: number) => (baseUrl: string) => new OpenAIBackend({ ...baseOptions(baseUrl), ...(maxEventBytes !== undefined && { maxEventBytes }) });

/** 200 event stream, chunked: `data: ` and then 16 KiB pieces with no line end, 2 MiB in all */
const endlessLine = (total: number) => async ({ socket }: RawConnection) => {
  socket.write(rawSseHead('transfer-encoding: chunked') + httpChunk('data: {"choices":[{"delta":{"content":"'));
  await pump(socket, httpChunk('x'.repeat(16 * KiB)), total);
};

/** 200 event stream, chunked: `events` one-character content events, 2000 to a write; never ends */
const tinyEvents = (events: number) => async ({ socket }: RawConnection) => {
  socket.write(rawSseHead('transfer-encoding: chunked'));
  const batch = 'data:{"choices":[{"delta":{"content":"a"},"finish_reason":null}]}\n\n'.repeat(2000);
  await pump(socket, httpChunk(batch), (events / 2000) * batch.length);
};

describe('a server that never ends what it sends', () => {
  it('fails an SSE line with no end as invalid_response once it passes maxEventBytes, and closes the connection', async () => {
    const { r, ms } = await send(endlessLine(2 * MiB), inThread(LIMIT));
    expect(r.ok).toBe(false);
    expect(r.errorClass).toBe('invalid_response');
    expect(r.errorMessage).toBe('an SSE event exceeded 64 KiB (maxEventBytes) without a line end');
    // ended by the limit, long before the idle timeout could
    expect(ms).toBeLessThan(5_000);
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });

  it('does the same at the default limit of 4 MiB', async () => {
    expect(DEFAULT_MAX_EVENT_BYTES).toBe(4 * MiB);
    const { r } = await send(endlessLine(16 * MiB), inThread());
    expect(r.errorClass).toBe('invalid_response');
    expect(r.errorMessage).toBe('an SSE event exceeded 4 MiB (maxEventBytes) without a line end');
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });

  it('fails an event whose data lines never meet a blank line', async () => {
    const { r } = await send(async ({ socket }) => {
      socket.write(rawSseHead('transfer-encoding: chunked'));
      await pump(socket, httpChunk(`data: ${'y'.repeat(1000)}\n`.repeat(16)), 2 * MiB);
    }, inThread(LIMIT));
    expect(r.errorClass).toBe('invalid_response');
    expect(r.errorMessage).toBe('an SSE event exceeded 64 KiB (maxEventBytes) without the blank line that ends an event');
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });

  it('fails an endless 200 body that is not an event stream, without reading it all', async () => {
    const { r } = await send(async ({ socket }) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n' + httpChunk('{"choices":['));
      await pump(socket, httpChunk('{"a":1},'.repeat(2 * KiB)), 2 * MiB);
    }, inThread(LIMIT));
    expect(r.errorClass).toBe('invalid_response');
    expect(r.errorMessage).toMatch(/^HTTP 200 without an event stream, cut after 64 KiB \(maxEventBytes\): \{"choices":\[\{"a":1\}/);
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });

  it('fails an endless error body with its status class, without reading it all', async () => {
    const { r } = await send(async ({ socket }) => {
      socket.write('HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ntransfer-encoding: chunked\r\n\r\n');
      await pump(socket, httpChunk('<p>oops</p>'.repeat(1000)), 2 * MiB);
    }, inThread(LIMIT));
    expect(r.errorClass).toBe('http_5xx');
    expect(r.errorMessage).toMatch(/^HTTP 500, cut after 64 KiB \(maxEventBytes\): <p>oops<\/p>/);
    expect(r.errorMessage!.length).toBeLessThanOrEqual(500);
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });

  it('accepts any number of events each under the limit, however large the stream', async () => {
    const big = 48 * KiB;
    const { r } = await send(async ({ socket }) => {
      socket.write(rawSseHead('transfer-encoding: chunked'));
      for (let i = 0; i < 40; i++) await pump(socket, httpChunk(tokenChunk('z'.repeat(big))), 1);
      socket.end(httpChunk(tokenChunk('!', 'stop') + 'data: [DONE]\n\n') + '0\r\n\r\n');
    }, inThread(LIMIT));
    expect(r.ok).toBe(true);
    expect(r.chunkUs).toHaveLength(41);
    expect(r.chunkChars.slice(0, 40).every((c) => c === big)).toBe(true);
  });

  it('rejects a maxEventBytes that is not a positive integer, naming the option', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => inThread(bad)('http://127.0.0.1:1/v1')).toThrow(/maxEventBytes/);
    }
  });

  it('fails endless tiny events past max(4096, 8 × max_tokens) content chunks, and closes the connection', async () => {
    // 20 M of these once held 1.07 GB of chunk stamps; here the server would send 1 M (66 MB)
    // and never end the stream, so without the bound the request ends by the idle timeout
    for (const [maxTokens, limit] of [[3, 4096], [1000, 8000]] as const) {
      const { r, ms } = await send(tinyEvents(1_000_000), inThread(), maxTokens);
      expect(r.errorClass).toBe('invalid_response');
      expect(r.errorMessage).toBe(
        `the stream went past ${limit} content chunks, for max_tokens ${maxTokens} (a chunk carries at least one token; the client takes at most max(4096, 8 × max_tokens))`,
      );
      expect(r.chunkUs).toHaveLength(limit);
      expect(r.chunkChars).toHaveLength(limit);
      expect(ms).toBeLessThan(5_000);
      expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
      await server!.close();
    }
  });

  it('fails a compressed event stream as invalid_response, naming the encoding, without reading it', async () => {
    const { r } = await send(async ({ socket }) => {
      socket.write(rawSseHead('content-encoding: gzip', 'transfer-encoding: chunked') + httpChunk(gzipSync(tokenChunk('a')).toString('latin1')));
      await pump(socket, httpChunk('z'.repeat(16 * KiB)), 2 * MiB);
    }, inThread());
    expect(r.errorClass).toBe('invalid_response');
    expect(r.errorMessage).toMatch(/^the event stream is compressed \(content-encoding: gzip\), though the client asked for identity/);
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });

  it('bounds the tiny events the same way through the worker-thread backend', async () => {
    const { r } = await send(tinyEvents(1_000_000), (baseUrl) => new WorkerPoolBackend({ ...baseOptions(baseUrl), workers: 2 }));
    expect(r.errorClass).toBe('invalid_response');
    expect(r.chunkUs).toHaveLength(4096);
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });

  it('fails the endless line the same way through the worker-thread backend', async () => {
    const { r } = await send(endlessLine(2 * MiB), (baseUrl) => new WorkerPoolBackend({ ...baseOptions(baseUrl), maxEventBytes: LIMIT, workers: 2 }));
    expect(r.errorClass).toBe('invalid_response');
    expect(r.errorMessage).toBe('an SSE event exceeded 64 KiB (maxEventBytes) without a line end');
    expect(await closedWithin(server!.connections[0]!, 5_000)).toBe(true);
  });
});
