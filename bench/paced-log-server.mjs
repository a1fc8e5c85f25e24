// A paced OpenAI-style SSE server that logs when it wrote each content chunk (its own monotonic
// clock), for the clock-free light-load check: the client's gaps between chunk stamps are
// compared with the server's gaps between writes, so neither clock has to agree with the other.
// Each stream has its own timer: chunk i is written at start + i·itl (drift-free schedule), one
// TCP segment per chunk (no delay). Serves /v1/models, /metrics (a small vLLM-style exposition,
// so the client scrapes it as it would a real server) and GET /log (the write times so far, as
// JSON: [{seq, writes_ms: [...]}] in the order the requests arrived). Prints "PORT <n>".
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const itlDefault = Number(process.argv[3] ?? 10);
const prefix = '{"id":"p","object":"chat.completion.chunk","created":0,"model":"paced","choices":[{"index":0,"delta":';
const ROLE = `data: ${prefix}{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
const CHUNK = `data: ${prefix}{"content":" tok"},"logprobs":null,"finish_reason":null}]}\n\n`;
const last = (n) =>
  `data: ${prefix}{"content":""},"logprobs":null,"finish_reason":"length"}]}\n\n` +
  `data: {"id":"p","object":"chat.completion.chunk","created":0,"model":"paced","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":${n},"total_tokens":${n + 8}}}\n\ndata: [DONE]\n\n`;

/** every request's write times, in arrival order */
const log = [];
let running = 0;
let done = 0;

function metrics() {
  return [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{model_name="paced"} ${running}`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    'vllm:num_requests_waiting{model_name="paced"} 0',
    '# HELP vllm:request_success_total Count of successfully processed requests.',
    '# TYPE vllm:request_success_total counter',
    `vllm:request_success_total{model_name="paced",finished_reason="length"} ${done}`,
    '',
  ].join('\n');
}

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics());
    } else if (req.url === '/log') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(log));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"object":"list","data":[{"id":"paced","object":"model"}]}');
    }
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    let n = 32;
    try {
      n = JSON.parse(body).max_tokens ?? 32;
    } catch {}
    const itlMs = Number(req.headers['x-bench-itl-ms'] ?? itlDefault);
    const entry = { seq: log.length, writes_ms: [] };
    log.push(entry);
    running++;
    res.socket.setNoDelay(true);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(ROLE);
    const start = performance.now();
    let i = 0;
    const step = () => {
      if (i < n) {
        entry.writes_ms.push(performance.now());
        res.write(CHUNK);
        i++;
        setTimeout(step, Math.max(0, start + (i + 1) * itlMs - performance.now()));
      } else {
        res.end(last(n));
        running--;
        done++;
      }
    };
    setTimeout(step, Math.max(0, start + itlMs - performance.now()));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
