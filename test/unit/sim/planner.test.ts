// Seeded per-request plans (output length, faults) and the pre-serialised SSE frames.

import { describe, expect, it } from 'vitest';
import { RequestPlanner, resolveFaults } from '../../../src/sim/planner.js';
import type { RequestPlan } from '../../../src/sim/planner.js';
import { STREAM_ERROR_FRAME, streamFrames, tokenText } from '../../../src/sim/sse.js';

const params = { maxTokens: 256, minTokens: 0, ignoreEos: false };

function plans(seed: number, n: number, faults = {}): RequestPlan[] {
  const p = new RequestPlanner(seed, faults);
  return Array.from({ length: n }, () => p.next(params));
}

describe('RequestPlanner', () => {
  it('is deterministic for a seed and request order', () => {
    expect(plans(3, 100)).toEqual(plans(3, 100));
    expect(plans(3, 100)).not.toEqual(plans(4, 100));
  });

  it('draws natural output lengths in [16, max] with finish reason stop below max', () => {
    const all = plans(1, 2000);
    for (const p of all) {
      expect(p.outputTokens).toBeGreaterThanOrEqual(16);
      expect(p.outputTokens).toBeLessThanOrEqual(256);
      expect(p.finishReason).toBe(p.outputTokens === 256 ? 'length' : 'stop');
    }
    const mean = all.reduce((s, p) => s + p.outputTokens, 0) / all.length;
    expect(mean).toBeGreaterThan(125);
    expect(mean).toBeLessThan(147);
  });

  it('honours ignore_eos, min_tokens and tiny max_tokens', () => {
    const p = new RequestPlanner(1);
    expect(p.next({ maxTokens: 100, minTokens: 0, ignoreEos: true })).toMatchObject({
      outputTokens: 100,
      finishReason: 'length',
    });
    for (let i = 0; i < 200; i++) {
      expect(p.next({ maxTokens: 100, minTokens: 90, ignoreEos: false }).outputTokens).toBeGreaterThanOrEqual(90);
    }
    expect(p.next({ maxTokens: 3, minTokens: 0, ignoreEos: false }).outputTokens).toBeLessThanOrEqual(3);
  });

  it('keeps the k-th draws for the k-th request whatever its parameters', () => {
    const a = new RequestPlanner(9, { dropRatio: 0.5 });
    const b = new RequestPlanner(9, { dropRatio: 0.5 });
    a.next({ maxTokens: 10, minTokens: 0, ignoreEos: true });
    b.next({ maxTokens: 999, minTokens: 5, ignoreEos: false });
    expect(a.next(params)).toEqual(b.next(params));
  });

  it('injects faults at their ratios, mid-stream', () => {
    const all = plans(2, 4000, {
      http500Ratio: 0.1,
      http429Ratio: 0.1,
      stallRatio: 0.1,
      dropRatio: 0.1,
      midStreamErrorRatio: 0.1,
      stallS: 2,
    });
    const share = (kind: string): number => all.filter((p) => p.fault.kind === kind).length / all.length;
    for (const kind of ['http500', 'http429', 'stall', 'drop', 'midStreamError']) {
      expect(share(kind)).toBeGreaterThan(0.08);
      expect(share(kind)).toBeLessThan(0.12);
    }
    for (const p of all) {
      const f = p.fault;
      if (f.kind === 'stall' || f.kind === 'drop' || f.kind === 'midStreamError') {
        expect(f.afterTokens).toBeGreaterThanOrEqual(1);
        expect(f.afterTokens).toBeLessThan(p.outputTokens);
      }
      if (f.kind === 'stall') expect(f.stallUs).toBe(2_000_000);
    }
  });

  it('rejects bad fault ratios', () => {
    expect(() => resolveFaults({ dropRatio: 1.5 })).toThrow(/dropRatio/);
    expect(() => resolveFaults({ dropRatio: 0.6, http500Ratio: 0.6 })).toThrow(/more than 1/);
  });
});

describe('SSE frames', () => {
  const parse = (frame: string): unknown => {
    expect(frame.startsWith('data: ')).toBe(true);
    expect(frame.endsWith('\n\n')).toBe(true);
    return JSON.parse(frame.slice(6, -2));
  };

  it('chat chunks match vLLM', () => {
    const f = streamFrames('chat', 'chatcmpl-1', 1700000000, 'm/x');
    expect(parse(f.role())).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'm/x',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
    expect(parse(f.token(' the'))).toMatchObject({ choices: [{ delta: { content: ' the' }, finish_reason: null }] });
    expect(parse(f.last(' end', 'length'))).toMatchObject({
      choices: [{ delta: { content: ' end' }, finish_reason: 'length', stop_reason: null }],
    });
    expect(parse(f.usage(10, 5))).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    });
    expect(parse(f.token(' a', 1234.5))).toMatchObject({ inferload_emit_ms: 1234.5 });
  });

  it('completion chunks carry text', () => {
    const f = streamFrames('completions', 'cmpl-1', 1, 'm');
    expect(f.role()).toBe('');
    expect(parse(f.token(' of'))).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, text: ' of', finish_reason: null }],
    });
  });

  it('the in-stream error is vLLM’s shape', () => {
    expect(parse(STREAM_ERROR_FRAME)).toEqual({
      error: { message: 'Internal server error', type: 'InternalServerError', param: null, code: 500 },
    });
  });

  it('token words are deterministic', () => {
    expect(tokenText(5, 9)).toBe(tokenText(5, 9));
    expect(tokenText(5, 9)).toMatch(/^ [a-z]+$/);
  });
});
