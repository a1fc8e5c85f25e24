// WorkerPoolBackend: the Backend for `inferload run --workers N` (N ≥ 2). When one core cannot
// keep up with the client's per-read cost (undici plus our SSE parsing), the network and the
// stream parsing move into N worker threads (thread.ts), each with its own OpenAIBackend, while
// the schedule, the engine, the single Recorder and every output stay on the main thread:
// histograms are exact by construction (nothing to merge) and the engine's semantics (pacing,
// in-flight cap, timeouts through RequestHandle.abort, graceful stop, interrupts) are untouched.
// Each request goes to the thread with the fewest in flight (ties round-robin); finished records
// come back batched, once per event-loop turn of the thread, and their stamps are moved from the
// thread's performance.now() to the main thread's run clock as they arrive (protocol.ts).
// A thread that dies fails its requests in flight (class `reset`) and the run goes on with the
// others.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { nowUs, type Clock } from '../../core/clock.js';
import type { RequestRecord } from '../../core/record.js';
import { clientSecrets, redactSecret } from '../../core/secret.js';
import type { OpenAIBackendOptions } from '../openai/client.js';
import type { Backend, GenRequest, ParseStats, RequestHandle } from '../types.js';
import {
  clockAnchor,
  perfToPerfUs,
  STAMPS_PER_RECORD,
  unpackResult,
  type ClockAnchor,
  type FromThread,
  type ResultsMessage,
  type ThreadData,
  type ToThread,
} from './protocol.js';

/** `--workers` accepts 1 (the in-thread client) to this many. */
export { MAX_WORKERS } from './limits.js';
import { MAX_WORKERS } from './limits.js';

export interface WorkerPoolBackendOptions extends OpenAIBackendOptions {
  /** client threads, 1..MAX_WORKERS */
  workers: number;
}

/** How long close() waits for a thread to finish its requests and close its connections. */
const CLOSE_WAIT_MS = 3_000;
/** How long close() waits for a thread to terminate after that. */
const TERMINATE_WAIT_MS = 2_000;
/** After an 'error' event, 'exit' follows; if it does not within this, the thread counts as gone. */
const EXIT_AFTER_ERROR_MS = 1_000;
/** How long a thread gets to come up (load its modules) before the pool gives up on it. */
const READY_WAIT_MS = 10_000;

/** Where the compiled thread entry is: next to this file in dist/, or in dist/ when running from src/. */
export function threadEntryPath(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../../dist/backend/worker/thread.js', here) : new URL('./thread.js', here);
  return fileURLToPath(url);
}

interface ClientThread {
  index: number;
  worker: Worker;
  /** accepts sends: up, and neither dead nor dying */
  alive: boolean;
  /** set by 'ready': add to this thread's stamps to put them on the main thread's performance clock */
  toMainPerfUs: number;
  ready: Promise<boolean>;
  /** requests in flight on it */
  inflight: number;
  /** its events per parsing path, as of its last results */
  parse: ParseStats;
  /** requests in flight plus control replies awaited: the worker is ref'd while > 0 */
  busy: number;
  /** why it died, once it did */
  death: string | null;
  /** control replies awaited ('ready', 'preconnected', 'closed'); all released when it dies */
  waiters: { type: FromThread['type']; resolve: () => void }[];
}

interface Pending {
  record: RequestRecord;
  done: (record: RequestRecord) => void;
  thread: ClientThread;
}

export class WorkerPoolBackend implements Backend {
  private readonly threads: ClientThread[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly clock: Clock;
  /** the API key and the target URL's secrets, kept out of every message made here */
  private readonly secrets: string[];
  private readonly mainAnchor: ClockAnchor;
  private readonly idleTimeoutMs: number;
  private nextId = 0;
  private rr = 0;
  private closing: Promise<void> | null = null;

  constructor(opts: WorkerPoolBackendOptions) {
    const { workers, clock, ...options } = opts;
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS)
      throw new RangeError(`workers must be an integer 1..${MAX_WORKERS}, got ${workers}`);
    const entry = threadEntryPath();
    if (!existsSync(entry)) throw new Error(`client worker entry point not found at ${entry}; build first (npm run build)`);
    this.clock = clock;
    this.secrets = clientSecrets(options.baseUrl, options.apiKey);
    this.idleTimeoutMs = options.idleTimeoutS * 1000;
    this.mainAnchor = clockAnchor();
    const workerData: ThreadData = { options };
    for (let index = 0; index < workers; index++) this.threads.push(this.startThread(index, entry, workerData));
  }

  /** Client threads still accepting requests. */
  get liveThreads(): number {
    return this.threads.reduce((n, t) => n + (t.alive ? 1 : 0), 0);
  }

