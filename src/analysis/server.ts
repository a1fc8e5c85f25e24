// The client's view joined with the server's: Pearson correlations of per-window client latency
// with scraped server signals, the client-vs-server token reconciliation, and the GPU count seen.
// Pure functions of `results.windows[]`, so a saved run can be re-analysed without re-running.

import type { WindowResult } from '../metrics/recorder.js';
import type { TokenReconciliation } from '../results/types.js';

/** The client metrics correlated, by the prefix they get in `results.correlation` keys. */
export const CORRELATION_CLIENT_METRICS = {
  ttft_p95: 'ttft_p95_ms',
  itl_p95: 'itl_p95_ms',
  e2e_p95: 'e2e_p95_ms',
} as const satisfies Record<string, keyof WindowResult>;

/** The server signals they are correlated with (canonical names, metrics.md). */
export const CORRELATION_SERVER_SIGNALS = [
  'queue_depth',
  'kv_cache_usage_ratio',
  'requests_running',
  'preemptions_per_s',
  'gpu_utilization_ratio',
] as const;

/** Fewer paired windows than this give no correlation: r of 3 or 4 points is mostly noise. */
export const MIN_CORRELATION_WINDOWS = 5;

export type CorrelationClientMetric = keyof typeof CORRELATION_CLIENT_METRICS;
export type CorrelationServerSignal = (typeof CORRELATION_SERVER_SIGNALS)[number];

/**
 * Pearson's r of two equally long series; null when shorter than 2, when either is constant
 * (r is undefined), or when a value is not finite.
 */
export function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length;
  if (n !== ys.length) throw new RangeError(`series differ in length: ${n} vs ${ys.length}`);
  if (n < 2) return null;
  let sumX = 0;
  let sumY = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return null;
    sumX += x;
    sumY += y;
  }
  // exact test first: a constant series has no correlation, and float rounding of its mean must
  // not manufacture one
  if (xs.every((x) => x === xs[0]) || ys.every((y) => y === ys[0])) return null;
  const meanX = sumX / n;
  const meanY = sumY / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - meanX;
    const dy = ys[i]! - meanY;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Which window each client series is keyed by in `results.correlation`: `arrival`, the window
 * the requests arrived in (intended start), or `end`, the window they ended in.
 */
export type CorrelationAlignment = 'arrival' | 'end';

/**
 * The alignment of each correlated client metric. A request waits behind the queue it found on
 * arrival: keyed by the window it ended in, its TTFT meets the queue of seconds later, and during
 * a drain TTFT still rises while the queue falls, so the two series run in opposite directions
 * (r near 0 on a ramp into overload). TTFT and E2E are therefore taken by arrival window whenever
 * the windows carry `by_arrival` (results from before it existed: by end). ITL stays by end
 * window: a request's chunk gaps span its whole decode, and it ends nearer to them than it began.
 */
export function correlationAlignment(windows: readonly WindowResult[]): Record<CorrelationClientMetric, CorrelationAlignment> {
  const arrival = windows.some((w) => w.by_arrival !== undefined);
  return { ttft_p95: arrival ? 'arrival' : 'end', itl_p95: 'end', e2e_p95: arrival ? 'arrival' : 'end' };
}

/** A window's value of a client metric under the given alignment. */
function clientValue(w: WindowResult, prefix: CorrelationClientMetric, alignment: CorrelationAlignment): number | null | undefined {
  if (alignment === 'arrival') {
    if (prefix === 'ttft_p95') return w.by_arrival?.ttft_p95_ms;
    if (prefix === 'e2e_p95') return w.by_arrival?.e2e_p95_ms;
  }
  return w[CORRELATION_CLIENT_METRICS[prefix]];
}

/**
 * `results.correlation`: Pearson r of each client metric (`ttft_p95`, `itl_p95`, `e2e_p95`) with
 * each server signal, keyed `<client>_vs_<signal>` (e.g. `ttft_p95_vs_queue_depth`), each client
 * series keyed by the window `correlationAlignment` gives (results.correlation_alignment). Only
 * windows that have both values take part; a pair is reported only with at least `minWindows`
 * such windows (default 5) and neither series constant.
 */
export function correlations(
  windows: readonly WindowResult[],
  options: { minWindows?: number } = {},
): Record<string, number> {
  const minWindows = Math.max(2, options.minWindows ?? MIN_CORRELATION_WINDOWS);
  const alignment = correlationAlignment(windows);
  const out: Record<string, number> = {};
  for (const prefix of Object.keys(CORRELATION_CLIENT_METRICS) as CorrelationClientMetric[]) {
    for (const signal of CORRELATION_SERVER_SIGNALS) {
      const xs: number[] = [];
      const ys: number[] = [];
      for (const w of windows) {
        const client = clientValue(w, prefix, alignment[prefix]);
        const server = w.server?.[signal];
        if (client === null || client === undefined || !Number.isFinite(client)) continue;
        if (server === undefined || !Number.isFinite(server)) continue;
        xs.push(client);
        ys.push(server);
      }
      if (xs.length < minWindows) continue;
      const r = pearson(xs, ys);
      if (r !== null) out[`${prefix}_vs_${signal}`] = r;
    }
  }
  return out;
}

/**
 * `results.server.tokens`: the client's output-token total against the server's generation
 * counter over the run. `diff_ratio` = (client − server) / server; 0 when both are 0; null when
 * the server counted nothing but the client did (the ratio is undefined).
 */
export function reconcileTokens(clientOutputTokens: number, serverGenerationTokens: number): TokenReconciliation {
  for (const [name, v] of [
    ['clientOutputTokens', clientOutputTokens],
    ['serverGenerationTokens', serverGenerationTokens],
  ] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
  }
  let diffRatio: number | null;
  if (serverGenerationTokens > 0) diffRatio = (clientOutputTokens - serverGenerationTokens) / serverGenerationTokens;
  else diffRatio = clientOutputTokens === 0 ? 0 : null;
  return { client_output: clientOutputTokens, server_generation: serverGenerationTokens, diff_ratio: diffRatio };
}

/** Distinct GPUs (by UUID, else index) across the windows' per-GPU signals; null when none were seen. */
export function gpuCountFromWindows(windows: readonly WindowResult[]): number | null {
  const seen = new Set<string>();
  for (const w of windows) for (const g of w.gpus ?? []) seen.add(g.uuid ?? `gpu:${g.gpu}`);
  return seen.size > 0 ? seen.size : null;
}
