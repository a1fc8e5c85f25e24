// Reading saved files: a run's results.json (`inferload/results@1`) and a baseline file
// (`inferload/baseline@1`). Every command that reads one (report, merge, compare, baseline) goes
// through here, so a file that is truncated, hand-edited or hostile is refused once, with exit
// 104 and the path of each bad field, instead of failing deep inside an analysis with a stack
// trace. What is accepted is what every reader can rely on: the shapes of types.ts and
// baseline.ts, finite numbers in ranges the arithmetic survives, histograms that decode, no
// nesting deep enough to overflow a recursive copy, and baselines that hold each run once.
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { compileAlertRule, AlertRuleError, type AlertSeverity } from '../analysis/alerts.js';
import {
  BASELINE_SCHEMA,
  BASELINE_WINDOW_HISTOGRAMS,
  COMPARED_METRICS,
  measurementKey,
  type Baseline,
  type MetricKey,
} from '../analysis/baseline.js';
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { decodeHistogram, frameKind } from '../metrics/hdr.js';
import { LATENCY_METRICS } from '../metrics/recorder.js';
import { RESULTS_SCHEMA, type RunResult } from './types.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---- bounds -----------------------------------------------------------------------------------
// Files inferload writes stay far inside these; a value outside them is corruption or an edit,
// and would turn into Infinity or NaN in a sum of squares (a baseline metric of 1e308 made the
// noise band "−NaN %" and the gate pass).

/** counts: integers a double holds exactly */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** durations and times in seconds (~31 years): `t_s × 1e6` stays an exact integer of µs */
const MAX_SECONDS = 1e9;
/** latencies in ms: the histograms clamp at 1 h (3.6e6 ms), so anything beyond 1e7 was not measured */
const MAX_MS = 1e7;
/** any other figure (rates, bytes, signals): its square still sums without overflow */
const MAX_VALUE = 1e15;
/** nesting of any value: a recursive copy or JSON.stringify of a deeper value overflows the stack */
const MAX_DEPTH = 64;
/** stages of a ramping load */
const MAX_STAGES = 10_000;
/** A trace's arrival rate buckets (a run writes at most 240). */
const MAX_RATE_BUCKETS = 10_000;
/** problems listed in one message; the rest are counted */
const MAX_PROBLEMS = 20;

/** What a value is, for "expected X, found Y" messages (strings shortened, never echoed whole). */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' && !Number.isFinite(v)) return `the number ${String(v)} (a literal such as 1e999 overflows)`;
  return `${typeof v} ${String(v)}`;
}

// ---- schema tags ------------------------------------------------------------------------------

/** The kind and version a tag such as `inferload/results@1` names; null when it is no such tag. */
function parseTag(tag: unknown): { kind: string; major: number; text: string } | null {
  if (typeof tag !== 'string') return null;
  const m = /^inferload\/([a-z]+)@(\d+)(?:\.\d+)?$/.exec(tag);
  return m ? { kind: m[1]!, major: Number(m[2]), text: tag } : null;
}

const majorOf = (schema: string): number => parseTag(schema)!.major;

/**
 * Problems with a file's `schema` tag, for a reader of `wanted` (`results` or `baseline`). A later
 * minor version (`@1.2`) only adds fields and is read; another major version is refused with the
 * versions named, since its fields may mean something else.
 */
function tagProblems(raw: unknown, wanted: 'results' | 'baseline', hint: string): InputProblem[] {
  const expected = wanted === 'results' ? RESULTS_SCHEMA : BASELINE_SCHEMA;
  if (!isObject(raw)) return [{ path: '(file)', message: `expected a JSON object with "schema": "${expected}", found ${describe(raw)}; ${hint}` }];
  const tag = parseTag(raw.schema);
  if (tag === null || (tag.kind !== 'results' && tag.kind !== 'baseline'))
    return [{ path: 'schema', message: `expected "${expected}", found ${describe(raw.schema)}: this is not a file inferload wrote; ${hint}` }];
  if (tag.kind !== wanted)
    return [
      {
        path: 'schema',
        message:
          wanted === 'results'
            ? `expected a run's results ("${expected}"), found a baseline file ("${tag.text}"); ${hint}`
            : `expected a baseline file ("${expected}"), found a run's results ("${tag.text}"); ${hint}`,
      },
    ];
  const major = majorOf(expected);
  if (tag.major !== major) {
    const written = isObject(raw.run) && typeof raw.run.inferload_version === 'string' ? ` (written by inferload ${raw.run.inferload_version})` : '';
    return [
      {
        path: 'schema',
        message:
          `"${tag.text}"${written} is version ${tag.major} of the format, this inferload reads version ${major} ("${expected}"): ` +
          (tag.major > major ? 'read it with a newer inferload' : 'read it with the inferload that wrote it, or re-run the test'),
      },
    ];
  }
  return [];
}

