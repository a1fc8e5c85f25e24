// The live dashboard's page: static HTML (only the title is interpolated, escaped), its stylesheet
// and its script, all served by the dashboard itself (no CDN: the page works offline). The script
// reads the run from the SSE stream (/events) with JSON.parse and builds the DOM with
// createElement and textContent only: no string from the run is ever parsed as markup or code.
// Charts are the report's vega-lite specs, redrawn with vega-embed when their `rev` changes, with
// the report's options (the AST interpreter: the page needs no 'unsafe-eval').
import { escapeHtml, oneLine } from '../report/common.js';

/** The report's sections in page order, with their headings. */
const SECTIONS: [string, string][] = [
  ['capacity', 'Capacity at the SLOs (sweep)'],
  ['time-client', 'Over time: load, latency and the queue'],
  ['time-server', 'Server and GPUs'],
  ['errors', 'Errors'],
  ['classes', 'Request classes'],
  ['turns', 'Turns of a session'],
  ['models', 'Models'],
  ['distribution', 'Latency distributions (whole run so far)'],
  ['generator', 'Load generator'],
];

const SLO_AND_HEALTH = `<div class="cols">
<section id="slo-box"><h2>SLOs</h2><p class="empty" id="slo-empty">No SLOs yet.</p><table id="slo" aria-label="SLO verdicts" hidden><thead><tr><th class="text">class</th><th class="text">SLO</th><th class="text">threshold</th><th>observed</th><th>verdict</th></tr></thead><tbody></tbody></table></section>
<section id="health"><h2>Load generator health</h2><p id="health-verdict" class="note"></p><table aria-label="load generator health"><tbody id="health-rows"></tbody></table><ul id="health-warnings"></ul><p class="note" id="health-note"></p></section>
</div>
`;

/** The page; `title` (the scenario, as the CLI knows it before the first checkpoint) is escaped. */
export function dashboardHtml(title: string): string {
  const t = escapeHtml(oneLine(title, 200));
  const section = ([id, heading]: [string, string]): string =>
    `<section class="charts" data-section="${id}" hidden><h2>${escapeHtml(heading)}</h2><div class="figs${id === 'distribution' ? ' grid2' : ''}"></div></section>\n`;
  // the charts over time first, then the SLOs and the generator's health, then the rest
  const sections = `${SECTIONS.slice(0, 3).map(section).join('')}${SLO_AND_HEALTH}${SECTIONS.slice(3).map(section).join('')}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>inferload live: ${t}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body data-seq="0" data-status="connecting">
<main>
<header>
<div class="brand">inferload · live dashboard</div>
<h1 id="scenario">${t}</h1>
<p class="desc" id="description"></p>
<p class="runline" id="runline"></p>
</header>
<p class="status" id="status" role="status" aria-live="polite">Connecting to the run…</p>
<div class="verdict none" id="verdict">Waiting for the first checkpoint…</div>
<div id="warnings"></div>
<section class="tiles" id="tiles" aria-label="headline numbers"></section>
${sections}<footer>Read-only live view of a run: it updates from the run's checkpoints, and opens the final report when the run ends. It makes no request outside this server.</footer>
</main>
<script src="/assets/vega.min.js" defer></script>
<script src="/assets/vega-lite.min.js" defer></script>
<script src="/assets/vega-embed.min.js" defer></script>
<script src="/assets/dashboard.js" defer></script>
</body>
</html>
`;
}

