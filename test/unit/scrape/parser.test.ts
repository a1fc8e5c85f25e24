// The exposition parser on its own: syntax of both formats, families, problems with line numbers,
// lenient vs strict, and a seeded fuzz (truncations and mutations never throw).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { detectFormat, parseExposition } from '../../../src/scrape/parser.js';

const METRICS = fileURLToPath(new URL('../../fixtures/metrics/', import.meta.url));
const OPENMETRICS = fileURLToPath(new URL('../../fixtures/openmetrics/', import.meta.url));

const only = (text: string, opts = {}) => {
  const r = parseExposition(text, opts);
  expect(r.problems).toEqual([]);
  return r;
};

describe('Prometheus text 0.0.4', () => {
  it('reads HELP/TYPE, labels, values and timestamps (ms)', () => {
    const r = only('# HELP http_total Requests.\n# TYPE http_total counter\nhttp_total{code="200",method="get"} 1027 1395066363000\nhttp_total{code="400",method="post"} 3 1395066363000\n');
    expect(r.format).toBe('prometheus');
    expect(r.strict).toBe(false);
    expect(r.families).toHaveLength(1);
    const f = r.families[0]!;
    expect(f).toMatchObject({ name: 'http_total', type: 'counter', help: 'Requests.', unit: '' });
    expect(f.samples[0]).toEqual({ name: 'http_total', labels: { code: '200', method: 'get' }, value: 1027, timestampMs: 1395066363000 });
  });

  it('reads NaN, ±Inf, exponents (three-digit too), leading zeros and untyped', () => {
    const r = only('a NaN\nb +Inf\nc -Inf\nd 1e+06\ne 1.0777853952e+010\nf 0.07500000000000001\ng -3.5E-3\nh 007\n# TYPE u untyped\nu 1\n');
    const v = Object.fromEntries(r.families.map((f) => [f.name, f.samples[0]!.value]));
    expect(v['a']).toBeNaN();
    expect(v).toMatchObject({ b: Infinity, c: -Infinity, d: 1e6, e: 10777853952, f: 0.07500000000000001, g: -0.0035, h: 7, u: 1 });
    expect(r.families.find((f) => f.name === 'u')!.type).toBe('unknown');
  });

  it('unescapes label values (\\\\ \\" \\n) and HELP (\\\\ \\n), keeping unknown escapes', () => {
    const r = only('# HELP m line one\\nline \\\\two \\q\nm{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",odd="\\z"} 1\n');
    const f = r.families[0]!;
    expect(f.help).toBe('line one\nline \\two \\q');
    expect(f.samples[0]!.labels).toEqual({ path: 'C:\\dir', quote: 'say "hi"', nl: 'a\nb', odd: '\\z' });
  });

  it('reads quoted (UTF-8) metric and label names, in braces and in metadata', () => {
    const r = only('# HELP "my.metric" dotted\n# TYPE "my.metric" gauge\n{"my.metric", "a.b"="x", c="y"} 2\n{"my.metric","a.b"="z"} 3\n');
    expect(r.families).toHaveLength(1);
    expect(r.families[0]).toMatchObject({ name: 'my.metric', type: 'gauge', help: 'dotted' });
    expect(r.families[0]!.samples.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['my.metric', { 'a.b': 'x', c: 'y' }, 2],
      ['my.metric', { 'a.b': 'z' }, 3],
    ]);
  });

  it('is lenient with what real servers write: blank lines, tabs, runs of spaces, CRLF, trailing commas, #HELP', () => {
    const r = only('#HELP a  help with trailing spaces   \n#TYPE a gauge\n\na{x="1",}\t 5  \r\n   \n  b 2\n# just a comment\n');
    expect(r.families.map((f) => [f.name, f.type, f.help, f.samples.map((s) => s.value)])).toEqual([
      ['a', 'gauge', 'help with trailing spaces', [5]],
      ['b', 'unknown', '', [2]],
    ]);
  });

  it('groups histograms (le anywhere, _sum first), summaries, _created series, counters with and without _total', () => {
    const r = only(
      [
        '# TYPE lat histogram',
        'lat_sum{m="x"} 3.5',
        'lat_bucket{le="0.5",m="x"} 1',
        'lat_bucket{m="x",le="+Inf"} 4',
        'lat_count{m="x"} 4',
        'lat_created{m="x"} 1.7e9',
        '# TYPE q summary',
        'q{quantile="0.5"} 0.1',
        'q_sum 9',
        'q_count 20',
        '# TYPE tgi_request_success counter',
        'tgi_request_success 109',
        '# TYPE vllm:gen_total counter',
        'vllm:gen_total 7',
        '# TYPE vllm:gen_created gauge',
        'vllm:gen_created 1.7e9',
      ].join('\n'),
    );
    expect(r.families.map((f) => `${f.name}:${f.type}:${f.samples.length}`)).toEqual(['lat:histogram:5', 'q:summary:3', 'tgi_request_success:counter:1', 'vllm:gen_total:counter:1', 'vllm:gen_created:gauge:1']);
  });

  it('reports a bad line with its number and keeps every other line', () => {
    const r = parseExposition('a 1\nb{x="1" 2\nc one\nd 4\n# TYPE e nonsense\ne 5\n');
    expect(r.problems.map((p) => p.line)).toEqual([2, 3, 5]);
    expect(r.problems[0]!.message).toMatch(/label/);
    expect(r.problems[1]!.message).toMatch(/invalid value "one"/);
    expect(r.families.map((f) => f.name)).toEqual(['a', 'd', 'e']);
  });

  it('flags duplicate labels, second TYPE lines and TYPE after samples (promtool does)', () => {
    expect(parseExposition('a{x="1",x="2"} 1\n').problems[0]!.message).toMatch(/duplicate label/);
    expect(parseExposition('# TYPE a gauge\n# TYPE a counter\na 1\n').problems[0]!.message).toMatch(/second TYPE/);
    expect(parseExposition('a 1\n# TYPE a gauge\n').problems[0]!.message).toMatch(/after its samples/);
  });

  it('keeps a label named __proto__ as a plain label', () => {
    const r = only('a{__proto__="x",constructor="y"} 1\n');
    const labels = r.families[0]!.samples[0]!.labels;
    expect(Object.keys(labels)).toEqual(['__proto__', 'constructor']);
    expect(labels['__proto__']).toBe('x');
  });
});

