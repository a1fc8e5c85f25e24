// The run's slices in every report: request classes (with their own SLOs), turns of a session and
// a model mix. Each section is there when its field is, and only then; class and model names are
// escaped wherever they appear; the charts carry every class and every turn, as data only.
import { compile, type TopLevelSpec } from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { buildCharts, classTtftChart, latencyOverTimeChart, modelTtftChart, sweepLatencyChart, turnTtftChart, type TurnRow } from '../../../src/report/charts.js';
import { escapeHtml, escapeMarkdown, fmtMs, oneLine } from '../../../src/report/common.js';
import { renderConsoleSummary } from '../../../src/report/console.js';
import { renderHtml, type VegaAssets } from '../../../src/report/html.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import type { RunResult } from '../../../src/results/types.js';
import { HOSTILE, HOSTILE_SLICE_NAMES, syntheticResult, withHostileStrings, withSlices } from './fixtures.js';

const plain = syntheticResult();
const sliced = withSlices(plain);
const sweep = withSlices(syntheticResult({ capacity: true }));
const hostile = withHostileStrings(withSlices(syntheticResult({ capacity: true })));
/** The page without vega's builds (the markup and the data block are what is tested here). */
const NO_ASSETS: VegaAssets = { vega: '', vegaLite: '', vegaEmbed: '' };

/** The cells of a GFM table row, split on unescaped pipes. */
const cells = (line: string): number => line.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length - 2;

/** The markdown section under `## title`, up to the next `## `. */
function mdSection(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The rows of the first table in `text`, as arrays of trimmed cells (the header first). */
function mdRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('| ') && !/^\| :?--/.test(l))
    .map((l) => l.slice(2, -2).split(' | '));
}

function chartData(page: string): { id: string; spec: unknown }[] {
  const m = /<script type="application\/json" id="inferload-charts">([\s\S]*?)<\/script>/.exec(page)!;
  return JSON.parse(m[1]!) as { id: string; spec: unknown }[];
}

/** Every object in a spec that has the given key, depth first. */
function collect(node: unknown, key: string, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(node)) for (const x of node) collect(x, key, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (key in o) out.push(o);
    for (const v of Object.values(o)) collect(v, key, out);
  }
  return out;
}

function compileWarnings(spec: TopLevelSpec): string[] {
  const warnings: string[] = [];
  const note = (prefix: string) => (...a: unknown[]): void => void warnings.push(prefix + a.join(' '));
  const logger: { level(): unknown; error(...a: unknown[]): void; warn(...a: unknown[]): void; info(): void; debug(): void } = {
    level: () => logger,
    error: note('error: '),
    warn: note(''),
    info: () => undefined,
    debug: () => undefined,
  };
  compile(spec, { logger: logger as never });
  return warnings;
}

/** The data rows of the layer or panel whose values have `key`. */
function valuesWith<T>(spec: unknown, key: string): T[] {
  return collect(spec, 'data')
    .map((o) => (o.data as { values?: Record<string, unknown>[] }).values ?? [])
    .filter((v) => v.length > 0 && key in v[0]!)
    .flat() as T[];
}

describe('the fixture', () => {
  it('derives its slices from the run: class weights sum to 1, counts add up, class verdicts are in results.slo', () => {
    const classes = Object.values(sliced.classes!);
    expect(classes.reduce((a, c) => a + c.weight, 0)).toBeCloseTo(1, 9);
    expect(Math.abs(classes.reduce((a, c) => a + c.summary.requests.sent, 0) - plain.summary.requests.sent)).toBeLessThanOrEqual(2);
    expect(sliced.slo.filter((v) => v.class !== undefined)).toHaveLength(classes.reduce((a, c) => a + c.slo.length, 0));
    expect(sliced.turns!.map((t) => t.turn)).toEqual([1, 2, 3, 4]);
    expect(Object.keys(sliced.models!)).toEqual([plain.run.target.model, 'sql-lora']);
    // the run's own fields are untouched
    expect(plain.classes).toBeUndefined();
  });
});

