// The workload in the reports: where the prompts came from (a dataset, a trace), the tokens asked
// and served, and a trace's arrival rate (a markdown line of bars, an HTML chart against the
// requests sent); nothing for results written before results.workload said.
import { describe, expect, it } from 'vitest';
import { resultsProblems } from '../../../src/results/read.js';
import type { RunResult } from '../../../src/results/types.js';
import { traceArrivalChart } from '../../../src/report/charts.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import { traceRateSparkline, workloadConsoleText, workloadSourceText } from '../../../src/report/workload.js';
import type { TokenDistribution } from '../../../src/workload/tally.js';
import { syntheticResult } from './fixtures.js';

const dist = (p50: number, count = 100): TokenDistribution => ({ count, mean: p50 + 0.5, min: 1, p50, p90: p50 * 2, p99: p50 * 3, max: p50 * 4 });

const base = syntheticResult({ server: false });
const tokenizer = { kind: 'approximate' as const, name: 'approximate', chat_template: false, overhead_tokens: 0, synthesis: 'words' as const, note: null };

function withTrace(): RunResult {
  return {
    ...base,
    workload: {
      tokenizer,
      source: 'trace',
      dataset: null,
      trace: {
        format: 'mooncake',
        file: '/data/trace.jsonl',
        bytes: 6000,
        records: 60,
        replayed: 50,
        speedup: 2,
        start_s: 10,
        duration_s: 30,
        span_s: 14.9,
        mean_rate_per_s: 3.356,
        peak_rate_per_s: 8,
        arrival_rate: { bucket_s: 5, per_s: [2, 8, 0] },
        raised: { prompt: 1, output: 2 },
        prefix_reuse_ratio: 0.4,
        scan_s: 0.01,
      },
      prompt_tokens: { asked: dist(1000), served: dist(1000, 98) },
      output_tokens: { asked: dist(100), served: dist(90, 98) },
    },
  };
}

describe('the workload in the reports', () => {
  it('a trace: the window, the pace, the rates, the shared prefixes and what was raised', () => {
    const r = withTrace();
    expect(workloadSourceText(r)).toBe(
      'trace mooncake (/data/trace.jsonl): 50 of 60 records replayed (trace time 10 s to 40 s) at speedup 2 over 14.9 s, 3.356 req/s on average, 8 req/s at the busiest 5 s; ' +
        '40.0 % of the prompt tokens in prefixes shared with an earlier request; raised to what can be sent: 1 prompts (shorter than the tokenizer makes), 2 outputs of 0 tokens',
    );
    expect(workloadConsoleText(r)).toBe('trace mooncake: 50 of 60 records at speedup 2 over 14.9 s, peak 8 req/s, 40.0 % of prompt tokens in shared prefixes');
    expect(traceRateSparkline(r)).toEqual({ bars: '▃█▁', bucketS: 5, peak: 8 });
    const md = renderMarkdown(r);
    expect(md).toContain('## Workload');
    expect(md).toContain('| prompt, served (usage) | 1,000 | 2,000 | 3,000 | 1 | 4,000 | 1,000.5 | 98 |');
    expect(md).toContain('Trace arrivals over the run (each bar 5 s, highest 8.00 req/s): `▃█▁`');
    const chart = traceArrivalChart(r)!;
    expect(chart.title).toBe('Trace: arrival rate over time (5 s buckets)');
    expect(renderHtml(r)).toContain('<h2>Workload: what was asked and served</h2>');
  });

  it('a dataset: what was read, filtered and sampled', () => {
    const r: RunResult = {
      ...base,
      workload: {
        tokenizer,
        source: 'dataset',
        dataset: {
          format: 'sharegpt',
          path: '/data/ShareGPT.json',
          bytes: 642_000_000,
          entries: 94_145,
          unusable: 3,
          counted: 5_100,
          filtered: { prompt_too_short: 40, prompt_too_long: 10, output_too_short: 5, output_too_long: 0, no_output_length: 0 },
          filters: { min_prompt_tokens: 4, max_prompt_tokens: 4096, min_output_tokens: 4, max_output_tokens: null },
          sample_size: 1000,
          sampled: 1000,
          output_tokens: 'dataset',
          load_s: 21.5,
        },
        trace: null,
        prompt_tokens: { asked: dist(300), served: dist(300) },
        output_tokens: { asked: dist(200), served: dist(190) },
      },
    };
    expect(workloadSourceText(r)).toBe(
      "dataset sharegpt (/data/ShareGPT.json, 642.0 MB): 1,000 sampled of 94,145 entries (5,100 counted, 55 left out by the filters: prompt 4–4096 tokens, output 4–∞ tokens, 3 without a prompt); output lengths from the dataset's replies; read in 21.5 s",
    );
    expect(workloadConsoleText(r)).toBe('dataset sharegpt: 1,000 sampled of 94,145 entries, output lengths from the dataset');
    expect(traceRateSparkline(r)).toBeNull();
    expect(traceArrivalChart(r)).toBeNull();
  });

  it('a saved file whose workload section is broken is refused when read (104), a whole one read', () => {
    const good = JSON.parse(JSON.stringify(withTrace())) as Record<string, unknown>;
    expect(resultsProblems(good, { decode: 'summary' })).toEqual([]);
    const broken = JSON.parse(JSON.stringify(withTrace())) as { workload: { trace: { arrival_rate?: unknown; replayed: unknown } } };
    delete broken.workload.trace.arrival_rate;
    broken.workload.trace.replayed = -1;
    expect(resultsProblems(broken, { decode: 'summary' }).map((p) => p.path).sort()).toEqual(['workload.trace.arrival_rate', 'workload.trace.replayed']);
  });

  it('results written before the workload section: nothing is said', () => {
    const { workload: _none, ...old } = base;
    expect(workloadSourceText(old)).toBeNull();
    expect(renderMarkdown(old)).not.toContain('## Workload');
  });
});
