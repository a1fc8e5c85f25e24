// A WindowResult for analysis tests: a 1 s window at `t_s` with no traffic, overridden by `extra`.
import type { WindowResult } from '../../src/metrics/recorder.js';

export function emptyWindow(t_s: number, extra: Partial<WindowResult> = {}): WindowResult {
  return {
    t_s,
    window_s: 1,
    arrivals: 0,
    sent: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    in_flight_max: 0,
    errors: {},
    ttft_p50_ms: null,
    ttft_p95_ms: null,
    ttft_p99_ms: null,
    itl_p50_ms: null,
    itl_p95_ms: null,
    itl_p99_ms: null,
    e2e_p50_ms: null,
    e2e_p95_ms: null,
    e2e_p99_ms: null,
    schedule_lag_p99_ms: null,
    output_tokens: 0,
    output_tokens_per_s: 0,
    request_per_s: 0,
    server: {},
    hdr: { ttft: '', itl: '', e2e: '', schedule_lag: '' },
    ...extra,
  };
}
