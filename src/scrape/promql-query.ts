// PromQL for the server profiles: the deployment's label selector (parsed, re-rendered safely),
// the query set generated from profiles.ts's rules (never written per metric), and the reading of
// Prometheus's /api/v1/query answers. Pure functions; promql.ts runs the queries.
//
// For every rule of every profile whose metric exists behind the selector (the first source that
// exists, as signals.ts picks it; both counter spellings, `_total` first):
//   gauge      sum|avg(M{sel}) [* scale]            and  sum|avg by (replica) (...)
//   counter    sum(rate(M{sel}[R]))                 and  sum by (replica) (rate(...)): the *_per_s
//              sum by (replica) (M{sel})            the totals, first vs last (reconciliation, prefix cache)
//   histogram  histogram_quantile(q, sum by (le) (rate(M_bucket{sel}[R]))) [* scale], q = .5 .95 .99
//              sum(rate(M_sum{sel}[R])) / sum(rate(M_count{sel}[R])) [* scale]: the mean
//   GPU        sum|avg by (gpu, UUID, Hostname, instance, ...) (M{sel}) [* scale]: one row per GPU
// R = max(4 × Prometheus's scrape interval, the window, the query interval), in whole seconds.
import { PROFILES, detectProfiles, type CounterSignal, type GaugeSignal, type GpuRule, type HistogramSignal, type LatencySource, type ProfileName, type Selector } from './profiles.js';

// ---------------------------------------------------------------------------------------------
// The deployment's selector.

/** One label matcher of a selector: `namespace="prod"`, `job=~"vllm-.*"`. */
export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A label name Prometheus accepts unquoted (`instance`, `pod`, `kubernetes_pod_name`). */
export function isLabelName(name: string): boolean {
  return LABEL_RE.test(name);
}

/** A selector that does not parse: `message` says what was expected where ("a comma or the end after job=…"). */
export class SelectorError extends Error {}

/**
 * Parses a label selector as written in PromQL: `{namespace="prod",job=~"vllm.*"}` (braces
 * optional, '' or '{}' for none; values in "…", '…' or `…`, Go escapes in the first two). The
 * metric name is the profiles' to set: a `__name__` matcher or a metric name before the brace is
 * refused.
 */
export function parseSelector(text: string): Matcher[] {
  let s = text.trim();
  if (s === '') return [];
  if (/^[a-zA-Z_:][a-zA-Z0-9_:]*\s*\{/.test(s)) throw new SelectorError('no metric name before the braces: the profiles choose the metrics, give only the labels like {job="vllm"}');
  if (s.startsWith('{') !== s.endsWith('}')) throw new SelectorError('balanced braces: write it like {namespace="prod",job="vllm"}');
  if (s.startsWith('{')) s = s.slice(1, -1);
  const out: Matcher[] = [];
  let i = 0;
  const ws = (): void => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  ws();
  while (i < s.length) {
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i))?.[0];
    if (name === undefined) throw new SelectorError(`a label name at character ${i + 1}: write matchers like job="vllm"`);
    if (name === '__name__') throw new SelectorError('no __name__ matcher: the profiles choose the metrics, give only the other labels');
    i += name.length;
    ws();
    const op = (['=~', '!~', '!=', '='] as const).find((o) => s.startsWith(o, i));
    if (op === undefined) throw new SelectorError(`an operator (=, !=, =~, !~) after ${name}`);
    i += op.length;
    ws();
    const [value, end] = readString(s, i, name);
    i = end;
    out.push({ label: name, op, value });
    ws();
    if (i < s.length) {
      if (s[i] !== ',') throw new SelectorError(`a comma or the end after ${name}${op}"…"`);
      i++;
      ws();
    }
  }
  return out;
}

