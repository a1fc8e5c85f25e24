// Trace replay: arrival times and lengths from a production trace, so yesterday's traffic can be
// replayed against tomorrow's deployment. Formats: the Azure LLM inference trace CSV
// (TIMESTAMP,ContextTokens,GeneratedTokens), the Mooncake trace JSONL (timestamp in ms,
// input_length, output_length, hash_ids) and a generic JSONL ({t, prompt_tokens, output_tokens,
// prompt?}).
//
// A trace is read twice, each time streamed (a trace can be millions of lines): a scan before the
// run checks every record of the replayed window (a bad file is exit 104 before any request is
// sent), learns the window's length and its arrival rate over time; the replay then reads it again
// as the run goes, one record ahead of the send times, and builds each request from its record.
//
// Trace time is measured from the trace's first record. The window [start, start + duration) of
// trace time is replayed; a record at trace time t is sent at (t - start) / speedup run seconds,
// its intended time: coordinated omission is judged against the trace's own times.
//
// Mooncake's hash_ids name the 512-token blocks of a prompt, chained (a block's id depends on every
// block before it), so requests that share their leading hash ids share that prefix. Each hash id
// is mapped to the same 512 tokens of words every time (seeded by the id), and a prompt is its
// blocks one after the other, then the request's own tokens: shared ids give identical prefixes.
import { statSync } from 'node:fs';
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { ScenarioSpec, TraceFormat } from '../core/types.js';
import { describeFound } from '../config/messages.js';
import { MAX_ARRIVALS_PER_S } from '../config/schema.js';
import type { GenRequest } from '../backend/types.js';
import type { TraceLoad } from '../schedule/arrivals.js';
import { readLines, type Line, type LinePosition } from './lines.js';
import type { TokenText, Tokenizer } from './tokenizer.js';

/** One request of a trace. */
export interface TraceRecord {
  /** seconds, on the trace's own clock (epoch seconds for Azure, from its zero for the JSONL formats) */
  t: number;
  promptTokens: number;
  outputTokens: number;
  /** Mooncake: the ids of the prompt's 512-token blocks */
  hashIds?: number[];
  /** generic JSONL: the prompt to send as it is */
  prompt?: string;
}

/** Tokens per Mooncake hash id block. */
export const MOONCAKE_BLOCK_TOKENS = 512;

/** The problems a bad trace reports before reading stops. */
const MAX_PROBLEMS = 10;

/** At most this many block texts are kept for reuse (about 2.5 kB each with the approximation). */
const BLOCK_CACHE = 4096;

/** Distinct hash ids remembered for prefix_reuse_ratio (a Set of them: about 20 MB); past this the ratio is not reported. */
const MAX_SEEN_HASH_IDS = 1_000_000;

/** The arrival rate over time has at most this many buckets. */
const RATE_BUCKETS_MAX = 240;

/** results.workload.trace: the replayed trace. */
export interface TraceInfo {
  format: TraceFormat;
  file: string;
  bytes: number;
  /** records read: the whole trace, or up to the end of the window */
  records: number;
  /** records inside the window (and within `requests`): the run's arrivals */
  replayed: number;
  speedup: number;
  /** the window, in trace seconds from the trace's first record; duration null: to its end */
  start_s: number;
  duration_s: number | null;
  /** run seconds from the start of the replay to its last arrival */
  span_s: number;
  /** arrivals per run second over the whole span, and in the busiest bucket */
  mean_rate_per_s: number | null;
  peak_rate_per_s: number | null;
  /** the trace's arrival rate over run time: `per_s[i]` over [i·bucket_s, (i+1)·bucket_s) */
  arrival_rate: { bucket_s: number; per_s: number[] };
  /** requests whose prompt was shorter than the tokenizer can make (raised to it) or whose output was 0 (asked as 1), so far */
  raised: { prompt: number; output: number };
  /**
   * Mooncake: the share of the replayed prompt tokens in leading blocks an earlier request
   * already had: what a prefix cache could serve; null for other formats (or too many ids)
   */
  prefix_reuse_ratio: number | null;
  /** the scan before the run, seconds */
  scan_s: number;
}

