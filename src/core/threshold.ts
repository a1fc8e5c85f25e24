// k6 threshold expressions (`p(95)<500`, `rate<0.001`, `avg<=200`), parsed once so that
// config/ can validate them, the recorder can judge single requests (goodput) and analysis/
// can judge a whole run with the same reading.

export type Aggregation = { kind: 'p'; percentile: number } | { kind: 'avg' | 'min' | 'max' | 'med' | 'count' | 'rate' };
export type Comparison = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface ParsedThreshold {
  aggregation: Aggregation;
  op: Comparison;
  value: number;
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
    aggregation = { kind: 'p', percentile };
  } else {
    aggregation = { kind: agg as 'avg' | 'min' | 'max' | 'med' | 'count' | 'rate' };
  }
  return { aggregation, op: m[3] as Comparison, value: Number(m[4]) };
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
