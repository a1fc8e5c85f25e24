// The first request of a run goes out on the connection the run opened for it before the clock
// started. It once opened a new one: undici's pool still held the preconnected connection busy,
// because the warm-up's end had not been handled yet (the synchronous work before the clock kept
// the event loop from its I/O phase), and the connect landed in the first send's schedule lag
// (4-8 ms of the smoke run, enough to flag the run as suspect).
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));

const seen: { method: string; url: string; socket: number }[] = [];
const ids = new WeakMap<Socket, number>();
let sockets = 0;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', socket: ids.get(req.socket) ?? -1 });
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"object":"list","data":[{"id":"m","object":"model"}]}');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404);
      res.end();
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n');
      res.end('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1}}\n\ndata: [DONE]\n\n');
    });
  });
  server.on('connection', (s: Socket) => ids.set(s, sockets++));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('the first request', () => {
  it('goes out on the preconnected connection, not a new one', async () => {
    const out = mkdtempSync(join(tmpdir(), 'inferload-first-'));
    const child = spawn(process.execPath, [BIN, 'run', 'smoke', '--target', base, '--model', 'm', '--requests', '3', '--quiet', '--out', out], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([0, 99]).toContain(code);
    const firstPost = seen.findIndex((s) => s.method === 'POST');
    expect(firstPost).toBeGreaterThan(0);
    // the warm-up GET of /models just before it opened the connection the first POST uses
    const warm = seen.slice(0, firstPost).filter((s) => s.method === 'GET' && s.url === '/v1/models').at(-1);
    expect(warm).toBeDefined();
    expect(seen[firstPost]!.socket).toBe(warm!.socket);
    // and every request of this one-at-a-time load went on that one connection
    expect(new Set(seen.filter((s) => s.method === 'POST').map((s) => s.socket)).size).toBe(1);
  }, 30_000);
});
