// Alert `for:` against Prometheus itself (issue 12 item 8): every evaluation of a table of rules
// over window series is written as a `promtool test rules` file that expects inferload's states
// (firing or not at each evaluation), and Debian's promtool must agree. A window is evaluated at
// its end, so window j of width w is the series' sample at (j + 1)·w with Prometheus evaluating
// every w; a window without the signal is a stale sample (the series is absent there). Skipped
// without promtool (CI installs Debian's prometheus, which ships it).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertEvaluations, evaluateAlerts, type AlertRule } from '../../../src/analysis/alerts.js';
import type { WindowResult } from '../../../src/metrics/recorder.js';
import { emptyWindow } from '../../helpers/windows.js';

const PROMTOOL = '/usr/bin/promtool';
const have = existsSync(PROMTOOL);
if (!have) console.warn(`skipping: ${PROMTOOL} is not installed (apt-get install prometheus)`);

interface Case {
  /** queue_depth per window; null: the window has no such signal */
  depths: Array<number | null>;
  forS: number;
}

const windowsOf = (depths: Array<number | null>, w: number): WindowResult[] =>
  depths.map((d, j) => emptyWindow(j * w, { window_s: w, arrivals: 1, server: d === null ? {} : { queue_depth: d } }));

/** Prometheus's duration syntax: whole seconds, else milliseconds. */
const promDuration = (s: number): string => (Number.isInteger(s) ? `${s}s` : `${Math.round(s * 1000)}ms`);

/** N holding windows between quiet ones, for every N and `for` (in windows) of the table. */
function table(): Case[] {
  const out: Case[] = [];
  for (let n = 1; n <= 7; n++)
    for (const k of [0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6]) out.push({ depths: [0, ...Array<number>(n).fill(30), 0], forS: k });
  // interrupted holds: a pending alert dropped, a firing one resolved, a missing signal
  out.push({ depths: [30, 30, 0, 30, 30, 30, 0], forS: 2 });
  out.push({ depths: [30, 30, 30, null, 30, 30], forS: 0 });
  out.push({ depths: [30, 30, 30, null, 30, 30, 30, 30], forS: 2 });
  out.push({ depths: [0, 30, 30, 30, 30, 0, 30, 30, 30, 30, 30], forS: 3 });
  return out;
}

/**
 * Runs promtool over `cases` with windows of `w` s, each case expecting at every evaluation the
 * state inferload gives it; returns promtool's output and whether it passed.
 */
function promtoolAgrees(cases: Case[], w: number): { ok: boolean; output: string; firing: number } {
  const dir = mkdtempSync(join(tmpdir(), 'inferload-promtool-'));
  const rules: object[] = [];
  const series: object[] = [];
  const checks: object[] = [];
  let firing = 0;
  cases.forEach((c, i) => {
    const forS = c.forS * w;
    const rule: AlertRule = { name: `A${i}`, severity: 'warning', expr: 'queue_depth > 20', for_s: forS };
    rules.push({ alert: rule.name, expr: `q${i} > 20`, for: promDuration(forS) });
    // the sample at 0 precedes the first window's end
    series.push({ series: `q${i}`, values: ['0', ...c.depths.map((d) => (d === null ? 'stale' : String(d)))].join(' ') });
    for (const e of alertEvaluations(rule, windowsOf(c.depths, w))) {
      const fires = e.state === 'firing';
      if (fires) firing++;
      checks.push({ eval_time: promDuration(e.at_s), alertname: rule.name, exp_alerts: fires ? [{ exp_labels: {} }] : [] });
    }
  });
  const rulesFile = join(dir, 'rules.yml');
  writeFileSync(rulesFile, JSON.stringify({ groups: [{ name: 'table', interval: `${w}s`, rules }] }));
  const testFile = join(dir, 'test.yml');
  writeFileSync(
    testFile,
    JSON.stringify({ rule_files: [rulesFile], evaluation_interval: `${w}s`, tests: [{ interval: `${w}s`, input_series: series, alert_rule_test: checks }] }),
  );
  try {
    return { ok: true, output: execFileSync(PROMTOOL, ['test', 'rules', testFile], { encoding: 'utf8', stdio: 'pipe' }), firing };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}`, firing };
  }
}

describe.skipIf(!have)("alert for: against promtool's own rule evaluation (the real binary)", () => {
  it('every evaluation of the table, in 1 s and 5 s windows, is firing exactly when Prometheus says so', () => {
    for (const w of [1, 5]) {
      const r = promtoolAgrees(table(), w);
      expect(r.output, `windows of ${w} s`).not.toContain('FAILED');
      expect(r.ok).toBe(true);
      expect(r.firing).toBeGreaterThan(100); // the table is not all quiet
    }
  });

  it("the issue's case: three 1 s windows with for: 3s stay pending, four fire", () => {
    const three = { depths: [0, 30, 30, 30, 0], forS: 3 };
    const four = { depths: [0, 30, 30, 30, 30, 0], forS: 3 };
    expect(evaluateAlerts([{ name: 'x', severity: 'warning', expr: 'queue_depth > 20', for_s: 3 }], windowsOf(three.depths, 1))[0]!.fired).toBe(false);
    expect(evaluateAlerts([{ name: 'x', severity: 'warning', expr: 'queue_depth > 20', for_s: 3 }], windowsOf(four.depths, 1))[0]!.fired).toBe(true);
    expect(promtoolAgrees([three, four], 1).ok).toBe(true);
  });

  it('promtool is a real check: a wrong expectation fails it', () => {
    // inferload's states with for: 2s, judged by promtool with for: 3s (`forS` is in windows)
    const r = promtoolAgrees([{ depths: [0, 30, 30, 30, 0], forS: 2 }], 1);
    expect(r.ok).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'inferload-promtool-'));
    const rulesFile = join(dir, 'rules.yml');
    writeFileSync(rulesFile, JSON.stringify({ groups: [{ name: 'g', interval: '1s', rules: [{ alert: 'A', expr: 'q > 20', for: '3s' }] }] }));
    const testFile = join(dir, 'test.yml');
    writeFileSync(
      testFile,
      JSON.stringify({
        rule_files: [rulesFile],
        evaluation_interval: '1s',
        tests: [{ interval: '1s', input_series: [{ series: 'q', values: '0 0 30 30 30 0' }], alert_rule_test: [{ eval_time: '4s', alertname: 'A', exp_alerts: [{ exp_labels: {} }] }] }],
      }),
    );
    expect(() => execFileSync(PROMTOOL, ['test', 'rules', testFile], { stdio: 'pipe' })).toThrow();
  });
});
