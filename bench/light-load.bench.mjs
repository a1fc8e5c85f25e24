// Light load, clock-free: one stream at a time (2 req/s, 32 tokens written 10 ms apart) through
// the whole `inferload run` (checkpoints, window closing, scraping, the pacer, requests.jsonl),
// against a server that logs when it wrote each chunk. The client's gaps between chunk stamps
// are compared with the server's gaps between writes: the error of a gap is what the client
// (its event loop, its garbage collector, the machine's scheduler) added to it, and no two clocks
// need to agree. Beside it, in the same run and against the same server, the floors: a bare
// undici client on Node (a stamp per read, nothing else), a raw socket on Node's event loop (no
// HTTP client at all) and, when /usr/bin/python3 is there, a blocking Python http.client reader. Targets: gap error p99 <= 0.5 ms, none above 2 ms, the
// run's own event-loop lag p99 under 1 ms (beside it, the same probe in an idle Node process: the
// machine's floor for that figure). `--rounds N` (default 3) interleaves the readers N times and
// reports medians with their ranges: a noisy minute of the machine then falls on every reader.
// `--pin` pins the client to core 0 and the server to core 1 (with every thread of the client on
// one core, V8's background threads take its slices).
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, long, report, pinned } from './lib.mjs';

const pin = args.includes('--pin');

const here = fileURLToPath(new URL('.', import.meta.url));
const bin = fileURLToPath(new URL('../bin/inferload.js', import.meta.url));

function pct(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function startPacedServer(core) {
  const child = spawn(...spawnArgs(pin ? await pinned(core) : [], [process.execPath, join(here, 'paced-log-server.mjs'), '0', '10']), {
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
  const prefix = pin ? await pinned(0) : [];
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
  rmSync(dir, { recursive: true, force: true });
  return { ...gapErrors(requests.map((r) => r.chunk_ms ?? []), log), generator: results.generator };
}

/** |client gap - server gap| for every pair of consecutive chunks, sorted. */
function gapErrors(clientStamps, log) {
  if (clientStamps.length !== log.length) throw new Error(`client made ${clientStamps.length} requests, server logged ${log.length}`);
  const errors = [];
  for (let i = 0; i < clientStamps.length; i++) {
    const c = clientStamps[i];
    const s = log[i].writes_ms;
    if (c.length !== s.length) throw new Error(`request ${i}: client saw ${c.length} chunks, server wrote ${s.length}`);
    for (let k = 1; k < c.length; k++) {
      const e = Math.abs(c[k] - c[k - 1] - (s[k] - s[k - 1]));
      errors.push(e);
    }
  }
  errors.sort((a, b) => a - b);
  return { errors, requests: clientStamps.length };
}

/** The floor on Node: undici's dispatch, a stamp per read, the same schedule, one stream at a time. */
async function bareNodeRun({ port, durationS, rate, tokens }) {
  const base = `http://127.0.0.1:${port}`;
  const before = (await (await fetch(`${base}/log`)).json()).length;
  const pool = new Pool(base, { connections: 1 });
  const body = JSON.stringify({ model: 'paced', stream: true, max_tokens: tokens, messages: [{ role: 'user', content: 'x' }] });
  const all = [];
  const t0 = performance.now();
  for (let i = 0; i < rate * durationS; i++) {
    const due = t0 + (i * 1000) / rate;
    while (performance.now() < due) await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now() - 1)));
    const stamps = [];
    await new Promise((resolve, reject) =>
      pool.dispatch(
        { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body },
        {
          onRequestStart() {},
          onResponseStart() {},
          onResponseData(_c, chunk) {
            const t = performance.now();
            const text = chunk.toString('latin1');
            for (let at = text.indexOf('"content":" tok"'); at !== -1; at = text.indexOf('"content":" tok"', at + 1)) stamps.push(t);
          },
          onResponseEnd: resolve,
          onResponseError: (_c, err) => reject(err),
        },
      ),
    );
    all.push(stamps);
  }
  await pool.close();
  const log = (await (await fetch(`${base}/log`)).json()).slice(before);
  return gapErrors(all, log);
}

/** The floor of Node's event loop alone: a raw socket, the request written by hand, a stamp per read. */
async function rawNodeRun({ port, durationS, rate, tokens }) {
  const base = `http://127.0.0.1:${port}`;
  const before = (await (await fetch(`${base}/log`)).json()).length;
  const body = JSON.stringify({ model: 'paced', stream: true, max_tokens: tokens, messages: [{ role: 'user', content: 'x' }] });
  const sock = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((resolve) => sock.once('connect', resolve));
  let stamps = [];
  let done = () => {};
  sock.on('data', (chunk) => {
    const t = performance.now();
    const text = chunk.toString('latin1');
    for (let at = text.indexOf('"content":" tok"'); at !== -1; at = text.indexOf('"content":" tok"', at + 1)) stamps.push(t);
    if (text.includes('[DONE]')) done();
  });
  const all = [];
  const t0 = performance.now();
  for (let i = 0; i < rate * durationS; i++) {
    const due = t0 + (i * 1000) / rate;
    while (performance.now() < due) await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now() - 1)));
    stamps = [];
    const ended = new Promise((resolve) => (done = resolve));
    sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await ended;
    all.push(stamps);
  }
  sock.destroy();
  const log = (await (await fetch(`${base}/log`)).json()).slice(before);
  return gapErrors(all, log);
}

