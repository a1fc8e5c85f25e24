// The prompt tokens in words, for every report: which tokenizer counted and built them, and how the
// planned counts compared with the server's usage.prompt_tokens (metrics.md "Prompt tokens:
// planned vs server"). Plain text: each renderer escapes it as its format needs.
import type { RunResult } from '../results/types.js';

const pct = (x: number | null): string => (x === null ? '-' : `${Number((x * 100).toPrecision(3))} %`);

/** e.g. `llama3 (family; chat template, 10 tokens)`; `approximate (no tokenizer)` for older results too. */
export function tokenizerText(result: RunResult): string {
  const t = result.workload?.tokenizer;
  if (!t) return 'approximate (no tokenizer)';
  if (t.kind === 'approximate') return 'approximate (no tokenizer: about one token per short word)';
  const n = t.overhead_tokens;
  const template =
    t.chat_template === null
      ? `${n} special token${n === 1 ? '' : 's'} added`
      : t.chat_template
        ? `chat template, ${n} token${n === 1 ? '' : 's'}`
        : 'no chat template: content only';
  return `${t.name} (${t.kind}; ${template}${t.synthesis === 'adjusted' ? '; prompts adjusted one by one' : ''})`;
}

/**
 * e.g. `planned = server for all 25 requests`, or `planned ≠ server for 3 of 25 requests (relative
 * error p50 0 %, p99 2.1 %; mean −1.2 tokens)`; null when the results carry no comparison.
 */
export function plannedVsServerText(result: RunResult): string | null {
  const p = result.summary.tokens.prompt_planned_vs_server;
  if (!p) return null;
  if (p.requests_compared === 0) return 'not compared: no response carried usage.prompt_tokens';
  if (p.mismatches === 0) return `planned = server for all ${p.requests_compared} requests`;
  const mean = p.mean_difference_tokens === null ? '' : `; mean ${p.mean_difference_tokens > 0 ? '+' : ''}${p.mean_difference_tokens} tokens`;
  return (
    `planned ≠ server for ${p.mismatches} of ${p.requests_compared} requests ` +
    `(relative error p50 ${pct(p.relative_error_p50)}, p99 ${pct(p.relative_error_p99)}, max ${pct(p.relative_error_max)}${mean})`
  );
}

/** The one line of every report: the tokenizer, then the comparison when there is one. */
export function promptTokensText(result: RunResult): string {
  const vs = plannedVsServerText(result);
  const note = result.workload?.tokenizer.note;
  return `${tokenizerText(result)}${vs ? `; ${vs}` : ''}${note && result.workload?.tokenizer.kind !== 'approximate' ? ` (${note})` : ''}`;
}

/**
 * Shared prefixes and the prefix cache in one line (metrics.md "Prefix cache"), e.g. `24 of 25
 * requests with a shared prefix; server prefix-cache hit ratio 88.5 %; cached_tokens 73.8 % of
 * prompt tokens; TTFT warm p50 18.2 / p95 36.0 ms (20) vs cold p50 94.7 / p95 298 ms (5)`; null
 * when the run had no prefix and no cache figures.
 */
export function prefixCacheText(result: RunResult): string | null {
  const p = result.summary.prefix;
  const server = result.server.prefix_cache;
  if (!p && !server) return null;
  const parts: string[] = [];
  if (p) parts.push(`${p.requests_with_prefix} of ${p.requests_with_prefix + p.requests_without_prefix} requests with a shared prefix`);
  if (server) parts.push(`server prefix-cache hit ratio ${pct(server.hit_ratio)}`);
  if (p && p.cached_token_ratio !== null) parts.push(`cached_tokens ${pct(p.cached_token_ratio)} of prompt tokens`);
  if (p) {
    const ms = (x: number | null): string => (x === null ? '-' : String(Number(x.toPrecision(3))));
    const side = (name: string, t: typeof p.warm): string => `${name} p50 ${ms(t.ttft_p50_ms)} / p95 ${ms(t.ttft_p95_ms)} ms (${t.requests})`;
    const by = p.warm_by === 'group_order' ? ', warm by group order' : '';
    const none = p.requests_with_prefix > 0 && p.without_prefix.requests > 0 ? `; ${side('without a prefix', p.without_prefix)}` : '';
    parts.push(`TTFT ${side('warm', p.warm)} vs ${side('cold', p.cold)}${by}${none}`);
  }
  return parts.join('; ');
}
