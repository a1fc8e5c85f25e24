// The Recorder: per-request records in, HDR histograms (whole run and per time window) and
// counters out. Bounded memory whatever the run length: live histograms exist only for the
// whole run and the few open windows; closed windows keep numbers and encoded histograms,
// and are coarsened (adjacent pairs merged) when there are more than `maxWindows`. No I/O.
import type { RequestRecord } from '../core/record.js';
import { compare, parseThreshold, type Comparison } from '../core/threshold.js';
import type { ScenarioSpec } from '../core/types.js';
import { derive, forEachItl } from './derive.js';
import { decodeHistogram, encodeHistogram, newHistogram, percentileMs, percentilesMs, recordUs, type Histogram } from './hdr.js';
import { RequestTally, summarizeCaptured, type Counters, type LatencyMetric, type TallySnapshot } from './tally.js';

export { LATENCY_METRICS, type Counters, type LatencyMetric } from './tally.js';

/** The per-window histograms. */
const WINDOW_METRICS = ['ttft', 'itl', 'e2e', 'schedule_lag'] as const;
type WindowMetric = (typeof WINDOW_METRICS)[number];

/** A per-request SLO used for goodput: vLLM's rule, a request is good when it meets all. */
export interface RequestSlo {
  metric: 'ttft_ms' | 'ttft_sent_ms' | 'tpot_ms' | 'e2e_ms' | 'e2e_sent_ms';
  op: Comparison;
  valueMs: number;
}

/** The per-request SLOs of a scenario: every latency threshold read as a per-request bound. */
export function requestSlos(slo: ScenarioSpec['slo']): RequestSlo[] {
  const out: RequestSlo[] = [];
  for (const [metric, thresholds] of Object.entries(slo)) {
    if (metric !== 'ttft_ms' && metric !== 'ttft_sent_ms' && metric !== 'tpot_ms' && metric !== 'e2e_ms' && metric !== 'e2e_sent_ms')
      continue;
    for (const t of thresholds) {
      const p = parseThreshold(t.threshold);
      if (p && p.aggregation.kind !== 'count' && p.aggregation.kind !== 'rate') out.push({ metric, op: p.op, valueMs: p.value });
    }
  }
  return out;
}

export interface RecorderOptions {
  windowS: number;
  /** closed windows kept before pairs are merged (default 1800) */
  maxWindows?: number;
  requestSlos?: RequestSlo[];
  /** per request class (workload.classes): its per-request SLOs, which judge its requests instead */
  classRequestSlos?: ReadonlyMap<string, RequestSlo[]>;
}

/** One time window in results.windows[]. */
export interface WindowResult {
  t_s: number;
  window_s: number;
  /** arrivals the schedule made in this window (sent + dropped), by intended time */
  arrivals: number;
  sent: number;
  completed: number;
  failed: number;
  dropped: number;
  in_flight_max: number;
  errors: Record<string, number>;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  ttft_p99_ms: number | null;
  itl_p50_ms: number | null;
  itl_p95_ms: number | null;
  itl_p99_ms: number | null;
  e2e_p50_ms: number | null;
  e2e_p95_ms: number | null;
  e2e_p99_ms: number | null;
  schedule_lag_p99_ms: number | null;
  output_tokens: number;
  output_tokens_per_s: number;
  request_per_s: number;
  /** canonical server signals over this window (aggregated over GPUs: mean of ratios, sum of bytes/watts) */
  server: Record<string, number>;
  /** per-GPU signals over this window, when a GPU exporter was scraped */
  gpus?: { gpu: string; uuid?: string; [signal: string]: number | string | undefined }[];
  hdr: Record<WindowMetric, string>;
  /**
   * The requests that *arrived* in this window (by intended start), however late they ended:
   * the latency of what the window's load met. The fields above are keyed by when requests
   * ended (what users experienced when); a request waits behind the queue it found on arrival,
   * so correlations with server signals use these. Present once every request that arrived in
   * the window has ended (or at the end of the run).
   */
  by_arrival?: ArrivalWindow;
}

/** Latency of the requests that arrived in one window (windows[].by_arrival). */
export interface ArrivalWindow {
  /** arrivals in the window that completed successfully */
  completed: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  ttft_p99_ms: number | null;
  e2e_p50_ms: number | null;
  e2e_p95_ms: number | null;
  e2e_p99_ms: number | null;
  hdr: { ttft: string; e2e: string };
}

