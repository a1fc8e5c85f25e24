// Datasets: each reader on good files, every kind of bad file (exit 104 naming the file and the
// place), the length filters, the seeded priority sample, and the text corpus's exact cuts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, InvalidInputError } from '../../../src/core/errors.js';
import { approxTokenCount } from '../../../src/core/tokens.js';
import type { DatasetSpec, Endpoint } from '../../../src/core/types.js';
import { datasetSampleSize, loadDataset, type Dataset } from '../../../src/workload/dataset.js';
import { approximateTokenizer } from '../../../src/workload/tokenizer.js';
import { Workload } from '../../../src/workload/workload.js';
import { testSpec } from '../../helpers/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'inferload-dataset-'));
let files = 0;
function file(text: string, ext = 'json'): string {
  const path = join(dir, `f${files++}.${ext}`);
  writeFileSync(path, text);
  return path;
}

function spec(format: DatasetSpec['format'], path: string, over: Partial<DatasetSpec> = {}): DatasetSpec {
  return { format, path, maxEntries: 10_000, outputTokens: 'dataset', ...over };
}

function load(s: DatasetSpec, opts: { sampleSize?: number; seed?: number; endpoint?: Endpoint } = {}): Promise<Dataset> {
  return loadDataset(s, {
    tokenizer: approximateTokenizer(opts.endpoint ?? 'chat'),
    seed: opts.seed ?? 1,
    sampleSize: opts.sampleSize ?? 100,
    promptTokens: { dist: 'uniform', min: 20, max: 60 },
  });
}

/** The problems of a load that must fail with exit 104. */
async function problems(s: DatasetSpec): Promise<{ path: string; message: string }[]> {
  try {
    await load(s);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    expect((e as InvalidInputError).exitCode).toBe(ExitCode.invalidInput);
    return (e as InvalidInputError).problems;
  }
  throw new Error('expected the dataset to be refused');
}

const words = (n: number, w = 'word'): string => Array.from({ length: n }, () => w).join(' ');

const conversation = (human: string, gpt?: string, id = 'x'): unknown => ({
  id,
  conversations: [{ from: 'human', value: human }, ...(gpt === undefined ? [] : [{ from: 'gpt', value: gpt }])],
});

