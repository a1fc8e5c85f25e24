// Server and GPU signals from a Prometheus server (PromQL over its HTTP API) instead of scraping
// each endpoint: in production a gateway hides the replicas, but a Prometheus already scrapes all
// of them. Outwardly a Scraper: the same sink, ScrapeSamples on the run clock, start/stop, info and
// the run's counter figures; beside the sum it keeps every replica (by the replica label).
//
// Every interval (default 5 s) one round of instant queries (promql-query.ts generates them from
// the profiles) against GET {prom}/api/v1/query: gauges summed or averaged, counter rates over
// R = max(4 × Prometheus's scrape interval, window, interval), histogram quantiles and means,
// GPUs one row each; the same by replica. A round with a failed query counts as a failed scrape;
// nothing here throws into the run.
import type { Clock } from '../core/clock.js';
import { request } from '../core/http.js';
import { oneLineRedacted, parseTarget, type TargetUrl } from '../core/secret.js';
import { nextTurn } from '../core/turn.js';
import type { ServerEndpoint } from '../results/types.js';
import { Scraper, type ScrapeEndpointOptions, type ScrapeSample, type ScrapeSink } from './poller.js';
import type { CounterSignal, GaugeSignal, GpuSignal } from './profiles.js';
import {
  PromqlAnswerError,
  RATE_KEYS,
  buildPlan,
  detectionQuery,
  matchesLabels,
  namesOf,
  parseQueryAnswer,
  parseSelector,
  planQueries,
  promDurationS,
  rateRangeS,
  selectorText,
  type Matcher,
  type PromqlPlan,
  type VectorSample,
} from './promql-query.js';
import type { GpuSignals, Signals } from './signals.js';

// ---------------------------------------------------------------------------------------------
// The common face of the run's server-signal sources (Scraper has it as it is).

/** What the run asks of its server-signal source: src/cli/execute.ts's every `scraper.` call. */
export interface ServerSignalSource {
  readonly size: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  info(): ServerEndpoint[];
  serverGenerationTokens(): number | null;
  serverPrefixCache(): { queries_tokens: number; hits_tokens: number; hit_ratio: number | null } | null;
  gpuCount(): number | null;
  /** per replica over the run (a PromQL source only) */
  replicas?(): ServerReplica[];
}

/** `target.prometheus` / `--prometheus URL`, as the scenario schema gives it (prometheus-schema.ts). */
export interface PrometheusTarget {
  /** the Prometheus server's base URL (credentials in it go as HTTP Basic and are masked everywhere) */
  url: string;
  /** the deployment's label selector: `{namespace="prod",job="vllm"}`; '' for every series */
  selector: string;
  /** seconds between query rounds (default 5) */
  intervalS: number;
  /** the label that tells replicas apart (default instance) */
  replicaLabel: string;
  /** Prometheus's own scrape interval of these targets; default: asked of /api/v1/targets */
  scrapeIntervalS?: number;
  /** give up on one query after this long (default: the interval, at most 5 s) */
  timeoutS?: number;
}

/**
 * The run's source of server signals: PromQL when `prometheus` is given, else the direct scraper
 * of `endpoints`. Same arguments as `new Scraper(endpoints, clock, sink, windowS)` after the first.
 */
export function serverSignalSource(
  prometheus: PrometheusTarget | undefined,
  endpoints: ScrapeEndpointOptions[],
  clock: Clock,
  sink: ScrapeSink,
  windowS: number,
): ServerSignalSource {
  return prometheus === undefined ? new Scraper(endpoints, clock, sink, windowS) : new PromqlSource(prometheus, clock, sink, windowS);
}

// ---------------------------------------------------------------------------------------------
// Shapes.

/** Per-replica signals of one query round. */
export type ReplicaSignalKey = GaugeSignal | 'preemptions_per_s' | 'prompt_tokens_per_s' | 'generation_tokens_per_s';
export interface ReplicaSample {
  /** the replica label's value ('' when a series has none) */
  replica: string;
  signals: Partial<Record<ReplicaSignalKey, number>>;
}

