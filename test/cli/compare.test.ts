// `inferload compare` and `inferload baseline`: exit codes, stdout, the files they write, and the
// messages for bad input. The command functions are called directly (io captured); the real binary
// is spawned too once the commands are registered in cli/main.ts.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Baseline } from '../../src/analysis/baseline.js';
import type { Comparison } from '../../src/analysis/compare.js';
import { runBaselineCommand } from '../../src/cli/baseline-command.js';
import { runCompareCommand } from '../../src/cli/compare-command.js';
import type { BenchmarkActionEntry } from '../../src/report/benchmark-action.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/results/', import.meta.url));
const fx = (name: string): string => join(FIXTURES, `smoke-${name}.json`);
const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-compare-'));

function capture(): { io: { stdout(s: string): void; stderr(s: string): void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (s) => (out += s), stderr: (s) => (err += s) }, out: () => out, err: () => err };
}

async function makeBaseline(dir: string, names: string[]): Promise<string> {
  const path = join(dir, 'baseline.json');
  for (const n of names) {
    const c = capture();
    expect(await runBaselineCommand('add', path, fx(n), {}, c.io)).toBe(0);
  }
  return path;
}

describe('inferload compare (command function)', () => {
  it('same build against one results.json: exit 0, "No significant change" on stdout', async () => {
    const c = capture();
    const code = await runCompareCommand(fx('base-3'), fx('same'), {}, c.io);
    expect(c.err()).toBe('');
    expect(code).toBe(0);
    expect(c.out()).toContain('## inferload compare: smoke');
    expect(c.out()).toContain('**No significant change**');
  });

  it('speed 0.8 against a baseline of three runs: exit 99, and every requested file written', async () => {
    const dir = tmp();
    const baseline = await makeBaseline(dir, ['base-1', 'base-2', 'base-3']);
    const files = {
      markdown: join(dir, 'out', 'compare.md'),
      json: join(dir, 'out', 'compare.json'),
      junit: join(dir, 'out', 'junit.xml'),
      benchmarkJson: join(dir, 'out', 'bench-smaller.json'),
      benchmarkJsonBigger: join(dir, 'out', 'bench-bigger.json'),
    };
    const c = capture();
    const code = await runCompareCommand(baseline, fx('slow'), { ...files, tolerance: '20%' }, c.io);
    expect(c.err()).toBe('');
    expect(code).toBe(99);
    expect(c.out()).toMatch(/\*\*Regression\*\*: \d+ of 16 metrics got worse/);
    expect(c.out()).toMatch(/E2E p50 \+2\d\.\d % \(\d+\.\d ms → \d+\.\d ms\)/);
    expect(readFileSync(files.markdown, 'utf8')).toBe(c.out());

    const json = JSON.parse(readFileSync(files.json, 'utf8')) as Comparison;
    expect(json.schema).toBe('inferload/comparison@1');
    expect(json.verdict).toBe('regression');
    expect(json.noise.method).toBe('run-to-run');
    expect(json.noise.baseline_runs).toBe(3);

    const junit = readFileSync(files.junit, 'utf8');
    expect(junit).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(junit.match(/<testcase /g)).toHaveLength(16);
    expect(junit.match(/<failure /g)).toHaveLength(json.regressions.length);

    // github-action-benchmark: arrays of {name, unit, value, range?, extra?}, one direction per file
    const smaller = JSON.parse(readFileSync(files.benchmarkJson, 'utf8')) as BenchmarkActionEntry[];
    const bigger = JSON.parse(readFileSync(files.benchmarkJsonBigger, 'utf8')) as BenchmarkActionEntry[];
    for (const e of [...smaller, ...bigger]) {
      expect(Object.keys(e).every((k) => ['name', 'unit', 'value', 'range', 'extra'].includes(k))).toBe(true);
      expect(typeof e.name).toBe('string');
      expect(typeof e.unit).toBe('string');
      expect(typeof e.value).toBe('number');
      if (e.range !== undefined) expect(e.range).toMatch(/^± [\d.e-]+$/);
      if (e.extra !== undefined) expect(typeof e.extra).toBe('string');
    }
    expect(smaller.map((e) => e.name)).toContain('smoke: TTFT p95');
    expect(new Set(smaller.map((e) => e.unit))).toEqual(new Set(['ms', 'ratio']));
    expect(bigger.map((e) => e.name)).toEqual(['smoke: request throughput', 'smoke: output token throughput', 'smoke: goodput']);
    const ttft = smaller.find((e) => e.name === 'smoke: TTFT p95')!;
    const slow = JSON.parse(readFileSync(fx('slow'), 'utf8')) as { summary: { latency_ms: { ttft: { p95: number } } } };
    expect(ttft.value).toBe(slow.summary.latency_ms.ttft.p95);
  });

  it('non-comparable runs: exit 104 naming the field', async () => {
    const dir = tmp();
    const other = JSON.parse(readFileSync(fx('same'), 'utf8')) as { run: { workload: { outputTokens: { value: number } } } };
    other.run.workload.outputTokens.value = 256;
    const path = join(dir, 'other.json');
    writeFileSync(path, JSON.stringify(other));
    const c = capture();
    expect(await runCompareCommand(fx('base-1'), path, {}, c.io)).toBe(104);
    expect(c.out()).toBe('');
    expect(c.err()).toMatch(/^inferload: comparing .*other\.json with .*smoke-base-1\.json: invalid input in baseline run .* vs current run .* \(not comparable/);
    expect(c.err()).toContain('run.workload.outputTokens.value: baseline has 32, current has 256');
  });

  it('bad input: exit 104 with a message that names the problem', async () => {
    const dir = tmp();
    const notJson = join(dir, 'x.json');
    writeFileSync(notJson, '{ nope');
    const cases: [string, string, Record<string, string>, RegExp][] = [
      [fx('base-1'), join(dir, 'missing.json'), {}, /CURRENT: cannot read .*missing\.json \(no such file\)/],
      [notJson, fx('same'), {}, /BASELINE: .*x\.json is not JSON/],
      [fx('base-1'), fx('same'), { tolerance: 'lots' }, /--tolerance: expected a percentage >= 0/],
      [fx('base-1'), fx('same'), { tolerance: '-5' }, /--tolerance/],
      [fx('base-1'), fx('same'), { seed: '1.5' }, /--seed/],
    ];
    for (const [b, cur, opts, msg] of cases) {
      const c = capture();
      expect(await runCompareCommand(b, cur, opts, c.io)).toBe(104);
      expect(c.err()).toMatch(msg);
    }
    const wrongSchema = join(dir, 'wrong.json');
    writeFileSync(wrongSchema, JSON.stringify({ schema: 'something/else@1' }));
    const c = capture();
    expect(await runCompareCommand(wrongSchema, fx('same'), {}, c.io)).toBe(104);
    expect(c.err()).toContain('expected "inferload/baseline@1" (a baseline file) or "inferload/results@1"');
    const c2 = capture();
    expect(await runCompareCommand(fx('base-1'), fx('same'), { json: join(dir, 'x.json', 'under-a-file.json') }, c2.io)).toBe(104);
    expect(c2.err()).toMatch(/--json: cannot write/);
  });
});

describe('inferload baseline (command function)', () => {
  it('add creates, appends and keeps the last N; show prints the runs and their spread', async () => {
    const dir = tmp();
    const path = join(dir, 'nested', 'baseline.json');
    const c1 = capture();
    expect(await runBaselineCommand('add', path, fx('base-1'), { maxRuns: '2' }, c1.io)).toBe(0);
    expect(c1.out()).toMatch(/^created .*baseline\.json: added run smoke-\S+, now 1 of at most 2 runs\n$/);
    for (const n of ['base-2', 'base-3']) expect(await runBaselineCommand('add', path, fx(n), {}, capture().io)).toBe(0);
    const b = JSON.parse(readFileSync(path, 'utf8')) as Baseline;
    expect(b.schema).toBe('inferload/baseline@1');
    expect(b.max_runs).toBe(2);
    const ids = ['base-2', 'base-3'].map((n) => (JSON.parse(readFileSync(fx(n), 'utf8')) as { run: { id: string } }).run.id);
    expect(b.runs.map((r) => r.id)).toEqual(ids);

    const again = capture();
    expect(await runBaselineCommand('add', path, fx('base-3'), {}, again.io)).toBe(0);
    expect(again.out()).toMatch(/already in/);

    const show = capture();
    expect(await runBaselineCommand('show', path, undefined, {}, show.io)).toBe(0);
    expect(show.out()).toContain('## inferload baseline: smoke');
    expect(show.out()).toContain(ids[0]);
    expect(show.out()).toContain('**Run-to-run spread**');
    const showJson = capture();
    expect(await runBaselineCommand('show', path, undefined, { json: true }, showJson.io)).toBe(0);
    const parsed = JSON.parse(showJson.out()) as { runs: unknown[]; spread: { metric: string; runs: number }[] };
    expect(parsed.runs).toHaveLength(2);
    expect(parsed.spread.find((s) => s.metric === 'e2e_p50_ms')!.runs).toBe(2);
  });

  it('refuses a non-comparable run with 104 and leaves the file as it was', async () => {
    const dir = tmp();
    const path = await makeBaseline(dir, ['base-1']);
    const before = readFileSync(path, 'utf8');
    const other = JSON.parse(readFileSync(fx('base-2'), 'utf8')) as { run: { load: { rate: number } } };
    other.run.load.rate = 50;
    const otherPath = join(dir, 'other.json');
    writeFileSync(otherPath, JSON.stringify(other));
    const c = capture();
    expect(await runBaselineCommand('add', path, otherPath, {}, c.io)).toBe(104);
    expect(c.err()).toContain('run.load.rate: the baseline has 10, this run has 50');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('bad input: 104', async () => {
    const dir = tmp();
    const c = capture();
    expect(await runBaselineCommand('add', join(dir, 'b.json'), undefined, {}, c.io)).toBe(104);
    expect(c.err()).toMatch(/RESULTS\.json: missing/);
    const c2 = capture();
    expect(await runBaselineCommand('add', join(dir, 'b.json'), fx('base-1'), { maxRuns: '0' }, c2.io)).toBe(104);
    expect(c2.err()).toMatch(/--max-runs/);
    const c3 = capture();
    expect(await runBaselineCommand('show', join(dir, 'none.json'), undefined, {}, c3.io)).toBe(104);
    const notBaseline = join(dir, 'results.json');
    copyFileSync(fx('base-1'), notBaseline);
    const c4 = capture();
    expect(await runBaselineCommand('add', notBaseline, fx('base-2'), {}, c4.io)).toBe(104);
    expect(c4.err()).toContain('schema: expected a baseline file ("inferload/baseline@1"), found a run\'s results ("inferload/results@1")');
    expect(existsSync(join(dir, 'b.json'))).toBe(false);
  });
});

// The real binary, once cli/main.ts registers the commands (until then this block is skipped).
const topHelp = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' }).stdout ?? '';
const registered = /^\s+compare\b/m.test(topHelp) && /^\s+baseline\b/m.test(topHelp);

describe.runIf(registered)('the real binary', () => {
  it('inferload compare exits 0 / 99 / 104, and baseline add/show work', () => {
    const dir = tmp();
    const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir });
    expect(run(['compare', fx('base-3'), fx('same')]).status).toBe(0);
    const slow = run(['compare', fx('base-3'), fx('slow'), '--junit', join(dir, 'junit.xml')]);
    expect(slow.status).toBe(99);
    expect(slow.stdout).toContain('**Regression**');
    expect(existsSync(join(dir, 'junit.xml'))).toBe(true);
    expect(run(['compare', fx('base-3'), join(dir, 'missing.json')]).status).toBe(104);
    const baseline = join(dir, 'baseline.json');
    expect(run(['baseline', 'add', baseline, fx('base-1')]).status).toBe(0);
    expect(run(['baseline', 'add', baseline, fx('base-2')]).status).toBe(0);
    expect(run(['baseline', 'show', baseline]).stdout).toContain('Run-to-run spread');
    expect(run(['compare', baseline, fx('slow')]).status).toBe(99);
  });
});
