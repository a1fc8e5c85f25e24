// `inferload history RUNS... --out DIR`: the trend of many saved runs of one scenario (nightly
// runs), each judged by the regression gate against the runs before it, as history.html,
// history.md and history.json. Reads only saved files: run directories (or a directory of them),
// results.json files, baseline files. Every file is checked by results/read.ts first, so a
// corrupt one is refused with 104 naming it and its bad fields.
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { BASELINE_SCHEMA, baselineRunOf } from '../analysis/baseline.js';
import { ExitCode, InferloadError, InvalidInputError, type InputProblem } from '../core/errors.js';
import { oneLine } from '../report/common.js';
import {
  buildHistory,
  HISTORY_METRICS,
  historyInputOfResult,
  historyInputsOfBaseline,
  newestSentence,
  regressionLine,
  type HistoryInput,
  type HistoryMetricKey,
} from '../report/history.js';
import { renderHistoryHtml } from '../report/history-html.js';
import { renderHistoryMarkdown } from '../report/history-markdown.js';
import { outputDirProblem } from '../results/out-dir.js';
import { readBaselineOrResults } from '../results/read.js';
import type { RunResult } from '../results/types.js';
import { writeFileAtomic, type CommandIo } from './baseline-command.js';
import { parseTolerancePct } from './compare-command.js';

/** Options of `inferload history` (strings, as commander passes them). */
export interface HistoryCommandOptions {
  /** `--out DIR` (required): where history.html, history.md and history.json go */
  out?: string;
  /**
   * `--metric LIST`: the metrics shown and gated, comma-separated (or repeated), from
   * HISTORY_METRICS (e.g. `ttft_p95_ms,e2e_p95_ms`); default all
   */
  metric?: string | string[];
  /** `--baseline-runs K`: the rolling baseline holds the last K runs that passed (default 10) */
  baselineRuns?: string;
  /** `--tolerance PCT`: as `compare` (default 20) */
  tolerance?: string;
  /** `--scenario NAME`: keep only this scenario's runs (needed when the inputs hold several) */
  scenario?: string;
  /** `--seed N`: seed of the gate's window bootstrap (default 1) */
  seed?: string;
}

/** Parses `--metric`: names from HISTORY_METRICS, comma-separated or repeated; undefined: all. */
export function parseHistoryMetrics(value: string | string[] | undefined): HistoryMetricKey[] | undefined {
  if (value === undefined) return undefined;
  const names = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const unknown = names.filter((n) => !(HISTORY_METRICS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0)
    throw new InvalidInputError([
      {
        path: '--metric',
        message: `${names.length === 0 ? 'expected at least one metric' : `unknown metric${unknown.length === 1 ? '' : 's'} ${unknown.map((u) => JSON.stringify(oneLine(u, 60))).join(', ')}`}; choose from ${HISTORY_METRICS.join(', ')}`,
      },
    ]);
  return [...new Set(names)] as HistoryMetricKey[];
}

function parseInteger(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n < min || n > max) throw new InvalidInputError([{ path: flag, message: `expected an integer from ${min} to ${max}, found "${oneLine(text, 60)}"` }]);
  return n;
}

/**
 * The files the inputs stand for: a results.json or baseline file as given; a directory holding a
 * results.json for that file; any other directory for the results.json of each of its
 * subdirectories (a directory of nightly run directories), one level deep. The same file given
 * twice (by two paths) counts once.
 */
