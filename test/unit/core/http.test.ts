// undici loaded piece by piece (src/core/http.ts): the same classes as the package's index, and
// a request through each piece over a real loopback socket.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, Pool, request } from '../../../src/core/http.js';

let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${req.method} ${req.url} ${req.headers.accept ?? ''}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('undici, piece by piece', () => {
  it("is the package's own Pool and Agent", () => {
    expect(Pool).toBe(undici.Pool);
    expect(Agent).toBe(undici.Agent);
  });

  it('request() GETs a URL with its query and headers, as undici.request does', async () => {
    const res = await request(`${base}/metrics?x=1`, { headers: { accept: 'text/plain' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('GET /metrics?x=1 text/plain');
  });

  it('a Pool streams a response through dispatch', async () => {
    const pool = new Pool(base, { connections: 1 });
    const text = await new Promise<string>((resolve, reject) => {
      let body = '';
      pool.dispatch(
        { method: 'POST', path: '/v1/chat/completions', headers: {}, body: '{}' },
        {
          onRequestStart() {},
          onResponseStart() {},
          onResponseData(_c, chunk) {
            body += chunk.toString();
          },
          onResponseEnd() {
            resolve(body);
          },
          onResponseError(_c, err) {
            reject(err);
          },
        },
      );
    });
    await pool.close();
    expect(text).toBe('POST /v1/chat/completions ');
  });
});
