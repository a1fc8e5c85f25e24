// SLO verdicts: ratios judged exactly on their counts (never on a rounded figure), throughputs'
// p(N)/min/max/med judged over the measured windows (k6's Trend percentile), the whole-run
// figure for avg/rate, and the latency aggregations on the whole-run histogram.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateSlos } from '../../../src/analysis/slo.js';
import type { ScenarioSpec } from '../../../src/core/types.js';
import { RequestRecord } from '../../../src/core/record.js';
import { newHistogram, recordUs, summarizeMs } from '../../../src/metrics/hdr.js';
import { Recorder, type Counters, type WindowResult } from '../../../src/metrics/recorder.js';
import { buildSummary } from '../../../src/results/build.js';
import { emptyWindow } from '../../helpers/windows.js';
import type { RunResult, RunSummary, SloVerdict } from '../../../src/results/types.js';

const template = JSON.parse(readFileSync(new URL('../../fixtures/results/smoke-base-1.json', import.meta.url), 'utf8')) as RunResult;

interface Counts {
  completed: number;
  good?: number;
  failed?: number;
  outputTokens?: number;
  warmupS?: number;
  /** from the end of the warm-up to the last end */
  durationS?: number;
  /** from the end of the warm-up to the end of the arrivals */
  arrivalPeriodS?: number;
}

/** A summary with these counts, every rounded figure as results/build.ts writes it. */
function summaryOf(c: Counts): RunSummary {
  const warmupUs = (c.warmupS ?? 0) * 1e6;
  const counters: Counters = {
    ...new Recorder({ windowS: 1 }).counters,
    sent: c.completed + (c.failed ?? 0),
    completed: c.completed,
    failed: c.failed ?? 0,
    good: c.good ?? c.completed,
    outputTokens: c.outputTokens ?? 0,
    lastEndUs: warmupUs + (c.durationS ?? 100) * 1e6,
  };
  return buildSummary(
    { counters, latencyMs: template.summary.latency_ms },
    { warmupS: c.warmupS ?? 0, arrivalsEndUs: warmupUs + (c.arrivalPeriodS ?? c.durationS ?? 100) * 1e6, openLoop: true },
  );
}

/** One window of `widthS` from `tS` in which `completed` requests (and `tokens` output tokens) ended. */
function win(tS: number, completed: number, tokens = 0, widthS = 1): WindowResult {
  return emptyWindow(tS, {
    window_s: widthS,
    completed,
    output_tokens: tokens,
    output_tokens_per_s: tokens / widthS,
    request_per_s: completed / widthS,
  });
}

/** Windows of 1 s from `fromS`, one per count. */
const series = (fromS: number, counts: number[]): WindowResult[] => counts.map((n, i) => win(fromS + i, n));

const sloOf = (metric: string, ...thresholds: string[]): ScenarioSpec['slo'] => ({
  [metric]: thresholds.map((threshold) => ({ threshold, abortOnFail: false })),
});

function judge(metric: string, threshold: string, summary: RunSummary, run?: Parameters<typeof evaluateSlos>[2]): SloVerdict {
  const [v] = evaluateSlos(sloOf(metric, threshold), summary, run);
  return v!;
}

