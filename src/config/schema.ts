// The scenario file's schema (zod 4): exactly what a user may write, its defaults, the message
// each field gives when it is wrong, and the JSON Schema that editors read (input side).

import * as z from 'zod';
import type { Aggregation } from '../core/threshold.js';
import { parseThreshold } from '../core/threshold.js';
import { parseTarget } from '../core/secret.js';
import { DURATION_PATTERN, formatDuration, parseDurationS, suggestDuration } from './duration.js';
import { closest, describeFound, listOr } from './messages.js';
import { tokenizerSource, tokenizerValueHelp } from '../workload/tokenizer.js';
import { prometheusTargetSchema } from './prometheus-schema.js';

// ---------------------------------------------------------------------------------------------
// Messages: every issue of a field reads "expected <what>, found <value>[: <how to fix>]".

type Hint = (found: unknown) => string | undefined;

/** The message of one field's problem; a missing required field reads "required: expected …". */
export function expectedFound(what: string, found: unknown, hint?: Hint): string {
  if (found === undefined) return `required: expected ${what}`;
  const fix = hint?.(found);
  return `expected ${what}, found ${describeFound(found)}${fix ? `: ${fix}` : ''}`;
}

function expect(what: string, hint?: Hint) {
  return (issue: { readonly input?: unknown }): string => expectedFound(what, issue.input, hint);
}

const unquoteNumber: Hint = (found) =>
  typeof found === 'string' && found.trim() !== '' && Number.isFinite(Number(found)) ? 'remove the quotes' : undefined;

const unquoteBoolean: Hint = (found) =>
  found === 'true' || found === 'false' ? 'remove the quotes' : undefined;

const quoteText: Hint = (found) =>
  typeof found === 'number' || typeof found === 'boolean' ? `quote it: "${String(found)}"` : undefined;

// ---------------------------------------------------------------------------------------------
// Bounds: how far each value can go and still be honoured (docs/scenarios.md "Bounds"). Past
// them runs did not do what they were told: rate 1e9 ran ten minutes past its end and ignored
// SIGINT, window 1ms grew to 16 GB and crashed, gracefulStop 30d cut after 1 ms, vus 1e6 sent
// nothing. Each bound's message says why it is there and what to do instead.

/**
 * Every duration, at most 24 days: Node's timers wait at most 2^31-1 ms (24.8 days) and a longer
 * wait (the graceful stop, the request timeout, a simulated stall) ends after 1 ms instead.
 */
export const MAX_DURATION_S = 24 * 86_400;
const DURATION_BOUND = "Node's timers wait at most 24.8 days, and a longer wait ends after 1 ms";

/**
 * Arrivals per second: the most one process's arrival loop keeps up with when every arrival is
 * only dropped, the cheapest there is (about 170 000/s measured on a 2-core machine; a sent
 * request costs several times more). A faster schedule falls behind and runs past its end.
 */
export const MAX_ARRIVALS_PER_S = 100_000;
const RATE_FIX =
  'lower it, or split the load over several inferload processes (each 1/N of the rate) and combine them with inferload merge';

/**
 * Users and requests in flight: each holds an HTTP/1.1 connection of its own, and the
 * connections from one address to one server are told apart by their local port, of which
 * there are 65 535 (fewer by default: Linux hands out 28 232; the file descriptor limit, ulimit
 * -n, usually binds first, and the run warns about it).
 */
export const MAX_CONNECTIONS = 65_535;
const CONNECTIONS_FIX =
  'a connection each, and one address has at most 65535 ports to a server: lower it, or split the load over several machines and combine them with inferload merge';

/**
 * Tokens of a prompt or an output: the longest context windows served (1M tokens). A synthetic
 * prompt that long is 5 MB, built in about 0.3 s on the thread that stamps every chunk; 10M took
 * 2.6 s a request.
 */
export const MAX_TOKENS = 1_048_576;
const TOKENS_FIX = 'no served model takes more than about 1M tokens, and building a prompt that long takes 0.3 s: lower it';

/**
 * The narrowest window: the run's tick (every 100 ms) closes windows, about 1 ms of CPU each
 * (percentiles and encodings of four histograms); narrower ones were made faster than they
 * closed (1ms grew to 16 GB and crashed without results).
 */
export const MIN_WINDOW_S = 0.1;

/**
 * The shortest scrape interval: a scrape's timeout is its interval (up to 5 s), and a round trip
 * and the parse of a vLLM exposition (~40 kB) take milliseconds; every scrape is also a line of
 * server-metrics.jsonl.
 */
export const MIN_SCRAPE_INTERVAL_S = 0.1;

/**
 * The smallest gamma shape: the sampler draws u^(1/k), which underflows to exactly 0 for most u
 * below it (half of them at k = 0.001), so arrivals pile up at one instant instead of following
 * the rate (at 1e-12 every arrival of the run came at t = 0).
 */
export const MIN_BURSTINESS = 0.01;

/**
 * The simulator's speed factor: a step lasts 4-12 ms at speed 1. At 100 it lasts 40-120 µs,
 * about what one turn of the simulator's event loop costs (1000 measured the same latencies as
 * 100); at 0.01 a second, and a 128-token answer takes minutes.
 */
export const SPEED_RANGE = [0.01, 100] as const;

// ---------------------------------------------------------------------------------------------
// Leaf fields.

function number(what: string, hint: Hint = unquoteNumber) {
  return z.number({ error: expect(what, hint) });
}

/** A hint for a value above `max`, with `fix` (it also asks to unquote a quoted number). */
function aboveMax(max: number, fix: string): Hint {
  return (found) => unquoteNumber(found) ?? (typeof found === 'number' && found > max ? fix : undefined);
}

/** A hint for a value outside [min, max]: `fix` says why the bounds are there and what to write. */
function outside(min: number, max: number, fix: string): Hint {
  return (found) => unquoteNumber(found) ?? (typeof found === 'number' && (found < min || found > max) ? fix : undefined);
}

function positiveNumber(what = 'a number > 0') {
  return number(what).positive();
}

function nonNegativeNumber(what = 'a number >= 0') {
  return number(what).min(0);
}

