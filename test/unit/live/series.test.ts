// The live series: what each request adds (metrics.md's definitions, warm-up kept apart), the
// exposition as the repo's own parser and promtool read it, bounded labels, and the remote-write
// body (protobuf + snappy) decoding back to the same series.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { decodeWriteRequest, encodeWriteRequest, encodeWriteRequestSliced, writeRequestOf } from '../../../src/live/remote-write.js';
import { E2E_BUCKETS_S, ITL_BUCKETS_S, LiveSeries, MAX_LABEL_VALUES, OTHER, SCHEDULE_LAG_BUCKETS_S, TTFT_BUCKETS_S } from '../../../src/live/series.js';
import { parseExposition, type MetricFamily, type Sample } from '../../../src/scrape/parser.js';
import { completed, dropped, failed, fedRun, interrupted, verdict } from '../../helpers/live.js';

const LABELS = { scenario: 'smoke', run_id: 'run-1', shard: '0/1' };
const PROMTOOL = '/usr/bin/promtool';

function parsed(s: LiveSeries): Map<string, MetricFamily> {
  const r = parseExposition(s.exposition().toString('utf8'));
  expect(r.problems).toEqual([]);
  expect(r.format).toBe('prometheus');
  return new Map(r.families.map((f) => [f.name, f]));
}

function samples(f: MetricFamily | undefined, name: string, labels: Record<string, string> = {}): Sample[] {
  return (f?.samples ?? []).filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
}

function sum(xs: Sample[]): number {
  return xs.reduce((a, x) => a + x.value, 0);
}

