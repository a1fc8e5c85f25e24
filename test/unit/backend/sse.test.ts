import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../src/backend/openai/sse.js';

const utf8 = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');
/** no event in these tests comes near the limit (sse-limit.test.ts tests it) */
const noOverflow = (): never => {
  throw new Error('unexpected maxEventBytes overflow');
};

function collect(chunks: (string | Buffer)[], end = true) {
  const data: string[] = [];
  const errors: string[] = [];
  const raw: string[] = [];
  const p = new SseParser({
    onSseData: (text, s, e, rs, re) => {
      data.push(utf8(text.slice(s, e)));
      if (rs !== -1) raw.push(utf8(text.slice(rs, re)));
    },
    onSseErrorField: (d) => errors.push(utf8(d)),
    onSseOverflow: noOverflow,
  });
  for (const c of chunks) p.push(typeof c === 'string' ? Buffer.from(c) : c);
  if (end) p.end();
  return { data, errors, comments: p.comments, raw };
}

/** every way of cutting `text` into two reads, and byte by byte */
function splits(text: string): (string | Buffer)[][] {
  const b = Buffer.from(text);
  const out: Buffer[][] = [];
  for (let i = 1; i < b.length; i++) out.push([b.subarray(0, i), b.subarray(i)]);
  out.push([...b].map((x) => Buffer.from([x])));
  return out;
}

describe('SseParser', () => {
  const stream = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';

  it('parses several events in one read', () => {
    expect(collect([stream]).data).toEqual(['{"a":1}', '{"b":2}', '[DONE]']);
  });

  it('gives the same events however the bytes are split across reads', () => {
    for (const parts of splits(stream)) expect(collect(parts).data).toEqual(['{"a":1}', '{"b":2}', '[DONE]']);
  });

  it('accepts CRLF line ends, split anywhere (also between CR and LF)', () => {
    const crlf = 'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n';
    expect(collect([crlf]).data).toEqual(['{"a":1}', '[DONE]']);
    for (const parts of splits(crlf)) expect(collect(parts).data).toEqual(['{"a":1}', '[DONE]']);
  });

  it('accepts a lone CR as a line end', () => {
    expect(collect(['data: x\r\rdata: y\r\r']).data).toEqual(['x', 'y']);
  });

  it('reads data: with and without the space', () => {
    expect(collect(['data:{"a":1}\n\ndata: {"b":2}\n\ndata:  two spaces\n\n']).data).toEqual([
      '{"a":1}',
      '{"b":2}',
      ' two spaces',
    ]);
  });

  it('skips comment and keep-alive lines and counts them', () => {
    const r = collect([': ping\n\ndata: {"a":1}\n: keep-alive\n\n:\n\n']);
    expect(r.data).toEqual(['{"a":1}']);
    expect(r.comments).toBe(3);
  });

  it('joins multi-line data with a newline', () => {
    expect(collect(['data: {"a":\ndata: 1}\n\n']).data).toEqual(['{"a":\n1}']);
  });

  it('ignores event:, id:, retry: and unknown fields but keeps the data', () => {
    expect(collect(['event: message\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n']).data).toEqual(['x']);
  });

  it('reports llama.cpp-style error: fields', () => {
    const r = collect(['error: {"code":500,"message":"boom"}\n\n']);
    expect(r.errors).toEqual(['{"code":500,"message":"boom"}']);
    expect(r.data).toEqual([]);
  });

  it('dispatches a last event without its blank line when the body ends (lenient)', () => {
    expect(collect(['data: {"a":1}\n\ndata: [DONE]']).data).toEqual(['{"a":1}', '[DONE]']);
    expect(collect(['data: {"a":1}\n\ndata: [DONE]\n']).data).toEqual(['{"a":1}', '[DONE]']);
  });

  it('does not dispatch an incomplete event before the body ends', () => {
    expect(collect(['data: {"a":1}\n\ndata: {"b"'], false).data).toEqual(['{"a":1}']);
  });

  it('does not hold on to the caller\'s buffers across reads', () => {
    const data: string[] = [];
    const p = new SseParser({ onSseData: (t, s, e) => data.push(t.slice(s, e)), onSseErrorField: () => undefined, onSseOverflow: noOverflow });
    const first = Buffer.from('data: {"a":1}\n');
    p.push(first);
    first.fill(0x41); // the transport may reuse its memory
    p.push(Buffer.from('\n'));
    expect(data).toEqual(['{"a":1}']);
  });

  it('keeps UTF-8 split across reads intact', () => {
    const text = 'data: {"c":"héllo 日本"}\n\n';
    for (const parts of splits(text)) expect(collect(parts).data).toEqual(['{"c":"héllo 日本"}']);
  });

  it('gives the raw span of a one-line event read whole, and none otherwise', () => {
    const r = collect(['data: {"a":1}\n\n: ping\n\ndata: x\r\n\r\nevent: m\ndata: y\n\ndata: a\ndata: b\n\n']);
    expect(r.data).toEqual(['{"a":1}', 'x', 'y', 'a\nb']);
    expect(r.raw).toEqual(['data: {"a":1}\n\n', 'data: x\r\n\r\n', 'event: m\ndata: y\n\n']);
    // split across reads: the events still arrive, only those read whole carry a span
    for (const parts of splits('data: {"a":1}\n\ndata: {"b":2}\n\n')) {
      const s = collect(parts);
      expect(s.data).toEqual(['{"a":1}', '{"b":2}']);
      for (const span of s.raw) expect(['data: {"a":1}\n\n', 'data: {"b":2}\n\n']).toContain(span);
    }
    // a CR that ends a read may be the first half of CRLF: no span for that event
    expect(collect(['data: x\r\n\r', '\ndata: y\r\n\r\n']).raw).toEqual(['data: y\r\n\r\n']);
  });

  it('lets the sink consume whole events at event boundaries, however the bytes are split', () => {
    const stream = 'data: T1\n\ndata: other\n\ndata: T2\n\n: c\n\ndata: T3\n\n';
    for (const parts of [[stream], ...splits(stream)]) {
      const seen: string[] = [];
      const p = new SseParser({
        onSseData: (t, s, e) => seen.push(t.slice(s, e)),
        onSseErrorField: () => undefined,
        onSseOverflow: noOverflow,
        fastEvent: (t, pos) => {
          const m = /^data: (T\d)\n\n/.exec(t.slice(pos));
          if (!m) return -1;
          seen.push(`fast ${m[1]}`);
          return pos + m[0].length;
        },
      });
      for (const c of parts) p.push(typeof c === 'string' ? Buffer.from(c) : c);
      p.end();
      // whatever the fast path did not take whole arrived through the line parser, in order
      expect(seen.map((x) => x.replace('fast ', ''))).toEqual(['T1', 'other', 'T2', 'T3']);
      if (parts.length === 1) expect(seen).toEqual(['fast T1', 'other', 'fast T2', 'fast T3']);
    }
  });
});
