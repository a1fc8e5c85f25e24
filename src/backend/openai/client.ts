// The OpenAI-compatible streaming client: undici's dispatch API (no fetch, no stream
// wrappers), stamps taken when bytes arrive, SSE framing in sse.ts, one JSON.parse per event.
// Everything whose size the server decides is bounded: one SSE event and a body that is not a
// stream (maxEventBytes), the header block (MAX_HEADER_BYTES), the error text kept (4 KiB).
import type { Dispatcher } from 'undici';
import { Pool, requestOn } from '../../core/http.js';
import { H1Pool, type H1Handler, type H1Request } from './h1.js';
import type { Clock } from '../../core/clock.js';
import { clientSecrets, oneLineRedacted, parseTarget, type Secrets } from '../../core/secret.js';
import { RequestRecord } from '../../core/record.js';
import type { AbortClass, Endpoint, ErrorClass } from '../../core/types.js';
import type { Backend, GenRequest, ParseStats, RequestHandle } from '../types.js';
import { believedUsage, isTokenCount } from '../../metrics/derive.js';

export type { ParseStats } from '../types.js';
import { DEFAULT_MAX_EVENT_BYTES, SseParser, type SseEventSink } from './sse.js';

export { DEFAULT_MAX_EVENT_BYTES } from './sse.js';

export interface OpenAIBackendOptions {
  /**
   * base URL including `/v1`, e.g. http://127.0.0.1:8000/v1, as the user gave it: a user and
   * password in it go as HTTP Basic authorization (unless `apiKey` is set: the key wins), its
   * query is appended to every request's path. Secret like the key: never logged or stored.
   */
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
  /**
   * The most bytes of one SSE event (or of a body that is not an event stream) the client
   * holds before it fails the request as `invalid_response` and closes the connection; default
   * DEFAULT_MAX_EVENT_BYTES (4 MiB). A server decides these sizes, so they need a bound.
   */
  maxEventBytes?: number;
  /**
   * The HTTP client the streams go through: `native` (h1.ts: plain TCP, a reused read buffer,
   * chunked framing decoded in place) or `undici`. Default: native for http: targets, undici
   * for https: (h1.ts has no TLS), or as the environment's INFERLOAD_HTTP says.
   */
  transport?: 'native' | 'undici';
}

/** What the streams are dispatched on: undici's Pool or the native H1Pool. */
interface StreamPool {
  dispatch(request: H1Request, handler: H1Handler): boolean;
  destroy(): Promise<void>;
}

/** The transport a backend for `origin` uses (see OpenAIBackendOptions.transport). */
export function transportFor(origin: string, asked?: 'native' | 'undici'): 'native' | 'undici' {
  const env = process.env.INFERLOAD_HTTP;
  const choice = asked ?? (env === 'undici' || env === 'native' ? env : 'native');
  return choice === 'native' && origin.startsWith('http:') ? 'native' : 'undici';
}

/** The bytes of an error body (or of a 2xx that is not a stream) kept for the error message. */
const MAX_ERROR_BODY = 4096;
/**
 * undici's bound on the response's header block (its default is Node's 16 KiB); set here so
 * that it does not depend on `--max-http-header-size`, and named in the error it causes.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Builds the JSON body of one request. */
export function requestBody(opts: OpenAIBackendOptions, req: GenRequest): string {
  const body: Record<string, unknown> = {
    model: req.model ?? opts.model,
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
  if (status >= 500 && status < 600) return 'http_5xx';
  // 1xx-3xx where a stream was due, and codes HTTP does not define (600-999)
  return 'invalid_response';
}

/**
 * Maps a transport error (undici or socket) to its failure class. `responseStarted`: a byte of
 * the response (status line, headers or body) had arrived. A connection the server closed
 * (FIN) after that cut the response short: `truncated`, however the body was framed (undici
 * says "other side closed", a Content-Length mismatch, or the parser's "Invalid EOF state" for
 * a chunked body without its last chunk). A reset (RST) is `reset` wherever it comes, and so is
 * a close before any response byte. Bytes that are not HTTP are `invalid_response`.
 */
export function classifyTransportError(err: unknown, responseStarted: boolean): ErrorClass {
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
    // no file descriptor left for the socket (ulimit -n, or the system's table): a new
    // connection cannot be made, whatever the server does
    case 'EMFILE':
    case 'ENFILE':
      return 'connect';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
      return 'reset';
    case 'UND_ERR_SOCKET':
      // undici's "bad response" / "bad upgrade": a 100 Continue or a 101 to a plain POST, or
      // bytes no request asked for; HTTP the request cannot be answered with
      if (isUnexpectedResponse(err)) return 'invalid_response';
      return responseStarted ? 'truncated' : 'reset';
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return responseStarted ? 'truncated' : 'reset';
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'invalid_response';
  }
  if (isHttpParserError(err)) return isEofParserError(err) ? (responseStarted ? 'truncated' : 'reset') : 'invalid_response';
  return responseStarted ? 'reset' : 'connect';
}

