import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../../src/cli/execute.js';
import { sweepExitCode } from '../../../src/cli/sweep.js';
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

describe('exit codes of a sweep', () => {
  const base = { interrupted: false, strict: false, generatorLimitedSteps: 0, sustainableFound: true };
  it('0 when a sustainable rate was found, 99 when none was, 105 when interrupted', () => {
    expect(sweepExitCode(base)).toBe(0);
    expect(sweepExitCode({ ...base, sustainableFound: false })).toBe(99);
    expect(sweepExitCode({ ...base, interrupted: true, sustainableFound: false })).toBe(105);
  });

  it('--strict: 107 when the generator was the bottleneck in any step, before the verdict; without it, the verdict', () => {
    expect(sweepExitCode({ ...base, generatorLimitedSteps: 1 })).toBe(0);
    expect(sweepExitCode({ ...base, generatorLimitedSteps: 1, strict: true })).toBe(107);
    expect(sweepExitCode({ ...base, generatorLimitedSteps: 2, strict: true, sustainableFound: false })).toBe(107);
    expect(sweepExitCode({ ...base, strict: true })).toBe(0);
    expect(sweepExitCode({ ...base, generatorLimitedSteps: 1, strict: true, interrupted: true })).toBe(105);
  });
});
