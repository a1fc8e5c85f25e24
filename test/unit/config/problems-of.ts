// Test helper: the problems an InvalidInputError carries (fails the test when nothing, or something else, is thrown).
import { expect } from 'vitest';
import type { InputProblem } from '../../../src/core/errors.js';
import { ExitCode, InvalidInputError } from '../../../src/core/errors.js';

export function problemsOf(run: () => unknown): InputProblem[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    const invalid = error as InvalidInputError;
    expect(invalid.exitCode).toBe(ExitCode.invalidInput);
    return invalid.problems;
  }
  throw new Error('expected an InvalidInputError, but nothing was thrown');
}
