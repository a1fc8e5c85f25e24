// `inferload export k6 SCENARIO --out script.ts`: the scenario as a k6 test in TypeScript (k6 runs
// .ts natively since v0.57), typed with @types/k6, beside the requests it sends (the same
// workload and seed as `inferload run`), the xk6-sse module's types and a k6-operator TestRun.
// The k6 vocabulary is ours (executors, stages, thresholds), so most of the scenario maps one to
// one; what does not (Poisson arrivals, sessions, traces, coordinated-omission-correct TTFT) is
// refused or said, in the script's comments and in the command's output. `inferload import k6`
// (k6-import.ts) reads the script's JSON output back into results.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ExitCode, InferloadError, InvalidInputError, type InputProblem } from '../core/errors.js';
import { parseThreshold } from '../core/threshold.js';
import type { ScenarioSpec, SloThreshold } from '../core/types.js';
import { parseTarget } from '../core/secret.js';
import { loadScenario } from '../config/load.js';
import { requestSlos, type RequestSlo } from '../metrics/recorder.js';
import { classRequestSlos } from '../results/slices.js';
import { loadDurationS, rateSegments } from '../schedule/arrivals.js';
import { loadTokenizer, tokenizerSource } from '../workload/tokenizer.js';
import { loadWorkload, type Workload } from '../workload/workload.js';
import type { CommandIo } from './baseline-command.js';
import { VERSION } from './version.js';

/** The k6 scenario's name in `options.scenarios` (and its `scenario` tag on every sample). */
export const K6_SCENARIO = 'inferload';

/** Distinct requests precomputed by default at most (cycled when the run makes more). */
export const DEFAULT_MAX_PROMPTS = 10_000;
/** The most `--prompts` may ask for. */
export const MAX_PROMPTS = 1_000_000;

/** A Kubernetes ConfigMap holds at most 1 MiB (its data, keys included). */
const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;

/**
 * The metrics the exported script emits, by inferload's name for what they hold. Every sample of a
 * request carries its id as k6 metadata (`request_id`); see `scriptText`.
 */
export const K6_METRICS = {
  /** Counter, 1 at the iteration's start: a request is about to be sent (its time anchors the request) */
  requests: 'inferload_requests',
  /** Trend (time): the script's own delay from the iteration's start to the send (building the body) */
  scheduleLag: 'inferload_schedule_lag',
  /** Trend (time): first token − the iteration's start; completed requests */
  ttft: 'inferload_ttft',
  /** Trend (time): every gap between consecutive content chunks; completed requests */
  itl: 'inferload_itl',
  /** Trend (time): (end − first token) / (output tokens − 1); completed requests with more than one token */
  tpot: 'inferload_tpot',
  /** Trend (time): end − the iteration's start; completed requests */
  e2e: 'inferload_e2e',
  /** Trend (time): end − the iteration's start of a failed request, tagged error_class */
  e2eFailed: 'inferload_e2e_failed',
  /** Counter: completed requests */
  completed: 'inferload_completed',
  /** Counter: failed requests, tagged error_class */
  failed: 'inferload_failed',
  /** Rate: true for a failed request, false for a completed one (error_ratio) */
  errors: 'inferload_errors',
  /** Rate: of completed requests, those within every per-request SLO (goodput_ratio) */
  good: 'inferload_good',
  /** Counter: output tokens of completed requests, tagged tokens_from usage|chunks */
  outputTokens: 'inferload_output_tokens',
  /** Counter: prompt tokens of completed requests, tagged tokens_from usage|planned */
  promptTokens: 'inferload_prompt_tokens',
  /** Counter: usage.prompt_tokens_details.cached_tokens of completed requests that report it */
  cachedTokens: 'inferload_cached_tokens',
  /** Gauge: the scenario's start (epoch ms), once per VU, tagged with the run's facts */
  run: 'inferload_run',
} as const;

/** inferload's SLO metric → the script's metric a threshold on it is judged on, and the aggregations k6 has for it. */
const THRESHOLD_MAP: Record<string, { metric: string; aggregations: readonly string[]; note?: string }> = {
  ttft_ms: { metric: K6_METRICS.ttft, aggregations: ['p', 'avg', 'min', 'max', 'med'] },
  ttft_sent_ms: {
    metric: K6_METRICS.ttft,
    aggregations: ['p', 'avg', 'min', 'max', 'med'],
    note: 'judged on TTFT from the iteration\'s start, which is TTFT from the send plus the script\'s own delay: stricter',
  },
  itl_ms: { metric: K6_METRICS.itl, aggregations: ['p', 'avg', 'min', 'max', 'med'] },
  tpot_ms: { metric: K6_METRICS.tpot, aggregations: ['p', 'avg', 'min', 'max', 'med'] },
  e2e_ms: { metric: K6_METRICS.e2e, aggregations: ['p', 'avg', 'min', 'max', 'med'] },
  e2e_sent_ms: {
    metric: K6_METRICS.e2e,
    aggregations: ['p', 'avg', 'min', 'max', 'med'],
    note: 'judged on E2E from the iteration\'s start (E2E from the send plus the script\'s own delay): stricter',
  },
  schedule_lag_ms: {
    metric: K6_METRICS.scheduleLag,
    aggregations: ['p', 'avg', 'min', 'max', 'med'],
    note: 'only the script\'s own delay before the send: k6 does not say how late it started an iteration',
  },
  error_ratio: { metric: K6_METRICS.errors, aggregations: ['rate'] },
  goodput_ratio: { metric: K6_METRICS.good, aggregations: ['rate'] },
  request_throughput: {
    metric: K6_METRICS.completed,
    aggregations: ['rate'],
    note: 'k6 divides by the whole test\'s duration (warm-up and graceful stop included), not by the measured period',
  },
  output_token_throughput: {
    metric: K6_METRICS.outputTokens,
    aggregations: ['rate'],
    note: 'k6 divides by the whole test\'s duration (warm-up and graceful stop included), not by the measured period',
  },
};

export interface K6ExportOptions {
  /** the script's file name (its base name names the data file beside it); default `script.ts` */
  scriptName?: string;
  /** distinct requests precomputed (default: the run's expected arrivals, at most DEFAULT_MAX_PROMPTS) */
  prompts?: number;
  /** the TestRun's `spec.parallelism`: k6 runners, each with its share of the load (default 1) */
  parallelism?: number;
  /** the runners' image: k6 with the xk6-sse extension (default grafana/k6:latest, see the manifest) */
  image?: string;
  /** the TestRun's namespace (default: none, kubectl's current one) */
  namespace?: string;
  /** the Secret (and its key) the runners get the API key from; default `<name>-api-key`, key `api-key`, optional */
  apiKeySecret?: { name: string; key: string };
  /** the workload, already loaded (tests); default: loaded from the scenario (tokenizer, dataset) */
  workload?: Workload;
}

/** What `exportK6` makes: four files' contents and what the user must know. */
export interface K6Export {
  /** the k6 test (TypeScript) */
  script: string;
  /** the k6-operator TestRun (and the results' PersistentVolumeClaim), YAML */
  testRun: string;
  /** the precomputed requests, JSON (an array, one request a line) */
  data: string;
  /** `declare module 'k6/x/sse'`: xk6-sse's API, which @types/k6 lacks */
  sseTypes: string;
  /** file names the script refers to */
  files: { script: string; data: string; sseTypes: string; testRun: string };
  /** what does not map one to one, in words */
  warnings: string[];
  /** how many distinct requests were precomputed */
  prompts: number;
}

