// Shared prefixes and the server's prefix cache, per request (metrics.md "Prefix cache"): how many
// measured requests carried a shared prefix, how much of their prompts the server reported cached
// (usage.prompt_tokens_details.cached_tokens), and TTFT of warm requests against cold ones.
import type { RequestRecord } from '../core/record.js';
import { newHistogram, percentilesMs, recordUs, type Histogram } from './hdr.js';

/** What the recorder accumulates over the measured, completed requests. */
export class PrefixCounts {
  withPrefix = 0;
  withoutPrefix = 0;
  /** requests whose usage carried cached_tokens, and their prompt and cached tokens */
  reported = 0;
  reportedPromptTokens = 0;
  cachedTokens = 0;
  readonly warm: Histogram = newHistogram();
  readonly cold: Histogram = newHistogram();
  /** requests without a shared prefix that found nothing cached: shorter prompts, kept apart from cold */
  readonly noPrefix: Histogram = newHistogram();
  /** each group's first request sent (lowest id): the one that fills the cache for the others */
  private readonly firstOfGroup = new Map<number, number>();

  /** A request was sent (warm-up included: a warm-up request warms the cache as well). */
  sent(r: RequestRecord): void {
    const g = r.prefixGroup;
    if (g === null) return;
    const first = this.firstOfGroup.get(g);
    if (first === undefined || r.id < first) this.firstOfGroup.set(g, r.id);
  }

  /** A measured request completed with a TTFT (NaN: none). */
  completed(r: RequestRecord, ttftUs: number): void {
    if (r.prefixGroup === null) this.withoutPrefix++;
    else this.withPrefix++;
    if (r.cachedTokensUsage !== null) {
      this.reported++;
      this.reportedPromptTokens += r.promptTokens;
      // never more than the prompt (a server's count above its own prompt is dropped by the
      // client; this bounds it by the planned prompt for records from elsewhere, k6's)
      this.cachedTokens += Math.min(r.cachedTokensUsage, r.promptTokensUsage ?? r.promptTokens);
    }
    if (Number.isNaN(ttftUs)) return;
    recordUs(this.isWarm(r) ? this.warm : r.prefixGroup !== null ? this.cold : this.noPrefix, ttftUs);
  }

  /**
   * Warm: the server said it found part of the prompt cached; without that field, a request of a
   * group after the group's first (whose prefix the server has seen, if it caches at all).
   */
  private isWarm(r: RequestRecord): boolean {
    if (r.cachedTokensUsage !== null) return r.cachedTokensUsage > 0;
    return r.prefixGroup !== null && this.firstOfGroup.get(r.prefixGroup) !== r.id;
  }

  /** results.summary.prefix, or null when no request had a prefix and the server reported no cached tokens. */
  summary(): PrefixSummary | null {
    if (this.withPrefix === 0 && this.cachedTokens === 0) return null;
    const completed = this.withPrefix + this.withoutPrefix;
    const side = (h: Histogram): PrefixTtft => {
      const [p50, p95] = percentilesMs(h, [50, 95]);
      return { requests: h.totalCount, ttft_p50_ms: p50!, ttft_p95_ms: p95! };
    };
    return {
      requests_with_prefix: this.withPrefix,
      requests_without_prefix: this.withoutPrefix,
      requests_reporting_cached_tokens: this.reported,
      cached_tokens: this.cachedTokens,
      cached_token_ratio: this.reportedPromptTokens > 0 ? Math.round((this.cachedTokens / this.reportedPromptTokens) * 1e4) / 1e4 : null,
      warm_by: this.reported === 0 ? 'group_order' : this.reported === completed ? 'cached_tokens' : 'mixed',
      warm: side(this.warm),
      // a run without shared prefixes (cached tokens from elsewhere): every request not warm is cold
      cold: side(this.withPrefix === 0 ? this.noPrefix : this.cold),
      without_prefix: side(this.noPrefix),
    };
  }
}

export interface PrefixTtft {
  requests: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
}

/** results.summary.prefix */
export interface PrefixSummary {
  requests_with_prefix: number;
  requests_without_prefix: number;
  /** completed requests whose usage carried prompt_tokens_details.cached_tokens */
  requests_reporting_cached_tokens: number;
  /** their cached tokens, summed */
  cached_tokens: number;
  /** cached over prompt tokens of the requests that reported cached_tokens: the client-side hit ratio */
  cached_token_ratio: number | null;
  /**
   * how warm was told: `cached_tokens` (> 0: warm, from the server), `group_order` (no server
   * reported it: a group's requests after its first are warm), `mixed` (per request, whichever it had)
   */
  warm_by: 'cached_tokens' | 'group_order' | 'mixed';
  /** requests that found part of their prompt cached */
  warm: PrefixTtft;
  /** requests with a shared prefix that found none of it cached (all requests not warm, in a run without shared prefixes) */
  cold: PrefixTtft;
  /** requests without a shared prefix that found nothing cached: their prompts are shorter, so they are no cold baseline */
  without_prefix: PrefixTtft;
}
