// Capacity at an SLO (metrics.md "Capacity per GPU"), pure: judging one sweep step, choosing
// the next rate (doubling, then bisection), finding the knee, and the capacity report.
import type { RunResult } from '../results/types.js';

/** One rate held during a sweep, judged. */
export interface SweepStep {
  rate_per_s: number;
  /** every SLO held */
  slo_passed: boolean;
  /** the server kept up: completions matched arrivals and latency did not keep growing */
  steady: boolean;
  sustainable: boolean;
  reasons: string[];
  request_per_s: number;
  output_tokens_per_s: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  ttft_p99_ms: number | null;
  itl_p50_ms: number | null;
  itl_p95_ms: number | null;
  itl_p99_ms: number | null;
  e2e_p95_ms: number | null;
  goodput_ratio: number | null;
  error_ratio: number | null;
  /** server signals averaged over the measured windows, when scraped */
  server: Record<string, number>;
  /** where this step's full results are */
  results: string;
}

/** Completions must keep within this fraction of arrivals for a step to be steady. */
export const STEADY_COMPLETION_RATIO = 0.95;
/** TTFT p95 in the last third of a step may grow at most this much over the first third. */
export const STEADY_TTFT_GROWTH = 1.5;

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Judges one step's results: SLOs, and whether the server was in a steady state. */
export function judgeStep(rate: number, result: RunResult, resultsPath: string): SweepStep {
  const s = result.summary;
  const reasons: string[] = [];
  const failedSlos = result.slo.filter((v) => !v.passed);
  for (const v of failedSlos) reasons.push(`${v.name} (observed ${v.observed ?? 'no data'})`);
  // only windows after the warm-up, with completions
  const measured = result.windows.filter((w) => w.t_s >= result.run.warmup_s && w.completed > 0);
  let steady = true;
  const arrivals = s.requests.sent + s.requests.dropped;
  const ended = s.requests.completed + s.requests.failed;
  if (s.requests.dropped > 0) {
    steady = false;
    reasons.push(`${s.requests.dropped} arrivals dropped at the in-flight cap`);
  }
  if (arrivals > 0 && s.requests.completed < STEADY_COMPLETION_RATIO * arrivals) {
    steady = false;
    reasons.push(`completed ${s.requests.completed} of ${arrivals} arrivals: the server fell behind`);
  }
  if (measured.length >= 6) {
    const third = Math.floor(measured.length / 3);
    const first = measured.slice(0, third).map((w) => w.ttft_p95_ms ?? 0);
    const last = measured.slice(-third).map((w) => w.ttft_p95_ms ?? 0);
    if (mean(first) > 0 && mean(last) > STEADY_TTFT_GROWTH * mean(first) && mean(last) - mean(first) > 50) {
      steady = false;
      reasons.push(`TTFT p95 grew from ${mean(first).toFixed(0)} to ${mean(last).toFixed(0)} ms during the step: a queue is building`);
    }
  }
  const server: Record<string, number> = {};
  const keys = new Set(measured.flatMap((w) => Object.keys(w.server)));
  for (const k of keys) {
    const vals = measured.map((w) => w.server[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (vals.length > 0) server[k] = mean(vals);
  }
  const lat = s.latency_ms;
  return {
    rate_per_s: rate,
    slo_passed: failedSlos.length === 0,
    steady,
    sustainable: failedSlos.length === 0 && steady && ended > 0,
    reasons,
    request_per_s: s.throughput.request_per_s,
    output_tokens_per_s: s.throughput.output_tokens_per_s,
    ttft_p50_ms: lat.ttft.p50,
    ttft_p95_ms: lat.ttft.p95,
    ttft_p99_ms: lat.ttft.p99,
    itl_p50_ms: lat.itl.p50,
    itl_p95_ms: lat.itl.p95,
    itl_p99_ms: lat.itl.p99,
    e2e_p95_ms: lat.e2e.p95,
    goodput_ratio: s.throughput.goodput_ratio,
    error_ratio: ended > 0 ? s.requests.failed / ended : null,
    server,
    results: resultsPath,
  };
}

/**
 * Chooses the rates of a sweep: double from `startRate` until a step is not sustainable, then
 * bisect between the best sustainable and the lowest unsustainable rate until they are within
 * `precision` of each other (relative), or `maxSteps` are spent.
 */
export class SweepPlanner {
  private good: number | null = null;
  private bad: number | null = null;
  private steps = 0;
  private nextRate: number | null;

  constructor(
    private readonly opts: { startRate: number; maxRate: number; precision: number; maxSteps: number },
  ) {
    this.nextRate = Math.min(opts.startRate, opts.maxRate);
  }

  /** The next rate to hold, or null when the search is over. */
  next(): number | null {
    if (this.steps >= this.opts.maxSteps) return null;
    return this.nextRate;
  }

  /** Records the verdict of the step at `rate` and plans the next one. */
  report(rate: number, sustainable: boolean): void {
    this.steps++;
    if (sustainable) this.good = Math.max(this.good ?? 0, rate);
    else this.bad = Math.min(this.bad ?? Infinity, rate);
    if (this.bad === null) {
      // still doubling
      const doubled = rate * 2;
      this.nextRate = rate >= this.opts.maxRate ? null : Math.min(doubled, this.opts.maxRate);
      return;
    }
    if (this.good === null) {
      // even the first rate failed: halve down
      const lower = this.bad / 2;
      this.nextRate = lower < this.opts.startRate / 64 ? null : lower;
      return;
    }
    this.nextRate = (this.bad - this.good) / this.good <= this.opts.precision ? null : round3((this.good + this.bad) / 2);
  }

  /** The sustainable rate found (the highest sustainable rate tried), or null. */
  get sustainable(): number | null {
    return this.good;
  }
  get unsustainable(): number | null {
    return this.bad;
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The knee: where latency departs from its low-load level (metrics.md). */
export interface Knee {
  rate_per_s: number;
  /** what left its low-load level, e.g. "ttft_p95" */
  metric: string;
  baseline_ms: number;
  /** server signals at the first step at or beyond the knee */
  server: Record<string, number>;
}

/** How far above the low-load level latency must rise to count as the knee: this factor... */
export const KNEE_FACTOR = 1.5;
/** ...and at least this many ms, so that a 20 ms TTFT growing to 30 ms is not called a knee. */
export const KNEE_MIN_RISE_MS: Record<'ttft_p95_ms' | 'itl_p95_ms', number> = { ttft_p95_ms: 50, itl_p95_ms: 10 };

/**
 * The lowest step rate whose TTFT p95 (or ITL p95) exceeds its low-load level (the lowest-rate
 * step's) by KNEE_FACTOR and by KNEE_MIN_RISE_MS, linearly interpolated from the step below.
 */
export function findKnee(steps: readonly SweepStep[]): Knee | null {
  const sorted = [...steps].filter((s) => s.ttft_p95_ms !== null).sort((a, b) => a.rate_per_s - b.rate_per_s);
  if (sorted.length < 2) return null;
  for (const metric of ['ttft_p95_ms', 'itl_p95_ms'] as const) {
    const base = sorted[0]![metric];
    if (base === null || base <= 0) continue;
    const limit = Math.max(base * KNEE_FACTOR, base + KNEE_MIN_RISE_MS[metric]);
    for (let i = 1; i < sorted.length; i++) {
      const v = sorted[i]![metric];
      if (v === null || v <= limit) continue;
      const prev = sorted[i - 1]!;
      const pv = prev[metric] ?? base;
      const frac = v > pv ? (limit - pv) / (v - pv) : 0;
      const rate = prev.rate_per_s + Math.max(0, Math.min(1, frac)) * (sorted[i]!.rate_per_s - prev.rate_per_s);
      return { rate_per_s: round3(rate), metric: metric.replace(/_ms$/, ''), baseline_ms: base, server: sorted[i]!.server };
    }
  }
  return null;
}

/** results.capacity (cli.md). */
export interface CapacityResult {
  sustainable_request_per_s: number | null;
  sustainable_output_tokens_per_s: number | null;
  gpu_count: number | null;
  gpu_count_source: 'exporter' | 'scenario' | 'simulator' | null;
  per_gpu: { request_per_s: number | null; output_tokens_per_s: number | null };
  /** the lowest rate found unsustainable, and why */
  first_unsustainable: { rate_per_s: number; reasons: string[] } | null;
  knee: Knee | null;
  finding: string;
  steps: SweepStep[];
}

/** Puts the sweep's steps together into results.capacity, with a plain-language finding. */
export function capacityReport(
  steps: SweepStep[],
  gpu: { count: number | null; source: CapacityResult['gpu_count_source'] },
): CapacityResult {
  const good = steps.filter((s) => s.sustainable).sort((a, b) => b.rate_per_s - a.rate_per_s)[0] ?? null;
  const bad = steps.filter((s) => !s.sustainable).sort((a, b) => a.rate_per_s - b.rate_per_s)[0] ?? null;
  const knee = findKnee(steps);
  const rate = good?.rate_per_s ?? null;
  const tokens = good ? round3(good.output_tokens_per_s) : null;
  const per = (x: number | null): number | null => (x === null || !gpu.count ? null : round3(x / gpu.count));
  return {
    sustainable_request_per_s: rate,
    sustainable_output_tokens_per_s: tokens,
    gpu_count: gpu.count,
    gpu_count_source: gpu.source,
    per_gpu: { request_per_s: per(rate), output_tokens_per_s: per(tokens) },
    first_unsustainable: bad ? { rate_per_s: bad.rate_per_s, reasons: bad.reasons } : null,
    knee,
    finding: finding(good, bad, knee, gpu.count),
    steps,
  };
}

function finding(good: SweepStep | null, bad: SweepStep | null, knee: Knee | null, gpus: number | null): string {
  const parts: string[] = [];
  if (!good) parts.push('No rate tried was sustainable under the SLOs.');
  else {
    parts.push(
      `Sustainable at ${good.rate_per_s} req/s (${good.output_tokens_per_s.toFixed(0)} output tok/s)` +
        (gpus ? `, ${(good.rate_per_s / gpus).toFixed(2)} req/s per GPU over ${gpus} GPU${gpus === 1 ? '' : 's'}` : '') +
        '.',
    );
  }
  if (knee) {
    const s = knee.server;
    let why = '';
    if ((s.kv_cache_usage_ratio ?? 0) > 0.9) why = `the KV cache saturates (${((s.kv_cache_usage_ratio ?? 0) * 100).toFixed(0)} %)`;
    else if ((s.queue_depth ?? 0) > 1) why = `requests start to queue (${(s.queue_depth ?? 0).toFixed(1)} waiting on average)`;
    else if ((s.preemptions_per_s ?? 0) > 0) why = `the server preempts requests (${(s.preemptions_per_s ?? 0).toFixed(2)}/s)`;
    parts.push(`Latency leaves its low-load level (${knee.metric} ${knee.baseline_ms.toFixed(0)} ms) at about ${knee.rate_per_s} req/s${why ? `, where ${why}` : ''}.`);
  }
  if (bad) parts.push(`At ${bad.rate_per_s} req/s: ${bad.reasons.slice(0, 2).join('; ') || 'not sustainable'}.`);
  return parts.join(' ');
}
