// Hand-made RunResults for the report tests: a ramp past the knee with server and per-GPU signals,
// errors, drops, a warm-up and the queue cut at the end (real HDR histograms from seeded samples), a run with zero completed
// requests, a copy of any result with per-class, per-turn and per-model slices, and a copy of any
// result with hostile strings in every user- or server-supplied field.
import { Rng } from '../../../src/core/rng.js';
import { encodeHistogram, newHistogram, percentileMs, recordUs, summarizeMs, type Histogram } from '../../../src/metrics/hdr.js';
import { LATENCY_METRICS, type LatencyMetric, type WindowResult } from '../../../src/metrics/recorder.js';
import type { ClassResult, RunResult, RunSummary, SloVerdict } from '../../../src/results/types.js';

export interface SyntheticOptions {
  windows?: number;
  warmupS?: number;
  /** scraped server signals (aggregate and per GPU), endpoints, correlation, alerts */
  server?: boolean;
  /** every request fails (connect refused): no latency at all */
  noneCompleted?: boolean;
  /** results.capacity of a sweep (steps at 10..60 req/s) and results.error_budget */
  capacity?: boolean;
  /** results.spike (a spike from 30 s to 45 s, recovered 8 s later) and results.soak (drifting) */
  spikeSoak?: boolean;
  /**
   * the run was interrupted (SIGINT) rather than ending with its schedule; either way the requests
   * still queued at the end (~250 past the knee) are cut, as the engine does
   */
  interrupt?: boolean;
  seed?: number;
}

const CAPACITY_PER_S = 45;
const IN_FLIGHT_CAP = 400;

