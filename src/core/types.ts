// Shared types: the validated scenario (what config/ produces and everything else reads) and
// the per-request record (what the backend stamps and the recorder consumes).

/** A length distribution, in tokens. Samples are rounded and clamped to [min, max]. */
export type LengthDist =
  | { dist: 'fixed'; value: number }
  | { dist: 'uniform'; min: number; max: number }
  | { dist: 'normal'; mean: number; stddev: number; min?: number; max?: number }
  | { dist: 'lognormal'; mean: number; stddev: number; min?: number; max?: number };

/** Inter-arrival process of open-loop executors. */
export type ArrivalProcess = 'constant' | 'poisson' | 'gamma';

export interface Stage {
  durationS: number;
  target: number;
}

interface ArrivalRateCommon {
  /** arrivals per `timeUnitS` */
  timeUnitS: number;
  arrival: ArrivalProcess;
  /** gamma shape: < 1 burstier than Poisson, > 1 smoother; 1 = Poisson */
  burstiness: number;
  /** an arrival that finds this many requests in flight is dropped and counted */
  maxInFlight: number;
  gracefulStopS: number;
}

/** The trace formats `executor: trace` replays. */
export type TraceFormat = 'azure' | 'mooncake' | 'jsonl';

export type LoadSpec =
  | ({ executor: 'constant-arrival-rate'; rate: number; durationS: number } & ArrivalRateCommon)
  | ({ executor: 'ramping-arrival-rate'; startRate: number; stages: Stage[] } & ArrivalRateCommon)
  | {
      executor: 'trace';
      /** the trace file (absolute once loaded from a scenario file) */
      file: string;
      /** undefined: told by the file's first line (a CSV header: azure; JSON with `timestamp`: mooncake; with `t`: jsonl) */
      format?: TraceFormat;
      /** trace seconds per run second: 2 replays an hour of trace in 30 minutes */
      speedup: number;
      /** where the replay starts, in trace seconds after the trace's first record */
      startS: number;
      /** how much of the trace is replayed, in trace seconds; undefined: to its end (filled in from the trace before the run) */
      durationS?: number;
      maxInFlight: number;
      gracefulStopS: number;
    }
  | { executor: 'constant-vus'; vus: number; durationS: number; thinkTimeS: number; gracefulStopS: number }
  | {
      executor: 'ramping-vus';
      startVUs: number;
      stages: Stage[];
      thinkTimeS: number;
      gracefulStopS: number;
    };

export type Executor = LoadSpec['executor'];

export type Endpoint = 'chat' | 'completions';

export interface TargetSpec {
  /** OpenAI-compatible base URL including `/v1`; undefined: start the built-in simulator */
  url?: string;
  model?: string;
  endpoint: Endpoint;
  /** the *name* of the environment variable that holds the API key, never the key */
  apiKeyEnv?: string;
  /** Prometheus endpoints to scrape, each on its own timer */
  metrics: { url: string; intervalS: number }[];
  /** per-request deadline from send to end of stream */
  timeoutS: number;
  /** GPUs behind the target, declared (a GPU exporter's count wins when scraped) */
  gpuCount?: number;
  /** the most bytes of one SSE event (or a non-streamed body) the client holds (default 4 MiB) */
  maxEventBytes?: number;
  /** requests spread over these model names by weight (per session, with sessions); `model` is then unused */
  models?: ModelShare[];
  /**
   * target.urls: replicas of one deployment, each request sent to one by `balance` (the first is
   * also `url`: the model list, the tokenizer); undefined: the one `url`
   */
  urls?: string[];
  balance?: 'least-in-flight' | 'round-robin';
  /** server and GPU signals by PromQL from this Prometheus instead of direct scrapes */
  prometheus?: import('../scrape/promql.js').PrometheusTarget;
}

/** How `inferload sweep` searches the sustainable rate. */
export interface SweepSpec {
  startRate: number;
  maxRate: number;
  /** stop bisecting when (bad − good) / good is at most this */
  precision: number;
  stepS: number;
  stepWarmupS: number;
  maxSteps: number;
  arrival: 'constant' | 'poisson';
}

/** Deterministic fault injection in the simulator; each ratio is per request. */
export interface SimFaults {
  /** HTTP 500 before any byte of the stream */
  http500Ratio: number;
  /** HTTP 429 with Retry-After */
  http429Ratio: number;
  /** the stream stops sending for `stallS` seconds at a random point */
  stallRatio: number;
  stallS: number;
  /** the connection is destroyed mid-stream (no [DONE]) */
  dropRatio: number;
  /** an `{"error": ...}` event inside an HTTP-200 stream */
  midStreamErrorRatio: number;
}

export interface SimulatorSpec {
  profile: string;
  /** scales every engine step: 0.8 = a build 20 % slower */
  speed: number;
  faults: SimFaults;
  /** automatic prefix caching; undefined: on when the workload has a sharedPrefix */
  prefixCaching?: boolean;
}

/**
 * Shared prefixes (system prompts) of synthetic prompts. A prefixed request's prompt is its
 * group's prefix, then its own part of `promptTokens` tokens (the template's included).
 */