interface OpenWindow {
  startUs: number;
  widthUs: number;
  arrivals: number;
  sent: number;
  completed: number;
  failed: number;
  dropped: number;
  inFlightMax: number;
  outputTokens: number;
  errors: Record<string, number>;
  h: Record<WindowMetric, Histogram>;
  /** scraped server signals in this window: sums and counts, averaged at close */
  server: Map<string, { sum: number; n: number }>;
  gpus: Map<string, { uuid: string; sums: Map<string, { sum: number; n: number }> }>;
  /** requests that arrived in this window and have not ended yet */
  pendingArrivals: number;
  /** latencies of the successful requests that arrived in this window (by intended start) */
  arrival: {
    ttft: Histogram;
    e2e: Histogram;
    completed: number;
    /** computed on the turns before the window's by_arrival is attached */
    pct?: Omit<ArrivalWindow, 'completed' | 'hdr'>;
    ttftHdr?: string;
  } | null;
  /** the window's closed result, once closed (its by_arrival is added when the last arrival ends) */
  result: WindowResult | null;
}

export interface RecorderSnapshot extends TallySnapshot {
  windows: WindowResult[];
  /** the slices' tallies (request class, turn index, model); absent when no request had one */
  groups?: GroupSnapshots;
}

/** Each slice's tally at one moment, by its key. */
export interface GroupSnapshots {
  classes: Record<string, TallySnapshot>;
  /** by turn index, ascending */
  turns: { turn: number; tally: TallySnapshot }[];
  models: Record<string, TallySnapshot>;
}

/** The slices a measured request is tallied in, besides the whole run. */
interface Groups {
  classes: Map<string, RequestTally>;
  turns: Map<number, RequestTally>;
  models: Map<string, RequestTally>;
}

const CLOSE_SLACK_US = 50_000;

/**
 * Turn indices kept apart: a slice is ~1 MB of histograms, and a session may have thousands of
 * turns; the last slice holds every turn from this one on.
 */
export const MAX_TURN_SLICES = 50;

export class Recorder {
  readonly windowUs: number;
  private currentWidthUs: number;
  private readonly maxWindows: number;
  private readonly slos: RequestSlo[];
  /** per request class: its own per-request SLOs, judging its requests' goodput */
  private readonly classSlos: ReadonlyMap<string, RequestSlo[]>;
  /** the measured requests of the whole run */
  readonly total = new RequestTally();
  private readonly groups: Groups = { classes: new Map(), turns: new Map(), models: new Map() };
  /** open windows, oldest first */
  private open: OpenWindow[] = [];
  private closed: WindowResult[] = [];
  /** end of the newest window ever created */
  private lastEndUs = NaN;
  private pool: Histogram[] = [];
  /** the newest window: the progress line reads it */
  private lastClosed: WindowResult | null = null;
  /** requests sent and not yet ended (sampled into every window on the clock, not only at sends) */
  private inFlightNow = 0;
  /** the window each request in flight arrived in (by intended start) */
  private readonly arrivedIn = new Map<RequestRecord, OpenWindow>();
  /** closed windows whose arrivals have all ended, waiting for their by_arrival to be computed */
  private arrivalsDone: OpenWindow[] = [];
  private arrivalsScheduled = false;

  constructor(opts: RecorderOptions) {
    this.windowUs = Math.max(1, Math.round(opts.windowS * 1e6));
    this.currentWidthUs = this.windowUs;
    this.maxWindows = Math.max(4, opts.maxWindows ?? 1800);
    this.slos = opts.requestSlos ?? [];
    this.classSlos = opts.classRequestSlos ?? new Map();
  }

  /** The whole run's counters (warm-up excluded). */
  get counters(): Counters {
    return this.total.counters;
  }

  /** The whole run's latency histograms. */
  get run(): Record<LatencyMetric, Histogram> {
    return this.total.run;
  }