/** `beyondMax`: why the bound is there and what to do instead, said when a value is above it. */
function integer(min: number, max?: number, what?: string, beyondMax?: string) {
  const text = what ?? (max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
  const hint = max !== undefined && beyondMax !== undefined ? aboveMax(max, beyondMax) : unquoteNumber;
  const schema = z.int({ error: expect(text, hint) }).min(min);
  return max === undefined ? schema : schema.max(max);
}

function connections(min: number, what: string) {
  return integer(min, MAX_CONNECTIONS, `a whole number of ${what} from ${min} to ${MAX_CONNECTIONS}`, CONNECTIONS_FIX);
}

function ratio() {
  return number('a ratio from 0 to 1 (0.01 is 1 %)').min(0).max(1);
}

function boolean() {
  return z.boolean({ error: expect('true or false', unquoteBoolean) });
}

function text(what = 'a non-empty string') {
  return z.string({ error: expect(what, quoteText) }).min(1);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const what = `one of ${values.join(', ')}`;
  return z.enum(values, {
    error: expect(what, (found) => {
      const near = typeof found === 'string' ? closest(found, values) : undefined;
      return near === undefined ? undefined : `did you mean "${near}"?`;
    }),
  });
}

const DURATION_RE = new RegExp(DURATION_PATTERN);

const WINDOW_FLOOR: DurationFloor = {
  seconds: MIN_WINDOW_S,
  written: '100ms',
  why: 'windows close on the run\'s 100 ms tick at about 1 ms of CPU each, and narrower ones pile up faster than they close',
};

const SCRAPE_FLOOR: DurationFloor = {
  seconds: MIN_SCRAPE_INTERVAL_S,
  written: '100ms',
  why: "a scrape's timeout is its interval, and a round trip and the parse of an exposition take milliseconds",
};

const durationHint: Hint = (found) => {
  const suggestion = suggestDuration(found);
  if (typeof found === 'number') return `add a unit, e.g. "${suggestion ?? '30s'}"`;
  if (suggestion !== undefined) return `did you mean "${suggestion}"?`;
  return typeof found === 'string' ? 'units are ms, s, m, h and d; combine them like "1h30m"' : undefined;
};

/** The shortest a duration may be, as written ("100ms"), with why and what to do instead. */
interface DurationFloor {
  seconds: number;
  written: string;
  why: string;
}

/** A k6-style duration (`500ms`, `30s`, `1h30m`), parsed to seconds; at most MAX_DURATION_S. */
function duration(options: { positive?: boolean; floor?: DurationFloor } = {}) {
  const what = options.positive ? 'a duration > 0 like "30s" or "5m"' : 'a duration like "30s" or "5m"';
  const error = expect(what, durationHint);
  const { floor } = options;
  return z
    .string({ error })
    .regex(DURATION_RE, { error })
    .transform((written, ctx) => {
      const seconds = parseDurationS(written) ?? Number.NaN;
      let message: string | undefined;
      if (options.positive && !(seconds > 0)) message = expectedFound(what, written);
      else if (floor !== undefined && seconds < floor.seconds)
        message = expectedFound(`a duration of at least ${floor.written}`, written, () => `${floor.why}; write ${floor.written} or more`);
      else if (seconds > MAX_DURATION_S) message = expectedFound('a duration of at most 24d', written, () => `${DURATION_BOUND}; shorten it`);
      if (message !== undefined) ctx.addIssue({ code: 'custom', input: written, message });
      return seconds;
    });
}

/** A strict mapping: unknown keys are errors (their message is built by the loader). */
function mapping<Shape extends z.ZodRawShape>(shape: Shape, what: string) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? undefined
        : expectedFound(what, issue.input, (found) =>
            found === null ? 'write its fields under it, or remove the key' : undefined,
          ),
  });
}

/**
 * True when no issue so far concerns any of `fields` (unknown keys never change a parsed value):
 * lets a cross-field check run beside other problems.
 */
function fieldsParsed(fields: readonly string[]) {
  return (payload: {
    issues: ReadonlyArray<{ readonly code?: string; readonly path?: readonly PropertyKey[] | undefined }>;
  }): boolean =>
    !payload.issues.some((issue) => {
      if (issue.code === 'unrecognized_keys') return false;
      const head = issue.path?.[0];
      return head === undefined || fields.includes(String(head));
    });
}

