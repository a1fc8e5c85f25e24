import { describe, expect, test } from 'vitest';
import { closest, describeFound, editDistance, formatPath } from '../../../src/config/messages.js';

describe('formatPath', () => {
  test('keys, indices and odd keys', () => {
    expect(formatPath(['load', 'stages', 1, 'duration'])).toBe('load.stages[1].duration');
    expect(formatPath(['slo', 'ttft_ms', 0])).toBe('slo.ttft_ms[0]');
    expect(formatPath(['workload', 'my key'])).toBe('workload["my key"]');
    expect(formatPath([])).toBe('(root)');
  });
});

describe('describeFound', () => {
  test.each([
    [30, '30 (a number)'],
    ['5 min', '"5 min" (a string)'],
    ['', '"" (an empty string)'],
    [true, 'true (a boolean)'],
    [null, 'null (an empty value)'],
    [undefined, 'nothing'],
    [[], 'an empty list'],
    [[1, 2], 'a list of 2 items'],
    [{}, 'an empty mapping'],
    [{ a: 1, b: 2 }, 'a mapping with a, b'],
  ])('%j', (value, text) => {
    expect(describeFound(value)).toBe(text);
  });
});

describe('editDistance and closest', () => {
  test('counts an adjacent transposition as one edit', () => {
    expect(editDistance('gracefulStop', 'gracefulStpo')).toBe(1);
    expect(editDistance('rate', 'rate')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  test('finds the meant name by case, separators or a small edit', () => {
    const keys = ['executor', 'vus', 'duration', 'thinkTime', 'gracefulStop'];
    expect(closest('gracefullStop', keys)).toBe('gracefulStop');
    expect(closest('graceful_stop', keys)).toBe('gracefulStop');
    expect(closest('THINKTIME', keys)).toBe('thinkTime');
    expect(closest('vu', keys)).toBe('vus');
    expect(closest('durration', keys)).toBe('duration');
    expect(closest('ttft', ['ttft_sent_ms', 'ttft_ms', 'itl_ms'])).toBe('ttft_ms');
    expect(closest('itl', ['itl_per_token_ms', 'itl_ms'])).toBe('itl_ms');
  });

  test('suggests nothing when nothing is close', () => {
    expect(closest('rate', ['vus', 'duration'])).toBeUndefined();
    expect(closest('abc', ['xyz'])).toBeUndefined();
  });
});