/**
 * The k6 test of `spec`. Refuses (InvalidInputError, exit 104) what k6 cannot run: `executor:
 * trace`, `workload.sessions`, `workload.tokenizer: server` (no server to count with here).
 */
export async function exportK6(spec: ScenarioSpec, opts: K6ExportOptions = {}): Promise<K6Export> {
  const problems = refusals(spec);
  if (problems.length > 0) throw new InvalidInputError(problems, `scenario ${spec.name} (inferload export k6)`);
  const scriptName = opts.scriptName ?? 'script.ts';
  const stem = basename(scriptName, extname(scriptName));
  const files = { script: scriptName, data: `${stem}.requests.json`, sseTypes: 'xk6-sse.d.ts', testRun: `${stem}.testrun.yaml` };
  const warnings: string[] = [];

  const expected = expectedArrivals(spec);
  const prompts = opts.prompts ?? Math.max(1, Math.min(DEFAULT_MAX_PROMPTS, expected ?? DEFAULT_MAX_PROMPTS));
  if (!Number.isInteger(prompts) || prompts < 1 || prompts > MAX_PROMPTS)
    throw new InvalidInputError([{ path: '--prompts', message: `expected an integer from 1 to ${MAX_PROMPTS}, found ${prompts}` }]);
  if (expected !== undefined && expected > prompts)
    warnings.push(
      `${prompts} distinct requests are precomputed for about ${expected} arrivals: request k sends precomputed request k mod ${prompts}, so requests after the ${prompts}th repeat earlier prompts (inferload would make new ones; raise --prompts)`,
    );
  const workload = opts.workload ?? (await loadWorkload(spec, await loadTokenizer(spec.workload.tokenizer, spec.target.endpoint)));
  const data = requestsData(workload, prompts);

  const load = spec.load;
  if ((load.executor === 'constant-arrival-rate' || load.executor === 'ramping-arrival-rate') && load.arrival !== 'constant')
    warnings.push(
      `load.arrival is ${load.arrival}: k6's arrival-rate executors space iterations evenly and have no Poisson or gamma process; the script starts iterations at the same mean rate, evenly spaced (a burstier load than this is not reproduced)`,
    );
  if (spec.requests !== undefined)
    warnings.push(
      `requests: ${spec.requests}: k6 cannot end a time-based executor after a count; iterations after the ${spec.requests}th return without a request, and the load still lasts its duration`,
    );
  const target = targetOf(spec, warnings);
  const { thresholds, notes } = thresholdsOf(spec);
  for (const n of notes) warnings.push(`slo: ${n}`);
  if (spec.warmupS > 0)
    warnings.push(
      `warmup ${spec.warmupS}s: k6 has no warm-up; every sample is tagged warmup:true|false and the thresholds judge the {warmup:false} submetrics (k6's end-of-test summary shows both)`,
    );
  if (spec.alerts.rules.length > 0 || spec.target.metrics.length > 0)
    warnings.push('alerts and target.metrics are not exported: k6 does not scrape the server (inferload import k6 has no server signals)');
  const parallelism = opts.parallelism ?? 1;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 1000)
    throw new InvalidInputError([{ path: '--parallelism', message: `expected an integer from 1 to 1000, found ${parallelism}` }]);
  if (Buffer.byteLength(data) + 64 * 1024 > CONFIGMAP_LIMIT_BYTES)
    warnings.push(
      `${files.data} is ${(Buffer.byteLength(data) / (1024 * 1024)).toFixed(1)} MiB: a ConfigMap holds at most 1 MiB; put the script and its data on a volume instead (the TestRun's spec.script.volumeClaim, see ${files.testRun}) or precompute fewer requests (--prompts)`,
    );
  // the script says these in its own words (its head comment); the notes above go into it as they are
  const script = scriptText(spec, { files, prompts, thresholds, target, warnings: [...warnings] });
  const testRun = testRunText(spec, { files, parallelism, image: opts.image, namespace: opts.namespace, target, apiKeySecret: opts.apiKeySecret });
  warnings.push(
    'TTFT and E2E are measured from the start of each k6 iteration: k6 keeps no intended time per iteration, so a late start of the load generator is not counted (inferload counts it from the intended time: coordinated-omission correct); for arrival-rate executors an iteration k6 cannot start on a free VU is dropped (dropped_iterations), as inferload drops an arrival at maxInFlight',
    'xk6-sse opens a new connection for every request: TTFT in k6 includes the TCP (and TLS) connect, which inferload\'s kept-alive connections do not pay',
  );
  return { script, testRun, data, sseTypes: SSE_TYPES, files, warnings, prompts };
}

/** What k6 cannot run, as problems. */
function refusals(spec: ScenarioSpec): InputProblem[] {
  const problems: InputProblem[] = [];
  if (spec.load.executor === 'trace')
    problems.push({
      path: 'load.executor',
      message:
        'trace cannot be exported: k6 has no executor that starts iterations at given times (its arrival-rate executors are evenly spaced); replay traces with inferload run',
    });
  if (spec.workload.sessions)
    problems.push({
      path: 'workload.sessions',
      message:
        'sessions cannot be exported: each turn resends the replies the server streamed before it, which precomputed requests cannot hold; run sessions with inferload run, or remove workload.sessions (--set workload.sessions=)',
    });
  if (tokenizerSource(spec.workload.tokenizer)?.kind === 'server')
    problems.push({
      path: 'workload.tokenizer',
      message:
        'server: the export has no server to count prompt tokens with; name the model\'s family (llama3, qwen3) or its tokenizer.json, or remove workload.tokenizer (the approximation)',
    });
  return problems;
}

/** Arrivals the load makes: the request count when fixed, the rate profile's integral for arrival rates; undefined for users. */
function expectedArrivals(spec: ScenarioSpec): number | undefined {
  if (spec.requests !== undefined) return spec.requests;
  const load = spec.load;
  if (load.executor === 'constant-arrival-rate' || load.executor === 'ramping-arrival-rate') {
    const segs = rateSegments(load);
    const n = segs.length > 0 ? segs[segs.length - 1]!.n1 : 0;
    // evenly spaced: one at N = 0, 1, 2, ... below n
    return Math.max(1, Math.ceil(n));
  }
  return undefined;
}

/** The precomputed requests: Workload.request(id) for id < n, one JSON object a line. */
function requestsData(workload: Workload, n: number): string {
  const lines: string[] = [];
  for (let id = 0; id < n; id++) {
    const r = workload.request(id);
    const entry: Record<string, unknown> = { id };
    if (r.messages !== undefined) entry.messages = r.messages;
    if (r.prompt !== undefined) entry.prompt = r.prompt;
    entry.max_tokens = r.maxTokens;
    entry.prompt_tokens = r.promptTokens;
    if (r.className !== undefined) entry.class = r.className;
    if (r.model !== undefined) entry.model = r.model;
    if (r.prefixGroup !== undefined) entry.prefix_group = r.prefixGroup;
    lines.push(JSON.stringify(entry));
  }
  return `[\n${lines.join(',\n')}\n]\n`;
}

