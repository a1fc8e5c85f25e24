// Sessions, classes and model mixes through the real binary against the simulator: the results'
// slices and the verdict (a class that breaks its own SLO fails the run), requests.jsonl's fields,
// the reports, the simulator serving the mix as LoRA adapters, and a two-class sweep in which the
// class with the tighter SLO binds and the results and report say so.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/results/types.js';
import { inferload, tmp } from '../helpers/cli.js';

const readJson = (file: string): RunResult => JSON.parse(readFileSync(file, 'utf8')) as RunResult;
const readJsonl = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('sessions, classes and models (the real binary, the simulator)', () => {
  it('a run: slices that add up, a class SLO that fails the run (99), every request labelled, adapters served', async () => {
    const d = tmp();
    const scenario = join(d, 'mix.yaml');
    writeFileSync(
      scenario,
      [
        'name: mix',
        'seed: 7',
        'target:',
        '  models: [{name: meta-llama/Llama-3.1-8B-Instruct, weight: 0.5}, {name: my-lora, weight: 0.5}]',
        'load: {executor: constant-arrival-rate, rate: 6, duration: 3s, maxInFlight: 500, gracefulStop: 10s}',
        'workload:',
        '  tokenizer: llama3',
        '  outputTokens: {dist: fixed, value: 8}',
        '  sharedPrefix: {groups: 2, prefixTokens: 128, share: 1}',
        '  sessions: {turns: 3, thinkTime: 100ms}',
        '  classes:',
        '    - {name: chat, weight: 0.5, promptTokens: {dist: fixed, value: 32}, slo: {ttft_ms: ["p(95)<60000"]}}',
        '    - {name: impossible, weight: 0.5, promptTokens: {dist: fixed, value: 64}, slo: {ttft_ms: ["p(95)<0.001"]}}',
        'slo:',
        '  error_ratio: ["rate<0.01"]',
      ].join('\n'),
    );
    const out = join(d, 'out');
    const r = await inferload(['run', scenario, '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(99);
    const res = readJson(join(out, 'results.json'));
    // the run's own SLO passes; the class's fails the run
    expect(res.slo.map((v) => [v.name, v.class ?? null, v.passed])).toEqual([
      ['error_ratio: rate<0.01', null, true],
      ['class chat: ttft_ms: p(95)<60000', 'chat', true],
      ['class impossible: ttft_ms: p(95)<0.001', 'impossible', false],
    ]);
    const s = res.summary.requests;
    expect(s.failed).toBe(0);
    const sum = (list: { summary: RunResult['summary'] }[]): number => list.reduce((n, x) => n + x.summary.requests.completed, 0);
    expect(sum(Object.values(res.classes!))).toBe(s.completed);
    expect(sum(res.turns!)).toBe(s.completed);
    expect(sum(Object.values(res.models!))).toBe(s.completed);
    expect(res.turns!.map((t) => t.turn)).toEqual([1, 2, 3]);
    expect(Object.keys(res.models!).sort()).toEqual(['meta-llama/Llama-3.1-8B-Instruct', 'my-lora']);
    // goodput by each request's own class: no impossible-class request is good
    expect(s.good).toBe(res.classes!.chat!.summary.requests.completed);
    expect(res.classes!.impossible!.summary.requests.good).toBe(0);
    // every turn's prompt planned exactly (history, replies and template), the server counting with llama3
    expect(res.summary.tokens.prompt_planned_vs_server!.mismatches).toBe(0);
    expect(res.sessions!.started).toBe(18);
    expect(res.sessions!.broken).toBe(0);
    const lines = readJsonl(join(out, 'requests.jsonl'));
    expect(lines).toHaveLength(s.sent);
    for (const l of lines) {
      expect(['chat', 'impossible']).toContain(l.class);
      expect(typeof l.session).toBe('number');
      expect([1, 2, 3]).toContain(l.turn);
      expect(['meta-llama/Llama-3.1-8B-Instruct', 'my-lora']).toContain(l.model);
      expect(l.ok).toBe(true);
    }
    // a session keeps its class and model
    const bySession = new Map<number, Record<string, unknown>[]>();
    for (const l of lines) bySession.set(l.session as number, [...(bySession.get(l.session as number) ?? []), l]);
    for (const list of bySession.values()) {
      expect(new Set(list.map((l) => l.class)).size).toBe(1);
      expect(new Set(list.map((l) => l.model)).size).toBe(1);
    }
    // later turns find their history cached
    const cached = (turn: number): number => res.turns!.find((t) => t.turn === turn)!.summary.prefix!.cached_token_ratio!;
    expect(cached(3)).toBeGreaterThan(cached(1));
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('Request classes');
    expect(md).toContain('Turns');
    expect(md).toContain('my-lora');
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toContain('impossible');
  }, 60_000);

  it('a two-class sweep: the class with the tighter SLO binds, and the results and report say so', async () => {
    const d = tmp();
    const scenario = join(d, 'two-class.yaml');
    writeFileSync(
      scenario,
      [
        'name: two-class',
        'load: {executor: constant-arrival-rate, rate: 4, duration: 3s, maxInFlight: 2000, gracefulStop: 5s}',
        'workload:',
        '  outputTokens: {dist: fixed, value: 64}',
        '  classes:',
        '    - {name: tight, weight: 0.5, promptTokens: {dist: fixed, value: 1024}, slo: {ttft_ms: ["p(95)<150"]}}',
        '    - {name: loose, weight: 0.5, promptTokens: {dist: fixed, value: 128}, slo: {ttft_ms: ["p(95)<60000"]}}',
        // 16 and 32 req/s are within the default profile's ~30 req/s at these shapes; 64 is far past it
        'sweep: {startRate: 16, maxRate: 200, step: 3s, stepWarmup: 1s, maxSteps: 3, precision: 0.3, arrival: constant}',
      ].join('\n'),
    );
    const out = join(d, 'out');
    const r = await inferload(['sweep', scenario, '--out', out, '--quiet']);
    expect([0, 99], r.stderr).toContain(r.code);
    const res = readJson(join(out, 'results.json'));
    const first = res.capacity!.first_unsustainable!;
    expect(first.binding_classes).toEqual(['tight']);
    expect(res.capacity!.finding).toContain("the tight class's ttft_ms: p(95)<150");
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/Binding class:\*\* tight/);
  }, 90_000);
});
