// Overrides of scenario fields (`--set key=value` and the run command's flags), applied to the
// parsed YAML before validation, so that every problem still names the field it concerns.

import { parse as parseYaml } from 'yaml';
import type { InputProblem } from '../core/errors.js';
import { formatPath } from './messages.js';
import { EXECUTORS } from './schema.js';

/** One override of a scenario field. */
export interface Override {
  /** the field's path, as in the scenario file: `load.rate`, `load.stages[0].target` (or `load.stages.0.target`) */
  path: string;
  /** YAML text, read as a YAML scalar or flow collection: `20` → 20, `false` → false, `[{duration: 1m, target: 5}]` */
  value: string;
  /** the option it came from, for messages: `--set` (the default) or a flag like `--rate` */
  origin?: string;
}

/** The run command's flags that override the scenario (cli.md), as commander hands them over. */
export interface ScenarioCliOptions {
  duration?: string;
  rate?: string;
  concurrency?: string;
  seed?: string;
  requests?: string;
  endpoint?: string;
  maxTokens?: string;
  target?: string;
  model?: string;
  apiKeyEnv?: string;
  /** repeatable `--metrics URL` */
  metrics?: string[];
  /** `--prometheus URL`: server signals by PromQL (target.prometheus) */
  prometheus?: string;
}

/** Overrides to apply and the problems of flags that do not fit the scenario. */
export interface CliOverrides {
  overrides: Override[];
  problems: InputProblem[];
}

/** A path segment: a mapping key or a list index. */
export type PathSegment = string | number;

/** An override that was applied: where, and what to say about it in a problem. */
export interface AppliedOverride {
  segments: PathSegment[];
  /** `--set` or the flag's name */
  origin: string;
}

/**
 * Splits `--set key=value` arguments (the value is everything after the first `=`); an argument
 * without a key or `=` is a problem, reported with the rest.
 */
export function parseSetArgs(args: readonly string[]): { overrides: Override[]; problems: InputProblem[] } {
  const overrides: Override[] = [];
  const problems: InputProblem[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      problems.push({ path: '--set', message: `expected key=value like load.rate=20, found ${JSON.stringify(arg)}` });
    } else {
      overrides.push({ path: arg.slice(0, eq).trim(), value: arg.slice(eq + 1), origin: '--set' });
    }
  }
  return { overrides, problems };
}

const SEGMENT_RE = /^(?:\.?([A-Za-z_$][\w$-]*)|\.?(\d+)|\[(\d+)\])/;