interface TargetFacts {
  /** the base URL written into the script (without credentials or query) */
  url: string;
  model: string;
  apiKeyEnv: string;
}

function targetOf(spec: ScenarioSpec, warnings: string[]): TargetFacts {
  let url = 'http://127.0.0.1:8000/v1';
  if (spec.target.url !== undefined) {
    const t = parseTarget(spec.target.url);
    url = `${t.origin}${t.path}`;
    if (t.authorization !== null || t.query !== '')
      warnings.push(
        'target.url carries credentials or a query, which are not written into the script: give the whole URL to k6 as INFERLOAD_TARGET (k6 run -e INFERLOAD_TARGET=...), or the key in the API key variable',
      );
  } else {
    warnings.push(
      `the scenario has no target.url (inferload would start its simulator): the script targets ${url} (inferload sim's default) unless INFERLOAD_TARGET says otherwise`,
    );
  }
  // with a model mix every request names its model; the first names the run's, as in inferload
  return { url, model: spec.target.model ?? spec.target.models?.[0]?.name ?? '', apiKeyEnv: spec.target.apiKeyEnv ?? 'OPENAI_API_KEY' };
}

// ---- options ----------------------------------------------------------------------------------

/** A duration in k6's syntax (Go's): whole seconds as `30s`, else milliseconds. */
export function k6Duration(seconds: number): string {
  if (Number.isInteger(seconds)) {
    if (seconds < 60) return `${seconds}s`;
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const sec = seconds % 60;
    return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${sec > 0 ? `${sec}s` : ''}`;
  }
  const ms = Math.round(seconds * 1000);
  return Number.isInteger(seconds * 1000) || Math.abs(seconds * 1000 - ms) < 1e-6 ? `${ms}ms` : `${Math.round(seconds * 1e6)}us`;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * k6's rates are integers per timeUnit: rates of inferload's (any number) are scaled with their
 * time unit so that every one is whole (2.5 per 1s → 5 per 2s). Exact for decimals of up to six places.
 */
export function integerRates(values: readonly number[], timeUnitS: number): { values: number[]; timeUnitS: number } {
  let k = 1;
  const whole = (x: number): boolean => Math.abs(x - Math.round(x)) <= 1e-9 * Math.max(1, Math.abs(x));
  while (k < 1e6 && !values.every((v) => whole(v * k))) k *= 10;
  let scaled = values.map((v) => Math.round(v * k));
  const g = scaled.reduce((acc, v) => gcd(acc, v), k);
  scaled = scaled.map((v) => v / g);
  return { values: scaled, timeUnitS: (timeUnitS * k) / g };
}

/** Seconds a request of this scenario is assumed to take when VUs are preallocated (k6 starts more up to maxVUs). */
const PREALLOCATE_FOR_S = 10;

/** `options.scenarios.inferload`, as a plain object (JSON is a TypeScript object literal). */
export function k6Scenario(spec: ScenarioSpec): Record<string, unknown> {
  const load = spec.load;
  const gracefulStop = k6Duration(load.gracefulStopS);
  switch (load.executor) {
    case 'constant-arrival-rate': {
      const { values, timeUnitS } = integerRates([load.rate], load.timeUnitS);
      const perS = load.rate / load.timeUnitS;
      return {
        executor: 'constant-arrival-rate',
        rate: values[0],
        timeUnit: k6Duration(timeUnitS),
        duration: k6Duration(load.durationS),
        preAllocatedVUs: Math.min(load.maxInFlight, Math.max(1, Math.ceil(perS * PREALLOCATE_FOR_S))),
        maxVUs: load.maxInFlight,
        gracefulStop,
      };
    }
    case 'ramping-arrival-rate': {
      const { values, timeUnitS } = integerRates([load.startRate, ...load.stages.map((s) => s.target)], load.timeUnitS);
      const peakPerS = Math.max(load.startRate, ...load.stages.map((s) => s.target)) / load.timeUnitS;
      return {
        executor: 'ramping-arrival-rate',
        startRate: values[0],
        timeUnit: k6Duration(timeUnitS),
        stages: load.stages.map((s, i) => ({ duration: k6Duration(s.durationS), target: values[i + 1] })),
        preAllocatedVUs: Math.min(load.maxInFlight, Math.max(1, Math.ceil(peakPerS * PREALLOCATE_FOR_S))),
        maxVUs: load.maxInFlight,
        gracefulStop,
      };
    }
    case 'constant-vus':
      return { executor: 'constant-vus', vus: load.vus, duration: k6Duration(load.durationS), gracefulStop };
    case 'ramping-vus':
      return {
        executor: 'ramping-vus',
        startVUs: load.startVUs,
        stages: load.stages.map((s) => ({ duration: k6Duration(s.durationS), target: s.target })),
        // inferload lets a retiring user finish its request; k6 waits this long for it
        gracefulRampDown: k6Duration(spec.target.timeoutS),
        gracefulStop,
      };
    case 'trace':
      throw new InvalidInputError([{ path: 'load.executor', message: 'trace cannot be exported to k6' }]);
    default: {
      const never: never = load;
      throw new Error(`unknown executor ${JSON.stringify(never)}`);
    }
  }
}

type K6Threshold = string | { threshold: string; abortOnFail: boolean; delayAbortEval: string };

/**
 * `options.thresholds`: each SLO on the script's metric that holds it (THRESHOLD_MAP); a class's
 * own SLOs on the `{class:NAME}` submetric; with a warm-up, on the `{warmup:false}` submetrics.
 * `notes` says what k6 cannot judge (not exported) and where k6 judges differently.
 */
export function thresholdsOf(spec: ScenarioSpec): { thresholds: Record<string, K6Threshold[]>; notes: string[] } {
  const thresholds: Record<string, K6Threshold[]> = {};
  const notes: string[] = [];
  // k6 judges abortOnFail from the start; inferload waits for the warm-up and 5 s more
  const delay = k6Duration(spec.warmupS + 5);
  const add = (slo: Record<string, SloThreshold[]>, cls: string | null): void => {
    for (const [metric, list] of Object.entries(slo)) {
      const map = THRESHOLD_MAP[metric];
      for (const t of list) {
        const where = `${cls === null ? '' : `class ${cls}: `}${metric}: ${t.threshold}`;
        const parsed = parseThreshold(t.threshold);
        if (!map || !parsed) {
          notes.push(`${where} is not exported: the script has no metric for ${metric}`);
          continue;
        }
        let expr = t.threshold.replace(/\s+/g, '');
        const kind = parsed.aggregation.kind;
        if (!map.aggregations.includes(kind)) {
          // a throughput's whole-run `avg` is its rate; anything over windows k6 cannot do
          if (kind === 'avg' && map.aggregations.includes('rate')) expr = expr.replace(/^avg/, 'rate');
          else {
            notes.push(`${where} is not exported: k6 has no ${kind} of a ${map.aggregations.includes('rate') ? 'counter or rate' : 'trend'} (${map.metric})`);
            continue;
          }
        }
        const tags = [...(cls === null ? [] : [`class:${cls}`]), ...(spec.warmupS > 0 ? ['warmup:false'] : [])];
        const name = tags.length > 0 ? `${map.metric}{${tags.join(',')}}` : map.metric;
        (thresholds[name] ??= []).push(t.abortOnFail ? { threshold: expr, abortOnFail: true, delayAbortEval: delay } : expr);
        if (map.note) notes.push(`${where} → ${name}: ${map.note}`);
      }
    }
  };
  add(spec.slo, null);
  for (const c of spec.workload.classes ?? []) add(c.slo, c.name);
  return { thresholds, notes };
}

// ---- the script -------------------------------------------------------------------------------

/** xk6-sse's API (github.com/phymbert/xk6-sse, sse.go), which @types/k6 does not declare. */
export const SSE_TYPES = `// Types of the xk6-sse extension (import sse from 'k6/x/sse'), which @types/k6 does not declare.
// From its sources (github.com/phymbert/xk6-sse, sse.go): sse.open blocks until the stream is
// closed (by client.close(), the end of the body, or the VU's end), calling the handlers on the
// VU's own thread. Written by inferload export k6.
declare module 'k6/x/sse' {
  /** One server-sent event (trailing newlines of its data removed). */
  export interface SSEEvent {
    id: string;
    comment: string;
    name: string;
    data: string;
  }

  /** A Go error: a read error of the body, or a line that is no SSE field ("unknown event: ..."). */
  export interface SSEError {
    error(): string;
  }

  export interface SSEClient {
    on(event: 'open', handler: () => void): void;
    on(event: 'event', handler: (event: SSEEvent) => void): void;
    on(event: 'error', handler: (error: SSEError) => void): void;
    /** closes the stream; sse.open returns */
    close(): void;
  }

  export interface SSEParams {
    /** GET unless given */
    method?: string;
    /** the request body (trimmed) */
    body?: string;
    headers?: Record<string, string>;
    tags?: Record<string, string>;
    /** the whole exchange's deadline, a Go duration (e.g. "600s"); none unless given */
    timeout?: string;
  }

  /** What sse.open returns: the status and headers, or the error that kept the request from being answered. */
  export interface SSEResponse {
    url: string;
    status: number;
    headers: Record<string, string>;
    error: string;
  }

  const sse: {
    open(url: string, params: SSEParams, handler: (client: SSEClient) => void): SSEResponse;
    open(url: string, handler: (client: SSEClient) => void): SSEResponse;
  };
  export default sse;
}
`;

interface ScriptFacts {
  files: K6Export['files'];
  prompts: number;
  thresholds: Record<string, K6Threshold[]>;
  target: TargetFacts;
  warnings: string[];
}

/** A per-request bound of goodput, as the script compares it. */
interface Bound {
  metric: 'ttft' | 'tpot' | 'e2e';
  op: RequestSlo['op'];
  value: number;
}

function boundsOf(slos: readonly RequestSlo[]): Bound[] {
  return slos.map((s) => ({ metric: s.metric === 'tpot_ms' ? 'tpot' : s.metric.startsWith('ttft') ? 'ttft' : 'e2e', op: s.op, value: s.valueMs }));
}

/** A comment block: each line prefixed with `// `, wrapped at ~100 columns. */
function comment(text: string, indent = ''): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    // a list item's next lines are indented under its text
    const hang = para.startsWith('- ') ? '  ' : '';
    let line = '';
    for (const word of para.split(' ')) {
      if (line !== '' && line.length + word.length + 1 > 96) {
        out.push(`${indent}// ${line}`);
        line = `${hang}${word}`;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    out.push(line === '' ? `${indent}//` : `${indent}// ${line}`);
  }
  return out.join('\n');
}

/**
 * A value as a TypeScript literal: JSON, keys unquoted where they are identifiers, and whatever
 * fits on a line (from `indent`) kept on one.
 */
export function literal(v: unknown, indent = ''): string {
  const key = (k: string): string => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));
  const inline = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(inline).join(', ')}]`;
    if (typeof x === 'object' && x !== null) {
      const entries = Object.entries(x);
      return entries.length === 0 ? '{}' : `{ ${entries.map(([k, y]) => `${key(k)}: ${inline(y)}`).join(', ')} }`;
    }
    return JSON.stringify(x) ?? 'undefined';
  };
  const one = inline(v);
  if (typeof v !== 'object' || v === null || indent.length + one.length <= 96) return one;
  const inner = `${indent}  `;
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + literal(x, inner)).join(',\n')},\n${indent}]`;
  return `{\n${Object.entries(v)
    .map(([k, x]) => `${inner}${key(k)}: ${literal(x, inner)}`)
    .join(',\n')},\n${indent}}`;
}
const json = (v: unknown): string => literal(v);

