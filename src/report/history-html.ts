// history.html: the history as one self-contained page, built like report.html (html.ts): vega,
// vega-lite and vega-embed inlined, the chart specs in an escaped JSON data block, a
// Content-Security-Policy that allows only those exact scripts (by hash) and no network at all.
// Every interpolated value is HTML-escaped unless it is explicitly markup. Each run's point in the
// charts and its row in the table link to its report.html (a relative path: the page and the runs
// move together).
import { createHash } from 'node:crypto';
import { jsonForScript, oneLine } from './common.js';
import { fmtChange, fmtMetricValue } from './compare-markdown.js';
import { buildHistoryCharts, REGRESSION_COLOR, type HistoryChart } from './history-charts.js';
import { HISTORY_METRIC_INFO, historyNotes, newestSentence, regressionLine, type History, type HistoryRun } from './history.js';
import { chartClientScript, html, inlineScript, loadVegaAssets, Markup, type Interpolated, type VegaAssets } from './html.js';
import { PERCENTILE_COLORS } from './charts.js';

/** Runs listed in the page's tables at most (the newest); the charts and history.json have them all. */
export const HISTORY_HTML_MAX_ROWS = 1000;

const CLIENT_SCRIPT = chartClientScript('inferload-history');

const CSS = `
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d9dde3; --bg-soft: #f5f7fa; --ok: #1a7f37; --ok-bg: #e6f4ea;
  --bad: ${REGRESSION_COLOR}; --bad-bg: #fdecea; --warn: #8a5300; --warn-bg: #fff4d6;
  --p50: ${PERCENTILE_COLORS.p50}; --p95: ${PERCENTILE_COLORS.p95}; --p99: ${PERCENTILE_COLORS.p99}; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 24px; margin: 2px 0 2px; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 30px 0 6px; padding-top: 10px; border-top: 1px solid var(--line); }
.brand { font-size: 12px; color: var(--muted); letter-spacing: .05em; text-transform: uppercase; }
.runline { margin: 0; font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }
.verdict { margin: 12px 0 8px; padding: 10px 14px; border-radius: 6px; font-size: 16px; font-weight: 600; overflow-wrap: anywhere; }
.verdict.pass { background: var(--ok-bg); color: var(--ok); border: 1px solid #a6d8b5; }
.verdict.fail { background: var(--bad-bg); color: var(--bad); border: 1px solid #f3b4ae; }
.verdict.none { background: var(--bg-soft); color: var(--muted); border: 1px solid var(--line); }
ul.regressions { margin: 6px 0; padding-left: 20px; }
ul.regressions li { margin: 3px 0; overflow-wrap: anywhere; }
ul.regressions li b { color: var(--bad); }
ul.regressions ul { margin: 2px 0; padding-left: 18px; font-size: 13px; color: var(--muted); }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--bg-soft); }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.text { overflow-wrap: anywhere; max-width: 380px; }
tr.regression td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
td.regressed { color: var(--bad); font-weight: 600; }
td.pass { color: var(--ok); }
td.fail { color: var(--bad); font-weight: 600; }
.note { color: var(--muted); margin: 4px 0 8px; }
.empty { padding: 10px 12px; background: var(--bg-soft); border: 1px dashed var(--line); border-radius: 6px; color: var(--muted); }
.scroll { overflow-x: auto; }
table.figures td { white-space: nowrap; }
figure.chart { margin: 10px 0 16px; break-inside: avoid; page-break-inside: avoid; }
figure.chart h3 { margin: 0 0 2px; font-size: 14px; }
figure.chart figcaption { font-size: 12.5px; color: var(--muted); margin: 2px 0 0; max-width: 900px; }
.vis { min-height: 60px; overflow-x: auto; }
.vis svg { max-width: 100%; height: auto; }
.vis.pending { color: var(--muted); font-size: 12px; }
a { color: #0b57d0; }
ul.notes li { overflow-wrap: anywhere; }
footer { margin-top: 30px; font-size: 12px; color: var(--muted); }
@media print { nav, .vega-embed details, .vega-actions { display: none !important; } .vis, .scroll { overflow: visible; }
  .verdict, th, td.regressed { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
`;

