// The console summary: what a person reads in five seconds at the end of a run. A pure
// function of the RunResult; the CLI prints it.
import type { ClassResult, RunResult } from '../results/types.js';
import { classEntries, cutRequests, modelEntries, sloTally, turnEntries } from './common.js';
import { prefixCacheText, promptTokensText } from './tokens.js';
import { workloadConsoleText } from './workload.js';

const fmt = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

/** Strips control characters so that server- or scenario-supplied text cannot drive the terminal. */
export function safeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/** Most classes (and models) listed, one line each; most turns on the turns line. */
const SLICES_MAX = 12;
const TURNS_MAX = 16;

/** A class or model name for the terminal: no control characters, and short. */
const sliceName = (s: string): string => {
  const flat = safeText(s);
  return flat.length > 40 ? `${flat.slice(0, 39)}…` : flat;
};

/** A latency in ms for the summary lines: `-` without data. */
const ms = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '-' : `${fmt(v, v < 10 ? 2 : 0)} ms`);

/**
 * A line per slice (class or model), names aligned: completed requests, TTFT p95, and for a class
 * its own SLOs; `label` heads the first line.
 */
function sliceRows(label: string, what: string, slices: [string, { summary: RunResult['summary']; slo?: ClassResult['slo'] }][]): string[] {
  if (slices.length === 0) return [];
  const shown = slices.slice(0, SLICES_MAX);
  const width = Math.min(40, Math.max(...shown.map(([n]) => sliceName(n).length)));
  const out = shown.map(([n, c], i) => {
    const t = c.slo === undefined ? undefined : sloTally(c.slo);
    const slo = t === undefined ? '' : t === null ? ', no SLOs' : `, SLOs ${t.passed}/${t.total} ${t.passed === t.total ? 'pass' : 'FAIL'}`;
    return `  ${pad(i === 0 ? label : '', 11)}${pad(sliceName(n), width)}  ${lpad(String(c.summary.requests.completed), 7)} completed, TTFT p95 ${lpad(ms(c.summary.latency_ms.ttft.p95), 9)}${slo}`;
  });
  if (slices.length > SLICES_MAX) out.push(`             … and ${slices.length - SLICES_MAX} more ${what}`);
  return out;
}

/** The slices of the run, when it has them: a line per class and per model, the turns' TTFT p95 in one line. */
function sliceLines(result: RunResult): string[] {
  const out: string[] = [...sliceRows('classes', 'classes', classEntries(result))];
  const turns = turnEntries(result);
  if (turns.length > 0) {
    const shown = turns.slice(0, TURNS_MAX).map((t) => `${t.turn}: ${ms(t.summary.latency_ms.ttft.p95)}`);
    out.push(`  turns      TTFT p95 by turn  ${shown.join(' · ')}${turns.length > TURNS_MAX ? ` · … ${turns.length - TURNS_MAX} more` : ''}`);
  }
  out.push(...sliceRows('models', 'models', modelEntries(result)));
  return out.length > 0 ? ['', ...out] : [];
}

export function renderConsoleSummary(result: RunResult, files: { dir: string }): string {
  const s = result.summary;
  const r = s.requests;
  const lines: string[] = [];
  const status =
    result.status === 'complete'
      ? result.status_reason
        ? ` [${safeText(result.status_reason)}]`
        : ''
      : ` [${result.status.toUpperCase()}${result.status_reason ? `: ${safeText(result.status_reason)}` : ''}]`;
  lines.push(
    `inferload ${safeText(result.run.scenario)} → ${safeText(result.run.target.url)} (${safeText(result.run.target.model)}, ${safeText(result.run.target.endpoint)})${status}`,
  );
  lines.push(
    `  requests   ${r.sent} sent, ${r.completed} completed, ${r.failed} failed` +
      ((s.errors.unfinished ?? 0) > 0 ? ` (${s.errors.unfinished} unfinished at the graceful stop)` : '') +
      `, ${r.dropped} dropped` +
      ((r.interrupted ?? 0) > 0 ? `, ${r.interrupted} cut at the end` : '') +
      (r.warmup_sent > 0 ? `  (+${r.warmup_sent} in warm-up, not counted)` : '') +
      `  over ${fmt(s.duration_s)} s`,
  );
  const rate = s.rate.target_per_s !== null ? `   arrivals ${fmt(s.rate.achieved_per_s, 2)}/s of ${fmt(s.rate.target_per_s, 2)}/s intended` : '';
  lines.push(
    `  throughput ${fmt(s.throughput.request_per_s, 2)} req/s, ${fmt(s.throughput.output_tokens_per_s, 0)} output tok/s, goodput ${fmt(s.throughput.goodput_request_per_s, 2)} req/s${rate}`,
  );
  // right under the counts, before any latency: the latencies below leave these requests out
  const cut = cutRequests(result);
  if (cut) lines.push(`  CUT        ${safeText(cut.sentence)}`);
  lines.push(`  prompts    ${safeText(promptTokensText(result))}`);
  const prefix = prefixCacheText(result);
  if (prefix !== null) lines.push(`  prefix     ${safeText(prefix)}`);
  const workload = workloadConsoleText(result);
  if (workload !== null) lines.push(`  workload   ${safeText(workload)}`);
  lines.push('');
  lines.push(`  ${pad('latency (ms)', 16)}${['p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'count'].map((h) => lpad(h, 10)).join('')}`);
  const rows: [string, keyof typeof s.latency_ms][] = [
    ['TTFT', 'ttft'],
    ['TTFT from send', 'ttft_sent'],
    ['ITL', 'itl'],
    ['TPOT', 'tpot'],
    ['E2E', 'e2e'],
    ['schedule lag', 'schedule_lag'],
  ];
  for (const [label, key] of rows) {
    const l = s.latency_ms[key];
    lines.push(
      `  ${pad(label, 16)}${[l.p50, l.p90, l.p95, l.p99, l.p999, l.max].map((v) => lpad(fmt(v, v !== null && v < 10 ? 2 : 1), 10)).join('')}${lpad(String(l.count), 10)}`,
    );
  }
  lines.push(...sliceLines(result));
  const errs = Object.entries(s.errors).filter(([, n]) => n > 0);
  if (errs.length > 0) {
    lines.push('');
    lines.push(`  errors     ${errs.map(([k, n]) => `${safeText(k)} ${n}`).join(', ')}`);
    for (const e of result.error_samples.slice(0, 3)) lines.push(`             ${safeText(e.error_class)} x${e.count}: ${safeText(e.message).slice(0, 160)}`);
  }
  if (result.slo.length > 0) {
    lines.push('');
    const failed = result.slo.filter((v) => !v.passed);
    lines.push(`  SLOs       ${result.slo.length - failed.length}/${result.slo.length} passed`);
    for (const v of result.slo)
      lines.push(`    ${v.passed ? 'pass' : 'FAIL'}  ${pad(safeText(v.name), 32)} observed ${v.observed === null ? 'no data' : fmt(v.observed, 3)}`);
  }
  const g = result.generator;
  if (!g.valid) {
    lines.push('');
    lines.push('  WARNING: the load generator may have been the bottleneck; latencies may be its own:');
    for (const w of g.warnings) lines.push(`    - ${safeText(w)}`);
  }
  lines.push('');
  lines.push(`  results    ${safeText(files.dir)}/results.json  (requests.jsonl, report.html and report.md beside it)`);
  return lines.join('\n');
}