/** A discriminated union's own problems: not a mapping, or a missing or unknown discriminator. */
function discriminatorError(discriminator: string, values: readonly string[], example: string) {
  return (issue: { readonly code?: string; readonly input?: unknown }): string => {
    if (issue.code !== 'invalid_union') {
      // `outputTokens: 256` → "write {dist: fixed, value: 256}"
      const withFound = typeof issue.input === 'number' ? example.replace(/\d+(?=}$)/, String(issue.input)) : example;
      return expectedFound(`a mapping like ${example}`, issue.input, () =>
        withFound === example ? undefined : `write ${withFound}`,
      );
    }
    const written = isRecord(issue.input) ? issue.input[discriminator] : undefined;
    const near = typeof written === 'string' ? closest(written, values) : undefined;
    return expectedFound(`one of ${values.join(', ')}`, written, () =>
      near === undefined ? undefined : `did you mean "${near}"?`,
    );
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Length distributions (token counts).

/** The distributions a length may follow. */
export const LENGTH_DISTS = ['fixed', 'uniform', 'normal', 'lognormal'] as const;

function tokenCount() {
  return integer(1, MAX_TOKENS, `a whole number of tokens from 1 to ${MAX_TOKENS}`, TOKENS_FIX);
}

/** A mean or spread of a length, in tokens, within what a length may be. */
function tokenAmount(min: number) {
  const hint: Hint = (found) => (typeof found === 'number' && found < min ? 'a length is at least one token' : aboveMax(MAX_TOKENS, TOKENS_FIX)(found));
  return number(`a number of tokens from ${min} to ${MAX_TOKENS}`, hint).min(min).max(MAX_TOKENS);
}

/**
 * A bell-shaped length with no `max` gets MAX_TOKENS: its samples are clamped to [min, max], and a
 * wide spread must not make a prompt of a billion tokens.
 */
function capLength<T extends { max?: number | undefined }>(value: T): T {
  return value.max === undefined ? { ...value, max: MAX_TOKENS } : value;
}

function checkRange(value: { min?: number | undefined; max?: number | undefined }, ctx: z.RefinementCtx): void {
  if (value.min !== undefined && value.max !== undefined && value.min > value.max) {
    ctx.addIssue({
      code: 'custom',
      path: ['min'],
      input: value.min,
      message: `min (${value.min}) is greater than max (${value.max}): swap them`,
    });
  }
}

function checkMeanInRange(
  value: { mean: number; min?: number | undefined; max?: number | undefined },
  ctx: z.RefinementCtx,
): void {
  const { mean, min, max } = value;
  if ((min !== undefined && mean < min) || (max !== undefined && mean > max)) {
    ctx.addIssue({
      code: 'custom',
      path: ['mean'],
      input: mean,
      message: `mean (${mean}) lies outside [${min ?? 1}, ${max ?? '∞'}]: most samples would be clamped to the bound`,
    });
  }
}

function bellShaped<D extends 'normal' | 'lognormal'>(dist: D) {
  return mapping(
    {
      dist: z.literal(dist),
      // a mean below one token cannot be honoured (every sample is at least 1), and the lognormal's
      // spread (stddev / mean)² overflowed to NaN lengths at a mean of 1e-300
      mean: tokenAmount(1),
      stddev: tokenAmount(0),
      min: tokenCount().optional(),
      max: tokenCount().optional(),
    },
    `a ${dist} distribution like {dist: ${dist}, mean: 512, stddev: 128}`,
  )
    .superRefine(checkRange, { when: fieldsParsed(['min', 'max']) })
    .superRefine(checkMeanInRange, { when: fieldsParsed(['mean', 'min', 'max']) })
    .overwrite(capLength);
}

function lengthDist() {
  const example = '{dist: fixed, value: 128}';
  return z
    .discriminatedUnion(
      'dist',
      [
        mapping({ dist: z.literal('fixed'), value: tokenCount() }, example),
        mapping(
          { dist: z.literal('uniform'), min: tokenCount(), max: tokenCount() },
          'a uniform distribution like {dist: uniform, min: 64, max: 256}',
        ).superRefine(checkRange, { when: fieldsParsed(['min', 'max']) }),
        bellShaped('normal'),
        bellShaped('lognormal'),
      ],
      { error: discriminatorError('dist', LENGTH_DISTS, example) },
    )
    .describe(
      'length in tokens: {dist: fixed, value} | {dist: uniform, min, max} | ' +
        '{dist: normal|lognormal, mean, stddev, min?, max?} (mean and stddev of the length itself); ' +
        `samples are rounded and clamped to [min, max] (max: ${MAX_TOKENS} when not given); at most ${MAX_TOKENS} tokens`,
    );
}

// ---------------------------------------------------------------------------------------------
// SLO thresholds (k6 syntax) over inferload's metric names.

/** What a metric is, which decides the aggregations a threshold may use on it. */
export type SloMetricKind = 'latency' | 'ratio' | 'throughput';

/** The metrics an SLO may name (metrics.md), with their kind. */
export const SLO_METRICS = {
  ttft_ms: 'latency',
  ttft_sent_ms: 'latency',
  itl_ms: 'latency',
  itl_per_token_ms: 'latency',
  tpot_ms: 'latency',
  e2e_ms: 'latency',
  schedule_lag_ms: 'latency',
  error_ratio: 'ratio',
  goodput_ratio: 'ratio',
  request_throughput: 'throughput',
  output_token_throughput: 'throughput',
} as const satisfies Record<string, SloMetricKind>;

/** A metric name an SLO may use. */
export type SloMetric = keyof typeof SLO_METRICS;

/** A threshold's aggregation (core/threshold.ts reads it); `p` is a percentile. */
export type ThresholdAggregation = Aggregation['kind'];

/**
 * The aggregations each kind of metric accepts: a ratio is only ever a `rate`, a latency is never
 * one, and counting a throughput means nothing.
 */
export const AGGREGATIONS_BY_KIND: Record<SloMetricKind, readonly ThresholdAggregation[]> = {
  latency: ['p', 'avg', 'min', 'max', 'med', 'count'],
  ratio: ['rate'],
  throughput: ['p', 'avg', 'min', 'max', 'med', 'rate'],
};

const EXAMPLE_BY_KIND: Record<SloMetricKind, string> = {
  latency: 'p(95)<500',
  ratio: 'rate<0.001',
  throughput: 'avg>10',
};

const NUMBER_PATTERN = String.raw`-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

/** The syntax of a threshold restricted to `aggregations`: the JSON Schema pattern editors check. */
function thresholdPattern(aggregations: readonly ThresholdAggregation[]): string {
  const alternatives = aggregations.map((a) => (a === 'p' ? String.raw`p\(\s*\d+(?:\.\d+)?\s*\)` : a));
  return String.raw`^\s*(?:${alternatives.join('|')})\s*(?:<=|>=|==|!=|<|>)\s*${NUMBER_PATTERN}\s*$`;
}

function showAggregations(aggregations: readonly ThresholdAggregation[]): string {
  return listOr(aggregations.map((a) => (a === 'p' ? 'p(N)' : a)));
}

/** The repair of a near-miss threshold: `p95 < 500ms` → `p(95)<500`. */
function repairThreshold(written: string): string {
  return written
    .replace(/\s+/g, '')
    .replace(/^p(\d+(?:\.\d+)?)(?=[<>=!])/i, 'p($1)')
    .replace(/^(?:mean|average)/i, 'avg')
    .replace(/^median/i, 'med')
    .replace(/^([a-z]+|p\([\d.]+\))=(?!=)/i, '$1==')
    .replace(/(\d)ms$/, '$1');
}

function thresholdMessage(metric: SloMetric, found: unknown): string {
  const kind = SLO_METRICS[metric];
  const allowed = AGGREGATIONS_BY_KIND[kind];
  const example = EXAMPLE_BY_KIND[kind];
  const what = `a threshold like "${example}": ${showAggregations(allowed)}, then <, <=, >, >=, == or !=, then a number`;
  return expectedFound(what, found, (value) => {
    if (typeof value !== 'string') return undefined;
    const percentile = /^\s*p\(\s*([\d.]+)\s*\)/.exec(value)?.[1];
    if (percentile !== undefined && !(Number(percentile) <= 100)) return 'a percentile lies in [0, 100]';
    const parsed = parseThreshold(value) ?? parseThreshold(repairThreshold(value));
    const kindWritten = parsed?.aggregation.kind;
    if (kindWritten !== undefined && !allowed.includes(kindWritten)) {
      return `${metric} is a ${kind}: ${showAggregations(allowed)} applies to it, not ${kindWritten === 'p' ? 'p(N)' : kindWritten}`;
    }
    const repaired = repairThreshold(value);
    if (repaired !== value && parseThreshold(repaired) !== null) return `did you mean "${repaired}"?`;
    return undefined;
  });
}

function thresholdText(metric: SloMetric) {
  const allowed = AGGREGATIONS_BY_KIND[SLO_METRICS[metric]];
  const pattern = new RegExp(thresholdPattern(allowed));
  const error = (issue: { readonly input?: unknown }): string => thresholdMessage(metric, issue.input);
  return z
    .string({ error })
    .regex(pattern, { error })
    .transform((written, ctx) => {
      if (parseThreshold(written) === null) {
        ctx.addIssue({ code: 'custom', input: written, message: thresholdMessage(metric, written) });
      }
      // Kept as text (analysis/ owns the evaluation), without the spaces k6 tolerates.
      return written.replace(/\s+/g, '');
    });
}

function thresholdList(metric: SloMetric) {
  const example = EXAMPLE_BY_KIND[SLO_METRICS[metric]];
  const entry = z.union(
    [
      thresholdText(metric),
      mapping(
        { threshold: thresholdText(metric), abortOnFail: boolean().prefault(false) },
        `{threshold: "${example}", abortOnFail: true}`,
      ),
    ],
    { error: expect(`a threshold like "${example}" or {threshold: "${example}", abortOnFail: true}`) },
  );
  return z
    .array(entry, {
      error: expect(`a list of thresholds like ["${example}"]`, (found) =>
        typeof found === 'string' ? `put it in a list: ["${found}"]` : undefined,
      ),
    })
    .optional();
}

function sloShape(): { [M in SloMetric]: ReturnType<typeof thresholdList> } {
  const shape = {} as { [M in SloMetric]: ReturnType<typeof thresholdList> };
  for (const metric of Object.keys(SLO_METRICS) as SloMetric[]) shape[metric] = thresholdList(metric);
  return shape;
}

// ---------------------------------------------------------------------------------------------
// Load shapes: k6's executors.

/** The executors `load.executor` accepts (k6's names, and `trace`: replay a production trace). */
export const EXECUTORS = ['constant-vus', 'ramping-vus', 'constant-arrival-rate', 'ramping-arrival-rate', 'trace'] as const;

/** The trace formats `executor: trace` reads. */
export const TRACE_FORMATS = ['azure', 'mooncake', 'jsonl'] as const;

/** Inter-arrival processes of the arrival-rate executors. */
export const ARRIVALS = ['constant', 'poisson', 'gamma'] as const;

const gracefulStop = () =>
  duration().prefault('30s').describe('how long in-flight requests may finish after the end (default 30s)');

const thinkTime = () =>
  duration().prefault('0s').describe("closed loop: pause between one user's requests (default 0s)");

function stages(target: z.ZodNumber, targetWhat: string) {
  const example = `[{duration: 5m, target: ${targetWhat === 'users' ? 100 : 20}}]`;
  return z
    .array(
      mapping(
        {
          duration: duration().describe('how long this stage ramps linearly to its target (0s: a step)'),
          target,
        },
        `a stage like {duration: 5m, target: ${targetWhat === 'users' ? 100 : 20}}`,
      ),
      { error: expect(`a list of stages like ${example}`) },
    )
    .min(1, { error: expect(`at least one stage like ${example}`) })
    .superRefine((list, ctx) => {
      // An empty list already failed `min(1)`.
      if (list.length > 0 && list.reduce((total, stage) => total + stage.duration, 0) <= 0) {
        ctx.addIssue({
          code: 'custom',
          input: list,
          message: 'the stages last 0s in total: give at least one stage a duration > 0',
        });
      }
      const totalS = list.reduce((total, stage) => total + stage.duration, 0);
      if (totalS > MAX_DURATION_S) {
        ctx.addIssue({
          code: 'custom',
          input: list,
          message: `the stages last ${formatDuration(totalS)} in total, longer than the 24d any duration may last (${DURATION_BOUND}): shorten them`,
        });
      }
    })
    .describe(`linear ramps of ${targetWhat}, one after the other`);
}

function arrivalRateFields() {
  return {
    timeUnit: duration({ positive: true }).prefault('1s').describe('the time `rate` counts arrivals per (default 1s)'),
    arrival: oneOf(ARRIVALS)
      .prefault('constant')
      .describe('inter-arrival process: constant (evenly spaced, default) | poisson | gamma'),
    burstiness: number(
      `a number >= ${MIN_BURSTINESS}`,
      outside(MIN_BURSTINESS, Infinity, 'below it the gamma sampler\'s gaps round to exactly 0 and arrivals pile up at one instant; 0.1 is already very bursty'),
    )
      .min(MIN_BURSTINESS)
      .prefault(1)
      .describe('gamma only: the shape; < 1 burstier than Poisson, > 1 smoother (default 1)'),
    maxInFlight: connections(1, 'requests')
      .prefault(1000)
      .describe('an arrival that finds this many requests in flight is dropped and counted (default 1000)'),
    gracefulStop: gracefulStop(),
  };
}

function checkBurstiness(value: { arrival: string; burstiness: number }, ctx: z.RefinementCtx): void {
  if (value.burstiness !== 1 && value.arrival !== 'gamma') {
    ctx.addIssue({
      code: 'custom',
      path: ['burstiness'],
      input: value.burstiness,
      message: `burstiness shapes only arrival: gamma, and this load's arrival is ${value.arrival}: set arrival: gamma, or remove burstiness`,
    });
  }
}

