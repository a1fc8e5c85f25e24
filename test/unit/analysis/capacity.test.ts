import { describe, expect, it } from 'vitest';
import { capacityReport, findKnee, SweepPlanner, type SweepStep } from '../../../src/analysis/capacity.js';

/** runs the planner against a server whose true sustainable rate is `truth` */
function search(truth: number, opts = { startRate: 1, maxRate: 1000, precision: 0.05, maxSteps: 20 }) {
  const p = new SweepPlanner(opts);
  const tried: number[] = [];
  for (let r = p.next(); r !== null; r = p.next()) {
    tried.push(r);
    p.report(r, r <= truth);
  }
  return { p, tried };
}

const step = (rate: number, ttftP95: number, sustainable = true, server: Record<string, number> = {}): SweepStep => ({
  rate_per_s: rate,
  slo_passed: sustainable,
  steady: sustainable,
  sustainable,
  reasons: sustainable ? [] : ['e2e_ms: p(95)<3000 (observed 4000)'],
  request_per_s: rate,
  output_tokens_per_s: rate * 256,
  ttft_p50_ms: ttftP95 / 2,
  ttft_p95_ms: ttftP95,
  ttft_p99_ms: ttftP95 * 1.2,
  itl_p50_ms: 10,
  itl_p95_ms: 12,
  itl_p99_ms: 14,
  e2e_p95_ms: 2000,
  goodput_ratio: 1,
  error_ratio: 0,
  server,
  results: `step-${rate}/results.json`,
});

describe('SweepPlanner', () => {
  it('doubles until a rate breaks, then bisects to the precision', () => {
    const { p, tried } = search(18.7);
    expect(tried.slice(0, 6)).toEqual([1, 2, 4, 8, 16, 32]);
    const good = p.sustainable!;
    const bad = p.unsustainable!;
    expect(good).toBeLessThanOrEqual(18.7);
    expect(bad).toBeGreaterThan(18.7);
    expect((bad - good) / good).toBeLessThanOrEqual(0.05);
    expect(Math.abs(good - 18.7) / 18.7).toBeLessThan(0.05);
  });

  it('finds a rate within 10 % for truths across three decades', () => {
    for (const truth of [0.7, 3, 12.5, 30.5, 55, 420]) {
      const { p } = search(truth, { startRate: 1, maxRate: 1000, precision: 0.05, maxSteps: 30 });
      expect(Math.abs(p.sustainable! - truth) / truth).toBeLessThan(0.1);
    }
  });

  it('stops at maxRate and after maxSteps', () => {
    expect(search(5000).tried.at(-1)).toBe(1000);
    expect(search(18.7, { startRate: 1, maxRate: 1000, precision: 0.001, maxSteps: 7 }).tried).toHaveLength(7);
  });
});

describe('knee and capacity report', () => {
  it('puts the knee where TTFT p95 leaves its low-load level (1.5x and +50 ms), interpolated', () => {
    const knee = findKnee([step(4, 40), step(8, 50), step(16, 80), step(32, 1400, false, { queue_depth: 30 })]);
    expect(knee!.metric).toBe('ttft_p95');
    expect(knee!.baseline_ms).toBe(40);
    // the bound is max(60, 90) = 90 ms, 10/1320 of the way from 80 (at 16) to 1400 (at 32)
    expect(knee!.rate_per_s).toBeCloseTo(16 + (16 * 10) / 1320, 2);
    expect(knee!.server).toEqual({ queue_depth: 30 });
    // 300 ms at low load: the factor rules (450 ms)
    expect(findKnee([step(1, 300), step(2, 400), step(4, 500)])!.rate_per_s).toBeCloseTo(3, 2);
  });

  it('reports capacity per GPU and says why in plain words', () => {
    const c = capacityReport([step(4, 40), step(8, 45), step(16, 70), step(32, 1400, false, { kv_cache_usage_ratio: 0.97 })], {
      count: 2,
      source: 'simulator',
    });
    expect(c.sustainable_request_per_s).toBe(16);
    expect(c.per_gpu.request_per_s).toBe(8);
    expect(c.per_gpu.output_tokens_per_s).toBe(16 * 256 / 2);
    expect(c.first_unsustainable!.rate_per_s).toBe(32);
    expect(c.finding).toContain('Sustainable at 16 req/s');
    expect(c.finding).toContain('KV cache saturates');
  });
});
