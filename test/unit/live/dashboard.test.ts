// The live dashboard's server (in-process: the same server the worker thread runs): what it serves
// and refuses (only GET, a fixed table of paths, loopback host names), the SSE stream (states
// built from partial results, progress, the final switch to the report), its bounds (clients,
// a reader that never drains), how strings from the run travel (JSON only, never breaking the
// event framing), and the window diff that keeps the run's thread's share small.
import { existsSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCharts } from '../../../src/report/charts.js';
import { oneLine } from '../../../src/report/common.js';
import { renderHtml } from '../../../src/report/html.js';
import type { RunResult } from '../../../src/results/types.js';
import { dashboardThreadPath, startDashboard, type LiveDashboard } from '../../../src/live/dashboard.js';
import { liveWindow, WindowDiff, WindowMirror } from '../../../src/live/dashboard-protocol.js';
import { DashboardServer, isLoopback, PAGE_CSP, reportCsp } from '../../../src/live/dashboard-server.js';
import { DASHBOARD_SCRIPT } from '../../../src/live/dashboard-page.js';
import { stateHead } from '../../../src/live/dashboard-state.js';
import { HOSTILE, syntheticResult, withHostileStrings } from '../report/fixtures.js';

const running = (r: RunResult): RunResult => ({ ...r, status: 'running', status_reason: null });

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function get(url: string, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.method === 'POST' || opts.method === 'PUT' ? 'x=1' : undefined);
  });
}

