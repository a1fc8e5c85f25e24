// Shards of one run through the real binary, as a Kubernetes Indexed Job runs them: N processes,
// each with --shards N and its JOB_COMPLETION_INDEX, meeting on a shared directory (--start-at
// sync:DIR), against one simulator; then the merge Job's command (a directory, --wait-for N). The
// shards together send exactly the one process's schedule; the merge's counts add up exactly and
// its percentiles are those of every shard's requests taken together. Shards of other runs, of
// another scenario, given twice or missing are refused.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/results/types.js';
import { spawnSimulator } from '../../src/sim/spawn.js';
import { inferload, tmp } from '../helpers/cli.js';

let sim: Awaited<ReturnType<typeof spawnSimulator>>;
beforeAll(async () => {
  sim = await spawnSimulator({ seed: 1 });
});
afterAll(async () => {
  await sim.close();
});

const readJson = (file: string): RunResult => JSON.parse(readFileSync(file, 'utf8')) as RunResult;
const readJsonl = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** nearest-rank percentile, as an HDR histogram counts */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function scenario(dir: string, seed = 3): string {
  const file = join(dir, `s${seed}.yaml`);
  writeFileSync(
    file,
    [
      'name: shards',
      `seed: ${seed}`,
      `target: {url: "${sim.url}"}`,
      'load: {executor: constant-arrival-rate, rate: 15, duration: 3s, arrival: poisson, maxInFlight: 1000, gracefulStop: 10s}',
      'workload: {promptTokens: {dist: uniform, min: 32, max: 256}, outputTokens: {dist: fixed, value: 12}}',
      'slo: {ttft_ms: ["p(95)<5000"]}',
    ].join('\n'),
  );
  return file;
}

const N = 3;

