// Prometheus remote-write 1.0: a WriteRequest (protobuf) compressed with snappy's block format,
// POSTed with the spec's headers; and the sender that keeps a slow or down receiver away from
// the run: one request in flight, a bounded queue that drops its oldest batch (counted), retries
// with exponential backoff on 5xx, 429 and network errors, none on any other 4xx.
//
// Spec: https://prometheus.io/docs/specs/remote_write_spec/ (the .proto below is prometheus'
// prompb/remote.proto and prompb/types.proto cut to what 1.0 sends: no exemplars, no native
// histograms; field numbers are the originals).
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import type { Agent as AgentType } from 'undici';
import { Agent, readCapped, requestOn } from '../core/http.js';
import { oneLineRedacted, parseTarget, type TargetUrl } from '../core/secret.js';
import type { FamilyMeta, Label, MetricType, SeriesSnapshot } from './series.js';

const REMOTE_WRITE_PROTO = `
syntax = "proto3";
package prometheus;

message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  repeated MetricMetadata metadata = 3;
}

message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}

message Label {
  string name = 1;
  string value = 2;
}

message Sample {
  double value = 1;
  int64 timestamp = 2;
}

message MetricMetadata {
  enum MetricType {
    UNKNOWN = 0;
    COUNTER = 1;
    GAUGE = 2;
    HISTOGRAM = 3;
    GAUGEHISTOGRAM = 4;
    SUMMARY = 5;
    INFO = 6;
    STATESET = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}
`;

const root = protobuf.parse(REMOTE_WRITE_PROTO, { keepCase: true }).root;
const WriteRequestType = root.lookupType('prometheus.WriteRequest');
const LabelType = root.lookupType('prometheus.Label');
const MetadataType = root.lookupType('prometheus.MetricMetadata');

export interface WriteRequest {
  timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }[];
  metadata?: { type: number; metric_family_name: string; help: string; unit?: string }[];
}

const METADATA_TYPE: Record<MetricType, number> = { counter: 1, gauge: 2, histogram: 3 };

function metadataOf(families: readonly FamilyMeta[]): NonNullable<WriteRequest['metadata']> {
  return families.map((f) => ({ type: METADATA_TYPE[f.type], metric_family_name: f.name, help: f.help }));
}

/** The WriteRequest of one moment as plain objects: every series with one sample at `timestampMs`. */
export function writeRequestOf(snap: SeriesSnapshot, families: readonly FamilyMeta[], timestampMs: number): WriteRequest {
  return {
    timeseries: snap.labels.map((labels, i) => ({ labels: [...labels], samples: [{ value: snap.values[i]!, timestamp: timestampMs }] })),
    metadata: metadataOf(families),
  };
}

/** protobuf (protobufjs, from the .proto above), then snappy's block format: a remote-write body. */
export function encodeWriteRequest(req: WriteRequest): Uint8Array {
  return snappy.compress(WriteRequestType.encode(req as unknown as protobuf.Message).finish());
}

/** The inverse of encodeWriteRequest (tests; a receiver written in TypeScript). */
export function decodeWriteRequest(body: Uint8Array): WriteRequest {
  const msg = WriteRequestType.decode(snappy.uncompress(body));
  return WriteRequestType.toObject(msg, { longs: Number, enums: Number, defaults: true, arrays: true }) as WriteRequest;
}

// Field keys of the wire format (field number << 3 | wire type) for the fields written by hand below.
const KEY_TIMESERIES = (1 << 3) | 2; // WriteRequest.timeseries
const KEY_METADATA = (3 << 3) | 2; // WriteRequest.metadata
const KEY_LABELS = (1 << 3) | 2; // TimeSeries.labels
const KEY_SAMPLES = (2 << 3) | 2; // TimeSeries.samples
const KEY_VALUE = (1 << 3) | 1; // Sample.value (double)
const KEY_TIMESTAMP = (2 << 3) | 0; // Sample.timestamp (int64)

/** every series' Label messages, encoded once by protobufjs: a series' labels never change */
const encodedLabels = new WeakMap<readonly Label[], Uint8Array[]>();

