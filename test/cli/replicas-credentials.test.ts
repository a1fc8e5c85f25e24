// Replicas (target.urls) with credentials and a query of their own: each replica gets its own
// user and password as HTTP Basic on every request, on its /models and on its /metrics (the
// scrape of a replica other than the first went without them), and none of them reaches an
// output; a replica with credentials together with target.apiKeyEnv is refused like target.url.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferload, tmp } from '../helpers/cli.js';
import { DONE, sseHead, startScriptedServer, tokenChunk, usageChunk, type ScriptedServer } from '../helpers/scripted-server.js';

let a: ScriptedServer;
let b: ScriptedServer;
const script = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
  if (req.url?.startsWith('/metrics')) {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 1\n');
    return;
  }
  if (req.url?.includes('/models')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
    return;
  }
  sseHead(res);
  res.write(tokenChunk('a'));
  res.write(tokenChunk(' b', 'stop'));
  res.write(usageChunk(5, 2));
  res.end(DONE);
};
beforeAll(async () => {
  a = await startScriptedServer(script);
  b = await startScriptedServer(script);
});
afterAll(async () => {
  await a.close();
  await b.close();
});

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const withCredentials = (baseUrl: string, user: string, password: string, query: string): string =>
  `${baseUrl.replace('http://', `http://${user}:${password}@`)}?${query}`;

function scenario(dir: string, urls: string[], extra = ''): string {
  const path = join(dir, 'replicas.yaml');
  writeFileSync(
    path,
    [
      'name: replicas-credentials',
      'seed: 1',
      'warmup: 0s',
      'target:',
      '  model: m',
      '  timeout: 5s',
      ...(extra ? [extra] : []),
      '  urls:',
      ...urls.map((u) => `    - ${JSON.stringify(u)}`),
      'load: {executor: constant-arrival-rate, rate: 8, timeUnit: 1s, duration: 1s, arrival: constant, maxInFlight: 10, gracefulStop: 2s}',
      'workload: {promptTokens: {dist: fixed, value: 10}, outputTokens: {dist: fixed, value: 2}}',
      '',
    ].join('\n'),
  );
  return path;
}

describe('replicas with credentials and a query of their own', () => {
  it('each replica gets its own credentials on requests, /models and /metrics; none reaches an output', async () => {
    const d = tmp();
    const out = join(d, 'out');
    const urls = [withCredentials(a.baseUrl, 'ann', 'Pw-of-A-1234', 'sig=sigA-123456'), withCredentials(b.baseUrl, 'bob', 'Pw-of-B-5678', 'sig=sigB-987654')];
    const r = await inferload(['run', scenario(d, urls), '--quiet', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    for (const [server, auth, sig] of [
      [a, basic('ann', 'Pw-of-A-1234'), 'sig=sigA-123456'],
      [b, basic('bob', 'Pw-of-B-5678'), 'sig=sigB-987654'],
    ] as const) {
      const metrics = server.requests.filter((q) => q.url.startsWith('/metrics'));
      const api = server.requests.filter((q) => q.url.startsWith('/v1/'));
      expect(metrics.length).toBeGreaterThan(0);
      expect(api.length).toBeGreaterThan(0);
      for (const q of [...metrics, ...api]) expect(q.headers.authorization, q.url).toBe(auth);
      for (const q of api) expect(q.url).toContain(`?${sig}`);
    }
    const written = readdirSync(out)
      .map((f) => readFileSync(join(out, f), 'utf8'))
      .join('\n');
    for (const secret of ['Pw-of-A-1234', 'Pw-of-B-5678', 'sigA-123456', 'sigB-987654', basic('bob', 'Pw-of-B-5678').slice(6)])
      for (const [where, text] of [
        ['files', written],
        ['stdout', r.stdout],
        ['stderr', r.stderr],
      ] as const)
        expect(text, `${secret} in ${where}`).not.toContain(secret);
  }, 30_000);

  it('a replica with credentials and target.apiKeyEnv: 104 naming the replica, masked', async () => {
    const d = tmp();
    const urls = [a.baseUrl, withCredentials(b.baseUrl, 'bob', 'Pw-of-B-5678', 'sig=sigB-987654')];
    const r = await inferload(['run', scenario(d, urls, '  apiKeyEnv: SOME_KEY'), '--quiet', '--out', join(d, 'out')], { env: { ...process.env, SOME_KEY: 'k-123456789' } });
    expect(r.code).toBe(104);
    expect(r.stderr).toContain('target.urls: ');
    expect(r.stderr).toContain('bob:***@');
    expect(r.stderr).toContain('a request has one Authorization header');
    expect(r.stderr).not.toContain('Pw-of-B-5678');
  }, 30_000);
});
