// Every reader of saved files, fuzzed: thousands of seeded single-field changes of real results
// and baseline files (a field deleted, set to null, to another type, to a huge, negative,
// fractional or overflowing number, a string cut short, emptied, retyped or made a prototype's
// name, a key renamed so, a histogram damaged, the file itself cut), each read by report, compare
// (either side), baseline add (either file), baseline show and merge. Each must succeed or
// refuse with 104 naming the file and the field: never a stack trace, never exit 1.
//
// Two tiers, to stay within ~20 s: every mutation goes through the shared check (results/read.ts)
// and, when it is accepted, through everything each command computes from it (analyses and
// renderers in memory, fewer bootstrap resamples, the HTML without its inlined libraries); a
// seeded sample of them goes through the command functions themselves, files and exit codes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addRun, baselineRunOf, emptyBaseline, type Baseline } from '../../src/analysis/baseline.js';
import { compareRuns } from '../../src/analysis/compare.js';
import { mergeResults } from '../../src/analysis/merge.js';
import { analyzeSoak, analyzeSpike } from '../../src/analysis/spike-soak.js';
import { baselineSpread, runBaselineCommand } from '../../src/cli/baseline-command.js';
import { runCompareCommand } from '../../src/cli/compare-command.js';
import { runMergeCommand } from '../../src/cli/merge-command.js';
import { runReportCommand } from '../../src/cli/report-command.js';
import { InvalidInputError, type InputProblem } from '../../src/core/errors.js';
import { benchmarkActionJson } from '../../src/report/benchmark-action.js';
import { renderCompareMarkdown } from '../../src/report/compare-markdown.js';
import { renderConsoleSummary } from '../../src/report/console.js';
import { renderHtml } from '../../src/report/html.js';
import { gateJUnit, sloJUnit } from '../../src/report/junit.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { baselineOf, baselineProblems, normalizeResults, resultsProblems } from '../../src/results/read.js';
import type { RunResult } from '../../src/results/types.js';
import { syntheticResult, withSlices } from '../unit/report/fixtures.js';
import { seeded } from '../helpers/seeded.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/results/', import.meta.url));
const fx = (name: string): string => join(FIXTURES, `smoke-${name}.json`);
const RAMP = fileURLToPath(new URL('../browser/fixtures/ramp-results.json', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'inferload-saved-files-'));

type Doc = Record<string, unknown>;
type Seg = string | number;

/**
 * A real file cut to its first `windows` windows (and a baseline's runs to as many): every field
 * is still there to mutate, and each read costs a fraction (the work grows with the windows).
 */
function trimmed(path: string, windows = 4): Doc {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Doc;
  if (Array.isArray(doc.windows)) doc.windows = doc.windows.slice(0, windows);
  if (Array.isArray(doc.runs)) for (const r of doc.runs as Doc[]) r.windows = (r.windows as unknown[]).slice(0, windows);
  return doc;
}

const save = (name: string, doc: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
};

/**
 * Another shard of the same run: its own id, the same times (what merge is for), and a process of
 * its own (its peak RSS differs: merge refuses one run's measurements given twice under two ids).
 */
function shardOf(doc: Doc): Doc {
  const other = structuredClone(doc) as { run: { id: string }; generator: { rss_max_bytes: number } };
  other.run.id = `${other.run.id}-shard-2`;
  other.generator.rss_max_bytes += 4096;
  return other as unknown as Doc;
}

// ---- mutations --------------------------------------------------------------------------------


/** Every path in a JSON value but its root. */
function pathsOf(v: unknown, at: Seg[] = [], out: Seg[][] = []): Seg[][] {
  if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      const p = [...at, Array.isArray(v) ? Number(k) : k];
      out.push(p);
      pathsOf(x, p, out);
    }
  return out;
}

/** JSON has no Infinity; the literal 1e999 parses to it, so it is put in the text */
const INFINITE = '\u0000infinite';

/** Changes of any value, and those that only mean something for a string, a number or an object. */
const ANY = ['delete', 'null', 'string', 'object', 'array', 'boolean'] as const;
const FOR_STRINGS = ['truncate', 'empty', 'proto', 'constructor', 'corrupt'] as const;
const FOR_NUMBERS = ['huge', 'negative', 'negative-huge', 'overflow', 'zero', 'fraction', 'unsafe-integer'] as const;
const FOR_OBJECTS = ['empty', 'rename-key'] as const;
type Kind = (typeof ANY)[number] | (typeof FOR_STRINGS)[number] | (typeof FOR_NUMBERS)[number] | (typeof FOR_OBJECTS)[number];

