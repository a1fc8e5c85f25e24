// Joined analysis: Pearson correlations of client latency with server signals over windows,
// token reconciliation, and the GPU count seen in per-GPU window signals.

import { describe, expect, it } from 'vitest';
import {
  CORRELATION_CLIENT_METRICS,
  CORRELATION_SERVER_SIGNALS,
  correlations,
  gpuCountFromWindows,
  pearson,
  reconcileTokens,
} from '../../../src/analysis/server.js';
import type { WindowResult } from '../../../src/metrics/recorder.js';
import { emptyWindow } from '../../helpers/windows.js';

/** A 1 s window at `t_s` with no traffic, overridden by `extra`. */
function win(t_s: number, extra: Partial<WindowResult> = {}): WindowResult {
  return emptyWindow(t_s, extra);
}

describe('pearson', () => {
  it('is 1 for a perfect positive line, -1 for a negative one', () => {
    expect(pearson([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it('matches a hand-computed value', () => {
    // x = 1..5, y = 2,4,5,4,5: r = 6 / sqrt(10 * 6) = 0.7745966692414834
    expect(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).toBeCloseTo(0.7745966692414834, 12);
  });

  it('is null for a constant series, too few points, or non-finite values', () => {
    expect(pearson([0.1, 0.1, 0.1], [1, 2, 3])).toBeNull();
    expect(pearson([1, 2, 3], [7, 7, 7])).toBeNull();
    expect(pearson([1], [2])).toBeNull();
    expect(pearson([1, 2, NaN], [1, 2, 3])).toBeNull();
    expect(() => pearson([1, 2], [1])).toThrow(RangeError);
  });

  it('stays within [-1, 1] despite rounding', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 0.1 * i + 1e9);
    const r = pearson(xs, xs.map((x) => 3 * x))!;
    expect(r).toBeLessThanOrEqual(1);
    expect(r).toBeGreaterThan(0.999999);
  });
});

describe('correlations', () => {
  it('keys pairs <client>_vs_<signal> and finds TTFT rising with queue depth and KV usage', () => {
    const windows = Array.from({ length: 10 }, (_, i) =>
      win(i, {
        ttft_p95_ms: 100 + 50 * i * i,
        itl_p95_ms: 20 + i,
        e2e_p95_ms: 1000 + 100 * i,
        server: { queue_depth: 2 * i, kv_cache_usage_ratio: 0.05 * i, requests_running: 30 },
      }),
    );
    const r = correlations(windows);
    expect(r.ttft_p95_vs_queue_depth).toBeGreaterThan(0.9);
    expect(r.ttft_p95_vs_kv_cache_usage_ratio).toBeCloseTo(r.ttft_p95_vs_queue_depth!, 12);
    expect(r.itl_p95_vs_queue_depth).toBeCloseTo(1, 12);
    expect(r.e2e_p95_vs_kv_cache_usage_ratio).toBeCloseTo(1, 12);
    // requests_running is constant: no r; preemptions and GPU never seen: no key
    expect(Object.keys(r).sort()).toEqual(
      [
        'e2e_p95_vs_kv_cache_usage_ratio',
        'e2e_p95_vs_queue_depth',
        'itl_p95_vs_kv_cache_usage_ratio',
        'itl_p95_vs_queue_depth',
        'ttft_p95_vs_kv_cache_usage_ratio',
        'ttft_p95_vs_queue_depth',
      ].sort(),
    );
  });

  it('pairs only windows that have both values, and needs at least 5 of them', () => {
    const windows = [
      win(0, { ttft_p95_ms: 100, server: { queue_depth: 1 } }),
      win(1, { ttft_p95_ms: 200, server: {} }),
      win(2, { ttft_p95_ms: null, server: { queue_depth: 50 } }),
      win(3, { ttft_p95_ms: 300, server: { queue_depth: 3 } }),
      win(4, { ttft_p95_ms: 400, server: { queue_depth: 4 } }),
      win(5, { ttft_p95_ms: 500, server: { queue_depth: 5 } }),
    ];
    expect(correlations(windows)).toEqual({});
    const more = [...windows, win(6, { ttft_p95_ms: 600, server: { queue_depth: 6 } })];
    const r = correlations(more);
    // the windows without a pair (1 and 2) would have broken the line
    expect(r.ttft_p95_vs_queue_depth).toBeCloseTo(1, 12);
    expect(correlations(windows, { minWindows: 4 }).ttft_p95_vs_queue_depth).toBeCloseTo(1, 12);
  });

  it('covers the client metrics and server signals the results contract names', () => {
    expect(Object.keys(CORRELATION_CLIENT_METRICS)).toEqual(['ttft_p95', 'itl_p95', 'e2e_p95']);
    expect(CORRELATION_SERVER_SIGNALS).toEqual([
      'queue_depth',
      'kv_cache_usage_ratio',
      'requests_running',
      'preemptions_per_s',
      'gpu_utilization_ratio',
    ]);
    const windows = Array.from({ length: 6 }, (_, i) =>
      win(i, {
        ttft_p95_ms: i,
        itl_p95_ms: i,
        e2e_p95_ms: i,
        server: Object.fromEntries(CORRELATION_SERVER_SIGNALS.map((s) => [s, i])),
      }),
    );
    expect(Object.keys(correlations(windows))).toHaveLength(15);
  });

  it('returns nothing for no windows', () => {
    expect(correlations([])).toEqual({});
  });
});

describe('reconcileTokens', () => {
  it('reports the relative difference of the client to the server counter', () => {
    expect(reconcileTokens(10_100, 10_000)).toEqual({ client_output: 10_100, server_generation: 10_000, diff_ratio: 0.01 });
    expect(reconcileTokens(9_900, 10_000).diff_ratio).toBeCloseTo(-0.01, 12);
    expect(reconcileTokens(512, 512).diff_ratio).toBe(0);
  });

  it('is 0 when neither counted anything, null when only the client did', () => {
    expect(reconcileTokens(0, 0).diff_ratio).toBe(0);
    expect(reconcileTokens(5, 0).diff_ratio).toBeNull();
  });

  it('rejects negative or non-finite counts', () => {
    expect(() => reconcileTokens(-1, 5)).toThrow(/clientOutputTokens/);
    expect(() => reconcileTokens(1, NaN)).toThrow(/serverGenerationTokens/);
  });
});

describe('gpuCountFromWindows', () => {
  it('counts distinct GPUs over all windows, by UUID when there is one', () => {
    const windows = [
      win(0, { gpus: [{ gpu: '0', uuid: 'GPU-a' }] }),
      win(1, { gpus: [{ gpu: '0', uuid: 'GPU-a' }, { gpu: '1', uuid: 'GPU-b' }] }),
      win(2, { gpus: [{ gpu: '0', uuid: 'GPU-c' }] }),
    ];
    expect(gpuCountFromWindows(windows)).toBe(3);
    expect(gpuCountFromWindows([win(0, { gpus: [{ gpu: '0' }, { gpu: '1' }] })])).toBe(2);
    expect(gpuCountFromWindows([win(0)])).toBeNull();
  });
});
