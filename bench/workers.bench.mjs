// Scaling from 1 to 2 worker threads, each driving a share of the streams through inferload's
// full path (driveFull: OpenAIBackend + Recorder) against the bench server. Each worker returns
// its recorder's whole-run histograms encoded; the main thread decodes and adds them (exact
// merge) and checks that the merged counts equal the sum of the workers' counts.
// Figures: content chunks per wall-second (chunks stamped within the measured duration, divided
// by it) with 1 and 2 workers, the 2/1 ratio, client and server CPU (cores busy).
// The server is pinned to core 1. On a 2-core machine the workers then either float over both
// cores (sharing core 1 with the server) or are pinned with the whole client to core 0; both
// are measured. Cases: paced (one chunk per TCP segment, 10 ms ITL, 600 streams in total: the
// server's own per-chunk writes are the heavier side) and coalesced (whole 1 000-chunk responses
// in one write, 16 streams: the client's side is the heavier one).
// Run mode (`inferload run --workers N`): the same coalesced streams through WorkerPoolBackend,
// one Recorder on the main thread and only the client (HTTP + SSE parsing) in 1 or 2 worker
// threads, in both placements; figures: chunks per wall-second with 1 and 2 pool workers, the 2/1
// ratio, and the in-thread client (driveFull) in the same run for reference, each with the main
// thread's own CPU (/proc/thread-self): with the pool it only unpacks records and feeds the
// recorder. The recorder's ITL count is checked against the chunk gaps of the records it was given
// (one recorder: exact by construction).
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { decodeHistogram } from '../dist/metrics/hdr.js';
import { LATENCY_METRICS, Recorder } from '../dist/metrics/recorder.js';
import { WorkerPoolBackend } from '../dist/backend/worker/pool.js';
import { runClock } from '../dist/core/clock.js';
import { RequestRecord } from '../dist/core/record.js';
import { args, cpuSeconds, long, report } from './lib.mjs';
import { benchClientOptions, driveFull, startServer } from './driver.mjs';

const durationS = long ? 20 : 6;
const CASES = [
  { name: 'paced', headers: { 'x-bench-mode': 'paced', 'x-bench-itl-ms': '10' }, tokens: 100, streams: 600, itlMs: 10 },
  { name: 'coalesced', headers: { 'x-bench-mode': 'coalesced' }, tokens: 1000, streams: 16 },
];

/** CPU seconds (user + system) used so far by another process, from /proc; NaN if unreadable. */
function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 (utime, stime) of the full line are 11 and 12 after the command name
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Sets the CPU affinity of every thread of this process (`taskset -a`); new threads inherit it. */
function pinAll(cores) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cores, String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The next message of type `type` from a worker (rejects if the worker fails first). */
function next(worker, type) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (m?.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onErr = (e) => {
      cleanup();
      reject(e);
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`worker exited ${code} before "${type}"`));
    };
    const cleanup = () => {
      worker.off('message', onMsg);
      worker.off('error', onErr);
      worker.off('exit', onExit);
    };
    worker.on('message', onMsg);
    worker.on('error', onErr);
    worker.on('exit', onExit);
  });
}

