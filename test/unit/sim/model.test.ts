// The engine model in virtual time: roofline step times, chunked prefill, max_num_seqs queueing,
// preemption on a full KV cache, aborts, stalls, the speed factor.

import { describe, expect, it } from 'vitest';
import { EngineModel, stepTime } from '../../../src/sim/model.js';
import type { SimRequest, SimRequestSpec, TokenEvent } from '../../../src/sim/model.js';
import { StepLoop } from '../../../src/sim/loop.js';
import { SIM_PROFILES, resolveProfile } from '../../../src/sim/profiles.js';
import type { SimProfile } from '../../../src/sim/profiles.js';

const defaultProfile = resolveProfile('default');

function spec(promptTokens: number, outputTokens: number, extra: Partial<SimRequestSpec> = {}): SimRequestSpec {
  return { promptTokens, outputTokens, finishReason: 'length', ...extra };
}

/** Run the model from `startUs` until idle, collecting every token event with its time. */
function runToIdle<T>(model: EngineModel<T>, startUs = 0): Array<{ atUs: number; event: TokenEvent<T> }> {
  const out: Array<{ atUs: number; event: TokenEvent<T> }> = [];
  const loop = new StepLoop<T>(model, (events, atUs) => {
    for (const event of events) out.push({ atUs, event });
  }, Infinity);
  let due = loop.advance(startUs);
  let guard = 0;
  while (due !== undefined) {
    due = loop.advance(due);
    if (++guard > 1_000_000) throw new Error('model never went idle');
  }
  return out;
}

function tinyProfile(overrides: Partial<SimProfile>): SimProfile {
  return resolveProfile({ ...SIM_PROFILES.default!, name: 'tiny', ...overrides });
}

describe('profiles', () => {
  it('default is an 8B model on one H100 with a ~450k-token KV cache', () => {
    const p = defaultProfile;
    expect(p.gpuCount).toBe(1);
    expect(p.modelName).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(p.kvBytesPerToken).toBe(131072);
    const kvTokens = p.kvCacheBlocks * p.blockSizeTokens;
    expect(kvTokens).toBeGreaterThan(430_000);
    expect(kvTokens).toBeLessThan(470_000);
  });

  it('tp2 spreads the model over 2 GPUs with more KV cache', () => {
    const tp2 = resolveProfile('tp2');
    expect(tp2.gpuCount).toBe(2);
    expect(tp2.kvCacheBlocks).toBeGreaterThanOrEqual(2 * defaultProfile.kvCacheBlocks);
    // faster decode, but not twice as fast: overhead and the all-reduces do not scale
    const one = stepTime(defaultProfile, 1, 600).durationUs;
    const two = stepTime(tp2, 1, 600).durationUs;
    expect(two).toBeLessThan(one);
    expect(two).toBeGreaterThan(one / 2);
  });

  it('rejects an unknown profile with the list of valid names', () => {
    expect(() => resolveProfile('h200')).toThrow(/default, tp2/);
  });
});

describe('roofline step time (default profile)', () => {
  it('a small decode batch takes about 5-6 ms (weights read once per step)', () => {
    const t = stepTime(defaultProfile, 4, 4 * 600);
    expect(t.memoryUs).toBeGreaterThan(t.computeUs);
    expect(t.durationUs / 1000).toBeGreaterThan(4.5);
    expect(t.durationUs / 1000).toBeLessThan(6.5);
  });

  it('a decode batch of 128 with 1k-token contexts takes about 9-11 ms (KV reads add up)', () => {
    const t = stepTime(defaultProfile, 128, 128 * 1024);
    expect(t.memoryUs).toBeGreaterThan(t.computeUs);
    expect(t.durationUs / 1000).toBeGreaterThan(8);
    expect(t.durationUs / 1000).toBeLessThan(11);
    // with the default workload's ~640-token mean context, inside the simulator's calibrated 8-10 ms
    expect(stepTime(defaultProfile, 128, 128 * 640).durationUs / 1000).toBeLessThan(10);
  });

  it('prefill is compute-bound at roughly 25k tokens/s', () => {
    const t = stepTime(defaultProfile, 8192, 8192);
    expect(t.computeUs).toBeGreaterThan(t.memoryUs);
    const tokensPerS = 8192 / (t.durationUs / 1e6);
    expect(tokensPerS).toBeGreaterThan(22_000);
    expect(tokensPerS).toBeLessThan(27_000);
  });

  it('speed 0.8 makes every step 25 % longer', () => {
    const base = stepTime(defaultProfile, 64, 64 * 800, 1).durationUs;
    expect(stepTime(defaultProfile, 64, 64 * 800, 0.8).durationUs).toBeCloseTo(base * 1.25, 6);
  });
});

