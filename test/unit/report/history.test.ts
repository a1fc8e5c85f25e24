// The history of nightly runs: each run judged by the regression gate against the runs before it
// that passed (a regression never joins), the night that got 20 % slower named in the JSON, the
// markdown and the page, hostile strings escaped, and the refusals (several scenarios, a run twice,
// fewer than two runs).
import { describe, expect, it } from 'vitest';
import { baselineRunOf, emptyBaseline, addRun } from '../../../src/analysis/baseline.js';
import { compareRuns } from '../../../src/analysis/compare.js';
import { InvalidInputError } from '../../../src/core/errors.js';
import { buildHistoryCharts } from '../../../src/report/history-charts.js';
import { renderHistoryHtml } from '../../../src/report/history-html.js';
import { renderHistoryMarkdown } from '../../../src/report/history-markdown.js';
import {
  buildHistory,
  historyInputOfResult,
  historyInputsOfBaseline,
  regressionLine,
  resultForGate,
  type History,
  type HistoryInput,
} from '../../../src/report/history.js';
import type { RunResult } from '../../../src/results/types.js';
import { HOSTILE } from './fixtures.js';
import { NIGHTS, nightRun, smoke, type Night } from './history-fixtures.js';

const inputOf = (r: RunResult, report: string | null = null): HistoryInput => historyInputOfResult(r, baselineRunOf(r), `runs/${r.run.id}/results.json`, report);
const inputsOf = (nights: Night[], edit?: (r: RunResult, n: Night) => void): HistoryInput[] =>
  nights.map((n) => {
    const r = nightRun(n);
    edit?.(r, n);
    return inputOf(r, `../runs/${n.date}/report.html`);
  });

/** The cells of a GFM table row, split on unescaped pipes. */
const cells = (line: string): number => line.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length - 2;

describe('the gate reads a digest as it reads the results', () => {
  it('baselineRunOf(resultForGate(digest)) is the digest, for every fixture', () => {
    for (const name of ['base-1', 'base-2', 'base-3', 'same', 'slow']) {
      const d = baselineRunOf(smoke(name));
      expect(baselineRunOf(resultForGate(d, null))).toEqual(d);
    }
  });

  it('so a digest is judged exactly as inferload compare judges the results.json', () => {
    const baseline = emptyBaseline('smoke');
    for (const n of ['base-1', 'base-2', 'base-3']) addRun(baseline, baselineRunOf(smoke(n)));
    for (const n of ['same', 'slow']) {
      const r = smoke(n);
      expect(compareRuns(baseline, resultForGate(baselineRunOf(r), r.status_reason))).toEqual(compareRuns(baseline, r));
    }
  });
});

