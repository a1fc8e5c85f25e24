// The Prometheus sink: /metrics served from a text rendered at most once per tick; remote-write
// with the spec's headers, retries on 5xx and network errors, none on 4xx; a down or slow receiver
// never blocks requestEnded or tick, the queue stays bounded, and close() keeps to its bound.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrometheusSink, type LivePrometheus, type PrometheusSinkOptions } from '../../../src/live/prometheus.js';
import { decodeWriteRequest, RemoteWriter, type WriteRequest } from '../../../src/live/remote-write.js';
import { parseExposition } from '../../../src/scrape/parser.js';
import { checkpointOf, completed, fedRun, verdict } from '../../helpers/live.js';

const LABELS = { scenario: 'smoke', run_id: 'run-1', shard: '0/1' };
const TICK = { nowUs: 0, epochMs: 0, inFlight: 0, sent: 0, dropped: 0, ended: 0, failed: 0 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function sink(opts: Partial<PrometheusSinkOptions>, lines: string[] = []): Promise<LivePrometheus> {
  const s = await startPrometheusSink({ labels: LABELS, log: (l) => lines.push(l), ...opts });
  cleanups.push(() => s.close());
  return s;
}

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on (bound, then let go). */
async function deadPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface Received {
  headers: IncomingMessage['headers'];
  body: WriteRequest;
}

/** A remote-write receiver answering `status(n)` to the n-th request (0-based). */
async function receiver(status: (n: number) => number = () => 204): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const code = status(n++);
      if (code < 300) got.push({ headers: req.headers, body: decodeWriteRequest(Buffer.concat(chunks)) });
      res.writeHead(code);
      res.end(code >= 400 ? 'no thanks' : undefined);
    });
  });
  const port = await listening(server);
  return { url: `http://127.0.0.1:${port}/api/v1/write`, got };
}

