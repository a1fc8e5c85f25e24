// Memory of the client process. (a) RSS while holding 5 000 concurrent streams open at once
// (slow paced streams from the bench server: 100 ms ITL, long outputs), reported as MB and as KB
// per stream over the idle baseline; (b) growth over a high-rate run through the real engine
// (constant-arrival-rate of short streaming requests; 2 minutes, 10 with --long): RSS sampled
// every 5 s after a forced GC (run.mjs passes --expose-gc), growth from the 1-minute sample to
// the end. Target: growth < 5 %. The recorder's closed-window count is reported to show it
// stays bounded (1 s windows, coarsened past maxWindows).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { long, report } from './lib.mjs';

const STREAMS = 5000;
/** file descriptors needed by each process (client and server): one socket per stream, plus slack */
const NEED_FDS = STREAMS + 512;

// Each part runs in a fresh process of its own (this file, with INFERLOAD_MEMORY_PART set), so
// that neither starts from memory the other left behind: a process rarely returns freed pages.
const part = process.env.INFERLOAD_MEMORY_PART;
if (!part) {
  let failed = 0;
  for (const p of ['streams', 'growth']) {
    const argv = [process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
    const lim = nofile();
    // 5 000 sockets need more than the common soft limit of 1 024: raise it (up to the hard
    // limit) for that part and the server it starts
    const raise = p === 'streams' && lim && lim.soft < NEED_FDS && lim.hard >= NEED_FDS;
    const r = raise
      ? spawnSync('sh', ['-c', 'ulimit -n "$0" && exec "$@"', String(NEED_FDS), ...argv], { stdio: 'inherit', env: { ...process.env, INFERLOAD_MEMORY_PART: p } })
      : spawnSync(argv[0], argv.slice(1), { stdio: 'inherit', env: { ...process.env, INFERLOAD_MEMORY_PART: p } });
    if (r.status !== 0) failed++;
  }
  process.exit(failed > 0 ? 1 : 0);
}

function nofile() {
  try {
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    const n = (s) => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return null;
  }
}
const lim = nofile();
const streams = part === 'streams' && lim && lim.soft < NEED_FDS ? Math.max(100, lim.soft - 512) : STREAMS;
if (streams < STREAMS) process.stderr.write(`memory: open-file limit ${lim.soft} (hard ${lim.hard}): holding ${streams} streams, not ${STREAMS}\n`);

const { runClock } = await import('../dist/core/clock.js');
const { RequestRecord } = await import('../dist/core/record.js');
const { OpenAIBackend } = await import('../dist/backend/openai/client.js');
const { Engine } = await import('../dist/engine/engine.js');
const { Recorder } = await import('../dist/metrics/recorder.js');
const { Workload } = await import('../dist/workload/workload.js');
const { benchClientOptions, pinSelf, startServer } = await import('./driver.mjs');

const pinned = pinSelf(0);
const gcAvailable = typeof globalThis.gc === 'function';
const MB = 1024 * 1024;

/** memoryUsage after a full GC (twice: the first may leave work for finalizers) */
async function settledMemory() {
  globalThis.gc?.();
  await sleep(50);
  globalThis.gc?.();
  return process.memoryUsage();
}

// -- (a) RSS while holding `streams` concurrent streams ------------------------------------------
if (part === 'streams') {
  const ITL_MS = 100;
  // 1 200 tokens at 100 ms: 2 minutes per stream, far longer than the ramp and the measurement
  const TOKENS = 1200;
  const server = await startServer({ core: 1 });
  try {
    const clock = runClock();
    const backend = new OpenAIBackend(benchClientOptions(server.url, clock, { 'x-bench-mode': 'paced', 'x-bench-itl-ms': String(ITL_MS) }));
    const recorder = new Recorder({ windowS: 1 });
    const ticker = setInterval(() => recorder.tick(clock.now()), 100);
    const req = { messages: [{ role: 'user', content: 'bench' }], maxTokens: TOKENS, promptTokens: 1 };
    // warm the code path (JIT, undici) with a few short streams, then take the idle baseline
    await new Promise((resolve) => {
      let left = 20;
      for (let i = 0; i < 20; i++)
        backend.send({ ...req, maxTokens: 5 }, new RequestRecord(-1 - i, clock.now(), 1, true), () => {
          if (--left === 0) resolve();
        });
    });
    const base = await settledMemory();

    const records = [];
    let ended = 0;
    let endedEarly = 0;
    let measuring = true;
    const t0 = performance.now();
    // ramp in batches so the server's accept backlog (511) never overflows into SYN retries
    const BATCH = 250;
    for (let i = 0; i < streams; i += BATCH) {
      for (let j = i; j < Math.min(streams, i + BATCH); j++) {
        const r = new RequestRecord(j, clock.now(), 1, false);
        records.push(r);
        backend.send(req, r, (done) => {
          ended++;
          if (measuring) endedEarly++;
          recorder.record(done);
        });
      }
      await sleep(25);
    }
    // wait until every stream is open and receiving tokens (bounded: 60 s)
    let receiving = 0;
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      receiving = 0;
      for (const r of records) if (r.chunkUs.length > 0 && Number.isNaN(r.endUs)) receiving++;
      if (receiving === streams || endedEarly > 0) break;
      await sleep(100);
    }
    const rampS = (performance.now() - t0) / 1000;
    // a few more tokens on every stream, so per-stream state is what a live stream carries
    await sleep(2000);
    const held = await settledMemory();
    let open = 0;
    let chunksHeld = 0;
    for (const r of records) {
      if (Number.isNaN(r.endUs)) open++;
      chunksHeld += r.chunkUs.length;
    }
    measuring = false;
    clearInterval(ticker);
    await backend.close();
    const params = {
      streams,
      open_at_sample: open,
      ended_early: endedEarly,
      itl_ms: ITL_MS,
      ramp_s: +rampS.toFixed(1),
      chunks_per_stream_at_sample: +(chunksHeld / streams).toFixed(1),
      baseline_rss_mb: +(base.rss / MB).toFixed(1),
      heap_used_mb: +(held.heapUsed / MB).toFixed(1),
      gc: gcAvailable,
      pinned,
    };
    report({ bench: `memory_rss_${streams}_streams`, value: +(held.rss / MB).toFixed(1), unit: 'MB', better: 'lower', params });
    report({ bench: 'memory_per_stream', value: +((held.rss - base.rss) / 1024 / streams).toFixed(2), unit: 'KB/stream', better: 'lower', params: { ...params, heap_kb_per_stream: +((held.heapUsed - base.heapUsed) / 1024 / streams).toFixed(2) } });
    if (open < streams) process.stderr.write(`memory: only ${open} of ${streams} streams were open when sampled (${endedEarly} ended early)\n`);
  } finally {
    await server.close();
  }
}