/** The kinds of change that alter `v` (a number is never "truncated"): no read is spent on a no-op. */
function kindsFor(v: unknown): readonly Kind[] {
  if (typeof v === 'string') return [...ANY, ...FOR_STRINGS];
  if (typeof v === 'number') return [...ANY, ...FOR_NUMBERS];
  if (typeof v === 'object' && v !== null) return [...ANY, ...FOR_OBJECTS];
  return ANY;
}

interface Mutation {
  what: string;
  path: string;
  text: string;
}

const pathText = (path: Seg[]): string => path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '');

/** One single-field change of `doc` (or, one time in a hundred, the file cut short). */
function mutate(doc: Doc, paths: Seg[][], rnd: () => number): Mutation {
  if (rnd() < 0.01) {
    const text = JSON.stringify(doc);
    return { what: 'file cut short', path: '(file)', text: text.slice(0, Math.floor(rnd() * text.length)) };
  }
  const path = paths[Math.floor(rnd() * paths.length)]!;
  const copy = structuredClone(doc);
  let parent = copy as Record<Seg, unknown>;
  for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<Seg, unknown>;
  const key = path[path.length - 1]!;
  const old = parent[key];
  const isArray = Array.isArray(parent);
  const kinds = kindsFor(old).filter((k) => !(k === 'rename-key' && isArray));
  const kind = kinds[Math.floor(rnd() * kinds.length)]!;
  const set = (v: unknown): void => {
    parent[key] = v;
  };
  switch (kind) {
    case 'delete':
      if (isArray) (parent as unknown as unknown[]).splice(key as number, 1);
      else delete parent[key];
      break;
    case 'null':
      return done(null);
    case 'string':
      return done('x');
    case 'object':
      return done({});
    case 'array':
      return done([]);
    case 'boolean':
      return done(true);
    case 'huge':
      return done(1e308);
    case 'negative':
      return done(typeof old === 'number' ? -Math.abs(old) - 1 : -1);
    case 'negative-huge':
      return done(-1e308);
    case 'overflow':
      return done(INFINITE);
    case 'zero':
      return done(0);
    case 'fraction':
      return done(typeof old === 'number' ? old + 0.5 : 0.5);
    case 'unsafe-integer':
      return done(2 ** 53 + 2);
    case 'truncate':
      return done((old as string).slice(0, Math.floor(rnd() * (old as string).length)));
    case 'empty':
      return done(typeof old === 'string' ? '' : Array.isArray(old) ? [] : {});
    case 'proto':
      return done('__proto__');
    case 'constructor':
      return done('constructor');
    case 'corrupt': {
      // one character changed: in a histogram, its compressed bytes damaged
      const str = old as string;
      const i = Math.floor(rnd() * str.length);
      return done(str.slice(0, i) + (str[i] === 'A' ? 'B' : 'A') + str.slice(i + 1));
    }
    case 'rename-key': {
      // a record's key made a prototype's name (JSON.parse makes it an own property)
      const name = rnd() < 0.5 ? '__proto__' : 'constructor';
      delete parent[key];
      const text = JSON.stringify(copy);
      const cut = JSON.stringify(parent);
      const renamed = cut === '{}' ? `{${JSON.stringify(name)}:${JSON.stringify(old)}}` : `{${JSON.stringify(name)}:${JSON.stringify(old)},${cut.slice(1)}`;
      return { what: `${kind} at ${pathText(path)}`, path: pathText(path), text: text.replace(cut, () => renamed) };
    }
  }
  return { what: `${kind} at ${pathText(path)}`, path: pathText(path), text: JSON.stringify(copy) };

  function done(v: unknown): Mutation {
    set(v);
    return { what: `${kind} at ${pathText(path)}`, path: pathText(path), text: JSON.stringify(copy).replaceAll(JSON.stringify(INFINITE), '1e999') };
  }
}

/** Whether a refusal's field is the mutated one, inside it or around it. */
function namesTheField(problems: readonly InputProblem[], mutated: string): boolean {
  return problems.some((p) => p.path.startsWith(mutated) || mutated.startsWith(p.path.replace(/\[\d+\]$/, '')));
}

