// Baseline digests and files: what a run keeps (measured windows, exact merges, the compared
// metrics), the last-N rule, and refusals (incomplete or non-comparable runs, bad files).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  addRun,
  BASELINE_SCHEMA,
  baselineRunOf,
  coarsenWindows,
  emptyBaseline,
  measuredWindows,
} from '../../../src/analysis/baseline.js';
import { InvalidInputError } from '../../../src/core/errors.js';
import { decodeHistogram } from '../../../src/metrics/hdr.js';
import { baselineProblems } from '../../../src/results/read.js';
import type { RunResult } from '../../../src/results/types.js';

const fixture = (name: string): RunResult =>
  JSON.parse(readFileSync(new URL(`../../fixtures/results/smoke-${name}.json`, import.meta.url), 'utf8')) as RunResult;

describe('baselineRunOf', () => {
  const result = fixture('base-1');

  it('keeps the measured windows only: after warm-up, before arrivals ended (not the drain)', () => {
    const measured = measuredWindows(result);
    expect(result.windows.length).toBeGreaterThan(measured.length);
    expect(measured.every((w) => w.t_s >= result.run.warmup_s && w.t_s < result.run.warmup_s + result.summary.rate.arrival_period_s)).toBe(true);
    const digest = baselineRunOf(result);
    expect(digest.windows).toHaveLength(measured.length);
    expect(digest.windows[0]!.hdr).toEqual({ ttft: measured[0]!.hdr.ttft, itl: measured[0]!.hdr.itl, e2e: measured[0]!.hdr.e2e });
  });

  it('carries the compared metrics straight from the summary', () => {
    const d = baselineRunOf(result);
    expect(d.metrics.ttft_p95_ms).toBe(result.summary.latency_ms.ttft.p95);
    expect(d.metrics.tpot_p50_ms).toBe(result.summary.latency_ms.tpot.p50);
    expect(d.metrics.request_per_s).toBe(result.summary.throughput.request_per_s);
    expect(d.metrics.error_ratio).toBe(0);
    expect(d.slo).toEqual(result.slo.map((s) => s.name));
  });

  it('coarsens windows by exact merges: counts add, histograms add', () => {
    const d = baselineRunOf(result);
    const merged = coarsenWindows(d.windows, 4);
    expect(merged).toHaveLength(4);
    const sum = (ws: typeof merged, f: (w: (typeof merged)[number]) => number): number => ws.reduce((a, w) => a + f(w), 0);
    expect(sum(merged, (w) => w.completed)).toBe(sum(d.windows, (w) => w.completed));
    expect(sum(merged, (w) => w.window_s)).toBeCloseTo(sum(d.windows, (w) => w.window_s), 9);
    expect(sum(merged, (w) => decodeHistogram(w.hdr.itl).totalCount)).toBe(sum(d.windows, (w) => decodeHistogram(w.hdr.itl).totalCount));
    expect(merged[1]!.t_s).toBe(d.windows[4]!.t_s);
  });
});

describe('baseline files', () => {
  const runs = [fixture('base-1'), fixture('base-2'), fixture('base-3'), fixture('same')];

  it('appends runs, keeps the last N, and stays small', () => {
    const b = emptyBaseline('smoke', 3);
    for (const r of runs) expect(addRun(b, baselineRunOf(r)).kind).toBe('added');
    expect(b.runs.map((r) => r.id)).toEqual(runs.slice(1).map((r) => r.run.id));
    expect(b.schema).toBe(BASELINE_SCHEMA);
    expect(baselineProblems(JSON.parse(JSON.stringify(b)))).toEqual([]);
    // three 15 s runs: far smaller than their results.json files (about 50 kB each)
    expect(JSON.stringify(b).length).toBeLessThan(40_000);
  });

  it('leaves a run already present alone (a re-run CI job is harmless)', () => {
    const b = emptyBaseline('smoke');
    addRun(b, baselineRunOf(runs[0]!));
    expect(addRun(b, baselineRunOf(runs[0]!))).toEqual({ kind: 'already-present' });
    expect(b.runs).toHaveLength(1);
  });

  it('refuses a run of another workload (104), naming the field', () => {
    const b = emptyBaseline('smoke');
    addRun(b, baselineRunOf(runs[0]!));
    const other = structuredClone(runs[1]!);
    (other.run.workload.promptTokens as { max: number }).max = 4096;
    const err = (() => {
      try {
        addRun(b, baselineRunOf(other));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).exitCode).toBe(104);
    expect((err as InvalidInputError).problems[0]!.path).toBe('run.workload.promptTokens.max');
    expect(b.runs).toHaveLength(1);
  });

  it('refuses an incomplete run', () => {
    const interrupted = structuredClone(runs[0]!);
    interrupted.status = 'interrupted';
    expect(() => addRun(emptyBaseline('smoke'), baselineRunOf(interrupted))).toThrow(/complete runs only/);
  });

  it('refuses a run that completed no request (a server that accepted connections and never answered)', () => {
    const none = structuredClone(runs[0]!);
    none.summary.requests.completed = 0;
    expect(() => addRun(emptyBaseline('smoke'), baselineRunOf(none))).toThrow(/summary\.requests\.completed: no request completed/);
  });

  it('names what is wrong with a file that is not a baseline', () => {
    expect(baselineProblems({ schema: 'inferload/results@1' })[0]!.path).toBe('schema');
    expect(baselineProblems([])[0]!.path).toBe('(file)');
    const b = emptyBaseline('smoke');
    addRun(b, baselineRunOf(runs[0]!));
    const broken = JSON.parse(JSON.stringify(b)) as { runs: { windows: unknown[]; metrics: Record<string, unknown> }[] };
    broken.runs[0]!.windows[2] = { window_s: 0 };
    broken.runs[0]!.metrics.ttft_p95_ms = 'fast';
    expect(baselineProblems(broken).map((p) => p.path)).toEqual([
      'runs[0].metrics.ttft_p95_ms',
      'runs[0].windows[2].t_s',
      'runs[0].windows[2].window_s',
      'runs[0].windows[2].completed',
      'runs[0].windows[2].failed',
      'runs[0].windows[2].output_tokens',
      'runs[0].windows[2].hdr',
    ]);
  });
});