/** A ramp from 8 to 8+N req/s against a server that serves 45 req/s: queue, TTFT, KV cache and 429s grow past the knee. */
export function syntheticResult(opts: SyntheticOptions = {}): RunResult {
  const nWindows = opts.windows ?? 60;
  const warmupS = opts.warmupS ?? 10;
  const rng = new Rng(opts.seed ?? 7);
  const run = Object.fromEntries(LATENCY_METRICS.map((m) => [m, newHistogram()])) as Record<LatencyMetric, Histogram>;
  const windows: WindowResult[] = [];
  const errors: Record<string, number> = {};
  let queue = 0;
  let sent = 0;
  let completed = 0;
  let failed = 0;
  let dropped = 0;
  let outputTokens = 0;
  let good = 0;
  for (let i = 0; i < nWindows; i++) {
    const measured = i >= warmupS;
    const target = 8 + i;
    const wh = { ttft: newHistogram(), itl: newHistogram(), e2e: newHistogram(), schedule_lag: newHistogram() };
    const arrivals = target;
    const inFlight = Math.min(IN_FLIGHT_CAP, Math.round(queue + CAPACITY_PER_S * 2.5));
    const wDropped = queue > 300 ? Math.round((queue - 300) / 10) : 0;
    const wSent = arrivals - wDropped;
    const wErrors: Record<string, number> = {};
    let wFailed = 0;
    let wCompleted = 0;
    let wTokens = 0;
    if (opts.noneCompleted) {
      wFailed = wSent;
      wErrors.connect = wSent;
    } else {
      queue = Math.max(0, queue + wSent - CAPACITY_PER_S);
      const served = Math.min(wSent + queue, CAPACITY_PER_S);
      const throttled = queue > 120 ? Math.round(served * 0.08) : 0;
      const timeouts = queue > 200 ? 1 : 0;
      if (throttled > 0) wErrors.http_429 = throttled;
      if (timeouts > 0) wErrors.timeout = timeouts;
      wFailed = throttled + timeouts;
      wCompleted = served - wFailed;
      const ttftBaseMs = 35 + queue * 9;
      const itlBaseMs = 11 * (1 + Math.min(queue, 150) / 300);
      for (let k = 0; k < wCompleted; k++) {
        const ttftUs = ttftBaseMs * 1000 * Math.exp(0.25 * rng.normal());
        const lagUs = 150 + 300 * rng.next();
        let t = ttftUs;
        for (let c = 0; c < 63; c++) {
          const gap = itlBaseMs * 1000 * Math.exp(0.12 * rng.normal());
          t += gap;
          recordUs(wh.itl, gap);
          if (measured) {
            recordUs(run.itl, gap);
            recordUs(run.itl_per_token, gap);
          }
        }
        recordUs(wh.ttft, ttftUs);
        recordUs(wh.e2e, t);
        recordUs(wh.schedule_lag, lagUs);
        if (measured) {
          recordUs(run.ttft, ttftUs);
          recordUs(run.ttft_sent, ttftUs - lagUs);
          recordUs(run.tpot, (t - ttftUs) / 63);
          recordUs(run.e2e, t);
          recordUs(run.e2e_sent, t - lagUs);
          recordUs(run.schedule_lag, lagUs);
          if (ttftUs < 500_000) good++;
        }
      }
      wTokens = wCompleted * 64;
    }
    if (measured) {
      sent += wSent;
      completed += wCompleted;
      failed += wFailed;
      dropped += wDropped;
      outputTokens += wTokens;
      for (const [k, n] of Object.entries(wErrors)) errors[k] = (errors[k] ?? 0) + n;
    }
    const w: WindowResult = {
      t_s: i,
      window_s: 1,
      arrivals,
      sent: wSent,
      completed: wCompleted,
      failed: wFailed,
      dropped: wDropped,
      in_flight_max: inFlight,
      errors: wErrors,
      ttft_p50_ms: percentileMs(wh.ttft, 50),
      ttft_p95_ms: percentileMs(wh.ttft, 95),
      ttft_p99_ms: percentileMs(wh.ttft, 99),
      itl_p50_ms: percentileMs(wh.itl, 50),
      itl_p95_ms: percentileMs(wh.itl, 95),
      itl_p99_ms: percentileMs(wh.itl, 99),
      e2e_p50_ms: percentileMs(wh.e2e, 50),
      e2e_p95_ms: percentileMs(wh.e2e, 95),
      e2e_p99_ms: percentileMs(wh.e2e, 99),
      schedule_lag_p99_ms: percentileMs(wh.schedule_lag, 99),
      output_tokens: wTokens,
      output_tokens_per_s: wTokens,
      request_per_s: wCompleted,
      server: {},
      hdr: {
        ttft: encodeHistogram(wh.ttft),
        itl: encodeHistogram(wh.itl),
        e2e: encodeHistogram(wh.e2e),
        schedule_lag: encodeHistogram(wh.schedule_lag),
      },
    };
    if (opts.server && !opts.noneCompleted) {
      const running = Math.min(256, Math.round(CAPACITY_PER_S * 2.5 + Math.min(queue, 100) * 1.3));
      const kv = Math.min(0.995, (running / 256) * 0.85 + Math.min(queue, 200) * 0.0008);
      const util = Math.min(0.98, 0.35 + Math.min(wSent, CAPACITY_PER_S) / 60);
      w.server = {
        queue_depth: queue,
        requests_running: running,
        kv_cache_usage_ratio: Math.round(kv * 1000) / 1000,
        preemptions_per_s: kv > 0.9 ? Math.round((kv - 0.9) * 400) / 10 : 0,
        generation_tokens_per_s: wTokens * 1.01,
        prompt_tokens_per_s: wCompleted * 512,
        prefix_cache_hit_ratio: 0.32,
        server_ttft_s: (w.ttft_p50_ms ?? 0) / 1000 * 0.93,
        gpu_utilization_ratio: util,
        gpu_memory_used_bytes: 2 * 74.2 * 2 ** 30,
        gpu_power_watts: 2 * (320 + util * 300),
        gpu_count: 2,
      };
      w.gpus = [
        { gpu: '0', uuid: 'GPU-0a1b', gpu_utilization_ratio: util, gpu_memory_used_bytes: 74.3 * 2 ** 30, gpu_power_watts: 320 + util * 310 },
        { gpu: '1', uuid: 'GPU-2c3d', gpu_utilization_ratio: Math.max(0, util - 0.04), gpu_memory_used_bytes: 74.1 * 2 ** 30, gpu_power_watts: 315 + util * 290 },
      ];
    }
    windows.push(w);
  }
  const durationS = nWindows - warmupS;
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  const latency = Object.fromEntries(LATENCY_METRICS.map((m) => [m, summarizeMs(run[m])])) as RunResult['summary']['latency_ms'];
  const result: RunResult = {
    schema: 'inferload/results@1',
    status: opts.noneCompleted ? 'failed' : opts.interrupt ? 'interrupted' : 'complete',
    status_reason: opts.noneCompleted
      ? 'the first 20 requests all failed (last: connect: connect ECONNREFUSED 10.0.0.5:8000)'
      : opts.interrupt
        ? 'interrupted by SIGINT'
        : null,
    run: {
      id: 'ramp-20260101T000000Z',
      scenario: 'ramp',
      description: 'a ramp from 8 to 68 req/s past the knee (hand-made fixture)',
      started_at: '2026-01-01T00:00:00.000Z',
      ended_at: `2026-01-01T00:01:${String(nWindows % 60).padStart(2, '0')}.000Z`,
      seed: opts.seed ?? 7,
      warmup_s: warmupS,
      window_s: 1,
      requests_limit: null,
      target: { url: 'http://10.0.0.5:8000/v1', model: 'meta-llama/Llama-3.1-70B-Instruct', endpoint: 'chat', api_key_env: 'OPENAI_API_KEY', simulator: null },
      load: { executor: 'ramping-arrival-rate', startRate: 8, stages: [{ durationS: nWindows, target: 8 + nWindows }], gracefulStopS: 30 },
      workload: { promptTokens: { dist: 'fixed', value: 512 }, outputTokens: { dist: 'fixed', value: 64 } },
      inferload_version: '0.1.0',
      node_version: 'v22.0.0',
      platform: 'linux-x64',
      cpus: 8,
      argv: ['run', 'ramp.yaml', '--target', 'http://10.0.0.5:8000/v1'],
    },
    summary: {
      duration_s: durationS,
      // what the server had not finished when the run ended (the queue past the knee) was cut
      requests: { sent, completed, failed, dropped, interrupted: sent - completed - failed, good, warmup_sent: warmupS * 8, warmup_dropped: 0 },
      errors,
      throughput: {
        request_per_s: r3(completed / durationS),
        output_tokens_per_s: r3(outputTokens / durationS),
        total_tokens_per_s: r3((outputTokens + completed * 512) / durationS),
        goodput_request_per_s: r3(good / durationS),
        goodput_ratio: completed > 0 ? r3(good / completed) : null,
      },
      rate: { target_per_s: r3((sent + dropped) / durationS), achieved_per_s: r3(sent / durationS), arrival_period_s: durationS },
      latency_ms: latency,
      tokens: { prompt: completed * 512, output: outputTokens, output_usage: outputTokens, output_chunks: outputTokens, output_estimated_requests: 0 },
    },
    windows,
    server: { endpoints: [], tokens: null, gpu_count: null, alerts: [] },
    correlation: {},
    slo: [
      { name: 'ttft_ms: p(95)<500', metric: 'ttft_ms', threshold: 'p(95)<500', observed: latency.ttft.p95, passed: (latency.ttft.p95 ?? Infinity) < 500, abort_on_fail: false },
      { name: 'e2e_ms: p(95)<3000', metric: 'e2e_ms', threshold: 'p(95)<3000', observed: latency.e2e.p95, passed: (latency.e2e.p95 ?? Infinity) < 3000, abort_on_fail: false },
      {
        name: 'error_ratio: rate<0.001',
        metric: 'error_ratio',
        threshold: 'rate<0.001',
        observed: completed + failed > 0 ? r3(failed / (completed + failed)) : null,
        passed: failed === 0,
        abort_on_fail: false,
      },
    ],
    generator: { event_loop_lag_p99_ms: 0.4, event_loop_lag_max_ms: 3.1, cpu_ratio: 0.21, schedule_lag_p99_ms: latency.schedule_lag.p99, rss_max_bytes: 140e6, valid: true, warnings: [] },
    error_samples: Object.entries(errors).map(([cls, count]) => ({
      error_class: cls,
      message: cls === 'http_429' ? 'HTTP 429: {"error": "rate limited, retry after 1 s"}' : cls === 'connect' ? 'connect ECONNREFUSED 10.0.0.5:8000' : 'no byte for 30 s',
      count,
    })),
  };
  if (opts.server && !opts.noneCompleted) {
    result.server = {
      endpoints: [
        { url: 'http://10.0.0.5:8000/metrics', profiles: ['vllm'], profile: 'vllm', scrapes: nWindows, failures: 0, interval_s: 1, last_error: null, warnings: [] },
        {
          url: 'http://10.0.0.5:9400/metrics',
          profiles: ['dcgm'],
          profile: 'dcgm',
          scrapes: nWindows - 1,
          failures: 1,
          interval_s: 1,
          last_error: 'timeout after 1 s',
          warnings: ['samples repeat for 30 s: DCGM collects every 30 s, coarser than the 1 s window'],
        },
      ],
      tokens: { client_output: outputTokens, server_generation: Math.round(outputTokens * 1.01), diff_ratio: -0.0099 },
      gpu_count: 2,
      alerts: [
        { name: 'QueueBacklog', severity: 'warning', condition: 'queue_depth > 20', for_s: 10, first_held_s: 40, held_s: 20, fired: true, offered_rate: 48 },
        { name: 'KVCacheFull', severity: 'critical', condition: 'kv_cache_usage_ratio > 0.98', for_s: 60, first_held_s: null, held_s: 0, fired: false, offered_rate: null },
      ],
    };
    result.correlation = { ttft_p95_vs_queue_depth: 0.97, ttft_p95_vs_kv_cache_usage_ratio: 0.83, itl_p95_vs_requests_running: 0.71, ttft_p95_vs_gpu_utilization_ratio: 0.12 };
  }
  if (opts.capacity) {
    const steps = [10, 20, 30, 40, 45, 50, 60].map((rate) => {
      const over = Math.max(0, rate - 42);
      const ttft = 40 + Math.max(0, rate - 30) * 6 + over * 200;
      const sustainable = ttft * 1.3 < 500 && over === 0;
      return {
        rate_per_s: rate,
        slo_passed: ttft * 1.3 < 500,
        steady: over === 0,
        sustainable,
        reasons: sustainable ? [] : [`TTFT p95 ${(ttft * 1.3).toFixed(0)} ms > 500 ms`, ...(over > 0 ? ['completions fell behind arrivals'] : [])],
        request_per_s: Math.min(rate, 42),
        output_tokens_per_s: Math.min(rate, 42) * 64,
        ttft_p50_ms: ttft,
        ttft_p95_ms: ttft * 1.3,
        ttft_p99_ms: ttft * 1.6,
        itl_p50_ms: 11,
        itl_p95_ms: 14 + rate / 10,
        itl_p99_ms: 16 + rate / 8,
        e2e_p95_ms: ttft * 1.3 + 64 * 14,
        goodput_ratio: sustainable ? 0.99 : 0.4,
        error_ratio: over > 0 ? 0.02 : 0,
        server: { queue_depth: over * 3, kv_cache_usage_ratio: Math.min(0.99, rate / 50) },
        results: `steps/${rate}/results.json`,
      };
    });
    result.capacity = {
      sustainable_request_per_s: 40,
      sustainable_output_tokens_per_s: 2560,
      gpu_count: 2,
      gpu_count_source: 'exporter',
      per_gpu: { request_per_s: 20, output_tokens_per_s: 1280 },
      first_unsustainable: { rate_per_s: 45, reasons: ['TTFT p95 520 ms > 500 ms'] },
      knee: { rate_per_s: 33.3, metric: 'ttft_p95', baseline_ms: 52, server: { queue_depth: 1.5 } },
      finding: 'Sustainable at 40 req/s (2560 output tok/s), 20.00 req/s per GPU over 2 GPUs. Latency leaves its low-load level (ttft_p95 52 ms) at about 33.3 req/s.',
      steps,
    };
    result.error_budget = {
      availability_slo: 0.999,
      period_days: 30,
      allowed_error_ratio: 0.001,
      error_ratio: 0.0166,
      requests_judged: 1872,
      burn_rate: 16.6,
      budget_minutes: 43.2,
      budget_minutes_per_hour: 0.996,
      budget_ratio_per_hour: 0.023,
      hours_to_exhaustion: 43.4,
      run_duration_s: 50,
      alerts: [
        { name: 'page: 2 % of budget in 1 h', severity: 'page', window_s: 3600, short_window_s: 300, burn_rate_threshold: 14.4, budget_consumed_ratio: 0.02, would_fire: true, run_covers_short_window: false },
        { name: 'ticket: 10 % of budget in 3 d', severity: 'ticket', window_s: 259200, short_window_s: 21600, burn_rate_threshold: 1, budget_consumed_ratio: 0.1, would_fire: true, run_covers_short_window: false },
      ],
      note: 'A 50 s run cannot show a burn over hours: the alerts assume its error ratio holds.',
    };
  }
  if (opts.spikeSoak) {
    result.spike = {
      base_level: 20,
      peak_level: 60,
      unit: 'req/s',
      spike_start_s: 30,
      spike_end_s: 45,
      pre_spike_ttft_p95_ms: 52,
      peak_ttft_p95_ms: 4100,
      time_to_recover_s: 8,
      recovered: true,
      peak_queue_depth: 180,
      failed_during_spike: 12,
      dropped_during_spike: 0,
      finding: 'TTFT p95 rose from 52 ms to 4100 ms during the spike and recovered 8 s after it; the queue peaked at 180.',
    };
    result.soak = {
      duration_h: 24,
      series: {
        ttft_p95_ms: { slope_per_hour: 2.5, mean: 60, relative_change: 1.0, r2: 0.8, drifting: true },
        itl_p95_ms: { slope_per_hour: 0.01, mean: 14, relative_change: 0.017, r2: 0.05, drifting: false },
      },
      generator_rss_growth_ratio: 0.02,
      verdict: 'drifting',
      finding: 'TTFT p95 drifts up by 2.5 ms an hour (100 % over the run).',
    };
  }
  return result;
}

