// RunResult: the canonical, versioned content of results.json (cli.md's field names). Every
// report and analysis is a function of this, so it must be self-contained.
import type { LatencySummaryMs } from '../metrics/hdr.js';
import type { LatencyMetric, WindowResult } from '../metrics/recorder.js';
import type { PromptPlannedVsServer } from '../metrics/prompt-planned.js';
import type { PrefixSummary } from '../metrics/prefix.js';
import type { TokenizerInfo } from '../workload/tokenizer.js';
import type { DatasetInfo } from '../workload/dataset.js';
import type { TraceInfo } from '../workload/trace.js';
import type { AskedServed } from '../workload/tally.js';

export const RESULTS_SCHEMA = 'inferload/results@1';

export type RunStatus = 'running' | 'complete' | 'interrupted' | 'failed';

export interface RunMeta {
  id: string;
  scenario: string;
  description: string | null;
  /** the run clock's zero, as wall-clock time */
  started_at: string;
  ended_at: string | null;
  seed: number;
  warmup_s: number;
  window_s: number;
  requests_limit: number | null;
  target: {
    url: string;
    model: string;
    endpoint: string;
    /** the variable's name only; the key never reaches a file */
    api_key_env: string | null;
    simulator: { profile: string; speed: number } | null;
    /** target.models: the model mix requests were spread over (absent without one) */
    models?: { name: string; weight: number }[];
    /** target.urls: the replicas requests were spread over (masked as url is), and how */
    replicas?: string[];
    balance?: 'least-in-flight' | 'round-robin';
  };
  load: Record<string, unknown>;
  workload: Record<string, unknown>;
  inferload_version: string;
  node_version: string;
  platform: string;
  cpus: number;
  /** the command line, with nothing secret in it */
  argv: string[];
}

export interface GeneratorHealth {
  event_loop_lag_p99_ms: number | null;
  event_loop_lag_max_ms: number | null;
  cpu_ratio: number | null;
  /** CPU less the pacer's deliberate spin before sends: what the saturation warning judges */
  cpu_work_ratio?: number | null;
  /**
   * the share of the run the client's main thread was ready to run but waited for a CPU (Linux:
   * /proc/thread-self/schedstat): other processes held the cores. Above 5 % the lag warnings say
   * the machine, not the client, was busy. Absent in older results; null off Linux.
   */
  cpu_wait_ratio?: number | null;
  /** the machine's 1-minute load average at the end of the run */
  load_average?: number;
  schedule_lag_p99_ms: number | null;
  rss_max_bytes: number;
  /** [seconds since start, RSS bytes], every 10 s (bounded: halved when long) */
  rss_samples?: [number, number][];
  valid: boolean;
  warnings: string[];
  /**
   * client worker threads of the run (`--workers`; 1 = the client on the main thread). Always
   * written now; results written before it lack it (read as 1).
   */
  workers?: number;
  /**
   * SSE events by the client's parsing path: `template` (matched the stream's learned chunk
   * shape: cheapest), `search` (bounded string searches), `json` (JSON.parse: the costly one).
   * A server whose chunks defeat the fast paths costs the client more CPU per chunk.
   */
  chunk_parsing?: { template: number; search: number; json: number };
}

export interface RunSummary {
  duration_s: number;
  requests: {
    sent: number;
    completed: number;
    failed: number;
    dropped: number;
    /** cut by the run itself at the graceful stop or an interrupt: not counted as failed */
    interrupted: number;
    /** completed requests that met every per-request SLO (goodput's numerator) */
    good: number;
    warmup_sent: number;
    warmup_dropped: number;
  };
  errors: Record<string, number>;
  throughput: {
    request_per_s: number;
    output_tokens_per_s: number;
    total_tokens_per_s: number;
    goodput_request_per_s: number;
    goodput_ratio: number | null;
  };
  rate: { target_per_s: number | null; achieved_per_s: number | null; arrival_period_s: number };
  latency_ms: Record<LatencyMetric, LatencySummaryMs>;
  tokens: {
    prompt: number;
    output: number;
    output_usage: number;
    output_chunks: number;
    output_estimated_requests: number;
    /** the workload's planned prompt tokens against usage.prompt_tokens, per request (absent in older results) */
    prompt_planned_vs_server?: PromptPlannedVsServer;
  };
  /** shared prefixes: requests with and without, cached tokens, warm vs cold TTFT (absent: no prefix, none cached) */
  prefix?: PrefixSummary;
}

/** results.workload: what the prompts were counted and built with, where they came from, what was asked and served. */
export interface WorkloadSection {
  /** kind `approximate` when the scenario names no tokenizer */
  tokenizer: TokenizerInfo;
  /** where the prompts came from: the length distributions, a dataset, or a trace (absent in older results) */
  source?: 'synthetic' | 'dataset' | 'trace';
  /** the dataset read and its sample, or null */
  dataset?: DatasetInfo | null;
  /** the trace replayed (its window, its arrival rate over time), or null */
  trace?: TraceInfo | null;
  /** prompt tokens per measured request: planned (asked) and usage.prompt_tokens (served) */
  prompt_tokens?: AskedServed;
  /** output tokens per measured request: max_tokens (asked) and usage.completion_tokens (served) */
  output_tokens?: AskedServed;
}

export interface SloVerdict {
  /** `metric: threshold`; a request class's own SLO is named `class <name>: metric: threshold` */
  name: string;
  /** the request class (workload.classes) whose requests alone this was judged on; absent: the whole run */
  class?: string;
  metric: string;
  threshold: string;
  observed: number | null;
  passed: boolean;
  abort_on_fail: boolean;
}

