#!/usr/bin/env node
// inferload's command-line entry: a shim over the compiled CLI (npm run build).
//
// The commands that generate load (run, sweep) run in a child Node process with V8's memory
// reducer off. At light load the reducer sees an idle heap a few seconds into the run and shrinks
// it: incremental marking steps of up to 8 ms and a final pause of 5-25 ms on the thread that
// stamps every chunk (seen with --trace-gc at 2 req/s; bench/light-load.bench.mjs). Only the
// command line can turn it off (v8.setFlagsFromString is too late for it), hence the child.
// The child is detached (its own session), so signals reach it once, through this process:
// SIGINT/SIGTERM/SIGHUP/SIGQUIT are passed on, Ctrl-Z stops both and `fg` continues both; if
// this process is killed outright, the child dies the same way (followParent in cli/main.ts).
// Under a debugger (--inspect...) everything runs here instead, where the debugger is attached.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const V8_FLAGS = ['--no-memory-reducer'];
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
const command = process.argv[2];
const debugging = process.execArgv.some((a) => a.startsWith('--inspect'));
const wanted = (command === 'run' || command === 'sweep') && process.env.INFERLOAD_NO_CHILD !== '1' && !debugging;
if (wanted && !V8_FLAGS.every((f) => process.execArgv.includes(f))) {
  const child = spawn(process.execPath, [...V8_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, INFERLOAD_PARENT: String(process.pid) },
  });
  for (const sig of FORWARDED) process.on(sig, () => child.kill(sig));
  // the child is alone in its session, where the kernel drops SIGTSTP: stop it outright
  process.on('SIGTSTP', () => {
    child.kill('SIGSTOP');
    process.kill(process.pid, 'SIGSTOP');
  });
  process.on('SIGCONT', () => child.kill('SIGCONT'));
  child.on('error', (err) => {
    process.stderr.write(`inferload: could not start the run process: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // end the same way, so whatever waits on this process sees what happened to the run
      for (const sig of [...FORWARDED, 'SIGTSTP', 'SIGCONT']) process.removeAllListeners(sig);
      process.kill(process.pid, signal);
      // a signal this process would survive still ends it with the shell's code for it
      setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 200);
    } else process.exit(code ?? 1);
  });
} else {
  const { main } = await import('../dist/cli/main.js');
  await main();
}