function scriptText(spec: ScenarioSpec, f: ScriptFacts): string {
  const w = spec.workload;
  const scenario = k6Scenario(spec);
  const options = {
    scenarios: { [K6_SCENARIO]: scenario },
    thresholds: f.thresholds,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  };
  const good: Record<string, Bound[]> = { '': boundsOf(requestSlos(spec.slo)) };
  for (const [name, slos] of classRequestSlos(spec)) good[name] = boundsOf(slos);
  const runTags: Record<string, string> = {
    inferload_scenario: spec.name,
    executor: spec.load.executor,
    seed: String(spec.seed),
    warmup_s: String(spec.warmupS),
    window_s: String(spec.windowS),
    load_s: String(loadDurationS(spec.load)),
    graceful_stop_s: String(spec.load.gracefulStopS),
    endpoint: spec.target.endpoint,
  };
  const thinkS = spec.load.executor === 'constant-vus' || spec.load.executor === 'ramping-vus' ? spec.load.thinkTimeS : 0;
  const header = [
    `inferload export k6: scenario "${spec.name}" (seed ${spec.seed}), inferload ${VERSION}.`,
    spec.description ?? '',
    `Run it with k6 v0.57 or newer (TypeScript natively) and the xk6-sse extension (k6/x/sse: a k6 built with \`xk6 build --with github.com/phymbert/xk6-sse\`, or a k6 that resolves extensions itself): \`k6 run --out json=k6-out.json ${f.files.script}\`; then \`inferload import k6 k6-out.json --scenario SCENARIO --out DIR\` gives the run inferload's results (windows, SLO verdicts, reports, the regression gate). Environment: INFERLOAD_TARGET (the base URL, with /v1), INFERLOAD_MODEL, ${f.target.apiKeyEnv} (the API key, sent as a Bearer token).`,
    '',
    `Requests: ${f.prompts} precomputed by inferload from the same workload and seed as \`inferload run\` (${f.files.data}); iteration k (exec.scenario.iterationInTest, unique across k6 instances) sends request k mod ${f.prompts}, the same body inferload's client sends.`,
    '',
    'Measured as in inferload\'s metrics.md, as far as k6 allows: TTFT is first token − start, ITL every gap between content chunks, TPOT (end − first token) / (output tokens − 1), E2E end − start, over completed requests only; output tokens are usage.completion_tokens when believable, else the content chunks; failures are classed as inferload classes them (http_429, http_4xx, http_5xx, invalid_response, stream_error, truncated, timeout, connect, reset). Times come from exec.instance.currentTestRunDuration (nanosecond resolution), not Date.now() (milliseconds).',
    '',
    'What differs: "start" is the start of the k6 iteration, not an intended time: k6 keeps no intended start per iteration, so TTFT and E2E here are not corrected for coordinated omission (inferload\'s are); an arrival-rate iteration that finds no free VU is dropped (dropped_iterations), as inferload drops an arrival at maxInFlight. xk6-sse opens a new connection for every request (its HTTP transport lives for one sse.open), so TTFT here includes the TCP (and TLS) connect, which inferload\'s kept-alive connections do not pay.' +
      ' Requests still in flight when k6\'s gracefulStop ends are interrupted by k6 and emit nothing but inferload_requests (inferload import k6 counts them as unfinished).',
  ]
    .filter((l) => l !== '')
    .join('\n\n');

  const notes = f.warnings.length > 0 ? `\n${comment(`Export notes:\n${f.warnings.map((x) => `- ${x}`).join('\n')}`)}\n` : '';

  return `${comment(header)}
${notes}
/// <reference path="./${f.files.sseTypes}" />
import { sleep } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import sse from 'k6/x/sse';
import type { SSEClient, SSEEvent, SSEResponse } from 'k6/x/sse';

/** One precomputed request: inferload's Workload.request(id). */
interface PlannedRequest {
  id: number;
  messages?: { role: string; content: string }[];
  prompt?: string;
  max_tokens: number;
  /** the prompt tokens the workload planned (exact under a tokenizer) */
  prompt_tokens: number;
  /** workload.classes: the request's class */
  class?: string;
  /** target.models: the model this request asks for */
  model?: string;
  /** workload.sharedPrefix: the prefix group the prompt starts with */
  prefix_group?: number;
}

const REQUESTS: PlannedRequest[] = new SharedArray<PlannedRequest>('inferload requests', () => JSON.parse(open('./${f.files.data}')) as PlannedRequest[]);

const TARGET = (__ENV.INFERLOAD_TARGET || ${JSON.stringify(f.target.url)}).replace(/\\/+$/, '');
const API_KEY = __ENV[${JSON.stringify(f.target.apiKeyEnv)}] || '';
/** the model asked for (target.model); empty: the first of GET /models, as inferload does */
const MODEL = __ENV.INFERLOAD_MODEL || ${JSON.stringify(f.target.model)};
const ENDPOINT = ${JSON.stringify(spec.target.endpoint)} as 'chat' | 'completions';
const TEMPERATURE = ${JSON.stringify(w.temperature)};
const IGNORE_EOS = ${JSON.stringify(w.ignoreEos)} as boolean;
const MIN_TOKENS = ${JSON.stringify(w.minTokens)} as boolean;
/** target.timeout: the whole request's deadline */
const TIMEOUT_S = ${JSON.stringify(spec.target.timeoutS)};
/** target.maxEventBytes: the longest SSE event taken (in characters here) */
const MAX_EVENT_CHARS = ${JSON.stringify(spec.target.maxEventBytes ?? 4 * 1024 * 1024)};
/** warmup: samples of iterations that start within it are tagged warmup:true */
const WARMUP_MS = ${JSON.stringify(Math.round(spec.warmupS * 1000))};
/** thinkTime (closed loop): the pause after each request */
const THINK_TIME_S = ${JSON.stringify(thinkS)};
/** requests: iterations past this many send nothing (null: no limit) */
const REQUEST_LIMIT = ${JSON.stringify(spec.requests ?? null)} as number | null;
/** target.models: requests are tagged with their model */
const MODEL_MIX = ${JSON.stringify((spec.target.models ?? []).length > 0)} as boolean;
/** the run's facts, for inferload import k6 */
const RUN_TAGS: Record<string, string> = ${json(runTags)};

type ErrorClass = 'http_4xx' | 'http_429' | 'http_5xx' | 'timeout' | 'connect' | 'reset' | 'stream_error' | 'truncated' | 'invalid_response';

/** A per-request SLO bound (goodput): a completed request is good when it meets every bound of its class. */
interface Bound {
  metric: 'ttft' | 'tpot' | 'e2e';
  op: '<' | '<=' | '>' | '>=' | '==' | '!=';
  value: number;
}
/** by class ('' without one): the run's latency SLOs, each class's own replacing them per metric */
const GOOD: Record<string, Bound[]> = ${json(good)};

// Every sample of a request carries its id as metadata (request_id): k6 indexes tags into time
// series, one per distinct set, and an id per request would grow k6's memory for the whole run;
// metadata is written to the JSON output without being indexed. class, model, warmup and
// error_class are tags (few values: thresholds and the summary can use them).
const requests = new Counter('${K6_METRICS.requests}');
const scheduleLag = new Trend('${K6_METRICS.scheduleLag}', true);
const ttft = new Trend('${K6_METRICS.ttft}', true);
const itl = new Trend('${K6_METRICS.itl}', true);
const tpot = new Trend('${K6_METRICS.tpot}', true);
const e2e = new Trend('${K6_METRICS.e2e}', true);
const e2eFailed = new Trend('${K6_METRICS.e2eFailed}', true);
const completed = new Counter('${K6_METRICS.completed}');
const failed = new Counter('${K6_METRICS.failed}');
const errors = new Rate('${K6_METRICS.errors}');
const good = new Rate('${K6_METRICS.good}');
const outputTokens = new Counter('${K6_METRICS.outputTokens}');
const promptTokens = new Counter('${K6_METRICS.promptTokens}');
const cachedTokens = new Counter('${K6_METRICS.cachedTokens}');
const runStart = new Gauge('${K6_METRICS.run}');

${comment(`The scenario's load. ${loadComment(spec)}`)}
export const options: Options = ${json(options)};

/** The run's clock: ms since the test started, at nanosecond resolution (Date.now() has milliseconds). */
function now(): number {
  return exec.instance.currentTestRunDuration;
}

function headers(): Record<string, string> {
  const h: Record<string, string> = { 'Content-Type': 'application/json', 'Accept-Encoding': 'identity' };
  if (API_KEY !== '') h.Authorization = \`Bearer \${API_KEY}\`;
  return h;
}

/** INFERLOAD_TARGET may carry a query: it goes with every request, after the path. */
function url(path: string): string {
  const q = TARGET.indexOf('?');
  return q === -1 ? TARGET + path : TARGET.slice(0, q).replace(/\\/+$/, '') + path + TARGET.slice(q);
}

interface SetupData {
  model: string;
}

/** The model: INFERLOAD_MODEL, the scenario's, or the first the server lists (GET /models). */
export function setup(): SetupData {
  if (MODEL !== '') return { model: MODEL };
  const res = http.get(url('/models'), { headers: headers(), timeout: '30s' });
  let id: unknown;
  try {
    id = JSON.parse(String(res.body))?.data?.[0]?.id;
  } catch {
    id = undefined;
  }
  if (typeof id !== 'string' || id === '') exec.test.abort(\`GET \${url('/models')} gave no model (HTTP \${res.status}); set INFERLOAD_MODEL\`);
  return { model: String(id) };
}

/** The request's JSON body, exactly as inferload's client builds it (requestBody in client.ts). */
function requestBody(r: PlannedRequest, model: string): string {
  const body: Record<string, unknown> = { model, stream: true, stream_options: { include_usage: true }, max_tokens: r.max_tokens, temperature: TEMPERATURE };
  if (ENDPOINT === 'chat') body.messages = r.messages ?? [{ role: 'user', content: r.prompt ?? '' }];
  else body.prompt = r.prompt ?? (r.messages ?? []).map((m) => m.content).join('\\n');
  if (IGNORE_EOS) body.ignore_eos = true;
  if (MIN_TOKENS) body.min_tokens = r.max_tokens;
  return JSON.stringify(body);
}

/** What one stream did, stamped on the run's clock (ms). */
interface Stream {
  firstTokenMs: number;
  /** every content-bearing chunk, the first token's included */
  chunkMs: number[];
  /** [DONE] arrived */
  done: boolean;
  finishReason: string | null;
  endMs: number;
  failure: ErrorClass | null;
  message: string;
  completionTokens: number | null;
  promptTokensUsage: number | null;
  cachedTokensUsage: number | null;
}

interface Choice {
  delta?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown };
  text?: unknown;
  finish_reason?: unknown;
}

interface Chunk {
  choices?: unknown;
  usage?: { completion_tokens?: unknown; prompt_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null } | null;
  error?: unknown;
}

const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v !== '';
const tokenCount = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

/** A content-bearing chunk: its first choice carries text (metrics.md: first_token). */
function hasContent(c: Choice): boolean {
  return nonEmpty(c.delta?.content) || nonEmpty(c.delta?.reasoning_content) || nonEmpty(c.delta?.reasoning) || nonEmpty(c.text);
}

function fail(client: SSEClient, s: Stream, cls: ErrorClass, message: string): void {
  s.failure = cls;
  s.message = message;
  s.endMs = now();
  client.close();
}

function onEvent(client: SSEClient, s: Stream, ev: SSEEvent, maxChunks: number): void {
  if (s.done || s.failure !== null) return;
  const t = now();
  const data = ev.data;
  if (data.length > MAX_EVENT_CHARS) return fail(client, s, 'invalid_response', \`an SSE event of \${data.length} characters, over \${MAX_EVENT_CHARS}\`);
  if (data === '') return;
  if (data === '[DONE]') {
    // [DONE] ends the request at once, even if the server keeps the response open
    s.done = true;
    s.endMs = t;
    client.close();
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return fail(client, s, 'invalid_response', \`an SSE event is not JSON: \${data.slice(0, 200)}\`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail(client, s, 'invalid_response', 'an SSE event is not a JSON object');
  const chunk = parsed as Chunk;
  if (chunk.error !== undefined && chunk.error !== null) return fail(client, s, 'stream_error', JSON.stringify(chunk.error).slice(0, 500));
  if (chunk.usage) {
    s.completionTokens = tokenCount(chunk.usage.completion_tokens) ?? s.completionTokens;
    s.promptTokensUsage = tokenCount(chunk.usage.prompt_tokens) ?? s.promptTokensUsage;
    s.cachedTokensUsage = tokenCount(chunk.usage.prompt_tokens_details?.cached_tokens) ?? s.cachedTokensUsage;
  }
  if (!Array.isArray(chunk.choices) || chunk.choices.length === 0) return;
  const choice = chunk.choices[0] as Choice;
  if (typeof choice !== 'object' || choice === null) return;
  if (hasContent(choice)) {
    if (Number.isNaN(s.firstTokenMs)) s.firstTokenMs = t;
    s.chunkMs.push(t);
    if (s.chunkMs.length > maxChunks) return fail(client, s, 'invalid_response', \`more than \${maxChunks} content chunks\`);
  }
  if (nonEmpty(choice.finish_reason)) s.finishReason = String(choice.finish_reason);
}

/** A read error after the response started (the stream's 'error' event). */
function readErrorClass(message: string): ErrorClass {
  if (/Client\\.Timeout|deadline exceeded|timeout/i.test(message)) return 'timeout';
  if (/connection reset|broken pipe/i.test(message)) return 'reset';
  // llama.cpp's non-standard \`error:\` SSE field
  if (/^unknown event: error:/.test(message)) return 'stream_error';
  if (/^unknown event/.test(message)) return 'invalid_response';
  return 'truncated';
}

/** An error before any response (sse.open's error). */
function transportErrorClass(message: string): ErrorClass {
  if (/dial tcp|no such host|connection refused|network is unreachable|no route to host/i.test(message)) return 'connect';
  if (/connection reset|broken pipe|EOF/.test(message)) return 'reset';
  if (/Client\\.Timeout|deadline exceeded|timeout/i.test(message)) return 'timeout';
  return 'connect';
}

function header(res: SSEResponse, name: string): string {
  for (const k of Object.keys(res.headers ?? {})) if (k.toLowerCase() === name) return res.headers[k] ?? '';
  return '';
}

/** The request's failure class, or null when it succeeded (metrics.md: how a request is classified). */
function outcome(res: SSEResponse, s: Stream): ErrorClass | null {
  if (res.error) {
    s.message = res.error;
    return transportErrorClass(res.error);
  }
  const status = res.status;
  if (status === 429) return 'http_429';
  if (status >= 400 && status < 500) return 'http_4xx';
  if (status >= 500) return 'http_5xx';
  if (status < 200 || status >= 300) return 'invalid_response';
  if (!header(res, 'content-type').toLowerCase().includes('text/event-stream')) {
    s.message = \`content-type \${header(res, 'content-type') || 'missing'}, not text/event-stream\`;
    return 'invalid_response';
  }
  const encoding = header(res, 'content-encoding').toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    s.message = \`a \${encoding}-encoded event stream\`;
    return 'invalid_response';
  }
  if (s.failure !== null) return s.failure;
  if (s.done || s.finishReason !== null) return null;
  s.message = 'the stream ended without [DONE] or a finish reason';
  return 'truncated';
}

function compare(a: number, op: Bound['op'], b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
  return false;
}

export default function (data: SetupData): void {
  const t0 = now();
  const id = exec.scenario.iterationInTest;
  if (REQUEST_LIMIT !== null && id >= REQUEST_LIMIT) return;
  const req = REQUESTS[id % REQUESTS.length];
  if (req === undefined) return;
  const model = req.model ?? data.model;
  const tags = exec.vu.metrics.tags;
  const meta = exec.vu.metrics.metadata;
  if (exec.vu.iterationInScenario === 0) runStart.add(exec.scenario.startTime, { ...RUN_TAGS, model: data.model });
  if (WARMUP_MS > 0) tags.warmup = Date.now() - exec.scenario.startTime < WARMUP_MS ? 'true' : 'false';
  if (req.class !== undefined) tags.class = req.class;
  else delete tags.class;
  if (MODEL_MIX) tags.model = model;
  meta.request_id = String(id);
  // what the request asked for, on its first sample only
  meta.prompt_tokens_planned = String(req.prompt_tokens);
  meta.max_tokens = String(req.max_tokens);
  if (req.prefix_group !== undefined) meta.prefix_group = String(req.prefix_group);
  requests.add(1);
  delete meta.prompt_tokens_planned;
  delete meta.max_tokens;
  delete meta.prefix_group;

  const s: Stream = {
    firstTokenMs: NaN,
    chunkMs: [],
    done: false,
    finishReason: null,
    endMs: NaN,
    failure: null,
    message: '',
    completionTokens: null,
    promptTokensUsage: null,
    cachedTokensUsage: null,
  };
  const maxChunks = Math.max(4096, 8 * req.max_tokens);
  const body = requestBody(req, model);
  const sentMs = now();
  const res = sse.open(url(ENDPOINT === 'chat' ? '/chat/completions' : '/completions'), { method: 'POST', body, headers: headers(), timeout: \`\${TIMEOUT_S}s\` }, (client) => {
    client.on('event', (ev) => onEvent(client, s, ev, maxChunks));
    client.on('error', (e) => {
      // the body's read ended in an error; nothing else will come
      if (!s.done && s.failure === null) {
        const message = e.error();
        s.failure = readErrorClass(message);
        s.message = message;
        s.endMs = now();
      }
      client.close();
    });
  });
  const endMs = Number.isNaN(s.endMs) ? now() : s.endMs;
  const cls = outcome(res, s);
  scheduleLag.add(sentMs - t0);
  if (cls === null) {
    completed.add(1);
    const chunks = s.chunkMs.length;
    // usage.completion_tokens when it can be true (at most 2 × max(max_tokens, chunks)), else the chunks
    const usage = s.completionTokens !== null && s.completionTokens <= 2 * Math.max(req.max_tokens, chunks) ? s.completionTokens : null;
    const tokens = usage ?? chunks;
    const ttftMs = s.firstTokenMs - t0;
    const e2eMs = endMs - t0;
    const tpotMs = tokens > 1 && !Number.isNaN(s.firstTokenMs) ? (endMs - s.firstTokenMs) / (tokens - 1) : NaN;
    if (!Number.isNaN(ttftMs)) ttft.add(ttftMs);
    for (let i = 1; i < chunks; i++) itl.add((s.chunkMs[i] ?? 0) - (s.chunkMs[i - 1] ?? 0));
    if (!Number.isNaN(tpotMs)) tpot.add(tpotMs);
    e2e.add(e2eMs);
    outputTokens.add(tokens, { tokens_from: usage !== null ? 'usage' : 'chunks' });
    promptTokens.add(s.promptTokensUsage ?? req.prompt_tokens, { tokens_from: s.promptTokensUsage !== null ? 'usage' : 'planned' });
    if (s.cachedTokensUsage !== null) cachedTokens.add(s.cachedTokensUsage);
    errors.add(false);
    const observed: Record<Bound['metric'], number> = { ttft: ttftMs, tpot: tpotMs, e2e: e2eMs };
    good.add(
      (GOOD[req.class ?? ''] ?? GOOD[''] ?? []).every((b) =>
        // a one-token answer has no TPOT: it cannot break a TPOT bound
        b.metric === 'tpot' && Number.isNaN(observed.tpot) ? true : !Number.isNaN(observed[b.metric]) && compare(observed[b.metric], b.op, b.value),
      ),
    );
  } else {
    meta.error = s.message.slice(0, 500);
    failed.add(1, { error_class: cls });
    delete meta.error;
    e2eFailed.add(endMs - t0, { error_class: cls });
    errors.add(true, { error_class: cls });
  }
  delete meta.request_id;
  if (THINK_TIME_S > 0) sleep(THINK_TIME_S);
}
`;
}

function loadComment(spec: ScenarioSpec): string {
  const load = spec.load;
  switch (load.executor) {
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return (
        `${load.executor} as in the scenario; rates are whole numbers per timeUnit in k6, so fractional rates are scaled with their timeUnit. ` +
        `maxVUs is load.maxInFlight (${load.maxInFlight}): an iteration that finds every VU busy is dropped, as inferload drops an arrival that finds maxInFlight requests in flight; ` +
        `preAllocatedVUs covers the peak rate for ${PREALLOCATE_FOR_S} s of requests (k6 starts more, up to maxVUs, when needed). ` +
        (load.arrival === 'constant' ? 'Arrivals evenly spaced, as in the scenario.' : `The scenario's arrivals are ${load.arrival}; k6's are evenly spaced at the same mean rate.`)
      );
    case 'constant-vus':
      return `constant-vus as in the scenario: ${load.vus} users, each sending its next request ${load.thinkTimeS} s (thinkTime) after its last one ended.`;
    case 'ramping-vus':
      return `ramping-vus as in the scenario; a user retiring in a ramp-down finishes its request (gracefulRampDown: target.timeout), as in inferload. thinkTime ${load.thinkTimeS} s.`;
    case 'trace':
      return '';
    default: {
      const never: never = load;
      throw new Error(`unknown executor ${JSON.stringify(never)}`);
    }
  }
}

// ---- the TestRun ------------------------------------------------------------------------------

/** A Kubernetes object name from the scenario's name: lower case, [a-z0-9-], at most 40 characters. */
export function k8sName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return s === '' ? 'scenario' : s;
}