/** A ScrapeSample of a query round: the same fields, plus every replica's own signals. */
export interface PromqlSample extends ScrapeSample {
  replicas: ReplicaSample[];
}

/** One point of a replica's series: the queue, the batch and the KV cache at a query round. */
export interface ReplicaPoint {
  /** run-clock seconds */
  t_s: number;
  queue_depth?: number;
  requests_running?: number;
  kv_cache_usage_ratio?: number;
}

/**
 * One replica over the run: results.server.replicas[] (proposed). Maxima and means are over
 * the query rounds that saw it; counts are the counters' growth from its first round to its last.
 */
export interface ServerReplica {
  /** the replica label's value, e.g. "10.0.3.7:8000" ('' for series without the label) */
  replica: string;
  /** which label that is (target.prometheus.replicaLabel) */
  label: string;
  /** query rounds that saw it */
  samples: number;
  /** run-clock seconds of the first and the last round that saw it (negative: before the load started) */
  first_seen_s: number;
  last_seen_s: number;
  queue_depth_max: number | null;
  queue_depth_mean: number | null;
  requests_running_max: number | null;
  requests_running_mean: number | null;
  kv_cache_usage_ratio_max: number | null;
  kv_cache_usage_ratio_mean: number | null;
  generation_tokens_per_s_mean: number | null;
  generation_tokens: number | null;
  prompt_tokens: number | null;
  preemptions: number | null;
  /** its generation tokens / every replica's: 1/N each when the load is balanced */
  generation_share: number | null;
  /** hits / queries of its prefix-cache counters over the run */
  prefix_cache_hit_ratio: number | null;
  /** every round's queue, batch and KV usage; at most MAX_POINTS (thinned evenly past that) */
  series: ReplicaPoint[];
}

/** results.server.endpoints[] of a PromQL source: ServerEndpoint and what the queries were. */
export interface PromqlEndpointInfo extends ServerEndpoint {
  source: 'prometheus';
  selector: string;
  replica_label: string;
  /** Prometheus's scrape interval used for R */
  prometheus_scrape_interval_s: number | null;
  /** where it came from: given, targets, global configuration, default */
  prometheus_scrape_interval_from: string | null;
  /** R of rate(…[R]) */
  rate_window_s: number | null;
  /** replicas seen */
  replicas: number;
  /** the round's queries (the last plan), for copying into a dashboard */
  queries: string[];
}

const MAX_POINTS = 360;
const MAX_MESSAGE = 300;
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const CONCURRENCY = 6;
/** re-ask which metrics exist every this many rounds, for signals still missing */
const REDETECT_EVERY = 12;
/** Prometheus's own default scrape interval, when nothing says otherwise */
const PROMETHEUS_DEFAULT_SCRAPE_S = 60;

interface ReplicaState {
  replica: string;
  samples: number;
  /** epoch ms (the run clock restarts before the load: times are converted when reported) */
  firstMs: number;
  lastMs: number;
  stats: Map<string, { max: number; sum: number; n: number }>;
  first: Partial<Record<CounterSignal, number>>;
  last: Partial<Record<CounterSignal, number>>;
  /** counter growth before the last reset seen, per counter */
  carried: Partial<Record<CounterSignal, number>>;
  /** points with `t_s` holding epoch ms until reported */
  series: ReplicaPoint[];
  /** keep one round in `stride` */
  stride: number;
  skipped: number;
}

/** An HTTP or protocol failure of one query, message already cleaned. */
class QueryError extends Error {}

// ---------------------------------------------------------------------------------------------

export class PromqlSource implements ServerSignalSource {
  readonly size = 1;
  private readonly target: TargetUrl;
  private readonly matchers: Matcher[];
  private readonly intervalS: number;
  private readonly timeoutMs: number;
  private readonly replicaLabel: string;
  private plan: PromqlPlan | null = null;
  private names = new Set<string>();
  private scrapeIntervalS: number | null = null;
  private scrapeIntervalFrom = '';
  private rounds = 0;
  private failures = 0;
  private lastError: string | null = null;
  private readonly warnings = new Set<string>();
  private readonly replicaStates = new Map<string, ReplicaState>();
  private lastGpus: GpuSignals[] = [];
  /** GPU indexes repeat (several nodes): rows are named node/index, the node by Hostname or, when that repeats too, by instance */
  private qualifyGpus = false;
  private nodeByInstance = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly configError: string | null;
  /** a round has read counter totals: counters first seen later count from 0 */
  private baselined = false;

