// `--start-at`: the common start of a run's shards, so that every shard's schedule and windows
// count from one instant. A time (epoch seconds or ms, or ISO-8601), or `sync:DIR`: a rendezvous
// on a directory all shards share (a Kubernetes Job's results volume), where each shard says it is
// ready and all start together once every one has, with no coordinator of our own.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError, InvalidRunError } from '../core/errors.js';
import type { ShardSpec } from '../core/shard.js';

export type StartAt = { kind: 'time'; epochMs: number } | { kind: 'sync'; dir: string };

/** How far ahead a start may be: beyond it a typo is likelier than a plan. */
const MAX_AHEAD_MS = 7 * 24 * 3600 * 1000;
/** The start after the last shard said it was ready: time for every shard to read that it was. */
export const SYNC_MARGIN_MS = 5000;

export function parseStartAt(text: string, nowMs = Date.now()): StartAt {
  const bad = (message: string): never => {
    throw new InvalidInputError([{ path: '--start-at', message }]);
  };
  const t = text.trim();
  if (t.startsWith('sync:')) {
    const dir = t.slice(5);
    if (dir.length === 0) return bad('sync: needs a directory every shard can write, like sync:/results/run-1/start');
    return { kind: 'sync', dir };
  }
  let epochMs: number;
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    // seconds until the year 5138, milliseconds after
    epochMs = n < 1e11 ? n * 1000 : n;
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(t) && !Number.isNaN(Date.parse(t))) {
    if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(t)) return bad(`"${text}" has no time zone: add Z (UTC) or an offset like +01:00, so that every shard reads the same instant`);
    epochMs = Date.parse(t);
  } else return bad(`expected an epoch time (seconds or ms), an ISO-8601 time like 2026-12-02T10:00:00Z, or sync:DIR; found "${text}"`);
  if (epochMs - nowMs > MAX_AHEAD_MS) return bad(`${new Date(epochMs).toISOString()} is more than 7 days ahead: check the time`);
  return { kind: 'time', epochMs };
}

interface Ready {
  run_id: string;
  index: number;
  count: number;
  ready_ms: number;
  host: string;
}

/**
 * Writes DIR/shard-<i>.ready and waits until every shard of the run has written its own; the
 * start is the latest of their ready times plus SYNC_MARGIN_MS, the same for every shard since
 * each reads the same files. A file of another run (another run id or count) is an error: a
 * directory is one run's. Gives up after `timeoutMs` naming the shards that never came (exit 107).
 */
export async function rendezvous(dir: string, shard: ShardSpec, runId: string, opts: { timeoutMs: number; log: (line: string) => void; pollMs?: number }): Promise<number> {
  const mine: Ready = { run_id: runId, index: shard.index, count: shard.count, ready_ms: Date.now(), host: hostname() };
  try {
    mkdirSync(dir, { recursive: true });
    // written whole under another name, then renamed: a reader never sees half a file
    const tmp = join(dir, `.shard-${shard.index}.ready.tmp`);
    writeFileSync(tmp, JSON.stringify(mine));
    renameSync(tmp, join(dir, `shard-${shard.index}.ready`));
  } catch (err) {
    throw new InvalidInputError([{ path: '--start-at', message: `cannot write to ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): give sync: a directory every shard can write` }]);
  }
  opts.log(`inferload: shard ${shard.index}/${shard.count} ready; waiting in ${dir} for the others`);
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    const seen = new Map<number, Ready>();
    for (const name of readdirSync(dir)) {
      const m = /^shard-(\d+)\.ready$/.exec(name);
      if (!m) continue;
      let r: Ready;
      try {
        r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Ready;
      } catch {
        continue;
      }
      // a file from an earlier attempt of the same run (a Job applied again): its shard is not here now
      if (r.ready_ms < mine.ready_ms - opts.timeoutMs)
        throw new InvalidInputError([
          { path: '--start-at', message: `${join(dir, name)} was written ${new Date(r.ready_ms).toISOString()}, longer ago than the wait allows: an earlier attempt's; give each attempt its own run id, or empty ${dir}` },
        ]);
      if (r.run_id !== runId || r.count !== shard.count)
        throw new InvalidInputError([
          { path: '--start-at', message: `${join(dir, name)} is of run ${JSON.stringify(r.run_id)} with ${r.count} shards, not ${JSON.stringify(runId)} with ${shard.count}: give each run a directory of its own` },
        ]);
      seen.set(r.index, r);
    }
    if (seen.size === shard.count) {
      const start = Math.max(...[...seen.values()].map((r) => r.ready_ms)) + SYNC_MARGIN_MS;
      opts.log(`inferload: all ${shard.count} shards ready; starting at ${new Date(start).toISOString()}`);
      return start;
    }
    if (Date.now() > until) {
      const missing = Array.from({ length: shard.count }, (_, i) => i).filter((i) => !seen.has(i));
      throw new InvalidRunError(
        `${missing.length} of ${shard.count} shards never became ready in ${dir} within ${Math.round(opts.timeoutMs / 1000)} s (missing: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''})`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}
