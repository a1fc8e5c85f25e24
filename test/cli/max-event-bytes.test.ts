// target.maxEventBytes reaches the client: a server whose one SSE line never ends fails the run's
// request as invalid_response, named by the limit, within a second, not after the server's 2 MiB.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));
let server: Server;
let base: string;
let written = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'GET') {
      if (req.url?.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"object":"list","data":[{"id":"endless","object":"model"}]}');
      } else {
        res.writeHead(404);
        res.end();
      }
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"delta":{"content":"');
    // 2 MiB of one line, 64 KiB at a time, unless the client hangs up first
    const piece = 'x'.repeat(65536);
    let n = 0;
    const timer = setInterval(() => {
      if (res.destroyed || n++ >= 32) {
        clearInterval(timer);
        return;
      }
      written += piece.length;
      res.write(piece);
    }, 5);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('target.maxEventBytes', () => {
  it('bounds one SSE event: the request fails as invalid_response and names the limit', async () => {
    const out = mkdtempSync(join(tmpdir(), 'inferload-maxevent-'));
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [BIN, 'run', 'smoke', '--target', `${base}/v1`, '--requests', '1', '--quiet', '--out', out, '--set', 'target.maxEventBytes=131072'],
        { stdio: 'ignore' },
      );
      child.on('close', resolve);
    });
    expect(code).toBe(107); // every request failed: the run is invalid (cli.md), results still written
    const line = JSON.parse(readFileSync(join(out, 'requests.jsonl'), 'utf8').trim()) as Record<string, unknown>;
    expect(line.error_class).toBe('invalid_response');
    expect(String(line.error)).toMatch(/maxEventBytes/);
    expect(written).toBeLessThan(2 * 1024 * 1024);
  }, 30_000);
});
