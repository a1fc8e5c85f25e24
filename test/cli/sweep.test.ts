// `inferload sweep`, the real binary: the run options a CI job writes for both commands reach
// every step, and the ones that make no sense for a sweep are refused with the reason (exit 104).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-sweep-'));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function inferload(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd: tmp(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('inferload sweep (the real binary)', () => {
  it('refuses --rate and --requests with exit 104, the reasons and what to use instead, before starting anything', async () => {
    const d = tmp();
    const r = await inferload(['sweep', 'smoke', '--quiet', '--strict', '--rate', '5', '--requests', '10', '--out', join(d, 'out')]);
    expect(r.code).toBe(104);
    expect(r.stderr).not.toContain('unknown option');
    expect(r.stderr).toContain('--rate: the sweep chooses the rates itself');
    expect(r.stderr).toContain('--set sweep.startRate=');
    expect(r.stderr).toContain('--requests:');
    expect(r.stderr).toContain('--set sweep.step=');
    expect(existsSync(join(d, 'out'))).toBe(false);
  });

  it('takes --quiet, --strict, --api-key-env, --checkpoint and --record-chunks, and every step gets them', async () => {
    const d = tmp();
    const r = await inferload(
      [
        'sweep',
        'smoke',
        '--quiet',
        '--strict',
        '--api-key-env',
        'SWEEP_TEST_KEY',
        '--checkpoint',
        '1',
        '--record-chunks',
        '--max-tokens',
        '4',
        '--set',
        'sweep.step=2s',
        '--set',
        'sweep.stepWarmup=0s',
        '--set',
        'sweep.maxSteps=2',
        '--set',
        'sweep.startRate=2',
        '--out',
        d,
      ],
      { SWEEP_TEST_KEY: 'sk-sweep-test-0000' },
    );
    expect(r.stderr).not.toContain('unknown option');
    const steps = readdirSync(d).filter((f) => f.startsWith('step-')).sort();
    expect(steps).toEqual(['step-01-2rps', 'step-02-4rps']);
    let generatorLimited = false;
    for (const step of steps) {
      const results = JSON.parse(readFileSync(join(d, step, 'results.json'), 'utf8'));
      expect(results.run.target.api_key_env).toBe('SWEEP_TEST_KEY');
      expect(results.run.argv).toContain('--strict');
      generatorLimited ||= results.generator.valid === false;
      const lines = readFileSync(join(d, step, 'requests.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(Array.isArray(JSON.parse(l).chunk_ms)).toBe(true);
    }
    // --strict: 107 exactly when a step's generator was the bottleneck; otherwise the verdict
    const sweep = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
    expect(r.code).toBe(generatorLimited ? 107 : sweep.capacity.sustainable_request_per_s === null ? 99 : 0);
    expect(r.stdout).toContain('inferload sweep');
  }, 60_000);
});
