// Capacity at an SLO (metrics.md "Capacity per GPU"), pure: judging one sweep step, choosing
// the next rate (doubling, then bisection), finding the knee, and the capacity report.
import { decodeHistogram, newHistogram, percentileMs } from '../metrics/hdr.js';
import type { WindowResult } from '../metrics/recorder.js';
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
  /** server signals averaged over the measured windows (measuredWindows), when scraped */
  server: Record<string, number>;
  /** where this step's full results are */
  results: string;
  /**
   * workload.classes: the classes whose own SLOs failed at this rate, in the order of their
   * verdicts (the scenario's); empty when none did, absent without classes. Sweeps written before
   * it lack it.
   */
  failed_classes?: string[];
  /**
   * this rate against the sweep's sustainable rate, set by capacityReport; null when no rate was
   * sustainable (capacity.headroom_note says why). Sweeps written before it lack it.
   */
  headroom?: Headroom | null;
}

/** How far a rate is from the sustainable rate (metrics.md "Capacity per GPU"). */
export interface Headroom {
  /** 1 − rate / sustainable rate: the share of the sustainable rate left unused; negative when over it */
  ratio: number;
  /** sustainable rate / rate: how many times this rate the deployment sustains */
  factor: number;
}

/** Completions must keep within this fraction of arrivals for a step to be steady. */
export const STEADY_COMPLETION_RATIO = 0.95;
/** TTFT p95 of the last third of a step's arrivals may exceed the first third's by at most this factor... */
export const STEADY_TTFT_GROWTH = 1.5;
/** ...or by at most this many ms, so that 20 ms growing to 40 ms is not called a queue. */
export const STEADY_TTFT_MIN_RISE_MS = 50;
/** The steadiness test needs at least this many windows in the step's measured arrivals. */
export const STEADY_MIN_WINDOWS = 6;

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The windows a step is judged on: from the end of the warm-up (a window that straddles it holds
 * warm-up arrivals, so it is left out) to the window of the step's last arrival. The drain
 * windows after it hold only the stragglers of a schedule that has stopped, which tell nothing
 * about whether the server kept up with the rate.
 */
export function measuredWindows(result: RunResult): WindowResult[] {
  const after = result.windows.filter((w) => w.t_s >= result.run.warmup_s);
  let last = after.length - 1;
  while (last >= 0 && after[last]!.arrivals === 0) last--;
  return after.slice(0, last + 1);
}

/**
 * TTFT p95 of the requests that arrived in these windows, however late they ended
 * (windows[].by_arrival): one histogram merged from theirs, since percentiles do not average.
 */
export function arrivalTtftP95(windows: readonly WindowResult[]): number | null {
  const merged = newHistogram();
  for (const w of windows) if (w.by_arrival) merged.add(decodeHistogram(w.by_arrival.hdr.ttft));
  return percentileMs(merged, 95);
}