export const DASHBOARD_CSS = `
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d9dde3; --bg-soft: #f5f7fa; --ok: #1a7f37; --ok-bg: #e6f4ea;
  --bad: #b42318; --bad-bg: #fdecea; --warn: #8a5300; --warn-bg: #fff4d6; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 24px; margin: 2px 0; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 26px 0 6px; padding-top: 10px; border-top: 1px solid var(--line); }
.brand { font-size: 12px; color: var(--muted); letter-spacing: .05em; text-transform: uppercase; }
.desc, .runline { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
.runline { font-size: 13px; }
.status { margin: 10px 0 0; padding: 6px 10px; border-radius: 6px; background: var(--bg-soft); border: 1px solid var(--line); font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.status.lost { background: var(--warn-bg); border-color: #f0cf7a; }
.status.ended { background: var(--ok-bg); border-color: #a6d8b5; }
.verdict { margin: 10px 0 8px; padding: 10px 14px; border-radius: 6px; font-size: 17px; font-weight: 600; overflow-wrap: anywhere; }
.verdict.pass { background: var(--ok-bg); color: var(--ok); border: 1px solid #a6d8b5; }
.verdict.fail { background: var(--bad-bg); color: var(--bad); border: 1px solid #f3b4ae; }
.verdict.none { background: var(--bg-soft); color: var(--muted); border: 1px solid var(--line); }
.verdict small { font-weight: normal; font-size: 13px; }
.banner { margin: 6px 0; padding: 8px 12px; border-radius: 6px; border-left: 5px solid; overflow-wrap: anywhere; }
.banner.error { background: var(--bad-bg); border-color: var(--bad); }
.banner.warning { background: var(--warn-bg); border-color: #e0a100; }
.banner b { margin-right: 6px; }
.banner ul { margin: 4px 0 0; padding-left: 20px; font-size: 13px; }
.tiles { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 8px; margin: 12px 0; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: var(--bg-soft); }
.tile .k { font-size: 12px; color: var(--muted); }
.tile .v { font-size: 19px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .s { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
.tile.bad { border-color: #f3b4ae; background: var(--bad-bg); }
.tile.bad .v { color: var(--bad); }
.tile.warn { border-color: #f0cf7a; background: var(--warn-bg); }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 24px; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--bg-soft); }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.text { overflow-wrap: anywhere; max-width: 420px; }
td.pass { color: var(--ok); font-weight: 600; }
td.fail { color: var(--bad); font-weight: 600; }
.note { color: var(--muted); margin: 4px 0 8px; overflow-wrap: anywhere; }
.bad-note { color: var(--bad); font-weight: 600; }
#health-warnings { margin: 4px 0; padding-left: 20px; font-size: 13px; overflow-wrap: anywhere; }
.empty { padding: 10px 12px; background: var(--bg-soft); border: 1px dashed var(--line); border-radius: 6px; color: var(--muted); }
figure.chart { margin: 10px 0 16px; }
figure.chart h4 { margin: 0 0 2px; font-size: 14px; }
figure.chart figcaption { font-size: 12.5px; color: var(--muted); margin: 2px 0 0; max-width: 900px; }
.holder { display: grid; min-height: 60px; overflow-x: auto; }
.holder > .vis { grid-area: 1 / 1; background: #fff; }
.vis svg { max-width: 100%; height: auto; }
.chart-error { color: var(--bad); font-size: 12px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 6px 18px; }
footer { margin-top: 30px; font-size: 12px; color: var(--muted); }
@media (max-width: 820px) { .tiles { grid-template-columns: repeat(3, minmax(0, 1fr)); } }
`;

/**
 * The page's script. ES2017, no modules, no eval: run data arrives as JSON text, is parsed with
 * JSON.parse, and reaches the DOM through textContent (and setAttribute of checked ids) only.
 */
