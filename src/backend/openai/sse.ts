// Server-Sent Events framing for the client's hot path. Hand-written because no library fits:
// the eventsource-parser package splits into per-line strings and allocates per line and per
// event. Here each read is turned into ONE latin1 string (one char per byte, a single memcpy)
// and everything after that is V8's string search on offsets: no per-line or per-event
// allocation on the common path, and events are handed to the sink as (text, start, end).
// Copes with events split across reads and several events in one read, `\n`, `\r\n` and `\r`
// line ends, `data:` with or without its space, comments (`: ping`), multi-line data, and
// llama.cpp's non-standard `error:` field. The sink may also consume whole events itself at an
// event boundary (`fastEvent`), which is how the client skips framing for repeated chunk shapes.
// What the parser holds between reads (an unfinished line, the lines of an unfinished event) is
// bounded by `maxEventBytes`: a server that sends a line without an end must not grow the client
// until V8 gives up ("Invalid string length" after 1.2 GB for two such streams, before the limit).

/** Receives each complete event's `data` payload (or an `error:` field's payload). */
export interface SseEventSink {
  /**
   * One event's data: `text.slice(start, end)`, its data lines joined by `\n`. `text` is
   * latin1-decoded bytes (one char per byte; decode UTF-8 only where the content matters).
   * `rawStart`/`rawEnd` span the whole event in `text`, from its first line to the end of the
   * blank line that closed it, when the event was one line in one read; -1 otherwise.
   */
  onSseData(text: string, start: number, end: number, rawStart: number, rawEnd: number): void;
  /** a non-standard `error: ...` field (llama.cpp), latin1 like `text` above */
  onSseErrorField(data: string): void;
  /**
   * Optional: at an event boundary at `pos`, consume one whole event (its blank line included)
   * and return the index just past it, or return -1 to let the parser read it line by line.
   */
  fastEvent?(text: string, pos: number): number;
  /**
   * The bytes held for the current event (its data and error lines, and an unfinished line)
   * went over the parser's `maxEventBytes`. The parser has dropped them and ignores the rest of
   * the body: the stream is broken. `lineBytes` of `heldBytes` are one line with no end yet.
   */
  onSseOverflow(heldBytes: number, lineBytes: number): void;
}

/** The default bound on the bytes of one SSE event held between reads: 4 MiB. */
export const DEFAULT_MAX_EVENT_BYTES = 4 * 1024 * 1024;

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

/**
 * Incremental SSE parser. Call `push` with every chunk of the body as it arrives, and `end`
 * when the body ends. Dispatches one sink call per event (on the blank line that ends it).
 */
export class SseParser {
  /** an incomplete line at the end of the previous read */
  private carry = '';
  /** the previous read ended with CR: a leading LF in the next one belongs to it */
  private skipLeadingLf = false;
  /** a line of the current event has been read (the next blank line dispatches it) */
  private inEvent = false;
  /** where the current event's first line began in the current read, or -1 */
  private eventStart = -1;
  /** the event's only data line so far, in the current read: [dataStart, dataEnd) */
  private dataStart = -1;
  private dataEnd = -1;
  /** the event's data lines when there are several, or when the event spans reads */
  private parts: string[] | null = null;
  private errorParts: string[] | null = null;
  /** bytes in `parts` and `errorParts` (the carry is counted by its length) */
  private heldBytes = 0;
  /** an event went over the limit: the rest of the body is ignored */
  private broken = false;
  /** count of comment lines seen (keep-alives) */
  comments = 0;

  /**
   * `maxEventBytes` bounds what is held between reads for one event. It is checked once per
   * read, so an event that arrives whole inside one read (a socket read is at most 64 KiB) is
   * parsed whatever its size: limits below the read size are approximate.
   */
  constructor(
    private readonly sink: SseEventSink,
    private readonly maxEventBytes: number = DEFAULT_MAX_EVENT_BYTES,
  ) {}

  push(chunk: Buffer): void {
    this.feed(chunk.toString('latin1'));
  }

