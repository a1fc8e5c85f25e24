// report.md: the headline, SLO and percentile tables, errors, server and generator sections as
// GFM; hostile strings escaped (no raw HTML, no broken tables, no mentions); under 1 MiB always.
import { describe, expect, it } from 'vitest';
import { escapeMarkdown } from '../../../src/report/common.js';
import { capBytes, MARKDOWN_MAX_BYTES, renderMarkdown } from '../../../src/report/markdown.js';
import { HOSTILE, syntheticResult, withHostileStrings } from './fixtures.js';

const withServer = syntheticResult({ server: true });

/** The cells of a GFM table row, split on unescaped pipes. */
const cells = (line: string): number => line.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length - 2;

describe('renderMarkdown', () => {
  const md = renderMarkdown(withServer);

  it('opens with the scenario, the warnings, the verdict and the headline table', () => {
    const lines = md.split('\n');
    expect(lines[0]).toBe('# inferload report: ramp');
    expect(md).toContain('**FAIL**: 2 of 3 SLOs failed.');
    expect(md).toContain('| target | http://10.0.0.5:8000/v1 |');
    expect(md).toContain('| model | meta-llama/Llama-3.1-70B-Instruct |');
    const r = withServer.summary.requests;
    expect(md).toContain(
      `| requests | ${r.sent} sent · ${r.completed} completed · ${r.failed} failed · **${r.interrupted} cut at the end** · ${r.dropped} dropped (+80 in warm-up, not counted) |`,
    );
    expect(md).toMatch(/\| goodput \| \d+\.\d\d req\/s \(\d+\.\d % of completed met every SLO\) \|/);
    expect(md.indexOf('[!WARNING]')).toBeLessThan(md.indexOf('## SLOs'));
  });

  it('has an SLO table with observed values in their units and a verdict per SLO', () => {
    expect(md).toContain('| SLO | observed | verdict |');
    expect(md).toMatch(/\| ttft\\_ms: p\(95\)&lt;500 \| \d+(\.\d+)? ms \| ❌ \*\*FAIL\*\* \|/);
    expect(md).toMatch(/\| error\\_ratio: rate&lt;0\.001 \| \d\.\d\d % \| ❌ \*\*FAIL\*\* \|/);
  });

  it('has the key percentiles of TTFT, TTFT from send, ITL, TPOT, E2E and schedule lag', () => {
    expect(md).toContain('| metric | p50 | p90 | p95 | p99 | p99.9 | max | count |');
    for (const label of ['TTFT', 'TTFT from send', 'ITL', 'TPOT', 'E2E', 'schedule lag']) expect(md).toMatch(new RegExp(`\\n\\| ${label} \\| [0-9.]+ \\|`));
    const ttft = withServer.summary.latency_ms.ttft;
    expect(md).toContain(`| TTFT | ${ttft.p50!.toFixed(1)} |`);
  });

  it('lists errors by class with sample messages', () => {
    expect(md).toContain('| class | requests | share of ended |');
    expect(md).toMatch(/\| http\\_429 \| \d+ \| \d+\.\d\d % \|/);
    expect(md).toContain('HTTP 429: {"error": "rate limited, retry after 1 s"}');
  });

  it('summarises the server: endpoints, signal ranges, GPUs, tokens, correlation, alerts', () => {
    expect(md).toContain('| http://10.0.0.5:9400/metrics | dcgm | 59 | 1 | last error: timeout after 1 s');
    expect(md).toMatch(/\| kv\\_cache\\_usage\\_ratio \| % \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|/);
    expect(md).toMatch(/\| server\\_ttft\\_s \| ms \|/);
    expect(md).toMatch(/\| 0 \| \d+ % \| \d+ % \| 74\.3 GiB \|/);
    expect(md).toContain('| ttft\\_p95\\_vs\\_queue\\_depth | 0.97 |');
    expect(md).toContain('| QueueBacklog | warning | queue\\_depth &gt; 20 | 40 s | 20 s | **FIRED** |');
  });

  it('says so when no server metrics were scraped, and when nothing completed', () => {
    expect(renderMarkdown(syntheticResult())).toContain('_No server metrics were scraped._');
    const none = renderMarkdown(syntheticResult({ noneCompleted: true }));
    expect(none).toContain('[!CAUTION]');
    expect(none).toContain('No request completed: there is no latency to report.');
    expect(none).toContain('| TTFT | - | - | - | - | - | - | 0 |');
    expect(none).toContain('The run failed: the first 20 requests all failed');
  });

  it('escapes hostile strings: no raw HTML, no code spans, no mentions, and tables keep their columns', () => {
    const text = renderMarkdown(withHostileStrings(syntheticResult({ server: true, capacity: true, spikeSoak: true })));
    const ours = text.replace(/<\/?sub>/g, '');
    expect(ours).not.toMatch(/</);
    expect(text).not.toMatch(/[^\\]`/);
    expect(text).not.toMatch(/@(?!\u200b)/);
    expect(text).not.toMatch(/[\u2028\u2029\u0000\u001b\r]/);
    for (const h of HOSTILE) expect(text).not.toContain(h);
    // every table row has as many cells as its header
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\| :?--/.test(lines[i]!)) continue;
      const width = cells(lines[i - 1]!);
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) expect(cells(lines[j]!), lines[j]).toBe(width);
    }
  });

  it('leads with the capacity of a sweep, its steps, and the error budget', () => {
    const text = renderMarkdown(syntheticResult({ server: true, capacity: true }));
    expect(text.indexOf('## Capacity at the SLOs (sweep)')).toBeLessThan(text.indexOf('## SLOs'));
    expect(text).toContain('Sustainable at 40 req/s (2560 output tok/s), 20.00 req/s per GPU over 2 GPUs.');
    expect(text).toContain('| 40.00 req/s | 2560 tok/s | 20.00 req/s · 1280 tok/s | 2 (from the exporter) | ≈ 33.3 req/s (ttft\\_p95) |');
    expect(text).toMatch(/\| 40\.00 \| yes \| 40\.00 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 0\.00 % \|  \|/);
    expect(text).toMatch(/\| 45\.00 \| \*\*no\*\* \| 42\.00 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 2\.00 % \| TTFT p95 \d+ ms &gt; 500 ms; completions fell behind arrivals \|/);
    expect(text).toContain('### Error budget (availability 99.90 % over 30 days)');
    expect(text).toContain('| 1.660 % | 16.60 | 0.996 of 43.2 min | 43.4 h | page: 2 % of budget in 1 h, ticket: 10 % of budget in 3 d |');
  });

  it('reports a spike and soak drift when the run had them', () => {
    const text = renderMarkdown(syntheticResult({ spikeSoak: true }));
    expect(text).toContain('## Spike');
    expect(text).toContain('| 20.0 → 60.0 req/s (30–45 s) | 52.0 / 4100 | 8 s | 180 | 12 / 0 |');
    expect(text).toContain('## Soak: drifting');
    expect(text).toContain('| ttft\\_p95\\_ms | 2.500 | 60.000 | 100.0 % | 0.80 | **yes** |');
    expect(renderMarkdown(withServer)).not.toContain('## Spike');
  });

  it('stays under 1 MiB whatever the results hold', () => {
    const huge = structuredClone(withServer);
    const long = 'x'.repeat(200_000);
    huge.error_samples = Array.from({ length: 5000 }, (_, i) => ({ error_class: `c${i}`, message: long, count: 1 }));
    huge.summary.errors = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`class_${i}_${'y'.repeat(80)}`, i + 1]));
    huge.generator.warnings = Array.from({ length: 10_000 }, () => long);
    huge.run.scenario = long;
    huge.run.description = long;
    const text = renderMarkdown(huge);
    expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(MARKDOWN_MAX_BYTES);
    expect(text).toContain('… and 4980 more messages');
  });
});

describe('escapeMarkdown', () => {
  it('escapes table pipes, markdown punctuation and HTML; flattens control characters', () => {
    expect(escapeMarkdown('a|b')).toBe('a\\|b');
    expect(escapeMarkdown('`x` *y* _z_ [l](u) ~s~ \\')).toBe('\\`x\\` \\*y\\* \\_z\\_ \\[l\\](u) \\~s\\~ \\\\');
    expect(escapeMarkdown('<script>&')).toBe('&lt;script&gt;&amp;');
    expect(escapeMarkdown('a\nb\u2028c\u0000d')).toBe('a b c d');
    expect(escapeMarkdown('@team')).toBe('@\u200bteam');
    expect(escapeMarkdown('x'.repeat(400), 10)).toBe('x'.repeat(9) + '…');
  });
});

describe('capBytes', () => {
  it('cuts at a line boundary within the limit and says so', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `line ${i} ✓`).join('\n');
    const cut = capBytes(text, 2000);
    expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(2000);
    expect(cut).toMatch(/line \d+ ✓\n\n_… report cut at 1 MiB; the full data is in results.json._\n$/);
    expect(capBytes('short', 2000)).toBe('short');
  });
});

describe('a long run', () => {
  it('tabulates the server signals and GPUs of 200 000 windows (their minima and maxima overflowed the stack)', () => {
    const r = syntheticResult({ server: true, windows: 12, warmupS: 2 });
    const w = r.windows[8]!;
    r.windows = Array.from({ length: 200_000 }, (_, i) => ({ ...w, t_s: i }));
    const text = renderMarkdown(r);
    expect(text).toContain('Server signals over the run (per-window values):');
    expect(text).toMatch(/\| GPU \| utilisation mean \| utilisation max \| memory used max \|/);
  });
});