describe('ShareGPT', () => {
  it('takes the first human turn as the prompt and the reply after it as the output length', async () => {
    const path = file(
      JSON.stringify([
        { id: 'a', conversations: [{ from: 'system', value: 'be nice' }, { from: 'human', value: words(5, 'hello') }, { from: 'gpt', value: words(7) }, { from: 'human', value: 'more' }] },
        conversation(words(3, 'ask'), words(11, 'reply')),
        { id: 'no-human', conversations: [{ from: 'gpt', value: 'hi' }] },
      ]),
    );
    const ds = await load(spec('sharegpt', path));
    expect(ds.entries).toHaveLength(2);
    const byLength = new Map(ds.entries.map((e) => [e.outputTokens, e]));
    expect(byLength.get(7)).toEqual({ prompt: [{ role: 'user', content: words(5, 'hello') }], promptTokens: 5, outputTokens: 7 });
    expect(byLength.get(11)?.promptTokens).toBe(3);
    expect(ds.info).toMatchObject({ format: 'sharegpt', entries: 3, unusable: 1, counted: 2, sampled: 2, output_tokens: 'dataset' });
    // completions: the same prompt as a string
    const completions = await load(spec('sharegpt', path), { endpoint: 'completions' });
    expect(completions.entries.map((e) => e.prompt).sort()).toEqual([words(3, 'ask'), words(5, 'hello')]);
  });

  it('keeps only the entries inside the filters', async () => {
    const path = file(JSON.stringify([conversation(words(2), words(50)), conversation(words(10), words(8)), conversation(words(30), words(40)), conversation(words(12))]));
    const ds = await load(spec('sharegpt', path, { minPromptTokens: 4, maxPromptTokens: 20, minOutputTokens: 6, maxOutputTokens: 45 }));
    expect(ds.entries.map((e) => [e.promptTokens, e.outputTokens])).toEqual([[10, 8]]);
    expect(ds.info.filtered).toEqual({ prompt_too_short: 1, prompt_too_long: 1, output_too_short: 0, output_too_long: 0, no_output_length: 1 });
    const none = await problems(spec('sharegpt', path, { minPromptTokens: 100 }));
    expect(none).toEqual([{ path: 'workload.dataset', message: expect.stringMatching(/no entry of .* passes: 4 read, 4 with prompt under minPromptTokens \(100\)/) }]);
  });

  it('leaves the output length to the scenario when it sets one', async () => {
    const path = file(JSON.stringify([conversation(words(4), words(9))]));
    const ds = await load(spec('sharegpt', path, { outputTokens: 'scenario' }));
    expect(ds.entries[0]!.outputTokens).toBeUndefined();
  });

  it('samples K entries with the seed: a subset in a random order, the same for the same seed, without counting them all', async () => {
    const convs = Array.from({ length: 2000 }, (_, i) => conversation(`${words(5)} n${i}`, words(3), `c${i}`));
    const path = file(JSON.stringify(convs));
    const a = await load(spec('sharegpt', path), { sampleSize: 50, seed: 7 });
    const b = await load(spec('sharegpt', path), { sampleSize: 50, seed: 7 });
    const c = await load(spec('sharegpt', path), { sampleSize: 50, seed: 8 });
    const text = (d: Dataset): string[] => d.entries.map((e) => (e.prompt as { content: string }[])[0]!.content);
    expect(text(a)).toEqual(text(b));
    expect(text(a)).not.toEqual(text(c));
    expect(new Set(text(a)).size).toBe(50);
    // spread over the file, not its head: the mean index of a uniform sample is near the middle
    const mean = text(a).reduce((s, t) => s + Number(/n(\d+)$/.exec(t)![1]), 0) / 50;
    expect(mean).toBeGreaterThan(600);
    expect(mean).toBeLessThan(1400);
    // priority sampling: about K(1 + ln(N/K)) = 50·4.7 counted, not 2000
    expect(a.info.counted).toBeLessThan(600);
    expect(a.info).toMatchObject({ entries: 2000, sampled: 50, sample_size: 50 });
  });

  it('a workload cycles through the sample in its order', async () => {
    const path = file(JSON.stringify([conversation('alpha beta', words(5)), conversation('gamma delta', words(6))]));
    const ds = await load(spec('sharegpt', path), { endpoint: 'completions' });
    const w = new Workload(testSpec({ executor: 'constant-vus', vus: 1, durationS: 1, thinkTimeS: 0, gracefulStopS: 1 }).workload, 1, 'completions', ds);
    const first = [0, 1].map((k) => w.request(k));
    expect(first.map((r) => r.prompt)).toEqual(ds.entries.map((e) => e.prompt));
    expect(first.map((r) => r.maxTokens)).toEqual(ds.entries.map((e) => e.outputTokens));
    expect(w.request(2)).toEqual(first[0]);
  });

  it('names the place of every kind of bad file (exit 104)', async () => {
    const syntax = file('[\n  {"conversations": []},\n  {"conversations": [}\n]');
    expect(await problems(spec('sharegpt', syntax))).toEqual([
      { path: expect.stringMatching(new RegExp(`^workload\\.dataset \\(${escape(syntax)}:3:\\d+, character \\d+\\)$`)), message: expect.stringMatching(/^not valid JSON .*expected one JSON array of conversations/) },
    ]);
    const notArray = file('{"conversations": []}');
    expect(await problems(spec('sharegpt', notArray))).toEqual([{ path: `workload.dataset (${notArray})`, message: expect.stringMatching(/the top level is not a JSON array/) }]);
    const shapes = file(JSON.stringify([conversation('ok', 'ok'), 'a string', { turns: [] }, { conversations: [{ from: 'human' }] }, { conversations: [{ from: 'human', value: 3 }] }]));
    const p = await problems(spec('sharegpt', shapes));
    expect(p.map((x) => x.path.replace(/, read by byte \d+/, ''))).toEqual([1, 2, 3, 4].map((i) => `workload.dataset (${shapes}, element [${i}])`));
    expect(p.map((x) => x.message)).toEqual([
      expect.stringMatching(/^expected a conversation like .*, found "a string" \(a string\)$/),
      expect.stringMatching(/^expected a "conversations" list .*, found nothing$/),
      expect.stringMatching(/^conversations\[0\]\.value: expected a string in a turn like \{"from": "human", "value": "..."\}, found nothing$/),
      expect.stringMatching(/^conversations\[0\]\.value: expected a string .*found 3 \(a number\)$/),
    ]);
    // a file cut short in the middle (a download stopped): the line and column where it ends
    const whole = JSON.stringify(Array.from({ length: 40 }, (_, i) => conversation(`question ${i}`, `answer ${i}`)), null, 1);
    const cut = file(whole.slice(0, Math.floor(whole.length / 2)));
    const cutLines = whole.slice(0, Math.floor(whole.length / 2)).split('\n').length;
    expect(await problems(spec('sharegpt', cut))).toEqual([
      { path: expect.stringMatching(new RegExp(`^workload\\.dataset \\(${escape(cut)}:${cutLines}:\\d+, character \\d+\\)$`)), message: expect.stringMatching(/^not valid JSON/) },
    ]);
    // an empty file: not JSON at all, at its first character
    const empty = file('');
    expect(await problems(spec('sharegpt', empty))).toEqual([{ path: `workload.dataset (${empty}:1:1, character 0)`, message: expect.stringMatching(/^not valid JSON .*expected one JSON array/) }]);
    expect(await problems(spec('sharegpt', file('[]')))).toEqual([{ path: 'workload.dataset', message: expect.stringMatching(/holds no entries; expected a ShareGPT JSON file/) }]);
    expect(await problems(spec('sharegpt', join(dir, 'missing.json')))).toEqual([{ path: 'workload.dataset', message: expect.stringMatching(/^cannot read .*missing\.json: ENOENT/) }]);
  });
});

