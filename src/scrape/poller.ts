// The run-time scraper: polls each Prometheus endpoint on its own timer (never on the load's
// path: a slow or failing endpoint only delays its own next scrape), turns every scrape into
// canonical signals (gauges as read, counters as rates over the interval), and hands them to a
// sink with the run-clock time at which they were read.
import type { Clock } from '../core/clock.js';
import type { ServerEndpoint } from '../results/types.js';
import { parseTarget } from '../core/secret.js';
import { fetchExposition } from './fetch.js';
import { parseExposition, type ParseResult } from './parser.js';
import { rateSignals, snapshotSignals, type GpuSignals, type SignalSnapshot, type Signals } from './signals.js';
import { nextTurn } from '../core/turn.js';

export interface ScrapeEndpointOptions {
  url: string;
  /** seconds between scrapes (default 1) */
  intervalS: number;
  /** give up on one scrape after this long (default: the interval, at most 5 s) */
  timeoutS?: number;
}

/** One scrape of one endpoint, in canonical terms. */
export interface ScrapeSample {
  url: string;
  /** run-clock µs at which the response was read */
  tUs: number;
  ok: boolean;
  elapsedMs: number;
  error: string | null;
  /** gauges, GPU aggregates, and (from the second scrape) rates and histogram statistics */
  signals: Signals;
  perGpu: GpuSignals[];
  profiles: string[];
  /** the parsed exposition, for the raw record (null on failure) */
  parsed: ParseResult | null;
}

export interface ScrapeSink {
  onSample(sample: ScrapeSample): void;
}

interface EndpointState {
  opts: ScrapeEndpointOptions;
  /** the URL as every output shows it: a password, a user name alone and query values masked */
  shown: string;
  scrapes: number;
  failures: number;
  lastError: string | null;
  profiles: Set<string>;
  warnings: Set<string>;
  first: SignalSnapshot | null;
  prev: { snap: SignalSnapshot; tUs: number; monoUs: number } | null;
  /** when the GPU values last changed, to spot an exporter that samples coarsely */
  gpuChanges: number[];
  lastGpuKey: string | null;
  loop: Promise<void> | null;
}

/** Warn when an exporter's values change less often than every this many windows. */
const COARSE_FACTOR = 2;

export class Scraper {
  private readonly endpoints: EndpointState[];
  private stopped = false;
  private wake: (() => void)[] = [];

  constructor(
    endpoints: ScrapeEndpointOptions[],
    private readonly clock: Clock,
    private readonly sink: ScrapeSink,
    private readonly windowS: number,
  ) {
    this.endpoints = endpoints.map((opts) => ({
      shown: shownUrl(opts.url),
      opts,
      scrapes: 0,
      failures: 0,
      lastError: null,
      profiles: new Set(),
      warnings: new Set(),
      first: null,
      prev: null,
      gpuChanges: [],
      lastGpuKey: null,
      loop: null,
    }));
  }

  get size(): number {
    return this.endpoints.length;
  }

