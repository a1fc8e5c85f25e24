// What the main thread (pool.ts) and its client threads (thread.ts) say to each other, and the
// two things both sides must agree on byte for byte: how a finished request's record is packed
// (one message per event-loop turn, stamps in one transferable Float64Array) and how a thread's
// performance.now() is put on the process-wide monotonic clock.
import type { RequestRecord } from '../../core/record.js';
import type { AbortClass, ErrorClass } from '../../core/types.js';
import type { OpenAIBackendOptions } from '../openai/client.js';
import type { GenRequest, ParseStats } from '../types.js';

/** Everything a client thread needs to build its OpenAIBackend (the clock is its own). */
export interface ThreadData {
  /** holds the API key: workerData is never logged, and no message ever carries it */
  options: Omit<OpenAIBackendOptions, 'clock'>;
}

/** main → client thread */
export type ToThread =
  | { type: 'send'; id: number; req: GenRequest }
  | { type: 'abort'; id: number; errorClass: AbortClass; message: string }
  | { type: 'preconnect'; connections: number }
  | { type: 'close' }
  /** test hook: die now, by an uncaught exception ('throw') or process.exit ('exit') */
  | { type: 'crash'; mode: 'throw' | 'exit' };

/** client thread → main */
export type FromThread =
  | { type: 'ready'; anchor: ClockAnchor }
  | ResultsMessage
  | { type: 'preconnected' }
  | { type: 'closed' };

/** The non-stamp fields of one finished record. */
export interface WireResult {
  id: number;
  /** content chunks: this record's stamps are STAMPS_PER_RECORD + n entries of `stamps` */
  n: number;
  ok: boolean;
  httpStatus: number;
  errorClass: ErrorClass | 'aborted' | null;
  errorMessage: string | null;
  finishReason: string | null;
  promptTokensUsage: number | null;
  cachedTokensUsage: number | null;
  outputTokensUsage: number | null;
  /** epoch ms from the server (benchmarks), not a clock stamp: copied as is */
  emitMs: number[] | null;
  /** the reply's text, when the request asked for it (sessions) */
  reply: string | null;
}

/** Every record finished in one event-loop turn of a client thread. */
export interface ResultsMessage {
  type: 'results';
  recs: WireResult[];
  /** per record: sentUs, headersUs, firstChunkUs, firstTokenUs, endUs, then its n chunk stamps */
  stamps: Float64Array;
  /** per record: its n chunk sizes (characters) */
  chars: Uint32Array;
  /** the thread's events per parsing path so far (cumulative) */
  parse: ParseStats;
}

export const STAMPS_PER_RECORD = 5;

/** Packs finished records (stamps on the packing thread's clock) into one message. */
export function packResults(records: RequestRecord[], parse: ParseStats): ResultsMessage {
  let nStamps = 0;
  let nChars = 0;
  for (const r of records) {
    nStamps += STAMPS_PER_RECORD + r.chunkUs.length;
    nChars += r.chunkChars.length;
  }
  const stamps = new Float64Array(nStamps);
  const chars = new Uint32Array(nChars);
  const recs: WireResult[] = new Array(records.length);
  let s = 0;
  let c = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    stamps[s++] = r.sentUs;
    stamps[s++] = r.headersUs;
    stamps[s++] = r.firstChunkUs;
    stamps[s++] = r.firstTokenUs;
    stamps[s++] = r.endUs;
    const n = r.chunkUs.length;
    for (let k = 0; k < n; k++) stamps[s++] = r.chunkUs[k]!;
    // the backend pushes a size with every stamp; guard anyway so offsets never drift
    for (let k = 0; k < n; k++) chars[c++] = r.chunkChars[k] ?? 0;
    recs[i] = {
      id: r.id,
      n,
      ok: r.ok,
      httpStatus: r.httpStatus,
      errorClass: r.errorClass,
      errorMessage: r.errorMessage,
      finishReason: r.finishReason,
      promptTokensUsage: r.promptTokensUsage,
      cachedTokensUsage: r.cachedTokensUsage,
      outputTokensUsage: r.outputTokensUsage,
      emitMs: r.emitMs,
      reply: r.reply,
    };
  }
  return { type: 'results', recs, stamps, chars, parse };
}

/**
 * Copies one packed record into `into`, adding `shiftUs` to every stamp (NaN stays NaN).
 * `stampAt` and `charAt` are where this record starts in the message's arrays.
 */
export function unpackResult(m: ResultsMessage, w: WireResult, stampAt: number, charAt: number, shiftUs: number, into: RequestRecord): void {
  const st = m.stamps;
  into.sentUs = st[stampAt]! + shiftUs;
  into.headersUs = st[stampAt + 1]! + shiftUs;
  into.firstChunkUs = st[stampAt + 2]! + shiftUs;
  into.firstTokenUs = st[stampAt + 3]! + shiftUs;
  into.endUs = st[stampAt + 4]! + shiftUs;
  const chunkUs: number[] = new Array(w.n);
  const chunkChars: number[] = new Array(w.n);
  for (let k = 0, s = stampAt + STAMPS_PER_RECORD; k < w.n; k++, s++) chunkUs[k] = st[s]! + shiftUs;
  for (let k = 0; k < w.n; k++) chunkChars[k] = m.chars[charAt + k]!;
  into.chunkUs = chunkUs;
  into.chunkChars = chunkChars;
  into.emitMs = w.emitMs;
  into.reply = w.reply;
  into.httpStatus = w.httpStatus;
  into.ok = w.ok;
  into.errorClass = w.errorClass;
  into.errorMessage = w.errorMessage;
  into.promptTokensUsage = w.promptTokensUsage;
  into.cachedTokensUsage = w.cachedTokensUsage;
  into.outputTokensUsage = w.outputTokensUsage;
  into.finishReason = w.finishReason;
}

/**
 * One thread's anchor between its performance.now() (its own time origin) and the monotonic
 * clock every thread of the process shares (process.hrtime: CLOCK_MONOTONIC), in µs. Taken back
 * to back; of a few tries the one with the shortest gap wins (sub-µs on an idle core).
 */
export interface ClockAnchor {
  monoUs: number;
  perfUs: number;
}

export function clockAnchor(): ClockAnchor {
  let best: ClockAnchor = { monoUs: NaN, perfUs: NaN };
  let bestGap = Infinity;
  for (let i = 0; i < 5; i++) {
    const p0 = performance.now();
    const mono = process.hrtime.bigint();
    const p1 = performance.now();
    const gap = p1 - p0;
    if (gap < bestGap) {
      bestGap = gap;
      // ns since boot: exact in a float64 for 104 days of uptime, to a few ns for years
      best = { monoUs: Number(mono) / 1000, perfUs: (p0 + p1) * 500 };
    }
  }
  return best;
}

/** What to add to a stamp on thread `from`'s performance clock to put it on thread `to`'s. */
export function perfToPerfUs(from: ClockAnchor, to: ClockAnchor): number {
  return from.monoUs - from.perfUs - (to.monoUs - to.perfUs);
}
