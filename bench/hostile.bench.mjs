// Memory of the client against a hostile server: 16 concurrent streams, each a 200 event stream
// whose one `data:` line never ends (up to 256 MiB each, 4 GiB in all). Without a bound the
// client held every byte (1.2 GB for two such streams before V8 gave up with "Invalid string
// length"); with maxEventBytes (default 4 MiB) each stream fails as invalid_response once it
// holds 4 MiB and its connection is closed. Reports the peak RSS growth of the client process
// (the kernel's high-water mark, so no peak is missed between samples) against streams × limit,
// the time to fail all 16, and how much each server connection got to write before it was cut.
// The server runs in a child process (this file with INFERLOAD_HOSTILE_PART=server) so that its
// buffers are not counted; loopback only; bounded by a 60 s watchdog.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { report } from './lib.mjs';

const STREAMS = 16;
const PER_STREAM = 256 * 1024 * 1024;
const PIECE = 64 * 1024;
const WATCHDOG_MS = 60_000;

if (process.env.INFERLOAD_HOSTILE_PART === 'server') {
  // one line per event on stdout: {"port"} once, then {"written"} per closed connection
  const piece = Buffer.from(`${PIECE.toString(16)}\r\n${'x'.repeat(PIECE)}\r\n`, 'latin1');
  const head = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n';
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    let written = 0;
    let started = false;
    const pump = () => {
      while (written < PER_STREAM && !socket.destroyed) {
        written += PIECE;
        if (!socket.write(piece)) return void socket.once('drain', pump);
      }
    };
    socket.once('close', () => process.stdout.write(JSON.stringify({ written }) + '\n'));
    socket.on('data', (d) => {
      // answer once the request's head has arrived; its small JSON body comes with it or next
      if (started || !d.includes('\r\n\r\n')) return;
      started = true;
      socket.write(head + `6\r\ndata: \r\n`);
      pump();
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  const { OpenAIBackend, DEFAULT_MAX_EVENT_BYTES } = await import('../dist/backend/openai/client.js');
  const { runClock } = await import('../dist/core/clock.js');
  const { RequestRecord } = await import('../dist/core/record.js');

  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, INFERLOAD_HOSTILE_PART: 'server' }, stdio: ['pipe', 'pipe', 'inherit'] });
  const watchdog = setTimeout(() => {
    process.stderr.write(`hostile: not done within ${WATCHDOG_MS / 1000} s\n`);
    child.kill();
    process.exit(1);
  }, WATCHDOG_MS);
  const lines = createInterface({ input: child.stdout });
  const written = [];
  let allClosed;
  const closedAll = new Promise((resolve) => (allClosed = resolve));
  const port = await new Promise((resolve) =>
    lines.on('line', (l) => {
      const m = JSON.parse(l);
      if (m.port !== undefined) resolve(m.port);
      else if (written.push(m.written) === STREAMS) allClosed();
    }),
  );

  const clock = runClock();
  const backend = new OpenAIBackend({
    baseUrl: `http://127.0.0.1:${port}/v1`,
    model: 'm',
    endpoint: 'chat',
    ignoreEos: true,
    minTokens: false,
    temperature: 0,
    idleTimeoutS: 30,
    clock,
  });
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const records = await Promise.all(
    Array.from({ length: STREAMS }, (_, i) => new Promise((resolve) => backend.send({ prompt: 'x', maxTokens: 1, promptTokens: 1 }, new RequestRecord(i, clock.now(), 1, false), resolve))),
  );
  const failMs = performance.now() - t0;
  // maxRSS is the process's high-water mark in KiB: an upper bound of the peak during the run
  const peakGrowth = process.resourceUsage().maxRSS * 1024 - rssBefore;
  await closedAll;
  await backend.close();
  child.stdin.end();
  clearTimeout(watchdog);

  const classes = [...new Set(records.map((r) => r.errorClass))].join(',');
  const MiB = 1024 * 1024;
  const bound = STREAMS * DEFAULT_MAX_EVENT_BYTES;
  const params = { streams: STREAMS, per_stream_mib: PER_STREAM / MiB, max_event_mib: DEFAULT_MAX_EVENT_BYTES / MiB, classes };
  report({ bench: 'hostile_peak_rss_growth', value: +(peakGrowth / MiB).toFixed(1), unit: 'MiB', better: 'lower', target: (2 * bound) / MiB, params: { ...params, streams_x_limit_mib: bound / MiB } });
  report({ bench: 'hostile_time_to_fail_all', value: Math.round(failMs), unit: 'ms', better: 'lower', params });
  const meanWritten = written.reduce((a, b) => a + b, 0) / written.length;
  report({ bench: 'hostile_server_bytes_before_cut', value: +(meanWritten / MiB).toFixed(1), unit: 'MiB per stream', better: 'lower', params: { ...params, max_mib: +(Math.max(...written) / MiB).toFixed(1) } });
  if (classes !== 'invalid_response') {
    process.stderr.write(`hostile: expected every stream to fail as invalid_response, got ${classes}\n`);
    process.exit(1);
  }
}
