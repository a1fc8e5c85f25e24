// The real binary at its limits (issue 13): a load it cannot keep up with still stops on the first
// SIGINT and writes a bounded requests.jsonl; running out of file descriptors counts failures as
// `connect` and still writes results; a bad --out is refused (104) before anything starts. Every
// server is on loopback and stalls on purpose; every run is a few seconds.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DROPS_WRITTEN_EACH } from '../../src/results/writer.js';
import { sleep, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-limits-'));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The binary in a directory of its own; `shell`: a shell command run first in the same process (`ulimit -n 128`). */
function inferload(args: string[], opts: { onSpawn?: (pid: number) => void; shell?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = opts.shell
      ? spawn('bash', ['-c', `${opts.shell}; exec "$0" "$@"`, process.execPath, BIN, ...args], { cwd: tmp(), stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [BIN, ...args], { cwd: tmp(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    opts.onSpawn?.(child.pid!);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const readJsonl = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** A server that lists a model, has no /metrics, and never answers a completion. */
let stalling: ScriptedServer;
beforeAll(async () => {
  stalling = await startScriptedServer((req, res) => {
    if (req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"data":[{"id":"m"}]}');
    } else if (req.url === '/metrics') {
      res.writeHead(404);
      res.end();
    }
    // a completion: held open until the client gives up
  });
});
afterAll(async () => {
  await stalling.close();
});

describe('a load the client cannot keep up with', () => {
  it('stops within the grace of the first SIGINT at the highest rate with the in-flight cap full; drops past the first thousand are summarised', async () => {
    const d = tmp();
    let pid = 0;
    const done = inferload(
      ['run', 'smoke', '--target', stalling.baseUrl, '--rate', '100000', '--concurrency', '1', '--duration', '60s', '--set', 'load.gracefulStop=500ms', '--quiet', '--out', d],
      { onSpawn: (p) => (pid = p) },
    );
    // every arrival but the first is dropped: wait until the summaries have begun
    const file = join(d, 'requests.jsonl');
    while (!existsSync(file) || readJsonl(file).length <= DROPS_WRITTEN_EACH + 2) await sleep(100);
    const signalledAt = Date.now();
    process.kill(pid, 'SIGINT');
    const r = await done;
    // the grace (500 ms) and the writing of the results, not minutes of catching up
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
    expect(r.code).toBe(105);
    const results = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    expect(results.status).toBe('interrupted');
    const s = results.summary.requests;
    // tens of thousands a second on a quiet machine; far fewer on a loaded CI one, and the signal
    // comes once the summaries have begun: well past the first thousand either way
    expect(s.dropped).toBeGreaterThan(5 * DROPS_WRITTEN_EACH);
    const lines = readJsonl(file);
    const dropped = lines.filter((l) => l.dropped === true);
    // the first thousand a line each, then at most a few lines a second, each with its count
    expect(dropped.slice(0, DROPS_WRITTEN_EACH).every((l) => l.dropped_count === undefined)).toBe(true);
    const summaries = dropped.slice(DROPS_WRITTEN_EACH);
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries.length).toBeLessThan(200);
    for (const l of summaries) {
      expect(l.dropped_count).toBeGreaterThan(0);
      expect(l.last_id as number).toBeGreaterThanOrEqual(l.id as number);
      expect(Math.floor((l.last_intended_start_ms as number) / 1000)).toBe(Math.floor((l.intended_start_ms as number) / 1000));
    }
    const count = dropped.reduce((n, l) => n + ((l.dropped_count as number | undefined) ?? 1), 0);
    expect(count).toBe(s.dropped + s.warmup_dropped);
    expect(statSync(file).size).toBeLessThan(1_000_000);
  });
});

describe.runIf(process.platform === 'linux')('running out of file descriptors', () => {
  it('warns before the run, counts the connections it could not open as connect failures, and writes results', async () => {
    const d = tmp();
    const scenario = join(d, 'many-users.yaml');
    writeFileSync(scenario, 'name: many-users\nload: {executor: constant-vus, vus: 300, duration: 1s, gracefulStop: 500ms}\n');
    const r = await inferload(['run', scenario, '--target', stalling.baseUrl, '--quiet', '--out', join(d, 'out')], { shell: 'ulimit -n 128' });
    expect(r.stderr).toContain('load.vus (300) may hold 300 connections at once');
    expect(r.stderr).toContain('this process may open 128 (ulimit -n)');
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).not.toContain('EMFILE: too many open files, uv_');
    // the first requests all failed (the later ones could not connect): the target looks down
    expect(r.code).toBe(107);
    const results = JSON.parse(readFileSync(join(d, 'out', 'results.json'), 'utf8'));
    expect(results.summary.errors.connect).toBeGreaterThan(0);
    expect(results.error_samples.some((e: { error_class: string; message: string }) => e.error_class === 'connect' && e.message.includes('EMFILE'))).toBe(true);
  });
});

describe('--checkpoint within what a run can honour', () => {
  it.each(['0.001', '1e-9', '3e6', 'Infinity', '-1', 'x'])('refuses --checkpoint %s with 104, naming the bounds', async (value) => {
    const t0 = Date.now();
    const r = await inferload(['run', 'smoke', '--checkpoint', value, '--quiet', '--out', join(tmp(), 'out')]);
    expect(r.code).toBe(104);
    expect(r.stderr).toContain(`--checkpoint: expected a number of seconds from 0.1 (the run's 100 ms tick, when a checkpoint starts) to 2073600 (24d), found "${value}"`);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

describe('a bad --out is refused before the run starts', () => {
  const file = join(tmp(), 'a-file');
  writeFileSync(file, 'x');
  const cases: [name: string, out: string, message: string][] = [
    ['an existing file', file, 'is a file, not a directory'],
    ['/dev/null', '/dev/null', 'is a file, not a directory'],
    ['an empty string', '', 'expected a directory'],
    ['a path through a file', join(file, 'run'), 'a part of its path is a file'],
    // mkdir there answers ENOENT under a directory that exists: Node's recursive mkdir looped forever
    ...(process.platform === 'linux' ? [['a place where nothing can be created', '/proc/inferload-out', 'cannot create /proc/inferload-out'] as [string, string, string]] : []),
  ];
  it.each(cases)('run and sweep: %s', async (_name, out, message) => {
    for (const command of ['run', 'sweep']) {
      const t0 = Date.now();
      const r = await inferload([command, 'smoke', '--quiet', '--out', out]);
      expect(r.code).toBe(104);
      expect(r.stderr).toContain('--out');
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain('internal error');
      // refused before the simulator starts
      expect(Date.now() - t0).toBeLessThan(5_000);
    }
  });

  it('run: a directory where one of the run\'s files goes (a report was not written after the run, exit 0)', async () => {
    for (const file of ['results.json', 'report.html', 'report.md', 'junit.xml']) {
      const out = join(tmp(), 'out');
      mkdirSync(join(out, file), { recursive: true });
      const t0 = Date.now();
      const r = await inferload(['run', 'smoke', '--quiet', '--out', out]);
      expect(r.code, file).toBe(104);
      expect(r.stderr, file).toContain(`--out: ${join(out, file)} is a directory: inferload writes a file there`);
      expect(Date.now() - t0).toBeLessThan(5_000);
    }
  });
});
