// The scenario's input files: workload.dataset (a path, or {format, path, filters}) and
// `executor: trace` (load.file, format, speedup, start, duration); paths relative to the
// scenario file, problems named by field and line, the run flags that fit a trace.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadScenario, parseScenario } from '../../../src/config/load.js';
import { problemsOf } from './problems-of.js';

const dir = mkdtempSync(join(tmpdir(), 'inferload-inputs-'));
writeFileSync(join(dir, 'sg.json'), '[]');
writeFileSync(join(dir, 'trace.csv'), 'TIMESTAMP,ContextTokens,GeneratedTokens\n');

function scenario(name: string, text: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `name: ${name}\n${text}`);
  return path;
}

const RATE = 'load: {executor: constant-arrival-rate, rate: 1, duration: 1m}\n';

describe('workload.dataset', () => {
  test('a mapping: format, path relative to the scenario, filters; the dataset gives output lengths unless outputTokens is written', () => {
    const spec = loadScenario(scenario('sg', `${RATE}workload:\n  dataset: {format: sharegpt, path: sg.json, minPromptTokens: 4, maxPromptTokens: 4096}\n`));
    expect(spec.workload.dataset).toEqual({ format: 'sharegpt', path: join(dir, 'sg.json'), minPromptTokens: 4, maxPromptTokens: 4096, maxEntries: 10_000, outputTokens: 'dataset' });
    const set = loadScenario(scenario('sg2', `${RATE}workload:\n  outputTokens: {dist: fixed, value: 64}\n  dataset: {format: sharegpt, path: sg.json}\n`));
    expect(set.workload.dataset?.outputTokens).toBe('scenario');
    const flag = loadScenario(scenario('sg3', `${RATE}workload:\n  dataset: {format: sharegpt, path: sg.json}\n`), [], { cli: { maxTokens: '32' } });
    expect(flag.workload.dataset?.outputTokens).toBe('scenario');
    // a --set path is the user's own, relative to where they run
    const over = loadScenario(scenario('sg4', `${RATE}workload:\n  dataset: {format: sharegpt, path: sg.json}\n`), [], { set: [`workload.dataset.path=${join(dir, 'sg.json')}`] });
    expect(over.workload.dataset?.path).toBe(join(dir, 'sg.json'));
  });

  test('problems name the field and the line', () => {
    const missing = scenario('m', `${RATE}workload:\n  dataset:\n    format: sharegpt\n    path: nope.json\n`);
    expect(problemsOf(() => loadScenario(missing))).toEqual([{ path: 'workload.dataset.path', message: `no such file: ${join(dir, 'nope.json')} (line 6)` }]);
    const bad = `${RATE}workload:\n  dataset: {format: sharegtp, path: sg.json, minPromptTokens: 50, maxPromptTokens: 10, maxEntries: 0}\n`;
    expect(problemsOf(() => parseScenario(`name: x\n${bad}`, 'x'))).toEqual([
      { path: 'workload.dataset.format', message: 'expected one of sharegpt, openai-chat, prompts, text, found "sharegtp" (a string): did you mean "sharegpt"? (line 4)' },
      { path: 'workload.dataset.maxEntries', message: 'expected an integer from 1 to 1000000, found 0 (a number) (line 4)' },
    ]);
    expect(problemsOf(() => parseScenario(`name: x\n${RATE}workload:\n  dataset: {format: sharegpt, path: sg.json, minPromptTokens: 50, maxPromptTokens: 10}\n`, 'x'))).toEqual([
      { path: 'workload.dataset.minPromptTokens', message: 'minPromptTokens (50) is greater than maxPromptTokens (10): no entry could pass; swap them (line 4)' },
    ]);
    expect(problemsOf(() => parseScenario(`name: x\n${RATE}workload:\n  dataset: {format: text, path: sg.json, maxOutputTokens: 10}\n`, 'x'))).toEqual([
      { path: 'workload.dataset.maxOutputTokens', message: expect.stringMatching(/^a text corpus is cut to workload.promptTokens.*remove it \(line 4\)$/) },
    ]);
    expect(problemsOf(() => parseScenario(`name: x\n${RATE}workload: {dataset: 3}\n`, 'x'))).toEqual([
      { path: 'workload.dataset', message: expect.stringMatching(/^expected a path to a JSONL file, or a mapping like \{format: sharegpt, path: ShareGPT.json\}, found 3/) },
    ]);
  });
});

describe('executor: trace', () => {
  test('file relative to the scenario; format, speedup, start and duration (trace time)', () => {
    const spec = loadScenario(scenario('t', 'load: {executor: trace, file: trace.csv, speedup: 2, start: 10m, duration: 30m}\n'));
    expect(spec.load).toEqual({ executor: 'trace', file: join(dir, 'trace.csv'), speedup: 2, startS: 600, durationS: 1800, maxInFlight: 1000, gracefulStopS: 30 });
    const plain = loadScenario(scenario('t2', 'load: {executor: trace, file: trace.csv, format: azure}\n'));
    expect(plain.load).toEqual({ executor: 'trace', file: join(dir, 'trace.csv'), format: 'azure', speedup: 1, startS: 0, maxInFlight: 1000, gracefulStopS: 30 });
  });

  test('problems: a missing file, a bad speedup, a dataset beside it, a warm-up longer than the window', () => {
    expect(problemsOf(() => loadScenario(scenario('t3', 'load: {executor: trace, file: gone.csv}\n')))).toEqual([
      { path: 'load.file', message: `no such file: ${join(dir, 'gone.csv')} (line 2)` },
    ]);
    expect(problemsOf(() => parseScenario('name: x\nload: {executor: trace, file: t.csv, speedup: 0, format: csv}\n', 'x'))).toEqual([
      { path: 'load.format', message: 'expected one of azure, mooncake, jsonl, found "csv" (a string) (line 2)' },
      { path: 'load.speedup', message: 'expected a number > 0, found 0 (a number) (line 2)' },
    ]);
    expect(problemsOf(() => parseScenario('name: x\nload: {executor: trace, file: t.csv}\nworkload: {dataset: p.jsonl}\n', 'x'))).toEqual([
      { path: 'workload.dataset', message: expect.stringMatching(/^a trace replay takes each request's lengths .* from the trace: remove workload.dataset.*\(line 3\)$/) },
    ]);
    expect(problemsOf(() => parseScenario('name: x\nwarmup: 10m\nload: {executor: trace, file: t.csv, duration: 30m, speedup: 4}\n', 'x'))).toEqual([
      { path: 'warmup', message: 'the warm-up (600s) is not shorter than the load (450s): no request would be measured; shorten warmup (line 2)' },
    ]);
    // to the trace's end: the trace tells its length (checked before the run)
    expect(parseScenario('name: x\nwarmup: 10m\nload: {executor: trace, file: t.csv}\n', 'x').warmupS).toBe(600);
  });

  test('run flags: --duration is the window, --concurrency the in-flight cap, --rate does not fit', () => {
    const text = 'load: {executor: trace, file: trace.csv}\n';
    const spec = loadScenario(scenario('t4', text), [], { cli: { duration: '5m', concurrency: '64' } });
    expect(spec.load).toMatchObject({ executor: 'trace', durationS: 300, maxInFlight: 64 });
    expect(problemsOf(() => loadScenario(scenario('t5', text), [], { cli: { rate: '5' } }))).toEqual([
      { path: '--rate', message: expect.stringMatching(/executor is trace, whose arrivals are the trace's own: .*load.speedup/) },
    ]);
  });
});
