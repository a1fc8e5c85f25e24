// `inferload sim`: the simulator in this process, in the foreground, until SIGINT/SIGTERM.

import { startSimServer } from './server.js';
import type { SimServerOptions } from './server.js';

/** Options of `inferload sim`, plus hooks for tests. */
export interface SimCommandOptions extends SimServerOptions {
  /** where the one status line goes (default: stdout) */
  write?: (line: string) => void;
  /** stops the simulator like a signal would */
  signal?: AbortSignal;
}

/**
 * Start the simulator, print `inferload sim: listening on URL (profile P, speed S, seed N)` and
 * keep serving until SIGINT/SIGTERM (or `signal`); resolves once closed.
 */
export async function runSimCommand(options: SimCommandOptions = {}): Promise<void> {
  const { write = (line: string) => void process.stdout.write(line), signal, ...serverOptions } = options;
  const server = await startSimServer(serverOptions);
  const tokenizer = serverOptions.tokenizer !== undefined ? `, tokenizer ${serverOptions.tokenizer}` : '';
  const settings = `profile ${server.profile.name}, speed ${serverOptions.speed ?? 1}, seed ${serverOptions.seed ?? 1}${tokenizer}`;
  write(`inferload sim: listening on ${server.url} (${settings})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop);
  });
  await server.close();
}
