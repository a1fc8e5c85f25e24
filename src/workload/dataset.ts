// Datasets: prompts read from a local file (nothing is fetched), filtered by length and sampled
// with the seed. Formats: ShareGPT JSON (the first human turn; the reply's length), OpenAI chat
// JSONL, plain prompt JSONL, and a text corpus prompts are cut from.
//
// Memory stays bounded whatever the file's size: files are streamed (ShareGPT with stream-json,
// JSONL a line at a time), and only the sample is held. The sample is a priority sample: every
// usable entry draws a uniform key from the seeded generator in file order, and the K entries
// with the smallest keys among those that pass the filters are kept: a uniform sample without
// replacement, in a uniformly random order (by key). An entry whose key is above the K-th
// smallest kept so far can never be kept, so it is not even tokenized: of N entries about
// K·(1 + ln(N/K)) are counted, not N.
import { createReadStream, statSync } from 'node:fs';
import streamArray from 'stream-json/streamers/stream-array.js';
import { verifyFile, type VerifierError } from 'stream-json/file/verifier.js';
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { DatasetFormat, DatasetSpec, LengthDist, ScenarioSpec } from '../core/types.js';
import { describeFound } from '../config/messages.js';
import { rateSegments, isArrivalLoad } from '../schedule/arrivals.js';
import { sampleLength } from './lengths.js';
import { readLines } from './lines.js';
import type { ChatMessage, Tokenizer } from './tokenizer.js';

export interface DatasetEntry {
  /** as sent: chat messages on the chat endpoint, a prompt string on completions */
  prompt: string | ChatMessage[];
  /** the prompt tokens the server will count for it (the tokenizer's, on the endpoint) */
  promptTokens: number;
  /** the dataset's output length (reply's tokens, max_tokens, output_tokens), when used */
  outputTokens?: number;
}

/** results.workload.dataset: what was read and what the sample is. */
export interface DatasetInfo {
  format: DatasetFormat;
  path: string;
  bytes: number;
  /** entries read (conversations, lines; for a text corpus its non-empty lines) */
  entries: number;
  /** entries with nothing to send: a conversation without a (non-empty) human turn */
  unusable: number;
  /** usable entries tokenized and judged by the filters (the sampling skips the rest unread) */
  counted: number;
  /** counted entries the filters left out, by reason */
  filtered: { prompt_too_short: number; prompt_too_long: number; output_too_short: number; output_too_long: number; no_output_length: number };
  filters: { min_prompt_tokens: number | null; max_prompt_tokens: number | null; min_output_tokens: number | null; max_output_tokens: number | null };
  /** the sample's size asked for: the run's expected requests, capped by maxEntries */
  sample_size: number;
  /** entries held; requests take them in their random order, cycling when the run has more */
  sampled: number;
  /** where max_tokens comes from */
  output_tokens: 'dataset' | 'scenario';
  /** reading, counting and sampling, seconds */
  load_s: number;
}

export interface Dataset {
  entries: DatasetEntry[];
  info: DatasetInfo;
}

export interface DatasetOptions {
  tokenizer: Tokenizer;
  seed: number;
  /** how many entries to sample (datasetSampleSize) */
  sampleSize: number;
  /** a text corpus's cut lengths */
  promptTokens: LengthDist;
}

/** The problems a bad file reports before reading stops. */
const MAX_PROBLEMS = 10;

/** A text corpus is read up to this many bytes (vLLM's sonnet is 18 kB; a book is about 1 MB). */
export const CORPUS_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The sample a run needs: its request count when fixed, the arrivals its rate profile expects
 * (with three standard deviations of Poisson slack), else the cap; never above maxEntries.
 */
export function datasetSampleSize(spec: ScenarioSpec): number {
  const cap = spec.workload.dataset?.maxEntries ?? 1;
  let expected: number | undefined = spec.requests;
  if (expected === undefined && isArrivalLoad(spec.load)) {
    const segs = rateSegments(spec.load);
    const n = segs.length > 0 ? segs[segs.length - 1]!.n1 : 0;
    expected = Math.ceil(n + 3 * Math.sqrt(n)) + 1;
  }
  return Math.max(1, Math.min(cap, expected ?? cap));
}

