// Reference point: autocannon, a well-known HTTP load generator, against the same bench server in
// the same run, for plain request rate: short streaming requests (4 chunks, coalesced, the same
// POST body inferload sends) per CPU-second of this process, same connection count, same core.
// autocannon reads and parses the whole HTTP response but not the SSE events; inferload runs its
// full path (SSE framing, chunk classification, stamps, HDR histograms). Printed as a ratio.
import autocannon from 'autocannon';
import { createRequire } from 'node:module';
import { requestBody } from '../dist/backend/openai/client.js';
import { cpuSeconds, long, report } from './lib.mjs';
import { driveFull, pinSelf, startServer } from './driver.mjs';

const acVersion = createRequire(import.meta.url)('autocannon/package.json').version;
const pinned = pinSelf(0);
const server = await startServer({ core: 1 });
const TOKENS = 4;
const CONNECTIONS = 64;
const durationS = long ? 20 : 5;
const headers = { 'x-bench-mode': 'coalesced' };

async function runAutocannon(seconds) {
  const body = requestBody(
    { model: 'bench', endpoint: 'chat', ignoreEos: true, minTokens: false, temperature: 0 },
    { messages: [{ role: 'user', content: 'bench' }], maxTokens: TOKENS, promptTokens: 1 },
  );
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const res = await autocannon({
    url: `${server.url.replace(/\/$/, '')}/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
  });
  const cpuS = cpuSeconds() - cpu0;
  const wallS = (performance.now() - t0) / 1000;
  // res.requests.total counts requests sent; the completed responses are counted by status class
  const ok = res['2xx'];
  return { requests: ok, errors: res.errors + res.timeouts + res.non2xx, cpuS, wallS };
}

try {
  // warm both (JIT, connections) before measuring
  await runAutocannon(1);
  await driveFull({ url: server.url, headers, tokens: TOKENS, concurrency: CONNECTIONS, durationS: 1 });
  const ac = await runAutocannon(durationS);
  const ours = await driveFull({ url: server.url, headers, tokens: TOKENS, concurrency: CONNECTIONS, durationS });
  const acRate = ac.requests / ac.cpuS;
  const ourRate = ours.requests / ours.cpuS;
  const params = { tokens: TOKENS, connections: CONNECTIONS, duration_s: durationS, pinned };
  report({
    bench: 'reference_autocannon_request_rate',
    value: Math.round(acRate),
    unit: 'req/cpu-s',
    better: 'higher',
    params: { ...params, client: `autocannon ${acVersion}`, wall_req_per_s: Math.round(ac.requests / ac.wallS), cpu_ratio: +(ac.cpuS / ac.wallS).toFixed(2), errors: ac.errors },
  });
  report({
    bench: 'reference_inferload_request_rate',
    value: Math.round(ourRate),
    unit: 'req/cpu-s',
    better: 'higher',
    params: { ...params, client: 'inferload', wall_req_per_s: Math.round(ours.requests / ours.wallS), cpu_ratio: +(ours.cpuS / ours.wallS).toFixed(2), failed: ours.failed },
  });
  report({ bench: 'reference_request_rate_vs_autocannon', value: +(ourRate / acRate).toFixed(3), unit: 'x autocannon', better: 'higher', params: { ...params, autocannon: acVersion } });
} finally {
  await server.close();
}