interface Figures {
  mutations: number;
  reads: number;
  accepted: number;
  refused: number;
  namedTheField: number;
}
const figures = (): Figures => ({ mutations: 0, reads: 0, accepted: 0, refused: 0, namedTheField: 0 });

// ---- the fixtures every reader reads against ----------------------------------------------------

const smoke = trimmed(fx('base-1'));
/** tokens asked and served, as a run writes them (results.workload.prompt_tokens, output_tokens) */
const TOKENS = {
  prompt_tokens: {
    asked: { count: 14, mean: 2549.7, min: 761, p50: 1987, p90: 4503, p99: 4812, max: 4812 },
    served: { count: 14, mean: 2549.7, min: 761, p50: 1987, p90: 4503, p99: 4812, max: 4812 },
  },
  output_tokens: { asked: { count: 14, mean: 90.4, min: 24, p50: 90, p90: 143, p99: 154, max: 154 }, served: { count: 13, mean: 88.1, min: 24, p50: 90, p90: 143, p99: 154, max: 154 } },
};

/** What a run from a dataset adds (as `run chat-sharegpt --duration 3s --set warmup=0s` wrote it). */
function withDataset(doc: Doc): Doc {
  doc.workload = {
    tokenizer: { kind: 'approximate', name: 'approximate', chat_template: false, overhead_tokens: 0, synthesis: 'words', note: 'no tokenizer named' },
    source: 'dataset',
    dataset: {
      format: 'sharegpt',
      path: '/work/scenarios/examples/sharegpt-sample.json',
      entries: 40,
      unusable: 1,
      counted: 37,
      filtered: { prompt_too_short: 0, prompt_too_long: 0, output_too_short: 0, output_too_long: 0, no_output_length: 1 },
      filters: { min_prompt_tokens: 4, max_prompt_tokens: 4096, min_output_tokens: 4, max_output_tokens: 4096 },
      sample_size: 28,
      output_tokens: 'dataset',
      bytes: 55644,
      sampled: 28,
      load_s: 0.04,
    },
    trace: null,
    ...structuredClone(TOKENS),
  };
  return doc;
}

/** What a trace replay adds (as `run replay --set load.duration=5s` wrote it). */
function withTrace(doc: Doc): Doc {
  Object.assign(doc.workload as Doc, {
    source: 'trace',
    dataset: null,
    trace: {
      format: 'mooncake',
      file: '/work/scenarios/examples/mooncake-sample.jsonl',
      bytes: 6244,
      records: 15,
      replayed: 14,
      speedup: 1,
      start_s: 0,
      duration_s: 5,
      span_s: 4.987,
      mean_rate_per_s: 2.807,
      peak_rate_per_s: 5,
      arrival_rate: { bucket_s: 1, per_s: [2, 5, 4, 1, 2] },
      raised: { prompt: 0, output: 0 },
      prefix_reuse_ratio: 0.703,
      scan_s: 0.051,
    },
    ...structuredClone(TOKENS),
  });
  return doc;
}

/** What a run with `workload.tokenizer` adds (as `run smoke --set workload.tokenizer=llama3` wrote it, with some mismatches). */
function withTokenizer(doc: Doc): Doc {
  doc.workload = { tokenizer: { kind: 'family', name: 'llama3', chat_template: true, overhead_tokens: 10, synthesis: 'words', note: null } };
  (doc.summary as { tokens: Doc }).tokens.prompt_planned_vs_server = {
    requests_compared: 25,
    mismatches: 3,
    relative_error_p50: 0,
    relative_error_p99: 0.0213,
    relative_error_max: 0.0213,
    mean_difference_tokens: -0.2,
    relative_errors: { '0': 22, '0.0125': 2, '0.0213': 1 },
  };
  return doc;
}
const ramp = withDataset(trimmed(RAMP));
// with every slice too (classes with their verdicts, turns, models) and the sessions' counts
const full = withTrace(
  withTokenizer({
    ...(JSON.parse(JSON.stringify(withSlices(syntheticResult({ server: true, capacity: true, spikeSoak: true, windows: 8, warmupS: 2 })))) as Doc),
    sessions: { started: 40, completed: 30, broken: 2, cut: 8, in_progress: 0 },
  }),
);
const read = (doc: unknown): RunResult => normalizeResults(structuredClone(doc) as Doc);
const same = read(trimmed(fx('same')));
const baselineRuns = ['base-1', 'base-2', 'base-3'].map((n) => read(trimmed(fx(n))));
const baseline: Baseline = emptyBaseline('smoke');
for (const r of baselineRuns) addRun(baseline, baselineRunOf(r));
/** the comparisons' bootstrap: enough resamples to exercise it, few enough to be quick */
const RESAMPLES = 20;
const ASSETS = { vega: '', vegaLite: '', vegaEmbed: '' };

