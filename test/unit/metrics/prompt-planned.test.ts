// Planned prompt tokens against the server's usage.prompt_tokens: the summary's counts, the
// nearest-rank percentiles of the relative error, and shards merged by their distributions.
import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/core/record.js';
import { Recorder } from '../../../src/metrics/recorder.js';
import { mergePromptPlanned, newPromptPlannedCounts, notePromptPlanned, summarizePromptPlanned } from '../../../src/metrics/prompt-planned.js';
import { buildResult, buildSummary } from '../../../src/results/build.js';
import { mergeResults } from '../../../src/analysis/merge.js';
import type { RunResult } from '../../../src/results/types.js';

describe('prompt tokens: planned vs server', () => {
  it('all equal: no mismatch, every error 0', () => {
    const c = newPromptPlannedCounts();
    for (let i = 0; i < 50; i++) notePromptPlanned(c, 100 + i, 100 + i);
    expect(summarizePromptPlanned(c)).toEqual({
      requests_compared: 50,
      mismatches: 0,
      relative_error_p50: 0,
      relative_error_p99: 0,
      relative_error_max: 0,
      mean_difference_tokens: 0,
      relative_errors: { '0': 50 },
    });
  });

  it('mismatches: |planned − server| / server, nearest rank, 3 significant digits; requests without usage not compared', () => {
    const c = newPromptPlannedCounts();
    for (let i = 0; i < 97; i++) notePromptPlanned(c, 200, 200);
    notePromptPlanned(c, 190, 200); // 0.05
    notePromptPlanned(c, 210, 200); // 0.05
    notePromptPlanned(c, 100, 300); // 0.6666… → 0.667
    notePromptPlanned(c, 100, null);
    const s = summarizePromptPlanned(c);
    expect(s.requests_compared).toBe(100);
    expect(s.mismatches).toBe(3);
    expect(s.relative_error_p50).toBe(0);
    // rank 99 of 100: the 99th smallest is the second 0.05
    expect(s.relative_error_p99).toBe(0.05);
    expect(s.relative_error_max).toBe(0.667);
    expect(s.mean_difference_tokens).toBe(-2);
    expect(s.relative_errors).toEqual({ '0': 97, '0.05': 2, '0.667': 1 });
  });

  it('none compared: nulls', () => {
    expect(summarizePromptPlanned(newPromptPlannedCounts())).toMatchObject({ requests_compared: 0, mismatches: 0, relative_error_p50: null, relative_error_p99: null, relative_error_max: null, mean_difference_tokens: null });
  });

  it('shards merge to what one run of all their requests gives', () => {
    const whole = newPromptPlannedCounts();
    const a = newPromptPlannedCounts();
    const b = newPromptPlannedCounts();
    for (let i = 0; i < 300; i++) {
      const planned = 100 + (i % 7);
      const server = 100 + (i % 5);
      notePromptPlanned(whole, planned, server);
      notePromptPlanned(i % 2 === 0 ? a : b, planned, server);
    }
    expect(mergePromptPlanned([summarizePromptPlanned(a), summarizePromptPlanned(b)])).toEqual(summarizePromptPlanned(whole));
  });

  it('the recorder compares the measured completed requests; the summary carries it', () => {
    const recorder = new Recorder({ windowS: 1 });
    const done = (id: number, planned: number, usage: number | null, warmup = false): void => {
      const r = new RequestRecord(id, id * 1000, planned, warmup);
      r.sentUs = id * 1000;
      r.firstChunkUs = r.firstTokenUs = id * 1000 + 500;
      r.chunkUs = [id * 1000 + 500];
      r.chunkChars = [4];
      r.endUs = id * 1000 + 900;
      r.httpStatus = 200;
      r.ok = true;
      r.promptTokensUsage = usage;
      r.outputTokensUsage = 1;
      recorder.onSent(r, 1);
      recorder.record(r);
    };
    done(0, 128, 128);
    done(1, 128, 130);
    done(2, 128, null);
    done(3, 64, 70, true); // warm-up: not measured
    const summary = buildSummary(recorder.snapshot(), { warmupS: 0, arrivalsEndUs: 4000, openLoop: true });
    expect(summary.tokens.prompt_planned_vs_server).toMatchObject({ requests_compared: 2, mismatches: 1, relative_error_max: 0.0154, mean_difference_tokens: -1 });
  });

  it('inferload merge adds the shards\' distributions: the merged figure is the whole run\'s', () => {
    const resultOf = (ids: number[], n: number): RunResult => {
      const rec = new Recorder({ windowS: 1 });
      for (const id of ids) {
        const r = new RequestRecord(id, id * 1000, 100 + (id % 9), false);
        r.sentUs = id * 1000;
        r.firstChunkUs = r.firstTokenUs = id * 1000 + 500;
        r.chunkUs = [id * 1000 + 500];
        r.chunkChars = [4];
        r.endUs = id * 1000 + 900;
        r.ok = true;
        r.promptTokensUsage = 100 + (id % 7);
        r.outputTokensUsage = 1;
        rec.onSent(r, 1);
        rec.record(r);
      }
      rec.flush();
      const snapshot = rec.snapshot();
      const meta = { id: `x-${n}`, scenario: 's', workload: {}, window_s: 1, warmup_s: 0, started_at: '2026-01-01T00:00:00.000Z', ended_at: null, argv: [] } as unknown as RunResult['run'];
      return buildResult({
        status: 'complete',
        statusReason: null,
        meta,
        summary: buildSummary(snapshot, { warmupS: 0, arrivalsEndUs: 1e6, openLoop: true }),
        snapshot,
        slo: [],
        generator: { event_loop_lag_p99_ms: 1, event_loop_lag_max_ms: 2, cpu_ratio: 0.1, schedule_lag_p99_ms: 0.1, rss_max_bytes: 1, valid: true, warnings: [] },
        errorSamples: [],
      });
    };
    const ids = Array.from({ length: 400 }, (_, i) => i);
    const whole = resultOf(ids, 0).summary.tokens.prompt_planned_vs_server!;
    const merged = mergeResults([resultOf(ids.filter((i) => i % 2 === 0), 1), resultOf(ids.filter((i) => i % 2 === 1), 2)]);
    expect(whole.mismatches).toBeGreaterThan(0);
    expect(merged.summary.tokens.prompt_planned_vs_server).toEqual(whole);
  });
});