/** Reads, filters and samples a dataset; a bad file throws InvalidInputError (exit 104) naming the place. */
export async function loadDataset(spec: DatasetSpec, opts: DatasetOptions): Promise<Dataset> {
  const started = performance.now();
  let bytes: number;
  try {
    const st = statSync(spec.path);
    if (!st.isFile()) throw new Error('not a file');
    bytes = st.size;
  } catch (e) {
    throw new InvalidInputError([{ path: 'workload.dataset', message: `cannot read ${spec.path}: ${(e as Error).message}; give the path to a local ${FORMAT_WHAT[spec.format]}` }], spec.path);
  }
  const sampler = new Sampler(spec, opts);
  try {
    switch (spec.format) {
      case 'sharegpt':
        await readShareGpt(spec.path, sampler);
        break;
      case 'openai-chat':
      case 'prompts':
        await readJsonl(spec.path, spec.format, sampler);
        break;
      case 'text':
        await readCorpus(spec.path, sampler, opts);
        break;
      default: {
        const never: never = spec.format;
        throw new Error(`unknown dataset format ${String(never)}`);
      }
    }
  } catch (e) {
    if (e instanceof InvalidInputError) throw e;
    throw new InvalidInputError([{ path: 'workload.dataset', message: `cannot read ${spec.path}: ${(e as Error).message}` }], spec.path);
  }
  sampler.finish();
  const entries = sampler.entries();
  const info: DatasetInfo = { ...sampler.info, bytes, sampled: entries.length, load_s: Math.round((performance.now() - started) / 10) / 100 };
  if (entries.length === 0) {
    throw new InvalidInputError([{ path: 'workload.dataset', message: emptyMessage(spec, info) }], spec.path);
  }
  return { entries, info };
}

const FORMAT_WHAT: Record<DatasetFormat, string> = {
  sharegpt: 'ShareGPT JSON file ([{"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]}, ...])',
  'openai-chat': 'JSONL file of {"messages": [{"role": "user", "content": "..."}], "max_tokens": 128} lines',
  prompts: 'JSONL file of {"prompt": "...", "output_tokens": 128} lines',
  text: 'text file (a corpus prompts are cut from)',
};

function emptyMessage(spec: DatasetSpec, info: DatasetInfo): string {
  if (info.entries === 0) return `${spec.path} holds no entries; expected a ${FORMAT_WHAT[spec.format]}`;
  const f = info.filtered;
  const reasons = [
    [f.prompt_too_short, `prompt under minPromptTokens (${spec.minPromptTokens})`],
    [f.prompt_too_long, `prompt over maxPromptTokens (${spec.maxPromptTokens})`],
    [f.output_too_short, `output under minOutputTokens (${spec.minOutputTokens})`],
    [f.output_too_long, `output over maxOutputTokens (${spec.maxOutputTokens})`],
    [f.no_output_length, 'no output length to filter (no reply, max_tokens or output_tokens)'],
    [info.unusable, 'nothing to send (no human turn)'],
  ] as const;
  const why = reasons.filter(([n]) => n > 0).map(([n, what]) => `${n} with ${what}`);
  return `no entry of ${spec.path} passes: ${info.entries} read, ${why.join(', ')}; widen the length filters`;
}

// ---- sampling ---------------------------------------------------------------------------

/** What a file's entry offers before counting: the prompt, and its reply or asked output length. */
interface Candidate {
  prompt: string | ChatMessage[];
  /** the reply whose tokens are the output length (ShareGPT's gpt turn, a chat line's last assistant message) */
  reply?: string;
  /** an output length the entry states (max_tokens, output_tokens); wins over the reply */
  outputTokens?: number;
}

class Sampler {
  readonly info: Omit<DatasetInfo, 'bytes' | 'sampled' | 'load_s'>;
  readonly problems: InputProblem[] = [];
  private readonly rng: Rng;
  /** a max-heap on key: the root is the K-th smallest key kept so far */
  private readonly heap: { key: number; entry: DatasetEntry }[] = [];
  private readonly size: number;
  private readonly needOutput: boolean;

  constructor(
    readonly spec: DatasetSpec,
    readonly opts: DatasetOptions,
  ) {
    this.rng = Rng.derive(opts.seed, 'dataset-sample');
    this.size = Math.max(1, opts.sampleSize);
    this.needOutput = spec.outputTokens === 'dataset' || spec.minOutputTokens !== undefined || spec.maxOutputTokens !== undefined;
    this.info = {
      format: spec.format,
      path: spec.path,
      entries: 0,
      unusable: 0,
      counted: 0,
      filtered: { prompt_too_short: 0, prompt_too_long: 0, output_too_short: 0, output_too_long: 0, no_output_length: 0 },
      filters: {
        min_prompt_tokens: spec.minPromptTokens ?? null,
        max_prompt_tokens: spec.maxPromptTokens ?? null,
        min_output_tokens: spec.minOutputTokens ?? null,
        max_output_tokens: spec.maxOutputTokens ?? null,
      },
      sample_size: this.size,
      output_tokens: spec.outputTokens,
    };
  }

