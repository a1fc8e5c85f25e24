// report.html: one self-contained page that opens offline. The vega, vega-lite and vega-embed
// builds are inlined from node_modules, the chart specs travel as an escaped JSON data block, and
// a Content-Security-Policy allows only those exact scripts (by hash) and no network at all.
// Every interpolated value is HTML-escaped unless it is explicitly marked as markup.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { headroomText } from '../analysis/capacity.js';
import type { LatencySummaryMs } from '../metrics/hdr.js';
import type { ClassResult, RunResult } from '../results/types.js';
import { buildCharts, PERCENTILE_COLORS, timeDomainS, type ChartSection, type ReportChart } from './charts.js';
import { prefixCacheText, promptTokensText } from './tokens.js';
import { tokenCells, tokenRows, TOKEN_COLUMNS, workloadSourceText } from './workload.js';
import {
  bindingClasses,
  chunkParsingText,
  classEntries,
  collectWarnings,
  correlationAlignmentText,
  cutRequests,
  fmt,
  type ReportWarning,
  fmtBytes,
  fmtMs,
  fmtObserved,
  fmtPct,
  hasServerSignals,
  jsonForScript,
  LATENCY_ROWS,
  modelEntries,
  oneLine,
  SLICE_COLUMNS,
  sloLabel,
  sloTally,
  sloVerdict,
  turnColumns,
  turnEntries,
} from './common.js';

/** The minified browser builds the page inlines. */
export interface VegaAssets {
  vega: string;
  vegaLite: string;
  vegaEmbed: string;
}

let cachedAssets: VegaAssets | null = null;

/** Reads the minified vega, vega-lite and vega-embed builds from node_modules (once per process). */
export function loadVegaAssets(): VegaAssets {
  if (cachedAssets) return cachedAssets;
  const require = createRequire(import.meta.url);
  // each package's main entry sits in its build/ directory, beside the minified UMD bundle
  const read = (pkg: string, file: string): string => stripSourceMap(readFileSync(join(dirname(require.resolve(pkg)), file), 'utf8'));
  cachedAssets = {
    vega: read('vega', 'vega.min.js'),
    vegaLite: read('vega-lite', 'vega-lite.min.js'),
    vegaEmbed: read('vega-embed', 'vega-embed.min.js'),
  };
  return cachedAssets;
}

/** Drops `//# sourceMappingURL=` comments: developer tools would otherwise try to fetch the maps. */
function stripSourceMap(code: string): string {
  return code.replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, '\n');
}

/** Makes third-party code safe to inline in a `<script>` element (no early `</script>`, no `<!--`). */
export function inlineScript(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

// ---------------------------------------------------------------------------------------------
// Markup that escapes by default.

/** A piece of HTML that is already safe (built by `html` or from constants). */
export class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Interpolated = Markup | string | number | boolean | null | undefined | Interpolated[];

function interpolate(v: Interpolated): string {
  if (v instanceof Markup) return v.text;
  if (Array.isArray(v)) return v.map(interpolate).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeText(String(v));
}

/** Tagged template: interpolated values are escaped unless they are Markup. */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Markup {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += interpolate(values[i]!) + strings[i + 1]!;
  return new Markup(out);
}

/** HTML escaping for text and quoted attributes, with control characters flattened. */
function escapeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ' ').replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

// ---------------------------------------------------------------------------------------------

/**
 * The page's script that draws every chart of the `inferload-charts` JSON block with vega-embed
 * (report.html, history.html); `downloadFileName` names the charts' exported images.
 */
export function chartClientScript(downloadFileName: string): string {
  return `(function () {
  'use strict';
  var block = document.getElementById('inferload-charts');
  var charts = block ? JSON.parse(block.textContent || '[]') : [];
  var failed = 0;
  var options = {
    renderer: 'svg',
    ast: true,
    actions: { export: true, source: false, compiled: false, editor: false },
    downloadFileName: '${downloadFileName}'
  };
  if (typeof vegaEmbed !== 'function') {
    document.body.setAttribute('data-charts', 'failed');
    console.error('inferload: vega-embed did not load; charts cannot be drawn');
    return;
  }
  var jobs = charts.map(function (chart) {
    var el = document.getElementById('chart-' + chart.id);
    if (!el) return Promise.resolve();
    el.textContent = '';
    return vegaEmbed(el, chart.spec, options).then(function () {
      el.setAttribute('data-rendered', 'true');
    }, function (err) {
      failed++;
      el.textContent = 'This chart could not be drawn: ' + (err && err.message ? err.message : String(err));
      console.error('inferload: chart ' + chart.id + ' failed', err);
    });
  });
  Promise.all(jobs).then(function () {
    document.body.setAttribute('data-charts', failed > 0 ? 'failed' : 'done');
  });
})();
`;
}

const CLIENT_SCRIPT = chartClientScript('inferload-chart');

