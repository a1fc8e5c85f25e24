// Traces: each format read, the schedule (times follow the trace, the speedup, the start/duration
// window, a request count), Mooncake's shared prefixes, and every kind of bad file (exit 104 with
// the file and line).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, InvalidInputError } from '../../../src/core/errors.js';
import { approxTokenCount } from '../../../src/core/tokens.js';
import type { Endpoint, LoadSpec, ScenarioSpec } from '../../../src/core/types.js';
import type { GenRequest } from '../../../src/backend/types.js';
import { loadDurationS } from '../../../src/schedule/arrivals.js';
import { parseDatetime, prepareTrace, TraceReplay, type PreparedTrace } from '../../../src/workload/trace.js';
import { approximateTokenizer, loadTokenizer } from '../../../src/workload/tokenizer.js';
import { loadWorkload } from '../../../src/workload/workload.js';
import { testSpec } from '../../helpers/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'inferload-trace-'));
let files = 0;
function file(lines: string[], ext = 'jsonl'): string {
  const path = join(dir, `t${files++}.${ext}`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

function traceSpec(path: string, over: Partial<Extract<LoadSpec, { executor: 'trace' }>> = {}, spec: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return testSpec({ executor: 'trace', file: path, speedup: 1, startS: 0, maxInFlight: 100, gracefulStopS: 1, ...over }, spec);
}

/** Every arrival of the replay: its intended time (µs) and its request. */
async function replay(spec: ScenarioSpec, endpoint: Endpoint = 'chat'): Promise<{ prepared: PreparedTrace; arrivals: { us: number; req: GenRequest }[] }> {
  const prepared = await prepareTrace(spec);
  const r = new TraceReplay(prepared, approximateTokenizer(endpoint));
  const arrivals: { us: number; req: GenRequest }[] = [];
  for (let id = 0; ; id++) {
    const us = await r.next();
    if (us === null) break;
    arrivals.push({ us, req: r.request(id) });
  }
  return { prepared, arrivals };
}

async function problems(spec: ScenarioSpec): Promise<{ path: string; message: string }[]> {
  try {
    await prepareTrace(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    expect((e as InvalidInputError).exitCode).toBe(ExitCode.invalidInput);
    return (e as InvalidInputError).problems;
  }
  throw new Error('expected the trace to be refused');
}

const text = (r: GenRequest): string => r.messages?.[0]?.content ?? r.prompt!;

const AZURE = [
  'TIMESTAMP,ContextTokens,GeneratedTokens',
  '2023-11-16 18:15:46.6805900,374,44',
  '2023-11-16 18:15:50.9951690,396,109',
  '2023-11-16 18:15:51.0000000,879,0',
  '2023-11-16 18:16:06.6805900,120,10',
];

describe('Azure trace CSV', () => {
  it('a speedup that takes the peak past the arrival bound is refused before anything is sent (104, load.speedup)', async () => {
    // 100 100 records 1 ms apart: 1000/s at speedup 1; at 1000, all within one second of the run
    const lines: string[] = [];
    for (let i = 0; i < 100_100; i++) lines.push(`{"t":${i / 1000},"prompt_tokens":1,"output_tokens":1}`);
    const path = file(lines);
    expect((await prepareTrace(traceSpec(path))).scan.info.peak_rate_per_s).toBe(1000);
    const [p] = await problems(traceSpec(path, { speedup: 1000 }));
    expect(p!.path).toBe('load.speedup');
    expect(p!.message).toMatch(/peaks at 100100 arrivals\/s \(over 1 s\), above the 100000\/s one process keeps up with: lower the speedup/);
  }, 30_000);

  it('parses its datetimes to the microsecond (UTC unless a zone is given)', () => {
    expect(parseDatetime('2023-11-16 18:15:46.6805900')).toBeCloseTo(Date.UTC(2023, 10, 16, 18, 15, 46) / 1000 + 0.68059, 6);
    expect(parseDatetime('2023-11-16T18:15:46Z')).toBe(Date.UTC(2023, 10, 16, 18, 15, 46) / 1000);
    expect(parseDatetime('2023-11-16 20:15:46+02:00')).toBe(Date.UTC(2023, 10, 16, 18, 15, 46) / 1000);
    expect(parseDatetime('2023-13-16 18:15:46')).toBeNull();
    expect(parseDatetime('18:15:46')).toBeNull();
  });

  it('sends each record at its own time, with its lengths, exactly', async () => {
    const { prepared, arrivals } = await replay(traceSpec(file(AZURE, 'csv')));
    expect(arrivals.map((a) => Math.round(a.us))).toEqual([0, 4_314_579, 4_319_410, 20_000_000]);
    expect(arrivals.map((a) => a.req.promptTokens)).toEqual([374, 396, 879, 120]);
    // an output of 0 tokens is asked as 1 (and counted)
    expect(arrivals.map((a) => a.req.maxTokens)).toEqual([44, 109, 1, 10]);
    for (const a of arrivals) expect(approxTokenCount(text(a.req))).toBe(a.req.promptTokens);
    expect(prepared.spec.load).toMatchObject({ format: 'azure', durationS: 20 });
    expect(loadDurationS(prepared.spec.load)).toBe(20);
    expect(prepared.scan.info).toMatchObject({ records: 4, replayed: 4, span_s: 20, raised: { prompt: 0, output: 1 } });
  });

  it('speedup divides the times; start and duration pick a window of trace time; a request count ends it early', async () => {
    const path = file(AZURE, 'csv');
    const fast = await replay(traceSpec(path, { speedup: 2 }));
    expect(fast.arrivals.map((a) => Math.round(a.us))).toEqual([0, 2_157_290, 2_159_705, 10_000_000]);
    expect(loadDurationS(fast.prepared.spec.load)).toBe(10);
    // [4 s, 4 s + 1 s) of trace time: the 2nd and 3rd records, sent from the window's start
    const window = await replay(traceSpec(path, { startS: 4, durationS: 1 }));
    expect(window.arrivals.map((a) => Math.round(a.us))).toEqual([314_579, 319_410]);
    expect(window.arrivals.map((a) => a.req.promptTokens)).toEqual([396, 879]);
    expect(loadDurationS(window.prepared.spec.load)).toBe(1);
    const counted = await replay(traceSpec(path, {}, { requests: 2 }));
    expect(counted.arrivals).toHaveLength(2);
    // prompts differ from their first words on
    const words = fast.arrivals.map((a) => text(a.req).split(' ')[0]);
    expect(new Set(words).size).toBe(4);
  });

  it('names the line of every kind of bad record (exit 104)', async () => {
    const noHeader = file(['2023-11-16 18:15:46.6805900,374,44'], 'csv');
    expect(await problems(traceSpec(noHeader))).toEqual([
      { path: `load.file (${noHeader}:1)`, message: expect.stringMatching(/^no header: expected the header TIMESTAMP,ContextTokens,GeneratedTokens first/) },
    ]);
    // a header without a column: one problem, at the header, naming the column
    const noColumn = file(['TIMESTAMP,ContextTokens', '2023-11-16 18:15:46,1', '2023-11-16 18:15:47,1'], 'csv');
    expect(await problems(traceSpec(noColumn))).toEqual([{ path: `load.file (${noColumn}:1)`, message: expect.stringMatching(/^the header lacks the column GeneratedTokens: expected a header naming/) }]);
    // an empty file with no format given: every format it could have been
    const empty = file([], 'csv');
    expect(await problems(traceSpec(empty))).toEqual([{ path: 'load.file', message: expect.stringMatching(/holds no records; expected an Azure .*; or a Mooncake .*; or a JSONL trace/) }]);
    const bad = file(['TIMESTAMP,ContextTokens,GeneratedTokens', '2023-11-16 18:15:46,1,1', 'yesterday,1,1', '2023-11-16 18:15:47,many,1', '2023-11-16 18:15:47,1,-3', '2023-11-16 18:15:48,1', '2023-11-16 18:15:40,1,1'], 'csv');
    const p = await problems(traceSpec(bad, { format: 'azure' }));
    expect(p.map((x) => x.path)).toEqual([3, 4, 5, 6, 7].map((n) => `load.file (${bad}:${n})`));
    expect(p.map((x) => x.message)).toEqual([
      expect.stringMatching(/^TIMESTAMP: expected a date and time like 2023-11-16 18:15:46.6805900, found "yesterday"/),
      expect.stringMatching(/^ContextTokens: expected a whole number of tokens, found "many"/),
      expect.stringMatching(/^GeneratedTokens: expected a whole number of tokens, found "-3"/),
      expect.stringMatching(/^expected 3 comma-separated fields/),
      expect.stringMatching(/^the time goes backwards \(-6 s from the record before\): a trace must be in time order/),
    ]);
  });
});

describe('Mooncake trace JSONL', () => {
  const MOONCAKE = [
    { timestamp: 0, input_length: 1100, output_length: 10, hash_ids: [1, 2, 3] },
    { timestamp: 250, input_length: 1600, output_length: 20, hash_ids: [1, 2, 4, 5] },
    { timestamp: 500, input_length: 700, output_length: 5, hash_ids: [1, 6] },
    { timestamp: 750, input_length: 1024, output_length: 5, hash_ids: [1, 2] },
    { timestamp: 1000, input_length: 300, output_length: 5, hash_ids: [9] },
  ].map((r) => JSON.stringify(r));

  it('times in ms; requests sharing leading hash ids share that many 512-token blocks of prompt', async () => {
    const { prepared, arrivals } = await replay(traceSpec(file(MOONCAKE)), 'completions');
    expect(prepared.spec.load).toMatchObject({ format: 'mooncake' });
    expect(arrivals.map((a) => a.us)).toEqual([0, 250_000, 500_000, 750_000, 1_000_000]);
    const words = arrivals.map((a) => text(a.req).split(' '));
    expect(arrivals.map((a) => a.req.promptTokens)).toEqual([1100, 1600, 700, 1024, 300]);
    for (const a of arrivals) expect(approxTokenCount(text(a.req))).toBe(a.req.promptTokens);
    const shared = (a: string[], b: string[]): number => {
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      return i;
    };
    // ids [1, 2] in common: 1024 tokens; [1]: 512; none: 0
    expect(shared(words[0]!, words[1]!)).toBeGreaterThanOrEqual(1024);
    expect(shared(words[0]!, words[1]!)).toBeLessThan(1024 + 8);
    expect(shared(words[0]!, words[2]!)).toBeGreaterThanOrEqual(512);
    expect(shared(words[0]!, words[2]!)).toBeLessThan(512 + 8);
    expect(shared(words[0]!, words[4]!)).toBeLessThan(8);
    // a prompt of exactly its blocks is those blocks
    expect(words[3]).toEqual(words[1]!.slice(0, 1024));
    // 1024 + 512 + 1024 of 4724 tokens were in blocks an earlier request had
    expect(prepared.scan.info.prefix_reuse_ratio).toBeCloseTo((1024 + 512 + 1024) / 4724, 3);
  });

  it('a request whose first block another record starts with is in that hash id\'s prefix group (summary.prefix)', async () => {
    const { prepared, arrivals } = await replay(traceSpec(file(MOONCAKE)), 'chat');
    expect([...prepared.scan.sharedFirstIds!]).toEqual([1]);
    // hash id 1 begins records 0-3 (all with a whole block); [9] is alone and too short for a block
    expect(arrivals.map((a) => a.req.prefixGroup)).toEqual([1, 1, 1, 1, undefined]);
    // outside the window nothing is counted: a lone record with a block has no group
    const late = await replay(traceSpec(file(MOONCAKE), { startS: 0.75 }), 'chat');
    expect(late.arrivals.map((a) => a.req.prefixGroup)).toEqual([undefined, undefined]);
  });

  it('with a chat template the blocks come after the template and still match', async () => {
    const { arrivals } = await replay(traceSpec(file(MOONCAKE)), 'chat');
    const a = text(arrivals[0]!.req).split(' ');
    const b = text(arrivals[1]!.req).split(' ');
    expect(a.slice(0, 1024)).toEqual(b.slice(0, 1024));
  });

  it('under a real tokenizer (llama3, chat template) the lengths are exact and the shared blocks identical', async () => {
    const tok = await loadTokenizer('llama3', 'chat');
    const prepared = await prepareTrace(traceSpec(file(MOONCAKE)));
    const r = new TraceReplay(prepared, tok);
    const reqs: GenRequest[] = [];
    for (let id = 0; (await r.next()) !== null; id++) reqs.push(r.request(id));
    for (const [i, req] of reqs.entries()) {
      expect(await tok.countPrompt(req.messages!)).toBe(req.promptTokens);
      expect(req.promptTokens).toBe([1100, 1600, 700, 1024, 300][i]);
    }
    const block2 = (req: GenRequest): string => text(req).split(' ').slice(0, 1024).join(' ');
    expect(block2(reqs[0]!)).toBe(block2(reqs[1]!));
    expect(await tok.count(block2(reqs[0]!))).toBe(1024);
  });

  it('names the line of every kind of bad record (exit 104)', async () => {
    const path = file([
      MOONCAKE[0]!,
      '{"timestamp": 10, "input_length": 5}',
      '{"timestamp": "soon", "input_length": 5, "output_length": 1}',
      '{"timestamp": 20, "input_length": 5.5, "output_length": 1}',
      '{"timestamp": 30, "input_length": 5, "output_length": 1, "hash_ids": ["a"]}',
      '[1, 2]',
    ]);
    const p = await problems(traceSpec(path, { format: 'mooncake' }));
    expect(p.map((x) => x.path)).toEqual([2, 3, 4, 5, 6].map((n) => `load.file (${path}:${n})`));
    expect(p.map((x) => x.message)).toEqual([
      expect.stringMatching(/^"output_length": expected a whole number of tokens, found nothing/),
      expect.stringMatching(/^"timestamp": expected milliseconds >= 0, found "soon"/),
      expect.stringMatching(/^"input_length": expected a whole number of tokens, found 5.5/),
      expect.stringMatching(/^"hash_ids": expected a list of whole numbers/),
      expect.stringMatching(/^expected an object like \{"timestamp"/),
    ]);
  });
});

describe('generic JSONL trace', () => {
  it('seconds and lengths; a line with a prompt sends it as it is, counted', async () => {
    const path = file([
      JSON.stringify({ t: 0.5, prompt_tokens: 40, output_tokens: 8 }),
      '',
      JSON.stringify({ t: 1.25, prompt: 'Summarise this sentence, please.', output_tokens: 16 }),
    ]);
    const { prepared, arrivals } = await replay(traceSpec(path), 'completions');
    expect(prepared.spec.load).toMatchObject({ format: 'jsonl', durationS: 0.75 });
    expect(arrivals.map((a) => a.us)).toEqual([0, 750_000]);
    expect(arrivals[0]!.req).toMatchObject({ promptTokens: 40, maxTokens: 8 });
    expect(arrivals[1]!.req).toEqual({ prompt: 'Summarise this sentence, please.', promptTokens: approxTokenCount('Summarise this sentence, please.'), maxTokens: 16 });
  });

  it('names the line of every kind of bad record, and of files with no usable record (exit 104)', async () => {
    const path = file(['{"t": 0, "prompt_tokens": 1, "output_tokens": 1}', '{"t": -1, "prompt_tokens": 1, "output_tokens": 1}', '{"t": 1, "output_tokens": 1}', '{"t": 2, "prompt_tokens": 1}', '{"t": 3, "prompt": "", "output_tokens": 1}', 'not json']);
    const p = await problems(traceSpec(path, { format: 'jsonl' }));
    expect(p.map((x) => x.path)).toEqual([2, 3, 4, 5, 6].map((n) => `load.file (${path}:${n})`));
    expect(p.map((x) => x.message)).toEqual([
      expect.stringMatching(/^"t": expected seconds >= 0, found -1/),
      expect.stringMatching(/^"prompt_tokens": expected a whole number of tokens \(or a "prompt"\), found nothing/),
      expect.stringMatching(/^"output_tokens": expected a whole number of tokens, found nothing/),
      expect.stringMatching(/^"prompt": expected a non-empty string, found ""/),
      expect.stringMatching(/^not JSON/),
    ]);
    const unknown = file(['{"time": 1}']);
    expect(await problems(traceSpec(unknown))).toEqual([{ path: `load.file (${unknown}:1)`, message: expect.stringMatching(/neither "timestamp" \(Mooncake\) nor "t" \(JSONL\): give load.format/) }]);
    const empty = file(['']);
    expect(await problems(traceSpec(empty, { format: 'jsonl' }))).toEqual([{ path: 'load.file', message: expect.stringMatching(/holds no records; expected a JSONL trace/) }]);
    const late = file(['{"t": 0, "prompt_tokens": 1, "output_tokens": 1}', '{"t": 5, "prompt_tokens": 1, "output_tokens": 1}']);
    expect(await problems(traceSpec(late, { startS: 60 }))).toEqual([{ path: 'load.file', message: expect.stringMatching(/no record of .* falls in the window \(start 60 s\): its 2 records span 5 s/) }]);
    expect(await problems(traceSpec(late, {}, { warmupS: 10 }))).toEqual([{ path: 'warmup', message: expect.stringMatching(/not shorter than the replay \(5 s of run time\)/) }]);
    expect(await problems(traceSpec(join(dir, 'missing.csv')))).toEqual([{ path: 'load.file', message: expect.stringMatching(/^cannot read .*missing\.csv: ENOENT/) }]);
  });
});

describe('the workload of a trace', () => {
  it('hands the engine the trace as its arrivals and each record as its request', async () => {
    const spec = traceSpec(file(['{"t": 0, "prompt_tokens": 30, "output_tokens": 3}', '{"t": 0.1, "prompt_tokens": 50, "output_tokens": 4}']));
    const prepared = await prepareTrace(spec);
    const w = await loadWorkload(prepared.spec, approximateTokenizer('chat'), prepared);
    const arrivals = w.arrivals();
    expect(await arrivals.next()).toBe(0);
    expect(w.request(0)).toMatchObject({ promptTokens: 30, maxTokens: 3 });
    expect(await arrivals.next()).toBeCloseTo(100_000, 3);
    expect(w.request(1)).toMatchObject({ promptTokens: 50, maxTokens: 4 });
    expect(await arrivals.next()).toBeNull();
    expect(() => w.request(5)).toThrow(/asked before its arrival was read/);
  });
});
