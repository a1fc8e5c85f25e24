// `inferload merge RESULTS.json... --out DIR`: combine shards of one run into one result, with
// its reports. Percentiles come from the added histograms, so the merge is exact.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDurationS } from '../config/duration.js';
import { ExitCode, InferloadError, InvalidInputError, InvalidRunError } from '../core/errors.js';
import { mergeResults } from '../analysis/merge.js';
import { analyzeSoak, analyzeSpike } from '../analysis/spike-soak.js';
import { renderConsoleSummary } from '../report/console.js';
import { isWriteRefusal, outputDirProblem } from '../results/out-dir.js';
import { readResultsFile } from '../results/read.js';
import { RunOutput, runFilesProblem } from '../results/writer.js';
import type { CommandIo } from './baseline-command.js';
import { writeReports } from './execute.js';

/**
 * Merges the shards' results into `opts.out`. Returns 99 when an SLO of the merged result fails,
 * 0 otherwise, and 104 when `--out` is missing or cannot be written, a file cannot be read or is
 * not inferload's results, or the files are not shards of one run (see analysis/merge.ts).
 */
export interface MergeFlags {
  out?: string;
  /** with a directory: wait until this many shards' results are final */
  waitFor?: string;
  /** how long --wait-for waits (a duration, default 1h) */
  timeout?: string;
}

export async function runMergeCommand(paths: string[], opts: MergeFlags, io: CommandIo): Promise<number> {
  try {
    return await merge(paths, opts, io);
  } catch (err) {
    if (err instanceof InferloadError) {
      io.stderr(`inferload: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

async function merge(given: string[], opts: MergeFlags, io: CommandIo): Promise<number> {
  const out = opts.out;
  if (out === undefined) throw new InvalidInputError([{ path: '--out', message: 'say where the merged results go: --out DIR' }]);
  const paths = await shardFiles(given, opts, io);
  // checked before the work: a bad place would otherwise fail only at the first write
  const outProblem = outputDirProblem(out) ?? runFilesProblem(out);
  if (outProblem) throw new InvalidInputError([outProblem]);
  const clobbered = paths.find((p) => resolve(p) === resolve(out, 'results.json'));
  if (clobbered !== undefined)
    throw new InvalidInputError([{ path: '--out', message: `${out} holds ${clobbered}, one of the shards: the merged results.json would overwrite it; choose another directory` }]);
  const results = [];
  for (const [i, p] of paths.entries()) results.push(await readResultsFile(p, `RESULTS[${i}]`));
  const merged = mergeResults(results, paths);
  merged.spike = analyzeSpike(merged);
  merged.soak = analyzeSoak(merged);
  try {
    const output = new RunOutput(out, false);
    output.writeFinal(merged);
    await output.close();
  } catch (err) {
    if (!isWriteRefusal(err)) throw err;
    throw new InvalidInputError([{ path: '--out', message: `cannot write ${join(out, 'results.json')} (${(err as NodeJS.ErrnoException).code}); choose a writable directory` }]);
  }
  writeReports(merged, out, (l) => io.stderr(l + '\n'));
  io.stdout(renderConsoleSummary(merged, { dir: out }) + '\n');
  io.stdout(`  merged ${paths.length} shard(s) into ${join(out, 'results.json')}\n`);
  const missing = merged.merged_shards?.missing ?? [];
  if (missing.length > 0) {
    // less load reached the server than the run meant: no verdict stands on it
    io.stderr(`inferload: ${merged.status_reason ?? ''}: the merged run is short of its load (exit 107)\n`);
    return ExitCode.invalidRun;
  }
  return merged.slo.some((v) => !v.passed) ? ExitCode.thresholdFailed : ExitCode.ok;
}

/**
 * The shards' results files: the paths given, where a directory stands for the results.json of
 * each of its subdirectories (a Kubernetes Job's shard-0, shard-1, …). With --wait-for N, waits
 * until N of them are final (not a checkpoint of a run under way), up to --timeout.
 */
async function shardFiles(given: string[], opts: MergeFlags, io: CommandIo): Promise<string[]> {
  // a directory: its shard-* subdirectories (a Kubernetes Job's), else every subdirectory with
  // results; never the merge's own output (a rerun would take it for a shard)
  const outDir = opts.out === undefined ? null : resolve(opts.out);
  const expand = (): string[] =>
    given.flatMap((p) => {
      if (!existsSync(p) || !statSync(p).isDirectory()) return [p];
      const dirs = readdirSync(p, { withFileTypes: true }).filter(
        (e) => e.isDirectory() && resolve(p, e.name) !== outDir && existsSync(join(p, e.name, 'results.json')),
      );
      const shards = dirs.filter((e) => /^shard-\d+$/.test(e.name));
      return (shards.length > 0 ? shards : dirs).map((e) => join(p, e.name, 'results.json')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    });
  if (opts.waitFor === undefined) {
    const paths = expand();
    if (paths.length === 0) throw new InvalidInputError([{ path: 'RESULTS', message: `no results.json in ${given.join(', ')}: give the shards' results files or the directory holding their directories` }]);
    return paths;
  }
  const n = Number(opts.waitFor);
  if (!/^\s*\d+\s*$/.test(opts.waitFor) || n < 1) throw new InvalidInputError([{ path: '--wait-for', message: `expected a number of shards >= 1, found "${opts.waitFor}"` }]);
  const timeoutS = opts.timeout === undefined ? 3600 : parseDurationS(opts.timeout);
  if (timeoutS === undefined || !(timeoutS > 0)) throw new InvalidInputError([{ path: '--timeout', message: `expected a duration like 90m, found "${opts.timeout}"` }]);
  const until = Date.now() + timeoutS * 1000;
  let lastSaid = 0;
  for (;;) {
    const final = expand().filter(isFinal);
    if (final.length >= n) return final;
    if (Date.now() > until) {
      if (final.length === 0) throw new InvalidRunError(`no shard's results became final within ${opts.timeout ?? '1h'} in ${given.join(', ')}`);
      io.stderr(`inferload: ${final.length} of ${n} shards' results are final after ${opts.timeout ?? '1h'}: merging those\n`);
      return final;
    }
    if (Date.now() - lastSaid > 30_000) {
      io.stderr(`inferload: waiting for shards: ${final.length} of ${n} final\n`);
      lastSaid = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A results file whose run has ended (its status is no longer `running`); false while it is being written. */
function isFinal(path: string): boolean {
  try {
    const status = (JSON.parse(readFileSync(path, 'utf8')) as { status?: unknown }).status;
    return typeof status === 'string' && status !== 'running';
  } catch {
    return false;
  }
}
