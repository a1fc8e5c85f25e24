// The live series of a run, as Prometheus sees them: counters, gauges and classic histograms
// kept in plain numbers and typed arrays, written out as the text exposition format (the
// /metrics endpoint) or as remote-write time series (remote-write.ts). One model, two outputs,
// so a scraped and a pushed series always say the same thing.
//
// Why not prom-client: its `observe` validates and hashes the label set on every call (~0.9 µs
// measured here, bound child or not), and ITL observes every gap of every request: a 2 000-token
// reply would cost ~2 ms on the run's own thread. Here a request's group of series (its class and
// model) is found once per request, and each observation is a bucket scan over a Float64Array
// (~20 ns); every sample line's text (name and labels) is rendered once, when its series appears,
// so writing the exposition is string concatenation of numbers.
//
// What enters (docs/metrics.md): the request series count measured requests only, as results.json's
// summary does (a warm-up request is in inferload_warmup_requests_total alone), so that PromQL over
// inferload_requests_total agrees with summary.requests without a filter. TTFT, ITL, TPOT and E2E
// take completed requests; schedule lag every sent request (negative lag as 0); tokens completed
// requests (prompt: usage.prompt_tokens or the planned count; output: output_tokens).
import type { RequestRecord } from '../core/record.js';
import { derive, forEachItl } from '../metrics/derive.js';
import type { SloVerdict } from '../results/types.js';
import type { LiveLabels } from './sink.js';

// Buckets, in seconds. TTFT, ITL/TPOT and E2E use exactly vLLM's own layout so that a panel of
// inferload's histogram and one of vLLM's line up bucket for bucket (vllm/v1/metrics/loggers.py,
// PrometheusStatLogger; the same in vllm/engine/metrics.py of the V0 engine):
//   vllm:time_to_first_token_seconds: 0.001 … 2560
//   vllm:inter_token_latency_seconds and vllm:time_per_output_token_seconds: 0.01 … 80
//   vllm:e2e_request_latency_seconds (request_latency_buckets): 0.3 … 7680
/** vLLM's `vllm:time_to_first_token_seconds` buckets */
export const TTFT_BUCKETS_S: readonly number[] = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];
/** vLLM's `vllm:inter_token_latency_seconds` (and `vllm:time_per_output_token_seconds`) buckets */
export const ITL_BUCKETS_S: readonly number[] = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
/** vLLM's `vllm:e2e_request_latency_seconds` buckets */
export const E2E_BUCKETS_S: readonly number[] = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
];
/** the generator's own lateness: well under a millisecond when healthy, seconds when it falls behind */
export const SCHEDULE_LAG_BUCKETS_S: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/** distinct values a label (class, model, slo, error_class) may take; later ones become OTHER */
export const MAX_LABEL_VALUES = 100;
export const OTHER = 'other';
/** a label value longer than this is cut (a hostile or runaway class name, a long SLO) */
export const MAX_LABEL_VALUE_CHARS = 256;

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** A label as remote-write sends it. */
export interface Label {
  name: string;
  value: string;
}

/**
 * Every series' value at one moment, for remote-write: `labels[i]` (sorted, `__name__` among them;
 * the same array every time for a series, so its encoding can be kept) and `values[i]`.
 */
export interface SeriesSnapshot {
  labels: (readonly Label[])[];
  values: Float64Array;
}

/** the longest a number takes as text (`-1.2345678901234567e+308`), and the line feed */
const MAX_VALUE_BYTES = 25;

export interface FamilyMeta {
  name: string;
  type: MetricType;
  help: string;
}

/** A label value made safe: well-formed UTF-8 (lone surrogates replaced), at most MAX_LABEL_VALUE_CHARS. */
export function cleanLabelValue(v: string): string {
  let s = v.length > MAX_LABEL_VALUE_CHARS ? v.slice(0, MAX_LABEL_VALUE_CHARS) : v;
  s = s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return s;
}

/** Text exposition escaping of a label value: backslash, double quote, line feed. */
function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