export interface SharedPrefixSpec {
  groups: number;
  /** tokens of each prefix's text */
  prefixTokens: number;
  /** share of requests carrying a prefix, the group drawn by the seed (one of share, promptsPerGroup) */
  share?: number;
  /** every request carries one: this many consecutive requests per group, the groups in turn */
  promptsPerGroup?: number;
}

/** The dataset formats `workload.dataset.format` reads. */
export type DatasetFormat = 'sharegpt' | 'openai-chat' | 'prompts' | 'text';

/** A dataset to take prompts from (a plain string in the scenario is today's prompt JSONL). */
export interface DatasetSpec {
  format: DatasetFormat;
  /** absolute once loaded from a scenario file */
  path: string;
  /** entries whose prompt (or reply) is outside these token counts are left out before sampling */
  minPromptTokens?: number;
  maxPromptTokens?: number;
  minOutputTokens?: number;
  maxOutputTokens?: number;
  /** the most entries sampled and held (the run's request count, when smaller, is the sample's size) */
  maxEntries: number;
  /**
   * where output lengths come from: `dataset` (the reply's tokens, the line's max_tokens or
   * output_tokens; the distribution for an entry without one) or `scenario` (workload.outputTokens,
   * which the scenario sets)
   */
  outputTokens: 'dataset' | 'scenario';
}

/**
 * Multi-turn sessions (workload.sessions): each user holds a conversation and every turn resends
 * it whole, the replies as the server streamed them included.
 */
export interface SessionsSpec {
  /** turns per session: a fixed count or a distribution (sampled per session, at least 1) */
  turns: LengthDist;
  /** between a turn's end and the next turn's intended send */
  thinkTimeS: number;
  /** `fixed`: exactly thinkTime; `exponential`: drawn with thinkTime as the mean */
  thinkTimeDist: 'fixed' | 'exponential';
  /** the most prompt tokens of history a turn resends: older turns are left out whole, oldest first (undefined: all) */
  historyTokens?: number;
  /** a request header carrying the session's id, for routers with session affinity (e.g. x-session-id) */
  header?: string;
}

/** One request class of workload.classes: a share of arrivals with its own shape and SLOs. */
export interface RequestClassSpec {
  name: string;
  /** relative share of arrivals (sessions, with sessions) */
  weight: number;
  promptTokens: LengthDist;
  outputTokens: LengthDist;
  sharedPrefix?: SharedPrefixSpec;
  /** the class's own thresholds; a metric named here replaces the run's thresholds for it */
  slo: Record<string, SloThreshold[]>;
}

/** One model name of target.models (the base model or a LoRA adapter behind the same server). */
export interface ModelShare {
  name: string;
  weight: number;
}

export interface WorkloadSpec {
  promptTokens: LengthDist;
  outputTokens: LengthDist;
  /** ask the server to ignore EOS so it produces exactly max_tokens */
  ignoreEos: boolean;
  /** also send min_tokens = max_tokens (vLLM, SGLang) */
  minTokens: boolean;
  /** prompts from a dataset instead of synthetic ones */
  dataset?: DatasetSpec;
  sharedPrefix?: SharedPrefixSpec;
  temperature: number;
  sessions?: SessionsSpec;
  /** a weighted mix of request shapes, each its own SLOs; each class's fields replace the workload's */
  classes?: RequestClassSpec[];
  /**
   * what prompt tokens are counted and built with (workload/tokenizer.ts): a tokenizer.json path
   * (absolute once loaded from a scenario file), a family (llama3, qwen3) or `server`; undefined:
   * the approximation of core/tokens.ts
   */
  tokenizer?: string;
}

/** One threshold as written in the scenario (k6 syntax), kept as text for analysis/. */
export interface SloThreshold {
  threshold: string;
  abortOnFail: boolean;
}

/** The validated, normalised scenario. Durations in seconds. */
export interface ScenarioSpec {
  name: string;
  description?: string;
  seed: number;
  warmupS: number;
  /** width of the recorder's time windows */
  windowS: number;
  /** when set, the run is exactly this many arrivals (sent or dropped) */
  requests?: number;
  target: TargetSpec;
  simulator: SimulatorSpec;
  load: LoadSpec;
  workload: WorkloadSpec;
  /** metric name → thresholds */
  slo: Record<string, SloThreshold[]>;
  sweep: SweepSpec;
  alerts: AlertsSpec;
  /** availability SLO of the error budget, as a ratio (0.999) */
  availabilitySlo: number;
}

/** Alert rules judged over the run's windows (analysis/alerts.ts). */
export interface AlertsSpec {
  /** include the usual vLLM runbook rules */
  defaults: boolean;
  rules: { name: string; expr: string; for_s: number; severity: 'info' | 'warning' | 'critical' }[];
}

/** Failure classes (metrics.md). */
export const ERROR_CLASSES = [
  'http_4xx',
  'http_429',
  'http_5xx',
  'timeout',
  'connect',
  'reset',
  'stream_error',
  'truncated',
  'invalid_response',
  'unfinished',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/**
 * How the run itself ends a request early: `timeout` (target.timeout passed), `unfinished` (still
 * in flight when a graceful stop of more than 0 s ended: the server had that long and did not
 * finish; a failure), `aborted` (cut by an interrupt, a give-up on a dead target, or a graceful
 * stop of 0 s: neither a success nor a failure; metrics.md "interrupted").
 */
export type AbortClass = 'timeout' | 'unfinished' | 'aborted';