/** What refusals look like: InvalidInputError; anything else is a reader's bug. */
function refusedOrThrow(f: () => void): boolean {
  try {
    f();
    return false;
  } catch (err) {
    if (err instanceof InvalidInputError) return true;
    throw err;
  }
}

function reports(r: RunResult): void {
  renderMarkdown(r);
  renderHtml(r, ASSETS);
  if (r.slo.length > 0) sloJUnit(r);
  renderConsoleSummary(r, { dir });
}

/**
 * What the commands compute from an accepted results file: report's renderers; baseline add's
 * digest; compare with it as CURRENT and as BASELINE; merge with another shard. Runs that are not
 * comparable or not shards of one run are refused (104), as the commands refuse them.
 */
function readResultsEverywhere(raw: unknown, sibling: Doc, comparable: boolean): void {
  const r = read(raw);
  reports(r);
  const digest = baselineRunOf(r);
  refusedOrThrow(() => addRun(emptyBaseline(r.run.scenario), structuredClone(digest)));
  if (comparable) {
    refusedOrThrow(() => addRun(structuredClone(baseline), digest));
    refusedOrThrow(() => {
      const c = compareRuns(baseline, r, { resamples: RESAMPLES });
      renderCompareMarkdown(c);
      gateJUnit(c);
    });
    refusedOrThrow(() => renderCompareMarkdown(compareRuns(r, same, { resamples: RESAMPLES })));
    benchmarkActionJson(r, { resamples: RESAMPLES });
  }
  refusedOrThrow(() => {
    const merged = mergeResults([r, read(sibling)], ['mutated.json', 'shard.json']);
    merged.spike = analyzeSpike(merged);
    merged.soak = analyzeSoak(merged);
    // merge prints this; it renders its reports as a run does, a failure there only logged
    renderConsoleSummary(merged, { dir });
  });
}

/** What compare, baseline show and baseline add compute from an accepted baseline file. */
function readBaselineEverywhere(raw: unknown): void {
  const b = baselineOf(structuredClone(raw), 'baseline.json');
  baselineSpread(b);
  refusedOrThrow(() => {
    const c = compareRuns(b, same, { resamples: RESAMPLES });
    renderCompareMarkdown(c);
    gateJUnit(c);
  });
  refusedOrThrow(() => addRun(structuredClone(b), baselineRunOf(same)));
}

