// usage.prompt_tokens_details.cached_tokens is taken as the server says, bounded only by being a
// token count: a server that reports 50 cached tokens of a 10-token prompt gives
// summary.prefix.cached_token_ratio 5 (500 % of the prompt cached) in results.json, and the
// request counts as warm (server token counts trusted blindly). Cached tokens above the prompt's
// cannot be true: the client drops them (null, like a bad completion_tokens) when the server's own
// prompt count is lower, and the summary bounds them by the prompt for records from elsewhere.
import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/core/record.js';
import { PrefixCounts } from '../../../src/metrics/prefix.js';

describe('cached tokens above the prompt', () => {
  it('never make a cached_token_ratio above 1', () => {
    const counts = new PrefixCounts();
    const r = new RequestRecord(0, 0, 10, false);
    r.cachedTokensUsage = 50;
    counts.sent(r);
    counts.completed(r, 1000);
    const s = counts.summary();
    expect(s?.cached_token_ratio ?? 0).toBeLessThanOrEqual(1);
  });
});
