// One shard of workers.bench.mjs, run in a worker thread: warms up, says "ready", waits for "go",
// drives its share of the streams through inferload's full path (driveFull: OpenAIBackend +
// Recorder) and posts back its counts and its recorder's whole-run histograms, encoded.
import { parentPort, workerData } from 'node:worker_threads';
import { LATENCY_METRICS } from '../dist/metrics/recorder.js';
import { driveFull } from './driver.mjs';

const { url, headers, tokens, concurrency, durationS, warmupS } = workerData;
if (warmupS > 0) await driveFull({ url, headers, tokens, concurrency, durationS: warmupS });
parentPort.postMessage({ type: 'ready' });
await new Promise((resolve) => parentPort.once('message', resolve));
// chunks stamped within the measured duration (the steady part; the tail after it, where the
// last streams finish one by one, is left out of the rate)
const endUs = durationS * 1e6;
let steadyChunks = 0;
const onRecord = (r) => {
  const c = r.chunkUs;
  if (c.length > 0 && c[c.length - 1] < endUs) steadyChunks += c.length;
  else for (let i = 0; i < c.length && c[i] < endUs; i++) steadyChunks++;
};
const res = await driveFull({ url, headers, tokens, concurrency, durationS, onRecord });
const snap = res.recorder.snapshot();
parentPort.postMessage({
  type: 'done',
  chunks: res.chunks,
  steadyChunks,
  requests: res.requests,
  failed: res.failed,
  wallS: res.wallS,
  hdr: Object.fromEntries(LATENCY_METRICS.map((m) => [m, snap.latencyMs[m].hdr])),
  counts: Object.fromEntries(LATENCY_METRICS.map((m) => [m, snap.latencyMs[m].count])),
});
