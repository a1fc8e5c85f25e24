// The API key never reaches an output, even when a message is cut to length right inside it; nor
// do the user, password and query of the target URL (parseTarget).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSecrets, oneLineRedacted, parseTarget, redactSecret } from '../../../src/core/secret.js';
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

  it('takes out several secrets, the longest first, and pieces of each at the ends', () => {
    expect(redactSecret('user alice:pa55word, then pa55word alone', ['pa55word', 'alice:pa55word'])).toBe('user ***, then *** alone');
    expect(redactSecret(`k=${KEY.slice(0, 12)}`, ['other-secret', KEY])).toBe('k=***');
    expect(redactSecret('nothing', [])).toBe('nothing');
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

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('parseTarget', () => {
  it('leaves a URL without credentials or query as it was given', () => {
    for (const raw of ['http://127.0.0.1:8000/v1', 'http://127.0.0.1:8000/v1/', 'https://Example.com/openai/v1']) {
      const t = parseTarget(raw);
      expect(t.display).toBe(raw);
      expect(t.authorization).toBeNull();
      expect(t.query).toBe('');
      expect(t.secrets).toEqual([]);
      expect(t.redact(`GET ${raw}/models`)).toBe(`GET ${raw}/models`);
    }
    expect(parseTarget('http://127.0.0.1:8000/v1/').path).toBe('/v1');
  });

  it('sends the user and password as HTTP Basic (percent-decoded, as curl does) and shows the password as ***', () => {
    const t = parseTarget('http://alice:pa55%40word@10.0.0.1:8000/v1/');
    expect(t.origin).toBe('http://10.0.0.1:8000');
    expect(t.path).toBe('/v1');
    expect(t.authorization).toBe(`Basic ${b64('alice:pa55@word')}`);
    expect(t.display).toBe('http://alice:***@10.0.0.1:8000/v1/');
    expect(t.displayAt('/models')).toBe('http://alice:***@10.0.0.1:8000/v1/models');
    expect(t.secrets).toEqual(expect.arrayContaining([b64('alice:pa55@word'), 'alice:pa55%40word', 'alice:pa55@word', 'pa55%40word', 'pa55@word']));
    expect(t.secrets).not.toContain('alice');
  });

  it('takes a user name given alone for a token: masked, and sent as Basic with an empty password', () => {
    const t = parseTarget('https://tok-0123456789@gw.example/v1');
    expect(t.authorization).toBe(`Basic ${b64('tok-0123456789:')}`);
    expect(t.display).toBe('https://***@gw.example/v1');
    expect(t.redact('token tok-0123456789 refused')).toBe('token *** refused');
  });

  it('keeps the query for the requests and masks every value in what it shows', () => {
    const t = parseTarget('https://res.example/openai/v1?api-version=2024-06-01&key=abc&sk-bare-value#frag');
    expect(t.query).toBe('?api-version=2024-06-01&key=abc&sk-bare-value');
    expect(t.display).toBe('https://res.example/openai/v1?api-version=***&key=***&***');
    expect(t.displayAt('/models')).toBe('https://res.example/openai/v1/models?api-version=***&key=***&***');
    // a value of 4 characters or more goes alone; a shorter one with its name (`abc` would mangle text)
    expect(t.secrets).toEqual(expect.arrayContaining(['key=abc', '2024-06-01', 'sk-bare-value']));
    expect(t.secrets).not.toContain('abc');
    expect(t.redact('api-version 2024-06-01 or key=abc, not abc')).toBe('api-version *** or ***, not abc');
    expect(t.authorization).toBeNull();
  });

  it('redacts the URL as given, the Basic header a server echoes, and each secret in any text', () => {
    const raw = 'http://alice:pa55word@127.0.0.1:9/v1?sig=s1gn4ture';
    const t = parseTarget(raw);
    const text = `404 for ${raw}/models; Authorization: Basic ${b64('alice:pa55word')}; sig s1gn4ture; path /v1/models?sig=s1gn4ture`;
    const out = t.redact(text);
    for (const s of ['pa55word', 's1gn4ture', b64('alice:pa55word')]) expect(out).not.toContain(s);
    expect(out).toContain('http://alice:***@127.0.0.1:9/v1?sig=***/models');
    expect(out).toContain('Authorization: Basic ***');
  });

  it('gives a client the API key and the URL secrets, longest first', () => {
    const secrets = clientSecrets('http://u:pa55word@h/v1?k=v4lue', KEY);
    expect(secrets[0]).toBe(KEY);
    expect(secrets).toEqual([...secrets].sort((a, b) => b.length - a.length));
    expect(secrets).toEqual(expect.arrayContaining(['pa55word', 'v4lue']));
    expect(clientSecrets('http://h/v1', undefined)).toEqual([]);
  });
});
