// The native HTTP/1.1 transport (src/backend/openai/h1.ts) over real loopback sockets: framing
// decoded exactly however the bytes are cut, chunks of one read handed over as one call,
// keep-alive reuse and its limits, timeouts, and the request it writes.
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttp1Server, type Http1Server } from '../../helpers/http1-server.js';
import { H1Pool, type H1Handler, type H1Options } from '../../../src/backend/openai/h1.js';

const OPTS: H1Options = { headersTimeoutMs: 5000, bodyTimeoutMs: 5000, keepAliveTimeoutMs: 60_000, maxHeaderSize: 64 * 1024 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Exchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** every onResponseData call's bytes, copied */
  data: Buffer[];
  started: boolean;
  error: (Error & { code?: string }) | null;
  ended: boolean;
}

type Served = Http1Server;

let servers: Server[] = [];
let pools: H1Pool[] = [];
afterEach(async () => {
  for (const p of pools) await p.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  pools = [];
  servers = [];
});

async function serve(answer: (n: number, socket: Socket, request: string) => unknown, host = '127.0.0.1'): Promise<Served> {
  const served = await startHttp1Server(answer, { host, utf8: true });
  servers.push(served.server);
  return served;
}

function pool(url: string, opts: Partial<H1Options> = {}): H1Pool {
  const p = new H1Pool(url, { ...OPTS, ...opts });
  pools.push(p);
  return p;
}