/**
 * A slice of the run's summary: counts, throughputs and tokens scaled by `share`, latencies by
 * `latency`. The slice's `hdr` strings stay the run's (no report reads a slice's histogram).
 */
export function sliceSummary(summary: RunSummary, share: number, latency: number): RunSummary {
  const s = structuredClone(summary);
  const n = (x: number): number => Math.round(x * share);
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  for (const k of Object.keys(s.requests) as (keyof RunSummary['requests'])[]) s.requests[k] = n(s.requests[k]);
  s.errors = Object.fromEntries(Object.entries(s.errors).map(([k, v]) => [k, n(v)]));
  s.throughput = {
    ...s.throughput,
    request_per_s: r3(s.throughput.request_per_s * share),
    output_tokens_per_s: r3(s.throughput.output_tokens_per_s * share),
    total_tokens_per_s: r3(s.throughput.total_tokens_per_s * share),
    goodput_request_per_s: r3(s.throughput.goodput_request_per_s * share),
  };
  for (const l of Object.values(s.latency_ms)) {
    for (const k of ['p50', 'p90', 'p95', 'p99', 'p999', 'max', 'mean', 'stddev'] as const) {
      const v = l[k];
      l[k] = v === null ? null : r3(v * latency);
    }
    l.count = n(l.count);
  }
  s.tokens = { ...s.tokens, prompt: n(s.tokens.prompt), output: n(s.tokens.output), output_usage: n(s.tokens.output_usage), output_chunks: n(s.tokens.output_chunks) };
  return s;
}