function isUnexpectedResponse(err: unknown): boolean {
  const message = (err as { message?: string } | null)?.message;
  return message === 'bad response' || message === 'bad upgrade';
}

/** undici's HTTPParserError: its `code` is undefined in undici 7 (it looks the name up by number). */
function isHttpParserError(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'HTTPParserError' || (typeof e?.code === 'string' && e.code.startsWith('HPE_'));
}

/** The parser's complaint that the connection ended inside a message (a FIN, not bad bytes). */
function isEofParserError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return e?.code === 'HPE_INVALID_EOF_STATE' || (e?.message ?? '').includes('Invalid EOF state');
}

/** 4 MiB, 64 KiB or 1000 bytes: a size as its limit was most likely written. */
function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** Turns any error into a one-line message, with the secrets scrubbed out. */
function describe(err: unknown, secrets: Secrets): string {
  const e = err as { code?: string; message?: string } | null;
  let msg = e?.message ?? String(err);
  if (e?.code && !msg.includes(e.code)) msg = `${e.code}: ${msg}`;
  return scrub(msg, secrets);
}

/** One line of at most 500 characters, the secrets scrubbed out (before the cut, and after it). */
function scrub(text: string, secrets: Secrets): string {
  return oneLineRedacted(text, secrets);
}

export class OpenAIBackend implements Backend {
  /** events per parsing path, over every request this backend sent (a server whose chunks defeat the fast paths shows here) */
  private readonly stats: ParseStats = { template: 0, search: 0, json: 0 };
  private readonly pool: StreamPool;
  private readonly native: H1Pool | null;
  private readonly path: string;
  private readonly modelsPath: string;
  private readonly headers: Record<string, string>;
  private readonly maxEventBytes: number;
  private readonly secrets: string[];

