import { describe, expect, test } from 'vitest';
import { formatDuration, parseDurationS, suggestDuration } from '../../../src/config/duration.js';

describe('parseDurationS', () => {
  test.each([
    ['500ms', 0.5],
    ['100ms', 0.1],
    ['30s', 30],
    ['1.5s', 1.5],
    ['.5s', 0.5],
    ['5m', 300],
    ['1h30m', 5400],
    ['1m30s500ms', 90.5],
    ['24h', 86_400],
    ['1d', 86_400],
    ['0s', 0],
  ])('%s is %d s', (text, seconds) => {
    expect(parseDurationS(text)).toBe(seconds);
  });

  test.each(['30', '', 's', '5 m', '5M', '-5s', '5min', '1h 30m', '5s ', 'ms'])('%j is not a duration', (text) => {
    expect(parseDurationS(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0s'],
    [0.25, '250ms'],
    [30, '30s'],
    [90.5, '1m30s500ms'],
    [5400, '1h30m'],
    [86_400, '24h'],
  ])('%d s is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe('suggestDuration', () => {
  test.each([
    [30, '30s'],
    ['30', '30s'],
    ['5 min', '5m'],
    ['5 minutes', '5m'],
    ['2 hours 30 minutes', '2h30m'],
    ['500 milliseconds', '500ms'],
    ['1H', '1h'],
    ['10 sec', '10s'],
  ])('%j → %s', (written, suggestion) => {
    expect(suggestDuration(written)).toBe(suggestion);
  });

  test.each([['soon'], [-1], [true], ['30s']])('no suggestion for %j', (written) => {
    expect(suggestDuration(written)).toBeUndefined();
  });
});