function labelsOf(labels: readonly Label[]): Uint8Array[] {
  let enc = encodedLabels.get(labels);
  if (!enc) {
    enc = labels.map((l) => LabelType.encode(l as unknown as protobuf.Message).finish());
    encodedLabels.set(labels, enc);
  }
  return enc;
}

/** snappy compresses in independent 64 KiB fragments: a body compressed a fragment at a time is the same bytes */
const SNAPPY_FRAGMENT = 1 << 16;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

export interface SlicedEncodeOptions {
  /** series per turn of the event loop (default 100) */
  seriesPerTurn?: number;
  /** yields to the event loop between slices (default: setImmediate) */
  nextTurn?: () => Promise<void>;
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The same bytes as encodeWriteRequest(writeRequestOf(snap, families, timestampMs)), made without
 * holding the event loop: protobufjs' Writer writes each series' labels from their encoding kept
 * from the first time (labels are the bulk of a body and never change) and its one sample, a
 * slice of series per turn; snappy then compresses a 64 KiB fragment per turn. A thousand series
 * in one go cost ~8 ms through the generic encoder on a loaded 2-core machine, long enough to
 * make the next sends late.
 */
export async function encodeWriteRequestSliced(
  snap: SeriesSnapshot,
  families: readonly FamilyMeta[],
  timestampMs: number,
  opts: SlicedEncodeOptions = {},
): Promise<Uint8Array> {
  const per = Math.max(1, opts.seriesPerTurn ?? 100);
  const nextTurn = opts.nextTurn ?? immediate;
  const n = snap.labels.length;
  // a Writer per slice, finished on its own turn: a WriteRequest's repeated fields concatenate, so
  // the slices' bytes one after the other are the whole message's
  const slices: Uint8Array[] = [];
  for (let from = 0; from < n || from === 0; from += per) {
    if (from > 0) await nextTurn();
    const w = protobuf.Writer.create();
    for (let i = from; i < Math.min(n, from + per); i++) {
      w.uint32(KEY_TIMESERIES).fork();
      for (const l of labelsOf(snap.labels[i]!)) w.uint32(KEY_LABELS).bytes(l);
      const v = snap.values[i]!;
      w.uint32(KEY_SAMPLES).fork();
      // proto3: a zero is the field's default and not written (as protobufjs' own encoder does)
      if (v !== 0) w.uint32(KEY_VALUE).double(v);
      w.uint32(KEY_TIMESTAMP).int64(timestampMs).ldelim();
      w.ldelim();
    }
    if (from + per >= n) for (const m of metadataOf(families)) w.uint32(KEY_METADATA).bytes(MetadataType.encode(m as unknown as protobuf.Message).finish());
    slices.push(w.finish());
  }
  let length = 0;
  for (const x of slices) length += x.length;
  if (slices.length === 1 && length <= SNAPPY_FRAGMENT) return snappy.compress(slices[0]!);
  // the slices laid end to end in a buffer kept between pushes (a fresh 200 kB one costs more to
  // fault in than to fill); a second encoding under way at once (close()) gets its own
  const scratch = takeScratch(length);
  try {
    let o = 0;
    for (const x of slices) {
      scratch.set(x, o);
      o += x.length;
    }
    const pb = scratch.subarray(0, length);
    if (length <= SNAPPY_FRAGMENT) return snappy.compress(pb);
    const parts: Uint8Array[] = [Uint8Array.from(varint(length))];
    for (let at = 0; at < length; at += SNAPPY_FRAGMENT) {
      await nextTurn();
      const part = snappy.compress(pb.subarray(at, Math.min(length, at + SNAPPY_FRAGMENT)));
      // each fragment's own length header dropped: the body has one, of the whole
      parts.push(part.subarray(varint(Math.min(SNAPPY_FRAGMENT, length - at)).length));
    }
    return Buffer.concat(parts);
  } finally {
    giveScratch(scratch);
  }
}

let spare: Buffer | null = null;

function takeScratch(length: number): Buffer {
  const s = spare;
  spare = null;
  return s && s.length >= length ? s : Buffer.allocUnsafeSlow(Math.ceil(length * 1.25));
}

function giveScratch(s: Buffer): void {
  if (!spare || s.length > spare.length) spare = s;
}

export const REMOTE_WRITE_HEADERS: Readonly<Record<string, string>> = {
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
  'user-agent': 'inferload-remote-write',
};

export interface RemoteWriterOptions {
  /** the receiver; a `user:password@` in it goes as HTTP Basic authorization and is never shown */
  url: string;
  headers?: Record<string, string>;
  /** batches waiting at most; the oldest is dropped beyond it (default 20: 100 s at 5 s) */
  maxQueue?: number;
  /** one request's bound (default 10 000 ms): a receiver that never answers is a failure */
  timeoutMs?: number;
  /** first retry delay (default 250 ms), doubled per failure up to maxBackoffMs (default 5 000 ms) */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log: (line: string) => void;
}

export interface RemoteWriteStats {
  /** batches the receiver took (2xx) */
  sent: number;
  /** batches dropped unsent: the queue was full (oldest first), or close() ran out of time */
  dropped: number;
  /** batches the receiver refused with a 4xx other than 429 (not retried) */
  rejected: number;
  /** failed attempts that were retried (5xx, 429, network errors, timeouts) */
  retries: number;
  /** batches waiting now */
  queued: number;
  /** the last failure, or null */
  lastError: string | null;
}

interface Batch {
  body: Uint8Array;
  attempts: number;
}

/** Is this status worth another attempt? 5xx and 429 are; any other 4xx is the batch's fault. */
export function retriable(status: number): boolean {
  return status >= 500 || status === 429;
}

/**
 * Sends remote-write bodies in order, one at a time. Nothing here awaits on the caller's behalf:
 * `push` returns at once, failures are counted and logged (once per run of failures), never thrown.
 */
export class RemoteWriter {
  private readonly queue: Batch[] = [];
  private inFlight: { batch: Batch; abort: AbortController } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly agent: AgentType;
  private readonly target: TargetUrl;
  private readonly headers: Record<string, string>;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private failing = 0;
  private closing = false;
  private closed = false;
  /** close(): the run's last state, and when close() gives up */
  private finalBatch: Batch | null = null;
  private deadline = Infinity;
  private idle: (() => void) | null = null;
  readonly stats: RemoteWriteStats = { sent: 0, dropped: 0, rejected: 0, retries: 0, queued: 0, lastError: null };

