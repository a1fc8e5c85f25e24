// The real binary, spawned: exit codes, files on disk, interrupts, secrets, and an independent
// recomputation of TTFT/ITL/TPOT from requests.jsonl against results.json.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHistogram } from '../../src/metrics/hdr.js';
import { DONE, sleep, sseHead, startScriptedServer, tokenChunk, usageChunk, type ScriptedServer } from '../helpers/scripted-server.js';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-cli-'));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function inferload(args: string[], opts: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd ?? tmp(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    opts.onSpawn?.(child.pid!);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const readJsonl = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** exact percentile of raw values (nearest rank, as HDR counts) */
function exactPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

describe('inferload run (the real binary)', () => {
  let dir: string;
  let run: Ran;
  beforeAll(async () => {
    dir = tmp();
    run = await inferload(['run', 'smoke', '--requests', '20', '--rate', '20', '--record-chunks', '--quiet', '--out', dir]);
  });

  it('runs the smoke scenario against the built-in simulator and leaves results on disk', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('20 sent, 20 completed, 0 failed, 0 dropped');
    expect(run.stdout).toContain('TTFT');
    expect(readdirSync(dir).sort()).toEqual(expect.arrayContaining(['requests.jsonl', 'results.json', 'server-metrics.jsonl']));
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results.schema).toBe('inferload/results@1');
    expect(results.status).toBe('complete');
    expect(results.summary.requests).toMatchObject({ sent: 20, completed: 20, failed: 0, dropped: 0 });
    for (const m of ['ttft', 'ttft_sent', 'itl', 'itl_per_token', 'tpot', 'e2e', 'schedule_lag'])
      expect(Object.keys(results.summary.latency_ms[m])).toEqual(
        expect.arrayContaining(['p50', 'p90', 'p95', 'p99', 'p999', 'max', 'mean', 'stddev', 'count', 'hdr']),
      );
    expect(results.summary.tokens.output).toBe(20 * 32);
    expect(results.summary.tokens.output_usage).toBe(20 * 32);
    expect(results.summary.tokens.output_chunks).toBe(20 * 32);
    expect(results.windows.length).toBeGreaterThan(0);
    expect(results.slo.every((v: { passed: boolean }) => v.passed)).toBe(true);
    expect(results.run.target.simulator).toEqual({ profile: 'default', speed: 1 });
  });

  it("scrapes the simulator's /metrics and /gpu/metrics and joins them with the client's view", () => {
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    const endpoints = results.server.endpoints;
    expect(endpoints.map((e: { profile: string }) => e.profile).sort()).toEqual(['dcgm', 'vllm']);
    expect(endpoints.every((e: { failures: number; scrapes: number }) => e.failures === 0 && e.scrapes >= 2)).toBe(true);
    // every token the client counted, the server generated
    expect(results.server.tokens).toEqual({ client_output: 640, server_generation: 640, diff_ratio: 0 });
    expect(results.server.gpu_count).toBe(1);
    const withServer = results.windows.filter((w: { server: Record<string, number> }) => 'requests_running' in w.server);
    expect(withServer.length).toBeGreaterThan(0);
    expect(withServer.some((w: { server: Record<string, number> }) => w.server.requests_running! > 0)).toBe(true);
    expect(withServer.some((w: { gpus?: unknown[] }) => (w.gpus ?? []).length === 1)).toBe(true);
    const lines = readJsonl(join(dir, 'server-metrics.jsonl'));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    // the first scrape of each endpoint carries every raw sample, later ones only what changed
    expect(lines[0]).toMatchObject({ samples_full: true });
    expect((lines[0]!.samples as unknown[]).length).toBeGreaterThan(10);
    const later = lines.filter((l) => l.samples_full === false);
    expect(later.length).toBeGreaterThan(0);
    expect(results.server.alerts.length).toBeGreaterThan(0);
  });

  it('writes requests.jsonl with the stable fields, and its stamps reproduce results.json', () => {
    const lines = readJsonl(join(dir, 'requests.jsonl'));
    expect(lines).toHaveLength(20);
    for (const f of [
      'id',
      'intended_start_ms',
      'sent_ms',
      'headers_ms',
      'first_chunk_ms',
      'first_token_ms',
      'end_ms',
      'http_status',
      'ok',
      'error_class',
      'prompt_tokens',
      'output_tokens',
      'output_tokens_usage',
      'output_chunks',
      'warmup',
      'dropped',
      'chunk_ms',
    ])
      expect(lines[0]).toHaveProperty(f);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    const ttft = lines.map((l) => (l.first_token_ms as number) - (l.intended_start_ms as number));
    const tpot = lines.map((l) => ((l.end_ms as number) - (l.first_token_ms as number)) / ((l.output_tokens as number) - 1));
    const itl = lines.flatMap((l) => (l.chunk_ms as number[]).slice(1).map((t, i) => t - (l.chunk_ms as number[])[i]!));
    const lat = results.summary.latency_ms;
    for (const [name, values] of [
      ['ttft', ttft],
      ['tpot', tpot],
      ['itl', itl],
    ] as const) {
      expect(lat[name].count).toBe(values.length);
      for (const [p, key] of [
        [50, 'p50'],
        [95, 'p95'],
        [99, 'p99'],
      ] as const) {
        const exact = exactPercentile(values, p);
        // HDR keeps 3 significant digits (and rounds stamps to whole µs)
        expect(Math.abs(lat[name][key] - exact)).toBeLessThanOrEqual(exact * 0.001 + 0.002);
      }
      expect(decodeHistogram(lat[name].hdr).totalCount).toBe(values.length);
    }
  });
});

