// JUnit XML: well-formed (checked by a strict little parser below), escaped, one testcase per SLO
// of a run and one per compared metric of the gate, failures where they belong.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../../src/analysis/compare.js';
import { escapeXml, gateJUnit, renderJUnit, sloJUnit, type JUnitCase } from '../../../src/report/junit.js';
import type { RunResult } from '../../../src/results/types.js';
import { HOSTILE_SLICE_NAMES, syntheticResult, withHostileStrings, withSlices } from './fixtures.js';

const fixture = (name: string): RunResult =>
  JSON.parse(readFileSync(new URL(`../../fixtures/results/smoke-${name}.json`, import.meta.url), 'utf8')) as RunResult;

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescape(s: string, where: string): string {
  if (/[<]/.test(s)) throw new Error(`raw < in ${where}`);
  return s.replace(/&([^;]*);?/g, (m, name: string) => {
    if (!m.endsWith(';')) throw new Error(`bare & in ${where}`);
    if (name in ENTITIES) return ENTITIES[name]!;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(name);
    if (num) return String.fromCodePoint(num[1]!.startsWith('x') ? parseInt(num[1]!.slice(1), 16) : parseInt(num[1]!, 10));
    throw new Error(`unknown entity &${name}; in ${where}`);
  });
}

/** A strict parser for the XML subset JUnit uses: throws on anything not well-formed. */
function parseXml(xml: string): XmlElement {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml)) throw new Error('a character XML 1.0 forbids');
  let i = 0;
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/.exec(xml);
  if (!decl) throw new Error('missing XML declaration');
  i = decl[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)>/y;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (text.length > 0) {
      const t = unescape(text, 'text');
      if (stack.length === 0) {
        if (t.trim() !== '') throw new Error('text outside the root element');
      } else stack[stack.length - 1]!.text += t;
    }
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, closing, name, rawAttrs, selfClosing] = m;
    i = tag.lastIndex;
    if (closing) {
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      if (stack.length === 0) root = open;
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      attrs[a[1]!] = unescape(a[2]!, `attribute ${a[1]}`);
    }
    const el: XmlElement = { name: name!, attrs, children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
    else if (root) throw new Error('two root elements');
    if (selfClosing) {
      if (stack.length === 0) root = el;
    } else stack.push(el);
  }
  if (stack.length > 0 || !root) throw new Error(`unclosed <${stack[stack.length - 1]?.name}>`);
  return root;
}

const testcases = (root: XmlElement): XmlElement[] => root.children.flatMap((s) => s.children.filter((c) => c.name === 'testcase'));

describe('renderJUnit', () => {
  const nasty = `p(95)<500 & "quoted" 'single' </testcase><x> \u0001\u0008 ]]> \n line`;
  const cases: JUnitCase[] = [
    { name: nasty, classname: 'inferload.slo.a<b', passed: false, message: `failed: ${nasty}`, observed: 612.5, threshold: 'p(95)<500' },
    { name: 'ok', classname: 'inferload.slo.x', passed: true, message: 'held', observed: null, threshold: 'rate<0.001' },
  ];

  it('is well-formed and escapes every user string (markup, quotes, control characters)', () => {
    const xml = renderJUnit(`suite ${nasty}`, cases);
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '2', failures: '1', errors: '0' });
    const [bad, ok] = testcases(root);
    // round-trips, except the control characters XML cannot carry
    expect(bad!.attrs.name).toBe(nasty.replace(/[\u0001\u0008]/g, '\ufffd'));
    expect(bad!.attrs.classname).toBe('inferload.slo.a<b');
    const failure = bad!.children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).toContain('<x>');
    expect(failure.text).toContain('observed: 612.5');
    expect(failure.text).toContain('threshold: p(95)<500');
    expect(ok!.children.map((c) => c.name)).toEqual(['system-out']);
    expect(ok!.children[0]!.text).toContain('observed: no data');
    expect(xml).not.toContain('</testcase><x>');
  });

  it('escapes the five XML specials and replaces forbidden characters', () => {
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
    expect(escapeXml('a\u0000b\u001fc\td\ne')).toBe('a\ufffdb\ufffdc\td\ne');
    expect(escapeXml('\ud800 alone')).toBe('\ufffd alone');
    expect(escapeXml('😀')).toBe('😀');
  });

  it('renders an empty suite when there is nothing to test', () => {
    const root = parseXml(renderJUnit('empty', []));
    expect(root.attrs.tests).toBe('0');
    expect(testcases(root)).toEqual([]);
  });
});

