// `--workers` on the real binary: out-of-range and non-numeric values exit 104 naming the flag
// and the fix, before anything starts; a valid count runs and is recorded in results.json; a
// second Ctrl-C still writes every request it cut, though the threads report them a moment later.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-cli-workers-'));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function inferload(args: string[], onSpawn?: (pid: number) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp(), stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('inferload run --workers', () => {
  it.each([['0'], ['x'], ['65'], ['1.5'], ['-2']])('rejects --workers %s with exit 104, naming the flag and the fix', async (value) => {
    const r = await inferload(['run', 'smoke', '--workers', value, '--quiet']);
    expect(r.code).toBe(104);
    expect(r.stderr).toContain('--workers');
    expect(r.stderr).toContain(`found "${value}"`);
    expect(r.stderr).toMatch(/integer from 1 to 64/);
  });

  it('rejects it on sweep too', async () => {
    const r = await inferload(['sweep', 'sweep', '--workers', '0']);
    expect(r.code).toBe(104);
    expect(r.stderr).toContain('--workers');
  });

  it('reports a bad --workers together with a bad --checkpoint', async () => {
    const r = await inferload(['run', 'smoke', '--workers', 'x', '--checkpoint', '0', '--quiet']);
    expect(r.code).toBe(104);
    expect(r.stderr).toContain('2 problems');
  });

  it('runs the smoke scenario with 2 client threads and records them', async () => {
    const dir = tmp();
    const r = await inferload(['run', 'smoke', '--requests', '10', '--rate', '20', '--workers', '2', '--quiet', '--out', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('10 sent, 10 completed, 0 failed, 0 dropped');
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results.generator.workers).toBe(2);
    expect(results.run.argv).toContain('--workers');
  }, 30_000);

  it('on a second SIGINT cuts the requests in flight and still writes every one of them', async () => {
    const dir = tmp();
    let pid = 0;
    // 2000-token answers take the simulator over 10 s: every request is still in flight at the signals
    const done = inferload(
      ['run', 'smoke', '--workers', '2', '--rate', '40', '--max-tokens', '2000', '--duration', '60s', '--checkpoint', '0.3', '--quiet', '--out', dir],
      (p) => (pid = p),
    );
    const sent = (): number => {
      try {
        return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).summary.requests.sent as number;
      } catch {
        return 0;
      }
    };
    for (let i = 0; i < 300 && !(existsSync(join(dir, 'results.json')) && sent() >= 10); i++) await sleep(50);
    process.kill(pid, 'SIGINT');
    await sleep(300);
    process.kill(pid, 'SIGINT');
    const r = await done;
    expect(r.code).toBe(105);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results.status).toBe('interrupted');
    const s = results.summary.requests;
    expect(s.sent).toBeGreaterThanOrEqual(10);
    expect(s.completed).toBe(0);
    expect(s.interrupted).toBe(s.sent);
    const lines = readFileSync(join(dir, 'requests.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { error_class: string });
    expect(lines).toHaveLength(s.sent);
    expect(lines.every((l) => l.error_class === 'aborted')).toBe(true);
  }, 30_000);
});
