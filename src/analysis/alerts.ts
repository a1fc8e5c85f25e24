// Would production's alerts have fired? Alert rules in Prometheus's shape (a comparison over
// canonical server signals, a `for:` duration, a severity), a tiny parser for their conditions,
// the defaults of vLLM runbooks, and their evaluation over the run's windows.

import type { WindowResult } from '../metrics/recorder.js';
import type { AlertResult } from '../results/types.js';

export type AlertSeverity = AlertResult['severity'];
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

/** One alert rule, as a scenario writes it (Prometheus's `alert`, `expr`, `for`, `labels.severity`). */
export interface AlertRule {
  name: string;
  severity: AlertSeverity;
  /** comparisons of canonical signals with numbers joined by `and`, e.g. `queue_depth > 20` */
  expr: string;
  /** how long the condition must hold before the alert fires (Prometheus `for:`), seconds */
  for_s: number;
}

export type ComparisonOp = '>' | '>=' | '<' | '<=' | '==' | '!=';

/** `signal op value`, one term of an alert condition. */
export interface AlertComparison {
  signal: string;
  op: ComparisonOp;
  value: number;
}

/** A checked rule with its parsed condition (every comparison must hold). */
export interface CompiledAlertRule extends AlertRule {
  conditions: AlertComparison[];
}

/** A rule that cannot be evaluated; the message names the rule and what is wrong. */
export class AlertRuleError extends Error {
  readonly code = 'INFERLOAD_ALERT_RULE_INVALID';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(`alert rule "${rule}": ${message}`);
    this.name = 'AlertRuleError';
  }
}

/** Canonical signals an alert may test (metrics.md), plus `gpu_memory_used_ratio` derived here. */
export const ALERT_SIGNALS: readonly string[] = [
  'requests_running',
  'queue_depth',
  'kv_cache_usage_ratio',
  'preemptions_per_s',
  'prompt_tokens_per_s',
  'generation_tokens_per_s',
  'prefix_cache_hit_ratio',
  'gpu_utilization_ratio',
  'gpu_memory_used_bytes',
  'gpu_memory_free_bytes',
  'gpu_memory_total_bytes',
  'gpu_memory_used_ratio',
  'gpu_power_watts',
  'gpu_sm_active_ratio',
  'gpu_count',
];

/** Server-side latency histograms: per-window statistics named `<prefix>_<stat>` (e.g. `_p95`, `_mean`). */
const HISTOGRAM_SIGNAL_PREFIXES = ['server_ttft_s', 'server_itl_s', 'server_e2e_s', 'server_queue_time_s'];

/**
 * The alerts teams run on vLLM (issue 4 item 7): queue depth, KV-cache saturation, preemptions,
 * GPU saturation and memory, and a throughput collapse while requests are running.
 */
export function defaultAlertRules(): AlertRule[] {
  return [
    { name: 'VLLMQueueDepthHigh', severity: 'warning', expr: 'queue_depth > 20', for_s: 300 },
    { name: 'VLLMQueueDepthCritical', severity: 'critical', expr: 'queue_depth > 50', for_s: 120 },
    { name: 'VLLMKVCacheNearlyFull', severity: 'warning', expr: 'kv_cache_usage_ratio > 0.95', for_s: 600 },
    { name: 'VLLMPreemptions', severity: 'warning', expr: 'preemptions_per_s > 0.1', for_s: 300 },
    { name: 'GPUUtilizationSaturated', severity: 'warning', expr: 'gpu_utilization_ratio > 0.95', for_s: 600 },
    { name: 'GPUMemoryHigh', severity: 'warning', expr: 'gpu_memory_used_ratio > 0.9', for_s: 300 },
    {
      name: 'VLLMLowGenerationThroughput',
      severity: 'warning',
      expr: 'generation_tokens_per_s < 100 and requests_running > 0',
      for_s: 600,
    },
  ];
}

// ---- the condition language ------------------------------------------------------------------