/** Judges one step's results: SLOs, and whether the server was in a steady state. */
export function judgeStep(rate: number, result: RunResult, resultsPath: string): SweepStep {
  const s = result.summary;
  const reasons: string[] = [];
  const failedSlos = result.slo.filter((v) => !v.passed);
  for (const v of failedSlos) reasons.push(`${v.name} (observed ${v.observed ?? 'no data'})`);
  const measured = measuredWindows(result);
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
  if (measured.length >= STEADY_MIN_WINDOWS) {
    // keyed by arrival: a request that waited behind a growing queue counts where it arrived,
    // not in whichever later window it happened to end
    const third = Math.floor(measured.length / 3);
    const first = arrivalTtftP95(measured.slice(0, third));
    const last = arrivalTtftP95(measured.slice(-third));
    if (first !== null && last !== null && first > 0 && last > STEADY_TTFT_GROWTH * first && last - first > STEADY_TTFT_MIN_RISE_MS) {
      steady = false;
      reasons.push(`TTFT p95 of the requests arriving grew from ${first.toFixed(0)} ms (first third of the step) to ${last.toFixed(0)} ms (last third): a queue is building`);
    }
  }
  const server: Record<string, number> = {};
  const keys = new Set(measured.flatMap((w) => Object.keys(w.server)));
  for (const k of keys) {
    const vals = measured.map((w) => w.server[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (vals.length > 0) server[k] = mean(vals);
  }
  const lat = s.latency_ms;
  const failedClasses = [...new Set(failedSlos.flatMap((v) => (v.class !== undefined ? [v.class] : [])))];
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
    ...(result.classes !== undefined && { failed_classes: failedClasses }),
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
  first_unsustainable: {
    rate_per_s: number;
    reasons: string[];
    /**
     * workload.classes: the classes whose own SLOs failed there (the class that binds first);
     * absent without classes, empty when only whole-run reasons failed
     */
    binding_classes?: string[];
  } | null;
  knee: Knee | null;
  finding: string;
  /**
   * why the steps' headroom is null (no rate was sustainable), or that it is a lower bound (no
   * rate was unsustainable); null otherwise. Sweeps written before it lack it.
   */
  headroom_note?: string | null;
  /** what the figures above should be read with, e.g. GPU counts that disagree; sweeps written before it lack it */
  warnings?: string[];
  steps: SweepStep[];
}

/** The headroom of `rate` against a sustainable rate, or null when there is none. */
export function headroom(rate: number, sustainable: number | null): Headroom | null {
  if (sustainable === null || sustainable <= 0 || rate <= 0) return null;
  return { ratio: round3(1 - rate / sustainable), factor: round3(sustainable / rate) };
}

/** A headroom in words: "50 % headroom (2.00×)" (the factor in brackets), "at capacity", "over capacity by 25 %". */
export function headroomText(h: Headroom | null | undefined): string {
  if (!h) return '-';
  if (h.ratio === 0) return 'at capacity';
  const pct = Math.abs(h.ratio) * 100;
  const text = `${pct.toFixed(pct < 10 ? 1 : 0)} %`;
  return h.ratio > 0 ? `${text} headroom (${h.factor.toFixed(2)}×)` : `over capacity by ${text}`;
}

/** The GPUs a capacity is divided by, where the count came from, and any disagreement found. */
export interface GpuCount {
  count: number | null;
  source: CapacityResult['gpu_count_source'];
  warnings: string[];
}

/**
 * The GPUs behind the target (metrics.md "Capacity per GPU"): the scenario's `target.gpuCount`
 * first, since an exporter may see GPUs the model does not run on (DCGM exports every GPU of the
 * node); else the most GPUs the exporter saw in any step, since a GPU missing from one step's
 * scrape is more often a gap in the exporter than a GPU gone, and the fewer would overstate the
 * capacity per GPU; else the simulator profile's. Disagreements become warnings.
 */
export function capacityGpuCount(o: {
  /** target.gpuCount, when the scenario sets it */
  declared: number | null;
  /** per step, the GPUs its GPU exporter saw (stepExporterGpuCount) */
  steps: readonly { rate_per_s: number; exporter: number | null }[];
  /** the built-in simulator's profile count, when the target is the simulator */
  simulator: number | null;
}): GpuCount {
  const seen = o.steps.filter((s): s is { rate_per_s: number; exporter: number } => s.exporter !== null);
  const exporter = seen.length > 0 ? Math.max(...seen.map((s) => s.exporter)) : null;
  const warnings: string[] = [];
  const fewer = seen.filter((s) => s.exporter < exporter!);
  if (fewer.length > 0) {
    warnings.push(
      `the GPU exporter saw ${exporter} GPUs in some steps but fewer in others (${fewer.map((s) => `${s.exporter} at ${s.rate_per_s} req/s`).join(', ')}): ` +
        (o.declared === null ? `capacity per GPU counts ${exporter}, the most it saw` : 'a GPU came and went during the sweep'),
    );
  }
  if (o.declared !== null) {
    if (exporter !== null && exporter !== o.declared)
      warnings.push(`the scenario declares ${o.declared} GPUs (target.gpuCount) but the GPU exporter saw ${exporter}: capacity per GPU counts the scenario's ${o.declared}`);
    return { count: o.declared, source: 'scenario', warnings };
  }
  if (exporter !== null) return { count: exporter, source: 'exporter', warnings };
  if (o.simulator !== null) return { count: o.simulator, source: 'simulator', warnings };
  return { count: null, source: null, warnings };
}

/**
 * The GPUs a step's GPU exporter saw: its results' `server.gpu_count`, but only when an exporter
 * answered (its windows carry per-GPU rows), since without one that field repeats the scenario's
 * `target.gpuCount`.
 */
export function stepExporterGpuCount(result: RunResult): number | null {
  return result.windows.some((w) => (w.gpus?.length ?? 0) > 0) ? result.server.gpu_count : null;
}

/** Puts the sweep's steps together into results.capacity, with a plain-language finding. */
export function capacityReport(steps: SweepStep[], gpu: { count: number | null; source: CapacityResult['gpu_count_source']; warnings?: string[] }): CapacityResult {
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
    first_unsustainable: bad
      ? { rate_per_s: bad.rate_per_s, reasons: bad.reasons, ...(bad.failed_classes !== undefined && { binding_classes: bad.failed_classes }) }
      : null,
    knee,
    finding: finding(good, bad, knee, gpu.count),
    headroom_note: headroomNote(good, bad),
    warnings: gpu.warnings ?? [],
    steps: steps.map((s) => ({ ...s, headroom: headroom(s.rate_per_s, rate) })),
  };
}

function headroomNote(good: SweepStep | null, bad: SweepStep | null): string | null {
  if (!good) return bad ? `no rate tried was sustainable (not even ${bad.rate_per_s} req/s): with no capacity found there is no headroom to measure` : 'no step was judged: no capacity, no headroom';
  if (!bad) return `no rate tried was unsustainable: the capacity is at least ${good.rate_per_s} req/s, so each headroom is a lower bound`;
  return null;
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
  if (bad) {
    const binding = bindingText(bad);
    if (binding) {
      // the binding class first, then what else failed there (the whole run's reasons)
      const others = bad.reasons.filter((r) => !(bad.failed_classes ?? []).some((c) => r.startsWith(`class ${c}: `)));
      parts.push(`At ${bad.rate_per_s} req/s ${binding}${others.length > 0 ? `; also ${others.slice(0, 2).join('; ')}` : ''}.`);
    } else parts.push(`At ${bad.rate_per_s} req/s: ${bad.reasons.slice(0, 2).join('; ') || 'not sustainable'}.`);
  }
  return parts.join(' ');
}

/**
 * The classes whose own SLOs failed at a step, in words, each by its first failed threshold:
 * "the rag class's ttft_ms: p(95)<500 binds first (observed 612)"; null when no class's did.
 */
function bindingText(step: SweepStep): string | null {
  const classes = step.failed_classes ?? [];
  if (classes.length === 0) return null;
  const named = classes.map((c) => {
    // judgeStep writes a failed verdict as `class <name>: <metric>: <threshold> (observed …)`
    const reason = step.reasons.find((r) => r.startsWith(`class ${c}: `));
    return `the ${c} class's ${reason ? reason.slice(`class ${c}: `.length) : 'own SLOs'}`;
  });
  const shown = named.slice(0, 2).join(' and ') + (named.length > 2 ? ` (and ${named.length - 2} more class${named.length === 3 ? '' : 'es'})` : '');
  return `${shown} ${named.length === 1 ? 'binds' : 'bind'} first`;
}