/** A number as the text format writes it (Go's ParseFloat reads JS's shortest form, `1e-7` included). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Writes `v` as the text format does at `o`; returns the new offset. Counts (whole numbers) digit by digit. */
function putValue(buf: Buffer, o: number, v: number): number {
  if (Number.isSafeInteger(v) && v >= 0 && v < 1e15) {
    if (v === 0) {
      buf[o] = 48;
      return o + 1;
    }
    let digits = 0;
    for (let x = v; x > 0; x = Math.floor(x / 10)) digits++;
    for (let i = o + digits - 1, x = v; i >= o; i--, x = Math.floor(x / 10)) buf[i] = 48 + (x % 10);
    return o + digits;
  }
  return o + buf.write(formatValue(v), o, 'latin1');
}

/** Copies `src` into `buf` at `o`; returns the new offset. */
function put(buf: Buffer, o: number, src: Uint8Array): number {
  buf.set(src, o);
  return o + src.length;
}

/** Keeps a label's distinct values to MAX_LABEL_VALUES; any further value is OTHER. */
export class BoundedLabel {
  private readonly seen = new Map<string, string>();
  overflowed = 0;

  constructor(private readonly max = MAX_LABEL_VALUES) {}

  value(raw: string): string {
    const known = this.seen.get(raw);
    if (known !== undefined) return known;
    if (this.seen.size >= this.max) {
      this.overflowed++;
      return OTHER;
    }
    const clean = cleanLabelValue(raw);
    this.seen.set(raw, clean);
    return clean;
  }
}

/** labels in exposition order: the run's, then the series' own */
type Pairs = readonly (readonly [string, string])[];

function renderLabels(pairs: Pairs): string {
  let s = '';
  for (const [k, v] of pairs) s += (s ? ',' : '') + k + '="' + escapeLabelValue(v) + '"';
  return s;
}

function sortedLabels(name: string, pairs: Pairs): Label[] {
  const out: Label[] = [{ name: '__name__', value: name }];
  for (const [k, v] of pairs) if (v !== '') out.push({ name: k, value: v });
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** A counter's or gauge's one series. */
export class Scalar {
  value = 0;
  /** `name{labels} `, UTF-8 */
  readonly line: Buffer;
  private rw: Label[] | null = null;

  constructor(
    readonly family: Family,
    private readonly pairs: Pairs,
  ) {
    const l = renderLabels(pairs);
    this.line = Buffer.from(family.name + (l ? '{' + l + '}' : '') + ' ', 'utf8');
  }

  labels(): Label[] {
    return (this.rw ??= sortedLabels(this.family.name, this.pairs));
  }
}

/** A classic histogram's one series: per-bucket counts (not cumulative), the last one +Inf. */
export class Hist {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; counts[n]: above the last bound */
  readonly counts: Float64Array;
  /** Σ observations, in µs */
  sumUs = 0;
  count = 0;
  private readonly boundsUs: Float64Array;
  /** `name_bucket{labels,le="…"} ` for every bound and +Inf, UTF-8 */
  readonly bucketLines: Buffer[];
  readonly sumLine: Buffer;
  readonly countLine: Buffer;
  private rw: { buckets: Label[][]; sum: Label[]; count: Label[] } | null = null;

  constructor(
    readonly family: Family,
    private readonly pairs: Pairs,
  ) {
    const bounds = family.buckets!;
    this.counts = new Float64Array(bounds.length + 1);
    this.boundsUs = Float64Array.from(bounds, (b) => Math.round(b * 1e6));
    const l = renderLabels(pairs);
    const prefix = family.name + '_bucket{' + (l ? l + ',' : '') + 'le="';
    this.bucketLines = family.leValues.map((le) => Buffer.from(prefix + le + '"} ', 'utf8'));
    this.sumLine = Buffer.from(family.name + '_sum' + (l ? '{' + l + '}' : '') + ' ', 'utf8');
    this.countLine = Buffer.from(family.name + '_count' + (l ? '{' + l + '}' : '') + ' ', 'utf8');
  }

  /** One observation, in µs. */
  observeUs(us: number): void {
    const b = this.boundsUs;
    let i = 0;
    while (i < b.length && us > b[i]!) i++;
    this.counts[i]!++;
    this.sumUs += us;
    this.count++;
  }

  labels(): { buckets: Label[][]; sum: Label[]; count: Label[] } {
    if (this.rw) return this.rw;
    const f = this.family;
    const buckets = f.leValues.map((le) => sortedLabels(f.name + '_bucket', [...this.pairs, ['le', le]]));
    this.rw = { buckets, sum: sortedLabels(f.name + '_sum', this.pairs), count: sortedLabels(f.name + '_count', this.pairs) };
    return this.rw;
  }
}

/** One metric family and its series in the order they appeared. */
export class Family implements FamilyMeta {
  readonly scalars: Scalar[] = [];
  readonly hists: Hist[] = [];
  /** the `le` values as written, +Inf last (histograms) */
  readonly leValues: string[];
  /** `# HELP` and `# TYPE`, UTF-8 */
  readonly header: Buffer;
  /** sample lines, and the bytes of their name-and-labels prefixes: what an exposition needs at most */
  lines = 0;
  prefixBytes = 0;

  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
    readonly buckets?: readonly number[],
  ) {
    this.leValues = buckets ? [...buckets.map(formatValue), '+Inf'] : [];
    this.header = Buffer.from('# HELP ' + name + ' ' + escapeHelp(help) + '\n# TYPE ' + name + ' ' + type + '\n', 'utf8');
  }

  scalar(pairs: Pairs): Scalar {
    const s = new Scalar(this, pairs);
    this.scalars.push(s);
    this.lines++;
    this.prefixBytes += s.line.length;
    return s;
  }

  hist(pairs: Pairs): Hist {
    const h = new Hist(this, pairs);
    this.hists.push(h);
    this.lines += h.bucketLines.length + 2;
    for (const b of h.bucketLines) this.prefixBytes += b.length;
    this.prefixBytes += h.sumLine.length + h.countLine.length;
    return h;
  }

  get empty(): boolean {
    return this.scalars.length === 0 && this.hists.length === 0;
  }
}

