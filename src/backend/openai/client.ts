// The OpenAI-compatible streaming client: undici's dispatch API (no fetch, no stream
// wrappers), stamps taken when bytes arrive, SSE framing in sse.ts, one JSON.parse per event.
import { Pool, type Dispatcher } from 'undici';
import type { Clock } from '../../core/clock.js';
import { redactSecret } from '../../core/secret.js';
import type { RequestRecord } from '../../core/record.js';
import type { Endpoint, ErrorClass } from '../../core/types.js';
import type { Backend, GenRequest, RequestHandle } from '../types.js';
import { SseParser, type SseEventSink } from './sse.js';

export interface OpenAIBackendOptions {
  /** base URL including `/v1`, e.g. http://127.0.0.1:8000/v1 */
  baseUrl: string;
  model: string;
  endpoint: Endpoint;
  /** the key itself (read from the environment by the caller); never logged or stored */
  apiKey?: string;
  ignoreEos: boolean;
  minTokens: boolean;
  temperature: number;
  /** idle deadline for headers and between body chunks, in seconds */
  idleTimeoutS: number;
  clock: Clock;
  /** record the `inferload_emit_ms` ground-truth stamps a simulator may put in chunks */
  recordEmitTimes?: boolean;
  /** extra headers sent with every request */
  headers?: Record<string, string>;
  /** JSON.parse every event, skipping the byte-search fast path (for checks; slower) */
  parseEveryEvent?: boolean;
}

const MAX_ERROR_BODY = 4096;
const DONE = Buffer.from('[DONE]');

/** Builds the JSON body of one request. */
export function requestBody(opts: OpenAIBackendOptions, req: GenRequest): string {
  const body: Record<string, unknown> = {
    model: opts.model,
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: req.maxTokens,
    temperature: opts.temperature,
  };
  if (opts.endpoint === 'chat') body.messages = req.messages ?? [{ role: 'user', content: req.prompt ?? '' }];
  else body.prompt = req.prompt ?? (req.messages ?? []).map((m) => m.content).join('\n');
  if (opts.ignoreEos) body.ignore_eos = true;
  if (opts.minTokens) body.min_tokens = req.maxTokens;
  return JSON.stringify(body);
}

/** Maps an HTTP status to its failure class. */
export function classifyStatus(status: number): ErrorClass {
  if (status === 429) return 'http_429';
  if (status >= 400 && status < 500) return 'http_4xx';
  if (status >= 500) return 'http_5xx';
  return 'invalid_response';
}

/** Maps a transport error (undici or socket) to its failure class. */
export function classifyTransportError(err: unknown, bytesReceived: boolean): ErrorClass {
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'timeout';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'connect';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'reset';
    default:
      return bytesReceived ? 'reset' : 'connect';
  }
}

/** Turns any error into a one-line message, with the API key scrubbed out. */
function describe(err: unknown, secret: string | undefined): string {
  const e = err as { code?: string; message?: string } | null;
  let msg = e?.message ?? String(err);
  if (e?.code && !msg.includes(e.code)) msg = `${e.code}: ${msg}`;
  return scrub(msg, secret);
}

/** One line of at most 500 characters, the API key scrubbed out. */
function scrub(text: string, secret: string | undefined): string {
  return redactSecret(text.replace(/\s+/g, ' ').slice(0, 500), secret);
}