describe('inferload run: bad input, failures, interrupts, secrets', () => {
  let server: ScriptedServer;
  beforeAll(async () => {
    server = await startScriptedServer(async (req, res) => {
      if (req.url?.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"object":"list","data":[{"id":"scripted-model","object":"model"}]}');
        return;
      }
      sseHead(res);
      res.write(tokenChunk('a'));
      await sleep(50);
      res.end(tokenChunk('b', 'length') + usageChunk(3, 2) + DONE);
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('reports every problem of an invalid scenario at once, exits 104 and sends nothing', async () => {
    const d = tmp();
    const file = join(d, 'bad.yaml');
    writeFileSync(
      file,
      ['name: bad', 'load:', '  executor: constant-arrival-rate', '  rate: -3', '  duration: 30', '  gracefulStp: 5s', 'workload:', '  outputTokens: {dist: weird}'].join('\n'),
    );
    const before = server.requests.length;
    const r = await inferload(['run', file, '--target', server.baseUrl, '--out', join(d, 'out')]);
    expect(r.code).toBe(104);
    expect(r.stderr).toContain('load.rate');
    expect(r.stderr).toContain('load.duration');
    expect(r.stderr).toContain('gracefulStop');
    expect(r.stderr).toContain('workload.outputTokens');
    expect(server.requests.length).toBe(before);
    expect(existsSync(join(d, 'out'))).toBe(false);
  });

  it('stops early when an abortOnFail threshold fails, still writes results, exits 99', async () => {
    const d = tmp();
    const file = join(d, 'abort.yaml');
    writeFileSync(
      file,
      [
        'name: abort-test',
        'load: {executor: constant-arrival-rate, rate: 10, duration: 60s}',
        'workload: {outputTokens: {dist: fixed, value: 8}, promptTokens: {dist: fixed, value: 16}}',
        'slo:',
        '  ttft_ms: [{threshold: "p(95)<1", abortOnFail: true}]',
      ].join('\n'),
    );
    const t0 = Date.now();
    const r = await inferload(['run', file, '--quiet', '--checkpoint', '1', '--out', join(d, 'out')]);
    expect(r.code).toBe(99);
    expect(Date.now() - t0).toBeLessThan(30_000);
    const results = JSON.parse(readFileSync(join(d, 'out', 'results.json'), 'utf8'));
    expect(results.status_reason).toContain('abortOnFail');
    expect(results.slo[0].passed).toBe(false);
    expect(r.stdout).toContain('stopped early');
  });

  // The outside check: a smoke run whose server stalls some requests past the graceful stop. The
  // run lasts to the last completion (not to the cut), and a server that hangs fails the
  // availability SLO: the cut requests are failures of class unfinished.
  it('a server that stalls requests past the graceful stop fails availability, and the run lasts to its last completion', async () => {
    const d = tmp();
    const r = await inferload([
      'run',
      'smoke',
      '--set',
      'simulator.faults.stallRatio=0.25',
      '--set',
      'simulator.faults.stall=60s',
      '--set',
      'load.duration=2s',
      '--set',
      'load.gracefulStop=1s',
      '--quiet',
      '--out',
      d,
    ]);
    expect(r.code).toBe(99);
    const results = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    const s = results.summary;
    expect(s.requests.sent).toBe(10);
    expect(s.errors.unfinished).toBeGreaterThan(0);
    expect(s.requests.failed).toBe(s.errors.unfinished);
    expect(s.requests.completed + s.requests.failed).toBe(10);
    expect(s.requests.interrupted).toBe(0);
    // the cut came after 2 s of arrivals and 1 s of graceful stop; the last completion well before
    const lastOk = Math.max(...readJsonl(join(d, 'requests.jsonl')).filter((l) => l.ok).map((l) => l.end_ms as number));
    expect(s.duration_s).toBeCloseTo(lastOk / 1000, 2);
    expect(s.duration_s).toBeLessThan(2.6);
    const availability = results.slo.find((v: { metric: string }) => v.metric === 'error_ratio');
    expect(availability.passed).toBe(false);
    expect(results.error_budget.error_ratio).toBeGreaterThan(0);
    expect(r.stdout).toContain('unfinished at the graceful stop');
  });

  it('constant-vus with 64 users and --requests 1 sends exactly one request (not one per user)', async () => {
    const d = tmp();
    const r = await inferload([
      'run',
      'sustained',
      '--concurrency',
      '64',
      '--requests',
      '1',
      '--set',
      'warmup=0s',
      '--max-tokens',
      '4',
      '--target',
      server.baseUrl,
      '--quiet',
      '--out',
      d,
    ]);
    expect(r.stderr).toBe('');
    const results = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    expect(results.run.load).toMatchObject({ executor: 'constant-vus', vus: 64 });
    expect(readJsonl(join(d, 'requests.jsonl'))).toHaveLength(1);
    expect(results.summary.requests).toMatchObject({ sent: 1, completed: 1, dropped: 0 });
    // the count ended the run, not sustained.yaml's 30 minutes
    expect(results.status).toBe('complete');
  });

  it('exits 104 for a bad flag with the flag named', async () => {
    const r = await inferload(['run', 'smoke', '--rate', 'fast']);
    expect(r.code).toBe(104);
    expect(r.stderr).toContain('--rate');
  });

  it('sends the API key as a bearer token and never writes it anywhere', async () => {
    const d = tmp();
    const key = 'sk-test-very-secret-4242';
    const r = await inferload(['run', 'smoke', '--requests', '5', '--target', server.baseUrl, '--api-key-env', 'MY_KEY', '--quiet', '--out', d], {
      env: { MY_KEY: key },
    });
    expect(r.code).toBe(0);
    const last = server.requests.filter((q) => q.url.endsWith('/chat/completions')).at(-1)!;
    expect(last.headers.authorization).toBe(`Bearer ${key}`);
    expect(r.stdout + r.stderr).not.toContain(key);
    for (const f of readdirSync(d)) expect(readFileSync(join(d, f), 'utf8')).not.toContain(key);
    const results = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    expect(results.run.target.api_key_env).toBe('MY_KEY');
    expect(results.run.target.model).toBe('scripted-model');
  });

  it('exits 104 when the named key variable is not set', async () => {
    const r = await inferload(['run', 'smoke', '--target', server.baseUrl, '--api-key-env', 'NOT_SET_ANYWHERE_42']);
    expect(r.code).toBe(104);
    expect(r.stderr).toContain('NOT_SET_ANYWHERE_42');
  });

  it('exits 107 and still writes results when the target never answers', async () => {
    const d = tmp();
    const r = await inferload(['run', 'smoke', '--target', 'http://127.0.0.1:1/v1', '--model', 'x', '--quiet', '--out', d]);
    expect(r.code).toBe(107);
    const results = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    expect(results.status).toBe('failed');
    expect(results.summary.errors.connect).toBeGreaterThan(0);
  });

  it('on SIGINT stops sending, lets in-flight requests finish, writes everything and exits 105', async () => {
    const d = tmp();
    let pid = 0;
    const t0 = Date.now();
    const done = inferload(['run', 'smoke', '--target', server.baseUrl, '--duration', '60s', '--rate', '20', '--quiet', '--out', d], {
      onSpawn: (p) => (pid = p),
    });
    // wait until it is really sending
    while (!existsSync(join(d, 'requests.jsonl')) || readFileSync(join(d, 'requests.jsonl'), 'utf8').split('\n').length < 10) await sleep(50);
    process.kill(pid, 'SIGINT');
    const r = await done;
    expect(r.code).toBe(105);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const results = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    expect(results.status).toBe('interrupted');
    const lines = readJsonl(join(d, 'requests.jsonl'));
    const s = results.summary.requests;
    expect(lines).toHaveLength(s.sent + s.dropped);
    expect(s.completed).toBeGreaterThan(5);
    expect(s.failed).toBe(0);
  });

  it('leaves a checkpoint of the measurements on disk even after kill -9', async () => {
    const d = tmp();
    let pid = 0;
    const done = inferload(
      ['run', 'smoke', '--target', server.baseUrl, '--duration', '60s', '--rate', '20', '--checkpoint', '0.5', '--quiet', '--out', d],
      { onSpawn: (p) => (pid = p) },
    );
    while (!existsSync(join(d, 'results.json'))) await sleep(50);
    await sleep(1200);
    process.kill(pid, 'SIGKILL');
    await done;
    const results = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    expect(results.status).toBe('running');
    expect(results.summary.requests.completed).toBeGreaterThan(5);
    expect(results.summary.latency_ms.ttft.count).toBe(results.summary.requests.completed);
  });
});
