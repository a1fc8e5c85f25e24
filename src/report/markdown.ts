// report.md: the run as GitHub-flavoured markdown, fit for a CI job summary or a pull-request
// comment. Headline, SLO verdicts, key percentiles, errors, server summary, generator health.
// Every user-supplied string is escaped, long lists are cut, and the whole stays under 1 MiB.
import { headroomText } from '../analysis/capacity.js';
import type { ClassResult, RunResult } from '../results/types.js';
import { signalUnit } from './charts.js';
import { prefixCacheText, promptTokensText } from './tokens.js';
import { tokenCells, tokenRows, TOKEN_COLUMNS, traceRateSparkline, workloadSourceText } from './workload.js';
import {
  bindingClasses,
  classEntries,
  correlationAlignmentText,
  chunkParsingText,
  collectWarnings,
  cutRequests,
  escapeMarkdown as md,
  fmt,
  fmtBytes,
  fmtMs,
  fmtObserved,
  fmtPct,
  LATENCY_ROWS,
  maxOf,
  minOf,
  modelEntries,
  SLICE_COLUMNS,
  sloLabel,
  sloTally,
  sloVerdict,
  turnColumns,
  turnEntries,
} from './common.js';

/** The most report.md may weigh, bytes (GitHub's job-summary limit is 1 MiB). */
export const MARKDOWN_MAX_BYTES = 1024 * 1024;

const LIMITS = { warnings: 30, steps: 60, errorClasses: 30, errorSamples: 20, endpoints: 20, signals: 40, gpus: 16, correlation: 30, alerts: 30, slices: 50, turns: 100 } as const;

/** A GFM table; cells must already be escaped. `align` per column: l or r. */
function table(head: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(align.map((a) => (a === 'r' ? '--:' : ':--'))), ...rows.map(line)].join('\n');
}

const more = (shown: number, total: number, what: string): string[] =>
  total > shown ? ['', `_… and ${total - shown} more ${what} (see results.json)._`] : [];

