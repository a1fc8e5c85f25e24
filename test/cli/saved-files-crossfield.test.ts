// A second fuzz of every command that reads saved files, with changes the single-field fuzz
// (saved-files.test.ts) does not make: two numbers swapped, a field given another field's value
// (of any type), an array's first element appended again, an array emptied or reversed, a number
// made a numeric string, one doubled and another zeroed, a huge, tiny negative or unsafe number,
// a string 2 MB long or holding a NUL, a lone surrogate or markup. Each change of a real results
// file is read by report, compare (either side), baseline add, merge and history, and each change
// of a real baseline file by compare, baseline show, baseline add and history: every one must succeed
// (0 or 99) or refuse with 104, never exit 1, throw, or print a stack trace.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBaselineCommand } from '../../src/cli/baseline-command.js';
import { runCompareCommand } from '../../src/cli/compare-command.js';
import { runHistoryCommand } from '../../src/cli/history-command.js';
import { runMergeCommand } from '../../src/cli/merge-command.js';
import { runReportCommand } from '../../src/cli/report-command.js';
import { seeded } from '../helpers/seeded.js';

type Json = Record<string | number, unknown>;
type Seg = string | number;
type Io = { stdout(s: string): void; stderr(s: string): void };

const FIXTURES = fileURLToPath(new URL('../fixtures/results/', import.meta.url));
const fx = (name: string): string => join(FIXTURES, `smoke-${name}.json`);
const dir = mkdtempSync(join(tmpdir(), 'inferload-crossfield-'));


function trimmed(path: string): Json {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Json;
  if (Array.isArray(doc.windows)) doc.windows = doc.windows.slice(0, 4);
  if (Array.isArray(doc.runs)) for (const r of doc.runs as Json[]) if (Array.isArray(r.windows)) r.windows = r.windows.slice(0, 4);
  return doc;
}

function pathsOf(v: unknown, at: Seg[] = [], out: Seg[][] = []): Seg[][] {
  if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      const p = [...at, Array.isArray(v) ? Number(k) : k];
      out.push(p);
      pathsOf(x, p, out);
    }
  return out;
}

const get = (o: unknown, p: readonly Seg[]): unknown => p.reduce<unknown>((x, s) => (x as Json | undefined)?.[s], o);
const text = (p: readonly Seg[]): string => p.join('.');

const KINDS = ['swap', 'copy-from', 'dup-element', 'empty-array', 'reverse-array', 'huge', 'tiny-negative', 'unsafe', 'long-string', 'odd-string', 'numeric-string', 'double-and-zero'] as const;

function mutator(doc: Json, seed: number): () => { what: string; text: string } {
  const rnd = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const paths = pathsOf(doc);
  const numbers = paths.filter((p) => typeof get(doc, p) === 'number');
  const arrays = paths.filter((p) => Array.isArray(get(doc, p)));
  const strings = paths.filter((p) => typeof get(doc, p) === 'string');
  return () => {
    const c = structuredClone(doc);
    const set = (p: readonly Seg[], v: unknown): void => {
      (get(c, p.slice(0, -1)) as Json)[p[p.length - 1]!] = v;
    };
    const kind = pick(KINDS);
    let where: string;
    switch (kind) {
      case 'swap': {
        const p = pick(numbers);
        const q = pick(numbers);
        const x = get(c, p);
        set(p, get(c, q));
        set(q, x);
        where = `${text(p)} <-> ${text(q)}`;
        break;
      }
      case 'copy-from': {
        const p = pick(paths);
        const q = pick(paths);
        set(p, structuredClone(get(doc, q)));
        where = `${text(p)} = ${text(q)}`;
        break;
      }
      case 'dup-element':
      case 'empty-array':
      case 'reverse-array': {
        const p = pick(arrays);
        const a = get(c, p) as unknown[];
        if (kind === 'dup-element' && a.length > 0) a.push(structuredClone(a[0]));
        else if (kind === 'empty-array') set(p, []);
        else a.reverse();
        where = text(p);
        break;
      }
      case 'huge':
      case 'tiny-negative':
      case 'unsafe': {
        const p = pick(numbers);
        set(p, pick(kind === 'huge' ? [1e300, 9.9e307, 2 ** 63, 1e21] : kind === 'tiny-negative' ? [-1e-300, -0.5, -1] : [2 ** 53 + 2, 4.5, 0.1]));
        where = text(p);
        break;
      }
      case 'long-string':
      case 'odd-string': {
        const p = pick(strings);
        set(p, kind === 'long-string' ? 'Q'.repeat(2_000_000) : pick(['\u0000', '</script><script>alert(1)</script>', '\n\n', '\ud800', 'NaN']));
        where = text(p);
        break;
      }
      case 'numeric-string': {
        const p = pick(numbers);
        set(p, String(get(c, p)));
        where = text(p);
        break;
      }
      case 'double-and-zero': {
        const p = pick(numbers);
        const q = pick(numbers);
        set(p, (get(c, p) as number) * 2 + 1);
        set(q, 0);
        where = `${text(p)} doubled, ${text(q)} zeroed`;
        break;
      }
    }
    return { what: `${kind} ${where}`, text: JSON.stringify(c) };
  };
}