export const DASHBOARD_SCRIPT = `(function () {
  'use strict';
  var body = document.body;
  var statusEl = document.getElementById('status');
  var views = Object.create(null);
  var pending = null;
  var drawing = false;
  var progress = null;
  var current = null;
  var connected = false;
  var ended = false;
  var lastDrawMs = 0;
  var ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
  var options = {
    renderer: 'svg',
    ast: true,
    actions: { export: true, source: false, compiled: false, editor: false },
    downloadFileName: 'inferload-chart'
  };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function setText(id, text) {
    var e = document.getElementById(id);
    if (e) e.textContent = text === undefined || text === null ? '' : String(text);
  }
  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }
  function parse(data) {
    try {
      var v = JSON.parse(data);
      return v !== null && typeof v === 'object' ? v : null;
    } catch (e) {
      console.warn('inferload: an event that is not JSON was ignored');
      return null;
    }
  }
  function num(n) {
    return typeof n === 'number' && isFinite(n) ? n.toLocaleString('en-US') : '-';
  }
  function clock(s) {
    if (typeof s !== 'number' || !isFinite(s) || s < 0) return '-';
    s = Math.floor(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = (h > 0 && m < 10 ? '0' : '') + m, rr = (r < 10 ? '0' : '') + r;
    return (h > 0 ? h + ':' : '') + mm + ':' + rr;
  }

  function showStatus() {
    var parts = [];
    var st = current ? current.status : null;
    if (ended) return;
    parts.push(connected ? (st === null ? 'Connected, waiting for the first checkpoint' : st === 'running' ? 'Running' : 'Run ' + st) : 'Connection lost, reconnecting…');
    if (progress) {
      parts.push(clock(progress.elapsed_s) + ' elapsed');
      parts.push(num(progress.in_flight) + ' in flight');
      parts.push(num(progress.sent) + ' sent');
      parts.push(num(progress.ended) + ' ended (' + num(progress.failed) + ' failed)');
      parts.push(num(progress.dropped) + ' dropped');
    }
    if (current) parts.push('charts up to ' + clock(current.as_of_s));
    statusEl.textContent = parts.join(' · ');
    statusEl.className = 'status' + (connected ? '' : ' lost');
  }

  function showHead(s) {
    var run = s.run || {};
    setText('scenario', run.scenario);
    setText('description', run.description);
    var line = 'target ' + run.target + ' · model ' + run.model + ' · ' + run.endpoint + ' endpoint · run ' + run.id +
      (run.shard ? ' · shard ' + run.shard : '') + ' · started ' + run.started_at;
    setText('runline', line);
    var v = document.getElementById('verdict');
    clear(v);
    var word;
    if (!s.verdict) {
      v.className = 'verdict none';
      v.appendChild(document.createTextNode('No SLOs defined '));
      v.appendChild(el('small', '', '— the scenario sets no thresholds.'));
      word = 'no SLOs';
    } else if (s.verdict.failed === 0) {
      v.className = 'verdict pass';
      v.appendChild(document.createTextNode('PASS so far '));
      v.appendChild(el('small', '', '— all ' + s.verdict.total + ' SLOs hold on the requests so far'));
      word = 'PASS';
    } else {
      v.className = 'verdict fail';
      v.appendChild(document.createTextNode('FAIL so far '));
      v.appendChild(el('small', '', '— ' + s.verdict.failed + ' of ' + s.verdict.total + ' SLOs fail on the requests so far'));
      word = 'FAIL';
    }
    document.title = 'inferload live: ' + run.scenario + ' (' + word + ')';
    var w = document.getElementById('warnings');
    clear(w);
    (s.warnings || []).forEach(function (x) {
      var b = el('div', 'banner ' + (x.level === 'error' ? 'error' : 'warning'));
      b.setAttribute('role', 'alert');
      b.appendChild(el('b', '', x.level === 'error' ? 'Error' : 'Warning'));
      b.appendChild(document.createTextNode(x.text));
      if (x.details && x.details.length > 0) {
        var ul = el('ul');
        x.details.forEach(function (d) { ul.appendChild(el('li', '', d)); });
        b.appendChild(ul);
      }
      w.appendChild(b);
    });
    var t = document.getElementById('tiles');
    clear(t);
    (s.tiles || []).forEach(function (x) {
      var d = el('div', 'tile' + (x.cls === 'bad' || x.cls === 'warn' ? ' ' + x.cls : ''));
      d.appendChild(el('div', 'k', x.k));
      d.appendChild(el('div', 'v', x.v));
      d.appendChild(el('div', 's', x.s));
      t.appendChild(d);
    });
  }

  function showSlo(s) {
    var table = document.getElementById('slo');
    var tbody = table.tBodies[0];
    clear(tbody);
    var list = s.slo || [];
    table.hidden = list.length === 0;
    document.getElementById('slo-empty').hidden = list.length > 0;
    list.forEach(function (v) {
      var tr = el('tr');
      tr.appendChild(el('td', 'text', v.class === null ? 'all requests' : v.class));
      tr.appendChild(el('td', 'text', (v.name !== null ? v.name + ' — ' : '') + v.metric + (v.abort_on_fail ? ' (aborts the run)' : '')));
      tr.appendChild(el('td', 'text', v.threshold));
      tr.appendChild(el('td', '', v.observed));
      tr.appendChild(el('td', v.passed ? 'pass' : 'fail', v.passed ? 'pass' : 'FAIL'));
      tbody.appendChild(tr);
    });
  }

  function showHealth(s) {
    var h = s.health || { valid: true, rows: [], warnings: [], note: null };
    var verdict = document.getElementById('health-verdict');
    verdict.textContent = h.valid
      ? 'The load generator keeps up: its own delays stay within limits.'
      : 'The load generator may be the bottleneck: part of the latency may be its own.';
    verdict.className = h.valid ? 'note' : 'note bad-note';
    var rows = document.getElementById('health-rows');
    clear(rows);
    (h.rows || []).forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', 'text', r[0]));
      tr.appendChild(el('td', '', r[1]));
      rows.appendChild(tr);
    });
    var ul = document.getElementById('health-warnings');
    clear(ul);
    (h.warnings || []).forEach(function (x) { ul.appendChild(el('li', '', x)); });
    setText('health-note', h.note);
  }

  // A chart is drawn once when it first appears; after that only while it is on screen (or
  // near it): one that changed off screen is redrawn when it scrolls into view. A long run's
  // update then costs the browser the few charts in view, not all of them.
  var observer = typeof IntersectionObserver === 'function'
    ? new IntersectionObserver(function (records) {
        records.forEach(function (r) {
          var entry = figures.get(r.target);
          if (!entry) return;
          entry.visible = r.isIntersecting;
          if (entry.visible) maybeDraw(entry);
        });
      }, { rootMargin: '300px 0px' })
    : null;
  var figures = new WeakMap();

  function figureFor(c) {
    var entry = views[c.id];
    if (entry) return entry;
    var section = (typeof c.section === 'string' && ID.test(c.section) && document.querySelector('section.charts[data-section="' + c.section + '"]')) ||
      document.querySelector('section.charts[data-section="time-client"]');
    var fig = el('figure', 'chart');
    fig.setAttribute('id', 'fig-' + c.id);
    var h = el('h4');
    var holder = el('div', 'holder');
    var cap = el('figcaption');
    fig.appendChild(h);
    fig.appendChild(holder);
    fig.appendChild(cap);
    section.querySelector('.figs').appendChild(fig);
    section.hidden = false;
    entry = { id: c.id, rev: -1, failedRev: -1, want: null, busy: false, visible: false, fig: fig, title: h, caption: cap, holder: holder, vis: null, view: null };
    views[c.id] = entry;
    figures.set(fig, entry);
    if (observer) observer.observe(fig);
    return entry;
  }

  function drawChart(entry, c) {
    var vis = el('div', 'vis');
    entry.holder.appendChild(vis);
    return vegaEmbed(vis, c.spec, options).then(function (res) {
      if (entry.vis) entry.holder.removeChild(entry.vis);
      if (entry.view) entry.view.finalize();
      entry.vis = vis;
      entry.view = res.view;
      entry.rev = c.rev;
      vis.setAttribute('id', 'chart-' + c.id);
      vis.setAttribute('data-rendered', 'true');
      if (entry.caption.className === 'chart-error') {
        entry.caption.className = '';
        entry.caption.textContent = c.caption;
      }
    }, function (err) {
      if (vis.parentNode) entry.holder.removeChild(vis);
      entry.failedRev = c.rev;
      entry.caption.textContent = 'This chart could not be drawn: ' + (err && err.message ? err.message : String(err));
      entry.caption.className = 'chart-error';
      console.error('inferload: chart ' + c.id + ' failed', err);
    });
  }

  /** Draws the chart's latest spec if it has not been, and it is new or in view; one draw at a time per chart. */
  function maybeDraw(entry) {
    var c = entry.want;
    if (entry.busy || c === null || c.rev === entry.rev || c.rev === entry.failedRev || views[entry.id] !== entry) return Promise.resolve();
    if (entry.rev !== -1 && observer && !entry.visible) return Promise.resolve();
    entry.busy = true;
    return drawChart(entry, c).then(function () {
      entry.busy = false;
      return maybeDraw(entry);
    });
  }

  function showCharts(s) {
    if (typeof vegaEmbed !== 'function') {
      body.setAttribute('data-charts', 'failed');
      return Promise.resolve();
    }
    var keep = Object.create(null);
    var jobs = [];
    (s.charts || []).forEach(function (c) {
      if (!c || typeof c.id !== 'string' || !ID.test(c.id)) return;
      keep[c.id] = true;
      var entry = figureFor(c);
      entry.title.textContent = c.title;
      if (entry.caption.className !== 'chart-error') entry.caption.textContent = c.caption;
      entry.want = c;
      jobs.push(maybeDraw(entry));
    });
    Object.keys(views).forEach(function (id) {
      if (keep[id]) return;
      var entry = views[id];
      if (observer) observer.unobserve(entry.fig);
      if (entry.view) entry.view.finalize();
      entry.fig.parentNode.removeChild(entry.fig);
      delete views[id];
    });
    Array.prototype.forEach.call(document.querySelectorAll('section.charts'), function (sec) {
      sec.hidden = sec.querySelector('figure') === null;
    });
    return Promise.all(jobs);
  }

  // one state at a time; a state that arrives meanwhile replaces the one waiting (the page
  // skips intermediate states rather than queueing them), and redraws are spaced by at least
  // the time the last one took, so a long run's charts never keep the browser busy
  function draw() {
    if (drawing || pending === null || ended) return;
    var s = pending;
    pending = null;
    drawing = true;
    var started = Date.now();
    current = s;
    try {
      showHead(s);
      showSlo(s);
      showHealth(s);
    } catch (e) {
      console.error('inferload: could not show the state', e);
    }
    showStatus();
    showCharts(s).then(null, function () {}).then(function () {
      body.setAttribute('data-seq', String(s.seq));
      body.setAttribute('data-status', String(s.status));
      if (!body.hasAttribute('data-charts') || body.getAttribute('data-charts') !== 'failed') body.setAttribute('data-charts', 'done');
      lastDrawMs = Date.now() - started;
      drawing = false;
      if (pending !== null) setTimeout(draw, Math.min(5000, lastDrawMs));
    });
  }

  if (typeof EventSource !== 'function') {
    statusEl.textContent = 'This browser cannot receive live updates (no EventSource).';
    return;
  }
  var es = new EventSource('/events');
  es.onopen = function () { connected = true; showStatus(); };
  es.onerror = function () {
    connected = false;
    showStatus();
  };
  es.addEventListener('state', function (e) {
    var s = parse(e.data);
    if (s === null) return;
    pending = s;
    draw();
  });
  es.addEventListener('progress', function (e) {
    var p = parse(e.data);
    if (p === null) return;
    progress = p;
    showStatus();
  });
  es.addEventListener('final', function (e) {
    var f = parse(e.data);
    ended = true;
    body.setAttribute('data-status', 'ended');
    statusEl.className = 'status ended';
    statusEl.textContent = 'The run ended' + (f && typeof f.status === 'string' ? ' (' + f.status + ')' : '') + '. Opening the final report…';
    // a fixed path on this server: the event names no URL to go to
    window.location.replace('/report');
  });
  es.addEventListener('closed', function () {
    ended = true;
    es.close();
    body.setAttribute('data-status', 'closed');
    statusEl.className = 'status lost';
    statusEl.textContent = 'The run ended without final results; the dashboard has stopped. The last state stays on this page.';
  });
})();
`;
