// Seeded differential fuzz of the client's fast paths (the learned template, the bounded
// string-search classifier for content/finish chunks and for the usage chunk) against full
// JSON parsing (`parseEveryEvent`). Every stream is random but valid: real servers' key orders
// (vLLM, llama.cpp's sorted keys, SGLang's nulls, TGI, OpenAI, completions), ids and created
// stamps that change mid-stream, content with escapes, unicode and key-like text, finish and
// stop reasons of every form, usage flat or nested, errors of every kind, SSE `id:`/`event:`
// fields, comments, LF/CRLF/CR line ends, `data:` with or without its space, compact and
// Python-spaced JSON, payloads over several `data:` lines. Each stream is read once with
// JSON.parse on every event (one write), and twice on the fast paths: in one write, and cut into
// random pieces (events split across reads). The records must agree: ok, error class and
// message, content chunk count, first chunk/token, usage, finish reason, emit stamps, and the
// size of every chunk whose content is plain ASCII without escapes. A failure names the stream's
// index and prints its bytes; `FUZZ_SEED=<n> FUZZ_ONLY=<index>` replays one stream,
// `FUZZ_STREAMS=<n>` runs more.
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OpenAIBackend, ParseStats } from '../../../src/backend/openai/client.js';
import { SseParser } from '../../../src/backend/openai/sse.js';
import { runClock } from '../../../src/core/clock.js';
import { RequestRecord } from '../../../src/core/record.js';
import { parsingBackend } from '../../helpers/backend.js';
import { sseHead, startScriptedServer, type ScriptedServer } from '../../helpers/scripted-server.js';

const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const STREAMS = Number(process.env.FUZZ_STREAMS ?? 600);
const ONLY = process.env.FUZZ_ONLY === undefined ? null : Number(process.env.FUZZ_ONLY);
const BATCH = 60;

// Shapes that once broke the fast paths (all fixed in client.ts fastChunk, kept as switches so a
// regression can be bisected): content keys not written compactly (`"content": "a"`, a payload cut
// over two `data:` lines after `"content":`, escaped key names), usage or the emit stamp placed
// before `"choices"`, non-ASCII finish reasons, emit numbers longer than 20 characters, and deltas
// with two non-empty content fields (sized as their sum, as JSON.parse does).
const AVOID_CONTENT_KEY_NOT_COMPACT = false;
const AVOID_USAGE_BEFORE_CHOICES = false;
const AVOID_NON_ASCII_FINISH_REASONS = false;
const AVOID_LONG_EMIT_NUMBERS = false;
const SKIP_SIZE_OF_MULTI_FIELD_CHUNKS = false;

// -- a tiny seeded PRNG ------------------------------------------------------------------