/** Renders report.md for a run. Pure. */
export function renderMarkdown(result: RunResult): string {
  const run = result.run;
  const s = result.summary;
  const r = s.requests;
  const out: string[] = [];

  out.push(`# inferload report: ${md(run.scenario, 200)}`, '');
  if (run.description) out.push(md(run.description, 1000), '');

  const warnings = collectWarnings(result);
  if (warnings.length > 0) {
    const kind = warnings.some((w) => w.level === 'error') ? 'CAUTION' : 'WARNING';
    out.push(`> [!${kind}]`);
    for (const w of warnings.slice(0, LIMITS.warnings)) {
      out.push(`> - ${md(w.text, 600)}`);
      for (const d of w.details.slice(0, LIMITS.warnings)) out.push(`>   - ${md(d, 400)}`);
      if (w.details.length > LIMITS.warnings) out.push(`>   - … and ${w.details.length - LIMITS.warnings} more`);
    }
    if (warnings.length > LIMITS.warnings) out.push(`> - … and ${warnings.length - LIMITS.warnings} more`);
    out.push('');
  }

  const verdict = sloVerdict(result);
  if (verdict === null) out.push('**No SLOs defined**: the scenario sets no thresholds, so there is no pass/fail verdict.', '');
  else if (verdict.failed === 0) out.push(`**PASS**: all ${verdict.total} SLO${verdict.total === 1 ? '' : 's'} held.`, '');
  else out.push(`**FAIL**: ${verdict.failed} of ${verdict.total} SLO${verdict.total === 1 ? '' : 's'} failed.`, '');
  // requests the run cut never reach the SLOs: a PASS over the rest must not read as "all fine"
  const cut = cutRequests(result);
  if (cut) out.push(`**Cut at the end:** ${md(cut.sentence + (verdict !== null && !cut.countedAsFailed ? ' The SLOs judged only the requests that ended.' : ''), 1200)}`, '');

  const t = run.target;
  const sim = t.simulator ? ` (built-in simulator, profile ${md(t.simulator.profile, 60)}, speed ${t.simulator.speed})` : '';
  const rate =
    s.rate.target_per_s !== null
      ? `${fmt(s.rate.achieved_per_s, 2)} req/s sent of ${fmt(s.rate.target_per_s, 2)} req/s intended`
      : `${fmt(s.rate.achieved_per_s, 2)} req/s sent (closed loop)`;
  const headRows: string[][] = [
    ['target', md(t.url, 300)],
    ['model', md(t.model, 300)],
    ['endpoint', `${md(t.endpoint, 40)}${sim}`],
    ['started', md(run.started_at, 40)],
    ['status', `${result.status}${result.status_reason ? `: ${md(result.status_reason, 300)}` : ''}`],
    ['duration', `${fmt(s.duration_s, 1)} s measured${run.warmup_s > 0 ? ` (after ${fmt(run.warmup_s, 0)} s warm-up)` : ''}`],
    [
      'requests',
      `${r.sent} sent · ${r.completed} completed · ${r.failed} failed${cut ? ` · **${cut.count} cut at the end${cut.countedAsFailed ? ' (unfinished, in failed)' : ''}**` : ''} · ${r.dropped} dropped${r.warmup_sent > 0 ? ` (+${r.warmup_sent} in warm-up, not counted)` : ''}`,
    ],
    ['throughput', `${fmt(s.throughput.request_per_s, 2)} req/s · ${fmt(s.throughput.output_tokens_per_s, 0)} output tok/s · ${fmt(s.throughput.total_tokens_per_s, 0)} total tok/s`],
    [
      'goodput',
      `${fmt(s.throughput.goodput_request_per_s, 2)} req/s${s.throughput.goodput_ratio !== null ? ` (${fmtPct(s.throughput.goodput_ratio)} of completed met every SLO)` : ''}`,
    ],
    ['arrival rate', rate],
    ['prompt tokens', md(promptTokensText(result), 1000)],
  ];
  out.push(table(['run', ''], headRows, ['l', 'l']), '');

  out.push(...capacityMarkdown(result));

  if (result.slo.length > 0) {
    out.push('## SLOs', '');
    // a request class's own SLOs: the class in a column of its own, the rest of the name beside it
    const byClass = result.slo.some((v) => v.class !== undefined);
    out.push(
      table(
        byClass ? ['SLO', 'class', 'observed', 'verdict'] : ['SLO', 'observed', 'verdict'],
        result.slo.map((v) => [
          `${md(byClass ? sloLabel(v) : v.name, 200)}${v.abort_on_fail ? ' (aborts the run)' : ''}`,
          ...(byClass ? [v.class !== undefined ? md(v.class, 100) : 'all requests'] : []),
          md(fmtObserved(v.metric, v.observed)),
          v.passed ? '✅ pass' : '❌ **FAIL**',
        ]),
        byClass ? ['l', 'l', 'r', 'l'] : ['l', 'r', 'l'],
      ),
      '',
    );
  }

  out.push('## Latency (ms)', '');
  out.push(
    table(
      ['metric', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'count'],
      LATENCY_ROWS.map(([label, key]) => {
        const l = s.latency_ms[key];
        return [label, ...[l.p50, l.p90, l.p95, l.p99, l.p999, l.max].map(fmtMs), String(l.count)];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'TTFT and E2E count from the intended send time (coordinated-omission correct); TTFT from send is what vLLM bench reports.',
    '',
  );

  out.push(...classesMarkdown(result), ...turnsMarkdown(result), ...modelsMarkdown(result));

  out.push(...workloadMarkdown(result));

  out.push(...spikeSoakMarkdown(result));

  out.push('## Errors', '');
  const errs = Object.entries(s.errors)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  if (errs.length === 0) out.push('No request failed.', '');
  else {
    const ended = r.completed + r.failed;
    out.push(
      table(
        ['class', 'requests', 'share of ended'],
        errs.slice(0, LIMITS.errorClasses).map(([k, n]) => [md(k, 100), String(n), ended > 0 ? fmtPct(n / ended, 2) : '-']),
        ['l', 'r', 'r'],
      ),
      ...more(LIMITS.errorClasses, errs.length, 'classes'),
      '',
    );
    const samples = result.error_samples ?? [];
    if (samples.length > 0) {
      out.push('Sample messages:', '');
      out.push(
        table(
          ['class', 'count', 'message'],
          samples.slice(0, LIMITS.errorSamples).map((e) => [md(e.error_class, 100), String(e.count), md(e.message, 300)]),
          ['l', 'r', 'l'],
        ),
        ...more(LIMITS.errorSamples, samples.length, 'messages'),
        '',
      );
    }
  }

  const b = result.error_budget;
  if (b) {
    out.push(`### Error budget (availability ${fmtPct(b.availability_slo, 2)} over ${b.period_days} days)`, '');
    out.push(
      table(
        ['error ratio', 'burn rate', 'budget per hour', 'budget gone after', 'alerts that would fire'],
        [
          [
            fmtPct(b.error_ratio, 3),
            fmt(b.burn_rate, 2),
            b.budget_minutes_per_hour === null ? '-' : `${fmt(b.budget_minutes_per_hour, 3)} of ${fmt(b.budget_minutes, 1)} min`,
            b.hours_to_exhaustion === null ? 'never' : `${fmt(b.hours_to_exhaustion, 1)} h`,
            b.alerts.filter((a) => a.would_fire).map((a) => md(a.name, 80)).join(', ') || 'none',
          ],
        ],
        ['r', 'r', 'r', 'r', 'l'],
      ),
      '',
    );
  }

  out.push('## Server', '');
  out.push(...serverMarkdown(result), '');

  const g = result.generator;
  out.push('## Load generator', '');
  out.push(
    table(
      ['event-loop lag p99', 'schedule lag p99', 'client CPU', 'max RSS', 'trustworthy'],
      [[`${fmtMs(g.event_loop_lag_p99_ms)} ms`, `${fmtMs(g.schedule_lag_p99_ms)} ms`, fmtPct(g.cpu_ratio, 0), fmtBytes(g.rss_max_bytes), g.valid ? 'yes' : '**no**']],
      ['r', 'r', 'r', 'r', 'l'],
    ),
    '',
  );
  for (const w of g.warnings.slice(0, LIMITS.warnings)) out.push(`- ${md(w, 500)}`);
  if (g.warnings.length > 0) out.push('');
  const parsing = chunkParsingText(g.chunk_parsing);
  if (parsing !== null) out.push(md(parsing, 500), '');

  out.push(
    '---',
    '',
    `<sub>inferload ${md(run.inferload_version, 40)} · run ${md(run.id, 120)} · seed ${run.seed} · charts in report.html beside this file</sub>`,
    '',
  );
  return capBytes(out.join('\n'), MARKDOWN_MAX_BYTES);
}

/** A class's own SLOs in a cell: `✅ 3/3`, `❌ **1/3**`, or `-` without any. */
function sloTallyCell(verdicts: ClassResult['slo']): string {
  const t = sloTally(verdicts);
  if (t === null) return '-';
  return t.passed === t.total ? `✅ ${t.passed}/${t.total}` : `❌ **${t.passed}/${t.total}**`;
}

/** Each request class's requests alone: counts, goodput, latency, throughput and its own SLOs. */
function classesMarkdown(result: RunResult): string[] {
  const classes = classEntries(result);
  if (classes.length === 0) return [];
  return [
    '## Request classes',
    '',
    table(
      ['class', 'weight', ...SLICE_COLUMNS.map((c) => c.head), 'SLOs passed'],
      classes.slice(0, LIMITS.slices).map(([name, c]) => [md(name, 100), fmtPct(c.weight), ...SLICE_COLUMNS.map((col) => col.cell(c.summary)), sloTallyCell(c.slo)]),
      ['l', 'r', ...SLICE_COLUMNS.map((): 'r' => 'r'), 'l'],
    ),
    ...more(LIMITS.slices, classes.length, 'classes'),
    '',
    "Weight: the class's share of arrivals. Goodput: the share of its completed requests that met every per-request SLO. Its SLOs are the run's, with the thresholds the class sets of its own, judged on its requests alone (listed under SLOs).",
    '',
  ];
}

/** The requests of each turn index of the sessions: what a growing conversation (and a prefix cache) does to TTFT. */
function turnsMarkdown(result: RunResult): string[] {
  const turns = turnEntries(result);
  if (turns.length === 0) return [];
  const cols = turnColumns(turns);
  return [
    '## Turns',
    '',
    table(
      cols.map((c) => c.head),
      turns.slice(0, LIMITS.turns).map((t) => cols.map((c) => c.cell(t))),
      cols.map((): 'r' => 'r'),
    ),
    ...more(LIMITS.turns, turns.length, 'turns'),
    '',
    "Turn 1 is a session's first request; each later turn sends the conversation so far, so its prompt grows. With a prefix cache, TTFT of later turns stays near turn 1's; without, it grows with the prompt.",
    '',
  ];
}

/** The requests sent to each model name of the mix (base model or adapter). */
function modelsMarkdown(result: RunResult): string[] {
  const models = modelEntries(result);
  if (models.length === 0) return [];
  return [
    '## Models',
    '',
    table(
      ['model', ...SLICE_COLUMNS.map((c) => c.head)],
      models.slice(0, LIMITS.slices).map(([name, m]) => [md(name, 200), ...SLICE_COLUMNS.map((col) => col.cell(m.summary))]),
      ['l', ...SLICE_COLUMNS.map((): 'r' => 'r')],
    ),
    ...more(LIMITS.slices, models.length, 'models'),
    '',
  ];
}

/** The capacity a sweep found: the headline figures, the finding, and its steps. */
/** Where the prompts came from, the tokens asked and served, a trace's arrival rate (nothing for older results). */
function workloadMarkdown(result: RunResult): string[] {
  const source = workloadSourceText(result);
  const rows = tokenRows(result);
  const prefix = prefixCacheText(result);
  if (source === null && rows.length === 0 && prefix === null) return [];
  const out: string[] = ['## Workload', ''];
  if (source !== null) out.push(md(source, 1500), '');
  if (prefix !== null) out.push(`Prefix cache: ${md(prefix, 600)}`, '');
  if (rows.length > 0) {
    out.push(
      table(['tokens per request', ...TOKEN_COLUMNS], rows.map((r) => [r.label, ...tokenCells(r.dist)]), ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
      '',
      'Asked: every measured request sent (prompt tokens as planned, max_tokens); served: the completed ones, from the server\'s usage.',
      '',
    );
  }
  const spark = traceRateSparkline(result);
  if (spark !== null) out.push(`Trace arrivals over the run (each bar ${fmt(spark.bucketS, 0)} s, highest ${fmt(spark.peak, 2)} req/s): \`${spark.bars}\``, '');
  return out;
}

function capacityMarkdown(result: RunResult): string[] {
  const cap = result.capacity;
  if (!cap) return [];
  const out: string[] = ['## Capacity at the SLOs (sweep)', '', md(cap.finding, 1000), ''];
  for (const w of (cap.warnings ?? []).slice(0, 5)) out.push(`> **Warning:** ${md(w, 400)}`, '');
  const binding = bindingClasses(result);
  if (binding !== null) {
    const at = `${fmt(binding.rate_per_s, 2)} req/s`;
    const names = binding.names.slice(0, LIMITS.slices).map((n) => md(n, 100));
    out.push(
      binding.names.length === 0
        ? `**Binding class:** none. At ${at}, the first rate not sustained, no class's own SLO failed: the whole-run limits bound first.`
        : `**Binding class${names.length === 1 ? '' : 'es'}:** ${names.join(', ')}. At ${at}, the first rate not sustained, ${names.length === 1 ? 'its' : 'their'} own SLOs failed first.`,
      '',
    );
  }
  const gpus = cap.gpu_count !== null ? `${cap.gpu_count}${cap.gpu_count_source ? ` (from the ${cap.gpu_count_source})` : ''}` : 'unknown';
  out.push(
    table(
      ['sustainable rate', 'output tokens', 'per GPU', 'GPUs', 'knee'],
      [
        [
          cap.sustainable_request_per_s !== null ? `${fmt(cap.sustainable_request_per_s, 2)} req/s` : '**none**',
          cap.sustainable_output_tokens_per_s !== null ? `${fmt(cap.sustainable_output_tokens_per_s, 0)} tok/s` : '-',
          cap.per_gpu.request_per_s !== null ? `${fmt(cap.per_gpu.request_per_s, 2)} req/s · ${fmt(cap.per_gpu.output_tokens_per_s, 0)} tok/s` : '-',
          md(gpus, 60),
          cap.knee ? `≈ ${fmt(cap.knee.rate_per_s, 1)} req/s (${md(cap.knee.metric, 40)})` : '-',
        ],
      ],
      ['r', 'r', 'r', 'l', 'l'],
    ),
    '',
  );
  const steps = [...cap.steps].sort((a, b) => a.rate_per_s - b.rate_per_s);
  out.push(
    table(
      ['offered (req/s)', 'sustainable', 'completed (req/s)', 'TTFT p95 (ms)', 'ITL p95 (ms)', 'E2E p95 (ms)', 'errors', 'why not', 'headroom'],
      steps
        .slice(0, LIMITS.steps)
        .map((st) => [
          fmt(st.rate_per_s, 2),
          st.sustainable ? 'yes' : '**no**',
          fmt(st.request_per_s, 2),
          fmtMs(st.ttft_p95_ms),
          fmtMs(st.itl_p95_ms),
          fmtMs(st.e2e_p95_ms),
          fmtPct(st.error_ratio, 2),
          st.reasons.slice(0, 3).map((r) => md(r, 150)).join('; '),
          headroomText(st.headroom),
        ]),
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'l', 'r'],
    ),
    ...more(LIMITS.steps, steps.length, 'steps'),
    '',
    ...(cap.headroom_note ? [`Headroom: ${md(cap.headroom_note, 400)}.`, ''] : []),
    'The tables below are those of the best sustainable step.',
    '',
  );
  return out;
}

/** What the spike and soak analyses found, when the run had a spike or was long enough to drift. */
function spikeSoakMarkdown(result: RunResult): string[] {
  const out: string[] = [];
  const sp = result.spike;
  if (sp) {
    const unit = sp.unit === 'vus' ? 'users' : 'req/s';
    out.push('## Spike', '', md(sp.finding, 1000), '');
    out.push(
      table(
        ['load', 'TTFT p95 before / peak (ms)', 'time to recover', 'peak queue depth', 'failed / dropped in spike'],
        [
          [
            `${fmt(sp.base_level, 1)} → ${fmt(sp.peak_level, 1)} ${unit} (${fmt(sp.spike_start_s, 0)}–${fmt(sp.spike_end_s, 0)} s)`,
            `${fmtMs(sp.pre_spike_ttft_p95_ms)} / ${fmtMs(sp.peak_ttft_p95_ms)}`,
            sp.time_to_recover_s !== null ? `${fmt(sp.time_to_recover_s, 0)} s` : '**did not recover**',
            sp.peak_queue_depth === null ? 'not scraped' : fmt(sp.peak_queue_depth, 0),
            `${sp.failed_during_spike} / ${sp.dropped_during_spike}`,
          ],
        ],
        ['l', 'r', 'r', 'r', 'r'],
      ),
      '',
    );
  }
  const so = result.soak;
  if (so && so.verdict !== 'too short') {
    out.push(`## Soak: ${so.verdict}`, '', md(so.finding, 1000), '');
    const lines = Object.entries(so.series).sort((a, b) => Number(b[1].drifting) - Number(a[1].drifting) || Math.abs(b[1].relative_change) - Math.abs(a[1].relative_change));
    out.push(
      table(
        ['series', 'change per hour', 'mean', 'change over the run', 'r²', 'drifting'],
        lines.slice(0, LIMITS.signals).map(([k, d]) => [md(k, 100), fmt(d.slope_per_hour, 3), fmt(d.mean, 3), fmtPct(d.relative_change), fmt(d.r2, 2), d.drifting ? '**yes**' : 'no']),
        ['l', 'r', 'r', 'r', 'r', 'l'],
      ),
      ...more(LIMITS.signals, lines.length, 'series'),
      '',
    );
    if (so.generator_rss_growth_ratio !== null) out.push(`Load generator memory grew ${fmtPct(so.generator_rss_growth_ratio)} after its first minute (it must stay flat).`, '');
  }
  return out;
}

/** The server part: endpoints, signal ranges over the run, per-GPU figures, correlation, alerts. */
function serverMarkdown(result: RunResult): string[] {
  const server = result.server;
  const endpoints = server?.endpoints ?? [];
  const out: string[] = [];
  const keys = new Set<string>();
  for (const w of result.windows) for (const k of Object.keys(w.server ?? {})) keys.add(k);
  if (endpoints.length === 0 && keys.size === 0) {
    out.push('_No server metrics were scraped._ Pass `--metrics URL` (the server\'s Prometheus endpoint, a DCGM exporter) to see queue depth, KV-cache usage and GPU utilisation beside the latency.');
    return out;
  }
  if (endpoints.length > 0) {
    out.push(
      table(
        ['metrics endpoint', 'profile', 'scrapes', 'failures', 'notes'],
        endpoints
          .slice(0, LIMITS.endpoints)
          .map((e) => [
            md(e.url, 200),
            e.profiles.length > 0 ? e.profiles.map((p) => md(p, 40)).join(', ') : 'unknown',
            String(e.scrapes),
            String(e.failures),
            [e.last_error ? `last error: ${md(e.last_error, 200)}` : '', ...e.warnings.slice(0, 5).map((w) => md(w, 200))].filter((x) => x).join(' · '),
          ]),
        ['l', 'l', 'r', 'r', 'l'],
      ),
      ...more(LIMITS.endpoints, endpoints.length, 'endpoints'),
      '',
    );
  }
  if (keys.size === 0) out.push('_No server signal was recorded over time._', '');
  else {
    const rows: string[][] = [];
    for (const k of [...keys].sort().slice(0, LIMITS.signals)) {
      const vals = result.windows.map((w) => w.server?.[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (vals.length === 0) continue;
      const { unit, scale } = signalUnit(k);
      const f = (v: number): string => fmt(v * scale, Math.abs(v * scale) < 10 ? 2 : 1);
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      rows.push([md(k, 100), unit, f(minOf(vals)), f(mean), f(maxOf(vals))]);
    }
    out.push(
      'Server signals over the run (per-window values):',
      '',
      table(['signal', 'unit', 'min', 'mean', 'max'], rows, ['l', 'l', 'r', 'r', 'r']),
      ...more(LIMITS.signals, keys.size, 'signals'),
      '',
    );
  }
  const gpus = new Map<string, { util: number[]; mem: number[] }>();
  for (const w of result.windows)
    for (const g of w.gpus ?? []) {
      const id = String(g.gpu);
      const e = gpus.get(id) ?? { util: [], mem: [] };
      if (typeof g.gpu_utilization_ratio === 'number') e.util.push(g.gpu_utilization_ratio);
      if (typeof g.gpu_memory_used_bytes === 'number') e.mem.push(g.gpu_memory_used_bytes);
      gpus.set(id, e);
    }
  if (gpus.size > 0) {
    const avg = (a: number[]): number | null => (a.length === 0 ? null : a.reduce((x, y) => x + y, 0) / a.length);
    const mx = (a: number[]): number | null => (a.length === 0 ? null : maxOf(a));
    out.push(
      table(
        ['GPU', 'utilisation mean', 'utilisation max', 'memory used max'],
        [...gpus.entries()].slice(0, LIMITS.gpus).map(([id, e]) => [md(id, 60), fmtPct(avg(e.util), 0), fmtPct(mx(e.util), 0), fmtBytes(mx(e.mem))]),
        ['l', 'r', 'r', 'r'],
      ),
      ...more(LIMITS.gpus, gpus.size, 'GPUs'),
      '',
    );
  }
  if (server?.tokens) {
    const tk = server.tokens;
    out.push(
      `Output tokens: client ${tk.client_output} · server ${tk.server_generation}${tk.diff_ratio !== null ? ` · difference ${fmtPct(tk.diff_ratio, 2)}` : ''}`,
      '',
    );
  }
  const corr = Object.entries(result.correlation ?? {})
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  if (corr.length > 0) {
    out.push(
      table(
        ['client metric vs server signal', 'pearson r', 'client series'],
        corr.slice(0, LIMITS.correlation).map(([k, v]) => [md(k, 120), fmt(v, 2), correlationAlignmentText(result, k)]),
        ['l', 'r', 'l'],
      ),
      ...more(LIMITS.correlation, corr.length, 'pairs'),
      '',
    );
  }
  const alerts = server?.alerts ?? [];
  if (alerts.length > 0) {
    out.push(
      table(
        ['alert', 'severity', 'condition', 'first held at', 'longest held', 'fired'],
        alerts
          .slice(0, LIMITS.alerts)
          .map((a) => [
            md(a.name, 120),
            md(a.severity, 20),
            md(a.condition, 200),
            a.first_held_s === null ? '-' : `${fmt(a.first_held_s, 0)} s`,
            `${fmt(a.held_s, 0)} s`,
            a.fired ? '**FIRED**' : 'no',
          ]),
        ['l', 'l', 'l', 'r', 'r', 'l'],
      ),
      ...more(LIMITS.alerts, alerts.length, 'alerts'),
      '',
    );
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Cuts text at a line boundary so that it stays within `max` bytes of UTF-8, with a note. */
export function capBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  const note = '\n\n_… report cut at 1 MiB; the full data is in results.json._\n';
  const budget = max - Buffer.byteLength(note, 'utf8');
  const buf = Buffer.from(text, 'utf8').subarray(0, budget);
  let cut = buf.toString('utf8');
  // a multi-byte character split at the end decodes as U+FFFD: drop it with the partial line
  const nl = cut.lastIndexOf('\n');
  if (nl > 0) cut = cut.slice(0, nl);
  return cut + note;
}