  constructor(
    private readonly opts: PrometheusTarget,
    private readonly clock: Clock,
    private readonly sink: ScrapeSink,
    private readonly windowS: number,
  ) {
    let matchers: Matcher[] = [];
    let configError: string | null = null;
    let target: TargetUrl;
    try {
      target = parseTarget(opts.url);
    } catch {
      // the scenario's schema refuses it first; here it only must not throw into the run
      target = parseTarget('http://invalid.invalid');
      target = { ...target, display: '(not a URL)', displayAt: () => '(not a URL)' };
      configError = 'target.prometheus.url is not a URL';
    }
    this.target = target;
    try {
      matchers = parseSelector(opts.selector);
    } catch (err) {
      configError ??= `target.prometheus.selector does not parse: expected ${(err as Error).message}`;
    }
    this.matchers = matchers;
    this.configError = configError;
    this.intervalS = opts.intervalS > 0 ? opts.intervalS : 5;
    this.timeoutMs = (opts.timeoutS ?? Math.min(5, this.intervalS)) * 1000;
    this.replicaLabel = opts.replicaLabel || 'instance';
    if (opts.scrapeIntervalS !== undefined && opts.scrapeIntervalS > 0) {
      this.scrapeIntervalS = opts.scrapeIntervalS;
      this.scrapeIntervalFrom = 'given';
    }
  }

  /** Detects the profiles, learns Prometheus's scrape interval, runs one round; then keeps querying. */
  async start(): Promise<void> {
    await this.round();
    this.loop = this.poll();
  }

  /** Stops after one last round (so the counters' last values cover the whole run). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.round();
  }

  private async poll(): Promise<void> {
    const intervalUs = this.intervalS * 1e6;
    let next = this.clock.now() + intervalUs;
    while (!this.stopped) {
      await this.sleep(Math.max(0, (next - this.clock.now()) / 1000));
      if (this.stopped) return;
      next += intervalUs;
      if (next < this.clock.now()) next = this.clock.now() + intervalUs;
      await this.round();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      timer.unref?.();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  /** One query round; never throws. */
  private async round(): Promise<void> {
    const started = performance.now();
    const tUs = this.clock.now();
    this.rounds++;
    try {
      await this.roundInner(tUs, started);
    } catch (err) {
      this.fail(tUs, started, err);
    }
  }

  private async roundInner(tUs: number, started: number): Promise<void> {
    if (this.configError !== null) throw new QueryError(this.configError);
    if (this.scrapeIntervalS === null) await this.learnScrapeInterval();
    if (this.plan === null || this.plan.profiles.length === 0 || this.rounds % REDETECT_EVERY === 0) await this.detect();
    const plan = this.plan!;
    if (plan.profiles.length === 0) {
      this.warnings.add(`no series of a known server profile match ${selectorText(this.matchers) || 'any selector'} in Prometheus (yet)`);
    }
    const queries = planQueries(plan);
    const answers = await this.queryAll(queries);
    const errors = [...answers.values()].filter((a): a is QueryError => a instanceof Error);
    if (queries.length > 0 && errors.length === queries.length) throw errors[0]!;
    await nextTurn();
    const got = (q: string): VectorSample[] | null => {
      const a = answers.get(q);
      return a === undefined || a instanceof Error ? null : a;
    };
    const { signals, replicas } = this.readSignals(plan, got, tUs);
    const perGpu = this.readGpus(plan, got);
    if (perGpu.length > 0) Object.assign(signals, gpuAggregates(perGpu));
    let error: string | null = null;
    if (errors.length > 0) {
      this.failures++;
      error = `${errors.length} of ${queries.length} queries failed: ${errors[0]!.message}`;
      this.lastError = error;
    }
    await nextTurn();
    const sample: PromqlSample = {
      url: this.target.display,
      tUs,
      ok: true,
      elapsedMs: performance.now() - started,
      error,
      signals,
      perGpu,
      profiles: plan.profiles,
      parsed: null,
      replicas,
    };
    this.sink.onSample(sample);
  }

