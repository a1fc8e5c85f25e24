// parseScenario: defaults, every executor, and problems reported all at once with their paths.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadScenario, parseScenario } from '../../../src/config/load.js';
import type { ScenarioSpec } from '../../../src/core/types.js';
import { problemsOf } from './problems-of.js';

const parse = (text: string): ScenarioSpec => parseScenario(text, 'test.yaml');

describe('defaults', () => {
  test('alert rules: for: as a duration, severity defaults, and bad expressions named by index', () => {
    const spec = parse(
      'name: a\nload: {executor: constant-vus, vus: 1, duration: 10s}\nalerts: {defaults: false, rules: [{name: Q, expr: "queue_depth > 10", for: 1m}]}\n',
    );
    expect(spec.alerts).toEqual({ defaults: false, rules: [{ name: 'Q', expr: 'queue_depth > 10', for_s: 60, severity: 'warning' }] });
    const problems = problemsOf(() =>
      parse('name: a\nload: {executor: constant-vus, vus: 1, duration: 10s}\nalerts: {rules: [{name: Q, expr: "queue_depht >> 10"}]}\n'),
    );
    expect(problems.map((p) => p.path)).toEqual(['alerts.rules[0].expr']);
  });

  test('a metrics endpoint may carry its own scrape interval; the availability SLO reads 99.5% or 0.995', () => {
    const spec = parse(
      'name: a\nload: {executor: constant-vus, vus: 1, duration: 10s}\ntarget: {metrics: [http://127.0.0.1:8000/metrics, {url: http://127.0.0.1:9400/metrics, interval: 5s}]}\nerrorBudget: {availability: 99.5%}\n',
    );
    expect(spec.target.metrics).toEqual([
      { url: 'http://127.0.0.1:8000/metrics', intervalS: 1 },
      { url: 'http://127.0.0.1:9400/metrics', intervalS: 5 },
    ]);
    expect(spec.availabilitySlo).toBe(0.995);
    const problems = problemsOf(() => parse('name: a\nload: {executor: constant-vus, vus: 1, duration: 10s}\nerrorBudget: {availability: 120%}\n'));
    expect(problems.map((p) => p.path)).toEqual(['errorBudget.availability']);
  });

  test('a minimal scenario gets every default', () => {
    const spec = parse('name: minimal\nload: {executor: constant-arrival-rate, rate: 2, duration: 10s}\n');
    expect(spec).toEqual({
      name: 'minimal',
      seed: 1,
      warmupS: 0,
      windowS: 1,
      target: { endpoint: 'chat', metrics: [], timeoutS: 600 },
      simulator: {
        profile: 'default',
        speed: 1,
        faults: { http500Ratio: 0, http429Ratio: 0, stallRatio: 0, stallS: 5, dropRatio: 0, midStreamErrorRatio: 0 },
      },
      load: {
        executor: 'constant-arrival-rate',
        rate: 2,
        durationS: 10,
        timeUnitS: 1,
        arrival: 'constant',
        burstiness: 1,
        maxInFlight: 1000,
        gracefulStopS: 30,
      },
      workload: {
        promptTokens: { dist: 'fixed', value: 128 },
        outputTokens: { dist: 'fixed', value: 128 },
        ignoreEos: true,
        minTokens: false,
        temperature: 0,
      },
      slo: {},
      sweep: { startRate: 1, maxRate: 1000, precision: 0.05, stepS: 30, stepWarmupS: 10, maxSteps: 16, arrival: 'poisson' },
      alerts: { defaults: true, rules: [] },
      availabilitySlo: 0.999,
    });
  });

  test('a full scenario keeps every field, normalised', () => {
    const spec = parse(`
name: full
description: everything set
seed: 42
warmup: 1m30s
window: 500ms
requests: 1000
target:
  url: http://127.0.0.1:8000/v1
  model: my-model
  endpoint: completions
  apiKeyEnv: MY_KEY
  metrics: [http://127.0.0.1:8000/metrics, http://127.0.0.1:9400/metrics]
  timeout: 2m
simulator:
  profile: tp2
  speed: 0.8
  faults: {http500Ratio: 0.01, http429Ratio: 0.02, stallRatio: 0.03, stall: 1.5s, dropRatio: 0.04, midStreamErrorRatio: 0.05}
load:
  executor: constant-vus
  vus: 10
  duration: 5m
  thinkTime: 250ms
  gracefulStop: 1m
workload:
  promptTokens: {dist: normal, mean: 256, stddev: 32, min: 64, max: 512}
  outputTokens: {dist: uniform, min: 16, max: 64}
  ignoreEos: false
  minTokens: true
  temperature: 0.7
slo:
  ttft_ms: ["p(95) < 500"]
  e2e_ms: ["p(95)<3000", {threshold: "p(99)<6000", abortOnFail: true}]
  error_ratio: ["rate<0.001"]
  output_token_throughput: ["avg>100"]
`);
    expect(spec).toEqual({
      name: 'full',
      description: 'everything set',
      seed: 42,
      warmupS: 90,
      windowS: 0.5,
      requests: 1000,
      target: {
        url: 'http://127.0.0.1:8000/v1',
        model: 'my-model',
        endpoint: 'completions',
        apiKeyEnv: 'MY_KEY',
        metrics: [
          { url: 'http://127.0.0.1:8000/metrics', intervalS: 1 },
          { url: 'http://127.0.0.1:9400/metrics', intervalS: 1 },
        ],
        timeoutS: 120,
      },
      simulator: {
        profile: 'tp2',
        speed: 0.8,
        faults: { http500Ratio: 0.01, http429Ratio: 0.02, stallRatio: 0.03, stallS: 1.5, dropRatio: 0.04, midStreamErrorRatio: 0.05 },
      },
      load: { executor: 'constant-vus', vus: 10, durationS: 300, thinkTimeS: 0.25, gracefulStopS: 60 },
      workload: {
        promptTokens: { dist: 'normal', mean: 256, stddev: 32, min: 64, max: 512 },
        outputTokens: { dist: 'uniform', min: 16, max: 64 },
        ignoreEos: false,
        minTokens: true,
        temperature: 0.7,
      },
      slo: {
        // Spaces k6 tolerates are dropped; strings become {threshold, abortOnFail: false}.
        ttft_ms: [{ threshold: 'p(95)<500', abortOnFail: false }],
        e2e_ms: [
          { threshold: 'p(95)<3000', abortOnFail: false },
          { threshold: 'p(99)<6000', abortOnFail: true },
        ],
        error_ratio: [{ threshold: 'rate<0.001', abortOnFail: false }],
        output_token_throughput: [{ threshold: 'avg>100', abortOnFail: false }],
      },
      sweep: { startRate: 1, maxRate: 1000, precision: 0.05, stepS: 30, stepWarmupS: 10, maxSteps: 16, arrival: 'poisson' },
      alerts: { defaults: true, rules: [] },
      availabilitySlo: 0.999,
    });
  });
});

