// `inferload report RESULTS.json`: re-renders both reports from a saved file (next to it or into
// --out), reads files of earlier versions that lack later sections, and refuses anything else with 104.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runReportCommand } from '../../../src/cli/report-command.js';
import { renderReports } from '../../../src/report/render.js';
import { resultsProblems } from '../../../src/results/read.js';
import { syntheticResult } from './fixtures.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-report-'));

function capture(): { io: { stdout(s: string): void; stderr(s: string): void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s) => out.push(s), stderr: (s) => err.push(s) }, out, err };
}

function saved(result: unknown): { dir: string; path: string } {
  const dir = tmp();
  const path = join(dir, 'results.json');
  writeFileSync(path, typeof result === 'string' ? result : JSON.stringify(result));
  return { dir, path };
}

describe('runReportCommand', () => {
  it('writes report.md and report.html next to the results file', async () => {
    const { dir, path } = saved(syntheticResult({ server: true }));
    const c = capture();
    expect(await runReportCommand(path, {}, c.io)).toBe(0);
    expect(c.err).toEqual([]);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('# inferload report: ramp');
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('<h1>ramp</h1>');
    expect(c.out.join('')).toContain(join(dir, 'report.html'));
    // the run has SLOs: junit.xml too
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toContain('<testsuite');
    expect(c.out.join('')).toContain(join(dir, 'junit.xml'));
    // no temporary file left behind
    expect(existsSync(join(dir, `report.html.tmp-${process.pid}`))).toBe(false);
  });

  it('renders into --out, creating it, and gives the same reports as renderReports', async () => {
    const result = syntheticResult();
    const { path } = saved(result);
    const out = join(tmp(), 'a', 'b');
    expect(await runReportCommand(path, { out }, capture().io)).toBe(0);
    const direct = tmp();
    renderReports(result, direct);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(readFileSync(join(direct, 'report.md'), 'utf8'));
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toBe(readFileSync(join(direct, 'report.html'), 'utf8'));
  });

  it('reads a file of an earlier run that has no server, correlation or error-sample sections', async () => {
    const old = syntheticResult() as unknown as Record<string, unknown>;
    delete old.server;
    delete old.correlation;
    delete old.error_samples;
    for (const w of old.windows as Record<string, unknown>[]) delete w.server;
    const { dir, path } = saved(old);
    expect(await runReportCommand(path, {}, capture().io)).toBe(0);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('No server metrics were scraped');
  });

  it('refuses a file of another schema with 104, naming the field and the fix', async () => {
    const { path } = saved({ ...syntheticResult(), schema: 'inferload/results@2' });
    const c = capture();
    expect(await runReportCommand(path, {}, c.io)).toBe(104);
    expect(c.err.join('')).toContain(
      'schema: "inferload/results@2" (written by inferload 0.1.0) is version 2 of the format, this inferload reads version 1 ("inferload/results@1"): read it with a newer inferload',
    );
    const other = capture();
    expect(await runReportCommand(saved({ ...syntheticResult(), schema: 'prometheus' }).path, {}, other.io)).toBe(104);
    expect(other.err.join('')).toContain('schema: expected "inferload/results@1", found "prometheus"');
    expect(other.err.join('')).toContain('pass the results.json that `inferload run` wrote');
  });

  it('reads a later minor version of the format (it only adds fields)', async () => {
    const { path } = saved({ ...syntheticResult(), schema: 'inferload/results@1.3', added_later: { x: 1 } });
    expect(await runReportCommand(path, {}, capture().io)).toBe(0);
  });

  it('refuses a missing file, a directory, text that is not JSON, and a file missing what reports read', async () => {
    const dir = tmp();
    const cases: [string, string][] = [
      [join(dir, 'nope.json'), `RESULTS.json: cannot read ${join(dir, 'nope.json')} (no such file)`],
      [dir, `RESULTS.json: cannot read ${dir} (a directory, not a file)`],
      [saved('{"schema": ').path, 'is not JSON'],
      [saved([1, 2]).path, '(file): expected a JSON object with "schema": "inferload/results@1", found an array'],
    ];
    for (const [path, message] of cases) {
      const c = capture();
      expect(await runReportCommand(path, {}, c.io), path).toBe(104);
      expect(c.err.join(''), path).toContain(message);
    }
    const broken = syntheticResult() as unknown as Record<string, unknown>;
    delete broken.summary;
    broken.windows = [{ t_s: 0 }];
    const c = capture();
    expect(await runReportCommand(saved(broken).path, {}, c.io)).toBe(104);
    expect(c.err.join('')).toContain('summary: expected an object, found nothing');
    expect(c.err.join('')).toContain('windows[0].window_s: expected a number, found nothing');
  });

  it('refuses an --out that cannot be a directory with 104', async () => {
    const { path } = saved(syntheticResult());
    const file = join(tmp(), 'file');
    writeFileSync(file, 'x');
    const c = capture();
    expect(await runReportCommand(path, { out: join(file, 'sub') }, c.io)).toBe(104);
    expect(c.err.join('')).toContain(`--out: cannot create ${join(file, 'sub')}: a part of its path is a file, not a directory`);
  });

  it('re-renders a real run of the built-in simulator saved earlier', async () => {
    const dir = tmp();
    mkdirSync(dir, { recursive: true });
    const fixture = new URL('../../browser/fixtures/ramp-results.json', import.meta.url);
    writeFileSync(join(dir, 'results.json'), readFileSync(fixture));
    expect(resultsProblems(JSON.parse(readFileSync(fixture, 'utf8')))).toEqual([]);
    expect(await runReportCommand(join(dir, 'results.json'), {}, capture().io)).toBe(0);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('# inferload report: ramp-demo');
  });
});
