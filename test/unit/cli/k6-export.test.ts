// `inferload export k6`: the k6 test in TypeScript, type-checked here against @types/k6 (with the
// xk6-sse types written beside it) for every executor; thresholds mapped from the SLOs; the
// requests precomputed from the same workload and seed; Poisson arrivals said to be constant-spaced
// in k6; traces and sessions refused; the k6-operator TestRun. k6 itself is not run here.
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { EnvVar } from 'kubernetes-models/v1/EnvVar';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Volume } from 'kubernetes-models/v1/Volume';
import { VolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { ScenarioSpec } from '../../../src/core/types.js';
import { exportK6, integerRates, k6Duration, k6Scenario, literal, runExportK6Command, thresholdsOf } from '../../../src/cli/k6-export.js';
import { Workload } from '../../../src/workload/workload.js';
import { tmp } from '../../helpers/cli.js';
import { testSpec } from '../../helpers/spec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const arrivalCommon = { timeUnitS: 1, burstiness: 1, maxInFlight: 500, gracefulStopS: 30 };

/** One scenario per executor, each with something of its own to map. */
const SPECS: Record<string, ScenarioSpec> = {
  'constant-arrival-rate': testSpec(
    { executor: 'constant-arrival-rate', rate: 2.5, durationS: 90, ...arrivalCommon, arrival: 'poisson' },
    {
      warmupS: 10,
      target: { url: 'http://vllm:8000/v1', model: 'base', endpoint: 'chat', metrics: [], timeoutS: 60, models: [{ name: 'base', weight: 1 }, { name: 'lora-a', weight: 1 }] },
      slo: { ttft_ms: [{ threshold: 'p(95)<500', abortOnFail: false }], error_ratio: [{ threshold: 'rate<0.01', abortOnFail: true }] },
      workload: {
        promptTokens: { dist: 'fixed', value: 16 },
        outputTokens: { dist: 'fixed', value: 4 },
        ignoreEos: true,
        minTokens: true,
        temperature: 0,
        classes: [
          { name: 'chat', weight: 3, promptTokens: { dist: 'fixed', value: 12 }, outputTokens: { dist: 'fixed', value: 8 }, slo: { ttft_ms: [{ threshold: 'p(95)<300', abortOnFail: false }] } },
          { name: 'batch', weight: 1, promptTokens: { dist: 'fixed', value: 64 }, outputTokens: { dist: 'fixed', value: 32 }, slo: {} },
        ],
      },
    },
  ),
  'ramping-arrival-rate': testSpec(
    { executor: 'ramping-arrival-rate', startRate: 0, stages: [{ durationS: 30, target: 10 }, { durationS: 90, target: 10 }, { durationS: 0, target: 2 }, { durationS: 30, target: 2 }], ...arrivalCommon, arrival: 'constant' },
    { slo: { e2e_ms: [{ threshold: 'p(99)<3000', abortOnFail: false }], request_throughput: [{ threshold: 'rate>5', abortOnFail: false }] } },
  ),
  'constant-vus': testSpec(
    { executor: 'constant-vus', vus: 8, durationS: 60, thinkTimeS: 0.5, gracefulStopS: 0 },
    { requests: 100, target: { endpoint: 'completions', metrics: [], timeoutS: 30, apiKeyEnv: 'STAGING_KEY' }, slo: { tpot_ms: [{ threshold: 'p(90)<50', abortOnFail: false }] } },
  ),
  'ramping-vus': testSpec(
    { executor: 'ramping-vus', startVUs: 0, stages: [{ durationS: 300, target: 100 }, { durationS: 600, target: 500 }, { durationS: 300, target: 0 }], thinkTimeS: 0, gracefulStopS: 30 },
    { slo: { itl_ms: [{ threshold: 'p(99)<=100', abortOnFail: false }, { threshold: 'avg<40', abortOnFail: false }], goodput_ratio: [{ threshold: 'rate>=0.99', abortOnFail: false }] } },
  ),
};

/** Type-checks TypeScript files in `dir` as a k6 user would: @types/k6 installed, types: ["k6"], strict. */
function typeCheck(dir: string, files: string[]): Map<string, string[]> {
  // module imports ('k6/metrics') resolve through node_modules/@types beside the script, as after `npm i -D @types/k6`
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const config = {
    compilerOptions: {
      target: 'ES2020',
      module: 'ESNext',
      moduleResolution: 'Bundler',
      lib: ['ES2020'],
      types: ['k6'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      strict: true,
      noUncheckedIndexedAccess: true,
      noImplicitReturns: true,
      noEmit: true,
    },
    files,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, dir);
  expect(parsed.errors).toEqual([]);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const byFile = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? d.file.fileName.slice(dir.length + 1) : '(global)';
    const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
    const text = `${at ? `${at.line + 1}:${at.character + 1} ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    const list = byFile.get(file) ?? [];
    list.push(text);
    byFile.set(file, list);
  }
  return byFile;
}

describe('inferload export k6: the script', () => {
  it('type-checks against @types/k6 for every executor (and a broken copy does not)', async () => {
    const dir = tmp('inferload-k6-tsc-');
    const files: string[] = [];
    for (const [name, spec] of Object.entries(SPECS)) {
      const x = await exportK6(spec, { scriptName: `${name}.ts`, prompts: 5 });
      writeFileSync(join(dir, x.files.script), x.script);
      writeFileSync(join(dir, x.files.data), x.data);
      writeFileSync(join(dir, x.files.sseTypes), x.sseTypes);
      files.push(x.files.script);
      if (name === 'constant-arrival-rate') {
        // the check has teeth: a misspelt option and a wrong handler are caught
        writeFileSync(join(dir, 'broken.ts'), x.script.replace('maxVUs:', 'maxVU:').replace("client.on('event', (ev) =>", "client.on('event', (ev: number) =>"));
        files.push('broken.ts');
      }
    }
    const diagnostics = typeCheck(dir, files);
    for (const name of Object.keys(SPECS)) expect(diagnostics.get(`${name}.ts`), name).toEqual([]);
    expect(diagnostics.get('(global)') ?? []).toEqual([]);
    const broken = diagnostics.get('broken.ts')!.join('\n');
    expect(broken).toMatch(/maxVU/);
    expect(broken).toMatch(/number/);
  }, 60_000);

  it('maps the executors one to one: rates whole per timeUnit, stages, maxVUs from maxInFlight, graceful stop', () => {
    expect(k6Scenario(SPECS['constant-arrival-rate']!)).toEqual({
      executor: 'constant-arrival-rate',
      rate: 5,
      timeUnit: '2s',
      duration: '1m30s',
      preAllocatedVUs: 25,
      maxVUs: 500,
      gracefulStop: '30s',
    });
    expect(k6Scenario(SPECS['ramping-arrival-rate']!)).toEqual({
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      stages: [
        { duration: '30s', target: 10 },
        { duration: '1m30s', target: 10 },
        { duration: '0s', target: 2 },
        { duration: '30s', target: 2 },
      ],
      preAllocatedVUs: 100,
      maxVUs: 500,
      gracefulStop: '30s',
    });
    expect(k6Scenario(SPECS['constant-vus']!)).toEqual({ executor: 'constant-vus', vus: 8, duration: '1m', gracefulStop: '0s' });
    expect(k6Scenario(SPECS['ramping-vus']!)).toEqual({
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '5m', target: 100 },
        { duration: '10m', target: 500 },
        { duration: '5m', target: 0 },
      ],
      gracefulRampDown: '30s',
      gracefulStop: '30s',
    });
    expect(integerRates([0.25, 1.5], 1)).toEqual({ values: [1, 6], timeUnitS: 4 });
    expect(integerRates([20], 60)).toEqual({ values: [20], timeUnitS: 60 });
    expect(integerRates([1 / 3], 1).values[0]! / integerRates([1 / 3], 1).timeUnitS).toBeCloseTo(1 / 3, 6);
    expect([0.5, 1.25, 59, 60, 3600, 86_400 + 61].map(k6Duration)).toEqual(['500ms', '1250ms', '59s', '1m', '1h', '24h1m1s']);
  });

  it('maps the SLOs to thresholds on the script\'s metrics, class SLOs and warm-up as submetrics, and says what k6 cannot judge', () => {
    const spec = testSpec(
      { executor: 'constant-vus', vus: 1, durationS: 10, thinkTimeS: 0, gracefulStopS: 30 },
      {
        slo: {
          ttft_ms: [{ threshold: 'p(99.9)<800', abortOnFail: false }, { threshold: 'count>10', abortOnFail: false }],
          ttft_sent_ms: [{ threshold: 'med<300', abortOnFail: false }],
          itl_per_token_ms: [{ threshold: 'p(95)<20', abortOnFail: false }],
          schedule_lag_ms: [{ threshold: 'p(99)<5', abortOnFail: false }],
          error_ratio: [{ threshold: 'rate<0.05', abortOnFail: true }],
          request_throughput: [{ threshold: 'avg>4', abortOnFail: false }, { threshold: 'min>2', abortOnFail: false }],
          output_token_throughput: [{ threshold: 'rate>=100', abortOnFail: false }],
        },
      },
    );
    const plain = thresholdsOf(spec);
    expect(plain.thresholds).toEqual({
      inferload_ttft: ['p(99.9)<800', 'med<300'],
      inferload_schedule_lag: ['p(99)<5'],
      inferload_errors: [{ threshold: 'rate<0.05', abortOnFail: true, delayAbortEval: '5s' }],
      inferload_completed: ['rate>4'],
      inferload_output_tokens: ['rate>=100'],
    });
    const notes = plain.notes.join('\n');
    expect(notes).toMatch(/ttft_ms: count>10 is not exported: k6 has no count of a trend/);
    expect(notes).toMatch(/itl_per_token_ms: p\(95\)<20 is not exported/);
    expect(notes).toMatch(/request_throughput: min>2 is not exported/);
    expect(notes).toMatch(/ttft_sent_ms: med<300 → inferload_ttft: .*stricter/);
    const withWarmup = thresholdsOf({ ...SPECS['constant-arrival-rate']! });
    expect(withWarmup.thresholds).toEqual({
      'inferload_ttft{warmup:false}': ['p(95)<500'],
      'inferload_errors{warmup:false}': [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '15s' }],
      'inferload_ttft{class:chat,warmup:false}': ['p(95)<300'],
    });
  });

  it('sends the requests inferload would: the same workload and seed, classes and models included', async () => {
    const spec = SPECS['constant-arrival-rate']!;
    const x = await exportK6(spec, { prompts: 40 });
    const entries = JSON.parse(x.data) as { id: number; messages: { content: string }[]; max_tokens: number; prompt_tokens: number; class?: string; model?: string }[];
    expect(entries).toHaveLength(40);
    const w = new Workload(spec.workload, spec.seed, spec.target.endpoint, undefined, undefined, undefined, spec.target.models);
    for (const e of entries) {
      const r = w.request(e.id);
      expect(e.messages).toEqual(r.messages);
      expect([e.max_tokens, e.prompt_tokens, e.class, e.model]).toEqual([r.maxTokens, r.promptTokens, r.className, r.model]);
    }
    expect(new Set(entries.map((e) => e.class))).toEqual(new Set(['chat', 'batch']));
    expect(new Set(entries.map((e) => e.model))).toEqual(new Set(['base', 'lora-a']));
    // the body is built as the client builds it, min_tokens and ignore_eos included
    expect(x.script).toMatch(/const MIN_TOKENS = true as boolean;/);
    expect(x.script).toMatch(/const IGNORE_EOS = true as boolean;/);
    expect(x.script).toContain(`open('./script.requests.json')`);
    // expected arrivals (2.5/s for 90 s = 225) beyond the 40 precomputed: said
    expect(x.warnings.join('\n')).toMatch(/40 distinct requests are precomputed for about 225 arrivals/);
    // by default: the expected arrivals, at most 10 000
    expect(JSON.parse((await exportK6(SPECS['ramping-arrival-rate']!)).data)).toHaveLength(1110);
  });

  it('says that Poisson arrivals are constant-spaced in k6: in the script and in the command\'s output', async () => {
    const x = await exportK6(SPECS['constant-arrival-rate']!, { prompts: 3 });
    expect(x.warnings.join('\n')).toMatch(/load.arrival is poisson: k6's arrival-rate executors space iterations evenly and have no Poisson/);
    expect(x.script).toMatch(/\/\/ - load.arrival is poisson: k6's arrival-rate executors space iterations evenly/);
    const constant = await exportK6(SPECS['ramping-arrival-rate']!, { prompts: 3 });
    expect(constant.warnings.join('\n')).not.toMatch(/poisson/i);

    const dir = tmp('inferload-k6-');
    writeFileSync(join(dir, 'poisson.yaml'), 'name: p\nload: {executor: constant-arrival-rate, rate: 3, duration: 20s, arrival: poisson}\n');
    let out = '';
    let err = '';
    const flags = { out: join(dir, 'k6', 'test.ts'), prompts: '10', seed: '9', set: ['load.rate=4'] };
    const code = await runExportK6Command(join(dir, 'poisson.yaml'), flags, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
    expect(code).toBe(0);
    // the import is told the same scenario, with the same overrides
    expect(out).toContain(`inferload import k6 k6-out.json --scenario ${join(dir, 'poisson.yaml')} --set load.rate=4 --set seed=9 --out DIR`);
    expect(err).toMatch(/warning: load.arrival is poisson/);
    expect(err).toMatch(/not counted .*coordinated-omission correct/);
    expect(out).toMatch(/k6 run --out json=k6-out.json/);
    for (const f of ['test.ts', 'test.requests.json', 'xk6-sse.d.ts', 'test.testrun.yaml']) expect(readFileSync(join(dir, 'k6', f), 'utf8').length, f).toBeGreaterThan(0);
  });

  it('refuses what k6 cannot run with 104: a trace, sessions, the server\'s tokenizer; and a bad --out', async () => {
    const run = async (scenario: string, flags: Parameters<typeof runExportK6Command>[1]): Promise<{ code: number; err: string }> => {
      let err = '';
      const code = await runExportK6Command(scenario, flags, { stdout: () => undefined, stderr: (s) => void (err += s) });
      return { code, err };
    };
    const dir = tmp('inferload-k6-');
    const trace = await run('replay', { out: join(dir, 'a.ts') });
    expect(trace.code).toBe(104);
    expect(trace.err).toMatch(/load.executor: trace cannot be exported: k6 has no executor that starts iterations at given times/);
    const sessions = await run('multi-turn', { out: join(dir, 'b.ts') });
    expect(sessions.code).toBe(104);
    expect(sessions.err).toMatch(/workload.sessions: sessions cannot be exported/);
    const server = await run('smoke', { out: join(dir, 'c.ts'), set: ['workload.tokenizer=server'] });
    expect(server.code).toBe(104);
    expect(server.err).toMatch(/workload.tokenizer: server/);
    expect((await run('smoke', { out: join(dir, 'c.js') })).err).toMatch(/ending in .ts/);
    expect((await run('smoke', {})).code).toBe(104);
    expect((await run('smoke', { out: join(dir, 'd.ts'), prompts: '0' })).err).toMatch(/--prompts: expected an integer/);
  });
});

describe('inferload export k6: the TestRun', () => {
  it('is a k6-operator TestRun (k6.io/v1alpha1) with its script in a ConfigMap, its runners\' output on a claim, the key from a Secret', async () => {
    const x = await exportK6(SPECS['constant-vus']!, { scriptName: 'chat.ts', prompts: 3, parallelism: 4, image: 'ghcr.io/acme/k6-sse:1', namespace: 'load' });
    const docs = parseAllDocuments(x.testRun).map((d) => d.toJS() as Record<string, unknown>).filter((d) => d !== null);
    const pvc = docs.find((d) => d.kind === 'PersistentVolumeClaim')!;
    new PersistentVolumeClaim(pvc as never).validate();
    const tr = docs.find((d) => d.kind === 'TestRun') as {
      apiVersion: string;
      metadata: { name: string; namespace: string };
      spec: {
        parallelism: number;
        script: { configMap: { name: string; file: string } };
        arguments: string;
        runner: { image: string; env: Record<string, unknown>[]; volumes: Record<string, unknown>[]; volumeMounts: Record<string, unknown>[] };
      };
    };
    expect(tr.apiVersion).toBe('k6.io/v1alpha1');
    expect(tr.metadata).toMatchObject({ name: 'inferload-test', namespace: 'load' });
    expect(tr.spec.parallelism).toBe(4);
    expect(tr.spec.script).toEqual({ configMap: { name: 'inferload-test', file: 'chat.ts' } });
    expect(tr.spec.arguments).toBe('--out json=/results/$(POD_NAME).json');
    expect(tr.spec.runner.image).toBe('ghcr.io/acme/k6-sse:1');
    for (const e of tr.spec.runner.env) new EnvVar(e as never).validate();
    for (const v of tr.spec.runner.volumes) new Volume(v as never).validate();
    for (const m of tr.spec.runner.volumeMounts) new VolumeMount(m as never).validate();
    const key = tr.spec.runner.env.find((e) => e.name === 'STAGING_KEY')!;
    expect(key).toEqual({ name: 'STAGING_KEY', valueFrom: { secretKeyRef: { name: 'inferload-test-api-key', key: 'api-key', optional: true } } });
    expect(tr.spec.runner.env.some((e) => e.name === 'POD_NAME')).toBe(true);
    expect((tr.spec.runner.volumes[0] as { persistentVolumeClaim: { claimName: string } }).persistentVolumeClaim.claimName).toBe((pvc.metadata as { name: string }).name);
    // how to make the ConfigMap and collect the output is in its head
    expect(x.testRun).toMatch(/kubectl create configmap inferload-test --from-file=chat.ts --from-file=chat.requests.json -n load/);
    expect(x.testRun).toMatch(/inferload import k6 k6-out.json/);
  });

  it('takes the API key from the Secret --api-key-secret names', async () => {
    const dir = tmp('inferload-k6-');
    const run = (flags: Parameters<typeof runExportK6Command>[1]): Promise<number> => runExportK6Command('smoke', flags, { stdout: () => undefined, stderr: () => undefined });
    expect(await run({ out: join(dir, 'smoke.ts'), prompts: '2', apiKeySecret: 'vllm-key:token', parallelism: '3' })).toBe(0);
    const tr = parseAllDocuments(readFileSync(join(dir, 'smoke.testrun.yaml'), 'utf8'))
      .map((d) => d.toJS() as { kind?: string; spec: { parallelism: number; runner: { env: { name: string }[] } } } | null)
      .find((d) => d?.kind === 'TestRun')!;
    expect(tr.spec.parallelism).toBe(3);
    expect(tr.spec.runner.env.find((e) => e.name === 'OPENAI_API_KEY')).toEqual({ name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: { name: 'vllm-key', key: 'token' } } });
    expect(await run({ out: join(dir, 'x.ts'), apiKeySecret: 'Bad_Name' })).toBe(104);
    expect(await run({ out: join(dir, 'x.ts'), parallelism: '0' })).toBe(104);
  });

  it('writes literals a reader can follow', () => {
    expect(literal({ a: 1, 'b{c:d}': ['x', 2] })).toBe('{ a: 1, "b{c:d}": ["x", 2] }');
    expect(literal({ long: 'x'.repeat(100) })).toBe(`{\n  long: "${'x'.repeat(100)}",\n}`);
  });
});
