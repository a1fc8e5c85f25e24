// The error budget of an availability SLO, judged on one run: how fast this load would burn a
// 30-day budget, and whether the multi-window burn-rate alerts of the Google SRE workbook
// ("Alerting on SLOs", table of recommended windows) would fire if the run's error ratio held
// for their whole windows. Pure: RunResult in, results.error_budget out.
import { InvalidInputError } from '../core/errors.js';
import { compareExact, decimalFraction, type Fraction } from '../core/threshold.js';
import type { RunResult } from '../results/types.js';

/** The default availability SLO: 99.9 % of requests succeed. */
export const DEFAULT_AVAILABILITY_SLO = 0.999;
/** The budget period: the SRE workbook's 30-day window. */
export const BUDGET_PERIOD_DAYS = 30;

/** One multi-window burn-rate alert (SRE workbook): fires when both windows burn faster than the threshold. */
export interface BurnRateAlertRule {
  name: string;
  severity: 'page' | 'ticket';
  /** the long window, s */
  window_s: number;
  /** the short window that must also burn that fast (it makes the alert reset quickly), s */
  short_window_s: number;
  burn_rate_threshold: number;
}

/**
 * The workbook's recommended set for a 30-day SLO: a page when 2 % of the budget burns in 1 h
 * (14.4×) or 5 % in 6 h (6×); a ticket when 10 % burns in 1 d (3×) or in 3 d (1×).
 */
export const BURN_RATE_ALERTS: readonly BurnRateAlertRule[] = [
  { name: 'page: 2 % of budget in 1 h', severity: 'page', window_s: 3600, short_window_s: 300, burn_rate_threshold: 14.4 },
  { name: 'page: 5 % of budget in 6 h', severity: 'page', window_s: 6 * 3600, short_window_s: 1800, burn_rate_threshold: 6 },
  { name: 'ticket: 10 % of budget in 1 d', severity: 'ticket', window_s: 86400, short_window_s: 2 * 3600, burn_rate_threshold: 3 },
  { name: 'ticket: 10 % of budget in 3 d', severity: 'ticket', window_s: 3 * 86400, short_window_s: 6 * 3600, burn_rate_threshold: 1 },
];

/** One alert, judged on the run's burn rate. */
export interface BurnRateAlertVerdict extends BurnRateAlertRule {
  /** the share of the 30-day budget this alert's window burns at its threshold */
  budget_consumed_ratio: number;
  /** the run's burn rate exceeds the threshold: sustained over the window, this load would fire the alert */
  would_fire: boolean;
  /** whether the run lasted the short window; when not, the verdict extrapolates the run's error ratio */
  run_covers_short_window: boolean;
}

/** results.error_budget */
export interface ErrorBudget {
  /** e.g. 0.999 */
  availability_slo: number;
  period_days: number;
  /** 1 − SLO */
  allowed_error_ratio: number;
  /** failed / (completed + failed) after warm-up; null when no request ended */
  error_ratio: number | null;
  /** requests the ratio is over (completed + failed; dropped arrivals never reached the server) */
  requests_judged: number;
  /** error_ratio / allowed_error_ratio: 1 spends the budget exactly over the period */
  burn_rate: number | null;
  /** the whole budget in minutes of full unavailability: 43.2 min for 99.9 % over 30 days */
  budget_minutes: number;
  /** minutes of budget this load consumes per hour: burn_rate × 60 × (1 − SLO); 0.06 at burn rate 1 for 99.9 % */
  budget_minutes_per_hour: number | null;
  /** the share of the budget consumed per hour: burn_rate / (period in hours) */
  budget_ratio_per_hour: number | null;
  /** hours until the budget is gone at this burn rate; null when nothing burns */
  hours_to_exhaustion: number | null;
  /** how long the run measured, s */
  run_duration_s: number;
  alerts: BurnRateAlertVerdict[];
  /** what the numbers mean, and what they cannot say */
  note: string;
}

/** Options of computeErrorBudget. */
export interface ErrorBudgetOptions {
  /** availability SLO as a ratio in (0, 1), e.g. 0.999 (default) */
  availabilitySlo?: number;
}

/**
 * Parses an availability SLO as a user writes it: `99.9%`, `99.9` (a percentage, since it is above
 * 1) or `0.999`. Throws InvalidInputError (exit 104) naming `path` otherwise.
 */