const verdictText = (r: HistoryRun): string => (r.verdict === 'not judged' ? 'not judged' : r.verdict);

const reportLink = (r: HistoryRun, text: Interpolated): Markup => (r.report ? html`<a href="${r.report}">${text}</a>` : html`${text}`);

function figure(c: HistoryChart): Markup {
  return html`<figure class="chart" id="fig-${c.id}">
<h3>${c.title}</h3>
<div class="vis pending" id="chart-${c.id}" role="img" aria-label="${c.title}">Drawing the chart… (it needs JavaScript)</div>
<figcaption>${c.caption}</figcaption>
</figure>
`;
}

function regressionsSection(h: History): Markup {
  if (h.regressed.length === 0) return html`<p class="empty">No run regressed.</p>`;
  return html`<ul class="regressions">${h.regressed.map((reg) => {
    const r = h.runs.find((x) => x.id === reg.id)!;
    return html`<li><b>${regressionLine(r)}</b> · run ${reportLink(r, r.id)}<ul>${r.regressions.map((c) => html`<li>${c.text}</li>`)}</ul></li>`;
  })}</ul>`;
}

function verdictsTable(h: History, rows: HistoryRun[]): Markup {
  return html`<div class="scroll"><table class="verdicts">
<thead><tr><th>Run started</th><th class="text">Run</th><th class="text">Status</th><th class="text">Gate</th><th class="text">What changed</th><th>Against</th></tr></thead>
<tbody>${rows.map(
    (r) => html`<tr class="${r.verdict === 'regression' ? 'regression' : ''}" data-night="${r.night}">
<td>${r.night}</td><td class="text">${reportLink(r, r.id)}</td><td class="text">${r.status}</td>
<td class="text ${r.verdict === 'regression' ? 'fail' : r.verdict === 'not judged' ? '' : 'pass'}">${verdictText(r)}</td>
<td class="text">${
      r.verdict === 'not judged'
        ? r.not_judged ?? ''
        : r.regressions.length > 0
          ? r.regressions.map((c) => `${c.label} ${fmtChange(c)}`).join(', ')
          : r.improvements.length > 0
            ? r.improvements.map((c) => `${c.label} ${fmtChange(c)}`).join(', ')
            : '-'
    }</td>
<td>${r.baseline_runs.length > 0 ? `${r.baseline_runs.length} run${r.baseline_runs.length === 1 ? '' : 's'}` : '-'}</td></tr>
`,
  )}</tbody></table></div>`;
}

function figuresTable(h: History, rows: HistoryRun[]): Markup {
  const metrics = h.metrics.filter((m) => h.runs.some((r) => r.values[m] !== null));
  return html`<div class="scroll"><table class="figures">
<thead><tr><th>Run started</th>${metrics.map((m) => html`<th>${HISTORY_METRIC_INFO[m].label}</th>`)}</tr></thead>
<tbody>${rows.map(
    (r) => html`<tr class="${r.verdict === 'regression' ? 'regression' : ''}"><td>${reportLink(r, r.night)}</td>${metrics.map((m) => {
      const reg = r.regressions.find((c) => c.metric === m);
      const v = fmtMetricValue(HISTORY_METRIC_INFO[m], r.values[m]).replace('no data', '-');
      return reg ? html`<td class="regressed" title="${reg.text}">${v} (${fmtChange(reg)})</td>` : html`<td>${v}</td>`;
    })}</tr>
`,
  )}</tbody></table></div>`;
}

function notesSection(h: History): Markup {
  const notes = historyNotes(h);
  if (notes.length === 0) return html``;
  return html`<section id="notes"><h2>Notes</h2><ul class="notes">${notes.slice(-HISTORY_HTML_MAX_ROWS).map((n) => html`<li>${n}</li>`)}</ul></section>`;
}