describe('shards (the real binary, one simulator)', () => {
  it('N pods of an Indexed Job, a rendezvous, the merge Job: the one schedule, merged exactly', async () => {
    const d = tmp();
    const file = scenario(d);
    const runDir = join(d, 'results', 'run-1');
    const pods = Array.from({ length: N }, (_, i) =>
      inferload(['run', file, '--shards', String(N), '--run-id', 'run-1', '--start-at', `sync:${join(runDir, 'start')}`, '--out', join(runDir, `shard-${i}`), '--quiet'], {
        env: { JOB_COMPLETION_INDEX: String(i) },
      }),
    );
    const merge = inferload(['merge', runDir, '--wait-for', String(N), '--timeout', '2m', '--out', join(runDir, 'merged')]);
    const one = await inferload(['run', file, '--out', join(d, 'one'), '--quiet']);
    const ran = await Promise.all(pods);
    for (const r of ran) expect(r.code, r.stderr).toBe(0);
    expect(one.code, one.stderr).toBe(0);
    const merged = await merge;
    expect(merged.code, merged.stderr).toBe(0);

    const shards = Array.from({ length: N }, (_, i) => readJson(join(runDir, `shard-${i}`, 'results.json')));
    for (const [i, s] of shards.entries()) {
      expect(s.shard).toEqual({ index: i, count: N });
      expect(s.run_id).toBe('run-1');
      // one common start (each shard's wall clock reads it within a few ms)
      expect(Math.abs(Date.parse(s.run.started_at) - Date.parse(shards[0]!.run.started_at))).toBeLessThanOrEqual(5);
    }
    const single = readJson(join(d, 'one', 'results.json'));
    expect(new Set(shards.map((s) => s.scenario_hash))).toEqual(new Set([single.scenario_hash]));
    // the shards' requests together are the one process's schedule: ids, intended times, prompts
    const key = (r: Record<string, unknown>): string => `${String(r.id)}@${String(r.intended_start_ms)}:${String(r.prompt_tokens_planned)}`;
    const shardLines = shards.flatMap((_, i) => readJsonl(join(runDir, `shard-${i}`, 'requests.jsonl')));
    const oneLines = readJsonl(join(d, 'one', 'requests.jsonl'));
    expect(shardLines.map(key).sort()).toEqual(oneLines.map(key).sort());
    // every shard took a part
    for (const s of shards) expect(s.summary.requests.sent).toBeGreaterThan(5);

    const m = readJson(join(runDir, 'merged', 'results.json'));
    expect(m.run_id).toBe('run-1');
    expect(m.merged_shards).toEqual({ count: N, merged: [0, 1, 2], missing: [] });
    expect(m.summary.requests.sent).toBe(single.summary.requests.sent);
    expect(m.summary.requests.completed).toBe(shards.reduce((n, s) => n + s.summary.requests.completed, 0));
    expect(m.summary.tokens.output).toBe(shards.reduce((n, s) => n + s.summary.tokens.output, 0));
    // percentiles of the merge: those of all the shards' requests together, within HDR precision
    const ttfts = shardLines.filter((l) => l.ok === true).map((l) => (l.first_token_ms as number) - (l.intended_start_ms as number));
    for (const p of [50, 90, 99] as const) {
      const exact = percentile(ttfts, p);
      const got = m.summary.latency_ms.ttft[`p${p}` as 'p50' | 'p90' | 'p99']!;
      expect(Math.abs(got - exact), `p${p}`).toBeLessThanOrEqual(Math.max(0.01, exact * 0.002));
    }
    // windows align on the common start: the merge's arrivals per window add the shards'
    const arrivals = (r: RunResult, t: number): number => r.windows.find((w) => w.t_s === t)?.arrivals ?? 0;
    for (const w of m.windows) expect(w.arrivals).toBe(shards.reduce((n, s) => n + arrivals(s, w.t_s), 0));
  }, 120_000);

  it('refuses shards of two runs or two scenarios (104), a shard twice (104), and says which shard is missing (107)', async () => {
    const d = tmp();
    const start = String(Math.floor(Date.now() / 1000) + 3);
    const runShard = (file: string, i: number, runId: string): Promise<unknown> =>
      inferload(['run', file, '--shard', `${i}/2`, '--run-id', runId, '--start-at', start, '--out', join(d, `${runId}-${i}`), '--quiet']);
    const a = scenario(d, 3);
    const b = scenario(d, 4);
    await Promise.all([runShard(a, 0, 'ra'), runShard(a, 1, 'ra'), runShard(a, 0, 'rb'), runShard(b, 1, 'rb')]);
    const res = (name: string): string => join(d, name, 'results.json');
    const twoRuns = await inferload(['merge', res('ra-0'), res('rb-0'), '--out', join(d, 'm1')]);
    expect(twoRuns.code).toBe(104);
    expect(twoRuns.stderr).toContain('is of run "rb"');
    const twoScenarios = await inferload(['merge', res('rb-0'), res('rb-1'), '--out', join(d, 'm2')]);
    expect(twoScenarios.code).toBe(104);
    expect(twoScenarios.stderr).toContain('ran another scenario');
    const twice = await inferload(['merge', res('ra-0'), res('ra-0'), '--out', join(d, 'm3')]);
    expect(twice.code).toBe(104);
    expect(twice.stderr).toContain('give each shard once');
    const missing = await inferload(['merge', res('ra-1'), '--out', join(d, 'm4')]);
    expect(missing.code).toBe(107);
    expect(missing.stderr).toContain('merged 1 of 2 shards: shard 0 missing');
    const short = readJson(join(d, 'm4', 'results.json'));
    expect(short.merged_shards).toEqual({ count: 2, merged: [1], missing: [0] });
    expect(short.status).toBe('failed');
    const ok = await inferload(['merge', res('ra-0'), res('ra-1'), '--out', join(d, 'm5')]);
    expect(ok.code, ok.stderr).toBe(0);
  }, 120_000);

  it('a shard without a common start, or a rendezvous without a run id, is refused before anything starts', async () => {
    const d = tmp();
    const file = scenario(d);
    const noStart = await inferload(['run', file, '--shard', '0/2', '--out', join(d, 'x')]);
    expect(noStart.code).toBe(104);
    expect(noStart.stderr).toContain('--start-at: shards of one run start together');
    const noId = await inferload(['run', file, '--shard', '0/2', '--start-at', `sync:${d}`, '--out', join(d, 'y')]);
    expect(noId.code).toBe(104);
    expect(noId.stderr).toContain('--run-id');
    const both = await inferload(['run', file, '--shard', '0/2', '--shards', '2', '--out', join(d, 'z')]);
    expect(both.code).toBe(104);
    // a closed loop's request count over shards: a shard without a user would wait for ever
    const closed = await inferload(['run', 'smoke', '--set', 'load={executor: constant-vus, vus: 1, duration: 2s}', '--requests', '10', '--shard', '1/2', '--start-at', `sync:${d}/c`, '--run-id', 'c', '--out', join(d, 'c')]);
    expect(closed.code).toBe(104);
    expect(closed.stderr).toContain('needs every shard to keep a user to the end (1 users for 2 shards)');
    // a common start long past: every arrival would leave at once
    const past = await inferload(['run', file, '--start-at', String(Math.floor(Date.now() / 1000) - 3600), '--out', join(d, 'p')]);
    expect(past.code).toBe(107);
    expect(past.stderr).toMatch(/was \d+ s ago/);
  }, 60_000);

  it('a wait for the common start is not part of the run: no idle windows, the health counted from the start', async () => {
    const d = tmp();
    const file = scenario(d);
    const r = await inferload(['run', file, '--start-at', String(Math.floor(Date.now() / 1000) + 10), '--out', join(d, 'w'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const res = readJson(join(d, 'w', 'results.json'));
    // a 3 s load, drained: not the ~8 s of the wait before it as well (whose idle server samples
    // used to fill the run's first windows and add windows of their own)
    expect(res.windows.length).toBeLessThanOrEqual(6);
    expect(Date.parse(res.run.started_at)).toBeGreaterThan(Date.now() - 60_000);
  }, 60_000);
});