export function parseAvailabilitySlo(text: string, path = '--availability-slo'): number {
  const t = text.trim();
  const pct = t.endsWith('%');
  const n = Number(pct ? t.slice(0, -1).trim() : t);
  // 99.9 / 100 is 0.9990000000000001 in floating point: keep 12 significant digits
  const ratio = Number((pct || n > 1 ? n / 100 : n).toPrecision(12));
  if (t === '' || !Number.isFinite(n) || !(ratio > 0 && ratio < 1))
    throw new InvalidInputError([{ path, message: `expected an availability between 0 and 100 % exclusive, e.g. 99.9% or 0.999; found "${text}"` }]);
  return ratio;
}

/**
 * The availability SLO a result's error budget was judged at (`error_budget.availability_slo`:
 * the scenario's `errorBudget.availability`), or null when the result carries no error budget (a
 * checkpoint's results, or results written before it existed).
 */
export function availabilitySloOf(result: RunResult): number | null {
  const slo = result.error_budget?.availability_slo;
  return typeof slo === 'number' ? slo : null;
}

/** nine significant digits: exact enough for any ratio, free of float noise in the JSON */
const sig9 = (x: number): number => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(9)));

/**
 * Whether `failed / judged` burns the budget of `slo` faster than `threshold`, exactly: the burn
 * rate (failed / judged) / (1 − slo) compared as integers (failed × … > threshold × (1 − slo) ×
 * judged), with `slo` and `threshold` read as the decimals they are written as. In floating point
 * a burn rate exactly at a threshold can come out just above it: 1 failed of 10 000 at 99.99 %
 * burns at exactly 1, computed as 1.00000000000011, which fired the 1× alert.
 */
function burnsFaster(failed: number, judged: number, slo: number, threshold: number): boolean {
  const s = decimalFraction(String(slo));
  const t = decimalFraction(String(threshold));
  const bound: Fraction = { num: t.num * (s.den - s.num), den: t.den * s.den };
  return compareExact({ num: BigInt(failed), den: BigInt(judged) }, '>', bound);
}

/** The run's error budget under an availability SLO (default 99.9 % over 30 days). */
export function computeErrorBudget(result: RunResult, opts: ErrorBudgetOptions = {}): ErrorBudget {
  const slo = opts.availabilitySlo ?? DEFAULT_AVAILABILITY_SLO;
  if (!(slo > 0 && slo < 1)) throw new RangeError(`availabilitySlo must be in (0, 1), got ${slo}`);
  const allowed = 1 - slo;
  const periodH = BUDGET_PERIOD_DAYS * 24;
  const r = result.summary.requests;
  const judged = r.completed + r.failed;
  const errorRatio = judged > 0 ? r.failed / judged : null;
  const burn = errorRatio === null ? null : errorRatio / allowed;
  const durationS = result.summary.duration_s;
  const budgetMinutes = allowed * periodH * 60;
  const alerts = BURN_RATE_ALERTS.map(
    (rule): BurnRateAlertVerdict => ({
      ...rule,
      budget_consumed_ratio: sig9((rule.burn_rate_threshold * rule.window_s) / 3600 / periodH),
      would_fire: judged > 0 && burnsFaster(r.failed, judged, slo, rule.burn_rate_threshold),
      run_covers_short_window: durationS >= rule.short_window_s,
    }),
  );
  const shortest = Math.min(...BURN_RATE_ALERTS.map((a) => a.short_window_s));
  const note =
    (errorRatio === null
      ? 'No request ended after the warm-up: there is no error ratio to judge. '
      : `Judged on the run's error ratio (${r.failed} failed of ${judged}; ${r.dropped} dropped arrivals are the client's and not counted) as if this load held for each alert's whole window. `) +
    (durationS < shortest
      ? `The run measured ${sig9(durationS)} s, shorter than every alert window (the shortest is ${shortest / 60} min), so the alerts are an extrapolation, not an observation.`
      : 'Alerts whose windows are longer than the run are an extrapolation, not an observation.');
  return {
    availability_slo: slo,
    period_days: BUDGET_PERIOD_DAYS,
    allowed_error_ratio: sig9(allowed),
    error_ratio: errorRatio === null ? null : sig9(errorRatio),
    requests_judged: judged,
    burn_rate: burn === null ? null : sig9(burn),
    budget_minutes: sig9(budgetMinutes),
    budget_minutes_per_hour: burn === null ? null : sig9(burn * allowed * 60),
    budget_ratio_per_hour: burn === null ? null : sig9(burn / periodH),
    hours_to_exhaustion: burn === null || burn === 0 ? null : sig9(periodH / burn),
    run_duration_s: durationS,
    alerts,
    note,
  };
}