  constructor(private readonly opts: OpenAIBackendOptions) {
    const max = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxEventBytes must be a positive integer (bytes), got ${String(opts.maxEventBytes)}`);
    this.maxEventBytes = max;
    const target = parseTarget(opts.baseUrl);
    // the query parameterises the whole API (Azure's api-version, a gateway's key): every path gets it
    this.path = `${target.path}${opts.endpoint === 'chat' ? '/chat/completions' : '/completions'}${target.query}`;
    this.modelsPath = `${target.path}/models${target.query}`;
    this.secrets = clientSecrets(opts.baseUrl, opts.apiKey);
    const idleMs = opts.idleTimeoutS * 1000;
    this.native =
      transportFor(target.origin, opts.transport) === 'native'
        ? new H1Pool(target.origin, { headersTimeoutMs: idleMs, bodyTimeoutMs: idleMs, keepAliveTimeoutMs: 60_000, maxHeaderSize: MAX_HEADER_BYTES })
        : null;
    this.pool =
      this.native ??
      (new Pool(target.origin, {
        // one stream holds one HTTP/1.1 connection: no cap here, the engine's in-flight cap rules
        connections: null,
        pipelining: 1,
        headersTimeout: idleMs,
        bodyTimeout: idleMs,
        keepAliveTimeout: 60_000,
        maxHeaderSize: MAX_HEADER_BYTES,
      }) as unknown as StreamPool);
    this.headers = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      // the stream is read as it comes, not decoded: a server (or proxy) must not compress it
      'accept-encoding': 'identity',
      ...(opts.headers ?? {}),
    };
    if (opts.apiKey) this.headers.authorization = `Bearer ${opts.apiKey}`;
    else if (target.authorization) this.headers.authorization = target.authorization;
  }

  send(req: GenRequest, record: RequestRecord, done: (record: RequestRecord) => void): RequestHandle {
    const handler = new StreamHandler(record, this.opts, this.maxEventBytes, this.secrets, req.maxTokens, this.stats, done, req.captureReply === true);
    // a request's own headers (the session header) never replace the client's
    const headers = req.headers ? { ...req.headers, ...this.headers } : this.headers;
    this.pool.dispatch(
      { method: 'POST', path: this.path, headers, body: requestBody(this.opts, req) },
      handler,
    );
    return handler;
  }

  /**
   * Opens `connections` keep-alive connections before the run (a GET of /models on each), so
   * that the first requests do not pay for TCP setup and show it as schedule lag. Best effort.
   */
  async preconnect(connections = 1): Promise<void> {
    const path = this.modelsPath;
    const { authorization } = this.headers;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        try {
          const headers: Record<string, string> = authorization ? { authorization } : {};
          if (this.native !== null) return await this.native.get(path, headers);
          const res = await requestOn(this.pool as unknown as Dispatcher, { method: 'GET', path, headers });
          await res.body.dump();
        } catch {
          // the run itself reports an unreachable target
        }
      }),
    );
  }

  warm(req: GenRequest): void {
    // the body's building and the handler's construction, as a send does them, sent nowhere
    requestBody(this.opts, req);
    new StreamHandler(new RequestRecord(-1, 0, req.promptTokens, true), this.opts, this.maxEventBytes, this.secrets, req.maxTokens, this.stats, () => undefined, req.captureReply === true);
  }

  parseStats(): ParseStats {
    return { ...this.stats };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** One request's life: undici dispatch handler + SSE sink. */
class StreamHandler implements Dispatcher.DispatchHandler, SseEventSink, RequestHandle {
  private readonly parser: SseParser;
  private controller: Dispatcher.DispatchController | null = null;
  private errorBody: Buffer[] | null = null;
  private errorBodyLen = 0;
  private streaming = false;
  private sawDone = false;
  private finished = false;
  /** a byte of the response (status line, headers or body) has arrived */
  private responseStarted = false;
  /** the response's header block was complete */
  private headersReceived = false;
  /** body bytes received (for messages, and to bound a body that is not a stream) */
  private bodyBytes = 0;
  /** the response's content-encoding, lower case, when it is not identity; '' otherwise */
  private encoding = '';
  /** the body has ended and the parser is dispatching what it still held */
  private ending = false;
  /** arrival time of the bytes being parsed right now: stamped before any parsing */
  private nowUs = 0;
  /** this stream's chunk template (see fastEvent): the bytes before and after the content */
  private tplPrefix: string | null = null;
  private tplSuffix = '';
  /** chunks the current template has matched */
  private tplHits = 0;
  /** templates that failed their check or served too few chunks */
  private learnFailures = 0;
  /** the most content chunks this request may bring (see MAX_CHUNKS_PER_TOKEN) */
  private readonly maxChunks: number;

  constructor(
    private readonly record: RequestRecord,
    private readonly opts: OpenAIBackendOptions,
    private readonly maxEventBytes: number,
    /** the API key and the target URL's secrets, longest first */
    private readonly secrets: readonly string[],
    private readonly maxTokens: number,
    private readonly stats: ParseStats,
    private readonly done: (record: RequestRecord) => void,
    /**
     * keep the reply's text (sessions resend it): every event takes the JSON path, whose decoded
     * strings are the text exactly as streamed; the fast paths see only escaped bytes
     */
    private readonly capture = false,
  ) {
    this.parser = new SseParser(this, maxEventBytes);
    this.maxChunks = Math.max(MIN_MAX_CHUNKS, MAX_CHUNKS_PER_TOKEN * maxTokens);
  }

  // -- RequestHandle ------------------------------------------------------------------

  abort(errorClass: AbortClass, message: string): void {
    if (this.finished) return;
    // The request ends now, as the run cut it, even when undici has not started it yet (still
    // connecting, or queued for a connection): waiting for its start would let the pool's
    // destruction at the run's end classify it as a `connect` failure, a failure the server
    // never had a chance to cause. The controller, once it comes, is aborted at once.
    this.fail(errorClass, message, this.opts.clock.now());
    this.controller?.abort(new Error(message));
  }

  // -- undici DispatchHandler ---------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.finished) {
      // cut by the run before undici could start it: never sent
      controller.abort(new Error(this.record.errorMessage ?? 'aborted'));
      return;
    }
    this.record.sentUs = this.opts.clock.now();
  }

  /**
   * The first byte of the response arrived (before its headers are parsed). A hook of undici's
   * older handler API that undici 7 still calls on new-style handlers; the only sign of a
   * response cut inside its header block, which is `truncated`, not `reset`.
   */
  onResponseStarted(): void {
    this.responseStarted = true;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.controller = controller;
    this.responseStarted = true;
    this.headersReceived = true;
    const t = this.opts.clock.now();
    this.record.headersUs = t;
    this.record.httpStatus = statusCode;
    const ce = headers['content-encoding'];
    const encoding = ((Array.isArray(ce) ? ce.join(', ') : ce) ?? '').trim().toLowerCase();
    if (encoding !== 'identity') this.encoding = encoding;
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
    if (this.encoding !== '') {
      // the request said `accept-encoding: identity`; decoding a stream would put a stage
      // between the bytes' arrival and their stamps, for servers no one should run that way
      this.failAndStop('invalid_response', `the event stream is compressed (content-encoding: ${this.encoding}), though the client asked for identity; the client does not decode streams: turn compression off for text/event-stream (e.g. at the proxy)`, t);
      return;
    }
    this.streaming = true;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.nowUs = this.opts.clock.now();
    this.bodyBytes += chunk.length;
    if (this.finished) return;
    if (this.streaming) {
      this.parser.push(chunk);
    } else if (this.errorBody) {
      // keep the start of the body for the message; read no more than an event's worth of it
      if (this.errorBodyLen < MAX_ERROR_BODY) {
        const keep = chunk.subarray(0, MAX_ERROR_BODY - this.errorBodyLen);
        this.errorBody.push(Buffer.from(keep));
        this.errorBodyLen += keep.length;
      }
      if (this.bodyBytes > this.maxEventBytes) {
        const cut = `, cut after ${formatBytes(this.maxEventBytes)} (maxEventBytes)`;
        this.failBody(this.nowUs, cut);
        this.controller?.abort(new Error(`response body over ${formatBytes(this.maxEventBytes)}`));
      }
    }
  }

  onResponseEnd(): void {
    if (this.finished) return;
    const t = this.opts.clock.now();
    if (this.streaming) this.endStream(t, null);
    else this.failBody(t, '');
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.finished) return;
    const t = this.opts.clock.now();
    const errorClass = classifyTransportError(err, this.responseStarted);
    if (this.headersReceived && !this.streaming) {
      // an error response (or a 2xx that is not a stream) cut short: its status says more
      this.failBody(t, ` (the body was cut: ${describe(err, this.secrets)})`);
      return;
    }
    if (errorClass === 'truncated' && this.streaming) {
      // the server closed the connection: the same ending as the end of the body, so what the
      // parser still held counts, and a finish reason already received makes a success
      this.endStream(t, err);
      return;
    }
    let message = describe(err, this.secrets);
    const code = (err as { code?: string }).code;
    const how = code === 'ECONNRESET' || code === 'EPIPE' ? 'reset' : 'closed';
    if (errorClass === 'truncated') message = `the server closed the connection inside the response headers (${message})`;
    else if (errorClass === 'reset' && !this.responseStarted) message = `the connection was ${how} before any response byte (${message})`;
    else if (errorClass === 'reset' && this.headersReceived) message = `the connection was ${how} after ${this.progress()} (${message})`;
    else if (errorClass === 'invalid_response' && code === 'UND_ERR_HEADERS_OVERFLOW')
      message = `the response headers exceeded ${formatBytes(MAX_HEADER_BYTES)} (the client's maxHeaderSize)`;
    else if (errorClass === 'invalid_response' && isUnexpectedResponse(err))
      message = `the server answered with an interim or upgrade response (100 Continue, 101 Switching Protocols) that the request did not ask for (${message})`;
    else if (errorClass === 'invalid_response') message = `the response is not valid HTTP/1.1 (${message})`;
    this.fail(errorClass, message, t);
  }

  /**
   * The event stream of a 2xx ended: by the end of its body (`err` null), or by the server
   * closing the connection inside it. What the parser still holds is dispatched (a last event
   * without its blank line), then the request succeeds if [DONE] or a finish reason came.
   */
  private endStream(t: number, err: Error | null): void {
    this.nowUs = t;
    this.ending = true;
    this.parser.end();
    if (this.finished) return;
    const r = this.record;
    if (this.sawDone || r.finishReason !== null) {
      r.endUs = Number.isNaN(r.endUs) ? t : r.endUs;
      r.ok = true;
      this.finish();
    } else if (err === null) {
      this.fail('truncated', `the stream ended after ${this.progress()} without [DONE] or a finish_reason`, t);
    } else {
      this.fail('truncated', `the server closed the connection after ${this.progress()} without [DONE] or a finish_reason (${describe(err, this.secrets)})`, t);
    }
  }

  /** Fails a response that is not an event stream, with the start of its body as the message. */
  private failBody(t: number, note: string): void {
    const body = this.encoding !== '' ? `(a ${this.encoding}-encoded body, not decoded)` : Buffer.concat(this.errorBody ?? []).toString('utf8');
    const status = this.record.httpStatus;
    if (status >= 200 && status < 300) {
      this.fail('invalid_response', `HTTP ${status} without an event stream${note}: ${body}`, t);
    } else {
      this.fail(classifyStatus(status), `HTTP ${status}${note}: ${errorMessageOf(body)}`, t);
    }
  }

  /** How far the stream got, for messages: "3 content chunks (1234 body bytes)". */
  private progress(): string {
    const n = this.record.chunkUs.length;
    return `${n} content chunk${n === 1 ? '' : 's'} (${this.bodyBytes} body bytes)`;
  }

  // -- SseEventSink ----------------------------------------------------------------------

  /**
   * The cheapest path, for the event every stream is made of: once a content chunk has been
   * understood (by `fastChunk`, or by JSON.parse and a check), its bytes before and after the
   * content string become this stream's template. A later event that is byte for byte the
   * template's prefix, then a content string, then the template's suffix, is the same JSON
   * object with another content string, so it is recorded with two comparisons and one search
   * and no framing at all. Servers repeat the id, model and created stamp in every chunk, so
   * nearly every chunk matches; any other event (a finish reason, usage, an error, a changed
   * field, an escaped quote) does not, and takes the paths below, which may learn it anew.
   */
  fastEvent(text: string, pos: number): number {
    const prefix = this.tplPrefix;
    if (prefix === null || this.finished) return -1;
    // slice-and-compare, not startsWith: V8 runs startsWith with a non-constant argument
    // several times slower (measured: 1 150 vs 260 ns per event on a 56 KB read)
    const cs = pos + prefix.length;
    if (text.slice(pos, cs) !== prefix) return -1;
    const q = text.indexOf('"', cs);
    // empty content, or a backslash before the quote (escaped quote, or a string ending in an
    // escaped backslash): leave it to the exact paths
    const suffix = this.tplSuffix;
    if (q <= cs || text.charCodeAt(q - 1) === 92 || text.slice(q, q + suffix.length) !== suffix) return -1;
    this.contentChunk(this.nowUs, q - cs, NaN);
    this.stats.template++;
    this.tplHits++;
    return q + suffix.length;
  }

  onSseData(text: string, start: number, end: number, rawStart: number, rawEnd: number): void {
    if (this.finished || this.sawDone) return;
    const t = this.nowUs;
    if (end - start === 6 && text.startsWith('[DONE]', start)) {
      // the answer is complete: end the request now, even if the server (or a gateway) keeps
      // the response open after [DONE]; the connection itself closes when the body ends
      this.sawDone = true;
      this.record.endUs = t;
      this.record.ok = true;
      this.finish();
      return;
    }
    const fast = !this.opts.parseEveryEvent && !this.capture;
    // a sliced string: O(1), and searches in it stop at the event's end
    const data = text.slice(start, end);
    if (fast && (this.fastChunk(data, t, text, start, rawStart, rawEnd) || this.fastUsage(data))) {
      this.stats.search++;
      return;
    }
    this.stats.json++;
    let obj: unknown;
    try {
      obj = JSON.parse(utf8(data));
    } catch {
      // at the end of the body, the parser hands over a last event without its blank line: one
      // that is not JSON was most likely cut inside (a FIN mid-event), not malformed
      if (this.ending) this.fail('truncated', `the stream ended inside an event, after ${this.progress()}, without [DONE] or a finish_reason`, t);
      else this.failAndStop('invalid_response', `an SSE event is not JSON: ${oneLineRedacted(utf8(data.slice(0, 200 + (this.secrets[0]?.length ?? 0))), this.secrets, 200)}`, t);
      return;
    }
    if (typeof obj !== 'object' || obj === null) {
      this.failAndStop('invalid_response', 'an SSE event is not a JSON object', t);
      return;
    }
    const c = classifyChunk(obj as StreamChunk);
    if (c.error !== null) {
      this.failAndStop('stream_error', c.error, t);
      return;
    }
    const r = this.record;
    if (c.hasChoice) {
      if (Number.isNaN(r.firstChunkUs)) r.firstChunkUs = t;
      if (this.capture) {
        // the answer, not the reasoning: what a chat client puts back into the conversation
        const choice = (obj as StreamChunk).choices![0]!;
        const piece = this.opts.endpoint === 'chat' ? choice.delta?.content : choice.text;
        if (typeof piece === 'string' && piece.length > 0) r.reply = (r.reply ?? '') + piece;
      }
      if (c.chars > 0) {
        this.contentChunk(t, c.chars, this.opts.recordEmitTimes ? c.emitMs : NaN);
        if (fast && rawStart !== -1 && c.plain) this.learnChecked(text, start, end, rawStart, rawEnd, c.field!);
      }
      if (c.finishReason !== null) r.finishReason = c.finishReason;
    }
    if (c.completionTokens !== null) r.outputTokensUsage = c.completionTokens;
    if (c.promptTokens !== null) r.promptTokensUsage = c.promptTokens;
    if (c.cachedTokens !== null) r.cachedTokensUsage = c.cachedTokens;
  }

  /** A chunk that carried content: its stamp, its size and (benchmarks) the server's emit time. */
  private contentChunk(t: number, chars: number, emitMs: number): void {
    const r = this.record;
    if (r.chunkUs.length === this.maxChunks) {
      this.failAndStop('invalid_response', `the stream went past ${this.maxChunks} content chunks, for max_tokens ${this.maxTokens} (a chunk carries at least one token; the client takes at most max(${MIN_MAX_CHUNKS}, ${MAX_CHUNKS_PER_TOKEN} × max_tokens))`, t);
      return;
    }
    if (Number.isNaN(r.firstChunkUs)) r.firstChunkUs = t;
    if (Number.isNaN(r.firstTokenUs)) r.firstTokenUs = t;
    r.chunkUs.push(t);
    r.chunkChars.push(chars);
    if (!Number.isNaN(emitMs)) (r.emitMs ??= []).push(emitMs);
  }

  /**
   * The search path for a compact chunk with one choice
   * (`{...,"choices":[{"index":0,"delta":{"content":"tok"},...,"finish_reason":null}]...}`, or a
   * plain-string finish reason, with vLLM's stop_reason after it), classified by bounded string
   * searches instead of JSON.parse. `text` is the event alone (a slice, so searches stop at its
   * end); `read` and `start` place it in the read, for learning a template. Anything unusual (an
   * error key, usage, a second choice, content under a key not written compactly, escapes in a
   * finish reason) returns false and takes the JSON path, so this path can only agree with it
   * (fast-path.test.ts on the known shapes, fast-path-fuzz.test.ts on generated ones).
   */
  private fastChunk(text: string, t: number, read: string, start: number, rawStart: number, rawEnd: number): boolean {
    const choices = text.indexOf('"choices":[{');
    if (choices === -1 || text.lastIndexOf('"error"', choices) !== -1) return false;
    const finish = text.indexOf('"finish_reason":', choices);
    if (finish === -1) return false;
    // the finish reason: null or a plain string; then vLLM's stop_reason, if any
    let tail = finish + 16;
    let finishReason: string | null = null;
    if (text.startsWith('null', tail)) tail += 4;
    else {
      const end = plainString(text, tail);
      if (end === -1) return false;
      finishReason = utf8(text.slice(tail + 1, end));
      tail = end + 1;
    }
    if (text.startsWith(',"stop_reason":', tail)) {
      tail = skipSimpleValue(text, tail + 15);
      if (tail === -1) return false;
    }
    // one choice, closed right after its finish_reason; nothing but harmless keys after it
    if (text.charCodeAt(tail) !== 125 /* } */ || text.charCodeAt(tail + 1) !== 93 /* ] */) return false;
    // usage anywhere (before the choices too) is the JSON path's to read
    if (text.indexOf('"usage"') !== -1 || text.indexOf('"error"', tail) !== -1) return false;
    let emitMs = NaN;
    if (this.opts.recordEmitTimes) {
      const at = text.indexOf('"inferload_emit_ms":');
      if (at !== -1) {
        emitMs = numberAt(text, at + 20);
        if (Number.isNaN(emitMs)) return false;
      }
    }
    // every content field, summed as the JSON path does; the one non-empty field's span is kept
    // for the template
    let chars = 0;
    let cs = -1;
    let nonEmpty = 0;
    for (const pat of CONTENT_PATTERNS) {
      const at = text.indexOf(pat, choices);
      if (at === -1 || at > finish) continue;
      const valueStart = at + pat.length;
      const valueEnd = closingQuote(text, valueStart);
      if (valueEnd === -1 || valueEnd > finish) return false;
      if (valueEnd > valueStart) {
        chars += valueEnd - valueStart;
        cs = valueStart;
        nonEmpty++;
      }
    }
    // no content found in the compact spelling: make sure it is not there in another one
    // (`"content": "a"`, a key with escapes, data cut over two lines) before calling it empty
    if (chars === 0 && !noContentElsewhere(text, choices, finish)) return false;
    const r = this.record;
    if (Number.isNaN(r.firstChunkUs)) r.firstChunkUs = t;
    if (chars > 0) {
      this.contentChunk(t, chars, emitMs);
      // what this path understood, it understands again for the same bytes around new content
      if (finishReason === null && nonEmpty === 1 && rawStart !== -1 && Number.isNaN(emitMs) && text.charCodeAt(cs + chars - 1) !== 92)
        this.learn(read, rawStart, start + cs, start + cs + chars, rawEnd);
    }
    if (finishReason !== null) r.finishReason = finishReason;
    return true;
  }

  /**
   * The usage chunk that ends a stream (`"choices":[]` and a flat `"usage":{...}` object), read
   * by search instead of JSON.parse: on short requests the two JSON.parse calls of the finish and
   * usage chunks were most of the client's own cost per request. A flat
   * `"prompt_tokens_details":{...}` inside usage (vLLM's cached_tokens) is read too; anything else
   * (an error key, another nested object, a number that is not a plain integer) returns false.
   */
  private fastUsage(text: string): boolean {
    const choices = text.indexOf('"choices":[]');
    if (choices === -1 || text.indexOf('"error"') !== -1) return false;
    const u = text.indexOf('"usage":{', choices);
    if (u === -1) return false;
    let close = text.indexOf('}', u + 9);
    if (close === -1) return false;
    let cached = -1;
    let open = u + 8;
    const details = text.indexOf('"prompt_tokens_details":{', u + 9);
    if (details !== -1 && details < close) {
      open = details + 24;
      if (text.lastIndexOf('{', close) !== open) return false;
      cached = integerField(text, '"cached_tokens":', open, close);
      if (cached === -2) return false;
      close = text.indexOf('}', close + 1);
      if (close === -1 || text.lastIndexOf('{', close) !== open) return false;
    } else if (text.lastIndexOf('{', close) !== open) return false;
    const prompt = integerField(text, '"prompt_tokens":', u, close);
    const completion = integerField(text, '"completion_tokens":', u, close);
    if (prompt === -2 || completion === -2) return false;
    const r = this.record;
    if (completion >= 0) r.outputTokensUsage = completion;
    if (prompt >= 0) r.promptTokensUsage = prompt;
    if (cached >= 0) r.cachedTokensUsage = cached;
    return true;
  }

  /**
   * Learns a template from a chunk the JSON path classified, after checking that the same bytes
   * around another content string parse to the same kind of chunk: one content field, no
   * finish reason, no usage, no error (the JSON grammar cannot tell one string's body from
   * another's, so what holds for the probe holds for every chunk that matches).
   */
  private learnChecked(read: string, start: number, end: number, rawStart: number, rawEnd: number, field: string): void {
    if (this.learnFailures >= MAX_LEARN_FAILURES) return;
    const pat = `"${field}":"`;
    const at = read.indexOf(pat, start);
    const cs = at + pat.length;
    const ce = at === -1 || at >= end ? -1 : closingQuote(read, cs);
    if (ce === -1 || ce > end || ce === cs || read.charCodeAt(ce - 1) === 92) {
      this.learnFailures++;
      return;
    }
    let probe: unknown;
    try {
      // an escaped snowman: a value the real content string is most unlikely to hold as well
      probe = JSON.parse(utf8(read.slice(start, cs) + '\\u2603' + read.slice(ce, end)));
    } catch {
      probe = null;
    }
    const c = typeof probe === 'object' && probe !== null ? classifyChunk(probe as StreamChunk) : null;
    if (c === null || !c.plain || c.chars !== 1 || c.field !== field || fieldValue(probe as StreamChunk, field) !== '\u2603') {
      this.learnFailures++;
      return;
    }
    this.learn(read, rawStart, cs, ce, rawEnd);
  }

  private learn(read: string, rawStart: number, cs: number, ce: number, rawEnd: number): void {
    if (this.learnFailures >= MAX_LEARN_FAILURES) return;
    const prefix = read.slice(rawStart, cs);
    const suffix = read.slice(ce, rawEnd);
    // the template already held: the chunk missed it for its content (an escaped quote)
    if (prefix === this.tplPrefix && suffix === this.tplSuffix) return;
    // a template that served fewer than two chunks before it had to be replaced was not worth
    // its copies: after a few of those (e.g. an SSE id on every event), stop learning
    if (this.tplPrefix !== null && this.tplHits < 2 && ++this.learnFailures >= MAX_LEARN_FAILURES) {
      this.tplPrefix = null;
      return;
    }
    this.tplHits = 0;
    // copies, not slices: a slice would keep the whole read alive and compares more slowly
    this.tplPrefix = flatCopy(prefix);
    this.tplSuffix = flatCopy(suffix);
  }

  onSseOverflow(heldBytes: number, lineBytes: number): void {
    // the parser has dropped what it held; closing the connection stops the rest from coming
    const where = lineBytes * 2 > heldBytes ? 'without a line end' : 'without the blank line that ends an event';
    this.failAndStop('invalid_response', `an SSE event exceeded ${formatBytes(this.maxEventBytes)} (maxEventBytes) ${where}`, this.nowUs);
  }

  onSseErrorField(data: string): void {
    if (this.finished) return;
    let message = utf8(data);
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
    r.errorMessage = scrub(message, this.secrets);
    r.endUs = t;
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    const r = this.record;
    // what the server said it counted, taken only when it can be true (metrics.md, output_tokens)
    r.outputTokensUsage = believedUsage(r.outputTokensUsage, r.chunkUs.length, this.maxTokens);
    if (r.promptTokensUsage !== null && !isTokenCount(r.promptTokensUsage)) r.promptTokensUsage = null;
    // cached tokens are part of the prompt: more of them than the prompt has cannot be true
    if (r.cachedTokensUsage !== null && (!isTokenCount(r.cachedTokensUsage) || (r.promptTokensUsage !== null && r.cachedTokensUsage > r.promptTokensUsage))) r.cachedTokensUsage = null;
    // `done` must never run inside `send`: defer when a failure was immediate
    if (Number.isNaN(r.sentUs)) queueMicrotask(() => this.done(r));
    else this.done(r);
  }
}

/** delta.content, delta.reasoning_content, delta.reasoning (chat) and text (completions) */
const CONTENT_KEYS = ['"content"', '"reasoning_content"', '"reasoning"', '"text"'];
/** the same keys, compact, with their string opening */
const CONTENT_PATTERNS = CONTENT_KEYS.map((k) => `${k}:"`);

/**
 * For a chunk whose compact content patterns found nothing: true when no content key occurs in
 * any other form either, i.e. every `"content"`, `"reasoning_content"`, `"reasoning"` and `"text"`
 * key in the choice is `:""` or `:null`, and no escape could be spelling a key.
 */
function noContentElsewhere(text: string, from: number, to: number): boolean {
  if (text.indexOf('\\', from) !== -1) return false;
  for (const key of CONTENT_KEYS) {
    for (let at = text.indexOf(key, from); at !== -1 && at < to; at = text.indexOf(key, at + 1)) {
      const v = at + key.length;
      if (!text.startsWith(':""', v) && !text.startsWith(':null', v)) return false;
    }
  }
  return true;
}

/** A JSON number at `at` (up to the next character that cannot be part of one); NaN if none. */
function numberAt(text: string, at: number): number {
  let k = at;
  for (; k < text.length; k++) {
    const c = text.charCodeAt(k);
    // 0-9 . - + e E
    if (!((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43 || c === 101 || c === 69)) break;
  }
  return k === at ? NaN : Number(text.slice(at, k));
}

/** At `at`, a JSON string without escapes (`"abc"`): the index of its closing quote, or -1. */
function plainString(text: string, at: number): number {
  if (text.charCodeAt(at) !== 34) return -1;
  const end = text.indexOf('"', at + 1);
  if (end === -1 || end - at > 100) return -1;
  const backslash = text.indexOf('\\', at + 1);
  return backslash !== -1 && backslash < end ? -1 : end;
}

/** At `at`, null, a plain string or an integer (vLLM's stop_reason): the index after it, or -1. */
function skipSimpleValue(text: string, at: number): number {
  if (text.startsWith('null', at)) return at + 4;
  if (text.charCodeAt(at) === 34) {
    const end = plainString(text, at);
    return end === -1 ? -1 : end + 1;
  }
  let k = at;
  if (text.charCodeAt(k) === 45 /* - */) k++;
  const digits = k;
  while (k < text.length && text.charCodeAt(k) >= 48 && text.charCodeAt(k) <= 57) k++;
  return k === digits ? -1 : k;
}

/**
 * The integer value of `key` inside [from, to): -1 when the key is absent or null (the JSON path
 * ignores those too), -2 when its value is anything else than a plain non-negative integer.
 */
function integerField(text: string, key: string, from: number, to: number): number {
  const at = text.indexOf(key, from);
  if (at === -1 || at > to) return -1;
  let k = at + key.length;
  if (text.startsWith('null', k)) return -1;
  const digits = k;
  while (k < to && text.charCodeAt(k) >= 48 && text.charCodeAt(k) <= 57) k++;
  if (k === digits || k - digits > 15) return -2;
  const next = text.charCodeAt(k);
  if (next !== 44 /* , */ && next !== 125 /* } */) return -2;
  return Number(text.slice(digits, k));
}

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
  usage?: { completion_tokens?: unknown; prompt_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null } | null;
  error?: unknown;
  inferload_emit_ms?: unknown;
}

/** What one parsed chunk says, as the record needs it. */
interface ChunkFacts {
  /** the error message when the chunk is an error */
  error: string | null;
  /** a non-empty `choices` array */
  hasChoice: boolean;
  /** characters of content in the first choice */
  chars: number;
  /** the only content field that carried characters, when exactly one did */
  field: string | null;
  finishReason: string | null;
  completionTokens: number | null;
  promptTokens: number | null;
  /** usage.prompt_tokens_details.cached_tokens */
  cachedTokens: number | null;
  emitMs: number;
  /** a content chunk and nothing else: one content field, no finish reason, usage or error */
  plain: boolean;
}

function classifyChunk(chunk: StreamChunk): ChunkFacts {
  const facts: ChunkFacts = { error: null, hasChoice: false, chars: 0, field: null, finishReason: null, completionTokens: null, promptTokens: null, cachedTokens: null, emitMs: NaN, plain: false };
  if (chunk.error !== undefined && chunk.error !== null) {
    facts.error = errorMessageOf(chunk.error);
    return facts;
  }
  const choices = chunk.choices;
  if (Array.isArray(choices) && choices.length > 0) {
    facts.hasChoice = true;
    const choice = choices[0]!;
    const delta = choice.delta;
    let fields = 0;
    const add = (name: string, v: unknown): void => {
      const n = strLen(v);
      if (n === 0) return;
      facts.chars += n;
      facts.field = name;
      fields++;
    };
    if (delta) {
      add('content', delta.content);
      add('reasoning_content', delta.reasoning_content);
      add('reasoning', delta.reasoning);
    }
    add('text', choice.text);
    if (fields !== 1) facts.field = null;
    if (typeof choice.finish_reason === 'string') facts.finishReason = choice.finish_reason;
  }
  const usage = chunk.usage;
  if (usage && typeof usage === 'object') {
    if (typeof usage.completion_tokens === 'number') facts.completionTokens = usage.completion_tokens;
    if (typeof usage.prompt_tokens === 'number') facts.promptTokens = usage.prompt_tokens;
    const details = usage.prompt_tokens_details;
    if (details && typeof details === 'object' && typeof details.cached_tokens === 'number') facts.cachedTokens = details.cached_tokens;
  }
  if (typeof chunk.inferload_emit_ms === 'number') facts.emitMs = chunk.inferload_emit_ms;
  facts.plain =
    facts.field !== null &&
    facts.finishReason === null &&
    facts.completionTokens === null &&
    facts.promptTokens === null &&
    chunk.inferload_emit_ms === undefined &&
    (usage === undefined || usage === null);
  return facts;
}

function fieldValue(chunk: StreamChunk, field: string): unknown {
  const choice = chunk.choices?.[0];
  if (field === 'text') return choice?.text;
  return (choice?.delta as Record<string, unknown> | undefined)?.[field];
}

/** A latin1 string as a fresh flat string of its own (no reference to a parent string). */
function flatCopy(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('latin1');
}

/** latin1 text (one char per byte) back to the UTF-8 it was; ASCII needs no work. */
function utf8(latin1: string): string {
  return NON_ASCII.test(latin1) ? Buffer.from(latin1, 'latin1').toString('utf8') : latin1;
}
const NON_ASCII = /[\x80-\xff]/;

/** Stop learning templates for a stream whose chunks keep defeating them. */
const MAX_LEARN_FAILURES = 4;

/**
 * A content chunk carries at least one token, so a stream of many more content chunks than
 * max_tokens allows is broken, or hostile: 20 M one-character events held 1 GB of stamps. Past
 * max(MIN_MAX_CHUNKS, MAX_CHUNKS_PER_TOKEN × max_tokens) the request fails as invalid_response
 * and its connection closes; the margin is for a server that splits text finer than tokens.
 */
const MAX_CHUNKS_PER_TOKEN = 8;
const MIN_MAX_CHUNKS = 4096;

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
