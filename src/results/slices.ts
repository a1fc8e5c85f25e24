// The run's slices: every request class, turn index and model summarised over its own requests
// (results.classes, turns, models), and each class's own SLOs judged on its requests alone.
import type { RequestClassSpec, ScenarioSpec, SloThreshold } from '../core/types.js';
import { evaluateSlos } from '../analysis/slo.js';
import { requestSlos, type GroupSnapshots, type RecorderSnapshot, type RequestSlo } from '../metrics/recorder.js';
import { RequestTally, type TallySnapshot } from '../metrics/tally.js';
import { buildSummary, type SummaryFacts } from './build.js';
import type { ClassResult, GroupResult, RunResult, SloVerdict, TurnResult } from './types.js';

/** A class's SLOs as its requests are judged by: the run's, each metric the class names replaced by its own. */
export function classSlo(run: ScenarioSpec['slo'], c: RequestClassSpec): Record<string, SloThreshold[]> {
  return { ...run, ...c.slo };
}

/** Per class, the per-request SLOs that decide whether its requests are good (goodput). */
export function classRequestSlos(spec: ScenarioSpec): Map<string, RequestSlo[]> {
  return new Map((spec.workload.classes ?? []).map((c) => [c.name, requestSlos(classSlo(spec.slo, c))]));
}

export interface Slices {
  slices: Pick<RunResult, 'classes' | 'turns' | 'models'>;
  /** the classes' own SLO verdicts, named `class <name>: metric: threshold`, for results.slo */
  verdicts: SloVerdict[];
}

/**
 * The slices of `snapshot`. Each is summarised over the run's duration (its counters take the
 * run's last end), so that every count and every throughput of the slices adds up to the run's.
 */
export function sliceResults(snapshot: RecorderSnapshot, spec: ScenarioSpec, facts: SummaryFacts): Slices {
  const groups: GroupSnapshots | undefined = snapshot.groups;
  const classes = spec.workload.classes;
  if (!groups && !classes) return { slices: {}, verdicts: [] };
  const summary = (t: TallySnapshot): GroupResult['summary'] =>
    buildSummary({ ...t, counters: { ...t.counters, lastEndUs: snapshot.counters.lastEndUs, lastAnyEndUs: snapshot.counters.lastAnyEndUs } }, facts);
  const out: Slices = { slices: {}, verdicts: [] };
  if (classes) {
    const total = classes.reduce((sum, c) => sum + c.weight, 0);
    const byName: Record<string, ClassResult> = {};
    for (const c of classes) {
      // a class no request fell into still has its SLOs judged (on no data: they fail)
      const tally = groups?.classes[c.name] ?? new RequestTally().snapshot();
      const s = summary(tally);
      const slo = evaluateSlos(c.slo, s).map((v) => ({ ...v, name: `class ${c.name}: ${v.name}`, class: c.name }));
      byName[c.name] = { weight: Math.round((c.weight / total) * 1e6) / 1e6, summary: s, slo };
      out.verdicts.push(...slo);
    }
    out.slices.classes = byName;
  }
  if (groups && groups.turns.length > 0) out.slices.turns = groups.turns.map(({ turn, tally }): TurnResult => ({ turn, summary: summary(tally) }));
  if (groups && Object.keys(groups.models).length > 0)
    out.slices.models = Object.fromEntries(Object.entries(groups.models).map(([name, tally]) => [name, { summary: summary(tally) }]));
  return out;
}
