// `inferload merge RESULTS.json... --out DIR`: combine shards of one run into one result, with
// its reports. Percentiles come from the added histograms, so the merge is exact.
import { join, resolve } from 'node:path';
import { ExitCode, InferloadError, InvalidInputError } from '../core/errors.js';
import { mergeResults } from '../analysis/merge.js';
import { analyzeSoak, analyzeSpike } from '../analysis/spike-soak.js';
import { renderConsoleSummary } from '../report/console.js';
import { isWriteRefusal, outputDirProblem } from '../results/out-dir.js';
import { readResultsFile } from '../results/read.js';
import { RunOutput } from '../results/writer.js';
import type { CommandIo } from './baseline-command.js';
import { writeReports } from './execute.js';

/**
 * Merges the shards' results into `opts.out`. Returns 99 when an SLO of the merged result fails,
 * 0 otherwise, and 104 when `--out` is missing or cannot be written, a file cannot be read or is
 * not inferload's results, or the files are not shards of one run (see analysis/merge.ts).
 */
export async function runMergeCommand(paths: string[], opts: { out?: string }, io: CommandIo): Promise<number> {
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

async function merge(paths: string[], opts: { out?: string }, io: CommandIo): Promise<number> {
  const out = opts.out;
  if (out === undefined) throw new InvalidInputError([{ path: '--out', message: 'say where the merged results go: --out DIR' }]);
  // checked before the work: a bad place would otherwise fail only at the first write
  const outProblem = outputDirProblem(out);
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
  return merged.slo.some((v) => !v.passed) ? ExitCode.thresholdFailed : ExitCode.ok;
}
