// Starts the simulator in a child process (so its CPU never distorts the client's clocks) and
// stops it again. The child is the compiled dist/sim/child.js, also when running from sources.

import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SimChildMessage } from './child.js';
import type { SimServerOptions } from './server.js';

/** A simulator running in its own process. */
export interface SpawnedSimulator {
  /** OpenAI base URL, e.g. `http://127.0.0.1:PORT/v1` */
  url: string;
  port: number;
  pid: number;
  /** SIGTERM the child (SIGKILL after 5 s) and resolve once it exited */
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const KILL_AFTER_MS = 5_000;
const STDERR_KEEP_CHARS = 4_000;

/** Where the compiled child entry point is: next to this file in dist/, or dist/ from src/. */
export function simChildPath(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../dist/sim/child.js', here) : new URL('./child.js', here);
  return fileURLToPath(url);
}

/**
 * Fork the simulator and resolve once it listens. Rejects when the child is missing, exits
 * before it is ready (with its error or the tail of its stderr), or is not ready within 10 s.
 */
export async function spawnSimulator(options: SimServerOptions = {}): Promise<SpawnedSimulator> {
  const childPath = simChildPath();
  if (!existsSync(childPath)) {
    throw new Error(`simulator entry point not found at ${childPath}; build first (npm run build)`);
  }
  const child = fork(childPath, [JSON.stringify(options)], {
    execArgv: [], // the parent's loaders/flags (vitest, --inspect) must not leak into the child
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_KEEP_CHARS);
  });

  const ready = await new Promise<{ port: number; url: string }>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const fail = (message: string): void => {
      cleanup();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new Error(message));
    };
    const onMessage = (raw: unknown): void => {
      const m = raw as SimChildMessage;
      if (m.type === 'ready') {
        cleanup();
        resolve({ port: m.port, url: m.url });
      } else if (m.type === 'error') {
        fail(`simulator failed to start: ${m.message}`);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      const tail = stderrTail.trim();
      fail(
        `simulator process exited before it was ready (${signal ?? `code ${code}`})` + (tail ? `:\n${tail}` : ''),
      );
    };
    const onError = (err: Error): void => fail(`simulator process failed: ${err.message}`);
    const timer = setTimeout(
      () => fail(`simulator did not become ready within ${READY_TIMEOUT_MS / 1000} s`),
      READY_TIMEOUT_MS,
    );
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });

  // The child must not keep the parent alive; it exits by itself when the IPC channel closes.
  child.unref();
  child.channel?.unref();
  unrefStream(child.stderr);

  return {
    url: ready.url,
    port: ready.port,
    pid: child.pid ?? -1,
    close: () => stopChild(child),
  };
}

function unrefStream(stream: unknown): void {
  const s = stream as { unref?: () => void } | null;
  s?.unref?.();
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