export function expandHistoryInputs(inputs: string[]): string[] {
  const problems: InputProblem[] = [];
  const files: string[] = [];
  for (const p of inputs) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push({ path: p, message: code === 'ENOENT' ? 'no such file or directory' : `cannot read it (${code ?? (err as Error).message})` });
      continue;
    }
    if (!isDir) files.push(p);
    else if (existsSync(join(p, 'results.json'))) files.push(join(p, 'results.json'));
    else {
      let found: string[];
      try {
        found = readdirSync(p, { withFileTypes: true })
          .filter((e) => e.isDirectory() && existsSync(join(p, e.name, 'results.json')))
          .map((e) => join(p, e.name, 'results.json'))
          .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      } catch (err) {
        problems.push({ path: p, message: `cannot list the directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
        continue;
      }
      if (found.length === 0) problems.push({ path: p, message: 'no results.json in it or in its subdirectories: give run directories, a directory of them, results.json files or a baseline file' });
      files.push(...found);
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems, 'RUNS');
  const seen = new Set<string>();
  return files.filter((f) => {
    let key: string;
    try {
      key = realpathSync(f);
    } catch {
      key = resolve(f);
    }
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A path relative to `from` as a URL path (each segment percent-encoded), for href and markdown links. */
export function relativeHref(from: string, to: string): string {
  return relative(resolve(from), resolve(to))
    .split(sep)
    .map((s) => (s === '..' || s === '.' ? s : encodeURIComponent(s).replace(/[()'*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)))
    .join('/');
}

/** A results.json's run as history reads it, with its report's link when report.html is beside it. */
function inputOfResult(result: RunResult, path: string, out: string): HistoryInput {
  if (result.shard)
    throw new InvalidInputError(
      [{ path: 'shard', message: `shard ${result.shard.index} of ${result.shard.count} of run ${JSON.stringify(oneLine(result.run.id, 120))}: merge the shards first (inferload merge) and give the merged results.json` }],
      path,
    );
  const report = join(dirname(path), 'report.html');
  return historyInputOfResult(result, baselineRunOf(result), path, existsSync(report) ? relativeHref(out, report) : null);
}

/**
 * Writes history.html, history.md and history.json of the runs into `opts.out`. Returns 99 when the
 * newest run regressed (so a nightly job can gate on it), 0 otherwise (regressions of earlier
 * nights are reported, not gated on), and 104 when an input cannot be read or is not inferload's
 * (the message names the file and each bad field), the runs are of several scenarios (without
 * --scenario), a run is given twice, there are fewer than two runs, or `--out` cannot be written.
 */
export async function runHistoryCommand(inputs: string[], opts: HistoryCommandOptions, io: CommandIo): Promise<number> {
  try {
    const out = opts.out;
    if (out === undefined) throw new InvalidInputError([{ path: '--out', message: 'say where the history goes: --out DIR' }]);
    const outProblem = outputDirProblem(out);
    if (outProblem) throw new InvalidInputError([outProblem]);
    const metrics = parseHistoryMetrics(opts.metric);
    const baselineRuns = parseInteger('--baseline-runs', opts.baselineRuns, 1, 1000);
    const tolerancePct = parseTolerancePct(opts.tolerance);
    const seed = parseInteger('--seed', opts.seed, 0, 0xffffffff);
    if (inputs.length === 0) throw new InvalidInputError([{ path: 'RUNS', message: 'give the runs: run directories, a directory of them, results.json files or a baseline file' }]);

    const runs: HistoryInput[] = [];
    // one file at a time: only the digest of each run is kept (a month of full results would not fit in memory)
    for (const path of expandHistoryInputs(inputs)) {
      const read = await readBaselineOrResults(path, path);
      if (read.schema === BASELINE_SCHEMA) runs.push(...historyInputsOfBaseline(read, path));
      else runs.push(inputOfResult(read, path, out));
    }
    const history = buildHistory(runs, { tolerancePct, baselineRuns, seed, metrics, scenario: opts.scenario });

    const files = { html: join(out, 'history.html'), markdown: join(out, 'history.md'), json: join(out, 'history.json') };
    try {
      await writeFileAtomic(files.json, JSON.stringify(history, null, 2) + '\n');
      await writeFileAtomic(files.markdown, renderHistoryMarkdown(history));
      await writeFileAtomic(files.html, renderHistoryHtml(history));
    } catch (err) {
      throw new InvalidInputError([{ path: '--out', message: `cannot write into ${out} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose a writable directory` }]);
    }

    const first = history.runs[0]!;
    const last = history.runs[history.runs.length - 1]!;
    const lines = [
      `inferload history: ${oneLine(history.scenario, 120)}, ${history.runs.length} runs from ${first.night} to ${last.night}`,
      history.regressed.length === 0
        ? '  no run regressed'
        : `  regressions on ${history.regressed.length} run${history.regressed.length === 1 ? '' : 's'}:\n${history.regressed.map((r) => `    ${oneLine(regressionLine(r), 600)}`).join('\n')}`,
      `  ${oneLine(newestSentence(history), 800)}`,
      '',
      `history.html  ${files.html}`,
      `history.md    ${files.markdown}`,
      `history.json  ${files.json}`,
    ];
    io.stdout(lines.join('\n') + '\n');
    return history.newest.verdict === 'regression' ? ExitCode.thresholdFailed : ExitCode.ok;
  } catch (err) {
    if (err instanceof InferloadError) {
      io.stderr(`inferload: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