describe('OpenAI chat JSONL', () => {
  it('sends the messages; a last assistant message is the reply, max_tokens wins over it', async () => {
    const path = file(
      [
        JSON.stringify({ messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: words(4) }, { role: 'assistant', content: words(9) }] }),
        '',
        JSON.stringify({ messages: [{ role: 'user', content: words(6) }], max_tokens: 33 }),
      ].join('\n'),
      'jsonl',
    );
    const ds = await load(spec('openai-chat', path));
    const byOut = new Map(ds.entries.map((e) => [e.outputTokens, e]));
    expect(byOut.get(9)).toEqual({ prompt: [{ role: 'system', content: 'be brief' }, { role: 'user', content: words(4) }], promptTokens: 6, outputTokens: 9 });
    expect(byOut.get(33)?.promptTokens).toBe(6);
    // completions: the contents joined
    const c = await load(spec('openai-chat', path), { endpoint: 'completions' });
    expect(c.entries.map((e) => e.prompt)).toContain(`be brief\n\n${words(4)}`);
  });

  it('names the line of every kind of bad line (exit 104)', async () => {
    const path = file(
      [
        '{"messages": [{"role": "user", "content": "fine"}]}',
        '{not json',
        '{"prompt": "wrong format"}',
        '{"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]}',
        '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}',
        '{"messages": [{"role": "assistant", "content": "only the answer"}]}',
      ].join('\n'),
      'jsonl',
    );
    const p = await problems(spec('openai-chat', path));
    expect(p.map((x) => x.path)).toEqual([2, 3, 4, 5, 6].map((n) => `workload.dataset (${path}:${n})`));
    expect(p.map((x) => x.message)).toEqual([
      expect.stringMatching(/^not JSON .*; expected \{"messages"/),
      expect.stringMatching(/^expected a non-empty "messages" list/),
      expect.stringMatching(/^messages\[0\]: expected \{"role": "user", "content": "..."\} \(two strings; content parts lists are not read\)/),
      expect.stringMatching(/^"max_tokens" must be a whole number >= 1, found 0/),
      'only an assistant message: expected the messages asking for it before it',
    ]);
  });

  it('a JSON document given as JSONL is refused at its first line', async () => {
    const path = file(JSON.stringify([conversation('a', 'b')], null, 1));
    const p = await problems(spec('openai-chat', path));
    expect(p[0]).toEqual({ path: `workload.dataset (${path}:1)`, message: expect.stringMatching(/^not JSON/) });
  });

  it('a line broken deep in a file is named by its number; an empty file holds no entries', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `hello ${i + 1}` }], max_tokens: 16 }));
    lines[36] = '{"messages": [{"role": "user", "content": "cut"}';
    const path = file(lines.join('\n') + '\n', 'jsonl');
    expect(await problems(spec('openai-chat', path))).toEqual([{ path: `workload.dataset (${path}:37)`, message: expect.stringMatching(/^not JSON .*; expected \{"messages"/) }]);
    const empty = file('', 'jsonl');
    expect(await problems(spec('openai-chat', empty))).toEqual([{ path: 'workload.dataset', message: `${empty} holds no entries; expected a JSONL file of {"messages": [{"role": "user", "content": "..."}], "max_tokens": 128} lines` }]);
  });
});

