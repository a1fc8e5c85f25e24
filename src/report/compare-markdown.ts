// The regression gate as GitHub-flavoured markdown (stdout of `inferload compare`, a CI job
// summary, a pull-request comment): a verdict line naming what regressed and by how much, then one
// table row per metric with its noise band. User strings (scenario, run ids, notes) are escaped.
import type { Comparison, MetricComparison } from '../analysis/compare.js';
import { escapeMarkdown as md, fmt, fmtMs, fmtPct } from './common.js';

/** A compared value with its unit, for people. */
export function fmtMetricValue(m: Pick<MetricComparison, 'unit'>, v: number | null): string {
  if (v === null) return 'no data';
  switch (m.unit) {
    case 'ms':
      return `${fmtMs(v)} ms`;
    case 'req/s':
      return `${fmt(v, 2)} req/s`;
    case 'tok/s':
      return `${fmt(v, 1)} tok/s`;
    case 'ratio':
      return fmtPct(v, v !== 0 && Math.abs(v) < 0.01 ? 3 : 2);
    default: {
      const never: never = m.unit;
      return String(never);
    }
  }
}

const signed = (x: number, digits: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;

/** A change as a signed percentage ("+25.3 %"); for a zero baseline, the absolute change. */
export function fmtChange(m: Pick<MetricComparison, 'change_ratio' | 'delta' | 'unit'>): string {
  if (m.change_ratio !== null) return `${signed(m.change_ratio * 100, 1)} %`;
  if (m.delta === null) return '-';
  return m.unit === 'ratio' ? `${signed(m.delta * 100, 2)} pp` : `${signed(m.delta, 3)} ${m.unit}`;
}

/** The noise band as the changes it allows: relative to the baseline when it can be. */
export function fmtNoiseBand(m: MetricComparison): string {
  if (!m.noise_band) return 'unknown';
  const { low, high } = m.noise_band;
  if (m.baseline !== null && m.baseline !== 0) {
    const b = Math.abs(m.baseline);
    const lo = (low / b) * 100;
    const hi = (high / b) * 100;
    if (Math.abs(lo + hi) < 0.05) return `±${Math.abs(hi).toFixed(1)} %`;
    return `${signed(lo, 1)} % … ${signed(hi, 1)} %`;
  }
  return m.unit === 'ratio' ? `${signed(low * 100, 2)} … ${signed(high * 100, 2)} pp` : `${signed(low, 3)} … ${signed(high, 3)}`;
}

/** What the row means, in a few words. */
export function rowVerdict(m: MetricComparison): string {
  if (m.delta === null) return `not compared: ${m.note ?? 'no data'}`;
  const unknown = m.beyond_noise === null ? ' (noise unknown)' : '';
  if (m.regressed) return `**REGRESSED**${unknown}`;
  if (m.direction === 'same') return 'same';
  if (m.beyond_noise === false) return 'within noise';
  if (!m.beyond_tolerance) return `${m.direction}, within tolerance${unknown}`;
  return m.direction === 'better' ? `improved${unknown}` : `${m.direction}${unknown}`;
}

const byHowMuch = (m: MetricComparison): string =>
  `${m.label} ${fmtChange(m)} (${fmtMetricValue(m, m.baseline)} → ${fmtMetricValue(m, m.current)})`;

/** The one-line verdict: what regressed (or improved) and by how much. */
export function verdictLine(c: Comparison): string {
  const n = c.metrics.length;
  const find = (keys: string[]): MetricComparison[] => c.metrics.filter((m) => keys.includes(m.metric));
  switch (c.verdict) {
    case 'regression': {
      const rows = find(c.regressions);
      return `**Regression**: ${rows.length} of ${n} metrics got worse beyond noise and the ${c.tolerance_pct} % tolerance: ${rows.map(byHowMuch).join('; ')}.`;
    }
    case 'improvement': {
      const rows = find(c.improvements);
      return `**Improvement**: no regression; ${rows.length} of ${n} metrics got better beyond noise and the ${c.tolerance_pct} % tolerance: ${rows.map(byHowMuch).join('; ')}.`;
    }
    case 'no significant change': {
      const moved = c.metrics.filter((m) => m.beyond_noise === true && m.direction !== 'same');
      const tail =
        moved.length > 0
          ? ` (${moved.length} moved beyond noise but within tolerance: ${moved.map((m) => `${m.label} ${fmtChange(m)}`).join(', ')})`
          : '';
      return `**No significant change**: none of ${n} metrics moved beyond both noise and the ${c.tolerance_pct} % tolerance${tail}.`;
    }
    default: {
      const never: never = c.verdict;
      return String(never);
    }
  }
}

/** The comparison as markdown. */
export function renderCompareMarkdown(c: Comparison): string {
  const ids = (list: { id: string }[]): string =>
    list.length <= 3 ? list.map((r) => `\`${md(r.id, 120)}\``).join(', ') : `\`${md(list[0]!.id, 120)}\` … \`${md(list[list.length - 1]!.id, 120)}\``;
  const runs = c.baseline.runs.length;
  const lines = [
    `## inferload compare: ${md(c.scenario, 120)}`,
    '',
    verdictLine(c),
    '',
    `Baseline: ${runs} run${runs === 1 ? '' : 's'} (${ids(c.baseline.runs)}). Current: ${ids([c.current])}. ` +
      `Tolerance: ${c.tolerance_pct} %. Noise: ${md(c.noise.description, 400)}.`,
    '',
    '| Metric | Baseline | Current | Change | Noise band | Verdict |',
    '| :-- | --: | --: | --: | --: | :-- |',
  ];
  for (const m of c.metrics)
    lines.push(
      `| ${md(m.label)} | ${fmtMetricValue(m, m.baseline)} | ${fmtMetricValue(m, m.current)} | ${fmtChange(m)} | ${fmtNoiseBand(m)} | ${rowVerdict(m)} |`,
    );
  const rowNotes = c.metrics.filter((m) => m.note !== null && m.delta !== null);
  if (c.notes.length > 0 || rowNotes.length > 0) {
    lines.push('', '**Notes**', '');
    for (const n of c.notes) lines.push(`- ${md(n, 600)}`);
    for (const m of rowNotes) lines.push(`- ${md(m.label)}: ${md(m.note ?? '', 300)}`);
  }
  lines.push('');
  return lines.join('\n');
}