export interface PreparedTrace {
  /** the scenario with the trace's format and its replayed length known */
  spec: ScenarioSpec;
  scan: TraceScan;
}

/**
 * Scans the trace of `spec.load` (which must be a trace) before the run: every record of the
 * window is checked (InvalidInputError, exit 104, naming the file and line of each problem, up to
 * 10), and a trace replayed to its end gets its length. The replay (TraceReplay) reads it again.
 */
export async function prepareTrace(spec: ScenarioSpec): Promise<PreparedTrace> {
  const load = spec.load;
  if (load.executor !== 'trace') throw new Error('prepareTrace: not a trace load');
  const scan = await scanTrace(load, spec.requests);
  // to the microsecond: the trace's times are differences of large epoch seconds
  const durationS = load.durationS ?? Math.round(Math.max(0, scan.lastRelS - load.startS) * 1e6) / 1e6;
  const runS = durationS / load.speedup;
  if (scan.info.replayed === 0) {
    throw new InvalidInputError(
      [
        {
          path: 'load.file',
          message:
            scan.info.records === 0
              ? `${load.file} holds no records; expected ${load.format !== undefined ? FORMAT_WHAT[scan.format] : `${FORMAT_WHAT.azure}; or ${FORMAT_WHAT.mooncake}; or ${FORMAT_WHAT.jsonl}`}`
              : `no record of ${load.file} falls in the window (start ${load.startS} s${load.durationS !== undefined ? `, duration ${load.durationS} s` : ''}): its ${scan.info.records} records span ${round3(scan.readRelS)} s of trace time`,
        },
      ],
      load.file,
    );
  }
  if (spec.warmupS > 0 && spec.requests === undefined && spec.warmupS >= runS) {
    throw new InvalidInputError(
      [{ path: 'warmup', message: `the warm-up (${spec.warmupS}s) is not shorter than the replay (${round3(runS)} s of run time): no request would be measured; shorten warmup` }],
      load.file,
    );
  }
  return { spec: { ...spec, load: { ...load, format: scan.format, durationS } }, scan };
}

// ---- records ----------------------------------------------------------------------------

const FORMAT_WHAT: Record<TraceFormat, string> = {
  azure: 'an Azure LLM inference trace CSV: a header TIMESTAMP,ContextTokens,GeneratedTokens, then lines like 2023-11-16 18:15:46.6805900,4808,10',
  mooncake: 'a Mooncake trace JSONL: lines like {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47]}',
  jsonl: 'a JSONL trace: lines like {"t": 0.5, "prompt_tokens": 512, "output_tokens": 128}',
};

/** A line → its record, null for a line that holds none (blank, the CSV header), or the problem. */
type RecordParser = (line: Line) => TraceRecord | null | string;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/** An Azure trace's TIMESTAMP (`2023-11-16 18:15:46.6805900`; UTC unless it says otherwise) → epoch seconds, or null. */
export function parseDatetime(text: string): number | null {
  const m = DATETIME.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return null;
  let seconds = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s)) / 1000;
  // epoch seconds (~1.7e9) keep microseconds exactly in a double; the 7th digit is below that
  if (frac !== undefined) seconds += Number(`0.${frac}`);
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    seconds -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60);
  }
  return seconds;
}

/** Azure CSV columns, by the header's names (any order, case-insensitive, more columns allowed). */
interface AzureColumns {
  timestamp: number;
  context: number;
  generated: number;
}

const unquote = (field: string): string => {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1) : f;
};

/** What is wrong with a first line that is no Azure header: no header at all, or the columns it lacks. */
function azureHeaderProblem(text: string): string {
  const want = 'TIMESTAMP,ContextTokens,GeneratedTokens';
  const fields = text.split(',').map(unquote);
  if (parseDatetime(fields[0] ?? '') !== null) return `no header: expected the header ${want} first (then the records), found the record ${describeFound(text)}`;
  const names = new Set(fields.map((f) => f.toLowerCase()));
  const missing = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'].filter((c) => !names.has(c.toLowerCase()));
  return `the header lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: expected a header naming ${want} (any order, more columns allowed), found ${describeFound(text)}`;
}

