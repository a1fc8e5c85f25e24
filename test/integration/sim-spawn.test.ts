// The simulator in its own process (spawnSimulator, the compiled child) and `inferload sim`
// in the foreground (runSimCommand). Needs `npm run build` first (npm test does it).

import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { simChildPath, spawnSimulator } from '../../src/sim/spawn.js';
import { runSimCommand } from '../../src/sim/main.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function streamTokens(url: string, maxTokens: number): Promise<string> {
  const res = await request(`${url}/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'hello', stream: true, max_tokens: maxTokens, ignore_eos: true }),
  });
  expect(res.statusCode).toBe(200);
  return res.body.text();
}

describe('spawnSimulator', () => {
  it('finds the compiled child', () => {
    expect(existsSync(simChildPath()), `${simChildPath()} missing: run npm run build`).toBe(true);
  });

  it('starts the simulator in a child process and stops it', async () => {
    const sim = await spawnSimulator({ speed: 20, seed: 3 });
    try {
      expect(sim.pid).not.toBe(process.pid);
      expect(isAlive(sim.pid)).toBe(true);
      expect(sim.url).toBe(`http://127.0.0.1:${sim.port}/v1`);
      const health = await request(sim.url.replace(/\/v1$/, '/health'));
      expect(health.statusCode).toBe(200);
      await health.body.dump();
      const body = await streamTokens(sim.url, 5);
      expect(body.match(/^data: \{/gm)).toHaveLength(5);
      expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    } finally {
      await sim.close();
    }
    expect(isAlive(sim.pid)).toBe(false);
  });

  it('rejects with the child’s error when the simulator cannot start', async () => {
    await expect(spawnSimulator({ profile: 'h200' })).rejects.toThrow(/valid profiles: default, tp2/);
  });

  it('the child exits when its parent’s IPC channel closes', async () => {
    const child = fork(simChildPath(), [JSON.stringify({ speed: 20 })], {
      execArgv: [],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.disconnect();
    expect(await exited).toBe(0);
  });
});

describe('runSimCommand', () => {
  it('prints its one line, serves, and stops on abort', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    let listening!: (line: string) => void;
    const printed = new Promise<string>((resolve) => (listening = resolve));
    const done = runSimCommand({
      port: 0,
      speed: 20,
      seed: 1,
      signal: stop.signal,
      write: (line) => {
        lines.push(line);
        listening(line);
      },
    });
    const line = await printed;
    const match = /^inferload sim: listening on (http:\/\/127\.0\.0\.1:\d+\/v1) \(profile default, speed 20, seed 1\)\n$/
      .exec(line);
    expect(match).not.toBeNull();
    const body = await streamTokens(match![1]!, 3);
    expect(body).toContain('data: [DONE]');
    stop.abort();
    await done;
    expect(lines).toHaveLength(1);
  });
});
