// A minimal HTTP/1.1 client for the streaming path over plain TCP (node:net), one request at a
// time per keep-alive connection, with undici's dispatch-handler interface so that the stream
// handler in client.ts runs unchanged on it or on undici's Pool (https targets, and the
// `INFERLOAD_HTTP=undici` escape hatch).
//
// Why hand-written: on a streaming load the client's cost is its cost per socket read (one
// read brings one SSE chunk per stream at each of the server's decode steps). undici pays for
// its generality there: a Buffer allocated per read, the llhttp WebAssembly parser, and several
// layers of callbacks, 15-17 µs a read on this project's 2-core machines, against ~10 µs for a
// socket reading into one reused buffer (`onread`). No maintained npm library reads into a
// reused buffer and decodes chunked framing in place, which is what this file does:
//  - every connection reads into one shared buffer; a read's body bytes are handed to the
//    handler as a view of it, valid during the call only (the SSE parser copies it into a
//    string at once);
//  - chunked framing is decoded in place: the data of every chunk in one read is moved together
//    (copyWithin), so one read is one handler call, however many chunks it holds;
//  - timeouts cost nothing per read: each read stores a tick number, and one timer per pool
//    sweeps the connections.
// The errors it raises carry undici's codes and messages, so that one classifier
// (`classifyTransportError`) serves both transports; test/unit/backend/client-endings.test.ts
// runs every ending against both.
import { connect, type Socket } from 'node:net';
import type { Dispatcher } from 'undici';

/** The handler interface (undici's DispatchHandler, with the older first-byte hook). */
export type H1Handler = Dispatcher.DispatchHandler & { onResponseStarted?(): void };

export interface H1Options {
  /** from the request's write to its header block's end */
  headersTimeoutMs: number;
  /** between two reads of the body */
  bodyTimeoutMs: number;
  /** how long a connection is kept idle (shortened by a server's `keep-alive: timeout=N`) */
  keepAliveTimeoutMs: number;
  /** the most bytes of a response's header block */
  maxHeaderSize: number;
  /** the longest a TCP connect may take (undici's default: 10 s) */
  connectTimeoutMs?: number;
}

export interface H1Request {
  method: string;
  /** path and query, as sent */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** An error with the code (and name) undici gives the same failure. */
export class H1Error extends Error {
  constructor(
    message: string,
    readonly code: string,
    name = 'Error',
  ) {
    super(message);
    this.name = name;
  }
}

const closedError = (): H1Error => new H1Error('other side closed', 'UND_ERR_SOCKET', 'SocketError');
const parseError = (message: string, code: string): H1Error => new H1Error(message, code, 'HTTPParserError');

/** One buffer every connection reads into (see the header comment). 64 KiB: the most one read brings. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

const enum State {
  /** connecting, or connected with no request */
  Idle,
  /** the request is written; reading the header block */
  Head,
  /** reading the body */
  Body,
}

const enum Framing {
  /** until the connection closes */
  Close,
  /** Content-Length bytes */
  Length,
  /** chunked transfer coding */
  Chunked,
}

const enum Chunk {
  /** reading a chunk-size line */
  Size,
  /** reading a chunk's data */
  Data,
  /** the CR LF after a chunk's data */
  DataEnd,
  /** the trailer section after the last chunk */
  Trailers,
}

const CR = 13;
const LF = 10;

/** The DispatchController a handler sees: abort is all the stream handler uses. */
class Exchange implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  /** the connection carrying it, once it has one */
  conn: Connection | null = null;
  /** the handler has been told how the exchange ended (end or error) */
  ended = false;

  constructor(
    readonly request: H1Request,
    readonly handler: H1Handler,
    /** the request as written: head and body */
    readonly wire: string,
  ) {}

  abort(reason: Error): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    this.reason = reason;
    const conn = this.conn;
    // an exchange on the wire takes its connection with it: the rest of its response cannot
    // be told from the next one's; one not yet written leaves its connection for the next
    if (conn !== null) conn.drop(this);
    this.error(reason);
  }

  pause(): void {
    // the stream is read as it comes (stamps are taken at arrival): never paused
  }

  resume(): void {}

  /** Tells the handler how the exchange failed, once. */
  error(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.conn = null;
    this.handler.onResponseError?.(this, err);
  }
}