const CSS = `
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d9dde3; --bg-soft: #f5f7fa; --ok: #1a7f37; --ok-bg: #e6f4ea;
  --bad: #b42318; --bad-bg: #fdecea; --warn: #8a5300; --warn-bg: #fff4d6;
  --p50: ${PERCENTILE_COLORS.p50}; --p95: ${PERCENTILE_COLORS.p95}; --p99: ${PERCENTILE_COLORS.p99}; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 24px; margin: 2px 0 2px; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 30px 0 6px; padding-top: 10px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.brand { font-size: 12px; color: var(--muted); letter-spacing: .05em; text-transform: uppercase; }
.desc { margin: 0 0 6px; color: var(--muted); overflow-wrap: anywhere; }
.runline { margin: 0; font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }
.runline b { color: var(--fg); font-weight: 600; }
.verdict { margin: 12px 0 8px; padding: 10px 14px; border-radius: 6px; font-size: 17px; font-weight: 600; }
.verdict.pass { background: var(--ok-bg); color: var(--ok); border: 1px solid #a6d8b5; }
.verdict.fail { background: var(--bad-bg); color: var(--bad); border: 1px solid #f3b4ae; }
.verdict.none { background: var(--bg-soft); color: var(--muted); border: 1px solid var(--line); }
.verdict small { font-weight: normal; font-size: 13px; }
.verdict .cut { margin-top: 4px; font-size: 14px; font-weight: normal; color: var(--fg); }
.verdict .cut b { color: var(--bad); }
.verdict .cut.interrupt b { color: var(--warn); }
.banner { margin: 6px 0; padding: 8px 12px; border-radius: 6px; border-left: 5px solid; overflow-wrap: anywhere; }
.banner.error { background: var(--bad-bg); border-color: var(--bad); }
.banner.warning { background: var(--warn-bg); border-color: #e0a100; }
.banner b { margin-right: 6px; }
.banner ul { margin: 4px 0 0; padding-left: 20px; font-size: 13px; }
.banner details { font-size: 13px; margin-left: 20px; }
.banner summary { cursor: pointer; color: var(--muted); }
.tiles { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 8px; margin: 12px 0; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: var(--bg-soft); }
.tile .k { font-size: 12px; color: var(--muted); }
.tile .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .v .u { font-size: 13px; font-weight: 600; color: var(--muted); }
.tile .s { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
.tile.bad { border-color: #f3b4ae; background: var(--bad-bg); }
.tile.bad .v { color: var(--bad); }
.tile.warn { border-color: #f0cf7a; background: var(--warn-bg); }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--bg-soft); }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.text { overflow-wrap: anywhere; max-width: 560px; }
table.wide { width: 100%; }
table.wide td.text:first-child { min-width: 260px; }
td.pass { color: var(--ok); font-weight: 600; }
td.fail { color: var(--bad); font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; vertical-align: baseline; }
nav { position: sticky; top: 0; z-index: 2; background: rgba(255,255,255,.96); border-bottom: 1px solid var(--line);
  padding: 6px 0; margin: 14px 0 0; font-size: 13px; }
nav a { color: #0b57d0; text-decoration: none; margin-right: 14px; }
.note { color: var(--muted); margin: 4px 0 8px; }
.finding { margin: 8px 0 12px; padding: 8px 12px; border: 1px solid var(--line); border-left: 5px solid #9467bd; border-radius: 6px; background: var(--bg-soft); overflow-wrap: anywhere; }
.finding table { margin: 6px 0 0; background: #fff; }
.empty { padding: 10px 12px; background: var(--bg-soft); border: 1px dashed var(--line); border-radius: 6px; color: var(--muted); }
figure.chart { margin: 10px 0 16px; break-inside: avoid; page-break-inside: avoid; }
figure.chart h4 { margin: 0 0 2px; font-size: 14px; }
figure.chart figcaption { font-size: 12.5px; color: var(--muted); margin: 2px 0 0; max-width: 900px; }
.vis { min-height: 60px; overflow-x: auto; }
.vis svg { max-width: 100%; height: auto; }
.vis.pending { color: var(--muted); font-size: 12px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 6px 18px; }
pre { background: var(--bg-soft); border: 1px solid var(--line); padding: 8px; border-radius: 4px; font-size: 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 320px; overflow: auto; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.tiles.seven { grid-template-columns: repeat(7, minmax(0, 1fr)); }
.muted { color: var(--muted); }
.scroll { overflow-x: auto; }
table.slices td { white-space: nowrap; }
table.slices td.text { white-space: normal; min-width: 120px; }
@media (max-width: 820px) { .tiles, .tiles.seven { grid-template-columns: repeat(3, minmax(0, 1fr)); } }
footer { margin-top: 30px; font-size: 12px; color: var(--muted); }
@page { size: A4; margin: 12mm; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav, .vega-embed details, .vega-actions { display: none !important; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .verdict, .banner, .tile, th, .swatch { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .vis, .scroll { overflow: visible; }
  pre { max-height: none; }
  .grid2 { grid-template-columns: 1fr 1fr; }
  .tiles { grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 4px; }
  .tiles.seven { grid-template-columns: repeat(7, minmax(0, 1fr)); }
  .tile { padding: 5px 6px; }
  .tile .v { font-size: 14px; }
  .tile .s { font-size: 10px; }
  a { color: inherit; text-decoration: none; }
}
`;

/** Renders the self-contained HTML report of a run. Pure apart from reading the vega builds (pass them to avoid that). */
export function renderHtml(result: RunResult, assets: VegaAssets = loadVegaAssets()): string {
  const charts = buildCharts(result);
  const bySection = (s: ChartSection): ReportChart[] => charts.filter((c) => c.section === s);
  const run = result.run;
  const s = result.summary;
  const verdict = sloVerdict(result);
  const warnings = collectWarnings(result);
  const serverPresent = hasServerSignals(result);
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
  ].join('; '); // constants and base64 hashes only: nothing to escape
  const chartData = charts.map((c) => ({ id: c.id, spec: c.spec }));
  const verdictText = verdict === null ? 'no SLOs' : verdict.failed === 0 ? 'PASS' : 'FAIL';

  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${new Markup(csp)}">
