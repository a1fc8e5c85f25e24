// The manifests of `inferload k8s` run here, through the real binary, as the cluster would run
// them: the ConfigMap's files where the pods mount them, the Indexed Job's command line once per
// index with $(JOB_COMPLETION_INDEX) put in (and the variable set, as the Job controller sets it),
// the merge Job's command beside them, all against one simulator; the mounts (/etc/inferload,
// /results) become directories of the test. The merged run is the one process's schedule.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runK8sCommand } from '../../src/cli/k8s-command.js';
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

const N = 3;
const readJson = (file: string): RunResult => JSON.parse(readFileSync(file, 'utf8')) as RunResult;
const requestKeys = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .map((r) => `${String(r.id)}@${String(r.intended_start_ms)}:${String(r.prompt_tokens_planned)}`)
    .sort();

describe('the Kubernetes manifests, run locally', () => {
  it("the Indexed Job's N pod commands and the merge Job's command: the one process's schedule, merged exactly", async () => {
    const d = tmp('inferload-k8s-pods-');
    const scenario = join(d, 'k8s.yaml');
    writeFileSync(
      scenario,
      [
        'name: k8s-pods',
        'seed: 5',
        'load: {executor: constant-arrival-rate, rate: 15, duration: 3s, arrival: poisson, maxInFlight: 1000, gracefulStop: 10s}',
        'workload: {promptTokens: {dist: uniform, min: 32, max: 256}, outputTokens: {dist: fixed, value: 12}}',
        'slo: {ttft_ms: ["p(95)<5000"]}',
      ].join('\n'),
    );
    const manifests = join(d, 'manifests');
    let stderr = '';
    const code = await runK8sCommand(scenario, { shards: String(N), image: 'inferload:test', target: sim.url, runId: 'e2e-1', out: manifests }, { stdout: () => undefined, stderr: (s) => void (stderr += s) });
    expect(code, stderr).toBe(0);
    const objects = readdirSync(manifests).flatMap((f) => parseAllDocuments(readFileSync(join(manifests, f), 'utf8')).map((x) => x.toJS() as Record<string, unknown>));
    const cm = objects.find((o) => o.kind === 'ConfigMap') as unknown as IConfigMap;
    const jobsOf = objects.filter((o) => o.kind === 'Job') as unknown as IJob[];
    const shardJob = jobsOf.find((j) => j.spec!.completionMode === 'Indexed')!;
    const mergeJob = jobsOf.find((j) => j !== shardJob)!;

    // the mounts, as directories here
    const etc = join(d, 'etc-inferload');
    const results = join(d, 'results');
    mkdirSync(etc);
    mkdirSync(results);
    for (const [key, text] of Object.entries(cm.data!)) writeFileSync(join(etc, key), text);
    const local = (args: string[]): string[] => args.map((a) => a.replace(/^\/etc\/inferload(?=\/)/, etc).replace(/(^|:)\/results(?=\/)/, `$1${results}`));

    const shardContainer = shardJob.spec!.template.spec!.containers[0]!;
    expect(shardContainer.command).toEqual(['inferload']);
    expect(shardContainer.env!.map((e) => e.name)).toContain('JOB_COMPLETION_INDEX');
    const pods = Array.from({ length: shardJob.spec!.completions! }, (_, i) => {
      const args = shardContainer.args!.map((a) => a.replaceAll('$(JOB_COMPLETION_INDEX)', String(i)));
      return inferload([...local(args), '--quiet'], { env: { JOB_COMPLETION_INDEX: String(i) } });
    });
    const mergeContainer = mergeJob.spec!.template.spec!.containers[0]!;
    expect(mergeContainer.command).toEqual(['inferload']);
    const merge = inferload(local(mergeContainer.args!));
    // the same scenario file, one process
    const one = await inferload(['run', join(etc, 'scenario.yaml'), '--out', join(d, 'one'), '--quiet']);
    const ran = await Promise.all(pods);
    for (const r of ran) expect(r.code, r.stderr).toBe(0);
    expect(one.code, one.stderr).toBe(0);
    const merged = await merge;
    expect(merged.code, merged.stderr).toBe(0);

    const runDir = join(results, 'e2e-1');
    expect(readdirSync(runDir).sort()).toEqual(['merged', 'shard-0', 'shard-1', 'shard-2', 'start']);
    const shards = [0, 1, 2].map((i) => readJson(join(runDir, `shard-${i}`, 'results.json')));
    const single = readJson(join(d, 'one', 'results.json'));
    for (const [i, s] of shards.entries()) {
      expect(s.shard).toEqual({ index: i, count: N });
      expect(s.run_id).toBe('e2e-1');
      expect(s.scenario_hash).toBe(single.scenario_hash);
    }
    // together the shards sent exactly the one process's requests
    expect(shards.flatMap((_, i) => requestKeys(join(runDir, `shard-${i}`, 'requests.jsonl'))).sort()).toEqual(requestKeys(join(d, 'one', 'requests.jsonl')));
    const m = readJson(join(runDir, 'merged', 'results.json'));
    expect(m.merged_shards).toEqual({ count: N, merged: [0, 1, 2], missing: [] });
    expect(m.summary.requests.sent).toBe(single.summary.requests.sent);
    expect(m.summary.requests.completed).toBe(shards.reduce((n, s) => n + s.summary.requests.completed, 0));
    expect(m.summary.tokens.output).toBe(single.summary.tokens.output);
  }, 120_000);
});
