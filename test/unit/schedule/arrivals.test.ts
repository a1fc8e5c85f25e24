import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import type { LoadSpec } from '../../../src/core/types.js';
import {
  arrivalSchedule,
  loadDurationS,
  rateAt,
  rateSegments,
  tailLevel,
  vuTargetAt,
  type ArrivalLoad,
} from '../../../src/schedule/arrivals.js';

const common = { timeUnitS: 1, burstiness: 1, maxInFlight: 1000, gracefulStopS: 30 };
const constant = (rate: number, durationS: number, arrival: ArrivalLoad['arrival'] = 'constant', burstiness = 1): ArrivalLoad => ({
  executor: 'constant-arrival-rate',
  rate,
  durationS,
  ...common,
  arrival,
  burstiness,
});

function all(load: ArrivalLoad, seed = 1, requests?: number): number[] {
  const s = arrivalSchedule(load, new Rng(seed), { requests });
  const out: number[] = [];
  for (let t = s.next(); t !== null; t = s.next()) out.push(t);
  return out;
}

describe('constant-arrival-rate', () => {
  it('50 req/s evenly spaced for a minute is exactly 3000 arrivals, 20 ms apart, starting at 0', () => {
    const t = all(constant(50, 60));
    expect(t).toHaveLength(3000);
    expect(t[0]).toBe(0);
    for (let i = 1; i < t.length; i++) expect(t[i]! - t[i - 1]!).toBeCloseTo(20_000, 6);
    expect(t[t.length - 1]!).toBeLessThan(60e6);
  });

  it('honours timeUnit (rate per minute)', () => {
    expect(all({ ...constant(120, 10), timeUnitS: 60 })).toHaveLength(20);
  });

  it('poisson: the right mean rate, exponential gaps (CV ≈ 1), reproducible by seed', () => {
    const t = all(constant(100, 200, 'poisson'), 7);
    expect(t.length).toBeGreaterThan(19_400);
    expect(t.length).toBeLessThan(20_600);
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
    expect(Math.abs(mean - 10_000)).toBeLessThan(200);
    expect(sd / mean).toBeGreaterThan(0.95);
    expect(sd / mean).toBeLessThan(1.05);
    expect(all(constant(100, 5, 'poisson'), 7)).toEqual(all(constant(100, 5, 'poisson'), 7));
    expect(all(constant(100, 5, 'poisson'), 8)).not.toEqual(all(constant(100, 5, 'poisson'), 7));
  });

  it('gamma: burstiness sets the coefficient of variation to 1/√k', () => {
    for (const k of [0.25, 4]) {
      const t = all(constant(100, 200, 'gamma', k), 3);
      const gaps = t.slice(1).map((x, i) => x - t[i]!);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
      expect(mean).toBeGreaterThan(9_500);
      expect(mean).toBeLessThan(10_500);
      expect(sd / mean).toBeGreaterThan((1 / Math.sqrt(k)) * 0.9);
      expect(sd / mean).toBeLessThan((1 / Math.sqrt(k)) * 1.1);
    }
  });

  it('a request count makes exactly N arrivals and goes past the duration', () => {
    const t = all(constant(10, 1), 1, 25);
    expect(t).toHaveLength(25);
    expect(t[24]).toBeCloseTo(2.4e6, 3);
  });
});