function testRunText(
  spec: ScenarioSpec,
  o: {
    files: K6Export['files'];
    parallelism: number;
    image: string | undefined;
    namespace: string | undefined;
    target: TargetFacts;
    apiKeySecret: { name: string; key: string } | undefined;
  },
): string {
  const name = `inferload-${k8sName(spec.name)}`;
  const meta = (n: string): Record<string, unknown> => ({ name: n, ...(o.namespace !== undefined && { namespace: o.namespace }), labels: { 'app.kubernetes.io/managed-by': 'inferload' } });
  const claim = `${name}-results`;
  const pvc = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(claim),
    spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } } },
  };
  const env: Record<string, unknown>[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'INFERLOAD_TARGET', value: spec.target.url !== undefined ? o.target.url : 'http://inferload-target:8000/v1' },
    // the key from a Secret, never inline (without --api-key-secret: optional, for a server that wants none)
    {
      name: o.target.apiKeyEnv,
      valueFrom: { secretKeyRef: o.apiKeySecret ? { name: o.apiKeySecret.name, key: o.apiKeySecret.key } : { name: `${name}-api-key`, key: 'api-key', optional: true } },
    },
  ];
  if (o.target.model !== '') env.push({ name: 'INFERLOAD_MODEL', value: o.target.model });
  const testRun = {
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: meta(name),
    spec: {
      parallelism: o.parallelism,
      script: { configMap: { name, file: o.files.script } },
      // every runner writes its own file (Kubernetes expands $(POD_NAME) from the env below)
      arguments: '--out json=/results/$(POD_NAME).json',
      runner: {
        image: o.image ?? 'grafana/k6:latest',
        env,
        volumes: [{ name: 'results', persistentVolumeClaim: { claimName: claim } }],
        volumeMounts: [{ name: 'results', mountPath: '/results' }],
      },
    },
  };
  const head = [
    `k6-operator TestRun for scenario "${spec.name}", written by inferload export k6 (inferload ${VERSION}).`,
    '',
    `1. The script and its requests in a ConfigMap (the runners mount it at /test):`,
    `     kubectl create configmap ${name} --from-file=${o.files.script} --from-file=${o.files.data}${o.namespace !== undefined ? ` -n ${o.namespace}` : ''}`,
    `   A ConfigMap holds at most 1 MiB: for more, copy both files onto a volume and use`,
    `   spec.script.volumeClaim {name: CLAIM, file: ${o.files.script}} instead of spec.script.configMap.`,
    o.apiKeySecret
      ? `2. The API key comes from the Secret ${o.apiKeySecret.name} (key ${o.apiKeySecret.key}) as ${o.target.apiKeyEnv}.`
      : `2. The API key, if the server wants one: kubectl create secret generic ${name}-api-key --from-literal=api-key=KEY`,
    `3. The runners' image must be a k6 (v0.57 or newer) with the xk6-sse extension:`,
    `     xk6 build --with github.com/phymbert/xk6-sse, in an image of your own (set spec.runner.image),`,
    `   or a k6 that resolves extensions itself. Set INFERLOAD_TARGET to the server under test.`,
    `4. kubectl apply -f ${o.files.testRun}; each of the ${o.parallelism} runner(s) takes its share of the load`,
    `   (k6's execution segments) and writes its JSON output to the claim ${claim} as <pod>.json.`,
    `5. Collect them (a pod that mounts the claim, then kubectl cp), join them and import:`,
    `     cat *.json > k6-out.json && inferload import k6 k6-out.json --scenario SCENARIO --out DIR`,
    `   Request ids are k6's iterationInTest, unique across the runners, so the files join without clashes.`,
  ].join('\n');
  const docs = [pvc, testRun].map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
  return `${head
    .split('\n')
    .map((l) => (l === '' ? '#' : `# ${l}`))
    .join('\n')}\n---\n${docs}`;
}

// ---- the command ------------------------------------------------------------------------------

/** Flags of `inferload export k6` (strings as commander gives them; numbers from tests). */
export interface ExportK6Flags {
  /** the script's path (`.ts`); the data, the types and the TestRun are written beside it */
  out?: string;
  /** distinct requests precomputed (default: the expected arrivals, at most 10 000) */
  prompts?: string | number;
  /** `run`'s --requests: the run is exactly this many requests */
  requests?: string | number;
  /** the TestRun's parallelism (k6 runners) */
  parallelism?: string | number;
  /** the runners' image (k6 with xk6-sse) */
  image?: string;
  namespace?: string;
  /** `NAME[:KEY]`: the Secret holding the API key (KEY defaults to the variable's name, as for `inferload k8s`) */
  apiKeySecret?: string;
  set?: string[];
  seed?: string;
  target?: string;
  model?: string;
  apiKeyEnv?: string;
}

/** A word for a POSIX shell: as it is when it is plain, else in single quotes. */
const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

const intFlag = (v: string | number | undefined, flag: string, min: number, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidInputError([{ path: flag, message: `expected an integer from ${min} to ${max}, found "${v}"` }]);
  return n;
};

/**
 * Writes the k6 test of `scenario` to `flags.out` and, beside it, `<stem>.requests.json`,
 * `xk6-sse.d.ts` and `<stem>.testrun.yaml`; prints what does not map one to one. Returns 0, or
 * 104 for a scenario k6 cannot run (trace, sessions, tokenizer: server), a bad flag or a place
 * that cannot be written.
 */
export async function runExportK6Command(scenario: string, flags: ExportK6Flags, io: CommandIo): Promise<number> {
  try {
    return await exportCommand(scenario, flags, io);
  } catch (err) {
    if (err instanceof InferloadError) {
      io.stderr(`inferload: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

