// `inferload merge RESULTS.json... --out DIR`: combine shards of one run into one result, with
// its reports. Percentiles come from the added histograms, so the merge is exact.
import { join } from 'node:path';
import { ExitCode, InvalidInputError } from '../core/errors.js';
import { mergeResults } from '../analysis/merge.js';
import { analyzeSoak, analyzeSpike } from '../analysis/spike-soak.js';
import { renderConsoleSummary } from '../report/console.js';
import { RunOutput } from '../results/writer.js';
import { readResultsFile, type CommandIo } from './baseline-command.js';
import { writeReports } from './execute.js';

export async function runMergeCommand(paths: string[], opts: { out?: string }, io: CommandIo): Promise<number> {
  if (!opts.out) throw new InvalidInputError([{ path: '--out', message: 'say where the merged results go: --out DIR' }]);
  const results = [];
  for (const [i, p] of paths.entries()) results.push(await readResultsFile(p, `RESULTS[${i}]`));
  const merged = mergeResults(results, paths);
  merged.spike = analyzeSpike(merged);
  merged.soak = analyzeSoak(merged);
  const output = new RunOutput(opts.out, false);
  output.writeFinal(merged);
  await output.close();
  writeReports(merged, opts.out, (l) => io.stderr(l + '\n'));
  io.stdout(renderConsoleSummary(merged, { dir: opts.out }) + '\n');
  io.stdout(`  merged ${paths.length} shard(s) into ${join(opts.out, 'results.json')}\n`);
  return merged.slo.some((v) => !v.passed) ? ExitCode.thresholdFailed : ExitCode.ok;
}