<meta name="generator" content="inferload ${run.inferload_version}">
<title>${`inferload: ${oneLine(run.scenario, 80)} (${verdictText})`}</title>
<style>${new Markup(CSS)}</style>
</head>
<body>
<main>
${headline(result, verdict)}
${warnings.map((w) => banner(w))}
${capacitySection(result, bySection('capacity'))}
${tiles(result)}
${sloSection(result)}
<nav aria-label="sections"><a href="#time">Over time</a><a href="#server">Server &amp; GPUs</a><a href="#errors">Errors</a><a href="#workload">Workload</a>${sliceLinks(result)}<a href="#distributions">Distributions</a><a href="#generator">Load generator</a><a href="#details">Run details</a></nav>
<section id="time">
<h2>Over time: load, latency and the server's queue</h2>
<p class="note">Every chart about time in this report shares one time axis: seconds since the run started, from 0 to ${fmt(timeDomainS(result)[1])} s, in windows of ${windowWidths(result)}. Hover a point for its values.${run.warmup_s > 0 ? ` The grey band is the warm-up (${fmt(run.warmup_s, 0)} s), not counted in any summary.` : ''}</p>
${spikeSoakSection(result)}
${figures(bySection('time-client'))}
${s.requests.completed === 0 ? html`<p class="empty">No request completed, so there is no latency over time to draw.</p>` : ''}
</section>
<section id="server">
<h2>Server and GPUs, on the same time axis</h2>
${serverPresent ? figures(bySection('time-server')) : noServerNote(result)}
${serverDetails(result)}
</section>
<section id="errors">
<h2>Errors</h2>
${errorsSection(result, bySection('errors'))}
${errorBudgetSection(result)}
</section>
<section id="workload">
<h2>Workload: what was asked and served</h2>
${workloadSection(result)}
</section>
${classesSection(result, bySection('classes'))}
${turnsSection(result, bySection('turns'))}
${modelsSection(result, bySection('models'))}
<section id="distributions">
<h2>Latency distributions</h2>
<p class="note">Percentile curves from the whole-run HDR histograms (warm-up excluded). The x axis stretches the tail: each step right is ten times rarer (90 %, 99 %, 99.9 %…); markers show p50, p95 and p99 in their colours.</p>
${bySection('distribution').length > 0 ? html`<div class="grid2">${figures(bySection('distribution'))}</div>` : html`<p class="empty">No request completed: there is no latency distribution to draw.</p>`}
${percentilesTable(result)}
</section>
<section id="generator">
<h2>Load generator health</h2>
${generatorSection(result, bySection('generator'))}
</section>
<section id="details">
<h2>Run details</h2>
${detailsSection(result)}
</section>
<footer>Generated by inferload ${run.inferload_version} from results.json (schema ${result.schema}). report.md beside this file carries the same tables as markdown. This page makes no network requests.</footer>
</main>
<script type="application/json" id="inferload-charts">${new Markup(jsonForScript(chartData))}</script>
${scripts.map((code) => html`<script>${new Markup(code)}</script>\n`)}
</body>
</html>
`;
  return page.text;
}

function headline(result: RunResult, verdict: ReturnType<typeof sloVerdict>): Markup {
  const run = result.run;
  const t = run.target;
  const sim = t.simulator ? html` · built-in simulator (profile ${t.simulator.profile}, speed ${t.simulator.speed})` : '';
  const status = result.status === 'complete' ? '' : html` · <b>status ${result.status}</b>`;
  let verdictClass: 'none' | 'pass' | 'fail';
  let verdictText: Markup;
  if (verdict === null) {
    verdictClass = 'none';
    verdictText = html`No SLOs defined <small>— the scenario sets no thresholds, so there is no pass/fail verdict.</small>`;
  } else if (verdict.failed === 0) {
    verdictClass = 'pass';
    verdictText = html`PASS <small>— all ${verdict.total} SLO${verdict.total === 1 ? '' : 's'} held</small>`;
  } else {
    verdictClass = 'fail';
    verdictText = html`FAIL <small>— ${verdict.failed} of ${verdict.total} SLO${verdict.total === 1 ? '' : 's'} failed: ${result.slo
      .filter((v) => !v.passed)
      .map((v) => oneLine(v.name, 120))
      .join(', ')}</small>`;
  }
  // requests the run cut never reach the SLOs: a PASS over the rest must not read as "all fine"
  const cut = cutRequests(result);
  const cutLine = cut
    ? html`<div class="cut ${cut.cause}"><b>Cut at the end:</b> ${cut.sentence}${verdict !== null && !cut.countedAsFailed ? ' The SLOs judged only the requests that ended.' : ''}</div>`
    : '';
  const verdictBar = html`<div class="verdict ${verdictClass}">${verdictText}${cutLine}</div>`;
  return html`<header>
<div class="brand">inferload report</div>
<h1>${oneLine(run.scenario, 200)}</h1>
${run.description ? html`<p class="desc">${oneLine(run.description, 1000)}</p>` : ''}
<p class="runline">target <b>${oneLine(t.url, 300)}</b> · model <b>${oneLine(t.model, 300)}</b> · ${oneLine(t.endpoint, 40)} endpoint${sim} · started ${oneLine(run.started_at, 40)}${status}</p>
</header>
${verdictBar}`;
}

/** The window width as a reader needs it: "1 s", or "1 s (merged up to 8 s: a long run)" after coarsening. */
function windowWidths(result: RunResult): string {
  const base = result.run.window_s;
  const widest = result.windows.reduce((m, w) => Math.max(m, w.window_s), base);
  const f = (x: number): string => `${fmt(x, x < 1 ? 2 : 0)} s`;
  return widest > base * 1.001 ? `${f(base)} (merged up to ${f(widest)} to bound a long run)` : f(base);
}

/** Details shown in a banner before the rest is folded away (the sections below list them all). */
const BANNER_DETAILS_MAX = 3;

function banner(w: ReportWarning): Markup {
  const shown = w.details.slice(0, BANNER_DETAILS_MAX);
  const rest = w.details.slice(BANNER_DETAILS_MAX);
  return html`<div class="banner ${w.level}" role="alert"><b>${w.level === 'error' ? 'Error' : 'Warning'}</b>${oneLine(w.text, 1000)}${
    shown.length > 0 ? html`<ul>${shown.map((d) => html`<li>${oneLine(d, 400)}</li>`)}</ul>` : ''
  }${rest.length > 0 ? html`<details><summary>${rest.length} more</summary><ul>${rest.slice(0, 100).map((d) => html`<li>${oneLine(d, 400)}</li>`)}</ul></details>` : ''}</div>\n`;
}

/** A value's trailing unit, set smaller than its number so that a row of seven tiles keeps "42.50 req/s" on one line. */
const TILE_UNIT = /^(.*\d)\s+(req\/s|tok\/s|ms|s)$/;

function tile(k: string, v: string, sub: string | Markup = '', cls = ''): Markup {
  const unit = TILE_UNIT.exec(v);
  const value = unit ? html`${unit[1]!}<span class="u"> ${unit[2]!}</span>` : v;
  return html`<div class="tile ${cls}"><div class="k">${k}</div><div class="v">${value}</div><div class="s">${sub}</div></div>`;
}

function tiles(result: RunResult): Markup {
  const s = result.summary;
  const r = s.requests;
  const lat = s.latency_ms;
  const rate =
    s.rate.target_per_s !== null
      ? `${fmt(s.rate.achieved_per_s, 2)} of ${fmt(s.rate.target_per_s, 2)} req/s intended`
      : s.rate.achieved_per_s !== null
        ? `${fmt(s.rate.achieved_per_s, 2)} req/s sent (closed loop)`
        : '';
  const warm = result.run.warmup_s > 0 ? ` + ${fmt(result.run.warmup_s, 0)} s warm-up` : '';
  const p95 = (l: LatencySummaryMs, name: string): Markup =>
    tile(`${name} p95`, l.count > 0 ? `${fmtMs(l.p95)} ms` : '-', l.count > 0 ? `p50 ${fmtMs(l.p50)} · p99 ${fmtMs(l.p99)} ms` : 'no data', l.count > 0 ? '' : 'bad');
  const failedBy = Object.entries(s.errors)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const failedText =
    failedBy
      .slice(0, 3)
      .map(([k, n]) => `${oneLine(k, 24)} ${n}`)
      .join(', ') + (failedBy.length > 3 ? `, +${failedBy.length - 3} classes` : '');
  // requests the run cut get a tile of their own beside completed and failed (the three add up
  // to sent, unless the cut ones are unfinished failures, which the failed tile holds too); the
  // first row then holds what became of the requests, seven tiles wide
  const cut = cutRequests(result);
  const cutTile = cut ? tile('cut at the end', String(cut.count), cut.short, cut.cause === 'interrupt' ? 'warn' : 'bad') : '';
  return html`<section class="tiles${cut ? ' seven' : ''}" aria-label="headline numbers">
