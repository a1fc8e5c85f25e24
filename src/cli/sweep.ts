// `inferload sweep`: find the sustainable rate under the scenario's SLOs by holding a series of
// open-loop rates (doubling, then bisection), each a full run with its own results, and report
// capacity per GPU. No argv or exit here: main.ts does those.
import { join } from 'node:path';
import { ExitCode, InvalidInputError } from '../core/errors.js';
import type { ScenarioSpec } from '../core/types.js';
import {
  capacityGpuCount,
  capacityReport,
  headroomText,
  judgeStep,
  stepExporterGpuCount,
  SweepPlanner,
  type CapacityResult,
  type SweepStep,
} from '../analysis/capacity.js';
import type { RunResult } from '../results/types.js';
import { RunOutput, prepareRunOutput } from '../results/writer.js';
import { resolveProfile } from '../sim/profiles.js';
import { executeRun, utcStamp, writeReports, type ExecuteOptions, type RunControl } from './execute.js';

export interface SweepOptions {
  out?: string;
  log?: (line: string) => void;
  /** called with a handle to interrupt the step under way (signals) */
  onStep?: (control: RunControl) => void;
  /** true once the user asked to stop: no further step starts */
  stopped?: () => boolean;
  /** client threads of every step (executeRun's `workers`) */
  workers?: number;
  /** every step's requests.jsonl carries chunk arrival times (executeRun's `recordChunks`) */
  recordChunks?: boolean;
  /** each step's checkpoint period, seconds (executeRun's `checkpointS`) */
  checkpointS?: number;
  /** exit 107 when the load generator was the bottleneck in any step */
  strict?: boolean;
  /** live progress of each step (executeRun's `progress`) */
  progress?: ExecuteOptions['progress'];
  /** the command line, for each step's record */
  argv?: string[];
}

export interface SweepOutcome {
  capacity: CapacityResult;
  /** the results.json of the sweep: the best sustainable step's results, with `capacity` */
  result: RunResult & { capacity: CapacityResult };
  exitCode: ExitCode;
  dir: string;
  /** rates of the steps in which the load generator itself was the bottleneck (results.generator.valid false) */
  generatorLimitedRates: number[];
}

/** The scenario of one step: the same target and workload at a constant open-loop rate. */
export function stepScenario(spec: ScenarioSpec, ratePerS: number): ScenarioSpec {
  const maxInFlight = 'maxInFlight' in spec.load ? spec.load.maxInFlight : 10_000;
  const { requests: _ignored, ...rest } = spec;
  return {
    ...rest,
    warmupS: spec.sweep.stepWarmupS,
    load: {
      executor: 'constant-arrival-rate',
      rate: ratePerS,
      timeUnitS: 1,
      durationS: spec.sweep.stepS,
      arrival: spec.sweep.arrival,
      burstiness: 1,
      maxInFlight,
      gracefulStopS: Math.min(spec.load.gracefulStopS, 15),
    },
  };
}

