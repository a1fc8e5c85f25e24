// k6 threshold expressions (`p(95)<500`, `rate<0.001`, `avg<=200`), parsed once so that
// config/ can validate them, the recorder can judge single requests (goodput) and analysis/
// can judge a whole run with the same reading.

export type Aggregation =
  | {
      kind: 'p';
      percentile: number;
      /** the percentile exactly as written */
      exact: Fraction;
    }
  | { kind: 'avg' | 'min' | 'max' | 'med' | 'count' | 'rate' };
export type Comparison = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface ParsedThreshold {
  aggregation: Aggregation;
  op: Comparison;
  value: number;
  /** the value exactly as written: a verdict compares with this, never with the nearest double */
  exact: Fraction;
}

/** An exact rational number `num / den`, `den > 0`. */
export interface Fraction {
  num: bigint;
  den: bigint;
}

const RE = /^\s*(p\(\s*(\d+(?:\.\d+)?)\s*\)|avg|min|max|med|count|rate)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$/;

/** Parses a k6 threshold; returns null when it is not one. */
export function parseThreshold(text: string): ParsedThreshold | null {
  const m = RE.exec(text);
  if (!m) return null;
  const agg = m[1]!;
  let aggregation: Aggregation;
  if (agg.startsWith('p(')) {
    const percentile = Number(m[2]);
    if (!(percentile >= 0 && percentile <= 100)) return null;
    aggregation = { kind: 'p', percentile, exact: decimalFraction(m[2]!) };
  } else {
    aggregation = { kind: agg as 'avg' | 'min' | 'max' | 'med' | 'count' | 'rate' };
  }
  return { aggregation, op: m[3] as Comparison, value: Number(m[4]), exact: decimalFraction(m[4]!) };
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/;

/**
 * Beyond this power of ten a literal orders the same against every value a verdict compares it
 * with (ratios of counts and microseconds, all far inside 1e±300), so a larger exponent is
 * clamped to it rather than expanded into a number with a billion digits.
 */
const MAX_POWER = 400;

/**
 * The exact value of a decimal literal (`0.999`, `-1.5e3`, or a number's `String()`). Throws on
 * anything else.
 */
export function decimalFraction(text: string): Fraction {
  const m = DECIMAL.exec(text);
  if (!m) throw new Error(`not a decimal number: ${text}`);
  const fraction = m[3] ?? '';
  const digits = BigInt(m[2]! + fraction);
  const written = m[4] === undefined ? 0 : Number(m[4]);
  // digits × 10^power; clamped so that the value stays beyond 10^±MAX_POWER when it was
  const power = Math.min(MAX_POWER, Math.max(-(MAX_POWER + m[2]!.length + fraction.length), written - fraction.length));
  const num = m[1] === '-' ? -digits : digits;
  return power >= 0 ? { num: num * 10n ** BigInt(power), den: 1n } : { num, den: 10n ** BigInt(-power) };
}

/** `observed op value`, exactly. */
export function compareExact(observed: Fraction, op: Comparison, value: Fraction): boolean {
  // both denominators are positive, so cross-multiplying keeps the order
  const d = observed.num * value.den - value.num * observed.den;
  return compare(d > 0n ? 1 : d < 0n ? -1 : 0, op, 0);
}

/** `observed op value` */
export function compare(observed: number, op: Comparison, value: number): boolean {
  switch (op) {
    case '<':
      return observed < value;
    case '<=':
      return observed <= value;
    case '>':
      return observed > value;
    case '>=':
      return observed >= value;
    case '==':
      return observed === value;
    case '!=':
      return observed !== value;
    default: {
      const never: never = op;
      throw new Error(`unknown comparison ${String(never)}`);
    }
  }
}