// ---- shapes -----------------------------------------------------------------------------------

const count = z.number().int().min(0).max(MAX_COUNT);
const seconds = z.number().min(0).max(MAX_SECONDS);
const positiveSeconds = z.number().positive().max(MAX_SECONDS);
const ms = z.number().min(0).max(MAX_MS);
const value = z.number().min(-MAX_VALUE).max(MAX_VALUE);
const nonNegative = z.number().min(0).max(MAX_VALUE);
const ratio = z.number().min(0).max(1);
const strings = z.array(z.string());
const time = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'expected a time such as "2026-01-31T12:00:00.000Z"');
/**
 * a name that readers look up in tables of their own (an SLO's metric): an identifier, and not one
 * every object has (`constructor`, `__proto__`), which a lookup would find where it should find nothing
 */
const name = z.string().refine((s) => /^[A-Za-z][A-Za-z0-9_]*$/.test(s) && !(s in Object.prototype), 'expected a name such as "ttft_ms"');
/** a section of free form (the scenario's workload): any JSON, nested at most MAX_DEPTH deep */
const freeForm = z.record(z.string(), z.unknown());

/** What the readers use of `run.load` (spike analysis, comparability, report); the rest is free. */
const load = z.looseObject({
  executor: z.string(),
  durationS: seconds.optional(),
  gracefulStopS: seconds.optional(),
  timeUnitS: positiveSeconds.optional(),
  rate: nonNegative.optional(),
  vus: count.optional(),
  startRate: nonNegative.optional(),
  startVUs: count.optional(),
  // merge's spike analysis passes one argument per stage (Math.max(...)): no scenario has this many
  stages: z.array(z.looseObject({ durationS: seconds, target: nonNegative })).max(MAX_STAGES).optional(),
});

const latencySummary = z.looseObject({
  p50: ms.nullable(),
  p90: ms.nullable(),
  p95: ms.nullable(),
  p99: ms.nullable(),
  p999: ms.nullable(),
  max: ms.nullable(),
  mean: ms.nullable(),
  stddev: ms.nullable(),
  count,
  hdr: z.string(),
});

const signals = z.record(z.string(), value);
const WINDOW_HISTOGRAMS = ['ttft', 'itl', 'e2e', 'schedule_lag'] as const;
const ARRIVAL_HISTOGRAMS = ['ttft', 'e2e'] as const;
const histograms = <K extends string>(keys: readonly K[]) => z.looseObject(Object.fromEntries(keys.map((k) => [k, z.string()])) as Record<K, z.ZodString>);

const window = z.looseObject({
  t_s: seconds,
  window_s: positiveSeconds,
  arrivals: count,
  sent: count,
  completed: count,
  failed: count,
  dropped: count,
  in_flight_max: count,
  errors: z.record(z.string(), count).optional(),
  ttft_p50_ms: ms.nullable(),
  ttft_p95_ms: ms.nullable(),
  ttft_p99_ms: ms.nullable(),
  itl_p50_ms: ms.nullable(),
  itl_p95_ms: ms.nullable(),
  itl_p99_ms: ms.nullable(),
  e2e_p50_ms: ms.nullable(),
  e2e_p95_ms: ms.nullable(),
  e2e_p99_ms: ms.nullable(),
  schedule_lag_p99_ms: ms.nullable(),
  output_tokens: count,
  output_tokens_per_s: nonNegative,
  request_per_s: nonNegative,
  server: signals.optional(),
  gpus: z.array(z.object({ gpu: z.string(), uuid: z.string().optional() }).catchall(z.union([value, z.string()]))).optional(),
  hdr: histograms(WINDOW_HISTOGRAMS),
  by_arrival: z
    .looseObject({
      completed: count,
      ttft_p50_ms: ms.nullable(),
      ttft_p95_ms: ms.nullable(),
      ttft_p99_ms: ms.nullable(),
      e2e_p50_ms: ms.nullable(),
      e2e_p95_ms: ms.nullable(),
      e2e_p99_ms: ms.nullable(),
      hdr: histograms(ARRIVAL_HISTOGRAMS),
    })
    .optional(),
});