describe('buildHistory over seven nights, one of them 20 % slower', () => {
  const h = buildHistory(inputsOf(NIGHTS));
  const night = (d: string) => h.runs.find((r) => r.night === d)!;

  it('orders the runs by start and labels them by day', () => {
    expect(h.schema).toBe('inferload/history@1');
    expect(h.scenario).toBe('smoke');
    expect(h.runs.map((r) => r.night)).toEqual(NIGHTS.map((n) => n.date));
  });

  it('judges every run but the first against the runs before it', () => {
    expect(h.runs[0]!.verdict).toBe('not judged');
    expect(h.runs[0]!.not_judged).toMatch(/first run/);
    for (const r of h.runs.slice(1)) expect(r.comparison, r.night).not.toBeNull();
    expect(night('2026-11-26').baseline_runs).toEqual([h.runs[0]!.id]);
    expect(night('2026-11-29').baseline_runs).toHaveLength(4);
    for (const d of ['2026-11-26', '2026-11-27', '2026-11-28', '2026-11-29', '2026-12-01']) expect(night(d).verdict, d).toBe('no significant change');
  });

  it('marks the slow night as a regression, naming each metric and by how much', () => {
    const slow = night('2026-11-30');
    expect(slow.verdict).toBe('regression');
    expect(slow.comparison!.verdict).toBe('regression');
    const names = slow.regressions.map((c) => c.metric);
    expect(names).toContain('e2e_p95_ms');
    expect(names).toContain('itl_p95_ms');
    for (const c of slow.regressions) {
      expect(c.change_ratio!).toBeGreaterThan(0.2);
      expect(c.change_ratio!).toBeLessThan(0.3);
      expect(c.text).toMatch(new RegExp(`^${c.label} \\+2\\d\\.\\d % \\(`));
    }
    expect(h.regressed).toEqual([{ id: slow.id, night: '2026-11-30', regressions: slow.regressions }]);
    expect(regressionLine(slow)).toMatch(/^2026-11-30: .*E2E p95 \+2\d\.\d % \(regression\)/);
  });

  it('keeps a regression out of the baseline the later nights are judged against', () => {
    const slow = night('2026-11-30');
    expect(slow.joined_baseline).toBe(false);
    const after = night('2026-12-01');
    expect(after.baseline_runs).not.toContain(slow.id);
    expect(after.baseline_runs).toHaveLength(5);
    expect(h.newest).toEqual({ id: after.id, night: '2026-12-01', verdict: 'no significant change', not_judged: null });
  });

  it('the newest run regressing is what a nightly job gates on', () => {
    const upToSlow = buildHistory(inputsOf(NIGHTS.slice(0, 6)));
    expect(upToSlow.newest.verdict).toBe('regression');
  });

  it('keeps the trend figures of every run', () => {
    const slow = night('2026-11-30');
    const base1 = smoke('base-1');
    expect(slow.values.ttft_p95_ms).toBeCloseTo(base1.summary.latency_ms.ttft.p95! * 1.2, 0);
    expect(slow.values.request_per_s).toBe(base1.summary.throughput.request_per_s);
    expect(slow.values.goodput_ratio).toBe(1);
    expect(slow.values.error_ratio).toBe(0);
    expect(slow.values.capacity_per_gpu_request_per_s).toBeNull();
    expect(slow.report).toBe('../runs/2026-11-30/report.html');
  });

  it('--metric: only the chosen metrics are shown and gated', () => {
    const only = buildHistory(inputsOf(NIGHTS), { metrics: ['ttft_p95_ms', 'request_per_s'] });
    expect(only.metrics).toEqual(['ttft_p95_ms', 'request_per_s']);
    // TTFT p95 of 150 requests moves too much from run to run for a 20 % change to clear the noise
    expect(only.regressed).toEqual([]);
    expect(buildHistoryCharts(only).map((c) => c.id)).toEqual(['ttft', 'throughput']);
    const e2e = buildHistory(inputsOf(NIGHTS), { metrics: ['e2e_p95_ms'] });
    expect(e2e.regressed.map((r) => r.regressions.map((c) => c.metric))).toEqual([['e2e_p95_ms']]);
  });

  it('a wider tolerance lets the slowdown pass, as in compare', () => {
    expect(buildHistory(inputsOf(NIGHTS), { tolerancePct: 40 }).regressed).toEqual([]);
  });
});

describe('runs the gate cannot judge, and runs it cannot compare', () => {
  it('a failed run is shown, not judged, and does not join the baseline', () => {
    const h = buildHistory(
      inputsOf(NIGHTS.slice(0, 4), (r, n) => {
        if (n.date !== '2026-11-27') return;
        r.status = 'failed';
        r.status_reason = 'the target never answered';
      }),
    );
    const failed = h.runs[2]!;
    expect(failed.verdict).toBe('not judged');
    expect(failed.not_judged).toMatch(/^the run failed \(the target never answered\)/);
    expect(failed.joined_baseline).toBe(false);
    expect(h.runs[3]!.baseline_runs).toEqual([h.runs[0]!.id, h.runs[1]!.id]);
  });

  it('a changed load starts a baseline of its own, and the change is named', () => {
    const h = buildHistory(
      inputsOf(NIGHTS.slice(0, 5), (r, n) => {
        if (n.date >= '2026-11-28') r.run.load = { ...r.run.load, rate: 20 };
      }),
    );
    const changed = h.runs[3]!;
    expect(changed.changed.join('\n')).toMatch(/run\.load\.rate: the previous run has 10, this run has 20/);
    expect(changed.verdict).toBe('not judged');
    expect(changed.not_judged).toMatch(/same load and workload/);
    expect(h.runs[4]!.baseline_runs).toEqual([changed.id]);
  });

  it('judges capacity per GPU of sweeps against the earlier sweeps, whatever rate their best step ran at', () => {
    const capacities = [4.0, 4.1, 3.9, 4.0, 2.8];
    const inputs = inputsOf(NIGHTS.slice(0, 5)).map((input, i) => ({
      ...input,
      // the best step's rate differs by night: latencies cannot be compared, capacity can
      digest: { ...input.digest, load: { ...input.digest.load, rate: 10 + i } },
      capacity: { per_gpu_request_per_s: capacities[i]!, per_gpu_output_tokens_per_s: capacities[i]! * 32, sustainable_request_per_s: capacities[i]! * 4, gpu_count: 4 },
    }));
    const h = buildHistory(inputs);
    expect(h.runs.map((r) => r.comparison)).toEqual([null, null, null, null, null]);
    expect(h.runs.slice(1, 4).map((r) => r.verdict)).toEqual(['no significant change', 'no significant change', 'no significant change']);
    const last = h.runs[4]!;
    expect(last.verdict).toBe('regression');
    expect(last.capacity_judgement!.noise_source).toBe('run-to-run (4 sweeps)');
    expect(last.regressions.map((c) => c.text)).toEqual(['capacity per GPU −30.0 % (4.00 req/s → 2.80 req/s)']);
    const chart = buildHistoryCharts(h).find((c) => c.id === 'capacity')!;
    expect(JSON.stringify(chart.spec)).toContain('"series":"capacity per GPU","value":2.8,');
    expect(renderHistoryMarkdown(h)).toMatch(/^- \*\*2026-11-29: capacity per GPU −30\.0 % \(regression\)\*\*/m);
  });

  it('reads the runs of a baseline file (no capacity, SLO verdicts or reports: a baseline keeps digests)', () => {
    const baseline = emptyBaseline('smoke');
    for (const n of NIGHTS.slice(0, 5)) addRun(baseline, baselineRunOf(nightRun(n)));
    const h = buildHistory(historyInputsOfBaseline(baseline, 'baseline.json'));
    expect(h.runs).toHaveLength(5);
    expect(h.runs[0]!.source).toBe('baseline.json runs[0]');
    expect(h.runs.every((r) => r.report === null && r.slo === null)).toBe(true);
    expect(h.runs[1]!.values.goodput_ratio).toBe(1);
    // a run in the baseline file and given as results counts once, read from its results
    const both = buildHistory([...historyInputsOfBaseline(baseline, 'baseline.json'), inputOf(nightRun(NIGHTS[5]!))]);
    expect(both.runs).toHaveLength(6);
  });
});

