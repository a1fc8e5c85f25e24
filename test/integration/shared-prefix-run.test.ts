// A shared-prefix run against the simulator the run spawns (issue 15's check): the prefix cache's
// hits show in the simulator's own counters as the run scraped them, warm-prefix TTFT is below cold
// TTFT, and the planned prompt tokens still equal the server's.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeRun } from '../../src/cli/execute.js';
import type { LoadSpec } from '../../src/core/types.js';
import { testSpec } from '../helpers/spec.js';

const load: LoadSpec = { executor: 'constant-arrival-rate', rate: 20, durationS: 2, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 100, gracefulStopS: 5 };
const REQUESTS = 40;

describe('a shared-prefix run against the simulator', () => {
  it('llama3, 4 groups of 1024 tokens on 90 % of requests: hits in the server counters, warm TTFT < cold, planned = server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-prefix-run-'));
    const s = testSpec(load, { requests: REQUESTS });
    s.simulator.speed = 5;
    s.workload.promptTokens = { dist: 'uniform', min: 64, max: 256 };
    s.workload.tokenizer = 'llama3';
    s.workload.sharedPrefix = { groups: 4, prefixTokens: 1024, share: 0.9 };
    const { result } = await executeRun(s, { out: dir, log: () => undefined, checkpointS: 60 });
    expect(result.status).toBe('complete');
    expect(result.summary.tokens.prompt_planned_vs_server).toMatchObject({ requests_compared: REQUESTS, mismatches: 0 });

    const p = result.summary.prefix!;
    expect(p.requests_with_prefix + p.requests_without_prefix).toBe(REQUESTS);
    expect(p.requests_with_prefix).toBeGreaterThan(REQUESTS / 2);
    expect(p.warm_by).toBe('cached_tokens');
    expect(p.warm.requests).toBeGreaterThan(0);
    expect(p.cold.requests).toBeGreaterThan(0);
    expect(p.warm.ttft_p50_ms!).toBeLessThan(p.cold.ttft_p50_ms!);
    // no request without a prefix hits: every prefixed one is warm or cold, the rest apart
    expect(p.warm.requests + p.cold.requests).toBe(p.requests_with_prefix);
    expect(p.without_prefix.requests).toBe(p.requests_without_prefix);

    // the simulator's own counters, as scraped: over the run and per window
    const server = result.server.prefix_cache!;
    expect(server.hits_tokens).toBeGreaterThan(0);
    expect(server.hit_ratio!).toBeGreaterThan(0.3);
    expect(result.windows.some((w) => (w.server?.prefix_cache_hit_ratio ?? 0) > 0)).toBe(true);
    // every lookup was a measured request: the client's cached_tokens are the server's hits, less
    // any a scrape at the edges of the run missed
    expect(p.cached_tokens).toBeGreaterThanOrEqual(server.hits_tokens);

    const lines = readFileSync(join(dir, 'requests.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { cached_tokens?: number; prefix_group?: number });
    expect(lines.every((l) => typeof l.cached_tokens === 'number')).toBe(true);
    expect(lines.filter((l) => l.prefix_group !== undefined)).toHaveLength(p.requests_with_prefix);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/Prefix cache: \d+ of 40 requests with a shared prefix; server prefix-cache hit ratio/);
  });
});
