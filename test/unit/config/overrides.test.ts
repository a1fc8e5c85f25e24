// --set overrides and the run command's flags: typed values, mapping onto fields, and their problems.
import { describe, expect, test } from 'vitest';
import { loadScenario, parseScenario } from '../../../src/config/load.js';
import type { Override } from '../../../src/config/overrides.js';
import { applyOverrides, cliOverrides, parseOverridePath, parseSetArgs } from '../../../src/config/overrides.js';
import { problemsOf } from './problems-of.js';

const set = (path: string, value: string): Override => ({ path, value });

const OPEN = 'name: open\nload: {executor: constant-arrival-rate, rate: 5, duration: 1m}\n';
const CLOSED = 'name: closed\nload: {executor: constant-vus, vus: 10, duration: 1m}\n';

describe('override paths', () => {
  test('dots and indices', () => {
    expect(parseOverridePath('load.rate')).toEqual(['load', 'rate']);
    expect(parseOverridePath('load.stages[1].target')).toEqual(['load', 'stages', 1, 'target']);
    expect(parseOverridePath('load.stages.1.target')).toEqual(['load', 'stages', 1, 'target']);
    expect(parseOverridePath('slo.ttft_ms[0]')).toEqual(['slo', 'ttft_ms', 0]);
  });

  test.each(['', '.load', 'load..rate', 'load.', 'load[x]', 'load rate'])('%j is not a path', (path) => {
    expect(parseOverridePath(path)).toBeUndefined();
  });

  test.each(['__proto__.polluted', 'constructor.prototype.polluted', 'target.__proto__.polluted'])(
    '%s cannot reach a prototype',
    (path) => {
      expect(problemsOf(() => parseScenario(OPEN, 'open.yaml', [set(path, 'yes')]))).toEqual([
        { path: '--set', message: `expected a field path like load.rate or load.stages[0].target, found ${JSON.stringify(path)}` },
      ]);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    },
  );

  test('a __proto__ key in the file is just an unknown key', () => {
    expect(problemsOf(() => parseScenario(`${OPEN}__proto__: {polluted: yes}\n`, 'open.yaml'))).toEqual([
      {
        path: '__proto__',
        message:
          'unknown key `__proto__`: valid keys here are name, description, seed, warmup, window, requests, target, simulator, load, workload, errorBudget, sweep, alerts, slo (line 3)',
      },
    ]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  test('--set arguments split at the first =', () => {
    expect(parseSetArgs(['load.rate=20', 'description=a=b', 'bad', '=x'])).toEqual({
      overrides: [
        { path: 'load.rate', value: '20', origin: '--set' },
        { path: 'description', value: 'a=b', origin: '--set' },
      ],
      problems: [
        { path: '--set', message: 'expected key=value like load.rate=20, found "bad"' },
        { path: '--set', message: 'expected key=value like load.rate=20, found "=x"' },
      ],
    });
  });

  test('applyOverrides creates missing mappings and refuses to index into a scalar', () => {
    const raw: Record<string, unknown> = { load: { rate: 5, stages: [{ target: 1 }] } };
    const result = applyOverrides(raw, [
      set('target.url', 'http://x/v1'),
      set('load.stages[1]', '{duration: 1m, target: 2}'),
      set('load.rate.per', '1s'),
      set('load.stages[5].target', '3'),
    ]);
    expect(raw).toEqual({
      load: { rate: 5, stages: [{ target: 1 }, { duration: '1m', target: 2 }] },
      target: { url: 'http://x/v1' },
    });
    expect(result.problems).toEqual([
      { path: '--set', message: 'cannot apply --set load.rate.per: load.rate is a number, not a mapping or a list' },
      { path: '--set', message: 'cannot apply --set load.stages[5].target: load.stages has 2 items: index 5 is past its end' },
    ]);
  });
});

describe('--set', () => {
  test('values are read as YAML: numbers, booleans, strings, flow collections', () => {
    const spec = parseScenario(OPEN, 'open.yaml', [
      set('load.rate', '20'),
      set('workload.ignoreEos', 'false'),
      set('load.duration', '90s'),
      set('description', 'a run with --set'),
      set('load.arrival', 'gamma'),
      set('load.burstiness', '0.25'),
      set('workload.outputTokens', '{dist: uniform, min: 8, max: 16}'),
      set('slo.ttft_ms', '["p(99)<800"]'),
      set('target.metrics', '[http://127.0.0.1:9400/metrics]'),
    ]);
    expect(spec.load).toMatchObject({ rate: 20, durationS: 90, arrival: 'gamma', burstiness: 0.25 });
    expect(spec.workload.ignoreEos).toBe(false);
    expect(spec.workload.outputTokens).toEqual({ dist: 'uniform', min: 8, max: 16 });
    expect(spec.description).toBe('a run with --set');
    expect(spec.slo).toEqual({ ttft_ms: [{ threshold: 'p(99)<800', abortOnFail: false }] });
    expect(spec.target.metrics).toEqual([{ url: 'http://127.0.0.1:9400/metrics', intervalS: 1 }]);
  });

  test('stages as flow YAML, and one stage field by index', () => {
    const text = 'name: r\nload: {executor: ramping-vus, stages: [{duration: 1m, target: 5}]}\n';
    const spec = parseScenario(text, 'r.yaml', [
      set('load.stages', '[{duration: 30s, target: 10}, {duration: 1m, target: 0}]'),
      set('load.stages[1].target', '2'),
    ]);
    expect(spec.load).toMatchObject({
      stages: [
        { durationS: 30, target: 10 },
        { durationS: 60, target: 2 },
      ],
    });
  });

  test('null removes a key, so --set can switch executors; then --rate applies', () => {
    const spec = parseScenario(CLOSED, 'c.yaml', [], {
      set: ['load.executor=constant-arrival-rate', 'load.vus=null', 'load.thinkTime=~', 'description=', 'load.rate=2'],
      cli: { rate: '7' },
    });
    expect(spec.load).toEqual({
      executor: 'constant-arrival-rate',
      rate: 7,
      durationS: 60,
      timeUnitS: 1,
      arrival: 'constant',
      burstiness: 1,
      maxInFlight: 1000,
      gracefulStopS: 30,
    });
    expect(problemsOf(() => parseScenario(CLOSED, 'c.yaml', [], { set: ['load.executor=constant-arrival-rate', 'load.rate=2'] }))).toEqual([
      { path: 'load.vus', message: 'unknown key `vus`: `vus` belongs to executor constant-vus, not constant-arrival-rate (line 2)' },
    ]);
  });

  test('problems in overridden fields keep the field path and name the --set', () => {
    expect(
      problemsOf(() =>
        parseScenario(OPEN, 'open.yaml', [], {
          set: ['load.rate=fast', 'load.rat=3', 'load..x=1', 'load.stages=[1'],
        }),
      ),
    ).toEqual([
      { path: '--set', message: 'expected a field path like load.rate or load.stages[0].target, found "load..x"' },
      {
        path: '--set',
        message:
          'cannot read the value of --set load.stages as YAML (Flow sequence must end with a ]): ' +
          'write a YAML value like 20, true, "some text" or [{duration: 1m, target: 5}]',
      },
      { path: 'load.rate', message: 'expected a number of arrivals per timeUnit > 0, found "fast" (a string) (from --set load.rate)' },
      { path: 'load.rat', message: 'unknown key `rat`: did you mean `rate`? (from --set load.rat)' },
    ]);
  });
});

describe('flags', () => {
  test('each flag maps onto its field', () => {
    const spec = parseScenario(OPEN, 'open.yaml', [], {
      cli: {
        duration: '2m',
        rate: '12.5',
        concurrency: '64',
        seed: '7',
        requests: '300',
        endpoint: 'completions',
        maxTokens: '48',
        target: 'http://10.0.0.1:8000/v1',
        model: '42',
        apiKeyEnv: 'VLLM_KEY',
        metrics: ['http://10.0.0.1:8000/metrics', 'http://10.0.0.1:9400/metrics'],
      },
    });
    expect(spec.load).toMatchObject({ executor: 'constant-arrival-rate', durationS: 120, rate: 12.5, maxInFlight: 64 });
    expect(spec.seed).toBe(7);
    expect(spec.requests).toBe(300);
    expect(spec.workload.outputTokens).toEqual({ dist: 'fixed', value: 48 });
    expect(spec.target).toEqual({
      url: 'http://10.0.0.1:8000/v1',
      model: '42', // a model name stays a string even when it looks like a number
      endpoint: 'completions',
      apiKeyEnv: 'VLLM_KEY',
      metrics: [
        { url: 'http://10.0.0.1:8000/metrics', intervalS: 1 },
        { url: 'http://10.0.0.1:9400/metrics', intervalS: 1 },
      ],
      timeoutS: 600,
    });
  });

  test('--concurrency is the number of users in a closed loop', () => {
    expect(parseScenario(CLOSED, 'c.yaml', [], { cli: { concurrency: '3', duration: '10s' } }).load).toEqual({
      executor: 'constant-vus',
      vus: 3,
      durationS: 10,
      thinkTimeS: 0,
      gracefulStopS: 30,
    });
  });

  test('flags win over --set, which wins over the file', () => {
    const spec = parseScenario(OPEN, 'open.yaml', [set('load.rate', '9'), set('seed', '3')], { cli: { rate: '11' } });
    expect(spec.load).toMatchObject({ rate: 11 });
    expect(spec.seed).toBe(3);
  });

  test('problems in flagged values are named by the flag', () => {
    expect(
      problemsOf(() =>
        parseScenario(OPEN, 'open.yaml', [], {
          cli: {
            rate: '0',
            duration: '30',
            concurrency: 'lots',
            seed: '-2',
            requests: '1.5',
            endpoint: 'chats',
            maxTokens: '0',
            target: 'localhost:8000',
            apiKeyEnv: 'sk-secret-value',
            metrics: ['not a url'],
          },
        }),
      ),
    ).toEqual([
      { path: '--seed', message: 'expected an integer from 0 to 4294967295, found -2 (a number)' },
      { path: '--requests', message: 'expected an integer >= 1, found 1.5 (a number)' },
      { path: '--target', message: 'expected an http(s) URL like "http://127.0.0.1:8000/v1", found "localhost:8000" (a string)' },
      { path: '--endpoint', message: 'expected one of chat, completions, found "chats" (a string): did you mean "chat"?' },
      {
        path: '--api-key-env',
        message:
          'expected the name of an environment variable like "OPENAI_API_KEY", found a string that is not one (not shown: it may be a key): ' +
          "put the key in an environment variable and give the variable's name",
      },
      {
        path: '--metrics',
        message:
          'expected an http(s) URL of a Prometheus endpoint like "http://127.0.0.1:8000/metrics", found "not a url" (a string)',
      },
      { path: '--rate', message: 'expected a number of arrivals per timeUnit > 0, found 0 (a number)' },
      { path: '--duration', message: 'expected a duration > 0 like "30s" or "5m", found "30" (a string): did you mean "30s"?' },
      { path: '--concurrency', message: 'expected a whole number of requests from 1 to 65535, found "lots" (a string)' },
      { path: '--max-tokens', message: 'expected a whole number of tokens from 1 to 1048576, found 0 (a number)' },
    ]);
  });

  test('--rate needs an arrival-rate executor; --duration and --concurrency do not fit ramping ones', () => {
    expect(problemsOf(() => loadScenario('sustained', [], { cli: { rate: '5' } }))).toEqual([
      {
        path: '--rate',
        message:
          "this scenario's executor is constant-vus, a closed loop of virtual users with no rate: use an arrival-rate executor " +
          '(a scenario with executor: constant-arrival-rate, such as sustained-rate), or --concurrency N to change the number of users',
      },
    ]);
    expect(problemsOf(() => loadScenario('spike', [], { cli: { duration: '1m', concurrency: '5' } }))).toEqual([
      {
        path: '--duration',
        message:
          "this scenario's executor is ramping-vus, whose length is the sum of its stages: change them with " +
          "--set 'load.stages=[{duration: 5m, target: 100}, ...]', or end the run after N arrivals with --requests N",
      },
      {
        path: '--concurrency',
        message:
          "this scenario's executor is ramping-vus, whose numbers of users are its stages: change them with " +
          "--set 'load.stages=[{duration: 5m, target: 100}, ...]'",
      },
    ]);
    expect(problemsOf(() => loadScenario('spike-rate', [], { cli: { rate: '5' } }))).toEqual([
      {
        path: '--rate',
        message:
          "this scenario's executor is ramping-arrival-rate, whose rates are its stages: change them with " +
          "--set 'load.stages=[{duration: 1m, target: 20}, ...]', or use a constant-arrival-rate scenario",
      },
    ]);
    // ramping-arrival-rate: --concurrency caps requests in flight.
    expect(loadScenario('spike-rate', [], { cli: { concurrency: '50' } }).load).toMatchObject({ maxInFlight: 50 });
  });

  test('cliOverrides on its own: the fields, as YAML text', () => {
    expect(cliOverrides({ rate: '20', maxTokens: '64', model: 'llama', metrics: ['http://a/metrics'] }, 'constant-arrival-rate')).toEqual({
      overrides: [
        { path: 'load.rate', value: '20', origin: '--rate' },
        { path: 'workload.outputTokens', value: '{dist: fixed, value: 64}', origin: '--max-tokens' },
        { path: 'target.model', value: '"llama"', origin: '--model' },
        { path: 'target.metrics', value: '["http://a/metrics"]', origin: '--metrics' },
      ],
      problems: [],
    });
    // An unknown executor: the executor-bound flags wait for validation to report the executor.
    expect(cliOverrides({ rate: '20', seed: '2' }, 'constant-vu')).toEqual({
      overrides: [{ path: 'seed', value: '2', origin: '--seed' }],
      problems: [],
    });
  });
});