  private fail(tUs: number, started: number, err: unknown): void {
    this.failures++;
    this.lastError = err instanceof QueryError ? err.message : this.clean(`internal: ${(err as Error)?.message ?? String(err)}`);
    const sample: PromqlSample = {
      url: this.target.display,
      tUs,
      ok: false,
      elapsedMs: performance.now() - started,
      error: this.lastError,
      signals: {},
      perGpu: [],
      profiles: this.plan?.profiles ?? [],
      parsed: null,
      replicas: [],
    };
    try {
      this.sink.onSample(sample);
    } catch {
      // the sink is the run's: its failure is not the source's to report
    }
  }

  /** Which metrics of the profiles exist behind the selector; the plan from them (kept choices stay). */
  private async detect(): Promise<void> {
    const samples = await this.query(detectionQuery(this.matchers));
    for (const n of namesOf(samples)) this.names.add(n);
    this.plan = buildPlan({
      names: this.names,
      matchers: this.matchers,
      replicaLabel: this.replicaLabel,
      rangeS: rateRangeS(this.scrapeIntervalS ?? PROMETHEUS_DEFAULT_SCRAPE_S, this.windowS, this.intervalS),
      ...(this.plan !== null && this.plan.profiles.length > 0 && { previous: this.plan }),
    });
  }

  /**
   * Prometheus's scrape interval of the deployment's targets (the longest, when they differ):
   * /api/v1/targets, the targets whose labels the selector matches (all, when none does); else the
   * configuration's global scrape_interval; else Prometheus's default (1m), with a warning.
   */
  private async learnScrapeInterval(): Promise<void> {
    try {
      const body = (await this.get('/api/v1/targets', { state: 'active' })) as { data?: { activeTargets?: { labels?: Record<string, string>; scrapeInterval?: string }[] } };
      const targets = body.data?.activeTargets ?? [];
      const ours = targets.filter((t) => matchesLabels(this.matchers, t.labels ?? {}));
      const intervals = (ours.length > 0 ? ours : targets).map((t) => promDurationS(t.scrapeInterval)).filter((s) => s > 0);
      if (intervals.length > 0) {
        this.scrapeIntervalS = Math.max(...intervals);
        this.scrapeIntervalFrom = ours.length > 0 ? 'targets' : 'targets (none matched the selector: the longest of all)';
        return;
      }
      const config = (await this.get('/api/v1/status/config', {})) as { data?: { yaml?: string } };
      const m = /^global:\s*\n(?:[ \t]+.*\n)*?[ \t]+scrape_interval:\s*(\S+)/m.exec(config.data?.yaml ?? '');
      const s = promDurationS(m?.[1]);
      if (s > 0) {
        this.scrapeIntervalS = s;
        this.scrapeIntervalFrom = 'global configuration';
        return;
      }
    } catch (err) {
      if (err instanceof QueryError && /HTTP 40[134]\b/.test(err.message)) {
        // a managed Prometheus may hide these: not a failure of the round
      } else throw err;
    }
    this.scrapeIntervalS = PROMETHEUS_DEFAULT_SCRAPE_S;
    this.scrapeIntervalFrom = 'default';
    this.warnings.add(`Prometheus's scrape interval is unknown (no targets or configuration to read): rates use ${rateRangeS(PROMETHEUS_DEFAULT_SCRAPE_S, this.windowS, this.intervalS)} s windows; give target.prometheus.scrapeInterval`);
  }