/** Each arrival rate of the load (per timeUnit) at most MAX_ARRIVALS_PER_S, at its own path. */
function checkArrivalRate(
  value: { timeUnit: number; rate?: number; startRate?: number; stages?: ReadonlyArray<{ target: number }> },
  ctx: z.RefinementCtx,
): void {
  const check = (perUnit: number, path: PropertyKey[]): void => {
    const perS = perUnit / value.timeUnit;
    if (!(perS > MAX_ARRIVALS_PER_S)) return;
    const per = value.timeUnit === 1 ? '' : ` (${perUnit} per ${formatDuration(value.timeUnit)} is ${perS} a second)`;
    ctx.addIssue({
      code: 'custom',
      path,
      input: perUnit,
      message: expectedFound(
        `at most ${MAX_ARRIVALS_PER_S} arrivals a second`,
        perUnit,
        () => `one process cannot schedule more${per}; ${RATE_FIX}`,
      ),
    });
  };
  if (value.rate !== undefined) check(value.rate, ['rate']);
  if (value.startRate !== undefined) check(value.startRate, ['startRate']);
  value.stages?.forEach((stage, i) => check(stage.target, ['stages', i, 'target']));
}

function loadSchema() {
  const rateWhat = 'a number of arrivals per timeUnit > 0';
  return z
    .discriminatedUnion(
      'executor',
      [
        mapping(
          {
            executor: z.literal('constant-vus'),
            vus: connections(1, 'users').describe('number of virtual users, each sending one request after another'),
            duration: duration({ positive: true }).describe('how long the load runs, e.g. 30m'),
            thinkTime: thinkTime(),
            gracefulStop: gracefulStop(),
          },
          'a constant-vus load like {executor: constant-vus, vus: 10, duration: 5m}',
        ),
        mapping(
          {
            executor: z.literal('ramping-vus'),
            startVUs: connections(0, 'users').prefault(0).describe('users at the start of the first stage (default 0)'),
            stages: stages(connections(0, 'users'), 'users'),
            thinkTime: thinkTime(),
            gracefulStop: gracefulStop(),
          },
          'a ramping-vus load like {executor: ramping-vus, stages: [{duration: 5m, target: 100}]}',
        ),
        mapping(
          {
            executor: z.literal('constant-arrival-rate'),
            rate: positiveNumber(rateWhat).describe('arrivals per timeUnit'),
            duration: duration({ positive: true }).describe('how long the load runs, e.g. 30m'),
            ...arrivalRateFields(),
          },
          'a constant-arrival-rate load like {executor: constant-arrival-rate, rate: 5, duration: 1m}',
        )
          .superRefine(checkBurstiness, { when: fieldsParsed(['arrival', 'burstiness']) })
          .superRefine(checkArrivalRate, { when: fieldsParsed(['rate', 'timeUnit']) }),
        mapping(
          {
            executor: z.literal('ramping-arrival-rate'),
            startRate: nonNegativeNumber('a number of arrivals per timeUnit >= 0')
              .prefault(0)
              .describe('arrivals per timeUnit at the start of the first stage (default 0)'),
            stages: stages(nonNegativeNumber('a number of arrivals per timeUnit >= 0'), 'arrival rate'),
            ...arrivalRateFields(),
          },
          'a ramping-arrival-rate load like {executor: ramping-arrival-rate, stages: [{duration: 1m, target: 20}]}',
        )
          .superRefine(checkBurstiness, { when: fieldsParsed(['arrival', 'burstiness']) })
          .superRefine(checkArrivalRate, { when: fieldsParsed(['startRate', 'stages', 'timeUnit']) }),
        mapping(
          {
            executor: z.literal('trace'),
            file: text('a path to a trace file').describe(
              'the trace to replay, relative to the scenario file: Azure CSV (TIMESTAMP,ContextTokens,GeneratedTokens), ' +
                'Mooncake JSONL ({timestamp, input_length, output_length, hash_ids}) or JSONL of {t, prompt_tokens, output_tokens}',
            ),
            format: oneOf(TRACE_FORMATS)
              .describe("azure | mooncake | jsonl (default: told by the file's first line)")
              .optional(),
            speedup: positiveNumber()
              .prefault(1)
              .describe('trace seconds per run second: 2 replays an hour of the trace in 30 minutes (default 1)'),
            start: duration()
              .prefault('0s')
              .describe("where the replay starts, in the trace's time after its first record (default 0s)"),
            duration: duration({ positive: true })
              .describe("how much of the trace is replayed, in the trace's time (default: to its end)")
              .optional(),
            maxInFlight: arrivalRateFields().maxInFlight,
            gracefulStop: gracefulStop(),
          },
          'a trace load like {executor: trace, file: trace.csv, speedup: 1}',
        ),
      ],
      {
        error: discriminatorError('executor', EXECUTORS, '{executor: constant-arrival-rate, rate: 5, duration: 1m}'),
      },
    )
    .describe('the load shape, keyed on executor (k6 vocabulary)');
}

