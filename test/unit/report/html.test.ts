// report.html as text: self-contained (no URL to fetch), scripts allowed by hash only, every
// hostile string escaped in text, attributes and the JSON data block, warnings above the fold.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCharts } from '../../../src/report/charts.js';
import { escapeHtml, jsonForScript } from '../../../src/report/common.js';
import { loadVegaAssets, renderHtml } from '../../../src/report/html.js';
import { HOSTILE, syntheticResult, withHostileStrings } from './fixtures.js';

const withServer = syntheticResult({ server: true });

/** The contents of every `<script ...>...</script>` element, with its attributes. */
function scripts(page: string): { attrs: string; body: string }[] {
  return [...page.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => ({ attrs: m[1]!, body: m[2]! }));
}

/** The page without the bodies of its script elements (the markup a browser parses as HTML). */
const markupOnly = (page: string): string => page.replace(/(<script[^>]*>)[\s\S]*?(<\/script>)/g, '$1$2');

/** Every start tag of the markup, e.g. `<div class="x">`. */
const tags = (page: string): string[] => [...markupOnly(page).matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0]);

function chartData(page: string): { id: string; spec: unknown }[] {
  const block = scripts(page).find((s) => s.attrs.includes('id="inferload-charts"'))!;
  return JSON.parse(block.body) as { id: string; spec: unknown }[];
}

