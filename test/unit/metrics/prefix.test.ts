// summary.prefix: warm by cached_tokens when the server reports it, by group order when it does not.
import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/core/record.js';
import { PrefixCounts } from '../../../src/metrics/prefix.js';

function rec(id: number, group: number | null, cached: number | null): RequestRecord {
  const r = new RequestRecord(id, 0, 100, false);
  r.prefixGroup = group;
  r.cachedTokensUsage = cached;
  return r;
}

describe('PrefixCounts', () => {
  it('warm by cached_tokens > 0; cold: prefixed requests that found nothing; requests without a prefix apart', () => {
    const c = new PrefixCounts();
    const rs = [rec(0, 0, 0), rec(1, 0, 64), rec(2, 1, 0), rec(3, null, 0)];
    for (const r of rs) c.sent(r);
    rs.forEach((r, i) => c.completed(r, [100_000, 10_000, 90_000, 50_000][i]!));
    const s = c.summary()!;
    expect(s).toMatchObject({ requests_with_prefix: 3, requests_without_prefix: 1, requests_reporting_cached_tokens: 4, cached_tokens: 64, cached_token_ratio: 0.16, warm_by: 'cached_tokens' });
    expect(s.warm).toEqual({ requests: 1, ttft_p50_ms: 10, ttft_p95_ms: 10 });
    expect(s.cold.requests).toBe(2);
    expect(s.without_prefix).toEqual({ requests: 1, ttft_p50_ms: 50, ttft_p95_ms: 50 });
  });

  it('without cached_tokens: a group after its first request sent (the warm-up counts) is warm', () => {
    const c = new PrefixCounts();
    const rs = [rec(0, 0, null), rec(1, 1, null), rec(2, 0, null), rec(3, 1, null), rec(4, 0, null)];
    for (const r of rs) c.sent(r);
    // ended out of order: the first sent stays the group's first
    for (const r of [rs[2]!, rs[0]!, rs[4]!, rs[3]!, rs[1]!]) c.completed(r, 20_000 + r.id);
    const s = c.summary()!;
    expect(s.warm_by).toBe('group_order');
    expect(s.cached_token_ratio).toBeNull();
    expect(s.warm.requests).toBe(3);
    expect(s.cold.requests).toBe(2);
  });

  it('nothing to say without prefixes or cached tokens', () => {
    const c = new PrefixCounts();
    c.completed(rec(0, null, null), 1000);
    expect(c.summary()).toBeNull();
  });
});