// ---------------------------------------------------------------------------------------------
// The whole file.

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const nameHint: Hint = (found) => {
  if (typeof found !== 'string') return quoteText(found);
  const slug = found
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-._]+|-+$/g, '');
  return slug !== '' && NAME_RE.test(slug) ? `e.g. "${slug}"` : undefined;
};

function scenarioName() {
  const what = 'a name of letters, digits, ".", "_" and "-" (it becomes part of the output directory)';
  const error = expect(what, nameHint);
  return z.string({ error }).regex(NAME_RE, { error }).describe('required; used in output paths and reports');
}

const URL_WHAT = 'an http(s) URL like "http://127.0.0.1:8000/v1"';

/**
 * A refused URL is echoed with its secrets masked as every other output masks them: a password,
 * a user name given alone, every query value (`--target` refusals reach CI logs).
 */
function httpUrl(what = URL_WHAT) {
  return z.url({
    protocol: /^https?$/,
    error: (issue: { readonly input?: unknown }) =>
      expectedFound(what, typeof issue.input === 'string' ? maskedUrl(issue.input) : issue.input),
  });
}

function maskedUrl(text: string): string {
  try {
    return parseTarget(text).display;
  } catch {
    // not a URL at all: mask what looks like credentials or query values anyway
    return text.replace(/(\/\/[^/@]*?:)[^/@]*@/, '$1***@').replace(/([?&][^=&#]*=)[^&#]*/g, '$1***');
  }
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Never echoes what was written: a key pasted where its variable's name belongs must not reach any output. */
function apiKeyEnv() {
  const what = 'the name of an environment variable like "OPENAI_API_KEY"';
  const error = (issue: { readonly input?: unknown }): string => {
    const found = issue.input;
    if (typeof found !== 'string') return expectedFound(what, found);
    return (
      `expected ${what}, found a string that is not one (not shown: it may be a key): ` +
      'put the key in an environment variable and give the variable\'s name'
    );
  };
  return z
    .string({ error })
    .regex(ENV_NAME_RE, { error })
    .describe("the name of the environment variable holding the API key, never the key (default OPENAI_API_KEY when set)");
}

function targetSchema() {
  return mapping(
    {
      url: httpUrl().describe('OpenAI-compatible base URL including /v1; omitted: the built-in simulator').optional(),
      model: text().describe('default: the first id of GET {url}/models').optional(),
      endpoint: oneOf(['chat', 'completions']).prefault('chat').describe('chat | completions (default chat)'),
      apiKeyEnv: apiKeyEnv().optional(),
      models: modelsSchema().optional(),
      urls: z
        .array(httpUrl(), { error: expect('a list of base URLs like [http://10.0.0.1:8000/v1, http://10.0.0.2:8000/v1]') })
        .min(1, { error: 'give at least one URL, or remove target.urls' })
        .max(1000)
        .describe('replicas of one deployment behind no gateway: the run spreads its requests over them (balance); instead of url')
        .optional(),
      balance: oneOf(['least-in-flight', 'round-robin'])
        .describe('target.urls: each request to the replica with the fewest in flight (ties in turn), or to each in turn (default least-in-flight)')
        .optional(),
      prometheus: prometheusTargetSchema().optional(),
      metrics: z
        .array(
          z.union([
            httpUrl('an http(s) URL of a Prometheus endpoint like "http://127.0.0.1:8000/metrics"'),
            mapping(
              {
                url: httpUrl('an http(s) URL of a Prometheus endpoint like "http://127.0.0.1:9400/metrics"'),
                interval: duration({ floor: SCRAPE_FLOOR }).prefault('1s').describe('time between scrapes of this endpoint (default 1s)'),
              },
              'a URL, or a mapping like {url: http://127.0.0.1:9400/metrics, interval: 5s}',
            ),
          ]),
          {
            error: expect('a list of Prometheus URLs like [http://127.0.0.1:8000/metrics]', (found) =>
              typeof found === 'string' ? `put it in a list: [${found}]` : undefined,
            ),
          },
        )
        .prefault([])
        .describe('Prometheus endpoints to scrape (server, DCGM exporter); default: {url origin}/metrics when it answers'),
      timeout: duration({ positive: true })
        .prefault('10m')
        .describe('per-request deadline from send to the end of the stream (default 10m)'),
      gpuCount: integer(1)
        .describe('GPUs behind the target, for capacity per GPU when no GPU exporter is scraped')
        .optional(),
      maxEventBytes: integer(1024, 256 * 1024 * 1024)
        .describe(
          'the most bytes of one SSE event (or of a non-streamed body) the client holds; a server that sends more fails the request as invalid_response (default 4194304: 4 MiB)',
        )
        .optional(),
    },
    'a mapping like {url: http://127.0.0.1:8000/v1, model: my-model}',
  ).describe('the server under test; omitted: the built-in simulator');
}

function simulatorSchema() {
  const faults = mapping(
    {
      http500Ratio: ratio().prefault(0).describe('share of requests answered HTTP 500 before any byte (default 0)'),
      http429Ratio: ratio().prefault(0).describe('share of requests answered HTTP 429 with Retry-After (default 0)'),
      stallRatio: ratio().prefault(0).describe('share of streams that stop sending for `stall` at a random point (default 0)'),
      stall: duration().prefault('5s').describe('how long a stalled stream stops sending (default 5s)'),
      dropRatio: ratio().prefault(0).describe('share of connections destroyed mid-stream, without [DONE] (default 0)'),
      midStreamErrorRatio: ratio()
        .prefault(0)
        .describe('share of HTTP-200 streams that carry an {"error": ...} event (default 0)'),
    },
    'a mapping of fault ratios like {http500Ratio: 0.01}',
  );
  return mapping(
    {
      profile: text().prefault('default').describe('default: an 8B model on one GPU; tp2: tensor-parallel over 2 GPUs'),
      speed: number(
        `a number from ${SPEED_RANGE[0]} to ${SPEED_RANGE[1]}`,
        outside(
          SPEED_RANGE[0],
          SPEED_RANGE[1],
          'a simulated step lasts 4-12 ms at speed 1: faster than 100 it is shorter than a turn of the simulator\'s event loop, slower than 0.01 longer than a second',
        ),
      )
        .min(SPEED_RANGE[0])
        .max(SPEED_RANGE[1])
        .prefault(1)
        .describe('scales every engine step: 0.8 simulates a build 20 % slower (default 1)'),
      faults: faults.prefault({}).describe('deterministic fault injection, each ratio per request'),
      prefixCaching: boolean()
        .describe(
          'automatic prefix caching over KV blocks, reporting usage.prompt_tokens_details.cached_tokens (default: on when the traffic shares prefixes: a sharedPrefix, sessions or a trace replay)',
        )
        .optional(),
    },
    'a mapping like {profile: default, speed: 1}',
  ).describe('the built-in simulator, used only when no target url is given');
}

function sweepRate() {
  return number(`a number of requests/s > 0 and at most ${MAX_ARRIVALS_PER_S}`, aboveMax(MAX_ARRIVALS_PER_S, `one process cannot schedule more; ${RATE_FIX}`))
    .positive()
    .max(MAX_ARRIVALS_PER_S);
}

function sweepSchema() {
  return mapping(
    {
      startRate: sweepRate().prefault(1).describe('the first rate tried, requests/s (default 1)'),
      maxRate: sweepRate().prefault(1000).describe('never try above this rate, requests/s (default 1000)'),
      precision: number('a fraction between 0.01 and 0.5')
        .min(0.01)
        .max(0.5)
        .prefault(0.05)
        .describe('bisect until the bracket is within this fraction of the sustainable rate (default 0.05)'),
      step: duration({ positive: true }).prefault('30s').describe('how long each rate is held (default 30s)'),
      stepWarmup: duration()
        .prefault('10s')
        .describe('the start of each step that is discarded while the server reaches steady state (default 10s)'),
      maxSteps: integer(2, 100).prefault(16).describe('give up after this many steps (default 16)'),
      arrival: oneOf(['constant', 'poisson']).prefault('poisson').describe('arrival process of each step (default poisson)'),
    },
    'a mapping like {startRate: 1, precision: 0.05, step: 30s}',
  ).describe('inferload sweep: how the sustainable rate is searched (doubling, then bisection)');
}

function alertsSchema() {
  const rule = mapping(
    {
      name: text().describe('the alert name, e.g. QueueTooDeep'),
      expr: text('a condition like "queue_depth > 20"').describe(
        'comparisons of canonical signals with numbers, joined by `and`: "generation_tokens_per_s < 100 and requests_running > 0"',
      ),
      for: duration().prefault('0s').describe('how long the condition must hold before the alert fires (Prometheus for:)'),
      severity: oneOf(['info', 'warning', 'critical']).prefault('warning').describe('info | warning | critical (default warning)'),
    },
    'a mapping like {name: QueueTooDeep, expr: "queue_depth > 20", for: 5m, severity: warning}',
  );
  return mapping(
    {
      defaults: boolean().prefault(true).describe("include the vLLM runbooks' usual rules (default true)"),
      rules: z.array(rule, { error: expect('a list of alert rules', () => undefined) }).prefault([]),
    },
    'a mapping like {defaults: true, rules: [{name: ..., expr: ..., for: 5m}]}',
  ).describe('would production alerts have fired? rules over canonical server signals, judged per window');
}

/** The dataset formats `workload.dataset.format` reads. */
export const DATASET_FORMATS = ['sharegpt', 'openai-chat', 'prompts', 'text'] as const;

const DATASET_LENGTH_FIELDS = ['minPromptTokens', 'maxPromptTokens', 'minOutputTokens', 'maxOutputTokens'] as const;

function checkDatasetLengths(
  value: { format: string } & Partial<Record<(typeof DATASET_LENGTH_FIELDS)[number], number | undefined>>,
  ctx: z.RefinementCtx,
): void {
  if (value.format === 'text') {
    // a corpus has no entries to filter: its prompts are cut to workload.promptTokens
    for (const field of DATASET_LENGTH_FIELDS) {
      if (value[field] === undefined) continue;
      ctx.addIssue({
        code: 'custom',
        path: [field],
        input: value[field],
        message: `a text corpus is cut to workload.promptTokens, and its outputs follow workload.outputTokens: ${field} filters the entries of the other formats; remove it`,
      });
    }
    return;
  }
  for (const [min, max] of [
    ['minPromptTokens', 'maxPromptTokens'],
    ['minOutputTokens', 'maxOutputTokens'],
  ] as const) {
    const lo = value[min];
    const hi = value[max];
    if (lo !== undefined && hi !== undefined && lo > hi) {
      ctx.addIssue({ code: 'custom', path: [min], input: lo, message: `${min} (${lo}) is greater than ${max} (${hi}): no entry could pass; swap them` });
    }
  }
}

function datasetSchema() {
  const filter = (what: string) => tokenCount().describe(what).optional();
  return z
    .union(
      [
        text('a path to a JSONL file').describe('a JSONL of {"prompt": "...", "output_tokens": N} lines (format prompts), relative to the scenario file'),
        mapping(
          {
            format: oneOf(DATASET_FORMATS).describe(
              'sharegpt: ShareGPT JSON (first human turn, the reply\'s length) | openai-chat: JSONL of {"messages": [...], "max_tokens"?} | ' +
                'prompts: JSONL of {"prompt", "output_tokens"?} | text: a corpus prompts are cut from',
            ),
            path: text('a path to the dataset file').describe('read locally, relative to the scenario file; nothing is fetched'),
            minPromptTokens: filter('leave out entries whose prompt has fewer tokens'),
            maxPromptTokens: filter('leave out entries whose prompt has more tokens'),
            minOutputTokens: filter("leave out entries whose output length (the reply's tokens, max_tokens) is smaller"),
            maxOutputTokens: filter("leave out entries whose output length (the reply's tokens, max_tokens) is larger"),
            maxEntries: integer(1, 1_000_000)
              .prefault(10_000)
              .describe(
                "the most entries sampled (with the seed) and held in memory; a run of fewer requests samples that many, one run of more cycles through them (default 10000)",
              ),
          },
          'a mapping like {format: sharegpt, path: ShareGPT_V3_unfiltered_cleaned_split.json}',
        ).superRefine(checkDatasetLengths, { when: fieldsParsed(['format', ...DATASET_LENGTH_FIELDS]) }),
      ],
      { error: expect('a path to a JSONL file, or a mapping like {format: sharegpt, path: ShareGPT.json}') },
    )
    .describe('prompts from a local file instead of synthetic ones: a path (JSONL of prompts), or {format, path, filters}');
}

/** A relative share of a mix: > 0. */
function weight() {
  return number('a weight > 0 (a relative share, e.g. 0.7)').positive().max(1e9).describe('relative share (weights need not add up to 1)');
}

/** Names in a list must differ (`what`: e.g. "class"). */
function uniqueNames(what: string) {
  return (list: readonly { name: string }[], ctx: z.RefinementCtx): void => {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (seen.has(item.name))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], input: item.name, message: `the ${what} "${item.name}" is named twice: give each ${what} its own name` });
      seen.add(item.name);
    });
  };
}