${tile('duration (measured)', `${fmt(s.duration_s, 1)} s`, warm.trim() || 'no warm-up')}
${tile('arrival rate', s.rate.achieved_per_s !== null ? `${fmt(s.rate.achieved_per_s, 2)} req/s` : '-', rate)}
${tile('requests sent', String(r.sent), r.warmup_sent > 0 ? `+${r.warmup_sent} in warm-up (not counted)` : 'after warm-up')}
${tile('completed', String(r.completed), r.sent > 0 ? `${fmtPct(r.completed / r.sent)} of sent` : '', r.completed === 0 ? 'bad' : '')}
${tile('failed', String(r.failed), r.failed > 0 ? failedText : 'no failures', r.failed > 0 ? 'bad' : '')}
${cutTile}
${tile('dropped', String(r.dropped), r.dropped > 0 ? 'in-flight cap reached' : 'none', r.dropped > 0 ? 'warn' : '')}
${tile('throughput', `${fmt(s.throughput.request_per_s, 2)} req/s`, 'completed requests')}
${tile('output tokens', `${fmt(s.throughput.output_tokens_per_s, 0)} tok/s`, `${fmt(s.throughput.total_tokens_per_s, 0)} tok/s with prompts`)}
${tile('goodput', `${fmt(s.throughput.goodput_request_per_s, 2)} req/s`, s.throughput.goodput_ratio !== null ? `${fmtPct(s.throughput.goodput_ratio)} of completed met every SLO` : 'no completed request', s.throughput.goodput_ratio !== null && s.throughput.goodput_ratio < 0.99 && result.slo.length > 0 ? 'warn' : '')}
${p95(lat.ttft, 'TTFT')}
${p95(lat.itl, 'ITL')}
${p95(lat.e2e, 'E2E')}
</section>`;
}

function sloSection(result: RunResult): Markup {
  if (result.slo.length === 0) return html``;
  // a request class's own SLOs: the class in a column of its own
  const byClass = result.slo.some((v) => v.class !== undefined);
  return html`<table aria-label="SLO verdicts">
<thead><tr>${byClass ? html`<th class="text">class</th>` : ''}<th class="text">SLO metric</th><th class="text">threshold</th><th>observed</th><th>verdict</th></tr></thead>
<tbody>
${result.slo.map((v) => {
  // the name is "metric: threshold" (after "class <name>: " for a class's own) unless a later
  // version names SLOs otherwise: then show it too
  const named = sloLabel(v) !== `${v.metric}: ${v.threshold}` ? `${oneLine(v.name, 200)} — ` : '';
  const cls = byClass ? html`<td class="text">${v.class !== undefined ? oneLine(v.class, 100) : html`<span class="muted">all requests</span>`}</td>` : '';
  return html`<tr>${cls}<td class="text">${named}${oneLine(v.metric, 100)}${v.abort_on_fail ? ' (aborts the run)' : ''}</td><td class="text">${oneLine(v.threshold, 100)}</td><td>${fmtObserved(v.metric, v.observed)}</td><td class="${v.passed ? 'pass' : 'fail'}">${v.passed ? 'pass' : 'FAIL'}</td></tr>\n`;
})}
</tbody>
</table>`;
}

/** Links to the slices' sections that the run has (classes, turns, models). */
function sliceLinks(result: RunResult): Markup {
  return html`${classEntries(result).length > 0 ? html`<a href="#classes">Classes</a>` : ''}${turnEntries(result).length > 0 ? html`<a href="#turns">Turns</a>` : ''}${
    modelEntries(result).length > 0 ? html`<a href="#models">Models</a>` : ''
  }`;
}

/** Most rows of a slice table (classes, models); the rest are in results.json. */
const SLICE_ROWS_MAX = 100;

function moreRows(shown: number, total: number, what: string): Markup | string {
  return total > shown ? html`<p class="note">… and ${total - shown} more ${what} (see results.json).</p>` : '';
}

function classesSection(result: RunResult, charts: ReportChart[]): Markup {
  const classes = classEntries(result);
  if (classes.length === 0) return html``;
  const sloCell = (c: ClassResult): Markup => {
    const t = sloTally(c.slo);
    if (t === null) return html`<td>-</td>`;
    return html`<td class="${t.passed === t.total ? 'pass' : 'fail'}">${t.passed}/${t.total}${t.passed === t.total ? '' : ' FAIL'}</td>`;
  };
  return html`<section id="classes">
