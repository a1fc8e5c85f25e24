// What comes from the target URL and from the server, through the real binary: a user and
// password in `--target` go as HTTP Basic (to the API and to the scrape of the same host's
// /metrics), its query goes with every API request, and neither reaches a file, the console or
// a message, even from a server that echoes them (--workers 1 and 2). Two credentials for one
// Authorization header are refused (104). An endless /models answer is cut (107), and token
// counts no server can have meant are not the run's throughput.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-target-'));

const PASSWORD = 'pa55-w0rd/xyz';
const SIG = 's1gnature-0123456';
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
/** every form of the secrets an output could hold */
const SECRETS = [PASSWORD, encodeURIComponent(PASSWORD), BASIC.slice(6), SIG];

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

type Mode = 'ok' | 'endless-models' | 'bad-usage';
let mode: Mode = 'ok';
let usage = '8';
let posts = 0;
let modelsBytes = 0;
const seen: Seen[] = [];
let server: Server;
let hostPort: string;

function answer(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
  if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
    if (req.headers.authorization !== BASIC) {
      res.writeHead(401);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="m"} 1\n');
    return;
  }
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (mode !== 'endless-models') {
      res.end('{"object":"list","data":[{"id":"m","object":"model"}]}');
      return;
    }
    res.write('{"object":"list","data":[');
    const piece = '{"id":"m","object":"model"},'.repeat(4096);
    const pump = (): void => {
      // 64 MiB at most, should the client never hang up
      while (!res.destroyed && modelsBytes < 64 * 1024 * 1024) {
        modelsBytes += piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
    return;
  }
  // the second request fails, quoting what it was sent
  if (++posts === 2) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`no route for POST ${req.url} (authorization: ${req.headers.authorization})`);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (text: string, finish: string | null): string =>
    `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${text}"},"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]}\n\n`;
  res.end(
    chunk('a', null) +
      chunk('b', null) +
      chunk('c', null) +
      chunk('d', null) +
      chunk('e', null) +
      chunk('f', null) +
      chunk('g', null) +
      chunk('h', 'length') +
      `data: {"id":"c","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":${usage},"total_tokens":18}}\n\ndata: [DONE]\n\n`,
  );
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hostPort = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function reset(m: Mode): void {
  mode = m;
  posts = 0;
  modelsBytes = 0;
  seen.length = 0;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function inferload(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, OPENAI_API_KEY: '', ...env }, cwd: tmp(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

/** Every file under `dir`, as text. */
function filesUnder(dir: string): { name: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => ({ name: join(e.parentPath, e.name), text: readFileSync(join(e.parentPath, e.name), 'utf8') }));
}

const readJsonl = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('a target URL with credentials and a query', () => {
  const target = (): string => `http://alice:${encodeURIComponent(PASSWORD)}@${hostPort}/v1/?api-version=2024-06-01&sig=${SIG}`;
  const display = (): string => `http://alice:***@${hostPort}/v1/?api-version=***&sig=***`;

  for (const workers of [1, 2]) {
    it(`sends them where they belong and writes them nowhere (--workers ${workers})`, async () => {
      reset('ok');
      const out = tmp();
      // with --workers 1 a key is also in the environment: the URL's credentials win, and it is said
      const env = workers === 1 ? { OPENAI_API_KEY: 'sk-ambient-0123456789' } : {};
      const run = await inferload(['run', 'smoke', '--target', target(), '--requests', '6', '--workers', String(workers), '--out', out], env);
      // one request of six failed: the smoke's error_ratio SLO fails (99)
      expect(run.code).toBe(99);
      if (workers === 1) expect(run.stderr).toContain("the target URL's credentials are sent (HTTP Basic); OPENAI_API_KEY, set in the environment, is not");

      // the model list, the warm-up, the requests: credentials and query on every one
      const api = seen.filter((s) => s.url.startsWith('/v1/'));
      expect(api.filter((s) => s.method === 'POST')).toHaveLength(6);
      expect(api.filter((s) => s.method === 'GET').length).toBeGreaterThanOrEqual(2);
      for (const s of api) {
        expect(s.authorization).toBe(BASIC);
        expect(s.url).toMatch(new RegExp(`^/v1/(models|chat/completions)\\?api-version=2024-06-01&sig=${SIG}$`));
      }
      // the same host's /metrics is scraped with them
      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
        run: { target: { url: string; api_key_env: string | null }; argv: string[] };
        server: { endpoints: { url: string; scrapes: number; failures: number }[] };
      };
      expect(results.server.endpoints).toEqual([expect.objectContaining({ url: `http://${hostPort}/metrics`, failures: 0 })]);
      expect(results.server.endpoints[0]!.scrapes).toBeGreaterThan(0);
      expect(seen.filter((s) => s.url === '/metrics').every((s) => s.authorization === BASIC)).toBe(true);

      // shown masked, the command line included
      expect(results.run.target.url).toBe(display());
      expect(results.run.target.api_key_env).toBeNull();
      expect(results.run.argv).toContain(display());
      const failed = readJsonl(join(out, 'requests.jsonl')).filter((l) => l.ok === false);
      expect(failed).toHaveLength(1);
      expect(failed[0]!.error).toBe(`HTTP 500: no route for POST /v1/chat/completions?api-version=***&sig=*** (authorization: Basic ***)`);
      const outputs = [...filesUnder(out), { name: 'stdout', text: run.stdout }, { name: 'stderr', text: run.stderr }];
      expect(outputs.map((f) => f.name).some((n) => n.endsWith('report.html'))).toBe(true);
      for (const f of outputs) {
        for (const s of [...SECRETS, 'sk-ambient-0123456789']) expect(f.text.includes(s), `${s} in ${f.name}`).toBe(false);
      }
    }, 60_000);
  }

  it('an explicit --metrics URL with its own credentials: scraped with them, shown masked everywhere (results, reports, argv)', async () => {
    reset('ok');
    const out = tmp();
    const metrics = `http://alice:${encodeURIComponent(PASSWORD)}@${hostPort}/metrics?sig=${SIG}`;
    const run = await inferload(['run', 'smoke', '--target', `http://${hostPort}/v1`, '--metrics', metrics, '--requests', '3', '--out', out]);
    expect([0, 99]).toContain(run.code);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { run: { argv: string[] }; server: { endpoints: { url: string; failures: number }[] } };
    const shown = `http://alice:***@${hostPort}/metrics?sig=***`;
    expect(results.server.endpoints).toEqual([expect.objectContaining({ url: shown, failures: 0 })]);
    expect(results.run.argv).toContain(shown);
    expect(seen.filter((s) => s.url.startsWith('/metrics')).every((s) => s.authorization === BASIC)).toBe(true);
    for (const f of [...filesUnder(out), { name: 'stdout', text: run.stdout }, { name: 'stderr', text: run.stderr }])
      for (const secret of SECRETS) expect(f.text.includes(secret), `${secret} in ${f.name}`).toBe(false);
  }, 60_000);

  it('a refused --target is echoed with its secrets masked (exit 104)', async () => {
    const run = await inferload(['run', 'smoke', '--target', `ftp://alice:${encodeURIComponent(PASSWORD)}@${hostPort}/v1?sig=${SIG}`]);
    expect(run.code).toBe(104);
    expect(run.stderr).toContain(`ftp://alice:***@${hostPort}/v1?sig=***`);
    for (const secret of SECRETS) expect(run.stderr + run.stdout).not.toContain(secret);
  });

  it('refuses a URL with credentials together with --api-key-env (exit 104), naming both, before sending anything', async () => {
    reset('ok');
    const run = await inferload(['run', 'smoke', '--target', target(), '--api-key-env', 'MY_KEY', '--requests', '2', '--out', tmp()], { MY_KEY: 'sk-mine-0123456789' });
    expect(run.code).toBe(104);
    expect(run.stderr).toContain('target.url');
    expect(run.stderr).toContain('MY_KEY');
    for (const s of [...SECRETS, 'sk-mine-0123456789']) expect(run.stderr + run.stdout).not.toContain(s);
    expect(seen).toEqual([]);
  });
});