  /** The slices request `r` is tallied in (none for a request without class, turn or model). */
  private groupsOf(r: RequestRecord, into: RequestTally[]): RequestTally[] {
    into.length = 0;
    if (r.className !== null) into.push(slice(this.groups.classes, r.className));
    if (r.turn !== null) into.push(slice(this.groups.turns, Math.min(r.turn, MAX_TURN_SLICES)));
    if (r.model !== null) into.push(slice(this.groups.models, r.model));
    return into;
  }
  private readonly groupScratch: RequestTally[] = [];

  /** A request was handed to the backend. */
  onSent(r: RequestRecord, inFlight: number): void {
    const w = this.windowFor(r.intendedStartUs);
    w.arrivals++;
    w.sent++;
    w.pendingArrivals++;
    this.arrivedIn.set(r, w);
    this.inFlightNow = inFlight;
    const now = this.open[this.open.length - 1]!;
    if (inFlight > now.inFlightMax) now.inFlightMax = inFlight;
    if (inFlight > w.inFlightMax) w.inFlightMax = inFlight;
    this.total.sent(r);
    for (const g of this.groupsOf(r, this.groupScratch)) g.sent(r);
  }

  /** An arrival found no free slot and was dropped. */
  onDropped(r: RequestRecord): void {
    const w = this.windowFor(r.intendedStartUs);
    w.arrivals++;
    w.dropped++;
    this.total.dropped(r);
    for (const g of this.groupsOf(r, this.groupScratch)) g.dropped(r);
  }

  /**
   * Scraped server signals read at `tUs` (gauges, rates, GPU aggregates) and per GPU; each
   * window reports the mean of the samples that fell into it.
   */
  addServerSample(tUs: number, signals: Record<string, number | undefined>, perGpu: readonly { gpu: string; uuid?: string; [k: string]: unknown }[]): void {
    const w = this.windowFor(tUs);
    for (const [k, v] of Object.entries(signals)) if (typeof v === 'number' && Number.isFinite(v)) add(w.server, k, v);
    for (const g of perGpu) {
      let entry = w.gpus.get(g.gpu);
      if (!entry) {
        entry = { uuid: typeof g.uuid === 'string' ? g.uuid : '', sums: new Map() };
        w.gpus.set(g.gpu, entry);
      }
      for (const [k, v] of Object.entries(g)) if (k !== 'gpu' && k !== 'uuid' && typeof v === 'number' && Number.isFinite(v)) add(entry.sums, k, v);
    }
  }

  /** A request ended (success or failure). */
  record(r: RequestRecord): void {
    const arrivedIn = this.arrivedIn.get(r);
    // no longer in flight, before a window this ending creates counts it as open
    if (arrivedIn && this.inFlightNow > 0) this.inFlightNow--;
    const w = this.windowFor(r.endUs);
    const d = derive(r);
    if (arrivedIn) {
      this.arrivedIn.delete(r);
      if (r.ok && !Number.isNaN(d.e2eUs)) {
        const a = (arrivedIn.arrival ??= { ttft: this.take(), e2e: this.take(), completed: 0 });
        a.completed++;
        recordUs(a.e2e, d.e2eUs);
        if (!Number.isNaN(d.ttftUs)) recordUs(a.ttft, d.ttftUs);
      }
      if (--arrivedIn.pendingArrivals === 0 && arrivedIn.result) this.arrivalDone(arrivedIn);
    }
    if (!Number.isNaN(d.scheduleLagUs)) recordUs(w.h.schedule_lag, Math.max(0, d.scheduleLagUs));
    if (r.errorClass === 'aborted') w.errors.aborted = (w.errors.aborted ?? 0) + 1;
    else if (!r.ok) {
      w.failed++;
      const cls = r.errorClass ?? 'invalid_response';
      w.errors[cls] = (w.errors[cls] ?? 0) + 1;
    } else {
      w.completed++;
      w.outputTokens += d.outputTokens;
      recordUs(w.h.e2e, d.e2eUs);
      if (!Number.isNaN(d.ttftUs)) recordUs(w.h.ttft, d.ttftUs);
      const winItl = w.h.itl;
      forEachItl(r.chunkUs, (gap) => recordUs(winItl, gap));
    }
    if (r.warmup) return;
    const good = r.ok && r.errorClass !== 'aborted' && this.isGood(r.className, d.ttftUs, d.ttftSentUs, d.tpotUs, d.e2eUs, d.e2eSentUs);
    this.total.ended(r, d, good);
    for (const g of this.groupsOf(r, this.groupScratch)) g.ended(r, d, good);
  }

