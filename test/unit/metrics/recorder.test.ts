import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/core/record.js';
import { decodeHistogram } from '../../../src/metrics/hdr.js';
import { Recorder, requestSlos } from '../../../src/metrics/recorder.js';
import { buildSummary } from '../../../src/results/build.js';

/** a successful request: intended at t, first token after ttft, n tokens `itl` apart */
function ok(id: number, tUs: number, ttftUs: number, n: number, itlUs: number, warmup = false): RequestRecord {
  const r = new RequestRecord(id, tUs, 100, warmup);
  r.sentUs = tUs + 100;
  r.headersUs = tUs + 200;
  r.firstChunkUs = tUs + ttftUs;
  r.firstTokenUs = tUs + ttftUs;
  for (let i = 0; i < n; i++) {
    r.chunkUs.push(tUs + ttftUs + i * itlUs);
    r.chunkChars.push(3);
  }
  r.endUs = tUs + ttftUs + (n - 1) * itlUs + 50;
  r.outputTokensUsage = n;
  r.promptTokensUsage = 100;
  r.ok = true;
  r.httpStatus = 200;
  return r;
}

/** HDR keeps 3 significant digits: a percentile is within 0.1 % of the exact value */
function expectHdr(v: number | null, exact: number): void {
  expect(v).not.toBeNull();
  expect(Math.abs(v! - exact) / exact).toBeLessThanOrEqual(0.001);
}

function failed(id: number, tUs: number): RequestRecord {
  const r = new RequestRecord(id, tUs, 100, false);
  r.sentUs = tUs;
  r.endUs = tUs + 5_000;
  r.httpStatus = 500;
  r.errorClass = 'http_5xx';
  return r;
}

describe('Recorder', () => {
  it('summarises exactly: percentiles from HDR, failures counted by class and kept out of latency', () => {
    const rec = new Recorder({ windowS: 1 });
    for (let i = 0; i < 100; i++) {
      const r = ok(i, i * 10_000, (i + 1) * 1_000, 5, 10_000);
      rec.onSent(r, 1);
      rec.record(r);
    }
    const f = failed(100, 500_000);
    rec.onSent(f, 1);
    rec.record(f);
    rec.flush();
    const s = rec.snapshot();
    expect(s.counters).toMatchObject({ sent: 101, completed: 100, failed: 1, errors: { http_5xx: 1 } });
    expect(s.latencyMs.ttft.count).toBe(100);
    expectHdr(s.latencyMs.ttft.p50, 50);
    expectHdr(s.latencyMs.ttft.p99, 99);
    expectHdr(s.latencyMs.ttft.max, 100);
    expect(s.latencyMs.itl.count).toBe(400);
    expectHdr(s.latencyMs.itl.p50, 10);
    expect(s.latencyMs.itl_per_token.count).toBe(400);
    expectHdr(s.latencyMs.tpot.p50, 10.0125);
    expectHdr(s.latencyMs.ttft_sent.p50, 49.9);
    expect(s.latencyMs.e2e_failed.count).toBe(1);
    expect(s.latencyMs.e2e.count).toBe(100);
    expect(s.counters.outputTokens).toBe(500);
    // the encoded histogram round-trips
    expect(decodeHistogram(s.latencyMs.ttft.hdr).totalCount).toBe(100);
  });

  it('keeps warm-up requests out of the summary but in the windows', () => {
    const rec = new Recorder({ windowS: 1 });
    const w = ok(0, 0, 1_000, 2, 1_000, true);
    rec.onSent(w, 1);
    rec.record(w);
    const m = ok(1, 1_500_000, 1_000, 2, 1_000);
    rec.onSent(m, 1);
    rec.record(m);
    rec.flush();
    const s = rec.snapshot();
    expect(s.counters.sent).toBe(1);
    expect(s.counters.warmupSent).toBe(1);
    expect(s.latencyMs.ttft.count).toBe(1);
    expect(s.windows.reduce((a, x) => a + x.completed, 0)).toBe(2);
  });

  it('puts requests into 1 s windows by end time, with empty windows for idle stretches', () => {
    const rec = new Recorder({ windowS: 1 });
    const a = ok(0, 100_000, 200_000, 2, 10_000); // ends ~0.31 s
    const b = ok(1, 3_200_000, 100_000, 2, 10_000); // ends ~3.31 s
    for (const r of [a, b]) {
      rec.onSent(r, 1);
      rec.tick(r.endUs);
      rec.record(r);
    }
    rec.flush();
    const w = rec.snapshot().windows;
    expect(w.map((x) => x.t_s)).toEqual([0, 1, 2, 3]);
    expect(w.map((x) => x.completed)).toEqual([1, 0, 0, 1]);
    expectHdr(w[0]!.ttft_p50_ms, 200);
    expect(w[1]!.ttft_p50_ms).toBeNull();
    expect(w[3]!.output_tokens_per_s).toBe(2);
  });

  it('stays bounded on long runs by merging aligned windows, conserving every count', () => {
    const rec = new Recorder({ windowS: 1, maxWindows: 16 });
    let id = 0;
    for (let s = 0; s < 200; s++) {
      for (let k = 0; k < 3; k++) {
        const r = ok(id++, s * 1e6 + k * 100_000, 10_000 + s, 2, 1_000);
        rec.onSent(r, 1);
        rec.record(r);
      }
      rec.tick((s + 1) * 1e6 + 60_000);
    }
    rec.flush();
    const w = rec.snapshot().windows;
    expect(w.length).toBeLessThanOrEqual(17);
    expect(w.reduce((a, x) => a + x.completed, 0)).toBe(600);
    expect(w.reduce((a, x) => a + x.sent, 0)).toBe(600);
    // contiguous, ordered, covering the run
    for (let i = 1; i < w.length; i++) expect(w[i]!.t_s).toBeCloseTo(w[i - 1]!.t_s + w[i - 1]!.window_s, 6);
    expect(w[0]!.t_s).toBe(0);
    // a merged window's histogram holds all of its requests
    for (const x of w) expect(decodeHistogram(x.hdr.ttft).totalCount).toBe(x.completed);
  });

  it('coarsens during the run one pair per event-loop turn, never in one block', async () => {
    const rec = new Recorder({ windowS: 1, maxWindows: 16 });
    let id = 0;
    let most = 0;
    for (let s = 0; s < 120; s++) {
      const r = ok(id++, s * 1e6 + 100_000, 10_000 + s, 2, 1_000);
      rec.onSent(r, 1);
      rec.record(r);
      rec.tick((s + 1) * 1e6 + 60_000);
      // let the sliced closing and coarsening run, as the event loop would between events
      for (let k = 0; k < 6; k++) await new Promise<void>((resolve) => setImmediate(resolve));
      most = Math.max(most, rec.snapshot().windows.length);
    }
    expect(most).toBeLessThanOrEqual(40);
    rec.flush();
    const w = rec.snapshot().windows;
    expect(w.length).toBeLessThanOrEqual(17);
    expect(w.reduce((a, x) => a + x.completed, 0)).toBe(120);
    for (let i = 1; i < w.length; i++) expect(w[i]!.t_s).toBeCloseTo(w[i - 1]!.t_s + w[i - 1]!.window_s, 6);
  });

  it('counts goodput with per-request SLOs (vLLM rule)', () => {
    const slos = requestSlos({
      ttft_ms: [{ threshold: 'p(95)<50', abortOnFail: false }],
      error_ratio: [{ threshold: 'rate<0.01', abortOnFail: false }],
    });
    expect(slos).toEqual([{ metric: 'ttft_ms', op: '<', valueMs: 50 }]);
    const rec = new Recorder({ windowS: 1, requestSlos: slos });
    for (let i = 0; i < 10; i++) {
      const r = ok(i, i * 1000, i < 7 ? 10_000 : 90_000, 3, 1_000);
      rec.onSent(r, 1);
      rec.record(r);
    }
    expect(rec.counters.good).toBe(7);
  });

  it('counts dropped arrivals with their intended time', () => {
    const rec = new Recorder({ windowS: 1 });
    const d = new RequestRecord(0, 2_500_000, 10, false);
    d.dropped = true;
    rec.onDropped(d);
    rec.flush();
    const s = rec.snapshot();
    expect(s.counters.dropped).toBe(1);
    expect(s.windows.find((w) => w.t_s === 2)!.dropped).toBe(1);
  });
});