describe('what the server says', () => {
  it('cuts an endless /models answer at 8 MiB: the run fails (107) with the reason, in seconds', async () => {
    reset('endless-models');
    const out = tmp();
    const run = await inferload(['run', 'smoke', '--target', `http://${hostPort}/v1`, '--requests', '2', '--out', out]);
    expect(run.code).toBe(107);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { status_reason: string };
    expect(results.status_reason).toBe(`GET http://${hostPort}/v1/models failed: HTTP 200 with a body over 8 MiB, cut there: not a model list; give the model with --model`);
    expect(modelsBytes).toBeLessThan(64 * 1024 * 1024);
    expect(run.ms).toBeLessThan(20_000);
  }, 30_000);

  for (const bad of ['-32', '1e18', '1000000', '7.5']) {
    it(`counts the chunks, not usage.completion_tokens ${bad}, and writes every request`, async () => {
      reset('bad-usage');
      usage = bad;
      const out = tmp();
      const run = await inferload(['run', 'smoke', '--target', `http://${hostPort}/v1`, '--model', 'm', '--requests', '4', '--quiet', '--out', out]);
      expect([0, 99]).toContain(run.code);
      const lines = readJsonl(join(out, 'requests.jsonl'));
      expect(lines).toHaveLength(4);
      for (const l of lines.filter((x) => x.ok === true)) {
        expect(l.output_tokens).toBe(8);
        expect(l.output_tokens_usage).toBeNull();
      }
      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
        summary: { throughput: { output_tokens_per_s: number }; tokens: { output: number; output_estimated_requests: number } };
      };
      expect(results.summary.tokens.output).toBe(24);
      expect(results.summary.tokens.output_estimated_requests).toBe(3);
      expect(results.summary.throughput.output_tokens_per_s).toBeGreaterThan(0);
      expect(results.summary.throughput.output_tokens_per_s).toBeLessThan(1000);
    }, 30_000);
  }
});