/** The slices `withSlices` adds: which, and how many turns. */
export interface SliceOptions {
  /** results.classes: chat (60 %, its own TTFT p95 < 400 ms), rag (30 %, its own TTFT p95 < 1500 ms), batch (10 %, the run's SLOs) */
  classes?: boolean;
  /** results.turns: this many turn indices (0: none) */
  turns?: number;
  /** the turns' summaries carry summary.prefix (cached tokens of later turns) */
  cached?: boolean;
  /** results.models: the base model (60 %) and an adapter `sql-lora` (40 %) */
  models?: boolean;
}

const CLASSES: { name: string; weight: number; latency: number; ttftP95?: number }[] = [
  { name: 'chat', weight: 0.6, latency: 0.5, ttftP95: 400 },
  { name: 'rag', weight: 0.3, latency: 2.5, ttftP95: 1500 },
  { name: 'batch', weight: 0.1, latency: 1.2 },
];

/**
 * A copy of `result` with the slices of a run whose workload has request classes, sessions and a
 * model mix, each slice's summary derived from the run's (sliceSummary). Each class's SLO
 * verdicts are the run's judged on its own figures (its own TTFT p95 threshold where it sets one),
 * appended to results.slo with `class` set, as the engine does; a sweep's first unsustainable
 * rate names `rag` as the binding class.
 */
