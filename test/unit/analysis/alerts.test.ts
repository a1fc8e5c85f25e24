// Alert rules: the condition parser and its errors, the vLLM-runbook defaults, and evaluation over
// windows with Prometheus's pending/firing semantics.

import { describe, expect, it } from 'vitest';
import {
  AlertRuleError,
  alertEvaluations,
  compileAlertRule,
  defaultAlertRules,
  describeAlert,
  evaluateAlerts,
  formatDurationS,
  parseAlertExpr,
  signalValue,
  validateAlertRules,
} from '../../../src/analysis/alerts.js';
import type { AlertRule } from '../../../src/analysis/alerts.js';
import type { WindowResult } from '../../../src/metrics/recorder.js';
import { emptyWindow } from '../../helpers/windows.js';

function win(t_s: number, server: Record<string, number>, extra: Partial<WindowResult> = {}): WindowResult {
  return emptyWindow(t_s, { arrivals: 10, sent: 10, completed: 10, server, ...extra });
}

/** 1 s windows from t = 0 with queue_depth taken from `depths` (null: the signal is missing). */
function queueWindows(depths: Array<number | null>): WindowResult[] {
  return depths.map((d, i) => win(i, d === null ? {} : { queue_depth: d }, { arrivals: 10 + i }));
}

const rule = (expr: string, for_s: number, name = 'r'): AlertRule => ({ name, severity: 'warning', expr, for_s });

describe('parseAlertExpr', () => {
  it('parses comparisons joined by and', () => {
    expect(parseAlertExpr('queue_depth > 20')).toEqual([{ signal: 'queue_depth', op: '>', value: 20 }]);
    expect(parseAlertExpr('generation_tokens_per_s<100 and requests_running >= 1')).toEqual([
      { signal: 'generation_tokens_per_s', op: '<', value: 100 },
      { signal: 'requests_running', op: '>=', value: 1 },
    ]);
    expect(parseAlertExpr('kv_cache_usage_ratio != 0 AND queue_depth == 0')).toHaveLength(2);
    expect(parseAlertExpr('x <= -1.5e-3')).toEqual([{ signal: 'x', op: '<=', value: -0.0015 }]);
  });

  it('flips number-first comparisons', () => {
    expect(parseAlertExpr('20 < queue_depth')).toEqual([{ signal: 'queue_depth', op: '>', value: 20 }]);
  });

  it.each([
    ['', /empty/],
    ['queue_depth', /expected a comparison .* found the end/],
    ['queue_depth 20', /expected a comparison .* found "20" at column 13/],
    ['queue_depth > ', /expected a number after ">"/],
    ['queue_depth > abc', /expected a number after ">", found "abc"/],
    ['queue_depth = 20', /compare with "=="/],
    ['queue_depth > 20 or queue_depth < 1', /joined with "and" only/],
    ['queue_depth > 20 && x < 1', /join conditions with "and"/],
    ['queue_depth > 20 and', /after the final "and"/],
    ['queue_depth > 20 queue_depth', /expected "and" or the end/],
    ['kv_cache_usage_ratio > 95%', /ratios are 0-1: 95 % is 0.95/],
    ['queue_depth > 5m', /plain number/],
    ['rate(queue_depth[5m]) > 1', /expected a comparison .* found "\(" |unexpected "\("/],
  ])('rejects %j', (expr, message) => {
    expect(() => parseAlertExpr(expr)).toThrow(message);
  });
});