function fuzzInMemory(name: string, doc: Doc, count: number, seed: number, readAccepted: (raw: unknown) => void, problemsOf: (raw: unknown) => InputProblem[]): Figures {
  const rnd = seeded(seed);
  const paths = pathsOf(doc);
  const f = figures();
  for (let i = 0; i < count; i++) {
    const m = mutate(doc, paths, rnd);
    const what = `${name} #${i} (${m.what})`;
    f.mutations++;
    f.reads++;
    let raw: unknown;
    try {
      raw = JSON.parse(m.text);
    } catch {
      f.refused++; // the readers' "is not JSON" refusal, tried through the commands below
      continue;
    }
    let problems: InputProblem[];
    try {
      problems = problemsOf(raw);
      if (problems.length === 0) readAccepted(raw);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).stack ?? String(err)}`);
    }
    if (problems.length === 0) f.accepted++;
    else {
      f.refused++;
      for (const p of problems) {
        expect(p.path, what).toMatch(/^(\(file\)|…|[A-Za-z_])/);
        expect(p.message.length, what).toBeGreaterThan(0);
      }
      if (namesTheField(problems, m.path)) f.namedTheField++;
    }
  }
  return f;
}

const totals: Record<string, Figures> = {};

describe('readers of saved files on thousands of mutations (the check, then all each command computes)', () => {
  const resultsReader =
    (sibling: Doc, comparable: boolean) =>
    (raw: unknown): void =>
      readResultsEverywhere(raw, sibling, comparable);
  // report checks only the histograms it decodes: a file it accepts must render too
  const resultsCheck = (raw: unknown): InputProblem[] => {
    const all = resultsProblems(raw);
    if (all.length > 0 && resultsProblems(raw, { decode: 'summary' }).length === 0) reports(read(raw));
    return all;
  };

  it('a real smoke run', () => {
    totals.smoke = fuzzInMemory('smoke', smoke, 500, 1, resultsReader(shardOf(smoke), true), resultsCheck);
  });

  it('a real ramp run with server metrics, alerts and correlations (and a dataset\'s workload section)', () => {
    totals.ramp = fuzzInMemory('ramp', ramp, 400, 2, resultsReader(shardOf(ramp), false), resultsCheck);
  });

  it('a run with every optional section (capacity, error budget, spike, soak, GPUs, tokenizer, a trace)', () => {
    totals.full = fuzzInMemory('full', full, 400, 3, resultsReader(shardOf(full), false), resultsCheck);
  });

  it('a baseline file of three real runs', () => {
    totals.baseline = fuzzInMemory('baseline', JSON.parse(JSON.stringify(baseline)) as Doc, 800, 4, readBaselineEverywhere, baselineProblems);
  });
});

// ---- the commands themselves ----------------------------------------------------------------------

function capture(): { io: { stdout(s: string): void; stderr(s: string): void }; err: () => string } {
  let err = '';
  return { io: { stdout: () => undefined, stderr: (s) => (err += s) }, err: () => err };
}

/** A command run on the mutated file; its exit code and what it wrote to stderr. */
type Reader = (path: string) => Promise<{ code: number; err: string }>;
const command =
  (run: (path: string, io: ReturnType<typeof capture>['io']) => Promise<number>): Reader =>
  async (path) => {
    const c = capture();
    const code = await run(path, c.io);
    return { code, err: c.err() };
  };

async function fuzzCommands(name: string, doc: Doc, readers: Record<string, Reader>, count: number, seed: number): Promise<Figures> {
  const rnd = seeded(seed);
  const paths = pathsOf(doc);
  const file = join(dir, `${name}.json`);
  const f = figures();
  for (let i = 0; i < count; i++) {
    const m = mutate(doc, paths, rnd);
    f.mutations++;
    for (const [readerName, reader] of Object.entries(readers)) {
      // a reader may rewrite its file (baseline add): each gets the mutation afresh
      writeFileSync(file, m.text);
      const what = `${name} #${i} (${m.what}) read by ${readerName}`;
      let out: { code: number; err: string };
      try {
        out = await reader(file);
      } catch (err) {
        throw new Error(`${what} threw: ${(err as Error).stack ?? String(err)}`);
      }
      f.reads++;
      expect([0, 99, 104], `${what}: ${out.err}`).toContain(out.code);
      if (out.code !== 104) {
        f.accepted++;
        continue;
      }
      f.refused++;
      expect(out.err, `${what}: the file is not named`).toContain(file);
      const fields = [...out.err.matchAll(/\n {2}- (.+?): /g)].map((x) => x[1]!);
      expect(fields.length, `${what}: no field named in ${out.err}`).toBeGreaterThan(0);
      if (namesTheField(fields.map((path) => ({ path, message: '' })), m.path)) f.namedTheField++;
    }
  }
  return f;
}