describe('refusals (exit 104)', () => {
  const refusal = (f: () => unknown): InvalidInputError => {
    try {
      f();
    } catch (err) {
      if (err instanceof InvalidInputError) return err;
      throw err;
    }
    throw new Error('not refused');
  };

  it('runs of several scenarios, naming them; --scenario picks one', () => {
    const inputs = inputsOf(NIGHTS.slice(0, 4), (r, n) => {
      if (n.date >= '2026-11-27') r.run.scenario = 'other';
    });
    const err = refusal(() => buildHistory(inputs));
    expect(err.exitCode).toBe(104);
    expect(err.message).toMatch(/the runs are of 2 scenarios: "smoke" \(2 runs, e\.g\. runs\/.*\); "other" \(2 runs/);
    expect(err.message).toMatch(/--scenario NAME/);
    expect(buildHistory(inputs, { scenario: 'other' }).runs).toHaveLength(2);
    expect(refusal(() => buildHistory(inputs, { scenario: 'nope' })).message).toMatch(/no run of scenario "nope"/);
  });

  it('the same run twice, and fewer than two runs', () => {
    const r = nightRun(NIGHTS[0]!);
    expect(refusal(() => buildHistory([inputOf(r), inputOf(r), inputOf(nightRun(NIGHTS[1]!))])).message).toMatch(/again \(also runs\//);
    expect(refusal(() => buildHistory([inputOf(r)])).message).toMatch(/a history needs at least 2 runs, found 1/);
  });
});

describe('rendering', () => {
  const h = buildHistory(inputsOf(NIGHTS));

  it('history.md names the night that regressed, with what and by how much, and links each report', () => {
    const text = renderHistoryMarkdown(h);
    expect(text.split('\n')[0]).toBe('# inferload history: smoke');
    expect(text).toContain('**OK**: The newest run (2026-12-01) shows no significant change against the 5 runs before it.');
    expect(text).toMatch(/^- \*\*2026-11-30: .*E2E p95 \+2\d\.\d % \(regression\).*\*\*: run smoke-20261130T030000Z \[report\]\(\.\.\/runs\/2026-11-30\/report\.html\)$/m);
    expect(text).toMatch(/^\| 2026-11-30 \| smoke-20261130T030000Z \| complete \| ❌ \*\*regression\*\* \| .*\*\*E2E p95 \+2\d\.\d %\*\*/m);
    expect(text).toMatch(/^\| 2026-11-30 \| .*\*\*2\d\d\.\d ms \(\+2\d\.\d %\)\*\*/m);
    const regressed = buildHistory(inputsOf(NIGHTS.slice(0, 6)));
    expect(renderHistoryMarkdown(regressed)).toMatch(/^\*\*REGRESSION\*\*: The newest run \(2026-11-30\) regressed: /m);
  });

  it('history.html marks the regression in its charts and its tables', () => {
    const page = renderHistoryHtml(h);
    const charts = buildHistoryCharts(h);
    expect(charts.map((c) => c.id)).toEqual(['ttft', 'itl', 'tpot', 'e2e', 'throughput', 'output-tokens', 'ratios']);
    for (const c of charts) {
      expect(page.split(`id="chart-${c.id}"`)).toHaveLength(2);
      const s = JSON.stringify(c.spec);
      expect(s).toContain('"href":{"field":"href"');
      // the dashed rule at the night that regressed
      expect(s).toContain(`"values":[{"at":${Date.parse('2026-11-30T03:00:00.000Z')},"night":"2026-11-30"`);
    }
    const e2e = JSON.stringify(charts.find((c) => c.id === 'e2e')!.spec);
    expect(e2e).toMatch(/"series":"p95","value":2\d\d\.\d+,"href":"\.\.\/runs\/2026-11-30\/report\.html","verdict":"regression","change":"\+2\d\.\d % \(regression\)"/);
    expect(page).toMatch(/<li><b>2026-11-30: .*E2E p95 \+2\d\.\d % \(regression\).*<\/b> · run <a href="\.\.\/runs\/2026-11-30\/report\.html">smoke-20261130T030000Z<\/a>/);
    expect(page).toMatch(/<tr class="regression" data-night="2026-11-30">/);
    expect(page).toMatch(/<td class="regressed" title="E2E p95 \+2\d\.\d %[^"]*">2\d\d\.\d ms \(\+2\d\.\d %\)<\/td>/);
    expect(page).toContain('<div class="verdict pass" id="newest">The newest run (2026-12-01) shows no significant change against the 5 runs before it.</div>');
  });

  it('escapes hostile scenario names, run ids, reasons and file names in the page, the markdown and the chart data', () => {
    const hostile = buildHistory(
      inputsOf(NIGHTS, (r, n) => {
        r.run.scenario = HOSTILE[0]!;
        r.run.id = `${HOSTILE[NIGHTS.indexOf(n) % HOSTILE.length]!} ${n.date}`;
        r.run.workload = { ...r.run.workload, note: n.date >= '2026-11-29' ? HOSTILE[2]! : HOSTILE[3]! };
        if (n.date === '2026-11-27') {
          r.status = 'failed';
          r.status_reason = HOSTILE[1]!;
        }
      }).map((input, i) => ({ ...input, source: HOSTILE[i % HOSTILE.length]! })),
    );
    expect(hostile.runs.find((r) => r.night === '2026-11-30')!.verdict).toBe('regression');
    const page = renderHistoryHtml(hostile);
    const markup = page.replace(/(<script[^>]*>)[\s\S]*?(<\/script>)/g, '$1$2');
    expect(page.match(/<script/gi)).toHaveLength(5);
    expect(page.match(/<\/script/gi)).toHaveLength(5);
    expect(page).not.toContain('<!--');
    for (const t of markup.match(/<[a-zA-Z][^>]*>/g)!) {
      expect(t).not.toMatch(/^<(img|svg|iframe|object|embed|base|link|form)\b/i);
      expect(t).not.toMatch(/\son[a-z]+\s*=/i);
    }
    for (const s of HOSTILE) expect(page).not.toContain(s);
    expect(page).toContain('<h1>&lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt;</h1>');
    expect(page).toContain('<title>inferload history: &lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt; (OK)</title>');
    // the chart data round-trips the ids exactly, as data
    const block = /<script type="application\/json" id="inferload-charts">([\s\S]*?)<\/script>/.exec(page)![1]!;
    expect(JSON.stringify(JSON.parse(block))).toContain(JSON.stringify(`${HOSTILE[1]} 2026-11-26`));

    const text = renderHistoryMarkdown(hostile);
    expect(text).not.toMatch(/</);
    expect(text).not.toMatch(/[^\\]`/);
    expect(text).not.toMatch(/@(?!\u200b)/);
    expect(text).not.toMatch(/[\u2028\u2029\u0000\u001b\r]/);
    for (const s of HOSTILE) expect(text).not.toContain(s);
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\| :?--/.test(lines[i]!)) continue;
      const width = cells(lines[i - 1]!);
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) expect(cells(lines[j]!), lines[j]).toBe(width);
    }
  });

  it('history.md stays under 1 MiB however many runs regressed (history.json has them all)', () => {
    const slow = h.runs.find((r) => r.verdict === 'regression')!;
    const runs = Array.from({ length: 3000 }, (_, i) => ({ ...slow, id: `run-${i}`, night: `night ${i}`, changed: [`run.load.rate: ${'x'.repeat(500)}`] }));
    const many: History = { ...h, runs, regressed: runs.map((r) => ({ id: r.id, night: r.night, regressions: r.regressions })) };
    const text = renderHistoryMarkdown(many);
    expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024);
    expect(text).toContain('_The 2900 oldest runs that regressed are left out here; the tables below and history.json have them._');
    expect(text).toContain('_The 2600 oldest runs are left out of these tables; history.json has every run._');
  });

  it('is deterministic: the same runs give the same files', () => {
    const again: History = buildHistory(inputsOf(NIGHTS));
    expect(renderHistoryMarkdown(again)).toBe(renderHistoryMarkdown(h));
    expect(JSON.stringify(again)).toBe(JSON.stringify(h));
  });
});
