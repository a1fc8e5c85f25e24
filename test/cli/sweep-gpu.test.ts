// `inferload sweep` against an external target whose GPU exporter is scraped: capacity per GPU
// takes the exporter's GPU count when the scenario declares none. The target is the simulator in
// its own process (the compiled child: needs a build), serving DCGM-style `/gpu/metrics`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSimulator, type SpawnedSimulator } from '../../src/sim/spawn.js';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));

function inferload(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('inferload sweep: GPU count from the exporter', () => {
  let sim: SpawnedSimulator;
  beforeAll(async () => {
    // two simulated GPUs, so that per GPU differs from the whole
    sim = await spawnSimulator({ profile: 'tp2' });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('divides the capacity by the GPUs the exporter saw (gpu_count_source exporter) and gives each step its headroom', async () => {
    const d = mkdtempSync(join(tmpdir(), 'inferload-sweep-gpu-'));
    const origin = new URL(sim.url).origin;
    const r = await inferload(
      [
        'sweep',
        'smoke',
        '--quiet',
        '--target',
        sim.url,
        '--metrics',
        `${origin}/metrics`,
        '--metrics',
        `${origin}/gpu/metrics`,
        '--max-tokens',
        '4',
        '--set',
        'sweep.step=1s',
        '--set',
        'sweep.stepWarmup=0s',
        '--set',
        'sweep.maxSteps=2',
        '--set',
        'sweep.startRate=4',
        '--out',
        join(d, 'out'),
      ],
      d,
    );
    expect(r.stderr).not.toContain('Error');
    const { server, capacity } = JSON.parse(readFileSync(join(d, 'out', 'results.json'), 'utf8'));
    expect(server.gpu_count).toBe(2);
    expect(capacity.sustainable_request_per_s).toBe(8);
    expect(capacity.gpu_count).toBe(2);
    expect(capacity.gpu_count_source).toBe('exporter');
    expect(capacity.per_gpu.request_per_s).toBe(4);
    expect(capacity.warnings).toEqual([]);
    expect(capacity.steps.map((s: { headroom: unknown }) => s.headroom)).toEqual([
      { ratio: 0.5, factor: 2 },
      { ratio: 0, factor: 1 },
    ]);
    expect(capacity.headroom_note).toContain('lower bound');
    expect(r.stdout).toContain('50 % headroom (2.00×)');
    expect(r.code).toBe(0);
  }, 30_000);
});