describe('compileAlertRule / validateAlertRules', () => {
  it('names the rule in every error', () => {
    expect(() => compileAlertRule(rule('queue_depth >', 60, 'QueueHigh'))).toThrow(AlertRuleError);
    expect(() => compileAlertRule(rule('queue_depth >', 60, 'QueueHigh'))).toThrow(/^alert rule "QueueHigh": expected a number/);
  });

  it('rejects unknown signals with the list of known ones', () => {
    expect(() => compileAlertRule(rule('queue_dept > 20', 60))).toThrow(/unknown signal "queue_dept".*queue_depth/);
    // server histogram statistics are signals too
    expect(compileAlertRule(rule('server_ttft_s_p95 > 0.5', 60)).conditions).toHaveLength(1);
  });

  it('catches a percentage compared with a ratio', () => {
    expect(() => compileAlertRule(rule('gpu_utilization_ratio > 95', 60))).toThrow(
      /gpu_utilization_ratio is a ratio from 0 to 1, so "gpu_utilization_ratio > 95" is always false; write 0.95 for 95 %/,
    );
  });

  it('checks severity and for_s', () => {
    expect(() => compileAlertRule({ ...rule('queue_depth > 1', 60), severity: 'page' as never })).toThrow(/severity must be one of info, warning, critical/);
    expect(() => compileAlertRule(rule('queue_depth > 1', -1))).toThrow(/for_s must be a number of seconds >= 0/);
    expect(() => compileAlertRule(rule('queue_depth > 1', NaN))).toThrow(/for_s/);
    expect(() => compileAlertRule(rule('queue_depth > 1', 1, ''))).toThrow(/name must be a non-empty string/);
  });

  it('reports every problem at once, duplicates included', () => {
    const problems = validateAlertRules([
      rule('queue_depth > 1', 60, 'A'),
      rule('queue_depth >', 60, 'B'),
      rule('nope > 1', 60, 'C'),
      rule('queue_depth > 2', 60, 'A'),
    ]);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^alert rule "B"/);
    expect(problems[1]).toMatch(/^alert rule "C": unknown signal/);
    expect(problems[2]).toBe('alert rule "A": the name is used by another rule');
  });
});

describe('defaultAlertRules', () => {
  it('are the vLLM runbook rules, all valid', () => {
    const rules = defaultAlertRules();
    expect(validateAlertRules(rules)).toEqual([]);
    const byName = Object.fromEntries(rules.map((r) => [r.name, r]));
    expect(byName.VLLMQueueDepthHigh).toEqual({ name: 'VLLMQueueDepthHigh', severity: 'warning', expr: 'queue_depth > 20', for_s: 300 });
    expect(byName.VLLMQueueDepthCritical).toMatchObject({ severity: 'critical', expr: 'queue_depth > 50', for_s: 120 });
    expect(byName.VLLMKVCacheNearlyFull).toMatchObject({ expr: 'kv_cache_usage_ratio > 0.95', for_s: 600 });
    expect(byName.VLLMPreemptions).toMatchObject({ expr: 'preemptions_per_s > 0.1', for_s: 300 });
    expect(byName.GPUUtilizationSaturated).toMatchObject({ expr: 'gpu_utilization_ratio > 0.95', for_s: 600 });
    expect(byName.GPUMemoryHigh).toMatchObject({ expr: 'gpu_memory_used_ratio > 0.9', for_s: 300 });
    expect(byName.VLLMLowGenerationThroughput).toMatchObject({
      expr: 'generation_tokens_per_s < 100 and requests_running > 0',
      for_s: 600,
    });
    // a fresh list each time: callers may edit it
    expect(defaultAlertRules()).not.toBe(rules);
  });
});

