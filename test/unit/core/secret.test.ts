// The API key never reaches an output, even when a message is cut to length right inside it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineRedacted, redactSecret } from '../../../src/core/secret.js';
import { OpenAIBackend } from '../../../src/backend/openai/client.js';
import { RequestRecord } from '../../../src/core/record.js';
import { runClock } from '../../../src/core/clock.js';
import { clientOptions } from '../../helpers/backend.js';

const KEY = 'sk-test-0123456789abcdefghijklmnopqrstuvwxyzAB'; // 46 characters

/** every piece of 6 or more characters of the key that `text` contains */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 6 <= KEY.length; i++) if (text.includes(KEY.slice(i, i + 6))) found.push(KEY.slice(i, i + 6));
  return found;
}

describe('redactSecret', () => {
  it('takes out whole keys, and pieces of 6+ characters that a cut left at either end', () => {
    expect(redactSecret(`a ${KEY} b ${KEY}`, KEY)).toBe('a *** b ***');
    expect(redactSecret(`Bearer ${KEY.slice(0, 27)}`, KEY)).toBe('Bearer ***');
    expect(redactSecret(`${KEY.slice(-10)} was the end`, KEY)).toBe('*** was the end');
    expect(redactSecret(`ends in ${KEY.slice(0, 5)}`, KEY)).toBe(`ends in ${KEY.slice(0, 5)}`); // too short to matter
    expect(redactSecret('no key here', undefined)).toBe('no key here');
  });

  it('redacts before it cuts: no cut position leaves a piece of the key', () => {
    for (let pad = 400; pad < 500; pad++) {
      const text = `${'x'.repeat(pad)} Authorization: Bearer ${KEY} trailing`;
      const out = oneLineRedacted(text, KEY);
      expect(out.length).toBeLessThanOrEqual(500);
      expect(leaks(out)).toEqual([]);
    }
  });
});

describe('the client', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    // the finding: a 500 whose body is 440 × "x" then the bearer token put 27 of its 46
    // characters into results.json, requests.jsonl and report.html
    server = createServer((req, res) => {
      req.resume();
      if (req.url?.includes('notjson')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${'y'.repeat(170)} ${req.headers.authorization}\n\n`);
        return;
      }
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${'x'.repeat(440)} Authorization: ${req.headers.authorization}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const path of ['/v1', '/notjson/v1']) {
    it(`keeps no piece of the key in the error message (${path})`, async () => {
      const clock = runClock();
      const backend = new OpenAIBackend(clientOptions(`${base}${path}`, clock, { apiKey: KEY }));
      const r = await new Promise<RequestRecord>((resolve) =>
        backend.send({ prompt: 'hi', maxTokens: 3, promptTokens: 1 }, new RequestRecord(0, clock.now(), 1, false), resolve),
      );
      await backend.close();
      expect(r.ok).toBe(false);
      expect(r.errorMessage).toBeTruthy();
      expect(leaks(r.errorMessage!)).toEqual([]);
    });
  }
});
