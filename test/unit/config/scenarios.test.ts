// Every shipped scenario validates, says what it models, and has the shape cli.md promises.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadScenario, SCENARIOS_DIR, shippedScenarios } from '../../../src/config/load.js';
import type { ScenarioSpec } from '../../../src/core/types.js';

const SHIPPED = ['chat-sharegpt', 'mixed-classes', 'multi-turn', 'replay', 'shared-prefix', 'smoke', 'soak', 'soak-rate', 'spike', 'spike-rate', 'sustained', 'sustained-rate', 'sweep'];

const PRODUCTION_SLO = {
  ttft_ms: [{ threshold: 'p(95)<500', abortOnFail: false }],
  e2e_ms: [
    { threshold: 'p(95)<3000', abortOnFail: false },
    { threshold: 'p(99)<6000', abortOnFail: false },
  ],
};

const RUNBOOK_WORKLOAD = {
  promptTokens: { dist: 'lognormal', mean: 512, stddev: 128, min: 16, max: 4096 },
  outputTokens: { dist: 'fixed', value: 256 },
  ignoreEos: true,
  minTokens: false,
  temperature: 0,
};

describe('shipped scenarios', () => {
  test('are the ones cli.md names, found next to the package', () => {
    expect(shippedScenarios()).toEqual(SHIPPED);
    expect(SCENARIOS_DIR.replace(/\\/g, '/')).toMatch(/\/scenarios\/$/);
  });

  test.each(SHIPPED)('%s validates, is named after its file, and opens with its schema and what it models', (name) => {
    const spec = loadScenario(name);
    expect(spec.name).toBe(name);
    expect(spec.description).toEqual(expect.any(String));
    const lines = readFileSync(join(SCENARIOS_DIR, `${name}.yaml`), 'utf8').split('\n');
    expect(lines[0]).toBe('# yaml-language-server: $schema=../schema/scenario.schema.json');
    expect(lines[1]).toMatch(/^# \S/);
    // No target url: every shipped scenario runs against the built-in simulator unless --target says otherwise.
    expect(spec.target.url).toBeUndefined();
  });

  test('smoke is a few seconds of open loop with small outputs and no warm-up', () => {
    const spec = loadScenario('smoke');
    expect(spec.load).toEqual({
      executor: 'constant-arrival-rate',
      rate: 5,
      durationS: 5,
      timeUnitS: 1,
      arrival: 'constant',
      burstiness: 1,
      maxInFlight: 100,
      gracefulStopS: 10,
    });
    expect(spec.warmupS).toBe(0);
    expect(spec.workload.outputTokens).toEqual({ dist: 'fixed', value: 32 });
    expect(spec.workload.promptTokens).toEqual({ dist: 'uniform', min: 96, max: 160 });
    expect(Object.keys(spec.slo).sort()).toEqual(['e2e_ms', 'error_ratio', 'ttft_ms']);
  });

  test('sustained is k6 --vus 100 --duration 30m with a minute of warm-up', () => {
    const spec = loadScenario('sustained');
    expect(spec.load).toEqual({ executor: 'constant-vus', vus: 100, durationS: 1800, thinkTimeS: 0, gracefulStopS: 30 });
    expect(spec.warmupS).toBe(60);
  });

  test('spike is k6 --stage 5m:100,10m:500,5m:100,5m:0', () => {
    const spec = loadScenario('spike');
    expect(spec.load).toEqual({
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { durationS: 300, target: 100 },
        { durationS: 600, target: 500 },
        { durationS: 300, target: 100 },
        { durationS: 300, target: 0 },
      ],
      thinkTimeS: 0,
      gracefulStopS: 30,
    });
  });

  test('soak is k6 --vus 50 --duration 24h', () => {
    const spec = loadScenario('soak');
    expect(spec.load).toMatchObject({ executor: 'constant-vus', vus: 50, durationS: 86_400 });
  });

  test('the open-loop twins use arrival-rate executors with Poisson arrivals', () => {
    expect(loadScenario('sustained-rate').load).toMatchObject({ executor: 'constant-arrival-rate', arrival: 'poisson', durationS: 1800 });
    expect(loadScenario('soak-rate').load).toMatchObject({ executor: 'constant-arrival-rate', arrival: 'poisson', durationS: 86_400 });
    const spike = loadScenario('spike-rate').load;
    expect(spike.executor).toBe('ramping-arrival-rate');
    if (spike.executor !== 'ramping-arrival-rate') return;
    expect(spike.arrival).toBe('poisson');
    // A sudden step: from the base rate to at least 4x within seconds, held, and back.
    const targets = spike.stages.map((s) => s.target);
    const peak = Math.max(...targets);
    expect(peak).toBeGreaterThanOrEqual(4 * spike.startRate);
    const rise = spike.stages.find((s) => s.target === peak);
    expect(rise?.durationS).toBeLessThanOrEqual(30);
    expect(targets[targets.length - 1]).toBe(spike.startRate);
  });

  test('chat-sharegpt takes ShareGPT prompts and their replies\' lengths, from the shipped sample until given the real file', () => {
    const spec = loadScenario('chat-sharegpt');
    expect(spec.load).toMatchObject({ executor: 'constant-arrival-rate', arrival: 'poisson' });
    expect(spec.target.endpoint).toBe('chat');
    expect(spec.workload.dataset).toEqual({
      format: 'sharegpt',
      path: join(SCENARIOS_DIR, 'examples', 'sharegpt-sample.json'),
      minPromptTokens: 4,
      maxPromptTokens: 4096,
      minOutputTokens: 4,
      maxOutputTokens: 4096,
      maxEntries: 10_000,
      outputTokens: 'dataset',
    });
  });

  test('shared-prefix shares 8 exact 1024-token prefixes over 90 % of requests, the simulator caching them', () => {
    const spec = loadScenario('shared-prefix');
    expect(spec.workload.sharedPrefix).toEqual({ groups: 8, prefixTokens: 1024, share: 0.9 });
    expect(spec.workload.tokenizer).toBe('llama3');
    // left to the run: on because the workload has a sharedPrefix
    expect(spec.simulator.prefixCaching).toBeUndefined();
    expect(spec.load).toMatchObject({ executor: 'constant-arrival-rate', arrival: 'poisson', rate: 10 });
  });

  test('multi-turn holds 5-turn conversations behind shared system prompts', () => {
    const spec = loadScenario('multi-turn');
    expect(spec.workload.sessions).toEqual({ turns: { dist: 'fixed', value: 5 }, thinkTimeS: 5, thinkTimeDist: 'exponential', header: 'x-session-id' });
    expect(spec.workload.sharedPrefix).toEqual({ groups: 4, prefixTokens: 512, share: 1 });
  });

  test('mixed-classes mixes three classes, each its own SLOs, over a base model and two adapters', () => {
    const spec = loadScenario('mixed-classes');
    expect(spec.workload.classes!.map((c) => [c.name, c.weight, Object.keys(c.slo)])).toEqual([
      ['chat', 0.7, ['ttft_ms', 'tpot_ms']],
      ['rag', 0.2, ['ttft_ms']],
      ['generation', 0.1, ['e2e_ms']],
    ]);
    expect(spec.target.models!.map((m) => m.name)).toEqual(['meta-llama/Llama-3.1-8B-Instruct', 'support-lora', 'sql-lora']);
  });

  test('replay replays a trace at its own pace, the shipped Mooncake sample until given another file', () => {
    expect(loadScenario('replay').load).toEqual({
      executor: 'trace',
      file: join(SCENARIOS_DIR, 'examples', 'mooncake-sample.jsonl'),
      speedup: 1,
      startS: 0,
      maxInFlight: 1000,
      gracefulStopS: 30,
    });
    // the built-in simulator caches prefixes for it: the hash_ids' shared blocks show as cache hits
    expect(loadScenario('replay').simulator.prefixCaching).toBe(true);
  });

  test.each(['sustained', 'sustained-rate', 'spike', 'spike-rate', 'soak', 'soak-rate'])(
    '%s carries the runbook workload and production SLOs',
    (name) => {
      const spec: ScenarioSpec = loadScenario(name);
      expect(spec.workload).toEqual(RUNBOOK_WORKLOAD);
      expect(spec.slo).toMatchObject(PRODUCTION_SLO);
      expect(spec.slo['error_ratio']?.[0]).toEqual({ threshold: 'rate<0.001', abortOnFail: false });
    },
  );
});