describe('evaluateAlerts', () => {
  it('fires once the condition has held for `for`, and reports when it first held at what load', () => {
    // holds in windows 2-7, evaluated at their ends 3 ... 8: active from 3, held 5 s at 8
    const windows = queueWindows([0, 5, 30, 31, 40, 35, 25, 21, 3, 2]);
    const [fired, pending] = evaluateAlerts([rule('queue_depth > 20', 5, 'fires'), rule('queue_depth > 20', 10, 'short')], windows);
    expect(fired).toEqual({
      name: 'fires',
      severity: 'warning',
      condition: 'queue_depth > 20',
      for_s: 5,
      first_held_s: 3,
      held_s: 5,
      fired: true,
      offered_rate: 12,
    });
    expect(pending).toMatchObject({ fired: false, held_s: 5, first_held_s: 3 });
  });

  it('a window without the signal breaks the hold; the longest hold is reported', () => {
    // holds in windows 0-2 (held 2 s), 4-5 (1 s) and 7-10 (3 s)
    const windows = queueWindows([30, 30, 30, null, 30, 30, 0, 30, 30, 30, 30]);
    const [r] = evaluateAlerts([rule('queue_depth > 20', 3)], windows);
    expect(r).toMatchObject({ first_held_s: 1, held_s: 3, fired: true });
    const [s] = evaluateAlerts([rule('queue_depth > 20', 4)], windows);
    expect(s).toMatchObject({ held_s: 3, fired: false });
  });

  it('a gap between windows breaks the hold', () => {
    const windows = [win(0, { queue_depth: 30 }), win(1, { queue_depth: 30 }), win(5, { queue_depth: 30 })];
    const [r] = evaluateAlerts([rule('queue_depth > 20', 2)], windows);
    expect(r).toMatchObject({ held_s: 1, fired: false });
    // the gap [2, 5) is an evaluation at 5 that sees no data
    expect(alertEvaluations(rule('queue_depth > 20', 1), windows).map((e) => [e.at_s, e.state])).toEqual([
      [1, 'pending'],
      [2, 'firing'],
      [5, 'resolved'],
      [6, 'pending'],
    ]);
  });

  it('for 0 fires at the first evaluation that holds; never holding means null times', () => {
    const windows = queueWindows([0, 0, 21]);
    expect(evaluateAlerts([rule('queue_depth > 20', 0)], windows)[0]).toMatchObject({ fired: true, first_held_s: 3, held_s: 0 });
    expect(evaluateAlerts([rule('queue_depth > 100', 0)], windows)[0]).toMatchObject({
      fired: false,
      first_held_s: null,
      held_s: 0,
      offered_rate: null,
    });
  });

  it('every comparison joined by and must hold in the same window', () => {
    const windows = [
      win(0, { generation_tokens_per_s: 50, requests_running: 0 }),
      win(1, { generation_tokens_per_s: 50, requests_running: 4 }),
      win(2, { generation_tokens_per_s: 60, requests_running: 4 }),
      win(3, { generation_tokens_per_s: 500, requests_running: 4 }),
      win(4, { generation_tokens_per_s: 50 }),
    ];
    const [r] = evaluateAlerts([rule('generation_tokens_per_s < 100 and requests_running > 0', 1)], windows);
    expect(r).toMatchObject({ first_held_s: 2, held_s: 1, fired: true });
  });

  it('evaluates uneven (coarsened) windows at their ends and reads offered rate per second', () => {
    const windows = [
      win(0, { queue_depth: 60 }, { window_s: 2, arrivals: 50 }),
      win(2, { queue_depth: 60 }, { window_s: 2, arrivals: 50 }),
      win(4, { queue_depth: 60 }, { window_s: 0.5, arrivals: 5 }),
    ];
    // evaluations at 2, 4 and 4.5: active from 2, held 2.5 s
    const [r, s] = evaluateAlerts([rule('queue_depth > 50', 2.5), rule('queue_depth > 50', 2.6)], windows);
    expect(r).toMatchObject({ first_held_s: 2, held_s: 2.5, fired: true, offered_rate: 25 });
    expect(s).toMatchObject({ held_s: 2.5, fired: false });
  });

  it('orders windows by time whatever order they come in', () => {
    const windows = queueWindows([30, 30, 30]).reverse();
    expect(evaluateAlerts([rule('queue_depth > 20', 2)], windows)[0]).toMatchObject({ held_s: 2, fired: true, first_held_s: 1 });
  });

  it('derives GPU memory use from used and free bytes, per GPU when it can (the fullest GPU)', () => {
    const GiB = 2 ** 30;
    const aggregate = win(0, { gpu_memory_used_bytes: 150 * GiB, gpu_memory_free_bytes: 10 * GiB });
    expect(signalValue(aggregate, 'gpu_memory_used_ratio')).toBeCloseTo(150 / 160, 12);
    const perGpu = win(
      0,
      { gpu_memory_used_bytes: 100 * GiB, gpu_memory_free_bytes: 60 * GiB },
      {
        gpus: [
          { gpu: '0', gpu_memory_used_bytes: 76 * GiB, gpu_memory_free_bytes: 4 * GiB },
          { gpu: '1', gpu_memory_used_bytes: 24 * GiB, gpu_memory_free_bytes: 56 * GiB },
        ],
      },
    );
    expect(signalValue(perGpu, 'gpu_memory_used_ratio')).toBeCloseTo(0.95, 12);
    expect(signalValue(win(0, { gpu_memory_used_ratio: 0.5 }), 'gpu_memory_used_ratio')).toBe(0.5);
    const totalOnly = win(0, { gpu_memory_used_bytes: 40 * GiB, gpu_memory_total_bytes: 80 * GiB });
    expect(signalValue(totalOnly, 'gpu_memory_used_ratio')).toBe(0.5);
    expect(signalValue(win(0, { gpu_memory_used_bytes: 1 }), 'gpu_memory_used_ratio')).toBeUndefined();
    expect(signalValue(win(0, { queue_depth: NaN }), 'queue_depth')).toBeUndefined();

    const [r] = evaluateAlerts(
      [defaultAlertRules().find((x) => x.name === 'GPUMemoryHigh')!],
      Array.from({ length: 400 }, (_, i) => win(i, { gpu_memory_used_bytes: 75 * GiB, gpu_memory_free_bytes: 5 * GiB })),
    );
    expect(r).toMatchObject({ fired: true, held_s: 399, first_held_s: 1 });
  });

  it('runs the defaults over a short overloaded run: conditions hold but no `for` is reached', () => {
    const windows = Array.from({ length: 60 }, (_, i) =>
      win(i, {
        queue_depth: i < 20 ? 0 : 60,
        requests_running: 256,
        kv_cache_usage_ratio: i < 20 ? 0.5 : 0.99,
        preemptions_per_s: i < 30 ? 0 : 2,
        gpu_utilization_ratio: 1,
        generation_tokens_per_s: 5000,
      }),
    );
    const results = evaluateAlerts(defaultAlertRules(), windows);
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    expect(byName.VLLMQueueDepthHigh).toMatchObject({ first_held_s: 21, held_s: 39, fired: false, for_s: 300 });
    expect(byName.VLLMQueueDepthCritical).toMatchObject({ first_held_s: 21, held_s: 39, fired: false });
    expect(byName.VLLMPreemptions).toMatchObject({ first_held_s: 31, held_s: 29 });
    expect(byName.GPUUtilizationSaturated).toMatchObject({ first_held_s: 1, held_s: 59 });
    expect(byName.GPUMemoryHigh).toMatchObject({ first_held_s: null, held_s: 0 });
    expect(byName.VLLMLowGenerationThroughput).toMatchObject({ first_held_s: null });
    expect(results.every((r) => !r.fired)).toBe(true);
    expect(describeAlert(byName.VLLMQueueDepthHigh!)).toBe(
      'not fired: queue_depth > 20 held 39s of the 5m needed, first at 21s, 10 req/s offered',
    );
  });

  it('throws on an invalid rule', () => {
    expect(() => evaluateAlerts([rule('queue_depth >> 1', 1, 'Bad')], [])).toThrow(/alert rule "Bad"/);
  });
});