  private async queryAll(queries: readonly string[]): Promise<Map<string, VectorSample[] | QueryError>> {
    const out = new Map<string, VectorSample[] | QueryError>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < queries.length) {
        const q = queries[next++]!;
        try {
          out.set(q, await this.query(q));
        } catch (err) {
          out.set(q, err instanceof QueryError ? err : new QueryError(this.clean(String((err as Error)?.message ?? err))));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queries.length) }, worker));
    return out;
  }

  private async query(q: string): Promise<VectorSample[]> {
    const body = await this.get('/api/v1/query', { query: q });
    try {
      const { samples, warnings } = parseQueryAnswer(body);
      for (const w of warnings.slice(0, 3)) if (this.warnings.size < 20) this.warnings.add(`Prometheus: ${this.clean(w)}`);
      return samples;
    } catch (err) {
      if (err instanceof PromqlAnswerError) throw new QueryError(this.clean(err.message));
      throw err;
    }
  }

  /** GET {prom}{path}?{the URL's own query}&{params}, JSON; throws QueryError with a clean message. */
  private async get(path: string, params: Record<string, string>): Promise<unknown> {
    const t = this.target;
    const own = t.query.length > 1 ? `${t.query.slice(1)}&` : '';
    const url = `${t.origin}${t.path}${path}?${own}${new URLSearchParams(params).toString()}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let status = 0;
    let text = '';
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'application/json', ...(t.authorization !== null && { authorization: t.authorization }) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: timeout,
      });
      status = res.statusCode;
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of res.body) {
        bytes += (chunk as Buffer).length;
        if (bytes > MAX_BODY_BYTES) {
          res.body.destroy();
          throw new QueryError(`${t.displayAt(path)}: answer larger than ${MAX_BODY_BYTES} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      text = Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      if (err instanceof QueryError) throw err;
      if (timeout.aborted) throw new QueryError(`${t.displayAt(path)}: no answer within ${this.timeoutMs} ms`);
      const e = err as { code?: string; message?: string };
      throw new QueryError(this.clean(`${t.displayAt(path)}: ${e.code ? `${e.code} ` : ''}${e.message ?? String(err)}`));
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new QueryError(this.clean(`${t.displayAt(path)}: HTTP ${status}, not JSON: ${text.slice(0, 120)}`));
    }
    // Prometheus answers a bad query with 400/422 and a JSON error: its own words are the message
    if (status < 200 || status > 299) {
      const b = body as { errorType?: unknown; error?: unknown };
      const why = typeof b?.error === 'string' ? `: ${typeof b.errorType === 'string' ? `${b.errorType}: ` : ''}${b.error}` : '';
      throw new QueryError(this.clean(`${t.displayAt(path)}: HTTP ${status}${why}`));
    }
    return body;
  }

  /** One line, bounded, secrets out, control characters escaped. */
  private clean(text: string): string {
    const visible = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => (c === '\n' || c === '\t' || c === '\r' ? ' ' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
    return oneLineRedacted(this.target.redact(visible), this.target.secrets, MAX_MESSAGE);
  }

  // -------------------------------------------------------------------------------------------

  private readSignals(plan: PromqlPlan, got: (q: string) => VectorSample[] | null, tUs: number): { signals: Signals; replicas: ReplicaSample[] } {
    const signals: Signals = {};
    const per = new Map<string, ReplicaSample>();
    const replicaOf = (labels: Record<string, string>): ReplicaSample => {
      const name = labels[this.replicaLabel] ?? '';
      let r = per.get(name);
      if (r === undefined) per.set(name, (r = { replica: name, signals: {} }));
      return r;
    };
    const single = (q: string): number | undefined => {
      const v = got(q);
      if (v === null || v.length === 0) return undefined;
      const x = v[0]!.value;
      return Number.isFinite(x) ? x : undefined;
    };
    for (const g of plan.gauges) {
      const v = single(g.total);
      if (v !== undefined) signals[g.signal] = v;
      for (const s of got(g.perReplica) ?? []) if (Number.isFinite(s.value)) replicaOf(s.labels).signals[g.signal] = s.value;
    }
    const rates: Partial<Record<CounterSignal, number>> = {};
    const totals = new Map<string, Partial<Record<CounterSignal, number>>>();
    const ratesPer = new Map<string, Partial<Record<CounterSignal, number>>>();
    for (const c of plan.counters) {
      const v = single(c.rate);
      if (v !== undefined) rates[c.counter] = v;
      for (const s of got(c.ratePerReplica) ?? []) {
        if (!Number.isFinite(s.value)) continue;
        const r = replicaOf(s.labels);
        const key = RATE_KEYS[c.counter];
        if (key !== undefined) r.signals[key] = s.value;
        const m = ratesPer.get(r.replica) ?? {};
        m[c.counter] = s.value;
        ratesPer.set(r.replica, m);
      }
      for (const s of got(c.totalPerReplica) ?? []) {
        if (!Number.isFinite(s.value)) continue;
        const name = s.labels[this.replicaLabel] ?? '';
        const m = totals.get(name) ?? {};
        m[c.counter] = s.value;
        totals.set(name, m);
      }
    }
    for (const [counter, key] of Object.entries(RATE_KEYS) as [CounterSignal, keyof Signals][]) if (rates[counter] !== undefined) signals[key] = rates[counter];
    if (rates.prefix_cache_hits !== undefined && rates.prefix_cache_queries !== undefined && rates.prefix_cache_queries > 0)
      signals.prefix_cache_hit_ratio = Math.min(1, rates.prefix_cache_hits / rates.prefix_cache_queries);
    for (const h of plan.histograms) {
      for (const q of h.quantiles) {
        const v = single(q.query);
        if (v !== undefined) signals[`${h.signal}_${q.stat}`] = v;
      }
      const m = single(h.mean);
      if (m !== undefined) signals[`${h.signal}_mean`] = m;
    }
    for (const name of totals.keys()) if (!per.has(name)) replicaOf({ [this.replicaLabel]: name });
    for (const r of per.values()) this.noteReplica(r, totals.get(r.replica) ?? {}, tUs);
    if (totals.size > 0) this.baselined = true;
    const replicas = [...per.values()].sort((a, b) => a.replica.localeCompare(b.replica));
    return { signals, replicas };
  }

  private noteReplica(r: ReplicaSample, totals: Partial<Record<CounterSignal, number>>, tUs: number): void {
    const atMs = this.clock.epochMs + tUs / 1000;
    let st = this.replicaStates.get(r.replica);
    if (st === undefined) {
      st = { replica: r.replica, samples: 0, firstMs: atMs, lastMs: atMs, stats: new Map(), first: {}, last: {}, carried: {}, series: [], stride: 1, skipped: 0 };
      this.replicaStates.set(r.replica, st);
    }
    st.samples++;
    st.lastMs = atMs;
    for (const [k, v] of Object.entries(r.signals)) {
      if (typeof v !== 'number') continue;
      const acc = st.stats.get(k) ?? { max: -Infinity, sum: 0, n: 0 };
      acc.max = Math.max(acc.max, v);
      acc.sum += v;
      acc.n++;
      st.stats.set(k, acc);
    }
    for (const [counter, v] of Object.entries(totals) as [CounterSignal, number][]) {
      const was = st.last[counter];
      if (was !== undefined && v < was) {
        // the counter went down: the replica restarted; what it counted before stays counted
        st.carried[counter] = (st.carried[counter] ?? 0) + was - (st.first[counter] ?? 0);
        st.first[counter] = 0;
      }
      // a counter first seen after the baseline round (a replica that came up during the run)
      // counts from 0, as a new series does in signals.ts's counterDeltas
      st.first[counter] ??= this.baselined ? 0 : v;
      st.last[counter] = v;
    }
    if (st.skipped++ % st.stride === 0) {
      const p: ReplicaPoint = { t_s: atMs };
      for (const k of ['queue_depth', 'requests_running', 'kv_cache_usage_ratio'] as const) if (r.signals[k] !== undefined) p[k] = r.signals[k];
      st.series.push(p);
      if (st.series.length >= MAX_POINTS) {
        st.series = st.series.filter((_, i) => i % 2 === 0);
        st.stride *= 2;
        st.skipped = 1;
      }
    }
  }

  /** One row per GPU: by UUID, else by node (Hostname, else instance) and index; earlier rules win per GPU. */
  private readGpus(plan: PromqlPlan, got: (q: string) => VectorSample[] | null): GpuSignals[] {
    const rows = new Map<string, { row: GpuSignals; host: string; instance: string; values: Map<string, number> }>();
    for (const g of plan.gpus) {
      for (const s of got(g.query) ?? []) {
        if (!Number.isFinite(s.value)) continue;
        const l = s.labels;
        const uuid = l['UUID'] ?? l['uuid'] ?? l['gpu_uuid'] ?? '';
        const gpu = l['gpu'] ?? l['minor_number'] ?? '';
        const host = l['Hostname'] ?? '';
        const instance = l['instance'] ?? '';
        const key = uuid !== '' ? `uuid:${uuid}` : `gpu:${host}\u0000${instance}\u0000${gpu}`;
        let entry = rows.get(key);
        if (entry === undefined) rows.set(key, (entry = { row: { gpu: gpu || String(rows.size), uuid }, host, instance, values: new Map() }));
        if (!entry.values.has(g.signal)) entry.values.set(g.signal, s.value);
      }
    }
    const entries = [...rows.values()];
    const distinct = (f: (e: (typeof entries)[number]) => string): boolean => new Set(entries.map((e) => `${f(e)}\u0000${e.row.gpu}`)).size === entries.length;
    if (!distinct(() => '')) {
      this.qualifyGpus = true;
      if (!distinct((e) => e.host)) this.nodeByInstance = true;
    }
    const out: GpuSignals[] = [];
    for (const { row, host, instance, values } of entries) {
      const node = this.nodeByInstance ? instance || host : host || instance;
      const used = values.get('gpu_memory_used_bytes');
      let total = values.get('gpu_memory_total_bytes');
      const free = values.get('gpu_memory_free_bytes');
      if (total === undefined && used !== undefined && free !== undefined) total = used + free + (values.get('gpu_memory_reserved_bytes') ?? 0);
      if (total !== undefined) values.set('gpu_memory_total_bytes', total);
      if (used !== undefined && total !== undefined && total > 0) values.set('gpu_memory_used_ratio', used / total);
      // GPUs of several nodes: the index alone repeats, the node tells them apart
      if (this.qualifyGpus && node !== '') row.gpu = `${node}/${row.gpu}`;
      for (const signal of GPU_ORDER) {
        const v = values.get(signal);
        if (v !== undefined) row[signal] = v;
      }
      out.push(row);
    }
    if (out.length > 0) this.lastGpus = out;
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // What the run asks at the end.

  info(): ServerEndpoint[] {
    const warnings = [...this.warnings];
    if (this.failures > 0) warnings.push(`${this.failures} of ${this.rounds} query rounds failed${this.lastError ? ` (last: ${this.lastError})` : ''}`);
    if (this.scrapeIntervalS !== null && this.scrapeIntervalS > this.intervalS)
      warnings.push(`Prometheus scrapes every ${this.scrapeIntervalS} s, less often than every ${this.intervalS} s query round: consecutive rounds may see the same values`);
    const info: PromqlEndpointInfo = {
      url: this.target.display,
      profiles: this.plan?.profiles ?? [],
      profile: this.plan?.profiles[0] ?? null,
      scrapes: this.rounds,
      failures: this.failures,
      interval_s: this.intervalS,
      last_error: this.lastError,
      warnings,
      source: 'prometheus',
      selector: selectorText(this.matchers),
      replica_label: this.replicaLabel,
      prometheus_scrape_interval_s: this.scrapeIntervalS,
      prometheus_scrape_interval_from: this.scrapeIntervalFrom || null,
      rate_window_s: this.plan?.rangeS ?? null,
      replicas: this.replicaStates.size,
      queries: this.plan ? planQueries(this.plan) : [],
    };
    return [info];
  }

  /** Generation tokens over the run (each replica's counter, first round to last, restarts handled), summed. */
  serverGenerationTokens(): number | null {
    return this.counterGrowth('generation_tokens');
  }

  serverPrefixCache(): { queries_tokens: number; hits_tokens: number; hit_ratio: number | null } | null {
    const queries = this.counterGrowth('prefix_cache_queries');
    const hits = this.counterGrowth('prefix_cache_hits');
    if (queries === null || hits === null) return null;
    return { queries_tokens: queries, hits_tokens: hits, hit_ratio: queries > 0 ? Math.round((Math.min(hits, queries) / queries) * 1e4) / 1e4 : null };
  }

  gpuCount(): number | null {
    return this.lastGpus.length > 0 ? this.lastGpus.length : null;
  }

  /** Every replica seen, by name: results.server.replicas. */
  replicas(): ServerReplica[] {
    const all = [...this.replicaStates.values()].sort((a, b) => a.replica.localeCompare(b.replica));
    const gen = all.map((s) => growth(s, 'generation_tokens'));
    const genSum = gen.reduce<number>((a, b) => a + (b ?? 0), 0);
    const zeroMs = this.clock.epochMs;
    const runS = (ms: number): number => Math.round(ms - zeroMs) / 1000;
    return all.map((s, i) => {
      const stat = (k: string, which: 'max' | 'mean'): number | null => {
        const a = s.stats.get(k);
        if (a === undefined || a.n === 0) return null;
        return round4(which === 'max' ? a.max : a.sum / a.n);
      };
      const hits = growth(s, 'prefix_cache_hits');
      const queries = growth(s, 'prefix_cache_queries');
      return {
        replica: s.replica,
        label: this.replicaLabel,
        samples: s.samples,
        first_seen_s: runS(s.firstMs),
        last_seen_s: runS(s.lastMs),
        queue_depth_max: stat('queue_depth', 'max'),
        queue_depth_mean: stat('queue_depth', 'mean'),
        requests_running_max: stat('requests_running', 'max'),
        requests_running_mean: stat('requests_running', 'mean'),
        kv_cache_usage_ratio_max: stat('kv_cache_usage_ratio', 'max'),
        kv_cache_usage_ratio_mean: stat('kv_cache_usage_ratio', 'mean'),
        generation_tokens_per_s_mean: stat('generation_tokens_per_s', 'mean'),
        generation_tokens: gen[i] ?? null,
        prompt_tokens: growth(s, 'prompt_tokens'),
        preemptions: growth(s, 'preemptions'),
        generation_share: gen[i] !== null && gen[i] !== undefined && genSum > 0 ? round4(gen[i]! / genSum) : null,
        prefix_cache_hit_ratio: hits !== null && queries !== null && queries > 0 ? round4(Math.min(hits, queries) / queries) : null,
        series: s.series.map((p) => ({ ...p, t_s: runS(p.t_s) })),
      };
    });
  }

  private counterGrowth(counter: CounterSignal): number | null {
    let total: number | null = null;
    for (const s of this.replicaStates.values()) {
      const g = growth(s, counter);
      if (g !== null) total = (total ?? 0) + g;
    }
    return total;
  }
}

function growth(s: ReplicaState, counter: CounterSignal): number | null {
  const a = s.first[counter];
  const b = s.last[counter];
  if (a === undefined || b === undefined) return null;
  return (s.carried[counter] ?? 0) + (b - a);
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

const GPU_ORDER: readonly GpuSignal[] = ['gpu_utilization_ratio', 'gpu_sm_active_ratio', 'gpu_memory_used_ratio', 'gpu_memory_used_bytes', 'gpu_memory_free_bytes', 'gpu_memory_total_bytes', 'gpu_power_watts'];
const GPU_SUMMED_AGG = new Set<GpuSignal>(['gpu_memory_used_bytes', 'gpu_memory_free_bytes', 'gpu_memory_total_bytes', 'gpu_power_watts']);

/** The GPU aggregates signals.ts gives: ratios averaged over GPUs, bytes and watts summed, the count. */
export function gpuAggregates(rows: readonly GpuSignals[]): Signals {
  const out: Signals = {};
  for (const signal of GPU_ORDER) {
    const vals = rows.map((r) => r[signal]).filter((v): v is number => typeof v === 'number');
    if (vals.length === 0) continue;
    const total = vals.reduce((a, b) => a + b, 0);
    out[signal] = GPU_SUMMED_AGG.has(signal) ? total : total / vals.length;
  }
  out.gpu_count = rows.length;
  return out;
}

