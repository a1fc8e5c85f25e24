// How an input problem reads: field paths, what was found, and the nearest valid name when a
// name was mistyped. Pure helpers shared by the schema, the loader and the overrides.

/** A path as users write it: `load.stages[1].duration`; the root is `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_$][\w$-]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out === '' ? '(root)' : out;
}

function truncate(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A found value with its kind, for "expected X, found Y": `30 (a number)`, `"5 min" (a string)`. */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (typeof value === 'string') return value === '' ? '"" (an empty string)' : `${JSON.stringify(truncate(value))} (a string)`;
  if (typeof value === 'number') return `${String(value)} (a number)`;
  if (typeof value === 'boolean') return `${String(value)} (a boolean)`;
  if (ArrayBuffer.isView(value)) return 'binary data';
  if (Array.isArray(value)) {
    return value.length === 0 ? 'an empty list' : `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty mapping' : `a mapping with ${truncate(keys.join(', '))}`;
  }
  return `a ${typeof value}`;
}

/** Edit distance with adjacent transpositions (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/** Case, `_` and `-` do not distinguish names for suggestions: `grace_period` ~ `gracePeriod`. */
function fold(name: string): string {
  return name.toLowerCase().replace(/[-_\s]/g, '');
}

/**
 * The candidate `word` was most likely meant as: the same name up to case, `_` and `-`; the
 * closest by edit distance when within 2 (1 for names of up to 5 characters); or the shortest
 * name it begins (`ttft` → `ttft_ms`, for words of 3 characters or more).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const folded = fold(word);
  const same = candidates.find((c) => fold(c) === folded);
  if (same !== undefined) return same;
  return nearest(folded, candidates) ?? shortestExtension(folded, candidates);
}

function nearest(folded: string, candidates: readonly string[]): string | undefined {
  const allowed = Math.min(2, Math.max(1, Math.floor(folded.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(folded, fold(candidate));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function shortestExtension(folded: string, candidates: readonly string[]): string | undefined {
  if (folded.length < 3) return undefined;
  let best: string | undefined;
  for (const candidate of candidates) {
    if (fold(candidate).startsWith(folded) && (best === undefined || candidate.length < best.length)) best = candidate;
  }
  return best;
}

/** `a, b or c`. */
export function listOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}