/** The series of one (class, model) of a run. */
interface Group {
  pairs: Pairs;
  ttft: Hist;
  itl: Hist;
  tpot: Hist;
  e2e: Hist;
  lag: Hist;
  promptTokens: Scalar;
  outputTokens: Scalar;
  /** by `outcome \0 error_class` */
  requests: Map<string, Scalar>;
  warmup: Map<string, Scalar>;
}

export type Outcome = 'completed' | 'failed' | 'interrupted' | 'dropped';

/** How a request ended (metrics.md "How a request is classified") and its error_class label. */
export function outcomeOf(r: RequestRecord): { outcome: Outcome; errorClass: string } {
  if (r.dropped) return { outcome: 'dropped', errorClass: 'none' };
  if (r.errorClass === 'aborted') return { outcome: 'interrupted', errorClass: 'aborted' };
  if (!r.ok) return { outcome: 'failed', errorClass: r.errorClass ?? 'invalid_response' };
  return { outcome: 'completed', errorClass: 'none' };
}

/** The series of a run. */
export class LiveSeries {
  readonly requests = new Family(
    'inferload_requests_total',
    'counter',
    'Measured requests (warm-up excluded) by outcome (completed, failed, interrupted, dropped) and error class (none for completed and dropped, aborted for interrupted).',
  );
  readonly warmupRequests = new Family('inferload_warmup_requests_total', 'counter', 'Warm-up requests by outcome and error class (kept out of every other request series).');
  readonly inFlight = new Family('inferload_in_flight_requests', 'gauge', 'Requests in flight at the last tick of the engine (warm-up included).');
  readonly scheduleLag = new Family(
    'inferload_schedule_lag_seconds',
    'histogram',
    'Schedule lag (sent - intended start) of every sent measured request; negative lag counts as 0.',
    SCHEDULE_LAG_BUCKETS_S,
  );
  readonly ttft = new Family(
    'inferload_time_to_first_token_seconds',
    'histogram',
    'Time to first token from the intended start (coordinated-omission correct) of completed measured requests; vLLM buckets.',
    TTFT_BUCKETS_S,
  );
  readonly itl = new Family(
    'inferload_inter_token_latency_seconds',
    'histogram',
    'Every gap between consecutive content chunks of completed measured requests; vLLM buckets.',
    ITL_BUCKETS_S,
  );
  readonly tpot = new Family(
    'inferload_time_per_output_token_seconds',
    'histogram',
    'Time per output token, (end - first token) / (output tokens - 1), of completed measured requests with more than one token; vLLM buckets.',
    ITL_BUCKETS_S,
  );
  readonly e2e = new Family(
    'inferload_e2e_request_latency_seconds',
    'histogram',
    'End-to-end latency from the intended start of completed measured requests; vLLM buckets.',
    E2E_BUCKETS_S,
  );
  readonly promptTokens = new Family('inferload_prompt_tokens_total', 'counter', 'Prompt tokens of completed measured requests (the server usage, else the planned count).');
  readonly outputTokens = new Family('inferload_output_tokens_total', 'counter', 'Output tokens of completed measured requests (the server usage, else the content chunks).');
  readonly sloPassed = new Family('inferload_slo_passed', 'gauge', 'SLO verdict at the last checkpoint: 1 passed, 0 failed.');