describe('ratio SLOs are judged exactly on their counts', () => {
  // the finding's cases: goodput_ratio is written rounded to 3 decimals, which flipped each verdict
  it('1997/2000 good (0.9985) fails rate>=0.999 (0.999 rounded)', () => {
    const s = summaryOf({ completed: 2000, good: 1997 });
    expect(s.throughput.goodput_ratio).toBe(0.999); // the rounded figure the verdict must not use
    const v = judge('goodput_ratio', 'rate>=0.999', s);
    expect(v.passed).toBe(false);
    expect(v.observed).toBe(0.9985);
  });

  it('9998/10000 good (0.9998) fails rate>=0.9999 (1 rounded)', () => {
    const s = summaryOf({ completed: 10_000, good: 9998 });
    expect(s.throughput.goodput_ratio).toBe(1);
    const v = judge('goodput_ratio', 'rate>=0.9999', s);
    expect(v.passed).toBe(false);
    expect(v.observed).toBe(0.9998);
  });

  it('4997/5000 good (0.9994) passes rate>0.999 (0.999 rounded)', () => {
    const s = summaryOf({ completed: 5000, good: 4997 });
    expect(s.throughput.goodput_ratio).toBe(0.999);
    const v = judge('goodput_ratio', 'rate>0.999', s);
    expect(v.passed).toBe(true);
    expect(v.observed).toBe(0.9994);
  });

  it('the boundary itself: 1998/2000 is exactly 0.999', () => {
    const s = summaryOf({ completed: 2000, good: 1998 });
    expect(judge('goodput_ratio', 'rate>=0.999', s).passed).toBe(true);
    expect(judge('goodput_ratio', 'rate==0.999', s).passed).toBe(true);
    expect(judge('goodput_ratio', 'rate>0.999', s).passed).toBe(false);
    expect(judge('goodput_ratio', 'rate>=9.99e-1', s).passed).toBe(true);
  });

  it('no floating-point edge: 1/3 is not the double nearest to it, 1/10 is below a literal one ulp above 0.1', () => {
    const third = summaryOf({ completed: 2, failed: 1 });
    expect(1 / 3 === 0.3333333333333333).toBe(true); // what a floating-point comparison would conclude
    expect(judge('error_ratio', 'rate==0.3333333333333333', third).passed).toBe(false);
    expect(judge('error_ratio', 'rate<0.3333333333333334', third).passed).toBe(true);
    expect(judge('error_ratio', 'rate>0.3333333333333333', third).passed).toBe(true);
    const tenth = summaryOf({ completed: 9, failed: 1 });
    expect(judge('error_ratio', 'rate>=0.10000000000000000001', tenth).passed).toBe(false);
    expect(judge('error_ratio', 'rate<=0.1', tenth).passed).toBe(true);
  });

  it('error_ratio is failed / (completed + failed); a ratio with no request fails with no data', () => {
    const v = judge('error_ratio', 'rate<0.001', summaryOf({ completed: 999, failed: 1 }));
    expect(v).toMatchObject({ observed: 0.001, passed: false });
    expect(judge('error_ratio', 'rate<=0.001', summaryOf({ completed: 999, failed: 1 })).passed).toBe(true);
    expect(judge('error_ratio', 'rate<1', summaryOf({ completed: 0, durationS: 0 }))).toMatchObject({ observed: null, passed: false });
    expect(judge('goodput_ratio', 'rate>0', summaryOf({ completed: 0, failed: 3 }))).toMatchObject({ observed: null, passed: false });
  });

  it('an absurd exponent is judged without building a giant number', () => {
    const s = summaryOf({ completed: 2000, good: 1997 });
    expect(judge('goodput_ratio', 'rate<1e999999999', s).passed).toBe(true);
    expect(judge('goodput_ratio', 'rate>1e-999999999', s).passed).toBe(true);
    expect(judge('goodput_ratio', 'rate>-1e999999999', s).passed).toBe(true);
  });
});

