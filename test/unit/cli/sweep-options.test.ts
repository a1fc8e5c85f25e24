// `sweep` takes every option of `run` that makes sense for a sweep and refuses the others with a
// reason (exit 104). Enumerates run's options from commander, so that an option added to `run`
// cannot be forgotten by `sweep`: it must be accepted there, or refused in SWEEP_REFUSED.
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode, InvalidInputError } from '../../../src/core/errors.js';
import { buildProgram, SWEEP_REFUSED } from '../../../src/cli/main.js';

function commands(): { run: Command; sweep: Command; program: Command } {
  const program = buildProgram(() => undefined);
  const run = program.commands.find((c) => c.name() === 'run')!;
  const sweep = program.commands.find((c) => c.name() === 'sweep')!;
  return { run, sweep, program };
}

/** argv that sets the option (a value for those that take one; a valid choice where there are choices) */
function argvFor(o: Option): string[] {
  if (!o.required && !o.optional) return [o.long!];
  return [o.long!, o.argChoices?.[0] ?? '3'];
}

describe('sweep and the options of run', () => {
  const { run, sweep } = commands();

  it('every option of run is either accepted by sweep or refused there with a reason', () => {
    expect(run.options.length).toBeGreaterThan(10);
    for (const o of run.options) {
      const mirror = sweep.options.find((s) => s.long === o.long);
      expect(mirror, `${o.long} is unknown to sweep: accept it there or add it to SWEEP_REFUSED`).toBeDefined();
      const refusal = SWEEP_REFUSED[o.long!];
      if (refusal === undefined) {
        // accepted: listed in sweep's help, and parsed
        expect(mirror!.hidden, `${o.long} is accepted by sweep but hidden from its help`).toBe(false);
        expect(sweep.parseOptions(argvFor(o)).unknown, o.long).toEqual([]);
      } else {
        // refused: out of sweep's help, and the reason says what to use instead
        expect(mirror!.hidden, `${o.long} is refused by sweep but listed in its help`).toBe(true);
        expect(refusal).toMatch(/--set sweep\.|--set load\.|inferload run/);
      }
    }
  });

  it('refuses only options that run has (no stale entries)', () => {
    const runFlags = new Set(run.options.map((o) => o.long));
    for (const flag of Object.keys(SWEEP_REFUSED)) expect(runFlags.has(flag), flag).toBe(true);
  });

  it('takes the flags a CI job writes for both commands', () => {
    for (const flag of ['--quiet', '--strict', '--api-key-env', '--checkpoint', '--record-chunks']) expect(SWEEP_REFUSED[flag], flag).toBeUndefined();
    for (const flag of ['--rate', '--duration', '--requests', '--concurrency']) expect(SWEEP_REFUSED[flag], flag).toBeDefined();
  });

  it('says what --strict means for a sweep in its help', () => {
    const strict = sweep.options.find((o) => o.long === '--strict')!;
    expect(strict.description).toMatch(/107/);
    expect(strict.description).toMatch(/any step/);
  });

  for (const [flag, reason] of Object.entries(SWEEP_REFUSED)) {
    it(`refuses ${flag} with exit 104 and the reason, before anything starts`, async () => {
      const { program } = commands();
      const o = run.options.find((x) => x.long === flag)!;
      const err = await program.parseAsync(['node', 'inferload', 'sweep', 'smoke', ...argvFor(o)]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).exitCode).toBe(ExitCode.invalidInput);
      expect((err as InvalidInputError).message).toContain(flag);
      expect((err as InvalidInputError).message).toContain(reason);
    });
  }

  it('reports every refused option at once', async () => {
    const { program } = commands();
    const err = (await program.parseAsync(['node', 'inferload', 'sweep', 'smoke', '--rate', '5', '--duration', '10s']).catch((e: unknown) => e)) as InvalidInputError;
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.problems.map((p) => p.path)).toEqual(['--duration', '--rate']);
  });
});