/** One scraped Prometheus endpoint, as results.server.endpoints[] reports it. */
export interface ServerEndpoint {
  url: string;
  /** the detected server profile(s): vllm, sglang, tgi, llamacpp, triton, dcgm; [] when unknown */
  profiles: string[];
  /** the first detected profile, or null (cli.md's `profile`) */
  profile: string | null;
  scrapes: number;
  failures: number;
  interval_s: number;
  last_error: string | null;
  warnings: string[];
}

/** Client vs server token counts over the run. */
export interface TokenReconciliation {
  client_output: number;
  server_generation: number;
  /** (client − server) / server */
  diff_ratio: number | null;
}

/** One alert rule judged over the run's windows (would production's alerts have fired?). */
export interface AlertResult {
  name: string;
  severity: 'info' | 'warning' | 'critical';
  /** the condition as written, e.g. `queue_depth > 20` */
  condition: string;
  for_s: number;
  /** run time (s) at which the condition first held, or null */
  first_held_s: number | null;
  /** longest continuous time the condition held, s */
  held_s: number;
  fired: boolean;
  /** the arrival rate when it first held, or null */
  offered_rate: number | null;
}

/** results.server: what the scraper saw. */
export interface ServerSection {
  endpoints: ServerEndpoint[];
  tokens: TokenReconciliation | null;
  /** GPUs seen by the GPU exporter (or declared), null when unknown */
  gpu_count: number | null;
  alerts: AlertResult[];
  /**
   * the servers' prefix cache over the run, from their counters (vLLM V1 prefix_cache_*_total):
   * tokens looked up, tokens found, found / looked up; absent when no server counts them
   */
  prefix_cache?: { queries_tokens: number; hits_tokens: number; hit_ratio: number | null };
  /** with Prometheus as the source (target.prometheus): each replica over the run (queue, KV cache, tokens, its share) */
  replicas?: import('../scrape/promql.js').ServerReplica[];
}

/**
 * One slice of the run's requests (a class, a turn index, a model): results.summary's shape over
 * those requests alone. Counts add up to the run's over the slices; throughputs are over the
 * run's duration_s, so they add up too.
 */
export interface GroupResult {
  summary: RunSummary;
}

export interface ClassResult extends GroupResult {
  /** the class's share of arrivals, normalised (weights / their sum) */
  weight: number;
  /**
   * the class's own thresholds (those written under the class), judged on its requests alone; its
   * requests' goodput is judged by the run's SLOs with each metric the class names replaced by its own
   */
  slo: SloVerdict[];
}

export interface TurnResult extends GroupResult {
  /** 1 = a session's first request */
  turn: number;
}

/** results.sessions: the run's sessions by how they ended. */
export interface SessionsSection {
  started: number;
  /** every planned turn completed */
  completed: number;
  /** a turn failed or was dropped: the conversation could not go on without its reply */
  broken: number;
  /** the run ended (its duration, a request count, a stop) before the session's last turn */
  cut: number;
  /** still under way when the results were written (a checkpoint) */
  in_progress: number;
}

/** Who a run is: shards of one run share the id and the scenario's hash, and say which part they are. */
export interface RunIdentity {
  /** run.id: shared by a run's shards (`--run-id`, or derived from the common start) */
  run_id: string;
  /** sha256 of the validated scenario (overrides applied): shards of one run have the same */
  scenario_hash: string;
  /** this file is shard `index` of `count` (`--shard`, `--shards`); absent: the whole run */
  shard?: { index: number; count: number };
}

export interface RunResult extends Partial<RunIdentity> {
  schema: typeof RESULTS_SCHEMA;
  status: RunStatus;
  /** why the run ended early, when it did */
  status_reason: string | null;
  run: RunMeta;
  summary: RunSummary;
  /** absent in results written before it */
  workload?: WorkloadSection;
  windows: WindowResult[];
  server: ServerSection;
  /** pearson r between client metrics and server signals over windows, e.g. ttft_p95_vs_queue_depth */
  correlation: Record<string, number>;
  /**
   * which window each client series of `correlation` is keyed by: `arrival` (the requests that
   * arrived in the window, by intended start) or `end` (the requests that ended in it)
   */
  correlation_alignment?: Record<string, 'arrival' | 'end'>;
  slo: SloVerdict[];
  generator: GeneratorHealth;
  /** burn rate of an availability SLO at this run's error ratio (analysis/error-budget.ts) */
  error_budget?: import('../analysis/error-budget.js').ErrorBudget | null;
  /** ramping runs with a peak: recovery from the spike (analysis/spike-soak.ts) */
  spike?: import('../analysis/spike-soak.js').SpikeAnalysis | null;
  /** drift of latency, server signals and the generator's memory over the run */
  soak?: import('../analysis/spike-soak.js').SoakAnalysis;
  /** sweeps only: capacity at the SLOs (analysis/capacity.ts) */
  capacity?: import('../analysis/capacity.js').CapacityResult;
  /**
   * workload.classes: every class's requests alone, in the summary's shape, with the class's own
   * SLO verdicts (also in `slo[]`, with `class` set); absent without classes
   */
  classes?: Record<string, ClassResult>;
  /** workload.sessions: the requests of each turn index (turn 1 first); absent without sessions */
  turns?: TurnResult[];
  /** workload.sessions: how the sessions went; absent without sessions */
  sessions?: SessionsSection;
  /** target.models: the requests sent to each model name (base model or adapter); absent without a mix */
  models?: Record<string, GroupResult>;
  /** merged results: the shards merged and the ones missing (absent: not a merge of shards) */
  merged_shards?: { count: number; merged: number[]; missing: number[] };
  /** the first few distinct failure messages, scrubbed of secrets */
  error_samples: { error_class: string; message: string; count: number }[];
}