  constructor(private readonly opts: RemoteWriterOptions) {
    this.maxQueue = Math.max(1, opts.maxQueue ?? 20);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.minBackoffMs = opts.minBackoffMs ?? 250;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5_000;
    // the user's headers (auth, tenant) first; the protocol's own cannot be overridden
    this.target = parseTarget(opts.url);
    const own = Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    if (this.target.authorization && own.authorization === undefined) own.authorization = this.target.authorization;
    this.headers = { ...own, ...REMOTE_WRITE_HEADERS };
    // a pool of its own: never the load's connections, one socket
    this.agent = new Agent({ connections: 1, pipelining: 1, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, connect: { timeout: this.timeoutMs } });
  }

  /** Queues one body; drops the oldest waiting one when the queue is full. */
  push(body: Uint8Array): void {
    if (this.closing || this.closed) return;
    this.queue.push({ body, attempts: 0 });
    while (this.queue.length > this.maxQueue) {
      // the oldest that is not on the wire: one in flight ends as sent or as failed, never both
      this.queue.splice(this.queue[0] === this.inFlight?.batch ? 1 : 0, 1);
      this.stats.dropped++;
    }
    this.stats.queued = this.queue.length;
    this.kick();
  }

  /** Starts the next send unless one is in flight or a backoff is pending. */
  private kick(): void {
    if (this.inFlight || this.timer || this.closed) return;
    const batch = this.queue[0];
    if (!batch) {
      this.idle?.();
      return;
    }
    void this.send(batch);
  }