type Token =
  | { kind: 'ident'; text: string; column: number }
  | { kind: 'number'; value: number; text: string; column: number }
  | { kind: 'op'; op: ComparisonOp; column: number }
  | { kind: 'and'; column: number };

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPS: readonly ComparisonOp[] = ['>=', '<=', '==', '!=', '>', '<'];
const FLIPPED: Record<ComparisonOp, ComparisonOp> = { '>': '<', '>=': '<=', '<': '>', '<=': '>=', '==': '==', '!=': '!=' };

class ExprError extends Error {}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const ch = expr[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
      continue;
    }
    const column = i + 1;
    const rest = expr.slice(i);
    const op = OPS.find((o) => rest.startsWith(o));
    if (op) {
      tokens.push({ kind: 'op', op, column });
      i += op.length;
      continue;
    }
    if (ch === '=') throw new ExprError(`"=" at column ${column}: compare with "=="`);
    const number = NUMBER.exec(rest);
    if (number) {
      if (/^[%A-Za-z_]/.test(rest.slice(number[0].length))) {
        const unit = /^[%A-Za-z_]+/.exec(rest.slice(number[0].length))![0];
        throw new ExprError(
          `"${number[0]}${unit}" at column ${column}: write a plain number in the signal's unit ` +
            `(ratios are 0-1: 95 % is 0.95)`,
        );
      }
      tokens.push({ kind: 'number', value: Number(number[0]), text: number[0], column });
      i += number[0].length;
      continue;
    }
    const ident = IDENT.exec(rest);
    if (ident) {
      const word = ident[0];
      const keyword = word.toLowerCase();
      // PromQL's keywords are case-insensitive
      if (keyword === 'and') tokens.push({ kind: 'and', column });
      else if (keyword === 'or' || keyword === 'unless') {
        throw new ExprError(`"${word}" at column ${column}: conditions are joined with "and" only`);
      } else tokens.push({ kind: 'ident', text: word, column });
      i += word.length;
      continue;
    }
    if (ch === '&' || ch === '|') throw new ExprError(`"${ch}" at column ${column}: join conditions with "and"`);
    throw new ExprError(`unexpected "${ch}" at column ${column}`);
  }
  return tokens;
}

function describeToken(t: Token | undefined): string {
  if (!t) return 'the end';
  switch (t.kind) {
    case 'ident':
      return `"${t.text}" at column ${t.column}`;
    case 'number':
      return `"${t.text}" at column ${t.column}`;
    case 'op':
      return `"${t.op}" at column ${t.column}`;
    case 'and':
      return `"and" at column ${t.column}`;
    default: {
      const unreachable: never = t;
      return String(unreachable);
    }
  }
}

/**
 * Parse a condition: `signal op number` (or `number op signal`) terms joined by `and`, with
 * op one of `> >= < <= == !=`. Throws an Error saying what was expected where.
 */
export function parseAlertExpr(expr: string): AlertComparison[] {
  const tokens = tokenize(expr);
  if (tokens.length === 0) throw new ExprError('the condition is empty');
  const out: AlertComparison[] = [];
  let i = 0;
  for (;;) {
    const a = tokens[i];
    const op = tokens[i + 1];
    const b = tokens[i + 2];
    if (a?.kind === 'ident') {
      if (op?.kind !== 'op') throw new ExprError(`expected a comparison (> >= < <= == !=) after "${a.text}", found ${describeToken(op)}`);
      if (b?.kind !== 'number') throw new ExprError(`expected a number after "${op.op}", found ${describeToken(b)}`);
      out.push({ signal: a.text, op: op.op, value: b.value });
    } else if (a?.kind === 'number') {
      if (op?.kind !== 'op') throw new ExprError(`expected a comparison (> >= < <= == !=) after "${a.text}", found ${describeToken(op)}`);
      if (b?.kind !== 'ident') throw new ExprError(`expected a signal name after "${op.op}", found ${describeToken(b)}`);
      out.push({ signal: b.text, op: FLIPPED[op.op], value: a.value });
    } else {
      throw new ExprError(`expected a signal name, found ${describeToken(a)}`);
    }
    i += 3;
    if (i === tokens.length) return out;
    const joiner = tokens[i]!;
    if (joiner.kind !== 'and') throw new ExprError(`expected "and" or the end, found ${describeToken(joiner)}`);
    i++;
    if (i === tokens.length) throw new ExprError('expected a condition after the final "and"');
  }
}