  /** Records a problem; true once enough are known to stop reading. */
  problem(path: string, message: string): boolean {
    this.problems.push({ path, message });
    return this.problems.length >= MAX_PROBLEMS;
  }

  /** The key an entry must beat to be kept. */
  private get threshold(): number {
    return this.heap.length < this.size ? Number.POSITIVE_INFINITY : this.heap[0]!.key;
  }

  /** One entry of the file: counted, filtered and offered to the sample. */
  async consider(c: Candidate | null): Promise<void> {
    this.info.entries++;
    // after a problem only problems matter: nothing is counted any more
    if (this.problems.length > 0) return;
    if (c === null) {
      this.info.unusable++;
      return;
    }
    const key = this.rng.next();
    if (key >= this.threshold) return;
    const tok = this.opts.tokenizer;
    this.info.counted++;
    const prompt = asSent(c.prompt, tok.endpoint === 'chat');
    const promptTokens = await tok.countPrompt(prompt);
    const f = this.info.filtered;
    if (this.spec.minPromptTokens !== undefined && promptTokens < this.spec.minPromptTokens) return void f.prompt_too_short++;
    if (this.spec.maxPromptTokens !== undefined && promptTokens > this.spec.maxPromptTokens) return void f.prompt_too_long++;
    let output = c.outputTokens;
    if (output === undefined && c.reply !== undefined && this.needOutput) output = await tok.count(c.reply);
    if (this.spec.minOutputTokens !== undefined || this.spec.maxOutputTokens !== undefined) {
      if (output === undefined) return void f.no_output_length++;
      if (this.spec.minOutputTokens !== undefined && output < this.spec.minOutputTokens) return void f.output_too_short++;
      if (this.spec.maxOutputTokens !== undefined && output > this.spec.maxOutputTokens) return void f.output_too_long++;
    }
    const entry: DatasetEntry = { prompt, promptTokens };
    // an empty reply asks for one token: max_tokens 0 is no request
    if (this.spec.outputTokens === 'dataset' && output !== undefined) entry.outputTokens = Math.max(1, output);
    this.offer(key, entry);
  }

  /** A corpus cut: every cut is kept, in the order made (the cuts are already the seeded sample). */
  keep(entry: DatasetEntry): void {
    this.info.counted++;
    // keys in order of arrival: entries() sorts by key, and offer() is never called for a corpus
    this.heap.push({ key: this.heap.length, entry });
  }

  finish(): void {
    if (this.problems.length > 0) throw new InvalidInputError(this.problems, this.spec.path);
  }

  /** The sample in key order: a uniformly random order. */
  entries(): DatasetEntry[] {
    return [...this.heap].sort((a, b) => a.key - b.key).map((x) => x.entry);
  }

  private offer(key: number, entry: DatasetEntry): void {
    const h = this.heap;
    if (h.length < this.size) {
      h.push({ key, entry });
      for (let i = h.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (h[parent]!.key >= h[i]!.key) break;
        [h[parent], h[i]] = [h[i]!, h[parent]!];
        i = parent;
      }
      return;
    }
    h[0] = { key, entry };
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < h.length && h[l]!.key > h[top]!.key) top = l;
      if (r < h.length && h[r]!.key > h[top]!.key) top = r;
      if (top === i) break;
      [h[top], h[i]] = [h[i]!, h[top]!];
      i = top;
    }
  }
}