// The stalled smoke run of the outside check: 21 of 25 completed by 4.99 s, 4 stalled until the
// graceful stop cut them at ~15 s. The run lasts to the last completion (throughput ~4.2 req/s,
// not 1.4), and the cut requests are failures against availability, not "neither".
describe('requests cut at the graceful stop', () => {
  function cut(id: number, tUs: number, endUs: number, errorClass: 'unfinished' | 'aborted'): RequestRecord {
    const r = new RequestRecord(id, tUs, 100, false);
    r.sentUs = tUs;
    r.headersUs = tUs + 200;
    r.endUs = endUs;
    r.httpStatus = 200;
    r.errorClass = errorClass;
    return r;
  }

  function stalledRun(errorClass: 'unfinished' | 'aborted'): ReturnType<typeof buildSummary> {
    const rec = new Recorder({ windowS: 1 });
    const records: RequestRecord[] = [];
    for (let i = 0; i < 25; i++) {
      const t = i * 200_000;
      records.push([3, 9, 14, 20].includes(i) ? cut(i, t, 14_800_000, errorClass) : ok(i, t, 10_000, 32, 5_000));
    }
    for (const r of records) rec.onSent(r, 1);
    for (const r of [...records].sort((a, b) => a.endUs - b.endUs)) rec.record(r);
    rec.flush();
    return buildSummary(rec.snapshot(), { warmupS: 0, arrivalsEndUs: 5e6, openLoop: true });
  }

  it('duration runs to the last completion, never to the cut', () => {
    const s = stalledRun('unfinished');
    // the last completed request: intended at 4.8 s, ended 10 ms + 31 × 5 ms + 50 µs later
    expect(s.duration_s).toBe(4.965);
    expect(s.throughput.request_per_s).toBeCloseTo(21 / 4.965, 3);
    expect(stalledRun('aborted').duration_s).toBe(4.965);
  });

  it('unfinished requests are failures: the error ratio and the classes count them', () => {
    const s = stalledRun('unfinished');
    expect(s.requests).toMatchObject({ sent: 25, completed: 21, failed: 4, interrupted: 0 });
    expect(s.errors).toEqual({ unfinished: 4 });
  });

  it('requests the run cut for its own reasons stay interrupted: neither success nor failure', () => {
    const s = stalledRun('aborted');
    expect(s.requests).toMatchObject({ sent: 25, completed: 21, failed: 0, interrupted: 4 });
    expect(s.errors).toEqual({});
  });

  it('with no completion at all, the duration runs to the last end of any request', () => {
    const rec = new Recorder({ windowS: 1 });
    const r = cut(0, 0, 3_000_000, 'unfinished');
    rec.onSent(r, 1);
    rec.record(r);
    rec.flush();
    const s = buildSummary(rec.snapshot(), { warmupS: 0, arrivalsEndUs: 1e6, openLoop: true });
    expect(s.duration_s).toBe(3);
    expect(s.throughput.request_per_s).toBe(0);
  });
});