  /** every family in exposition order; further ones (the sink's own) may be added */
  readonly families: Family[] = [
    this.requests,
    this.warmupRequests,
    this.inFlight,
    this.scheduleLag,
    this.ttft,
    this.itl,
    this.tpot,
    this.e2e,
    this.promptTokens,
    this.outputTokens,
    this.sloPassed,
  ];

  private readonly base: Pairs;
  private readonly classLabel = new BoundedLabel();
  private readonly modelLabel = new BoundedLabel();
  private readonly sloLabel = new BoundedLabel();
  private readonly errorLabel = new BoundedLabel();
  /** class (or '') → model (or '') → group */
  private readonly groups = new Map<string, Map<string, Group>>();
  private readonly slos = new Map<string, Scalar>();
  private readonly inFlightNow: Scalar;
  /** called before the series are read (exposition, values): a caller's own series brought up to date */
  beforeRead: (() => void) | null = null;

  constructor(labels: LiveLabels) {
    this.base = [
      ['scenario', cleanLabelValue(labels.scenario)],
      ['run_id', cleanLabelValue(labels.run_id)],
      ['shard', cleanLabelValue(labels.shard)],
    ];
    this.inFlightNow = this.inFlight.scalar(this.base);
  }

  /** the run's own labels (scenario, run_id, shard), for series a caller adds */
  get runLabels(): Pairs {
    return this.base;
  }

  private group(r: RequestRecord): Group {
    const cls = r.className === null ? '' : this.classLabel.value(r.className);
    const model = r.model === null ? '' : this.modelLabel.value(r.model);
    let byModel = this.groups.get(cls);
    if (!byModel) this.groups.set(cls, (byModel = new Map()));
    let g = byModel.get(model);
    if (!g) {
      const pairs: (readonly [string, string])[] = [...this.base];
      if (cls !== '') pairs.push(['class', cls]);
      if (model !== '') pairs.push(['model', model]);
      g = {
        pairs,
        ttft: this.ttft.hist(pairs),
        itl: this.itl.hist(pairs),
        tpot: this.tpot.hist(pairs),
        e2e: this.e2e.hist(pairs),
        lag: this.scheduleLag.hist(pairs),
        promptTokens: this.promptTokens.scalar(pairs),
        outputTokens: this.outputTokens.scalar(pairs),
        requests: new Map(),
        warmup: new Map(),
      };
      byModel.set(model, g);
    }
    return g;
  }

  private counter(family: Family, map: Map<string, Scalar>, pairs: Pairs, outcome: Outcome, errorClass: string): Scalar {
    const key = outcome + '\0' + errorClass;
    let s = map.get(key);
    if (!s) {
      s = family.scalar([...pairs, ['outcome', outcome], ['error_class', this.errorLabel.value(errorClass)]]);
      map.set(key, s);
    }
    return s;
  }

  /** A request ended (completed, failed, interrupted or dropped). */
  requestEnded(r: RequestRecord): void {
    const g = this.group(r);
    const { outcome, errorClass } = outcomeOf(r);
    if (r.warmup) {
      this.counter(this.warmupRequests, g.warmup, g.pairs, outcome, errorClass).value++;
      return;
    }
    this.counter(this.requests, g.requests, g.pairs, outcome, errorClass).value++;
    if (outcome === 'dropped') return;
    const d = derive(r);
    if (!Number.isNaN(d.scheduleLagUs)) g.lag.observeUs(Math.max(0, d.scheduleLagUs));
    if (outcome !== 'completed') return;
    if (!Number.isNaN(d.e2eUs)) g.e2e.observeUs(d.e2eUs);
    if (!Number.isNaN(d.ttftUs)) g.ttft.observeUs(d.ttftUs);
    if (!Number.isNaN(d.tpotUs)) g.tpot.observeUs(d.tpotUs);
    const itl = g.itl;
    forEachItl(r.chunkUs, (gap) => itl.observeUs(gap));
    g.promptTokens.value += r.promptTokens;
    g.outputTokens.value += d.outputTokens;
  }

