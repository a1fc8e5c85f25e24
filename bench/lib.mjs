// Shared helpers for the benchmarks: one human line and one JSON line per figure.
// A figure: {bench, value, unit, better: 'higher'|'lower', target, params}.

/** Prints a figure for a person and as one JSON line for CI to chart. */
export function report(fig) {
  const target = fig.target === undefined || fig.target === null ? '' : `  (target ${fig.better === 'higher' ? '>=' : '<='} ${fig.target})`;
  const met =
    fig.target === undefined || fig.target === null
      ? ''
      : (fig.better === 'higher' ? fig.value >= fig.target : fig.value <= fig.target)
        ? '  met'
        : '  NOT MET';
  const params = Object.entries(fig.params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`${fig.bench}: ${fmt(fig.value)} ${fig.unit}${target}${met}   [${params}]\n`);
  process.stdout.write(JSON.stringify({ bench: fig.bench, value: fig.value, unit: fig.unit, better: fig.better, target: fig.target ?? null, params: fig.params ?? {} }) + '\n');
}

function fmt(v) {
  if (typeof v !== 'number') return String(v);
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

/** CPU time (user + system) of this process in seconds. */
export function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Pins a child process to one core with taskset when available; returns the argv prefix. */
export async function pinned(core) {
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('taskset', ['-c', String(core), 'true'], { stdio: 'ignore' });
    return ['taskset', '-c', String(core)];
  } catch {
    return [];
  }
}

export const args = process.argv.slice(2);
export const long = args.includes('--long');
