// What the markdown and HTML reports share: escaping of user-controlled text for each target,
// number formatting with units, and the list of warnings a reader must see before the numbers.
import type { ClassResult, GroupResult, RunResult, RunSummary, SloVerdict, TurnResult } from '../results/types.js';

/** Control characters (and the Unicode line/paragraph separators) that must never reach a report verbatim. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** One line of user text: control characters become spaces, and it is cut at `max` characters (with …). */
export function oneLine(s: string, max = 500): string {
  const flat = String(s).replace(CONTROL, ' ');
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return '&#39;';
    }
  });
}

/**
 * JSON for an inline `<script>` block: `<`, `>`, `&` and U+2028/2029 become `\uXXXX` escapes, so no
 * string inside can close the script (`</script>`), open an HTML comment (`<!--`) or end a JS line.
 * JSON.parse reads it back unchanged.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/**
 * Escapes user text for GitHub-flavoured markdown, inline and inside table cells: markdown
 * punctuation is backslash-escaped, `<`, `>` and `&` become entities (so no raw HTML and no
 * autolinks in angle brackets), `@` cannot mention anyone, and control characters become spaces.
 */
export function escapeMarkdown(s: string, max = 300): string {
  return oneLine(s, max)
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'))
    .replace(/@/g, '@\u200b');
}

/**
 * The largest and smallest of a series (-Infinity / Infinity for none). `Math.max(...values)`
 * passes every value as an argument, and a long run's per-window series (200 000 windows)
 * overflows the stack.
 */
export function maxOf(values: Iterable<number>): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m;
}

export function minOf(values: Iterable<number>): number {
  let m = Infinity;
  for (const v of values) if (v < m) m = v;
  return m;
}

/** A number for people: `-` for null/NaN, fixed digits otherwise (fewer digits for big values). */
export function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return v.toFixed(digits);
}

/** A latency in ms with a precision that suits its size (0.123, 4.56, 78.9, 1234). */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a < 1 ? v.toFixed(3) : a < 10 ? v.toFixed(2) : a < 1000 ? v.toFixed(1) : v.toFixed(0);
}