  /** Requests in flight on each thread (index = thread). */
  inflightPerThread(): number[] {
    return this.threads.map((t) => t.inflight);
  }

  private startThread(index: number, entry: string, workerData: ThreadData): ClientThread {
    const worker = new Worker(entry, {
      workerData,
      // the parent's loaders and flags (vitest, --inspect) must not leak into the thread
      execArgv: [],
      name: `inferload-client-${index}`,
    });
    const t: ClientThread = {
      index,
      worker,
      alive: true,
      toMainPerfUs: NaN,
      ready: Promise.resolve(false),
      inflight: 0,
      parse: { template: 0, search: 0, json: 0 },
      busy: 0,
      death: null,
      waiters: [],
    };
    // an idle pool never keeps the process alive; a busy one does (see hold())
    worker.unref();
    t.ready = this.awaitReply(t, 'ready', READY_WAIT_MS).then(() => !Number.isNaN(t.toMainPerfUs));
    worker.on('message', (m: FromThread) => this.onMessage(t, m));
    worker.on('error', (err: Error) => {
      // 'exit' follows and fails what is in flight; no new request goes here meanwhile
      this.markDying(t, `${err.name}: ${err.message}`);
      setTimeout(() => this.onExit(t, null), EXIT_AFTER_ERROR_MS).unref();
    });
    // a message that could not be read may have held results: the thread's state is unknown, so
    // it goes (and 'exit' fails what it had in flight)
    worker.on('messageerror', (err: Error) => {
      this.markDying(t, `a message from it could not be read: ${err.message}`);
      void worker.terminate();
    });
    worker.on('exit', (code: number) => this.onExit(t, code));
    return t;
  }

  // -- Backend ------------------------------------------------------------------------

  send(req: GenRequest, record: RequestRecord, done: (record: RequestRecord) => void): RequestHandle {
    const t = this.closing ? null : this.pick();
    if (!t) {
      const why = this.closing ? 'the client worker pool is closed' : 'every client worker thread has died';
      queueMicrotask(() => this.failNow(record, done, why));
      return NO_HANDLE;
    }
    const id = this.nextId++;
    const p: Pending = { record, done, thread: t };
    this.pending.set(id, p);
    t.inflight++;
    this.hold(t, 1);
    // provisional, until the thread's own stamp comes back: the engine's total deadline counts from it
    record.sentUs = this.clock.now();
    this.post(t, { type: 'send', id, req });
    return {
      abort: (errorClass, message) => {
        if (this.pending.get(id) === p && p.thread.alive) this.post(p.thread, { type: 'abort', id, errorClass, message });
      },
    };
  }

  /**
   * Opens keep-alive connections before the run: `connections` spread over the threads, at least
   * one each (every thread has its own connection pool). Best effort, like OpenAIBackend's.
   */
  async preconnect(connections = 1): Promise<void> {
    await this.ready();
    const live = this.threads.filter((t) => t.alive);
    const n = live.length;
    const waitMs = this.idleTimeoutMs + 10_000;
    await Promise.all(
      live.map((t, i) => {
        const share = Math.max(1, Math.floor(connections / n) + (i < connections % n ? 1 : 0));
        const reply = this.awaitReply(t, 'preconnected', waitMs);
        this.post(t, { type: 'preconnect', connections: share });
        return reply;
      }),
    );
  }

  /** Resolves once every thread is up (or gone); rejects when none came up. */
  async ready(): Promise<void> {
    const up = await Promise.all(this.threads.map((t) => t.ready));
    if (!up.some(Boolean)) {
      const why = this.threads.map((t) => t.death).find((d) => d !== null) ?? 'no reason given';
      throw new Error(`no client worker thread started: ${why}`);
    }
  }

  /** events per parsing path, summed over the threads (as of their last results) */
  parseStats(): ParseStats {
    const sum: ParseStats = { template: 0, search: 0, json: 0 };
    for (const t of this.threads) {
      sum.template += t.parse.template;
      sum.search += t.parse.search;
      sum.json += t.parse.json;
    }
    return sum;
  }

