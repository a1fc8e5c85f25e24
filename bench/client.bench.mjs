// The client's own figures: request rate per core, pacing (schedule lag) at 100 / 1 000 / 5 000
// req/s open loop, timing error against the server's own emit time (ground truth), and the cost
// of recording one histogram value (vs the library's own recordValue in the same run).
import * as hdr from 'hdr-histogram-js';
import { Rng } from '../dist/core/rng.js';
import { runClock } from '../dist/core/clock.js';
import { OpenAIBackend } from '../dist/backend/openai/client.js';
import { Engine } from '../dist/engine/engine.js';
import { Recorder } from '../dist/metrics/recorder.js';
import { newHistogram, recordUs } from '../dist/metrics/hdr.js';
import { Workload } from '../dist/workload/workload.js';
import { long, report } from './lib.mjs';
import { benchClientOptions, driveBare, driveFull, pinSelf, startServer } from './driver.mjs';

const pinned = pinSelf(0);
const server = await startServer({ core: 1 });

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

try {
  // -- request rate: short streaming requests (4 tokens) per CPU-second --------------------
  {
    const c = { headers: { 'x-bench-mode': 'coalesced' }, tokens: 4, concurrency: 64 };
    const durationS = long ? 20 : 5;
    await driveFull({ url: server.url, ...c, durationS: 1 });
    const bare = await driveBare({ url: server.url, ...c, durationS });
    const full = await driveFull({ url: server.url, ...c, durationS });
    const params = { tokens: 4, concurrency: 64, duration_s: durationS, pinned };
    report({ bench: 'request_rate_floor', value: Math.round(bare.requests / bare.cpuS), unit: 'req/cpu-s', better: 'higher', params: { ...params, client: 'bare undici' } });
    report({ bench: 'request_rate', value: Math.round(full.requests / full.cpuS), unit: 'req/cpu-s', better: 'higher', target: 20000, params: { ...params, wall_req_per_s: Math.round(full.requests / full.wallS), cpu_ratio: +(full.cpuS / full.wallS).toFixed(2) } });
  }

  // -- pacing: schedule lag of an open-loop schedule through the real engine ---------------
  // Lags of the first 2 s are left out, like a scenario's warm-up: in them the JIT compiles and
  // the heap grows to size, on background threads that share the client's one core, and the
  // main thread loses whole scheduler slices (3-7 ms) to them; a run's steady state is what a
  // user with a warm-up sees.
  for (const rate of [100, 1000, 5000]) {
    const durationS = long ? 20 : 6;
    const spec = {
      name: 'bench',
      seed: 1,
      warmupS: 2,
      windowS: 1,
      target: { endpoint: 'chat', metrics: [], timeoutS: 30 },
      simulator: { profile: 'default', speed: 1, faults: {} },
      load: { executor: 'constant-arrival-rate', rate, durationS, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 10000, gracefulStopS: 5 },
      workload: { promptTokens: { dist: 'fixed', value: 8 }, outputTokens: { dist: 'fixed', value: 2 }, ignoreEos: true, minTokens: false, temperature: 0 },
      slo: {},
    };
    const clock = runClock();
    const backend = new OpenAIBackend(benchClientOptions(server.url, clock, { 'x-bench-mode': 'coalesced' }));
    await backend.preconnect(32);
    const recorder = new Recorder({ windowS: 1 });
    const lags = [];
    const engine = new Engine({
      spec,
      backend,
      workload: new Workload(spec.workload, 1, 'chat'),
      recorder,
      clock,
      onRequestEnd: (r) => {
        if (!r.warmup && !r.dropped) lags.push((r.sentUs - r.intendedStartUs) / 1000);
      },
    });
    const cpu0 = process.cpuUsage();
    await engine.run();
    const cpu = process.cpuUsage(cpu0);
    await backend.close();
    lags.sort((a, b) => a - b);
    const params = { rate_per_s: rate, duration_s: durationS, warmup_s: spec.warmupS, requests: lags.length, pinned, cpu_ratio: +((cpu.user + cpu.system) / 1e6 / durationS).toFixed(2) };
    report({ bench: `schedule_lag_p50_${rate}rps`, value: +pct(lags, 50).toFixed(3), unit: 'ms', better: 'lower', params });
    report({ bench: `schedule_lag_p99_${rate}rps`, value: +pct(lags, 99).toFixed(3), unit: 'ms', better: 'lower', target: rate === 1000 ? 1 : undefined, params });
    report({ bench: `schedule_lag_p999_${rate}rps`, value: +pct(lags, 99.9).toFixed(3), unit: 'ms', better: 'lower', params });
  }

  // -- timing error: client stamp minus the server's emit time, at ~20 % and ~50 % client CPU.
  // The same load read by the bare undici client, stamping each read on arrival, is the
  // reference: what the transport alone (Node's sockets and undici) costs in timing error.
  for (const streams of [200, 500]) {
    const durationS = long ? 20 : 6;
    const headers = { 'x-bench-mode': 'paced', 'x-bench-itl-ms': '10', 'x-bench-emit': '1' };
    const bareErrors = [];
    const bare = await driveBare({ url: server.url, headers, tokens: 100, concurrency: streams, durationS, onEmit: (stampMs, emitMs) => bareErrors.push(stampMs - emitMs) });
    const pairs = [];
    const res = await driveFull({
      url: server.url,
      headers,
      tokens: 100,
      concurrency: streams,
      durationS,
      recordEmit: true,
      onRecord: (r) => {
        if (r.emitMs) pairs.push([r.chunkUs, r.emitMs]);
      },
    });
    const errors = [];
    for (const [chunkUs, emitMs] of pairs)
      for (let i = 0; i < emitMs.length && i < chunkUs.length; i++) errors.push(res.epochAtZeroMs + chunkUs[i] / 1000 - emitMs[i]);
    // the two processes' time origins may differ by a constant (performance.timeOrigin is taken
    // at each process's start): measure from the fastest delivery, which is a loopback write+read
    const offset = Math.min(errors.reduce((a, b) => Math.min(a, b), Infinity), bareErrors.reduce((a, b) => Math.min(a, b), Infinity));
    const shift = (xs) => {
      for (let i = 0; i < xs.length; i++) xs[i] -= offset;
      return xs.sort((a, b) => a - b);
    };
    shift(errors);
    shift(bareErrors);
    const params = { streams, itl_ms: 10, duration_s: durationS, pinned, cpu_ratio: +(res.cpuS / res.wallS).toFixed(2), chunks: errors.length, raw_min_ms: +offset.toFixed(3) };
    const bareParams = { streams, itl_ms: 10, duration_s: durationS, pinned, client: 'bare undici, stamp per read', cpu_ratio: +(bare.cpuS / bare.wallS).toFixed(2), chunks: bareErrors.length };
    for (const [p, name] of [[50, 'p50'], [99, 'p99'], [99.9, 'p999']]) {
      report({ bench: `timing_error_${name}_${streams}streams_floor`, value: +pct(bareErrors, p).toFixed(3), unit: 'ms', better: 'lower', params: bareParams });
      report({ bench: `timing_error_${name}_${streams}streams`, value: +pct(errors, p).toFixed(3), unit: 'ms', better: 'lower', target: name === 'p99' ? 1 : undefined, params: { ...params, floor_ms: +pct(bareErrors, p).toFixed(3) } });
    }
  }

  // -- recording cost per histogram value ---------------------------------------------------
  {
    const n = 5_000_000;
    const rng = new Rng(1);
    const values = new Float64Array(1 << 16);
    for (let i = 0; i < values.length; i++) values[i] = 1000 + rng.exponential(20_000);
    const ours = newHistogram();
    const ref = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 32 });
    const time = (fn) => {
      for (let i = 0; i < n / 10; i++) fn(values[i & 0xffff]);
      const t = performance.now();
      for (let i = 0; i < n; i++) fn(values[i & 0xffff]);
      return ((performance.now() - t) * 1e6) / n;
    };
    const refNs = time((v) => ref.recordValue(Math.round(v)));
    const oursNs = time((v) => recordUs(ours, v));
    report({ bench: 'record_ns_per_value', value: +oursNs.toFixed(1), unit: 'ns', better: 'lower', target: 100, params: { values: n, reference_hdr_js_ns: +refNs.toFixed(1), ratio: +(oursNs / refNs).toFixed(2) } });
  }
} finally {
  await server.close();
}