function modelsSchema() {
  return z
    .array(
      mapping({ name: text('a model name as GET /models lists it').max(256), weight: weight() }, 'a mapping like {name: my-lora, weight: 0.2}'),
      { error: expect('a list like [{name: base, weight: 0.8}, {name: my-lora, weight: 0.2}]') },
    )
    .min(1, { error: 'give at least one model, or remove target.models' })
    .max(1000)
    .superRefine(uniqueNames('model'))
    .describe(
      'requests spread over these model names by weight (the base model and LoRA adapters behind one server; per session with sessions); results per model. With the simulator, names other than its own model are served as adapters',
    );
}

/** The names a class's name may not take: they would read as something else in the results' keys. */
const CLASS_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function sessionsSchema() {
  return mapping(
    {
      turns: z
        .union([integer(1, 10_000), lengthDist()], { error: expect('a number of turns like 5, or a distribution like {dist: uniform, min: 2, max: 8}') })
        .describe('turns per session: a count, or a distribution sampled per session'),
      thinkTime: duration().prefault('0s').describe("between a turn's end and the next turn's send (default 0s)"),
      thinkTimeDist: oneOf(['fixed', 'exponential']).prefault('fixed').describe('fixed: exactly thinkTime; exponential: drawn with thinkTime as its mean (default fixed)'),
      historyTokens: integer(1, MAX_TOKENS)
        .describe('the most prompt tokens of history a turn resends: older turns are left out whole, oldest first (default: the whole conversation)')
        .optional(),
      header: z
        .string({ error: expect('an HTTP header name like x-session-id') })
        .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, { error: expect('an HTTP header name like x-session-id') })
        .refine((h) => !['authorization', 'content-type', 'content-length', 'host', 'accept', 'transfer-encoding', 'connection'].includes(h.toLowerCase()), {
          error: 'a header the client sets itself: choose another name, e.g. x-session-id',
        })
        .describe("a request header carrying the session's id, for routers with session affinity (e.g. x-session-id)")
        .optional(),
    },
    'a mapping like {turns: 5, thinkTime: 10s}',
  ).describe('multi-turn sessions: every turn resends the whole conversation, the replies as streamed included; the load\'s arrivals (or users) start sessions');
}