describe('ramping-arrival-rate', () => {
  const ramp: ArrivalLoad = {
    executor: 'ramping-arrival-rate',
    startRate: 0,
    stages: [
      { durationS: 10, target: 20 },
      { durationS: 10, target: 20 },
      { durationS: 5, target: 0 },
    ],
    ...common,
    arrival: 'constant',
  };

  it('integrates the rate: 0→20 over 10 s, 20 for 10 s, 20→0 over 5 s = 100 + 200 + 50 arrivals', () => {
    expect(all(ramp)).toHaveLength(350);
    expect(loadDurationS(ramp)).toBe(25);
  });

  it('spaces arrivals by the instantaneous rate', () => {
    const t = all(ramp);
    // in the hold stage arrivals are 50 ms apart
    const hold = t.filter((x) => x >= 11e6 && x < 19e6);
    for (let i = 1; i < hold.length; i++) expect(hold[i]! - hold[i - 1]!).toBeCloseTo(50_000, 3);
    // during the ramp-up, gaps shrink
    expect(t[2]! - t[1]!).toBeGreaterThan(t[50]! - t[49]!);
  });

  it('a request count goes on past a ramp down to 0 at the last non-zero rate, up to exactly N', () => {
    // the stages make 350; the other 50 come after 25 s at 20/s (the hold's rate), 50 ms apart
    const t = all(ramp, 1, 400);
    expect(t).toHaveLength(400);
    const after = t.filter((x) => x >= 25e6);
    expect(after).toHaveLength(50);
    for (let i = 1; i < after.length; i++) expect(after[i]! - after[i - 1]!).toBeCloseTo(50_000, 3);
    expect(tailLevel(ramp)).toBe(20);
    // a rate per minute: 20 per minute past the end is one arrival every 3 s
    const perMinute = all({ ...ramp, timeUnitS: 60 }, 1, 400);
    expect(perMinute).toHaveLength(400);
    expect(perMinute[399]! - perMinute[398]!).toBeCloseTo(3e6, 0);
  });

  it('a load with no rate at all ends without its request count (nothing to go on with)', () => {
    expect(all({ ...ramp, startRate: 0, stages: [{ durationS: 10, target: 0 }] }, 1, 10)).toEqual([]);
  });

  it('a sudden step (spike) switches rate at the stage edge', () => {
    const spike: ArrivalLoad = {
      ...ramp,
      startRate: 5,
      stages: [
        { durationS: 10, target: 5 },
        { durationS: 0.001, target: 50 },
        { durationS: 10, target: 50 },
      ],
    };
    const segs = rateSegments(spike);
    expect(rateAt(segs, 5)).toBe(5);
    expect(rateAt(segs, 15)).toBe(50);
    const t = all(spike);
    expect(t.filter((x) => x < 10e6)).toHaveLength(50);
    expect(t.filter((x) => x > 10.01e6)).toHaveLength(500);
  });
});

describe('closed loop VU targets', () => {
  it('constant-vus holds its VUs for the duration', () => {
    const load: LoadSpec = { executor: 'constant-vus', vus: 100, durationS: 30, thinkTimeS: 0, gracefulStopS: 30 };
    expect(vuTargetAt(load, 0)).toBe(100);
    expect(vuTargetAt(load, 29.9)).toBe(100);
    expect(vuTargetAt(load, 30)).toBe(0);
  });

  it('ramping-vus ramps linearly through the stages (k6 spike shape)', () => {
    const load: LoadSpec = {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { durationS: 300, target: 100 },
        { durationS: 600, target: 500 },
        { durationS: 300, target: 100 },
        { durationS: 300, target: 0 },
      ],
      thinkTimeS: 0,
      gracefulStopS: 30,
    };
    expect(vuTargetAt(load, 0)).toBe(0);
    expect(vuTargetAt(load, 150)).toBe(50);
    expect(vuTargetAt(load, 300)).toBe(100);
    expect(vuTargetAt(load, 600)).toBe(300);
    expect(vuTargetAt(load, 1050)).toBe(300);
    expect(vuTargetAt(load, 1500)).toBe(0);
    expect(loadDurationS(load)).toBe(1500);
  });
});

describe('closed loop VU targets with a request count', () => {
  const spike: LoadSpec = {
    executor: 'ramping-vus',
    startVUs: 0,
    stages: [
      { durationS: 300, target: 100 },
      { durationS: 600, target: 500 },
      { durationS: 300, target: 100 },
      { durationS: 300, target: 0 },
    ],
    thinkTimeS: 0,
    gracefulStopS: 30,
  };

  it('within the stages, the count changes nothing', () => {
    for (const t of [0, 150, 600, 1050, 1499]) expect(vuTargetAt(spike, t, { requests: 10 })).toBe(vuTargetAt(spike, t));
  });

  it('past the stages, users go on at the last non-zero level (a ramp down to 0 would leave none)', () => {
    expect(tailLevel(spike)).toBe(100);
    expect(vuTargetAt(spike, 1500, { requests: 10 })).toBe(100);
    expect(vuTargetAt(spike, 1e6, { requests: 10 })).toBe(100);
    const constantVus: LoadSpec = { executor: 'constant-vus', vus: 64, durationS: 30, thinkTimeS: 0, gracefulStopS: 30 };
    expect(vuTargetAt(constantVus, 30, { requests: 1 })).toBe(64);
    expect(vuTargetAt(constantVus, 30)).toBe(0);
    // a ramp that ends above 0 goes on at its last stage's target
    expect(tailLevel({ ...spike, stages: [{ durationS: 10, target: 7 }] })).toBe(7);
    expect(tailLevel({ ...spike, startVUs: 3, stages: [{ durationS: 10, target: 0 }] })).toBe(3);
  });
});
