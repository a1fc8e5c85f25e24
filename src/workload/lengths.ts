// Sampling token lengths from the scenario's distributions (rounded, clamped, at least 1).
import type { Rng } from '../core/rng.js';
import type { LengthDist } from '../core/types.js';

export function sampleLength(dist: LengthDist, rng: Rng): number {
  let v: number;
  let min = 1;
  let max = Number.POSITIVE_INFINITY;
  switch (dist.dist) {
    case 'fixed':
      return Math.max(1, Math.round(dist.value));
    case 'uniform':
      return rng.int(Math.max(1, Math.round(dist.min)), Math.max(1, Math.round(dist.max)));
    case 'normal':
      v = dist.mean + dist.stddev * rng.normal();
      min = dist.min ?? 1;
      max = dist.max ?? max;
      break;
    case 'lognormal':
      v = dist.stddev === 0 ? dist.mean : rng.lognormal(dist.mean, dist.stddev);
      min = dist.min ?? 1;
      max = dist.max ?? max;
      break;
    default: {
      const never: never = dist;
      throw new Error(`unknown length distribution ${JSON.stringify(never)}`);
    }
  }
  return Math.round(Math.min(max, Math.max(min, Math.max(1, v))));
}