/** Keys that would reach an object's prototype; no scenario field has these names. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** `load.stages[1].target` → ['load', 'stages', 1, 'target']; undefined when malformed. */
export function parseOverridePath(path: string): PathSegment[] | undefined {
  const segments: PathSegment[] = [];
  let rest = path.trim();
  if (rest === '' || rest.startsWith('.')) return undefined;
  while (rest !== '') {
    const match = SEGMENT_RE.exec(rest);
    if (!match) return undefined;
    const [whole, key, dotIndex, bracketIndex] = match;
    if (key !== undefined && FORBIDDEN_KEYS.has(key)) return undefined;
    if (key !== undefined) segments.push(key);
    else segments.push(Number(dotIndex ?? bracketIndex));
    rest = rest.slice(whole.length);
  }
  return segments;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

function label(override: Override): string {
  return `${override.origin ?? '--set'} ${override.path}`;
}

/** Parses an override's YAML text; a problem (at the option) when it is not YAML. */
function overrideValue(override: Override): { value: unknown } | { problem: InputProblem } {
  try {
    return { value: parseYaml(override.value, { prettyErrors: false }) as unknown };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return {
      problem: {
        path: override.origin ?? '--set',
        message:
          `cannot read the value of ${label(override)} as YAML (${reason}): ` +
          'write a YAML value like 20, true, "some text" or [{duration: 1m, target: 5}]',
      },
    };
  }
}

/**
 * Writes each override into `raw` (the parsed YAML, modified in place) in order, creating
 * missing mappings on the way. A null value (`key=null`, `key=~` or `key=`) removes the key, as
 * Helm's --set does: no field accepts null, and switching executors needs the old keys gone.
 * Problems name the option, never the value (it may be a key).
 */
export function applyOverrides(
  raw: Record<string, unknown>,
  overrides: readonly Override[],
): { applied: AppliedOverride[]; problems: InputProblem[] } {
  const applied: AppliedOverride[] = [];
  const problems: InputProblem[] = [];
  for (const override of overrides) {
    const origin = override.origin ?? '--set';
    const segments = parseOverridePath(override.path);
    if (segments === undefined || typeof segments[0] !== 'string') {
      problems.push({
        path: origin,
        message: `expected a field path like load.rate or load.stages[0].target, found ${JSON.stringify(override.path)}`,
      });
      continue;
    }
    const parsed = overrideValue(override);
    if ('problem' in parsed) {
      problems.push(parsed.problem);
      continue;
    }
    const problem = setIn(raw, segments, parsed.value);
    if (problem !== undefined) problems.push({ path: origin, message: `cannot apply ${label(override)}: ${problem}` });
    else applied.push({ segments, origin });
  }
  return { applied, problems };
}

/** Sets `value` at `segments`; a reason when a step on the way is neither a mapping nor a list. */
function setIn(root: Record<string, unknown>, segments: readonly PathSegment[], value: unknown): string | undefined {
  let container: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as PathSegment;
    const last = i === segments.length - 1;
    const here = formatPath(segments.slice(0, i));
    let next: unknown;
    if (Array.isArray(container)) {
      if (typeof segment !== 'number') return `${here} is a list: index it like ${here}[0]`;
      if (segment > container.length) {
        return `${here} has ${container.length} item${container.length === 1 ? '' : 's'}: index ${segment} is past its end`;
      }
      if (last) {
        if (value !== null) container[segment] = value;
        else if (segment < container.length) container.splice(segment, 1);
        return undefined;
      }
      next = container[segment];
      if (next === undefined || next === null) container[segment] = next = typeof segments[i + 1] === 'number' ? [] : {};
    } else {
      const key = String(segment);
      if (last) {
        if (value !== null) container[key] = value;
        else delete container[key];
        return undefined;
      }
      next = Object.hasOwn(container, key) ? container[key] : undefined;
      if (next === undefined || next === null) container[key] = next = typeof segments[i + 1] === 'number' ? [] : {};
    }
    if (!isRecord(next) && !Array.isArray(next)) {
      return `${formatPath(segments.slice(0, i + 1))} is ${kindOf(next)}, not a mapping or a list`;
    }
    container = next;
  }
  return undefined;
}

/** A string as YAML text that reads back as that same string (JSON is YAML 1.2). */
function yamlString(text: string): string {
  return JSON.stringify(text);
}

/** A flag's number as YAML text: read as YAML so that `20` is 20 and `abc` stays a string (and fails validation). */
function yamlNumber(text: string): string {
  try {
    const value: unknown = parseYaml(text);
    return typeof value === 'number' && Number.isFinite(value) ? String(value) : JSON.stringify(text);
  } catch {
    return JSON.stringify(text);
  }
}

type ExecutorName = (typeof EXECUTORS)[number];

function knownExecutor(executor: unknown): ExecutorName | undefined {
  return EXECUTORS.find((name) => name === executor);
}

/**
 * Maps the run command's flags onto scenario fields, given the scenario's executor as written
 * (after `--set`): `--duration` → load.duration, `--rate` → load.rate, `--concurrency` → load.vus
 * (VU executors) or load.maxInFlight (arrival-rate executors), `--seed`, `--requests`,
 * `--endpoint`, `--max-tokens N` → workload.outputTokens {dist: fixed, value: N}, `--target`,
 * `--model`, `--api-key-env`, `--metrics` → target.*. A flag that does not fit the executor is
 * a problem named by the flag. With an unknown executor the executor-bound flags are skipped
 * (validation reports the executor).
 */
