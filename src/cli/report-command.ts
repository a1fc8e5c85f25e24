// `inferload report RESULTS.json [--out DIR]`: re-renders report.md, report.html and (when the run
// has SLOs) junit.xml from a saved results file, without re-running anything. Checks the file is
// inferload's results (schema `inferload/results@1`) and names what is wrong otherwise (exit 104).
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ExitCode, InvalidInputError, type InputProblem } from '../core/errors.js';
import { LATENCY_METRICS } from '../metrics/recorder.js';
import { sloJUnit } from '../report/junit.js';
import { renderReports } from '../report/render.js';
import { RESULTS_SCHEMA, type RunResult } from '../results/types.js';

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

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/**
 * What keeps a parsed file from being rendered: the schema tag and the fields every report reads.
 * Sections that later versions added (server, correlation, error_samples) may be missing.
 */
export function checkResultsShape(raw: unknown): InputProblem[] {
  if (!isObject(raw)) return [{ path: '(file)', message: `expected a JSON object (inferload's results.json), found ${describe(raw)}` }];
  if (raw.schema !== RESULTS_SCHEMA)
    return [
      {
        path: 'schema',
        message: `expected "${RESULTS_SCHEMA}", found ${describe(raw.schema)}: pass the results.json that \`inferload run\` wrote (this version reads ${RESULTS_SCHEMA} only)`,
      },
    ];
  const problems: InputProblem[] = [];
  const need = (path: string, v: unknown, ok: boolean, what: string): void => {
    if (!ok) problems.push({ path, message: `expected ${what}, found ${describe(v)}` });
  };
  const run = raw.run;
  need('run', run, isObject(run), 'an object');
  if (isObject(run)) {
    need('run.scenario', run.scenario, typeof run.scenario === 'string', 'a string');
    need('run.started_at', run.started_at, typeof run.started_at === 'string', 'a string');
    need('run.target', run.target, isObject(run.target), 'an object');
    if (isObject(run.target)) {
      need('run.target.url', run.target.url, typeof run.target.url === 'string', 'a string');
      need('run.target.model', run.target.model, typeof run.target.model === 'string', 'a string');
    }
  }
  const summary = raw.summary;
  need('summary', summary, isObject(summary), 'an object');
  if (isObject(summary)) {
    need('summary.requests', summary.requests, isObject(summary.requests), 'an object');
    need('summary.throughput', summary.throughput, isObject(summary.throughput), 'an object');
    need('summary.rate', summary.rate, isObject(summary.rate), 'an object');
    need('summary.tokens', summary.tokens, isObject(summary.tokens), 'an object');
    const lat = summary.latency_ms;
    need('summary.latency_ms', lat, isObject(lat), 'an object');
    if (isObject(lat))
      for (const m of LATENCY_METRICS) {
        const l = lat[m];
        need(`summary.latency_ms.${m}`, l, isObject(l) && typeof l.count === 'number' && typeof l.hdr === 'string', 'a latency summary with count and hdr');
      }
  }
  need('windows', raw.windows, Array.isArray(raw.windows), 'an array');
  if (Array.isArray(raw.windows)) {
    const bad = raw.windows.findIndex((w) => !isObject(w) || typeof w.t_s !== 'number' || typeof w.window_s !== 'number' || !(w.window_s > 0));
    if (bad >= 0) need(`windows[${bad}]`, raw.windows[bad], false, 'a window with numbers t_s and window_s > 0');
  }
  need('slo', raw.slo, Array.isArray(raw.slo), 'an array');
  need('generator', raw.generator, isObject(raw.generator), 'an object');
  return problems;
}

/** Fills in the sections an earlier results@1 file may lack, so every renderer can rely on them. */
export function normalizeResults(raw: Record<string, unknown>): RunResult {
  const r = structuredClone(raw) as unknown as RunResult;
  const server = (isObject(r.server) ? r.server : {}) as Partial<RunResult['server']>;
  r.server = {
    endpoints: (Array.isArray(server.endpoints) ? server.endpoints : []).map((e) => ({
      ...e,
      profiles: Array.isArray(e.profiles) ? e.profiles : e.profile ? [e.profile] : [],
      warnings: Array.isArray(e.warnings) ? e.warnings : [],
      last_error: e.last_error ?? null,
    })),
    tokens: server.tokens ?? null,
    gpu_count: server.gpu_count ?? null,
    alerts: Array.isArray(server.alerts) ? server.alerts : [],
  };
  r.correlation = isObject(r.correlation) ? r.correlation : {};
  r.error_samples = Array.isArray(r.error_samples) ? r.error_samples : [];
  r.status_reason = r.status_reason ?? null;
  r.run.description = r.run.description ?? null;
  r.run.argv = Array.isArray(r.run.argv) ? r.run.argv : [];
  r.summary.errors = isObject(r.summary.errors) ? r.summary.errors : {};
  // added later in results@1: requests cut at the stop, and the goodput count
  r.summary.requests.interrupted ??= 0;
  r.summary.requests.good ??= Math.round((r.summary.throughput.goodput_ratio ?? 0) * r.summary.requests.completed);
  r.generator.warnings = Array.isArray(r.generator.warnings) ? r.generator.warnings : [];
  // added later in results@1: the client's worker threads
  r.generator.workers ??= 1;
  for (const w of r.windows) {
    w.server = isObject(w.server) ? w.server : {};
    w.errors = isObject(w.errors) ? w.errors : {};
  }
  return r;
}

/**
 * Re-renders report.md, report.html and (when the run has SLOs) junit.xml from a saved
 * results.json, next to it or into `opts.out`. Returns the exit code: 0 when they were written,
 * 104 when the file cannot be read or is not inferload's results (the message names the field and
 * the fix) or `--out` cannot be written.
 */
export async function runReportCommand(resultsPath: string, opts: ReportCommandOptions, io: ReportCommandIo): Promise<number> {
  const fail = (problems: InputProblem[]): number => {
    io.stderr(`inferload: ${new InvalidInputError(problems, resultsPath).message}\n`);
    return ExitCode.invalidInput;
  };
  let text: string;
  try {
    text = await readFile(resultsPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : ((err as Error).message ?? String(err));
    return fail([{ path: 'RESULTS.json', message: `cannot read it (${why}); pass the results.json of a run, e.g. reports/runs/<run>/results.json` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return fail([{ path: '(file)', message: `expected JSON (inferload's results.json), found text that does not parse: ${(err as Error).message}` }]);
  }
  const problems = checkResultsShape(raw);
  if (problems.length > 0) return fail(problems);
  const result = normalizeResults(raw as Json);
  const dir = opts.out ?? dirname(resultsPath);
  let written: ReturnType<typeof renderReports>;
  let junitPath: string | null = null;
  try {
    written = renderReports(result, dir);
    if (result.slo.length > 0) {
      junitPath = join(dir, 'junit.xml');
      writeFileSync(junitPath, sloJUnit(result));
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'EPERM')
      return fail([{ path: opts.out !== undefined ? '--out' : 'RESULTS.json', message: `cannot write the reports into ${dir} (${code}); choose a writable directory with --out` }]);
    throw err;
  }
  io.stdout(`report.md    ${written.markdownPath}\nreport.html  ${written.htmlPath}\n${junitPath ? `junit.xml    ${junitPath}\n` : ''}`);
  return ExitCode.ok;
}
