// A run as github-action-benchmark's custom JSON, so teams can chart trends per commit: an array
// of `{name, unit, value, range?, extra?}` (range and extra are strings). Latencies and the error
// ratio go to the `customSmallerIsBetter` file; throughputs are larger-is-better and go to a
// separate `customBiggerIsBetter` file (the action takes one direction per file).
import { baselineRunOf, COMPARED_METRICS, type MetricKey } from '../analysis/baseline.js';
import { BOOTSTRAP_METRICS, bootstrapWindows, prepareWindows, quantile, type BootstrapMetric } from '../analysis/bootstrap.js';
import { METRIC_INFO } from '../analysis/compare.js';
import { Rng } from '../core/rng.js';
import type { RunResult } from '../results/types.js';

/** One entry of github-action-benchmark's custom JSON. */
export interface BenchmarkActionEntry {
  name: string;
  unit: string;
  value: number;
  /** the spread of the value, e.g. "± 1.234" */
  range?: string;
  /** shown in the chart's tooltip */
  extra?: string;
}

/** Both files' contents. */
export interface BenchmarkActionJson {
  /** for `tool: customSmallerIsBetter`: latencies (ms) and the error ratio */
  smallerIsBetter: BenchmarkActionEntry[];
  /** for `tool: customBiggerIsBetter`: request, output-token and goodput throughput */
  biggerIsBetter: BenchmarkActionEntry[];
}

const BOOTSTRAPPED: ReadonlySet<string> = new Set<string>(BOOTSTRAP_METRICS);

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The run's entries. Names are `<scenario>: <metric>` so that charts stay keyed by scenario across
 * commits. `range` is the half-width of a 95 % window-bootstrap interval (within-run noise), when
 * the run has at least two measured windows; `extra` names the run and its sample size.
 */
export function benchmarkActionJson(result: RunResult, opts: { resamples?: number; seed?: number } = {}): BenchmarkActionJson {
  const digest = baselineRunOf(result);
  let halfWidth: (key: MetricKey) => number | null = () => null;
  if (digest.windows.length >= 2) {
    const resamples = opts.resamples ?? 1000;
    const blockS = (digest.metrics.e2e_p95_ms ?? 0) / 1000;
    const boot = bootstrapWindows(prepareWindows(digest.windows, blockS), Rng.derive(opts.seed ?? 1, 'inferload/benchmark-action'), resamples);
    halfWidth = (key) => {
      if (!BOOTSTRAPPED.has(key)) return null;
      const reps = boot.replicates[key as BootstrapMetric];
      const lo = quantile(reps, 0.025);
      const hi = quantile(reps, 0.975);
      return lo === null || hi === null ? null : (hi - lo) / 2;
    };
  }
  const r = result.summary.requests;
  const extra = `run ${result.run.id} (${result.run.started_at}); ${r.completed} completed, ${r.failed} failed of ${r.sent} sent; inferload ${result.run.inferload_version}`;
  const out: BenchmarkActionJson = { smallerIsBetter: [], biggerIsBetter: [] };
  for (const key of COMPARED_METRICS) {
    const value = digest.metrics[key];
    if (value === null || !Number.isFinite(value)) continue;
    const info = METRIC_INFO[key];
    const entry: BenchmarkActionEntry = { name: `${result.run.scenario}: ${info.label}`, unit: info.unit, value: round3(value) };
    if (key === 'error_ratio') entry.value = Math.round(value * 1e6) / 1e6;
    const hw = halfWidth(key);
    if (hw !== null) entry.range = `± ${key === 'error_ratio' ? Math.round(hw * 1e6) / 1e6 : round3(hw)}`;
    entry.extra = extra;
    (info.better === 'smaller' ? out.smallerIsBetter : out.biggerIsBetter).push(entry);
  }
  return out;
}
