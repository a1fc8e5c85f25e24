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
  const lora = server.adapters.length > 0 ? `, adapters ${server.adapters.join(',')}, max_loras ${server.maxLoras}` : '';
  const settings = `profile ${server.profile.name}, speed ${serverOptions.speed ?? 1}, seed ${serverOptions.seed ?? 1}${tokenizer}${lora}`;
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

/**
 * `inferload sim --adapters a,b --max-loras N` as server options, for the command line to hand
 * over: the names comma-separated (blanks around them dropped), N an integer >= 1. Problems carry
 * the flag as their path, as the CLI reports invalid input.
 */
export function loraFlags(flags: { adapters?: string; maxLoras?: string }): {
  options: Pick<SimServerOptions, 'adapters' | 'maxLoras'>;
  problems: Array<{ path: string; message: string }>;
} {
  const options: Pick<SimServerOptions, 'adapters' | 'maxLoras'> = {};
  const problems: Array<{ path: string; message: string }> = [];
  if (flags.adapters !== undefined) {
    const names = flags.adapters.split(',').map((name) => name.trim());
    if (names.some((name) => name.length === 0)) {
      problems.push({ path: '--adapters', message: `expected adapter names separated by commas, found "${flags.adapters}"` });
    } else if (new Set(names).size !== names.length) {
      problems.push({ path: '--adapters', message: `an adapter is listed twice in "${flags.adapters}"` });
    } else {
      options.adapters = names;
    }
  }
  if (flags.maxLoras !== undefined) {
    const n = Number(flags.maxLoras);
    if (!/^\s*\d+\s*$/.test(flags.maxLoras) || !Number.isInteger(n) || n < 1) {
      problems.push({ path: '--max-loras', message: `expected an integer >= 1, found "${flags.maxLoras}"` });
    } else {
      options.maxLoras = n;
    }
  }
  return { options, problems };
}
