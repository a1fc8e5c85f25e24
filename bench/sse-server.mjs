// A minimal OpenAI-style SSE server for the benchmarks, run in its own process (pinned to its own
// core by the benchmark). Modes, chosen per request by headers:
//   x-bench-mode: paced      one chunk per token every x-bench-itl-ms to every open stream, from ONE
//                            timer (so each chunk is its own TCP segment), like a real engine step
//   x-bench-mode: coalesced  the whole response in one write (many chunks per read at the client);
//                            without emit stamps the body is built once per length and reused
//   x-bench-emit: 1          each chunk carries "inferload_emit_ms" (epoch ms, stamped just before
//                            its write): ground truth for the client's timing error
// The chunk count is max_tokens. Prints "PORT <n>" on stdout when listening.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const ROLE = 'data: {"id":"b","object":"chat.completion.chunk","created":0,"model":"bench","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n';
const chunk = (emit) =>
  `data: {"id":"b","object":"chat.completion.chunk","created":0,"model":"bench","choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,"finish_reason":null}]${emit ? `,"inferload_emit_ms":${(performance.timeOrigin + performance.now()).toFixed(3)}` : ''}}\n\n`;
const LAST = 'data: {"id":"b","object":"chat.completion.chunk","created":0,"model":"bench","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length"}]}\n\n';
const usage = (n) => `data: {"id":"b","object":"chat.completion.chunk","created":0,"model":"bench","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":${n},"total_tokens":${n + 8}}}\n\ndata: [DONE]\n\n`;

/** coalesced bodies without emit stamps, by chunk count */
const bodies = new Map();

/** paced streams by ITL: one timer per distinct ITL, writing one chunk to each stream per tick */
const paced = new Map();

function tickFor(itlMs) {
  let group = paced.get(itlMs);
  if (group) return group;
  group = { streams: new Set(), timer: null };
  paced.set(itlMs, group);
  let next = performance.now() + itlMs;
  const tick = () => {
    for (const s of group.streams) {
      if (s.left > 0) {
        s.res.write(chunk(s.emit));
        s.left--;
      } else {
        s.res.end(LAST + usage(s.n));
        group.streams.delete(s);
      }
    }
    if (group.streams.size === 0) {
      group.timer = null;
      return;
    }
    next += itlMs;
    group.timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };
  group.start = () => {
    if (group.timer) return;
    next = performance.now() + itlMs;
    group.timer = setTimeout(tick, itlMs);
  };
  return group;
}

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"object":"list","data":[{"id":"bench","object":"model"}]}');
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    let n = 16;
    try {
      n = JSON.parse(body).max_tokens ?? 16;
    } catch {}
    const mode = req.headers['x-bench-mode'] ?? 'coalesced';
    const emit = req.headers['x-bench-emit'] === '1';
    res.socket.setNoDelay(true);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (mode === 'paced') {
      res.write(ROLE);
      const itlMs = Number(req.headers['x-bench-itl-ms'] ?? 10);
      const g = tickFor(itlMs);
      g.streams.add({ res, left: n, n, emit });
      g.start();
    } else if (emit) {
      let out = ROLE;
      for (let i = 0; i < n; i++) out += chunk(emit);
      res.end(out + LAST + usage(n));
    } else {
      // the same bytes every time: built once per length, so that the server costs little per
      // chunk and the client, not the server, is the side a benchmark measures
      let body = bodies.get(n);
      if (body === undefined) {
        let out = ROLE;
        for (let i = 0; i < n; i++) out += chunk(false);
        body = Buffer.from(out + LAST + usage(n));
        if (bodies.size < 64) bodies.set(n, body);
      }
      res.end(body);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