  /** A request meets every per-request SLO of its class (the run's, without a class of its own). */
  private isGood(className: string | null, ttftUs: number, ttftSentUs: number, tpotUs: number, e2eUs: number, e2eSentUs: number): boolean {
    const slos = (className !== null ? this.classSlos.get(className) : undefined) ?? this.slos;
    for (const s of slos) {
      let us: number;
      switch (s.metric) {
        case 'ttft_ms':
          us = ttftUs;
          break;
        case 'ttft_sent_ms':
          us = ttftSentUs;
          break;
        case 'tpot_ms':
          // a one-token answer has no TPOT: it cannot break a TPOT bound
          if (Number.isNaN(tpotUs)) continue;
          us = tpotUs;
          break;
        case 'e2e_ms':
          us = e2eUs;
          break;
        case 'e2e_sent_ms':
          us = e2eSentUs;
          break;
        default: {
          const never: never = s.metric;
          throw new Error(`unknown metric ${String(never)}`);
        }
      }
      if (Number.isNaN(us) || !compare(us / 1000, s.op, s.valueMs)) return false;
    }
    return true;
  }

  /**
   * Advances time: creates the window for `nowUs` and closes windows that have ended. Closing
   * (percentiles, encoding) costs about a millisecond per window, so it is done one histogram
   * at a time on later turns of the event loop, never in one block that would delay a send.
   */
  tick(nowUs: number): void {
    const current = this.windowFor(nowUs);
    // in flight on the clock: a window in which nothing is sent (arrivals over, a drain) still
    // holds the requests that are open
    if (this.inFlightNow > current.inFlightMax) current.inFlightMax = this.inFlightNow;
    let due = 0;
    while (due < this.open.length) {
      const w = this.open[due]!;
      if (w.startUs + w.widthUs + CLOSE_SLACK_US > nowUs) break;
      due++;
    }
    if (due === 0) return;
    this.closing.push(...this.open.splice(0, due));
    if (!this.closingScheduled) {
      this.closingScheduled = true;
      setImmediate(this.closeSome);
    }
  }

  /** windows that have ended and are being closed piece by piece */
  private closing: OpenWindow[] = [];
  private closingScheduled = false;
  /** the pieces of the window being closed so far */
  private partial: { pct: ReturnType<typeof windowPercentilesOf>; hdr: Partial<Record<WindowMetric, string>>; next: number } | null =
    null;

  private readonly closeSome = (): void => {
    this.closingScheduled = false;
    const w = this.closing[0];
    if (!w) return;
    const p = (this.partial ??= { pct: {}, hdr: {}, next: 0 });
    // one step per turn: a histogram's percentiles, then its encoding (each ~0.1-0.3 ms)
    const m = WINDOW_METRICS[p.next >> 1]!;
    if ((p.next & 1) === 0) Object.assign(p.pct, windowPercentilesOf(m, w.h[m]));
    else p.hdr[m] = encodeHistogram(w.h[m]);
    p.next++;
    if (p.next === 2 * WINDOW_METRICS.length) {
      this.closing.shift();
      this.partial = null;
      this.close(w, p.pct as WindowPercentiles, p.hdr as Record<WindowMetric, string>);
    }
    if (this.closing.length > 0) {
      this.closingScheduled = true;
      setImmediate(this.closeSome);
    }
  };

  /** A closed window whose arrivals have all ended: its by_arrival is computed on a later turn. */
  private arrivalDone(w: OpenWindow): void {
    if (!w.arrival) return; // nothing arrived, or nothing that arrived succeeded
    this.arrivalsDone.push(w);
    if (!this.arrivalsScheduled) {
      this.arrivalsScheduled = true;
      setImmediate(this.attachSomeArrivals);
    }
  }

  private readonly attachSomeArrivals = (): void => {
    this.arrivalsScheduled = false;
    const w = this.arrivalsDone[0];
    // three turns a window: the percentiles, then each encoding (as closeSome does)
    if (w?.arrival) {
      const a = w.arrival;
      if (!a.pct) a.pct = arrivalPercentiles(a.ttft, a.e2e);
      else if (a.ttftHdr === undefined) a.ttftHdr = encodeHistogram(a.ttft);
      else {
        this.arrivalsDone.shift();
        this.attachArrival(w);
      }
    } else this.arrivalsDone.shift();
    if (this.arrivalsDone.length > 0) {
      this.arrivalsScheduled = true;
      setImmediate(this.attachSomeArrivals);
    }
  };