describe('live series', () => {
  it('uses vLLM’s bucket layouts', () => {
    // vllm/v1/metrics/loggers.py: time_to_first_token_seconds, inter_token_latency_seconds, e2e_request_latency_seconds
    expect(TTFT_BUCKETS_S).toEqual([0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]);
    expect(ITL_BUCKETS_S).toEqual([0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]);
    expect(E2E_BUCKETS_S).toEqual([0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]);
  });

  it('counts requests by outcome and error class, warm-up apart, with the run’s labels and class/model where the record has them', () => {
    const s = new LiveSeries(LABELS);
    const run = fedRun();
    for (const r of run.records) s.requestEnded(r);
    s.setInFlight(4);
    const fam = parsed(s);
    const req = fam.get('inferload_requests_total')!;
    expect(req.type).toBe('counter');
    expect(sum(samples(req, 'inferload_requests_total'))).toBe(run.measured);
    for (const [outcome, n] of Object.entries(run.byOutcome)) expect(sum(samples(req, 'inferload_requests_total', { outcome }))).toBe(n);
    expect(sum(samples(req, 'inferload_requests_total', { outcome: 'failed', error_class: 'http_5xx' }))).toBe(6);
    expect(sum(samples(req, 'inferload_requests_total', { outcome: 'failed', error_class: 'timeout' }))).toBe(4);
    expect(sum(samples(req, 'inferload_requests_total', { outcome: 'interrupted', error_class: 'aborted' }))).toBe(3);
    expect(sum(samples(req, 'inferload_requests_total', { outcome: 'dropped', error_class: 'none' }))).toBe(7);
    expect(sum(samples(req, 'inferload_requests_total', { outcome: 'completed', class: 'a' }))).toBe(90);
    expect(sum(samples(req, 'inferload_requests_total', { outcome: 'completed', model: 'm1' }))).toBe(60);
    for (const x of req.samples) {
      expect(x.labels).toMatchObject(LABELS);
      expect(x.labels.class === 'a' || x.labels.class === 'b').toBe(true);
    }
    // a record without a model has no model label (not an empty one)
    expect(req.samples.some((x) => !('model' in x.labels))).toBe(true);
    const warm = fam.get('inferload_warmup_requests_total')!;
    expect(sum(samples(warm, 'inferload_warmup_requests_total', { outcome: 'completed' }))).toBe(5);
    expect(samples(fam.get('inferload_in_flight_requests'), 'inferload_in_flight_requests')[0]!.value).toBe(4);
    // tokens: completed measured requests only (120 prompt tokens and 8 output tokens each)
    expect(sum(samples(fam.get('inferload_prompt_tokens_total'), 'inferload_prompt_tokens_total'))).toBe(180 * 120);
    expect(sum(samples(fam.get('inferload_output_tokens_total'), 'inferload_output_tokens_total'))).toBe(180 * 8);
  });

  it('observes TTFT, ITL, TPOT and E2E of completed requests, schedule lag of every sent one, in seconds', () => {
    const s = new LiveSeries(LABELS);
    // TTFT 30 ms, 5 chunks 20 ms apart: ITL 4 × 20 ms, TPOT (80 ms + 50 µs) / 4, E2E 110.05 ms, lag 100 µs
    s.requestEnded(completed(0, 0, 30_000, 5, 20_000));
    s.requestEnded(failed(1, 0, 'http_5xx')); // lag 200 µs, nothing else
    s.requestEnded(interrupted(2, 0)); // lag 300 µs
    s.requestEnded(dropped(3, 0)); // never sent: no lag
    s.requestEnded(completed(4, 0, 30_000, 5, 20_000, { warmup: true })); // warm-up: nothing
    const fam = parsed(s);
    const bucket = (name: string, le: string): number => samples(fam.get(name), name + '_bucket', { le })[0]!.value;
    const count = (name: string): number => samples(fam.get(name), name + '_count')[0]!.value;
    const total = (name: string): number => samples(fam.get(name), name + '_sum')[0]!.value;
    expect(count('inferload_time_to_first_token_seconds')).toBe(1);
    expect(bucket('inferload_time_to_first_token_seconds', '0.02')).toBe(0);
    expect(bucket('inferload_time_to_first_token_seconds', '0.04')).toBe(1);
    expect(total('inferload_time_to_first_token_seconds')).toBeCloseTo(0.03, 9);
    expect(count('inferload_inter_token_latency_seconds')).toBe(4);
    expect(bucket('inferload_inter_token_latency_seconds', '0.01')).toBe(0);
    expect(bucket('inferload_inter_token_latency_seconds', '0.025')).toBe(4);
    expect(total('inferload_inter_token_latency_seconds')).toBeCloseTo(0.08, 9);
    expect(count('inferload_time_per_output_token_seconds')).toBe(1);
    expect(total('inferload_time_per_output_token_seconds')).toBeCloseTo(0.08005 / 4, 9);
    expect(count('inferload_e2e_request_latency_seconds')).toBe(1);
    expect(bucket('inferload_e2e_request_latency_seconds', '0.3')).toBe(1);
    expect(total('inferload_e2e_request_latency_seconds')).toBeCloseTo(0.11005, 9);
    expect(count('inferload_schedule_lag_seconds')).toBe(3);
    expect(bucket('inferload_schedule_lag_seconds', '0.0001')).toBe(1);
    expect(bucket('inferload_schedule_lag_seconds', '0.00025')).toBe(2);
    expect(bucket('inferload_schedule_lag_seconds', '0.0005')).toBe(3);
    expect(total('inferload_schedule_lag_seconds')).toBeCloseTo(0.0006, 9);
    // every histogram: cumulative buckets, +Inf = _count, le of every bound
    for (const [name, bounds] of [
      ['inferload_time_to_first_token_seconds', TTFT_BUCKETS_S],
      ['inferload_inter_token_latency_seconds', ITL_BUCKETS_S],
      ['inferload_time_per_output_token_seconds', ITL_BUCKETS_S],
      ['inferload_e2e_request_latency_seconds', E2E_BUCKETS_S],
      ['inferload_schedule_lag_seconds', SCHEDULE_LAG_BUCKETS_S],
    ] as const) {
      const f = fam.get(name)!;
      expect(f.type).toBe('histogram');
      const b = samples(f, name + '_bucket');
      expect(b.map((x) => (x.labels.le === '+Inf' ? Infinity : Number(x.labels.le)))).toEqual([...bounds, Infinity]);
      for (let i = 1; i < b.length; i++) expect(b[i]!.value).toBeGreaterThanOrEqual(b[i - 1]!.value);
      expect(b.at(-1)!.value).toBe(count(name));
    }
    // a boundary value falls in its own bucket (le is inclusive)
    const t = new LiveSeries(LABELS);
    t.requestEnded(completed(0, 0, 100_000, 1, 0));
    const tf = parsed(t);
    expect(samples(tf.get('inferload_time_to_first_token_seconds'), 'inferload_time_to_first_token_seconds_bucket', { le: '0.1' })[0]!.value).toBe(1);
    expect(samples(tf.get('inferload_time_to_first_token_seconds'), 'inferload_time_to_first_token_seconds_bucket', { le: '0.08' })[0]!.value).toBe(0);
  });

  it('says each SLO’s state from the last checkpoint, with its class', () => {
    const s = new LiveSeries(LABELS);
    s.setSlos([verdict('ttft_ms: p(95)<500', true), verdict('class a: ttft_ms: p(95)<200', false, 'a')]);
    s.setSlos([verdict('ttft_ms: p(95)<500', false), verdict('class a: ttft_ms: p(95)<200', true, 'a')]);
    const f = parsed(s).get('inferload_slo_passed')!;
    expect(f.type).toBe('gauge');
    expect(f.samples.map((x) => [x.labels.slo, x.labels.class, x.value])).toEqual([
      ['ttft_ms: p(95)<500', undefined, 0],
      ['class a: ttft_ms: p(95)<200', 'a', 1],
    ]);
  });

  it('keeps a label to 100 values, then "other"; hostile values stay inert', () => {
    const s = new LiveSeries({ scenario: 'x"}\n# TYPE evil counter\nevil 1', run_id: 'a\\b', shard: '0/1' });
    for (let i = 0; i < 150; i++) s.requestEnded(completed(i, 0, 1_000, 2, 1_000, { className: `c${i}`, model: 'm' }));
    s.requestEnded(completed(150, 0, 1_000, 2, 1_000, { className: 'bad"\\\n\uD800', model: 'm' }));
    const fam = parsed(s);
    expect([...fam.keys()].some((n) => n.startsWith('evil'))).toBe(false);
    const req = fam.get('inferload_requests_total')!;
    const classes = new Set(req.samples.map((x) => x.labels.class));
    expect(classes.size).toBe(MAX_LABEL_VALUES + 1);
    expect(classes.has(OTHER)).toBe(true);
    expect(sum(samples(req, 'inferload_requests_total', { class: OTHER }))).toBe(51);
    expect(req.samples[0]!.labels.scenario).toBe('x"}\n# TYPE evil counter\nevil 1');
    expect(req.samples[0]!.labels.run_id).toBe('a\\b');
    expect(s.overflowedLabels).toBe(51);
  });

  it.skipIf(!existsSync(PROMTOOL))('passes promtool check metrics', () => {
    const s = new LiveSeries(LABELS);
    for (const r of fedRun().records) s.requestEnded(r);
    s.setInFlight(2);
    s.setSlos([verdict('ttft_ms: p(95)<500', true), verdict('class a: e2e_ms: p(99)<9000', false, 'a')]);
    const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: s.exposition(), encoding: 'utf8', timeout: 10_000 });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('remote-write body', () => {
  it('decodes (snappy + protobuf) to every series with its labels sorted, one sample each, and the families’ metadata', () => {
    const s = new LiveSeries(LABELS);
    for (const r of fedRun().records) s.requestEnded(r);
    s.setSlos([verdict('ttft_ms: p(95)<500', true)]);
    const snap = s.snapshot();
    const body = encodeWriteRequest(writeRequestOf(snap, s.families, 1_700_000_000_123));
    const req = decodeWriteRequest(body);
    expect(req.timeseries.length).toBe(snap.values.length);
    for (const ts of req.timeseries) {
      const names = ts.labels.map((l) => l.name);
      expect(names).toEqual([...names].sort());
      expect(names).toContain('__name__');
      expect(ts.labels.every((l) => l.value !== '')).toBe(true);
      expect(ts.samples).toHaveLength(1);
      expect(ts.samples[0]!.timestamp).toBe(1_700_000_000_123);
    }
    const value = (name: string, labels: Record<string, string>): number =>
      req.timeseries
        .filter((ts) => ts.labels.some((l) => l.name === '__name__' && l.value === name) && Object.entries(labels).every(([k, v]) => ts.labels.some((l) => l.name === k && l.value === v)))
        .reduce((a, ts) => a + ts.samples[0]!.value, 0);
    expect(value('inferload_requests_total', {})).toBe(200);
    expect(value('inferload_requests_total', { outcome: 'dropped' })).toBe(7);
    expect(value('inferload_time_to_first_token_seconds_count', {})).toBe(180);
    expect(value('inferload_time_to_first_token_seconds_bucket', { le: '+Inf' })).toBe(180);
    expect(value('inferload_time_to_first_token_seconds_bucket', { le: '0.1' })).toBe(10);
    expect(value('inferload_slo_passed', { slo: 'ttft_ms: p(95)<500' })).toBe(1);
    expect(req.metadata!.map((m) => [m.metric_family_name, m.type])).toContainEqual(['inferload_time_to_first_token_seconds', 3]);
    // the snappy block format, as Prometheus reads it
    expect(snappy.uncompress(body).length).toBeGreaterThan(body.length);
  });

  it('the sliced encoder gives the very same bytes, a slice per turn, bodies over 64 KiB included', async () => {
    const s = new LiveSeries(LABELS);
    // many classes and models: a body of several snappy fragments
    for (let i = 0; i < 40; i++) s.requestEnded(completed(i, 0, 20_000 * (i + 1), 6, 15_000, { className: `class-${i % 8}`, model: `model-${i % 5}` }));
    for (const r of fedRun().records) s.requestEnded(r);
    const snap = s.snapshot();
    let turns = 0;
    const sliced = await encodeWriteRequestSliced(snap, s.families, 42, { seriesPerTurn: 100, nextTurn: async () => void turns++ });
    const whole = encodeWriteRequest(writeRequestOf(snap, s.families, 42));
    expect(snappy.uncompress(whole).length).toBeGreaterThan(2 * 65_536);
    expect(Buffer.from(sliced).equals(Buffer.from(whole))).toBe(true);
    expect(turns).toBeGreaterThanOrEqual(Math.ceil(snap.values.length / 100) - 1 + 3);
    // and an empty registry
    const empty = new LiveSeries(LABELS);
    const e = empty.snapshot();
    expect(Buffer.from(await encodeWriteRequestSliced(e, empty.families, 1)).equals(Buffer.from(encodeWriteRequest(writeRequestOf(e, empty.families, 1))))).toBe(true);
  });
});
