// Windows keyed by arrival (windows[].by_arrival) and in-flight sampled on the clock: a ramp into
// overload and its drain, played through the Recorder on a fake clock.
import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/core/record.js';
import { correlationAlignment, correlations, pearson } from '../../../src/analysis/server.js';
import { Recorder, mergeWindows, mergeConcurrentWindows, type WindowResult } from '../../../src/metrics/recorder.js';
import { decodeHistogram } from '../../../src/metrics/hdr.js';

type Ev = { t: number; kind: 'sent' | 'end' | 'sample' | 'tick'; r?: RequestRecord; queue?: number };

/**
 * A FIFO server of `capacity` req/s fed a linear ramp of arrivals from `fromRate` to `toRate`
 * over `rampS` seconds: TTFT is the wait in the queue plus a prefill, each request decodes for
 * `decodeS` after its first token. The queue depth is scraped every second. Every event goes
 * through the Recorder in time order, as a run would.
 */
function rampIntoOverload({ fromRate = 2, toRate = 120, rampS = 30, capacity = 30, decodeS = 2.5, prefillS = 0.03 } = {}): Recorder {
  const arrivals: number[] = [];
  // arrivals of a linearly rising rate: the i-th when the integral of the rate reaches i
  const a = (toRate - fromRate) / rampS;
  for (let i = 0; ; i++) {
    const t = a === 0 ? i / fromRate : (-fromRate + Math.sqrt(fromRate * fromRate + 2 * a * i)) / a;
    if (t >= rampS) break;
    arrivals.push(t);
  }
  const events: Ev[] = [];
  const starts: number[] = [];
  let free = 0;
  arrivals.forEach((t, id) => {
    const start = Math.max(t, free);
    free = start + 1 / capacity;
    starts.push(start);
    const r = new RequestRecord(id, t * 1e6, 500, false);
    r.sentUs = t * 1e6 + 50;
    r.headersUs = r.sentUs + 100;
    r.firstChunkUs = (start + prefillS) * 1e6;
    r.firstTokenUs = r.firstChunkUs;
    for (let k = 0; k < 8; k++) {
      r.chunkUs.push(r.firstTokenUs + (k * decodeS * 1e6) / 7);
      r.chunkChars.push(4);
    }
    r.endUs = r.firstTokenUs + decodeS * 1e6;
    r.outputTokensUsage = 8;
    r.ok = true;
    r.httpStatus = 200;
    events.push({ t: t * 1e6, kind: 'sent', r }, { t: r.endUs, kind: 'end', r });
  });
  const lastEnd = Math.max(...events.map((e) => e.t));
  for (let s = 0.5; s * 1e6 < lastEnd + 2e6; s += 1) {
    const queue = arrivals.filter((t, i) => t <= s && starts[i]! > s).length;
    events.push({ t: s * 1e6, kind: 'sample', queue });
  }
  for (let s = 0; s * 1e6 < lastEnd + 2e6; s += 0.1) events.push({ t: s * 1e6, kind: 'tick' });
  events.sort((x, y) => x.t - y.t);
  const rec = new Recorder({ windowS: 1 });
  let inFlight = 0;
  for (const e of events) {
    if (e.kind === 'sent') rec.onSent(e.r!, ++inFlight);
    else if (e.kind === 'end') {
      inFlight--;
      rec.record(e.r!);
    } else if (e.kind === 'sample') rec.addServerSample(e.t, { queue_depth: e.queue! }, []);
    else rec.tick(e.t);
  }
  rec.flush();
  return rec;
}