describe('EngineModel', () => {
  it('gives the first token at the end of the prefill step, then one token per decode step', () => {
    const model = new EngineModel<string>(defaultProfile);
    const r = model.add(spec(512, 4), 'a', 0);
    const events = runToIdle(model);
    expect(events.map((e) => e.event.tokenCount)).toEqual([1, 2, 3, 4]);
    expect(events.map((e) => e.event.finishReason)).toEqual([null, null, null, 'length']);
    const prefillUs = stepTime(defaultProfile, 512, 512).durationUs;
    expect(r.firstTokenUs).toBeCloseTo(prefillUs, 6);
    expect(r.firstScheduledUs).toBe(0);
    // decode steps read the growing context: 513, 514, 515 tokens
    expect(events[1]!.atUs - events[0]!.atUs).toBeCloseTo(stepTime(defaultProfile, 1, 513).durationUs, 6);
    expect(r.state).toBe('finished');
    expect(model.gauges().kvBlocksUsed).toBe(0);
    expect(model.counters.generationTokensTotal).toBe(4);
    expect(model.counters.promptTokensTotal).toBe(512);
    expect(model.counters.requestsFinishedLengthTotal).toBe(1);
  });

  it('chunks a prefill longer than the token budget over several steps', () => {
    const model = new EngineModel<null>(defaultProfile);
    const r = model.add(spec(10_000, 2), null, 0);
    const first = model.beginStep(0)!;
    expect(first.scheduledTokens).toBe(8192);
    expect(model.endStep(first.endUs)).toEqual([]);
    const second = model.beginStep(first.endUs)!;
    expect(second.scheduledTokens).toBe(10_000 - 8192);
    const events = model.endStep(second.endUs);
    expect(events).toHaveLength(1);
    expect(r.firstTokenUs).toBe(second.endUs);
  });

  it('batches decodes with a new prefill in one step (continuous batching)', () => {
    const model = new EngineModel<null>(defaultProfile);
    model.add(spec(100, 10), null, 0);
    const s1 = model.beginStep(0)!;
    model.endStep(s1.endUs);
    model.add(spec(200, 10), null, s1.endUs);
    const s2 = model.beginStep(s1.endUs)!;
    expect(s2.decodeRequests).toBe(1);
    expect(s2.prefillTokens).toBe(200);
    expect(s2.scheduledTokens).toBe(201);
    expect(model.endStep(s2.endUs)).toHaveLength(2);
  });

  it('a decode step at batch 128 with 1k-token contexts lasts about 10 ms', () => {
    const model = new EngineModel<null>(defaultProfile);
    for (let i = 0; i < 128; i++) model.add(spec(1023, 50), null, 0);
    let t = 0;
    let plan = model.beginStep(t)!;
    while (plan.prefillTokens > 0) {
      model.endStep(plan.endUs);
      t = plan.endUs;
      plan = model.beginStep(t)!;
    }
    expect(plan.decodeRequests).toBe(128);
    expect(plan.time.durationUs / 1000).toBeGreaterThan(9);
    expect(plan.time.durationUs / 1000).toBeLessThan(11.5);
  });

  it('queues requests beyond max_num_seqs until a slot frees', () => {
    const model = new EngineModel<string>(tinyProfile({ maxNumSeqs: 2 }));
    const a = model.add(spec(10, 5), 'a', 0);
    const b = model.add(spec(10, 5), 'b', 0);
    const c = model.add(spec(10, 5), 'c', 0);
    const s1 = model.beginStep(0)!;
    expect(model.gauges()).toMatchObject({ running: 2, waiting: 1 });
    model.endStep(s1.endUs);
    runToIdle(model, s1.endUs);
    expect(a.firstScheduledUs).toBe(0);
    expect(b.firstScheduledUs).toBe(0);
    // c is admitted in the step right after a and b finish
    expect(c.firstScheduledUs).toBe(Math.max(a.finishedUs, b.finishedUs));
    expect(c.state).toBe('finished');
  });

  it('preempts the most recently admitted request when the KV cache is full, and recomputes it', () => {
    // 8 blocks of 16 tokens: two requests of 40 + 40 tokens (5 blocks each) cannot both finish
    const model = new EngineModel<string>(tinyProfile({ kvCacheBlocks: 8, blockSizeTokens: 16, maxModelLen: 128 }));
    const a = model.add(spec(40, 40), 'a', 0);
    const b = model.add(spec(40, 40), 'b', 0);
    const events = runToIdle(model);
    expect(model.counters.preemptionsTotal).toBeGreaterThan(0);
    expect(b.preemptions).toBeGreaterThan(0);
    expect(a.preemptions).toBe(0);
    // both still produce every token, in order, exactly once
    for (const r of [a, b]) {
      const counts = events.filter((e) => e.event.request === r).map((e) => e.event.tokenCount);
      expect(counts).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(r.state).toBe('finished');
    }
    // the recompute prefilled the prompt plus the tokens b had generated
    expect(model.counters.prefillTokensComputedTotal).toBeGreaterThan(80);
    expect(model.gauges().kvBlocksUsed).toBe(0);
  });

  it('abort removes a request from the batch and frees its blocks at once', () => {
    const model = new EngineModel<null>(defaultProfile);
    const r = model.add(spec(1000, 100), null, 0);
    const s = model.beginStep(0)!;
    expect(model.gauges().kvBlocksUsed).toBe(Math.ceil(1000 / 16));
    model.abort(r);
    expect(model.gauges()).toMatchObject({ running: 0, kvBlocksUsed: 0 });
    expect(model.endStep(s.endUs)).toEqual([]); // the step in flight skips it
    expect(model.beginStep(s.endUs)).toBeUndefined();
    expect(model.counters.requestsAbortedTotal).toBe(1);
  });

  it('a stalled request sits out of the batch, then continues', () => {
    const model = new EngineModel<null>(defaultProfile);
    const r = model.add(spec(16, 6, { stall: { afterTokens: 3, stallUs: 1_000_000 } }), null, 0);
    const events = runToIdle(model);
    const times = events.map((e) => e.atUs);
    expect(events).toHaveLength(6);
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(1_000_000);
    expect(times[2]! - times[1]!).toBeLessThan(10_000);
    expect(r.state).toBe('finished');
  });

  it('is deterministic: the same arrivals give the same token times', () => {
    const run = (): number[] => {
      const model = new EngineModel<null>(defaultProfile);
      const loop = new StepLoop<null>(model, () => undefined, Infinity);
      const done: Array<SimRequest<null>> = [];
      let due: number | undefined;
      for (let i = 0; i < 50; i++) {
        const t = i * 7_000;
        while (due !== undefined && due <= t) due = loop.advance(due);
        done.push(model.add(spec(100 + i * 13, 20 + (i % 7)), null, t));
        due = loop.advance(t);
      }
      while (due !== undefined) due = loop.advance(due);
      return done.flatMap((r) => [r.firstTokenUs, r.finishedUs]);
    };
    expect(run()).toEqual(run());
  });

  it('rejects a request that can never fit', () => {
    const model = new EngineModel<null>(tinyProfile({ kvCacheBlocks: 4, blockSizeTokens: 16, maxModelLen: 64 }));
    expect(() => model.add(spec(60, 10), null, 0)).toThrow(RangeError);
  });
});
