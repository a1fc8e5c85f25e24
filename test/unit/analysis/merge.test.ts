import { describe, expect, it } from 'vitest';
import { computeErrorBudget } from '../../../src/analysis/error-budget.js';
import { mergeResults } from '../../../src/analysis/merge.js';
import { ExitCode, InvalidInputError } from '../../../src/core/errors.js';
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

let shards = 0;

/** One shard's result: its own run id, started with the others (shards run together). */
function resultOf(records: RequestRecord[]): RunResult {
  const rec = new Recorder({ windowS: 1 });
  for (const r of records) {
    rec.onSent(r, 1);
    rec.record(r);
  }
  rec.flush();
  const snapshot = rec.snapshot();
  const summary = buildSummary(snapshot, { warmupS: 0, arrivalsEndUs: 10e6, openLoop: true });
  const meta = { id: `x-${++shards}`, scenario: 's', workload: {}, window_s: 1, warmup_s: 0, started_at: '2026-01-01T00:00:00.000Z', ended_at: null, argv: [] } as unknown as RunResult['run'];
  return buildResult({
    status: 'complete',
    statusReason: null,
    meta,
    summary,
    snapshot,
    slo: [],
    // each shard a process of its own: its peak RSS is its own (merge refuses one run's results twice)
    generator: { event_loop_lag_p99_ms: 1, event_loop_lag_max_ms: 2, cpu_ratio: 0.1, schedule_lag_p99_ms: 0.1, rss_max_bytes: 1_048_576 + shards, valid: true, warnings: [] },
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

  describe("the error budget at the shards' own availability SLO", () => {
    /** a shard whose run judged `failed` of `completed + failed` requests, its budget at `availability` */
    function shard(completed: number, failed: number, availability?: number): RunResult {
      const r = resultOf([req(0, 0, 1000)]);
      r.summary.requests = { ...r.summary.requests, completed, failed };
      if (availability !== undefined) r.error_budget = computeErrorBudget(r, { availabilitySlo: availability });
      return r;
    }

    it('two shards at 99.99 % merge at 99.99 % (burn rate 769), not at the default 99.9 % (76.9)', () => {
      const merged = mergeResults([shard(4616, 384, 0.9999), shard(4615, 385, 0.9999)]);
      expect(merged.error_budget!.availability_slo).toBe(0.9999);
      expect(merged.error_budget!.error_ratio).toBe(0.0769);
      expect(merged.error_budget!.burn_rate).toBeCloseTo(769, 6);
      expect(merged.error_budget!.budget_minutes).toBeCloseTo(4.32, 9);
    });

    it('takes the SLO from the shards that carry one; none carrying one is the default 99.9 %', () => {
      // a checkpoint's results (status running) carry no error budget
      expect(mergeResults([shard(990, 10), shard(990, 10, 0.99)]).error_budget!.availability_slo).toBe(0.99);
      expect(mergeResults([shard(990, 10), shard(990, 10)]).error_budget).toMatchObject({ availability_slo: 0.999, burn_rate: 10 });
    });

    it('refuses shards judged at different SLOs (exit 104), naming both values', () => {
      const shards = [shard(990, 10, 0.9999), shard(990, 10), shard(990, 10, 0.999)];
      let err: unknown;
      try {
        mergeResults(shards, ['a.json', 'b.json', 'c.json']);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).exitCode).toBe(ExitCode.invalidInput);
      expect((err as InvalidInputError).problems).toEqual([
        {
          path: 'c.json',
          message:
            'its error budget is at 99.9 % availability (error_budget.availability_slo 0.999), a.json\'s at 99.99 % (0.9999): shards of one run share their errorBudget.availability',
        },
      ]);
    });
  });
});

describe('throughput SLOs of merged shards', () => {
  /** a shard judged on `request_throughput: min>60`: every other request of one every 10 ms for 10 s */
  function shard(k: number): RunResult {
    const recs: RequestRecord[] = [];
    for (let i = 0; i < 1000; i++) if (i % 2 === k) recs.push(req(i, i * 10_000, 20_000));
    const r = resultOf(recs);
    r.run.warmup_s = 0;
    r.slo = [{ name: 'request_throughput: min>60', metric: 'request_throughput', threshold: 'min>60', observed: null, passed: false, abort_on_fail: false }];
    return r;
  }

  it('are judged over the merged windows: each shard alone is at ~50 req/s, together at ~100', () => {
    const alone = mergeResults([shard(0)]).slo.find((s) => s.metric === 'request_throughput')!;
    expect(alone.observed).toBeLessThan(51);
    expect(alone.passed).toBe(false);
    const merged = mergeResults([shard(0), shard(1)]);
    const v = merged.slo.find((s) => s.metric === 'request_throughput')!;
    // the first window holds the pipeline filling (~56 ms per request): 94, the others 100
    expect(v.observed).toBe(94);
    expect(v.passed).toBe(true);
  });

  it('on window grids that differ, fail with no data rather than judge windows holding one shard', () => {
    const offset = shard(1);
    for (const w of offset.windows) w.t_s += 0.5;
    const merged = mergeResults([shard(0), offset]);
    const v = merged.slo.find((s) => s.metric === 'request_throughput')!;
    expect(v).toMatchObject({ observed: null, passed: false });
  });
});
