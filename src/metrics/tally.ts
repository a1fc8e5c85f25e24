// A tally of measured requests: the summary's counters and whole-run histograms over a set of
// requests. The recorder keeps one for the whole run and one per slice (request class, turn
// index, model), so every slice is summarised by the same code as the run.
import type { RequestRecord } from '../core/record.js';
import { nextTurn } from '../core/turn.js';
import { forEachItl, forEachItlPerToken, tokensPerChunk, type DerivedRequest } from './derive.js';
import { copyHistogramInto, encodeHistogram, newHistogram, recordUs, summarizeMs, type Histogram, type LatencySummaryMs } from './hdr.js';
import { newPromptPlannedCounts, notePromptPlanned, type PromptPlannedCounts } from './prompt-planned.js';
import { PrefixCounts, type PrefixSummary } from './prefix.js';

/** The whole-run latency histograms, in results.summary.latency_ms order. */
export const LATENCY_METRICS = [
  'ttft',
  'ttft_sent',
  'itl',
  'itl_per_token',
  'tpot',
  'e2e',
  'e2e_sent',
  'schedule_lag',
  'e2e_failed',
] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

/** Summary counters (warm-up excluded). */
export interface Counters {
  sent: number;
  completed: number;
  failed: number;
  dropped: number;
  /** cut by the run itself at the graceful stop or an interrupt */
  interrupted: number;
  good: number;
  errors: Record<string, number>;
  promptTokens: number;
  /** the workload's planned prompt tokens against the server's usage.prompt_tokens */
  promptPlanned: PromptPlannedCounts;
  outputTokens: number;
  outputTokensUsage: number;
  outputChunks: number;
  /** requests whose output count is the chunk count (no usage from the server) */
  outputTokensEstimated: number;
  warmupSent: number;
  warmupDropped: number;
  /**
   * end of the last measured request that completed: the end of `duration_s` (metrics.md). A
   * request the run cut (interrupted, or unfinished at the graceful stop) never extends it, or
   * a server that hangs would stretch the run to the cut and shrink every throughput.
   */
  lastEndUs: number;
  /** end of the last measured request whatever its outcome: `duration_s` when none completed */
  lastAnyEndUs: number;
  /** intended times of the first and last arrivals after the warm-up */
  firstArrivalUs: number;
  lastArrivalUs: number;
}

function newCounters(): Counters {
  return {
    sent: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    interrupted: 0,
    good: 0,
    errors: {},
    promptTokens: 0,
    promptPlanned: newPromptPlannedCounts(),
    outputTokens: 0,
    outputTokensUsage: 0,
    outputChunks: 0,
    outputTokensEstimated: 0,
    warmupSent: 0,
    warmupDropped: 0,
    lastEndUs: NaN,
    lastAnyEndUs: NaN,
    firstArrivalUs: NaN,
    lastArrivalUs: NaN,
  };
}

/** What a tally says at one moment: the summary's inputs. */
export interface TallySnapshot {
  counters: Counters;
  latencyMs: Record<LatencyMetric, LatencySummaryMs>;
  /** shared prefixes and cached tokens (null: no request had a prefix or reported cached tokens) */
  prefix?: PrefixSummary | null;
}

export class RequestTally {
  readonly counters: Counters = newCounters();
  readonly run: Record<LatencyMetric, Histogram> = Object.fromEntries(LATENCY_METRICS.map((m) => [m, newHistogram()])) as Record<
    LatencyMetric,
    Histogram
  >;
  /** shared prefixes, cached tokens, warm and cold TTFT of the measured requests */
  readonly prefix = new PrefixCounts();

  /** A request was handed to the backend. */
  sent(r: RequestRecord): void {
    this.prefix.sent(r);
    if (r.warmup) this.counters.warmupSent++;
    else {
      this.counters.sent++;
      this.noteArrival(r.intendedStartUs);
    }
  }

  /** An arrival found no free slot and was dropped. */
  dropped(r: RequestRecord): void {
    if (r.warmup) this.counters.warmupDropped++;
    else {
      this.counters.dropped++;
      this.noteArrival(r.intendedStartUs);
    }
  }

  private noteArrival(tUs: number): void {
    const c = this.counters;
    if (!(tUs <= c.lastArrivalUs)) c.lastArrivalUs = tUs;
    if (!(tUs >= c.firstArrivalUs)) c.firstArrivalUs = tUs;
  }