  /**
   * Puts a window's arrival latencies into its closed result. The result is replaced, not
   * changed in place (checkpoints cache each closed window's JSON by object); a window that was
   * merged with its neighbour meanwhile (coarsening) gets them merged into the merged one.
   */
  private attachArrival(w: OpenWindow): void {
    const a = w.arrival;
    if (!a) return;
    w.arrival = null;
    const closed = this.closed;
    // the closed window that covers this one's start (binary search: closed is in time order)
    const startS = w.startUs / 1e6;
    let lo = 0;
    let hi = closed.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = closed[mid]!;
      if (c.t_s <= startS + 1e-9) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at >= 0) {
      const target = closed[at]!;
      const own: ArrivalWindow = {
        completed: a.completed,
        ...(a.pct ?? arrivalPercentiles(a.ttft, a.e2e)),
        hdr: { ttft: a.ttftHdr ?? encodeHistogram(a.ttft), e2e: encodeHistogram(a.e2e) },
      };
      const merged = target.by_arrival ? mergeArrival(target.by_arrival, own) : own;
      const replaced = { ...target, by_arrival: merged };
      closed[at] = replaced;
      if (this.lastClosed === target) this.lastClosed = replaced;
    }
    for (const h of [a.ttft, a.e2e]) {
      h.reset();
      this.pool.push(h);
    }
  }

  /** The newest closed window, for live progress. */
  latestWindow(): WindowResult | null {
    return this.lastClosed;
  }

  private windowFor(tUs: number): OpenWindow {
    const open = this.open;
    for (let i = open.length - 1; i >= 0; i--) {
      const w = open[i]!;
      if (tUs >= w.startUs) {
        if (tUs < w.startUs + w.widthUs) return w;
        break;
      }
      // an event older than every open window lands in the oldest one (late, and rare)
      if (i === 0) return w;
    }
    const W = this.currentWidthUs;
    let start = Math.floor(Math.max(0, tUs) / W) * W;
    let width = W;
    if (!Number.isNaN(this.lastEndUs) && start < this.lastEndUs) {
      // the width grew since the last window: fill up to the next aligned boundary
      start = this.lastEndUs;
      width = Math.floor(start / W) * W + W - start;
    } else if (!Number.isNaN(this.lastEndUs) && start > this.lastEndUs) {
      // nothing happened in between (an idle stretch): its empty windows are data too
      const next = Math.min(start, Math.floor(this.lastEndUs / W) * W + W);
      this.pushWindow(this.lastEndUs, next - this.lastEndUs);
      return this.windowFor(tUs);
    }
    return this.pushWindow(start, width);
  }

  private pushWindow(startUs: number, widthUs: number): OpenWindow {
    const w: OpenWindow = {
      startUs,
      widthUs,
      arrivals: 0,
      sent: 0,
      completed: 0,
      failed: 0,
      dropped: 0,
      inFlightMax: 0,
      outputTokens: 0,
      errors: {},
      h: {
        ttft: this.take(),
        itl: this.take(),
        e2e: this.take(),
        schedule_lag: this.take(),
      },
      server: new Map(),
      gpus: new Map(),
      pendingArrivals: 0,
      arrival: null,
      result: null,
    };
    // requests still open when the window starts are in flight in it
    w.inFlightMax = this.inFlightNow;
    this.open.push(w);
    this.lastEndUs = startUs + widthUs;
    return w;
  }

  private take(): Histogram {
    return this.pool.pop() ?? newHistogram();
  }

  private close(w: OpenWindow, pct: WindowPercentiles = windowPercentiles(w.h), hdr?: Record<WindowMetric, string>): void {
    const widthS = w.widthUs / 1e6;
    const res: WindowResult = {
      t_s: w.startUs / 1e6,
      window_s: widthS,
      arrivals: w.arrivals,
      sent: w.sent,
      completed: w.completed,
      failed: w.failed,
      dropped: w.dropped,
      in_flight_max: w.inFlightMax,
      errors: w.errors,
      ...pct,
      output_tokens: w.outputTokens,
      output_tokens_per_s: w.outputTokens / widthS,
      request_per_s: w.completed / widthS,
      server: means(w.server),
      ...(w.gpus.size > 0 && {
        gpus: [...w.gpus.entries()].map(([gpu, g]) => ({ gpu, ...(g.uuid ? { uuid: g.uuid } : {}), ...means(g.sums) })),
      }),
      hdr: hdr ?? {
        ttft: encodeHistogram(w.h.ttft),
        itl: encodeHistogram(w.h.itl),
        e2e: encodeHistogram(w.h.e2e),
        schedule_lag: encodeHistogram(w.h.schedule_lag),
      },
    };
    for (const m of WINDOW_METRICS) {
      w.h[m].reset();
      this.pool.push(w.h[m]);
    }
    this.closed.push(res);
    this.lastClosed = res;
    w.result = res;
    if (w.pendingArrivals === 0) this.arrivalDone(w);
    if (this.closed.length > this.maxWindows && !this.coarsening) {
      // from now on new windows are twice as wide; the closed ones merge pairwise, one pair
      // per turn of the event loop (a whole pass at once would stall the sends for a second)
      this.coarsening = true;
      this.coarsenCursor = 0;
      this.currentWidthUs = Math.max(this.currentWidthUs, 2 * Math.round(this.closed[0]!.window_s * 1e6));
      setImmediate(this.coarsenSome);
    }
  }

  private coarsening = false;
  private coarsenCursor = 0;

  private readonly coarsenSome = (): void => {
    if (!this.coarsening) return;
    if (this.mergeNextPair()) setImmediate(this.coarsenSome);
    else this.coarsening = false;
  };

  /**
   * Merges the next pair of adjacent windows (from the cursor on) that have the same width, are
   * contiguous, and start on a boundary of twice their width. False when the pass is over.
   */
  private mergeNextPair(): boolean {
    const list = this.closed;
    for (let i = this.coarsenCursor; i < list.length - 1; i++) {
      const a = list[i]!;
      const b = list[i + 1]!;
      const wUs = Math.round(a.window_s * 1e6);
      const aligned = Math.round(a.t_s * 1e6) % (2 * wUs) === 0;
      if (aligned && Math.abs(b.window_s - a.window_s) < 1e-9 && Math.abs(a.t_s + a.window_s - b.t_s) < 1e-6) {
        list.splice(i, 2, mergeWindows(a, b));
        this.coarsenCursor = i + 1;
        return true;
      }
    }
    return false;
  }

  /** Closes every window now (end of run) and finishes any coarsening, synchronously. */
  flush(): void {
    const all = [...this.closing, ...this.open];
    this.closing = [];
    this.open = [];
    this.partial = null;
    for (const w of all) this.close(w);
    // the end of the run: every window's arrivals as they are (requests still open have been
    // cut and recorded by now, or never will be)
    const waiting = new Set(this.arrivalsDone);
    for (const w of this.arrivedIn.values()) if (w.result) waiting.add(w);
    this.arrivalsDone = [];
    for (const w of waiting) this.attachArrival(w);
    while (this.coarsening || this.closed.length > this.maxWindows) {
      if (!this.coarsening) {
        this.coarsenCursor = 0;
        this.currentWidthUs = Math.max(this.currentWidthUs, 2 * Math.round(this.closed[0]!.window_s * 1e6));
      }
      this.coarsening = true;
      const before = this.closed.length;
      while (this.mergeNextPair());
      this.coarsening = false;
      if (this.closed.length === before) break;
    }
  }

  /**
   * The same as `snapshot()`, one histogram per turn of the event loop: a checkpoint taken during
   * the run must not hold up a send for the few milliseconds nine summaries cost together.
   */
  async snapshotSliced(): Promise<RecorderSnapshot> {
    // one consistent moment: the windows, and every tally's counters and histogram copies, in
    // one synchronous step; then the summaries one after another, a piece per turn
    const windows = this.closed.slice();
    const take = (): Histogram => this.take();
    const give = (h: Histogram): void => {
      this.pool.push(h);
    };
    const g = this.groups;
    const total = this.total.capture(take);
    const classes = [...g.classes].map(([k, t]) => [k, t.capture(take)] as const);
    const turns = [...g.turns].sort((a, b) => a[0] - b[0]).map(([turn, t]) => [turn, t.capture(take)] as const);
    const models = [...g.models].map(([k, t]) => [k, t.capture(take)] as const);
    const out: RecorderSnapshot = { ...(await summarizeCaptured(total, give)), windows };
    if (classes.length + turns.length + models.length > 0) {
      const groups: GroupSnapshots = { classes: {}, turns: [], models: {} };
      for (const [k, c] of classes) groups.classes[k] = await summarizeCaptured(c, give);
      for (const [turn, c] of turns) groups.turns.push({ turn, tally: await summarizeCaptured(c, give) });
      for (const [k, c] of models) groups.models[k] = await summarizeCaptured(c, give);
      out.groups = groups;
    }
    return out;
  }

  /** Everything recorded so far: counters, whole-run summaries, closed windows. */
  snapshot(): RecorderSnapshot {
    const out: RecorderSnapshot = { ...this.total.snapshot(), windows: this.closed.slice() };
    if (this.hasGroups()) {
      const g = this.groups;
      out.groups = {
        classes: Object.fromEntries([...g.classes].map(([k, t]) => [k, t.snapshot()])),
        turns: [...g.turns].sort((a, b) => a[0] - b[0]).map(([turn, t]) => ({ turn, tally: t.snapshot() })),
        models: Object.fromEntries([...g.models].map(([k, t]) => [k, t.snapshot()])),
      };
    }
    return out;
  }

  private hasGroups(): boolean {
    const g = this.groups;
    return g.classes.size + g.turns.size + g.models.size > 0;
  }



}

