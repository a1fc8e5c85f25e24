// Where a command writes its files (`--out DIR`), checked before any work is done: an empty
// name, an existing file or device (`/dev/null`), a path through a file, or a place that cannot
// be written would otherwise fail only at the first write, after the work, with a stack trace.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { InputProblem } from '../core/errors.js';

const errno = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/**
 * The problem with `dir` as an output directory (`flag` names the option in the message), or null
 * when it is a writable directory or can be created as one (its nearest existing ancestor is a
 * writable directory). Nothing is created here.
 */
export function outputDirProblem(dir: string, flag = '--out'): InputProblem | null {
  if (dir.trim() === '') return { path: flag, message: 'expected a directory, found an empty name; e.g. --out reports/merged' };
  let at = resolve(dir);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' && dirname(at) !== at) {
        at = dirname(at);
        continue;
      }
      if (code === 'ENOTDIR') return { path: flag, message: `cannot create ${dir}: a part of its path is a file, not a directory; choose another place` };
      return { path: flag, message: `cannot use ${dir} (${code}); choose another directory` };
    }
    const what = at === resolve(dir) ? dir : `${at} (where ${dir} would be created)`;
    if (!isDir) return { path: flag, message: `${what} is a file, not a directory; give a directory (it is created when missing)` };
    try {
      accessSync(at, constants.W_OK | constants.X_OK);
    } catch (err) {
      return { path: flag, message: `cannot write into ${what} (${errno(err)}); choose a writable directory` };
    }
    return null;
  }
}

/**
 * Whether an error is the system refusing a write (a Node system error: EACCES, EROFS, ENOSPC,
 * or ENOENT from a place such as /proc/x that no check beforehand can foresee): it answers 104
 * naming the place, not a stack trace.
 */
export function isWriteRefusal(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}
