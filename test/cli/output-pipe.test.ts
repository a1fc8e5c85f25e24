// What a command prints reaches a pipe whole: writes to a pipe are asynchronous in Node, and a
// process that exits right after writing cut them (`inferload scrape --json | wc -c` read 64 or
// 128 KiB of a 2 MB answer).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/inferload.js', import.meta.url));

describe('output to a pipe', () => {
  it('scrape --json of 30 000 GPU series arrives whole through a pipe, and the exit code with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-pipe-'));
    const file = join(dir, 'many.prom');
    const lines = ['# TYPE DCGM_FI_DEV_GPU_UTIL gauge'];
    for (let i = 0; i < 30_000; i++) lines.push(`DCGM_FI_DEV_GPU_UTIL{gpu="${i}",UUID="GPU-${String(i).padStart(8, '0')}",Hostname="h"} ${i % 100}`);
    writeFileSync(file, lines.join('\n') + '\n');
    const child = spawn(process.execPath, [BIN, 'scrape', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    // a slow reader: the pipe fills and the writer must wait for it
    child.stdout.on('data', (c: Buffer) => {
      chunks.push(c);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 1);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text.length).toBeGreaterThan(1_000_000);
    const parsed = JSON.parse(text) as unknown;
    expect(JSON.stringify(parsed)).toContain('GPU-00029999');
    expect(code).toBe(0);
  }, 30_000);
});