const alert = z
  .looseObject({
    name: z.string(),
    severity: z.string(),
    condition: z.string(),
    for_s: seconds,
    first_held_s: seconds.nullable(),
    held_s: seconds,
    fired: z.boolean(),
    offered_rate: nonNegative.nullable(),
  })
  .superRefine((a, ctx) => {
    // merge judges the rules again on the merged windows: each must still compile
    try {
      compileAlertRule({ name: a.name, severity: a.severity as AlertSeverity, expr: a.condition, for_s: a.for_s });
    } catch (err) {
      if (!(err instanceof AlertRuleError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  });

/** A distribution of tokens per request (results.workload.prompt_tokens.asked and the like). */
const tokenDistribution = z.looseObject({
  count,
  mean: nonNegative.nullable(),
  min: count.nullable(),
  p50: count.nullable(),
  p90: count.nullable(),
  p99: count.nullable(),
  max: count.nullable(),
});
const askedServed = z.looseObject({ asked: tokenDistribution, served: tokenDistribution });

/** results.summary, and every slice's (classes, turns, models) */
const summary = z.looseObject({
  duration_s: seconds,
  requests: z.looseObject({
    sent: count,
    completed: count,
    failed: count,
    dropped: count,
    interrupted: count.optional(),
    good: count.optional(),
    warmup_sent: count,
    warmup_dropped: count,
  }),
  errors: z.record(z.string(), count).optional(),
  throughput: z.looseObject({
    request_per_s: nonNegative,
    output_tokens_per_s: nonNegative,
    total_tokens_per_s: nonNegative,
    goodput_request_per_s: nonNegative,
    goodput_ratio: ratio.nullable(),
  }),
  rate: z.looseObject({ target_per_s: nonNegative.nullable(), achieved_per_s: nonNegative.nullable(), arrival_period_s: seconds }),
  latency_ms: z.looseObject(Object.fromEntries(LATENCY_METRICS.map((m) => [m, latencySummary])) as Record<(typeof LATENCY_METRICS)[number], typeof latencySummary>),
  tokens: z.looseObject({
    prompt: count,
    output: count,
    output_usage: count,
    output_chunks: count,
    output_estimated_requests: count,
    prompt_planned_vs_server: z
      .looseObject({
        requests_compared: count,
        mismatches: count,
        relative_error_p50: nonNegative.nullable(),
        relative_error_p99: nonNegative.nullable(),
        relative_error_max: nonNegative.nullable(),
        mean_difference_tokens: value.nullable(),
        // keys are relative errors (merge reads them as numbers)
        relative_errors: z.record(z.string().regex(/^\d+(\.\d+)?(e-\d+)?$/, 'expected a relative error such as "0.0125"'), count),
      })
      .optional(),
  }),
});

const sloVerdict = z.looseObject({
  name: z.string(),
  metric: name,
  threshold: z.string(),
  observed: value.nullable(),
  passed: z.boolean(),
  abort_on_fail: z.boolean(),
  class: z.string().max(64).optional(),
});

/** a request class's or a model's name: a key of results.classes or results.models */
const sliceKey = z.string().min(1).max(256).refine((k) => !(k in Object.prototype), 'expected a class or model name');

const resultsShape = z.looseObject({
  status: z.enum(['running', 'complete', 'interrupted', 'failed']),
  status_reason: z.string().nullable().optional(),
  run: z.looseObject({
    id: z.string().min(1),
    scenario: z.string(),
    description: z.string().nullable().optional(),
    started_at: time,
    ended_at: time.nullable(),
    seed: count,
    warmup_s: seconds,
    window_s: positiveSeconds,
    requests_limit: count.nullable().optional(),
    target: z.looseObject({
      url: z.string(),
      model: z.string(),
      endpoint: z.string(),
      api_key_env: z.string().nullable().optional(),
      simulator: z.looseObject({ profile: z.string(), speed: z.number().positive().max(MAX_VALUE) }).nullable().optional(),
    }),
    load,
    workload: freeForm,
    inferload_version: z.string(),
    node_version: z.string().optional(),
    platform: z.string().optional(),
    cpus: count.optional(),
    argv: strings.optional(),
  }),
  summary,
  windows: z.array(window),
  server: z
    .looseObject({
      endpoints: z
        .array(
          z.looseObject({
            url: z.string(),
            profiles: strings.optional(),
            profile: z.string().nullable().optional(),
            scrapes: count,
            failures: count,
            interval_s: seconds,
            last_error: z.string().nullable().optional(),
            warnings: strings.optional(),
          }),
        )
        .optional(),
      tokens: z.looseObject({ client_output: count, server_generation: count, diff_ratio: value.nullable() }).nullable().optional(),
      gpu_count: count.nullable().optional(),
      alerts: z.array(alert).optional(),
    })
    .optional(),
  correlation: z.record(z.string(), z.number().min(-1).max(1)).optional(),
  correlation_alignment: z.record(z.string(), z.enum(['arrival', 'end'])).optional(),
  slo: z.array(sloVerdict),
  classes: z.record(sliceKey, z.looseObject({ weight: ratio, summary, slo: z.array(sloVerdict) })).optional(),
  turns: z.array(z.looseObject({ turn: z.number().int().min(1).max(MAX_COUNT), summary })).max(100_000).optional(),
  models: z.record(sliceKey, z.looseObject({ summary })).optional(),
  sessions: z.looseObject({ started: count, completed: count, broken: count, cut: count, in_progress: count }).optional(),
  run_id: z.string().min(1).max(256).optional(),
  scenario_hash: z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 in hex').optional(),
  shard: z
    .looseObject({ index: count, count: z.number().int().min(1).max(100_000) })
    .refine((s) => s.index < s.count, 'expected an index below the count')
    .optional(),
  merged_shards: z.looseObject({ count: z.number().int().min(1).max(100_000), merged: z.array(count).max(100_000), missing: z.array(count).max(100_000) }).optional(),
  generator: z.looseObject({
    event_loop_lag_p99_ms: nonNegative.nullable(),
    event_loop_lag_max_ms: nonNegative.nullable(),
    cpu_ratio: nonNegative.nullable(),
    cpu_work_ratio: nonNegative.nullable().optional(),
    cpu_wait_ratio: nonNegative.nullable().optional(),
    load_average: nonNegative.optional(),
    schedule_lag_p99_ms: nonNegative.nullable(),
    rss_max_bytes: count,
    rss_samples: z.array(z.tuple([seconds, count])).optional(),
    valid: z.boolean(),
    warnings: strings.optional(),
    workers: z.number().int().min(1).max(MAX_COUNT).optional(),
    chunk_parsing: z.looseObject({ template: count, search: count, json: count }).optional(),
  }),
  error_budget: z
    .looseObject({
      availability_slo: z.number().gt(0).lt(1),
      period_days: z.number().positive().max(MAX_SECONDS),
      allowed_error_ratio: ratio,
      error_ratio: ratio.nullable(),
      requests_judged: count,
      burn_rate: nonNegative.nullable(),
      budget_minutes: nonNegative,
      budget_minutes_per_hour: nonNegative.nullable(),
      budget_ratio_per_hour: nonNegative.nullable(),
      hours_to_exhaustion: nonNegative.nullable(),
      run_duration_s: seconds,
      alerts: z.array(
        z.looseObject({
          name: z.string(),
          severity: z.enum(['page', 'ticket']),
          window_s: seconds,
          short_window_s: seconds,
          burn_rate_threshold: nonNegative,
          budget_consumed_ratio: nonNegative,
          would_fire: z.boolean(),
          run_covers_short_window: z.boolean(),
        }),
      ),
      note: z.string(),
    })
    .nullable()
    .optional(),
  spike: z
    .looseObject({
      base_level: nonNegative,
      peak_level: nonNegative,
      unit: z.enum(['req/s', 'vus']),
      spike_start_s: seconds,
      spike_end_s: seconds,
      pre_spike_ttft_p95_ms: ms.nullable(),
      peak_ttft_p95_ms: ms.nullable(),
      time_to_recover_s: seconds.nullable(),
      recovered: z.boolean(),
      peak_queue_depth: nonNegative.nullable(),
      failed_during_spike: count,
      dropped_during_spike: count,
      finding: z.string(),
    })
    .nullable()
    .optional(),
  soak: z
    .looseObject({
      duration_h: nonNegative,
      series: z.record(
        z.string(),
        z.looseObject({ slope_per_hour: value, mean: value, relative_change: value, r2: value, drifting: z.boolean() }),
      ),
      generator_rss_growth_ratio: value.nullable(),
      verdict: z.enum(['stable', 'drifting', 'too short']),
      finding: z.string(),
    })
    .optional(),
  capacity: z
    .looseObject({
      sustainable_request_per_s: nonNegative.nullable(),
      sustainable_output_tokens_per_s: nonNegative.nullable(),
      gpu_count: count.nullable(),
      gpu_count_source: z.enum(['exporter', 'scenario', 'simulator']).nullable(),
      per_gpu: z.looseObject({ request_per_s: nonNegative.nullable(), output_tokens_per_s: nonNegative.nullable() }),
      first_unsustainable: z.looseObject({ rate_per_s: nonNegative, reasons: strings, binding_classes: strings.optional() }).nullable(),
      knee: z.looseObject({ rate_per_s: nonNegative, metric: z.string(), baseline_ms: ms, server: signals }).nullable(),
      finding: z.string(),
      headroom_note: z.string().nullable().optional(),
      warnings: strings.optional(),
      steps: z.array(
        z.looseObject({
          rate_per_s: nonNegative,
          slo_passed: z.boolean(),
          steady: z.boolean(),
          sustainable: z.boolean(),
          reasons: strings,
          failed_classes: strings.optional(),
          request_per_s: nonNegative,
          output_tokens_per_s: nonNegative,
          ttft_p50_ms: ms.nullable(),
          ttft_p95_ms: ms.nullable(),
          ttft_p99_ms: ms.nullable(),
          itl_p50_ms: ms.nullable(),
          itl_p95_ms: ms.nullable(),
          itl_p99_ms: ms.nullable(),
          e2e_p95_ms: ms.nullable(),
          goodput_ratio: ratio.nullable(),
          error_ratio: ratio.nullable(),
          server: signals,
          results: z.string(),
          headroom: z.looseObject({ ratio: value, factor: nonNegative }).nullable().optional(),
        }),
      ),
    })
    .optional(),
  error_samples: z.array(z.looseObject({ error_class: z.string(), message: z.string(), count })).optional(),
  workload: z
    .looseObject({
      tokenizer: z.looseObject({
        kind: z.enum(['file', 'family', 'server', 'approximate']),
        name: z.string(),
        chat_template: z.boolean().nullable(),
        overhead_tokens: count,
        synthesis: z.enum(['words', 'adjusted']),
        note: z.string().nullable(),
      }),
      // what the reports read of where the prompts came from and what was asked and served
      source: z.enum(['synthetic', 'dataset', 'trace']).optional(),
      dataset: z
        .looseObject({
          format: z.string(),
          path: z.string(),
          bytes: count,
          entries: count,
          unusable: count,
          counted: count,
          filtered: z.looseObject({ prompt_too_short: count, prompt_too_long: count, output_too_short: count, output_too_long: count, no_output_length: count }),
          filters: z.looseObject({
            min_prompt_tokens: count.nullable(),
            max_prompt_tokens: count.nullable(),
            min_output_tokens: count.nullable(),
            max_output_tokens: count.nullable(),
          }),
          sampled: count,
          output_tokens: z.enum(['dataset', 'scenario']),
          load_s: seconds,
        })
        .nullable()
        .optional(),
      trace: z
        .looseObject({
          format: z.string(),
          file: z.string(),
          records: count,
          replayed: count,
          speedup: nonNegative,
          start_s: seconds,
          duration_s: seconds.nullable(),
          span_s: seconds,
          mean_rate_per_s: nonNegative.nullable(),
          peak_rate_per_s: nonNegative.nullable(),
          // a run makes at most 240 buckets; the chart draws one point per bucket
          arrival_rate: z.looseObject({ bucket_s: positiveSeconds, per_s: z.array(nonNegative).max(MAX_RATE_BUCKETS) }),
          raised: z.looseObject({ prompt: count, output: count }),
          prefix_reuse_ratio: ratio.nullable(),
        })
        .nullable()
        .optional(),
      prompt_tokens: askedServed.optional(),
      output_tokens: askedServed.optional(),
    })
    .optional(),
});

/** The range of each compared metric: latencies in ms, throughputs per second, the error ratio. */
const metricValue = (key: MetricKey): z.ZodType => (key.endsWith('_ms') ? ms : key === 'error_ratio' ? ratio : nonNegative);

const baselineShape = z.looseObject({
  scenario: z.string(),
  max_runs: z.number().int().min(1).max(1000),
  updated_at: time,
  runs: z.array(
    z.looseObject({
      id: z.string().min(1),
      started_at: time,
      status: z.enum(['running', 'complete', 'interrupted', 'failed']),
      inferload_version: z.string(),
      scenario: z.string(),
      seed: count,
      warmup_s: seconds,
      window_s: positiveSeconds,
      endpoint: z.string(),
      model: z.string(),
      simulator: z.looseObject({ profile: z.string(), speed: z.number().positive().max(MAX_VALUE) }).nullable(),
      load,
      workload: freeForm,
      slo: strings,
      generator_valid: z.boolean(),
      duration_s: seconds,
      requests: z.looseObject({ sent: count, completed: count, failed: count, dropped: count }),
      metrics: z.looseObject(Object.fromEntries(COMPARED_METRICS.map((k) => [k, metricValue(k).nullable()]))),
      windows: z.array(
        z.looseObject({
          t_s: seconds,
          window_s: positiveSeconds,
          completed: count,
          failed: count,
          output_tokens: count,
          hdr: histograms(BASELINE_WINDOW_HISTOGRAMS),
        }),
      ),
    }),
  ),
});

// ---- messages ---------------------------------------------------------------------------------

/** `windows[3].hdr.ttft`, as every other message of inferload writes a field's path */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out === '' ? '(file)' : out;
}

const bound = (n: number | bigint): string => (typeof n === 'number' && Math.abs(n) >= 1e6 ? n.toExponential() : String(n));

function issueMessage(issue: z.core.$ZodIssue): string {
  const found = `found ${describe(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type': {
      const what = issue.expected === 'int' ? 'an integer' : issue.expected === 'object' ? 'an object' : issue.expected === 'array' ? 'an array' : `a ${issue.expected}`;
      return `expected ${what}, ${found}`;
    }
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `expected at least ${bound(issue.minimum)} ${issue.origin === 'array' ? 'items' : 'characters'}, ${found}`
        : `expected a number ${issue.inclusive ? '>=' : '>'} ${bound(issue.minimum)}, ${found}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `expected at most ${bound(issue.maximum)} items, found ${Array.isArray(issue.input) ? issue.input.length : describe(issue.input)}`
        : `expected a number ${issue.inclusive ? '<=' : '<'} ${bound(issue.maximum)}, ${found}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, ${found}`;
    case 'invalid_union':
      return `expected ${issue.errors.map((branch) => branch[0]?.code === 'invalid_type' ? `a ${String(branch[0].expected)}` : 'another value').join(' or ')}, ${found}`;
    case 'custom':
      // a rule's own message (an alert rule's); a value that fails a refinement is shown
      return typeof issue.input === 'object' && issue.input !== null ? issue.message : `${issue.message}, ${found}`;
    default:
      return `${issue.message}, ${found}`;
  }
}

function shapeProblems(schema: z.ZodType, raw: unknown): InputProblem[] {
  const r = schema.safeParse(raw, { reportInput: true });
  if (r.success) return [];
  return r.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issueMessage(issue) }));
}