function azureHeader(text: string): AzureColumns | null {
  const names = text.split(',').map((f) => unquote(f).toLowerCase());
  const timestamp = names.indexOf('timestamp');
  const context = names.indexOf('contexttokens');
  const generated = names.indexOf('generatedtokens');
  return timestamp === -1 || context === -1 || generated === -1 ? null : { timestamp, context, generated };
}

function azureParser(preset?: AzureColumns): RecordParser {
  let columns = preset ?? null;
  // a file without a usable header is one problem (its first line's), not one a line
  let refused = false;
  return (line) => {
    if (line.text.trim() === '' || refused) return null;
    if (columns === null) {
      columns = azureHeader(line.text);
      if (columns !== null) return null;
      refused = true;
      return azureHeaderProblem(line.text);
    }
    const f = line.text.split(',');
    const need = Math.max(columns.timestamp, columns.context, columns.generated) + 1;
    if (f.length < need) return `expected ${need} comma-separated fields (TIMESTAMP,ContextTokens,GeneratedTokens), found ${f.length}: ${describeFound(line.text)}`;
    const stamp = unquote(f[columns.timestamp]!);
    const t = parseDatetime(stamp);
    if (t === null) return `TIMESTAMP: expected a date and time like 2023-11-16 18:15:46.6805900, found ${describeFound(stamp)}`;
    const context = unquote(f[columns.context]!);
    const generated = unquote(f[columns.generated]!);
    if (!/^\d+$/.test(context)) return `ContextTokens: expected a whole number of tokens, found ${describeFound(context)}`;
    if (!/^\d+$/.test(generated)) return `GeneratedTokens: expected a whole number of tokens, found ${describeFound(generated)}`;
    return { t, promptTokens: Number(context), outputTokens: Number(generated) };
  };
}

function jsonParser(format: 'mooncake' | 'jsonl'): RecordParser {
  return (line) => {
    if (line.text.trim() === '') return null;
    let o: unknown;
    try {
      o = JSON.parse(line.text);
    } catch (e) {
      return `not JSON (${(e as Error).message}); expected ${FORMAT_WHAT[format]}`;
    }
    return format === 'mooncake' ? mooncakeRecord(o) : jsonlRecord(o);
  };
}

export function mooncakeRecord(o: unknown): TraceRecord | string {
  if (!isRecord(o)) return `expected an object like {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47]}, found ${describeFound(o)}`;
  const { timestamp, input_length: input, output_length: output, hash_ids: ids } = o;
  if (typeof timestamp !== 'number' || !(timestamp >= 0)) return `"timestamp": expected milliseconds >= 0, found ${describeFound(timestamp)}`;
  if (!isCount(input)) return `"input_length": expected a whole number of tokens, found ${describeFound(input)}`;
  if (!isCount(output)) return `"output_length": expected a whole number of tokens, found ${describeFound(output)}`;
  if (ids !== undefined && !(Array.isArray(ids) && ids.every((x) => Number.isInteger(x)))) return `"hash_ids": expected a list of whole numbers, found ${describeFound(ids)}`;
  return { t: timestamp / 1000, promptTokens: input, outputTokens: output, ...(ids !== undefined && { hashIds: ids as number[] }) };
}

export function jsonlRecord(o: unknown): TraceRecord | string {
  if (!isRecord(o)) return `expected an object like {"t": 0.5, "prompt_tokens": 512, "output_tokens": 128}, found ${describeFound(o)}`;
  const { t, prompt_tokens: promptTokens, output_tokens: outputTokens, prompt } = o;
  if (typeof t !== 'number' || !(t >= 0)) return `"t": expected seconds >= 0, found ${describeFound(t)}`;
  if (prompt !== undefined && (typeof prompt !== 'string' || prompt === '')) return `"prompt": expected a non-empty string, found ${describeFound(prompt)}`;
  if (prompt === undefined && !isCount(promptTokens)) return `"prompt_tokens": expected a whole number of tokens (or a "prompt"), found ${describeFound(promptTokens)}`;
  if (prompt !== undefined && promptTokens !== undefined && !isCount(promptTokens)) return `"prompt_tokens": expected a whole number of tokens, found ${describeFound(promptTokens)}`;
  if (!isCount(outputTokens)) return `"output_tokens": expected a whole number of tokens, found ${describeFound(outputTokens)}`;
  return { t, promptTokens: (promptTokens as number | undefined) ?? 0, outputTokens, ...(prompt !== undefined && { prompt }) };
}