  /** A measured request ended (`d`: its derived figures; `good`: it met its per-request SLOs). */
  ended(r: RequestRecord, d: DerivedRequest, good: boolean): void {
    const c = this.counters;
    const run = this.run;
    if (!Number.isNaN(d.scheduleLagUs)) recordUs(run.schedule_lag, Math.max(0, d.scheduleLagUs));
    if (!(r.endUs <= c.lastAnyEndUs)) c.lastAnyEndUs = r.endUs;
    if (r.errorClass === 'aborted') {
      // cut by the run itself (graceful stop, interrupt): counted apart, neither a success nor
      // a failure of the server (k6's interrupted iterations)
      c.interrupted++;
      return;
    }
    if (!r.ok) {
      const cls = r.errorClass ?? 'invalid_response';
      c.failed++;
      c.errors[cls] = (c.errors[cls] ?? 0) + 1;
      if (!Number.isNaN(d.e2eUs)) recordUs(run.e2e_failed, d.e2eUs);
      return;
    }
    const itl = run.itl;
    forEachItl(r.chunkUs, (gap) => recordUs(itl, gap));
    if (!(r.endUs <= c.lastEndUs)) c.lastEndUs = r.endUs;
    c.completed++;
    c.promptTokens += r.promptTokens;
    notePromptPlanned(c.promptPlanned, r.promptTokensPlanned, r.promptTokensUsage);
    this.prefix.completed(r, d.ttftUs);
    c.outputTokens += d.outputTokens;
    c.outputTokensUsage += r.outputTokensUsage ?? 0;
    c.outputChunks += r.outputChunks;
    if (d.outputTokensEstimated) c.outputTokensEstimated++;
    recordUs(run.e2e, d.e2eUs);
    recordUs(run.e2e_sent, d.e2eSentUs);
    if (!Number.isNaN(d.ttftUs)) {
      recordUs(run.ttft, d.ttftUs);
      recordUs(run.ttft_sent, d.ttftSentUs);
    }
    if (!Number.isNaN(d.tpotUs)) recordUs(run.tpot, d.tpotUs);
    const perToken = run.itl_per_token;
    forEachItlPerToken(r.chunkUs, tokensPerChunk(r.chunkChars, r.outputTokensUsage), (g, k) => recordUs(perToken, g, k));
    if (good) c.good++;
  }

  snapshot(): TallySnapshot {
    const latencyMs = Object.fromEntries(LATENCY_METRICS.map((m) => [m, summarizeMs(this.run[m])])) as Record<LatencyMetric, LatencySummaryMs>;
    return { counters: structuredClone(this.counters), latencyMs, prefix: this.prefix.summary() };
  }

  /**
   * The first half of a sliced snapshot, at one moment: the counters and a copy of every run
   * histogram (nine typed-array copies, ~0.1 ms), lent by `take`. `summarizeCaptured` does the
   * rest on turns of its own; a recorder captures all its tallies first, then summarises them one
   * after another, so that they agree with each other and no turn does more than one piece.
   */
  capture(take: () => Histogram): CapturedTally {
    const copies = LATENCY_METRICS.map((m) => {
      const copy = take();
      copyHistogramInto(copy, this.run[m]);
      return copy;
    });
    // two small percentile scans: cheap enough for the same turn
    return { counters: structuredClone(this.counters), prefix: this.prefix.summary(), copies };
  }
}

/** A tally captured at one moment (RequestTally.capture), its histograms still to summarise. */
export interface CapturedTally {
  counters: Counters;
  prefix: PrefixSummary | null;
  copies: Histogram[];
}

/**
 * The summaries of a captured tally, one histogram per turn of the event loop (each ~0.1-0.3 ms),
 * so that a checkpoint taken during the run never holds up a send for the milliseconds nine
 * summaries cost together; the copies go back through `give`.
 */
export async function summarizeCaptured(c: CapturedTally, give: (h: Histogram) => void): Promise<TallySnapshot> {
  const latencyMs = {} as Record<LatencyMetric, LatencySummaryMs>;
  try {
    for (let i = 0; i < LATENCY_METRICS.length; i++) {
      const copy = c.copies[i]!;
      await nextTurn();
      const summary = summarizeMs(copy, false);
      await nextTurn();
      summary.hdr = encodeHistogram(copy);
      latencyMs[LATENCY_METRICS[i]!] = summary;
    }
  } finally {
    for (const copy of c.copies) {
      copy.reset();
      give(copy);
    }
  }
  return { counters: c.counters, latencyMs, prefix: c.prefix };
}
