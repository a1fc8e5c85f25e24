// The live progress line on a TTY. It reads counters once a second on its own timer and never
// sits in the measuring path.
import type { Engine } from '../engine/engine.js';
import type { Recorder } from '../metrics/recorder.js';

export function startProgress(
  engine: Engine,
  recorder: Recorder,
  totalS: number,
  now: () => number,
  stream: NodeJS.WriteStream = process.stderr,
): () => void {
  let lastSent = 0;
  let lastT = now();
  const timer = setInterval(() => {
    const t = now();
    const elapsedS = t / 1e6;
    const rate = ((engine.sent - lastSent) * 1e6) / Math.max(1, t - lastT);
    lastSent = engine.sent;
    lastT = t;
    const w = recorder.latestWindow();
    const ttft = w ? `TTFT p50 ${fmtMs(w.ttft_p50_ms)} p99 ${fmtMs(w.ttft_p99_ms)}` : 'TTFT -';
    const total = Number.isFinite(totalS) ? `/${totalS.toFixed(0)}s` : 's';
    const line = `  ${elapsedS.toFixed(0)}${total}  ${rate.toFixed(1)} req/s  in flight ${engine.inFlight}  sent ${engine.sent}  dropped ${engine.dropped}  ${ttft}  errors ${engine.failed}`;
    stream.write(`\r\x1b[2K${line}`);
  }, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    stream.write('\r\x1b[2K');
  };
}

function fmtMs(v: number | null): string {
  return v === null ? '-' : `${v.toFixed(0)}ms`;
}