// Prometheus fires when the condition has held from the evaluation that made the alert active
// to the current one for `for` (rules/alerting.go, Eval: `ts.Sub(a.ActiveAt) >= r.holdDuration`):
// N consecutive holding evaluations `interval` apart have held for (N - 1) * interval.
describe("alertEvaluations: Prometheus's pending/firing state machine", () => {
  const states = (r: AlertRule, windows: WindowResult[]): Array<[number, string]> =>
    alertEvaluations(r, windows).map((e) => [e.at_s, e.state]);

  it.each([
    // [condition held in N consecutive 1 s windows, for (s), fires]
    [3, 3, false], // the finding: three 1 s windows hold for 2 s between first and last evaluation
    [4, 3, true],
    [1, 0, true], // for 0: fires at the first evaluation
    [1, 0.5, false],
    [2, 1, true],
    [2, 1.5, false],
    [301, 300, true], // for 5m needs 301 windows of 1 s
    [300, 300, false],
  ])('%i holding windows with for %ss: fired %s', (n, forS, fires) => {
    const windows = queueWindows([0, ...Array<number>(n).fill(30), 0]);
    const [r] = evaluateAlerts([rule('queue_depth > 20', forS)], windows);
    expect(r).toMatchObject({ fired: fires, first_held_s: 2, held_s: n - 1 });
  });

  it("reproduces Prometheus's own TestAlertingRule (rules/alerting_test.go)", () => {
    // load 5m: http_requests{instance="0"} 75 85 95 105 105 95 85 and {instance="1"} 80 90 100
    // 110 120 130 140; `http_requests < 100` for 1m, evaluated at 0, 5m, ... 30m. Prometheus's
    // expected ALERTS: at 0 both pending; at 5m both firing; at 10m instance 0 firing (instance 1
    // resolved); none at 15m and 20m; at 25m instance 0 pending again (a new alert, active
    // since 25m); at 30m firing. Here each value is a 5 min window, evaluated at its end.
    const at = (values: number[]): WindowResult[] => values.map((v, i) => win(i * 300, { queue_depth: v }, { window_s: 300 }));
    const r = rule('queue_depth < 100', 60);
    expect(states(r, at([75, 85, 95, 105, 105, 95, 85]))).toEqual([
      [300, 'pending'],
      [600, 'firing'],
      [900, 'firing'],
      [1200, 'resolved'],
      [1500, 'inactive'],
      [1800, 'pending'],
      [2100, 'firing'],
    ]);
    expect(states(r, at([80, 90, 100, 110, 120, 130, 140])).map(([, s]) => s)).toEqual([
      'pending',
      'firing',
      'resolved',
      'inactive',
      'inactive',
      'inactive',
      'inactive',
    ]);
    expect(alertEvaluations(r, at([75, 85, 95, 105, 105, 95, 85])).map((e) => e.active_at_s)).toEqual([300, 300, 300, null, null, 1800, 1800]);
  });

  it('a pending alert whose condition stops holding is dropped without firing; the next hold starts again', () => {
    const windows = queueWindows([30, 30, 0, 30, 30, 30]);
    expect(states(rule('queue_depth > 20', 2), windows)).toEqual([
      [1, 'pending'],
      [2, 'pending'],
      [3, 'inactive'],
      [4, 'pending'],
      [5, 'pending'],
      [6, 'firing'],
    ]);
  });

  it('a firing alert stays firing while the condition holds and resolves at the first evaluation that does not hold', () => {
    const windows = queueWindows([30, 30, 30, null, 30]);
    expect(states(rule('queue_depth > 20', 0), windows)).toEqual([
      [1, 'firing'],
      [2, 'firing'],
      [3, 'firing'],
      [4, 'resolved'],
      [5, 'firing'],
    ]);
  });
});

describe('describeAlert / formatDurationS', () => {
  it('writes durations the way k6 does', () => {
    expect(formatDurationS(300)).toBe('5m');
    expect(formatDurationS(150)).toBe('2m30s');
    expect(formatDurationS(40)).toBe('40s');
    expect(formatDurationS(1.5)).toBe('1.5s');
    expect(formatDurationS(3600)).toBe('1h');
    expect(formatDurationS(3725)).toBe('1h2m5s');
    expect(formatDurationS(0)).toBe('0s');
  });

  it('says whether it fired, how long it held, and what it needed', () => {
    const base = { name: 'A', severity: 'warning' as const, condition: 'queue_depth > 20', for_s: 300 };
    expect(describeAlert({ ...base, first_held_s: null, held_s: 0, fired: false, offered_rate: null })).toBe(
      'queue_depth > 20: never held',
    );
    expect(describeAlert({ ...base, first_held_s: 42, held_s: 370, fired: true, offered_rate: 31.2 })).toBe(
      'fired: queue_depth > 20 held 6m10s (for 5m), first at 42s, 31.2 req/s offered',
    );
  });
});
