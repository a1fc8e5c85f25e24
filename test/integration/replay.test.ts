// The shipped `replay` scenario end to end against the built-in simulator (a few seconds): the
// Mooncake sample sent at the trace's own times (scaled by the speedup), every record a request of
// its lengths, and results.workload saying what was replayed. Needs `npm run build` (the simulator
// runs as the compiled child).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeRun } from '../../src/cli/execute.js';
import { loadScenario, SCENARIOS_DIR } from '../../src/config/load.js';

describe('inferload run replay (built-in simulator)', () => {
  it('sends every record of the trace at its own time with its lengths', async () => {
    const spec = loadScenario('replay', [], { set: ['load.speedup=4', 'simulator.speed=4', 'load.gracefulStop=10s'] });
    const out = mkdtempSync(join(tmpdir(), 'inferload-replay-'));
    const { result, exitCode } = await executeRun(spec, { out, log: () => undefined });
    expect(exitCode).toBe(0);

    const trace = readFileSync(join(SCENARIOS_DIR, 'examples', 'mooncake-sample.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { timestamp: number; input_length: number; output_length: number });
    expect(result.summary.requests).toMatchObject({ sent: trace.length, completed: trace.length, dropped: 0 });
    expect(result.run.load).toMatchObject({ executor: 'trace', format: 'mooncake', speedup: 4 });

    const requests = readFileSync(join(out, 'requests.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; intended_start_ms: number; prompt_tokens_planned: number; prompt_tokens: number; output_tokens_usage: number })
      .sort((a, b) => a.id - b.id);
    const t0 = trace[0]!.timestamp;
    requests.forEach((r, i) => {
      // intended times are the trace's, a quarter as far apart
      expect(r.intended_start_ms).toBeCloseTo((trace[i]!.timestamp - t0) / 4, 3);
      expect(r.prompt_tokens_planned).toBe(trace[i]!.input_length);
      expect(r.prompt_tokens).toBe(trace[i]!.input_length);
      expect(r.output_tokens_usage).toBe(trace[i]!.output_length);
    });

    const w = result.workload!;
    expect(w.source).toBe('trace');
    expect(w.trace).toMatchObject({ format: 'mooncake', records: trace.length, replayed: trace.length, speedup: 4 });
    expect(w.trace!.arrival_rate.per_s.reduce((a, b) => a + b, 0) * w.trace!.arrival_rate.bucket_s).toBeCloseTo(trace.length, 6);
    expect(w.trace!.prefix_reuse_ratio).toBeGreaterThan(0.3);
    expect(w.prompt_tokens!.asked).toEqual(w.prompt_tokens!.served);
    expect(w.output_tokens!.asked.count).toBe(trace.length);
    expect(w.output_tokens!.served.max).toBe(Math.max(...trace.map((r) => r.output_length)));
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/## Workload\n\ntrace mooncake .*60 of 60 records replayed/);
  }, 60_000);
});
