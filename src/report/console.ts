// The console summary: what a person reads in five seconds at the end of a run. A pure
// function of the RunResult; the CLI prints it.
import type { RunResult } from '../results/types.js';
import { cutRequests } from './common.js';
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