<h2>Request classes</h2>
<p class="note">Each class's requests alone. Weight: the class's share of arrivals. Goodput: the share of its completed requests that met every per-request SLO. Its SLOs are the run's, with the thresholds the class sets of its own, judged on its requests alone (each is in the SLO table at the top).</p>
${figures(charts)}
<div class="scroll"><table class="slices" aria-label="request classes"><thead><tr><th class="text">class</th><th>weight</th>${SLICE_COLUMNS.map((c) => html`<th>${c.head}</th>`)}<th>SLOs passed</th></tr></thead><tbody>
${classes.slice(0, SLICE_ROWS_MAX).map(
  ([name, c]) => html`<tr><td class="text">${oneLine(name, 200)}</td><td>${fmtPct(c.weight)}</td>${SLICE_COLUMNS.map((col) => html`<td>${col.cell(c.summary)}</td>`)}${sloCell(c)}</tr>\n`,
)}</tbody></table></div>
${moreRows(SLICE_ROWS_MAX, classes.length, 'classes')}
</section>`;
}

function turnsSection(result: RunResult, charts: ReportChart[]): Markup {
  const turns = turnEntries(result);
  if (turns.length === 0) return html``;
  const cols = turnColumns(turns);
  return html`<section id="turns">
<h2>Turns of a session</h2>
<p class="note">Turn 1 is a session's first request; each later turn sends the conversation so far, so its prompt grows. With a prefix cache, TTFT of later turns stays near turn 1's; without, it grows with the prompt.</p>
${figures(charts)}
<table aria-label="turns"><thead><tr>${cols.map((c) => html`<th>${c.head}</th>`)}</tr></thead><tbody>
${turns.slice(0, SLICE_ROWS_MAX).map((t) => html`<tr>${cols.map((c) => html`<td>${c.cell(t)}</td>`)}</tr>\n`)}</tbody></table>
${moreRows(SLICE_ROWS_MAX, turns.length, 'turns')}
</section>`;
}

function modelsSection(result: RunResult, charts: ReportChart[]): Markup {
  const models = modelEntries(result);
  if (models.length === 0) return html``;
  return html`<section id="models">
<h2>Models</h2>
<p class="note">The requests sent to each model name of the mix (the base model or an adapter), alone.</p>
${figures(charts)}
<div class="scroll"><table class="slices" aria-label="models"><thead><tr><th class="text">model</th>${SLICE_COLUMNS.map((c) => html`<th>${c.head}</th>`)}</tr></thead><tbody>
${models.slice(0, SLICE_ROWS_MAX).map(
  ([name, m]) => html`<tr><td class="text">${oneLine(name, 300)}</td>${SLICE_COLUMNS.map((col) => html`<td>${col.cell(m.summary)}</td>`)}</tr>\n`,
)}</tbody></table></div>
${moreRows(SLICE_ROWS_MAX, models.length, 'models')}
</section>`;
}

function figures(charts: ReportChart[]): Markup {
  return html`${charts.map(
    (c) => html`<figure class="chart" id="fig-${c.id}">
<h4>${c.title}</h4>
<div class="vis pending" id="chart-${c.id}" role="img" aria-label="${c.title}">Drawing chart… (needs JavaScript; the tables carry the numbers)</div>
<figcaption>${c.caption}</figcaption>
</figure>
`,
  )}`;
}

function noServerNote(result: RunResult): Markup {
  const endpoints = result.server?.endpoints ?? [];
  if (endpoints.length === 0)
    return html`<p class="empty"><b>No server metrics were scraped.</b> Pass <code>--metrics URL</code> (the server's Prometheus endpoint, a DCGM exporter) or set <code>target.metrics</code> to see queue depth, running requests, KV-cache usage, preemptions and GPU utilisation here, on the same time axis as the latency.</p>`;
  return html`<p class="empty"><b>No server signals over time.</b> ${endpoints.length} metrics endpoint${endpoints.length === 1 ? ' was' : 's were'} configured, but no window carries a canonical signal (see the endpoints below).</p>`;
}

function serverDetails(result: RunResult): Markup {
  const server = result.server;
  if (!server) return html``;
  const parts: Markup[] = [];
  if (server.endpoints.length > 0)
    parts.push(html`<h3>Metrics endpoints</h3>
<table class="wide"><thead><tr><th class="text">URL</th><th class="text">profile</th><th>scrapes</th><th>failures</th><th>interval</th><th class="text">notes</th></tr></thead><tbody>
${server.endpoints.slice(0, 50).map(
  (e) => html`<tr><td class="text">${oneLine(e.url, 300)}</td><td class="text">${e.profiles.length > 0 ? e.profiles.map((p) => oneLine(p, 40)).join(', ') : 'unknown'}</td><td>${e.scrapes}</td><td>${e.failures}</td><td>${fmt(e.interval_s, 1)} s</td><td class="text">${[
    e.last_error ? `last error: ${oneLine(e.last_error, 300)}` : '',
    ...e.warnings.slice(0, 10).map((w) => oneLine(w, 300)),
  ]
    .filter((x) => x !== '')
    .join(' · ')}</td></tr>\n`,
)}</tbody></table>`);
  const facts: Markup[] = [];
  if (server.gpu_count !== null) facts.push(html`<dt>GPUs</dt><dd>${server.gpu_count}</dd>`);
  if (server.tokens)
    facts.push(
      html`<dt>output tokens</dt><dd>client ${server.tokens.client_output.toLocaleString('en-US')} · server ${server.tokens.server_generation.toLocaleString('en-US')}${server.tokens.diff_ratio !== null ? ` · difference ${fmtPct(server.tokens.diff_ratio, 2)}` : ''}</dd>`,
    );
  if (facts.length > 0) parts.push(html`<dl class="meta">${facts}</dl>`);
  const corr = Object.entries(result.correlation ?? {})
    .filter(([, r]) => typeof r === 'number' && Number.isFinite(r))
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  if (corr.length > 0)
    parts.push(html`<h3>Client vs server correlation</h3>
<p class="note">Pearson r over windows: near +1, the client metric rises with the server signal; near 0, no linear relation. A request waits behind the queue it found on arrival, so TTFT and E2E are taken by the window requests <i>arrived</i> in (the charts above show them by the window they ended in).</p>
<table><thead><tr><th class="text">client metric vs server signal</th><th>r</th><th class="text">client series</th></tr></thead><tbody>
${corr.slice(0, 30).map(([k, r]) => html`<tr><td class="text">${oneLine(k, 200).replace(/_vs_/, ' vs ')}</td><td>${fmt(r, 2)}</td><td class="text">${correlationAlignmentText(result, k)}</td></tr>\n`)}</tbody></table>`);
  if (server.alerts.length > 0)
    parts.push(html`<h3>Alerts (would production's alerts have fired?)</h3>
<table><thead><tr><th class="text">alert</th><th class="text">severity</th><th class="text">condition</th><th>for</th><th>first held at</th><th>longest held</th><th>rate then</th><th>fired</th></tr></thead><tbody>
${server.alerts.slice(0, 50).map(
  (a) => html`<tr><td class="text">${oneLine(a.name, 200)}</td><td class="text">${a.severity}</td><td class="text">${oneLine(a.condition, 200)}</td><td>${fmt(a.for_s, 0)} s</td><td>${a.first_held_s === null ? '-' : `${fmt(a.first_held_s, 0)} s`}</td><td>${fmt(a.held_s, 0)} s</td><td>${a.offered_rate === null ? '-' : `${fmt(a.offered_rate, 2)} req/s`}</td><td class="${a.fired ? 'fail' : 'pass'}">${a.fired ? 'FIRED' : 'no'}</td></tr>\n`,
)}</tbody></table>`);
  return html`${parts}`;
}