/** The prompt as the endpoint takes it: a completion prompt joins a conversation's contents. */
function asSent(prompt: string | ChatMessage[], chat: boolean): string | ChatMessage[] {
  if (chat) return typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
  return typeof prompt === 'string' ? prompt : prompt.map((m) => m.content).join('\n\n');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

// ---- ShareGPT -----------------------------------------------------------------------------

const HUMAN = new Set(['human', 'user']);
/** turns that are no reply: the asker's and the system's */
const NOT_REPLY = new Set(['human', 'user', 'system']);

/** A conversation → its first human turn and the reply after it; null when it has none; a string: the problem. */
export function shareGptCandidate(v: unknown): Candidate | null | string {
  const example = '{"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]}';
  if (!isRecord(v)) return `expected a conversation like ${example}, found ${describeFound(v)}`;
  const turns = v['conversations'];
  if (!Array.isArray(turns)) return `expected a "conversations" list like ${example}, found ${describeFound(turns)}`;
  for (let i = 0; i < turns.length; i++) {
    const t: unknown = turns[i];
    if (!isRecord(t)) return `conversations[${i}]: expected a turn like {"from": "human", "value": "..."} (two strings), found ${describeFound(t)}`;
    for (const key of ['from', 'value']) {
      if (typeof t[key] !== 'string') return `conversations[${i}].${key}: expected a string in a turn like {"from": "human", "value": "..."}, found ${describeFound(t[key])}`;
    }
  }
  const typed = turns as { from: string; value: string }[];
  const h = typed.findIndex((t) => HUMAN.has(t.from) && t.value.trim() !== '');
  if (h === -1) return null;
  const reply = typed.slice(h + 1).find((t) => !NOT_REPLY.has(t.from));
  return { prompt: typed[h]!.value, ...(reply !== undefined && { reply: reply.value }) };
}

/** Reads the item stream's byte position for problems: elements are located by index and the bytes read so far. */
async function readShareGpt(path: string, sampler: Sampler): Promise<void> {
  // 64 kB reads and whole values only (no string chunks): fewer parser tokens alive at once, so
  // fewer survive into the old generation (a 640 MB file: ~90 MB of RSS for the stream, not more)
  const file = createReadStream(path, { highWaterMark: 64 * 1024 });
  let bytesRead = 0;
  file.on('data', (b) => (bytesRead += b.length));
  const items = file.pipe(streamArray.withParserAsStream({ streamValues: false }));
  file.on('error', (e) => items.destroy(e));
  try {
    for await (const item of items) {
      const { key, value } = item as { key: number; value: unknown };
      const c = shareGptCandidate(value);
      if (typeof c === 'string') {
        if (sampler.problem(`workload.dataset (${path}, element [${key}], read by byte ${bytesRead})`, c)) break;
        continue;
      }
      await sampler.consider(c);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== undefined) throw e;
    sampler.problem(...(await jsonSyntaxProblem(path, e as Error)));
  } finally {
    items.destroy();
    file.destroy();
  }
}

/** The exact place of a JSON syntax error (stream-json's verifier reads the file again to find it). */
async function jsonSyntaxProblem(path: string, e: Error): Promise<[string, string]> {
  const what = 'expected one JSON array of conversations, [{"conversations": [...]}, ...] (for JSONL give format openai-chat or prompts)';
  if (/top-level object should be an array/i.test(e.message)) return [`workload.dataset (${path})`, `the top level is not a JSON array: ${what}`];
  try {
    await verifyFile(path);
  } catch (v) {
    const at = v as VerifierError;
    if (typeof at.line === 'number') {
      // the verifier's message repeats the place: "ERROR at 76 (2, 21): Verifier cannot parse input: expected a value"
      const why = at.message.replace(/^ERROR at [^:]*:\s*/, '').replace(/^Verifier cannot parse input:\s*/, '');
      return [`workload.dataset (${path}:${at.line}:${at.pos}, character ${at.offset})`, `not valid JSON (${why}): ${what}`];
    }
  }
  return [`workload.dataset (${path})`, `not valid JSON (${e.message}): ${what}`];
}

// ---- JSONL: OpenAI chat, plain prompts ----------------------------------------------------

const CHAT_EXAMPLE = '{"messages": [{"role": "user", "content": "..."}], "max_tokens": 128}';
const PROMPT_EXAMPLE = '{"prompt": "...", "output_tokens": 128}';

/** One chat line → its messages (a last assistant message is the reply); a string: the problem. */
export function chatCandidate(o: unknown): Candidate | string {
  if (!isRecord(o)) return `expected an object like ${CHAT_EXAMPLE}, found ${describeFound(o)}`;
  const messages = o['messages'];
  if (!Array.isArray(messages) || messages.length === 0) return `expected a non-empty "messages" list like ${CHAT_EXAMPLE}, found ${describeFound(messages)}`;
  const out: ChatMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isRecord(m) || typeof m['role'] !== 'string' || typeof m['content'] !== 'string') {
      return `messages[${i}]: expected {"role": "user", "content": "..."} (two strings; content parts lists are not read), found ${describeFound(m)}`;
    }
    out.push({ role: m['role'], content: m['content'] });
  }
  const max = o['max_tokens'] ?? o['max_completion_tokens'];
  if (max !== undefined && !isPositiveInt(max)) return `"max_tokens" must be a whole number >= 1, found ${describeFound(max)}`;
  // a training-style line ends with the answer: the prompt is what precedes it, its length the output's
  const last = out[out.length - 1]!;
  const reply = last.role === 'assistant' ? out.pop()!.content : undefined;
  if (out.length === 0) return 'only an assistant message: expected the messages asking for it before it';
  return { prompt: out, ...(reply !== undefined && { reply }), ...(max !== undefined && { outputTokens: max }) };
}