  /** The same as `push`, for text already decoded as latin1 (tests, replays). */
  feed(text: string): void {
    if (this.broken) return;
    const len = text.length;
    let pos = 0;
    if (this.skipLeadingLf) {
      this.skipLeadingLf = false;
      if (len > 0 && text.charCodeAt(0) === LF) pos = 1;
    }
    if (this.carry.length > 0) {
      // finish the carried line on its own (a short string), then go on in this read
      const lf = text.indexOf('\n', pos);
      const crAt = text.indexOf('\r', pos);
      const end = crAt !== -1 && (lf === -1 || crAt < lf) ? crAt : lf;
      if (end === -1) {
        this.carry += text.slice(pos);
        if (this.carry.length + this.heldBytes > this.maxEventBytes) this.overflow();
        return;
      }
      const line = this.carry + text.slice(pos, end);
      this.carry = '';
      pos = this.after(text, end);
      // the carried line's event did not start in this read: it gets no raw span
      this.line(line, 0, line.length, -1);
    }
    const sink = this.sink;
    const fast = sink.fastEvent !== undefined;
    // the next CR at or after pos (-1: none left): searched again only once passed, so a read
    // without CRs (the usual case) costs one scan for them, not one per line
    let nextCr = text.indexOf('\r', pos);
    while (pos < len) {
      if (fast && !this.inEvent) {
        const next = sink.fastEvent!(text, pos);
        if (next > pos) {
          pos = next;
          continue;
        }
      }
      if (nextCr !== -1 && nextCr < pos) nextCr = text.indexOf('\r', pos);
      const lf = text.indexOf('\n', pos);
      const end = nextCr !== -1 && (lf === -1 || nextCr < lf) ? nextCr : lf;
      if (end === -1) {
        this.carry = text.slice(pos);
        break;
      }
      const next = this.after(text, end);
      this.line(text, pos, end, next);
      pos = next;
    }
    // an event still open keeps only copies of its lines, and no raw span
    if (this.dataStart !== -1) {
      this.parts = [text.slice(this.dataStart, this.dataEnd)];
      this.heldBytes += this.dataEnd - this.dataStart;
      this.dataStart = -1;
    }
    this.eventStart = -1;
    // the one check per read that bounds the memory a server can make the client hold
    if (this.carry.length + this.heldBytes > this.maxEventBytes) this.overflow();
  }

  /** Drops everything held for the event, stops parsing and tells the sink. */
  private overflow(): void {
    const lineBytes = this.carry.length;
    const heldBytes = lineBytes + this.heldBytes;
    this.broken = true;
    this.carry = '';
    this.parts = null;
    this.errorParts = null;
    this.heldBytes = 0;
    this.dataStart = -1;
    this.inEvent = false;
    this.sink.onSseOverflow(heldBytes, lineBytes);
  }

  /** The body ended. A last event not followed by a blank line is still dispatched (lenient). */
  end(): void {
    if (this.broken) return;
    if (this.carry.length > 0) {
      const c = this.carry;
      this.carry = '';
      this.line(c, 0, c.length, -1);
    }
    this.dispatch('', -1);
  }

  /** The index after the line end at `end` (CR, LF or CRLF); notes a CR that ends the read. */
  private after(text: string, end: number): number {
    if (text.charCodeAt(end) !== CR) return end + 1;
    if (end + 1 < text.length) return text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
    this.skipLeadingLf = true;
    return end + 1;
  }

  /**
   * One line, [start, end) of `text`; `next` is the index after the line's end in `text` when
   * `text` is the current read, or -1 for a line rebuilt from a carry (no offsets into a read).
   */
  private line(text: string, start: number, end: number, next: number): void {
    const detached = next === -1;
    if (start === end) {
      // a CR at the very end of the read may still be followed by LF: no exact raw end then
      this.dispatch(text, this.skipLeadingLf ? -1 : next);
      return;
    }
    if (!this.inEvent) {
      this.inEvent = true;
      this.eventStart = detached ? -1 : start;
    }
    const first = text.charCodeAt(start);
    if (first === COLON) {
      this.comments++;
      return;
    }
    // field name: up to the first colon (only `data` and `error` matter: a short look)
    let colon = -1;
    for (let i = start; i < end && i < start + 8; i++) {
      if (text.charCodeAt(i) === COLON) {
        colon = i;
        break;
      }
    }
    if (colon === -1) return; // a field with no value ("data" alone) carries nothing we use
    let valueStart = colon + 1;
    if (valueStart < end && text.charCodeAt(valueStart) === SPACE) valueStart++;
    const nameLen = colon - start;
    if (nameLen === 4 && text.startsWith('data', start)) {
      if (detached) {
        (this.parts ??= []).push(text.slice(valueStart, end));
        this.heldBytes += end - valueStart;
      } else if (this.dataStart === -1 && this.parts === null) {
        this.dataStart = valueStart;
        this.dataEnd = end;
      } else {
        if (this.dataStart !== -1) {
          this.parts = [text.slice(this.dataStart, this.dataEnd)];
          this.heldBytes += this.dataEnd - this.dataStart;
          this.dataStart = -1;
        }
        this.parts!.push(text.slice(valueStart, end));
        this.heldBytes += end - valueStart;
      }
    } else if (nameLen === 5 && text.startsWith('error', start)) {
      (this.errorParts ??= []).push(text.slice(valueStart, end));
      this.heldBytes += end - valueStart;
    }
    // event:, id:, retry: and unknown fields are ignored
  }

  private dispatch(read: string, rawEnd: number): void {
    this.inEvent = false;
    this.heldBytes = 0;
    const rawStart = this.eventStart;
    this.eventStart = -1;
    if (this.errorParts !== null) {
      const e = this.errorParts.join('\n');
      this.errorParts = null;
      this.sink.onSseErrorField(e);
    }
    if (this.dataStart !== -1) {
      const s = this.dataStart;
      const e = this.dataEnd;
      this.dataStart = -1;
      this.sink.onSseData(read, s, e, rawEnd === -1 ? -1 : rawStart, rawStart === -1 ? -1 : rawEnd);
    } else if (this.parts !== null) {
      const d = this.parts.join('\n');
      this.parts = null;
      this.sink.onSseData(d, 0, d.length, -1, -1);
    }
  }
}