/** Renders history.html. Pure apart from reading the vega builds (pass them to avoid that). */
export function renderHistoryHtml(h: History, assets: VegaAssets = loadVegaAssets()): string {
  const charts = buildHistoryCharts(h);
  const scripts = [inlineScript(assets.vega), inlineScript(assets.vegaLite), inlineScript(assets.vegaEmbed), CLIENT_SCRIPT];
  const hashes = scripts.map((code) => `'sha256-${createHash('sha256').update(code, 'utf8').digest('base64')}'`);
  const csp = [
    "default-src 'none'",
    `script-src ${hashes.join(' ')}`,
    "style-src 'unsafe-inline'",
    'img-src data: blob:',
    "connect-src 'none'",
    "font-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const first = h.runs[0]!;
  const last = h.runs[h.runs.length - 1]!;
  const rows = h.runs.slice(-HISTORY_HTML_MAX_ROWS);
  const cut = h.runs.length - rows.length;
  const all = h.metrics.length === Object.keys(HISTORY_METRIC_INFO).length;
  const verdictClass = h.newest.verdict === 'regression' ? 'fail' : h.newest.verdict === 'not judged' ? 'none' : 'pass';
  const titleVerdict = h.newest.verdict === 'regression' ? 'REGRESSION' : h.newest.verdict === 'not judged' ? 'not judged' : 'OK';
  const withLinks = h.runs.filter((r) => r.report !== null).length;
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${new Markup(csp)}">
<title>${`inferload history: ${oneLine(h.scenario, 80)} (${titleVerdict})`}</title>
<style>${new Markup(CSS)}</style>
</head>
<body>
<main>
<div class="brand">inferload history</div>
<h1>${h.scenario}</h1>
<p class="runline">${h.runs.length} runs from ${first.night} to ${last.night} · each judged against the last ${h.baseline_runs} runs before it that passed the gate · tolerance ${h.tolerance_pct} % · ${
    all ? 'all metrics' : `metrics: ${h.metrics.map((m) => HISTORY_METRIC_INFO[m].label).join(', ')}`
  }</p>
<div class="verdict ${verdictClass}" id="newest">${newestSentence(h)}</div>
<section id="regressions">
<h2>Regressions</h2>
<p class="note">A run regressed when a metric got worse beyond the run-to-run noise of the runs before it and beyond the ${h.tolerance_pct} % tolerance, as <code>inferload compare</code> judges it. A regression never joins the baseline the later runs are judged against.</p>
${regressionsSection(h)}
</section>
<section id="trends">
<h2>Trends</h2>
<p class="note">One point per run, at the time it started (UTC). ${
    withLinks > 0 ? `Click a point to open that run's report (${withLinks} of ${h.runs.length} runs have one). ` : 'No run has a report.html beside its results.json, so the points link nowhere. '
  }A dashed red line marks a run that regressed; a red ring, the figure that did.</p>
${charts.length > 0 ? charts.map(figure) : html`<p class="empty">No run has any of the selected figures.</p>`}
</section>
<section id="verdicts">
<h2>Verdicts per run</h2>
${cut > 0 ? html`<p class="note">The ${cut} oldest runs are left out of the tables; history.json has every run.</p>` : ''}
${verdictsTable(h, rows)}
</section>
<section id="figures">
<h2>Figures per run</h2>
${figuresTable(h, rows)}
<p class="note">Values in red regressed that night (in brackets: the change against the runs before it).</p>
</section>
${notesSection(h)}
<footer>Generated by inferload from ${h.runs.length} saved runs. history.md beside this file carries the same tables as markdown, history.json the data. This page makes no network requests.</footer>
</main>
<script type="application/json" id="inferload-charts">${new Markup(jsonForScript(charts.map((c) => ({ id: c.id, spec: c.spec }))))}</script>
${scripts.map((code) => html`<script>${new Markup(code)}</script>\n`)}
</body>
</html>
`;
  return page.text;
}