  /**
   * Lets every thread finish and report what it has, closes its connections (requests still in
   * flight end failed, as with OpenAIBackend.close) and terminates it. Bounded: a thread that does
   * not answer within CLOSE_WAIT_MS is terminated anyway and its requests fail here.
   */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    await Promise.all(
      this.threads
        .filter((t) => t.alive)
        .map((t) => {
          const reply = this.awaitReply(t, 'closed', CLOSE_WAIT_MS);
          this.post(t, { type: 'close' });
          return reply;
        }),
    );
    await Promise.all(this.threads.map((t) => withTimeout(t.worker.terminate(), TERMINATE_WAIT_MS)));
    for (const t of this.threads) this.onExit(t, null);
  }

  /** Test hook: make client thread `index` die, by an uncaught exception or process.exit. */
  crashThreadForTest(index: number, mode: 'throw' | 'exit' = 'throw'): void {
    const t = this.threads[index];
    if (t?.alive) this.post(t, { type: 'crash', mode });
  }

  // -- internals ----------------------------------------------------------------------

  /** The live thread with the fewest requests in flight; ties go round-robin. */
  private pick(): ClientThread | null {
    const threads = this.threads;
    const n = threads.length;
    let best: ClientThread | null = null;
    for (let k = 0; k < n; k++) {
      const t = threads[(this.rr + k) % n]!;
      if (t.alive && (best === null || t.inflight < best.inflight)) best = t;
    }
    if (best) this.rr = (best.index + 1) % n;
    return best;
  }

  private post(t: ClientThread, m: ToThread): void {
    t.worker.postMessage(m);
  }

  /** Keeps the process alive while a thread has work (delta +1), lets it go when idle (−1). */
  private hold(t: ClientThread, delta: 1 | -1): void {
    const was = t.busy;
    t.busy += delta;
    if (was === 0 && t.busy > 0) t.worker.ref();
    else if (was > 0 && t.busy === 0) t.worker.unref();
  }

  /** Resolves on the thread's next `type` message, when it dies, or after `timeoutMs`. */
  private awaitReply(t: ClientThread, type: FromThread['type'], timeoutMs: number): Promise<void> {
    if (t.death !== null) return Promise.resolve();
    this.hold(t, 1);
    return new Promise<void>((resolve) => {
      const waiter = {
        type,
        resolve: () => {
          clearTimeout(timer);
          const i = t.waiters.indexOf(waiter);
          if (i !== -1) t.waiters.splice(i, 1);
          this.hold(t, -1);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, timeoutMs);
      t.waiters.push(waiter);
    });
  }

  private onMessage(t: ClientThread, m: FromThread): void {
    switch (m.type) {
      case 'results':
        this.onResults(t, m);
        return;
      case 'ready':
        t.toMainPerfUs = perfToPerfUs(m.anchor, this.mainAnchor);
        break;
      case 'preconnected':
      case 'closed':
        break;
      default: {
        const never: never = m;
        throw new Error(`unknown message from a client thread: ${JSON.stringify(never).slice(0, 200)}`);
      }
    }
    t.waiters.find((w) => w.type === m.type)?.resolve();
  }

  /**
   * Finished records: stamps go from the thread's performance clock to the main thread's run
   * clock, as of now (the run clock may have been restarted since the pool started: never cached).
   */
  private onResults(t: ClientThread, m: ResultsMessage): void {
    t.parse = m.parse;
    const shiftUs = t.toMainPerfUs - (nowUs() - this.clock.now());
    let stampAt = 0;
    let charAt = 0;
    for (const w of m.recs) {
      const p = this.pending.get(w.id);
      if (p) {
        this.settle(w.id, p);
        unpackResult(m, w, stampAt, charAt, shiftUs, p.record);
        p.done(p.record);
      }
      stampAt += STAMPS_PER_RECORD + w.n;
      charAt += w.n;
    }
  }

  private settle(id: number, p: Pending): void {
    this.pending.delete(id);
    p.thread.inflight--;
    this.hold(p.thread, -1);
  }

  /** No new request goes to this thread. */
  private markDying(t: ClientThread, why: string): void {
    t.alive = false;
    t.death ??= redactSecret(why, this.secrets);
  }

  /** The thread is gone: its requests in flight fail, its waiters are released. */
  private onExit(t: ClientThread, code: number | null): void {
    this.markDying(t, code === null ? 'it stopped answering' : `it exited with code ${code}`);
    const message = this.closing
      ? `the client worker thread ${t.index} was closed with the request in flight`
      : `the client worker thread ${t.index} died with the request in flight (${t.death})`;
    for (const [id, p] of [...this.pending]) {
      if (p.thread !== t) continue;
      this.settle(id, p);
      this.failNow(p.record, p.done, message);
    }
    for (const w of [...t.waiters]) w.resolve();
  }

  private failNow(record: RequestRecord, done: (record: RequestRecord) => void, message: string): void {
    record.ok = false;
    record.errorClass = 'reset';
    record.errorMessage = redactSecret(message, this.secrets);
    record.endUs = this.clock.now();
    done(record);
  }
}

const NO_HANDLE: RequestHandle = { abort: () => undefined };

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