  setInFlight(n: number): void {
    if (this.inFlightNow.value !== n) {
      this.inFlightNow.value = n;
      }
  }

  /** A checkpoint's SLO verdicts: inferload_slo_passed{slo, class?} = 1 or 0. */
  setSlos(verdicts: readonly SloVerdict[]): void {
    for (const v of verdicts) {
      const key = (v.class ?? '') + '\0' + v.name;
      let s = this.slos.get(key);
      if (!s) {
        const pairs: (readonly [string, string])[] = [...this.base];
        if (v.class !== undefined) pairs.push(['class', this.classLabel.value(v.class)]);
        pairs.push(['slo', this.sloLabel.value(v.name)]);
        s = this.sloPassed.scalar(pairs);
        this.slos.set(key, s);
      }
      s.value = v.passed ? 1 : 0;
    }
  }

  /** Label values that exceeded MAX_LABEL_VALUES and were written as OTHER. */
  get overflowedLabels(): number {
    return this.classLabel.overflowed + this.modelLabel.overflowed + this.sloLabel.overflowed + this.errorLabel.overflowed;
  }

  /** The most bytes the exposition can take now (every number at its longest). */
  expositionBound(): number {
    let bound = 0;
    for (const f of this.families) if (!f.empty) bound += f.header.length + f.prefixBytes + f.lines * MAX_VALUE_BYTES;
    return bound;
  }

  /**
   * Writes the text exposition format 0.0.4 of every family that has a series (UTF-8) into `buf`,
   * which holds at least expositionBound() bytes; returns the length written. Every line's name
   * and labels were encoded when its series appeared: this copies them and writes the numbers.
   * A thousand series take well under a millisecond, most of it touching the memory written: a
   * caller that renders often gives it a buffer it reuses (prometheus.ts does).
   */
  writeExposition(buf: Buffer): number {
    this.beforeRead?.();
    if (buf.length < this.expositionBound()) throw new RangeError('writeExposition: buffer shorter than expositionBound()');
    let o = 0;
    for (const f of this.families) {
      if (f.empty) continue;
      o = put(buf, o, f.header);
      for (const s of f.scalars) {
        o = putValue(buf, put(buf, o, s.line), s.value);
        buf[o++] = 10;
      }
      for (const h of f.hists) {
        let acc = 0;
        const lines = h.bucketLines;
        for (let i = 0; i < lines.length; i++) {
          acc += h.counts[i]!;
          o = putValue(buf, put(buf, o, lines[i]!), acc);
          buf[o++] = 10;
        }
        o = putValue(buf, put(buf, o, h.sumLine), h.sumUs / 1e6);
        buf[o++] = 10;
        o = putValue(buf, put(buf, o, h.countLine), h.count);
        buf[o++] = 10;
      }
    }
    return o;
  }

  /** The exposition in a buffer of its own. */
  exposition(): Buffer {
    this.beforeRead?.();
    const buf = Buffer.allocUnsafe(this.expositionBound());
    return buf.subarray(0, this.writeExposition(buf));
  }

  /** Every series' value now (histograms as cumulative _bucket, _sum and _count), for remote-write. */
  snapshot(): SeriesSnapshot {
    this.beforeRead?.();
    let n = 0;
    for (const f of this.families) n += f.lines;
    const labels: (readonly Label[])[] = new Array(n);
    const values = new Float64Array(n);
    let k = 0;
    for (const f of this.families) {
      for (const s of f.scalars) {
        labels[k] = s.labels();
        values[k++] = s.value;
      }
      for (const h of f.hists) {
        const l = h.labels();
        let acc = 0;
        for (let i = 0; i < l.buckets.length; i++) {
          acc += h.counts[i]!;
          labels[k] = l.buckets[i]!;
          values[k++] = acc;
        }
        labels[k] = l.sum;
        values[k++] = h.sumUs / 1e6;
        labels[k] = l.count;
        values[k++] = h.count;
      }
    }
    return { labels, values };
  }
}