export function withSlices(result: RunResult, opts: SliceOptions = { classes: true, turns: 4, cached: true, models: true }): RunResult {
  const r = structuredClone(result);
  if (opts.classes) {
    r.classes = {};
    for (const c of CLASSES) {
      const summary = sliceSummary(result.summary, c.weight, c.latency);
      const slo = result.slo.map((v): SloVerdict => {
        const own = v.metric === 'ttft_ms' && c.ttftP95 !== undefined ? `p(95)<${c.ttftP95}` : v.threshold;
        const limit = Number(/<(\d+(?:\.\d+)?)$/.exec(own)?.[1] ?? NaN);
        const observed = v.metric === 'ttft_ms' ? summary.latency_ms.ttft.p95 : v.metric === 'e2e_ms' ? summary.latency_ms.e2e.p95 : v.observed;
        const passed = v.metric.endsWith('_ms') ? observed !== null && observed < limit : v.passed;
        return { ...v, name: `class ${c.name}: ${v.metric}: ${own}`, class: c.name, threshold: own, observed, passed };
      });
      r.classes[c.name] = { weight: c.weight, summary, slo } satisfies ClassResult;
      r.slo.push(...slo);
    }
    if (r.capacity?.first_unsustainable) r.capacity.first_unsustainable.binding_classes = ['rag'];
  }
  if ((opts.turns ?? 0) > 0) {
    const n = opts.turns!;
    r.turns = Array.from({ length: n }, (_, i) => {
      const turn = i + 1;
      // turn 1 sends the shortest prompt and finds nothing cached; later turns resend the conversation
      const summary = sliceSummary(result.summary, 1 / n, turn === 1 ? 1 : 0.4 + 0.05 * turn);
      summary.tokens.prompt = summary.requests.completed * 512 * turn;
      if (opts.cached) {
        const ratio = turn === 1 ? 0 : Math.round(((turn - 1) / turn) * 1e4) / 1e4;
        const side = { requests: summary.requests.completed, ttft_p50_ms: summary.latency_ms.ttft.p50, ttft_p95_ms: summary.latency_ms.ttft.p95 };
        summary.prefix = {
          requests_with_prefix: turn === 1 ? 0 : summary.requests.completed,
          requests_without_prefix: turn === 1 ? summary.requests.completed : 0,
          requests_reporting_cached_tokens: summary.requests.completed,
          cached_tokens: Math.round(summary.tokens.prompt * ratio),
          cached_token_ratio: ratio,
          warm_by: 'cached_tokens',
          warm: turn === 1 ? { requests: 0, ttft_p50_ms: null, ttft_p95_ms: null } : side,
          cold: { requests: 0, ttft_p50_ms: null, ttft_p95_ms: null },
          without_prefix: turn === 1 ? side : { requests: 0, ttft_p50_ms: null, ttft_p95_ms: null },
        };
      }
      return { turn, summary };
    });
  }
  if (opts.models) {
    r.models = {
      [result.run.target.model]: { summary: sliceSummary(result.summary, 0.6, 0.9) },
      'sql-lora': { summary: sliceSummary(result.summary, 0.4, 1.3) },
    };
  }
  return r;
}

