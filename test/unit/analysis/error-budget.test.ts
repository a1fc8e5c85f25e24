// Error budget arithmetic: at burn rate 1 a 30-day budget lasts exactly 30 days (43.2 min of
// full unavailability at 99.9 %, i.e. 0.06 min per hour), and the SRE workbook's alert thresholds.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BURN_RATE_ALERTS, availabilitySloOf, computeErrorBudget, parseAvailabilitySlo } from '../../../src/analysis/error-budget.js';
import { InvalidInputError } from '../../../src/core/errors.js';
import type { RunResult } from '../../../src/results/types.js';

const template = JSON.parse(readFileSync(new URL('../../fixtures/results/smoke-base-1.json', import.meta.url), 'utf8')) as RunResult;

/** The fixture with `failed` of `ended` requests failed (and some drops, which must not count). */
function withErrors(failed: number, ended: number, durationS = 15): RunResult {
  const r = structuredClone(template);
  r.summary.requests = { ...r.summary.requests, completed: ended - failed, failed, dropped: 7 };
  r.summary.duration_s = durationS;
  return r;
}

const fires = (r: RunResult, opts = {}): boolean[] => computeErrorBudget(r, opts).alerts.map((a) => a.would_fire);

describe('computeErrorBudget', () => {
  it('burn rate 1 (0.1 % errors at 99.9 %): the 43.2-minute budget lasts exactly 30 days', () => {
    const b = computeErrorBudget(withErrors(1, 1000));
    expect(b.availability_slo).toBe(0.999);
    expect(b.allowed_error_ratio).toBeCloseTo(0.001, 12);
    expect(b.error_ratio).toBe(0.001);
    expect(b.burn_rate).toBeCloseTo(1, 9);
    expect(b.budget_minutes).toBeCloseTo(43.2, 9); // 0.001 × 30 d × 24 h × 60 min
    expect(b.budget_minutes_per_hour).toBeCloseTo(0.06, 9); // 43.2 min / 720 h
    expect(b.budget_ratio_per_hour).toBeCloseTo(1 / 720, 9);
    expect(b.hours_to_exhaustion).toBeCloseTo(720, 6);
    expect(b.requests_judged).toBe(1000); // dropped arrivals never reached the server
  });

  it('scales linearly: 1 % errors burn 10x, 0.6 budget-minutes per hour, gone in 3 days', () => {
    const b = computeErrorBudget(withErrors(10, 1000));
    expect(b.burn_rate).toBeCloseTo(10, 9);
    expect(b.budget_minutes_per_hour).toBeCloseTo(0.6, 9);
    expect(b.hours_to_exhaustion).toBeCloseTo(72, 6);
  });

  it('the workbook alerts: 14.4x/1 h and 6x/6 h page, 3x/1 d and 1x/3 d ticket', () => {
    expect(BURN_RATE_ALERTS.map((a) => [a.burn_rate_threshold, a.window_s, a.severity])).toEqual([
      [14.4, 3600, 'page'],
      [6, 21600, 'page'],
      [3, 86400, 'ticket'],
      [1, 259200, 'ticket'],
    ]);
    // the share of the budget each alert's window burns at its threshold: 2 %, 5 %, 10 %, 10 %
    expect(computeErrorBudget(withErrors(0, 100)).alerts.map((a) => a.budget_consumed_ratio)).toEqual([0.02, 0.05, 0.1, 0.1]);
    expect(fires(withErrors(0, 1000))).toEqual([false, false, false, false]);
    expect(fires(withErrors(1, 1000))).toEqual([false, false, false, false]); // burn 1 is not above 1
    expect(fires(withErrors(2, 1000))).toEqual([false, false, false, true]);
    expect(fires(withErrors(5, 1000))).toEqual([false, false, true, true]);
    expect(fires(withErrors(10, 1000))).toEqual([false, true, true, true]);
    expect(fires(withErrors(15, 1000))).toEqual([true, true, true, true]);
  });

  it('takes another SLO: at 99 % the budget is 432 minutes and 1 % errors burn at 1x', () => {
    const b = computeErrorBudget(withErrors(10, 1000), { availabilitySlo: 0.99 });
    expect(b.budget_minutes).toBeCloseTo(432, 9);
    expect(b.burn_rate).toBeCloseTo(1, 9);
    expect(b.budget_minutes_per_hour).toBeCloseTo(0.6, 9);
  });

  it('says the run is shorter than the alert windows (an extrapolation)', () => {
    const b = computeErrorBudget(withErrors(15, 1000, 15));
    expect(b.alerts.every((a) => !a.run_covers_short_window)).toBe(true);
    expect(b.note).toMatch(/shorter than every alert window/);
    const long = computeErrorBudget(withErrors(15, 1000, 7200));
    expect(long.alerts.map((a) => a.run_covers_short_window)).toEqual([true, true, true, false]);
  });

  it('has no burn rate when no request ended', () => {
    const b = computeErrorBudget(withErrors(0, 0));
    expect(b.burn_rate).toBeNull();
    expect(b.budget_minutes_per_hour).toBeNull();
    expect(b.alerts.every((a) => !a.would_fire)).toBe(true);
  });

  it('reads a real run: no errors, no burn', () => {
    const b = computeErrorBudget(template);
    expect(b.burn_rate).toBe(0);
    expect(b.hours_to_exhaustion).toBeNull();
    expect(Object.keys(b)).toEqual(expect.arrayContaining(['availability_slo', 'burn_rate', 'budget_minutes_per_hour', 'alerts']));
  });
});

