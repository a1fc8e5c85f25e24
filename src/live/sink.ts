// What a run tells the live outputs while it goes on (the Prometheus endpoint and remote-write,
// the live dashboard): every request as it ends, the engine's state on every tick, and each
// checkpoint's partial results. The run calls these on its own thread; a sink must never block
// it (no synchronous I/O, bounded work per call) nor throw.
import type { RequestRecord } from '../core/record.js';
import type { RunResult } from '../results/types.js';

/** The engine's state at one tick (every ~100 ms of the run). */
export interface LiveTick {
  /** µs since the run's start (the run clock) */
  nowUs: number;
  /** wall-clock ms of `nowUs` */
  epochMs: number;
  inFlight: number;
  sent: number;
  dropped: number;
  ended: number;
  failed: number;
}

export interface LiveSink {
  /** a request ended: completed, failed, cut or dropped (r.dropped) */
  requestEnded(r: RequestRecord): void;
  tick(t: LiveTick): void;
  /** a checkpoint's partial results (every --checkpoint seconds), and the final results at the end */
  checkpoint(result: RunResult): void;
  /** flushes what it still holds (bounded in time) and lets go of its sockets */
  close(): Promise<void>;
}

/** The labels every live series of a run carries. */
export interface LiveLabels {
  scenario: string;
  run_id: string;
  /** "0/1" for a whole run, "i/N" for a shard */
  shard: string;
}
