import { describe, expect, it } from 'vitest';
import { mergeResults } from '../../../src/analysis/merge.js';
import { RequestRecord } from '../../../src/core/record.js';
import { Recorder } from '../../../src/metrics/recorder.js';
import { buildResult, buildSummary } from '../../../src/results/build.js';
import type { RunResult } from '../../../src/results/types.js';

function req(id: number, tUs: number, ttftUs: number): RequestRecord {
  const r = new RequestRecord(id, tUs, 50, false);
  r.sentUs = tUs + 50;
  r.firstChunkUs = r.firstTokenUs = tUs + ttftUs;
  for (let i = 0; i < 8; i++) {
    r.chunkUs.push(tUs + ttftUs + i * (5000 + (id % 7) * 300));
    r.chunkChars.push(3);
  }
  r.endUs = r.chunkUs[7]! + 100;
  r.outputTokensUsage = 8;
  r.ok = true;
  return r;
}

function resultOf(records: RequestRecord[]): RunResult {
  const rec = new Recorder({ windowS: 1 });
  for (const r of records) {
    rec.onSent(r, 1);
    rec.record(r);
  }
  rec.flush();
  const snapshot = rec.snapshot();
  const summary = buildSummary(snapshot, { warmupS: 0, arrivalsEndUs: 10e6, openLoop: true });
  const meta = { id: 'x', scenario: 's', workload: {}, window_s: 1, argv: [] } as unknown as RunResult['run'];
  return buildResult({
    status: 'complete',
    statusReason: null,
    meta,
    summary,
    snapshot,
    slo: [],
    generator: { event_loop_lag_p99_ms: 1, event_loop_lag_max_ms: 2, cpu_ratio: 0.1, schedule_lag_p99_ms: 0.1, rss_max_bytes: 1, valid: true, warnings: [] },
    errorSamples: [],
  });
}

describe('merging shards', () => {
  it('is exact: percentiles of the merged shards equal those of the whole run', () => {
    const all: RequestRecord[] = [];
    for (let i = 0; i < 900; i++) all.push(req(i, i * 10_000, 20_000 + ((i * 7919) % 300_000)));
    const whole = resultOf(all);
    const shards = [0, 1, 2].map((k) => resultOf(all.filter((r) => r.id % 3 === k)));
    const merged = mergeResults(shards);
    for (const m of ['ttft', 'itl', 'tpot', 'e2e'] as const) {
      for (const p of ['p50', 'p90', 'p99', 'p999', 'max'] as const) expect(merged.summary.latency_ms[m][p]).toBe(whole.summary.latency_ms[m][p]);
      expect(merged.summary.latency_ms[m].count).toBe(whole.summary.latency_ms[m].count);
    }
    expect(merged.summary.requests.completed).toBe(900);
    expect(merged.summary.tokens.output).toBe(900 * 8);
    // windows of the same second merge into one with every request
    expect(merged.windows.reduce((a, w) => a + w.completed, 0)).toBe(900);
    expect(merged.windows.length).toBe(whole.windows.length);
    for (let i = 0; i < merged.windows.length; i++) expect(merged.windows[i]!.ttft_p95_ms).toBe(whole.windows[i]!.ttft_p95_ms);
  });

  it('refuses results of different scenarios (exit 104)', () => {
    const a = resultOf([req(0, 0, 1000)]);
    const b = resultOf([req(1, 0, 1000)]);
    b.run = { ...b.run, scenario: 'other' };
    expect(() => mergeResults([a, b], ['a.json', 'b.json'])).toThrow(/b\.json.*scenario "other"/s);
  });
});