function parserFor(format: TraceFormat, columns?: AzureColumns): RecordParser {
  return format === 'azure' ? azureParser(columns) : jsonParser(format);
}

/** The format the first non-blank line tells: JSON with "timestamp" is Mooncake, with "t" the generic JSONL; else CSV. */
async function detectFormat(file: string): Promise<TraceFormat> {
  for await (const line of readLines(file, 'load.file', hintOf('azure'))) {
    const text = line.text.trim();
    if (text === '') continue;
    if (!text.startsWith('{')) return 'azure';
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch (e) {
      throw traceProblem(file, line.number, `not JSON (${(e as Error).message}), and no CSV header: expected ${FORMAT_WHAT.mooncake}, or ${FORMAT_WHAT.jsonl}`);
    }
    if (isRecord(o) && 'timestamp' in o) return 'mooncake';
    if (isRecord(o) && 't' in o) return 'jsonl';
    throw traceProblem(file, line.number, `a JSON line with neither "timestamp" (Mooncake) nor "t" (JSONL): give load.format, or expected ${FORMAT_WHAT.jsonl}`);
  }
  return 'azure';
}

const hintOf = (format: TraceFormat): string => `expected ${FORMAT_WHAT[format]}`;

function traceProblem(file: string, line: number, message: string): InvalidInputError {
  return new InvalidInputError([{ path: `load.file (${file}:${line})`, message }], file);
}

// ---- the scan -----------------------------------------------------------------------------

export interface TraceScan {
  format: TraceFormat;
  columns?: AzureColumns;
  /** the trace's first record's time: trace time 0 */
  t0: number;
  /** trace time of the last replayed record, and of the last record read */
  lastRelS: number;
  readRelS: number;
  /** the window's end, trace time (exclusive); infinite when the trace is replayed to its end */
  endRelS: number;
  /** the first replayed record's line, where the replay starts reading */
  resume: LinePosition;
  info: TraceInfo;
  /**
   * Mooncake: the first hash ids of two or more replayed records (the prefix groups of
   * results.summary.prefix); null for other formats, or when there were too many ids to keep
   */
  sharedFirstIds: ReadonlySet<number> | null;
}

/**
 * Reads the trace up to the end of the window (or of `requests` arrivals): checks every record,
 * counts the replayed ones, and tallies their arrival rate over run time.
 */