async function exportCommand(scenario: string, flags: ExportK6Flags, io: CommandIo): Promise<number> {
  const out = flags.out;
  if (out === undefined || out.trim() === '') throw new InvalidInputError([{ path: '--out', message: 'say where the script goes: --out script.ts' }]);
  if (!/\.ts$/.test(out)) throw new InvalidInputError([{ path: '--out', message: `the script is TypeScript: give a path ending in .ts, found ${out}` }]);
  const prompts = intFlag(flags.prompts, '--prompts', 1, MAX_PROMPTS);
  const parallelism = intFlag(flags.parallelism, '--parallelism', 1, 1000);
  const cli = {
    ...(flags.seed !== undefined && { seed: flags.seed }),
    ...(flags.requests !== undefined && { requests: String(flags.requests) }),
    ...(flags.target !== undefined && { target: flags.target }),
    ...(flags.model !== undefined && { model: flags.model }),
    ...(flags.apiKeyEnv !== undefined && { apiKeyEnv: flags.apiKeyEnv }),
  };
  const spec = loadScenario(scenario, [], { set: flags.set ?? [], cli });
  let apiKeySecret: { name: string; key: string } | undefined;
  if (flags.apiKeySecret !== undefined) {
    const [name = '', key = spec.target.apiKeyEnv ?? 'OPENAI_API_KEY', ...rest] = flags.apiKeySecret.split(':');
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253 || rest.length > 0 || !/^[-._a-zA-Z0-9]+$/.test(key))
      throw new InvalidInputError([{ path: '--api-key-secret', message: `expected NAME or NAME:KEY (a Secret's name, a key in it), found "${flags.apiKeySecret}"` }]);
    apiKeySecret = { name, key };
  }
  const path = resolve(out);
  const result = await exportK6(spec, {
    scriptName: basename(path),
    ...(prompts !== undefined && { prompts }),
    ...(parallelism !== undefined && { parallelism }),
    ...(flags.image !== undefined && { image: flags.image }),
    ...(flags.namespace !== undefined && { namespace: flags.namespace }),
    ...(apiKeySecret && { apiKeySecret }),
  });
  const dir = dirname(path);
  const written = [
    [path, result.script],
    [join(dir, result.files.data), result.data],
    [join(dir, result.files.sseTypes), result.sseTypes],
    [join(dir, result.files.testRun), result.testRun],
  ] as const;
  try {
    await mkdir(dir, { recursive: true });
    for (const [p, text] of written) await writeFile(p, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InvalidInputError([{ path: '--out', message: `cannot write into ${dir} (${code}); choose a writable place` }]);
  }
  io.stdout(`inferload: exported scenario ${spec.name} for k6:\n`);
  io.stdout(`  ${path}  the k6 test (TypeScript, typed with @types/k6; k6 v0.57+ with xk6-sse)\n`);
  io.stdout(`  ${join(dir, result.files.data)}  ${result.prompts} precomputed requests (same workload and seed as inferload run)\n`);
  io.stdout(`  ${join(dir, result.files.sseTypes)}  the types of k6/x/sse (for tsc and editors; k6 does not read it)\n`);
  io.stdout(`  ${join(dir, result.files.testRun)}  a k6-operator TestRun (and a claim for the runners' JSON output)\n`);
  io.stdout(`  run:     k6 run --out json=k6-out.json ${path}\n`);
  // the import reads the same scenario: the same overrides, as --set
  const sets = [
    ...(flags.set ?? []),
    ...(flags.seed !== undefined ? [`seed=${flags.seed}`] : []),
    ...(flags.requests !== undefined ? [`requests=${flags.requests}`] : []),
  ].map((x) => ` --set ${shellQuote(x)}`);
  io.stdout(`  results: inferload import k6 k6-out.json --scenario ${shellQuote(scenario)}${sets.join('')} --out DIR\n`);
  for (const w of result.warnings) io.stderr(`inferload: warning: ${w}\n`);
  return ExitCode.ok;
}