export class OpenAIBackend implements Backend {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: OpenAIBackendOptions) {
    const url = new URL(opts.baseUrl);
    const base = url.pathname.replace(/\/+$/, '');
    this.path = `${base}${opts.endpoint === 'chat' ? '/chat/completions' : '/completions'}`;
    this.pool = new Pool(url.origin, {
      // one stream holds one HTTP/1.1 connection: no cap here, the engine's in-flight cap rules
      connections: null,
      pipelining: 1,
      headersTimeout: opts.idleTimeoutS * 1000,
      bodyTimeout: opts.idleTimeoutS * 1000,
      keepAliveTimeout: 60_000,
    });
    this.headers = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(opts.headers ?? {}),
    };
    if (opts.apiKey) this.headers.authorization = `Bearer ${opts.apiKey}`;
  }

  send(req: GenRequest, record: RequestRecord, done: (record: RequestRecord) => void): RequestHandle {
    const handler = new StreamHandler(record, this.opts, done);
    this.pool.dispatch(
      { method: 'POST', path: this.path, headers: this.headers, body: requestBody(this.opts, req) },
      handler,
    );
    return handler;
  }

  /**
   * Opens `connections` keep-alive connections before the run (a GET of /models on each), so
   * that the first requests do not pay for TCP setup and show it as schedule lag. Best effort.
   */
  async preconnect(connections = 1): Promise<void> {
    const path = this.path.replace(/\/(chat\/)?completions$/, '/models');
    const { authorization } = this.headers;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        try {
          const res = await this.pool.request({ method: 'GET', path, headers: authorization ? { authorization } : {} });
          await res.body.dump();
        } catch {
          // the run itself reports an unreachable target
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** One request's life: undici dispatch handler + SSE sink. */
class StreamHandler implements Dispatcher.DispatchHandler, SseEventSink, RequestHandle {
  private readonly parser = new SseParser(this);
  private controller: Dispatcher.DispatchController | null = null;
  private errorBody: Buffer[] | null = null;
  private errorBodyLen = 0;
  private streaming = false;
  private sawDone = false;
  private finished = false;
  private bytesReceived = false;
  /** arrival time of the bytes being parsed right now: stamped before any parsing */
  private nowUs = 0;
  private pendingAbort: { errorClass: 'timeout' | 'aborted'; message: string } | null = null;

  constructor(
    private readonly record: RequestRecord,
    private readonly opts: OpenAIBackendOptions,
    private readonly done: (record: RequestRecord) => void,
  ) {}

  // -- RequestHandle ------------------------------------------------------------------

  abort(errorClass: 'timeout' | 'aborted', message: string): void {
    if (this.finished) return;
    if (!this.controller) {
      this.pendingAbort = { errorClass, message };
      return;
    }
    this.fail(errorClass, message, this.opts.clock.now());
    this.controller.abort(new Error(message));
  }

  // -- undici DispatchHandler ---------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.record.sentUs = this.opts.clock.now();
    if (this.pendingAbort) {
      const { errorClass, message } = this.pendingAbort;
      this.pendingAbort = null;
      this.abort(errorClass, message);
    }
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.controller = controller;
    const t = this.opts.clock.now();
    this.record.headersUs = t;
    this.record.httpStatus = statusCode;
    if (statusCode < 200 || statusCode >= 300) {
      this.errorBody = [];
      return;
    }
    const ct = headers['content-type'];
    const contentType = (Array.isArray(ct) ? ct[0] : ct) ?? '';
    if (!contentType.includes('text/event-stream')) {
      // a 2xx that is not a stream (e.g. the server ignored `stream: true`): keep the body
      // for the error message and fail the request as an invalid response
      this.errorBody = [];
      return;
    }
    this.streaming = true;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.nowUs = this.opts.clock.now();
    this.bytesReceived = true;
    if (this.finished) return;
    if (this.streaming) {
      this.parser.push(chunk);
    } else if (this.errorBody && this.errorBodyLen < MAX_ERROR_BODY) {
      this.errorBody.push(Buffer.from(chunk));
      this.errorBodyLen += chunk.length;
    }
  }

  onResponseEnd(): void {
    if (this.finished) return;
    const t = this.opts.clock.now();
    if (this.streaming) {
      this.nowUs = t;
      this.parser.end();
      if (this.finished) return;
      const r = this.record;
      if (this.sawDone || r.finishReason !== null) {
        r.endUs = Number.isNaN(r.endUs) ? t : r.endUs;
        r.ok = true;
        this.finish();
      } else {
        this.fail('truncated', 'the stream ended without [DONE] or a finish_reason', t);
      }
      return;
    }
    const body = Buffer.concat(this.errorBody ?? []).toString('utf8');
    const status = this.record.httpStatus;
    if (status >= 200 && status < 300) {
      this.fail('invalid_response', `HTTP ${status} without an event stream: ${body}`, t);
    } else {
      this.fail(classifyStatus(status), `HTTP ${status}: ${errorMessageOf(body)}`, t);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.finished) return;
    this.fail(classifyTransportError(err, this.bytesReceived), describe(err, this.opts.apiKey), this.opts.clock.now());
  }

  // -- SseEventSink -------------------------------------------------------------------

  onSseData(data: Buffer): void {
    if (this.finished || this.sawDone) return;
    const t = this.nowUs;
    if (data.length === 6 && data.equals(DONE)) {
      // the answer is complete: end the request now, even if the server (or a gateway) keeps
      // the response open after [DONE]; the connection itself closes when the body ends
      this.sawDone = true;
      this.record.endUs = t;
      this.record.ok = true;
      this.finish();
      return;
    }
    if (!this.opts.parseEveryEvent && this.fastChunk(data, t)) return;
    let obj: unknown;
    try {
      obj = JSON.parse(data.toString('utf8'));
    } catch {
      this.failAndStop('invalid_response', `an SSE event is not JSON: ${scrub(data.toString('utf8', 0, 200), undefined)}`, t);
      return;
    }
    if (typeof obj !== 'object' || obj === null) {
      this.failAndStop('invalid_response', 'an SSE event is not a JSON object', t);
      return;
    }
    const chunk = obj as StreamChunk;
    if (chunk.error !== undefined && chunk.error !== null) {
      this.failAndStop('stream_error', errorMessageOf(chunk.error), t);
      return;
    }
    const r = this.record;
    const choices = chunk.choices;
    if (Array.isArray(choices) && choices.length > 0) {
      if (Number.isNaN(r.firstChunkUs)) r.firstChunkUs = t;
      const choice = choices[0]!;
      const delta = choice.delta;
      const chars =
        (delta ? strLen(delta.content) + strLen(delta.reasoning_content) + strLen(delta.reasoning) : 0) +
        strLen(choice.text);
      if (chars > 0) {
        if (Number.isNaN(r.firstTokenUs)) r.firstTokenUs = t;
        r.chunkUs.push(t);
        r.chunkChars.push(chars);
        if (this.opts.recordEmitTimes && typeof chunk.inferload_emit_ms === 'number') {
          (r.emitMs ??= []).push(chunk.inferload_emit_ms);
        }
      }
      if (typeof choice.finish_reason === 'string') r.finishReason = choice.finish_reason;
    }
    const usage = chunk.usage;
    if (usage && typeof usage === 'object') {
      if (typeof usage.completion_tokens === 'number') r.outputTokensUsage = usage.completion_tokens;
      if (typeof usage.prompt_tokens === 'number') r.promptTokensUsage = usage.prompt_tokens;
    }
  }

  /**
   * The fast path for the common event, a compact content chunk with one choice
   * (`{...,"choices":[{"index":0,"delta":{"content":"tok"},...,"finish_reason":null}]...}`),
   * classified by a few bounded string searches instead of JSON.parse, which cost most of the
   * client's CPU per chunk. Each search is anchored so that absent patterns scan only a short
   * stretch. Anything unusual (an error key before the choices, usage, a finish reason, a second
   * choice, other key order or spacing) returns false and takes the full JSON path, so the fast
   * path can only ever agree with it (a test checks that on every shape we know).
   */
  private fastChunk(data: Buffer, t: number): boolean {
    // latin1: one char per byte, and V8's string search is far cheaper per call than Buffer#indexOf
    const text = data.toString('latin1');
    const choices = text.indexOf('"choices":[{');
    if (choices === -1 || text.lastIndexOf('"error"', choices) !== -1) return false;
    const finish = text.indexOf('"finish_reason":null', choices);
    if (finish === -1) return false;
    const tail = finish + 20;
    // one choice, closed right after its finish_reason; nothing but harmless keys after it
    if (text.charCodeAt(tail) !== 125 /* } */ || text.charCodeAt(tail + 1) !== 93 /* ] */) return false;
    if (text.indexOf('"usage"', tail) !== -1 || text.indexOf('"error"', tail) !== -1) return false;
    let emitMs = NaN;
    if (this.opts.recordEmitTimes) {
      const at = text.indexOf('"inferload_emit_ms":', tail);
      if (at !== -1) emitMs = parseFloat(text.slice(at + 20, at + 40));
    }
    let chars = 0;
    for (const pat of CONTENT_PATTERNS) {
      const at = text.indexOf(pat, choices);
      if (at === -1 || at > finish) continue;
      const start = at + pat.length;
      const end = closingQuote(text, start);
      if (end === -1 || end > finish) return false;
      chars += end - start;
      if (chars > 0) break;
    }
    const r = this.record;
    if (Number.isNaN(r.firstChunkUs)) r.firstChunkUs = t;
    if (chars > 0) {
      if (Number.isNaN(r.firstTokenUs)) r.firstTokenUs = t;
      r.chunkUs.push(t);
      r.chunkChars.push(chars);
      if (!Number.isNaN(emitMs)) (r.emitMs ??= []).push(emitMs);
    }
    return true;
  }

  onSseErrorField(data: Buffer): void {
    if (this.finished) return;
    let message = data.toString('utf8');
    try {
      message = errorMessageOf(JSON.parse(message));
    } catch {
      // not JSON: keep the text
    }
    this.failAndStop('stream_error', message, this.nowUs);
  }

  // -- endings ------------------------------------------------------------------------

  private failAndStop(errorClass: ErrorClass, message: string, t: number): void {
    this.fail(errorClass, message, t);
    // the rest of the stream is of no use; free the connection
    this.controller?.abort(new Error(message));
  }

  private fail(errorClass: ErrorClass | 'aborted', message: string, t: number): void {
    if (this.finished) return;
    const r = this.record;
    r.ok = false;
    r.errorClass = errorClass;
    r.errorMessage = scrub(message, this.opts.apiKey);
    r.endUs = t;
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    const r = this.record;
    // `done` must never run inside `send`: defer when a failure was immediate
    if (Number.isNaN(r.sentUs)) queueMicrotask(() => this.done(r));
    else this.done(r);
  }
}

/** delta.content, delta.reasoning_content, delta.reasoning (chat) and text (completions) */
const CONTENT_PATTERNS = ['"content":"', '"reasoning_content":"', '"reasoning":"', '"text":"'];

/** The index of the quote that closes a JSON string whose first char is at `start`, or -1. */
function closingQuote(text: string, start: number): number {
  let i = text.indexOf('"', start);
  while (i !== -1) {
    let backslashes = 0;
    for (let j = i - 1; j >= start && text.charCodeAt(j) === 92; j--) backslashes++;
    if (backslashes % 2 === 0) return i;
    i = text.indexOf('"', i + 1);
  }
  return -1;
}

interface StreamChunk {
  choices?: {
    delta?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown };
    text?: unknown;
    finish_reason?: unknown;
  }[];
  usage?: { completion_tokens?: unknown; prompt_tokens?: unknown } | null;
  error?: unknown;
  inferload_emit_ms?: unknown;
}

function strLen(v: unknown): number {
  return typeof v === 'string' ? v.length : 0;
}

/** Pulls a human-readable message out of an OpenAI-style error body or object. */
export function errorMessageOf(body: unknown): string {
  let v: unknown = body;
  if (typeof body === 'string') {
    try {
      v = JSON.parse(body);
    } catch {
      return body.slice(0, 500);
    }
  }
  if (typeof v === 'object' && v !== null) {
    const o = v as { error?: unknown; message?: unknown; detail?: unknown };
    if (typeof o.message === 'string') return o.message;
    if (typeof o.error === 'string') return o.error;
    if (typeof o.error === 'object' && o.error !== null) return errorMessageOf(o.error);
    if (typeof o.detail === 'string') return o.detail;
  }
  return JSON.stringify(v).slice(0, 500);
}