/**
 * The path of the first value nested deeper than MAX_DEPTH, or null; found without recursion
 * (the check must not overflow either) and without allocating per value (a long run's file holds
 * millions). Depth-first from a stack: when a value is taken off it, the values taken before it
 * at each smaller depth are its ancestors, so `path` up to its depth is its path.
 */
function tooDeep(raw: unknown): string | null {
  const values: unknown[] = [raw];
  const depths: number[] = [0];
  const keys: PropertyKey[] = [''];
  const path: PropertyKey[] = [];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    const key = keys.pop()!;
    if (depth > 0) {
      path.length = depth - 1;
      path.push(key);
    }
    if (depth >= MAX_DEPTH) return formatPath(path);
    const push = (x: unknown, k: PropertyKey): void => {
      // primitives cannot nest: the many numbers of a results file are never stacked
      if (typeof x !== 'object' || x === null) return;
      values.push(x);
      depths.push(depth + 1);
      keys.push(k);
    };
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) push(v[i], i);
    else for (const k in v as Json) push((v as Json)[k], k);
  }
  return null;
}

// ---- histograms -------------------------------------------------------------------------------

// HdrHistogram's V2 compressed frame: its cookie and declared length are checked on the string
// itself (the frame's first 8 bytes), what is inside by metrics/hdr.ts's frameKind
const V2_COMPRESSED_COOKIE = 0x1c849304 | 0x10;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** ours inflate to at most ~120 kB (5 bytes per slot); more is a bomb, not a histogram */
const MAX_INFLATED_BYTES = 1 << 20;

