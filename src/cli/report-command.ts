// `inferload report RESULTS.json [--out DIR]`: re-renders report.md, report.html and (when the run
// has SLOs) junit.xml from a saved results file, without re-running anything. Checks the file is
// inferload's results (schema `inferload/results@1`) and names what is wrong otherwise (exit 104).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExitCode, InvalidInputError, type InputProblem } from '../core/errors.js';
import { sloJUnit } from '../report/junit.js';
import { renderReports } from '../report/render.js';
import { isWriteRefusal, outputDirProblem } from '../results/out-dir.js';
import { readResultsFile } from '../results/read.js';

/** Where the report command writes its messages (the CLI passes stdout/stderr, tests capture them). */
export interface ReportCommandIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

/** Options of `inferload report`. */
export interface ReportCommandOptions {
  /** output directory; default: the directory of the results file */
  out?: string;
}

/**
 * Re-renders report.md, report.html and (when the run has SLOs) junit.xml from a saved
 * results.json, next to it or into `opts.out`. Returns the exit code: 0 when they were written,
 * 104 when the file cannot be read or is not inferload's results (the message names the field and
 * the fix) or `--out` cannot be written.
 */
export async function runReportCommand(resultsPath: string, opts: ReportCommandOptions, io: ReportCommandIo): Promise<number> {
  const fail = (problems: InputProblem[]): number => {
    io.stderr(`inferload: ${new InvalidInputError(problems).message}\n`);
    return ExitCode.invalidInput;
  };
  let result;
  try {
    // the report decodes only the whole-run histograms: the windows' are checked, not decoded
    result = await readResultsFile(resultsPath, 'RESULTS.json', { decode: 'summary' });
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    io.stderr(`inferload: ${err.message}\n`);
    return err.exitCode;
  }
  const dir = opts.out ?? dirname(resultsPath);
  const outProblem = outputDirProblem(dir, opts.out !== undefined ? '--out' : 'RESULTS.json (its directory)');
  if (outProblem) return fail([outProblem]);
  let written: ReturnType<typeof renderReports>;
  let junitPath: string | null = null;
  try {
    written = renderReports(result, dir);
    if (result.slo.length > 0) {
      junitPath = join(dir, 'junit.xml');
      writeFileSync(junitPath, sloJUnit(result));
    }
  } catch (err) {
    if (isWriteRefusal(err))
      return fail([{ path: opts.out !== undefined ? '--out' : 'RESULTS.json', message: `cannot write the reports into ${dir} (${(err as NodeJS.ErrnoException).code}); choose a writable directory with --out` }]);
    throw err;
  }
  io.stdout(`report.md    ${written.markdownPath}\nreport.html  ${written.htmlPath}\n${junitPath ? `junit.xml    ${junitPath}\n` : ''}`);
  return ExitCode.ok;
}