describe('executors', () => {
  test('constant-vus', () => {
    expect(parse('name: a\nload: {executor: constant-vus, vus: 3, duration: 1m}\n').load).toEqual({
      executor: 'constant-vus',
      vus: 3,
      durationS: 60,
      thinkTimeS: 0,
      gracefulStopS: 30,
    });
  });

  test('ramping-vus', () => {
    const text = 'name: a\nload: {executor: ramping-vus, startVUs: 2, stages: [{duration: 30s, target: 10}, {duration: 0s, target: 20}]}\n';
    expect(parse(text).load).toEqual({
      executor: 'ramping-vus',
      startVUs: 2,
      stages: [
        { durationS: 30, target: 10 },
        { durationS: 0, target: 20 },
      ],
      thinkTimeS: 0,
      gracefulStopS: 30,
    });
  });

  test('constant-arrival-rate with gamma arrivals', () => {
    const text =
      'name: a\nload: {executor: constant-arrival-rate, rate: 120, timeUnit: 1m, duration: 2m, arrival: gamma, burstiness: 0.5, maxInFlight: 64, gracefulStop: 5s}\n';
    expect(parse(text).load).toEqual({
      executor: 'constant-arrival-rate',
      rate: 120,
      durationS: 120,
      timeUnitS: 60,
      arrival: 'gamma',
      burstiness: 0.5,
      maxInFlight: 64,
      gracefulStopS: 5,
    });
  });

  test('ramping-arrival-rate', () => {
    const text = 'name: a\nload: {executor: ramping-arrival-rate, stages: [{duration: 1m, target: 2.5}], arrival: poisson}\n';
    expect(parse(text).load).toEqual({
      executor: 'ramping-arrival-rate',
      startRate: 0,
      stages: [{ durationS: 60, target: 2.5 }],
      timeUnitS: 1,
      arrival: 'poisson',
      burstiness: 1,
      maxInFlight: 1000,
      gracefulStopS: 30,
    });
  });
});