function readString(s: string, start: number, label: string): [string, number] {
  const quote = s[start];
  if (quote !== '"' && quote !== "'" && quote !== '`') throw new SelectorError(`a quoted value after ${label}: write ${label}="value"`);
  let out = '';
  let i = start + 1;
  while (i < s.length) {
    const c = s[i]!;
    if (c === quote) return [out, i + 1];
    if (c === '\\' && quote !== '`') {
      const n = s[i + 1];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };
      if (n !== undefined && n in simple) {
        out += simple[n];
        i += 2;
        continue;
      }
      const hex = n === 'x' ? 2 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
      const digits = s.slice(i + 2, i + 2 + hex);
      if (hex > 0 && digits.length === hex && /^[0-9a-fA-F]+$/.test(digits)) {
        out += String.fromCodePoint(parseInt(digits, 16));
        i += 2 + hex;
        continue;
      }
      throw new SelectorError(`a known escape (\\n, \\", \\\\, \\u00e9, ...) instead of \\${n ?? ''} in the value of ${label}`);
    }
    out += c;
    i++;
  }
  throw new SelectorError(`the closing ${quote} of the value of ${label}`);
}

/** A PromQL string literal (double quotes, Go escapes): any value written back safely. */
export function promString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0) || cp === 0x2028 || cp === 0x2029) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The matchers as PromQL writes them inside braces: `namespace="prod",job=~"vllm.*"`. */
export function renderMatchers(matchers: readonly Matcher[]): string {
  return matchers.map((m) => `${m.label}${m.op}${promString(m.value)}`).join(',');
}

/** The selector as shown in results: `{namespace="prod",job="vllm"}`, or '' for none. */
export function selectorText(matchers: readonly Matcher[]): string {
  return matchers.length === 0 ? '' : `{${renderMatchers(matchers)}}`;
}

/** `metric{where…,selector…}`: a profile's selector narrowed to the deployment. */
export function vectorSelector(metric: string, where: Readonly<Record<string, string>> | undefined, matchers: readonly Matcher[]): string {
  const own: Matcher[] = Object.entries(where ?? {}).map(([label, value]) => ({ label, op: '=', value }));
  const all = [...own, ...matchers];
  // a name PromQL cannot write bare (Prometheus 3's UTF-8 names) goes in as a __name__ matcher
  if (!METRIC_RE.test(metric)) return `{${renderMatchers([{ label: '__name__', op: '=', value: metric }, ...all])}}`;
  return all.length === 0 ? metric : `${metric}{${renderMatchers(all)}}`;
}