/** Strings that break out of HTML text, attributes, script blocks, comments, markdown tables and JS lines. */
export const HOSTILE = [
  '<script>window.__xss=1;alert(1)</script>',
  '</script><script>window.__xss=2</script><!--',
  '"><img src=x onerror="window.__xss=3">',
  "'><svg onload=window.__xss=4>",
  '| pipe | `tick` *bold* _em_ [link](javascript:alert(5)) <b>x</b> &amp; @everyone #1',
  'line\u2028sep\u2029para\nnewline\r\u0000nul\u001b[31mred',
  '{{constructor.constructor("window.__xss=6")()}} ${window.__xss=7}',
];

/** A copy of `result` with hostile strings in every field a user, a server or an error message can set. */
export function withHostileStrings(result: RunResult): RunResult {
  const r = structuredClone(result);
  let i = 0;
  const h = (): string => HOSTILE[i++ % HOSTILE.length]!;
  r.status_reason = h();
  r.run.id = h();
  r.run.scenario = HOSTILE[0]!;
  r.run.description = h();
  r.run.started_at = h();
  r.run.ended_at = h();
  r.run.target = { url: HOSTILE[2]!, model: HOSTILE[0]!, endpoint: h(), api_key_env: h(), simulator: { profile: h(), speed: 1 } };
  r.run.load = { executor: h(), [h()]: h() };
  r.run.workload = { [h()]: [h(), { nested: h() }] };
  r.run.inferload_version = h();
  r.run.node_version = h();
  r.run.platform = h();
  r.run.argv = HOSTILE.slice();
  for (const s of r.slo) {
    s.name = h();
    s.threshold = h();
  }
  r.slo.push({ name: h(), metric: h(), threshold: h(), observed: null, passed: false, abort_on_fail: true });
  r.generator.valid = false;
  r.generator.warnings = HOSTILE.slice();
  r.summary.errors = { ...r.summary.errors, [HOSTILE[1]!]: 3, [HOSTILE[4]!]: 2 };
  r.error_samples = HOSTILE.map((m, k) => ({ error_class: HOSTILE[(k + 1) % HOSTILE.length]!, message: m, count: k + 1 }));
  r.server.endpoints = HOSTILE.map((u, k) => ({
    url: u,
    profiles: [h()],
    profile: h(),
    scrapes: k,
    failures: k % 2,
    interval_s: 1,
    last_error: h(),
    warnings: [h(), h()],
  }));
  r.server.alerts = [{ name: h(), severity: 'critical', condition: h(), for_s: 1, first_held_s: 2, held_s: 3, fired: true, offered_rate: 4 }];
  r.correlation = Object.fromEntries(HOSTILE.map((k, n) => [`${k}_vs_${h()}`, n / 10]));
  if (r.capacity) {
    r.capacity.finding = h();
    r.capacity.gpu_count_source = h() as never;
    r.capacity.first_unsustainable = { ...r.capacity.first_unsustainable, rate_per_s: 45, reasons: [h(), h()] };
    if (r.capacity.knee) r.capacity.knee.metric = h();
    for (const st of r.capacity.steps) st.reasons = [h()];
  }
  if (r.spike) r.spike.finding = h();
  if (r.soak) {
    r.soak.finding = h();
    r.soak.series = { [HOSTILE[0]!]: { slope_per_hour: 1, mean: 1, relative_change: 1, r2: 1, drifting: true } };
  }
  if (r.error_budget) {
    r.error_budget.note = h();
    for (const a of r.error_budget.alerts) a.name = h();
  }
  // the slices' names: request classes from the scenario, model names from the scenario or server
  if (r.classes) {
    const names = new Map(Object.keys(r.classes).map((k, n) => [k, HOSTILE_SLICE_NAMES[n % HOSTILE_SLICE_NAMES.length]!]));
    r.classes = Object.fromEntries(Object.entries(r.classes).map(([k, c]) => [names.get(k)!, c]));
    for (const c of Object.values(r.classes)) for (const v of c.slo) renameClass(v, names);
    for (const v of r.slo) renameClass(v, names);
    const first = r.capacity?.first_unsustainable;
    if (first?.binding_classes) first.binding_classes = first.binding_classes.map((k) => names.get(k) ?? k);
  }
  if (r.models) r.models = Object.fromEntries(Object.values(r.models).map((m, n) => [HOSTILE_SLICE_NAMES[(n + 3) % HOSTILE_SLICE_NAMES.length]!, m]));
  for (const w of r.windows) {
    w.errors = { ...w.errors, [HOSTILE[1]!]: 1 };
    w.server = { ...w.server, [HOSTILE[0]!]: 1, [HOSTILE[3]!]: 2, queue_depth: w.server.queue_depth ?? 1 };
    w.gpus = [
      { gpu: HOSTILE[0]!, uuid: HOSTILE[2]!, gpu_utilization_ratio: 0.5, gpu_memory_used_bytes: 1e9 },
      { gpu: HOSTILE[1]!, uuid: HOSTILE[3]!, gpu_utilization_ratio: 0.6, gpu_memory_used_bytes: 2e9 },
    ];
  }
  return r;
}

/** Class and model names that try each way out: markup, a script end, table pipes and backticks, a newline, XML quotes. */
export const HOSTILE_SLICE_NAMES = [HOSTILE[0]!, HOSTILE[4]!, HOSTILE[5]!, HOSTILE[1]!, HOSTILE[2]!];

/** A class verdict under its class's hostile name (its `class` and the `class <name>: ` of its name). */
function renameClass(v: SloVerdict, names: Map<string, string>): void {
  if (v.class === undefined) return;
  const to = names.get(v.class);
  if (to === undefined) return;
  v.name = v.name.replace(`class ${v.class}: `, `class ${to}: `);
  v.class = to;
}
