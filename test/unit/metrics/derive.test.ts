import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/core/record.js';
import { derive, forEachItl, forEachItlPerToken, tokensPerChunk } from '../../../src/metrics/derive.js';

function record(): RequestRecord {
  const r = new RequestRecord(1, 1_000, 10, false);
  r.sentUs = 1_500;
  r.headersUs = 2_000;
  r.firstChunkUs = 3_000;
  r.firstTokenUs = 11_000;
  r.chunkUs = [11_000, 21_000, 41_000, 71_000];
  r.chunkChars = [3, 3, 6, 3];
  r.endUs = 72_000;
  r.ok = true;
  return r;
}

describe('derive (metrics.md)', () => {
  it('measures TTFT from the intended start and from the send, and the schedule lag', () => {
    const d = derive(record());
    expect(d.ttftUs).toBe(10_000);
    expect(d.ttftSentUs).toBe(9_500);
    expect(d.scheduleLagUs).toBe(500);
    expect(d.e2eUs).toBe(71_000);
    expect(d.e2eSentUs).toBe(70_500);
  });

  it('TPOT = (end − first_token) / (output_tokens − 1), with usage or the chunk count', () => {
    const r = record();
    expect(derive(r).tpotUs).toBeCloseTo(61_000 / 3);
    expect(derive(r).outputTokensEstimated).toBe(true);
    r.outputTokensUsage = 5;
    expect(derive(r).tpotUs).toBeCloseTo(61_000 / 4);
    expect(derive(r).outputTokensEstimated).toBe(false);
    r.outputTokensUsage = 1;
    expect(derive(r).tpotUs).toBeNaN();
  });

  it('ITL per chunk: the gaps after the first token', () => {
    const gaps: number[] = [];
    forEachItl(record().chunkUs, (g) => gaps.push(g));
    expect(gaps).toEqual([10_000, 20_000, 30_000]);
  });

  it('ITL per token divides a gap by the tokens its chunk carried, once per token', () => {
    const r = record();
    r.outputTokensUsage = 5; // one chunk carried two tokens: the longest one
    const tokens = tokensPerChunk(r.chunkChars, r.outputTokensUsage);
    expect(tokens).toEqual([1, 1, 2, 1]);
    const out: [number, number][] = [];
    forEachItlPerToken(r.chunkUs, tokens, (g, k) => out.push([g, k]));
    expect(out).toEqual([
      [10_000, 1],
      [10_000, 2],
      [30_000, 1],
    ]);
  });

  it('apportions usage over chunks by content length with the largest remainder', () => {
    expect(tokensPerChunk([1, 1, 1], 3)).toEqual([1, 1, 1]);
    expect(tokensPerChunk([1, 1, 1], null)).toEqual([1, 1, 1]);
    expect(tokensPerChunk([4, 4], 6)).toEqual([3, 3]);
    expect(tokensPerChunk([10, 0, 0], 6).reduce((a, b) => a + b, 0)).toBe(6);
    expect(tokensPerChunk([1, 1], 1)).toEqual([1, 1]);
  });
});
