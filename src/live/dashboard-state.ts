// What the live dashboard shows of a (partial) RunResult: the report's charts (the same vega-lite
// specs, from report/charts.ts), the SLO verdicts, the load generator's health, headline numbers
// and warnings. Every string from the run is cut to one line of bounded length here; the page puts
// it in the DOM as text (textContent), never as markup. Pure, apart from the cache of each chart's
// JSON that tells the page which charts changed.
import { buildCharts, type ChartSection } from '../report/charts.js';
import { chunkParsingText, collectWarnings, fmt, fmtBytes, fmtMs, fmtObserved, fmtPct, oneLine, sloLabel, sloVerdict } from '../report/common.js';
import type { RunResult, RunStatus } from '../results/types.js';

/** The engine's progress between checkpoints (from LiveSink.tick), as the page shows it. */
export interface LiveProgress {
  elapsed_s: number;
  in_flight: number;
  sent: number;
  ended: number;
  failed: number;
  dropped: number;
}

export interface LiveTile {
  k: string;
  v: string;
  s: string;
  cls: '' | 'bad' | 'warn';
}

export interface LiveSlo {
  /** the request class it judges alone, or null for the whole run */
  class: string | null;
  /** the SLO's own name when it is not just `metric: threshold` */
  name: string | null;
  metric: string;
  threshold: string;
  observed: string;
  passed: boolean;
  abort_on_fail: boolean;
}

export interface LiveHealth {
  valid: boolean;
  rows: [string, string][];
  warnings: string[];
  note: string | null;
}

/** One chart: the report's id, section, title and caption; `rev` changes when its spec does. */
export interface LiveChartMeta {
  id: string;
  section: ChartSection;
  title: string;
  caption: string;
  rev: number;
}

/** Everything but the charts' specs (those are serialized one by one, see DashboardState). */
export interface LiveStateHead {
  seq: number;
  status: RunStatus;
  status_reason: string | null;
  run: {
    scenario: string;
    description: string | null;
    id: string;
    target: string;
    model: string;
    endpoint: string;
    started_at: string;
    shard: string | null;
    window_s: number;
    warmup_s: number;
  };
  /** seconds since the run's start that the charts reach (end of the last closed window) */
  as_of_s: number;
  verdict: { passed: number; failed: number; total: number } | null;
  tiles: LiveTile[];
  warnings: { level: 'error' | 'warning'; text: string; details: string[] }[];
  slo: LiveSlo[];
  health: LiveHealth;
}

const SLO_MAX = 200;
const WARNINGS_MAX = 20;
const DETAILS_MAX = 10;
const HEALTH_WARNINGS_MAX = 50;

/** The headline numbers (the report's first tiles, in its words). */
function tiles(result: RunResult): LiveTile[] {
  const s = result.summary;
  const r = s.requests;
  const lat = s.latency_ms;
  const failedBy = Object.entries(s.errors)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const failedText =
    failedBy
      .slice(0, 3)
      .map(([k, n]) => `${oneLine(k, 24)} ${n}`)
      .join(', ') + (failedBy.length > 3 ? `, +${failedBy.length - 3} classes` : '');
  const p95 = (name: string, l: (typeof lat)['ttft']): LiveTile =>
    l.count > 0
      ? { k: `${name} p95`, v: `${fmtMs(l.p95)} ms`, s: `p50 ${fmtMs(l.p50)} · p99 ${fmtMs(l.p99)} ms`, cls: '' }
      : { k: `${name} p95`, v: '-', s: 'no data yet', cls: '' };
  return [
    { k: 'measured', v: `${fmt(s.duration_s, 0)} s`, s: result.run.warmup_s > 0 ? `after ${fmt(result.run.warmup_s, 0)} s warm-up` : 'no warm-up', cls: '' },
    { k: 'requests sent', v: String(r.sent), s: r.warmup_sent > 0 ? `+${r.warmup_sent} in warm-up` : 'after warm-up', cls: '' },
    { k: 'completed', v: String(r.completed), s: r.sent > 0 ? `${fmtPct(r.completed / r.sent)} of sent` : '', cls: '' },
    { k: 'failed', v: String(r.failed), s: r.failed > 0 ? failedText : 'no failures', cls: r.failed > 0 ? 'bad' : '' },
    { k: 'dropped', v: String(r.dropped), s: r.dropped > 0 ? 'in-flight cap reached' : 'none', cls: r.dropped > 0 ? 'warn' : '' },
    { k: 'throughput', v: `${fmt(s.throughput.request_per_s, 2)} req/s`, s: `${fmt(s.throughput.output_tokens_per_s, 0)} output tok/s`, cls: '' },
    {
      k: 'goodput',
      v: `${fmt(s.throughput.goodput_request_per_s, 2)} req/s`,
      s: s.throughput.goodput_ratio !== null ? `${fmtPct(s.throughput.goodput_ratio)} of completed met every SLO` : 'no completed request',
      cls: s.throughput.goodput_ratio !== null && s.throughput.goodput_ratio < 0.99 && result.slo.length > 0 ? 'warn' : '',
    },
    p95('TTFT', lat.ttft),
    p95('ITL', lat.itl),
    p95('E2E', lat.e2e),
  ];
}

