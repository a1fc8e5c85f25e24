// The live dashboard's HTTP server: the page, its scripts (vega, vega-lite and vega-embed from
// node_modules, as the report inlines them: nothing from a CDN), an SSE stream of the run's state,
// and the final report once the run ended. Thread-agnostic: dashboard.ts runs it in a worker
// thread (the run's thread only posts messages) or, for tests and embedding, in-process.
//
// Read-only and bounded: only GET (anything else 405), a fixed table of paths served from memory
// (no file system, so no directory listing and no traversal), at most `maxClients` streams, and a
// client whose socket has not drained gets no further events until it has (then the latest state
// only: intermediate ones are dropped), so a slow reader holds at most one event in memory and
// never slows anything else. Bound to a loopback address, it answers only to loopback host names
// (a web page cannot reach it through DNS rebinding).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { loadVegaAssets, renderHtml } from '../report/html.js';
import type { RunResult } from '../results/types.js';
import { DASHBOARD_CSS, DASHBOARD_SCRIPT, dashboardHtml } from './dashboard-page.js';
import { StateBuilder, type LiveProgress } from './dashboard-state.js';

export interface DashboardServerOptions {
  host: string;
  /** 0: any free port */
  port: number;
  title: string;
  log: (line: string) => void;
  /** called when the number of open pages (SSE streams) changes */
  onPages?: (count: number) => void;
  /** SSE streams open at once; more get 503 (default 16) */
  maxClients?: number;
  /** a stream whose socket has not drained for this long is closed, ms (default 60 000) */
  stuckClientMs?: number;
  /** a comment line on idle streams keeps proxies and browsers from timing out, ms (default 15 000) */
  heartbeatMs?: number;
  /**
   * the most of its thread's time building states may take: after a build of d ms, the next
   * starts (1/share − 1)·d ms later at the earliest (default 0.25)
   */
  buildShare?: number;
}

export const DEFAULT_MAX_CLIENTS = 16;

/** The page's policy: its own scripts only, no eval, no inline script, network only to this server. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // vega-embed and vega-tooltip add <style> elements of their own (the report allows the same)
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

interface Asset {
  type: string;
  body: Buffer;
  csp?: string;
}

let vegaAssets: Record<string, Asset> | null = null;

/** The vega builds as served (read from node_modules once per thread). */
function vegaAssetTable(): Record<string, Asset> {
  if (vegaAssets) return vegaAssets;
  const a = loadVegaAssets();
  const js = (code: string): Asset => ({ type: 'text/javascript; charset=utf-8', body: Buffer.from(code, 'utf8') });
  vegaAssets = {
    '/assets/vega.min.js': js(a.vega),
    '/assets/vega-lite.min.js': js(a.vegaLite),
    '/assets/vega-embed.min.js': js(a.vegaEmbed),
  };
  return vegaAssets;
}

/** The report's own Content-Security-Policy (its <meta>, with the hashes of its inline scripts), sent as a header too. */
export function reportCsp(html: string): string {
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  // without it (never, unless the report changes): no script at all rather than any script
  const policy = m ? m[1]! : "default-src 'none'; style-src 'unsafe-inline'; img-src data: blob:; base-uri 'none'; form-action 'none'";
  return `${policy}; frame-ancestors 'none'`;
}

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** Whether `host` (an address or a name to bind) is a loopback one. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || LOOPBACK_V4.test(h);
}