function capacitySection(result: RunResult, charts: ReportChart[]): Markup {
  const cap = result.capacity;
  if (!cap) return html``;
  const gpus = cap.gpu_count !== null ? `${cap.gpu_count} GPU${cap.gpu_count === 1 ? '' : 's'}${cap.gpu_count_source ? ` (from the ${cap.gpu_count_source})` : ''}` : 'GPU count unknown';
  const steps = [...cap.steps].sort((a, b) => a.rate_per_s - b.rate_per_s);
  return html`<section id="capacity" aria-label="capacity">
<h2>Capacity at the SLOs (sweep)</h2>
<p class="desc">${oneLine(cap.finding, 1000)}</p>
${(cap.warnings ?? []).slice(0, 5).map((w) => banner({ level: 'warning', text: w, details: [] }))}
<div class="tiles">
${tile('sustainable rate', cap.sustainable_request_per_s !== null ? `${fmt(cap.sustainable_request_per_s, 2)} req/s` : 'none', 'every SLO held, server kept up', cap.sustainable_request_per_s === null ? 'bad' : '')}
${tile('output tokens at capacity', cap.sustainable_output_tokens_per_s !== null ? `${fmt(cap.sustainable_output_tokens_per_s, 0)} tok/s` : '-', '')}
${tile('per GPU', cap.per_gpu.request_per_s !== null ? `${fmt(cap.per_gpu.request_per_s, 2)} req/s` : '-', cap.per_gpu.output_tokens_per_s !== null ? `${fmt(cap.per_gpu.output_tokens_per_s, 0)} tok/s · ${gpus}` : gpus)}
${tile('knee', cap.knee ? `≈ ${fmt(cap.knee.rate_per_s, 1)} req/s` : '-', cap.knee ? `${oneLine(cap.knee.metric, 40)} left ${fmtMs(cap.knee.baseline_ms)} ms` : 'latency never left its low-load level')}
${tile('first unsustainable', cap.first_unsustainable ? `${fmt(cap.first_unsustainable.rate_per_s, 2)} req/s` : '-', cap.first_unsustainable ? cap.first_unsustainable.reasons.slice(0, 2).map((r) => oneLine(r, 120)).join('; ') : 'none tried')}
${tile('steps', String(cap.steps.length), 'rates held')}
</div>
${bindingClassNote(result)}
${figures(charts)}
<table class="wide"><thead><tr><th>offered (req/s)</th><th class="text">sustainable</th><th>headroom</th><th>completed (req/s)</th><th>output (tok/s)</th><th>TTFT p95 (ms)</th><th>ITL p95 (ms)</th><th>E2E p95 (ms)</th><th>goodput</th><th>errors</th><th class="text">why not</th></tr></thead><tbody>
${steps.slice(0, 100).map(
  (st) => html`<tr><td>${fmt(st.rate_per_s, 2)}</td><td class="text ${st.sustainable ? 'pass' : 'fail'}">${st.sustainable ? 'yes' : 'no'}</td><td>${headroomText(st.headroom)}</td><td>${fmt(st.request_per_s, 2)}</td><td>${fmt(st.output_tokens_per_s, 0)}</td><td>${fmtMs(st.ttft_p95_ms)}</td><td>${fmtMs(st.itl_p95_ms)}</td><td>${fmtMs(st.e2e_p95_ms)}</td><td>${fmtPct(st.goodput_ratio)}</td><td>${fmtPct(st.error_ratio, 2)}</td><td class="text">${st.reasons.slice(0, 3).map((r) => oneLine(r, 200)).join('; ')}</td></tr>\n`,
)}</tbody></table>
${cap.headroom_note ? html`<p class="note">Headroom: ${oneLine(cap.headroom_note, 400)}.</p>` : ''}
<p class="note">The numbers below are those of the best sustainable step's run.</p>
</section>`;
}

/** Which classes' own SLOs failed first at the lowest unsustainable rate of a sweep with classes. */
function bindingClassNote(result: RunResult): Markup {
  const b = bindingClasses(result);
  if (b === null) return html``;
  const at = `${fmt(b.rate_per_s, 2)} req/s`;
  if (b.names.length === 0)
    return html`<p class="finding"><b>Binding class: none.</b> At ${at}, the first rate not sustained, no class's own SLO failed: the whole-run limits bound first.</p>`;
  const names = b.names.slice(0, 20);
  return html`<p class="finding"><b>Binding class${b.names.length === 1 ? '' : 'es'}:</b> ${names.map((n, i) => html`${i > 0 ? ', ' : ''}<b>${oneLine(n, 200)}</b>`)}${
    b.names.length > names.length ? ` and ${b.names.length - names.length} more` : ''
  }. At ${at}, the first rate not sustained, ${b.names.length === 1 ? 'its' : 'their'} own SLOs failed first.</p>`;
}