type Rng = () => number;
function mulberry32(seed: number): Rng {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const streamSeed = (index: number): number => (Math.imul(index + 1, 0x9e3779b1) ^ BASE_SEED) | 0;
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const chance = (r: Rng, p: number): boolean => r() < p;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
function weighted<T>(r: Rng, xs: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of xs) total += w;
  let x = r() * total;
  for (const [v, w] of xs) {
    x -= w;
    if (x < 0) return v;
  }
  return xs[xs.length - 1]![0];
}
function shuffled<T>(r: Rng, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(r, 0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// -- JSON in the styles servers write ----------------------------------------------------------

/** a number written as is (`7.0`, `1e3`): what JSON.stringify would not produce */
class Raw {
  constructor(readonly text: string) {}
}
interface Style {
  comma: string;
  colon: string;
  /** non-ASCII as \uXXXX (Python's ensure_ascii) */
  ascii: boolean;
  /** another style for the values of these keys (an envelope built by hand around a json.dumps'd part) */
  inner?: { keys: readonly string[]; style: Style };
}
const COMPACT: Style = { comma: ',', colon: ':', ascii: false }; // JS, pydantic, serde, nlohmann
const PY: Style = { comma: ', ', colon: ': ', ascii: true }; // json.dumps defaults
const PY_UTF8: Style = { comma: ', ', colon: ': ', ascii: false }; // json.dumps(ensure_ascii=False)
const COMPACT_ASCII: Style = { comma: ',', colon: ':', ascii: true }; // json.dumps(separators=(',', ':'))
const COMMA_SPACE: Style = { comma: ', ', colon: ':', ascii: false };
const COLON_SPACE: Style = { comma: ',', colon: ': ', ascii: false };
const PY_INSIDE: Style = { ...COMPACT, inner: { keys: ['delta', 'usage', 'error', 'logprobs'], style: PY_UTF8 } };

// marks after every structural comma and every key's colon, where a data payload may be cut
// over several `data:` lines (JSON.stringify never writes these control characters raw)
const SENT = '\u0000';
const SENT_COLON = '\u0002';
const plain = (marked: string): string => marked.replace(/[\u0000\u0002]/g, '');

const jsonString = (v: string, s: Style): string => {
  const j = JSON.stringify(v);
  return s.ascii ? j.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : j;
};
function ser(v: unknown, s: Style): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => ser(x, s)).join(s.comma + SENT)}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => jsonString(k, s) + s.colon + SENT_COLON + ser(x, s.inner?.keys.includes(k) ? s.inner.style : s))
      .join(s.comma + SENT)}}`;
  return typeof v === 'string' ? jsonString(v, s) : JSON.stringify(v);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw);
function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (!isObj(v)) return v;
  const o: Obj = {};
  for (const k of Object.keys(v).sort()) o[k] = sortDeep(v[k]);
  return o;
}
function shuffleDeep(r: Rng, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffleDeep(r, x));
  if (!isObj(v)) return v;
  const o: Obj = {};
  for (const k of shuffled(r, Object.keys(v))) o[k] = shuffleDeep(r, v[k]);
  return o;
}

// -- content --------------------------------------------------------------------------------

const WORDS = ['Hello', ' world', ' the', ' a', '.', ',', ' 42', ' model', 'ing', ' token', ' I', "'s", ' -', 'x', ' of', ' to'];
const TRICKY = [
  '"', 'say "hi"', 'end"', '"start', '\\', 'a\\', '\\\\', '\\"', 'C:\\path\\', 'back\\slash', '\\u2603', '\\n',
  '\n', 'line\nbreak', '\n\n', '\t', '\r\n', '\r', '\u0001', '\u001f', '\u007f', '\b\f',
  'é', '日本語', '✓ ok', '😀', 'naïve café', '\u2028', '\u2603', 'ÿ', '\u00a0', '\ud83d', 'Ω\u0301', '\ufeff',
  '"finish_reason":null}]', '"finish_reason":"stop"}]}', '"usage"', '"usage":{"prompt_tokens":1,"completion_tokens":2}',
  '"error"', '"error":{"message":"x"}', '"choices":[{', '"choices":[]', '"content":"', '"text":"x"',
  '"reasoning_content":"', '}]}', '"},"finish_reason":null}]}', ',"stop_reason":null', '"inferload_emit_ms":5',
  'data: [DONE]', '[DONE]', '\n\ndata: {"error":1}\n\n', ': ping', 'error: boom', '{"a":1}', 'null', ' ', '  ',
  'x'.repeat(150), 'y'.repeat(99),
];
const ASCII = 'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,;:!?-_"\\{}[]/\'`~@#$%^&*()+=<>|';
const UNICODE = ['é', 'ü', 'ß', '日', '本', '語', '✓', '😀', '🚀', '\u2028', '\u0000', '\u001f', '\uffff', '\u00ff', 'Ω', '\u0301', 'Ж', '\u200b'];

/** `tricky`: how often the content is something else than a plain word (per stream) */
function content(r: Rng, tricky: number): string {
  if (!chance(r, tricky)) return pick(r, WORDS);
  const k = 0.5 + r() * 0.5;
  if (k < 0.54) return '';
  if (k < 0.65) return Array.from({ length: int(r, 1, 12) }, () => pick(r, [...ASCII])).join('');
  if (k < 0.75) return Array.from({ length: int(r, 1, 6) }, () => (chance(r, 0.5) ? pick(r, UNICODE) : pick(r, [...ASCII]))).join('');
  return pick(r, TRICKY);
}

const ALL_FINISH_REASONS: readonly (readonly [string, number])[] = [
  ['stop', 10], ['length', 10], ['tool_calls', 2], ['content_filter', 1], ['eos_token', 1], ['abort', 1], ['', 1],
  ['stop_sequence', 1], ['we\\ird', 1], ['quo"te', 1], ['x'.repeat(120), 1], ['end_turn', 1], ['}]', 1], ['arrêt', 1], ['停止', 1],
];
const FINISH_REASONS = AVOID_NON_ASCII_FINISH_REASONS ? ALL_FINISH_REASONS.filter(([f]) => /^[\x00-\x7f]*$/.test(f)) : ALL_FINISH_REASONS;
const STOP_REASONS: readonly unknown[] = [null, null, 128001, 151645, 0, -1, '</s>', '<|im_end|>', '\n\n', 'Observation:', 'x\\"y', new Raw('1.5'), 'ü', '}]', new Raw('-7'), true];
const ERROR_MESSAGES = ['boom', 'CUDA out of memory', 'quote " and \\ backslash', 'ünïcödé ✓', '', 'x'.repeat(300), 'line\nbreak'];

function errorValue(r: Rng): unknown {
  const message = pick(r, ERROR_MESSAGES);
  return weighted<unknown>(r, [
    [{ message, type: 'InternalServerError', code: 500 }, 3],
    [{ object: 'error', message, type: 'BadRequestError', param: null, code: 400 }, 2],
    [{ code: 500, message, type: 'server_error' }, 1],
    [message, 1],
    [{ message: null, detail: message }, 1],
    [{}, 1],
  ]);
}

