// How long the main thread takes to answer an event: what delays the stamp of every chunk.
//
// Node's own monitorEventLoopDelay cannot say it below a millisecond: it measures how late a
// libuv timer fires, and libuv keeps time in whole milliseconds and sleeps in epoll_wait for
// whole milliseconds, so an idle process already shows a p99 of ~1 ms and values down to
// -1.7 ms (measured: 15 s of an idle Node 20 on the 2-core machine, p99 1.07 ms, min -1.68 ms).
// A run at light load would be flagged for a delay that no read ever saw.
//
// Here a second thread wakes every 50 ms (Atomics.wait, microsecond precision), takes the time
// of the one monotonic clock both threads share (process.hrtime) and posts it to the main
// thread; the main thread records how long the message waited for it. That is the delay an
// arriving chunk meets: a message is an event on the main loop like a socket read, so a loop
// blocked by a callback, a garbage collection or a thread kept from its CPU delays both alike.
// The second thread is started without a module graph (eval of a few lines). Wake-ups are dear
// on a 2-core VM: the probe thread's timed wake costs ~0.17 ms of CPU and a message ~0.2 ms
// (measured: a thread waking every 50 ms, 3.4 ms of CPU a second; posting too, 8 ms), so the
// probe runs every 50 ms: 20 samples a second, 1 200 a minute, at ~1 % of a core. Node's
// monitorEventLoopDelay at its 10 ms resolution cost as much or more on the same machine (6-12 ms
// of CPU a second: 100 wake-ups of the main thread a second).
import { Worker } from 'node:worker_threads';
import { newHistogram, recordUs, type Histogram } from '../metrics/hdr.js';

const EVERY_MS = 50;

const PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const stop = new Int32Array(workerData.stop);
const hr = () => { const [s, ns] = process.hrtime(); return s * 1e6 + ns / 1e3; };
let next = hr() + workerData.everyUs;
for (;;) {
  const wait = (next - hr()) / 1e3;
  if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
  if (Atomics.load(stop, 0) !== 0) break;
  parentPort.postMessage(hr());
  // the next probe on the grid; a thread kept from its CPU for longer starts again from now
  next = Math.max(next + workerData.everyUs, hr());
}
`;

/** monotonic µs, the clock the probe thread stamps with */
function hrUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

export class LagProbe {
  private readonly worker: Worker | null;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private histogram: Histogram = newHistogram();
  private maxUs = 0;
  private stopped = false;

  constructor(everyMs = EVERY_MS) {
    let worker: Worker | null = null;
    try {
      worker = new Worker(PROBE, {
        eval: true,
        workerData: { everyUs: everyMs * 1000, stop: this.stopFlag.buffer },
        // the probe needs no more than a small heap; keep it from growing one
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
        stdout: false,
        stderr: false,
      });
      worker.on('message', (sentUs: number) => {
        const lag = Math.max(0, hrUs() - sentUs);
        // 1 µs is the histogram's floor: a message handled at once counts as 1 µs
        recordUs(this.histogram, Math.max(1, lag));
        if (lag > this.maxUs) this.maxUs = lag;
      });
      // a probe that cannot run (no threads, out of memory) leaves the figure unknown, never the run
      worker.on('error', () => undefined);
      worker.unref();
    } catch {
      worker = null;
    }
    this.worker = worker;
  }

  /** whether the probe runs: without it the lag is unknown */
  get running(): boolean {
    return this.worker !== null && !this.stopped;
  }

  /** counts from now */
  reset(): void {
    this.histogram = newHistogram();
    this.maxUs = 0;
  }

  /** probes answered so far */
  get count(): number {
    return this.histogram.totalCount;
  }

  /** the lag at percentile p, in ms; null before any probe was answered */
  percentileMs(p: number): number | null {
    return this.count === 0 ? null : this.histogram.getValueAtPercentile(p) / 1000;
  }

  /** the largest lag, in ms (exact, not the histogram's bucket); null before any probe */
  maxMs(): number | null {
    return this.count === 0 ? null : this.maxUs / 1000;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.stopFlag, 0, 1);
    // the thread ends at its next wake-up (within 50 ms); terminate does not wait for it
    void this.worker?.terminate().catch(() => undefined);
  }
}