describe('renderHtml', () => {
  const page = renderHtml(withServer);

  it('inlines vega, vega-lite and vega-embed and refers to no URL at all', () => {
    const assets = loadVegaAssets();
    const bodies = scripts(page).map((s) => s.body);
    expect(bodies).toContain(assets.vega);
    expect(bodies).toContain(assets.vegaLite);
    expect(bodies).toContain(assets.vegaEmbed);
    for (const t of tags(page)) expect(t).not.toMatch(/\s(src|href|action|srcset|poster|data)\s*=\s*"(?!#)/i);
    expect(markupOnly(page)).not.toMatch(/<link\b|@import|url\(/i);
    expect(page).not.toContain('sourceMappingURL');
  });

  it('allows exactly its own scripts by hash, and no network, in a Content-Security-Policy', () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)![1]!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'none'");
    expect(csp).not.toContain('unsafe-eval');
    const executable = scripts(page).filter((s) => !s.attrs.includes('application/json'));
    expect(executable).toHaveLength(4);
    for (const s of executable) expect(csp).toContain(`'sha256-${createHash('sha256').update(s.body, 'utf8').digest('base64')}'`);
    expect(csp.match(/'sha256-/g)).toHaveLength(4);
  });

  it('carries every chart spec in its JSON block, each with a container of its own', () => {
    const data = chartData(page);
    expect(data.map((c) => c.id)).toEqual(buildCharts(withServer).map((c) => c.id));
    for (const c of data) expect(page.split(`id="chart-${c.id}"`)).toHaveLength(2);
  });

  it('shows the headline: scenario, target, model, counts, throughput, goodput, SLO verdicts', () => {
    expect(page).toContain('<h1>ramp</h1>');
    expect(page).toContain('target <b>http://10.0.0.5:8000/v1</b>');
    expect(page).toContain('model <b>meta-llama/Llama-3.1-70B-Instruct</b>');
    const r = withServer.summary.requests;
    for (const [k, v] of [
      ['requests sent', r.sent],
      ['completed', r.completed],
      ['failed', r.failed],
      ['dropped', r.dropped],
    ] as const)
      expect(page).toMatch(new RegExp(`<div class="k">${k}</div><div class="v">${v}</div>`));
    // units are set smaller than the numbers
    expect(page).toContain(`<div class="v">${withServer.summary.throughput.request_per_s.toFixed(2)}<span class="u"> req/s</span></div>`);
    expect(page).toContain(`<div class="v">${withServer.summary.throughput.goodput_request_per_s.toFixed(2)}<span class="u"> req/s</span></div>`);
    expect(page).toContain('<div class="verdict fail">FAIL <small>— 2 of 3 SLOs failed');
    expect(page).toMatch(/<td class="text">ttft_ms<\/td><td class="text">p\(95\)&lt;500<\/td><td>[\d.]+ ms<\/td><td class="fail">FAIL<\/td>/);
  });

  it('puts the warnings above the fold, before the numbers', () => {
    const bad = structuredClone(withServer);
    bad.generator.valid = false;
    bad.generator.warnings = ['event-loop lag p99 9 ms > 2 ms'];
    bad.status = 'interrupted';
    bad.status_reason = 'interrupted by SIGINT';
    const p = renderHtml(bad);
    const error = p.indexOf('<div class="banner error"');
    const warning = p.indexOf('The load generator may have been the bottleneck');
    const tiles = p.indexOf('<section class="tiles');
    expect(error).toBeGreaterThan(0);
    expect(error).toBeLessThan(tiles);
    expect(warning).toBeGreaterThan(0);
    expect(warning).toBeLessThan(tiles);
    expect(p).toContain('The run was interrupted (interrupted by SIGINT)');
    expect(p).toContain('<li>event-loop lag p99 9 ms &gt; 2 ms</li>');
  });

  it('says when no server metrics were scraped, and when nothing completed', () => {
    expect(renderHtml(syntheticResult())).toContain('<b>No server metrics were scraped.</b>');
    expect(page).not.toContain('No server metrics were scraped');
    const none = renderHtml(syntheticResult({ noneCompleted: true }));
    expect(none).toContain('No request completed: there is no latency to report.');
    expect(none).toContain('No request completed: there is no latency distribution to draw.');
    expect(chartData(none).map((c) => c.id)).toEqual(['load', 'concurrency', 'errors']);
  });

  it('leads with the capacity a sweep found, and shows the error budget under the errors', () => {
    const p = renderHtml(syntheticResult({ server: true, capacity: true }));
    const capacity = p.indexOf('<h2>Capacity at the SLOs (sweep)</h2>');
    expect(capacity).toBeGreaterThan(0);
    expect(capacity).toBeLessThan(p.indexOf('aria-label="headline numbers"'));
    expect(p).toContain('<div class="k">sustainable rate</div><div class="v">40.00<span class="u"> req/s</span></div>');
    expect(p).toContain('<div class="k">per GPU</div><div class="v">20.00<span class="u"> req/s</span></div><div class="s">1280 tok/s · 2 GPUs (from the exporter)</div>');
    expect(chartData(p).slice(0, 2).map((c) => c.id)).toEqual(['sweep-latency', 'sweep-throughput']);
    expect(p).toContain('<h3>Error budget (availability SLO 99.90 % over 30 days)</h3>');
    expect(p).toMatch(/alert “page: 2 % of budget in 1 h” \(burn rate &gt; 14\.4\)<\/td><td class="fail">would fire/);
  });

  it('shows what the spike and soak analyses found, above the time charts', () => {
    const p = renderHtml(syntheticResult({ spikeSoak: true }));
    const spike = p.indexOf('<div class="finding"><b>Spike</b> TTFT p95 rose from 52 ms');
    expect(spike).toBeGreaterThan(0);
    expect(spike).toBeLessThan(p.indexOf('<figure class="chart" id="fig-load">'));
    expect(p).toContain('<td class="pass">8 s</td>');
    expect(p).toContain('<b>Soak: drifting</b>');
  });

  it('escapes hostile strings everywhere: text, attributes, the title and the JSON block', () => {
    const hostile = withHostileStrings(syntheticResult({ server: true, capacity: true, spikeSoak: true }));
    const p = renderHtml(hostile);
    // only our own five script elements open or close, and nothing opens a comment
    expect(p.match(/<script/gi)).toHaveLength(5);
    expect(p.match(/<\/script/gi)).toHaveLength(5);
    expect(p).not.toContain('<!--');
    for (const t of tags(p)) {
      expect(t).not.toMatch(/^<(img|svg|iframe|object|embed|base|link|form|a\s[^>]*href="(?!#))/i);
      expect(t).not.toMatch(/\son[a-z]+\s*=/i);
    }
    for (const h of HOSTILE) expect(p).not.toContain(h);
    expect(p).toContain('<h1>&lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt;</h1>');
    expect(p).toContain('model <b>&lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt;</b>');
    expect(p).toContain('<title>inferload: &lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt; (FAIL)</title>');
    // the data block round-trips the hostile strings exactly
    const data = JSON.stringify(chartData(p));
    expect(data).toContain(JSON.stringify(`GPU ${HOSTILE[1]} busy`));
    expect(data).toContain(JSON.stringify(HOSTILE[1]));
  });
});

describe('escaping helpers', () => {
  it('escapeHtml escapes the five characters that matter', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('jsonForScript cannot close a script, open a comment or end a JS line, and parses back unchanged', () => {
    const value = { s: '</script><!-- & \u2028\u2029 >' };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(value);
  });
});
