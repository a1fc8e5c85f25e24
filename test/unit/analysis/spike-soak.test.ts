import { describe, expect, it } from 'vitest';
import { analyzeSoak, analyzeSpike, linearFit } from '../../../src/analysis/spike-soak.js';
import { encodeHistogram, newHistogram, recordUs } from '../../../src/metrics/hdr.js';
import type { WindowResult } from '../../../src/metrics/recorder.js';
import type { RunResult } from '../../../src/results/types.js';
import { emptyWindow } from '../../helpers/windows.js';

/** a 1 s window whose requests all had TTFT `ttftMs` */
function win(t: number, ttftMs: number, extra: Partial<WindowResult> = {}): WindowResult {
  const h = newHistogram();
  for (let i = 0; i < 10; i++) recordUs(h, ttftMs * 1000);
  const e = encodeHistogram(newHistogram());
  return emptyWindow(t, {
    arrivals: 10,
    sent: 10,
    completed: 10,
    ttft_p50_ms: ttftMs,
    ttft_p95_ms: ttftMs,
    ttft_p99_ms: ttftMs,
    hdr: { ttft: encodeHistogram(h), itl: e, e2e: e, schedule_lag: e },
    ...extra,
  });
}

function result(windows: WindowResult[], load: Record<string, unknown>, warmupS = 0): RunResult {
  return { run: { warmup_s: warmupS, load }, windows } as unknown as RunResult;
}

const spikeLoad = {
  executor: 'ramping-arrival-rate',
  startRate: 5,
  timeUnitS: 1,
  stages: [
    { durationS: 20, target: 5 },
    { durationS: 0.1, target: 40 },
    { durationS: 10, target: 40 },
    { durationS: 0.1, target: 5 },
    { durationS: 40, target: 5 },
  ],
};

describe('spike analysis', () => {
  it('times the recovery of 5 s p95 TTFT to within 10 % of the pre-spike level', () => {
    const windows: WindowResult[] = [];
    for (let t = 0; t < 70; t++) {
      // 50 ms before; 2 s during; decaying after the spike ends at ~30 s, back to 52 ms from 45 s
      const ttft = t < 20 ? 50 : t < 31 ? 2000 : t < 45 ? 800 : 52;
      windows.push(win(t, ttft, { server: { queue_depth: t >= 20 && t < 40 ? 40 : 0 }, failed: t === 25 ? 3 : 0 }));
    }
    const s = analyzeSpike(result(windows, spikeLoad))!;
    expect(s.base_level).toBe(5);
    expect(s.peak_level).toBe(40);
    expect(s.spike_start_s).toBeGreaterThan(20);
    expect(s.spike_end_s).toBeLessThan(31);
    expect(s.pre_spike_ttft_p95_ms).toBeCloseTo(50, 0);
    expect(s.recovered).toBe(true);
    // the first 5 s bucket back at 52 ms starts at 45 + a fraction: about 15 s after the spike
    expect(s.time_to_recover_s).toBeGreaterThan(14);
    expect(s.time_to_recover_s).toBeLessThan(21);
    expect(s.peak_queue_depth).toBe(40);
    expect(s.failed_during_spike).toBe(3);
    expect(s.finding).toContain('recovered');
  });

  it('says when the run ended before recovery, and ignores loads without a spike', () => {
    const windows = Array.from({ length: 40 }, (_, t) => win(t, t < 20 ? 50 : 900));
    expect(analyzeSpike(result(windows, spikeLoad))!.recovered).toBe(false);
    expect(analyzeSpike(result(windows, { executor: 'constant-arrival-rate', rate: 5 }))).toBeNull();
    const ramp = { executor: 'ramping-arrival-rate', startRate: 2, timeUnitS: 1, stages: [{ durationS: 40, target: 45 }] };
    expect(analyzeSpike(result(windows, ramp))).toBeNull();
  });
});

describe('soak drift', () => {
  it('fits lines exactly', () => {
    const f = linearFit([0, 1, 2, 3], [1, 3, 5, 7]);
    expect(f.slope).toBeCloseTo(2);
    expect(f.intercept).toBeCloseTo(1);
    expect(f.r2).toBeCloseTo(1);
  });

  it('flags a latency that climbs over an hour and passes a flat one', () => {
    const climbing: WindowResult[] = [];
    const flat: WindowResult[] = [];
    for (let i = 0; i < 120; i++) {
      const t = i * 30;
      climbing.push({ ...win(t, 100 + i, { window_s: 30 }), ttft_p95_ms: 100 + i });
      flat.push({ ...win(t, 100 + (i % 3), { window_s: 30 }), ttft_p95_ms: 100 + (i % 3) });
    }
    const c = analyzeSoak(result(climbing, {}));
    expect(c.verdict).toBe('drifting');
    expect(c.series.ttft_p95_ms!.slope_per_hour).toBeCloseTo(120, 0);
    expect(c.finding).toContain('ttft_p95_ms');
    expect(analyzeSoak(result(flat, {})).verdict).toBe('stable');
    expect(analyzeSoak(result(flat.slice(0, 5), {})).verdict).toBe('too short');
  });

  it("reports the generator's memory growth after its first minute", () => {
    const s = analyzeSoak(result([], {}), [
      [10, 100e6],
      [60, 120e6],
      [600, 123e6],
    ]);
    expect(s.generator_rss_growth_ratio).toBeCloseTo(0.025, 3);
  });
});