function add(m: Map<string, { sum: number; n: number }>, k: string, v: number): void {
  const e = m.get(k);
  if (e) {
    e.sum += v;
    e.n++;
  } else m.set(k, { sum: v, n: 1 });
}

function means(m: Map<string, { sum: number; n: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, { sum, n }] of m) out[k] = Math.round((sum / n) * 1e6) / 1e6;
  return out;
}

type WindowPercentiles = Pick<
  WindowResult,
  | 'ttft_p50_ms'
  | 'ttft_p95_ms'
  | 'ttft_p99_ms'
  | 'itl_p50_ms'
  | 'itl_p95_ms'
  | 'itl_p99_ms'
  | 'e2e_p50_ms'
  | 'e2e_p95_ms'
  | 'e2e_p99_ms'
  | 'schedule_lag_p99_ms'
>;

/** The window fields one histogram contributes. */
function windowPercentilesOf(m: WindowMetric, h: Histogram): Partial<WindowPercentiles> {
  switch (m) {
    case 'ttft':
    case 'itl':
    case 'e2e': {
      const [p50, p95, p99] = percentilesMs(h, [50, 95, 99]);
      return { [`${m}_p50_ms`]: p50!, [`${m}_p95_ms`]: p95!, [`${m}_p99_ms`]: p99! };
    }
    case 'schedule_lag':
      return { schedule_lag_p99_ms: percentileMs(h, 99) };
    default: {
      const never: never = m;
      throw new Error(`unknown window metric ${String(never)}`);
    }
  }
}

