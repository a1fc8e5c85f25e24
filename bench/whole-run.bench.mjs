// Whole-run efficiency: CPU-seconds of one `inferload run` process (start-up, the run, results
// and reports included) per 100 k content chunks, against the built-in simulator in its own
// process on its own core: 64 users, 2 000 requests of 256 tokens (`--quick`: 500). Beside it,
// the same load from a Python asyncio/aiohttp client built like the common benchmark clients
// (bench/python/aiohttp_client.py, Debian's python3-aiohttp), when that is installed, and the
// ratio of the two. Also the fixed cost: `inferload --help`, and a run of 1 request.
// The CPU of a child is read from /proc/self/stat (children's user+system time, counted when it
// has exited and been waited for), so nothing in this process is counted.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, report, pinned } from './lib.mjs';
import { startServer } from './driver.mjs';

const bin = fileURLToPath(new URL('../bin/inferload.js', import.meta.url));
const pyClient = fileURLToPath(new URL('./python/aiohttp_client.py', import.meta.url));
const quick = args.includes('--quick');
const REQUESTS = quick ? 500 : 2000;
const USERS = 64;
const TOKENS = 256;
const PROMPT_WORDS = 128;

/** user+system CPU seconds of this process's waited-for children so far */
function childrenCpuS() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields after the name: state is [0]; cutime and cstime are the 16th and 17th fields overall
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

async function timedChild(argv) {
  const prefix = await pinned(0);
  const all = [...prefix, ...argv];
  const before = childrenCpuS();
  const t0 = performance.now();
  const { code, stdout } = await new Promise((resolve) => {
    const child = spawn(all[0], all.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (c) => resolve({ code: c, stdout: out }));
  });
  return { code, stdout, cpuS: childrenCpuS() - before, wallS: (performance.now() - t0) / 1000 };
}

const dir = mkdtempSync(join(tmpdir(), 'inferload-whole-'));
const scenario = join(dir, 'whole.yaml');
writeFileSync(
  scenario,
  [
    'name: whole-run',
    'seed: 1',
    'warmup: 0s',
    'load:',
    '  executor: constant-vus',
    `  vus: ${USERS}`,
    '  duration: 1h',
    '  gracefulStop: 60s',
    'workload:',
    `  promptTokens: {dist: fixed, value: ${PROMPT_WORDS}}`,
    `  outputTokens: {dist: fixed, value: ${TOKENS}}`,
    '',
  ].join('\n'),
);
const server = await startServer({ core: 1, sim: true });
try {
  // the fixed cost: a command that does nothing, and a run of one request
  const help = await timedChild([process.execPath, bin, '--help']);
  report({ bench: 'fixed_cost_help', value: +help.cpuS.toFixed(3), unit: 'cpu-s', better: 'lower', params: { wall_s: +help.wallS.toFixed(2) } });
  const one = await timedChild([process.execPath, bin, 'run', scenario, '--target', server.url, '--requests', '1', '--quiet', '--out', join(dir, 'one')]);
  report({ bench: 'fixed_cost_run_1_request', value: +one.cpuS.toFixed(3), unit: 'cpu-s', better: 'lower', params: { wall_s: +one.wallS.toFixed(2), exit: one.code } });

  const run = await timedChild([process.execPath, bin, 'run', scenario, '--target', server.url, '--requests', String(REQUESTS), '--quiet', '--out', join(dir, 'run')]);
  const results = JSON.parse(readFileSync(join(dir, 'run', 'results.json'), 'utf8'));
  const chunks = results.summary.tokens.output_chunks;
  const params = { users: USERS, requests: REQUESTS, tokens: TOKENS, completed: results.summary.requests.completed, chunks, exit: run.code, wall_s: +run.wallS.toFixed(1) };
  report({ bench: 'whole_run_cpu_per_100k_chunks', value: +((run.cpuS / chunks) * 1e5).toFixed(3), unit: 'cpu-s', better: 'lower', params: { ...params, cpu_s: +run.cpuS.toFixed(2) } });
  report({ bench: 'whole_run_chunks_per_cpu_s', value: Math.round(chunks / run.cpuS), unit: 'chunks/cpu-s', better: 'higher', params });

  const hasAiohttp = spawnSync('/usr/bin/python3', ['-c', 'import aiohttp'], { stdio: 'ignore' }).status === 0;
  if (!hasAiohttp) {
    process.stdout.write('python reference: skipped (needs /usr/bin/python3 with python3-aiohttp: apt-get install python3-aiohttp)\n');
  } else {
    const model = (await (await fetch(`${server.url}/models`)).json()).data[0].id;
    const py = await timedChild(['/usr/bin/python3', pyClient, server.url, model, String(USERS), String(REQUESTS), String(TOKENS), String(PROMPT_WORDS)]);
    const out = JSON.parse(py.stdout.trim().split('\n').pop());
    report({ bench: 'whole_run_python_aiohttp_chunks_per_cpu_s', value: Math.round(out.chunks / py.cpuS), unit: 'chunks/cpu-s', better: 'higher', params: { requests: REQUESTS, ok: out.ok, chunks: out.chunks, cpu_s: +py.cpuS.toFixed(2), wall_s: +py.wallS.toFixed(1) } });
    report({
      bench: 'whole_run_vs_python_aiohttp',
      value: +((chunks / run.cpuS) / (out.chunks / py.cpuS)).toFixed(2),
      unit: 'x',
      better: 'higher',
      target: 3,
      params: { inferload_cpu_s: +run.cpuS.toFixed(2), python_cpu_s: +py.cpuS.toFixed(2) },
    });
  }
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