export async function executeSweep(spec: ScenarioSpec, opts: SweepOptions = {}): Promise<SweepOutcome> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const dir = opts.out ?? join('reports', 'runs', `${spec.name}-sweep-${utcStamp(new Date())}`);
  // before the first step: a bad --out would otherwise be found by the step, or only at the end
  const outProblem = prepareRunOutput(dir);
  if (outProblem !== null) throw new InvalidInputError([outProblem]);
  const planner = new SweepPlanner(spec.sweep);
  const steps: SweepStep[] = [];
  const results = new Map<number, RunResult>();
  const exporterGpus: { rate_per_s: number; exporter: number | null }[] = [];
  let last: RunResult | null = null;
  const generatorLimitedRates: number[] = [];
  for (let rate = planner.next(), i = 1; rate !== null && !opts.stopped?.(); rate = planner.next(), i++) {
    const stepDir = join(dir, `step-${String(i).padStart(2, '0')}-${rate}rps`);
    log(`sweep step ${i}: ${rate} req/s for ${spec.sweep.stepS} s (first ${spec.sweep.stepWarmupS} s discarded)`);
    const { result } = await executeRun(stepScenario(spec, rate), {
      out: stepDir,
      onStart: opts.onStep,
      log,
      workers: opts.workers,
      recordChunks: opts.recordChunks,
      checkpointS: opts.checkpointS,
      progress: opts.progress,
      argv: opts.argv,
    });
    last = result;
    if (result.status === 'interrupted') break;
    if (!result.generator.valid) {
      generatorLimitedRates.push(rate);
      log(`  the load generator was the bottleneck in this step (${result.generator.warnings.join('; ')}): its verdict may be the client's, not the server's`);
    }
    const step = judgeStep(rate, result, join(stepDir, 'results.json'));
    steps.push(step);
    results.set(rate, result);
    exporterGpus.push({ rate_per_s: rate, exporter: stepExporterGpuCount(result) });
    log(
      `  ${step.sustainable ? 'sustainable' : 'NOT sustainable'}: ${step.request_per_s.toFixed(2)} req/s done, TTFT p95 ${fmt(step.ttft_p95_ms)} ms, ITL p95 ${fmt(step.itl_p95_ms)} ms` +
        (step.reasons.length > 0 ? ` (${step.reasons.join('; ')})` : ''),
    );
    if (result.status === 'failed') break;
    planner.report(rate, step.sustainable);
  }
  const gpu = capacityGpuCount({
    declared: spec.target.gpuCount ?? null,
    steps: exporterGpus,
    simulator: spec.target.url ? null : resolveProfile(spec.simulator.profile).gpuCount,
  });
  const capacity = capacityReport(steps, gpu);
  const best = capacity.sustainable_request_per_s !== null ? results.get(capacity.sustainable_request_per_s) : undefined;
  const base = best ?? last;
  if (!base) throw new Error('the sweep ran no step');
  const result = { ...base, capacity };
  const output = new RunOutput(dir, false);
  output.writeFinal(result);
  await output.close();
  writeReports(result, dir, log);
  const exitCode = sweepExitCode({
    interrupted: last?.status === 'interrupted',
    strict: opts.strict ?? false,
    generatorLimitedSteps: generatorLimitedRates.length,
    sustainableFound: capacity.sustainable_request_per_s !== null,
  });
  return { capacity, result, exitCode, dir, generatorLimitedRates };
}

/**
 * The exit code of a sweep, in run's order (exitCodeOf): an interrupt first; then, with
 * `--strict`, a step the generator could not hold (107), since the capacity found may be the
 * client's; then no sustainable rate at all (99).
 */
export function sweepExitCode(o: { interrupted: boolean; strict: boolean; generatorLimitedSteps: number; sustainableFound: boolean }): ExitCode {
  if (o.interrupted) return ExitCode.interrupted;
  if (o.strict && o.generatorLimitedSteps > 0) return ExitCode.invalidRun;
  if (!o.sustainableFound) return ExitCode.thresholdFailed;
  return ExitCode.ok;
}

const fmt = (v: number | null): string => (v === null ? '-' : v.toFixed(0));

/** The console summary of a sweep; steps the generator could not hold are marked. */
export function renderSweepSummary(c: CapacityResult, dir: string, opts: { generatorLimitedRates?: readonly number[]; strict?: boolean } = {}): string {
  const limited = new Set(opts.generatorLimitedRates ?? []);
  const lines = [
    '',
    'inferload sweep',
    `  ${'rate/s'.padStart(8)} ${'done/s'.padStart(8)} ${'TTFT p95'.padStart(9)} ${'ITL p95'.padStart(8)} ${'E2E p95'.padStart(8)}  ${'verdict'.padEnd(15)}  headroom`,
  ];
  for (const s of [...c.steps].sort((a, b) => a.rate_per_s - b.rate_per_s)) {
    lines.push(
      `  ${String(s.rate_per_s).padStart(8)} ${s.request_per_s.toFixed(2).padStart(8)} ${fmt(s.ttft_p95_ms).padStart(9)} ${fmt(s.itl_p95_ms).padStart(8)} ${fmt(s.e2e_p95_ms).padStart(8)}  ${(s.sustainable ? 'ok' : 'NOT sustainable').padEnd(15)}  ${headroomText(s.headroom)}` +
        (limited.has(s.rate_per_s) ? '  (generator-limited)' : ''),
    );
  }
  lines.push('', `  ${c.finding}`);
  if (c.headroom_note) lines.push(`  headroom: ${c.headroom_note}`);
  for (const w of c.warnings ?? []) lines.push(`  warning: ${w}`);
  if (limited.size > 0)
    lines.push(
      `  the load generator was the bottleneck in ${limited.size} step(s): see results.generator in their results.json` +
        (opts.strict ? ' (--strict: exit 107)' : ' (--strict would exit 107)'),
    );
  lines.push('', `  results    ${dir}/results.json  (each step in its own directory)`);
  return lines.join('\n');
}
