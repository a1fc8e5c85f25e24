#!/usr/bin/env node
// inferload's command-line entry: a shim over the compiled CLI (npm run build).
//
// The commands that generate load (run, sweep) run in a child Node process with V8's memory
// reducer off. At light load the reducer sees an idle heap a few seconds into the run and shrinks
// it: incremental marking steps of up to 8 ms and a final pause of 5-25 ms on the thread that
// stamps every chunk (seen with --trace-gc at 2 req/s; bench/light-load.bench.mjs). Only the
// command line can turn it off (v8.setFlagsFromString is too late for it), hence the child. The
// child is in its own process group, so a terminal's Ctrl-C reaches it once, through this
// process; if this process is killed outright, the child dies the same way (see main.ts).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const V8_FLAGS = ['--no-memory-reducer'];
const command = process.argv[2];
const wanted = (command === 'run' || command === 'sweep') && process.env.INFERLOAD_NO_CHILD !== '1';
if (wanted && !V8_FLAGS.every((f) => process.execArgv.includes(f))) {
  const child = spawn(process.execPath, [...V8_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, INFERLOAD_PARENT: String(process.pid) },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(`inferload: could not start the run process: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // end the same way, so whatever waits on this process sees what happened to the run
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(sig);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  const { main } = await import('../dist/cli/main.js');
  await main();
}