/**
 * What is wrong with an encoded histogram, or null. `decode` makes sure it decodes (what every
 * reader of it will do); without it only its frame is checked (base64, the encoding's cookie,
 * the declared length present), which finds a truncated or retyped string at no cost.
 */
function histogramProblem(encoded: string, decode: boolean, good: Set<string>): string | null {
  if (good.has(encoded)) return null;
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return 'expected an encoded HDR histogram (base64), found other text: the file was cut or edited';
  // the frame's first 8 bytes are its first 12 characters; its size follows from the string's
  const head = Buffer.from(encoded.slice(0, 12), 'base64');
  const bytes = (encoded.length / 4) * 3 - (encoded.endsWith('==') ? 2 : encoded.endsWith('=') ? 1 : 0);
  if (head.length < 8 || head.readInt32BE(0) !== V2_COMPRESSED_COOKIE) return 'expected an encoded HDR histogram ("HISTF..."), found other data: the file was cut or edited';
  const length = head.readInt32BE(4);
  if (length < 0 || 8 + length > bytes) return `the histogram is cut short (${bytes - 8} of ${length} bytes): the file was truncated or edited`;
  if (!decode) return null;
  const raw = Buffer.from(encoded, 'base64');
  const kind = frameKind(raw, MAX_INFLATED_BYTES);
  if (kind === 'bomb') return `the histogram inflates to more than ${MAX_INFLATED_BYTES} bytes (ours take at most ~120 kB): the file was edited`;
  // another shape (a foreign tool's) or damage: decoding it is the only sure test
  if (kind === 'other')
    try {
      decodeHistogram(encoded);
    } catch (err) {
      return `the histogram does not decode (${(err as Error).message}): the file was cut or edited`;
    }
  good.add(encoded);
  return null;
}