describe('burn-rate alerts judged exactly at their thresholds', () => {
  // a burn rate exactly at a threshold does not exceed it; in floating point some came out just
  // above (1 of 10 000 at 99.99 %: 1.00000000000011) and fired
  it.each([
    [1, 10_000, '99.99%', [false, false, false, false]], // burn exactly 1
    [6, 10_000, '99.99%', [false, false, true, true]], // exactly 6
    [3, 10_000, '99.99%', [false, false, false, true]], // exactly 3
    [144, 100_000, '99.99%', [false, true, true, true]], // exactly 14.4
    [144, 10_000, '99.9%', [false, true, true, true]],
    [72, 500, '99%', [false, true, true, true]],
    [1, 1000, '99.9%', [false, false, false, false]],
  ])('%i failed of %i at %s: fires %j', (failed, ended, slo, expected) => {
    expect(fires(withErrors(failed, ended), { availabilitySlo: parseAvailabilitySlo(slo) })).toEqual(expected);
  });

  it('one more failure passes each threshold', () => {
    expect(fires(withErrors(2, 10_000), { availabilitySlo: 0.9999 })).toEqual([false, false, false, true]);
    expect(fires(withErrors(145, 100_000), { availabilitySlo: 0.9999 })).toEqual([true, true, true, true]);
    expect(fires(withErrors(7, 10_000), { availabilitySlo: 0.9999 })).toEqual([false, true, true, true]);
  });
});

describe('availabilitySloOf', () => {
  it("reads the SLO a result's budget was judged at (what merge judges shards at); null without a budget", () => {
    const r = withErrors(1, 1000);
    r.error_budget = computeErrorBudget(r, { availabilitySlo: 0.9999 });
    expect(availabilitySloOf(r)).toBe(0.9999);
    for (const none of [undefined, null]) expect(availabilitySloOf({ ...r, error_budget: none })).toBeNull();
  });
});

describe('parseAvailabilitySlo', () => {
  it('reads 99.9%, 99.9 and 0.999 alike', () => {
    for (const t of ['99.9%', '99.9 %', '99.9', '0.999']) expect(parseAvailabilitySlo(t)).toBeCloseTo(0.999, 12);
    expect(parseAvailabilitySlo('99.95%')).toBeCloseTo(0.9995, 12);
  });

  it('refuses what is not an availability (104)', () => {
    for (const t of ['', 'abc', '100', '100%', '0', '-5', '150%']) {
      expect(() => parseAvailabilitySlo(t)).toThrow(InvalidInputError);
    }
  });
});
