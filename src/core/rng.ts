// Seeded pseudo-random numbers and the few distributions inferload needs. Hand-written on
// purpose: it is a dozen lines, it must give the same stream for the same seed on every
// Node version and platform forever (schedules and workloads are reproducible by seed),
// and no maintained npm package offers sfc32 plus gamma/lognormal with that guarantee.

/** sfc32 (Small Fast Counting), 32-bit state x4; passes PractRand to 2^40+. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    // splitmix32 expands one seed into four well-mixed state words.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform in [0, 1) with 32 bits of randomness */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** uniform in (0, 1): safe for logarithms */
  nextOpen(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** integer in [lo, hi] inclusive */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** standard normal (Box-Muller, both values used) */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    const u = this.nextOpen();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** exponential with the given mean */
  exponential(mean: number): number {
    return -Math.log(this.nextOpen()) * mean;
  }

  /** gamma(shape k, scale θ) by Marsaglia and Tsang; mean kθ, variance kθ² */
  gamma(shape: number, scale: number): number {
    if (shape < 1) {
      // boost: G(k) = G(k+1) * U^(1/k)
      return this.gamma(shape + 1, scale) * Math.pow(this.nextOpen(), 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.nextOpen();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v * scale;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }

  /** lognormal parameterised by the mean and stddev of the variable itself (not of its log) */
  lognormal(mean: number, stddev: number): number {
    const sigma2 = Math.log(1 + (stddev * stddev) / (mean * mean));
    const mu = Math.log(mean) - sigma2 / 2;
    return Math.exp(mu + Math.sqrt(sigma2) * this.normal());
  }

  /** an independent stream derived from this seed and a label (stable across versions) */
  static derive(seed: number, label: string): Rng {
    let h = 2166136261 ^ seed;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
    return new Rng(h >>> 0);
  }
}