/** Which encoded histograms are decoded while checking a results file (all are checked for their frame). */
export interface HistogramCheck {
  /**
   * `summary`: the whole-run histograms only (all that `report` decodes, and cheap); `all`: the
   * windows' too (compare, baseline and merge add them up). A long run holds hundreds of
   * thousands, at ~50 µs each, so `report` does not pay for histograms it never reads.
   */
  decode: 'summary' | 'all';
}

function resultsHistogramProblems(r: RunResult, check: HistogramCheck): InputProblem[] {
  const problems: InputProblem[] = [];
  const good = new Set<string>();
  const at = (path: string, encoded: string, decode: boolean): void => {
    const p = histogramProblem(encoded, decode, good);
    if (p) problems.push({ path, message: p });
  };
  for (const m of LATENCY_METRICS) at(`summary.latency_ms.${m}.hdr`, r.summary.latency_ms[m].hdr, true);
  const all = check.decode === 'all';
  // the slices' summaries: merge adds their histograms up, the reports read their figures only
  const slice = (path: string, s: RunResult['summary']): void => {
    for (const m of LATENCY_METRICS) at(`${path}.summary.latency_ms.${m}.hdr`, s.latency_ms[m].hdr, all);
  };
  for (const [name, c] of Object.entries(r.classes ?? {})) slice(`classes.${name}`, c.summary);
  (r.turns ?? []).forEach((t, i) => slice(`turns[${i}]`, t.summary));
  for (const [name, m] of Object.entries(r.models ?? {})) slice(`models.${name}`, m.summary);
  r.windows.forEach((w, i) => {
    for (const m of WINDOW_HISTOGRAMS) at(`windows[${i}].hdr.${m}`, w.hdr[m], all);
    if (w.by_arrival) for (const m of ARRIVAL_HISTOGRAMS) at(`windows[${i}].by_arrival.hdr.${m}`, w.by_arrival.hdr[m], all);
  });
  return problems;
}

