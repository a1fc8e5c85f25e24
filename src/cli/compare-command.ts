// `inferload compare BASELINE CURRENT.json`: the regression gate. Prints the comparison as
// markdown, writes the requested files (JSON, JUnit XML, github-action-benchmark JSON) and returns
// 99 on a real regression, 0 otherwise, 104 on unreadable or non-comparable input.
import { compareRuns, DEFAULT_TOLERANCE_PCT } from '../analysis/compare.js';
import { ExitCode, InferloadError, InvalidInputError } from '../core/errors.js';
import { benchmarkActionJson } from '../report/benchmark-action.js';
import { renderCompareMarkdown } from '../report/compare-markdown.js';
import { gateJUnit } from '../report/junit.js';
import { readBaselineOrResults, readResultsFile } from '../results/read.js';
import { writeFileAtomic, type CommandIo } from './baseline-command.js';

/** Options of `inferload compare` (strings, as commander passes them). */
export interface CompareCommandOptions {
  /** `--tolerance PCT`: relative change tolerated, percent (default 20); `20`, `20%` */
  tolerance?: string;
  /** `--markdown FILE`: also write the markdown (e.g. $GITHUB_STEP_SUMMARY) */
  markdown?: string;
  /** `--junit FILE`: JUnit XML, one testcase per compared metric */
  junit?: string;
  /** `--json FILE`: the Comparison as JSON */
  json?: string;
  /** `--benchmark-json FILE`: the current run as github-action-benchmark `customSmallerIsBetter` JSON */
  benchmarkJson?: string;
  /** `--benchmark-json-bigger FILE`: its throughputs as `customBiggerIsBetter` JSON */
  benchmarkJsonBigger?: string;
  /** `--seed N`: seed of the window bootstrap (default 1) */
  seed?: string;
}

/** Parses `--tolerance`: a percentage >= 0, with or without `%`. */
export function parseTolerancePct(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TOLERANCE_PCT;
  const t = text.trim().replace(/\s*%$/, '');
  const n = Number(t);
  if (t === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidInputError([{ path: '--tolerance', message: `expected a percentage >= 0 such as 20 or 20%, found "${text}"` }]);
  return n;
}

function parseSeed(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidInputError([{ path: '--seed', message: `expected an integer >= 0, found "${text}"` }]);
  return n;
}

async function writeOutput(flag: string, path: string, content: string): Promise<void> {
  try {
    await writeFileAtomic(path, content);
  } catch (err) {
    throw new InvalidInputError([{ path: flag, message: `cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }]);
  }
}

/**
 * Compares CURRENT (a results.json) against BASELINE (a baseline file or another results.json).
 * Returns 99 when any metric regressed (beyond noise, beyond tolerance, worse), 0 otherwise, and
 * 104 when an input cannot be read, is not inferload's, or the runs are not comparable.
 */
export async function runCompareCommand(baselinePath: string, currentPath: string, opts: CompareCommandOptions, io: CommandIo): Promise<number> {
  try {
    const tolerancePct = parseTolerancePct(opts.tolerance);
    const seed = parseSeed(opts.seed);
    const baseline = await readBaselineOrResults(baselinePath, 'BASELINE');
    const current = await readResultsFile(currentPath, 'CURRENT');
    let comparison: ReturnType<typeof compareRuns>;
    try {
      comparison = compareRuns(baseline, current, { tolerancePct, seed });
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      // the runs are named by id inside; the files they came from are named here
      io.stderr(`inferload: comparing ${currentPath} with ${baselinePath}: ${err.message}\n`);
      return err.exitCode;
    }
    const markdown = renderCompareMarkdown(comparison);
    io.stdout(markdown);
    if (opts.markdown !== undefined) await writeOutput('--markdown', opts.markdown, markdown);
    if (opts.json !== undefined) await writeOutput('--json', opts.json, JSON.stringify(comparison, null, 2) + '\n');
    if (opts.junit !== undefined) await writeOutput('--junit', opts.junit, gateJUnit(comparison));
    if (opts.benchmarkJson !== undefined || opts.benchmarkJsonBigger !== undefined) {
      const bench = benchmarkActionJson(current, { seed });
      if (opts.benchmarkJson !== undefined) await writeOutput('--benchmark-json', opts.benchmarkJson, JSON.stringify(bench.smallerIsBetter, null, 2) + '\n');
      if (opts.benchmarkJsonBigger !== undefined)
        await writeOutput('--benchmark-json-bigger', opts.benchmarkJsonBigger, JSON.stringify(bench.biggerIsBetter, null, 2) + '\n');
    }
    return comparison.verdict === 'regression' ? ExitCode.thresholdFailed : ExitCode.ok;
  } catch (err) {
    if (err instanceof InferloadError) {
      io.stderr(`inferload: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
