// inferload merge over results with slices: classes, turns and models merged exactly, each
// class's own SLOs judged again on its merged requests, sessions added up.
import { describe, expect, it } from 'vitest';
import { mergeResults, mergeSummaries } from '../../../src/analysis/merge.js';
import { evaluateSlos } from '../../../src/analysis/slo.js';
import { InvalidInputError } from '../../../src/core/errors.js';
import { RequestRecord } from '../../../src/core/record.js';
import type { ScenarioSpec, SloThreshold } from '../../../src/core/types.js';
import { decodeHistogram, summarizeMs } from '../../../src/metrics/hdr.js';
import { LATENCY_METRICS, Recorder } from '../../../src/metrics/recorder.js';
import { buildResult, buildSummary } from '../../../src/results/build.js';
import { sliceResults } from '../../../src/results/slices.js';
import type { RunResult, RunSummary } from '../../../src/results/types.js';

/** request `id`: a `rag` (slow first token) or `chat` class, turn 1 to 3, model `base` or (every 6th) `lora` */
function req(id: number): RequestRecord {
  const tUs = id * 10_000;
  const rag = id % 2 === 1;
  const ttftUs = rag ? 200_000 + ((id * 7919) % 100_000) : 20_000 + ((id * 7919) % 30_000);
  const r = new RequestRecord(id, tUs, 50, false);
  r.className = rag ? 'rag' : 'chat';
  r.turn = 1 + (Math.floor(id / 2) % 3);
  r.model = id % 6 === 0 ? 'lora' : 'base';
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

const t = (threshold: string): SloThreshold => ({ threshold, abortOnFail: false });

/** the scenario's SLOs: the run's, and each class's own */
const RUN_SLO: ScenarioSpec['slo'] = { ttft_ms: [t('p(95)<1000')], error_ratio: [t('rate<0.01')] };
const CLASSES = [
  // judged on chat's requests alone its TTFT p95 is ~50 ms; the whole run's is ~290 ms
  { name: 'chat', weight: 0.5, slo: { ttft_ms: [t('p(95)<100')] } },
  // 150 rag requests a shard over ~9 s: 16.7 req/s alone, 50 req/s merged
  { name: 'rag', weight: 0.5, slo: { ttft_ms: [t('p(95)<400')], request_throughput: [t('avg>40')] } },
];
const SPEC = { slo: RUN_SLO, workload: { classes: CLASSES } } as unknown as ScenarioSpec;

let shards = 0;

/** One process's results over `records`, built as a run builds them (execute.ts): slices, class verdicts in slo[]. */
function resultOf(records: RequestRecord[]): RunResult {
  const rec = new Recorder({ windowS: 1 });
  for (const r of records) {
    rec.onSent(r, 1);
    rec.record(r);
  }
  rec.flush();
  const snapshot = rec.snapshot();
  const facts = { warmupS: 0, arrivalsEndUs: 10e6, openLoop: true };
  const summary = buildSummary(snapshot, facts);
  const { slices, verdicts } = sliceResults(snapshot, SPEC, facts);
  const meta = { id: `x-${++shards}`, scenario: 's', workload: {}, window_s: 1, warmup_s: 0, started_at: '2026-01-01T00:00:00.000Z', ended_at: null, argv: [] } as unknown as RunResult['run'];
  return buildResult({
    status: 'complete',
    statusReason: null,
    meta,
    summary,
    snapshot,
    slo: [...evaluateSlos(SPEC.slo, summary, { windows: snapshot.windows, warmupS: 0 }), ...verdicts],
    generator: { event_loop_lag_p99_ms: 1, event_loop_lag_max_ms: 2, cpu_ratio: 0.1, schedule_lag_p99_ms: 0.1, rss_max_bytes: 1, valid: true, warnings: [] },
    errorSamples: [],
    slices,
  });
}

const ALL = Array.from({ length: 900 }, (_, i) => req(i));
/** the whole run in one process: what the merged shards must equal */
const whole = resultOf(ALL);
/** shard k: every third request (so `lora`, every 6th, is only in shard 0, and shard 0 has no turn 3) */
const shard = (k: number): RunResult => resultOf(ALL.filter((r) => r.id % 3 === k));

/** a summary's counts and percentiles (its `hdr` aside: the same histogram may encode differently) */
function figures(s: RunSummary) {
  return {
    duration_s: s.duration_s,
    requests: s.requests,
    errors: s.errors,
    tokens: { prompt: s.tokens.prompt, output: s.tokens.output, output_usage: s.tokens.output_usage, output_chunks: s.tokens.output_chunks },
    latency: Object.fromEntries(LATENCY_METRICS.map((m) => [m, { ...s.latency_ms[m], hdr: undefined }])),
  };
}

/**
 * a merged summary's throughputs against a run's, to 0.01 %: a merge divides by duration_s,
 * which is rounded to the ms, where a run divides by its exact duration
 */
function expectThroughputs(merged: RunSummary, run: RunSummary, name: string): void {
  for (const [k, v] of Object.entries(run.throughput)) {
    const m = merged.throughput[k as keyof RunSummary['throughput']];
    if (v === null) expect(m, `${name} ${k}`).toBeNull();
    else expect(Math.abs(m! - v), `${name} ${k}`).toBeLessThanOrEqual(1e-4 * v + 1e-3);
  }
}

describe('merging shards with slices', () => {
  const parts = [0, 1, 2].map(shard);
  const merged = mergeResults(parts);

  it('merges every class, turn and model exactly: counts add, percentiles are those of the union', () => {
    expect(Object.keys(merged.classes!)).toEqual(['chat', 'rag']);
    expect(merged.turns!.map((x) => x.turn)).toEqual([1, 2, 3]);
    expect(Object.keys(merged.models!).sort()).toEqual(['base', 'lora']);
    const slices: [string, RunSummary, RunSummary, RunSummary[]][] = [
      ...['chat', 'rag'].map((k): [string, RunSummary, RunSummary, RunSummary[]] => [`class ${k}`, merged.classes![k]!.summary, whole.classes![k]!.summary, parts.map((p) => p.classes![k]!.summary)]),
      ...[1, 2, 3].map((n): [string, RunSummary, RunSummary, RunSummary[]] => [
        `turn ${n}`,
        merged.turns!.find((x) => x.turn === n)!.summary,
        whole.turns!.find((x) => x.turn === n)!.summary,
        parts.flatMap((p) => p.turns!.filter((x) => x.turn === n).map((x) => x.summary)),
      ]),
      ...['base', 'lora'].map((k): [string, RunSummary, RunSummary, RunSummary[]] => [
        `model ${k}`,
        merged.models![k]!.summary,
        whole.models![k]!.summary,
        parts.flatMap((p) => (p.models![k] ? [p.models![k]!.summary] : [])),
      ]),
    ];
    for (const [name, m, w, shardsOf] of slices) {
      // the same as the whole run's slice, down to the throughputs (over the run's duration)
      expect(figures(m), name).toEqual(figures(w));
      expectThroughputs(m, w, name);
      expect(m.requests.completed, name).toBe(shardsOf.reduce((a, s) => a + s.requests.completed, 0));
      // and every percentile that of the shards' histograms added together
      for (const metric of ['ttft', 'itl', 'e2e'] as const) {
        const union = decodeHistogram(shardsOf[0]!.latency_ms[metric].hdr);
        for (const s of shardsOf.slice(1)) union.add(decodeHistogram(s.latency_ms[metric].hdr));
        const u = summarizeMs(union);
        // (a bucket's value capped at the shards' exact maximum, as a run caps it at its own)
        const max = Math.max(...shardsOf.map((s) => s.latency_ms[metric].max!));
        expect(m.latency_ms[metric].max).toBe(max);
        for (const p of ['p50', 'p90', 'p95', 'p99'] as const) expect(m.latency_ms[metric][p], `${name} ${metric} ${p}`).toBe(Math.min(u[p]!, max));
        expect(m.latency_ms[metric].count).toBe(u.count);
      }
    }
    // the slices still add up to the run
    const completed = (xs: { summary: RunSummary }[]): number => xs.reduce((a, x) => a + x.summary.requests.completed, 0);
    expect(completed(Object.values(merged.classes!))).toBe(900);
    expect(completed(merged.turns!)).toBe(900);
    expect(completed(Object.values(merged.models!))).toBe(900);
    expect(merged.summary.requests.completed).toBe(900);
  });

  it('a slice missing from a shard contributes nothing there, and is summarised over the merged run\'s duration', () => {
    expect(parts[0]!.turns!.map((x) => x.turn)).toEqual([1, 2]);
    expect(merged.turns!.find((x) => x.turn === 3)!.summary.requests.completed).toBe(
      parts[1]!.turns!.find((x) => x.turn === 3)!.summary.requests.completed + parts[2]!.turns!.find((x) => x.turn === 3)!.summary.requests.completed,
    );
    expect(parts[1]!.models!.lora).toBeUndefined();
    expect(parts[2]!.models!.lora).toBeUndefined();
    const lora = merged.models!.lora!.summary;
    expect(lora.requests.completed).toBe(parts[0]!.models!.lora!.summary.requests.completed);
    expect(lora.duration_s).toBe(merged.summary.duration_s);
    expect(figures(lora)).toEqual(figures(whole.models!.lora!.summary));
    expectThroughputs(lora, whole.models!.lora!.summary, 'lora');
  });

  it('keeps each class\'s weight', () => {
    expect(merged.classes!.chat!.weight).toBe(0.5);
    expect(merged.classes!.rag!.weight).toBe(0.5);
  });

  it('judges each class\'s own SLOs again on its merged requests, named and tagged as in a run', () => {
    // rag's throughput fails in every shard alone (16.7 req/s) and holds merged (50 req/s)
    for (const p of parts) expect(p.classes!.rag!.slo.find((v) => v.metric === 'request_throughput')!.passed).toBe(false);
    const ragRate = merged.classes!.rag!.slo.find((v) => v.metric === 'request_throughput')!;
    expect(ragRate).toMatchObject({ name: 'class rag: request_throughput: avg>40', class: 'rag', passed: true });
    expect(ragRate.observed).toBeGreaterThan(45);
    // chat's TTFT p95 is judged on chat's requests: it passes, where the whole run's p95 (~290 ms) would fail it
    const chatTtft = merged.classes!.chat!.slo[0]!;
    expect(merged.summary.latency_ms.ttft.p95!).toBeGreaterThan(100);
    expect(chatTtft).toMatchObject({ name: 'class chat: ttft_ms: p(95)<100', class: 'chat', metric: 'ttft_ms', threshold: 'p(95)<100', passed: true });
    expect(chatTtft.observed).toBe(merged.classes!.chat!.summary.latency_ms.ttft.p95);
    // the verdicts are those of the whole run in one process
    expect(merged.classes!.chat!.slo).toEqual(whole.classes!.chat!.slo);
    expect(merged.classes!.rag!.slo).toEqual(whole.classes!.rag!.slo);
  });

  it('keeps the run\'s SLO list to the run\'s own verdicts, with the classes\' after them, each once', () => {
    const run = merged.slo.filter((v) => v.class === undefined);
    expect(run.map((v) => v.name)).toEqual(['ttft_ms: p(95)<1000', 'error_ratio: rate<0.01']);
    // no class threshold judged on the whole run (the old merge added `ttft_ms: p(95)<100` here, failed)
    expect(run.every((v) => v.passed)).toBe(true);
    expect(merged.slo.map((v) => v.name)).toEqual([
      'ttft_ms: p(95)<1000',
      'error_ratio: rate<0.01',
      'class chat: ttft_ms: p(95)<100',
      'class rag: ttft_ms: p(95)<400',
      'class rag: request_throughput: avg>40',
    ]);
    expect(merged.slo.filter((v) => v.class !== undefined)).toEqual([...merged.classes!.chat!.slo, ...merged.classes!.rag!.slo]);
    expect(merged.slo).toEqual(whole.slo);
  });

  it('adds up the sessions, and leaves out the slices no shard has', () => {
    const [a, b] = [shard(0), shard(1)];
    a.sessions = { started: 10, completed: 6, broken: 1, cut: 2, in_progress: 1 };
    b.sessions = { started: 7, completed: 5, broken: 0, cut: 2, in_progress: 0 };
    expect(mergeResults([a, b]).sessions).toEqual({ started: 17, completed: 11, broken: 1, cut: 4, in_progress: 1 });
    const plain = [shard(0), shard(1)];
    for (const p of plain) {
      delete p.classes;
      delete p.turns;
      delete p.models;
      p.slo = p.slo.filter((v) => v.class === undefined);
    }
    const m = mergeResults(plain);
    for (const k of ['classes', 'turns', 'models', 'sessions'] as const) expect(k in m, k).toBe(false);
  });

  it('refuses shards whose classes have different weights (exit 104)', () => {
    const b = shard(1);
    b.classes!.rag!.weight = 0.25;
    expect(() => mergeResults([shard(0), b], ['a.json', 'b.json'])).toThrow(InvalidInputError);
    expect(() => mergeResults([shard(0), b], ['a.json', 'b.json'])).toThrow(/b\.json.*class "rag" has weight 0\.25, a\.json's 0\.5/s);
  });
});

describe('mergeSummaries', () => {
  it('is the run-level merge: the merged run summary is that of the shards\' summaries', () => {
    const parts = [0, 1, 2].map(shard);
    expect(mergeSummaries(parts.map((p) => p.summary))).toEqual(mergeResults(parts).summary);
  });

  it('takes the longest duration unless given one', () => {
    const parts = [0, 1].map(shard);
    const [a, b] = parts.map((p) => p.classes!.rag!.summary) as [RunSummary, RunSummary];
    const longest = Math.max(a.duration_s, b.duration_s);
    expect(mergeSummaries([a, b]).duration_s).toBe(longest);
    const over20 = mergeSummaries([a, b], 20);
    expect(over20.duration_s).toBe(20);
    expect(over20.throughput.request_per_s).toBe(Math.round(((a.requests.completed + b.requests.completed) / 20) * 1000) / 1000);
  });
});
