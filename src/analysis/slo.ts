// SLO verdicts: each threshold of the scenario (k6 syntax) judged against a run's summary.
import { compare, parseThreshold, type ParsedThreshold } from '../core/threshold.js';
import type { ScenarioSpec } from '../core/types.js';
import type { RunSummary, SloVerdict } from '../results/types.js';
import type { LatencyMetric } from '../metrics/recorder.js';
import { decodeHistogram } from '../metrics/hdr.js';

const LATENCY: Record<string, LatencyMetric> = {
  ttft_ms: 'ttft',
  ttft_sent_ms: 'ttft_sent',
  itl_ms: 'itl',
  itl_per_token_ms: 'itl_per_token',
  tpot_ms: 'tpot',
  e2e_ms: 'e2e',
  schedule_lag_ms: 'schedule_lag',
};

/** The observed value a threshold is judged on, or null when the run has no data for it. */
export function observe(summary: RunSummary, metric: string, t: ParsedThreshold): number | null {
  const lat = LATENCY[metric];
  if (lat) {
    const s = summary.latency_ms[lat];
    if (s.count === 0) return null;
    switch (t.aggregation.kind) {
      case 'p': {
        const p = t.aggregation.percentile;
        const named: Record<number, number | null> = { 50: s.p50, 90: s.p90, 95: s.p95, 99: s.p99, 99.9: s.p999, 100: s.max };
        if (p in named) return named[p]!;
        const h = decodeHistogram(s.hdr);
        return Math.round(h.getValueAtPercentile(p)) / 1000;
      }
      case 'med':
        return s.p50;
      case 'avg':
        return s.mean;
      case 'max':
        return s.max;
      case 'min': {
        const h = decodeHistogram(s.hdr);
        return h.minNonZeroValue / 1000;
      }
      case 'count':
        return s.count;
      case 'rate':
        return null;
      default: {
        const never: never = t.aggregation;
        throw new Error(`unknown aggregation ${JSON.stringify(never)}`);
      }
    }
  }
  const r = summary.requests;
  const ended = r.completed + r.failed;
  switch (metric) {
    case 'error_ratio':
      return ended === 0 ? null : r.failed / ended;
    case 'goodput_ratio':
      return summary.throughput.goodput_ratio;
    case 'request_throughput':
      return summary.throughput.request_per_s;
    case 'output_token_throughput':
      return summary.throughput.output_tokens_per_s;
    default:
      return null;
  }
}

/** Every SLO of the scenario judged on the summary. A threshold with no data fails. */
export function evaluateSlos(slo: ScenarioSpec['slo'], summary: RunSummary): SloVerdict[] {
  const out: SloVerdict[] = [];
  for (const [metric, thresholds] of Object.entries(slo)) {
    for (const t of thresholds) {
      const parsed = parseThreshold(t.threshold);
      const observed = parsed ? observe(summary, metric, parsed) : null;
      const passed = parsed !== null && observed !== null && compare(observed, parsed.op, parsed.value);
      out.push({
        name: `${metric}: ${t.threshold}`,
        metric,
        threshold: t.threshold,
        observed: observed === null ? null : Math.round(observed * 1e6) / 1e6,
        passed,
        abort_on_fail: t.abortOnFail,
      });
    }
  }
  return out;
}