describe('windows by arrival', () => {
  it('a ramp into overload: TTFT by end window says nothing about the queue, by arrival window it follows it', () => {
    const windows = rampIntoOverload().snapshot().windows;
    const paired = windows.filter((w) => w.server.queue_depth !== undefined);
    // the finding, reproduced: keyed by the window requests ended in, TTFT keeps rising during
    // the drain while the queue falls
    const byEnd = paired.filter((w) => w.ttft_p95_ms !== null);
    const rEnd = pearson(
      byEnd.map((w) => w.ttft_p95_ms!),
      byEnd.map((w) => w.server.queue_depth!),
    );
    expect(rEnd).not.toBeNull();
    expect(Math.abs(rEnd!)).toBeLessThan(0.5);
    // keyed by arrival, the wait follows the queue it found
    const r = correlations(windows);
    expect(correlationAlignment(windows)).toEqual({ ttft_p95: 'arrival', itl_p95: 'end', e2e_p95: 'arrival' });
    expect(r.ttft_p95_vs_queue_depth).toBeGreaterThanOrEqual(0.8);
    expect(r.e2e_p95_vs_queue_depth).toBeGreaterThanOrEqual(0.8);
  });

  it('every successful request is counted once, in the window of its intended start', () => {
    const rec = rampIntoOverload({ toRate: 20, rampS: 10, capacity: 30 });
    const s = rec.snapshot();
    const total = s.windows.reduce((n, w) => n + (w.by_arrival?.completed ?? 0), 0);
    expect(total).toBe(s.counters.completed);
    for (const w of s.windows) {
      if (w.sent === 0) expect(w.by_arrival).toBeUndefined();
      else {
        expect(w.by_arrival!.completed).toBe(w.sent);
        expect(decodeHistogram(w.by_arrival!.hdr.ttft).totalCount).toBe(w.sent);
      }
    }
  });

  it('results without by_arrival (older files) stay aligned by end window, and say so', () => {
    const windows = rampIntoOverload().snapshot().windows.map(({ by_arrival: _drop, ...w }) => w as WindowResult);
    expect(correlationAlignment(windows)).toEqual({ ttft_p95: 'end', itl_p95: 'end', e2e_p95: 'end' });
    expect(correlations(windows).ttft_p95_vs_queue_depth).toBeLessThan(0.5);
  });

  it('merging adjacent windows (coarsening) and shards adds arrival histograms exactly', () => {
    const ws = rampIntoOverload({ toRate: 20, rampS: 10 }).snapshot().windows.filter((w) => w.by_arrival);
    const [a, b] = [ws[3]!, ws[4]!];
    const m = mergeWindows(a, b);
    expect(m.by_arrival!.completed).toBe(a.by_arrival!.completed + b.by_arrival!.completed);
    const h = decodeHistogram(a.by_arrival!.hdr.ttft);
    h.add(decodeHistogram(b.by_arrival!.hdr.ttft));
    expect(decodeHistogram(m.by_arrival!.hdr.ttft).totalCount).toBe(h.totalCount);
    expect(m.by_arrival!.ttft_p95_ms).toBeCloseTo(h.getValueAtPercentile(95) / 1000, 0);
    const twice = mergeConcurrentWindows(a, a);
    expect(twice.by_arrival!.completed).toBe(2 * a.by_arrival!.completed);
    // within HDR precision (a decoded histogram's max is the top of its bucket)
    expect(Math.abs(twice.by_arrival!.ttft_p50_ms! - a.by_arrival!.ttft_p50_ms!) / a.by_arrival!.ttft_p50_ms!).toBeLessThanOrEqual(0.001);
    const { by_arrival: _none, ...plain } = b;
    expect(mergeWindows(a, plain as WindowResult).by_arrival).toEqual(a.by_arrival);
  });
});

describe('in flight on the clock', () => {
  it('windows in which nothing is sent still hold the requests that are open', () => {
    const rec = new Recorder({ windowS: 1 });
    const reqs: RequestRecord[] = [];
    for (let i = 0; i < 10; i++) {
      const r = new RequestRecord(i, i * 10_000, 10, false);
      r.sentUs = r.intendedStartUs;
      reqs.push(r);
      rec.onSent(r, i + 1);
    }
    // arrivals end at 0.1 s; the requests stay open until 4.5 s (a drain)
    for (let t = 100_000; t <= 4_400_000; t += 100_000) rec.tick(t);
    for (const r of reqs) {
      r.endUs = 4_500_000;
      r.firstTokenUs = r.firstChunkUs = 4_000_000;
      r.chunkUs.push(4_000_000);
      r.chunkChars.push(1);
      r.ok = true;
      r.httpStatus = 200;
      rec.record(r);
    }
    for (let t = 4_600_000; t <= 7_000_000; t += 100_000) rec.tick(t);
    rec.flush();
    const w = rec.snapshot().windows;
    expect(w.slice(0, 5).map((x) => x.in_flight_max)).toEqual([10, 10, 10, 10, 10]);
    expect(w[5]!.in_flight_max).toBe(0);
    expect(w[0]!.by_arrival!.completed).toBe(10);
  });
});

describe('a checkpoint snapshot taken over several turns', () => {
  it('describes one moment: requests recorded while it is made change neither the counts nor the histograms', async () => {
    const rec = new Recorder({ windowS: 1 });
    const done = (id: number): RequestRecord => {
      const r = new RequestRecord(id, id * 1000, 10, false);
      r.sentUs = r.intendedStartUs;
      r.firstChunkUs = r.firstTokenUs = r.sentUs + 5000;
      r.chunkUs.push(r.firstTokenUs, r.firstTokenUs + 1000);
      r.chunkChars.push(1, 1);
      r.endUs = r.firstTokenUs + 2000;
      r.outputTokensUsage = 2;
      r.ok = true;
      r.httpStatus = 200;
      rec.onSent(r, 1);
      return r;
    };
    for (let i = 0; i < 10; i++) rec.record(done(i));
    const snapshot = rec.snapshotSliced();
    // more requests end on every turn while the snapshot is being made (an immediate each turn,
    // as the snapshot's own pieces are: a 0 ms timer, 1 ms in Node, could miss a snapshot that
    // takes under a millisecond, as one did on Node 24)
    let id = 10;
    let making = true;
    const more = (): void => {
      if (!making) return;
      rec.record(done(id++));
      setImmediate(more);
    };
    setImmediate(more);
    const s = await snapshot;
    making = false;
    expect(id).toBeGreaterThan(10);
    expect(s.counters.completed).toBe(10);
    for (const m of ['ttft', 'e2e', 'tpot', 'ttft_sent', 'e2e_sent'] as const) expect(s.latencyMs[m].count).toBe(10);
    expect(decodeHistogram(s.latencyMs.ttft.hdr).totalCount).toBe(10);
    expect(s.latencyMs.itl.count).toBe(10);
  });
});
