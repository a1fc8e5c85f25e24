import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../../src/cli/execute.js';
import type { RunResult } from '../../../src/results/types.js';

const result = (over: { status?: RunResult['status']; valid?: boolean; sloPassed?: boolean[] }): RunResult =>
  ({
    status: over.status ?? 'complete',
    generator: { valid: over.valid ?? true },
    slo: (over.sloPassed ?? []).map((passed) => ({ passed })),
  }) as unknown as RunResult;

describe('exit codes (cli.md)', () => {
  it('maps a run to k6-style exit codes', () => {
    expect(exitCodeOf(result({}), false)).toBe(0);
    expect(exitCodeOf(result({ sloPassed: [true, false] }), false)).toBe(99);
    expect(exitCodeOf(result({ status: 'interrupted', sloPassed: [false] }), false)).toBe(105);
    expect(exitCodeOf(result({ status: 'failed' }), false)).toBe(107);
  });

  it('--strict turns a saturated generator into 107, before any SLO verdict', () => {
    expect(exitCodeOf(result({ valid: false }), false)).toBe(0);
    expect(exitCodeOf(result({ valid: false }), true)).toBe(107);
    expect(exitCodeOf(result({ valid: false, sloPassed: [false] }), true)).toBe(107);
  });
});
