// history.md: the history as GitHub-flavoured markdown (a job summary, a wiki page): the newest
// run's verdict, every run that regressed with what and by how much, a table of verdicts per run
// and one of the figures per run. Every string from a scenario, a server or a file name is escaped.
import { escapeMarkdown as md } from './common.js';
import { fmtChange, fmtMetricValue } from './compare-markdown.js';
import { HISTORY_METRIC_INFO, historyNotes, newestSentence, regressionLine, type History, type HistoryRun } from './history.js';

/** Runs listed in the tables at most (the newest); history.json has them all. Keeps history.md well under 1 MiB. */
export const HISTORY_MARKDOWN_MAX_RUNS = 400;
/** Runs that regressed listed with their changes at most (the newest). */
export const HISTORY_MARKDOWN_MAX_REGRESSIONS = 100;

function table(head: string[], rows: string[][], align: ('l' | 'r')[]): string[] {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(align.map((a) => (a === 'r' ? '--:' : ':--'))), ...rows.map(line)];
}

/**
 * A link to the run's report, or '-'. The href is a relative path with every segment
 * percent-encoded (parentheses too): nothing in it can end the link or mean anything else.
 */
const reportLink = (r: HistoryRun): string => (r.report ? `[report](${r.report})` : '-');

const verdictCell = (r: HistoryRun): string => {
  switch (r.verdict) {
    case 'regression':
      return '❌ **regression**';
    case 'improvement':
      return '✅ improvement';
    case 'no significant change':
      return '✅ no significant change';
    case 'not judged':
      return 'not judged';
    default: {
      const never: never = r.verdict;
      return String(never);
    }
  }
};

/** Renders history.md. Pure. */
export function renderHistoryMarkdown(h: History): string {
  const out: string[] = [];
  const first = h.runs[0]!;
  const last = h.runs[h.runs.length - 1]!;
  const all = h.metrics.length === Object.keys(HISTORY_METRIC_INFO).length;
  out.push(`# inferload history: ${md(h.scenario, 200)}`, '');
  out.push(`**${h.newest.verdict === 'regression' ? 'REGRESSION' : h.newest.verdict === 'not judged' ? 'NOT JUDGED' : 'OK'}**: ${md(newestSentence(h), 2000)}`, '');
  out.push(
    `${h.runs.length} runs from ${md(first.night)} to ${md(last.night)}. Each run is judged as inferload compare would have judged it against a baseline ` +
      `of the last ${h.baseline_runs} runs before it that passed the gate (a regression never joins it): tolerance ${h.tolerance_pct} %, ` +
      `run-to-run noise. ${all ? 'All metrics.' : `Metrics: ${h.metrics.map((m) => HISTORY_METRIC_INFO[m].label).join(', ')}.`}`,
    '',
  );

  out.push('## Regressions', '');
  if (h.regressed.length === 0) out.push('No run regressed.', '');
  else {
    const left = h.regressed.length - HISTORY_MARKDOWN_MAX_REGRESSIONS;
    if (left > 0) out.push(`_The ${left} oldest runs that regressed are left out here; the tables below and history.json have them._`, '');
    for (const reg of h.regressed.slice(-HISTORY_MARKDOWN_MAX_REGRESSIONS)) {
      const r = h.runs.find((x) => x.id === reg.id)!;
      out.push(`- **${md(regressionLine(r), 1000)}**: run ${md(r.id, 120)} ${reportLink(r)}`);
      for (const c of r.regressions) out.push(`  - ${md(c.text, 300)}`);
    }
    out.push('');
  }

  const shown = h.runs.slice(-HISTORY_MARKDOWN_MAX_RUNS);
  const cut = h.runs.length - shown.length;
  const cutNote = cut > 0 ? [`_The ${cut} oldest runs are left out of these tables; history.json has every run._`, ''] : [];

  out.push('## Verdicts per run', '', ...cutNote);
  out.push(
    ...table(
      ['Run started', 'Run', 'Status', 'Gate', 'What changed', 'Against', 'Report'],
      shown.map((r) => [
        md(r.night),
        md(r.id, 120),
        md(r.status),
        verdictCell(r),
        r.verdict === 'not judged'
          ? md(r.not_judged ?? '', 300)
          : r.regressions.length > 0
            ? r.regressions.map((c) => `**${md(`${c.label} ${fmtChange(c)}`)}**`).join(', ')
            : r.improvements.length > 0
              ? r.improvements.map((c) => md(`${c.label} ${fmtChange(c)}`)).join(', ')
              : '-',
        r.baseline_runs.length > 0 ? `${r.baseline_runs.length} run${r.baseline_runs.length === 1 ? '' : 's'}` : '-',
        reportLink(r),
      ]),
      ['l', 'l', 'l', 'l', 'l', 'r', 'l'],
    ),
    '',
  );

  const metrics = h.metrics.filter((m) => h.runs.some((r) => r.values[m] !== null));
  out.push('## Figures per run', '', ...cutNote);
  out.push(
    ...table(
      ['Run started', ...metrics.map((m) => md(HISTORY_METRIC_INFO[m].label))],
      shown.map((r) => [
        md(r.night),
        ...metrics.map((m) => {
          const v = fmtMetricValue(HISTORY_METRIC_INFO[m], r.values[m]).replace('no data', '-');
          const reg = r.regressions.find((c) => c.metric === m);
          return reg ? `**${v} (${fmtChange(reg)})**` : v;
        }),
      ]),
      ['l', ...metrics.map(() => 'r' as const)],
    ),
    '',
  );

  const notes = historyNotes(h).map((n) => `- ${md(n, 1200)}`);
  if (notes.length > 0) out.push('## Notes', '', ...notes.slice(-HISTORY_MARKDOWN_MAX_REGRESSIONS * 2), '');
  out.push(`_Generated by inferload from ${h.runs.length} saved runs; history.json beside this file has the data, history.html the charts._`, '');
  return out.join('\n');
}
