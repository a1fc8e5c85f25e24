// Server signals from a real Prometheus (Debian's package; CI installs it) scraping two simulator
// replicas (/metrics in vLLM's names, /gpu/metrics in DCGM's) every second: with load on both,
// the PromQL source sees both replicas' queues, its summed generation-token rate agrees with the
// simulators' own counters, its counter growth over the run equals theirs, and each replica's GPU
// stays its own. Prometheus and the simulators are stopped whatever happens.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../src/backend/openai/client.js';
import { runClock } from '../../src/core/clock.js';
import { RequestRecord } from '../../src/core/record.js';
import { parseExposition } from '../../src/scrape/parser.js';
import { PromqlSource, type PromqlSample } from '../../src/scrape/promql.js';
import { snapshotSignals } from '../../src/scrape/signals.js';
import { SIM_PROFILES } from '../../src/sim/profiles.js';
import { spawnSimulator, type SpawnedSimulator } from '../../src/sim/spawn.js';

const PROMETHEUS = '/usr/bin/prometheus';
const HAVE = existsSync(PROMETHEUS);
if (!HAVE) console.warn(`promql-sim: skipped, ${PROMETHEUS} is missing (apt-get install prometheus)`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A simulator's own generation-token counter, read from its /metrics. */
async function simGenerationTokens(sim: SpawnedSimulator): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sim.port}/metrics`)).text();
  return snapshotSignals(parseExposition(text)).counters.generation_tokens_total ?? NaN;
}

describe.skipIf(!HAVE)('server signals from a real Prometheus scraping two replicas', () => {
  let dir = '';
  let prom: ChildProcess | null = null;
  let promLog = '';
  let promUrl = '';
  const sims: SpawnedSimulator[] = [];

  async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const j = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return j.status === 'success' ? j.data.result : [];
  }

  beforeAll(async () => {
    // a small batch (2 sequences) so that ten users keep a queue on each replica
    const profile = { ...SIM_PROFILES['default']!, name: 'promql-two-seqs', maxNumSeqs: 2 };
    sims.push(...(await Promise.all([spawnSimulator({ profile, seed: 1 }), spawnSimulator({ profile, seed: 2 })])));
    dir = mkdtempSync(join(tmpdir(), 'inferload-promql-'));
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const targets = sims.map((s) => `'127.0.0.1:${s.port}'`).join(', ');
    const job = (name: string, path: string): string[] => [
      `  - job_name: ${name}`,
      '    scrape_interval: 1s',
      '    scrape_timeout: 900ms',
      `    metrics_path: ${path}`,
      '    static_configs:',
      `      - targets: [${targets}]`,
    ];
    writeFileSync(
      join(dir, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', 'scrape_configs:', ...job('sim-vllm', '/metrics'), ...job('sim-gpu', '/gpu/metrics'), ''].join('\n'),
    );
    prom = spawn(
      PROMETHEUS,
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const child = prom;
    process.once('exit', () => child.kill('SIGKILL'));
    prom.stdout!.on('data', (d: Buffer) => (promLog = (promLog + d.toString()).slice(-4000)));
    prom.stderr!.on('data', (d: Buffer) => (promLog = (promLog + d.toString()).slice(-4000)));
    // ready, and both replicas' endpoints scraped at least once
    const end = Date.now() + 20_000;
    for (;;) {
      const up = await query('count(up{job=~"sim-.*"} == 1) and count(vllm:num_requests_waiting) == 2').catch(() => []);
      if (up.length === 1 && Number(up[0]!.value[1]) === 4) break;
      if (prom.exitCode !== null || Date.now() > end) throw new Error(`prometheus did not scrape the simulators:\n${promLog}`);
      await sleep(200);
    }
  }, 30_000);

  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise<void>((resolve) => prom!.once('exit', () => resolve()));
      prom.kill('SIGTERM');
      await Promise.race([exited, sleep(3_000)]);
      if (prom.exitCode === null) prom.kill('SIGKILL');
    }
    await Promise.all(sims.map((s) => s.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sees both replicas\' queues; the summed generation-token rate and count agree with the simulators\' own', async () => {
    const instances = sims.map((s) => `127.0.0.1:${s.port}`);
    const samples: { wallMs: number; s: PromqlSample }[] = [];
    const src = new PromqlSource(
      { url: promUrl, selector: '{job=~"sim-.*"}', intervalS: 1, replicaLabel: 'instance' },
      runClock(),
      { onSample: (s) => samples.push({ wallMs: Date.now(), s: s as PromqlSample }) },
      1,
    );
    const base = (await Promise.all(sims.map(simGenerationTokens))).reduce((a, b) => a + b, 0);
    await src.start();

    // ten users on each replica, a closed loop of 32-token completions, for 10 s
    const backends = sims.map(
      (sim) => new OpenAIBackend({ baseUrl: sim.url, model: 'm', endpoint: 'completions', ignoreEos: true, minTokens: false, temperature: 0, idleTimeoutS: 10, clock: runClock() }),
    );
    const loadFrom = Date.now();
    const stopAt = loadFrom + 10_000;
    let id = 0;
    let failed = 0;
    const user = async (backend: OpenAIBackend): Promise<void> => {
      while (Date.now() < stopAt) {
        const r = await new Promise<RequestRecord>((resolve) => backend.send({ prompt: 'the quick brown fox jumps', maxTokens: 32, promptTokens: 6 }, new RequestRecord(id++, 0, 6, false), resolve));
        if (!r.ok) failed++;
      }
    };
    const load = Promise.all(backends.flatMap((b) => Array.from({ length: 10 }, () => user(b))));
    // the simulators' own rate over the steady part (the queues fill within a second)
    await sleep(1_500);
    const t0 = Date.now();
    const c0 = (await Promise.all(sims.map(simGenerationTokens))).reduce((a, b) => a + b, 0);
    await sleep(Math.max(0, stopAt - 300 - Date.now()));
    const t1 = Date.now();
    const c1 = (await Promise.all(sims.map(simGenerationTokens))).reduce((a, b) => a + b, 0);
    await load;
    await Promise.all(backends.map((b) => b.close()));
    expect(failed).toBe(0);
    // Prometheus scrapes every second: give it the last values, then the last round
    await sleep(2_500);
    const final = (await Promise.all(sims.map(simGenerationTokens))).reduce((a, b) => a + b, 0);
    await src.stop();

    const info = src.info()[0]! as ReturnType<PromqlSource['info']>[0] & Record<string, unknown>;
    expect(info.failures, String(info.last_error)).toBe(0);
    expect(info).toMatchObject({ profiles: ['vllm', 'dcgm'], prometheus_scrape_interval_s: 1, rate_window_s: 4, replicas: 2 });

    // both replicas' queues, in one and the same round
    const ok = samples.filter((x) => x.s.ok);
    const queue = (x: PromqlSample, inst: string): number => x.replicas.find((r) => r.replica === inst)?.signals.queue_depth ?? 0;
    expect(ok.some((x) => instances.every((inst) => queue(x.s, inst) > 0)), JSON.stringify(ok.map((x) => x.s.replicas))).toBe(true);
    const reps = src.replicas();
    expect(reps.map((r) => r.replica).sort()).toEqual([...instances].sort());
    for (const r of reps) {
      expect(r.queue_depth_max).toBeGreaterThan(0);
      expect(r.requests_running_max).toBeGreaterThan(0);
      expect(r.generation_tokens).toBeGreaterThan(0);
      expect(r.generation_share).toBeGreaterThan(0.3);
      expect(r.series.some((p) => (p.queue_depth ?? 0) > 0)).toBe(true);
    }
    // the sum is the replicas' sum
    const during = ok.filter((x) => x.wallMs >= t0 + 4_000 && x.wallMs <= t1);
    for (const x of during) {
      const perReplica = x.s.replicas.reduce((a, r) => a + (r.signals.queue_depth ?? 0), 0);
      expect(x.s.signals.queue_depth).toBe(perReplica);
    }

    // the summed rate against the simulators' own counters over the steady part
    const direct = (c1 - c0) / ((t1 - t0) / 1000);
    const rates = during.map((x) => x.s.signals.generation_tokens_per_s).filter((v): v is number => v !== undefined);
    expect(rates.length).toBeGreaterThanOrEqual(2);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    expect(direct).toBeGreaterThan(50);
    expect(Math.abs(mean - direct) / direct, `PromQL ${mean.toFixed(1)} tok/s vs the simulators' ${direct.toFixed(1)}`).toBeLessThan(0.25);
    // and the count over the run, first round to last, is theirs exactly
    expect(src.serverGenerationTokens()).toBe(final - base);

    // server histograms come through, and each replica's GPU is its own (same index, same Hostname)
    expect(ok.some((x) => (x.s.signals.server_ttft_s_p95 ?? 0) > 0)).toBe(true);
    expect(src.gpuCount()).toBe(2);
    const gpus = ok[ok.length - 1]!.s.perGpu;
    expect(gpus.map((g) => g.gpu).sort()).toEqual(instances.map((i) => `${i}/0`).sort());
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(2);
  }, 40_000);
});