function usageObj(r: Rng, completion: number): Obj {
  const prompt = int(r, 0, 5000);
  const total = prompt + completion;
  return weighted<Obj>(r, [
    [{ prompt_tokens: prompt, total_tokens: total, completion_tokens: completion }, 4], // vLLM order
    [{ prompt_tokens: prompt, completion_tokens: completion, total_tokens: total }, 2],
    [{ completion_tokens: completion, prompt_tokens: prompt, total_tokens: total }, 1], // sorted
    [{ prompt_tokens: prompt, total_tokens: total, completion_tokens: completion, prompt_tokens_details: { cached_tokens: int(r, 0, prompt) } }, 1],
    [{ prompt_tokens: prompt, total_tokens: total, completion_tokens: completion, prompt_tokens_details: null, reasoning_tokens: 0 }, 1], // SGLang
    [
      {
        prompt_tokens: prompt, completion_tokens: completion, total_tokens: total,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: int(r, 0, completion), audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      1,
    ], // OpenAI
    [{ prompt_tokens_details: { cached_tokens: 1 }, prompt_tokens: prompt, completion_tokens: completion }, 1],
    [{ prompt_tokens: null, completion_tokens: completion, total_tokens: null }, 1],
    [{ prompt_tokens: prompt, completion_tokens: null, total_tokens: null, prompt_tokens_details: null }, 1],
    [{ prompt_tokens: 2.5, completion_tokens: completion + 0.5 }, 1],
    [{ prompt_tokens: new Raw(`${prompt}.0`), completion_tokens: new Raw(`${completion}.0`), total_tokens: total }, 1],
    [{ prompt_tokens: new Raw(`${prompt}e0`), completion_tokens: new Raw('1E2') }, 1],
    [{ prompt_tokens: 1234567890123456, completion_tokens: 98765432109876 }, 1],
    [{ total_tokens: total }, 1],
    [{}, 1],
    [{ prompt_tokens: prompt, completion_tokens: completion, completion_tokens_details: null }, 1],
  ]);
}

function emitValue(r: Rng, i: number): unknown {
  const values: [unknown, number][] = [
    [1_700_000_000_000 + i * 10 + Math.floor(r() * 1000) / 1000, 8],
    [1_700_000_000_000 + i * 10, 2],
    [Math.floor(r() * 1e6) / 1e3, 1],
    [new Raw(`1.7e12`), 1],
    [null, 1],
    [1e21 + i * 1e6, 1],
    [1.25e-7, 1],
    [-0.000001234567890123, 1],
    [1.2345678901234567e-7, 1],
  ];
  return weighted(r, AVOID_LONG_EMIT_NUMBERS ? values.filter(([v]) => ser(v, COMPACT).length <= 20) : values);
}

// -- streams --------------------------------------------------------------------------------

type Profile = 'vllm' | 'llamacpp' | 'sglang' | 'tgi' | 'openai' | 'minimal' | 'completions' | 'shuffled';
type ContentKind = 'content' | 'reasoning_content' | 'reasoning' | 'both' | 'text' | 'tool';
type ErrorKind = 'event' | 'object-error' | 'sse-field' | 'sse-field-with-data' | 'in-chunk-before' | 'in-chunk-after' | 'error-null';

/** one SSE event as the client must understand it (for the expected chunk count and sizes) */
interface OracleEvent {
  data?: unknown;
  errorField?: boolean;
}

interface Generated {
  index: number;
  profile: Profile;
  endpoint: 'chat' | 'completions';
  text: string;
  events: OracleEvent[];
  /** byte offsets to cut the body at, for the split delivery */
  cuts: number[];
  /** each event's bytes in the body, [start, end), up to and with its blank line (comments and `retry:` blocks left out) */
  eventBytes: [number, number][];
  dataEvents: number;
}

function generate(index: number): Generated {
  const r = mulberry32(streamSeed(index));
  const profile = weighted<Profile>(r, [
    ['vllm', 4], ['llamacpp', 2], ['sglang', 2], ['tgi', 2], ['openai', 1], ['minimal', 1], ['completions', 2], ['shuffled', 1],
  ]);
  const completions = profile === 'completions';
  // a third of the streams are clean (what most servers send): long runs for the template path
  const clean = chance(r, 0.35);
  const noisy = <T,>(quiet: T, v: () => T): T => (clean ? quiet : v());
  const style = noisy(COMPACT, () => weighted(r, [[COMPACT, 12], [PY, 2], [PY_UTF8, 1], [COMPACT_ASCII, 1], [COMMA_SPACE, 1], [COLON_SPACE, 1], ...(AVOID_CONTENT_KEY_NOT_COMPACT ? [] : ([[PY_INSIDE, 1]] as const))] as const));
  const le = weighted(r, [['\n', 6], ['\r\n', 3], ['\r', 1]] as const);
  const pDataSpace = weighted(r, [[1, 6], [0, 2], [0.5, 1]] as const);
  const pChange = noisy(0, () => weighted(r, [[0, 5], [0.05, 2], [0.3, 1]] as const));
  const pSseId = noisy(0, () => weighted(r, [[0, 6], [0.1, 1], [1, 1]] as const));
  const sseIdConst = chance(r, 0.5);
  const pEventName = noisy(0, () => weighted(r, [[0, 6], [0.1, 1], [1, 1]] as const));
  const pPing = noisy(0, () => weighted(r, [[0, 5], [0.1, 2], [0.4, 1]] as const));
  const pInnerComment = noisy(0, () => weighted(r, [[0, 8], [0.1, 1]] as const));
  const pMultiline = noisy(0, () => weighted(r, [[0, 8], [0.1, 1]] as const));
  const pPad = noisy(0, () => weighted(r, [[0, 8], [0.2, 1]] as const));
  const pRetry = noisy(0, () => weighted(r, [[0, 8], [0.05, 1]] as const));
  const stopMode = weighted(r, [['none', 2], ['finish', 2], ['every', 1]] as const);
  const continuousUsage = noisy(false, () => chance(r, 0.12));
  const emit = noisy(false, () => chance(r, 0.15));
  const usagePlace = weighted(r, [['final', 5], ['none', 2], ['in-finish', 2], ['both', 1]] as const);
  const openaiUsageNull = chance(r, 0.5);
  const contentMode = completions
    ? 'text'
    : weighted(r, [['content', 6], ['reasoning_content', 1], ['reasoning', 1], ['think', 2]] as const);
  const nContent = weighted(r, [[0, 1], [int(r, 1, 3), 5], [int(r, 4, 30), 14]] as const);
  const thinkUntil = int(r, 0, nContent);
  const tricky = noisy(0.1, () => weighted(r, [[0.05, 2], [0.2, 2], [0.6, 3]] as const));
  const role = !completions && chance(r, 0.6);
  const pToolCall = completions ? 0 : noisy(0, () => weighted(r, [[0, 8], [0.2, 1], [1, 1]] as const));
  const withLogprobs = (profile === 'vllm' || profile === 'openai' || profile === 'shuffled' || completions) && noisy(false, () => chance(r, 0.1));
  const pSecondChoice = noisy(0, () => weighted(r, [[0, 12], [0.3, 1]] as const)); // n=2: chunks of choice 1 among those of choice 0
  // llama.cpp: no timings, timings in the last chunk, or (timings_per_token) new ones in every chunk
  const timings = profile === 'llamacpp' ? weighted(r, [['none', 3], ['last', 1], ['every', 1]] as const) : 'none';
  let finishing = false;
  /** content chunks so far */
  let emitted = 0;
  const finishChunk = chance(r, 0.85);
  const errorKind: ErrorKind | null = chance(r, 0.15)
    ? weighted<ErrorKind>(r, [['event', 3], ['object-error', 1], ['sse-field', 2], ['sse-field-with-data', 1], ['in-chunk-before', 2], ['in-chunk-after', 2], ['error-null', 2]])
    : null;
  const errorAt = int(r, 0, nContent);

  const meta = {
    id: profile === 'tgi' ? '' : `chatcmpl-${Math.floor(r() * 2 ** 32).toString(16)}`,
    created: int(r, 1_700_000_000, 1_800_000_000),
    model: pick(r, ['m', 'meta-llama/Llama-3.1-8B-Instruct', 'Qwen/Qwen3-32B', 'gpt-4o-mini', 'tgi']),
    fp: pick(r, ['2.3.1-native', 'fp_44709d6fcb', 'b4567']),
  };
  const maybeChange = (): void => {
    if (!chance(r, pChange)) return;
    if (chance(r, 0.5)) meta.created++;
    else meta.id = `chatcmpl-${Math.floor(r() * 2 ** 32).toString(16)}`;
  };

  const kindFields = (kind: ContentKind, s: string): Obj => {
    switch (kind) {
      case 'content':
        return { content: s };
      case 'reasoning_content':
        return weighted<Obj>(r, [[{ reasoning_content: s }, 2], [{ content: null, reasoning_content: s }, 1], [{ reasoning_content: s, content: null }, 1]]);
      case 'reasoning':
        return weighted<Obj>(r, [[{ reasoning: s }, 3], [{ reasoning: s, reasoning_content: s }, 1]]);
      case 'both': {
        const c = content(r, tricky);
        return chance(r, 0.5) ? { reasoning_content: s, content: c } : { content: c, reasoning_content: s };
      }
      case 'text':
        return { text: s };
      case 'tool': {
        const call = { index: 0, ...(chance(r, 0.3) ? { id: 'call_1', type: 'function' } : {}), function: { ...(chance(r, 0.3) ? { name: 'get_weather' } : {}), arguments: s } };
        return chance(r, 0.5) ? { tool_calls: [call] } : { content: null, tool_calls: [call] };
      }
    }
  };
  const logprobs = (fields: Obj): unknown => {
    if (!withLogprobs) return null;
    const token = String(fields.content ?? fields.text ?? '');
    if (completions) return { text_offset: [0], token_logprobs: [-0.25], tokens: [token], top_logprobs: [{ [token]: -0.25, text: -3, content: -4 }] };
    return { content: [{ token, logprob: -0.25, bytes: [...Buffer.from(token)], top_logprobs: [{ token: 'text', logprob: -3, bytes: [116] }] }] };
  };
  const delta = (fields: Obj): Obj => {
    if (profile === 'sglang') return { role: null, content: fields.content ?? null, reasoning_content: fields.reasoning_content ?? null, tool_calls: fields.tool_calls ?? null, ...('reasoning' in fields ? { reasoning: fields.reasoning } : {}) };
    if (profile === 'tgi') return { role: 'assistant', ...fields };
    return fields;
  };
  const choice = (fields: Obj, finish: string | null, last: boolean): Obj => {
    const index = chance(r, pSecondChoice) ? 1 : 0;
    const stop = stopMode === 'every' || (stopMode === 'finish' && last) ? { stop_reason: last ? pick(r, STOP_REASONS) : null } : {};
    switch (profile) {
      case 'completions':
        return { index, text: fields.text ?? '', logprobs: logprobs(fields), finish_reason: finish, ...stop };
      case 'vllm':
      case 'shuffled':
        return { index, delta: delta(fields), logprobs: logprobs(fields), finish_reason: finish, ...stop };
      case 'sglang':
        return { index, delta: delta(fields), logprobs: null, finish_reason: finish, matched_stop: last ? pick(r, [null, 128001, '</s>', '\n']) : null };
      case 'tgi':
      case 'openai':
        return { index, delta: delta(fields), logprobs: logprobs(fields), finish_reason: finish };
      case 'minimal':
        return { index, delta: delta(fields), finish_reason: finish };
      case 'llamacpp':
        return { delta: delta(fields), finish_reason: finish, index };
    }
  };
  interface Extra {
    usage?: unknown;
    emit?: unknown;
    error?: { value: unknown; before: boolean };
  }
  const top = (choices: unknown[], extra: Extra): unknown => {
    const o: Obj = {};
    if (extra.error?.before) o.error = extra.error.value;
    const object = completions ? 'text_completion' : 'chat.completion.chunk';
    switch (profile) {
      case 'tgi':
        Object.assign(o, { object, id: meta.id, created: meta.created, model: meta.model, system_fingerprint: meta.fp, choices, usage: null });
        break;
      case 'openai':
        Object.assign(o, { id: meta.id, object, created: meta.created, model: meta.model, system_fingerprint: meta.fp, choices });
        if (openaiUsageNull) o.usage = null;
        break;
      case 'sglang':
        Object.assign(o, { id: meta.id, object, created: meta.created, model: meta.model, choices, usage: null });
        break;
      case 'minimal':
        o.choices = choices;
        break;
      case 'llamacpp':
        Object.assign(o, { choices, created: meta.created, id: meta.id, model: meta.model, system_fingerprint: meta.fp, object });
        break;
      default:
        Object.assign(o, { id: meta.id, object, created: meta.created, model: meta.model, choices });
    }
    if ('usage' in extra) o.usage = extra.usage;
    if (extra.emit !== undefined) o.inferload_emit_ms = extra.emit;
    if (extra.error && !extra.error.before) o.error = extra.error.value;
    if (profile === 'openai' && chance(r, 0.3)) o.obfuscation = 'aGVsbG8';
    if (profile === 'llamacpp') {
      if (choices.length > 0 && (timings === 'every' || (timings === 'last' && finishing)))
        o.timings = { prompt_n: 3, prompt_ms: 1.25, predicted_n: emitted + 1, predicted_ms: (emitted + 1) * 11.3, predicted_per_second: 88.5 };
      return sortDeep(o);
    }
    if (profile !== 'shuffled') return o;
    const s = shuffleDeep(r, o) as Obj;
    if (!AVOID_USAGE_BEFORE_CHOICES || choices.length === 0) return s;
    // the known bug: keep a usage object or an emit stamp after the choices
    const keys = Object.keys(s);
    const late = keys.filter((k) => (k === 'usage' || k === 'inferload_emit_ms') && s[k] !== null && keys.indexOf(k) < keys.indexOf('choices'));
    const out: Obj = {};
    for (const k of keys) if (!late.includes(k)) out[k] = s[k];
    for (const k of late) out[k] = s[k];
    return out;
  };

  // the events, as objects (data) or special events
  type Ev = { data: unknown } | { errorField: string; data?: unknown } | { done: true };
  const evs: Ev[] = [];
  const chunkExtra = (): Extra => {
    const extra: Extra = {};
    if (continuousUsage) extra.usage = usageObj(r, emitted);
    if (emit) extra.emit = emitValue(r, emitted);
    return extra;
  };
  const errorExtra = (extra: Extra): Extra => {
    if (errorKind === 'in-chunk-before' || errorKind === 'in-chunk-after') extra.error = { value: errorValue(r), before: errorKind === 'in-chunk-before' };
    else if (errorKind === 'error-null') extra.error = { value: null, before: chance(r, 0.5) };
    return extra;
  };
  const standaloneError = (): void => {
    switch (errorKind) {
      case 'event':
        evs.push({ data: { error: errorValue(r) } });
        break;
      case 'object-error':
        evs.push({ data: errorValue(r) });
        break;
      case 'sse-field': {
        const v = errorValue(r);
        evs.push({ errorField: typeof v === 'string' && chance(r, 0.5) ? v.replace(/[\r\n]/g, ' ') : plain(ser(v, style)) });
        break;
      }
      case 'sse-field-with-data':
        evs.push({ errorField: 'boom', data: top([choice(kindFields('content', 'z'), null, false)], {}) });
        break;
      default:
    }
  };

  if (role) {
    maybeChange();
    const roleDelta = weighted<Obj>(r, [[{ role: 'assistant', content: '' }, 3], [{ role: 'assistant' }, 1], [{ role: 'assistant', content: null }, 1], [{ role: 'assistant', content: '', refusal: null }, 1]]);
    evs.push({ data: top([choice(roleDelta, null, false)], {}) });
  }
  for (let i = 0; i < nContent; i++) {
    maybeChange();
    const atError = errorKind !== null && i === errorAt;
    if (atError) standaloneError();
    const kind: ContentKind = chance(r, pToolCall)
      ? 'tool'
      : contentMode === 'think'
        ? i < thinkUntil
          ? 'reasoning_content'
          : i === thinkUntil && chance(r, 0.5)
            ? 'both'
            : 'content'
        : contentMode;
    const s = content(r, tricky);
    const extra = chunkExtra();
    evs.push({ data: top([choice(kindFields(kind, s), null, false)], atError ? errorExtra(extra) : extra) });
    emitted++;
  }
  const atEnd = errorKind !== null && errorAt === nContent;
  if (atEnd) standaloneError();
  if (finishChunk) {
    maybeChange();
    finishing = true;
    const fields: Obj = completions
      ? { text: chance(r, 0.5) ? '' : content(r, tricky) }
      : weighted<Obj>(r, [[{}, 2], [{ content: '' }, 2], [{ content: content(r, tricky) }, 2]]);
    const extra: Extra = chance(r, 0.3) ? chunkExtra() : {};
    if (usagePlace === 'in-finish' || usagePlace === 'both') extra.usage = usageObj(r, emitted);
    evs.push({ data: top([choice(fields, weighted(r, FINISH_REASONS), true)], atEnd ? errorExtra(extra) : extra) });
  }
  if (usagePlace === 'final' || usagePlace === 'both') {
    maybeChange();
    evs.push({ data: top([], { usage: usageObj(r, emitted) }) });
  }
  evs.push({ done: true });

  // the SSE text
  let seq = 0;
  const data = (): string => (chance(r, pDataSpace) ? 'data: ' : 'data:');
  const parts: string[] = [];
  if (chance(r, pRetry)) parts.push(`retry: 3000${le}${le}`);
  if (chance(r, 0.05)) parts.push(le); // a stray blank line first
  const oracle: OracleEvent[] = [];
  let dataEvents = 0;
  const eventBytes: [number, number][] = [];
  const eventPart = (block: string): void => {
    const start = parts.reduce((n, p) => n + Buffer.byteLength(p), 0);
    parts.push(block);
    eventBytes.push([start, start + Buffer.byteLength(block)]);
  };
  for (const ev of evs) {
    if (chance(r, pPing)) parts.push(`${pick(r, [': ping', ':', ': keep-alive'])}${le}${le}`);
    const lines: string[] = [];
    if (chance(r, pSseId)) lines.push(`id: ${sseIdConst ? 'x' : seq++}`);
    if (chance(r, pEventName)) lines.push(`event: ${pick(r, ['message', 'chunk', 'completion'])}`);
    if (chance(r, pInnerComment)) lines.push(': keep-alive');
    if ('done' in ev) {
      lines.push(`${data()}[DONE]`);
      eventPart(lines.join(le) + le + le);
      dataEvents++;
      break;
    }
    if ('errorField' in ev) lines.push(`error: ${ev.errorField}`);
    if (ev.data !== undefined) {
      const marked = ser(ev.data, style);
      const at: number[] = [];
      for (let k = 0; k < marked.length; k++) {
        const c = marked[k];
        if (c === SENT || (c === SENT_COLON && !AVOID_CONTENT_KEY_NOT_COMPACT)) at.push(k);
      }
      const [lead, trail] = chance(r, pPad) ? [pick(r, [' ', '  ', '\t']), pick(r, [' ', '\t', '  '])] : ['', ''];
      if (at.length > 0 && chance(r, pMultiline)) {
        const k = pick(r, at);
        lines.push(data() + lead + plain(marked.slice(0, k)), data() + plain(marked.slice(k + 1)) + trail);
      } else lines.push(data() + lead + plain(marked) + trail);
      dataEvents++;
    }
    if (chance(r, pRetry)) lines.push('retry: 1000');
    if ('errorField' in ev && ev.data !== undefined && chance(r, 0.5)) lines.reverse(); // the error line after the data line
    eventPart(lines.join(le) + le + le);
    oracle.push('errorField' in ev ? { errorField: true, data: ev.data } : { data: ev.data });
  }
  const text = parts.join('');

  // where to cut the body: a few random places, or a run of tiny pieces somewhere
  const len = Buffer.byteLength(text);
  const cuts = new Set<number>();
  const nCuts = int(r, 1, 40);
  for (let k = 0; k < nCuts; k++) cuts.add(int(r, 1, Math.max(1, len - 1)));
  if (chance(r, 0.5)) {
    const from = int(r, 0, Math.max(0, len - 120));
    for (let at = from; at < Math.min(len, from + 120); at += int(r, 1, 3)) if (at > 0) cuts.add(at);
  }
  return { index, profile, endpoint: completions ? 'completions' : 'chat', text, events: oracle, cuts: [...cuts].sort((a, b) => a - b), eventBytes, dataEvents };
}

/**
 * The content chunks the client must record, in order, from the events as generated; for each,
 * whether its size is exact on every path (one content field, printable ASCII, no escapes).
 */
function expectedChunks(events: OracleEvent[]): { exactSize: boolean }[] {
  const out: { exactSize: boolean }[] = [];
  for (const ev of events) {
    if (ev.errorField) break;
    const o = ev.data as { error?: unknown; choices?: unknown } | undefined;
    if (!isObj(o)) break; // not a JSON object: invalid_response
    if (o.error !== undefined && o.error !== null) break;
    if (!Array.isArray(o.choices) || o.choices.length === 0) continue;
    const c = o.choices[0] as { delta?: Obj; text?: unknown };
    const vals = [c.delta?.content, c.delta?.reasoning_content, c.delta?.reasoning, c.text].filter((v): v is string => typeof v === 'string' && v.length > 0);
    if (vals.length === 0) continue;
    out.push({ exactSize: (vals.length === 1 || !SKIP_SIZE_OF_MULTI_FIELD_CHUNKS) && vals.every((v) => /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(v)) });
  }
  return out;
}

// -- the client against a scripted server --------------------------------------------------------

let server: ScriptedServer;
/** what the next request gets: the body, and where to cut it (null: one write) */
let next: { body: Buffer; cuts: number[] | null } = { body: Buffer.alloc(0), cuts: null };
const clock = runClock();
const backends = new Map<string, OpenAIBackend>();
function backend(endpoint: 'chat' | 'completions', parseEveryEvent: boolean, transport: 'native' | 'undici' = 'native'): OpenAIBackend {
  const key = `${endpoint}/${parseEveryEvent}/${transport}`;
  let b = backends.get(key);
  if (!b) {
    b = parsingBackend(server.baseUrl, endpoint, parseEveryEvent, clock, transport);
    backends.set(key, b);
  }
  return b;
}

const totals = {
  streams: 0,
  dataEvents: 0,
  requests: 0,
  pieces: 0,
  splitReads: 0,
  /** split delivery: events the client read whole that the generator's cuts fall inside */
  cutEvents: 0,
  /** split delivery: events whose bytes reached the parser in more than one push */
  splitEvents: 0,
  fast: { template: 0, search: 0, json: 0 } as ParseStats,
};
/** the sizes of the parser's pushes (the client's reads) since the current request was sent */
let pushed: number[] = [];

beforeAll(async () => {
  server = await startScriptedServer(async (_q, res) => {
    // captured now: the requests come one at a time, but a previous response may still be
    // writing its pieces after the client took its [DONE]
    const { body, cuts } = next;
    sseHead(res);
    if (cuts === null) {
      res.end(body);
      return;
    }
    let closed = false;
    let wake = (): void => undefined;
    res.on('close', () => {
      closed = true;
      wake();
    });
    let at = 0;
    for (const c of [...cuts, body.length]) {
      if (closed) return;
      // Each piece is its own HTTP chunk, and so its own read on the client (undici hands the
      // parser every chunk's data on its own), only if no other write joins it: Node 24 corks a
      // response for the rest of the tick at its first write and sends all the writes made
      // meanwhile as ONE chunk (Node 20 and 22 framed every write). So the next piece waits
      // until this one has been written to the socket.
      await new Promise<void>((resolve) => {
        wake = resolve;
        res.write(body.subarray(at, c), () => resolve());
      });
      at = c;
    }
    if (!closed) res.end();
  });
  const push = SseParser.prototype.push;
  vi.spyOn(SseParser.prototype, 'push').mockImplementation(function (this: SseParser, chunk: Buffer) {
    pushed.push(chunk.length);
    push.call(this, chunk);
  });
});
afterAll(async () => {
  vi.restoreAllMocks();
  for (const b of backends.values()) await b.close();
  await server.close();
  const f = totals.fast;
  console.log(
    `fast-path fuzz: ${totals.streams} streams, ${totals.dataEvents} data events each read 4 ways (${totals.requests} requests); ` +
      `split delivery: ${totals.pieces} writes -> ${totals.splitReads} reads, ${totals.splitEvents} events split across reads (cut: ${totals.cutEvents}); fast-path events: template ${f.template}, search ${f.search}, json ${f.json}`,
  );
});

/**
 * One read of `g`'s stream. Split: one HTTP chunk per piece. Through undici every chunk reaches
 * the parser on its own (the parser's splits are tested, and counted); through the native
 * transport the chunks that arrive in one socket read are joined in place first (its chunked
 * decoding is tested).
 */
async function read(g: Generated, parseEveryEvent: boolean, split: boolean, transport: 'native' | 'undici' = 'native') {
  const body = Buffer.from(g.text, 'utf8');
  next = { body, cuts: split ? g.cuts : null };
  const b = backend(g.endpoint, parseEveryEvent, transport);
  const before = b.parseStats();
  pushed = [];
  const r = await new Promise<RequestRecord>((resolve) =>
    b.send({ prompt: 'x', maxTokens: 4, promptTokens: 1 }, new RequestRecord(0, clock.now(), 1, false), resolve),
  );
  const after = b.parseStats();
  totals.requests++;
  if (split && transport === 'undici') {
    totals.pieces += g.cuts.length + 1;
    totals.splitReads += pushed.length;
    // where the reads ended, in body bytes; the client stops reading at [DONE] or an error
    const ends: number[] = [];
    let got = 0;
    for (const n of pushed) ends.push((got += n));
    const inside = (at: readonly number[], [start, end]: [number, number]): boolean => at.some((x) => x > start && x < end);
    for (const span of g.eventBytes) {
      if (span[1] > got) break;
      if (inside(g.cuts, span)) totals.cutEvents++;
      if (inside(ends, span)) totals.splitEvents++;
    }
  }
  if (!parseEveryEvent) {
    totals.fast.template += after.template - before.template;
    totals.fast.search += after.search - before.search;
    totals.fast.json += after.json - before.json;
  }
  return {
    summary: {
      ok: r.ok,
      errorClass: r.errorClass,
      errorMessage: r.errorMessage,
      chunks: r.chunkUs.length,
      firstChunk: !Number.isNaN(r.firstChunkUs),
      firstToken: !Number.isNaN(r.firstTokenUs),
      outputTokensUsage: r.outputTokensUsage,
      promptTokensUsage: r.promptTokensUsage,
      finishReason: r.finishReason,
      emitMs: r.emitMs,
    },
    chars: r.chunkChars,
  };
}

type Summary = Awaited<ReturnType<typeof read>>['summary'];

/** The differences between the fast reads and the full read of one stream, as text (empty: none). */
async function compare(g: Generated): Promise<string[]> {
  const full = await read(g, true, false);
  const problems: string[] = [];
  const want = expectedChunks(g.events);
  if (full.summary.chunks !== want.length) problems.push(`JSON path recorded ${full.summary.chunks} content chunks, the generator expected ${want.length}`);
  for (const [split, transport] of [[false, 'native'], [true, 'undici'], [true, 'native']] as const) {
    const fast = await read(g, false, split, transport);
    const how = split ? `fast path, ${g.cuts.length + 1} chunks (${transport})` : 'fast path, one write';
    const diff = Object.keys(full.summary).filter((k) => !isDeepStrictEqual(fast.summary[k as keyof Summary], full.summary[k as keyof Summary]));
    if (diff.length > 0) {
      for (const k of diff)
        problems.push(`${how}: ${k} is ${JSON.stringify(fast.summary[k as keyof Summary])}, JSON says ${JSON.stringify(full.summary[k as keyof Summary])}`);
      continue;
    }
    for (let i = 0; i < Math.min(want.length, full.chars.length); i++) {
      if (want[i]!.exactSize && fast.chars[i] !== full.chars[i])
        problems.push(`${how}: chunk ${i} has ${fast.chars[i]} chars, JSON says ${full.chars[i]} (plain ASCII content)`);
    }
  }
  return problems;
}

describe('fast paths vs full JSON parsing, on random valid streams', () => {
  const indexes = ONLY !== null ? [ONLY] : Array.from({ length: STREAMS }, (_, i) => i);
  for (let b = 0; b < indexes.length; b += BATCH) {
    const batch = indexes.slice(b, b + BATCH);
    it(`streams ${batch[0]}..${batch[batch.length - 1]} (seed ${BASE_SEED})`, async () => {
      const failures: string[] = [];
      for (const index of batch) {
        const g = generate(index);
        totals.streams++;
        totals.dataEvents += g.dataEvents;
        const problems = await compare(g);
        if (problems.length > 0)
          failures.push(
            `stream ${index} (${g.profile}; replay: FUZZ_SEED=${BASE_SEED} FUZZ_ONLY=${index}):\n  ${problems.join('\n  ')}\n  stream text: ${JSON.stringify(g.text)}\n  cuts: ${JSON.stringify(g.cuts)}`,
          );
      }
      if (failures.length > 0) {
        console.error(failures.join('\n\n'));
        expect.fail(`${failures.length} of ${batch.length} streams disagree; first:\n${failures[0]}`);
      }
    });
  }

  it.skipIf(ONLY !== null)('took every path often, and split events across reads', () => {
    // a generator that drifted into JSON-only streams would compare nothing
    expect(totals.fast.template).toBeGreaterThan(totals.streams);
    expect(totals.fast.search).toBeGreaterThan(totals.streams);
    expect(totals.fast.json).toBeGreaterThan(totals.streams);
    // the split delivery must split events: the cuts fall inside many of them, and the reads
    // must follow the cuts (a transport that joins the pieces, as Node 24's HTTP server did
    // with writes in one tick, leaves the split reads comparing little more than one write)
    expect(totals.cutEvents).toBeGreaterThan(2 * totals.streams);
    expect(totals.splitEvents).toBeGreaterThanOrEqual(0.95 * totals.cutEvents);
  });
});