export async function scanTrace(load: TraceLoad, requests?: number): Promise<TraceScan> {
  const started = performance.now();
  const file = load.file;
  let bytes: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    bytes = st.size;
  } catch (e) {
    throw new InvalidInputError([{ path: 'load.file', message: `cannot read ${file}: ${(e as Error).message}; give the path to a local trace file` }], file);
  }
  const format = load.format ?? (await detectFormat(file));
  const parse = parserFor(format);
  const problems: InputProblem[] = [];
  const rate = new RateTally();
  const reuse = format === 'mooncake' ? new PrefixReuse() : null;
  const firstIds = format === 'mooncake' ? new FirstIds() : null;
  let columns: AzureColumns | undefined;
  let t0: number | null = null;
  let last = Number.NEGATIVE_INFINITY;
  let lastRelS = 0;
  let records = 0;
  let replayed = 0;
  let resume: LinePosition | null = null;
  const end = load.durationS === undefined ? Number.POSITIVE_INFINITY : load.startS + load.durationS;
  try {
    for await (const line of readLines(file, 'load.file', hintOf(format))) {
      const r = parse(line);
      if (r === null) {
        if (format === 'azure' && columns === undefined) columns = azureHeader(line.text) ?? undefined;
        continue;
      }
      const where = `load.file (${file}:${line.number})`;
      if (typeof r === 'string') {
        problems.push({ path: where, message: r });
        if (problems.length >= MAX_PROBLEMS) break;
        continue;
      }
      records++;
      if (r.t < last) {
        problems.push({ path: where, message: `the time goes backwards (${round3(r.t - last)} s from the record before): a trace must be in time order; sort it by time` });
        if (problems.length >= MAX_PROBLEMS) break;
        continue;
      }
      last = r.t;
      t0 ??= r.t;
      const rel = r.t - t0;
      if (rel < load.startS) continue;
      if (rel >= end || (requests !== undefined && replayed >= requests)) break;
      if (problems.length > 0) continue;
      resume ??= { offset: line.offset, number: line.number };
      replayed++;
      lastRelS = rel;
      rate.add((rel - load.startS) / load.speedup);
      reuse?.add(r);
      firstIds?.add(r);
    }
  } catch (e) {
    if (e instanceof InvalidInputError) throw e;
    throw new InvalidInputError([{ path: 'load.file', message: `cannot read ${file}: ${(e as Error).message}` }], file);
  }
  if (problems.length > 0) throw new InvalidInputError(problems, file);
  const spanS = replayed > 0 ? (lastRelS - load.startS) / load.speedup : 0;
  const buckets = rate.buckets();
  const info: TraceInfo = {
    format,
    file,
    bytes,
    records,
    replayed,
    speedup: load.speedup,
    start_s: load.startS,
    duration_s: load.durationS ?? null,
    span_s: round3(spanS),
    mean_rate_per_s: spanS > 0 ? round3(replayed / spanS) : null,
    peak_rate_per_s: buckets.per_s.length > 0 ? Math.max(...buckets.per_s) : null,
    arrival_rate: buckets,
    raised: { prompt: 0, output: 0 },
    prefix_reuse_ratio: reuse?.ratio() ?? null,
    scan_s: round3((performance.now() - started) / 1000),
  };
  // the bound every other open-loop load has (config/schema.ts): past it the arrival loop falls
  // behind its schedule, so a trace replayed too fast is refused before anything is sent
  if (info.peak_rate_per_s !== null && info.peak_rate_per_s > MAX_ARRIVALS_PER_S)
    throw new InvalidInputError(
      [
        {
          path: 'load.speedup',
          message: `the trace replayed at speedup ${load.speedup} peaks at ${info.peak_rate_per_s} arrivals/s (over ${buckets.bucket_s} s), above the ${MAX_ARRIVALS_PER_S}/s one process keeps up with: lower the speedup, or split the load over several inferload processes and combine them with inferload merge`,
        },
      ],
      file,
    );
  const readRelS = t0 === null ? 0 : last - t0;
  return { format, ...(columns !== undefined && { columns }), t0: t0 ?? 0, lastRelS, readRelS, endRelS: end, resume: resume ?? { offset: 0, number: 1 }, info, sharedFirstIds: firstIds?.result() ?? null };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Arrivals per run second, at a resolution that halves as the span grows (bounded memory). */
class RateTally {
  private counts = new Uint32Array(1024);
  private widthS = 1;
  private used = 0;
  private static readonly MAX_SLOTS = 1 << 16;

  add(runS: number): void {
    let i = Math.floor(runS / this.widthS);
    while (i >= RateTally.MAX_SLOTS) {
      // merge pairs: twice as wide
      const merged = new Uint32Array(this.counts.length);
      for (let k = 0; k < this.used; k++) merged[k >> 1]! += this.counts[k]!;
      this.counts = merged;
      this.used = Math.ceil(this.used / 2);
      this.widthS *= 2;
      i = Math.floor(runS / this.widthS);
    }
    if (i >= this.counts.length) {
      const grown = new Uint32Array(Math.min(RateTally.MAX_SLOTS, Math.max(i + 1, this.counts.length * 2)));
      grown.set(this.counts);
      this.counts = grown;
    }
    this.counts[i]!++;
    this.used = Math.max(this.used, i + 1);
  }

