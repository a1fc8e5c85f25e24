// The regression gate's judgement on real simulator runs (test/fixtures/results/) and on synthetic
// runs with a known run-to-run spread: noise as it really arises, determinism, comparability.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addRun, baselineRunOf, emptyBaseline, type Baseline } from '../../../src/analysis/baseline.js';
import { compareRuns, predictionHalfWidth, studentTQuantile, type Comparison } from '../../../src/analysis/compare.js';
import { InvalidInputError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { encodeHistogram, newHistogram, recordUs, summarizeMs } from '../../../src/metrics/hdr.js';
import { renderCompareMarkdown } from '../../../src/report/compare-markdown.js';
import type { RunResult } from '../../../src/results/types.js';

const fixture = (name: string): RunResult =>
  JSON.parse(readFileSync(new URL(`../../fixtures/results/smoke-${name}.json`, import.meta.url), 'utf8')) as RunResult;

function baselineOf(...runs: RunResult[]): Baseline {
  const b = emptyBaseline(runs[0]!.run.scenario);
  for (const r of runs) addRun(b, baselineRunOf(r));
  return b;
}

const row = (c: Comparison, metric: string) => c.metrics.find((m) => m.metric === metric)!;

describe('compareRuns on real simulator runs', () => {
  const base = [fixture('base-1'), fixture('base-2'), fixture('base-3')];
  const same = fixture('same');
  const slow = fixture('slow');

  it('two runs of the same build: no significant change (one baseline run: window bootstrap)', () => {
    const c = compareRuns(base[2]!, same);
    expect(c.noise.method).toBe('window-bootstrap');
    expect(c.verdict).toBe('no significant change');
    expect(c.regressions).toEqual([]);
    expect(c.metrics).toHaveLength(16);
    expect(renderCompareMarkdown(c)).toContain('**No significant change**');
  });

  it('two runs of the same build: no significant change (baseline of three runs: run-to-run spread)', () => {
    const c = compareRuns(baselineOf(...base), same);
    expect(c.noise.method).toBe('run-to-run');
    expect(c.noise.baseline_runs).toBe(3);
    expect(c.verdict).toBe('no significant change');
    for (const m of c.metrics) if (m.noise_band) expect(m.noise_source).toMatch(/^run-to-run \(3 runs\)/);
  });

  it('the build 20 % slower (simulator.speed 0.8) regresses, and the markdown says what and by how much', () => {
    for (const baseline of [baselineOf(...base), base[2]!]) {
      const c = compareRuns(baseline, slow);
      expect(c.verdict).toBe('regression');
      // every decode step is 1/0.8 = 1.25x longer: TPOT and E2E grow by about 25 %
      for (const k of ['tpot_p50_ms', 'e2e_p50_ms'] as const) {
        const m = row(c, k);
        expect(m.regressed).toBe(true);
        expect(m.direction).toBe('worse');
        expect(m.beyond_noise).toBe(true);
        expect(m.change_ratio!).toBeGreaterThan(0.2);
        expect(m.change_ratio!).toBeLessThan(0.32);
      }
      // an open loop at a fixed rate: throughput holds, so it must not be called a regression
      expect(row(c, 'request_per_s').regressed).toBe(false);
      const md = renderCompareMarkdown(c);
      expect(md).toMatch(/\*\*Regression\*\*: \d+ of 16 metrics got worse beyond noise and the 20 % tolerance: /);
      expect(md).toMatch(/TPOT p50 \+2\d\.\d % \(5\.\d+ ms → 7\.\d+ ms\)/);
      expect(md).toMatch(/\| E2E p50 \| [\d.]+ ms \| [\d.]+ ms \| \+2\d\.\d % \| [^|]+ \| \*\*REGRESSED\*\* \|/);
    }
  });

  it('a wider tolerance lets the same slowdown pass', () => {
    const c = compareRuns(baselineOf(...base), slow, { tolerancePct: 60 });
    expect(c.verdict).toBe('no significant change');
    expect(row(c, 'tpot_p50_ms').beyond_noise).toBe(true);
    expect(row(c, 'tpot_p50_ms').beyond_tolerance).toBe(false);
  });

  it('a faster build is an improvement, not a regression', () => {
    const c = compareRuns(slow, base[0]!);
    expect(c.verdict).toBe('improvement');
    expect(c.improvements).toContain('e2e_p50_ms');
    expect(row(c, 'e2e_p50_ms').direction).toBe('better');
  });

  it('is deterministic: the same seed gives the same comparison, another seed the same verdict', () => {
    const a = compareRuns(base[2]!, slow, { seed: 7 });
    const b = compareRuns(base[2]!, slow, { seed: 7 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const other = compareRuns(base[2]!, slow, { seed: 8 });
    expect(other.verdict).toBe(a.verdict);
    expect(other.metrics.map((m) => m.noise_band)).not.toEqual(a.metrics.map((m) => m.noise_band));
  });

  it('refuses runs of another workload or load with InvalidInputError (exit 104) naming each difference', () => {
    const other = structuredClone(same);
    (other.run.workload.outputTokens as { value: number }).value = 64;
    other.run.load.rate = 20;
    let err: unknown;
    try {
      compareRuns(base[0]!, other);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInputError);
    const e = err as InvalidInputError;
    expect(e.exitCode).toBe(104);
    expect(e.problems.map((p) => p.path).sort()).toEqual(['run.load.rate', 'run.workload.outputTokens.value']);
    expect(e.message).toContain('baseline has 32, current has 64');
  });

  it('refuses another scenario, and another endpoint', () => {
    const renamed = structuredClone(same);
    renamed.run.scenario = 'sustained';
    expect(() => compareRuns(base[0]!, renamed)).toThrow(/run\.scenario/);
    const completions = structuredClone(same);
    completions.run.target.endpoint = 'completions';
    expect(() => compareRuns(base[0]!, completions)).toThrow(/run\.target\.endpoint/);
  });

  it('refuses a failed run or one that completed nothing, on either side (every latency would read "no data" and pass)', () => {
    const failed = structuredClone(same);
    failed.status = 'failed';
    failed.status_reason = 'the target never answered';
    expect(() => compareRuns(base[0]!, failed)).toThrow(/CURRENT: run \S+ failed \(the target never answered\): there is nothing to compare/);
    const nothing = structuredClone(base[0]!);
    nothing.summary.requests.completed = 0;
    expect(() => compareRuns(nothing, same)).toThrow(/BASELINE: run \S+ completed no request/);
    const b = emptyBaseline('smoke');
    for (const r of base) addRun(b, baselineRunOf(r));
    b.runs[1]!.status = 'failed';
    expect(() => compareRuns(b, same)).toThrow(/BASELINE runs\[1\]: run \S+ failed: it measured nothing to compare with; delete it from the baseline/);
  });

  it('allows a different duration, grace period, seed and target, and says so in the notes', () => {
    const longer = structuredClone(same);
    longer.run.load.durationS = 60;
    longer.run.load.gracefulStopS = 30;
    longer.run.seed = 99;
    longer.run.target.url = 'http://10.0.0.1:8000/v1';
    const c = compareRuns(base[0]!, longer);
    expect(c.notes.join('\n')).toMatch(/Seeds differ/);
    expect(c.notes.join('\n')).toMatch(/durations differ/);
  });

  it('does not judge goodput when the runs have different SLOs', () => {
    const fewer = structuredClone(same);
    fewer.slo = fewer.slo.slice(1);
    const c = compareRuns(base[0]!, fewer);
    expect(row(c, 'goodput_request_per_s').regressed).toBe(false);
    expect(row(c, 'goodput_request_per_s').note).toMatch(/different SLOs/);
  });
});

/**
 * A synthetic run: `windows` windows of `perWindow` requests each, latencies lognormal around
 * `scale` times a fixed level. Many requests, so within-run noise is tiny; the spread between runs
 * comes from `scale`, as run-to-run variation does.
 */
function synthRun(template: RunResult, id: string, scale: number, seed: number, windows = 40, perWindow = 500): RunResult {
  const rng = new Rng(seed);
  const r = structuredClone(template);
  r.run.id = id;
  r.run.warmup_s = 0;
  const run = { ttft: newHistogram(), itl: newHistogram(), e2e: newHistogram(), tpot: newHistogram() };
  r.windows = [];
  for (let i = 0; i < windows; i++) {
    const h = { ttft: newHistogram(), itl: newHistogram(), e2e: newHistogram(), schedule_lag: newHistogram() };
    for (let j = 0; j < perWindow; j++) {
      const ttftUs = rng.lognormal(100_000 * scale, 20_000 * scale);
      const itlUs = rng.lognormal(10_000 * scale, 1_500 * scale);
      const e2eUs = ttftUs + 31 * itlUs;
      for (const [k, v] of [['ttft', ttftUs], ['itl', itlUs], ['e2e', e2eUs]] as const) {
        recordUs(h[k], v);
        recordUs(run[k], v);
      }
      recordUs(run.tpot, itlUs);
    }
    r.windows.push({
      ...template.windows[0]!,
      t_s: i,
      window_s: 1,
      completed: perWindow,
      failed: 0,
      output_tokens: perWindow * 32,
      hdr: { ttft: encodeHistogram(h.ttft), itl: encodeHistogram(h.itl), e2e: encodeHistogram(h.e2e), schedule_lag: encodeHistogram(h.schedule_lag) },
    });
  }
  const n = windows * perWindow;
  r.summary.duration_s = windows;
  r.summary.rate.arrival_period_s = windows;
  r.summary.requests = { ...r.summary.requests, sent: n, completed: n, failed: 0, dropped: 0 };
  r.summary.throughput = { ...r.summary.throughput, request_per_s: perWindow, output_tokens_per_s: perWindow * 32, goodput_request_per_s: perWindow, goodput_ratio: 1 };
  r.summary.latency_ms = { ...r.summary.latency_ms, ttft: summarizeMs(run.ttft), itl: summarizeMs(run.itl), e2e: summarizeMs(run.e2e), tpot: summarizeMs(run.tpot) };
  return r;
}

describe('noise as it really arises', () => {
  const template = fixture('base-1');
  // five nights of the same build: run-level levels spread by about ±3 %
  const nights = [0.97, 0.99, 1.0, 1.02, 1.03].map((s, i) => synthRun(template, `night-${i}`, s, 100 + i));
  const meanScale = 1.002;
  const shifted = synthRun(template, 'tonight', meanScale * 1.01, 999); // 1 % slower than the baseline's mean

  it('a 1 % shift over 20 000 requests is NOT flagged when the baseline runs spread by more', () => {
    const c = compareRuns(baselineOf(...nights), shifted, { tolerancePct: 0 });
    expect(c.noise.method).toBe('run-to-run');
    for (const k of ['ttft_p50_ms', 'itl_p50_ms', 'e2e_p50_ms', 'tpot_p50_ms'] as const) {
      const m = row(c, k);
      expect(Math.abs(m.change_ratio!)).toBeLessThan(0.02);
      expect(m.beyond_noise).toBe(false);
      expect(m.regressed).toBe(false);
    }
    expect(c.verdict).toBe('no significant change');
  });

  it('while a test within one run (which cannot see the run-to-run spread) calls the same 1 % "beyond noise"', () => {
    const c = compareRuns(nights[2]!, shifted, { tolerancePct: 0 });
    expect(c.noise.method).toBe('window-bootstrap');
    expect(row(c, 'itl_p50_ms').beyond_noise).toBe(true);
    expect(row(c, 'e2e_p50_ms').beyond_noise).toBe(true);
  });

  it('a real 15 % slowdown stands out of the same run-to-run spread', () => {
    const slower = synthRun(template, 'slower', meanScale * 1.15, 998);
    const c = compareRuns(baselineOf(...nights), slower, { tolerancePct: 10 });
    expect(row(c, 'e2e_p50_ms').beyond_noise).toBe(true);
    expect(row(c, 'e2e_p50_ms').regressed).toBe(true);
    expect(c.verdict).toBe('regression');
  });
});

describe('statistics', () => {
  it("Student's t quantiles match the tables", () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706, 3);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.303, 3);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.776, 3);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.262, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.042, 3);
    expect(studentTQuantile(0.995, 10)).toBeCloseTo(3.169, 3);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.776, 3);
  });

  it('the prediction interval for one more run is t · s · √(1 + 1/n)', () => {
    // mean 10, s = 1 over 5 values
    const values = [9, 9.5, 10, 10.5, 11].map((v) => 10 + (v - 10) / Math.sqrt(0.625));
    expect(predictionHalfWidth(values)).toBeCloseTo(2.776 * Math.sqrt(1.2), 2);
    expect(predictionHalfWidth([5])).toBe(Infinity);
  });
});
