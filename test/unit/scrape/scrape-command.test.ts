// `inferload scrape SOURCE` (runScrapeCommand): a file, stdin, a loopback URL served here, the
// stable --json shape, --check exit codes (also over the whole OpenMetrics conformance set),
// failures, and server strings printed without control characters.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runScrapeCommand, type ScrapeCommandOptions, type ScrapeJson } from '../../../src/cli/scrape-command.js';

const METRICS = fileURLToPath(new URL('../../fixtures/metrics/', import.meta.url));
const OPENMETRICS = fileURLToPath(new URL('../../fixtures/openmetrics/', import.meta.url));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function scrape(source: string, opts: ScrapeCommandOptions = {}, stdin?: NodeJS.ReadableStream): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const code = await runScrapeCommand(source, opts, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), ...(stdin ? { stdin } : {}) });
  return { code, stdout, stderr };
}

let server: Server | null = null;
afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = null;
});

/** Serves `body(n)` for the n-th request (0-based); records the request headers. */
async function serve(body: (n: number) => string, opts: { status?: number; contentType?: string } = {}): Promise<{ url: string; requests: IncomingHttpHeaders[] }> {
  const requests: IncomingHttpHeaders[] = [];
  server = createServer((req, res) => {
    const n = requests.length;
    requests.push(req.headers);
    res.writeHead(opts.status ?? 200, { 'content-type': opts.contentType ?? 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(body(n));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, requests };
}

const vllmBody = (n: number): string =>
  [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{model_name="m"} ${3 + n}`,
    '# TYPE vllm:num_requests_waiting gauge',
    'vllm:num_requests_waiting{model_name="m"} 7',
    '# TYPE vllm:kv_cache_usage_perc gauge',
    'vllm:kv_cache_usage_perc{model_name="m"} 0.42',
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total{model_name="m"} ${1000 + 500 * n}`,
    '# TYPE vllm:time_to_first_token_seconds histogram',
    `vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} ${10 * n}`,
    `vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} ${10 * n}`,
    `vllm:time_to_first_token_seconds_count{model_name="m"} ${10 * n}`,
    `vllm:time_to_first_token_seconds_sum{model_name="m"} ${0.5 * n}`,
    '',
  ].join('\n');

describe('inferload scrape', () => {
  it('prints the canonical signals of a file for a person', async () => {
    const r = await scrape(join(METRICS, 'sglang-docs-sample.prom'));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/profile: sglang/);
    expect(r.stdout).toMatch(/requests_running\s+162\s+sglang:num_running_reqs/);
    expect(r.stdout).toMatch(/queue_depth\s+2826/);
    expect(r.stdout).toMatch(/kv_cache_usage_ratio\s+0\.280/);
    expect(r.stdout).toMatch(/generation_tokens_total\s+7557572/);
  });

  it('prints per-GPU rows', async () => {
    const r = await scrape(join(METRICS, 'dcgm-exporter-8gpu-k8s.prom'));
    expect(r.stdout).toMatch(/GPUs \(8\)/);
    expect(r.stdout).toMatch(/\n\s+7\s+GPU-04d228d3-3b5a-3534-f5cf-969706647d56\s+0\.000\s+67\.0/);
  });

  it('prints 150 000 GPUs for a person (their rows once overflowed the stack; --json did not)', async () => {
    const n = 150_000;
    const lines = ['# TYPE DCGM_FI_DEV_GPU_UTIL gauge'];
    for (let i = 0; i < n; i++) lines.push(`DCGM_FI_DEV_GPU_UTIL{gpu="${i}",UUID="GPU-${i}"} 50`);
    const r = await scrape('-', {}, Readable.from([Buffer.from(lines.join('\n') + '\n')]));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`GPUs (${n})`);
    expect(r.stdout).toMatch(/\n {2}149999 {2}GPU-149999 {2}0\.500\n$/);
  });

  it('reads stdin for "-" and prints cli.md\'s --json shape', async () => {
    const text = readFileSync(join(METRICS, 'dcgm-exporter-l4-prof.prom'), 'utf8');
    const r = await scrape('-', { json: true }, Readable.from([Buffer.from(text)]));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as ScrapeJson;
    expect(Object.keys(j)).toEqual(['source', 'format', 'profiles', 'signals', 'per_gpu', 'families', 'problems', 'interval_s', 'cumulative']);
    expect(j.source).toBe('-');
    expect(j.format).toBe('prometheus');
    expect(j.profiles).toEqual(['dcgm']);
    expect(j.signals).toMatchObject({ gpu_count: 1, gpu_power_watts: 16.365, gpu_memory_free_bytes: 22563 * 1024 * 1024 });
    expect(j.per_gpu).toEqual([expect.objectContaining({ gpu: '0', uuid: 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c', gpu_power_watts: 16.365 })]);
    expect(j.families).toHaveLength(23);
    expect(j.families[0]).toEqual({ name: 'DCGM_FI_DEV_SM_CLOCK', type: 'gauge', help: 'SM clock frequency (in MHz).', unit: '', samples: 1 });
    expect(j.problems).toEqual([]);
    expect(j.interval_s).toBeNull();
  });

  it('scrapes a URL twice for rates and interval latency', async () => {
    const { url, requests } = await serve(vllmBody);
    const r = await scrape(url, { json: true, intervalMs: 100 });
    expect(r.code).toBe(0);
    expect(requests).toHaveLength(2);
    expect(requests[0]!['accept']).toMatch(/^text\/plain;version=0\.0\.4/);
    const j = JSON.parse(r.stdout) as ScrapeJson;
    expect(j.profiles).toEqual(['vllm']);
    expect(j.interval_s).toBeGreaterThanOrEqual(0.09);
    expect(j.signals).toMatchObject({ requests_running: 4, queue_depth: 7, kv_cache_usage_ratio: 0.42 });
    expect(j.signals.generation_tokens_per_s! * j.interval_s!).toBeCloseTo(500, 6);
    expect(j.signals.server_ttft_s_mean).toBeCloseTo(0.05, 12);
    expect(j.signals.server_ttft_s_p50).toBeCloseTo(0.05, 12);
    expect(j.cumulative['generation_tokens_total']).toBe(1500);
    const human = await scrape(url, { intervalMs: 50 });
    expect(human.stdout).toMatch(/two scrapes 0\.\d\d s apart/);
    expect(human.stdout).toMatch(/generation_tokens_per_s\s+\d+\.\d\s+vllm:generation_tokens_total/);
  });

  it('--once scrapes a URL once; --format openmetrics asks for OpenMetrics and follows the content type', async () => {
    const { url, requests } = await serve(() => '# TYPE vllm:generation_tokens counter\nvllm:generation_tokens_total 5\n# EOF\n', { contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8' });
    const r = await scrape(url, { json: true, once: true, format: 'openmetrics' });
    expect(requests).toHaveLength(1);
    expect(requests[0]!['accept']).toMatch(/^application\/openmetrics-text/);
    const j = JSON.parse(r.stdout) as ScrapeJson;
    expect(j.format).toBe('openmetrics');
    expect(j.problems).toEqual([]);
    expect(j.cumulative['generation_tokens_total']).toBe(5);
    expect(j.interval_s).toBeNull();
  });

  it('--check: 0 for a clean exposition, 104 with the problem lines otherwise', async () => {
    expect((await scrape(join(METRICS, 'tgi-3.3.prom'), { check: true })).code).toBe(0);
    const bad = await scrape('-', { check: true }, Readable.from(['a 1\nb{x="1" 2\nc 3\n']));
    expect(bad.code).toBe(104);
    expect(bad.stderr).toMatch(/^line 2: /);
    expect(bad.stdout).toBe('-: 1 problem\n');
    // without --check a broken line is reported but not fatal
    const lenient = await scrape('-', {}, Readable.from(['a 1\nb{x="1" 2\n']));
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toMatch(/line 2/);
  });

  it('--format openmetrics --check agrees with all 211 conformance cases', async () => {
    const wrong: string[] = [];
    for (const d of readdirSync(OPENMETRICS, { withFileTypes: true }).filter((x) => x.isDirectory())) {
      const meta = JSON.parse(readFileSync(join(OPENMETRICS, d.name, 'test.json'), 'utf8')) as { shouldParse: boolean };
      const r = await scrape(join(OPENMETRICS, d.name, 'metrics'), { format: 'openmetrics', check: true });
      if (r.code !== (meta.shouldParse ? 0 : 104)) wrong.push(`${d.name}: exit ${r.code}`);
    }
    expect(wrong).toEqual([]);
  });

  it('exits 104 with a clear message for a missing file, an unreachable URL, an HTTP error, a bad --format', async () => {
    const missing = await scrape('/definitely/not/here.prom');
    expect(missing.code).toBe(104);
    expect(missing.stderr).toMatch(/cannot read \/definitely\/not\/here\.prom: .*ENOENT/);
    const { url } = await serve(() => 'oops', { status: 500 });
    const http500 = await scrape(url, { once: true });
    expect(http500.code).toBe(104);
    expect(http500.stderr).toMatch(/HTTP 500/);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = null;
    const refused = await scrape(url, { once: true, timeoutMs: 2000 });
    expect(refused.code).toBe(104);
    expect(refused.stderr).toMatch(/cannot read http:\/\/127\.0\.0\.1:\d+\/metrics: .*ECONNREFUSED/);
    const badFormat = await scrape(join(METRICS, 'tgi-3.3.prom'), { format: 'xml' as unknown as 'auto' });
    expect(badFormat.code).toBe(104);
    expect(badFormat.stderr).toMatch(/--format/);
  });

  it('times out a server that never answers', async () => {
    server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const r = await scrape(url, { once: true, timeoutMs: 200 });
    expect(r.code).toBe(104);
    expect(r.stderr).toMatch(/no complete answer within 200 ms/);
    server.closeAllConnections();
  });

  it('strips control characters from what the server sent', async () => {
    const evil = '# HELP evil_metric \u001b[31mred\u001b[0m\\nsecond line\u0007\n# TYPE evil_metric gauge\nevil_metric 1\nDCGM_FI_DEV_GPU_UTIL{gpu="0\u001b[2J",UUID="GPU-\u009bx"} 5\n';
    const human = await scrape('-', {}, Readable.from([evil]));
    expect(human.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(human.stdout).toMatch(/0\[2J\s+GPU-x/);
    const json = JSON.parse((await scrape('-', { json: true }, Readable.from([evil]))).stdout) as ScrapeJson;
    expect(json.families[0]!.help).toBe('[31mred[0msecond line');
    expect(json.per_gpu[0]).toMatchObject({ gpu: '0[2J', uuid: 'GPU-x' });
  });
});