/** Does a label set (absent labels are '') satisfy the matchers? Regexes are anchored, as PromQL's. */
export function matchesLabels(matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  return matchers.every((m) => {
    const v = labels[m.label] ?? '';
    switch (m.op) {
      case '=':
        return v === m.value;
      case '!=':
        return v !== m.value;
      default: {
        let re: RegExp;
        try {
          re = new RegExp(`^(?:${m.value})$`, 's');
        } catch {
          return true; // RE2 syntax JavaScript lacks: do not rule the target out
        }
        return re.test(v) === (m.op === '=~');
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The query set.

/** Rates that are canonical signals (signals.ts's RATE_COUNTERS). */
export const RATE_KEYS: Readonly<Partial<Record<CounterSignal, 'preemptions_per_s' | 'prompt_tokens_per_s' | 'generation_tokens_per_s'>>> = {
  preemptions: 'preemptions_per_s',
  prompt_tokens: 'prompt_tokens_per_s',
  generation_tokens: 'generation_tokens_per_s',
};

/** The labels that name one GPU (signals.ts's readGpus), and the node it is on. */
export const GPU_LABELS = ['gpu', 'minor_number', 'UUID', 'uuid', 'gpu_uuid', 'Hostname', 'instance'] as const;
/** GPU signals that add up over a GPU's series (bytes, watts); the others are ratios, averaged. */
const GPU_SUMMED = new Set<string>(['gpu_memory_used_bytes', 'gpu_memory_free_bytes', 'gpu_memory_total_bytes', 'gpu_memory_reserved_bytes', 'gpu_power_watts']);

export const QUANTILE_STATS = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;

export interface GaugeQuery {
  signal: GaugeSignal;
  /** the metric (and label values) it reads, for people */
  source: string;
  total: string;
  perReplica: string;
}
export interface CounterQuery {
  counter: CounterSignal;
  source: string;
  /** sum(rate(…[R])) */
  rate: string;
  /** sum by (replica) (rate(…[R])) */
  ratePerReplica: string;
  /** sum by (replica) (…): the cumulative count, for first-vs-last */
  totalPerReplica: string;
}
export interface HistogramQuery {
  signal: HistogramSignal;
  source: string;
  /** absent for a sum/count pair (a mean only) */
  quantiles: { stat: 'p50' | 'p95' | 'p99'; query: string }[];
  mean: string;
}
export interface GpuQuery {
  signal: GpuRule['signal'];
  source: string;
  /** sum|avg by (GPU_LABELS) (…) */
  query: string;
}

/** Everything one query round asks, generated from the profiles' rules. */
export interface PromqlPlan {
  profiles: ProfileName[];
  replicaLabel: string;
  rangeS: number;
  gauges: GaugeQuery[];
  counters: CounterQuery[];
  histograms: HistogramQuery[];
  gpus: GpuQuery[];
}

export interface PlanOptions {
  /** the metric names behind the selector (the detection query's answer) */
  names: Iterable<string>;
  matchers: readonly Matcher[];
  /** the label that tells replicas apart (default instance) */
  replicaLabel: string;
  /** R of rate(…[R]), seconds */
  rangeS: number;
  /**
   * a previous plan: a signal it already reads keeps its source (a metric that shows up later
   * never switches a counter's source between its first and last value)
   */
  previous?: PromqlPlan;
}

/** The query behind the profile detection: which metric names of the profiles exist behind the selector. */
export function detectionQuery(matchers: readonly Matcher[]): string {
  const prefixes = [...new Set(PROFILES.flatMap((p) => p.prefixes))];
  const re = `(?:${prefixes.map(regexEscape).join('|')}).*`;
  return `count by (__name__) ({${renderMatchers([{ label: '__name__', op: '=~', value: re }, ...matchers])}})`;
}

/** The query set for the metric names found, in the profiles' precedence order. */
export function buildPlan(opts: PlanOptions): PromqlPlan {
  const names = new Set(opts.names);
  const sel = opts.matchers;
  const r = opts.replicaLabel;
  const range = `[${Math.max(1, Math.ceil(opts.rangeS))}s]`;
  const prev = opts.previous;
  const detected = new Set(detectProfiles(names));
  for (const p of prev?.profiles ?? []) detected.add(p);
  const profiles = PROFILES.filter((p) => detected.has(p.name));
  const plan: PromqlPlan = { profiles: profiles.map((p) => p.name), replicaLabel: r, rangeS: Math.max(1, Math.ceil(opts.rangeS)), gauges: [], counters: [], histograms: [], gpus: [] };
  const has = (sel: Selector): boolean => names.has(sel.metric);

  for (const profile of profiles) {
    for (const rule of profile.gauges) {
      if (plan.gauges.some((g) => g.signal === rule.signal)) continue;
      const kept = prev?.gauges.find((g) => g.signal === rule.signal);
      if (kept) {
        plan.gauges.push(kept);
        continue;
      }
      const src = rule.sources.find(has);
      if (src === undefined) continue;
      const agg = rule.aggregation === 'sum' ? 'sum' : 'avg';
      const v = vectorSelector(src.metric, src.where, sel);
      plan.gauges.push({ signal: rule.signal, source: describe(src), total: scaled(`${agg}(${v})`, rule.scale), perReplica: scaled(`${agg} by (${r}) (${v})`, rule.scale) });
    }
    for (const rule of profile.counters) {
      if (plan.counters.some((c) => c.counter === rule.counter)) continue;
      const kept = prev?.counters.find((c) => c.counter === rule.counter);
      if (kept) {
        plan.counters.push(kept);
        continue;
      }
      const src = rule.sources.find(has);
      if (src === undefined) continue;
      const v = vectorSelector(src.metric, src.where, sel);
      plan.counters.push({
        counter: rule.counter,
        source: describe(src),
        rate: `sum(rate(${v}${range}))`,
        ratePerReplica: `sum by (${r}) (rate(${v}${range}))`,
        totalPerReplica: `sum by (${r}) (${v})`,
      });
    }
    for (const rule of profile.histograms) {
      if (plan.histograms.some((h) => h.signal === rule.signal)) continue;
      const kept = prev?.histograms.find((h) => h.signal === rule.signal);
      if (kept) {
        plan.histograms.push(kept);
        continue;
      }
      const src = rule.sources.find((s) => latencyExists(s, names));
      if (src === undefined) continue;
      plan.histograms.push(histogramQuery(rule.signal, src, sel, range));
    }
  }
  const gpuRules = profiles.flatMap((p) => p.gpus);
  if (prev && prev.gpus.length > 0) plan.gpus = prev.gpus;
  else
    for (const rule of gpuRules) {
      if (!names.has(rule.metric)) continue;
      const agg = GPU_SUMMED.has(rule.signal) ? 'sum' : 'avg';
      plan.gpus.push({ signal: rule.signal, source: rule.metric, query: scaled(`${agg} by (${GPU_LABELS.join(', ')}) (${vectorSelector(rule.metric, undefined, sel)})`, rule.scale) });
    }
  return plan;
}

/** Every query of a plan, in the order a round runs them. */
export function planQueries(plan: PromqlPlan): string[] {
  return [
    ...plan.gauges.flatMap((g) => [g.total, g.perReplica]),
    ...plan.counters.flatMap((c) => [c.rate, c.ratePerReplica, c.totalPerReplica]),
    ...plan.histograms.flatMap((h) => [...h.quantiles.map((q) => q.query), h.mean]),
    ...plan.gpus.map((g) => g.query),
  ];
}

function histogramQuery(signal: HistogramSignal, src: LatencySource, sel: readonly Matcher[], range: string): HistogramQuery {
  if ('histogram' in src) {
    const bucket = vectorSelector(`${src.histogram}_bucket`, undefined, sel);
    return {
      signal,
      source: src.histogram,
      quantiles: QUANTILE_STATS.map(([stat, q]) => ({ stat, query: scaled(`histogram_quantile(${q}, sum by (le) (rate(${bucket}${range})))`, src.scale) })),
      mean: scaled(`sum(rate(${vectorSelector(`${src.histogram}_sum`, undefined, sel)}${range})) / sum(rate(${vectorSelector(`${src.histogram}_count`, undefined, sel)}${range}))`, src.scale),
    };
  }
  return {
    signal,
    source: `${src.sum} / ${src.count}`,
    quantiles: [],
    mean: scaled(`sum(rate(${vectorSelector(src.sum, undefined, sel)}${range})) / sum(rate(${vectorSelector(src.count, undefined, sel)}${range}))`, src.scale),
  };
}

function latencyExists(src: LatencySource, names: ReadonlySet<string>): boolean {
  if ('histogram' in src) return names.has(`${src.histogram}_bucket`) || names.has(`${src.histogram}_count`);
  return names.has(src.sum) && names.has(src.count);
}

function scaled(query: string, scale: number | undefined): string {
  return scale === undefined || scale === 1 ? query : `(${query}) * ${String(scale)}`;
}

function describe(sel: Selector): string {
  if (sel.where === undefined) return sel.metric;
  return `${sel.metric}{${Object.entries(sel.where)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

/** Escapes RE2 metacharacters. */
function regexEscape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/**
 * How wide rate(…[R]) looks back: 4 × Prometheus's scrape interval (rate needs two samples and
 * one may be late or missing), at least the run's window and the time between query rounds.
 */
export function rateRangeS(promScrapeIntervalS: number, windowS: number, queryIntervalS: number): number {
  return Math.max(1, Math.ceil(Math.max(4 * promScrapeIntervalS, windowS, queryIntervalS)));
}

// ---------------------------------------------------------------------------------------------
// Answers.

/** One series of an instant vector: its labels and value (NaN and ±Inf kept as numbers). */
export interface VectorSample {
  labels: Record<string, string>;
  value: number;
}

/** An answer Prometheus gave as an error, or one that is not an answer. */
export class PromqlAnswerError extends Error {}

/** Prometheus's float text: `1.5`, `NaN`, `+Inf`, `-Inf`. */
export function promFloat(text: unknown): number {
  if (typeof text !== 'string') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return text.trim() === '' ? NaN : Number(text);
}

/**
 * The series of an /api/v1/query answer (vector; a scalar is one series without labels; an empty
 * vector none). Throws {@link PromqlAnswerError} with Prometheus's own errorType and error.
 */
export function parseQueryAnswer(body: unknown): { samples: VectorSample[]; warnings: string[] } {
  if (typeof body !== 'object' || body === null) throw new PromqlAnswerError('the answer is not a JSON object');
  const b = body as { status?: unknown; data?: unknown; errorType?: unknown; error?: unknown; warnings?: unknown };
  const warnings = Array.isArray(b.warnings) ? b.warnings.filter((w): w is string => typeof w === 'string') : [];
  if (b.status === 'error') throw new PromqlAnswerError(`${typeof b.errorType === 'string' ? b.errorType : 'error'}: ${typeof b.error === 'string' ? b.error : 'no message'}`);
  if (b.status !== 'success') throw new PromqlAnswerError(`the answer's status is ${JSON.stringify(b.status) ?? 'missing'}, not "success"`);
  const data = b.data as { resultType?: unknown; result?: unknown } | undefined;
  if (typeof data !== 'object' || data === null) throw new PromqlAnswerError('the answer has no data');
  if (data.resultType === 'scalar') {
    const r = data.result as unknown[];
    return { samples: Array.isArray(r) ? [{ labels: {}, value: promFloat(r[1]) }] : [], warnings };
  }
  if (data.resultType !== 'vector') throw new PromqlAnswerError(`expected an instant vector, got ${JSON.stringify(data.resultType) ?? 'nothing'}`);
  if (!Array.isArray(data.result)) throw new PromqlAnswerError('the vector has no result list');
  const samples: VectorSample[] = [];
  for (const item of data.result as unknown[]) {
    const it = item as { metric?: unknown; value?: unknown } | null;
    if (typeof it !== 'object' || it === null || !Array.isArray(it.value)) continue;
    const labels: Record<string, string> = {};
    if (typeof it.metric === 'object' && it.metric !== null) for (const [k, v] of Object.entries(it.metric)) if (typeof v === 'string') labels[k] = v;
    samples.push({ labels, value: promFloat(it.value[1]) });
  }
  return { samples, warnings };
}

/** The names a detection answer lists (`count by (__name__)`). */
export function namesOf(samples: readonly VectorSample[]): string[] {
  return samples.map((s) => s.labels['__name__']).filter((n): n is string => typeof n === 'string' && n !== '');
}

/** Prometheus's duration text (`15s`, `1m30s`, `500ms`, `1d`), in seconds; NaN when it is not one. */
export function promDurationS(text: unknown): number {
  if (typeof text !== 'string' || text === '' || text === '0') return text === '0' ? 0 : NaN;
  const unit: Record<string, number> = { ms: 1e-3, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/.exec(rest);
    if (!m) return NaN;
    total += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}