describe('problems, all at once', () => {
  test('a scenario with many mistakes reports every one with its path, what was expected and what was found', () => {
    const text = [
      'name: my test', //                                  1
      'warmup: 30', //                                     2
      'target:', //                                        3
      '  url: ftp://example.com', //                       4
      '  endpoint: chats', //                              5
      'load:', //                                          6
      '  executor: ramping-vus', //                        7
      '  stages:', //                                      8
      '    - {duration: 1m, target: 10}', //               9
      '    - {duration: 30, target: -1}', //              10
      '  gracefullStop: 10s', //                          11
      '  rate: 5', //                                     12
      'workload:', //                                     13
      '  outputTokens: {dist: uniform, min: 64, max: 16}', // 14
      '  ignoreEos: "true"', //                           15
      'slo:', //                                          16
      '  ttft_ms: ["p95<500"]', //                        17
      '  error_ratio: ["p(95)<0.01"]', //                 18
      '  ttft: ["p(95)<500"]', //                         19
    ].join('\n');
    expect(problemsOf(() => parse(text))).toEqual([
      {
        path: 'name',
        message:
          'expected a name of letters, digits, ".", "_" and "-" (it becomes part of the output directory), found "my test" (a string): e.g. "my-test" (line 1)',
      },
      { path: 'warmup', message: 'expected a duration like "30s" or "5m", found 30 (a number): add a unit, e.g. "30s" (line 2)' },
      { path: 'target.url', message: 'expected an http(s) URL like "http://127.0.0.1:8000/v1", found "ftp://example.com" (a string) (line 4)' },
      { path: 'target.endpoint', message: 'expected one of chat, completions, found "chats" (a string): did you mean "chat"? (line 5)' },
      {
        path: 'load.stages[1].duration',
        message: 'expected a duration like "30s" or "5m", found 30 (a number): add a unit, e.g. "30s" (line 10)',
      },
      { path: 'load.stages[1].target', message: 'expected a whole number of users from 0 to 65535, found -1 (a number) (line 10)' },
      { path: 'load.gracefullStop', message: 'unknown key `gracefullStop`: did you mean `gracefulStop`? (line 11)' },
      { path: 'load.rate', message: 'unknown key `rate`: `rate` belongs to executor constant-arrival-rate, not ramping-vus (line 12)' },
      { path: 'workload.outputTokens.min', message: 'min (64) is greater than max (16): swap them (line 14)' },
      { path: 'workload.ignoreEos', message: 'expected true or false, found "true" (a string): remove the quotes (line 15)' },
      {
        path: 'slo.ttft_ms[0]',
        message:
          'expected a threshold like "p(95)<500": p(N), avg, min, max, med or count, then <, <=, >, >=, == or !=, then a number, ' +
          'found "p95<500" (a string): did you mean "p(95)<500"? (line 17)',
      },
      {
        path: 'slo.error_ratio[0]',
        message:
          'expected a threshold like "rate<0.001": rate, then <, <=, >, >=, == or !=, then a number, ' +
          'found "p(95)<0.01" (a string): error_ratio is a ratio: rate applies to it, not p(N) (line 18)',
      },
      { path: 'slo.ttft', message: 'unknown metric `ttft`: did you mean `ttft_ms`? (line 19)' },
    ]);
  });

  test('the error names the file and counts the problems', () => {
    expect(() => parseScenario('name: a\nload: {executor: constant-vus, vus: 0, duration: 0s}\n', 'mine.yaml')).toThrow(
      'invalid input in mine.yaml (2 problems):\n' +
        '  - load.vus: expected a whole number of users from 1 to 65535, found 0 (a number) (line 2)\n' +
        '  - load.duration: expected a duration > 0 like "30s" or "5m", found "0s" (a string) (line 2)',
    );
  });

  test('a wrong executor lists the valid ones', () => {
    expect(problemsOf(() => parse('name: a\nload:\n  executor: constant-vu\n  vus: 1\n'))).toEqual([
      {
        path: 'load.executor',
        message:
          'expected one of constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, trace, found "constant-vu" (a string): did you mean "constant-vus"? (line 3)',
      },
    ]);
  });

  test('missing required fields say what they need', () => {
    expect(problemsOf(() => parse('description: nothing else\n'))).toEqual([
      {
        path: 'name',
        message: 'required: expected a name of letters, digits, ".", "_" and "-" (it becomes part of the output directory)',
      },
      { path: 'load', message: 'required: expected a mapping like {executor: constant-arrival-rate, rate: 5, duration: 1m}' },
    ]);
    expect(problemsOf(() => parse('name: a\nload: {executor: constant-arrival-rate}\n'))).toEqual([
      { path: 'load.rate', message: 'required: expected a number of arrivals per timeUnit > 0' },
      { path: 'load.duration', message: 'required: expected a duration > 0 like "30s" or "5m"' },
    ]);
    expect(problemsOf(() => parse('name: a\nload: {}\n'))).toEqual([
      { path: 'load.executor', message: 'required: expected one of constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, trace' },
    ]);
  });

  test('unknown keys: did you mean, where it belongs, k6 names, or the valid keys', () => {
    const text = [
      'name: a',
      'executor: constant-vus',
      'thresholds: {}',
      'load:',
      '  executor: constant-arrival-rate',
      '  rate: 1',
      '  duration: 1m',
      '  Arrival: poisson',
      '  preAllocatedVUs: 10',
      '  vus: 3',
      'workload:',
      '  promptTokens: {dist: fixed, value: 8, stddev: 2}',
      '  zzz: 1',
    ].join('\n');
    expect(problemsOf(() => parse(text))).toEqual([
      { path: 'load.Arrival', message: 'unknown key `Arrival`: did you mean `arrival`? (line 8)' },
      {
        path: 'load.preAllocatedVUs',
        message: 'unknown key `preAllocatedVUs`: inferload caps requests in flight instead: use `maxInFlight` (line 9)',
      },
      { path: 'load.vus', message: 'unknown key `vus`: `vus` belongs to executor constant-vus, not constant-arrival-rate (line 10)' },
      {
        path: 'workload.promptTokens.stddev',
        message: 'unknown key `stddev`: `stddev` belongs to dist normal or lognormal, not fixed (line 12)',
      },
      {
        path: 'workload.zzz',
        message:
          'unknown key `zzz`: valid keys here are promptTokens, outputTokens, ignoreEos, minTokens, dataset, sharedPrefix, sessions, classes, temperature, tokenizer (line 13)',
      },
      { path: 'executor', message: 'unknown key `executor`: `executor` belongs under `load` (line 2)' },
      { path: 'thresholds', message: 'unknown key `thresholds`: inferload calls thresholds `slo` (at the top level) (line 3)' },
    ]);
  });

  test('cross-field checks run beside other problems', () => {
    const text = [
      'name: a',
      'seed: x',
      'load: {executor: constant-arrival-rate, rate: 5, duration: 1m, arrival: poisson, burstiness: 0.5, maxVUs: 9}',
      'workload:',
      '  promptTokens: {dist: lognormal, mean: 8, stddev: 1, min: 16}',
    ].join('\n');
    expect(problemsOf(() => parse(text))).toEqual([
      { path: 'seed', message: 'expected an integer from 0 to 4294967295, found "x" (a string) (line 2)' },
      { path: 'load.maxVUs', message: 'unknown key `maxVUs`: inferload caps requests in flight instead: use `maxInFlight` (line 3)' },
      {
        path: 'load.burstiness',
        message:
          "burstiness shapes only arrival: gamma, and this load's arrival is poisson: set arrival: gamma, or remove burstiness (line 3)",
      },
      {
        path: 'workload.promptTokens.mean',
        message: 'mean (8) lies outside [16, ∞]: most samples would be clamped to the bound (line 5)',
      },
    ]);
  });

  test('a warm-up must leave something to measure, unless requests ends the run', () => {
    const text = (extra: string): string =>
      `name: a\nwarmup: 2m\nseed: x\n${extra}load: {executor: ramping-vus, stages: [{duration: 1m, target: 5}, {duration: 1m, target: 0}]}\n`;
    expect(problemsOf(() => parse(text('')))).toEqual([
      { path: 'seed', message: 'expected an integer from 0 to 4294967295, found "x" (a string) (line 3)' },
      {
        path: 'warmup',
        message: 'the warm-up (120s) is not shorter than the load (120s): no request would be measured; shorten warmup (line 2)',
      },
    ]);
    expect(problemsOf(() => parse(text('requests: 500\n')))).toEqual([
      { path: 'seed', message: 'expected an integer from 0 to 4294967295, found "x" (a string) (line 3)' },
    ]);
  });

  test('a bare number where a length distribution belongs shows the mapping to write', () => {
    expect(problemsOf(() => parse('name: a\nload: {executor: constant-vus, vus: 1, duration: 1m}\nworkload: {outputTokens: 256}\n'))).toEqual([
      {
        path: 'workload.outputTokens',
        message: 'expected a mapping like {dist: fixed, value: 128}, found 256 (a number): write {dist: fixed, value: 256} (line 3)',
      },
    ]);
    expect(problemsOf(() => parse('name: a\nload: 5\n'))).toEqual([
      {
        path: 'load',
        message: 'expected a mapping like {executor: constant-arrival-rate, rate: 5, duration: 1m}, found 5 (a number) (line 2)',
      },
    ]);
  });

  test('stages: at least one, lasting more than nothing', () => {
    expect(problemsOf(() => parse('name: a\nload: {executor: ramping-vus, stages: []}\n'))).toEqual([
      { path: 'load.stages', message: 'expected at least one stage like [{duration: 5m, target: 100}], found an empty list (line 2)' },
    ]);
    expect(problemsOf(() => parse('name: a\nload: {executor: ramping-arrival-rate, stages: [{duration: 0s, target: 5}]}\n'))).toEqual([
      { path: 'load.stages', message: 'the stages last 0s in total: give at least one stage a duration > 0 (line 2)' },
    ]);
  });

  test('thresholds: a single string, a wrong percentile, a wrong aggregation for a latency', () => {
    const text = 'name: a\nload: {executor: constant-vus, vus: 1, duration: 1m}\nslo:\n  e2e_ms: "p(95)<3000"\n  ttft_ms: ["p(101)<5", "rate<1", 7]\n';
    expect(problemsOf(() => parse(text))).toEqual([
      {
        path: 'slo.ttft_ms[0]',
        message:
          'expected a threshold like "p(95)<500": p(N), avg, min, max, med or count, then <, <=, >, >=, == or !=, then a number, ' +
          'found "p(101)<5" (a string): a percentile lies in [0, 100] (line 5)',
      },
      {
        path: 'slo.ttft_ms[1]',
        message:
          'expected a threshold like "p(95)<500": p(N), avg, min, max, med or count, then <, <=, >, >=, == or !=, then a number, ' +
          'found "rate<1" (a string): ttft_ms is a latency: p(N), avg, min, max, med or count applies to it, not rate (line 5)',
      },
      {
        path: 'slo.ttft_ms[2]',
        message: 'expected a threshold like "p(95)<500" or {threshold: "p(95)<500", abortOnFail: true}, found 7 (a number) (line 5)',
      },
      {
        path: 'slo.e2e_ms',
        message: 'expected a list of thresholds like ["p(95)<500"], found "p(95)<3000" (a string): put it in a list: ["p(95)<3000"] (line 4)',
      },
    ]);
  });

  test('an API key written where its variable name belongs is never echoed', () => {
    const problems = problemsOf(() =>
      parse('name: a\ntarget: {apiKeyEnv: sk-live-abcdef0123456789}\nload: {executor: constant-vus, vus: 1, duration: 1m}\n'),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe('target.apiKeyEnv');
    expect(JSON.stringify(problems)).not.toContain('sk-live');
  });
});

describe('YAML and file problems', () => {
  test('a syntax error gives its line and column', () => {
    expect(problemsOf(() => parse('name: a\nload:\n  executor: constant-vus\n vus: 1\n'))).toEqual([
      { path: 'line 4, column 1', message: 'YAML syntax: All mapping items must start at the same column' },
    ]);
  });

  test('duplicate keys are errors', () => {
    expect(problemsOf(() => parse('name: a\nname: b\n'))).toEqual([
      { path: 'line 2, column 1', message: 'YAML syntax: Map keys must be unique' },
    ]);
  });

  test('an empty file or a list is not a scenario', () => {
    expect(problemsOf(() => parse(''))).toEqual([
      {
        path: '(root)',
        message: 'the file is empty: expected a mapping of scenario fields (name, load, workload, ...), with at least name and load',
      },
    ]);
    expect(problemsOf(() => parse('- name: a\n'))).toEqual([
      { path: '(root)', message: 'expected a mapping of scenario fields (name, load, workload, ...), found a list of 1 item' },
    ]);
  });

  test('a dataset is relative to the scenario file, and must exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-config-'));
    writeFileSync(join(dir, 'prompts.jsonl'), '{"prompt": "hi", "output_tokens": 4}\n');
    const body = 'load: {executor: constant-vus, vus: 1, duration: 1m}\n';
    writeFileSync(join(dir, 'good.yaml'), `name: good\n${body}workload: {dataset: prompts.jsonl}\n`);
    writeFileSync(join(dir, 'bad.yaml'), `name: bad\n${body}workload: {dataset: missing.jsonl}\n`);
    // a string is today's prompt JSONL, whose lines' output_tokens are used
    expect(loadScenario(join(dir, 'good.yaml')).workload.dataset).toEqual({
      format: 'prompts',
      path: join(dir, 'prompts.jsonl'),
      maxEntries: 10_000,
      outputTokens: 'dataset',
    });
    expect(problemsOf(() => loadScenario(join(dir, 'bad.yaml')))).toEqual([
      { path: 'workload.dataset', message: `no such file: ${join(dir, 'missing.jsonl')} (line 3)` },
    ]);
    // parseScenario alone neither resolves nor checks files.
    expect(parseScenario(`name: bad\n${body}workload: {dataset: missing.jsonl}\n`, 'x').workload.dataset?.path).toBe('missing.jsonl');
  });

  test('loadScenario: unknown names list the shipped ones; a missing file is named', () => {
    expect(problemsOf(() => loadScenario('smok'))).toEqual([
      {
        path: 'SCENARIO',
        message:
          'unknown scenario "smok": not a file, and no shipped scenario has that name; ' +
          'shipped: chat-sharegpt, mixed-classes, multi-turn, replay, shared-prefix, smoke, soak, soak-rate, spike, spike-rate, sustained, sustained-rate, sweep; did you mean "smoke"?',
      },
    ]);
    const missing = join(tmpdir(), 'inferload-does-not-exist', 'smoke.yaml');
    expect(problemsOf(() => loadScenario(missing))).toEqual([
      {
        path: 'SCENARIO',
        message: `no such file: ${missing} (from ${process.cwd()}); a shipped scenario has that name: run it by name, \`smoke\``,
      },
    ]);
  });
});
