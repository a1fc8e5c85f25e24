// Typed errors with stable codes. Only cli/ maps them to process exit codes.

/** Exit codes, k6's numbers where the meaning is the same (see cli.md). */
export const ExitCode = {
  ok: 0,
  internal: 1,
  thresholdFailed: 99,
  invalidInput: 104,
  interrupted: 105,
  invalidRun: 107,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** One problem with user input: where it is, what was expected, what was found. */
export interface InputProblem {
  /** dotted path of the field, e.g. `load.stages[1].duration`, or an option name like `--rate` */
  path: string;
  message: string;
}

/** Base class: every error inferload raises on purpose carries a stable code. */
export class InferloadError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad scenario, option or input file: exit 104. Holds every problem found, not just the first. */
export class InvalidInputError extends InferloadError {
  readonly problems: InputProblem[];
  constructor(problems: InputProblem[], source?: string) {
    const head = source ? `invalid input in ${source}` : 'invalid input';
    super(
      'IL_INVALID_INPUT',
      `${head} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
      ExitCode.invalidInput,
    );
    this.problems = problems;
  }
}

/** The run could not be trusted or never reached its target: exit 107. */
export class InvalidRunError extends InferloadError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IL_INVALID_RUN', message, ExitCode.invalidRun, options);
  }
}
