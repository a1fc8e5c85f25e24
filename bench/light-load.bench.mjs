// Light load, clock-free: one stream at a time (2 req/s, 32 tokens written 10 ms apart) through
// the whole `inferload run` (checkpoints, window closing, scraping, the pacer, requests.jsonl),
// against a server that logs when it wrote each chunk. The client's gaps between chunk stamps
// are compared with the server's gaps between writes: the error of a gap is what the client's
// event loop (or anything else in the run) added to it, and no two clocks need to agree. A
// blocking Python http.client reader on this machine gets p99 0.27 ms on the same server.
// Targets: gap error p99 <= 0.5 ms, no single error above 2 ms, and the run's own event-loop
// lag p99 under 1 ms.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { long, report, pinned } from './lib.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const bin = fileURLToPath(new URL('../bin/inferload.js', import.meta.url));

function pct(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function startPacedServer(core) {
  const child = spawn(...spawnArgs(await pinned(core), [process.execPath, join(here, 'paced-log-server.mjs'), '0', '10']), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (c) => reject(new Error(`paced server exited ${c}`)));
  });
  return { port, close: () => new Promise((r) => (child.on('exit', r), child.kill('SIGTERM'))) };
}

function spawnArgs(prefix, argv) {
  const all = [...prefix, ...argv];
  return [all[0], all.slice(1)];
}

/** One `inferload run` at light load; returns the gap errors (ms) and the run's generator figures. */
async function lightRun({ port, durationS, rate, tokens, extraArgs = [] }) {
  const dir = mkdtempSync(join(tmpdir(), 'inferload-light-'));
  const scenario = join(dir, 'light.yaml');
  writeFileSync(
    scenario,
    [
      'name: light',
      'seed: 1',
      'warmup: 2s',
      'load:',
      '  executor: constant-arrival-rate',
      `  rate: ${rate}`,
      `  duration: ${durationS}s`,
      '  arrival: constant',
      '  gracefulStop: 5s',
      'workload:',
      '  promptTokens: {dist: fixed, value: 8}',
      `  outputTokens: {dist: fixed, value: ${tokens}}`,
      '',
    ].join('\n'),
  );
  const out = join(dir, 'out');
  const prefix = await pinned(0);
  const base = `http://127.0.0.1:${port}`;
  const logBefore = await (await fetch(`${base}/log`)).json();
  await new Promise((resolve, reject) => {
    const [cmd, args] = spawnArgs(prefix, [process.execPath, bin, 'run', scenario, '--target', `${base}/v1`, '--record-chunks', '--out', out, '--quiet', ...extraArgs]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => (code === 0 || code === 99 ? resolve() : reject(new Error(`inferload run exited ${code}`))));
  });
  const log = (await (await fetch(`${base}/log`)).json()).slice(logBefore.length);
  const requests = readFileSync(join(out, 'requests.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.sent_ms !== null)
    .sort((a, b) => a.sent_ms - b.sent_ms);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  if (requests.length !== log.length) throw new Error(`client sent ${requests.length} requests, server logged ${log.length}`);
  const errors = [];
  const worst = [];
  for (let i = 0; i < requests.length; i++) {
    const c = requests[i].chunk_ms ?? [];
    const s = log[i].writes_ms;
    if (c.length !== s.length) throw new Error(`request ${i}: client saw ${c.length} chunks, server wrote ${s.length}`);
    for (let k = 1; k < c.length; k++) {
      const e = Math.abs(c[k] - c[k - 1] - (s[k] - s[k - 1]));
      errors.push(e);
      worst.push({ e, at_ms: c[k] });
    }
  }
  rmSync(dir, { recursive: true, force: true });
  errors.sort((a, b) => a - b);
  worst.sort((a, b) => b.e - a.e);
  return { errors, worst: worst.slice(0, 5), generator: results.generator, requests: requests.length };
}

const server = await startPacedServer(1);
try {
  const durationS = long ? 60 : 20;
  const r = await lightRun({ port: server.port, durationS, rate: 2, tokens: 32 });
  const params = { rate: 2, tokens: 32, itl_ms: 10, duration_s: durationS, requests: r.requests, gaps: r.errors.length };
  report({ bench: 'light_load_gap_error_p99', value: +pct(r.errors, 99).toFixed(3), unit: 'ms', better: 'lower', target: 0.5, params });
  report({ bench: 'light_load_gap_error_max', value: +r.errors[r.errors.length - 1].toFixed(3), unit: 'ms', better: 'lower', target: 2, params: { ...params, p50: +pct(r.errors, 50).toFixed(3), worst_at_ms: r.worst.map((w) => Math.round(w.at_ms)).join('/') } });
  report({ bench: 'light_load_event_loop_lag_p99', value: r.generator.event_loop_lag_p99_ms, unit: 'ms', better: 'lower', target: 1, params: { cpu_ratio: r.generator.cpu_ratio } });
} finally {
  await server.close();
}