  /** Scrapes every endpoint once (the baseline for counters), then keeps polling in the background. */
  async start(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => this.scrapeOnce(e)));
    for (const e of this.endpoints) e.loop = this.poll(e);
  }

  /** Stops polling after one last scrape of each endpoint (so counters cover the whole run). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const w of this.wake) w();
    await Promise.all(this.endpoints.map((e) => e.loop));
    await Promise.all(this.endpoints.map((e) => this.scrapeOnce(e)));
  }

  private async poll(e: EndpointState): Promise<void> {
    const intervalUs = e.opts.intervalS * 1e6;
    let next = this.clock.now() + intervalUs;
    while (!this.stopped) {
      await this.sleep(Math.max(0, (next - this.clock.now()) / 1000));
      if (this.stopped) return;
      next += intervalUs;
      // a scrape that ran long skips the ticks it overlapped, never piles up
      if (next < this.clock.now()) next = this.clock.now() + intervalUs;
      await this.scrapeOnce(e);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = this.wake.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.wake.push(done);
    });
  }

  private async scrapeOnce(e: EndpointState): Promise<void> {
    const timeoutMs = (e.opts.timeoutS ?? Math.min(5, e.opts.intervalS)) * 1000;
    const started = performance.now();
    e.scrapes++;
    try {
      const res = await fetchExposition(e.opts.url, { timeoutMs });
      const tUs = this.clock.now();
      // intervals for rates on the process's own monotonic clock: the run clock may restart
      // between the baseline scrape and the next one
      const monoUs = performance.now() * 1000;
      // parsing, mapping and the sink each on a turn of their own: chunks that arrive meanwhile
      // are stamped between the pieces, not after the whole scrape
      await nextTurn();
      const parsed = parseExposition(res.text, { contentType: res.contentType });
      await nextTurn();
      const snap = snapshotSignals(parsed);
      for (const p of snap.profiles) e.profiles.add(p);
      let signals: Signals = { ...snap.signals };
      if (e.prev) signals = { ...signals, ...rateSignals(e.prev.snap, snap, (monoUs - e.prev.monoUs) / 1e6) };
      e.first ??= snap;
      e.prev = { snap, tUs, monoUs };
      this.noteGpuChange(e, snap, tUs);
      await nextTurn();
      this.sink.onSample({
        url: e.shown,
        tUs,
        ok: true,
        elapsedMs: performance.now() - started,
        error: null,
        signals,
        perGpu: snap.perGpu,
        profiles: snap.profiles,
        parsed,
      });
    } catch (err) {
      e.failures++;
      e.lastError = (err as Error).message;
      this.sink.onSample({
        url: e.shown,
        tUs: this.clock.now(),
        ok: false,
        elapsedMs: performance.now() - started,
        error: e.lastError,
        signals: {},
        perGpu: [],
        profiles: [],
        parsed: null,
      });
    }
  }

  private noteGpuChange(e: EndpointState, snap: SignalSnapshot, tUs: number): void {
    if (snap.perGpu.length === 0) return;
    const key = JSON.stringify(snap.perGpu);
    if (key !== e.lastGpuKey) {
      e.lastGpuKey = key;
      e.gpuChanges.push(tUs);
      if (e.gpuChanges.length > 64) e.gpuChanges.shift();
    }
    const c = e.gpuChanges;
    const scrapesSinceFirst = e.scrapes;
    if (scrapesSinceFirst >= 6 && c.length >= 1) {
      const spanS = (tUs - c[0]!) / 1e6;
      const meanChangeS = c.length > 1 ? (c[c.length - 1]! - c[0]!) / 1e6 / (c.length - 1) : spanS;
      if (meanChangeS > COARSE_FACTOR * Math.max(this.windowS, e.opts.intervalS)) {
        e.warnings.add(
          `GPU values change only every ~${meanChangeS.toFixed(0)} s, coarser than the ${this.windowS} s window: the exporter samples slowly (dcgm-exporter defaults to 30 s; run it with -c 1000 for 1 s)`,
        );
      }
    }
  }

  /** results.server.endpoints[] */
  info(): ServerEndpoint[] {
    return this.endpoints.map((e) => {
      const profiles = [...e.profiles];
      const warnings = [...e.warnings];
      if (e.failures > 0) warnings.push(`${e.failures} of ${e.scrapes} scrapes failed${e.lastError ? ` (last: ${e.lastError})` : ''}`);
      return {
        url: e.shown,
        profiles,
        profile: profiles[0] ?? null,
        scrapes: e.scrapes,
        failures: e.failures,
        interval_s: e.opts.intervalS,
        last_error: e.lastError,
        warnings,
      };
    });
  }

  /** The server's generation-token counter growth over the run (first to last scrape), summed over endpoints. */
  serverGenerationTokens(): number | null {
    let total: number | null = null;
    for (const e of this.endpoints) {
      const a = e.first?.counters.generation_tokens_total;
      const b = e.prev?.snap.counters.generation_tokens_total;
      if (a === undefined || b === undefined) continue;
      total = (total ?? 0) + (b >= a ? b - a : b);
    }
    return total;
  }

  /**
   * The servers' prefix cache over the run (first scrape to last, warm-up included): tokens
   * queried and found (vLLM V1's prefix_cache_{queries,hits}_total), or null when no server counts them.
   */
  serverPrefixCache(): { queries_tokens: number; hits_tokens: number; hit_ratio: number | null } | null {
    let queries: number | null = null;
    let hits = 0;
    for (const e of this.endpoints) {
      const q0 = e.first?.counters.prefix_cache_queries_total;
      const q1 = e.prev?.snap.counters.prefix_cache_queries_total;
      const h0 = e.first?.counters.prefix_cache_hits_total;
      const h1 = e.prev?.snap.counters.prefix_cache_hits_total;
      if (q0 === undefined || q1 === undefined || h0 === undefined || h1 === undefined) continue;
      // a counter that went down: the server restarted, its count since is the value
      queries = (queries ?? 0) + (q1 >= q0 ? q1 - q0 : q1);
      hits += h1 >= h0 ? h1 - h0 : h1;
    }
    if (queries === null) return null;
    return { queries_tokens: queries, hits_tokens: hits, hit_ratio: queries > 0 ? Math.round((Math.min(hits, queries) / queries) * 1e4) / 1e4 : null };
  }

  /** Distinct GPUs the exporters reported, or null when none was scraped. */
  gpuCount(): number | null {
    const ids = new Set<string>();
    for (const e of this.endpoints) for (const g of e.prev?.snap.perGpu ?? []) ids.add(g.uuid || `${e.shown}#${g.gpu}`);
    return ids.size > 0 ? ids.size : null;
  }
}

/** The URL with its secrets masked (fetchExposition sends them; results, reports and logs show this). */
function shownUrl(url: string): string {
  try {
    return parseTarget(url).display;
  } catch {
    return url;
  }
}
