import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { approxTokenCount } from '../../../src/core/tokens.js';
import type { WorkloadSpec } from '../../../src/core/types.js';
import { sampleLength } from '../../../src/workload/lengths.js';
import { approximateTokenizer } from '../../../src/workload/tokenizer.js';
import { Workload } from '../../../src/workload/workload.js';

const spec: WorkloadSpec = {
  promptTokens: { dist: 'lognormal', mean: 512, stddev: 128, min: 16, max: 4096 },
  outputTokens: { dist: 'uniform', min: 10, max: 20 },
  ignoreEos: true,
  minTokens: false,
  temperature: 0,
};

describe('workload', () => {
  it('synthetic prompts have exactly the sampled token count (by the shared approximation)', () => {
    const rng = new Rng(3);
    const tokenizer = approximateTokenizer('completions');
    for (const n of [1, 16, 512, 3000]) expect(approxTokenCount(tokenizer.synthesize(n, rng, n).text)).toBe(n);
  });

  it('request k is the same for the same seed, different for another seed, and distinct across k', () => {
    const a = new Workload(spec, 1, 'chat');
    const b = new Workload(spec, 1, 'chat');
    const c = new Workload(spec, 2, 'chat');
    expect(a.request(7)).toEqual(b.request(7));
    expect(a.request(7)).not.toEqual(c.request(7));
    expect(a.request(7).messages![0]!.content).not.toBe(a.request(8).messages![0]!.content);
    const r = a.request(7);
    expect(approxTokenCount(r.messages![0]!.content)).toBe(r.promptTokens);
    expect(r.maxTokens).toBeGreaterThanOrEqual(10);
    expect(r.maxTokens).toBeLessThanOrEqual(20);
    expect(new Workload(spec, 1, 'completions').request(7).prompt).toBe(r.messages![0]!.content);
  });

  it('length distributions keep their mean and their bounds', () => {
    const rng = new Rng(1);
    const xs = Array.from({ length: 20_000 }, () => sampleLength(spec.promptTokens, rng));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 512) / 512).toBeLessThan(0.02);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(16);
    expect(Math.max(...xs)).toBeLessThanOrEqual(4096);
    expect(sampleLength({ dist: 'normal', mean: 5, stddev: 50, min: 3, max: 9 }, rng)).toBeGreaterThanOrEqual(3);
    expect(sampleLength({ dist: 'fixed', value: 64 }, rng)).toBe(64);
  });
});
