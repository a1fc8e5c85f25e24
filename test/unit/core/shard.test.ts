// Shards of one run: the flags, the split of one schedule (every arrival to exactly one shard,
// constant spacing interleaved, random arrivals thinned into Poisson processes of rate λ/N),
// users and request counts shared out, and the scenario's hash.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { ownerOf, ownsUser, parseShard, requestsShare, scenarioHash, shardFromEnv } from '../../../src/core/shard.js';
import { arrivalSchedule } from '../../../src/schedule/arrivals.js';
import { testSpec } from '../../helpers/spec.js';

const problems = (f: () => unknown): string[] => {
  try {
    f();
  } catch (err) {
    if (err instanceof InvalidInputError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
};

describe('shards', () => {
  it('--shard i/N and --shards N with JOB_COMPLETION_INDEX, each bad value named', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(problems(() => parseShard('4/4'))).toEqual(['--shard: the index counts from 0: shard 4 of 4 does not exist (0 to 3)']);
    expect(problems(() => parseShard('1-4'))[0]).toMatch(/expected INDEX\/COUNT like 0\/4/);
    expect(problems(() => parseShard('0/0'))[0]).toMatch(/count must be 1 to/);
    expect(shardFromEnv('3', { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 3 });
    expect(problems(() => shardFromEnv('3', {}))[0]).toMatch(/JOB_COMPLETION_INDEX .* not set/);
    expect(problems(() => shardFromEnv('3', { JOB_COMPLETION_INDEX: '3' }))[0]).toMatch(/^JOB_COMPLETION_INDEX: expected an index from 0 to 2/);
  });

  it('constant arrivals are interleaved: each shard evenly spaced at N times the gap, together the one schedule', () => {
    const load = { executor: 'constant-arrival-rate', rate: 100, durationS: 2, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 10, gracefulStopS: 1 } as const;
    const s = arrivalSchedule(load, Rng.derive(1, 'arrivals'));
    const all: number[] = [];
    for (let t = s.next(); t !== null; t = s.next()) all.push(t);
    const n = 3;
    const parts = Array.from({ length: n }, (_, i) => all.filter((_, g) => ownerOf(g, { index: i, count: n }, 'constant', 1) === i));
    expect(parts.reduce((k, p) => k + p.length, 0)).toBe(all.length);
    for (const p of parts) for (let k = 1; k < p.length; k++) expect(p[k]! - p[k - 1]!).toBeCloseTo(30_000, 3);
  });

  it('Poisson arrivals are thinned: every arrival to one shard, each shard Poisson at λ/N (exponential gaps, CV ≈ 1)', () => {
    const load = { executor: 'constant-arrival-rate', rate: 400, durationS: 100, timeUnitS: 1, arrival: 'poisson', burstiness: 1, maxInFlight: 10, gracefulStopS: 1 } as const;
    const s = arrivalSchedule(load, Rng.derive(9, 'arrivals'));
    const all: number[] = [];
    for (let t = s.next(); t !== null; t = s.next()) all.push(t);
    const n = 4;
    const owners = all.map((_, g) => ownerOf(g, { index: 0, count: n }, 'poisson', 9));
    // whoever asks, an arrival has one owner (the draw does not depend on the asking shard)
    for (let g = 0; g < 200; g++) expect(ownerOf(g, { index: 3, count: n }, 'poisson', 9)).toBe(owners[g]);
    for (let i = 0; i < n; i++) {
      const mine = all.filter((_, g) => owners[g] === i);
      // 40 000 arrivals in four: each about 10 000 (binomial sd ≈ 87)
      expect(Math.abs(mine.length - all.length / n)).toBeLessThan(450);
      const gaps = mine.slice(1).map((t, k) => t - mine[k]!);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
      expect(mean / 1000).toBeCloseTo(10, 0); // ms: 100 req/s per shard
      expect(sd / mean).toBeGreaterThan(0.95);
      expect(sd / mean).toBeLessThan(1.05);
    }
  });

  it('users and request counts are shared out without overlap', () => {
    const shards = Array.from({ length: 3 }, (_, index) => ({ index, count: 3 }));
    for (let j = 0; j < 10; j++) expect(shards.filter((s) => ownsUser(j, s))).toHaveLength(1);
    expect(shards.map((s) => requestsShare(10, s))).toEqual([4, 3, 3]);
    expect(shards.map((s) => requestsShare(2, s))).toEqual([1, 1, 0]);
  });

  it("the scenario's hash: the same scenario, the same hash, however its keys are ordered; any change, another", () => {
    const a = testSpec({ executor: 'constant-vus', vus: 2, durationS: 5, thinkTimeS: 0, gracefulStopS: 1 });
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    expect(scenarioHash(reordered)).toBe(scenarioHash(a));
    expect(scenarioHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(scenarioHash({ ...a, seed: 2 })).not.toBe(scenarioHash(a));
  });
});
