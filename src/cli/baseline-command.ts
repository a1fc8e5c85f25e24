// `inferload baseline add BASELINE RESULTS.json` and `inferload baseline show BASELINE`: keeps the
// last N comparable runs of a scenario in one small JSON file (`inferload/baseline@1`) so that the
// regression gate can judge noise by the run-to-run spread. Files are read and checked by
// results/read.ts; the atomic writer here is `compare`'s too.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  addRun,
  baselineRunOf,
  COMPARED_METRICS,
  DEFAULT_BASELINE_MAX_RUNS,
  emptyBaseline,
  type Baseline,
  type MetricKey,
} from '../analysis/baseline.js';
import { METRIC_INFO, predictionHalfWidth } from '../analysis/compare.js';
import { ExitCode, InferloadError, InvalidInputError } from '../core/errors.js';
import { escapeMarkdown as md } from '../report/common.js';
import { fmtMetricValue } from '../report/compare-markdown.js';
import { baselineOf, readBaselineFile, readJsonFile, readResultsFile } from '../results/read.js';

/** Where a command writes its messages (the CLI passes stdout/stderr, tests capture them). */
export interface CommandIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

/** Options of `inferload baseline`. */
export interface BaselineCommandOptions {
  /** `--max-runs N`: how many runs the baseline keeps (default 10; applies to an existing file too) */
  maxRuns?: string;
  /** `--json` (show): print the baseline's summary as JSON instead of markdown */
  json?: boolean;
}

/** Writes a file atomically (temporary file + rename), creating its directory. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

function parseMaxRuns(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidInputError([{ path: '--max-runs', message: `expected an integer from 1 to 1000, found "${text}"` }]);
  return n;
}

/**
 * `inferload baseline add|show`. Returns the exit code: 0 on success, 104 when a file cannot be
 * read, is not what it should be, or the run is not comparable with the baseline's runs.
 */
export async function runBaselineCommand(
  action: 'add' | 'show',
  baselinePath: string,
  resultsPath: string | undefined,
  opts: BaselineCommandOptions,
  io: CommandIo,
): Promise<number> {
  try {
    switch (action) {
      case 'add':
        return await addCommand(baselinePath, resultsPath, opts, io);
      case 'show':
        return await showCommand(baselinePath, opts, io);
      default: {
        const never: never = action;
        throw new InvalidInputError([{ path: 'ACTION', message: `expected add or show, found ${JSON.stringify(never)}` }]);
      }
    }
  } catch (err) {
    if (err instanceof InferloadError) {
      io.stderr(`inferload: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

async function addCommand(baselinePath: string, resultsPath: string | undefined, opts: BaselineCommandOptions, io: CommandIo): Promise<number> {
  if (resultsPath === undefined) throw new InvalidInputError([{ path: 'RESULTS.json', message: 'missing: `inferload baseline add BASELINE RESULTS.json`' }]);
  const maxRuns = parseMaxRuns(opts.maxRuns);
  const result = await readResultsFile(resultsPath, 'RESULTS.json');
  const existing = await readJsonFile(baselinePath, 'BASELINE', { missing: null });
  const created = existing === null;
  const baseline: Baseline = created ? emptyBaseline(result.run.scenario, maxRuns ?? DEFAULT_BASELINE_MAX_RUNS) : baselineOf(existing, baselinePath);
  if (maxRuns !== undefined) baseline.max_runs = maxRuns;
  const run = baselineRunOf(result);
  let outcome: ReturnType<typeof addRun>;
  try {
    outcome = addRun(baseline, run);
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    // the run is named by id inside; the files are named here
    io.stderr(`inferload: adding ${resultsPath} to ${baselinePath}: ${err.message}\n`);
    return err.exitCode;
  }
  if (outcome.kind === 'already-present') {
    io.stdout(`run ${run.id} is already in ${baselinePath} (${baseline.runs.length} runs); nothing added\n`);
    return ExitCode.ok;
  }
  try {
    await writeFileAtomic(baselinePath, JSON.stringify(baseline) + '\n');
  } catch (err) {
    throw new InvalidInputError([{ path: 'BASELINE', message: `cannot write ${baselinePath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }]);
  }
  const dropped = outcome.dropped.length > 0 ? `; dropped the oldest: ${outcome.dropped.map((r) => r.id).join(', ')}` : '';
  io.stdout(`${created ? 'created' : 'updated'} ${baselinePath}: added run ${run.id}, now ${baseline.runs.length} of at most ${baseline.max_runs} runs${dropped}\n`);
  return ExitCode.ok;
}