  private async send(batch: Batch): Promise<void> {
    const abort = new AbortController();
    this.inFlight = { batch, abort };
    const timeout = setTimeout(() => abort.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    timeout.unref();
    batch.attempts++;
    let outcome: 'ok' | 'retry' | 'reject';
    let error: string | null = null;
    try {
      const t = this.target;
      const res = await requestOn(this.agent, {
        origin: t.origin,
        path: (t.path || '/') + t.query,
        method: 'POST',
        headers: this.headers,
        body: batch.body,
        signal: abort.signal,
      });
      // an error's explanation, not a body to keep: 64 KiB of it at most
      const text = await readCapped(res.body, 64 * 1024).then((r) => r.text, () => '');
      if (res.statusCode >= 200 && res.statusCode < 300) outcome = 'ok';
      else {
        outcome = retriable(res.statusCode) ? 'retry' : 'reject';
        error = `HTTP ${res.statusCode}${text ? ': ' + oneLineRedacted(this.target.redact(text.trim()), this.target.secrets, 200) : ''}`;
      }
    } catch (e) {
      outcome = 'retry';
      const err = e as Error & { code?: string; cause?: { code?: string } };
      const why = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason.message : (err.code ?? err.cause?.code ?? err.message ?? String(e));
      error = oneLineRedacted(this.target.redact(why), this.target.secrets, 200);
    } finally {
      clearTimeout(timeout);
      this.inFlight = null;
    }
    // the batch may have been dropped meanwhile (a full queue while it was retried, close())
    const at = this.queue.indexOf(batch);
    if (outcome === 'ok') {
      this.stats.sent++;
      if (at >= 0) this.queue.splice(at, 1);
      if (this.failing > 0) this.opts.log(`remote-write: ${this.target.display} takes batches again (after ${this.failing} failed attempt(s))`);
      this.failing = 0;
    } else if (outcome === 'reject') {
      this.stats.rejected++;
      this.stats.lastError = error;
      if (at >= 0) this.queue.splice(at, 1);
      if (this.stats.rejected <= 3) this.opts.log(`remote-write: ${this.target.display} refused a batch (${error}); not retried`);
    } else {
      this.stats.lastError = error;
      this.failing++;
      if (this.failing === 1) this.opts.log(`remote-write: ${this.target.display} failed (${error}); retrying with backoff, keeping the last ${this.maxQueue} batches`);
      const closingRetry = this.closing && batch === this.finalBatch && Date.now() + 100 < this.deadline;
      if (at >= 0 && (!this.closing || closingRetry)) {
        this.stats.retries++;
        const delay = closingRetry ? 100 : Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(30, this.failing - 1));
        this.timer = setTimeout(
          () => {
            this.timer = null;
            this.kick();
          },
          closingRetry ? delay : delay * (0.5 + Math.random() / 2),
        );
        this.timer.unref();
      } else if (at >= 0) {
        // closing: an older batch is superseded by the final state; the final one is out of time
        this.queue.splice(at, 1);
        this.stats.dropped++;
      }
    }
    this.stats.queued = this.queue.length;
    this.kick();
  }

  /**
   * Sends `finalBody` (the run's last state) and lets go, within `boundMs`. The backlog waiting
   * behind a failing receiver is dropped (counted): the final state supersedes it (every series
   * is cumulative) and is what must arrive. A request still in flight gets half the bound.
   */
  async close(finalBody: Uint8Array | null, boundMs = 2_000): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + boundMs;
    this.deadline = deadline;
    this.closing = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const sending = this.inFlight?.batch;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i] !== sending) {
        this.queue.splice(i, 1);
        this.stats.dropped++;
      }
    }
    if (finalBody) {
      this.finalBatch = { body: finalBody, attempts: 0 };
      this.queue.push(this.finalBatch);
    }
    this.stats.queued = this.queue.length;
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
    });
    // an older request still in flight gets half the bound, then gives way to the final state
    const halfway = setTimeout(() => {
      if (this.inFlight && this.inFlight.batch !== this.finalBatch) this.inFlight.abort.abort(new Error('close(): gave way to the final batch'));
    }, boundMs / 2);
    const end = setTimeout(() => {
      this.inFlight?.abort.abort(new Error('close(): out of time'));
      this.idle?.();
    }, Math.max(0, deadline - Date.now()));
    this.kick();
    await drained;
    clearTimeout(halfway);
    clearTimeout(end);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    this.stats.dropped += this.queue.length;
    this.queue.length = 0;
    this.stats.queued = 0;
    // the agent's sockets: destroy rather than wait on a receiver that does not answer
    await this.agent.destroy().catch(() => undefined);
  }
}