function isKnownSignal(signal: string): boolean {
  return ALERT_SIGNALS.includes(signal) || HISTOGRAM_SIGNAL_PREFIXES.some((p) => signal.startsWith(`${p}_`));
}

/** Check a rule and parse its condition; throws AlertRuleError naming the rule. */
export function compileAlertRule(rule: AlertRule): CompiledAlertRule {
  const name = typeof rule.name === 'string' && rule.name.length > 0 ? rule.name : '(unnamed)';
  if (name === '(unnamed)') throw new AlertRuleError(name, 'name must be a non-empty string');
  if (!ALERT_SEVERITIES.includes(rule.severity)) {
    throw new AlertRuleError(name, `severity must be one of ${ALERT_SEVERITIES.join(', ')}, found ${JSON.stringify(rule.severity)}`);
  }
  if (typeof rule.for_s !== 'number' || !Number.isFinite(rule.for_s) || rule.for_s < 0) {
    throw new AlertRuleError(name, `for_s must be a number of seconds >= 0, found ${JSON.stringify(rule.for_s)}`);
  }
  if (typeof rule.expr !== 'string') throw new AlertRuleError(name, 'expr must be a string like "queue_depth > 20"');
  let conditions: AlertComparison[];
  try {
    conditions = parseAlertExpr(rule.expr);
  } catch (err) {
    if (!(err instanceof ExprError)) throw err;
    throw new AlertRuleError(name, `${err.message} in ${JSON.stringify(rule.expr)}`);
  }
  for (const c of conditions) {
    if (!isKnownSignal(c.signal)) {
      throw new AlertRuleError(
        name,
        `unknown signal "${c.signal}" in ${JSON.stringify(rule.expr)}; known signals: ${ALERT_SIGNALS.join(', ')}, ` +
          `${HISTOGRAM_SIGNAL_PREFIXES.map((p) => `${p}_<stat>`).join(', ')}`,
      );
    }
    if (c.signal.endsWith('_ratio') && Math.abs(c.value) > 1) {
      throw new AlertRuleError(
        name,
        `${c.signal} is a ratio from 0 to 1, so "${c.signal} ${c.op} ${c.value}" is always ` +
          `${evaluate(0.5, c.op, c.value) ? 'true' : 'false'}; write ${c.value / 100} for ${c.value} %`,
      );
    }
  }
  return { name, severity: rule.severity, expr: rule.expr, for_s: rule.for_s, conditions };
}

/** Every problem of a rule list at once (bad rules, duplicate names); [] when all are valid. */
export function validateAlertRules(rules: readonly AlertRule[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const rule of rules) {
    try {
      const compiled = compileAlertRule(rule);
      if (seen.has(compiled.name)) problems.push(`alert rule "${compiled.name}": the name is used by another rule`);
      seen.add(compiled.name);
    } catch (err) {
      if (!(err instanceof AlertRuleError)) throw err;
      problems.push(err.message);
    }
  }
  return problems;
}

function evaluate(observed: number, op: ComparisonOp, threshold: number): boolean {
  switch (op) {
    case '>':
      return observed > threshold;
    case '>=':
      return observed >= threshold;
    case '<':
      return observed < threshold;
    case '<=':
      return observed <= threshold;
    case '==':
      return observed === threshold;
    case '!=':
      return observed !== threshold;
    default: {
      const unreachable: never = op;
      throw new Error(`unknown operator ${String(unreachable)}`);
    }
  }
}

// ---- evaluation over windows ------------------------------------------------------------------

