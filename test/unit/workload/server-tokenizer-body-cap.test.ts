// `workload.tokenizer: server` reads the tokenize endpoint's answers whole (res.body.text()), bounded
// only by the 30 s call timeout: an endpoint that streams an endless body is read into memory
// until then (7.9 GB peak RSS in 25 s on loopback). Every read outside the stream is capped as
// the scraper's are (8 MiB): this failed before the tokenize answers were.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/core/errors.js';
import { loadTokenizer } from '../../../src/workload/tokenizer.js';

let server: Server | undefined;
afterAll(() => server?.closeAllConnections());

describe('the tokenize endpoint answering an endless body', () => {
  it('is cut at a bound and refused with 104 within seconds, not read for 30 s', async () => {
    let sent = 0;
    server = createServer((req, res) => {
      if (!req.url?.includes('/tokenize')) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"count": 1, "pad": "');
      const chunk = Buffer.alloc(1 << 16, 0x61);
      const write = (): void => {
        while (!res.destroyed && sent < 2 ** 31 && res.write(chunk)) sent += chunk.length;
      };
      res.on('drain', write);
      write();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const t0 = Date.now();
    let err: unknown;
    try {
      await loadTokenizer('server', 'chat', { baseUrl: url, model: 'm', authorization: null });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInputError);
    // what the client took before it gave up: a bounded body (say 8 MiB, plus what was in flight)
    expect(sent).toBeLessThan(256 * 2 ** 20);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 40_000);
});
