// workload.sessions, workload.classes and target.models: what a scenario may write, the spec it
// becomes, and every bad value named by its path with the fix.
import { describe, expect, test } from 'vitest';
import { parseScenario } from '../../../src/config/load.js';
import type { ScenarioSpec } from '../../../src/core/types.js';
import { problemsOf } from './problems-of.js';

const parse = (text: string): ScenarioSpec => parseScenario(text, 'test.yaml');
const LOAD = 'name: a\nload: {executor: constant-arrival-rate, rate: 2, duration: 10s}\n';

describe('sessions, classes and models', () => {
  test('become the spec: turns as a distribution, think time in seconds, classes with the workload filled in', () => {
    const spec = parse(
      LOAD +
        'target:\n  models: [{name: base, weight: 3}, {name: my-lora, weight: 1}]\n' +
        'workload:\n  promptTokens: {dist: fixed, value: 50}\n  sessions: {turns: 5, thinkTime: 2s, thinkTimeDist: exponential, historyTokens: 4000, header: x-session-id}\n' +
        '  classes:\n    - {name: chat, weight: 0.7, slo: {ttft_ms: ["p(95)<500"]}}\n    - {name: rag, weight: 0.3, promptTokens: {dist: fixed, value: 4096}, sharedPrefix: {groups: 2, prefixTokens: 100, share: 1}}\n',
    );
    expect(spec.target.models).toEqual([
      { name: 'base', weight: 3 },
      { name: 'my-lora', weight: 1 },
    ]);
    expect(spec.workload.sessions).toEqual({ turns: { dist: 'fixed', value: 5 }, thinkTimeS: 2, thinkTimeDist: 'exponential', historyTokens: 4000, header: 'x-session-id' });
    expect(spec.workload.classes).toEqual([
      { name: 'chat', weight: 0.7, promptTokens: { dist: 'fixed', value: 50 }, outputTokens: { dist: 'fixed', value: 128 }, slo: { ttft_ms: [{ threshold: 'p(95)<500', abortOnFail: false }] } },
      { name: 'rag', weight: 0.3, promptTokens: { dist: 'fixed', value: 4096 }, outputTokens: { dist: 'fixed', value: 128 }, sharedPrefix: { groups: 2, prefixTokens: 100, share: 1 }, slo: {} },
    ]);
    const uniform = parse(LOAD + 'workload:\n  sessions: {turns: {dist: uniform, min: 2, max: 8}}\n');
    expect(uniform.workload.sessions).toEqual({ turns: { dist: 'uniform', min: 2, max: 8 }, thinkTimeS: 0, thinkTimeDist: 'fixed' });
  });

  test('bad values are named by path, with the fix', () => {
    const problems = problemsOf(() =>
      parse(
        LOAD +
          'target:\n  models: [{name: a, weight: 1}, {name: a, weight: 0}]\n' +
          'workload:\n  sessions: {turns: 0, header: authorization}\n  classes:\n' +
          '    - {name: "rag class", weight: 1, slo: {request_throughput: ["p(50)>3"]}}\n    - {name: chat, weight: 1}\n    - {name: chat, weight: 2}\n',
      ),
    );
    expect(problems.map((p) => p.path)).toEqual([
      'target.models[1].weight',
      'target.models[1].name',
      'workload.sessions.turns',
      'workload.sessions.header',
      'workload.classes[0].name',
      'workload.classes[0].slo.request_throughput[0]',
      'workload.classes[2].name',
    ]);
    expect(problems.find((p) => p.path === 'workload.classes[2].name')!.message).toMatch(/"chat" is named twice/);
    expect(problems.find((p) => p.path.endsWith('request_throughput[0]'))!.message).toMatch(/use avg or rate .* not "p\(50\)>3"/);
    expect(problems.find((p) => p.path === 'workload.sessions.header')!.message).toMatch(/a header the client sets itself/);
  });

  test('sessions and classes shape synthetic prompts: refused with a dataset or a trace', () => {
    const withDataset = problemsOf(() => parse(LOAD + 'workload:\n  dataset: prompts.jsonl\n  sessions: {turns: 2}\n  classes: [{name: a, weight: 1}]\n'));
    expect(withDataset.map((p) => p.path)).toEqual(['workload.sessions', 'workload.classes']);
    expect(withDataset[0]!.message).toMatch(/remove workload.sessions, or the dataset/);
    const withTrace = problemsOf(() => parse('name: a\nload: {executor: trace, file: t.csv}\nworkload:\n  sessions: {turns: 2}\n'));
    expect(withTrace.map((p) => p.path)).toEqual(['workload.sessions']);
  });

  test('empty lists are refused', () => {
    const problems = problemsOf(() => parse(LOAD + 'target: {models: []}\nworkload: {classes: []}\n'));
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['target.models', expect.stringMatching(/at least one model/)],
      ['workload.classes', expect.stringMatching(/at least one class/)],
    ]);
  });
});

describe('replicas', () => {
  test('target.urls: the first is the url, balance defaults to least in flight; url and urls together are refused', () => {
    const spec = parse(LOAD + 'target: {urls: ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"]}\n');
    expect(spec.target.url).toBe('http://10.0.0.1:8000/v1');
    expect(spec.target.urls).toEqual(['http://10.0.0.1:8000/v1', 'http://10.0.0.2:8000/v1']);
    expect(spec.target.balance).toBe('least-in-flight');
    const both = problemsOf(() => parse(LOAD + 'target: {url: "http://a:1/v1", urls: ["http://b:1/v1"], balance: round-robin}\n'));
    expect(both.map((p) => p.path)).toEqual(['target.urls']);
    const lone = problemsOf(() => parse(LOAD + 'target: {balance: round-robin}\n'));
    expect(lone.map((p) => p.path)).toEqual(['target.balance']);
  });
});