/** The blocking Python reader (bench/python/blocking_reader.py), when /usr/bin/python3 exists. */
async function pythonRun({ port, durationS, rate, tokens }) {
  if (spawnSync('/usr/bin/python3', ['-c', 'import http.client'], { stdio: 'ignore' }).status !== 0) return null;
  const base = `http://127.0.0.1:${port}`;
  const before = (await (await fetch(`${base}/log`)).json()).length;
  const out = await new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [join(here, 'python', 'blocking_reader.py'), '127.0.0.1', String(port), String(rate), String(durationS), String(tokens)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`python reader exited ${code}`))));
  });
  const log = (await (await fetch(`${base}/log`)).json()).slice(before);
  return gapErrors(out.stamps_ms, log);
}

/** The event-loop lag an idle Node process reads with the same probe as the run (the floor of that figure on this machine). */
async function idleLagFloor(seconds) {
  const { LagProbe } = await import('../dist/engine/lag-probe.js');
  const probe = new LagProbe();
  await new Promise((r) => setTimeout(r, 300));
  probe.reset();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const out = { p99: probe.percentileMs(99), max: probe.maxMs() };
  probe.stop();
  return out;
}

const roundsArg = args.indexOf('--rounds');
const rounds = roundsArg >= 0 ? Math.max(1, Number(args[roundsArg + 1])) : 3;
const server = await startPacedServer(1);
try {
  const durationS = long ? 60 : 20;
  const load = { port: server.port, durationS, rate: 2, tokens: 32 };
  // rounds interleave the four readers, so that a noisy minute of the machine falls on all of them
  const per = { run: [], bare: [], raw: [], py: [], lag: [], lagMax: [], cpu: [], idleLag: [] };
  let requests = 0;
  let gaps = 0;
  for (let i = 0; i < rounds; i++) {
    const r = await lightRun(load);
    const bare = await bareNodeRun(load);
    const raw = await rawNodeRun(load);
    const py = await pythonRun(load);
    const idle = await idleLagFloor(5);
    requests = r.requests;
    gaps = r.errors.length;
    const q = (e) => ({ p99: pct(e, 99), max: e.at(-1), p50: pct(e, 50) });
    per.run.push(q(r.errors));
    per.bare.push(q(bare.errors));
    per.raw.push(q(raw.errors));
    if (py) per.py.push(q(py.errors));
    per.lag.push(r.generator.event_loop_lag_p99_ms);
    per.lagMax.push(r.generator.event_loop_lag_max_ms);
    per.cpu.push(r.generator.cpu_ratio);
    per.idleLag.push(idle.p99);
    process.stderr.write(
      `round ${i + 1}/${rounds}: inferload p99/max ${per.run.at(-1).p99.toFixed(3)}/${per.run.at(-1).max.toFixed(3)} ms, lag p99 ${r.generator.event_loop_lag_p99_ms} ms; ` +
        `bare undici ${per.bare.at(-1).p99.toFixed(3)}/${per.bare.at(-1).max.toFixed(3)}, raw socket ${per.raw.at(-1).p99.toFixed(3)}/${per.raw.at(-1).max.toFixed(3)}` +
        (py ? `, python ${per.py.at(-1).p99.toFixed(3)}/${per.py.at(-1).max.toFixed(3)}` : '') +
        `; idle Node lag p99 ${idle.p99?.toFixed(3)} ms\n`,
    );
  }
  const med = (xs) => {
    const v = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
    return v.length === 0 ? null : +v[Math.floor((v.length - 1) / 2)].toFixed(3);
  };
  const span = (xs) => {
    const v = xs.filter((x) => x !== null && Number.isFinite(x));
    return v.length === 0 ? 'n/a' : `${Math.min(...v).toFixed(2)}-${Math.max(...v).toFixed(2)}`;
  };
  const params = { rate: 2, tokens: 32, itl_ms: 10, duration_s: durationS, rounds, requests, gaps, pinned: pin, statistic: 'median of rounds' };
  const floors = {
    bare_node_p99: med(per.bare.map((x) => x.p99)),
    bare_node_max: med(per.bare.map((x) => x.max)),
    raw_socket_p99: med(per.raw.map((x) => x.p99)),
    raw_socket_max: med(per.raw.map((x) => x.max)),
    raw_socket_p99_range: span(per.raw.map((x) => x.p99)),
    ...(per.py.length > 0 && { python_p99: med(per.py.map((x) => x.p99)), python_max: med(per.py.map((x) => x.max)), python_p99_range: span(per.py.map((x) => x.p99)) }),
  };
  report({ bench: 'light_load_gap_error_p99', value: med(per.run.map((x) => x.p99)), unit: 'ms', better: 'lower', target: 0.5, params: { ...params, range: span(per.run.map((x) => x.p99)), p50: med(per.run.map((x) => x.p50)), ...floors } });
  report({ bench: 'light_load_gap_error_max', value: med(per.run.map((x) => x.max)), unit: 'ms', better: 'lower', target: 2, params: { ...params, range: span(per.run.map((x) => x.max)), ...floors } });
  report({ bench: 'light_load_gap_error_p99_vs_raw_socket', value: +(med(per.run.map((x) => x.p99)) / med(per.raw.map((x) => x.p99))).toFixed(2), unit: 'x', better: 'lower', params });
  report({ bench: 'light_load_gap_error_p99_vs_bare_node', value: +(med(per.run.map((x) => x.p99)) / med(per.bare.map((x) => x.p99))).toFixed(2), unit: 'x', better: 'lower', params });
  report({ bench: 'light_load_event_loop_lag_p99', value: med(per.lag), unit: 'ms', better: 'lower', target: 1, params: { range: span(per.lag), max: med(per.lagMax), cpu_ratio: med(per.cpu), idle_node_p99: med(per.idleLag), idle_node_p99_range: span(per.idleLag) } });
} finally {
  await server.close();
}