export function cliOverrides(options: ScenarioCliOptions, executor: unknown): CliOverrides {
  const overrides: Override[] = [];
  const problems: InputProblem[] = [];
  const set = (origin: string, path: string, value: string): void => {
    overrides.push({ path, value, origin });
  };
  const name = knownExecutor(executor);
  const closedLoop = name === 'constant-vus' || name === 'ramping-vus';

  if (options.seed !== undefined) set('--seed', 'seed', yamlNumber(options.seed));
  if (options.requests !== undefined) set('--requests', 'requests', yamlNumber(options.requests));

  if (options.duration !== undefined && name !== undefined) {
    if (name === 'constant-vus' || name === 'constant-arrival-rate' || name === 'trace') {
      // a trace's duration is how much of it is replayed, in the trace's own time
      set('--duration', 'load.duration', yamlString(options.duration));
    } else {
      problems.push({
        path: '--duration',
        message:
          `this scenario's executor is ${name}, whose length is the sum of its stages: ` +
          `change them with --set 'load.stages=[${name === 'ramping-vus' ? '{duration: 5m, target: 100}' : '{duration: 1m, target: 20}'}, ...]', ` +
          'or end the run after N arrivals with --requests N',
      });
    }
  }

  if (options.rate !== undefined && name !== undefined) {
    if (name === 'constant-arrival-rate') set('--rate', 'load.rate', yamlNumber(options.rate));
    else if (name === 'trace') {
      problems.push({
        path: '--rate',
        message:
          "this scenario's executor is trace, whose arrivals are the trace's own: " +
          "replay it faster or slower with --set load.speedup=2, or use a constant-arrival-rate scenario",
      });
    } else if (name === 'ramping-arrival-rate') {
      problems.push({
        path: '--rate',
        message:
          'this scenario\'s executor is ramping-arrival-rate, whose rates are its stages: ' +
          "change them with --set 'load.stages=[{duration: 1m, target: 20}, ...]', or use a constant-arrival-rate scenario",
      });
    } else {
      problems.push({
        path: '--rate',
        message:
          `this scenario's executor is ${name}, a closed loop of virtual users with no rate: ` +
          'use an arrival-rate executor (a scenario with executor: constant-arrival-rate, such as sustained-rate), ' +
          'or --concurrency N to change the number of users',
      });
    }
  }

  if (options.concurrency !== undefined && name !== undefined) {
    if (name === 'ramping-vus') {
      problems.push({
        path: '--concurrency',
        message:
          "this scenario's executor is ramping-vus, whose numbers of users are its stages: " +
          "change them with --set 'load.stages=[{duration: 5m, target: 100}, ...]'",
      });
    } else {
      // Closed loop: the number of users; open loop: the cap on requests in flight.
      set('--concurrency', closedLoop ? 'load.vus' : 'load.maxInFlight', yamlNumber(options.concurrency));
    }
  }

  if (options.endpoint !== undefined) set('--endpoint', 'target.endpoint', yamlString(options.endpoint));
  if (options.maxTokens !== undefined) {
    set('--max-tokens', 'workload.outputTokens', `{dist: fixed, value: ${yamlNumber(options.maxTokens)}}`);
  }
  if (options.target !== undefined) set('--target', 'target.url', yamlString(options.target));
  if (options.model !== undefined) set('--model', 'target.model', yamlString(options.model));
  if (options.apiKeyEnv !== undefined) set('--api-key-env', 'target.apiKeyEnv', yamlString(options.apiKeyEnv));
  if (options.metrics !== undefined) set('--metrics', 'target.metrics', JSON.stringify(options.metrics));
  if (options.prometheus !== undefined) set('--prometheus', 'target.prometheus', yamlString(options.prometheus));

  return { overrides, problems };
}