describe('sloJUnit', () => {
  it('one testcase per SLO of the run, failures for the SLOs that failed', () => {
    const run = fixture('base-1');
    const root = parseXml(sloJUnit(run));
    const tcs = testcases(root);
    expect(tcs.map((t) => t.attrs.name)).toEqual(run.slo.map((s) => s.name));
    expect(tcs.every((t) => t.attrs.classname === 'inferload.slo.smoke')).toBe(true);
    expect(root.attrs.failures).toBe('0');

    const failing = structuredClone(run);
    failing.slo[0] = { ...failing.slo[0]!, passed: false, observed: 2500.5 };
    failing.slo[1] = { ...failing.slo[1]!, passed: false, observed: null };
    const froot = parseXml(sloJUnit(failing));
    expect(froot.attrs.failures).toBe('2');
    const [first, second] = testcases(froot);
    expect(first!.children[0]!.attrs.message).toBe(`${failing.slo[0].metric} ${failing.slo[0].threshold} failed: observed 2501 ms`);
    expect(second!.children[0]!.attrs.message).toMatch(/no data/);
  });
});

describe('sloJUnit with request classes', () => {
  const run = withSlices(syntheticResult(), { classes: true });

  it("makes each class's own SLOs test cases of the run's suite, grouped by a classname per class", () => {
    const root = parseXml(sloJUnit(run));
    const tcs = testcases(root);
    expect(root.children.map((c) => c.name)).toEqual(['testsuite']);
    expect(tcs.map((t) => t.attrs.name)).toEqual(run.slo.map((s) => s.name));
    expect(root.attrs.tests).toBe(String(run.slo.length));
    expect(root.attrs.failures).toBe(String(run.slo.filter((s) => !s.passed).length));
    const byClassname = (cn: string): string[] => tcs.filter((t) => t.attrs.classname === cn).map((t) => t.attrs.name!);
    expect(byClassname('inferload.slo.ramp')).toEqual(run.slo.filter((s) => s.class === undefined).map((s) => s.name));
    for (const cls of ['chat', 'rag', 'batch']) expect(byClassname(`inferload.slo.ramp.class.${cls}`)).toEqual(run.classes![cls]!.slo.map((s) => s.name));
    // a failed class SLO says which class failed it
    const chatTtft = tcs.find((t) => t.attrs.name === 'class chat: ttft_ms: p(95)<400')!;
    const verdict = run.classes!.chat!.slo[0]!;
    const failure = chatTtft.children.find((c) => c.name === 'failure');
    if (verdict.passed) expect(failure).toBeUndefined();
    else expect(failure!.attrs.message).toMatch(/^class chat: ttft_ms p\(95\)<400 failed: observed [\d.]+ ms$/);
  });

  it('escapes class names with XML specials, quotes and line breaks, and stays well-formed', () => {
    const hostile = withHostileStrings(run);
    const xml = sloJUnit(hostile);
    const tcs = testcases(parseXml(xml));
    expect(xml).not.toContain('<script>');
    const classes = Object.keys(hostile.classes!);
    expect(classes).toEqual(HOSTILE_SLICE_NAMES.slice(0, 3));
    for (const cls of classes) {
      // round-trips through the parser (bar the control characters XML 1.0 cannot carry)
      const expected = `inferload.slo.${hostile.run.scenario}.class.${cls}`.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '\ufffd');
      expect(tcs.filter((t) => t.attrs.classname === expected)).toHaveLength(hostile.classes![cls]!.slo.length);
    }
    const onlyXmlSpecials = structuredClone(run);
    const nasty = `a<b & "c" 'd' </testcase>\nnext`;
    for (const v of onlyXmlSpecials.slo) if (v.class === 'chat') Object.assign(v, { class: nasty, name: v.name.replace('class chat: ', `class ${nasty}: `) });
    const root = parseXml(sloJUnit(onlyXmlSpecials));
    const nastyCases = testcases(root).filter((t) => t.attrs.classname === `inferload.slo.ramp.class.${nasty}`);
    expect(nastyCases).toHaveLength(3);
    expect(nastyCases[0]!.attrs.name).toBe(`class ${nasty}: ttft_ms: p(95)<400`);
  });
});

describe('gateJUnit', () => {
  it('one testcase per compared metric; the regressed ones fail with what and by how much', () => {
    const c = compareRuns(fixture('base-3'), fixture('slow'));
    const root = parseXml(gateJUnit(c));
    const tcs = testcases(root);
    expect(tcs).toHaveLength(c.metrics.length);
    expect(Number(root.attrs.failures)).toBe(c.regressions.length);
    const tpot = tcs.find((t) => t.attrs.name === 'TPOT p50')!;
    const failure = tpot.children.find((x) => x.name === 'failure')!;
    expect(failure.attrs.message).toMatch(/^TPOT p50: 5\.\d+ ms → 7\.\d+ ms \(\+2\d\.\d %, worse, beyond noise, beyond tolerance\): REGRESSED$/);
    const thr = tcs.find((t) => t.attrs.name === 'request throughput')!;
    expect(thr.children.map((x) => x.name)).toEqual(['system-out']);
  });
});