// ---- results ----------------------------------------------------------------------------------

/** How a reader is told where the file came from: `pass the results.json that inferload run wrote` */
const RESULTS_HINT = 'pass the results.json that `inferload run` wrote';
const BASELINE_HINT = 'pass a file that `inferload baseline add` wrote';

/**
 * Every problem that keeps a parsed file from being read as a run's results, [] when there is
 * none: the schema tag and version, the shape and ranges of every field the readers use, nesting
 * depth, and the histograms (decoded as `check` says).
 */
export function resultsProblems(raw: unknown, check: HistogramCheck = { decode: 'all' }): InputProblem[] {
  const tag = tagProblems(raw, 'results', RESULTS_HINT);
  if (tag.length > 0) return tag;
  const deep = tooDeep(raw);
  if (deep !== null) return [{ path: deep, message: `nested more than ${MAX_DEPTH} levels deep: no file inferload writes is; the file was edited` }];
  const shape = shapeProblems(resultsShape, raw);
  if (shape.length > 0) return shape;
  return resultsHistogramProblems(raw as unknown as RunResult, check);
}

/** Fills in, in place, the sections an earlier results@1 file may lack, so every renderer can rely on them. */
export function normalizeResults(raw: Json): RunResult {
  const r = raw as unknown as RunResult;
  // a later minor version (`@1.2`) reads as this one: every reader compares the tag with RESULTS_SCHEMA
  r.schema = RESULTS_SCHEMA;
  const server = (isObject(r.server) ? r.server : {}) as Partial<RunResult['server']>;
  r.server = {
    endpoints: (Array.isArray(server.endpoints) ? server.endpoints : []).map((e) => ({
      ...e,
      profiles: Array.isArray(e.profiles) ? e.profiles : e.profile ? [e.profile] : [],
      profile: e.profile ?? null,
      warnings: Array.isArray(e.warnings) ? e.warnings : [],
      last_error: e.last_error ?? null,
    })),
    tokens: server.tokens ?? null,
    gpu_count: server.gpu_count ?? null,
    alerts: Array.isArray(server.alerts) ? server.alerts : [],
  };
  r.correlation = isObject(r.correlation) ? r.correlation : {};
  r.error_samples = Array.isArray(r.error_samples) ? r.error_samples : [];
  r.status_reason = r.status_reason ?? null;
  r.run.description = r.run.description ?? null;
  r.run.argv = Array.isArray(r.run.argv) ? r.run.argv : [];
  r.summary.errors = isObject(r.summary.errors) ? r.summary.errors : {};
  // added later in results@1: requests cut at the stop, and the goodput count
  r.summary.requests.interrupted ??= 0;
  r.summary.requests.good ??= Math.round((r.summary.throughput.goodput_ratio ?? 0) * r.summary.requests.completed);
  r.generator.warnings = Array.isArray(r.generator.warnings) ? r.generator.warnings : [];
  // added later in results@1: the client's worker threads
  r.generator.workers ??= 1;
  for (const w of r.windows) {
    w.server = isObject(w.server) ? w.server : {};
    w.errors = isObject(w.errors) ? w.errors : {};
  }
  return r;
}

/** At most MAX_PROBLEMS problems, and how many more there were. */
function capped(problems: InputProblem[]): InputProblem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  return [...problems.slice(0, MAX_PROBLEMS), { path: '…', message: `and ${problems.length - MAX_PROBLEMS} more problems like these` }];
}

/** A parsed results file, checked and normalized; InvalidInputError (exit 104) naming `path` and each bad field otherwise. */
export function resultsOf(raw: unknown, path: string, check: HistogramCheck = { decode: 'all' }): RunResult {
  const problems = resultsProblems(raw, check);
  if (problems.length > 0) throw new InvalidInputError(capped(problems), path);
  return normalizeResults(raw as Json);
}

