// What the client takes from the target URL: its user and password go as HTTP Basic
// authorization (the API key wins when both are given), its query goes with every request (the
// completions endpoints and the /models GETs of the warm-up), and none of it comes back in a
// message, however a server echoes it. Scrapes of the target's host carry its credentials. No import of undici's index here: the client's own pieces
// must do everything (a Pool's `request` exists only once something has loaded the index).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../../src/backend/openai/client.js';
import { runClock } from '../../../src/core/clock.js';
import { RequestRecord } from '../../../src/core/record.js';
import { DONE, sseHead, startScriptedServer, tokenChunk, type ScriptedServer } from '../../helpers/scripted-server.js';
import { clientOptions } from '../../helpers/backend.js';
import { fetchExposition, setScrapeCredentials } from '../../../src/scrape/fetch.js';

const clock = runClock();
const USER = 'alice';
const PASSWORD = 'pa55-w0rd!';
const SIG = 's1gnature-0123';
const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
let server: ScriptedServer;
let target: string;

beforeAll(async () => {
  server = await startScriptedServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"data":[{"id":"m"}]}');
      return;
    }
    sseHead(res);
    res.write(tokenChunk('a'));
    res.end(tokenChunk('b', 'stop') + DONE);
  });
  const { host } = new URL(server.baseUrl);
  target = `http://${USER}:${encodeURIComponent(PASSWORD)}@${host}/v1/?api-version=2024-06-01&sig=${SIG}`;
});
afterAll(() => server.close());

async function send(backend: OpenAIBackend): Promise<RequestRecord> {
  const r = await new Promise<RequestRecord>((resolve) =>
    backend.send({ prompt: 'hi', maxTokens: 3, promptTokens: 1 }, new RequestRecord(0, clock.now(), 1, false), resolve),
  );
  return r;
}

describe('the target URL', () => {
  it('sends the user and password as HTTP Basic and the query with every request, the /models warm-up included', async () => {
    for (const endpoint of ['chat', 'completions'] as const) {
      server.requests.length = 0;
      const backend = new OpenAIBackend(clientOptions(target, clock, { endpoint }));
      await backend.preconnect(2);
      const r = await send(backend);
      await backend.close();
      expect(r.ok).toBe(true);
      const path = endpoint === 'chat' ? '/v1/chat/completions' : '/v1/completions';
      expect(server.requests.map((q) => q.url)).toEqual([
        `/v1/models?api-version=2024-06-01&sig=${SIG}`,
        `/v1/models?api-version=2024-06-01&sig=${SIG}`,
        `${path}?api-version=2024-06-01&sig=${SIG}`,
      ]);
      for (const q of server.requests) expect(q.headers.authorization).toBe(basic);
      // the stream is read as it arrives: nothing may compress it
      expect(server.requests[2]!.headers['accept-encoding']).toBe('identity');
    }
  });

  it('sends the API key, not the URL credentials, when both are given', async () => {
    server.requests.length = 0;
    const backend = new OpenAIBackend(clientOptions(target, clock, { apiKey: 'sk-the-key-0123' }));
    expect((await send(backend)).ok).toBe(true);
    await backend.close();
    expect(server.requests[0]!.headers.authorization).toBe('Bearer sk-the-key-0123');
  });

  it('keeps the password, the Basic header and the query values out of the messages of a server that echoes them', async () => {
    const echo = await startScriptedServer((req, res) => {
      const quoted = `${'x'.repeat(300)} ${req.method} ${req.url} authorization=${req.headers.authorization} user ${USER}:${PASSWORD} sig ${SIG}`;
      if (req.url?.includes('/stream/')) {
        // an event that is not JSON: its start is quoted in the message
        sseHead(res);
        res.end(`data: ${quoted}\n\n`);
        return;
      }
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(quoted);
    });
    const { host } = new URL(echo.baseUrl);
    const secrets = [PASSWORD, encodeURIComponent(PASSWORD), basic.slice(6), SIG];
    for (const path of ['/v1/', '/stream/v1']) {
      const backend = new OpenAIBackend(clientOptions(`http://${USER}:${encodeURIComponent(PASSWORD)}@${host}${path}?sig=${SIG}`, clock));
      const r = await send(backend);
      await backend.close();
      expect(r.ok).toBe(false);
      for (const s of secrets) expect(r.errorMessage).not.toContain(s);
      // a cut must not leave a piece of one either
      for (const s of secrets) expect(r.errorMessage).not.toContain(s.slice(0, 6));
    }
    await echo.close();
  });
});

describe('scrapes', () => {
  it("carry the target's credentials to its own host only, a metrics URL's own first; messages show the URL masked", async () => {
    const metrics = await startScriptedServer((req, res) => {
      res.writeHead(req.headers.authorization ? 200 : 401, { 'content-type': 'text/plain' });
      res.end('up 1\n');
    });
    const origin = new URL(metrics.baseUrl).origin;
    try {
      await expect(fetchExposition(`${origin}/metrics`)).rejects.toThrow(`${origin}/metrics: HTTP 401`);
      setScrapeCredentials(origin, basic);
      expect((await fetchExposition(`${origin}/metrics`)).status).toBe(200);
      expect(metrics.requests.at(-1)!.headers.authorization).toBe(basic);
      // another host of the same machine is another origin
      await expect(fetchExposition(`http://localhost:${new URL(origin).port}/metrics`)).rejects.toThrow(/HTTP 401/);
      const own = `Basic ${Buffer.from('bob:other-pass').toString('base64')}`;
      expect((await fetchExposition(`http://bob:other-pass@${new URL(origin).host}/metrics`)).status).toBe(200);
      expect(metrics.requests.at(-1)!.headers.authorization).toBe(own);
      setScrapeCredentials(origin, null);
      await expect(fetchExposition(`http://bob:other-pass@${new URL(origin).host}/nothing?tok=abcdef`, { maxBytes: 1 })).rejects.toThrow(
        `http://bob:***@${new URL(origin).host}/nothing?tok=***: response larger than 1 bytes`,
      );
    } finally {
      setScrapeCredentials(origin, null);
      await metrics.close();
    }
  });
});