describe('markdown', () => {
  const md = renderMarkdown(sliced);

  it('has no slice section, and the SLO table its usual three columns, when the run has no slices', () => {
    const text = renderMarkdown(plain);
    for (const title of ['Request classes', 'Turns', 'Models']) expect(text).not.toContain(`## ${title}`);
    expect(text).toContain('| SLO | observed | verdict |');
    expect(text).not.toContain('Binding class');
  });

  it('tabulates each class: weight, counts, goodput, latency, throughput and its own SLOs passed', () => {
    const rows = mdRows(mdSection(md, 'Request classes'));
    expect(rows[0]).toEqual([
      'class', 'weight', 'sent', 'completed', 'failed', 'goodput', 'TTFT p50 (ms)', 'TTFT p95 (ms)', 'TTFT p99 (ms)', 'TPOT p50 (ms)', 'TPOT p95 (ms)', 'E2E p95 (ms)', 'output tok/s', 'SLOs passed',
    ]);
    expect(rows.slice(1).map((r) => r[0])).toEqual(['chat', 'rag', 'batch']);
    const chat = sliced.classes!.chat!;
    const s = chat.summary;
    const passed = chat.slo.filter((v) => v.passed).length;
    expect(rows[1]).toEqual([
      'chat',
      '60.0 %',
      String(s.requests.sent),
      String(s.requests.completed),
      String(s.requests.failed),
      `${(s.throughput.goodput_ratio! * 100).toFixed(1)} %`,
      fmtMs(s.latency_ms.ttft.p50),
      fmtMs(s.latency_ms.ttft.p95),
      fmtMs(s.latency_ms.ttft.p99),
      fmtMs(s.latency_ms.tpot.p50),
      fmtMs(s.latency_ms.tpot.p95),
      fmtMs(s.latency_ms.e2e.p95),
      s.throughput.output_tokens_per_s.toFixed(0),
      passed === chat.slo.length ? `✅ ${passed}/${chat.slo.length}` : `❌ **${passed}/${chat.slo.length}**`,
    ]);
  });

  it('shows a class SLO under its class in the SLO table, the whole-run ones under "all requests"', () => {
    const rows = mdRows(mdSection(md, 'SLOs'));
    expect(rows[0]).toEqual(['SLO', 'class', 'observed', 'verdict']);
    expect(rows[1]!.slice(0, 2)).toEqual(['ttft\\_ms: p(95)&lt;500', 'all requests']);
    const chatTtft = rows.find((r) => r[1] === 'chat' && r[0]!.startsWith('ttft'))!;
    // the class is in its column, not repeated in the name
    expect(chatTtft[0]).toBe('ttft\\_ms: p(95)&lt;400');
    expect(chatTtft[2]).toBe(`${fmtMs(sliced.classes!.chat!.slo[0]!.observed)} ms`);
    expect(rows).toHaveLength(1 + sliced.slo.length);
  });

  it('tabulates each turn: TTFT, prompt tokens per request and the share cached', () => {
    const rows = mdRows(mdSection(md, 'Turns'));
    expect(rows[0]).toEqual(['turn', 'sent', 'completed', 'TTFT p50 (ms)', 'TTFT p95 (ms)', 'E2E p95 (ms)', 'prompt tokens per request', 'prompt tokens cached']);
    expect(rows.slice(1).map((r) => r[0])).toEqual(['1', '2', '3', '4']);
    expect(rows.slice(1).map((r) => r[6])).toEqual(['512', '1024', '1536', '2048']);
    expect(rows.slice(1).map((r) => r[7])).toEqual(['0.0 %', '50.0 %', '66.7 %', '75.0 %']);
    expect(rows[2]![4]).toBe(fmtMs(sliced.turns![1]!.summary.latency_ms.ttft.p95));
    // no cached figures: no cached column
    const uncached = mdRows(mdSection(renderMarkdown(withSlices(plain, { turns: 3 })), 'Turns'));
    expect(uncached[0]).not.toContain('prompt tokens cached');
    expect(uncached).toHaveLength(4);
  });

  it('tabulates each model of the mix', () => {
    const rows = mdRows(mdSection(md, 'Models'));
    expect(rows[0]!.slice(0, 4)).toEqual(['model', 'sent', 'completed', 'failed']);
    expect(rows.slice(1).map((r) => r[0])).toEqual(['meta-llama/Llama-3.1-70B-Instruct', 'sql-lora']);
    expect(rows[2]![6]).toBe(fmtMs(sliced.models!['sql-lora']!.summary.latency_ms.ttft.p95));
  });

  it('renders each section alone when the run has only that slice', () => {
    const onlyTurns = renderMarkdown(withSlices(plain, { turns: 2 }));
    expect(onlyTurns).toContain('## Turns');
    expect(onlyTurns).not.toContain('## Request classes');
    expect(onlyTurns).not.toContain('## Models');
    expect(onlyTurns).toContain('| SLO | observed | verdict |');
    const onlyModels = renderMarkdown(withSlices(plain, { models: true }));
    expect(onlyModels).toContain('## Models');
    expect(onlyModels).not.toContain('## Turns');
  });

  it("names a sweep's binding class in the capacity section", () => {
    const cap = mdSection(renderMarkdown(sweep), 'Capacity at the SLOs (sweep)');
    expect(cap).toContain('**Binding class:** rag. At 45.00 req/s, the first rate not sustained, its own SLOs failed first.');
    const none = structuredClone(sweep);
    none.capacity!.first_unsustainable!.binding_classes = [];
    expect(renderMarkdown(none)).toContain("**Binding class:** none. At 45.00 req/s, the first rate not sustained, no class's own SLO failed");
  });

  it('escapes hostile class and model names: no raw HTML, no code spans, no line breaks, tables keep their columns', () => {
    const text = renderMarkdown(hostile);
    expect(text.replace(/<\/?sub>/g, '')).not.toMatch(/</);
    expect(text).not.toMatch(/[^\\]`/);
    expect(text).not.toMatch(/[\u2028\u2029\u0000\u001b\r]/);
    for (const h of HOSTILE) expect(text).not.toContain(h);
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\| :?--/.test(lines[i]!)) continue;
      const width = cells(lines[i - 1]!);
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) expect(cells(lines[j]!), lines[j]).toBe(width);
    }
    // the names are there, escaped: as classes, in the SLO table's class column, as models, as the binding class
    const classes = mdRows(mdSection(text, 'Request classes')).slice(1).map((r) => r[0]);
    expect(classes).toEqual(HOSTILE_SLICE_NAMES.slice(0, 3).map((n) => escapeMarkdown(n, 100)));
    expect(mdRows(mdSection(text, 'SLOs')).some((r) => r[1] === escapeMarkdown(HOSTILE_SLICE_NAMES[1]!, 100))).toBe(true);
    expect(mdRows(mdSection(text, 'Models')).slice(1).map((r) => r[0])).toEqual(HOSTILE_SLICE_NAMES.slice(3, 5).map((n) => escapeMarkdown(n, 200)));
    expect(text).toContain(`**Binding class:** ${escapeMarkdown(HOSTILE_SLICE_NAMES[1]!, 100)}.`);
  });
});

describe('html', () => {
  const page = renderHtml(sliced, NO_ASSETS);

  it('has no slice section, link or chart when the run has no slices', () => {
    const p = renderHtml(plain, NO_ASSETS);
    for (const id of ['classes', 'turns', 'models']) {
      expect(p).not.toContain(`<section id="${id}">`);
      expect(p).not.toContain(`href="#${id}"`);
    }
    const ids = chartData(p).map((c) => c.id);
    for (const id of ['classes-ttft', 'turns-ttft', 'models-ttft']) expect(ids).not.toContain(id);
    expect(p).toContain('<thead><tr><th class="text">SLO metric</th>');
  });

  it('has a section, a link, a chart and a table for each slice, between the workload and the distributions', () => {
    const at = (s: string): number => page.indexOf(s);
    expect(at('<section id="workload">')).toBeLessThan(at('<section id="classes">'));
    expect(at('<section id="classes">')).toBeLessThan(at('<section id="turns">'));
    expect(at('<section id="turns">')).toBeLessThan(at('<section id="models">'));
    expect(at('<section id="models">')).toBeLessThan(at('<section id="distributions">'));
    expect(page).toContain('<a href="#classes">Classes</a><a href="#turns">Turns</a><a href="#models">Models</a>');
    const ids = chartData(page).map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['classes-ttft', 'turns-ttft', 'models-ttft']));
    for (const id of ['classes-ttft', 'turns-ttft', 'models-ttft']) expect(page.split(`id="chart-${id}"`)).toHaveLength(2);
    const chat = sliced.classes!.chat!;
    const passed = chat.slo.filter((v) => v.passed).length;
    expect(page).toMatch(
      new RegExp(
        `<tr><td class="text">chat</td><td>60\\.0 %</td><td>${chat.summary.requests.sent}</td>.*<td>${fmtMs(chat.summary.latency_ms.ttft.p95).replace('.', '\\.')}</td>.*<td class="(pass|fail)">${passed}/${chat.slo.length}`,
      ),
    );
    expect(page).toContain('<th>prompt tokens cached</th>');
    expect(page).toMatch(/<tr><td>2<\/td><td>\d+<\/td><td>\d+<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td><td>1024<\/td><td>50\.0 %<\/td><\/tr>/);
    expect(page).toContain('<tr><td class="text">sql-lora</td>');
  });

  it('shows the class of a class SLO in a column of its own', () => {
    expect(page).toContain('<thead><tr><th class="text">class</th><th class="text">SLO metric</th>');
    expect(page).toMatch(/<tr><td class="text">chat<\/td><td class="text">ttft_ms<\/td><td class="text">p\(95\)&lt;400<\/td><td>[\d.]+ ms<\/td><td class="(pass|fail)">/);
    expect(page).toMatch(/<tr><td class="text"><span class="muted">all requests<\/span><\/td><td class="text">ttft_ms<\/td><td class="text">p\(95\)&lt;500<\/td>/);
  });

  it("names a sweep's binding class in the capacity section, above its charts", () => {
    const p = renderHtml(sweep, NO_ASSETS);
    const note = p.indexOf('<p class="finding"><b>Binding class:</b> <b>rag</b>. At 45.00 req/s');
    expect(note).toBeGreaterThan(p.indexOf('<section id="capacity"'));
    expect(note).toBeLessThan(p.indexOf('id="fig-sweep-latency"'));
    expect(renderHtml(plain, NO_ASSETS)).not.toContain('Binding class');
  });

  it('escapes hostile class and model names in text and keeps them exact in the chart data', () => {
    const p = renderHtml(hostile, NO_ASSETS);
    expect(p.match(/<script/gi)).toHaveLength(5);
    expect(p.match(/<\/script/gi)).toHaveLength(5);
    expect(p).not.toContain('<!--');
    for (const h of HOSTILE) expect(p).not.toContain(h);
    for (const n of HOSTILE_SLICE_NAMES.slice(0, 3)) {
      // the class table, the SLO table's class column, the binding class
      expect(p).toContain(`<tr><td class="text">${escapeHtml(oneLine(n, 200))}</td><td>`);
      expect(p).toContain(`<tr><td class="text">${escapeHtml(oneLine(n, 100))}</td><td class="text">`);
    }
    for (const n of HOSTILE_SLICE_NAMES.slice(3, 5)) expect(p).toContain(`<tr><td class="text">${escapeHtml(oneLine(n, 300))}</td><td>`);
    expect(p).toContain(`<b>Binding class:</b> <b>${escapeHtml(oneLine(HOSTILE_SLICE_NAMES[1]!, 200))}</b>.`);
    const data = chartData(p);
    const classes = data.find((c) => c.id === 'classes-ttft')!;
    expect(valuesWith<{ name: string }>(classes.spec, 'ttft_p95_ms').map((r) => r.name)).toEqual(HOSTILE_SLICE_NAMES.slice(0, 3));
    const models = data.find((c) => c.id === 'models-ttft')!;
    expect(valuesWith<{ name: string }>(models.spec, 'ttft_p95_ms').map((r) => r.name)).toEqual(HOSTILE_SLICE_NAMES.slice(3, 5));
  });
});

describe('charts', () => {
  it('draws none of the slice charts without slices, and each one with them, compiling cleanly', () => {
    expect(turnTtftChart(plain)).toBeNull();
    expect(classTtftChart(plain)).toBeNull();
    expect(modelTtftChart(plain)).toBeNull();
    const ids = buildCharts(sliced).map((c) => c.id);
    expect(ids.slice(ids.indexOf('errors'), ids.indexOf('errors') + 4)).toEqual(['errors', 'classes-ttft', 'turns-ttft', 'models-ttft']);
    for (const c of buildCharts(sliced)) expect(compileWarnings(c.spec), c.id).toEqual([]);
    for (const c of [turnTtftChart(withSlices(plain, { turns: 3 }))!]) expect(compileWarnings(c.spec), c.id).toEqual([]);
  });

  it("carries every turn's TTFT p50 and p95, a turn without data too, and its prompt tokens with the part cached", () => {
    const r = withSlices(plain, { turns: 12, cached: true });
    // turn 7 completed nothing: no latency, but still a turn of the chart
    const t7 = r.turns![6]!.summary;
    t7.requests.completed = 0;
    t7.tokens.prompt = 0;
    for (const l of Object.values(t7.latency_ms)) Object.assign(l, { p50: null, p90: null, p95: null, p99: null, p999: null, max: null, mean: null, count: 0 });
    const chart = turnTtftChart(r)!;
    expect(chart.section).toBe('turns');
    const rows = valuesWith<TurnRow>(chart.spec, 'value_ms');
    for (const p of ['p50', 'p95'] as const) {
      const series = rows.filter((x) => x.series === p);
      expect(series.map((x) => x.turn)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(series.map((x) => x.value_ms)).toEqual(r.turns!.map((t) => t.summary.latency_ms.ttft[p]));
    }
    expect(rows.find((x) => x.turn === 7 && x.series === 'p95')!.value_ms).toBeNull();
    const tokens = valuesWith<{ turn: number; part: string; tokens: number }>(chart.spec, 'tokens');
    const at = (turn: number, part: string): number | undefined => tokens.find((x) => x.turn === turn && x.part === part)?.tokens;
    expect(at(1, 'cached (server-reported)')).toBe(0);
    expect(at(1, 'not cached')).toBe(512);
    expect(at(2, 'cached (server-reported)')).toBe(512);
    expect(at(4, 'cached (server-reported)')! + at(4, 'not cached')!).toBeCloseTo(2048, 6);
    expect(tokens.some((x) => x.turn === 7)).toBe(false);
    expect(compileWarnings(chart.spec)).toEqual([]);
  });

  it('draws TTFT p95 per class with the p95 TTFT threshold each class is judged on', () => {
    const chart = classTtftChart(sliced)!;
    const bars = valuesWith<{ name: string; ttft_p95_ms: number }>(chart.spec, 'ttft_p95_ms');
    expect(bars.map((b) => [b.name, b.ttft_p95_ms])).toEqual(Object.entries(sliced.classes!).map(([n, c]) => [n, c.summary.latency_ms.ttft.p95]));
    const ticks = valuesWith<{ name: string; threshold_ms: number }>(chart.spec, 'threshold_ms');
    // chat and rag set their own; batch keeps the run's
    expect(ticks.map((t) => [t.name, t.threshold_ms])).toEqual([
      ['chat', 400],
      ['rag', 1500],
      ['batch', 500],
    ]);
    // no TTFT p95 threshold anywhere: bars, no tick
    const none = structuredClone(sliced);
    for (const c of Object.values(none.classes!)) c.slo = c.slo.filter((v) => v.metric !== 'ttft_ms');
    expect(valuesWith(classTtftChart(none)!.spec, 'threshold_ms')).toEqual([]);
  });

  it('draws only the whole-run thresholds on the run-wide latency charts, not the classes\' own', () => {
    const rules = (spec: unknown): number[] =>
      collect(spec, 'mark')
        .filter((o) => (o.mark as { type?: string }).type === 'rule')
        .flatMap((o) => ((o.data as { values?: { value?: number }[] } | undefined)?.values ?? []).map((v) => v.value))
        .filter((v): v is number => typeof v === 'number');
    expect(rules(latencyOverTimeChart(sliced, 'ttft')!.spec)).toEqual([500]);
    expect(rules(sweepLatencyChart(sweep)!.spec)).toEqual([500]);
  });

  it('keeps hostile class and model names as data values: never a field name, never in an expression', () => {
    const charts = buildCharts(hostile).filter((c) => ['classes-ttft', 'turns-ttft', 'models-ttft'].includes(c.id));
    expect(charts).toHaveLength(3);
    const fields = new Set(collect(charts.map((c) => c.spec), 'field').map((o) => o.field));
    for (const f of fields) expect(typeof f === 'string' && /^[a-z0-9_]+$/.test(f), String(f)).toBe(true);
    const exprs = [...collect(charts.map((c) => c.spec), 'labelExpr'), ...collect(charts.map((c) => c.spec), 'expr')].map((o) => JSON.stringify(o));
    for (const e of exprs) for (const h of HOSTILE) expect(e).not.toContain(h);
    for (const c of charts) expect(compileWarnings(c.spec), c.id).toEqual([]);
  });
});

describe('console', () => {
  const dir = { dir: 'out' };

  it('says nothing of slices when the run has none', () => {
    const text = renderConsoleSummary(plain, dir);
    expect(text).not.toMatch(/^ {2}(classes|turns|models) /m);
  });

  it('gives a line per class (completed, TTFT p95, its SLOs), the turns in one line, a line per model', () => {
    const text = renderConsoleSummary(sliced, dir);
    const lines = text.split('\n');
    const first = lines.findIndex((l) => l.startsWith('  classes    '));
    expect(first).toBeGreaterThan(0);
    const classLines = lines.slice(first, first + 3);
    for (const [i, [name, c]] of Object.entries(sliced.classes!).entries()) {
      const line = classLines[i]!;
      const passed = c.slo.filter((v) => v.passed).length;
      expect(line).toMatch(new RegExp(`^ {2}(classes| {7}) {4}${name} +${c.summary.requests.completed} completed, TTFT p95 +${Math.round(c.summary.latency_ms.ttft.p95!)} ms, SLOs ${passed}/${c.slo.length} ${passed === c.slo.length ? 'pass' : 'FAIL'}$`));
    }
    const turns = lines.filter((l) => l.startsWith('  turns      '));
    expect(turns).toHaveLength(1);
    expect(turns[0]).toBe(`  turns      TTFT p95 by turn  ${sliced.turns!.map((t) => `${t.turn}: ${Math.round(t.summary.latency_ms.ttft.p95!)} ms`).join(' · ')}`);
    expect(text).toMatch(/^ {2}models {5}meta-llama\/Llama-3\.1-70B-Instruct +\d+ completed, TTFT p95 +\d+ ms$/m);
    expect(text).toMatch(/^ {13}sql-lora +\d+ completed, TTFT p95 +\d+ ms$/m);
  });

  it('keeps control characters in class and model names off the terminal', () => {
    const text = renderConsoleSummary(hostile, dir);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const lines = text.split('\n');
    const first = lines.findIndex((l) => l.startsWith('  classes    '));
    // one line per class: a newline in a name does not start another
    expect(lines.slice(first, first + 4).map((l) => /completed, TTFT p95/.test(l))).toEqual([true, true, true, false]);
  });
});

describe('sections follow the fields, one at a time', () => {
  const variants: [string, RunResult][] = [
    ['classes', withSlices(plain, { classes: true })],
    ['turns', withSlices(plain, { turns: 2 })],
    ['models', withSlices(plain, { models: true })],
  ];
  it.each(variants)('only %s', (which, r) => {
    const p = renderHtml(r, NO_ASSETS);
    for (const id of ['classes', 'turns', 'models']) expect(p.includes(`<section id="${id}">`), id).toBe(id === which);
  });
});
