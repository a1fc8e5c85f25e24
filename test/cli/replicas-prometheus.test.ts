// Two simulator replicas behind no gateway, a real Prometheus scraping both, and one run through
// the binary that spreads its requests over them (target.urls) and takes the server's signals
// from Prometheus (target.prometheus): the run sees both replicas' work. Skipped without Debian's
// prometheus (CI installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/results/types.js';
import { spawnSimulator } from '../../src/sim/spawn.js';
import { inferload, tmp } from '../helpers/cli.js';

const PROMETHEUS = '/usr/bin/prometheus';
const have = existsSync(PROMETHEUS);
if (!have) console.warn(`skipping: ${PROMETHEUS} is not installed (apt-get install prometheus)`);

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

let sims: Awaited<ReturnType<typeof spawnSimulator>>[] = [];
let prom: ChildProcess | null = null;
let promUrl = '';

beforeAll(async () => {
  if (!have) return;
  sims = await Promise.all([spawnSimulator({ seed: 1 }), spawnSimulator({ seed: 2 })]);
  const d = tmp();
  mkdirSync(join(d, 'data'));
  const hosts = sims.map((s) => new URL(s.url).host);
  writeFileSync(join(d, 'prom.yml'), `global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: replicas\n    static_configs: [{targets: ${JSON.stringify(hosts)}}]\n`);
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prom = spawn(PROMETHEUS, [`--config.file=${join(d, 'prom.yml')}`, `--storage.tsdb.path=${join(d, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${promUrl}/-/ready`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}, 30_000);

afterAll(async () => {
  prom?.kill('SIGKILL');
  await Promise.all(sims.map((s) => s.close()));
});

describe.skipIf(!have)('replicas and Prometheus (the real binary)', () => {
  it('a run over two replicas (target.urls) sees both through Prometheus (target.prometheus)', async () => {
    const d = tmp();
    const file = join(d, 'two.yaml');
    writeFileSync(
      file,
      [
        'name: two-replicas',
        'target:',
        `  urls: ${JSON.stringify(sims.map((s) => s.url))}`,
        `  prometheus: {url: "${promUrl}", selector: '{job="replicas"}', interval: 1s}`,
        'load: {executor: constant-arrival-rate, rate: 20, duration: 6s, maxInFlight: 2000, gracefulStop: 10s}',
        'workload: {promptTokens: {dist: fixed, value: 256}, outputTokens: {dist: fixed, value: 128}}',
      ].join('\n'),
    );
    const r = await inferload(['run', file, '--out', join(d, 'out'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(d, 'out', 'results.json'), 'utf8')) as RunResult;
    expect(res.run.target.replicas).toEqual(sims.map((s) => s.url));
    const lines = readFileSync(join(d, 'out', 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { replica: number });
    expect(lines.filter((l) => l.replica === 0).length).toBeGreaterThan(20);
    expect(lines.filter((l) => l.replica === 1).length).toBeGreaterThan(20);
    const replicas = res.server.replicas!;
    expect(replicas.map((x) => x.replica).sort()).toEqual(sims.map((s) => new URL(s.url).host).sort());
    for (const x of replicas) expect(x.generation_tokens).toBeGreaterThan(0);
  }, 60_000);
});
