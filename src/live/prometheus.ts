// inferload's own metrics, live (`--metrics-listen HOST:PORT`, `--remote-write URL`): a LiveSink
// that keeps the run's series (series.ts), serves them at /metrics for a Prometheus to scrape,
// and pushes them with remote-write 1.0 (remote-write.ts) where nothing scrapes (Kubernetes Jobs).
//
// Never in the run's way: requestEnded is a few array increments; /metrics answers from a text
// rendered at most once per engine tick (~100 ms), and only when someone asked; remote-write
// encodes every intervalS on a timer and sends one request at a time from a bounded queue.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestRecord } from '../core/record.js';
import type { RunResult } from '../results/types.js';
import { parseTarget } from '../core/secret.js';
import type { RemoteWriter, RemoteWriteStats } from './remote-write.js';
import { Family, LiveSeries } from './series.js';
import type { LiveLabels, LiveSink, LiveTick } from './sink.js';

export interface PrometheusSinkOptions {
  /** serve /metrics here (port 0: any free port; `url` says which) */
  listen?: { host: string; port: number };
  /** push every intervalS (default 5) to this remote-write 1.0 receiver */
  remoteWrite?: {
    url: string;
    intervalS?: number;
    headers?: Record<string, string>;
    /** batches kept while the receiver is slow or down (default 20); the oldest is dropped */
    maxQueue?: number;
    /** one request's bound (default 10 000 ms) */
    timeoutMs?: number;
  };
  labels: LiveLabels;
  log: (line: string) => void;
}

export interface LivePrometheusStats {
  /** GET /metrics answered */
  scrapes: number;
  /** times the exposition was rendered (at most once per tick, only when scraped) */
  renders: number;
  /** label values beyond the 100 a label may take, written as "other" */
  overflowedLabels: number;
  remoteWrite: RemoteWriteStats | null;
}