function exchange(p: H1Pool, body = '{"x":1}', headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Exchange> {
  return new Promise((resolve) => {
    const ex: Exchange = { status: 0, headers: {}, data: [], started: false, error: null, ended: false };
    const handler: H1Handler = {
      onResponseStarted: () => {
        ex.started = true;
      },
      onResponseStart: (_c, status, h) => {
        ex.status = status;
        ex.headers = h;
      },
      onResponseData: (_c, chunk) => {
        ex.data.push(Buffer.from(chunk));
      },
      onResponseEnd: () => {
        ex.ended = true;
        resolve(ex);
      },
      onResponseError: (_c, err) => {
        ex.error = err;
        resolve(ex);
      },
    };
    p.dispatch({ method: 'POST', path: '/v1/chat/completions', headers, body }, handler);
  });
}

const text = (ex: Exchange): string => Buffer.concat(ex.data).toString('utf8');
const chunked = (...parts: string[]): string => parts.map((d) => `${Buffer.byteLength(d).toString(16)}\r\n${d}\r\n`).join('') + '0\r\n\r\n';
const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n';

describe('the native HTTP/1.1 transport', () => {
  it('writes one request with its host, length and headers, the body as UTF-8', async () => {
    const s = await serve((_n, socket) => socket.write(HEAD + chunked('ok')));
    const p = pool(s.url);
    const ex = await exchange(p, '{"prompt":"héllo ☃"}', { authorization: 'Bearer k', 'content-type': 'application/json' });
    expect(ex.error).toBeNull();
    const req = s.requests[0]!;
    const port = new URL(s.url).port;
    expect(req.startsWith('POST /v1/chat/completions HTTP/1.1\r\n')).toBe(true);
    expect(req).toContain(`\r\nhost: 127.0.0.1:${port}\r\n`);
    expect(req).toContain('\r\nauthorization: Bearer k\r\n');
    expect(req).toContain(`\r\ncontent-length: ${Buffer.byteLength('{"prompt":"héllo ☃"}')}\r\n`);
    expect(req.endsWith('\r\n\r\n{"prompt":"héllo ☃"}')).toBe(true);
  });

  it('sends a host the user gave instead of its own, and keeps the framing headers its own', () => {
    const p = pool('http://127.0.0.1:9');
    const head = p.head({ method: 'POST', path: '/v1/x', headers: { Host: 'api.example', 'Content-Length': '1', connection: 'close' }, body: 'abc' });
    expect(head).toBe('POST /v1/x HTTP/1.1\r\nconnection: keep-alive\r\nHost: api.example\r\ncontent-length: 3\r\n\r\n');
  });

  it('refuses a header value with a line break (no request smuggling)', () => {
    const p = pool('http://127.0.0.1:9');
    expect(() => p.head({ method: 'POST', path: '/', headers: { 'x-a': 'v\r\nx-b: 1' } })).toThrow(/line break/);
  });

  it('decodes chunked framing cut at every byte, and trailers', async () => {
    const body = chunked('data: {"a":"1"}\n\n', 'data: {"b":"22"}\n\n', 'data: [DONE]\n\n').replace(/0\r\n\r\n$/, '0;ext=1\r\nx-trailer: t\r\n\r\n');
    const wire = HEAD + body;
    const want = 'data: {"a":"1"}\n\ndata: {"b":"22"}\n\ndata: [DONE]\n\n';
    const s = await serve(async (_n, socket) => {
      // one byte per write, each after the last has been read
      for (const ch of wire) {
        socket.write(ch);
        await sleep(1);
      }
    });
    const p = pool(s.url);
    const ex = await exchange(p);
    expect(ex.error).toBeNull();
    expect(text(ex)).toBe(want);
    expect(ex.status).toBe(200);
  });

  it('hands every chunk of one read to the handler as one call', async () => {
    const parts = Array.from({ length: 50 }, (_, i) => `data: {"i":${i}}\n\n`);
    const s = await serve((_n, socket) => socket.write(HEAD + chunked(...parts)));
    const ex = await exchange(pool(s.url));
    expect(text(ex)).toBe(parts.join(''));
    // one write of ~1.3 KB arrives in one read: one call, not 50
    expect(ex.data.length).toBe(1);
  });

  it('reads a Content-Length body, and a body framed by the connection closing', async () => {
    const s = await serve((n, socket) => {
      if (n === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
      else socket.end('HTTP/1.1 200 OK\r\n\r\nto the end');
    });
    const p = pool(s.url);
    const a = await exchange(p);
    const b = await exchange(p);
    expect([text(a), a.error]).toEqual(['hello', null]);
    expect([text(b), b.error, b.ended]).toEqual(['to the end', null, true]);
  });

  it('keeps a connection alive for the next request, and not after Connection: close or HTTP/1.0', async () => {
    const s = await serve((n, socket) => {
      if (n === 2) socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nc');
      else if (n === 4) socket.write('HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nd');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nk');
    });
    const p = pool(s.url);
    for (let i = 0; i < 6; i++) expect((await exchange(p)).error).toBeNull();
    // requests 0-2 on one connection (closed after 2), 3-4 on the next (closed after 4), 5 on a third
    expect(s.connections).toBe(3);
  });

  it('opens a new connection when the server closed an idle one', async () => {
    const s = await serve((_n, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nk', () => setTimeout(() => socket.end(), 10)));
    const p = pool(s.url);
    expect((await exchange(p)).error).toBeNull();
    await sleep(60);
    expect((await exchange(p)).error).toBeNull();
    expect(s.connections).toBe(2);
  });

  it('does not reuse a connection that brought bytes after its response', async () => {
    const s = await serve((_n, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nkGARBAGE'));
    const p = pool(s.url);
    expect((await exchange(p)).error).toBeNull();
    expect((await exchange(p)).error).toBeNull();
    expect(s.connections).toBe(2);
  });

  it('times out a response whose headers do not come, and a body that stalls', async () => {
    const s = await serve((n, socket) => {
      if (n === 1) socket.write(HEAD + chunked('x').slice(0, -5));
    });
    const p = pool(s.url, { headersTimeoutMs: 200, bodyTimeoutMs: 200 });
    const a = await exchange(p);
    const b = await exchange(p);
    expect(a.error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(b.error?.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(text(b)).toBe('x');
  });

  it('fails a refused connection with its system code', async () => {
    const s = await serve(() => undefined);
    const url = s.url;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const ex = await exchange(pool(url));
    expect(ex.error?.code).toBe('ECONNREFUSED');
    expect(ex.started).toBe(false);
  });

  it('fails every exchange in flight when destroyed, and any dispatched after', async () => {
    const s = await serve(() => undefined);
    const p = pool(s.url);
    const pending = exchange(p);
    await sleep(50);
    await p.destroy();
    expect((await pending).error?.code).toBe('UND_ERR_DESTROYED');
    expect((await exchange(p)).error?.code).toBe('UND_ERR_DESTROYED');
  });

  it('aborts an exchange on the wire and closes its connection; one not yet written keeps it', async () => {
    const s = await serve((n, socket) => {
      if (n === 0) socket.write(HEAD + chunked('a').slice(0, -5));
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nk');
    });
    const p = pool(s.url);
    const aborted = await new Promise<Error | null>((resolve) => {
      p.dispatch(
        { method: 'POST', path: '/', headers: {}, body: 'x' },
        {
          onResponseData: (c) => c.abort(new Error('enough')),
          onResponseError: (_c, err) => resolve(err),
          onResponseEnd: () => resolve(null),
        },
      );
    });
    expect(aborted?.message).toBe('enough');
    expect((await exchange(p)).error).toBeNull();
    expect(s.connections).toBe(2);
  });

  it('reads a response whose head ends in bare LFs, and refuses a malformed header line', async () => {
    const s = await serve((n, socket) => {
      if (n === 0) socket.write('HTTP/1.1 200 OK\ncontent-length: 2\n\nok');
      else socket.write('HTTP/1.1 200 OK\r\nbad header\r\n\r\n');
    });
    const p = pool(s.url);
    const a = await exchange(p);
    expect([text(a), a.error]).toEqual(['ok', null]);
    const b = await exchange(p);
    expect(b.error?.name).toBe('HTTPParserError');
  });

  it('keeps every value of a repeated header', async () => {
    const s = await serve((_n, socket) => socket.write('HTTP/1.1 200 OK\r\nx-a: 1\r\nX-A: 2\r\ncontent-length: 0\r\n\r\n'));
    const ex = await exchange(pool(s.url));
    expect(ex.headers['x-a']).toEqual(['1', '2']);
  });

  it('connects to an IPv6 loopback target', async () => {
    let s: Served;
    try {
      s = await serve((_n, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nv6'), '::1');
    } catch {
      return; // no IPv6 on this machine
    }
    const ex = await exchange(pool(s.url));
    expect([text(ex), ex.error]).toEqual(['v6', null]);
  });
});
