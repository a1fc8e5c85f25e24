// Lines of a local file, streamed: datasets and traces can be far larger than memory (or than
// V8's longest string), so a file is read in blocks and only the line being read is held.
import { createReadStream } from 'node:fs';
import { InvalidInputError } from '../core/errors.js';

export interface Line {
  /** without its line break (`\n` or `\r\n`) */
  text: string;
  /** 1-based */
  number: number;
  /** byte offset of the line's first byte */
  offset: number;
}

/** A line longer than this is no JSONL or CSV line: most likely a JSON document given as JSONL. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

const READ_BLOCK_BYTES = 256 * 1024;

/** Where to start reading: a line's first byte and its number (from an earlier pass). */
export interface LinePosition {
  offset: number;
  number: number;
}

/**
 * The file's lines in order, each decoded on its own (a line break byte never occurs inside a
 * UTF-8 sequence), from the start or from `from`. `label` names the field in the problem of a
 * line too long (e.g. load.file), `hint` says what was expected. Errors opening or reading the
 * file are thrown as they are: the caller names the file.
 */
export async function* readLines(path: string, label: string, hint: string, from?: LinePosition): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = from?.offset ?? 0;
  let number = from?.number ?? 1;
  const take = (tail: Buffer): Line => {
    const buf = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
    pending = [];
    pendingBytes = 0;
    const end = buf.length > 0 && buf[buf.length - 1] === 13 ? buf.length - 1 : buf.length;
    const line: Line = { text: buf.toString('utf8', 0, end), number, offset };
    offset += buf.length + 1;
    number++;
    return line;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: READ_BLOCK_BYTES, start: offset })) {
    const block = chunk as Buffer;
    let at = 0;
    for (let nl = block.indexOf(10, at); nl !== -1; nl = block.indexOf(10, at)) {
      yield take(block.subarray(at, nl));
      at = nl + 1;
    }
    if (at < block.length) {
      pendingBytes += block.length - at;
      if (pendingBytes > MAX_LINE_BYTES) {
        throw new InvalidInputError(
          [{ path: `${label} (${path}:${number})`, message: `line ${number} (from byte ${offset}) is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB: ${hint}` }],
          path,
        );
      }
      // a copy: a view of the tail would keep the whole block alive while a long line builds up
      pending.push(Buffer.from(block.subarray(at)));
    }
  }
  if (pendingBytes > 0) yield take(EMPTY);
}

const EMPTY = Buffer.alloc(0);