export interface LivePrometheus extends LiveSink {
  /** the /metrics URL as bound (`http://127.0.0.1:41234/metrics`); null without `listen` */
  readonly url: string | null;
  /** the series, for tests and for a caller that wants the text (`exposition()`) */
  readonly series: LiveSeries;
  stats(): LivePrometheusStats;
}

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** close(): the last remote-write push gets at most this long */
export const CLOSE_BOUND_MS = 2_000;

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Starts the sink: listens (when asked) before it resolves, so a taken port fails the start, not the run. */
export async function startPrometheusSink(opts: PrometheusSinkOptions): Promise<LivePrometheus> {
  // a bad remote-write URL fails the start, before anything listens
  const target = opts.remoteWrite ? parseTarget(opts.remoteWrite.url) : null;
  if (opts.remoteWrite && !/^https?:$/.test(new URL(opts.remoteWrite.url).protocol)) throw new Error(`--remote-write: ${target!.display} is not an http(s) URL`);
  const series = new LiveSeries(opts.labels);
  const log = opts.log;
  let scrapes = 0;
  let renders = 0;
  let complained = false;
  const guard = (what: string, e: unknown): void => {
    // a sink never throws into the run; say it once
    if (!complained) log(`live metrics: ${what} failed (${(e as Error)?.message ?? String(e)}); continuing without it`);
    complained = true;
  };

  // --- remote-write ---
  let writer: RemoteWriter | null = null;
  let pushTimer: NodeJS.Timeout | null = null;
  let encode: () => Promise<Uint8Array> = () => Promise.reject(new Error('no remote-write'));
  if (opts.remoteWrite && target) {
    const rw = opts.remoteWrite;
    // protobufjs and snappy only for a run that pushes (the CLI's start-up pays nothing otherwise)
    const { encodeWriteRequestSliced, RemoteWriter } = await import('./remote-write.js');
    /** every series' value now (one synchronous moment), encoded over the next turns of the loop */
    encode = () => {
      const at = Date.now();
      return encodeWriteRequestSliced(series.snapshot(), series.families, at);
    };
    writer = new RemoteWriter({
      url: rw.url,
      ...(rw.headers ? { headers: rw.headers } : {}),
      ...(rw.maxQueue !== undefined ? { maxQueue: rw.maxQueue } : {}),
      ...(rw.timeoutMs !== undefined ? { timeoutMs: rw.timeoutMs } : {}),
      log,
    });
    // the sender's own health, among the series it sends
    const batches = new Family('inferload_remote_write_batches_total', 'counter', 'Remote-write batches by result: sent, dropped (queue full or out of time at the end), rejected (4xx).');
    const retries = new Family('inferload_remote_write_retries_total', 'counter', 'Remote-write attempts that failed and were retried (5xx, 429, network errors, timeouts).');
    const stats = writer.stats;
    const sent = batches.scalar([...series.runLabels, ['result', 'sent']]);
    const dropped = batches.scalar([...series.runLabels, ['result', 'dropped']]);
    const rejected = batches.scalar([...series.runLabels, ['result', 'rejected']]);
    const retried = retries.scalar(series.runLabels);
    series.families.push(batches, retries);
    const refresh = (): void => {
      sent.value = stats.sent;
      dropped.value = stats.dropped;
      rejected.value = stats.rejected;
      retried.value = stats.retries;
    };
    series.beforeRead = refresh;
    refresh();
    const intervalMs = Math.max(0.1, rw.intervalS ?? 5) * 1000;
    let encoding = false;
    pushTimer = setInterval(() => {
      if (encoding) return; // the last one is still being encoded (a huge registry on a busy loop)
      encoding = true;
      encode()
        .then((body) => writer!.push(body))
        .catch((e: unknown) => guard('remote-write encoding', e))
        .finally(() => {
          encoding = false;
        });
    }, intervalMs);
    pushTimer.unref();
    log(`live metrics: remote-write to ${target.display} every ${intervalMs / 1000} s`);
  }

  // --- /metrics ---
  let server: Server | null = null;
  let url: string | null = null;
  // The text lives in buffers that are reused: a fresh buffer the size of a large exposition
  // (160 kB for a thousand series) costs more to fault in than the whole render. A buffer is
  // written again only once no response still sends it (a slow scraper keeps its own).
  interface Slab {
    buf: Buffer;
    /** responses still sending it */
    users: number;
  }
  const slabs: Slab[] = [];
  let cached: { slab: Slab; length: number } | null = null;
  let renderedAt = 0;
  /** true from a render to the next tick: a scrape in between gets the same text */
  let fresh = false;
  const exposition = (): { slab: Slab; length: number } => {
    const now = Date.now();
    // a second at most, should the caller not tick
    if (!cached || !fresh || now - renderedAt > 1_000) {
      const bound = series.expositionBound();
      let slab = slabs.find((x) => x.users === 0 && x !== cached?.slab && x.buf.length >= bound);
      if (!slab) {
        // at most a few: those a slow scraper still holds are let go when it is done with them
        const idle = slabs.findIndex((x) => x.users === 0 && x !== cached?.slab);
        if (idle >= 0) slabs.splice(idle, 1);
        slab = { buf: Buffer.allocUnsafeSlow(Math.ceil(bound * 1.25) + 4096), users: 0 };
        slabs.push(slab);
      }
      cached = { slab, length: series.writeExposition(slab.buf) };
      renderedAt = now;
      renders++;
      fresh = true;
    }
    return cached;
  };
  if (opts.listen) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      try {
        const path = (req.url ?? '/').split('?')[0];
        if (path !== '/metrics') {
          res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(path === '/' ? 'inferload live metrics: /metrics\n' : 'not found\n');
          return;
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' });
          res.end();
          return;
        }
        const { slab, length } = exposition();
        scrapes++;
        res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': length, 'cache-control': 'no-store' });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        slab.users++;
        res.once('close', () => slab.users--);
        res.end(slab.buf.subarray(0, length));
      } catch (e) {
        guard('/metrics', e);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    };
    server = createServer(handler);
    server.keepAliveTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    // a scraper or two, a curl: each response may hold a buffer of the text while it sends
    server.maxConnections = 32;
    const s = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        s.off('listening', onListening);
        if (pushTimer) clearInterval(pushTimer);
        void writer?.close(null, 0);
        reject(new Error(`--metrics-listen ${hostForUrl(opts.listen!.host)}:${opts.listen!.port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      };
      const onListening = (): void => {
        s.off('error', onError);
        resolve();
      };
      s.once('error', onError);
      s.once('listening', onListening);
      s.listen(opts.listen!.port, opts.listen!.host);
    });
    // the run keeps the process alive, never this server
    s.unref();
    s.on('error', (e) => guard('/metrics server', e));
    const addr = s.address() as AddressInfo;
    url = `http://${hostForUrl(opts.listen.host)}:${addr.port}/metrics`;
    log(`live metrics: serving ${url}`);
  }

  let closed = false;
  const sink: LivePrometheus = {
    url,
    series,
    requestEnded(r: RequestRecord): void {
      try {
        series.requestEnded(r);
      } catch (e) {
        guard('requestEnded', e);
      }
    },
    tick(t: LiveTick): void {
      try {
        series.setInFlight(t.inFlight);
        fresh = false;
      } catch (e) {
        guard('tick', e);
      }
    },
    checkpoint(result: RunResult): void {
      try {
        series.setSlos(result.slo ?? []);
        fresh = false;
      } catch (e) {
        guard('checkpoint', e);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (pushTimer) clearInterval(pushTimer);
      const closing: Promise<unknown>[] = [];
      if (writer) {
        const w = writer;
        closing.push(
          encode()
            .catch((e: unknown) => {
              guard('remote-write encoding', e);
              return null;
            })
            .then((last) => w.close(last, CLOSE_BOUND_MS)),
        );
      }
      if (server) {
        const s = server;
        closing.push(new Promise<void>((resolve) => s.close(() => resolve())));
        s.closeAllConnections();
      }
      await Promise.all(closing);
      if (writer) {
        const st = writer.stats;
        if (st.dropped || st.rejected || st.lastError) {
          log(`live metrics: remote-write sent ${st.sent} batch(es), dropped ${st.dropped}, rejected ${st.rejected}${st.lastError ? ` (last error: ${st.lastError})` : ''}`);
        }
      }
    },
    stats(): LivePrometheusStats {
      return { scrapes, renders, overflowedLabels: series.overflowedLabels, remoteWrite: writer ? { ...writer.stats } : null };
    },
  };
  return sink;
}
