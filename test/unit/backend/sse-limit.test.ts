// SseParser's bound on what it holds between reads for one event (maxEventBytes): a line that
// never ends, an event that never gets its blank line, error lines; and events under the limit,
// however many and however split, never trip it.
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../src/backend/openai/sse.js';

const LIMIT = 1024;

function parser(limit = LIMIT) {
  const data: string[] = [];
  const errors: string[] = [];
  const overflows: { heldBytes: number; lineBytes: number }[] = [];
  const p = new SseParser(
    {
      onSseData: (text, s, e) => data.push(text.slice(s, e)),
      onSseErrorField: (d) => errors.push(d),
      onSseOverflow: (heldBytes, lineBytes) => overflows.push({ heldBytes, lineBytes }),
    },
    limit,
  );
  return { p, data, errors, overflows };
}

/** `text` fed in reads of `size` characters */
function feedIn(p: SseParser, text: string, size: number): void {
  for (let i = 0; i < text.length; i += size) p.feed(text.slice(i, i + size));
}

describe('SseParser maxEventBytes', () => {
  it('reports a line with no end once it holds more than the limit, and no more than one read past it', () => {
    const { p, data, overflows } = parser();
    feedIn(p, 'data: ' + 'x'.repeat(10 * LIMIT), 100);
    expect(overflows).toHaveLength(1);
    expect(overflows[0]!.heldBytes).toBeGreaterThan(LIMIT);
    expect(overflows[0]!.heldBytes).toBeLessThanOrEqual(LIMIT + 100);
    expect(overflows[0]!.lineBytes).toBe(overflows[0]!.heldBytes);
    // the rest of the body is ignored, including a line end and a well-formed event after it
    p.feed('\n\ndata: {"a":1}\n\n');
    p.end();
    expect(data).toEqual([]);
    expect(overflows).toHaveLength(1);
  });

  it('reports a line that is already over the limit in one read', () => {
    const { p, overflows } = parser();
    p.feed('data: {"a":1}\n\ndata: ' + 'x'.repeat(2 * LIMIT));
    expect(overflows).toHaveLength(1);
    expect(overflows[0]!.lineBytes).toBe(2 * LIMIT + 6);
  });

  it('reports an event whose data lines go on without the blank line that ends it', () => {
    const { p, data, overflows } = parser();
    feedIn(p, 'data: 0123456789012345678901234567890123456789\n'.repeat(100), 64);
    expect(overflows).toHaveLength(1);
    expect(overflows[0]!.heldBytes).toBeGreaterThan(LIMIT);
    expect(overflows[0]!.lineBytes).toBeLessThan(64);
    expect(data).toEqual([]);
  });

  it('counts error: lines too', () => {
    const { p, overflows } = parser();
    feedIn(p, 'error: 0123456789012345678901234567890123456789\n'.repeat(100), 64);
    expect(overflows).toHaveLength(1);
  });

  it('accepts an event of exactly the limit held across reads', () => {
    const { p, data, overflows } = parser();
    const line = 'data: ' + 'y'.repeat(LIMIT - 6);
    feedIn(p, line, 50);
    feedIn(p, '\n\n', 1);
    p.end();
    expect(overflows).toEqual([]);
    expect(data).toEqual(['y'.repeat(LIMIT - 6)]);
  });

  it('counts per event: many events under the limit, split anywhere, total far more than it', () => {
    const { p, data, overflows } = parser();
    const event = `data: ${'z'.repeat(LIMIT - 100)}\ndata: ${'w'.repeat(50)}\n\n`;
    const text = event.repeat(50);
    for (const size of [1, 7, 333, 1000, 5000]) feedIn(p, text, size);
    p.end();
    expect(overflows).toEqual([]);
    expect(data).toHaveLength(250);
  });

  it('does not count comments and ignored fields that ended their line', () => {
    const { p, overflows } = parser();
    feedIn(p, ': keep-alive padding padding padding padding\nid: 1234567890\n'.repeat(200), 90);
    expect(overflows).toEqual([]);
  });
});
