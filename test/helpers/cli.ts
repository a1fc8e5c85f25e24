// The real binary, spawned in a directory of its own: exit code, stdout and stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));

export const tmp = (prefix = 'inferload-cli-'): string => mkdtempSync(join(tmpdir(), prefix));

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function inferload(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onSpawn?: (pid: number) => void } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd ?? tmp(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    opts.onSpawn?.(child.pid!);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