function windowPercentiles(h: Record<WindowMetric, Histogram>): WindowPercentiles {
  let out: Partial<WindowPercentiles> = {};
  for (const m of WINDOW_METRICS) out = { ...out, ...windowPercentilesOf(m, h[m]) };
  return out as WindowPercentiles;
}

/** The percentiles of by_arrival. */
function arrivalPercentiles(ttft: Histogram, e2e: Histogram): Omit<ArrivalWindow, 'completed' | 'hdr'> {
  const [t50, t95, t99] = percentilesMs(ttft, [50, 95, 99]);
  const [e50, e95, e99] = percentilesMs(e2e, [50, 95, 99]);
  return { ttft_p50_ms: t50!, ttft_p95_ms: t95!, ttft_p99_ms: t99!, e2e_p50_ms: e50!, e2e_p95_ms: e95!, e2e_p99_ms: e99! };
}

/** by_arrival of one window from its histograms (percentiles, encodings). */
function arrivalWindow(ttft: Histogram, e2e: Histogram, completed: number): ArrivalWindow {
  return { completed, ...arrivalPercentiles(ttft, e2e), hdr: { ttft: encodeHistogram(ttft), e2e: encodeHistogram(e2e) } };
}

/** Two windows' arrival latencies as one: histograms merge exactly. */
export function mergeArrival(a: ArrivalWindow, b: ArrivalWindow): ArrivalWindow {
  const ttft = decodeHistogram(a.hdr.ttft);
  ttft.add(decodeHistogram(b.hdr.ttft));
  const e2e = decodeHistogram(a.hdr.e2e);
  e2e.add(decodeHistogram(b.hdr.e2e));
  return arrivalWindow(ttft, e2e, a.completed + b.completed);
}