// -- (b) growth over a high-rate run --------------------------------------------------------------
if (part === 'growth') {
  const RATE = 5000;
  const TOKENS = 2;
  const durationS = long ? 600 : 120;
  const SAMPLE_S = 5;
  const server = await startServer({ core: 1 });
  try {
    const spec = {
      name: 'bench-memory',
      seed: 1,
      warmupS: 0,
      windowS: 1,
      target: { endpoint: 'chat', metrics: [], timeoutS: 30 },
      simulator: { profile: 'default', speed: 1, faults: {} },
      load: { executor: 'constant-arrival-rate', rate: RATE, durationS, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 10000, gracefulStopS: 5 },
      workload: { promptTokens: { dist: 'fixed', value: 8 }, outputTokens: { dist: 'fixed', value: TOKENS }, ignoreEos: true, minTokens: false, temperature: 0 },
      slo: {},
    };
    const clock = runClock();
    const backend = new OpenAIBackend(benchClientOptions(server.url, clock, { 'x-bench-mode': 'coalesced' }));
    await backend.preconnect(32);
    const recorder = new Recorder({ windowS: 1 });
    const engine = new Engine({ spec, backend, workload: new Workload(spec.workload, 1, 'chat'), recorder, clock });
    const samples = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sample = () => {
      // synchronous: a forced GC, then the sample (the GC pause lands in this run's schedule lag, which is not measured here)
      globalThis.gc?.();
      const m = process.memoryUsage();
      samples.push({ t: (performance.now() - t0) / 1000, rss: m.rss, heap: m.heapUsed, ended: engine.ended });
    };
    const sampler = setInterval(sample, SAMPLE_S * 1000);
    const outcome = await engine.run();
    clearInterval(sampler);
    // the end of the run: every request has ended, nothing is in flight
    sample();
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - t0) / 1000;
    const snap = recorder.snapshot();
    await backend.close();
    for (const s of samples) process.stdout.write(`  t=${s.t.toFixed(0).padStart(3)} s  rss=${(s.rss / MB).toFixed(1)} MB  heap=${(s.heap / MB).toFixed(1)} MB  requests=${s.ended}\n`);
    // the first sample at or after 60 s, and the last
    const at1 = samples.find((s) => s.t >= 60 - 0.5) ?? samples[0];
    const last = samples[samples.length - 1];
    const growth = ((last.rss - at1.rss) / at1.rss) * 100;
    const after = samples.filter((s) => s.t >= at1.t);
    const peak = Math.max(...after.map((s) => s.rss));
    // least-squares slope of RSS over the samples from 1 min on: flat is ~0 MB/min
    const mt = after.reduce((a, s) => a + s.t, 0) / after.length;
    const mr = after.reduce((a, s) => a + s.rss, 0) / after.length;
    const sxx = after.reduce((a, s) => a + (s.t - mt) ** 2, 0);
    const slope = sxx > 0 ? (after.reduce((a, s) => a + (s.t - mt) * (s.rss - mr), 0) / sxx) * 60 : 0;
    const params = {
      rate_per_s: RATE,
      tokens: TOKENS,
      duration_s: durationS,
      requests: engine.ended,
      failed: engine.failed,
      dropped: engine.dropped,
      stopped_by: outcome.stoppedBy,
      cpu_ratio: +((cpu.user + cpu.system) / 1e6 / wallS).toFixed(2),
      sample_s: SAMPLE_S,
      gc: gcAvailable,
      pinned,
    };
    report({ bench: 'memory_rss_at_1min', value: +(at1.rss / MB).toFixed(1), unit: 'MB', better: 'lower', params: { ...params, t_s: +at1.t.toFixed(0), heap_used_mb: +(at1.heap / MB).toFixed(1) } });
    report({ bench: 'memory_rss_at_end', value: +(last.rss / MB).toFixed(1), unit: 'MB', better: 'lower', params: { ...params, t_s: +last.t.toFixed(0), heap_used_mb: +(last.heap / MB).toFixed(1), peak_after_1min_mb: +(peak / MB).toFixed(1) } });
    report({ bench: 'memory_growth_after_1min', value: +growth.toFixed(2), unit: '%', better: 'lower', target: 5, params: { ...params, heap_growth_pct: +(((last.heap - at1.heap) / at1.heap) * 100).toFixed(2), rss_slope_mb_per_min: +(slope / MB).toFixed(2) } });
    report({ bench: 'memory_recorder_windows', value: snap.windows.length, unit: 'windows', better: 'lower', params: { window_s: 1, max_windows: 1800, duration_s: durationS, note: 'closed 1 s windows; pairs merge past max_windows' } });
  } finally {
    await server.close();
  }
}