function slos(result: RunResult): LiveSlo[] {
  return result.slo.slice(0, SLO_MAX).map((v) => ({
    class: v.class !== undefined ? oneLine(v.class, 100) : null,
    name: sloLabel(v) !== `${v.metric}: ${v.threshold}` ? oneLine(v.name, 200) : null,
    metric: oneLine(v.metric, 100),
    threshold: oneLine(v.threshold, 100),
    observed: fmtObserved(v.metric, v.observed),
    passed: v.passed,
    abort_on_fail: v.abort_on_fail,
  }));
}

function health(result: RunResult): LiveHealth {
  const g = result.generator;
  const rows: [string, string][] = [
    ['event-loop lag p99 / max', `${fmtMs(g.event_loop_lag_p99_ms)} / ${fmtMs(g.event_loop_lag_max_ms)} ms`],
    ['schedule lag p99', `${fmtMs(g.schedule_lag_p99_ms)} ms`],
    ['client CPU (share of one core)', fmtPct(g.cpu_ratio, 0)],
    ['client memory (max RSS)', fmtBytes(g.rss_max_bytes)],
  ];
  if (g.workers !== undefined && g.workers > 1) rows.push(['client worker threads', String(g.workers)]);
  const parsing = chunkParsingText(g.chunk_parsing);
  return {
    valid: g.valid,
    rows,
    warnings: g.warnings.slice(0, HEALTH_WARNINGS_MAX).map((w) => oneLine(w, 500)),
    note: parsing === null ? null : oneLine(parsing, 500),
  };
}

/** The report's warnings, without the one that says the results are partial (a live page knows). */
function warnings(result: RunResult): LiveStateHead['warnings'] {
  const list = collectWarnings(result.status === 'running' ? { ...result, status: 'complete' } : result);
  return list.slice(0, WARNINGS_MAX).map((w) => ({
    level: w.level,
    text: oneLine(w.text, 1000),
    details: w.details.slice(0, DETAILS_MAX).map((d) => oneLine(d, 400)),
  }));
}

/** The end of the last window, s (0 before the first one closed). */
function asOf(result: RunResult): number {
  let end = 0;
  for (const w of result.windows) end = Math.max(end, w.t_s + w.window_s);
  return Math.round(end * 1000) / 1000;
}

/** Everything the page shows of `result` but the charts. */
export function stateHead(result: RunResult, seq: number): LiveStateHead {
  const run = result.run;
  const shard = result.shard ? `${result.shard.index}/${result.shard.count}` : null;
  return {
    seq,
    status: result.status,
    status_reason: result.status_reason === null ? null : oneLine(result.status_reason, 500),
    run: {
      scenario: oneLine(run.scenario, 200),
      description: run.description ? oneLine(run.description, 1000) : null,
      id: oneLine(run.id, 200),
      target: oneLine(run.target.url, 300),
      model: oneLine(run.target.model, 300),
      endpoint: oneLine(run.target.endpoint, 40),
      started_at: oneLine(run.started_at, 40),
      shard,
      window_s: run.window_s,
      warmup_s: run.warmup_s,
    },
    as_of_s: asOf(result),
    verdict: sloVerdict(result),
    tiles: tiles(result),
    warnings: warnings(result),
    slo: slos(result),
    health: health(result),
  };
}

/** Yields to the event loop: lets sockets (and the run, on the main thread) go on between pieces. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Builds the SSE `state` events of a run's partial results: the head, then every chart of the
 * report with its spec, each serialized on a turn of its own. Remembers each chart's last JSON so
 * that `rev` changes only when the chart did (the page redraws only those).
 */
export class StateBuilder {
  private readonly last = new Map<string, { json: string; rev: number }>();
  private rev = 0;

  /** The `data:` JSON of a state event for `result`. */
  async build(result: RunResult, seq: number): Promise<string> {
    const head = JSON.stringify(stateHead(result, seq));
    await nextTurn();
    const charts = buildCharts(result);
    await nextTurn();
    const parts: string[] = [];
    const seen = new Set<string>();
    for (const c of charts) {
      const json = JSON.stringify(c.spec);
      const prev = this.last.get(c.id);
      const rev = prev !== undefined && prev.json === json ? prev.rev : ++this.rev;
      this.last.set(c.id, { json, rev });
      seen.add(c.id);
      const meta: LiveChartMeta = { id: c.id, section: c.section, title: oneLine(c.title, 300), caption: oneLine(c.caption, 1500), rev };
      parts.push(`${JSON.stringify(meta).slice(0, -1)},"spec":${json}}`);
      await nextTurn();
    }
    for (const id of [...this.last.keys()]) if (!seen.has(id)) this.last.delete(id);
    return `${head.slice(0, -1)},"charts":[${parts.join(',')}]}`;
  }
}