  /** At most RATE_BUCKETS_MAX buckets of a round width. */
  buckets(): { bucket_s: number; per_s: number[] } {
    const spanS = this.used * this.widthS;
    const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];
    let width = nice.find((w) => w >= this.widthS && spanS / w <= RATE_BUCKETS_MAX);
    width ??= Math.ceil(spanS / RATE_BUCKETS_MAX / this.widthS) * this.widthS;
    const per = Math.max(1, Math.round(width / this.widthS));
    width = per * this.widthS;
    const out: number[] = [];
    for (let k = 0; k < this.used; k += per) {
      let n = 0;
      for (let j = k; j < Math.min(this.used, k + per); j++) n += this.counts[j]!;
      out.push(round3(n / width));
    }
    return { bucket_s: width, per_s: out };
  }
}

/** Mooncake: prompt tokens in leading blocks whose hash id an earlier request already had. */
class PrefixReuse {
  private readonly seen = new Set<number>();
  private reused = 0;
  private total = 0;
  private overflow = false;

  add(r: TraceRecord): void {
    this.total += r.promptTokens;
    const ids = r.hashIds ?? [];
    let leading = true;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (leading && this.seen.has(id)) this.reused += Math.min(MOONCAKE_BLOCK_TOKENS, Math.max(0, r.promptTokens - i * MOONCAKE_BLOCK_TOKENS));
      else leading = false;
      if (this.seen.size < MAX_SEEN_HASH_IDS) this.seen.add(id);
      else this.overflow = true;
    }
  }

  ratio(): number | null {
    return this.overflow || this.total === 0 ? null : round3(this.reused / this.total);
  }
}

/** Mooncake: the first hash ids that two or more records with a whole block start with. */
class FirstIds {
  private readonly once = new Set<number>();
  private readonly shared = new Set<number>();
  private overflow = false;

  add(r: TraceRecord): void {
    const first = r.hashIds?.[0];
    if (first === undefined || r.promptTokens < MOONCAKE_BLOCK_TOKENS || this.shared.has(first)) return;
    if (this.once.delete(first)) this.shared.add(first);
    else if (this.once.size + this.shared.size < MAX_SEEN_HASH_IDS) this.once.add(first);
    else this.overflow = true;
  }

  result(): ReadonlySet<number> | null {
    return this.overflow ? null : this.shared;
  }
}

// ---- the replay ---------------------------------------------------------------------------

/**
 * The run's arrivals from the trace: `next()` reads the next record of the window and returns its
 * intended send time (µs since the run's start), null once the window or `requests` is done;
 * `request(id)` is that arrival's request, built from the record as `next()` read it.
 */
export class TraceReplay {
  private lines: AsyncGenerator<Line> | null = null;
  private readonly parse: RecordParser;
  private readonly built = new Map<number, GenRequest>();
  private readonly blocks = new Map<number, TokenText>();
  private readonly seed: number;
  private nextId = 0;
  private done = false;

  private readonly load: TraceLoad;
  private readonly scan: TraceScan;
  private readonly limit: number | undefined;

  /** `trace.spec` is the run's scenario (prepareTrace's): its load, seed and request count */
  constructor(
    trace: PreparedTrace,
    private readonly tokenizer: Tokenizer,
  ) {
    const { spec, scan } = trace;
    if (spec.load.executor !== 'trace') throw new Error('TraceReplay: not a trace load');
    const load = spec.load;
    this.load = load;
    this.scan = scan;
    this.seed = spec.seed;
    this.limit = spec.requests;
    this.parse = parserFor(scan.format, scan.columns);
  }

  async next(): Promise<number | null> {
    if (this.done || (this.limit !== undefined && this.nextId >= this.limit)) return this.finish();
    this.lines ??= readLines(this.load.file, 'load.file', hintOf(this.scan.format), this.scan.resume);
    for (;;) {
      const step = await this.lines.next();
      if (step.done) return this.finish();
      const r = this.parse(step.value);
      if (r === null) continue;
      // the scan checked these lines: a problem now means the file changed since
      if (typeof r === 'string') throw traceProblem(this.load.file, step.value.number, `${r} (the file changed during the run?)`);
      const rel = r.t - this.scan.t0;
      if (rel < this.load.startS) continue;
      // the scan's window: the spec's duration of a trace replayed to its end reaches its last record
      if (rel >= this.scan.endRelS) return this.finish();
      const id = this.nextId++;
      // another shard's record: its time still counts the rows, but nothing is built for it
      if (this.owns === null || this.owns(id)) this.built.set(id, await this.build(r, id));
      return ((rel - this.load.startS) / this.load.speedup) * 1e6;
    }
  }

