// Messages between the run's thread (dashboard.ts) and the dashboard's worker thread
// (dashboard-thread.ts). A checkpoint carries the results without their windows, and only the
// windows that changed since the last one (closed windows are immutable objects in the recorder:
// a new object at an index is a new or merged window), stripped of what no chart reads (their
// encoded histograms): the run's thread copies a few hundred bytes per checkpoint, not the run.
import type { WindowResult } from '../metrics/recorder.js';
import type { RunResult } from '../results/types.js';
import type { LiveProgress } from './dashboard-state.js';

export interface DashboardThreadData {
  host: string;
  port: number;
  title: string;
  maxClients?: number;
}

/** A window as the charts read it: no histograms (`hdr` left empty, `by_arrival` dropped). */
export type LiveWindow = WindowResult;

export type ToDashboard =
  | { type: 'progress'; progress: LiveProgress }
  | {
      type: 'checkpoint';
      /** the results without `windows` */
      result: Omit<RunResult, 'windows'>;
      /** how many windows the results have */
      windows: number;
      /** [index, window] for every window that is new at its index */
      changed: [number, LiveWindow][];
    }
  | { type: 'close'; graceMs: number };

export type FromDashboard =
  | { type: 'listening'; url: string }
  | { type: 'error'; message: string }
  | { type: 'log'; line: string }
  /** pages open now (sent when it changes) */
  | { type: 'pages'; count: number }
  | { type: 'closed' };

const NO_HDR = { ttft: '', itl: '', e2e: '', schedule_lag: '' } as const;

/** A window without what no chart reads. */
export function liveWindow(w: WindowResult): LiveWindow {
  const { hdr: _hdr, by_arrival: _arrival, ...rest } = w;
  return { ...rest, hdr: { ...NO_HDR } };
}

/** The run's side: which windows changed since the last checkpoint sent. */
export class WindowDiff {
  private sent: WindowResult[] = [];

  diff(windows: readonly WindowResult[]): [number, LiveWindow][] {
    const changed: [number, LiveWindow][] = [];
    for (let i = 0; i < windows.length; i++) if (this.sent[i] !== windows[i]) changed.push([i, liveWindow(windows[i]!)]);
    this.sent = windows.slice();
    return changed;
  }
}

/** The thread's side: the windows as of the last checkpoint. */
export class WindowMirror {
  private readonly windows: LiveWindow[] = [];

  apply(length: number, changed: readonly [number, LiveWindow][]): LiveWindow[] {
    this.windows.length = Math.min(this.windows.length, length);
    for (const [i, w] of changed) this.windows[i] = w;
    if (this.windows.length !== length) throw new Error(`dashboard: window mirror out of step (${this.windows.length} of ${length})`);
    return this.windows.slice();
  }
}
