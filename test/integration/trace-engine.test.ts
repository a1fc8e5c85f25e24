// The engine driven by a trace (`executor: trace`): arrivals at the trace's own times, each
// request the record's, and arrivals beyond maxInFlight dropped and counted as in any open loop.
// A backend in the test's own process that answers after a fixed time.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClock } from '../../src/core/clock.js';
import type { RequestRecord } from '../../src/core/record.js';
import type { Backend } from '../../src/backend/types.js';
import { Engine } from '../../src/engine/engine.js';
import { Recorder } from '../../src/metrics/recorder.js';
import { prepareTrace } from '../../src/workload/trace.js';
import { approximateTokenizer } from '../../src/workload/tokenizer.js';
import { loadWorkload } from '../../src/workload/workload.js';
import { testSpec } from '../helpers/spec.js';

describe('engine: executor trace', () => {
  it('sends at the trace times, the record lengths, and drops what finds maxInFlight requests in flight', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'inferload-trace-engine-')), 'trace.jsonl');
    // three at once, then two 0.2 s later, one at 0.8 s; every request takes 0.5 s
    const t = [0, 0, 0, 0.2, 0.2, 0.8];
    writeFileSync(file, t.map((s, i) => JSON.stringify({ t: 100 + s, prompt_tokens: 10 + i, output_tokens: 1 + i })).join('\n') + '\n');
    const prepared = await prepareTrace(testSpec({ executor: 'trace', file, speedup: 1, startS: 0, maxInFlight: 2, gracefulStopS: 5 }));
    const spec = prepared.spec;
    const clock = runClock();
    const backend: Backend = {
      send(req, record, done) {
        record.sentUs = clock.now();
        const timer = setTimeout(() => {
          record.firstChunkUs = record.firstTokenUs = record.endUs = clock.now();
          record.chunkUs.push(record.endUs);
          record.chunkChars.push(1);
          record.httpStatus = 200;
          record.ok = true;
          record.promptTokensUsage = req.promptTokens;
          record.outputTokensUsage = req.maxTokens;
          done(record);
        }, 500);
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
    const records: RequestRecord[] = [];
    const recorder = new Recorder({ windowS: 1 });
    const workload = await loadWorkload(spec, approximateTokenizer('chat'), prepared);
    const engine = new Engine({ spec, backend, workload, recorder, clock, onRequestEnd: (r) => records.push(r) });
    const outcome = await engine.run();
    expect(outcome.stoppedBy).toBe('schedule');
    const byId = [...records].sort((a, b) => a.id - b.id);
    expect(byId.map((r) => Math.round(r.intendedStartUs / 1000))).toEqual([0, 0, 0, 200, 200, 800]);
    // two in flight until 0.5 s: the third arrival at 0 and both at 0.2 s are dropped
    expect(byId.map((r) => r.dropped)).toEqual([false, false, true, true, true, false]);
    expect(byId.filter((r) => !r.dropped).map((r) => [r.promptTokensPlanned, r.outputTokensAsked])).toEqual([
      [10, 1],
      [11, 2],
      [15, 6],
    ]);
    expect(recorder.counters).toMatchObject({ sent: 3, dropped: 3, completed: 3 });
  });
});
