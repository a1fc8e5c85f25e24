// The window bootstrap's arithmetic: its percentiles of merged windows are HDR's own, blocks group
// consecutive windows, and resampling is deterministic for a seed.
import { describe, expect, it } from 'vitest';
import type { BaselineWindow } from '../../../src/analysis/baseline.js';
import { bootstrapWindows, prepareWindows, quantile, statisticsOf } from '../../../src/analysis/bootstrap.js';
import { Rng } from '../../../src/core/rng.js';
import { encodeHistogram, newHistogram, recordUs } from '../../../src/metrics/hdr.js';

function windows(n: number, seed: number): { list: BaselineWindow[]; merged: Record<'ttft' | 'itl' | 'e2e', ReturnType<typeof newHistogram>> } {
  const rng = new Rng(seed);
  const merged = { ttft: newHistogram(), itl: newHistogram(), e2e: newHistogram() };
  const list: BaselineWindow[] = [];
  for (let i = 0; i < n; i++) {
    const h = { ttft: newHistogram(), itl: newHistogram(), e2e: newHistogram() };
    const count = 5 + rng.int(0, 50);
    for (let j = 0; j < count; j++)
      for (const m of ['ttft', 'itl', 'e2e'] as const) {
        const v = rng.lognormal(m === 'itl' ? 8_000 : 150_000, m === 'itl' ? 3_000 : 90_000) * (1 + i / n);
        recordUs(h[m], v);
        recordUs(merged[m], v);
      }
    list.push({
      t_s: i,
      window_s: 1,
      completed: count,
      failed: i % 5 === 0 ? 1 : 0,
      output_tokens: count * 32,
      hdr: { ttft: encodeHistogram(h.ttft), itl: encodeHistogram(h.itl), e2e: encodeHistogram(h.e2e) },
    });
  }
  return { list, merged };
}

describe('window bootstrap', () => {
  const { list, merged } = windows(30, 5);

  it("percentiles of the merged windows are exactly HDR's", () => {
    const p = prepareWindows(list, 1);
    const s = statisticsOf(p, new Float64Array(list.length).fill(1));
    for (const m of ['ttft', 'itl', 'e2e'] as const)
      for (const pct of [50, 95, 99] as const) expect(s[`${m}_p${pct}_ms`]).toBe(merged[m].getValueAtPercentile(pct) / 1000);
    const completed = list.reduce((a, w) => a + w.completed, 0);
    const failed = list.reduce((a, w) => a + w.failed, 0);
    expect(s.request_per_s).toBeCloseTo(completed / 30, 12);
    expect(s.error_ratio).toBeCloseTo(failed / (completed + failed), 12);
  });

  it('weights count a window as often as it was drawn', () => {
    const p = prepareWindows(list, 1);
    const twice = new Float64Array(list.length).fill(0);
    twice[3] = 2;
    const once = new Float64Array(list.length).fill(0);
    once[3] = 1;
    expect(statisticsOf(p, twice)).toEqual(statisticsOf(p, once));
  });

  it('groups consecutive windows into blocks of about the requested length, keeping at least 8 blocks', () => {
    expect(prepareWindows(list, 1).blocks).toBe(30);
    expect(prepareWindows(list, 3).blocks).toBe(10);
    expect(prepareWindows(list, 100).blocks).toBe(10); // at most floor(30 / 8) = 3 windows per block
    expect(prepareWindows(list.slice(0, 5), 100).blocks).toBe(5);
  });

  it('is deterministic for a seed and varies with it', () => {
    const p = prepareWindows(list, 1);
    const a = bootstrapWindows(p, new Rng(1), 200);
    const b = bootstrapWindows(p, new Rng(1), 200);
    const c = bootstrapWindows(p, new Rng(2), 200);
    expect(Array.from(b.replicates.e2e_p95_ms)).toEqual(Array.from(a.replicates.e2e_p95_ms));
    expect(Array.from(c.replicates.e2e_p95_ms)).not.toEqual(Array.from(a.replicates.e2e_p95_ms));
    // the point estimate sits inside its own bootstrap distribution
    const lo = quantile(a.replicates.e2e_p50_ms, 0.025)!;
    const hi = quantile(a.replicates.e2e_p50_ms, 0.975)!;
    expect(a.point.e2e_p50_ms!).toBeGreaterThanOrEqual(lo);
    expect(a.point.e2e_p50_ms!).toBeLessThanOrEqual(hi);
  });

  it('quantile interpolates between order statistics and skips NaN', () => {
    expect(quantile([3, 1, 2, NaN], 0.5)).toBe(2);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([NaN], 0.5)).toBeNull();
  });
});
