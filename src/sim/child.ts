// Entry point of the simulator in its own process (forked by spawn.ts): options as JSON in argv[2],
// `{type: 'ready', port, url}` over IPC once listening; exits on SIGTERM/SIGINT or when the parent goes.

import { startSimServer } from './server.js';
import type { SimServer, SimServerOptions } from './server.js';

/** Messages the child sends to its parent. */
export type SimChildMessage =
  | { type: 'ready'; port: number; url: string }
  | { type: 'error'; message: string };

function send(message: SimChildMessage): void {
  if (process.send && process.connected) process.send(message);
}

async function main(): Promise<void> {
  let server: SimServer | undefined;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const closing = server ? server.close() : Promise.resolve();
    void closing.finally(() => process.exit(0));
  };
  // never outlive the parent: the IPC channel closes when it exits, however it exits
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    const options = JSON.parse(process.argv[2] ?? '{}') as SimServerOptions;
    server = await startSimServer(options);
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  send({ type: 'ready', port: server.port, url: server.url });
}

void main();