/** A ratio (0–1) as a percentage. */
export function fmtPct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${(v * 100).toFixed(digits)} %`;
}

/**
 * How the client parsed the stream's events (results.generator.chunk_parsing), as one sentence,
 * with a note when most went through JSON.parse; null when the run has no such figures.
 */
export function chunkParsingText(p: { template: number; search: number; json: number } | undefined): string | null {
  if (!p) return null;
  const total = p.template + p.search + p.json;
  if (total === 0) return null;
  const share = (n: number): string => fmtPct(n / total);
  let text = `Stream events parsed: ${share(p.template)} by the learned chunk template, ${share(p.search)} by string search, ${share(p.json)} by JSON.parse (of ${total}).`;
  if (p.json / total > 0.5 && total >= 1000)
    text += ' Most events needed JSON.parse: this server\'s chunk shape defeats the fast paths, so the client spends more CPU per chunk than usual.';
  return text;
}

/** Bytes in binary units (GiB, MiB, …). */
export function fmtBytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** The unit an SLO's observed value is in, from its metric name (metrics.md: names carry units). */
export function sloUnit(metric: string): 'ms' | 'ratio' | 'req/s' | 'tok/s' | '' {
  if (metric.endsWith('_ms')) return 'ms';
  if (metric.endsWith('_ratio')) return 'ratio';
  if (metric === 'request_throughput') return 'req/s';
  if (metric === 'output_token_throughput') return 'tok/s';
  return '';
}

/** An SLO's observed value with its unit, or "no data". */
export function fmtObserved(metric: string, observed: number | null): string {
  if (observed === null) return 'no data';
  switch (sloUnit(metric)) {
    case 'ms':
      return `${fmtMs(observed)} ms`;
    case 'ratio':
      return fmtPct(observed, observed !== 0 && observed < 0.01 ? 3 : 2);
    case 'req/s':
      return `${fmt(observed, 2)} req/s`;
    case 'tok/s':
      return `${fmt(observed, 0)} tok/s`;
    case '':
      return String(observed);
    default:
      return String(observed);
  }
}

/** The headline latency rows of every report: label and summary key, in reading order. */
export const LATENCY_ROWS = [
  ['TTFT', 'ttft'],
  ['TTFT from send', 'ttft_sent'],
  ['ITL', 'itl'],
  ['TPOT', 'tpot'],
  ['E2E', 'e2e'],
  ['schedule lag', 'schedule_lag'],
] as const;

/** How serious a report warning is: `error` (numbers unusable or the run broke), `warning` (numbers suspect). */
export type WarningLevel = 'error' | 'warning';

/** One thing the reader must know before trusting the numbers. Text is raw (escape it for the target). */
export interface ReportWarning {
  level: WarningLevel;
  text: string;
  /** the individual findings behind it (generator warnings, endpoint problems), raw */
  details: string[];
}

/** A run's warnings, most serious first: status, no completions, generator health, drops, scrape problems, estimates. */
export function collectWarnings(result: RunResult): ReportWarning[] {
  const out: ReportWarning[] = [];
  const add = (level: WarningLevel, text: string, details: string[] = []): void => {
    out.push({ level, text, details });
  };
  const r = result.summary.requests;
  switch (result.status) {
    case 'complete':
      break;
    case 'failed':
      add('error', `The run failed${result.status_reason ? `: ${result.status_reason}` : ''}. The numbers cover only what happened before.`);
      break;
    case 'interrupted':
      add('error', `The run was interrupted${result.status_reason ? ` (${result.status_reason})` : ''}. The numbers cover only part of it.`);
      break;
    case 'running':
      add('warning', 'These are partial results: the run was still going when results.json was written.');
      break;
    default: {
      const never: never = result.status;
      add('warning', `Unknown run status ${String(never)}.`);
    }
  }
  if (r.completed === 0) add('error', 'No request completed: there is no latency to report.');
  const g = result.generator;
  if (!g.valid) add('warning', 'The load generator may have been the bottleneck: latencies may include its own delays.', g.warnings);
  if (r.dropped > 0)
    add('warning', `${r.dropped} arrivals were dropped because the in-flight cap was reached: the target rate was not offered in full.`);
  const scrape: string[] = [];
  for (const e of result.server?.endpoints ?? []) {
    if (e.scrapes === 0 && e.failures > 0) scrape.push(`${e.url} never answered (${e.failures} failed scrapes)${e.last_error ? `: ${e.last_error}` : ''}`);
    else if (e.failures > 0) scrape.push(`${e.url}: ${e.failures} of ${e.scrapes + e.failures} scrapes failed`);
    for (const w of e.warnings) scrape.push(`${e.url}: ${w}`);
  }
  if (scrape.length > 0) add('warning', 'Server metrics are incomplete or coarse: read the server charts with care.', scrape);
  const est = result.summary.tokens.output_estimated_requests;
  if (est > 0) add('warning', `${est} requests reported no usable token usage (none, or a count that cannot be true: see docs/metrics.md); their output tokens are counted from stream chunks (an estimate).`);
  return out;
}

/** What ended the requests the run itself cut (summary.requests.interrupted), read from its status. */
export type CutCause = 'graceful-stop' | 'early-stop' | 'interrupt' | 'target-failed' | 'running';

/** Requests the run cut before they ended, for the headline of every report. Texts are raw (escape them for the target). */
export interface CutRequests {
  count: number;
  /** of the requests sent after warm-up (which the cut ones are part of); null when none was sent */
  shareOfSent: number | null;
  cause: CutCause;
  /** the headline sentence: how many, what share, what cut them and what that means */
  sentence: string;
  /** a few words for a tile: the share and the cause */
  short: string;
  /**
   * the cut requests count as failed (`unfinished`: the server had the graceful stop and did not
   * finish them), so the error ratio, availability SLOs and the error budget include them;
   * false when they are only interrupted (an interrupt, a give-up, a graceful stop of 0 s)
   */
  countedAsFailed: boolean;
}

/** At or above this share of sent requests cut at the graceful stop, the server fell behind the offered load. */
export const FELL_BEHIND_SHARE = 0.05;

/**
 * The requests the run cut (still in flight at its end), or null when there were none. Which
 * end cut them comes from results.json: status `interrupted` is a signal (SIGINT/SIGTERM, which
 * the status reason names); `complete` with a reason is an early stop (abortOnFail); `complete`
 * without one is the graceful stop after the last arrival (the schedule's end or --requests N);
 * `failed` is the run giving up on a target that failed. Results written before the count existed
 * have no `interrupted` field: nothing is claimed for them. Requests the graceful stop cut after
 * giving the server time are failures of class `unfinished` (in `summary.errors`); those the run
 * cut for its own reasons are `summary.requests.interrupted`. A run has one kind or the other
 * (results written before `unfinished` existed have every cut request as interrupted).
 */
export function cutRequests(result: RunResult): CutRequests | null {
  const r = result.summary.requests;
  const unfinished = result.summary.errors.unfinished ?? 0;
  const count = (r.interrupted ?? 0) + unfinished;
  const countedAsFailed = unfinished > 0;
  if (!(count > 0)) return null;
  const shareOfSent = r.sent > 0 ? count / r.sent : null;
  const n = `${count} request${count === 1 ? '' : 's'}${shareOfSent !== null ? ` (${fmtPct(shareOfSent)} of sent)` : ''}`;
  const were = count === 1 ? 'was' : 'were';
  const graceS = typeof result.run.load.gracefulStopS === 'number' ? result.run.load.gracefulStopS : null;
  const grace = graceS !== null ? `the graceful stop (${fmt(graceS, graceS % 1 === 0 ? 0 : 1)} s)` : 'the graceful stop';
  const notCounted = countedAsFailed
    ? `${count === 1 ? 'It counts' : 'They count'} as failed (class unfinished): in the error ratio, availability SLOs and the error budget, and in no latency figure.`
    : `${count === 1 ? 'It counts' : 'They count'} as neither completed nor failed, and no latency figure includes ${count === 1 ? 'it' : 'them'}.`;
  const reason = result.status_reason !== null ? oneLine(result.status_reason, 200) : null;
  let cause: CutCause;
  let sentence: string;
  let short: string;
  switch (result.status) {
    case 'interrupted': {
      // the signal cut them, not the server: say so, and name the signal when the reason does
      const signal = reason?.match(/\bSIG[A-Z]+\b/)?.[0];
      cause = 'interrupt';
      sentence = `${n} ${were} still in flight when the run was interrupted${signal ? ` by ${signal}` : reason ? ` (${reason})` : ''} and ${were} cut: the interrupt ended ${count === 1 ? 'it' : 'them'}, not the server. ${notCounted}`;
      short = 'in flight at the interrupt';
      break;
    }
    case 'complete':
      if (reason !== null) {
        cause = 'early-stop';
        sentence = `${n} ${were} still waiting when the run stopped early (${reason}) and ${were} cut at ${grace}. ${notCounted}`;
        short = countedAsFailed ? 'unfinished at the early stop, failed' : 'still waiting at the early stop';
      } else {
        cause = 'graceful-stop';
        const behind = shareOfSent !== null && shareOfSent >= FELL_BEHIND_SHARE;
        sentence = behind
          ? `${n} ${were} still waiting when the run ended: the server fell behind, and ${count === 1 ? 'it was' : 'they were'} cut at ${grace}. ${notCounted}`
          : `${n} ${were} still waiting when the run ended: the server had not finished ${count === 1 ? 'it' : 'them'} by ${grace}, and ${count === 1 ? 'it was' : 'they were'} cut. ${notCounted}`;
        short = countedAsFailed ? 'unfinished at the graceful stop, failed' : 'still waiting at the graceful stop';
      }
      break;
    case 'failed':
      cause = 'target-failed';
      sentence = `${n} ${were} still in flight when the run gave up on the target and ${were} cut. ${notCounted}`;
      short = 'in flight when the run gave up';
      break;
    case 'running':
      cause = 'running';
      sentence = `${n} ${count === 1 ? 'has' : 'have'} been cut so far (partial results). ${notCounted}`;
      short = 'so far';
      break;
    default: {
      const never: never = result.status;
      throw new Error(`unknown run status ${String(never)}`);
    }
  }
  return { count, shareOfSent, cause, sentence, short: shareOfSent !== null ? `${fmtPct(shareOfSent)} of sent · ${short}` : short, countedAsFailed };
}

/** Whether any window carries a scraped server or GPU signal. */
export function hasServerSignals(result: RunResult): boolean {
  return result.windows.some((w) => Object.keys(w.server ?? {}).length > 0 || (w.gpus?.length ?? 0) > 0);
}

/** The run's verdict over its SLOs: pass/fail counts, or null when the scenario has none. */
export function sloVerdict(result: RunResult): { passed: number; failed: number; total: number } | null {
  if (result.slo.length === 0) return null;
  const failed = result.slo.filter((s) => !s.passed).length;
  return { passed: result.slo.length - failed, failed, total: result.slo.length };
}

/**
 * How a correlation's client series was keyed: "by arrival window" (the requests that arrived in
 * each window) or "by end window"; results from before results.correlation_alignment: by end.
 */
export function correlationAlignmentText(result: RunResult, pair: string): string {
  const client = pair.split('_vs_')[0] ?? '';
  const alignment = result.correlation_alignment?.[client] ?? 'end';
  return alignment === 'arrival' ? 'by arrival window' : 'by end window';
}

// ---------------------------------------------------------------------------------------------
// Slices of the run (results.classes, turns, models): what every report shows of them. Texts
// are raw: class and model names come from the scenario or the server, so escape them per target.

/** The run's request classes, in the order results.json lists them (the scenario's); [] without classes. */
export function classEntries(result: RunResult): [string, ClassResult][] {
  return Object.entries(result.classes ?? {});
}

/** The run's model mix, in the order results.json lists it; [] without a mix. */
export function modelEntries(result: RunResult): [string, GroupResult][] {
  return Object.entries(result.models ?? {});
}

/** The run's turns, turn 1 first; [] without sessions. */
export function turnEntries(result: RunResult): TurnResult[] {
  return [...(result.turns ?? [])].sort((a, b) => a.turn - b.turn);
}

/**
 * An SLO verdict's name without the `class <name>: ` its class puts in front (shown in a class
 * column of its own); the whole name when it has no class or is named otherwise.
 */
export function sloLabel(v: SloVerdict): string {
  const prefix = v.class !== undefined ? `class ${v.class}: ` : null;
  return prefix !== null && v.name.startsWith(prefix) ? v.name.slice(prefix.length) : v.name;
}

/** Passed and total of a list of SLO verdicts, or null when there are none. */
export function sloTally(verdicts: readonly SloVerdict[]): { passed: number; total: number } | null {
  if (verdicts.length === 0) return null;
  return { passed: verdicts.filter((v) => v.passed).length, total: verdicts.length };
}

/** The columns of a slice's summary in the class and model tables: heading and cell (numbers only: nothing to escape). */
export const SLICE_COLUMNS: readonly { head: string; cell: (s: RunSummary) => string }[] = [
  { head: 'sent', cell: (s) => String(s.requests.sent) },
  { head: 'completed', cell: (s) => String(s.requests.completed) },
  { head: 'failed', cell: (s) => String(s.requests.failed) },
  { head: 'goodput', cell: (s) => fmtPct(s.throughput.goodput_ratio) },
  { head: 'TTFT p50 (ms)', cell: (s) => fmtMs(s.latency_ms.ttft.p50) },
  { head: 'TTFT p95 (ms)', cell: (s) => fmtMs(s.latency_ms.ttft.p95) },
  { head: 'TTFT p99 (ms)', cell: (s) => fmtMs(s.latency_ms.ttft.p99) },
  { head: 'TPOT p50 (ms)', cell: (s) => fmtMs(s.latency_ms.tpot.p50) },
  { head: 'TPOT p95 (ms)', cell: (s) => fmtMs(s.latency_ms.tpot.p95) },
  { head: 'E2E p95 (ms)', cell: (s) => fmtMs(s.latency_ms.e2e.p95) },
  { head: 'output tok/s', cell: (s) => fmt(s.throughput.output_tokens_per_s, 0) },
];

/** Prompt tokens per completed request of a slice (summary.tokens.prompt counts the completed ones), or null. */
export function promptTokensPerRequest(s: RunSummary): number | null {
  return s.requests.completed > 0 ? s.tokens.prompt / s.requests.completed : null;
}

/** Whether any turn's summary carries the cached-token ratio (summary.prefix.cached_token_ratio). */
export function turnsHaveCachedRatio(turns: readonly TurnResult[]): boolean {
  return turns.some((t) => t.summary.prefix?.cached_token_ratio !== null && t.summary.prefix?.cached_token_ratio !== undefined);
}

/** The columns of the turns table: heading and cell (numbers only); the cached-tokens column only when some turn has it. */
export function turnColumns(turns: readonly TurnResult[]): { head: string; cell: (t: TurnResult) => string }[] {
  const cols: { head: string; cell: (t: TurnResult) => string }[] = [
    { head: 'turn', cell: (t) => String(t.turn) },
    { head: 'sent', cell: (t) => String(t.summary.requests.sent) },
    { head: 'completed', cell: (t) => String(t.summary.requests.completed) },
    { head: 'TTFT p50 (ms)', cell: (t) => fmtMs(t.summary.latency_ms.ttft.p50) },
    { head: 'TTFT p95 (ms)', cell: (t) => fmtMs(t.summary.latency_ms.ttft.p95) },
    { head: 'E2E p95 (ms)', cell: (t) => fmtMs(t.summary.latency_ms.e2e.p95) },
    { head: 'prompt tokens per request', cell: (t) => fmt(promptTokensPerRequest(t.summary), 0) },
  ];
  if (turnsHaveCachedRatio(turns)) cols.push({ head: 'prompt tokens cached', cell: (t) => fmtPct(t.summary.prefix?.cached_token_ratio) });
  return cols;
}

/**
 * A sweep's binding classes: the classes whose own SLOs failed first, at the lowest unsustainable
 * rate (capacity.first_unsustainable.binding_classes); null without classes or without such a rate.
 * An empty list: only whole-run limits failed there.
 */
export function bindingClasses(result: RunResult): { rate_per_s: number; names: string[] } | null {
  const first = result.capacity?.first_unsustainable;
  if (!first || first.binding_classes === undefined) return null;
  return { rate_per_s: first.rate_per_s, names: first.binding_classes };
}