function spikeSoakSection(result: RunResult): Markup {
  const parts: Markup[] = [];
  const sp = result.spike;
  if (sp) {
    const unit = sp.unit === 'vus' ? 'users' : 'req/s';
    parts.push(html`<div class="finding"><b>Spike</b> ${oneLine(sp.finding, 1000)}
<table><tbody>
<tr><td class="text">load</td><td>${fmt(sp.base_level, 1)} → ${fmt(sp.peak_level, 1)} ${unit}, from ${fmt(sp.spike_start_s, 0)} s to ${fmt(sp.spike_end_s, 0)} s</td></tr>
<tr><td class="text">TTFT p95 before / at the peak</td><td>${fmtMs(sp.pre_spike_ttft_p95_ms)} / ${fmtMs(sp.peak_ttft_p95_ms)} ms</td></tr>
<tr><td class="text">time to recover (p95 TTFT within 10 % of before)</td><td class="${sp.recovered ? 'pass' : 'fail'}">${sp.time_to_recover_s !== null ? `${fmt(sp.time_to_recover_s, 0)} s` : 'did not recover'}</td></tr>
<tr><td class="text">peak queue depth</td><td>${sp.peak_queue_depth === null ? 'not scraped' : fmt(sp.peak_queue_depth, 0)}</td></tr>
<tr><td class="text">failed / dropped during the spike</td><td>${sp.failed_during_spike} / ${sp.dropped_during_spike}</td></tr>
</tbody></table></div>`);
  }
  const so = result.soak;
  if (so && so.verdict !== 'too short') {
    const lines = Object.entries(so.series).sort((a, b) => Number(b[1].drifting) - Number(a[1].drifting) || Math.abs(b[1].relative_change) - Math.abs(a[1].relative_change));
    parts.push(html`<div class="finding"><b>Soak: ${so.verdict}</b> ${oneLine(so.finding, 1000)}
<table><thead><tr><th class="text">series</th><th>change per hour</th><th>mean</th><th>change over the run</th><th>r²</th><th>drifting</th></tr></thead><tbody>
${lines.slice(0, 30).map(
  ([k, d]) => html`<tr><td class="text">${oneLine(k, 100)}</td><td>${fmt(d.slope_per_hour, 3)}</td><td>${fmt(d.mean, 3)}</td><td>${fmtPct(d.relative_change)}</td><td>${fmt(d.r2, 2)}</td><td class="${d.drifting ? 'fail' : 'pass'}">${d.drifting ? 'yes' : 'no'}</td></tr>\n`,
)}
${so.generator_rss_growth_ratio !== null ? html`<tr><td class="text">load generator memory (must stay flat)</td><td colspan="2"></td><td>${fmtPct(so.generator_rss_growth_ratio)}</td><td></td><td></td></tr>` : ''}
</tbody></table></div>`);
  }
  return html`${parts}`;
}

function errorBudgetSection(result: RunResult): Markup {
  const b = result.error_budget;
  if (!b) return html``;
  return html`<h3>Error budget (availability SLO ${fmtPct(b.availability_slo, 2)} over ${b.period_days} days)</h3>
<table><thead><tr><th class="text">measure</th><th>value</th></tr></thead><tbody>
<tr><td class="text">error ratio (${b.requests_judged.toLocaleString('en-US')} requests judged)</td><td>${fmtPct(b.error_ratio, 3)}</td></tr>
<tr><td class="text">burn rate (1 = the budget lasts exactly the period)</td><td>${fmt(b.burn_rate, 2)}</td></tr>
<tr><td class="text">budget burnt per hour at this load</td><td>${b.budget_minutes_per_hour === null ? '-' : `${fmt(b.budget_minutes_per_hour, 3)} min of ${fmt(b.budget_minutes, 1)} min`}</td></tr>
<tr><td class="text">budget gone after</td><td>${b.hours_to_exhaustion === null ? 'never (nothing burns)' : `${fmt(b.hours_to_exhaustion, 1)} h`}</td></tr>
${b.alerts.slice(0, 20).map((a) => html`<tr><td class="text">alert “${oneLine(a.name, 120)}” (burn rate &gt; ${fmt(a.burn_rate_threshold, 1)})</td><td class="${a.would_fire ? 'fail' : 'pass'}">${a.would_fire ? 'would fire' : 'quiet'}</td></tr>\n`)}
</tbody></table>
<p class="note">${oneLine(b.note, 1000)}</p>`;
}

function errorsSection(result: RunResult, charts: ReportChart[]): Markup {
  const s = result.summary;
  const errs = Object.entries(s.errors).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (errs.length === 0 && s.requests.failed === 0) return html`<p class="empty">No request failed.</p>`;
  const ended = s.requests.completed + s.requests.failed;
  const samples = (result.error_samples ?? []).slice(0, 20);
  return html`${figures(charts)}
<table><thead><tr><th class="text">error class</th><th>requests</th><th>share of ended requests</th></tr></thead><tbody>
${errs.slice(0, 50).map(([k, n]) => html`<tr><td class="text">${oneLine(k, 100)}</td><td>${n}</td><td>${ended > 0 ? fmtPct(n / ended, 2) : '-'}</td></tr>\n`)}</tbody></table>
${errs.length > 50 ? html`<p class="note">… and ${errs.length - 50} more classes (see results.json).</p>` : ''}
${samples.length > 0
  ? html`<h3>Sample messages</h3><table><thead><tr><th class="text">class</th><th>count</th><th class="text">message</th></tr></thead><tbody>
${samples.map((e) => html`<tr><td class="text">${oneLine(e.error_class, 100)}</td><td>${e.count}</td><td class="text">${oneLine(e.message, 500)}</td></tr>\n`)}</tbody></table>`
  : ''}`;
}

