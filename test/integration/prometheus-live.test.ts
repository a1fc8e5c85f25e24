// The live series in a real Prometheus (Debian's package; CI installs it): one scrapes the sink's
// /metrics every second and takes its remote-write pushes; PromQL over its HTTP API gives back the
// request count that was fed, and histogram_quantile(0.95) of TTFT within the bucket holding the
// true p95, for the scraped and the remote-written series alike; and a real run of the binary
// (dist/, built by `npm test`) with --remote-write agrees with its own results.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheusSink, type LivePrometheus } from '../../src/live/prometheus.js';
import { TTFT_BUCKETS_S } from '../../src/live/series.js';
import { inferload } from '../helpers/cli.js';
import { bucketAround, checkpointOf, exactQuantile, fedRun, verdict } from '../helpers/live.js';

const PROMETHEUS = '/usr/bin/prometheus';
const HAVE = existsSync(PROMETHEUS);
if (!HAVE) console.warn(`prometheus-live: skipped, ${PROMETHEUS} is missing (apt-get install prometheus)`);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HAVE)('live metrics in a real Prometheus', () => {
  let dir: string;
  let prom: ChildProcess | null = null;
  let promUrl: string;
  let promLog = '';
  let sink: LivePrometheus;
  const run = fedRun();

  async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const j = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
    if (j.status !== 'success') throw new Error(`${q}: ${j.error}`);
    return j.data.result;
  }

  /** the query's single value, polled until `ok` holds (scrapes and pushes land within seconds) */
  async function poll(q: string, ok: (v: number) => boolean, ms = 12_000): Promise<number> {
    const end = Date.now() + ms;
    let last = NaN;
    for (;;) {
      const r = await query(q);
      last = r.length === 1 ? Number(r[0]!.value[1]) : NaN;
      if (ok(last)) return last;
      if (Date.now() > end) throw new Error(`${q} = ${last} (${r.length} series)\n${promLog.slice(-2000)}`);
      await sleep(250);
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inferload-prom-'));
    // Prometheus' port first (the sink pushes to it), the sink's next (Prometheus scrapes it)
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    sink = await startPrometheusSink({
      labels: { scenario: 'live-test', run_id: 'run-42', shard: '0/1' },
      listen: { host: '127.0.0.1', port: 0 },
      log: () => {},
      remoteWrite: { url: `${promUrl}/api/v1/write`, intervalS: 0.5 },
    });
    const target = new URL(sink.url!).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: inferload-live',
        '    scrape_interval: 1s',
        '    scrape_timeout: 900ms',
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    prom = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--web.enable-remote-write-receiver',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // never outlive the test process, whatever happens to it
    const child = prom;
    process.once('exit', () => child.kill('SIGKILL'));
    prom.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
    prom.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
    const end = Date.now() + 15_000;
    for (;;) {
      const ready = await fetch(`${promUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (prom.exitCode !== null || Date.now() > end) throw new Error(`prometheus did not start:\n${promLog}`);
      await sleep(100);
    }
    for (const r of run.records) sink.requestEnded(r);
    sink.tick({ nowUs: 3_000_000, epochMs: Date.now(), inFlight: 2, sent: 193, dropped: 7, ended: 200, failed: 10 });
    sink.checkpoint(checkpointOf([verdict('ttft_ms: p(95)<500', false), verdict('class a: ttft_ms: p(95)<2000', true, 'a')]));
  }, 25_000);

  afterAll(async () => {
    await sink?.close();
    if (prom && prom.exitCode === null) {
      const exited = new Promise<void>((resolve) => prom!.once('exit', () => resolve()));
      prom.kill('SIGTERM');
      await Promise.race([exited, sleep(3_000)]);
      if (prom.exitCode === null) prom.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const SCRAPED = 'job="inferload-live"';
  // remote-written series carry no job label (Prometheus adds job and instance to scraped ones only)
  const PUSHED = 'job=""';

  it('scraped: the request count is what was fed, by outcome; warm-up apart; labels as the run’s', async () => {
    expect(await poll(`sum(inferload_requests_total{${SCRAPED}})`, (v) => v === run.measured)).toBe(200);
    for (const [outcome, n] of Object.entries(run.byOutcome)) expect(await poll(`sum(inferload_requests_total{${SCRAPED},outcome="${outcome}"})`, () => true)).toBe(n);
    expect(await poll(`sum(inferload_requests_total{${SCRAPED},outcome="failed",error_class="http_5xx"})`, () => true)).toBe(6);
    expect(await poll(`sum(inferload_warmup_requests_total{${SCRAPED}})`, () => true)).toBe(5);
    expect(await poll(`inferload_in_flight_requests{${SCRAPED},scenario="live-test",run_id="run-42",shard="0/1"}`, () => true)).toBe(2);
    expect(await poll(`inferload_slo_passed{${SCRAPED},slo="ttft_ms: p(95)<500"}`, () => true)).toBe(0);
    expect(await poll(`inferload_slo_passed{${SCRAPED},class="a"}`, () => true)).toBe(1);
    expect(await poll(`sum(inferload_output_tokens_total{${SCRAPED}})`, () => true)).toBe(180 * 8);
  });

  it('scraped: histogram_quantile(0.95) of TTFT lies in the bucket of the true p95', async () => {
    const [lo, hi] = bucketAround(TTFT_BUCKETS_S, exactQuantile(run.ttftS, 0.95));
    const p95 = await poll(`histogram_quantile(0.95, sum by (le) (inferload_time_to_first_token_seconds_bucket{${SCRAPED}}))`, Number.isFinite);
    expect(p95).toBeGreaterThan(lo);
    expect(p95).toBeLessThanOrEqual(hi);
    // and per class: the same over class a's requests alone
    const a = run.records.filter((r) => r.className === 'a' && r.ok && !r.warmup).map((r) => (r.firstTokenUs - r.intendedStartUs) / 1e6);
    const [alo, ahi] = bucketAround(TTFT_BUCKETS_S, exactQuantile(a, 0.95));
    const pa = await poll(`histogram_quantile(0.95, sum by (le) (inferload_time_to_first_token_seconds_bucket{${SCRAPED},class="a"}))`, Number.isFinite);
    expect(pa).toBeGreaterThan(alo);
    expect(pa).toBeLessThanOrEqual(ahi);
  });

  it('remote-written: the same count and the same p95 bucket', async () => {
    expect(await poll(`sum(inferload_requests_total{${PUSHED}})`, (v) => v === run.measured)).toBe(200);
    expect(await poll(`sum(inferload_requests_total{${PUSHED},outcome="dropped"})`, () => true)).toBe(7);
    const [lo, hi] = bucketAround(TTFT_BUCKETS_S, exactQuantile(run.ttftS, 0.95));
    const p95 = await poll(`histogram_quantile(0.95, sum by (le) (inferload_time_to_first_token_seconds_bucket{${PUSHED}}))`, Number.isFinite);
    expect(p95).toBeGreaterThan(lo);
    expect(p95).toBeLessThanOrEqual(hi);
    expect(await poll(`sum(inferload_remote_write_batches_total{${PUSHED},result="sent"})`, (v) => v >= 1)).toBeGreaterThanOrEqual(1);
  });

  it('close() pushes the final state: requests that ended after the last push arrive too', async () => {
    const extra = fedRun().records.slice(5, 25); // 20 more completed, measured
    for (const r of extra) sink.requestEnded(r);
    await sink.close();
    expect(sink.stats().remoteWrite).toMatchObject({ dropped: 0, rejected: 0 });
    expect(await poll(`sum(inferload_requests_total{${PUSHED}})`, (v) => v === run.measured + 20, 5_000)).toBe(220);
  });
  it('a real run (the binary, --remote-write): PromQL agrees with its results.json', async () => {
    const out = join(dir, 'run');
    const ran = await inferload(['run', 'smoke', '--remote-write', `${promUrl}/api/v1/write`, '--out', out, '--quiet']);
    expect(ran.code, ran.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      run_id: string;
      summary: { requests: { completed: number; failed: number; interrupted: number; dropped: number }; latency_ms: { ttft: { p95: number } } };
    };
    const q = results.summary.requests;
    const id = `run_id="${results.run_id}"`;
    const total = q.completed + q.failed + q.interrupted + q.dropped;
    expect(total).toBe(25);
    expect(await poll(`sum(inferload_requests_total{${id}})`, (v) => v === total, 5_000)).toBe(total);
    expect(await poll(`sum(inferload_requests_total{${id},outcome="completed"})`, () => true)).toBe(q.completed);
    expect(await poll(`sum(inferload_time_to_first_token_seconds_count{${id}})`, () => true)).toBe(q.completed);
    // the p95 of results.json (HDR, within 0.1 %) and PromQL's, within the same bucket
    const p95 = results.summary.latency_ms.ttft.p95 / 1000;
    const [lo] = bucketAround(TTFT_BUCKETS_S, p95 * 0.999);
    const [, hi] = bucketAround(TTFT_BUCKETS_S, p95 * 1.001);
    const prom = await poll(`histogram_quantile(0.95, sum by (le) (inferload_time_to_first_token_seconds_bucket{${id}}))`, Number.isFinite);
    expect(prom).toBeGreaterThan(lo);
    expect(prom).toBeLessThanOrEqual(hi);
  }, 25_000);
});