  /** The request of arrival `id`, once `next()` returned its time (each is handed out once). */
  /** Shards: whether this process sends record `id` (null: all); `request` is asked only for those. */
  owns: ((id: number) => boolean) | null = null;

  request(id: number): GenRequest {
    const req = this.built.get(id);
    if (req === undefined) throw new Error(`trace replay: request ${id} asked before its arrival was read`);
    this.built.delete(id);
    return req;
  }

  /** results.workload.trace: the scan's figures and the requests raised so far */
  info(): TraceInfo {
    return this.scan.info;
  }

  /** Stops reading (the run may end before the window does). */
  close(): void {
    this.done = true;
    void this.lines?.return(undefined);
  }

  private finish(): null {
    this.close();
    return null;
  }

  private async build(r: TraceRecord, id: number): Promise<GenRequest> {
    const tok = this.tokenizer;
    const chat = tok.endpoint === 'chat';
    const raised = this.scan.info.raised;
    if (r.outputTokens === 0) raised.output++;
    const maxTokens = Math.max(1, r.outputTokens);
    let text: string;
    let promptTokens: number;
    let blocks = 0;
    if (r.prompt !== undefined) {
      text = r.prompt;
      promptTokens = await tok.countPrompt(chat ? [{ role: 'user', content: text }] : text);
    } else {
      const rng = Rng.derive(this.seed ^ Math.imul(id + 1, 0x9e3779b1), 'trace-request');
      ({ text, tokens: promptTokens, blocks } = this.synthesize(r, rng, id));
      if (promptTokens > r.promptTokens) raised.prompt++;
    }
    const req: GenRequest = chat ? { messages: [{ role: 'user', content: text }], maxTokens, promptTokens } : { prompt: text, maxTokens, promptTokens };
    // a prompt starting with a block another record starts with: its prefix group is that hash id
    // (results.summary.prefix counts it as a request with a shared prefix; warm or cold by cached_tokens)
    const first = r.hashIds?.[0];
    if (blocks > 0 && first !== undefined && (this.scan.sharedFirstIds === null || this.scan.sharedFirstIds.has(first))) req.prefixGroup = first;
    return req;
  }

  /**
   * A prompt of the record's length: its hash ids' blocks first (as many whole blocks as fit the
   * content, the endpoint's overhead aside), then the request's own words (its id first).
   */
  private synthesize(r: TraceRecord, rng: Rng, id: number): { text: string; tokens: number; blocks: number } {
    const tok = this.tokenizer;
    const ids = r.hashIds ?? [];
    const content = r.promptTokens - tok.overhead;
    const whole = Math.max(0, Math.min(ids.length, Math.floor(content / MOONCAKE_BLOCK_TOKENS)));
    if (whole === 0) return { ...tok.synthesize(r.promptTokens, rng, id), blocks: 0 };
    const parts: string[] = [];
    let tokens = 0;
    for (let i = 0; i < whole; i++) {
      const b = this.block(ids[i]!);
      parts.push(b.text);
      tokens += b.tokens;
    }
    const prefix: TokenText = { text: parts.join(' '), tokens };
    // the blocks are the whole prompt: nothing of the request's own follows
    if (whole * MOONCAKE_BLOCK_TOKENS === content) return { text: prefix.text, tokens: tok.overhead + prefix.tokens, blocks: whole };
    return { ...tok.synthesize(r.promptTokens, rng, id, prefix), blocks: whole };
  }

  /** The same words for a hash id every time (least recently used dropped past BLOCK_CACHE). */
  private block(hashId: number): TokenText {
    const hit = this.blocks.get(hashId);
    if (hit !== undefined) {
      this.blocks.delete(hashId);
      this.blocks.set(hashId, hit);
      return hit;
    }
    const made = this.tokenizer.words(MOONCAKE_BLOCK_TOKENS, Rng.derive(this.seed, `mooncake-block:${hashId}`));
    if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
    this.blocks.set(hashId, made);
    return made;
  }
}