describe('throughput SLOs', () => {
  // 10 s of load after a 2 s warm-up, then 3 s of drain: 100 requests over 13 s
  const steady = (counts: number[], extra: Partial<Counts> = {}): RunSummary =>
    summaryOf({ completed: counts.reduce((a, b) => a + b, 0), warmupS: 2, durationS: 13, arrivalPeriodS: 10, ...extra });

  it('min>4 fails a run with an empty window, though its average is well above 4', () => {
    const counts = [10, 10, 10, 10, 0, 12, 12, 12, 12, 12];
    const s = steady(counts);
    const windows = [...series(0, [3, 3]), ...series(2, counts), ...series(12, [5, 2, 1])];
    expect(s.throughput.request_per_s).toBeGreaterThan(7); // the whole-run figure the old verdict used
    const v = judge('request_throughput', 'min>4', s, { windows, warmupS: 2 });
    expect(v).toMatchObject({ observed: 0, passed: false });
    expect(judge('request_throughput', 'avg>4', s, { windows, warmupS: 2 }).passed).toBe(true);
  });

  it('without the windows a windowed aggregation fails with no data rather than pass', () => {
    const s = steady([10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
    for (const t of ['min>4', 'max>4', 'med>4', 'p(95)>4']) expect(judge('request_throughput', t, s)).toMatchObject({ observed: null, passed: false });
    // the whole-run figures need no window
    expect(judge('request_throughput', 'avg>4', s).passed).toBe(true);
    expect(judge('request_throughput', 'rate>4', s).passed).toBe(true);
  });

  it('samples are the whole windows of the arrival period after the warm-up: not the warm-up, the partial windows, or the drain', () => {
    // warm-up 2.5 s, arrivals end at 2.5 + 8 = 10.5 s: whole windows [3, 10); [2, 3) and [10, 11)
    // are partly outside, [11, 14) is drain
    const windows = [...series(0, [0, 0, 1]), ...series(3, [9, 8, 9, 10, 9, 8, 9]), ...series(10, [2, 4, 1, 0])];
    const s = summaryOf({ completed: 70, warmupS: 2.5, durationS: 11, arrivalPeriodS: 8 });
    const run = { windows, warmupS: 2.5 };
    expect(judge('request_throughput', 'min>=8', s, run)).toMatchObject({ observed: 8, passed: true });
    expect(judge('request_throughput', 'max<=10', s, run)).toMatchObject({ observed: 10, passed: true });
    expect(judge('request_throughput', 'med==9', s, run).passed).toBe(true);
  });

  it('a window that ends exactly where the arrivals end is a sample', () => {
    const windows = series(0, [5, 5, 1, 0]);
    const s = summaryOf({ completed: 11, durationS: 3.2, arrivalPeriodS: 3 });
    expect(judge('request_throughput', 'min<2', s, { windows, warmupS: 0 })).toMatchObject({ observed: 1, passed: true });
  });

  it('a run without one whole window in its arrival period has no data', () => {
    const s = summaryOf({ completed: 5, durationS: 0.9, arrivalPeriodS: 0.5 });
    expect(judge('request_throughput', 'min>0', s, { windows: series(0, [5]), warmupS: 0 })).toMatchObject({ observed: null, passed: false });
  });

  it("p(N) interpolates between the closest ranks, as k6's Trend does; med is p(50)", () => {
    const windows = series(0, [4, 1, 3, 2]);
    const s = summaryOf({ completed: 10, durationS: 4, arrivalPeriodS: 4 });
    const run = { windows, warmupS: 0 };
    // sorted 1, 2, 3, 4: rank p/100 × (n − 1)
    expect(judge('request_throughput', 'p(50)==2.5', s, run).passed).toBe(true);
    expect(judge('request_throughput', 'med==2.5', s, run).passed).toBe(true);
    // rank 2.7: 3 + 0.7 × (4 − 3), exactly 3.7 (3.7000000000000002 in floating point)
    expect(judge('request_throughput', 'p(90)==3.7', s, run)).toMatchObject({ observed: 3.7, passed: true });
    expect(judge('request_throughput', 'p(0)==1', s, run).passed).toBe(true);
    expect(judge('request_throughput', 'p(100)==4', s, run).passed).toBe(true);
    expect(judge('request_throughput', 'p(10)>1.29', s, run)).toMatchObject({ observed: 1.3, passed: true });
    expect(judge('request_throughput', 'p(10)>1.3', s, run).passed).toBe(false);
  });

  it('one sample is every percentile', () => {
    const s = summaryOf({ completed: 7, durationS: 1, arrivalPeriodS: 1 });
    const run = { windows: series(0, [7]), warmupS: 0 };
    for (const t of ['p(1)==7', 'p(99.9)==7', 'min==7', 'max==7', 'med==7']) expect(judge('request_throughput', t, s, run).passed).toBe(true);
  });

  it('each window is read at its own width; output_token_throughput counts output tokens', () => {
    // 0.5 s windows (and one coarsened to 1 s): 3 requests in half a second is 6 req/s
    const windows = [win(0, 3, 300, 0.5), win(0.5, 4, 380, 0.5), win(1, 5, 520, 1)];
    const s = summaryOf({ completed: 12, outputTokens: 1200, durationS: 2, arrivalPeriodS: 2 });
    const run = { windows, warmupS: 0 };
    expect(judge('request_throughput', 'min==5', s, run).passed).toBe(true);
    expect(judge('request_throughput', 'max==8', s, run).passed).toBe(true);
    expect(judge('output_token_throughput', 'min==520', s, run).passed).toBe(true);
    expect(judge('output_token_throughput', 'max==760', s, run).passed).toBe(true);
  });

  it('avg and rate are the whole run: completed / duration_s, exactly', () => {
    const s = summaryOf({ completed: 9999, durationS: 1000, arrivalPeriodS: 1000 });
    expect(judge('request_throughput', 'rate>=9.999', s)).toMatchObject({ observed: 9.999, passed: true });
    expect(judge('request_throughput', 'avg>9.999', s).passed).toBe(false);
    // 29 999 requests over 3000 s: 9.99967 req/s, which the summary rounds to 10
    const t = summaryOf({ completed: 29_999, durationS: 3000, arrivalPeriodS: 3000 });
    expect(t.throughput.request_per_s).toBe(10);
    expect(judge('request_throughput', 'avg>=10', t)).toMatchObject({ observed: 9.999667, passed: false });
    expect(judge('request_throughput', 'rate<10', t).passed).toBe(true);
    expect(judge('output_token_throughput', 'avg==0', summaryOf({ completed: 0, durationS: 0 }))).toMatchObject({ observed: 0, passed: true });
  });

  it("a real recorder's windows: a stall in the middle of the load fails min, the drain does not", () => {
    const rec = new Recorder({ windowS: 1 });
    let id = 0;
    // 10 req/s for 8 s, each answered in 200 ms, except that nothing ends between 4 s and 5 s:
    // the requests that arrive then are answered at 5.1 s
    for (let t = 0; t < 8_000_000; t += 100_000) {
      const r = new RequestRecord(id++, t, 50, t < 1_000_000);
      r.sentUs = t;
      r.firstChunkUs = r.firstTokenUs = t + 100_000;
      r.chunkUs.push(t + 100_000);
      r.chunkChars.push(3);
      r.endUs = t >= 3_800_000 && t < 4_900_000 ? 5_100_000 : t + 200_000;
      r.outputTokensUsage = 1;
      r.ok = true;
      rec.onSent(r, 1);
      rec.record(r);
    }
    rec.flush();
    const snap = rec.snapshot();
    const summary = buildSummary(snap, { warmupS: 1, arrivalsEndUs: 8_000_000, openLoop: true });
    const run = { windows: snap.windows, warmupS: 1 };
    expect(snap.windows.map((w) => w.completed)).toEqual([8, 10, 10, 10, 0, 20, 10, 10, 2]);
    expect(judge('request_throughput', 'min>4', summary, run)).toMatchObject({ observed: 0, passed: false });
    expect(judge('request_throughput', 'p(50)>=10', summary, run).passed).toBe(true);
    // the same run without the stall: the last window ([8, 9), drain only) is no sample
    const calm = snap.windows.map((w, i) => (i === 4 || i === 5 ? { ...w, completed: 10 } : w));
    expect(judge('request_throughput', 'min>4', summary, { windows: calm, warmupS: 1 })).toMatchObject({ observed: 10, passed: true });
  });
});

describe('latency SLOs on the whole-run histogram', () => {
  /** A summary whose e2e histogram holds these values (µs). */
  function withE2e(valuesUs: number[]): RunSummary {
    const h = newHistogram();
    for (const v of valuesUs) recordUs(h, v);
    const s = structuredClone(template.summary);
    s.latency_ms.e2e = summarizeMs(h);
    return s;
  }

  it('p(N) is never above the exact maximum, whichever N (as the summary percentiles)', () => {
    // 12 345 µs lies in an HDR bucket 8 µs wide: its top is 12.351 ms
    const s = withE2e(Array.from({ length: 100 }, () => 12_345));
    expect(s.latency_ms.e2e.p95).toBe(12.345);
    expect(judge('e2e_ms', 'p(95)<=12.345', s).passed).toBe(true);
    expect(judge('e2e_ms', 'p(97)<=12.345', s)).toMatchObject({ observed: 12.345, passed: true });
    expect(judge('e2e_ms', 'p(0)<=12.345', s).passed).toBe(true);
  });

  it('p(N) between the summary percentiles reads the encoded histogram', () => {
    // 10 µs to 1 ms: below 2.048 ms every HDR bucket is one microsecond wide
    const s = withE2e(Array.from({ length: 100 }, (_, i) => (i + 1) * 10));
    expect(judge('e2e_ms', 'p(75)==0.75', s).passed).toBe(true);
    expect(judge('e2e_ms', 'p(100)==1', s).passed).toBe(true);
    expect(judge('e2e_ms', 'min==0.01', s).passed).toBe(true);
    expect(judge('e2e_ms', 'med==0.5', s).passed).toBe(true);
    expect(judge('e2e_ms', 'count==100', s).passed).toBe(true);
  });

  it('count is an observation even of an empty histogram (0); other aggregations of it have no data', () => {
    const s = withE2e([]);
    expect(judge('e2e_ms', 'count<10', s)).toMatchObject({ observed: 0, passed: true });
    expect(judge('e2e_ms', 'count>=1', s)).toMatchObject({ observed: 0, passed: false });
    expect(judge('e2e_ms', 'p(95)<1000', s)).toMatchObject({ observed: null, passed: false });
    expect(judge('e2e_ms', 'max<1000', s)).toMatchObject({ observed: null, passed: false });
  });
});