function workloadSection(result: RunResult): Markup {
  const source = workloadSourceText(result);
  const rows = tokenRows(result);
  const prefix = prefixCacheText(result);
  if (source === null && rows.length === 0 && prefix === null) return html`<p class="empty">These results predate the workload section (results.workload).</p>`;
  return html`${source !== null ? html`<p>${oneLine(source, 1500)}</p>` : ''}
${prefix !== null ? html`<p>Prefix cache: ${oneLine(prefix, 600)}</p>` : ''}
${rows.length > 0
  ? html`<table aria-label="tokens asked and served"><thead><tr><th class="text">tokens per request</th>${TOKEN_COLUMNS.map((c) => html`<th>${c}</th>`)}</tr></thead><tbody>
${rows.map((r) => html`<tr><td class="text">${r.label}</td>${tokenCells(r.dist).map((v) => html`<td>${v}</td>`)}</tr>\n`)}</tbody></table>
<p class="note">Asked: every measured request sent (prompt tokens as planned, max_tokens); served: the completed ones, from the server's usage. A trace's arrival rate is charted under "Over time".</p>`
  : ''}`;
}

function percentilesTable(result: RunResult): Markup {
  const lat = result.summary.latency_ms;
  const head = (p: string, color?: string): Markup =>
    color ? html`<th><span class="swatch" style="background:${color}"></span>${p}</th>` : html`<th>${p}</th>`;
  const row = (label: string, l: LatencySummaryMs | undefined): Markup =>
    l === undefined
      ? html``
      : html`<tr><td class="text">${label}</td>${[l.p50, l.p90, l.p95, l.p99, l.p999, l.max, l.mean].map((v) => html`<td>${fmtMs(v)}</td>`)}<td>${l.count.toLocaleString('en-US')}</td></tr>\n`;
  return html`<h3>Key percentiles (ms)</h3>
<table aria-label="latency percentiles"><thead><tr><th class="text">metric</th>${head('p50', PERCENTILE_COLORS.p50)}${head('p90')}${head('p95', PERCENTILE_COLORS.p95)}${head('p99', PERCENTILE_COLORS.p99)}${head('p99.9')}${head('max')}${head('mean')}${head('count')}</tr></thead><tbody>
${LATENCY_ROWS.map(([label, key]) => row(label, lat[key]))}</tbody></table>
<p class="note">TTFT and E2E count from the intended send time (coordinated-omission correct); "TTFT from send" is what vLLM's benchmark reports. Failed requests never enter these histograms.</p>`;
}

function generatorSection(result: RunResult, charts: ReportChart[]): Markup {
  const g = result.generator;
  return html`<p class="${g.valid ? 'note' : 'banner warning'}">${g.valid
    ? 'The load generator kept up: its own delays stayed within limits, so the latencies are the server’s.'
    : 'The load generator may have been the bottleneck: part of the latency may be its own.'}</p>
<table><thead><tr><th class="text">measure</th><th>value</th></tr></thead><tbody>
<tr><td class="text">event-loop lag p99 / max</td><td>${fmtMs(g.event_loop_lag_p99_ms)} / ${fmtMs(g.event_loop_lag_max_ms)} ms</td></tr>
<tr><td class="text">schedule lag p99</td><td>${fmtMs(g.schedule_lag_p99_ms)} ms</td></tr>
<tr><td class="text">client CPU (share of one core)</td><td>${fmtPct(g.cpu_ratio, 0)}</td></tr>
<tr><td class="text">client memory (max RSS)</td><td>${fmtBytes(g.rss_max_bytes)}</td></tr>
${g.workers !== undefined && g.workers > 1 ? html`<tr><td class="text">client worker threads</td><td>${g.workers}</td></tr>` : ''}
</tbody></table>
${g.warnings.length > 0 ? html`<ul>${g.warnings.slice(0, 50).map((w) => html`<li>${oneLine(w, 500)}</li>`)}</ul>` : ''}
${chunkParsingText(g.chunk_parsing) !== null ? html`<p class="note">${oneLine(chunkParsingText(g.chunk_parsing)!, 500)}</p>` : ''}
${figures(charts)}`;
}

function detailsSection(result: RunResult): Markup {
  const run = result.run;
  const t = run.target;
  const json = (v: unknown): string => {
    const text = JSON.stringify(v, null, 1) ?? 'null';
    return text.length > 20_000 ? text.slice(0, 20_000) + '\n… (cut)' : text;
  };
  return html`<dl class="meta">
<dt>run id</dt><dd>${oneLine(run.id, 200)}</dd>
<dt>status</dt><dd>${result.status}${result.status_reason ? ` — ${oneLine(result.status_reason, 500)}` : ''}</dd>
<dt>started / ended</dt><dd>${oneLine(run.started_at, 40)} / ${run.ended_at ? oneLine(run.ended_at, 40) : '-'}</dd>
<dt>target</dt><dd>${oneLine(t.url, 500)} (${oneLine(t.endpoint, 40)})</dd>
<dt>model</dt><dd>${oneLine(t.model, 500)}</dd>
${t.api_key_env ? html`<dt>API key from</dt><dd>$${oneLine(t.api_key_env, 100)}</dd>` : ''}
<dt>seed</dt><dd>${run.seed}</dd>
<dt>warm-up / window</dt><dd>${fmt(run.warmup_s, 0)} s / ${fmt(run.window_s, 2)} s</dd>
${run.requests_limit !== null ? html`<dt>requests limit</dt><dd>${run.requests_limit}</dd>` : ''}
<dt>tokens</dt><dd>prompt ${result.summary.tokens.prompt.toLocaleString('en-US')} · output ${result.summary.tokens.output.toLocaleString('en-US')}</dd>
<dt>prompt tokens</dt><dd>${oneLine(promptTokensText(result), 1000)}</dd>
<dt>inferload</dt><dd>${oneLine(run.inferload_version, 40)} on node ${oneLine(run.node_version, 40)}, ${oneLine(run.platform, 60)}, ${run.cpus} CPUs</dd>
<dt>command</dt><dd>inferload ${run.argv.slice(0, 100).map((a) => oneLine(a, 300)).join(' ')}</dd>
</dl>
<h3>Load</h3><pre>${json(run.load)}</pre>
<h3>Workload</h3><pre>${json(run.workload)}</pre>`;
}
