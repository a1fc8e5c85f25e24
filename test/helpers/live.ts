// Requests built by hand for the live sink's tests: stamps in µs on the run clock, as the
// recorder tests build them, and the exact figures they should give.
import { RequestRecord } from '../../src/core/record.js';
import type { ErrorClass } from '../../src/core/types.js';
import type { RunResult, SloVerdict } from '../../src/results/types.js';

export interface Slice {
  className?: string | null;
  model?: string | null;
  warmup?: boolean;
}

/** A completed request: intended at t, sent `lagUs` later, first token `ttftUs` after t, n chunks `itlUs` apart. */
export function completed(id: number, tUs: number, ttftUs: number, n: number, itlUs: number, slice: Slice = {}, lagUs = 100): RequestRecord {
  const r = new RequestRecord(id, tUs, 100, slice.warmup ?? false);
  r.className = slice.className ?? null;
  r.model = slice.model ?? null;
  r.sentUs = tUs + lagUs;
  r.headersUs = tUs + lagUs + 100;
  r.firstChunkUs = tUs + ttftUs;
  r.firstTokenUs = tUs + ttftUs;
  for (let i = 0; i < n; i++) {
    r.chunkUs.push(tUs + ttftUs + i * itlUs);
    r.chunkChars.push(3);
  }
  r.endUs = tUs + ttftUs + (n - 1) * itlUs + 50;
  r.outputTokensUsage = n;
  r.promptTokensUsage = 120;
  r.ok = true;
  r.httpStatus = 200;
  return r;
}

/** A failed request of `cls`. */
export function failed(id: number, tUs: number, cls: ErrorClass, slice: Slice = {}): RequestRecord {
  const r = new RequestRecord(id, tUs, 100, slice.warmup ?? false);
  r.className = slice.className ?? null;
  r.model = slice.model ?? null;
  r.sentUs = tUs + 200;
  r.endUs = tUs + 5_000;
  r.httpStatus = cls === 'http_5xx' ? 500 : cls === 'http_429' ? 429 : cls === 'http_4xx' ? 400 : 0;
  r.errorClass = cls;
  return r;
}

/** A request the run cut (interrupted: error class "aborted"). */
export function interrupted(id: number, tUs: number, slice: Slice = {}): RequestRecord {
  const r = new RequestRecord(id, tUs, 100, slice.warmup ?? false);
  r.className = slice.className ?? null;
  r.model = slice.model ?? null;
  r.sentUs = tUs + 300;
  r.endUs = tUs + 90_000;
  r.errorClass = 'aborted';
  return r;
}

/** An arrival dropped at the in-flight cap (never sent). */
export function dropped(id: number, tUs: number, slice: Slice = {}): RequestRecord {
  const r = new RequestRecord(id, tUs, 100, slice.warmup ?? false);
  r.className = slice.className ?? null;
  r.model = slice.model ?? null;
  r.dropped = true;
  return r;
}

/** A checkpoint's result as the sink reads it (its `slo` alone). */
export function checkpointOf(slo: SloVerdict[]): RunResult {
  return { slo } as unknown as RunResult;
}

export function verdict(name: string, passed: boolean, cls?: string): SloVerdict {
  return { name, metric: 'ttft_ms', threshold: 'p(95)<500', observed: 1, passed, abort_on_fail: false, ...(cls !== undefined ? { class: cls } : {}) };
}

/** The exact p-quantile of values the way Prometheus' bucket-precision check needs it: the value at rank ceil(p·n). */
export function exactQuantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** The bucket (lower, upper] of `bounds` holding v. */
export function bucketAround(bounds: readonly number[], v: number): [number, number] {
  let lower = 0;
  for (const b of bounds) {
    if (v <= b) return [lower, b];
    lower = b;
  }
  return [lower, Infinity];
}

/**
 * A fed run: 180 completed (TTFT 10 ms … 1.8 s, 8 chunks 30 ms apart; classes a and b, model m1
 * for every third), 6 http_5xx, 4 timeout, 3 interrupted, 7 dropped; and 5 warm-up requests
 * that only inferload_warmup_requests_total counts.
 */
export function fedRun(): { records: RequestRecord[]; ttftS: number[]; measured: number; byOutcome: Record<string, number> } {
  const records: RequestRecord[] = [];
  const ttftS: number[] = [];
  let id = 0;
  for (let i = 0; i < 5; i++) records.push(completed(id++, i * 1_000, 50_000, 4, 20_000, { warmup: true }));
  for (let i = 0; i < 180; i++) {
    const ttftUs = (i + 1) * 10_000;
    ttftS.push(ttftUs / 1e6);
    records.push(completed(id++, 100_000 + i * 5_000, ttftUs, 8, 30_000, { className: i % 2 ? 'a' : 'b', model: i % 3 === 0 ? 'm1' : null }));
  }
  for (let i = 0; i < 6; i++) records.push(failed(id++, 2_000_000 + i * 1_000, 'http_5xx', { className: 'a' }));
  for (let i = 0; i < 4; i++) records.push(failed(id++, 2_100_000 + i * 1_000, 'timeout', { className: 'b' }));
  for (let i = 0; i < 3; i++) records.push(interrupted(id++, 2_200_000 + i * 1_000, { className: 'a' }));
  for (let i = 0; i < 7; i++) records.push(dropped(id++, 2_300_000 + i * 1_000, { className: 'b' }));
  return { records, ttftS, measured: 200, byOutcome: { completed: 180, failed: 10, interrupted: 3, dropped: 7 } };
}