interface SseClient {
  res: ServerResponse;
  /** its socket has not drained the last write: it gets nothing until it has */
  behind: boolean;
  behindSince: number;
  stateSeq: number;
  progressSeq: number;
  finalSent: boolean;
  closedSent: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class DashboardServer {
  private readonly server: Server;
  private readonly opts: Required<Omit<DashboardServerOptions, 'onPages'>> & Pick<DashboardServerOptions, 'onPages'>;
  private readonly clients = new Set<SseClient>();
  private readonly builder = new StateBuilder();
  private readonly page: Asset;
  private readonly loopbackOnly: boolean;
  private port = 0;
  url = '';

  /** the latest partial results and their sequence number */
  private latest: RunResult | null = null;
  private latestSeq = 0;
  /** the latest state event, and which partial results it was built from */
  private state: { seq: number; payload: Buffer } | null = null;
  private builtFrom = 0;
  private seq = 0;
  private building = false;
  private buildTimer: NodeJS.Timeout | null = null;
  private nextBuildAt = 0;
  /** how long the last state took to build, ms (what the dashboard costs its thread) */
  lastBuildMs: number | null = null;

  private progressPayload: Buffer | null = null;
  private progressSeq = 0;

  private finalResult: RunResult | null = null;
  private finalPayload: Buffer | null = null;
  private closedPayload: Buffer | null = null;
  private report: Asset | null = null;
  private reportsInFlight = 0;

  private heartbeat: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private readonly logged = new Set<string>();

  constructor(options: DashboardServerOptions) {
    this.opts = {
      maxClients: DEFAULT_MAX_CLIENTS,
      stuckClientMs: 60_000,
      heartbeatMs: 15_000,
      buildShare: 0.25,
      ...options,
    };
    this.loopbackOnly = isLoopback(options.host);
    this.page = { type: 'text/html; charset=utf-8', body: Buffer.from(dashboardHtml(options.title), 'utf8'), csp: PAGE_CSP };
    this.server = createServer((req, res) => this.handle(req, res));
    // the page's connections are few and long: no request may hold a socket by sending slowly
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
  }

  /** Listens on host:port; resolves with the page's URL. */
  listen(): Promise<string> {
    vegaAssetTable();
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.logOnce('server', `dashboard: ${err.message}`));
        this.port = (this.server.address() as AddressInfo).port;
        const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
        this.url = `http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${this.port}/`;
        this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
        this.heartbeat.unref();
        resolve(this.url);
      });
    });
  }

  /** Lets the process exit while it listens (the run decides when it ends). */
  unref(): void {
    this.server.unref();
  }

  /** SSE streams open now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** A checkpoint's partial results: a state is built from them (if anyone watches) on turns of their own. */
  update(result: RunResult): void {
    if (this.finalResult || this.closing) return;
    this.latest = result;
    this.latestSeq++;
    this.scheduleBuild();
  }

  /** The engine's progress (at most about once a second). */
  progress(p: LiveProgress): void {
    if (this.finalResult || this.closing) return;
    const clean: LiveProgress = {
      elapsed_s: Math.round(Number(p.elapsed_s) * 10) / 10,
      in_flight: Number(p.in_flight),
      sent: Number(p.sent),
      ended: Number(p.ended),
      failed: Number(p.failed),
      dropped: Number(p.dropped),
    };
    this.progressPayload = Buffer.from(`event: progress\ndata: ${JSON.stringify(clean)}\n\n`, 'utf8');
    this.progressSeq++;
    for (const c of this.clients) this.catchUp(c);
  }

  /** The final results: the report is rendered now and every page is told to open it. */
  finish(result: RunResult): void {
    if (this.finalResult || this.closing) return;
    this.finalResult = result;
    if (this.buildTimer) clearTimeout(this.buildTimer);
    this.buildTimer = null;
    try {
      const html = renderHtml(result);
      this.report = { type: 'text/html; charset=utf-8', body: Buffer.from(html, 'utf8'), csp: reportCsp(html) };
      this.finalPayload = Buffer.from(`event: final\ndata: ${JSON.stringify({ status: result.status, report: '/report' })}\n\n`, 'utf8');
    } catch (err) {
      this.logOnce('report', `dashboard: the final report could not be rendered: ${(err as Error).message}`);
      this.closedPayload = Buffer.from('event: closed\ndata: {}\n\n', 'utf8');
    }
    for (const c of this.clients) this.catchUp(c);
  }

  /**
   * Stops. After the final results, waits (at most `graceMs`) for the pages still open to load the
   * report and let go of their streams; without them, tells the pages the run stopped and waits
   * only for that to be written (at most 2 s). Then closes every connection.
   */
  close(graceMs = 10_000): Promise<void> {
    this.closing ??= (async () => {
      if (this.buildTimer) clearTimeout(this.buildTimer);
      this.buildTimer = null;
      if (!this.finalPayload) {
        this.closedPayload ??= Buffer.from('event: closed\ndata: {}\n\n', 'utf8');
        for (const c of this.clients) this.catchUp(c);
      }
      const waitForReport = this.finalPayload !== null;
      const deadline = Date.now() + (waitForReport ? graceMs : Math.min(graceMs, 2_000));
      const busy = (): boolean =>
        waitForReport ? this.clients.size > 0 || this.reportsInFlight > 0 : [...this.clients].some((c) => c.behind || !c.closedSent);
      while (Date.now() < deadline && busy()) await sleep(25);
      if (this.heartbeat) clearInterval(this.heartbeat);
      for (const c of this.clients) c.res.end();
      this.clients.clear();
      await new Promise<void>((resolve) => {
        if (!this.server.listening) return resolve();
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------

  private logOnce(kind: string, line: string): void {
    if (this.logged.has(kind)) return;
    this.logged.add(kind);
    this.opts.log(line);
  }

  private scheduleBuild(): void {
    if (this.building || this.buildTimer || this.clients.size === 0 || this.latest === null || this.builtFrom === this.latestSeq) return;
    if (this.finalResult || this.closing) return;
    this.buildTimer = setTimeout(() => {
      this.buildTimer = null;
      void this.build();
    }, Math.max(0, this.nextBuildAt - Date.now()));
  }

  private async build(): Promise<void> {
    const result = this.latest;
    if (result === null) return;
    const from = this.latestSeq;
    this.building = true;
    const started = performance.now();
    try {
      const seq = ++this.seq;
      const json = await this.builder.build(result, seq);
      if (this.finalResult || this.closing) return;
      this.state = { seq, payload: Buffer.from(`event: state\ndata: ${json}\n\n`, 'utf8') };
      this.builtFrom = from;
      for (const c of this.clients) this.catchUp(c);
    } catch (err) {
      this.builtFrom = from;
      this.logOnce('build', `dashboard: the charts could not be built: ${(err as Error).message}`);
    } finally {
      const took = performance.now() - started;
      this.lastBuildMs = took;
      this.nextBuildAt = Date.now() + took * (1 / this.opts.buildShare - 1);
      this.building = false;
      this.scheduleBuild();
    }
  }

  /** Writes one event; false (and nothing more until 'drain') when the socket is full. */
  private write(c: SseClient, payload: Buffer | string): boolean {
    if (c.behind || c.res.writableEnded || c.res.destroyed) return false;
    const ok = c.res.write(payload);
    if (!ok) {
      c.behind = true;
      c.behindSince = Date.now();
    }
    return ok;
  }

  /** Sends a client what it has not had yet: the latest progress and state, then the end. */
  private catchUp(c: SseClient): void {
    if (c.behind) return;
    if (this.progressPayload && c.progressSeq < this.progressSeq && !this.finalPayload) {
      c.progressSeq = this.progressSeq;
      if (!this.write(c, this.progressPayload)) return;
    }
    if (this.state && c.stateSeq < this.state.seq && !this.finalPayload) {
      c.stateSeq = this.state.seq;
      if (!this.write(c, this.state.payload)) return;
    }
    if (this.finalPayload && !c.finalSent) {
      c.finalSent = true;
      if (!this.write(c, this.finalPayload)) return;
    }
    if (this.closedPayload && !c.closedSent) {
      c.closedSent = true;
      this.write(c, this.closedPayload);
    }
  }

  /** Keeps idle streams open, and closes those stuck behind for too long. */
  private beat(): void {
    const now = Date.now();
    for (const c of this.clients) {
      if (c.behind) {
        if (now - c.behindSince > this.opts.stuckClientMs) {
          this.logOnce('stuck', `dashboard: a page has read nothing for ${Math.round(this.opts.stuckClientMs / 1000)} s: its stream was closed`);
          c.res.destroy();
          if (this.clients.delete(c)) this.opts.onPages?.(this.clients.size);
        }
      } else this.write(c, ': keep-alive\n\n');
    }
  }

  private hostAllowed(header: string | undefined): boolean {
    if (!this.loopbackOnly || header === undefined) return true;
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header);
    if (!m) return false;
    if (m[2] !== undefined && Number(m[2]) !== this.port) return false;
    const name = m[1]!.toLowerCase();
    return isLoopback(name) || name === this.opts.host.toLowerCase();
  }

  private send(res: ServerResponse, status: number, asset: Asset | string, extra: Record<string, string> = {}): void {
    const body = typeof asset === 'string' ? Buffer.from(asset, 'utf8') : asset.body;
    const type = typeof asset === 'string' ? 'text/plain; charset=utf-8' : asset.type;
    const csp = typeof asset === 'string' ? "default-src 'none'; frame-ancestors 'none'" : (asset.csp ?? "default-src 'none'; frame-ancestors 'none'");
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Security-Policy': csp, 'Content-Type': type, 'Content-Length': String(body.length), ...extra });
    res.end(body);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      // nothing is read from a request but its line and headers
      req.resume();
      if (!this.hostAllowed(req.headers.host)) return this.send(res, 403, 'forbidden: this dashboard answers only to loopback host names\n');
      if (req.method !== 'GET') return this.send(res, 405, 'method not allowed: the dashboard is read-only (GET only)\n', { Allow: 'GET', Connection: 'close' });
      const target = req.url ?? '';
      const q = target.indexOf('?');
      const path = q === -1 ? target : target.slice(0, q);
      switch (path) {
        case '/':
          return this.send(res, 200, this.page);
        case '/events':
          return this.openStream(res);
        case '/report':
          return this.sendReport(res);
        case '/assets/dashboard.js':
          return this.send(res, 200, { type: 'text/javascript; charset=utf-8', body: SCRIPT_BODY() });
        case '/assets/dashboard.css':
          return this.send(res, 200, { type: 'text/css; charset=utf-8', body: CSS_BODY() });
        default: {
          const asset = vegaAssetTable()[path];
          if (asset) return this.send(res, 200, asset);
          return this.send(res, 404, 'not found\n');
        }
      }
    } catch (err) {
      this.logOnce('request', `dashboard: a request failed: ${(err as Error).message}`);
      if (!res.headersSent) this.send(res, 500, 'internal error\n');
      else res.destroy();
    }
  }

  private sendReport(res: ServerResponse): void {
    if (!this.report) return this.send(res, 404, 'the final report is served here once the run has ended\n');
    this.reportsInFlight++;
    res.once('close', () => this.reportsInFlight--);
    this.send(res, 200, this.report);
  }

  private openStream(res: ServerResponse): void {
    if (this.closing && !this.finalPayload) return this.send(res, 503, 'the run has ended\n');
    if (this.clients.size >= this.opts.maxClients) {
      this.logOnce('full', `dashboard: ${this.opts.maxClients} pages are open already: refused another`);
      return this.send(res, 503, `too many open dashboards (${this.opts.maxClients}); close one and reload\n`, { 'Retry-After': '10' });
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      'Content-Type': 'text/event-stream; charset=utf-8',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const c: SseClient = { res, behind: false, behindSince: 0, stateSeq: 0, progressSeq: 0, finalSent: false, closedSent: false };
    this.clients.add(c);
    this.opts.onPages?.(this.clients.size);
    res.on('close', () => {
      if (this.clients.delete(c)) this.opts.onPages?.(this.clients.size);
    });
    res.on('drain', () => {
      c.behind = false;
      this.catchUp(c);
    });
    this.write(c, 'retry: 2000\n\n');
    this.catchUp(c);
    this.scheduleBuild();
  }
}

let scriptBody: Buffer | null = null;
let cssBody: Buffer | null = null;
const SCRIPT_BODY = (): Buffer => (scriptBody ??= Buffer.from(DASHBOARD_SCRIPT, 'utf8'));
const CSS_BODY = (): Buffer => (cssBody ??= Buffer.from(DASHBOARD_CSS, 'utf8'));
