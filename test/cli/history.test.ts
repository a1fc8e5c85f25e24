// `inferload history` (the command function, io captured): nightly run directories in, history.html,
// history.md and history.json out; exit 99 when the newest run regressed, 0 otherwise; 104 naming
// the file for a corrupt results.json, and for every other input it cannot use.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBaselineCommand } from '../../src/cli/baseline-command.js';
import { expandHistoryInputs, relativeHref, runHistoryCommand, type HistoryCommandOptions } from '../../src/cli/history-command.js';
import type { History } from '../../src/report/history.js';
import { NIGHTS, writeNights } from '../unit/report/history-fixtures.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-history-'));

function capture(): { io: { stdout(s: string): void; stderr(s: string): void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (s) => (out += s), stderr: (s) => (err += s) }, out: () => out, err: () => err };
}

async function history(inputs: string[], opts: HistoryCommandOptions): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await runHistoryCommand(inputs, opts, c.io);
  return { code, out: c.out(), err: c.err() };
}

describe('inferload history (command function)', () => {
  it('a directory of nightly runs: exit 0, the three files, the slow night named, each run linked', async () => {
    const dir = tmp();
    writeNights(join(dir, 'runs'));
    const out = join(dir, 'site', 'history');
    const r = await history([join(dir, 'runs')], { out });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^inferload history: smoke, 7 runs from 2026-11-25 to 2026-12-01\n/);
    expect(r.out).toMatch(/\n {2}regressions on 1 run:\n {4}2026-11-30: .*E2E p95 \+2\d\.\d % \(regression\)/);
    expect(r.out).toContain('The newest run (2026-12-01) shows no significant change against the 5 runs before it.');
    for (const f of ['history.html', 'history.md', 'history.json']) expect(r.out).toContain(join(out, f));

    const json = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as History;
    expect(json.schema).toBe('inferload/history@1');
    expect(json.runs.map((x) => x.night)).toEqual(NIGHTS.map((n) => n.date));
    expect(json.runs.map((x) => x.report)).toEqual(NIGHTS.map((n) => `../../runs/${n.date}/report.html`));
    expect(json.runs.map((x) => x.source)).toEqual(NIGHTS.map((n) => join(dir, 'runs', n.date, 'results.json')));
    const slow = json.runs.find((x) => x.night === '2026-11-30')!;
    expect(slow.verdict).toBe('regression');
    expect(slow.regressions.map((c) => c.metric)).toContain('e2e_p95_ms');
    expect(slow.comparison!.schema).toBe('inferload/comparison@1');
    expect(json.regressed.map((x) => x.night)).toEqual(['2026-11-30']);

    const md = readFileSync(join(out, 'history.md'), 'utf8');
    expect(md).toMatch(/^- \*\*2026-11-30: .*E2E p95 \+2\d\.\d % \(regression\)/m);
    expect(md).toContain('[report](../../runs/2026-11-30/report.html)');
    const page = readFileSync(join(out, 'history.html'), 'utf8');
    expect(page).toContain('<a href="../../runs/2026-11-30/report.html">smoke-20261130T030000Z</a>');
  });

  it('exit 99 when the newest run regressed; run directories and results.json files both count', async () => {
    const dir = tmp();
    const runs = writeNights(dir, NIGHTS.slice(0, 6));
    const inputs = [...runs.slice(0, 3), ...runs.slice(3).map((d) => join(d, 'results.json'))];
    const r = await history(inputs, { out: join(dir, 'out') });
    expect(r.err).toBe('');
    expect(r.code).toBe(99);
    expect(r.out).toMatch(/The newest run \(2026-11-30\) regressed: .*E2E p95 \+2\d\.\d % \(194\.\d ms → 23\d\.\d ms\)/);
    // the order comes from run.started_at, not from the order given
    const shuffled = await history([...inputs].reverse(), { out: join(dir, 'out2') });
    expect(shuffled.code).toBe(99);
    expect(readFileSync(join(dir, 'out2', 'history.md'), 'utf8')).toBe(readFileSync(join(dir, 'out', 'history.md'), 'utf8'));
  });

  it('a corrupt results.json: 104 naming the file and what is wrong, no stack trace', async () => {
    const dir = tmp();
    const runs = writeNights(dir, NIGHTS.slice(0, 4));
    const cut = join(runs[1]!, 'results.json');
    writeFileSync(cut, readFileSync(cut, 'utf8').slice(0, 5000));
    const r = await history([dir], { out: join(dir, 'out') });
    expect(r.code).toBe(104);
    expect(r.out).toBe('');
    expect(r.err).toContain(`${cut} is not JSON`);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'out', 'history.html'))).toBe(false);

    // valid JSON with a histogram cut short: the field is named, with the file
    const edited = join(runs[2]!, 'results.json');
    const result = JSON.parse(readFileSync(edited, 'utf8')) as { windows: { hdr: { itl: string } }[] };
    result.windows[3]!.hdr.itl = result.windows[3]!.hdr.itl.slice(0, 40);
    writeFileSync(edited, JSON.stringify(result));
    const r2 = await history([runs[0]!, runs[2]!, runs[3]!], { out: join(dir, 'out') });
    expect(r2.code).toBe(104);
    expect(r2.err).toContain(`invalid input in ${edited}`);
    expect(r2.err).toMatch(/windows\[3\]\.hdr\.itl: /);
    expect(r2.err).not.toMatch(/\n\s+at /);
  });

  it('a baseline file: the history of the runs it keeps', async () => {
    const dir = tmp();
    const runs = writeNights(join(dir, 'runs'), NIGHTS.slice(0, 5));
    const baseline = join(dir, 'baseline.json');
    for (const d of runs) expect(await runBaselineCommand('add', baseline, join(d, 'results.json'), {}, capture().io)).toBe(0);
    const r = await history([baseline], { out: join(dir, 'out') });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'history.json'), 'utf8')) as History;
    expect(json.runs.map((x) => x.source)).toEqual(runs.map((_, i) => `${baseline} runs[${i}]`));
    expect(json.runs.every((x) => x.report === null)).toBe(true);
    // with the run directories as well: each run once, from its results (with its report)
    const both = await history([baseline, join(dir, 'runs')], { out: join(dir, 'out') });
    expect(both.code).toBe(0);
    const again = JSON.parse(readFileSync(join(dir, 'out', 'history.json'), 'utf8')) as History;
    expect(again.runs).toHaveLength(5);
    expect(again.runs.every((x) => x.report !== null)).toBe(true);
  });

  it('refuses (104) what it cannot use, saying what to do', async () => {
    const dir = tmp();
    const runs = writeNights(dir, NIGHTS.slice(0, 3), {
      edit: (r, n) => {
        if (n.date === '2026-11-27') r.run.scenario = 'chat';
      },
    });
    const out = join(dir, 'out');
    const mixed = await history([dir], { out });
    expect(mixed.code).toBe(104);
    expect(mixed.err).toMatch(/the runs are of 2 scenarios: "smoke" \(2 runs, .*\); "chat" \(1 run, .*\)\. A history follows one scenario: pick one with --scenario NAME/);
    expect((await history([dir], { out, scenario: 'smoke' })).code).toBe(0);
    const one = await history([dir], { out, scenario: 'chat' });
    expect(one.code).toBe(104);
    expect(one.err).toMatch(/a history needs at least 2 runs, found 1 \(.*2026-11-27\/results\.json\)/);

    expect((await history([dir], {})).err).toMatch(/--out: say where the history goes/);
    expect((await history([join(dir, 'nope')], { out })).err).toMatch(/nope: no such file or directory/);
    expect((await history([out], { out: join(dir, 'o2') })).err).toMatch(/no results\.json in it or in its subdirectories/);
    const metric = await history([dir], { out, scenario: 'smoke', metric: 'ttft_p95,e2e_p95_ms' });
    expect(metric.code).toBe(104);
    expect(metric.err).toMatch(/--metric: unknown metric "ttft_p95"; choose from ttft_p50_ms, /);
    expect((await history([dir], { out, scenario: 'smoke', baselineRuns: '0' })).err).toMatch(/--baseline-runs: expected an integer from 1 to 1000, found "0"/);
    expect((await history([dir], { out, scenario: 'smoke', tolerance: 'x' })).err).toMatch(/--tolerance: expected a percentage/);
    writeFileSync(join(dir, 'file'), '');
    expect((await history([dir], { out: join(dir, 'file'), scenario: 'smoke' })).err).toMatch(/--out: .*file is a file, not a directory/);

    // a copy of a run (or a shard of one) counts twice: refused, naming both files
    mkdirSync(join(dir, 'copy'));
    copyFileSync(join(runs[0]!, 'results.json'), join(dir, 'copy', 'results.json'));
    const twice = await history([...runs.slice(0, 2), join(dir, 'copy')], { out });
    expect(twice.code).toBe(104);
    expect(twice.err).toMatch(/copy\/results\.json: run "smoke-20261125T030000Z" again \(also .*2026-11-25\/results\.json\)/);
    // the same file by two paths is one run
    expect((await history([runs[0]!, join(runs[0]!, 'results.json'), runs[1]!], { out })).code).toBe(0);
  });

  it('--metric narrows what is shown and gated: TTFT p95 alone does not clear its noise here', async () => {
    const dir = tmp();
    writeNights(dir, NIGHTS.slice(0, 6));
    const r = await history([dir], { out: join(dir, 'out'), metric: ['ttft_p95_ms', 'e2e_p95_ms'] });
    expect(r.code).toBe(99);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'history.json'), 'utf8')) as History;
    expect(json.metrics).toEqual(['ttft_p95_ms', 'e2e_p95_ms']);
    expect(json.regressed[0]!.regressions.map((c) => c.metric)).toEqual(['e2e_p95_ms']);
    const only = await history([dir], { out: join(dir, 'out'), metric: 'ttft_p95_ms' });
    expect(only.code).toBe(0);
  });

  it('links reports by a relative, percent-encoded path; a run without report.html has no link', async () => {
    const dir = tmp();
    const runs = writeNights(dir, NIGHTS.slice(0, 3));
    const odd = join(dir, 'night (3) #a b');
    renameSync(runs[2]!, odd);
    expect(relativeHref(join(dir, 'out'), join(odd, 'report.html'))).toBe('../night%20%283%29%20%23a%20b/report.html');
    writeFileSync(join(runs[1]!, 'report.html.missing'), '');
    renameSync(join(runs[1]!, 'report.html'), join(runs[1]!, 'elsewhere.html'));
    expect(expandHistoryInputs([dir])).toHaveLength(3);
    const r = await history([dir], { out: join(dir, 'out') });
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'history.json'), 'utf8')) as History;
    expect(json.runs.map((x) => x.report)).toEqual(['../2026-11-25/report.html', null, '../night%20%283%29%20%23a%20b/report.html']);
    expect(readFileSync(join(dir, 'out', 'history.md'), 'utf8')).toContain('[report](../night%20%283%29%20%23a%20b/report.html)');
  });
});