function total(req: WriteRequest, name: string): number {
  return req.timeseries.filter((ts) => ts.labels.some((l) => l.name === '__name__' && l.value === name)).reduce((a, ts) => a + ts.samples[0]!.value, 0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

describe('/metrics', () => {
  it('listens on a free port, says where, and serves the exposition', async () => {
    const lines: string[] = [];
    const s = await sink({ listen: { host: '127.0.0.1', port: 0 } }, lines);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(s.url).not.toMatch(/:0\//);
    expect(lines).toContain(`live metrics: serving ${s.url}`);
    for (const r of fedRun().records) s.requestEnded(r);
    s.tick({ ...TICK, inFlight: 3 });
    s.checkpoint(checkpointOf([verdict('ttft_ms: p(95)<500', true)]));
    const res = await fetch(s.url!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const parsed = parseExposition(await res.text(), { contentType: res.headers.get('content-type')! });
    expect(parsed.problems).toEqual([]);
    const fam = new Map(parsed.families.map((f) => [f.name, f]));
    expect(fam.get('inferload_requests_total')!.samples.reduce((a, x) => a + x.value, 0)).toBe(200);
    expect(fam.get('inferload_in_flight_requests')!.samples[0]!.value).toBe(3);
    expect(fam.get('inferload_slo_passed')!.samples[0]!.value).toBe(1);
    expect((await fetch(s.url!.replace('/metrics', '/nope'))).status).toBe(404);
    expect((await fetch(s.url!, { method: 'POST' })).status).toBe(405);
    expect((await fetch(s.url! + '?x=1', { method: 'HEAD' })).status).toBe(200);
  });

  it('renders at most once per tick: scrapes between ticks share one text', async () => {
    const s = await sink({ listen: { host: '127.0.0.1', port: 0 } });
    const count = async (): Promise<number> => {
      const f = parseExposition(await (await fetch(s.url!)).text()).families.find((x) => x.name === 'inferload_requests_total');
      return f ? f.samples.reduce((a, x) => a + x.value, 0) : 0;
    };
    s.requestEnded(completed(0, 0, 10_000, 3, 10_000));
    s.tick(TICK);
    expect(await count()).toBe(1);
    s.requestEnded(completed(1, 0, 10_000, 3, 10_000));
    expect(await count()).toBe(1); // the same text until the next tick
    expect(await count()).toBe(1);
    expect(s.stats().renders).toBe(1);
    s.tick(TICK);
    expect(await count()).toBe(2);
    expect(s.stats()).toMatchObject({ scrapes: 4, renders: 2 });
  });

  it('a scraper that reads slowly gets the text as it was, while later renders go on', async () => {
    const s = await sink({ listen: { host: '127.0.0.1', port: 0 } });
    // ~17 MB of text (100 classes × 10 models): more than loopback sockets take at once, so the
    // first response waits on its reader
    const feed = (ttftUs: number): void => {
      for (let i = 0; i < 1_000; i++) s.requestEnded(completed(i, 0, ttftUs, 4, 20_000, { className: `class-${i % 100}`, model: `model-${Math.floor(i / 100)}` }));
    };
    feed(10_000);
    s.tick(TICK);
    const { port } = new URL(s.url!);
    const slow = connect(Number(port), '127.0.0.1');
    slow.pause();
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await sleep(200);
    for (let k = 0; k < 3; k++) {
      feed(5_000);
      s.tick(TICK);
      expect((await fetch(s.url!)).status).toBe(200);
    }
    const chunks: Buffer[] = [];
    slow.on('data', (c: Buffer) => chunks.push(c));
    slow.resume();
    await new Promise((resolve) => slow.on('end', resolve));
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    expect(body.length).toBeGreaterThan(10_000_000);
    const parsed = parseExposition(body);
    expect(parsed.problems).toEqual([]);
    const req = parsed.families.find((f) => f.name === 'inferload_requests_total')!;
    expect(req.samples.reduce((a, x) => a + x.value, 0)).toBe(1_000);
    expect(s.stats().renders).toBe(4);
  });

  it('a taken port fails the start, not the run', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as AddressInfo).port;
    await expect(startPrometheusSink({ labels: LABELS, log: () => {}, listen: { host: '127.0.0.1', port } })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('remote-write', () => {
  it('pushes every interval with the spec’s headers and the caller’s; close() pushes the final state', async () => {
    const rx = await receiver();
    const s = await sink({ remoteWrite: { url: rx.url, intervalS: 0.1, headers: { authorization: 'Bearer t0ken', 'content-type': 'text/evil' } } });
    s.requestEnded(completed(0, 0, 10_000, 3, 10_000));
    await until(() => rx.got.length >= 2);
    const h = rx.got[0]!.headers;
    expect(h['content-encoding']).toBe('snappy');
    expect(h['content-type']).toBe('application/x-protobuf');
    expect(h['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(h.authorization).toBe('Bearer t0ken');
    expect(total(rx.got[0]!.body, 'inferload_requests_total')).toBe(1);
    for (const r of fedRun().records) s.requestEnded(r);
    await s.close();
    expect(total(rx.got.at(-1)!.body, 'inferload_requests_total')).toBe(201);
    expect(total(rx.got.at(-1)!.body, 'inferload_remote_write_batches_total')).toBeGreaterThanOrEqual(1);
    expect(s.stats().remoteWrite).toMatchObject({ dropped: 0, rejected: 0 });
  });

  it('sends a user:password in the URL as Basic authorization and never shows it; refuses a URL that is not http(s)', async () => {
    const rx = await receiver();
    const lines: string[] = [];
    const url = rx.url.replace('http://', 'http://tenant-7:s3cr3t-passw0rd@');
    const s = await sink({ remoteWrite: { url, intervalS: 10 } }, lines);
    await s.close();
    expect(rx.got.length).toBe(1);
    expect(rx.got[0]!.headers.authorization).toBe('Basic ' + Buffer.from('tenant-7:s3cr3t-passw0rd').toString('base64'));
    expect(lines.join('\n')).toContain('tenant-7:***@');
    expect(lines.join('\n')).not.toContain('s3cr3t');
    await expect(startPrometheusSink({ labels: LABELS, log: () => {}, remoteWrite: { url: 'ftp://x/write' } })).rejects.toThrow(/not an http\(s\) URL/);
    await expect(startPrometheusSink({ labels: LABELS, log: () => {}, remoteWrite: { url: 'not a url' } })).rejects.toThrow();
  });

  it('retries 5xx and 429 with backoff, never a 4xx', async () => {
    const flaky = await receiver((n) => (n === 0 ? 503 : n === 1 ? 429 : 204));
    const w = new RemoteWriter({ url: flaky.url, minBackoffMs: 20, log: () => {} });
    w.push(Uint8Array.from([0])); // an empty WriteRequest, snappy-compressed
    await until(() => w.stats.sent === 1);
    expect(w.stats).toMatchObject({ sent: 1, retries: 2, rejected: 0, dropped: 0, queued: 0 });
    await w.close(null);

    const lines: string[] = [];
    const refusing = await receiver(() => 400);
    const v = new RemoteWriter({ url: refusing.url, minBackoffMs: 20, log: (l) => lines.push(l) });
    v.push(Uint8Array.from([0]));
    v.push(Uint8Array.from([0]));
    await until(() => v.stats.rejected === 2);
    await sleep(100);
    expect(v.stats).toMatchObject({ sent: 0, retries: 0, rejected: 2, queued: 0 });
    expect(v.stats.lastError).toBe('HTTP 400: no thanks');
    expect(lines[0]).toMatch(/refused a batch \(HTTP 400: no thanks\); not retried/);
    await v.close(null);
  });

  for (const kind of ['down (connection refused)', 'slow (never answers)'] as const) {
    it(`a ${kind} receiver blocks neither requestEnded nor tick, the queue stays bounded, close() keeps its bound`, async () => {
      let url: string;
      if (kind === 'down (connection refused)') url = `http://127.0.0.1:${await deadPort()}/api/v1/write`;
      else {
        const held: IncomingMessage[] = [];
        const server = createServer((req) => void held.push(req)); // reads nothing back, answers never
        url = `http://127.0.0.1:${await listening(server)}/api/v1/write`;
      }
      const lines: string[] = [];
      const s = await startPrometheusSink({ labels: LABELS, log: (l) => lines.push(l), remoteWrite: { url, intervalS: 0.05, maxQueue: 3, timeoutMs: 300 } });
      const { records } = fedRun();
      let worst = 0;
      const start = Date.now();
      // until the sender dropped a few batches and retried (a loaded machine fires timers late)
      while (Date.now() - start < 1_000 || s.stats().remoteWrite!.dropped < 5 || s.stats().remoteWrite!.retries < 1) {
        if (Date.now() - start > 8_000) throw new Error(`no drops or retries: ${JSON.stringify(s.stats())}`);
        const t0 = performance.now();
        for (const r of records) s.requestEnded(r);
        s.tick(TICK);
        worst = Math.max(worst, performance.now() - t0);
        expect(s.stats().remoteWrite!.queued).toBeLessThanOrEqual(3);
        await sleep(10);
      }
      const st = s.stats().remoteWrite!;
      expect(st.queued).toBeLessThanOrEqual(3);
      expect(st.sent).toBe(0);
      // 200 records and a tick: well under what a run's turn allows, whatever the receiver does
      expect(worst).toBeLessThan(50);
      expect(lines.filter((l) => /failed .*retrying/.test(l))).toHaveLength(1);
      const t0 = Date.now();
      await s.close();
      const took = Date.now() - t0;
      expect(took).toBeLessThan(2_600);
      expect(s.stats().remoteWrite).toMatchObject({ queued: 0, sent: 0 });
      expect(lines.at(-1)).toMatch(/remote-write sent 0 batch\(es\), dropped \d+/);
    });
  }
});
