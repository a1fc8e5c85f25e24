// Shards of one run (`--shard i/N`, or `--shards N` with the index from JOB_COMPLETION_INDEX as a
// Kubernetes Indexed Job sets it): every shard walks the one schedule of the whole run, from the
// same seed, and takes its own part of it, so that the shards together send exactly what one
// process would have sent, and each shard's own arrivals keep the arrival process's character.
import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';
import { Rng } from './rng.js';
import type { ArrivalProcess, ScenarioSpec } from './types.js';

export interface ShardSpec {
  /** 0 … count − 1 */
  index: number;
  count: number;
}

/** The most shards of one run (a Kubernetes Indexed Job allows 100 000 completions). */
export const MAX_SHARDS = 100_000;

/** `--shard i/N`. */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const bad = (message: string): never => {
    throw new InvalidInputError([{ path: '--shard', message }]);
  };
  if (!m) return bad(`expected INDEX/COUNT like 0/4 (the first of four shards), found "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) return bad(`the shard count must be 1 to ${MAX_SHARDS}, found ${count}`);
  if (index >= count) return bad(`the index counts from 0: shard ${index} of ${count} does not exist (0 to ${count - 1})`);
  return { index, count };
}

/** `--shards N`: the index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's pods carry it). */
export function shardFromEnv(countText: string, env: NodeJS.ProcessEnv = process.env): ShardSpec {
  const count = Number(countText);
  if (!/^\s*\d+\s*$/.test(countText) || count < 1 || count > MAX_SHARDS)
    throw new InvalidInputError([{ path: '--shards', message: `expected a shard count from 1 to ${MAX_SHARDS}, found "${countText}"` }]);
  const raw = env.JOB_COMPLETION_INDEX;
  if (raw === undefined || raw === '')
    throw new InvalidInputError([
      { path: '--shards', message: 'the shard index comes from JOB_COMPLETION_INDEX (set in a Kubernetes Indexed Job), which is not set: run inside such a Job, or give --shard INDEX/COUNT' },
    ]);
  if (!/^\d+$/.test(raw) || Number(raw) >= count)
    throw new InvalidInputError([{ path: 'JOB_COMPLETION_INDEX', message: `expected an index from 0 to ${count - 1} (--shards ${count}), found "${raw}"` }]);
  return { index: Number(raw), count };
}

/**
 * Which shard sends arrival `g` (its number in the whole run's schedule). Constant spacing is
 * interleaved (arrival g to shard g mod N: each shard's arrivals are evenly spaced again); random
 * arrivals are thinned (each to a shard drawn from its own stream: a thinned Poisson process is a
 * Poisson process of rate λ/N, as the shard's own arrivals should be). Either way the shards'
 * arrivals together are exactly the one schedule.
 */
export function ownerOf(g: number, shard: ShardSpec, arrival: ArrivalProcess | 'trace', seed: number): number {
  if (shard.count === 1) return 0;
  if (arrival === 'constant' || arrival === 'trace') return g % shard.count;
  return Math.floor(Rng.derive(seed ^ Math.imul(g + 1, 0x9e3779b1), 'shard').next() * shard.count);
}

/** Closed loop: user j of the whole run belongs to shard j mod N. */
export function ownsUser(j: number, shard: ShardSpec): boolean {
  return j % shard.count === shard.index;
}

/** A request count split over the shards: the first (count mod N) shards take one more. */
export function requestsShare(total: number, shard: ShardSpec): number {
  return Math.floor(total / shard.count) + (shard.index < total % shard.count ? 1 : 0);
}

/**
 * The scenario's hash: sha256 of the validated scenario (the run's overrides applied), with keys
 * in sorted order. Shards of one run have the same; `merge` refuses shards whose hashes differ.
 */
export function scenarioHash(spec: ScenarioSpec): string {
  return createHash('sha256').update(stableJson(spec)).digest('hex');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
