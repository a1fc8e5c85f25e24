// The engine as one shard of a run: a trace's rows and a closed loop's users split between the
// shards without overlap, request ids unique over the run, and a request count shared out.
// A backend in the test's own process that answers after a fixed time.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClock } from '../../src/core/clock.js';
import type { RequestRecord } from '../../src/core/record.js';
import type { ShardSpec } from '../../src/core/shard.js';
import type { ScenarioSpec } from '../../src/core/types.js';
import type { Backend } from '../../src/backend/types.js';
import { Engine } from '../../src/engine/engine.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { prepareTrace, type PreparedTrace } from '../../src/workload/trace.js';
import { approximateTokenizer } from '../../src/workload/tokenizer.js';
import { loadWorkload } from '../../src/workload/workload.js';
import { testSpec } from '../helpers/spec.js';

function answering(clock: ReturnType<typeof runClock>, ms: number): Backend {
  return {
    send(req, record, done) {
      record.sentUs = clock.now();
      const timer = setTimeout(() => {
        record.firstChunkUs = record.firstTokenUs = record.endUs = clock.now();
        record.chunkUs.push(record.endUs);
        record.chunkChars.push(1);
        record.ok = true;
        record.outputTokensUsage = req.maxTokens;
        done(record);
      }, ms);
      return {
        abort: (errorClass, message) => {
          clearTimeout(timer);
          record.errorClass = errorClass;
          record.errorMessage = message;
          record.endUs = clock.now();
          done(record);
        },
      };
    },
    close: () => Promise.resolve(),
  };
}

async function runShard(spec: ScenarioSpec, shard: ShardSpec, prepared?: PreparedTrace) {
  const clock = runClock();
  const records: RequestRecord[] = [];
  const workload = await loadWorkload(spec, approximateTokenizer('chat'), prepared);
  const engine = new Engine({ spec, backend: answering(clock, 20), workload, recorder: new Recorder({ windowS: 1 }), clock, shard, onRequestEnd: (r) => records.push(r) });
  const outcome = await engine.run();
  return { records, outcome };
}

describe('the engine as a shard', () => {
  it("a trace's rows: each to one shard, the rows' own requests, together the whole trace", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'inferload-shard-trace-')), 'trace.jsonl');
    writeFileSync(file, Array.from({ length: 9 }, (_, i) => JSON.stringify({ t: i * 0.05, prompt_tokens: 10 + i, output_tokens: 1 + i })).join('\n') + '\n');
    const prepared = await prepareTrace(testSpec({ executor: 'trace', file, speedup: 1, startS: 0, maxInFlight: 100, gracefulStopS: 5 }));
    const parts = await Promise.all([0, 1, 2].map((index) => runShard(prepared.spec, { index, count: 3 }, prepared)));
    const all = parts.flatMap((p) => p.records).sort((a, b) => a.id - b.id);
    expect(all.map((r) => r.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(all.map((r) => r.outputTokensAsked)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(all.map((r) => Math.round(r.intendedStartUs / 1000))).toEqual([0, 50, 100, 150, 200, 250, 300, 350, 400]);
    expect(parts.map((p) => p.records.map((r) => r.id))).toEqual([
      [0, 3, 6],
      [1, 4, 7],
      [2, 5, 8],
    ]);
  });

  it("a closed loop's users: every N-th user per shard, ids unique over the run, a request count shared out", async () => {
    const spec = testSpec({ executor: 'constant-vus', vus: 5, durationS: 5, thinkTimeS: 0, gracefulStopS: 5 }, { requests: 20 });
    const parts = await Promise.all([0, 1].map((index) => runShard(spec, { index, count: 2 })));
    // 20 requests: 10 each; shard 0 runs users 0, 2, 4 and shard 1 users 1, 3
    expect(parts.map((p) => p.records.length)).toEqual([10, 10]);
    for (const p of parts) expect(p.outcome.stoppedBy).toBe('requests');
    const ids = parts.flatMap((p) => p.records.map((r) => r.id));
    expect(new Set(ids).size).toBe(20);
    for (const [i, p] of parts.entries()) for (const r of p.records) expect(r.id % 2).toBe(i);
  });
});