/** The per-metric spread over a baseline's runs (what the gate's noise band is made from). */
export interface BaselineSpread {
  metric: MetricKey;
  label: string;
  runs: number;
  mean: number | null;
  stddev: number | null;
  min: number | null;
  max: number | null;
  /** stddev / mean */
  cv: number | null;
  /** half-width of the 95 % prediction interval for one more run, relative to the mean */
  noise_band_ratio: number | null;
}

/** The spread of every compared metric over the baseline's runs. */
export function baselineSpread(baseline: Baseline): BaselineSpread[] {
  return COMPARED_METRICS.map((key) => {
    const values = baseline.runs.map((r) => r.metrics[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const n = values.length;
    const mean = n > 0 ? values.reduce((a, v) => a + v, 0) / n : null;
    const stddev = n >= 2 && mean !== null ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : null;
    const r6 = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : Math.round(x * 1e6) / 1e6);
    return {
      metric: key,
      label: METRIC_INFO[key].label,
      runs: n,
      mean: r6(mean),
      stddev: r6(stddev),
      min: n > 0 ? Math.min(...values) : null,
      max: n > 0 ? Math.max(...values) : null,
      cv: stddev !== null && mean ? r6(stddev / Math.abs(mean)) : null,
      noise_band_ratio: n >= 2 && mean ? r6(predictionHalfWidth(values) / Math.abs(mean)) : null,
    };
  });
}

async function showCommand(baselinePath: string, opts: BaselineCommandOptions, io: CommandIo): Promise<number> {
  const baseline = await readBaselineFile(baselinePath, 'BASELINE');
  const spread = baselineSpread(baseline);
  if (opts.json) {
    const runs = baseline.runs.map((r) => ({
      id: r.id,
      started_at: r.started_at,
      inferload_version: r.inferload_version,
      status: r.status,
      requests: r.requests,
      metrics: r.metrics,
    }));
    io.stdout(JSON.stringify({ schema: baseline.schema, scenario: baseline.scenario, max_runs: baseline.max_runs, updated_at: baseline.updated_at, runs, spread }, null, 2) + '\n');
    return ExitCode.ok;
  }
  const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
  const shown = ['ttft_p95_ms', 'itl_p50_ms', 'tpot_p50_ms', 'e2e_p95_ms', 'request_per_s', 'error_ratio'] as const;
  const lines = [
    `## inferload baseline: ${md(baseline.scenario, 120)}`,
    '',
    `${baseline.runs.length} of at most ${baseline.max_runs} runs, updated ${md(baseline.updated_at)}.` +
      (baseline.runs.length < 2 ? ' With one run the gate can only bootstrap within it; add more runs for a run-to-run noise estimate.' : ''),
    '',
    `| Run | Started | Version | Completed | Failed | ${shown.map((k) => METRIC_INFO[k].label).join(' | ')} |`,
    `| :-- | :-- | :-- | --: | --: | ${shown.map(() => '--:').join(' | ')} |`,
  ];
  for (const r of baseline.runs)
    lines.push(
      `| ${md(r.id, 120)} | ${md(r.started_at)} | ${md(r.inferload_version)} | ${r.requests.completed} | ${r.requests.failed} | ${shown
        .map((k) => fmtMetricValue(METRIC_INFO[k], r.metrics[k]))
        .join(' | ')} |`,
    );
  lines.push('', '**Run-to-run spread** (the gate calls a change noise when it stays inside the ± band)', '');
  lines.push('| Metric | Mean | Min | Max | CV | ± band (95 %) |', '| :-- | --: | --: | --: | --: | --: |');
  for (const s of spread) {
    const info = METRIC_INFO[s.metric];
    lines.push(
      `| ${s.label} | ${fmtMetricValue(info, s.mean)} | ${fmtMetricValue(info, s.min)} | ${fmtMetricValue(info, s.max)} | ${pct(s.cv)} | ${pct(s.noise_band_ratio)} |`,
    );
  }
  io.stdout(lines.join('\n') + '\n');
  return ExitCode.ok;
}
