// JUnit XML for CI systems (GitHub, GitLab, Jenkins test reports): one testcase per SLO of a run,
// or one per compared metric of the regression gate. Every string is XML-escaped, and characters
// XML 1.0 forbids even when escaped (most control characters) are replaced.
import { escapeHtml } from './common.js';
import type { Comparison } from '../analysis/compare.js';
import type { RunResult } from '../results/types.js';
import { fmtObserved } from './common.js';
import { fmtChange, fmtMetricValue } from './compare-markdown.js';

/** One test case: a pass or a failure with its message, observed value and threshold. */
export interface JUnitCase {
  name: string;
  classname: string;
  passed: boolean;
  /** one line saying what happened (the failure message when it failed) */
  message: string;
  observed: number | string | null;
  threshold: string;
}

/** Characters XML 1.0 does not allow anywhere (not even as references). */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Escapes text for XML element content and double- or single-quoted attribute values. */
export function escapeXml(s: string): string {
  // XML 1.0 forbids most control characters even escaped; &#39; is fine in XML too
  return escapeHtml(String(s).replace(NOT_XML, '\ufffd'));
}

/** An attribute value: escaped, and line breaks kept as references (parsers normalise raw ones to spaces). */
const attr = (s: string): string => escapeXml(s).replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');

/** Renders a JUnit XML document with one suite. */
export function renderJUnit(suiteName: string, cases: JUnitCase[], opts: { timestamp?: string } = {}): string {
  const failures = cases.filter((c) => !c.passed).length;
  const counts = `tests="${cases.length}" failures="${failures}" errors="0" skipped="0"`;
  const ts = opts.timestamp ? ` timestamp="${attr(opts.timestamp)}"` : '';
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${attr(suiteName)}" ${counts} time="0">`,
    `  <testsuite name="${attr(suiteName)}" ${counts} time="0"${ts}>`,
  ];
  for (const c of cases) {
    const detail = `observed: ${c.observed === null ? 'no data' : String(c.observed)}\nthreshold: ${c.threshold}\n${c.message}`;
    lines.push(`    <testcase name="${attr(c.name)}" classname="${attr(c.classname)}" time="0">`);
    if (!c.passed) lines.push(`      <failure message="${attr(c.message)}" type="threshold">${escapeXml(detail)}</failure>`);
    lines.push(`      <system-out>${escapeXml(detail)}</system-out>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/**
 * The run's SLO verdicts as JUnit XML: one testcase per SLO (a scenario without SLOs gives an
 * empty suite). A request class's own SLOs (results.slo[] with `class`) are test cases of the same
 * suite, with classname `inferload.slo.<scenario>.class.<class>`: CI viewers group them per
 * class, and the suite's counts stay the run's verdict (one suite per class would split it).
 */
export function sloJUnit(result: RunResult): string {
  const base = `inferload.slo.${result.run.scenario}`;
  const cases = result.slo.map((s): JUnitCase => {
    const what = `${s.class !== undefined ? `class ${s.class}: ` : ''}${s.metric} ${s.threshold}`;
    const data = s.class !== undefined ? `class ${s.class} has no data for it` : 'the run has no data for it';
    return {
      name: s.name,
      classname: s.class !== undefined ? `${base}.class.${s.class}` : base,
      passed: s.passed,
      observed: s.observed,
      threshold: s.threshold,
      message: s.passed
        ? `${what} held: observed ${fmtObserved(s.metric, s.observed)}`
        : s.observed === null
          ? `${what} failed: ${data}`
          : `${what} failed: observed ${fmtObserved(s.metric, s.observed)}`,
    };
  });
  return renderJUnit(`inferload SLOs: ${result.run.scenario}`, cases, { timestamp: result.run.started_at });
}

/** The regression gate as JUnit XML: one testcase per compared metric, failed when it regressed. */
export function gateJUnit(c: Comparison): string {
  const classname = `inferload.compare.${c.scenario}`;
  const cases = c.metrics.map((m): JUnitCase => {
    const threshold = `worse by at most ${c.tolerance_pct} %, or within noise`;
    const noise =
      m.beyond_noise === null ? 'noise unknown' : m.beyond_noise ? 'beyond noise' : 'within noise';
    const message =
      m.delta === null
        ? `${m.label}: not compared (${m.note ?? 'no data'})`
        : `${m.label}: ${fmtMetricValue(m, m.baseline)} → ${fmtMetricValue(m, m.current)} (${fmtChange(m)}, ${m.direction}, ${noise}${
            m.beyond_tolerance ? ', beyond tolerance' : ', within tolerance'
          })${m.regressed ? ': REGRESSED' : ''}`;
    return { name: m.label, classname, passed: !m.regressed, message, observed: m.current, threshold };
  });
  return renderJUnit(`inferload regression gate: ${c.scenario}`, cases);
}