describe('the commands on a sample of the mutations: 0, 99 or 104 naming the file and the field, never 1', () => {
  const report: Reader = command((p, io) => runReportCommand(p, { out: join(dir, 'report') }, io));
  const fresh = join(dir, 'fresh-baseline.json');
  const baselineAdd: Reader = command((p, io) => {
    rmSync(fresh, { force: true });
    return runBaselineCommand('add', fresh, p, {}, io);
  });
  const merge = (sibling: string): Reader => command((p, io) => runMergeCommand([p, sibling], { out: join(dir, 'merged') }, io));

  it('results files: report, baseline add, compare (either side), merge', async () => {
    const baselineFile = save('baseline.json', baseline);
    const sameFile = save('same.json', trimmed(fx('same')));
    totals.commands = await fuzzCommands(
      'smoke',
      smoke,
      {
        report,
        baselineAdd,
        compareCurrent: command((p, io) => runCompareCommand(baselineFile, p, {}, io)),
        compareBaseline: command((p, io) => runCompareCommand(p, sameFile, {}, io)),
        merge: merge(save('smoke-shard.json', shardOf(smoke))),
      },
      40,
      5,
    );
    const rampFigures = await fuzzCommands('ramp', ramp, { report, merge: merge(save('ramp-shard.json', shardOf(ramp))) }, 25, 6);
    const fullFigures = await fuzzCommands('full', full, { report, merge: merge(save('full-shard.json', shardOf(full))) }, 25, 7);
    for (const g of [rampFigures, fullFigures]) for (const k of Object.keys(g) as (keyof Figures)[]) totals.commands[k] += g[k];
  });

  it('a baseline file: compare, baseline show, baseline add', async () => {
    const sameFile = save('same.json', trimmed(fx('same')));
    totals.baselineCommands = await fuzzCommands(
      'baseline',
      JSON.parse(JSON.stringify(baseline)) as Doc,
      {
        compare: command((p, io) => runCompareCommand(p, sameFile, {}, io)),
        show: command((p, io) => runBaselineCommand('show', p, undefined, {}, io)),
        add: command((p, io) => runBaselineCommand('add', p, sameFile, {}, io)),
      },
      60,
      8,
    );
  });

  it('figures', () => {
    const lines = Object.entries(totals).map(
      ([k, f]) => `${k}: ${f.mutations} mutations, ${f.reads} reads: ${f.accepted} read, ${f.refused} refused (104), ${f.namedTheField} of them naming the mutated field`,
    );
    console.log(`saved-file fuzz\n  ${lines.join('\n  ')}`);
    const sum = Object.values(totals).reduce((a, f) => a + f.mutations, 0);
    expect(sum).toBeGreaterThan(2000);
  });
});

// ---- the findings of issue 13, one by one, through the commands --------------------------------

