// Byte-level Server-Sent Events framing. Hand-written because this is the client's hot path:
// it works on the Buffers undici hands over (no stream wrappers, no per-line strings), copes
// with events split across TCP reads and several events in one read, `\n`, `\r\n` and `\r`
// line ends, `data:` with or without its space, comments (`: ping`), multi-line data, and
// llama.cpp's non-standard `error:` field. The eventsource-parser package works on strings
// and allocates per line; we need neither.

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

/** Receives one complete event's `data` payload (or an `error:` field's payload). */
export interface SseEventSink {
  /** `data` is the event's data lines joined by `\n`, as raw bytes (not yet decoded). */
  onSseData(data: Buffer): void;
  /** a non-standard `error: ...` field (llama.cpp) */
  onSseErrorField(data: Buffer): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Incremental SSE parser. Call `push` with every chunk of the body as it arrives, and `end`
 * when the body ends. Dispatches one sink call per event (on the blank line that ends it).
 */
export class SseParser {
  private carry: Buffer = EMPTY;
  /** data lines of the event being built; usually 0 or 1 of them */
  private dataParts: Buffer[] = [];
  private errorParts: Buffer[] = [];
  /** the previous chunk ended with CR: a leading LF in the next chunk belongs to it */
  private skipLeadingLf = false;
  /** count of comment lines seen (keep-alives) */
  comments = 0;

  constructor(private readonly sink: SseEventSink) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    let pos = 0;
    if (this.skipLeadingLf) {
      this.skipLeadingLf = false;
      if (buf.length > 0 && buf[0] === LF) pos = 1;
    }
    if (this.carry.length > 0) {
      buf = Buffer.concat([this.carry, pos === 0 ? buf : buf.subarray(pos)]);
      pos = 0;
      this.carry = EMPTY;
    }
    const len = buf.length;
    // the next CR at or after pos (-1: none left in this buffer); searched again only once
    // passed, so a read without CRs costs one scan, not one per line
    let nextCr = buf.indexOf(CR, pos);
    while (pos < len) {
      const lf = buf.indexOf(LF, pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = buf.indexOf(CR, pos);
      // a CR may end a line on its own (SSE allows CR, LF and CRLF)
      let cr = nextCr;
      if (cr !== -1 && lf !== -1 && cr > lf) cr = -1;
      let lineEnd: number;
      let next: number;
      if (cr !== -1) {
        lineEnd = cr;
        if (cr + 1 < len) {
          next = buf[cr + 1] === LF ? cr + 2 : cr + 1;
        } else {
          next = len;
          this.skipLeadingLf = true;
        }
      } else if (lf !== -1) {
        lineEnd = lf;
        next = lf + 1;
      } else {
        // incomplete line: keep it for the next read (copy: undici may reuse the buffer)
        this.carry = Buffer.from(buf.subarray(pos));
        break;
      }
      this.line(buf, pos, lineEnd);
      pos = next;
    }
    // an event whose blank line has not arrived yet keeps views into this chunk: copy them,
    // since the chunk's memory is not ours to hold on to
    if (this.dataParts.length > 0) this.dataParts = this.dataParts.map((b) => Buffer.from(b));
    if (this.errorParts.length > 0) this.errorParts = this.errorParts.map((b) => Buffer.from(b));
  }

  /** The body ended. A last event not followed by a blank line is still dispatched (lenient). */
  end(): void {
    if (this.carry.length > 0) {
      const c = this.carry;
      this.carry = EMPTY;
      this.line(c, 0, c.length);
    }
    this.dispatch();
  }

  private line(buf: Buffer, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    const first = buf[start];
    if (first === COLON) {
      this.comments++;
      return;
    }
    // field name: up to the first colon
    let colon = -1;
    for (let i = start; i < end && i < start + 8; i++) {
      if (buf[i] === COLON) {
        colon = i;
        break;
      }
    }
    if (colon === -1) return; // a field with no value ("data" alone) carries nothing we use
    let valueStart = colon + 1;
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++;
    const nameLen = colon - start;
    // "data" = 64 61 74 61; "error" = 65 72 72 6f 72
    if (nameLen === 4 && buf[start] === 100 && buf[start + 1] === 97 && buf[start + 2] === 116 && buf[start + 3] === 97) {
      this.dataParts.push(buf.subarray(valueStart, end));
    } else if (
      nameLen === 5 &&
      buf[start] === 101 &&
      buf[start + 1] === 114 &&
      buf[start + 2] === 114 &&
      buf[start + 3] === 111 &&
      buf[start + 4] === 114
    ) {
      this.errorParts.push(buf.subarray(valueStart, end));
    }
    // event:, id:, retry: and unknown fields are ignored
  }

  private dispatch(): void {
    if (this.errorParts.length > 0) {
      const e = join(this.errorParts);
      this.errorParts = [];
      this.sink.onSseErrorField(e);
    }
    if (this.dataParts.length === 0) return;
    const d = join(this.dataParts);
    this.dataParts = [];
    this.sink.onSseData(d);
  }
}

function join(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  const withNl: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) withNl.push(Buffer.from('\n'));
    withNl.push(parts[i]!);
  }
  return Buffer.concat(withNl);
}