/** One prompt line (today's format) → its prompt and output length; a string: the problem. */
export function promptCandidate(o: unknown): Candidate | string {
  if (!isRecord(o)) return `expected an object with a non-empty string "prompt" like ${PROMPT_EXAMPLE}, found ${describeFound(o)}`;
  if (typeof o['prompt'] !== 'string' || o['prompt'].length === 0) {
    return `"prompt": expected a non-empty string like ${PROMPT_EXAMPLE}, found ${describeFound(o['prompt'])}`;
  }
  const ot = o['output_tokens'] ?? o['max_tokens'];
  if (ot !== undefined && !isPositiveInt(ot)) return `"output_tokens" must be a whole number >= 1, found ${describeFound(ot)}`;
  return { prompt: o['prompt'], ...(ot !== undefined && { outputTokens: ot }) };
}

async function readJsonl(path: string, format: 'openai-chat' | 'prompts', sampler: Sampler): Promise<void> {
  const example = format === 'openai-chat' ? CHAT_EXAMPLE : PROMPT_EXAMPLE;
  const hint = `expected a JSONL file, one ${example} a line (a ShareGPT JSON file is format sharegpt)`;
  for await (const line of readLines(path, 'workload.dataset', hint)) {
    if (line.text.trim() === '') continue;
    const where = `workload.dataset (${path}:${line.number})`;
    let o: unknown;
    try {
      o = JSON.parse(line.text);
    } catch (e) {
      if (sampler.problem(where, `not JSON (${(e as Error).message}); expected ${example}`)) return;
      continue;
    }
    const c = format === 'openai-chat' ? chatCandidate(o) : promptCandidate(o);
    if (typeof c === 'string') {
      if (sampler.problem(where, c)) return;
      continue;
    }
    await sampler.consider(c);
  }
}

// ---- text corpus --------------------------------------------------------------------------

/**
 * A corpus: `sampleSize` prompts cut from it, each whole lines from a seeded random line (joined
 * with line breaks, wrapping around at the end) as many as fit the length drawn from
 * workload.promptTokens, topped up to that exact length with the tokenizer's words (the request's
 * id first). Cuts that start at the same line share text, as real prompts about one text would.
 */
async function readCorpus(path: string, sampler: Sampler, opts: DatasetOptions): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024, end: CORPUS_MAX_BYTES - 1 })) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const text = Buffer.concat(chunks, size).toString('utf8');
  // a cut at CORPUS_MAX_BYTES may split the last line: it is dropped
  const all = text.split('\n');
  if (size >= CORPUS_MAX_BYTES) all.pop();
  const lines = all.map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  sampler.info.entries = lines.length;
  if (lines.length === 0) return;
  const tok = opts.tokenizer;
  const rng = Rng.derive(opts.seed, 'corpus-cuts');
  for (let k = 0; k < opts.sampleSize; k++) {
    const target = Math.max(tok.minPromptTokens, sampleLength(opts.promptTokens, rng));
    const room = target - tok.overhead - 1;
    const start = rng.int(0, lines.length - 1);
    const cut: string[] = [];
    // whole lines while the estimate fits, then the exact count decides
    let estimate = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[(start + i) % lines.length]!;
      const n = Math.max(1, Math.ceil(line.length / 4));
      if (estimate + n > room) break;
      cut.push(line);
      estimate += n;
    }
    let tokens = cut.length > 0 ? await tok.count(cut.join('\n')) : 0;
    while (cut.length > 0 && tokens > room) {
      cut.pop();
      tokens = cut.length > 0 ? await tok.count(cut.join('\n')) : 0;
    }
    const made = tok.synthesize(target, rng, k, cut.length > 0 ? { text: cut.join('\n'), tokens } : undefined);
    const prompt = asSent(made.text, tok.endpoint === 'chat');
    sampler.keep({ prompt, promptTokens: made.tokens });
  }
}