/**
 * A window's value of a signal: `window.server[signal]`; for `gpu_memory_used_ratio` the fullest
 * GPU's used / (used + free) (or used / total) when per-GPU figures exist, as a per-GPU alert
 * would see it, else the scraped ratio or the aggregate's. Undefined when the window has no
 * finite value.
 */
export function signalValue(window: WindowResult, signal: string): number | undefined {
  if (signal === 'gpu_memory_used_ratio') {
    let fullest: number | undefined;
    for (const g of window.gpus ?? []) {
      const r =
        finite(g.gpu_memory_used_ratio) ??
        usedRatio(g.gpu_memory_used_bytes, g.gpu_memory_free_bytes, g.gpu_memory_total_bytes);
      if (r !== undefined && (fullest === undefined || r > fullest)) fullest = r;
    }
    if (fullest !== undefined) return fullest;
    const s = window.server ?? {};
    return finite(s[signal]) ?? usedRatio(s.gpu_memory_used_bytes, s.gpu_memory_free_bytes, s.gpu_memory_total_bytes);
  }
  return finite(window.server?.[signal]);
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function usedRatio(used: unknown, free: unknown, total: unknown): number | undefined {
  const u = finite(used);
  if (u === undefined || u < 0) return undefined;
  const f = finite(free);
  if (f !== undefined && f >= 0 && u + f > 0) return u / (u + f);
  const t = finite(total);
  return t !== undefined && t > 0 ? u / t : undefined;
}

/** Windows closer than this (s) count as adjacent: their bounds come from µs integers. */
const ADJACENT_TOLERANCE_S = 1e-6;

const roundS = (s: number): number => Math.round(s * 1e6) / 1e6;

/**
 * An alert's state after one evaluation, as Prometheus's rules/alerting.go keeps it: `pending`
 * while the condition holds for less than `for`, `firing` once it has held that long, `resolved`
 * at the evaluation where a firing alert's condition stopped holding (Prometheus's inactive alert
 * with its ResolvedAt), `inactive` otherwise.
 */
export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

/** One evaluation of a rule. */
export interface AlertEvaluation {
  /** the evaluation's time, s since the run's start: the end of the window it read */
  at_s: number;
  holds: boolean;
  state: AlertState;
  /** when the current pending or firing alert became active (Prometheus's ActiveAt), else null */
  active_at_s: number | null;
  /** the window evaluated; null for the evaluation that stands for a gap between windows */
  window: WindowResult | null;
}

/** Windows in order of evaluation time (their ends: windows of merged shards may overlap). */
function byEvaluationTime(windows: readonly WindowResult[]): WindowResult[] {
  return [...windows].sort((a, b) => a.t_s + a.window_s - (b.t_s + b.window_s) || a.t_s - b.t_s);
}

/**
 * Prometheus's state machine (`Eval` in rules/alerting.go), one evaluation per window of
 * `ordered`, each reported to `visit`. A window's evaluation time is its **end**: the window's
 * value is the mean of the scrapes read during it, all of which an evaluation at its end has seen
 * (one at its start would see the previous window's). At each evaluation:
 * - the condition holds and no alert is active: a new alert, pending, active since now;
 * - an active alert whose condition holds stays active; a pending one fires when
 *   `now − activeAt >= for` (so at once when `for` is 0);
 * - the condition does not hold: a pending alert is dropped (it never fired), a firing one is
 *   resolved. Rules here have no `keep_firing_for`, i.e. Prometheus's default of 0.
 * A window without one of the signals is an evaluation where the condition does not hold (the
 * series is absent), and so is a gap between windows, evaluated at the next window's start.
 */
function runAlertRule(
  rule: CompiledAlertRule,
  ordered: readonly WindowResult[],
  visit: (atS: number, holds: boolean, state: AlertState, activeAtS: number | null, window: WindowResult | null) => void,
): void {
  let state: AlertState = 'inactive';
  let activeAtS: number | null = null;
  const step = (atS: number, holds: boolean, window: WindowResult | null): void => {
    if (!holds) {
      state = state === 'firing' ? 'resolved' : 'inactive';
      activeAtS = null;
    } else {
      if (state !== 'pending' && state !== 'firing') {
        state = 'pending';
        activeAtS = atS;
      }
      if (state === 'pending' && roundS(atS - activeAtS!) >= rule.for_s) state = 'firing';
    }
    visit(atS, holds, state, activeAtS, window);
  };
  let previousEndS: number | null = null;
  for (const w of ordered) {
    if (previousEndS !== null && w.t_s - previousEndS > ADJACENT_TOLERANCE_S) step(roundS(w.t_s), false, null);
    previousEndS = w.t_s + w.window_s;
    const holds = rule.conditions.every((c) => {
      const v = signalValue(w, c.signal);
      return v !== undefined && evaluate(v, c.op, c.value);
    });
    step(roundS(previousEndS), holds, w);
  }
}

/** Every evaluation of a rule over the run's windows, with the alert's state after it (`runAlertRule`). */
export function alertEvaluations(rule: AlertRule, windows: readonly WindowResult[]): AlertEvaluation[] {
  const out: AlertEvaluation[] = [];
  runAlertRule(compileAlertRule(rule), byEvaluationTime(windows), (at_s, holds, state, active_at_s, window) =>
    out.push({ at_s, holds, state, active_at_s, window }),
  );
  return out;
}

/**
 * Judge each rule over the run's windows the way Prometheus would (`runAlertRule`). Reports when
 * the condition first held (the evaluation that made the first alert active), its longest hold
 * measured as Prometheus measures `for` (from the evaluation that made the alert active to the
 * last one at which the condition still held), whether it fired, and the arrival rate of the
 * window where it first held. Throws AlertRuleError on an invalid rule (see `validateAlertRules`).
 */
export function evaluateAlerts(rules: readonly AlertRule[], windows: readonly WindowResult[]): AlertResult[] {
  const compiled = rules.map(compileAlertRule);
  const ordered = byEvaluationTime(windows);
  return compiled.map((rule) => {
    let longestS = 0;
    let firstHeldS: number | null = null;
    let offeredRate: number | null = null;
    let fired = false;
    runAlertRule(rule, ordered, (atS, _holds, state, activeAtS, w) => {
      if (activeAtS === null) return;
      if (firstHeldS === null) {
        firstHeldS = atS;
        offeredRate = w && w.window_s > 0 ? w.arrivals / w.window_s : null;
      }
      longestS = Math.max(longestS, roundS(atS - activeAtS));
      if (state === 'firing') fired = true;
    });
    return {
      name: rule.name,
      severity: rule.severity,
      condition: rule.expr,
      for_s: rule.for_s,
      first_held_s: firstHeldS,
      held_s: longestS,
      fired,
      offered_rate: offeredRate,
    };
  });
}

/** `5m`, `2m30s`, `40s`, `1.5s`, `1h`: k6's way of writing a duration. */
export function formatDurationS(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return String(seconds);
  if (seconds < 60) return `${Number(seconds.toFixed(seconds < 10 ? 1 : 0))}s`;
  let rest = Math.round(seconds);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/**
 * One line for a report: `fired: queue_depth > 20 held 6m10s (for 5m), first at 42s, 31.2 req/s offered`
 * or `held 40s of the 5m needed ...` or `never held`.
 */
export function describeAlert(result: AlertResult): string {
  if (result.first_held_s === null) return `${result.condition}: never held`;
  const where =
    `first at ${formatDurationS(result.first_held_s)}` +
    (result.offered_rate !== null ? `, ${Number(result.offered_rate.toFixed(2))} req/s offered` : '');
  if (result.fired) {
    return `fired: ${result.condition} held ${formatDurationS(result.held_s)} (for ${formatDurationS(result.for_s)}), ${where}`;
  }
  return (
    `not fired: ${result.condition} held ${formatDurationS(result.held_s)} of the ` +
    `${formatDurationS(result.for_s)} needed, ${where}`
  );
}
