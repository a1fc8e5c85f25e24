// `inferload run --dashboard [PORT]`: a read-only page served during the run with the report's
// charts (the same vega-lite specs) updated from every checkpoint over SSE, the SLO verdicts, the
// load generator's health and the engine's progress; when the run ends the page opens the final
// report (report.html's content, served from memory).
//
// The server, the charts and the report run in a worker thread (dashboard-thread.ts): the run's
// thread only posts messages. A checkpoint posts the results without their windows plus the
// windows that are new since the last one (dashboard-protocol.ts), a fraction of a millisecond
// even at 1 800 windows; building and serializing the charts (tens to hundreds of milliseconds
// for a 30-minute run) happens in the worker, only while a page is open, and at most a quarter of
// the worker's time. `thread: 'main'` runs the same server on the calling thread instead (tests,
// embedding): the charts are then built there, on turns of their own.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RequestRecord } from '../core/record.js';
import type { RunResult } from '../results/types.js';
import type { DashboardThreadData, FromDashboard, ToDashboard } from './dashboard-protocol.js';
import { WindowDiff } from './dashboard-protocol.js';
import { DashboardServer } from './dashboard-server.js';
import type { LiveProgress } from './dashboard-state.js';
import type { LiveSink, LiveTick } from './sink.js';

export interface DashboardOptions {
  /** the address to bind (the CLI's default: 127.0.0.1) */
  host: string;
  /** 0: any free port */
  port: number;
  log: (line: string) => void;
  /** shown before the first checkpoint arrives (the scenario's name) */
  title: string;
  /** SSE streams open at once (default 16) */
  maxClients?: number;
  /** after the final results, how long close() waits for open pages to load the report, ms (default 10 000) */
  finalGraceMs?: number;
  /** where the server and the charts run (default 'worker') */
  thread?: 'worker' | 'main';
}

export interface LiveDashboard extends LiveSink {
  /** the page, e.g. http://127.0.0.1:8089/ */
  url: string;
  /**
   * pages open now (as last reported by the dashboard's thread): a run that builds partial
   * results more often for the dashboard can do so only while someone watches
   */
  readonly pages: number;
}

/** Progress events go out at most this often. */
const PROGRESS_EVERY_MS = 1_000;
/** How long the thread gets to come up and listen. */
const START_WAIT_MS = 15_000;
/** After close's grace, how long the thread gets to close its sockets before it is terminated. */
const CLOSE_EXTRA_MS = 3_000;

/** Where the compiled thread entry is: next to this file in dist/, or in dist/ when running from src/. */
export function dashboardThreadPath(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../dist/live/dashboard-thread.js', here) : new URL('./dashboard-thread.js', here);
  return fileURLToPath(url);
}

function progressOf(t: LiveTick): LiveProgress {
  return { elapsed_s: t.nowUs / 1e6, in_flight: t.inFlight, sent: t.sent, ended: t.ended, failed: t.failed, dropped: t.dropped };
}

/** Starts the dashboard; resolves once it listens (rejects when it cannot, e.g. the port is taken). */
export function startDashboard(opts: DashboardOptions): Promise<LiveDashboard> {
  return opts.thread === 'main' ? startInProcess(opts) : startThread(opts);
}

/** Throttles ticks to progress events. */
class ProgressGate {
  private lastMs = -Infinity;
  pass(t: LiveTick): boolean {
    if (t.epochMs - this.lastMs < PROGRESS_EVERY_MS) return false;
    this.lastMs = t.epochMs;
    return true;
  }
}

async function startInProcess(opts: DashboardOptions): Promise<LiveDashboard> {
  const server = new DashboardServer({
    host: opts.host,
    port: opts.port,
    title: opts.title,
    log: opts.log,
    ...(opts.maxClients !== undefined && { maxClients: opts.maxClients }),
  });
  const url = await server.listen();
  server.unref();
  const gate = new ProgressGate();
  return {
    url,
    get pages(): number {
      return server.clientCount;
    },
    requestEnded(_r: RequestRecord): void {},
    tick(t: LiveTick): void {
      if (gate.pass(t)) server.progress(progressOf(t));
    },
    checkpoint(result: RunResult): void {
      try {
        if (result.status === 'running') server.update(result);
        else server.finish(result);
      } catch (err) {
        opts.log(`dashboard: ${(err as Error).message}`);
      }
    },
    close: () => server.close(opts.finalGraceMs ?? 10_000),
  };
}

async function startThread(opts: DashboardOptions): Promise<LiveDashboard> {
  const entry = dashboardThreadPath();
  if (!existsSync(entry)) throw new Error(`dashboard thread entry point not found at ${entry}; build first (npm run build)`);
  const workerData: DashboardThreadData = {
    host: opts.host,
    port: opts.port,
    title: opts.title,
    ...(opts.maxClients !== undefined && { maxClients: opts.maxClients }),
  };
  // the parent's loaders and flags (vitest, --inspect) must not leak into the thread
  const worker = new Worker(entry, { workerData, execArgv: [], name: 'inferload-dashboard' });
  let dead: string | null = null;
  let pages = 0;
  let closedResolve: (() => void) | null = null;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the dashboard did not start within ${START_WAIT_MS / 1000} s`));
      void worker.terminate();
    }, START_WAIT_MS);
    worker.on('message', (m: FromDashboard) => {
      switch (m.type) {
        case 'listening':
          clearTimeout(timer);
          resolve(m.url);
          break;
        case 'error':
          clearTimeout(timer);
          dead = m.message;
          reject(new Error(`dashboard: cannot listen on ${opts.host}:${opts.port}: ${m.message}`));
          void worker.terminate();
          break;
        case 'log':
          opts.log(m.line);
          break;
        case 'pages':
          pages = m.count;
          break;
        case 'closed':
          closedResolve?.();
          break;
      }
    });
    worker.on('error', (err) => {
      clearTimeout(timer);
      if (dead === null) opts.log(`dashboard: stopped: ${err.message}`);
      dead = err.message;
      reject(err);
    });
    worker.on('exit', () => {
      clearTimeout(timer);
      dead ??= 'exited';
      closedResolve?.();
      reject(new Error('the dashboard thread exited before it listened'));
    });
  });
  // the run decides when the process ends; close() holds it while the thread winds down
  worker.unref();
  const post = (m: ToDashboard): void => {
    if (dead !== null) return;
    try {
      worker.postMessage(m);
    } catch (err) {
      dead = (err as Error).message;
      opts.log(`dashboard: stopped: ${dead}`);
    }
  };
  const gate = new ProgressGate();
  const windows = new WindowDiff();
  let closing: Promise<void> | null = null;
  return {
    url,
    get pages(): number {
      return pages;
    },
    requestEnded(_r: RequestRecord): void {},
    tick(t: LiveTick): void {
      if (closing === null && gate.pass(t)) post({ type: 'progress', progress: progressOf(t) });
    },
    checkpoint(result: RunResult): void {
      if (closing !== null || dead !== null) return;
      const { windows: all, ...rest } = result;
      post({ type: 'checkpoint', result: rest, windows: all.length, changed: windows.diff(all) });
    },
    close(): Promise<void> {
      closing ??= (async () => {
        if (dead !== null) return void (await worker.terminate());
        const graceMs = opts.finalGraceMs ?? 10_000;
        worker.ref();
        post({ type: 'close', graceMs });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs + CLOSE_EXTRA_MS)))]);
        clearTimeout(timer);
        await worker.terminate();
      })();
      return closing;
    },
  };
}