describe('OpenMetrics 1.0', () => {
  const om = '# TYPE req counter\n# UNIT req_seconds seconds\n# HELP req help\nreq_total{a="b"} 3 1.5 # {trace_id="abc"} 1.0 1.6e9\nreq_created{a="b"} 1.6e9\n# EOF\n';

  it('is detected from # EOF or the content type', () => {
    expect(detectFormat(om)).toBe('openmetrics');
    expect(detectFormat('a 1\n# EOF')).toBe('openmetrics');
    expect(detectFormat('a 1\n')).toBe('prometheus');
    expect(detectFormat('a 1\n', 'application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics');
    expect(detectFormat('a 1\n', 'text/plain; version=0.0.4')).toBe('prometheus');
  });

  it('reads exemplars, second timestamps (to ms), _created in the counter family; lenient when auto-detected', () => {
    const r = only(om);
    expect(r.format).toBe('openmetrics');
    expect(r.strict).toBe(false);
    const f = r.families[0]!;
    expect(f).toMatchObject({ name: 'req', type: 'counter', help: 'help' });
    expect(f.samples[0]).toEqual({ name: 'req_total', labels: { a: 'b' }, value: 3, timestampMs: 1500, exemplar: { labels: { trace_id: 'abc' }, value: 1, timestampMs: 1.6e12 } });
    expect(f.samples[1]!.name).toBe('req_created');
  });

  it('is strict when asked for explicitly', () => {
    const strict = parseExposition('# TYPE a gauge\na  1\n# EOF\n', { format: 'openmetrics' });
    expect(strict.strict).toBe(true);
    expect(strict.problems.length).toBeGreaterThan(0);
    expect(parseExposition('# TYPE a gauge\na  1\n# EOF\n').problems).toEqual([]);
    expect(parseExposition('a 1\n', { format: 'openmetrics' }).problems.map((p) => p.message)).toEqual(['missing "# EOF" at the end (required by OpenMetrics)']);
  });

  it('reads info, stateset and gaugehistogram families', () => {
    const r = only(
      '# TYPE b info\nb_info{version="1.2"} 1\n# TYPE s stateset\ns{s="on"} 1\ns{s="off"} 0\n# TYPE g gaugehistogram\ng_bucket{le="1"} 2\ng_bucket{le="+Inf"} 3\ng_gcount 3\ng_gsum 2.5\n# EOF\n',
      { format: 'openmetrics' },
    );
    expect(r.families.map((f) => `${f.name}:${f.type}:${f.samples.length}`)).toEqual(['b:info:1', 's:stateset:2', 'g:gaugehistogram:4']);
  });

  it('reports text after # EOF (in Prometheus text, # EOF is only a comment)', () => {
    expect(parseExposition('a 1\n# EOF\nb 2\n', { format: 'openmetrics', strict: false }).problems).toEqual([{ line: 3, message: 'text after "# EOF"' }]);
    expect(parseExposition('a 1\n# EOF\nb 2\n').problems).toEqual([]);
  });
});

describe('robustness', () => {
  const corpus = (): string[] => {
    const texts: string[] = [];
    for (const f of readdirSync(METRICS).filter((n) => n.endsWith('.prom'))) texts.push(readFileSync(join(METRICS, f), 'utf8'));
    for (const d of readdirSync(OPENMETRICS, { withFileTypes: true }).filter((x) => x.isDirectory())) texts.push(readFileSync(join(OPENMETRICS, d.name, 'metrics'), 'utf8'));
    texts.push('a{"q\\"x"="\\\\", b="\\n"} 1 2 # {c="d"} 3 4\n# EOF\n');
    return texts;
  };
  const NASTY = ['{', '}', '"', '\\', '#', ' ', '\t', '\n', '\r', '=', ',', '\u0000', 'é', '\uD83D', 'e', '+', '-', '.', 'Inf', 'NaN', '# EOF\n', '# TYPE ', '# HELP ', '_bucket', 'le="', '_total'];

  it('never throws on truncations and random mutations of every fixture (seeded), in every mode', () => {
    const rng = new Rng(20240601);
    let runs = 0;
    for (const text of corpus()) {
      for (let k = 0; k < 12; k++) {
        let t = text.slice(0, rng.int(0, text.length));
        if (k % 2 === 1) {
          const chars = [...text];
          const edits = rng.int(1, 8);
          for (let e = 0; e < edits; e++) {
            const at = rng.int(0, chars.length);
            const op = rng.int(0, 2);
            if (op === 0) chars.splice(at, 1);
            else if (op === 1) chars.splice(at, 0, NASTY[rng.int(0, NASTY.length - 1)]!);
            else chars[at] = NASTY[rng.int(0, NASTY.length - 1)]!;
          }
          t = chars.join('');
        }
        for (const format of ['auto', 'prometheus', 'openmetrics'] as const) {
          const r = parseExposition(t, { format });
          runs++;
          expect(r.problems.filter((p) => p.message.startsWith('internal parser error'))).toEqual([]);
          for (const p of r.problems) expect(p.line).toBeGreaterThanOrEqual(1);
        }
      }
    }
    expect(runs).toBeGreaterThan(5000);
  });

  it('caps the problem list on garbage', () => {
    const r = parseExposition('{{{\n'.repeat(5000), { maxProblems: 100 });
    expect(r.problems).toHaveLength(101);
    expect(r.problems[100]!.message).toBe('4900 more problems not listed');
  });

  it('accepts non-string-safe input without throwing', () => {
    expect(() => parseExposition('')).not.toThrow();
    expect(parseExposition('').families).toEqual([]);
    expect(parseExposition('\uFEFFa 1\n').families[0]!.name).toBe('a');
  });
});