describe('plain prompt JSONL (a string dataset)', () => {
  it('reads {"prompt", "output_tokens"} lines with their counts', async () => {
    const path = file(['{"prompt": "hello there", "output_tokens": 5}', '', '{"prompt": "general kenobi"}'].join('\n'), 'jsonl');
    const ds = await load(spec('prompts', path), { endpoint: 'completions' });
    expect(ds.entries.sort((a, b) => a.promptTokens - b.promptTokens)).toEqual([
      { prompt: 'hello there', promptTokens: 2, outputTokens: 5 },
      { prompt: 'general kenobi', promptTokens: 3 }, // "general" is 7 letters: 2 pieces
    ]);
  });

  it('names the line and the fix of a bad line', async () => {
    const path = file('{"prompt": "ok"}\n{not json\n{"prompt": "x", "output_tokens": -1}\n{"prompt": 5}\n', 'jsonl');
    const p = await problems(spec('prompts', path));
    expect(p.map((x) => x.path)).toEqual([2, 3, 4].map((n) => `workload.dataset (${path}:${n})`));
    expect(p[1]!.message).toMatch(/"output_tokens" must be a whole number >= 1, found -1/);
    expect(p[2]!.message).toMatch(/^"prompt": expected a non-empty string like .*, found 5 \(a number\)$/);
  });
});

describe('text corpus', () => {
  it('cuts prompts of the drawn lengths from its lines, exactly, each ending in its own words', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `Line ${i} of the poem goes on for a while here`);
    const path = file(lines.join('\n') + '\n', 'txt');
    const ds = await load(spec('text', path, { outputTokens: 'scenario' }), { sampleSize: 30 });
    expect(ds.entries).toHaveLength(30);
    expect(ds.info).toMatchObject({ format: 'text', entries: 40, sampled: 30 });
    for (const e of ds.entries) {
      const text = (e.prompt as { content: string }[])[0]!.content;
      expect(approxTokenCount(text)).toBe(e.promptTokens);
      expect(e.promptTokens).toBeGreaterThanOrEqual(20);
      expect(e.promptTokens).toBeLessThanOrEqual(60);
      expect(text).toMatch(/^Line \d+ of the poem/);
      expect(e.outputTokens).toBeUndefined();
    }
    const prompts = ds.entries.map((e) => (e.prompt as { content: string }[])[0]!.content);
    expect(new Set(prompts).size).toBe(30);
  });

  it('an empty corpus is refused', async () => {
    expect(await problems(spec('text', file('\n\n', 'txt')))).toEqual([{ path: 'workload.dataset', message: expect.stringMatching(/holds no entries; expected a text file/) }]);
  });
});

describe('the sample size', () => {
  const base = testSpec({ executor: 'constant-arrival-rate', rate: 10, durationS: 60, timeUnitS: 1, arrival: 'poisson', burstiness: 1, maxInFlight: 100, gracefulStopS: 1 });
  const withDataset = { ...base, workload: { ...base.workload, dataset: spec('sharegpt', 'x.json', { maxEntries: 10_000 }) } };
  it('is the request count when fixed, the expected arrivals with slack, or the cap', () => {
    expect(datasetSampleSize({ ...withDataset, requests: 123 })).toBe(123);
    // 600 expected, three standard deviations above
    expect(datasetSampleSize(withDataset)).toBe(Math.ceil(600 + 3 * Math.sqrt(600)) + 1);
    const vus = { ...withDataset, load: { executor: 'constant-vus', vus: 5, durationS: 60, thinkTimeS: 0, gracefulStopS: 1 } as const };
    expect(datasetSampleSize(vus)).toBe(10_000);
    expect(datasetSampleSize({ ...withDataset, requests: 50_000 })).toBe(10_000);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