async function runShards(n, c, server) {
  const shares = Array.from({ length: n }, (_, i) => Math.floor(c.streams / n) + (i < c.streams % n ? 1 : 0));
  const workers = shares.map(
    (concurrency) =>
      new Worker(new URL('./worker-shard.mjs', import.meta.url), {
        workerData: { url: server.url, headers: c.headers, tokens: c.tokens, concurrency, durationS, warmupS: 1 },
      }),
  );
  try {
    await Promise.all(workers.map((w) => next(w, 'ready')));
    const done = workers.map((w) => next(w, 'done'));
    const cpu0 = cpuSeconds();
    const srv0 = processCpuSeconds(server.pid);
    const t0 = performance.now();
    for (const w of workers) w.postMessage('go');
    const results = await Promise.all(done);
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds() - cpu0;
    const serverCpuS = processCpuSeconds(server.pid) - srv0;
    // exact merge: decode every worker's whole-run histogram and add them
    const merged = {};
    for (const m of LATENCY_METRICS) {
      const h = decodeHistogram(results[0].hdr[m]);
      for (const r of results.slice(1)) h.add(decodeHistogram(r.hdr[m]));
      const sum = results.reduce((a, r) => a + r.counts[m], 0);
      if (h.totalCount !== sum) throw new Error(`merge is not exact for ${m}: merged ${h.totalCount}, workers' sum ${sum}`);
      merged[m] = h;
    }
    const chunks = results.reduce((a, r) => a + r.chunks, 0);
    const steadyChunks = results.reduce((a, r) => a + r.steadyChunks, 0);
    const itlWorkers = results.map((r) => r.counts.itl);
    const mergedItl = merged.itl;
    process.stdout.write(
      `  ${n} worker(s), ${c.name}, ${c.streams} streams: merged itl count ${mergedItl.totalCount} = ${itlWorkers.join(' + ')} (exact), ` +
        `e2e count ${merged.e2e.totalCount}, itl p50 ${(mergedItl.getValueAtPercentile(50) / 1000).toFixed(3)} ms, ` +
        `p99 ${(mergedItl.getValueAtPercentile(99) / 1000).toFixed(3)} ms\n`,
    );
    return {
      chunks,
      steadyChunks,
      serverCpuS,
      requests: results.reduce((a, r) => a + r.requests, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      wallS,
      cpuS,
      itlP99Ms: +(mergedItl.getValueAtPercentile(99) / 1000).toFixed(3),
      mergedItlCount: mergedItl.totalCount,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** CPU seconds (user + system) of the calling thread so far, from /proc; NaN if unreadable. */
function threadCpuSeconds() {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Chunks of `r` stamped before `endUs` (the steady part of a closed loop; the tail is left out). */
function chunksBefore(r, endUs) {
  const c = r.chunkUs;
  if (c.length > 0 && c[c.length - 1] < endUs) return c.length;
  let n = 0;
  while (n < c.length && c[n] < endUs) n++;
  return n;
}

/**
 * Run mode: `concurrency` streams kept going for `durationS` through WorkerPoolBackend with
 * `workers` client threads, every record into one Recorder on this thread (as `inferload run
 * --workers N` does), after `warmupS` of the same to warm the threads up. The run clock restarts
 * after the warm-up under the pool, as execute.ts does before the load.
 */
async function drivePool({ url, headers, tokens, concurrency, durationS, warmupS, workers, serverPid }) {
  let clock = runClock();
  const live = { now: () => clock.now(), get epochMs() { return clock.epochMs; } };
  const backend = new WorkerPoolBackend(benchClientOptions(url, live, headers, { workers }));
  await backend.preconnect(Math.min(concurrency, 64));
  const req = { messages: [{ role: 'user', content: 'bench' }], maxTokens: tokens, promptTokens: 1 };
  const loop = (seconds, onRecord) =>
    new Promise((resolve) => {
      const endUs = seconds * 1e6;
      let open = 0;
      let id = 0;
      const launch = () => {
        open++;
        backend.send(req, new RequestRecord(id++, clock.now(), 1, false), (r) => {
          open--;
          onRecord(r);
          if (clock.now() < endUs) launch();
          else if (open === 0) resolve();
        });
      };
      for (let i = 0; i < concurrency; i++) launch();
    });
  try {
    if (warmupS > 0) await loop(warmupS, () => undefined);
    clock = runClock();
    const recorder = new Recorder({ windowS: 1 });
    const ticker = setInterval(() => recorder.tick(clock.now()), 100);
    const endUs = durationS * 1e6;
    let chunks = 0;
    let steadyChunks = 0;
    let requests = 0;
    let failed = 0;
    let gaps = 0;
    const cpu0 = cpuSeconds();
    const main0 = threadCpuSeconds();
    const srv0 = processCpuSeconds(serverPid);
    const t0 = performance.now();
    await loop(durationS, (r) => {
      recorder.record(r);
      if (r.ok) {
        requests++;
        chunks += r.outputChunks;
        steadyChunks += chunksBefore(r, endUs);
        gaps += Math.max(0, r.outputChunks - 1);
      } else failed++;
    });
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds() - cpu0;
    const mainCpuS = threadCpuSeconds() - main0;
    const serverCpuS = processCpuSeconds(serverPid) - srv0;
    clearInterval(ticker);
    recorder.flush();
    const itl = recorder.snapshot().latencyMs.itl;
    if (itl.count !== gaps) throw new Error(`recorder ITL count ${itl.count} != chunk gaps of the records ${gaps}`);
    return { chunks, steadyChunks, requests, failed, wallS, cpuS, mainCpuS, serverCpuS, itlCount: itl.count, itlP99Ms: itl.p99 };
  } finally {
    await backend.close();
  }
}

/** The run-mode figures: the coalesced case through the pool with 1 and 2 workers, and the in-thread client. */
async function runModePool(server, placement, where) {
  const c = CASES.find((x) => x.name === 'coalesced');
  const opts = { url: server.url, headers: c.headers, tokens: c.tokens, concurrency: c.streams, durationS, warmupS: 1 };
  const base = { case: c.name, streams: c.streams, tokens: c.tokens, duration_s: durationS, placement: where, recorder: 'one, on the main thread' };
  const runs = {};
  for (const n of [1, 2]) {
    const r = await drivePool({ ...opts, workers: n, serverPid: server.pid });
    runs[n] = r;
    process.stdout.write(`  run mode, ${n} pool worker(s), ${c.name}, ${placement}: ${r.requests} requests, recorder itl count ${r.itlCount} = chunk gaps of the records (exact)\n`);
  }
  // the in-thread client (workers 1 in `inferload run`) on the same server, for reference
  await driveFull({ ...opts, durationS: opts.warmupS });
  const endUs = durationS * 1e6;
  let inThreadSteady = 0;
  const main0 = threadCpuSeconds();
  const srv0 = processCpuSeconds(server.pid);
  const inThread = await driveFull({ ...opts, onRecord: (r) => (inThreadSteady += r.ok ? chunksBefore(r, endUs) : 0) });
  const inThreadMainCpuS = threadCpuSeconds() - main0;
  const inThreadServerCpuS = processCpuSeconds(server.pid) - srv0;
  const rate = (steady) => Math.round(steady / durationS);
  for (const n of [1, 2]) {
    const r = runs[n];
    report({
      bench: `workers_pool_${n}_${c.name}_${placement}`,
      value: rate(r.steadyChunks),
      unit: 'chunks/wall-s',
      better: 'higher',
      params: {
        ...base,
        mode: 'run (WorkerPoolBackend)',
        workers: n,
        client_cpu_cores: +(r.cpuS / r.wallS).toFixed(2),
        chunks_per_client_cpu_s: Math.round(r.chunks / r.cpuS),
        // the main thread alone (engine side: unpacking + recorder): what it could absorb at most
        main_thread_cpu_cores: +(r.mainCpuS / r.wallS).toFixed(2),
        chunks_per_main_thread_cpu_s: Math.round(r.chunks / r.mainCpuS),
        server_cpu_cores: +(r.serverCpuS / r.wallS).toFixed(2),
        itl_p99_ms: r.itlP99Ms,
        recorder_itl_count: r.itlCount,
        failed: r.failed,
      },
    });
  }
  report({
    bench: `workers_pool_in_thread_${c.name}_${placement}`,
    value: rate(inThreadSteady),
    unit: 'chunks/wall-s',
    better: 'higher',
    params: {
      ...base,
      mode: 'in-thread client (OpenAIBackend, --workers 1)',
      client_cpu_cores: +(inThread.cpuS / inThread.wallS).toFixed(2),
      chunks_per_client_cpu_s: Math.round(inThread.chunks / inThread.cpuS),
      main_thread_cpu_cores: +(inThreadMainCpuS / inThread.wallS).toFixed(2),
      chunks_per_main_thread_cpu_s: Math.round(inThread.chunks / inThreadMainCpuS),
      server_cpu_cores: +(inThreadServerCpuS / inThread.wallS).toFixed(2),
      failed: inThread.failed,
    },
  });
  report({ bench: `workers_pool_scaling_${c.name}_${placement}`, value: +(runs[2].steadyChunks / runs[1].steadyChunks).toFixed(3), unit: 'x 1 worker', better: 'higher', params: { ...base, mode: 'run (WorkerPoolBackend)' } });
  report({
    bench: `workers_pool_2_vs_in_thread_${c.name}_${placement}`,
    value: +(runs[2].steadyChunks / inThreadSteady).toFixed(3),
    unit: 'x in-thread',
    better: 'higher',
    params: { ...base, mode: 'run (WorkerPoolBackend, 2 workers) / in-thread client' },
  });
}

const server = await startServer({ core: 1 });
try {
  // `node bench/run.mjs workers --run-mode-only`: only the run-mode (WorkerPoolBackend) figures
  const runModeOnly = args.includes('--run-mode-only');
  // unpinned first: threads inherit the affinity of the thread that creates them, and pinning
  // (taskset -a) is not undone for threads that already exist
  for (const placement of ['unpinned', 'pinned']) {
    const pinned = placement === 'pinned' ? pinAll('0') : false;
    if (placement === 'pinned' && !pinned) {
      process.stdout.write('  (taskset unavailable: pinned placement skipped)\n');
      continue;
    }
    const where = placement === 'pinned' ? 'client threads on core 0, server on core 1' : 'client threads unpinned (both cores), server on core 1';
    await runModePool(server, placement, where);
    if (runModeOnly) continue;
    for (const c of CASES) {
      const runs = {};
      for (const n of [1, 2]) runs[n] = await runShards(n, c, server);
      const offered = c.itlMs ? (c.streams * 1000) / c.itlMs : undefined;
      const base = { case: c.name, streams: c.streams, tokens: c.tokens, ...(c.itlMs && { itl_ms: c.itlMs, offered_chunks_per_s: offered }), duration_s: durationS, placement: where };
      const rate = (r) => r.steadyChunks / durationS;
      for (const n of [1, 2]) {
        const r = runs[n];
        report({
          bench: `workers_${n}_${c.name}_${placement}`,
          value: Math.round(rate(r)),
          unit: 'chunks/wall-s',
          better: 'higher',
          params: {
            ...base,
            workers: n,
            ...(offered && { of_offered: +(rate(r) / offered).toFixed(3) }),
            client_cpu_cores: +(r.cpuS / r.wallS).toFixed(2),
            server_cpu_cores: +(r.serverCpuS / r.wallS).toFixed(2),
            chunks_per_client_cpu_s: Math.round(r.chunks / r.cpuS),
            itl_p99_ms: r.itlP99Ms,
            merged_itl_count: r.mergedItlCount,
            merge_exact: true,
            failed: r.failed,
          },
        });
      }
      report({ bench: `workers_scaling_${c.name}_${placement}`, value: +(rate(runs[2]) / rate(runs[1])).toFixed(3), unit: 'x 1 worker', better: 'higher', params: base });
    }
  }
} finally {
  await server.close();
}