type Reader = (file: string, io: Io) => Promise<number>;

async function fuzz(name: string, doc: Json, readers: Record<string, Reader>, count: number, seed: number): Promise<Record<string, number>> {
  const next = mutator(doc, seed);
  const file = join(dir, `${name}.json`);
  const codes: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const m = next();
    for (const [reader, read] of Object.entries(readers)) {
      writeFileSync(file, m.text);
      let err = '';
      const io: Io = { stdout: () => undefined, stderr: (s) => (err += s) };
      const what = `${name} #${i} (${m.what}) read by ${reader}`;
      let code: number;
      try {
        code = await read(file, io);
      } catch (e) {
        throw new Error(`${what} threw: ${(e as Error).stack ?? String(e)}`);
      }
      expect([0, 99, 104], `${what}: ${err}`).toContain(code);
      expect(err, `${what}: a stack trace`).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      // history names the file, or says it found too few runs (a baseline file emptied of them)
      if (code === 104 && !(reader === 'history' && /RUNS: a history needs at least 2 runs, found [01]\b/.test(err)))
        expect(err, `${what}: the file is not named`).toContain(file);
      codes[`${reader} ${code}`] = (codes[`${reader} ${code}`] ?? 0) + 1;
    }
  }
  return codes;
}

const save = (name: string, doc: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
};

describe('saved files changed across fields: every reader answers 0, 99 or 104, never a crash', () => {
  it('results files: report, compare (either side), baseline add, merge, history', async () => {
    const run = trimmed(fx('base-1'));
    const same = save('same.json', trimmed(fx('same')));
    const baselineFile = join(dir, 'baseline.json');
    for (const n of ['base-1', 'base-2', 'base-3']) {
      const io: Io = { stdout: () => undefined, stderr: () => undefined };
      expect(await runBaselineCommand('add', baselineFile, fx(n), {}, io)).toBe(0);
    }
    // another shard of the same run: its own id and process
    const shard = structuredClone(run) as Json & { run: { id: string }; generator: { rss_max_bytes: number } };
    shard.run.id = `${shard.run.id}-2`;
    shard.generator.rss_max_bytes += 4096;
    const shardFile = save('shard.json', shard);
    const fresh = join(dir, 'fresh-baseline.json');
    const codes = await fuzz(
      'results',
      run,
      {
        report: (f, io) => runReportCommand(f, { out: join(dir, 'report') }, io),
        compareCurrent: (f, io) => runCompareCommand(baselineFile, f, {}, io),
        compareBaseline: (f, io) => runCompareCommand(f, same, {}, io),
        baselineAdd: (f, io) => {
          rmSync(fresh, { force: true });
          return runBaselineCommand('add', fresh, f, {}, io);
        },
        merge: (f, io) => runMergeCommand([f, shardFile], { out: join(dir, 'merged') }, io),
        history: (f, io) => runHistoryCommand([fx('base-2'), f], { out: join(dir, 'history') }, io),
      },
      Number(process.env.CROSSFIELD_COUNT ?? 60),
      101,
    );
    // both answers are exercised: some changes are read, some refused
    for (const reader of ['report', 'merge', 'history']) {
      expect(codes[`${reader} 104`] ?? 0, reader).toBeGreaterThan(0);
      expect((codes[`${reader} 0`] ?? 0) + (codes[`${reader} 99`] ?? 0), reader).toBeGreaterThan(0);
    }
  }, 120_000);

  it('baseline files: compare, baseline show, baseline add, history', async () => {
    const baselineFile = join(dir, 'baseline-src.json');
    for (const n of ['base-1', 'base-2', 'base-3']) {
      const io: Io = { stdout: () => undefined, stderr: () => undefined };
      expect(await runBaselineCommand('add', baselineFile, fx(n), {}, io)).toBe(0);
    }
    const same = save('same-b.json', trimmed(fx('same')));
    const codes = await fuzz(
      'baseline',
      trimmed(baselineFile),
      {
        compare: (f, io) => runCompareCommand(f, same, {}, io),
        show: (f, io) => runBaselineCommand('show', f, undefined, {}, io),
        add: (f, io) => runBaselineCommand('add', f, same, {}, io),
        history: (f, io) => runHistoryCommand([f], { out: join(dir, 'history-b') }, io),
      },
      Number(process.env.CROSSFIELD_COUNT ?? 200),
      202,
    );
    expect(codes['compare 104'] ?? 0).toBeGreaterThan(0);
    expect(codes['compare 0'] ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