describe('refusals the commands make, with the files and fields named', () => {
  const fixture = (name: string): Doc => JSON.parse(readFileSync(fx(name), 'utf8')) as Doc;
  const run = async (f: (io: ReturnType<typeof capture>['io']) => Promise<number>): Promise<{ code: number; err: string }> => {
    const c = capture();
    const code = await f(c.io);
    return { code, err: c.err() };
  };

  it('compare: a baseline metric of 1e308 (was a "−NaN %" band, "within noise", exit 0) and a run held twice', async () => {
    const b = JSON.parse(JSON.stringify(baseline)) as { runs: { metrics: Record<string, number> }[] };
    b.runs[1]!.metrics.e2e_p50_ms = 1e308;
    const huge = save('huge-metric.json', b);
    const out = await run((io) => runCompareCommand(huge, fx('same'), {}, io));
    expect(out.code).toBe(104);
    expect(out.err).toContain(`invalid input in ${huge}`);
    expect(out.err).toContain('runs[1].metrics.e2e_p50_ms: expected a number <= 1e+7, found number 1e+308');

    const twice = JSON.parse(JSON.stringify(baseline)) as { runs: unknown[] };
    twice.runs.push(structuredClone(twice.runs[0]));
    const dup = save('twice.json', twice);
    const out2 = await run((io) => runCompareCommand(dup, fx('same'), {}, io));
    expect(out2.code).toBe(104);
    expect(out2.err).toMatch(/runs\[3\]: the same run as runs\[0\] .*: a baseline holds each run once; delete one of them/);

    // the copy under another id and start is still the same run
    const renamed = JSON.parse(JSON.stringify(baseline)) as { runs: { id: string; started_at: string }[] };
    const copy = structuredClone(renamed.runs[1]!);
    copy.id = `${copy.id}-renamed`;
    copy.started_at = '2026-12-01T00:00:00.000Z';
    renamed.runs.push(copy);
    const renamedPath = save('renamed-copy.json', renamed);
    const out3 = await run((io) => runCompareCommand(renamedPath, fx('same'), {}, io));
    expect(out3.code).toBe(104);
    expect(out3.err).toMatch(/runs\[3\]: the same run as runs\[1\] .*: a baseline holds each run once/);
  });

  it('baseline add refuses a run\'s results copied under another id (the noise band would narrow)', async () => {
    const target = join(dir, 'copies-baseline.json');
    rmSync(target, { force: true });
    expect(await run((io) => runBaselineCommand('add', target, fx('base-1'), {}, io))).toEqual({ code: 0, err: '' });
    // the same file again is harmless (a CI job re-run): left alone
    expect((await run((io) => runBaselineCommand('add', target, fx('base-1'), {}, io))).code).toBe(0);
    const copy = fixture('base-1') as { run: { id: string; started_at: string } };
    copy.run.id = `${copy.run.id}-copy`;
    copy.run.started_at = new Date(Date.parse(copy.run.started_at) + 60_000).toISOString();
    const copyPath = save('base-1-copy.json', copy);
    const out = await run((io) => runBaselineCommand('add', target, copyPath, {}, io));
    expect(out.code).toBe(104);
    expect(out.err).toMatch(/summary: the same measurements as run "smoke-\S+" \(started \S+\), already in the baseline/);
    expect((JSON.parse(readFileSync(target, 'utf8')) as { runs: unknown[] }).runs).toHaveLength(1);
  });

  it('baseline add refuses a failed run and one that completed nothing, with the reason; compare says a run failed', async () => {
    const failed = fixture('base-1');
    failed.status = 'failed';
    failed.status_reason = 'the target never answered: 0 of 150 requests succeeded';
    const failedPath = save('failed.json', failed);
    const add = await run((io) => runBaselineCommand('add', join(dir, 'never.json'), failedPath, {}, io));
    expect(add.code).toBe(104);
    expect(add.err).toContain(`adding ${failedPath} to ${join(dir, 'never.json')}`);
    expect(add.err).toMatch(/invalid input in run \S+ \(1 problem\):\n {2}- status: a baseline keeps complete runs only; this one is "failed"/);

    const nothing = fixture('base-1');
    (nothing.summary as { requests: { completed: number } }).requests.completed = 0;
    const nothingPath = save('nothing.json', nothing);
    const add2 = await run((io) => runBaselineCommand('add', join(dir, 'never.json'), nothingPath, {}, io));
    expect(add2.code).toBe(104);
    expect(add2.err).toMatch(/summary\.requests\.completed: no request completed \(0 failed, 0 dropped\): a baseline keeps runs that measured something/);

    const current = await run((io) => runCompareCommand(fx('base-2'), failedPath, {}, io));
    expect(current.code).toBe(104);
    expect(current.err).toContain(`comparing ${failedPath} with ${fx('base-2')}`);
    expect(current.err).toMatch(/CURRENT: run \S+ failed \(the target never answered: 0 of 150 requests succeeded\): there is nothing to compare/);
    const base = await run((io) => runCompareCommand(failedPath, fx('same'), {}, io));
    expect(base.code).toBe(104);
    expect(base.err).toMatch(/BASELINE: run \S+ failed \(the target never answered.*\): it measured nothing to compare with/);
  });

  describe('merge', () => {
    const merged = join(dir, 'merge-out');
    const shard = save('shard-a.json', smoke);
    const other = save('shard-b.json', shardOf(smoke));

    it('merges two shards of one run (their own ids, the same time)', async () => {
      const out = await run((io) => runMergeCommand([shard, other], { out: merged }, io));
      expect(out.err).toBe('');
      expect([0, 99]).toContain(out.code);
    });

    it('refuses a file given twice, or a copy of it (its counts would double)', async () => {
      for (const second of [shard, save('shard-a-copy.json', smoke)]) {
        const out = await run((io) => runMergeCommand([shard, second], { out: merged }, io));
        expect(out.code).toBe(104);
        expect(out.err).toContain(`  - ${second}: the same run as ${shard} (run.id "${(smoke.run as { id: string }).id}", started_at `);
      }
    });

    it('refuses runs ten minutes apart (they merged into one run at twice the rate)', async () => {
      const later = shardOf(smoke) as { run: { started_at: string; ended_at: string } };
      const shift = (t: string): string => new Date(Date.parse(t) + 600_000).toISOString();
      later.run.started_at = shift(later.run.started_at);
      later.run.ended_at = shift(later.run.ended_at);
      const laterPath = save('shard-later.json', later);
      const out = await run((io) => runMergeCommand([shard, laterPath], { out: merged }, io));
      expect(out.code).toBe(104);
      expect(out.err).toMatch(new RegExp(`- ${laterPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ran from \\S+ to \\S+, ${shard.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} from \\S+ to \\S+: they do not overlap in time`));
    });

    it('refuses runs that overlapped for less than half of the shorter one; a start a second apart merges', async () => {
      const { started_at, ended_at } = smoke.run as { started_at: string; ended_at: string };
      const spanMs = Date.parse(ended_at) - Date.parse(started_at);
      const shifted = (ms: number): string => {
        const later = shardOf(smoke) as { run: { started_at: string; ended_at: string } };
        later.run.started_at = new Date(Date.parse(started_at) + ms).toISOString();
        later.run.ended_at = new Date(Date.parse(ended_at) + ms).toISOString();
        return save(`shard-shifted-${ms}.json`, later);
      };
      const apart = shifted(Math.round(spanMs * 0.6));
      const out = await run((io) => runMergeCommand([shard, apart], { out: merged }, io));
      expect(out.code).toBe(104);
      expect(out.err).toContain(`- ${apart}: ran from `);
      expect(out.err).toMatch(/they overlap for [\d.]+ s, under half of the shorter run, so they are not shards of one run/);
      const close = await run((io) => runMergeCommand([shard, shifted(1000)], { out: merged }, io));
      expect(close.err).toBe('');
      expect([0, 99]).toContain(close.code);
    });

    it('checks --out before the work: an empty name, /dev/null, a file, a path through a file, a shard\'s own directory', async () => {
      const file = save('plain-file', 'x');
      const shardDir = mkdtempSync(join(dir, 'shard-dir-'));
      const inShardDir = join(shardDir, 'results.json');
      writeFileSync(inShardDir, JSON.stringify(smoke));
      const cases: [string, string[], RegExp][] = [
        ['', [shard, other], /--out: expected a directory, found an empty name/],
        ['/dev/null', [shard, other], /--out: \/dev\/null is a file, not a directory/],
        [file, [shard, other], /--out: .*plain-file is a file, not a directory/],
        [join(file, 'sub'), [shard, other], /--out: cannot create .*plain-file\/sub: a part of its path is a file/],
        [shardDir, [inShardDir, other], /--out: .* holds .*results\.json, one of the shards: the merged results\.json would overwrite it/],
        // the inputs are not even read when --out is wrong
        ['/dev/null', [join(dir, 'missing.json')], /--out: \/dev\/null is a file/],
      ];
      for (const [out, inputs, message] of cases) {
        const r = await run((io) => runMergeCommand(inputs, { out }, io));
        expect(r.code, out).toBe(104);
        expect(r.err, out).toMatch(message);
      }
      expect(readFileSync(inShardDir, 'utf8')).toBe(JSON.stringify(smoke));
    });

    it('refuses a copy under another id and start, or a shard\'s copy under another index: the same measurements', async () => {
      const copy = structuredClone(smoke) as { run: { id: string; started_at: string } };
      copy.run.id = `${copy.run.id}-renamed`;
      copy.run.started_at = new Date(Date.parse(copy.run.started_at) + 1500).toISOString();
      const copyPath = save('shard-a-renamed.json', copy);
      const out = await run((io) => runMergeCommand([shard, copyPath], { out: merged }, io));
      expect(out.code).toBe(104);
      expect(out.err).toContain(`  - ${copyPath}: the same measurements as ${shard} (run.id "${(smoke.run as { id: string }).id}"): a copy of one run's results`);

      const asShard = (index: number): Doc => {
        const d = structuredClone(smoke) as Doc & { run_id?: string; shard?: { index: number; count: number } };
        d.run_id = 'r-1';
        d.shard = { index, count: 2 };
        return d;
      };
      const s0 = save('shard-0.json', asShard(0));
      const s1 = save('shard-1-copied.json', asShard(1));
      const out2 = await run((io) => runMergeCommand([s0, s1], { out: merged }, io));
      expect(out2.code).toBe(104);
      expect(out2.err).toContain(`  - ${s1}: the same measurements as ${s0}`);
    });

    it('refuses --out where one of its files is a directory, before reading the inputs', async () => {
      const outDir = mkdtempSync(join(dir, 'merge-report-dir-'));
      mkdirSync(join(outDir, 'report.html'));
      const r = await run((io) => runMergeCommand([shard, other], { out: outDir }, io));
      expect(r.code).toBe(104);
      expect(r.err).toContain(`--out: ${join(outDir, 'report.html')} is a directory: inferload writes a file there`);
    });

    it.runIf(process.platform === 'linux')('answers 104 naming --out where only the write can tell (/proc/x)', async () => {
      const r = await run((io) => runMergeCommand([shard, other], { out: '/proc/inferload-x' }, io));
      expect(r.code).toBe(104);
      expect(r.err).toMatch(/--out: cannot write \/proc\/inferload-x\/results\.json \(E[A-Z]+\)/);
    });
  });
});
