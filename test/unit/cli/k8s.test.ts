// `inferload k8s`: the manifests of a sharded run on a Kubernetes Indexed Job. Every object is
// checked against the Kubernetes schemas (kubernetes-models) and the naming rules the schemas
// leave to the API server; the API key is only ever a Secret reference; the pods' command lines,
// with the index Kubernetes puts in, are the ones `run` and `merge` accept. The Dockerfile's
// structure is checked here too (no Docker on this machine).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadScenario, parseScenario } from '../../../src/config/load.js';
import { scenarioHash } from '../../../src/core/shard.js';
import { InferloadError } from '../../../src/core/errors.js';
import { buildProgram } from '../../../src/cli/main.js';
import {
  baseName,
  CPU_S_PER_CHUNK,
  CPU_S_PER_REQUEST,
  GENERATOR_CPU_CEILING,
  isDnsLabel,
  isDnsSubdomain,
  type K8sFlags,
  nameProblems,
  runK8sCommand,
  shardSizing,
  validateManifests,
} from '../../../src/cli/k8s-command.js';
import { tmp } from '../../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TARGET = 'http://vllm.llm.svc.cluster.local:8000/v1';
const BASE_FLAGS: K8sFlags = { shards: '4', image: 'ghcr.io/acme/inferload:0.1.0', target: TARGET, runId: 'r1' };

interface Out {
  code: number;
  stdout: string;
  stderr: string;
  docs: Record<string, unknown>[];
}

async function k8s(scenario: string, flags: K8sFlags = BASE_FLAGS): Promise<Out> {
  let stdout = '';
  let stderr = '';
  const code = await runK8sCommand(scenario, flags, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  const docs = code === 0 && flags.out === undefined ? parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, unknown>) : [];
  return { code, stdout, stderr, docs };
}

const byKind = <T>(docs: Record<string, unknown>[], kind: string): T[] => docs.filter((d) => d.kind === kind) as T[];
const jobs = (docs: Record<string, unknown>[]): { shards: IJob; merge: IJob } => {
  const all = byKind<IJob>(docs, 'Job');
  return {
    shards: all.find((j) => j.metadata!.name!.endsWith('-shards'))!,
    merge: all.find((j) => j.metadata!.name!.endsWith('-merge'))!,
  };
};

/** Checks each object against its Kubernetes schema, as the command does before writing. */
function validate(doc: Record<string, unknown>): void {
  switch (doc.kind) {
    case 'ConfigMap':
      new ConfigMap(doc as never).validate();
      break;
    case 'PersistentVolumeClaim':
      new PersistentVolumeClaim(doc as never).validate();
      break;
    case 'Job':
      new Job(doc as never).validate();
      break;
    default:
      throw new Error(`unexpected kind ${String(doc.kind)}`);
  }
}

/** $(VAR) as the kubelet expands it in command and args: from the container's declared env only. */
function expand(args: string[], env: Record<string, string>, declared: string[]): string[] {
  return args.map((a) =>
    a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => {
      if (!declared.includes(name)) return whole; // left as written: Kubernetes does the same
      return env[name] ?? whole;
    }),
  );
}

