// The workload in words and rows, for every report: where the prompts came from (the length
// distributions, a dataset, a trace), the tokens asked for and served, and a trace's arrival rate
// over time. Plain text: each renderer escapes it as its format needs.
import type { RunResult } from '../results/types.js';
import type { TokenDistribution } from '../workload/tally.js';

const n = (x: number): string => x.toLocaleString('en-US');

/**
 * e.g. `dataset sharegpt (/data/ShareGPT.json, 640.0 MB): 1000 sampled of 94145 entries; ...`,
 * `trace mooncake (trace.jsonl): 60 records replayed at speedup 1, ...`, or `synthetic: ...`;
 * null for results written before results.workload said.
 */
export function workloadSourceText(result: RunResult): string | null {
  const w = result.workload;
  if (w?.source === undefined) return null;
  if (w.source === 'dataset' && w.dataset) {
    const d = w.dataset;
    const f = d.filtered;
    const out = f.prompt_too_short + f.prompt_too_long + f.output_too_short + f.output_too_long + f.no_output_length;
    const filters = [
      d.filters.min_prompt_tokens !== null || d.filters.max_prompt_tokens !== null
        ? `prompt ${d.filters.min_prompt_tokens ?? 1}–${d.filters.max_prompt_tokens ?? '∞'} tokens`
        : null,
      d.filters.min_output_tokens !== null || d.filters.max_output_tokens !== null
        ? `output ${d.filters.min_output_tokens ?? 1}–${d.filters.max_output_tokens ?? '∞'} tokens`
        : null,
    ].filter((x) => x !== null);
    const read =
      d.format === 'text'
        ? `${n(d.sampled)} prompts cut from ${n(d.entries)} lines`
        : `${n(d.sampled)} sampled of ${n(d.entries)} entries (${n(d.counted)} counted${filters.length > 0 ? `, ${n(out)} left out by the filters: ${filters.join(', ')}` : ''}${d.unusable > 0 ? `, ${n(d.unusable)} without a prompt` : ''})`;
    const output = d.format === 'text' ? 'output lengths from workload.outputTokens' : d.output_tokens === 'dataset' ? "output lengths from the dataset's replies" : 'output lengths from workload.outputTokens';
    return `dataset ${d.format} (${d.path}, ${(d.bytes / 1e6).toFixed(1)} MB): ${read}; ${output}; read in ${d.load_s} s`;
  }
  if (w.source === 'trace' && w.trace) {
    const t = w.trace;
    const window = `trace time ${t.start_s} s to ${t.duration_s === null ? 'its end' : `${t.start_s + t.duration_s} s`}`;
    const rates =
      t.mean_rate_per_s === null ? '' : `, ${t.mean_rate_per_s} req/s on average, ${t.peak_rate_per_s} req/s at the busiest ${t.arrival_rate.bucket_s} s`;
    const reuse = t.prefix_reuse_ratio === null ? '' : `; ${(t.prefix_reuse_ratio * 100).toFixed(1)} % of the prompt tokens in prefixes shared with an earlier request`;
    const raised =
      t.raised.prompt + t.raised.output > 0
        ? `; raised to what can be sent: ${t.raised.prompt} prompts (shorter than the tokenizer makes), ${t.raised.output} outputs of 0 tokens`
        : '';
    return `trace ${t.format} (${t.file}): ${n(t.replayed)} of ${n(t.records)} records replayed (${window}) at speedup ${t.speedup} over ${t.span_s} s${rates}${reuse}${raised}`;
  }
  return 'synthetic: prompt and output lengths drawn from workload.promptTokens and workload.outputTokens';
}

/** One line for the console: the dataset's or trace's few figures; null for synthetic prompts or older results. */
export function workloadConsoleText(result: RunResult): string | null {
  const w = result.workload;
  if (w?.source === 'dataset' && w.dataset) {
    const d = w.dataset;
    const what = d.format === 'text' ? `${n(d.sampled)} prompts cut from ${n(d.entries)} lines` : `${n(d.sampled)} sampled of ${n(d.entries)} entries`;
    return `dataset ${d.format}: ${what}, output lengths from the ${d.output_tokens === 'dataset' && d.format !== 'text' ? 'dataset' : 'scenario'}`;
  }
  if (w?.source === 'trace' && w.trace) {
    const t = w.trace;
    const peak = t.peak_rate_per_s === null ? '' : `, peak ${t.peak_rate_per_s} req/s`;
    const reuse = t.prefix_reuse_ratio === null ? '' : `, ${(t.prefix_reuse_ratio * 100).toFixed(1)} % of prompt tokens in shared prefixes`;
    return `trace ${t.format}: ${n(t.replayed)} of ${n(t.records)} records at speedup ${t.speedup} over ${t.span_s} s${peak}${reuse}`;
  }
  return null;
}

/** The four rows of the asked/served table: label and distribution, or [] for older results. */
export function tokenRows(result: RunResult): { label: string; dist: TokenDistribution }[] {
  const w = result.workload;
  if (!w?.prompt_tokens || !w.output_tokens) return [];
  return [
    { label: 'prompt, asked (planned)', dist: w.prompt_tokens.asked },
    { label: 'prompt, served (usage)', dist: w.prompt_tokens.served },
    { label: 'output, asked (max_tokens)', dist: w.output_tokens.asked },
    { label: 'output, served (usage)', dist: w.output_tokens.served },
  ];
}

/** The columns of a token distribution, in the order of the reports' tables. */
export const TOKEN_COLUMNS = ['p50', 'p90', 'p99', 'min', 'max', 'mean', 'count'] as const;

export function tokenCells(d: TokenDistribution): string[] {
  return TOKEN_COLUMNS.map((k) => (d[k] === null ? '-' : n(d[k])));
}

const BARS = '▁▂▃▄▅▆▇█';

/** A trace's arrival rate as one line of bars (at most `width` of them), or null when there is no trace. */
export function traceRateSparkline(result: RunResult, width = 60): { bars: string; bucketS: number; peak: number } | null {
  const rate = result.workload?.trace?.arrival_rate;
  if (!rate || rate.per_s.length === 0) return null;
  const per = Math.ceil(rate.per_s.length / width);
  const values: number[] = [];
  for (let i = 0; i < rate.per_s.length; i += per) {
    const part = rate.per_s.slice(i, i + per);
    values.push(part.reduce((a, b) => a + b, 0) / part.length);
  }
  let peak = 0;
  for (const v of values) peak = Math.max(peak, v);
  const bars = values.map((v) => (peak > 0 ? BARS[Math.min(BARS.length - 1, Math.floor((v / peak) * BARS.length))]! : BARS[0]!)).join('');
  return { bars, bucketS: rate.bucket_s * per, peak: Math.round(peak * 100) / 100 };
}
