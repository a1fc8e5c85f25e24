// Drivers shared by the benchmarks: the bench SSE server in its own pinned process, and closed
// loops of N concurrent streams through (a) inferload's full client path and (b) a bare undici
// client that reads the same bytes without parsing them (the floor).
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { OpenAIBackend } from '../dist/backend/openai/client.js';
import { nowUs, runClock } from '../dist/core/clock.js';
import { RequestRecord } from '../dist/core/record.js';
import { Recorder } from '../dist/metrics/recorder.js';

/** Pins this process to `core` (taskset), so client and server each have their own. */
export function pinSelf(core) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Starts bench/sse-server.mjs (or the simulator, `sim: true`) on its own core; resolves to {url, close}. */
export async function startServer({ core = 1, sim = false, simArgs = [] } = {}) {
  const script = sim ? fileURLToPath(new URL('../bin/inferload.js', import.meta.url)) : fileURLToPath(new URL('./sse-server.mjs', import.meta.url));
  const args = sim ? [script, 'sim', '--port', '0', ...simArgs] : [script, '0'];
  let cmd = process.execPath;
  let argv = args;
  try {
    execFileSync('taskset', ['-c', String(core), 'true'], { stdio: 'ignore' });
    cmd = 'taskset';
    argv = ['-c', String(core), process.execPath, ...args];
  } catch {}
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out) ?? /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve(m[1].startsWith('http') ? m[1] : `http://127.0.0.1:${m[1]}/v1`);
    });
    child.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return {
    url,
    pid: child.pid,
    close: () =>
      new Promise((resolve) => {
        child.on('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

const EMIT = '"inferload_emit_ms":';

/** The client options every benchmark uses against the bench server (model and endpoint fixed). */
export function benchClientOptions(url, clock, headers, extra = {}) {
  return { baseUrl: url, model: 'bench', endpoint: 'chat', ignoreEos: true, minTokens: false, temperature: 0, idleTimeoutS: 60, clock, headers, ...extra };
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Keeps `concurrency` streams of `tokens` chunks going for `durationS` through inferload's full
 * path (undici dispatch, SSE framing, JSON, stamps, recorder with HDR histograms).
 */
export async function driveFull({ url, headers, tokens, concurrency, durationS, recordEmit = false, onRecord, transport }) {
  const startUs = nowUs();
  const clock = runClock(startUs);
  /** epoch ms of the run clock's zero, on the same time base as the server's performance.timeOrigin stamps */
  const epochAtZeroMs = performance.timeOrigin + startUs / 1000;
  const backend = new OpenAIBackend(benchClientOptions(url, clock, headers, { recordEmitTimes: recordEmit, ...(transport && { transport }) }));
  await backend.preconnect(Math.min(concurrency, 64));
  const recorder = new Recorder({ windowS: 1 });
  const req = { messages: [{ role: 'user', content: 'bench' }], maxTokens: tokens, promptTokens: 1 };
  let id = 0;
  let chunks = 0;
  let requests = 0;
  let failed = 0;
  const endUs = durationS * 1e6;
  const ticker = setInterval(() => recorder.tick(clock.now()), 100);
  const cpu0 = cpu();
  const t0 = performance.now();
  await new Promise((resolve) => {
    let live = 0;
    const launch = () => {
      live++;
      const r = new RequestRecord(id++, clock.now(), 1, false);
      backend.send(req, r, (done) => {
        live--;
        recorder.record(done);
        onRecord?.(done);
        if (done.ok) {
          requests++;
          chunks += done.outputChunks;
        } else failed++;
        if (clock.now() < endUs) launch();
        else if (live === 0) resolve();
      });
    };
    for (let i = 0; i < concurrency; i++) launch();
  });
  const cpuS = cpu() - cpu0;
  const wallS = (performance.now() - t0) / 1000;
  clearInterval(ticker);
  await backend.close();
  recorder.flush();
  return { chunks, requests, failed, cpuS, wallS, recorder, epochAtZeroMs };
}

/**
 * The floor: the same streams read by a bare undici dispatch that only counts bytes. With
 * `onEmit`, it also stamps each read on arrival (epoch ms on the server's time base) and hands
 * over the stamp with every server emit time found in the read: the timing error of the
 * transport alone, with no SSE framing, no JSON and no recording.
 */
export async function driveBare({ url, headers, tokens, concurrency, durationS, onEmit }) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: null, pipelining: 1 });
  const body = JSON.stringify({ model: 'bench', stream: true, max_tokens: tokens, messages: [{ role: 'user', content: 'bench' }] });
  const path = `${u.pathname.replace(/\/$/, '')}/chat/completions`;
  const allHeaders = { 'content-type': 'application/json', ...headers };
  let chunks = 0;
  let requests = 0;
  let bytes = 0;
  const endMs = performance.now() + durationS * 1000;
  const cpu0 = cpu();
  const t0 = performance.now();
  await new Promise((resolve) => {
    let live = 0;
    const launch = () => {
      live++;
      pool.dispatch(
        { method: 'POST', path, headers: allHeaders, body },
        {
          onRequestStart() {},
          onResponseStart() {},
          onResponseData(_c, chunk) {
            bytes += chunk.length;
            if (onEmit) {
              const stampMs = performance.timeOrigin + performance.now();
              const text = chunk.toString('latin1');
              for (let at = text.indexOf(EMIT); at !== -1; at = text.indexOf(EMIT, at + 1)) onEmit(stampMs, parseFloat(text.slice(at + EMIT.length, at + EMIT.length + 20)));
            }
          },
          onResponseEnd() {
            live--;
            requests++;
            chunks += tokens;
            if (performance.now() < endMs) launch();
            else if (live === 0) resolve();
          },
          onResponseError(_c, err) {
            live--;
            console.error('bare client error', err);
            if (live === 0) resolve();
          },
        },
      );
    };
    for (let i = 0; i < concurrency; i++) launch();
  });
  const cpuS = cpu() - cpu0;
  const wallS = (performance.now() - t0) / 1000;
  await pool.destroy();
  return { chunks, requests, cpuS, wallS, bytes };
}