/** The request line and headers as written, on a raw socket: what a URL parser would normalize away. */
function raw(url: string, lines: string[]): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => s.end(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.on('data', (c: Buffer) => (out += c.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

interface SseEvent {
  event: string;
  data: string;
}

/** An SSE reader: every event as it arrives, and a wait for the next one of a kind. */
class Stream {
  readonly events: SseEvent[] = [];
  status = 0;
  private buf = '';
  private waiters: { kind: string; after: number; resolve: (e: SseEvent) => void }[] = [];
  private res: IncomingMessage | null = null;
  readonly opened: Promise<number>;

  constructor(url: string) {
    const u = new URL(url);
    this.opened = new Promise((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: '/events' }, (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (c: string) => this.feed(c));
        resolve(this.status);
      });
      req.on('error', reject);
      req.end();
    });
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) !== -1) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length === 0) continue;
      const e = { event, data: data.join('\n') };
      this.events.push(e);
      const n = this.events.length;
      this.waiters = this.waiters.filter((w) => (w.kind === event && n > w.after ? (w.resolve(e), false) : true));
    }
  }

  /** The next event of `kind` after the ones seen so far (or one already seen, with `seen`). */
  next(kind: string, seen = false): Promise<SseEvent> {
    if (seen) {
      const e = [...this.events].reverse().find((x) => x.event === kind);
      if (e) return Promise.resolve(e);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${kind} event within 10 s (got ${this.events.map((x) => x.event).join(', ')})`)), 10_000);
      this.waiters.push({ kind, after: this.events.length, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  close(): void {
    this.res?.destroy();
  }
}

const open: { close: () => Promise<void> }[] = [];
const streams: Stream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await Promise.all(open.splice(0).map((d) => d.close()));
});

async function dashboard(extra: Partial<Parameters<typeof startDashboard>[0]> = {}): Promise<LiveDashboard & { logs: string[] }> {
  const logs: string[] = [];
  const d = await startDashboard({ host: '127.0.0.1', port: 0, title: 'smoke', log: (l) => logs.push(l), thread: 'main', finalGraceMs: 2_000, ...extra });
  open.push(d);
  return Object.assign(d, { logs });
}

function stream(url: string): Stream {
  const s = new Stream(url);
  streams.push(s);
  return s;
}

describe('what the dashboard serves', () => {
  it('serves the page with a strict policy, the vega builds from node_modules, and its own script; nothing inline', async () => {
    const d = await dashboard({ title: HOSTILE[2]! });
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(d.url, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['cache-control']).toBe('no-store');
    // the title is escaped text, and no script is inline
    expect(page.body).toContain('&quot;&gt;&lt;img src=x onerror=&quot;window.__xss=3&quot;&gt;');
    expect(page.body).not.toContain('<img');
    expect(page.body.match(/<script\b[^>]*>/g)).toEqual([
      '<script src="/assets/vega.min.js" defer>',
      '<script src="/assets/vega-lite.min.js" defer>',
      '<script src="/assets/vega-embed.min.js" defer>',
      '<script src="/assets/dashboard.js" defer>',
    ]);
    expect(page.body).not.toMatch(/<script[^>]*>[^<]/);
    // scripts only from this server, no eval, no inline script; the stream is the only connection
    const csp = Object.fromEntries(PAGE_CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(csp['script-src']).toEqual(["'self'"]);
    expect(csp['connect-src']).toEqual(["'self'"]);
    expect(csp['default-src']).toEqual(["'none'"]);
    expect(PAGE_CSP).not.toContain('unsafe-eval');
    for (const [path, needle] of [
      ['/assets/vega.min.js', 'vega'],
      ['/assets/vega-lite.min.js', 'vega'],
      ['/assets/vega-embed.min.js', 'vega'],
      ['/assets/dashboard.js', "new EventSource('/events')"],
      ['/assets/dashboard.css', '.tile'],
    ] as const) {
      const r = await get(d.url, path);
      expect(r.status, path).toBe(200);
      expect(r.body, path).toContain(needle);
      expect(r.body, path).not.toMatch(/sourceMappingURL=\S+\s*$/);
      expect(r.headers['content-type'], path).toMatch(path.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    }
  });

  it('the page script never parses run data as markup or code', () => {
    expect(DASHBOARD_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(['"]/);
    expect(DASHBOARD_SCRIPT).toContain('JSON.parse(data)');
    // the final switch goes to a fixed path, not to a URL from the event
    expect(DASHBOARD_SCRIPT).toContain("window.location.replace('/report')");
  });

  it('answers every method but GET with 405', async () => {
    const d = await dashboard();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']) {
      for (const path of ['/', '/events', '/report', '/nowhere']) {
        const r = await get(d.url, path, { method });
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.headers.allow).toBe('GET');
      }
    }
    expect((await raw(d.url, ['TRACE / HTTP/1.1', `Host: ${new URL(d.url).host}`])).split('\r\n')[0]).toBe('HTTP/1.1 405 Method Not Allowed');
  });

  it('serves a fixed table of paths: no listing, no traversal, no file system', async () => {
    const d = await dashboard();
    for (const path of ['/assets/', '/assets', '/index.html', '/src/live/dashboard.ts', '/package.json', '/node_modules/vega/build/vega.min.js', '/favicon.ico', '/report/', '/events/x', '/.git/config'])
      expect((await get(d.url, path)).status, path).toBe(404);
    const host = `Host: ${new URL(d.url).host}`;
    for (const target of [
      '/../package.json',
      '/assets/../../package.json',
      '/assets/..%2f..%2fpackage.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '//etc/passwd',
      '/assets/vega.min.js/../../../../etc/passwd',
      '/assets/%76ega.min.js',
      'http://evil.example/',
      '*',
    ]) {
      const out = await raw(d.url, [`GET ${target} HTTP/1.1`, host]);
      expect(out.split('\r\n')[0], target).toMatch(/^HTTP\/1\.1 (404|400) /);
      expect(out, target).not.toContain('"name": "inferload"');
      expect(out, target).not.toContain('root:');
    }
    // a query string is ignored, not a path
    expect((await get(d.url, '/?../../package.json')).status).toBe(200);
  });

  it('answers only to loopback host names when bound to loopback (no DNS rebinding)', async () => {
    const d = await dashboard();
    const port = new URL(d.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.0.0.1`]) expect((await get(d.url, '/', { headers: { Host: host } })).status, host).toBe(200);
    for (const host of [`evil.example:${port}`, `evil.example`, `127.0.0.1:1`, `localhost.evil.example:${port}`, `[::2]:${port}`])
      expect((await get(d.url, '/', { headers: { Host: host } })).status, host).toBe(403);
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('[::1]')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
  });

  it('refuses to start on a port in use, saying so', async () => {
    const d = await dashboard();
    await expect(startDashboard({ host: '127.0.0.1', port: Number(new URL(d.url).port), title: 'x', log: () => undefined, thread: 'main' })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('the event stream', () => {
  it('sends the latest state on connect, a new one per checkpoint with more points, and progress at most once a second', async () => {
    const d = await dashboard();
    d.checkpoint(running(syntheticResult({ windows: 12 })));
    d.tick({ nowUs: 12e6, epochMs: 1_000_000, inFlight: 7, sent: 100, dropped: 0, ended: 93, failed: 2 });
    d.tick({ nowUs: 12.1e6, epochMs: 1_000_100, inFlight: 8, sent: 101, dropped: 0, ended: 93, failed: 2 });
    const s = stream(d.url);
    expect(await s.opened).toBe(200);
    const first = JSON.parse((await s.next('state', true)).data);
    expect(first.status).toBe('running');
    expect(first.as_of_s).toBe(12);
    const load = (st: { charts: { id: string; spec: { data: { values: unknown[] } } }[] }): number => st.charts.find((c) => c.id === 'load')!.spec.data.values.length;
    const progress = JSON.parse((await s.next('progress', true)).data);
    // the second tick came 100 ms after the first: not sent
    expect(progress).toEqual({ elapsed_s: 12, in_flight: 7, sent: 100, ended: 93, failed: 2, dropped: 0 });
    // the same chart ids, titles and specs as the report's
    const result = running(syntheticResult({ windows: 30 }));
    d.checkpoint(result);
    const second = JSON.parse((await s.next('state')).data);
    expect(second.seq).toBeGreaterThan(first.seq);
    expect(load(second)).toBeGreaterThan(load(first));
    const charts = buildCharts(result);
    expect(second.charts.map((c: { id: string }) => c.id)).toEqual(charts.map((c) => c.id));
    expect(second.charts.find((c: { id: string }) => c.id === 'load').spec).toEqual(JSON.parse(JSON.stringify(charts.find((c) => c.id === 'load')!.spec)));
    // charts that did not change keep their rev (the page redraws only the others)
    d.checkpoint({ ...result, slo: [] });
    const third = JSON.parse((await s.next('state')).data);
    const rev = (st: { charts: { id: string; rev: number }[] }, id: string): number => st.charts.find((c) => c.id === id)!.rev;
    expect(rev(third, 'load')).toBe(rev(second, 'load'));
    expect(third.slo).toEqual([]);
    expect(second.slo.map((v: { metric: string }) => v.metric)).toEqual(['ttft_ms', 'e2e_ms', 'error_ratio']);
    expect(second.health.rows[0][0]).toBe('event-loop lag p99 / max');
    d.tick({ nowUs: 14e6, epochMs: 1_001_200, inFlight: 3, sent: 150, dropped: 1, ended: 147, failed: 2 });
    expect(JSON.parse((await s.next('progress')).data).sent).toBe(150);
  });

  it('builds nothing while no page is open', async () => {
    const logs: string[] = [];
    const server = new DashboardServer({ host: '127.0.0.1', port: 0, title: 't', log: (l) => logs.push(l) });
    await server.listen();
    open.push({ close: () => server.close(0) });
    server.update(running(syntheticResult({ windows: 20 })));
    await new Promise((r) => setTimeout(r, 100));
    expect(server.lastBuildMs).toBeNull();
    const s = stream(server.url);
    await s.next('state', true);
    expect(server.lastBuildMs).not.toBeNull();
  });

  it('carries hostile strings as JSON text, one line each: they never break the event framing', async () => {
    const d = await dashboard();
    const r = running(withHostileStrings(syntheticResult({ windows: 15, server: true })));
    r.run.scenario = 'a\nevent: final\ndata: {"status":"pwned"}\n\nb\r\nc\u2028d';
    r.slo[0]!.name = 'x\n\nevent: final\ndata: {}';
    d.checkpoint(r);
    const s = stream(d.url);
    const st = JSON.parse((await s.next('state', true)).data);
    expect(s.events.map((e) => e.event)).not.toContain('final');
    expect(st.run.scenario).toBe('a event: final data: {"status":"pwned"}  b  c d');
    expect(st.run.model).toBe(HOSTILE[0]);
    expect(st.run.target).toBe(HOSTILE[2]);
    expect(st.slo.some((v: { name: string | null }) => v.name === 'x  event: final data: {}')).toBe(true);
    expect(st.health.warnings).toEqual(HOSTILE.map((h) => oneLine(h, 500)));
    expect(st.health.warnings[5]).toBe('line sep para newline  nul [31mred');
    // what the page shows as text is exactly what the run said (nothing pre-escaped twice)
    expect(JSON.stringify(st)).toContain(JSON.stringify(HOSTILE[1]).slice(1, -1));
  });

  it('caps the open streams', async () => {
    const d = await dashboard({ maxClients: 2 });
    const a = stream(d.url);
    const b = stream(d.url);
    expect([await a.opened, await b.opened]).toEqual([200, 200]);
    expect(d.pages).toBe(2);
    const refused = await get(d.url, '/events');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('10');
    expect(d.logs.join('\n')).toContain('2 pages are open already');
    a.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(d.pages).toBe(1);
    const c = stream(d.url);
    expect(await c.opened).toBe(200);
  });

  it('a reader that never drains holds one event at most, gets none in between, and slows no other reader', async () => {
    const server = new DashboardServer({ host: '127.0.0.1', port: 0, title: 't', log: () => undefined, buildShare: 1 });
    await server.listen();
    open.push({ close: () => server.close(0) });
    const u = new URL(server.url);
    // a reader that sends its request and then never reads a byte
    const slow: Socket = await new Promise((resolve) => {
      const s = connect(Number(u.port), u.hostname, () => {
        s.write(`GET /events HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
        resolve(s);
      });
    });
    slow.pause();
    const fast = stream(server.url);
    await fast.opened;
    const base = syntheticResult({ windows: 600, server: true });
    let biggest = 0;
    const buffered = (): number => {
      let n = 0;
      for (const c of (server as unknown as { clients: Set<{ res: { writableLength: number } }> }).clients) n += c.res.writableLength;
      return n;
    };
    let sizes = 0;
    for (let i = 0; i < 8; i++) {
      server.update(running({ ...base, windows: base.windows.slice(0, 300 + i * 40) }));
      const e = await fast.next('state');
      sizes = Math.max(sizes, e.data.length);
      biggest = Math.max(biggest, buffered());
    }
    // the slow reader is behind, and was sent one state of the eight
    const clients = [...(server as unknown as { clients: Set<{ behind: boolean; stateSeq: number }> }).clients];
    expect(clients.map((c) => c.behind).sort()).toEqual([false, true]);
    expect(clients.find((c) => c.behind)!.stateSeq).toBeLessThan(clients.find((c) => !c.behind)!.stateSeq);
    // the fast reader saw every state; the slow one's buffer stays within about one event
    expect(JSON.parse((fast.events.filter((e) => e.event === 'state').at(-1)!).data).as_of_s).toBe(580);
    expect(sizes).toBeGreaterThan(500_000);
    expect(biggest).toBeLessThan(2 * sizes);
    slow.destroy();
  }, 60_000);

  it('switches to the final report at the end: an event, then /report serves renderHtml of the final results', async () => {
    const d = await dashboard();
    d.checkpoint(running(syntheticResult({ windows: 20 })));
    expect((await get(d.url, '/report')).status).toBe(404);
    const s = stream(d.url);
    await s.next('state', true);
    const final = withHostileStrings(syntheticResult({ windows: 40 }));
    d.checkpoint(final);
    const f = JSON.parse((await s.next('final', true)).data);
    expect(f).toEqual({ status: 'complete', report: '/report' });
    const report = await get(d.url, '/report');
    expect(report.status).toBe(200);
    expect(report.body).toBe(renderHtml(final));
    // the report's own policy (script hashes) as a header too
    expect(report.headers['content-security-policy']).toBe(reportCsp(report.body));
    expect(report.headers['content-security-policy']).toMatch(/script-src 'sha256-[^']+' /);
    expect(report.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    // later checkpoints and ticks change nothing; a page opened now is sent straight to the report
    d.checkpoint(running(syntheticResult({ windows: 50 })));
    const late = stream(d.url);
    expect(JSON.parse((await late.next('final', true)).data).report).toBe('/report');
    expect(late.events.map((e) => e.event)).toEqual(['final']);
    // close waits for the open pages to leave (a page leaves when it opens the report)
    let done = false;
    const closing = d.close().then(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false);
    s.close();
    late.close();
    await closing;
    expect(done).toBe(true);
  });

  it('close without final results tells the pages the run stopped, and does not wait for them', async () => {
    const d = await dashboard({ finalGraceMs: 10_000 });
    d.checkpoint(running(syntheticResult({ windows: 10 })));
    const s = stream(d.url);
    await s.next('state', true);
    const t0 = Date.now();
    await d.close();
    expect(Date.now() - t0).toBeLessThan(2_500);
    await s.next('closed', true);
  });
});

describe('what the run posts to the dashboard thread', () => {
  it('only the windows that are new at their index; the mirror rebuilds the list, merges included', () => {
    const r = syntheticResult({ windows: 40 });
    const diff = new WindowDiff();
    const mirror = new WindowMirror();
    const first = diff.diff(r.windows.slice(0, 10));
    expect(first.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(mirror.apply(10, first)).toHaveLength(10);
    const second = diff.diff(r.windows.slice(0, 13));
    expect(second.map(([i]) => i)).toEqual([10, 11, 12]);
    expect(mirror.apply(13, second).map((w) => w.t_s)).toEqual(r.windows.slice(0, 13).map((w) => w.t_s));
    // coarsening merges pairs: new objects at lower indices, a shorter list
    const merged = [{ ...r.windows[0]!, window_s: 2 }, ...r.windows.slice(2, 13)];
    const third = diff.diff(merged);
    expect(third.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const mirrored = mirror.apply(merged.length, third);
    expect(mirrored.map((w) => [w.t_s, w.window_s])).toEqual(merged.map((w) => [w.t_s, w.window_s]));
    expect(diff.diff(merged)).toEqual([]);
  });

  it('no chart and nothing in the report reads what a live window leaves out', () => {
    const r = withHostileStrings(syntheticResult({ windows: 60, server: true, capacity: true, spikeSoak: true }));
    const live = { ...r, windows: r.windows.map(liveWindow) };
    expect(JSON.stringify(buildCharts(live))).toBe(JSON.stringify(buildCharts(r)));
    expect(renderHtml(live)).toBe(renderHtml(r));
    expect(JSON.stringify(stateHead(live, 1))).toBe(JSON.stringify(stateHead(r, 1)));
  });
});

describe('in its worker thread (as the CLI runs it)', () => {
  // the compiled dist/live/dashboard-thread.js: needs `npm run build` first (npm test does it)
  it('serves the same states and the same final report, and reports the pages open', async () => {
    expect(existsSync(dashboardThreadPath()), `${dashboardThreadPath()} missing: run npm run build`).toBe(true);
    const d = await dashboard({ thread: 'worker' });
    const full = syntheticResult({ windows: 40, server: true });
    // the run's checkpoints: windows close one after another (the same objects from one to the next)
    for (const k of [10, 20, 30]) d.checkpoint(running({ ...full, windows: full.windows.slice(0, k) }));
    d.tick({ nowUs: 30e6, epochMs: Date.now(), inFlight: 1, sent: 2, dropped: 0, ended: 1, failed: 0 });
    const s = stream(d.url);
    const st = JSON.parse((await s.next('state', true)).data);
    expect(st.as_of_s).toBe(30);
    const inProcess = new DashboardServer({ host: '127.0.0.1', port: 0, title: 't', log: () => undefined });
    await inProcess.listen();
    open.push({ close: () => inProcess.close(0) });
    inProcess.update(running({ ...full, windows: full.windows.slice(0, 30) }));
    const other = stream(inProcess.url);
    const expected = JSON.parse((await other.next('state', true)).data);
    expect(st.charts).toEqual(expected.charts.map((c: { rev: number }) => ({ ...c, rev: expect.any(Number) })));
    expect({ ...st, charts: [] }).toEqual({ ...expected, seq: st.seq, charts: [] });
    expect(JSON.parse((await s.next('progress', true)).data).sent).toBe(2);
    for (let i = 0; i < 50 && d.pages !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(d.pages).toBe(1);
    d.checkpoint(full);
    expect(JSON.parse((await s.next('final', true)).data).report).toBe('/report');
    const report = await get(d.url, '/report');
    expect(report.body).toBe(renderHtml(full));
    s.close();
    await d.close();
    await expect(get(d.url, '/')).rejects.toThrow(/ECONNREFUSED/);
  }, 30_000);
});