describe('inferload k8s: the manifests', () => {
  it('a ConfigMap, a claim, the Indexed Job and the merge Job, each valid against the Kubernetes schemas, names valid, in the namespace', async () => {
    const out = await k8s('sustained-rate', { ...BASE_FLAGS, namespace: 'load-test' });
    expect(out.code, out.stderr).toBe(0);
    expect(out.docs.map((d) => d.kind)).toEqual(['ConfigMap', 'PersistentVolumeClaim', 'Job', 'Job']);
    for (const d of out.docs) {
      expect(() => validate(d)).not.toThrow();
      expect(nameProblems(d as never)).toEqual([]);
      const meta = d.metadata as { name: string; namespace: string; labels: Record<string, string> };
      expect(meta.namespace).toBe('load-test');
      expect(isDnsLabel(meta.name), meta.name).toBe(true);
      expect(meta.name.startsWith('sustained-rate-r1-')).toBe(true);
      expect(meta.labels).toMatchObject({ 'app.kubernetes.io/name': 'inferload', 'app.kubernetes.io/part-of': 'inferload', 'inferload/run-id': 'r1' });
    }
    // what a person reads next: how to apply, and the sizing
    expect(out.stderr).toContain('kubectl -n load-test apply -f -');
    expect(out.stderr).toMatch(/per shard: ~\S+ req\/s, ~\S+ chunks\/s/);
  });

  it('the Indexed Job: N completions in parallel, no retry of a shard, spread over nodes, non-root, sized, the index from the downward API', async () => {
    const { docs } = await k8s('sustained-rate');
    const { shards } = jobs(docs);
    const spec = shards.spec!;
    expect(spec.completionMode).toBe('Indexed');
    expect(spec.completions).toBe(4);
    expect(spec.parallelism).toBe(4);
    expect(spec.backoffLimitPerIndex).toBe(0);
    // a global backoffLimit would fail every shard at the first failed one (and default to 6 retries without per-index limits)
    expect(spec.backoffLimit).toBeUndefined();
    const pod = spec.template.spec!;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    const spread = pod.topologySpreadConstraints![0]!;
    expect(spread.topologyKey).toBe('kubernetes.io/hostname');
    // the selector picks exactly this Job's pods
    for (const [k, v] of Object.entries(spread.labelSelector!.matchLabels!)) expect(spec.template.metadata!.labels![k]).toBe(v);
    const c = pod.containers[0]!;
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.resources!.requests).toMatchObject({ cpu: expect.stringMatching(/^\d+m$/), memory: expect.stringMatching(/^\d+Mi$/) });
    expect(c.resources!.limits).toEqual({ memory: c.resources!.requests!.memory });
    const index = c.env!.find((e) => e.name === 'JOB_COMPLETION_INDEX')!;
    expect(index.valueFrom!.fieldRef!.fieldPath).toBe("metadata.annotations['batch.kubernetes.io/job-completion-index']");
    // the scenario from the ConfigMap, the results from the claim
    const mounts = Object.fromEntries(c.volumeMounts!.map((m) => [m.mountPath, m.name]));
    expect(mounts).toMatchObject({ '/etc/inferload': 'scenario', '/results': 'results' });
    const cm = byKind<IConfigMap>(docs, 'ConfigMap')[0]!;
    expect(pod.volumes!.find((v) => v.name === 'scenario')!.configMap!.name).toBe(cm.metadata!.name);
    const pvc = byKind<{ metadata: { name: string }; spec: { accessModes: string[] } }>(docs, 'PersistentVolumeClaim')[0]!;
    expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
    expect(pod.volumes!.find((v) => v.name === 'results')!.persistentVolumeClaim!.claimName).toBe(pvc.metadata.name);
  });

  it("the ConfigMap holds the scenario the pods load: run's own spec of it with --target, the same scenario hash", async () => {
    const { docs } = await k8s('sustained-rate');
    const cm = byKind<IConfigMap>(docs, 'ConfigMap')[0]!;
    const text = cm.data!['scenario.yaml']!;
    const inPod = parseScenario(text, '/etc/inferload/scenario.yaml');
    const local = loadScenario('sustained-rate', [], { cli: { target: TARGET } });
    expect(inPod.target.url).toBe(TARGET);
    expect(scenarioHash(inPod)).toBe(scenarioHash(local));
    // the file's comments survive the edit
    expect(text).toContain('#');
  });

  it('the pods\' command lines, with the index Kubernetes puts in, are the shard and merge commands run and merge accept', async () => {
    const { docs } = await k8s('sustained-rate', { ...BASE_FLAGS, shards: '3', runId: 'nightly-7' });
    const { shards, merge } = jobs(docs);
    const c = shards.spec!.template.spec!.containers[0]!;
    const declared = c.env!.map((e) => e.name);
    const lines = [0, 1, 2].map((i) => expand([...c.command!, ...c.args!], { JOB_COMPLETION_INDEX: String(i) }, declared));
    for (const [i, line] of lines.entries())
      expect(line).toEqual([
        'inferload', 'run', '/etc/inferload/scenario.yaml', '--shards', '3', '--run-id', 'nightly-7',
        '--start-at', 'sync:/results/nightly-7/start', '--start-timeout', '900s', '--out', `/results/nightly-7/shard-${i}`,
      ]);
    const m = merge.spec!.template.spec!.containers[0]!;
    const mergeLine = [...m.command!, ...m.args!];
    // sustained-rate: 30 min of load, 30 s graceful stop, 900 s to start, 300 s to write
    expect(mergeLine).toEqual(['inferload', 'merge', '/results/nightly-7', '--wait-for', '3', '--timeout', '3030s', '--out', '/results/nightly-7/merged']);
    expect(shards.spec!.activeDeadlineSeconds).toBe(3030);
    expect(merge.spec!.activeDeadlineSeconds).toBeGreaterThan(3030);

    // parsed by the real command line: every flag known, every value where run and merge take it
    const parsed = async (argv: string[]): Promise<{ args: unknown[]; flags: Record<string, unknown> }> => {
      const program = buildProgram(() => undefined);
      program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
      const cmd = program.commands.find((x) => x.name() === argv[1])!;
      cmd.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
      let got: { args: unknown[]; flags: Record<string, unknown> } | undefined;
      cmd.action((...a: unknown[]) => {
        got = { args: a.slice(0, -2), flags: a[a.length - 2] as Record<string, unknown> };
      });
      await program.parseAsync(['node', ...argv]);
      return got!;
    };
    const shard2 = await parsed(lines[2]!);
    expect(shard2.args).toEqual(['/etc/inferload/scenario.yaml']);
    expect(shard2.flags).toMatchObject({ shards: '3', runId: 'nightly-7', startAt: 'sync:/results/nightly-7/start', startTimeout: '900s', out: '/results/nightly-7/shard-2' });
    const merged = await parsed(mergeLine);
    expect(merged.args).toEqual([['/results/nightly-7']]);
    expect(merged.flags).toMatchObject({ waitFor: '3', timeout: '3030s', out: '/results/nightly-7/merged' });
  });

  it('the API key is a Secret reference under the scenario\'s variable, never its value, which appears nowhere', async () => {
    const d = tmp('inferload-k8s-');
    const file = join(d, 'keyed.yaml');
    writeFileSync(file, readFileSync(join(ROOT, 'scenarios', 'smoke.yaml'), 'utf8').replace('target:\n', 'target:\n  apiKeyEnv: LLM_API_KEY\n'));
    const secret = 'sk-live-0123456789abcdefSECRET';
    const saved = { a: process.env.LLM_API_KEY, b: process.env.OPENAI_API_KEY };
    process.env.LLM_API_KEY = secret;
    process.env.OPENAI_API_KEY = secret;
    try {
      const out = await k8s(file, { ...BASE_FLAGS, apiKeySecret: 'llm-credentials:token' });
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout + out.stderr).not.toContain(secret);
      expect(out.stdout + out.stderr).not.toContain(secret.slice(0, 12));
      const c = jobs(out.docs).shards.spec!.template.spec!.containers[0]!;
      const key = c.env!.find((e) => e.name === 'LLM_API_KEY')!;
      expect(key).toEqual({ name: 'LLM_API_KEY', valueFrom: { secretKeyRef: { name: 'llm-credentials', key: 'token' } } });
      expect(key.value).toBeUndefined();
      // the merge needs no key
      expect(jobs(out.docs).merge.spec!.template.spec!.containers[0]!.env).toBeUndefined();
      // no Secret object is written: the person creates it, the command says how
      expect(out.docs.some((x) => x.kind === 'Secret')).toBe(false);
      expect(out.stderr).toContain('create secret generic llm-credentials --from-literal=token=...');

      // without --api-key-secret: the key defaults to the variable's name
      const plain = await k8s('smoke', { ...BASE_FLAGS, apiKeySecret: 'openai' });
      expect(jobs(plain.docs).shards.spec!.template.spec!.containers[0]!.env!.find((e) => e.name === 'OPENAI_API_KEY')!.valueFrom!.secretKeyRef).toEqual({ name: 'openai', key: 'OPENAI_API_KEY' });
      expect(plain.stdout + plain.stderr).not.toContain(secret);

      // a scenario that reads a key, without a Secret for it: refused, not a pod that fails at start
      const none = await k8s(file, BASE_FLAGS);
      expect(none.code).toBe(104);
      expect(none.stderr).toContain('--api-key-secret');
      expect(none.stderr).not.toContain(secret);
    } finally {
      for (const [k, v] of [['LLM_API_KEY', saved.a], ['OPENAI_API_KEY', saved.b]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('credentials in a URL would sit in a ConfigMap in clear: refused, and not echoed', async () => {
    const out = await k8s('smoke', { ...BASE_FLAGS, target: 'https://user:hunter2pass@llm.example.com/v1' });
    expect(out.code).toBe(104);
    expect(out.stderr).toContain('--api-key-secret');
    expect(out.stderr).not.toContain('hunter2pass');
  });

  it('refuses, all at once: no target (N simulators are not one server), no image, a bad shard count, namespace or run id', async () => {
    const noTarget = await k8s('smoke', { ...BASE_FLAGS, target: undefined });
    expect(noTarget.code).toBe(104);
    expect(noTarget.stderr).toContain('built-in simulator');
    const bad = await k8s('smoke', { shards: '0', image: '', namespace: 'Load_Test', runId: 'Run 1', target: TARGET });
    expect(bad.code).toBe(104);
    for (const flag of ['--shards', '--image', '--namespace', '--run-id']) expect(bad.stderr).toContain(`${flag}:`);
    expect((await k8s('smoke', { ...BASE_FLAGS, shards: '100001' })).code).toBe(104);
    const unknown = await k8s('no-such-scenario', { ...BASE_FLAGS, shards: 'four' });
    expect(unknown.stderr).toContain('unknown scenario');
    expect(unknown.stderr).toContain('--shards:');
    // what run --shards would refuse in every pod: a request count split over sessions
    const d = tmp('inferload-k8s-');
    writeFileSync(join(d, 's.yaml'), readFileSync(join(ROOT, 'scenarios', 'multi-turn.yaml'), 'utf8') + '\nrequests: 100\n');
    const sessions = await k8s(join(d, 's.yaml'));
    expect(sessions.code).toBe(104);
    expect(sessions.stderr).toContain('requests: a request count of a run with sessions');
  });

  it('names: derived from the scenario and run id, DNS-1123, cut to fit with a hash', () => {
    expect(baseName('sustained-rate', 'r1')).toBe('sustained-rate-r1');
    expect(baseName('My_Scenario.v2', '20261202-101500-3fa2')).toBe('my-scenario-v2-20261202-101500-3fa2');
    const long = baseName('a-really-long-scenario-name-that-goes-on-and-on-and-on', '20261202-101500-3fa2');
    expect(long.length).toBeLessThanOrEqual(50);
    expect(long.endsWith('-20261202-101500-3fa2')).toBe(true);
    expect(isDnsLabel(`${long}-scenario`)).toBe(true);
    expect(baseName('a-really-long-scenario-name-that-goes-on-and-on-and-ON', 'x')).not.toBe(baseName('a-really-long-scenario-name-that-goes-on-and-on-and-on', 'x'));
    expect(isDnsSubdomain('my.claim-1')).toBe(true);
    expect(isDnsSubdomain('My_claim')).toBe(false);
  });

  it('a default run id: UTC time and a random suffix, a valid name', async () => {
    const out = await k8s('smoke', { ...BASE_FLAGS, runId: undefined });
    expect(out.code, out.stderr).toBe(0);
    const id = (out.docs[0]!.metadata as { labels: Record<string, string> }).labels['inferload/run-id']!;
    expect(id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
  });

  it('--out DIR: one file per object in apply order; an existing claim instead of a new one; stray manifests there refused', async () => {
    const d = tmp('inferload-k8s-');
    const dir = join(d, 'manifests');
    const out = await k8s('smoke', { ...BASE_FLAGS, out: dir, storageClass: 'efs-sc' });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe('');
    expect(readdirSync(dir).sort()).toEqual(['01-configmap.yaml', '02-pvc.yaml', '03-shards-job.yaml', '04-merge-job.yaml']);
    const pvc = parseAllDocuments(readFileSync(join(dir, '02-pvc.yaml'), 'utf8'))[0]!.toJS() as { spec: { storageClassName: string } };
    expect(pvc.spec.storageClassName).toBe('efs-sc');
    for (const f of readdirSync(dir)) for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) validate(doc.toJS() as Record<string, unknown>);

    const shared = join(d, 'shared');
    const withClaim = await k8s('smoke', { ...BASE_FLAGS, out: shared, resultsPvc: 'inferload-results' });
    expect(withClaim.code, withClaim.stderr).toBe(0);
    expect(readdirSync(shared).sort()).toEqual(['01-configmap.yaml', '03-shards-job.yaml', '04-merge-job.yaml']);
    const job = parseAllDocuments(readFileSync(join(shared, '03-shards-job.yaml'), 'utf8'))[0]!.toJS() as IJob;
    expect(job.spec!.template.spec!.volumes!.find((v) => v.name === 'results')!.persistentVolumeClaim!.claimName).toBe('inferload-results');

    // the same directory again, with a claim: its old 02-pvc.yaml would be applied too
    writeFileSync(join(shared, 'other.yaml'), 'kind: ConfigMap\n');
    const stray = await k8s('smoke', { ...BASE_FLAGS, out: shared, resultsPvc: 'inferload-results' });
    expect(stray.code).toBe(104);
    expect(stray.stderr).toContain('other.yaml');
  });

  it('files the scenario names travel in the ConfigMap when small, their paths rewritten to the mount', async () => {
    for (const [name, field, key] of [
      ['chat-sharegpt', ['workload', 'dataset', 'path'], 'sharegpt-sample.json'],
      ['replay', ['load', 'file'], 'mooncake-sample.jsonl'],
    ] as const) {
      const out = await k8s(name);
      expect(out.code, out.stderr).toBe(0);
      const cm = byKind<IConfigMap>(out.docs, 'ConfigMap')[0]!;
      expect(cm.data![key]).toBe(readFileSync(join(ROOT, 'scenarios', 'examples', key), 'utf8'));
      const text = parseAllDocuments(cm.data!['scenario.yaml']!)[0]!;
      expect(text.getIn(field)).toBe(`/etc/inferload/${key}`);
      // the scenario the pods read is still valid
      expect(() => parseScenario(cm.data!['scenario.yaml']!, 'scenario.yaml')).not.toThrow();
    }
  });

  it('a file too large for a ConfigMap is refused with what to do; an absolute path is taken as the pods\' own', async () => {
    const d = tmp('inferload-k8s-');
    writeFileSync(join(d, 'big.jsonl'), `${JSON.stringify({ prompt: 'x'.repeat(500), output_tokens: 8 })}\n`.repeat(600));
    const scenario = (dataset: string): string => {
      const file = join(d, `s-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(
        file,
        [
          'name: dataset',
          'load: {executor: constant-arrival-rate, rate: 5, duration: 10s, maxInFlight: 100, gracefulStop: 10s}',
          `workload: {dataset: {format: prompts, path: ${dataset}}}`,
        ].join('\n'),
      );
      return file;
    };
    const big = await k8s(scenario('big.jsonl'));
    expect(big.code).toBe(104);
    expect(big.stderr).toContain('workload.dataset.path');
    expect(big.stderr).toContain('/results/data/');

    const inPod = await k8s(scenario('/results/data/big.jsonl'));
    expect(inPod.code, inPod.stderr).toBe(0);
    expect(inPod.stderr).toContain('taken as a path inside the pods');
    const cm = byKind<IConfigMap>(inPod.docs, 'ConfigMap')[0]!;
    expect(Object.keys(cm.data!)).toEqual(['scenario.yaml']);

    const missing = await k8s(scenario('nowhere.jsonl'));
    expect(missing.code).toBe(104);
    expect(missing.stderr).toContain('nowhere.jsonl');
  });

  it('a bug of ours does not reach a cluster: a manifest that fails its schema or a name rule is refused (exit 1), nothing written', async () => {
    const { docs } = await k8s('smoke');
    const job = structuredClone(jobs(docs).shards);
    job.spec!.completions = '4' as never;
    await expect(validateManifests([{ file: 'x.yaml', comment: '', object: job }])).rejects.toThrow(/completions must be integer/);
    const named = structuredClone(jobs(docs).shards);
    named.metadata!.name = 'Not_A_Name';
    const err = await validateManifests([{ file: 'x.yaml', comment: '', object: named }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferloadError);
    expect((err as InferloadError).exitCode).toBe(1);
    expect((err as Error).message).toContain('Not_A_Name');
  });
});

describe('inferload k8s: sizing a shard from the load', () => {
  it('open loop: rate × output tokens ÷ N chunks/s; a shard past 80 % of a core asks for more shards', () => {
    // the cluster: 64 GPUs at 30 req/s with 256-token replies
    const spec = parseScenario(
      [
        'name: big',
        'target: {url: "http://x:8000/v1"}',
        'load: {executor: constant-arrival-rate, rate: 1920, duration: 10m, maxInFlight: 60000, gracefulStop: 30s}',
        'workload: {outputTokens: {dist: fixed, value: 256}}',
      ].join('\n'),
      'big.yaml',
    );
    const s8 = shardSizing(spec, 8);
    expect(s8.requestsPerS).toBe(240);
    expect(s8.chunksPerS).toBe(240 * 256);
    const perShard = 240 * 256 * CPU_S_PER_CHUNK + 240 * CPU_S_PER_REQUEST;
    expect(s8.cpuCores).toBeCloseTo(perShard, 9);
    expect(s8.minShards).toBe(Math.ceil((perShard * 8) / GENERATOR_CPU_CEILING));
    expect(s8.minShards).toBe(17);
    expect(s8.notes.join('\n')).toContain('--shards 17');
    const s32 = shardSizing(spec, 32);
    expect(s32.minShards).toBeUndefined();
    expect(s32.cpuCores).toBeLessThan(GENERATOR_CPU_CEILING);
    expect(s32.cpuRequestMilli).toBeGreaterThanOrEqual(Math.ceil(s32.cpuCores * 1000));
    expect(s32.lengthS).toBe(600);
    expect(s32.deadlineS).toBe(900 + 600 + 30 + 300);
  });

  it('closed loop: ⌈users ÷ N⌉ streams at 100 tokens/s each; classes and sessions in the means', () => {
    const soak = loadScenario('soak');
    const s = shardSizing(soak, 5);
    expect(s.streams).toBe(10);
    expect(s.chunksPerS).toBe(1000);
    expect(s.notes.join('\n')).toContain('100 tokens/s');
    // mixed-classes: 0.7 × 160 + 0.2 × 256 + 0.1 × 1024 tokens on average, 8 req/s
    const mixed = shardSizing(loadScenario('mixed-classes'), 2);
    expect(mixed.outputTokens).toBeCloseTo(0.7 * 160 + 0.2 * 256 + 0.1 * 1024, 9);
    expect(mixed.requestsPerS).toBe(4);
    // multi-turn: 2 sessions/s of 5 turns
    expect(shardSizing(loadScenario('multi-turn'), 2).requestsPerS).toBe(5);
  });

  it('a request count sets the length: arrivals at the rate until the N-th', () => {
    const spec = loadScenario('smoke', [], { set: ['requests=100'] });
    // 5 req/s for 5 s make 25; the other 75 at the tail level, 5 req/s
    expect(shardSizing(spec, 1).lengthS).toBeCloseTo(20, 9);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: string[][] = [];
  for (const l of lines) {
    if (/^FROM\s/i.test(l)) stages.push([]);
    stages[stages.length - 1]?.push(l);
  }
  const final = stages[stages.length - 1]!;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[]; bin: Record<string, string> };

  it('two stages on a slim Node image: dev dependencies build, the runtime gets production ones only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s[0]).toMatch(/^FROM node:2[2-9][.\d]*-slim\b/);
    expect(stages[0]!.some((l) => /npm ci\b/.test(l) && !/--omit=dev/.test(l))).toBe(true);
    expect(stages[0]!.some((l) => /npm run build|tsc/.test(l))).toBe(true);
    expect(final.some((l) => /npm ci\b.*--omit=dev/.test(l))).toBe(true);
  });

  it('the runtime has what the package ships (package.json files) and its package.json (type: module)', () => {
    for (const f of pkg.files) expect(final.some((l) => new RegExp(`^COPY\\b.*\\b${f}\\b`).test(l)), f).toBe(true);
    expect(final.some((l) => /^COPY\b.*package\.json/.test(l))).toBe(true);
  });

  it('runs as a non-root user, in /work, with inferload (the package bin) as its entrypoint', () => {
    const users = final.filter((l) => /^USER\s/i.test(l));
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!.split(/\s+/)[1]!;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    // numeric, so that runAsNonRoot can be checked by the kubelet
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(final.indexOf(users[users.length - 1]!)).toBeGreaterThan(final.findIndex((l) => /npm ci/.test(l)));
    expect(final.filter((l) => /^WORKDIR\s/i.test(l)).pop()).toBe('WORKDIR /work');
    expect(final.filter((l) => /^ENTRYPOINT\s/i.test(l)).pop()).toBe('ENTRYPOINT ["inferload"]');
    // `inferload` on the PATH is the package's bin
    expect(final.some((l) => l.includes(pkg.bin.inferload!) && /\/usr\/local\/bin\/inferload/.test(l))).toBe(true);
  });

  it('.dockerignore keeps the local node_modules, builds and VCS out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.git']) expect(ignored).toContain(p);
  });
});