class Connection {
  readonly socket: Socket;
  state = State.Idle;
  connected = false;
  exchange: Exchange | null = null;
  /** the pool's tick when it last read or wrote (timeouts), or went idle (keep-alive) */
  tick: number;
  /** the keep-alive time the server asked for, in ms, or the pool's */
  keepAliveMs: number;
  /** the header block read so far (latin1) */
  private head = '';
  private framing = Framing.Close;
  /** Content-Length bytes left, or the current chunk's data bytes left */
  private remaining = 0;
  private chunk = Chunk.Size;
  /** a chunk-size or trailer line cut by a read (latin1) */
  private line = '';
  /** the connection may carry another request after this response */
  private keepAlive = true;
  private closed = false;
  /**
   * The response just ended: for one turn of the event loop the connection takes an exchange
   * but does not write it (see complete()). undici does the same.
   */
  private cooling = false;
  /** in the pool's idle list */
  listed = false;

  constructor(
    private readonly pool: H1Pool,
    host: string,
    port: number,
  ) {
    this.tick = pool.tick;
    this.keepAliveMs = pool.opts.keepAliveTimeoutMs;
    this.socket = connect({ host, port, onread: { buffer: READ_BUFFER, callback: (n: number) => this.onRead(n) } });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err) => this.onError(err));
    this.socket.on('close', () => this.onClose());
  }

  /** Puts an exchange on this connection: written now if connected, else once it is. */
  assign(ex: Exchange): void {
    this.exchange = ex;
    ex.conn = this;
    this.tick = this.pool.tick;
    // an idle connection does not keep the process alive; one with a request does
    this.socket.ref();
    if (this.connected && !this.cooling) this.write(ex);
  }

  /** The turn after a response's end: the exchange given meanwhile is written now. */
  private cooled(): void {
    this.cooling = false;
    if (this.closed) return;
    const ex = this.exchange;
    if (ex === null) this.pool.release(this);
    else if (this.state === State.Idle) this.write(ex);
  }

  /**
   * An exchange given to this connection while it cooled and never written, when the
   * connection closes (the server's FIN came in that turn): it goes to another connection.
   */
  private rescue(): void {
    const ex = this.exchange;
    if (ex === null || !this.cooling || this.state !== State.Idle) return;
    this.exchange = null;
    ex.conn = null;
    this.pool.place(ex);
  }

  private onConnect(): void {
    this.connected = true;
    this.socket.setKeepAlive(true, 60_000);
    this.tick = this.pool.tick;
    const ex = this.exchange;
    if (ex !== null) this.write(ex);
    else this.pool.release(this);
  }

  private write(ex: Exchange): void {
    // the handler's start may end the exchange at once (cut by the run before it was sent)
    try {
      ex.handler.onRequestStart?.(ex, {});
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    // (its abort has given this connection back to the pool)
    if (ex.ended || ex.conn !== this) return;
    this.state = State.Head;
    this.head = '';
    this.tick = this.pool.tick;
    this.socket.write(ex.wire);
  }

  /**
   * One read of `n` bytes into READ_BUFFER. What a handler throws fails its own exchange (as
   * undici does), never the process; a throw after the exchange ended is only a warning.
   */
  private onRead(n: number): boolean {
    const ex = this.exchange;
    try {
      return this.read(ex, n);
    } catch (err) {
      if (ex !== null && this.exchange === ex) this.fail(err as Error);
      else process.emitWarning(`inferload: a stream handler threw after its request ended: ${(err as Error)?.message ?? String(err)}`);
      return !this.closed;
    }
  }

  private read(ex: Exchange | null, n: number): boolean {
    if (ex === null || this.state === State.Idle) {
      // bytes no request asked for (after a response, on an idle connection): the connection
      // cannot be trusted with another request
      this.destroy();
      return false;
    }
    this.tick = this.pool.tick;
    const buf = READ_BUFFER;
    let pos = 0;
    if (this.state === State.Head) {
      pos = this.readHead(ex, buf, n);
      if (pos < 0 || this.exchange !== ex) return !this.closed;
    }
    this.readBody(ex, buf, pos, n);
    return !this.closed;
  }

  /** Reads header bytes; returns where the body starts in `buf`, or -1 (more to come, or ended, or failed). */
  private readHead(ex: Exchange, buf: Buffer, n: number): number {
    if (this.head.length === 0) ex.handler.onResponseStarted?.();
    // `head` holds the bytes of this read from `offset` on (earlier reads' bytes before them)
    let before = this.head.length;
    this.head += buf.toString('latin1', 0, n);
    for (;;) {
      const from = Math.max(0, before - 3);
      let end = this.head.indexOf('\r\n\r\n', from);
      let sep = 4;
      const lf = this.head.indexOf('\n\n', from);
      if (lf !== -1 && (end === -1 || lf < end)) {
        end = lf;
        sep = 2;
      }
      if (end === -1 ? this.head.length > this.pool.opts.maxHeaderSize : end > this.pool.opts.maxHeaderSize) {
        this.fail(new H1Error('Headers Overflow Error', 'UND_ERR_HEADERS_OVERFLOW', 'HeadersOverflowError'));
        return -1;
      }
      if (end === -1) return -1;
      const block = this.head.slice(0, end);
      this.head = this.head.slice(end + sep);
      // where the rest of `head` starts in `buf`: it is the tail of this read
      const bodyAt = n - this.head.length;
      const started = this.startResponse(ex, block, bodyAt < n);
      if (started === 'interim') {
        // 102 Processing, 103 Early Hints: read on to the final response (RFC 9110 §15.2)
        before = 0;
        continue;
      }
      this.head = '';
      return started === 'body' ? bodyAt : -1;
    }
  }

  /**
   * Parses the status line and headers; tells the handler. 'body': read the body; 'interim': a
   * 1xx to skip; 'done': the exchange ended (a response without a body) or failed. `more`: bytes
   * follow the head in this read.
   */
  private startResponse(ex: Exchange, block: string, more: boolean): 'body' | 'interim' | 'done' {
    const lines = block.split(/\r?\n/);
    const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (status === null) {
      this.fail(parseError(`Expected HTTP/ (status line: ${JSON.stringify((lines[0] ?? '').slice(0, 60))})`, 'HPE_INVALID_CONSTANT'));
      return 'done';
    }
    const code = Number(status[2]);
    if (code === 100 || code === 101) {
      // 100 Continue (the request never asked for it: no Expect) or an upgrade (101) to a
      // plain POST: undici's "bad response" / "bad upgrade", read as invalid_response
      this.fail(new H1Error(code === 101 ? 'bad upgrade' : 'bad response', 'UND_ERR_SOCKET', 'SocketError'));
      return 'done';
    }
    if (code < 200) return 'interim';
    const headers: Record<string, string | string[]> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0 || /[\s]/.test(line[colon - 1]!) || /^[\s]/.test(line)) {
        this.fail(parseError(`Invalid header line ${JSON.stringify(line.slice(0, 60))}`, 'HPE_INVALID_HEADER_TOKEN'));
        return 'done';
      }
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const had = headers[name];
      if (had === undefined) headers[name] = value;
      else if (Array.isArray(had)) had.push(value);
      else headers[name] = [had, value];
    }
    const one = (name: string): string => {
      const v = headers[name];
      return (Array.isArray(v) ? v.join(', ') : (v ?? '')).toLowerCase();
    };
    const connection = one('connection');
    this.keepAlive = status[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const hint = /\btimeout=(\d+)/.exec(one('keep-alive'));
    // a server's own idle timeout, less a second for the request already on its way
    if (hint !== null) this.keepAliveMs = Math.min(this.pool.opts.keepAliveTimeoutMs, Number(hint[1]) * 1000 - 1000);
    const te = one('transfer-encoding');
    const cl = one('content-length');
    if (code === 204 || code === 304) {
      // no body, whatever the headers say (RFC 9112 §6.3)
      this.framing = Framing.Length;
      this.remaining = 0;
    } else if (te !== '') {
      if (!/(^|,)\s*chunked\s*$/.test(te)) {
        this.fail(parseError(`Unsupported transfer-encoding: ${te.slice(0, 60)}`, 'HPE_INVALID_TRANSFER_ENCODING'));
        return 'done';
      }
      if (cl !== '') {
        // both framings at once: which one the server meant cannot be known (RFC 9112 §6.3;
        // llhttp, so undici, refuses it too)
        this.fail(parseError("Content-Length can't be present with Transfer-Encoding", 'HPE_UNEXPECTED_CONTENT_LENGTH'));
        return 'done';
      }
      this.framing = Framing.Chunked;
      this.chunk = Chunk.Size;
      this.line = '';
    } else if (cl !== '') {
      if (!/^\d{1,15}$/.test(cl)) {
        this.fail(parseError(`Invalid content-length: ${cl.slice(0, 60)}`, 'HPE_INVALID_CONTENT_LENGTH'));
        return 'done';
      }
      this.framing = Framing.Length;
      this.remaining = Number(cl);
    } else {
      this.framing = Framing.Close;
      this.keepAlive = false;
    }
    this.state = State.Body;
    ex.handler.onResponseStart?.(ex, code, headers, status[0]!.slice(13));
    if (this.exchange !== ex) return 'done';
    if (this.framing === Framing.Length && this.remaining === 0) {
      this.complete(ex, more);
      return 'done';
    }
    return 'body';
  }

  /** Reads body bytes [pos, n) of `buf`: the data handed over in one call, the framing decoded in place. */
  private readBody(ex: Exchange, buf: Buffer, pos: number, n: number): void {
    if (pos >= n) return;
    if (this.framing === Framing.Close) {
      this.deliver(ex, buf, pos, n);
      return;
    }
    if (this.framing === Framing.Length) {
      const take = Math.min(this.remaining, n - pos);
      this.remaining -= take;
      this.deliver(ex, buf, pos, pos + take);
      if (this.exchange === ex && this.remaining === 0) this.complete(ex, pos + take < n);
      return;
    }
    // chunked: the data of every chunk in this read is moved to follow the first's, [start, w)
    let start = -1;
    let w = -1;
    while (pos < n) {
      if (this.chunk === Chunk.Data) {
        const take = Math.min(this.remaining, n - pos);
        if (start === -1) {
          start = pos;
          w = pos;
        }
        if (w !== pos) buf.copyWithin(w, pos, pos + take);
        w += take;
        pos += take;
        this.remaining -= take;
        if (this.remaining === 0) this.chunk = Chunk.DataEnd;
        continue;
      }
      if (this.chunk === Chunk.DataEnd) {
        // CR LF after the data (a lone LF is taken too)
        const c = buf[pos]!;
        if (c === CR && this.line === '') {
          this.line = '\r';
          pos++;
          continue;
        }
        if (c === LF) {
          this.line = '';
          this.chunk = Chunk.Size;
          pos++;
          continue;
        }
        this.failAfter(ex, buf, start, w, parseError('Expected LF after chunk data', 'HPE_STRICT'));
        return;
      }
      // a line: a chunk size, or a trailer
      const lf = buf.indexOf(LF, pos);
      if (lf === -1 || lf >= n) {
        this.line += buf.toString('latin1', pos, n);
        if (this.line.length > 1024 && this.chunk === Chunk.Size) {
          this.failAfter(ex, buf, start, w, parseError('Chunk size line too long', 'HPE_INVALID_CHUNK_SIZE'));
          return;
        }
        if (this.line.length > this.pool.opts.maxHeaderSize) {
          this.failAfter(ex, buf, start, w, new H1Error('Headers Overflow Error', 'UND_ERR_HEADERS_OVERFLOW', 'HeadersOverflowError'));
          return;
        }
        break;
      }
      let text = this.line + buf.toString('latin1', pos, lf);
      this.line = '';
      pos = lf + 1;
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (this.chunk === Chunk.Trailers) {
        if (text === '') {
          // the message's end
          if (start !== -1) this.deliver(ex, buf, start, w);
          if (this.exchange === ex) this.complete(ex, pos < n);
          return;
        }
        continue;
      }
      const semi = text.indexOf(';');
      const hex = (semi === -1 ? text : text.slice(0, semi)).trim();
      // leading zeros are padding (undici takes 16-digit sizes); 12 significant digits at most
      if (!/^0*[0-9a-fA-F]{1,12}$/.test(hex)) {
        this.failAfter(ex, buf, start, w, parseError(`Invalid character in chunk size (${JSON.stringify(text.slice(0, 40))})`, 'HPE_INVALID_CHUNK_SIZE'));
        return;
      }
      const size = parseInt(hex, 16);
      if (size === 0) this.chunk = Chunk.Trailers;
      else {
        this.remaining = size;
        this.chunk = Chunk.Data;
      }
    }
    if (start !== -1 && w > start) this.deliver(ex, buf, start, w);
  }

  /** Hands over the data read before a framing error in this read, then fails the exchange. */
  private failAfter(ex: Exchange, buf: Buffer, start: number, w: number, err: Error): void {
    if (start !== -1) this.deliver(ex, buf, start, w);
    if (this.exchange === ex) this.fail(err);
  }

  private deliver(ex: Exchange, buf: Buffer, from: number, to: number): void {
    if (to > from) ex.handler.onResponseData?.(ex, buf.subarray(from, to));
  }

  /** The response ended as framed. `extra`: bytes followed it in the same read (not reusable). */
  private complete(ex: Exchange, extra: boolean): void {
    this.exchange = null;
    this.state = State.Idle;
    ex.conn = null;
    ex.ended = true;
    if (this.keepAlive && !extra && !this.closed) {
      // free at once, but written on only after a full turn of the event loop, as undici does
      // ("non-spec compliant servers" closing after a response without saying so): a FIN or
      // stray bytes that come in that turn close it, and what it was given goes to another
      // (two immediates: the first runs before the next poll phase, where a FIN that came
      // with the response's last bytes is read; the second after it)
      this.cooling = true;
      this.pool.release(this);
      setImmediate(() => setImmediate(() => this.cooled()));
    } else this.destroy();
    ex.handler.onResponseEnd?.(ex, {});
  }

  /** Fails the exchange on this connection and closes it. */
  fail(err: Error): void {
    this.rescue();
    const ex = this.exchange;
    this.destroy();
    if (ex !== null) ex.error(err);
  }

  private onEnd(): void {
    // the server closed its side (FIN)
    const ex = this.exchange;
    if (ex !== null && this.state === State.Body && this.framing === Framing.Close) {
      this.complete(ex, true);
      return;
    }
    if (ex !== null && this.state !== State.Idle) {
      const err = this.state === State.Body && this.framing === Framing.Length
        ? new H1Error('Response body length does not match content-length header', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'ResponseContentLengthMismatchError')
        : closedError();
      this.fail(err);
      return;
    }
    this.fail(closedError());
  }

  private onError(err: Error): void {
    const ex = this.exchange;
    const code = (err as { code?: string }).code;
    // As undici does (client-h1.js onHttpSocketError): a reset that ends a response the server
    // meant to close the connection after is that response's end, as a FIN would be.
    if (ex !== null && this.state === State.Body && !this.keepAlive && code === 'ECONNRESET') {
      this.onEnd();
      return;
    }
    this.fail(err);
  }

  private onClose(): void {
    this.rescue();
    this.closed = true;
    this.pool.forget(this);
    const ex = this.exchange;
    this.exchange = null;
    if (ex !== null) ex.error(closedError());
  }

  /** Takes `ex` off this connection: kept if nothing was written for it, else closed. */
  drop(ex: Exchange): void {
    if (this.exchange !== ex) return;
    if (this.state !== State.Idle) {
      this.destroy();
      return;
    }
    this.exchange = null;
    ex.conn = null;
    // still connecting: the connection goes to the pool once it is up; cooling: once cooled
    if (this.connected && !this.cooling) this.pool.release(this);
  }

  destroy(): void {
    if (this.closed) return;
    this.rescue();
    this.closed = true;
    this.pool.forget(this);
    const ex = this.exchange;
    this.exchange = null;
    if (ex !== null) ex.conn = null;
    this.socket.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/**
 * Keep-alive connections to one origin (http: only), as many as there are requests in flight
 * (undici's Pool with `connections: null, pipelining: 1`).
 */
export class H1Pool {
  /** advanced by the sweep timer; connections store it instead of reading a clock per read */
  tick = 0;
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | null = null;
  private destroyed = false;
  /** the request head's constant part, by the request's headers object */
  private readonly heads = new WeakMap<Record<string, string>, string>();

  constructor(
    origin: string,
    readonly opts: H1Options,
  ) {
    const url = new URL(origin);
    if (url.protocol !== 'http:') throw new TypeError(`H1Pool serves http: origins only, got ${url.protocol}`);
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? 80 : Number(url.port);
    this.hostHeader = url.host;
    // a quarter of the shortest timeout, between 25 ms and 1 s: a timeout fires within one
    // tick of its time, as undici's own timers (1 s resolution above 1 s) do
    const shortest = Math.min(opts.headersTimeoutMs, opts.bodyTimeoutMs, opts.connectTimeoutMs ?? 10_000);
    this.tickMs = Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** Starts an exchange; the handler hears of it through its hooks, never by a throw. */
  dispatch(request: H1Request, handler: H1Handler): boolean {
    let wire: string;
    try {
      wire = this.head(request) + (request.body ?? '');
    } catch (err) {
      // a request that cannot be written (a line break in a header, a bad path) fails itself
      const bad = new Exchange(request, handler, '');
      queueMicrotask(() => bad.error(err as Error));
      return false;
    }
    return this.place(new Exchange(request, handler, wire));
  }

  /** Puts an exchange on the connection used last, or on a new one. */
  place(ex: Exchange): boolean {
    if (this.destroyed) {
      queueMicrotask(() => ex.error(new H1Error('The client is destroyed', 'UND_ERR_DESTROYED', 'ClientDestroyedError')));
      return false;
    }
    let conn = this.idle.pop();
    while (conn !== undefined && conn.isClosed) conn = this.idle.pop();
    if (conn === undefined) {
      try {
        conn = new Connection(this, this.host, this.port);
      } catch (err) {
        // no descriptor left (EMFILE) and the like can throw here: a failure of this request
        queueMicrotask(() => ex.error(err as Error));
        return false;
      }
      this.all.add(conn);
    } else conn.listed = false;
    conn.assign(ex);
    this.startTimer();
    return true;
  }

  /** GET `path` and read its body to the end (warms a keep-alive connection). */
  get(path: string, headers: Record<string, string>): Promise<void> {
    return new Promise((resolve) => {
      let left = 1024 * 1024;
      const handler: H1Handler = {
        onResponseData: (controller, chunk) => {
          left -= chunk.length;
          if (left < 0) controller.abort(new Error('body over 1 MiB'));
        },
        onResponseEnd: () => resolve(),
        onResponseError: () => resolve(),
      };
      this.dispatch({ method: 'GET', path, headers }, handler);
    });
  }

  /** The request's head (request line and headers), the constant part built once per headers object. */
  head(req: H1Request): string {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(req.method)) throw new TypeError(`invalid method ${JSON.stringify(req.method)}`);
    // visible ASCII and bytes above it only: no space, CR, LF or control (no request injected)
    if (!/^[\u0021-\u00ff]+$/.test(req.path)) throw new TypeError(`invalid request path ${JSON.stringify(req.path.slice(0, 80))}: a space, line break or control character`);
    let fixed = this.heads.get(req.headers);
    if (fixed === undefined) {
      // a host the user gave wins (a gateway routing by name); the framing and the
      // connection's use are this client's to say
      const given = Object.keys(req.headers).map((k) => k.toLowerCase());
      fixed = `${given.includes('host') ? '' : `host: ${this.hostHeader}\r\n`}connection: keep-alive\r\n`;
      for (const [name, value] of Object.entries(req.headers)) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
        if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid value of header ${name}: a line break`);
        if (/^(content-length|transfer-encoding|connection|keep-alive)$/i.test(name)) continue;
        fixed += `${name}: ${value}\r\n`;
      }
      this.heads.set(req.headers, fixed);
    }
    const body = req.body ?? '';
    const length = body.length === 0 ? (req.method === 'GET' ? '' : 'content-length: 0\r\n') : `content-length: ${Buffer.byteLength(body)}\r\n`;
    return `${req.method} ${req.path} HTTP/1.1\r\n${fixed}${length}\r\n`;
  }

  /** A connection with no exchange: kept for the next request. */
  release(conn: Connection): void {
    if (this.destroyed || conn.isClosed) {
      conn.destroy();
      return;
    }
    if (conn.listed) return;
    conn.listed = true;
    conn.tick = this.tick;
    conn.socket.unref();
    this.idle.push(conn);
  }

  forget(conn: Connection): void {
    this.all.delete(conn);
    conn.listed = false;
    const i = this.idle.lastIndexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), this.tickMs);
    this.timer.unref();
  }

  /** Fires the timeouts that are due and closes connections idle past their keep-alive. */
  private sweep(): void {
    this.tick++;
    const now = this.tick;
    const o = this.opts;
    for (const conn of [...this.all]) {
      // a connection stamped tick k was active somewhere in (k - 1, k]: the time surely elapsed
      // since is (now - k) ticks less one, so that no timeout fires early
      const elapsed = (now - conn.tick - 1) * this.tickMs;
      const ex = conn.exchange;
      if (ex === null) {
        // idle past its keep-alive, or still connecting for a request that was cut meanwhile
        if (elapsed >= (conn.connected ? conn.keepAliveMs : (o.connectTimeoutMs ?? 10_000))) conn.destroy();
        continue;
      }
      if (!conn.connected) {
        if (elapsed >= (o.connectTimeoutMs ?? 10_000)) conn.fail(new H1Error('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT', 'ConnectTimeoutError'));
      } else if (conn.state === State.Head) {
        if (elapsed >= o.headersTimeoutMs) conn.fail(new H1Error('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT', 'HeadersTimeoutError'));
      } else if (elapsed >= o.bodyTimeoutMs) conn.fail(new H1Error('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT', 'BodyTimeoutError'));
    }
    if (this.all.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Ends every exchange (as undici's destroy: "The client is destroyed") and closes every connection. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const closing: Promise<void>[] = [];
    for (const conn of [...this.all]) {
      closing.push(new Promise((resolve) => (conn.isClosed ? resolve() : conn.socket.once('close', () => resolve()))));
      conn.fail(new H1Error('The client is destroyed', 'UND_ERR_DESTROYED', 'ClientDestroyedError'));
    }
    this.idle.length = 0;
    await Promise.all(closing);
  }
}
