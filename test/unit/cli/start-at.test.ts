// --start-at: the forms it takes, and the rendezvous of shards on a shared directory (all start
// at the same instant; another run's files are refused; shards that never come are named).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, InvalidRunError } from '../../../src/core/errors.js';
import { parseStartAt, rendezvous, SYNC_MARGIN_MS } from '../../../src/cli/start-at.js';

const NOW = Date.parse('2026-12-02T10:00:00Z');
const quiet = { log: () => undefined, pollMs: 10 };

describe('--start-at', () => {
  it('takes epoch seconds, epoch ms, ISO-8601 with a zone, and sync:DIR', () => {
    expect(parseStartAt('1796205600', NOW)).toEqual({ kind: 'time', epochMs: 1796205600000 });
    expect(parseStartAt('1796205600123', NOW)).toEqual({ kind: 'time', epochMs: 1796205600123 });
    expect(parseStartAt('2026-12-02T10:00:05Z', NOW)).toEqual({ kind: 'time', epochMs: NOW + 5000 });
    expect(parseStartAt('2026-12-02T11:00:05+01:00', NOW)).toEqual({ kind: 'time', epochMs: NOW + 5000 });
    expect(parseStartAt('sync:/results/run-1/start', NOW)).toEqual({ kind: 'sync', dir: '/results/run-1/start' });
  });

  it('refuses a time without a zone, a time weeks ahead, and anything else, saying what it takes', () => {
    const msg = (t: string): string => {
      try {
        parseStartAt(t, NOW);
      } catch (err) {
        return (err as InvalidInputError).problems[0]!.message;
      }
      return '';
    };
    expect(msg('2026-12-02T10:00:05')).toMatch(/no time zone: add Z/);
    expect(msg('2027-12-02T10:00:05Z')).toMatch(/more than 7 days ahead/);
    expect(msg('tomorrow')).toMatch(/expected an epoch time .* or sync:DIR/);
    expect(msg('sync:')).toMatch(/needs a directory/);
  });

  it('sync: shards that become ready at different moments all start at the same instant, after the last one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-sync-'));
    const starts = await Promise.all(
      [0, 1, 2].map(async (index) => {
        await new Promise((r) => setTimeout(r, index * 60));
        return rendezvous(dir, { index, count: 3 }, 'run-a', { ...quiet, timeoutMs: 5000 });
      }),
    );
    expect(new Set(starts).size).toBe(1);
    expect(starts[0]! - Date.now()).toBeLessThanOrEqual(SYNC_MARGIN_MS);
    expect(starts[0]! - Date.now()).toBeGreaterThan(SYNC_MARGIN_MS - 1000);
  });

  it("sync: another run's file in the directory is refused (104); shards that never come are named (107)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-sync-'));
    writeFileSync(join(dir, 'shard-1.ready'), JSON.stringify({ run_id: 'run-b', index: 1, count: 2, ready_ms: 0, host: 'x' }));
    await expect(rendezvous(dir, { index: 0, count: 2 }, 'run-a', { ...quiet, timeoutMs: 1000 })).rejects.toThrow(InvalidInputError);
    const lonely = mkdtempSync(join(tmpdir(), 'inferload-sync-'));
    const err = await rendezvous(lonely, { index: 1, count: 4 }, 'run-a', { ...quiet, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRunError);
    expect((err as Error).message).toMatch(/3 of 4 shards never became ready .* \(missing: 0, 2, 3\)/);
  });
});