function classesSchema() {
  return z
    .array(
      mapping(
        {
          name: z
            .string({ error: expect('a class name like rag') })
            .regex(CLASS_NAME_RE, { error: expect('a class name of letters, digits, "_", "." or "-" (at most 64), like rag') })
            .describe('the name results and reports give the class'),
          weight: weight(),
          promptTokens: lengthDist().optional(),
          outputTokens: lengthDist().optional(),
          sharedPrefix: sharedPrefixSchema().optional(),
          slo: mapping(sloShape(), 'a mapping from metric name to a list of thresholds, like {ttft_ms: ["p(95)<500"]}')
            .prefault({})
            .describe("the class's own thresholds, judged on its requests alone; a metric named here replaces the run's thresholds for the class"),
        },
        'a mapping like {name: rag, weight: 0.3, promptTokens: {dist: fixed, value: 4096}}',
      ).superRefine((c, ctx) => {
        // the windows are the run's, not a class's: a windowed throughput has no data for one
        for (const metric of ['request_throughput', 'output_token_throughput'] as const) {
          (c.slo[metric] ?? []).forEach((t, i) => {
            const threshold = typeof t === 'string' ? t : t.threshold;
            const kind = parseThreshold(threshold)?.aggregation.kind;
            if (kind !== undefined && kind !== 'avg' && kind !== 'rate')
              ctx.addIssue({ code: 'custom', path: ['slo', metric, i], input: threshold, message: `a class's throughput is judged over the whole run: use avg or rate (e.g. "avg>5"), not \"${threshold}\"` });
          });
        }
      }),
      { error: expect('a list like [{name: chat, weight: 0.7}, {name: rag, weight: 0.3}]') },
    )
    .min(1, { error: 'give at least one class, or remove workload.classes' })
    .max(100)
    .superRefine(uniqueNames('class'))
    .describe("a weighted mix of request shapes (per session, with sessions): each class's fields replace the workload's, and its SLOs are judged on its requests; results per class");
}

function sharedPrefixSchema() {
  return mapping(
    {
      groups: integer(1, 10_000).describe('distinct shared prefixes (system prompts)'),
      prefixTokens: integer(1, 1_000_000).describe("each prefix's length in tokens, exact under the run's tokenizer"),
      share: ratio()
        .describe('share of all requests that carry a prefix, each one of the groups at random (seeded); the others have none')
        .optional(),
      promptsPerGroup: integer(1)
        .describe('every request carries a prefix: this many consecutive requests per group, the groups in turn')
        .optional(),
    },
    'a mapping like {groups: 8, prefixTokens: 1024, share: 0.9}',
  )
    .superRefine((value, ctx) => {
      if ((value.share === undefined) === (value.promptsPerGroup === undefined)) {
        ctx.addIssue({ code: 'custom', input: value, message: 'give exactly one of share (a ratio of requests) or promptsPerGroup (consecutive requests per group)' });
      }
    })
    .describe(
      "shared prefixes: each prefixed request's prompt is one of `groups` prefixes of prefixTokens tokens followed by its own part of promptTokens tokens (synthetic prompts only)",
    );
}

function workloadSchema() {
  return mapping(
    {
      promptTokens: lengthDist().prefault({ dist: 'fixed', value: 128 }),
      outputTokens: lengthDist().prefault({ dist: 'fixed', value: 128 }),
      ignoreEos: boolean()
        .prefault(true)
        .describe('ask the server to ignore EOS so it produces exactly the requested length (default true)'),
      minTokens: boolean().prefault(false).describe('also send min_tokens = max_tokens (vLLM, SGLang; default false)'),
      dataset: datasetSchema().optional(),
      sharedPrefix: sharedPrefixSchema().optional(),
      sessions: sessionsSchema().optional(),
      classes: classesSchema().optional(),
      temperature: number('a number from 0 to 2').min(0).max(2).prefault(0).describe('sampling temperature (default 0)'),
      tokenizer: text('a path to a tokenizer.json, a family name or server')
        .superRefine((value, ctx) => {
          if (tokenizerSource(value) === null) ctx.addIssue({ code: 'custom', input: value, message: tokenizerValueHelp(value) });
        })
        .describe(
          "what prompts are counted and built with, to exact lengths: the model's tokenizer.json (relative to the scenario file; its " +
            'tokenizer_config.json beside it gives the chat template), a shipped family (llama3, qwen3) or server (the target\'s ' +
            'tokenize endpoint); default: an approximation (about one token per short word)',
        )
        .optional(),
    },
    'a mapping like {promptTokens: {dist: fixed, value: 128}, outputTokens: {dist: fixed, value: 128}}',
  ).describe('what each request asks for');
}

