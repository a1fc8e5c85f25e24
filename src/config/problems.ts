// Validation of a parsed scenario against the schema, and the translation of zod's issues into
// problems a user can act on: one per unknown key with the name they most likely meant, and
// for a union only the branch that matches what they wrote.

import * as z from 'zod';
import { closest, formatPath, listOr } from './messages.js';
import type { ParsedScenario } from './schema.js';
import { scenarioJsonSchema, scenarioSchema } from './schema.js';

/** A problem before its path is formatted: segments, so that overrides and YAML nodes can be matched. */
export interface RawProblem {
  path: PropertyKey[];
  message: string;
}

/** The schema's verdict: the parsed scenario, or every problem found. */
export type Validation = { ok: true; value: ParsedScenario } | { ok: false; problems: RawProblem[] };

/** Validates `raw` (parsed YAML, overrides applied) and reports every problem at once. */
export function validateScenario(raw: unknown): Validation {
  // The keys each rejected mapping knows, captured while zod still holds the schema (`inst`),
  // keyed by the mapping as written (the issue's `input`).
  const knownKeys = new Map<object, string[]>();
  const result = scenarioSchema.safeParse(raw, {
    reportInput: true,
    error: (issue) => {
      if (issue.code === 'unrecognized_keys' && issue.inst instanceof z.ZodObject && isObject(issue.input)) {
        knownKeys.set(issue.input, Object.keys(issue.inst.shape));
      }
      return undefined;
    },
  });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: dedupe(toProblems(result.error.issues, [], knownKeys)) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function dedupe(problems: RawProblem[]): RawProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${formatPath(p.path)}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function toProblems(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[],
  knownKeys: ReadonlyMap<object, string[]>,
): RawProblem[] {
  const out: RawProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const written = isObject(issue.input) ? issue.input : {};
      const known = knownKeys.get(written) ?? [];
      for (const key of issue.keys) {
        out.push({ path: [...path, key], message: unknownKeyMessage(key, path, written, known) });
      }
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // The branch whose type matches what was written explains the problem; the others only
      // say "not a string" / "not a mapping".
      const matching = issue.errors.filter(
        (branch) => !branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
      );
      const [only] = matching;
      if (matching.length === 1 && only !== undefined) {
        out.push(...toProblems(only, path, knownKeys));
        continue;
      }
    }
    out.push({ path, message: issue.message });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Unknown keys.

/** k6's names (and near neighbours) that inferload spells differently. */
const FOREIGN_NAMES: ReadonlyMap<string, string> = new Map([
  ['maxVUs', 'inferload caps requests in flight instead: use `maxInFlight`'],
  ['preAllocatedVUs', 'inferload caps requests in flight instead: use `maxInFlight`'],
  ['thresholds', 'inferload calls thresholds `slo` (at the top level)'],
  ['iterations', 'use the top-level `requests` (the run is then exactly that many arrivals)'],
]);

/** Where a key may be written: a mapping's path pattern (`load`, `load.stages[]`), maybe one variant of a union. */
interface KeyHome {
  key: string;
  path: string;
  variant?: { discriminator: string; value: string };
}

interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
  oneOf?: JsonSchemaNode[];
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  const?: unknown;
}

let keyHomes: KeyHome[] | undefined;

/** Every key the schema knows, with where it lives (from the JSON Schema: the input side). */
function allKeyHomes(): KeyHome[] {
  if (keyHomes !== undefined) return keyHomes;
  const homes: KeyHome[] = [];
  const walk = (node: JsonSchemaNode, path: string, variant?: KeyHome['variant']): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      homes.push(variant === undefined ? { key, path } : { key, path, variant });
      walk(child, path === '' ? key : `${path}.${key}`);
    }
    for (const branch of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) {
      const tag = Object.entries(branch.properties ?? {}).find(([, p]) => typeof p.const === 'string');
      walk(branch, path, tag === undefined ? undefined : { discriminator: tag[0], value: String(tag[1].const) });
    }
    if (node.items !== undefined) walk(node.items, `${path}[]`);
  };
  walk(scenarioJsonSchema() as JsonSchemaNode, '');
  keyHomes = homes;
  return homes;
}

function pathPattern(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += '[]';
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function fold(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

function describeHome(key: string, path: string, variants: readonly KeyHome['variant'][]): string {
  const where = path === '' ? 'at the top level' : `under \`${path}\``;
  // A discriminator lives in every variant: naming them all says nothing.
  const tags = variants.filter((v): v is NonNullable<KeyHome['variant']> => v !== undefined && v.discriminator !== key);
  const first = tags[0];
  return first === undefined ? where : `${where} (${first.discriminator} ${listOr(tags.map((t) => t.value))})`;
}

/** The message for one unknown key: the name meant, the place it belongs, or the valid keys. */
export function unknownKeyMessage(
  key: string,
  objectPath: readonly PropertyKey[],
  written: Readonly<Record<string, unknown>>,
  known: readonly string[],
): string {
  const isSlo = objectPath.length === 1 && objectPath[0] === 'slo';
  const noun = isSlo ? 'metric' : 'key';
  const head = `unknown ${noun} \`${key}\``;
  const near = closest(key, known);
  if (near !== undefined) return `${head}: did you mean \`${near}\`?`;
  const foreign = FOREIGN_NAMES.get(key);
  if (foreign !== undefined) return `${head}: ${foreign}`;

  const here = pathPattern(objectPath);
  const homes = allKeyHomes().filter((h) => fold(h.key) === fold(key));
  const siblings = homes.filter((h) => h.path === here && h.variant !== undefined);
  const firstSibling = siblings[0];
  if (firstSibling?.variant !== undefined) {
    const { discriminator } = firstSibling.variant;
    const current = Object.hasOwn(written, discriminator) ? written[discriminator] : undefined;
    const owners = siblings.map((h) => h.variant?.value ?? '');
    return (
      `${head}: \`${firstSibling.key}\` belongs to ${discriminator} ${listOr(owners)}` +
      `${typeof current === 'string' ? `, not ${current}` : ''}`
    );
  }
  const elsewhere = new Map<string, KeyHome['variant'][]>();
  for (const home of homes) {
    if (home.path === here) continue;
    elsewhere.set(home.path, [...(elsewhere.get(home.path) ?? []), home.variant]);
  }
  if (elsewhere.size > 0) {
    const canonical = homes[0]?.key ?? key;
    const places = [...elsewhere].slice(0, 3).map(([path, variants]) => describeHome(canonical, path, variants));
    return `${head}: \`${canonical}\` belongs ${places.join(' or ')}`;
  }
  const valid = known.length > 0 ? `: valid ${noun}s here are ${known.join(', ')}` : '';
  return `${head}${valid}`;
}
