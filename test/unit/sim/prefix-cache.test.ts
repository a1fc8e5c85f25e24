// The simulator's prefix cache: chained block keys, hits that skip prefill, LRU eviction bounded by
// the free KV blocks, vLLM V1's prefix_cache_{queries,hits} counters and cached_tokens.
import { describe, expect, it } from 'vitest';
import { EngineModel, blockHashes } from '../../../src/sim/model.js';
import type { SimRequestSpec } from '../../../src/sim/model.js';
import { StepLoop } from '../../../src/sim/loop.js';
import { SIM_PROFILES, resolveProfile } from '../../../src/sim/profiles.js';
import type { SimProfile } from '../../../src/sim/profiles.js';
import { SimMetrics } from '../../../src/sim/metrics.js';

const BS = 16;

function tinyProfile(overrides: Partial<SimProfile> = {}): SimProfile {
  return resolveProfile({ ...SIM_PROFILES.default!, name: 'tiny', ...overrides });
}

/** A prompt of `shared` tokens common to every call with the same `group`, then `own` tokens of its own. */
function prompt(group: number, shared: number, own: number, id: number): number[] {
  return [...Array.from({ length: shared }, (_, i) => group * 100_000 + i), ...Array.from({ length: own }, (_, i) => 1_000_000 + id * 10_000 + i)];
}

function spec(tokens: number[], outputTokens = 4): SimRequestSpec {
  return { promptTokens: tokens.length, outputTokens, finishReason: 'length', blockHashes: blockHashes(tokens, BS) };
}

/** Runs the model until idle, from `startUs`; returns the time it went idle. */
function runToIdle<T>(model: EngineModel<T>, startUs = 0): number {
  let last = startUs;
  const loop = new StepLoop<T>(model, (_events, atUs) => {
    last = atUs;
  }, Infinity);
  let due = loop.advance(startUs);
  while (due !== undefined) due = loop.advance(due);
  return last;
}

describe('blockHashes', () => {
  it('keys full blocks only, each chained to the ones before', () => {
    const a = blockHashes(prompt(1, 40, 0, 0), BS);
    expect(a).toHaveLength(2); // 40 tokens: two full blocks, the partial third has no key
    const b = blockHashes(prompt(1, 32, 20, 1), BS);
    expect(b.slice(0, 2)).toEqual(a);
    // the same tokens behind a different first block give a different key
    const c = blockHashes([...prompt(2, 16, 0, 0), ...prompt(1, 32, 0, 0).slice(16)], BS);
    expect(c[1]).not.toBe(a[1]);
    // words (the approximation's tokens) key the same way
    expect(blockHashes('a b c d e f g h i j k l m n o p'.split(' '), BS)).toHaveLength(1);
  });
});

describe('EngineModel prefix cache', () => {
  it('a second request with the same prefix finds its full blocks cached and prefills only the rest', () => {
    const model = new EngineModel(tinyProfile());
    const first = model.add(spec(prompt(1, 1024, 100, 0)), null, 0);
    const t = runToIdle(model);
    expect(first.cachedTokens).toBe(0);
    const prefilledBefore = model.counters.prefillTokensComputedTotal;
    const second = model.add(spec(prompt(1, 1024, 100, 1)), null, t);
    runToIdle(model, t);
    expect(second.cachedTokens).toBe(1024);
    expect(model.counters.prefillTokensComputedTotal - prefilledBefore).toBe(100);
    expect(model.counters.prefixCacheQueriesTotal).toBe(2 * 1124);
    expect(model.counters.prefixCacheHitsTotal).toBe(1024);
    // the prefill is shorter, so is the time to the first token
    expect(second.firstTokenUs - t).toBeLessThan(first.firstTokenUs);
  });

  it('never counts the last prompt token as a hit: an identical prompt recomputes its last block', () => {
    const model = new EngineModel(tinyProfile());
    const tokens = prompt(1, 64, 0, 0);
    model.add(spec(tokens), null, 0);
    const t = runToIdle(model);
    const again = model.add(spec(tokens), null, t);
    runToIdle(model, t);
    expect(again.cachedTokens).toBe(48);
  });

  it('evicts the least recently freed blocks once the free pool cannot hold them all', () => {
    // 12 blocks: a 64-token prompt (+4 output) takes 5, so the cache holds at most two prompts' blocks beside a running request
    const model = new EngineModel(tinyProfile({ kvCacheBlocks: 12, maxModelLen: 192 }));
    let t = 0;
    for (const group of [1, 2, 3]) {
      model.add(spec(prompt(group, 64, 0, group)), null, t);
      t = runToIdle(model, t);
    }
    // group 1 was freed first, its tail first (as vLLM frees): its last block made room for
    // group 3, its first three are still there; group 3 is cached whole
    const g1 = model.add(spec(prompt(1, 64, 16, 10)), null, t);
    t = runToIdle(model, t);
    const g3 = model.add(spec(prompt(3, 64, 16, 11)), null, t);
    runToIdle(model, t);
    expect(g1.cachedTokens).toBe(48);
    expect(g3.cachedTokens).toBe(64);
    expect(model.cachedBlocks).toBeLessThanOrEqual(12);
    expect(model.gauges().kvBlocksUsed).toBe(0);
  });

  it('shares a cached block between running requests without counting it twice', () => {
    const model = new EngineModel(tinyProfile());
    model.add(spec(prompt(1, 320, 0, 0)), null, 0);
    const t = runToIdle(model);
    model.add(spec(prompt(1, 320, 16, 1), 50), null, t);
    model.add(spec(prompt(1, 320, 16, 2), 50), null, t);
    const loop = new StepLoop(model, () => undefined, Infinity);
    loop.advance(t);
    // 21 blocks each, 20 of them the shared prefix held once: 20 + 2 × 1 (+ a decode block each at most)
    expect(model.gauges().kvBlocksUsed).toBeLessThanOrEqual(24);
    let due = loop.advance(t);
    while (due !== undefined) due = loop.advance(due);
    expect(model.gauges().kvBlocksUsed).toBe(0);
  });

  it('without caching (or without keys) nothing is looked up', () => {
    const model = new EngineModel(tinyProfile(), { prefixCaching: false });
    model.add(spec(prompt(1, 256, 0, 0)), null, 0);
    const t = runToIdle(model);
    const again = model.add(spec(prompt(1, 256, 16, 1)), null, t);
    runToIdle(model, t);
    expect(again.cachedTokens).toBe(-1);
    expect(model.counters.prefixCacheQueriesTotal).toBe(0);
  });

  it('/metrics exposes the counters and enable_prefix_caching', () => {
    const model = new EngineModel(tinyProfile());
    model.add(spec(prompt(1, 256, 0, 0)), null, 0);
    const t = runToIdle(model);
    model.add(spec(prompt(1, 256, 16, 1)), null, t);
    runToIdle(model, t);
    const text = new SimMetrics(model).vllmText();
    expect(text).toMatch(/^vllm:prefix_cache_queries_total\{[^}]*\} 528\.0$/m);
    expect(text).toMatch(/^vllm:prefix_cache_hits_total\{[^}]*\} 256\.0$/m);
    expect(text).toContain('enable_prefix_caching="True"');
  });
});
