// Runs whose prompts are built under a real tokenizer reconcile exactly with the server: against the
// simulator the run spawns with `tokenizer: llama3` (it counts with the same tokenizer), and with
// `tokenizer: server` calibrated against a simulator's POST /tokenize. Every request's planned
// prompt tokens equal the server's usage.prompt_tokens.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeRun } from '../../src/cli/execute.js';
import type { LoadSpec } from '../../src/core/types.js';
import { startSimServer } from '../../src/sim/server.js';
import { testSpec } from '../helpers/spec.js';

const load: LoadSpec = { executor: 'constant-arrival-rate', rate: 40, durationS: 1, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 100, gracefulStopS: 5 };
const REQUESTS = 30;

function requestLines(dir: string): { prompt_tokens: number; prompt_tokens_planned: number; ok: boolean }[] {
  return readFileSync(join(dir, 'requests.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { prompt_tokens: number; prompt_tokens_planned: number; ok: boolean });
}

function spec(tokenizer: string, url?: string) {
  const s = testSpec(load, { requests: REQUESTS });
  s.simulator.speed = 20;
  s.workload.promptTokens = { dist: 'lognormal', mean: 300, stddev: 150, min: 1, max: 2000 };
  s.workload.tokenizer = tokenizer;
  if (url !== undefined) s.target.url = url;
  return s;
}

describe('runs with a real tokenizer', () => {
  it('tokenizer: llama3 against the simulator the run spawns: planned = server for every request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-tok-run-'));
    const { result } = await executeRun(spec('llama3'), { out: dir, log: () => undefined, checkpointS: 60 });
    expect(result.status).toBe('complete');
    expect(result.workload?.tokenizer).toMatchObject({ kind: 'family', name: 'llama3', chat_template: true, overhead_tokens: 10, synthesis: 'words' });
    const lines = requestLines(dir);
    expect(lines).toHaveLength(REQUESTS);
    for (const l of lines) {
      expect(l.ok).toBe(true);
      expect(l.prompt_tokens_planned).toBe(l.prompt_tokens);
    }
    // lengths below the template's ten tokens are raised to eleven; the rest as sampled
    expect(Math.min(...lines.map((l) => l.prompt_tokens_planned))).toBeGreaterThanOrEqual(11);
    expect(result.summary.tokens.prompt_planned_vs_server).toMatchObject({ requests_compared: REQUESTS, mismatches: 0, relative_error_p99: 0 });
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain(`llama3 (family; chat template, 10 tokens); planned = server for all ${REQUESTS} requests`);
  });

  it('tokenizer: server, calibrated against the POST /tokenize of a simulator counting with Llama 3', async () => {
    const sim = await startSimServer({ tokenizer: 'llama3', speed: 20 });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'inferload-tok-run-'));
      const { result } = await executeRun(spec('server', sim.url), { out: dir, log: () => undefined, checkpointS: 60 });
      expect(result.status).toBe('complete');
      // the template's ten tokens measured on the server itself
      expect(result.workload?.tokenizer).toMatchObject({ kind: 'server', name: 'POST /tokenize (vLLM, SGLang)', overhead_tokens: 10 });
      for (const l of requestLines(dir)) expect(l.prompt_tokens_planned).toBe(l.prompt_tokens);
      expect(result.summary.tokens.prompt_planned_vs_server).toMatchObject({ requests_compared: REQUESTS, mismatches: 0 });
    } finally {
      await sim.close();
    }
  });

  it('without a tokenizer against a server that counts with Llama 3: the mismatch is measured, not assumed away', async () => {
    const sim = await startSimServer({ tokenizer: 'llama3', speed: 20 });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'inferload-tok-run-'));
      const s = spec('llama3', sim.url);
      delete s.workload.tokenizer;
      const { result } = await executeRun(s, { out: dir, log: () => undefined, checkpointS: 60 });
      expect(result.workload?.tokenizer.kind).toBe('approximate');
      // the approximation's words are one Llama 3 token each: only the template's ten are missing
      const vs = result.summary.tokens.prompt_planned_vs_server!;
      expect(vs).toMatchObject({ requests_compared: REQUESTS, mismatches: REQUESTS, mean_difference_tokens: -10 });
      expect(vs.relative_error_p50!).toBeGreaterThan(0);
    } finally {
      await sim.close();
    }
  });
});