/** Two adjacent windows as one: counts add, histograms merge exactly. */
export function mergeWindows(a: WindowResult, b: WindowResult): WindowResult {
  return combineWindows(a, b, a.window_s + b.window_s);
}

/**
 * The same window of two shards of one run (same start and width, measured by two processes):
 * counts add, histograms merge exactly, server signals (the same server seen twice) average.
 */
export function mergeConcurrentWindows(a: WindowResult, b: WindowResult): WindowResult {
  const merged = combineWindows(a, b, a.window_s);
  merged.in_flight_max = a.in_flight_max + b.in_flight_max;
  return merged;
}

function combineWindows(a: WindowResult, b: WindowResult, widthS: number): WindowResult {
  const h = {} as Record<WindowMetric, Histogram>;
  const hdr = {} as Record<WindowMetric, string>;
  for (const m of WINDOW_METRICS) {
    const merged = decodeHistogram(a.hdr[m]);
    merged.add(decodeHistogram(b.hdr[m]));
    h[m] = merged;
    hdr[m] = encodeHistogram(merged);
  }
  const errors: Record<string, number> = { ...a.errors };
  for (const [k, v] of Object.entries(b.errors)) errors[k] = (errors[k] ?? 0) + v;
  const outputTokens = a.output_tokens + b.output_tokens;
  const completed = a.completed + b.completed;
  const server: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a.server), ...Object.keys(b.server)])) {
    const va = a.server[k];
    const vb = b.server[k];
    server[k] = va === undefined ? vb! : vb === undefined ? va : (va * a.window_s + vb * b.window_s) / (a.window_s + b.window_s);
  }
  let gpus: WindowResult['gpus'];
  if (a.gpus || b.gpus) {
    const byId = new Map<string, NonNullable<WindowResult['gpus']>[number]>();
    for (const [src, weight] of [
      [a.gpus ?? [], a.window_s],
      [b.gpus ?? [], b.window_s],
    ] as const) {
      for (const g of src) {
        const cur = byId.get(g.gpu);
        if (!cur) {
          byId.set(g.gpu, { ...g });
          continue;
        }
        for (const [k, v] of Object.entries(g)) {
          const c = cur[k];
          if (typeof v === 'number' && typeof c === 'number') cur[k] = (c * (a.window_s + b.window_s - weight) + v * weight) / (a.window_s + b.window_s);
        }
      }
    }
    gpus = [...byId.values()];
  }
  const byArrival = a.by_arrival && b.by_arrival ? mergeArrival(a.by_arrival, b.by_arrival) : (a.by_arrival ?? b.by_arrival);
  return {
    ...(gpus && { gpus }),
    ...(byArrival && { by_arrival: byArrival }),
    t_s: a.t_s,
    window_s: widthS,
    arrivals: a.arrivals + b.arrivals,
    sent: a.sent + b.sent,
    completed,
    failed: a.failed + b.failed,
    dropped: a.dropped + b.dropped,
    in_flight_max: Math.max(a.in_flight_max, b.in_flight_max),
    errors,
    ...windowPercentiles(h),
    output_tokens: outputTokens,
    output_tokens_per_s: outputTokens / widthS,
    request_per_s: completed / widthS,
    server,
    hdr,
  };
}

/** The tally of slice `key`, made when its first request comes. */
function slice<K>(map: Map<K, RequestTally>, key: K): RequestTally {
  let t = map.get(key);
  if (!t) {
    t = new RequestTally();
    map.set(key, t);
  }
  return t;
}