/**
 * Reads and parses a JSON file; InvalidInputError (exit 104) naming `label` and `path` when it
 * cannot. With `missing: null`, a file that does not exist reads as null (baseline add creates it).
 */
export async function readJsonFile(path: string, label: string): Promise<unknown>;
export async function readJsonFile(path: string, label: string, opts: { missing: null }): Promise<unknown | null>;
export async function readJsonFile(path: string, label: string, opts?: { missing: null }): Promise<unknown | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts) return null;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : ((err as Error).message ?? String(err));
    throw new InvalidInputError([{ path: label, message: `cannot read ${path} (${why})` }]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidInputError([{ path: label, message: `${path} is not JSON (${(err as Error).message}): the file was cut or is not what inferload wrote` }]);
  }
}

/** A run's results.json, read, checked and normalized; InvalidInputError (exit 104) otherwise. */
export async function readResultsFile(path: string, label: string, check: HistogramCheck = { decode: 'all' }): Promise<RunResult> {
  return resultsOf(await readJsonFile(path, label), path, check);
}

// ---- baselines --------------------------------------------------------------------------------

/**
 * Runs a baseline holds twice: the same id, or the same measurements under another id or start
 * (a copy). `baseline add` never writes one (a run already present is left alone, a copy is
 * refused), so a duplicate comes from an edit; counted twice it would narrow the run-to-run noise
 * band (one more run of the same value) and make the gate fail ordinary runs. The file is
 * refused rather than silently deduplicated: the gate's verdict must follow from the file as
 * written, and whoever edited it should see what they did.
 */
function duplicateRuns(b: Baseline): InputProblem[] {
  const problems: InputProblem[] = [];
  const byId = new Map<string, number>();
  const byContent = new Map<string, number>();
  b.runs.forEach((r, i) => {
    // what it measured, whatever its id and start say (a copy with either edited is still the run)
    const content = measurementKey(r);
    const first = byId.get(r.id) ?? byContent.get(content);
    if (first !== undefined)
      problems.push({
        path: `runs[${i}]`,
        message: `the same run as runs[${first}] (run ${JSON.stringify(r.id)}, started ${r.started_at}): a baseline holds each run once; delete one of them`,
      });
    else {
      byId.set(r.id, i);
      byContent.set(content, i);
    }
  });
  return problems;
}

/** Every problem that keeps a parsed file from being read as a baseline, [] when there is none. */
export function baselineProblems(raw: unknown): InputProblem[] {
  const tag = tagProblems(raw, 'baseline', BASELINE_HINT);
  if (tag.length > 0) return tag;
  const deep = tooDeep(raw);
  if (deep !== null) return [{ path: deep, message: `nested more than ${MAX_DEPTH} levels deep: no file inferload writes is; the file was edited` }];
  const shape = shapeProblems(baselineShape, raw);
  if (shape.length > 0) return shape;
  const b = raw as Baseline;
  const problems: InputProblem[] = [];
  const good = new Set<string>();
  b.runs.forEach((r, i) =>
    r.windows.forEach((w, j) => {
      for (const m of BASELINE_WINDOW_HISTOGRAMS) {
        const p = histogramProblem(w.hdr[m], true, good);
        if (p) problems.push({ path: `runs[${i}].windows[${j}].hdr.${m}`, message: p });
      }
    }),
  );
  return [...problems, ...duplicateRuns(b)];
}

/** A parsed baseline file, checked; InvalidInputError (exit 104) naming `path` and each bad field otherwise. */
export function baselineOf(raw: unknown, path: string): Baseline {
  const problems = baselineProblems(raw);
  if (problems.length > 0) throw new InvalidInputError(capped(problems), path);
  const b = raw as Baseline;
  b.schema = BASELINE_SCHEMA;
  return b;
}

/** A baseline file, read and checked; InvalidInputError (exit 104) otherwise. */
export async function readBaselineFile(path: string, label: string): Promise<Baseline> {
  return baselineOf(await readJsonFile(path, label), path);
}

/** A baseline file or a plain results.json, by its schema tag (what `compare` accepts as BASELINE). */
export async function readBaselineOrResults(path: string, label: string): Promise<Baseline | RunResult> {
  const raw = await readJsonFile(path, label);
  const tag = isObject(raw) ? parseTag(raw.schema) : null;
  if (tag?.kind === 'baseline') return baselineOf(raw, path);
  if (tag?.kind === 'results') return resultsOf(raw, path);
  throw new InvalidInputError(
    [
      {
        path: isObject(raw) ? 'schema' : '(file)',
        message: `expected "${BASELINE_SCHEMA}" (a baseline file) or "${RESULTS_SCHEMA}" (a run's results.json), found ${describe(isObject(raw) ? raw.schema : raw)}`,
      },
    ],
    path,
  );
}