type LoadLength = { executor: string; duration?: number | undefined; speedup?: number; stages?: ReadonlyArray<{ duration: number }> };

/** The load's length in run seconds; undefined for a trace replayed to its end (the trace tells). */
function loadLengthS(load: LoadLength): number | undefined {
  if (load.executor === 'trace') return load.duration === undefined ? undefined : load.duration / (load.speedup ?? 1);
  return load.duration ?? (load.stages ?? []).reduce((total, stage) => total + stage.duration, 0);
}

function checkWarmup(
  value: {
    warmup: number;
    requests?: number | undefined;
    load: LoadLength;
  },
  ctx: z.RefinementCtx,
): void {
  // With `requests`, the number of arrivals ends the run, so the load's length says nothing.
  if (value.requests !== undefined || value.warmup === 0) return;
  const lengthS = loadLengthS(value.load);
  if (lengthS !== undefined && value.warmup >= lengthS) {
    ctx.addIssue({
      code: 'custom',
      path: ['warmup'],
      input: value.warmup,
      message: `the warm-up (${value.warmup}s) is not shorter than the load (${lengthS}s): no request would be measured; shorten warmup`,
    });
  }
}

function checkSharedPrefix(value: { load: { executor: string }; workload: { dataset?: unknown; sharedPrefix?: unknown } }, ctx: z.RefinementCtx): void {
  if (value.workload.sharedPrefix === undefined) return;
  if (value.load.executor !== 'trace' && value.workload.dataset === undefined) return;
  ctx.addIssue({
    code: 'custom',
    path: ['workload', 'sharedPrefix'],
    input: value.workload.sharedPrefix,
    message: "shared prefixes are built into synthetic prompts: remove workload.sharedPrefix, or the dataset (a trace's hash ids share prefixes already)",
  });
}

/** One place to send requests: url, or urls (replicas), not both; balance only with urls. */
function checkUrls(value: { target: { url?: unknown; urls?: unknown; balance?: unknown } }, ctx: z.RefinementCtx): void {
  const t = value.target;
  if (t.url !== undefined && t.urls !== undefined)
    ctx.addIssue({ code: 'custom', path: ['target', 'urls'], input: t.urls, message: 'give target.url (one server) or target.urls (replicas: the first takes its place), not both' });
  if (t.balance !== undefined && t.urls === undefined)
    ctx.addIssue({ code: 'custom', path: ['target', 'balance'], input: t.balance, message: 'balance spreads requests over target.urls: give the replicas, or remove balance' });
}

/** Sessions and classes shape synthetic prompts; a trace or a dataset brings its own. */
function checkShapes(value: { load: { executor: string }; workload: { dataset?: unknown; sessions?: unknown; classes?: readonly { sharedPrefix?: unknown }[] } }, ctx: z.RefinementCtx): void {
  const w = value.workload;
  const source = value.load.executor === 'trace' ? 'a trace replay' : w.dataset !== undefined ? 'a dataset' : null;
  if (source === null) return;
  for (const key of ['sessions', 'classes'] as const) {
    if (w[key] === undefined) continue;
    ctx.addIssue({
      code: 'custom',
      path: ['workload', key],
      input: w[key],
      message: `${key === 'sessions' ? 'sessions build synthetic conversations' : 'classes shape synthetic prompts'}, and ${source} brings its own requests: remove workload.${key}, or ${source === 'a dataset' ? 'the dataset' : 'use another executor'}`,
    });
  }
}

function checkTraceWorkload(value: { load: { executor: string }; workload: { dataset?: unknown } }, ctx: z.RefinementCtx): void {
  if (value.load.executor !== 'trace' || value.workload.dataset === undefined) return;
  ctx.addIssue({
    code: 'custom',
    path: ['workload', 'dataset'],
    input: value.workload.dataset,
    message: "a trace replay takes each request's lengths (and a prompt, when it has one) from the trace: remove workload.dataset, or use another executor",
  });
}

/** The scenario file, as written; its output has durations in seconds but k6's field names. */
export const scenarioSchema = mapping(
  {
    name: scenarioName(),
    description: text().optional(),
    seed: integer(0, 0xffff_ffff)
      .prefault(1)
      .describe('same seed: same schedule and same workload (default 1)'),
    warmup: duration()
      .prefault('0s')
      .describe('arrivals in the first part of the run are excluded from the summary (default 0s: none)'),
    window: duration({ floor: WINDOW_FLOOR }).prefault('1s').describe("width of the recorder's time windows (default 1s)"),
    requests: integer(1)
      .describe('the run is exactly this many arrivals (sent or dropped); the duration then no longer ends it')
      .optional(),
    target: targetSchema().prefault({}),
    simulator: simulatorSchema().prefault({}),
    load: loadSchema(),
    workload: workloadSchema().prefault({}),
    errorBudget: mapping(
      {
        availability: z
          .union([z.string(), z.number()])
          .prefault('99.9%')
          .describe('availability SLO over 30 days, e.g. 99.9% or 0.999 (default 99.9%)'),
      },
      'a mapping like {availability: 99.9%}',
    )
      .prefault({})
      .describe("the run's error budget: burn rate and the multi-window burn-rate alerts"),
    sweep: sweepSchema().prefault({}),
    alerts: alertsSchema().prefault({}),
    slo: mapping(sloShape(), 'a mapping from metric name to a list of thresholds, like {ttft_ms: ["p(95)<500"]}')
      .prefault({})
      .describe('k6 threshold syntax over inferload metric names, e.g. {ttft_ms: ["p(95)<500"]}'),
  },
  'a mapping of scenario fields (name, load, workload, ...)',
)
  .superRefine(checkWarmup, { when: fieldsParsed(['warmup', 'requests', 'load']) })
  .superRefine(checkTraceWorkload, { when: fieldsParsed(['load', 'workload']) })
  .superRefine(checkSharedPrefix, { when: fieldsParsed(['load', 'workload']) })
  .superRefine(checkShapes, { when: fieldsParsed(['load', 'workload']) })
  .superRefine(checkUrls, { when: fieldsParsed(['target']) })
  .meta({
    title: 'inferload scenario',
    description: 'A load test for an OpenAI-compatible LLM inference server (see docs/scenarios.md).',
  });

/** What `scenarioSchema` produces: k6's field names, durations already in seconds. */
export type ParsedScenario = z.output<typeof scenarioSchema>;

/** The JSON Schema of a scenario file as a user writes it (draft-07, which editors support best). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input', target: 'draft-07' }) as Record<string, unknown>;
}

/** `scenarioJsonSchema()` as the text of schema/scenario.schema.json. */
export function renderScenarioJsonSchema(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}
