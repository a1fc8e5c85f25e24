import * as hdr from 'hdr-histogram-js';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeHistogram, encodeHistogram, newHistogram, recordUs, summarizeMs } from '../../../src/metrics/hdr.js';

describe('HDR histograms', () => {
  it('the integer slot index equals the library\'s own for every magnitude', () => {
    const ours = newHistogram() as unknown as { countsArrayIndex(v: number): number };
    const ref = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 }) as unknown as {
      countsArrayIndex(v: number): number;
    };
    const values: number[] = [];
    for (let v = 0; v < 5000; v++) values.push(v);
    for (let e = 11; e < 32; e++) for (const d of [-2, -1, 0, 1, 2, 777]) values.push(2 ** e + d);
    for (let i = 0; i < 20000; i++) values.push(Math.floor(Math.random() * 3_600_000_000));
    values.push(3_600_000_000);
    for (const v of values) expect(ours.countsArrayIndex(v)).toBe(ref.countsArrayIndex(v));
  });

  it('the direct record path leaves every field as the library\'s own recordValue does', () => {
    const ours = newHistogram();
    const ref = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 32, useWebAssembly: false });
    const values: number[] = [0, 1, 2, 2047, 2048, 4095, 4096, 3_600_000_000];
    for (let e = 11; e < 32; e++) for (const d of [-1, 0, 1]) values.push(2 ** e + d);
    for (let i = 0; i < 50_000; i++) values.push(Math.floor(Math.random() * (i % 2 ? 100_000 : 3_600_000_000)));
    for (const v of values) {
      ours.recordValue(v);
      ref.recordValue(v);
    }
    type Fields = { totalCount: number; maxValue: number; minNonZeroValue: number; _counts: Uint32Array };
    const a = ours as unknown as Fields;
    const b = ref as unknown as Fields;
    expect(a.totalCount).toBe(b.totalCount);
    expect(a.maxValue).toBe(b.maxValue);
    expect(a.minNonZeroValue).toBe(b.minNonZeroValue);
    expect(Buffer.from(a._counts.buffer).equals(Buffer.from(b._counts.buffer))).toBe(true);
    expect(hdr.encodeIntoCompressedBase64(ours)).toBe(hdr.encodeIntoCompressedBase64(ref));
    // outside the direct path: the library's own behaviour, error included
    expect(() => ours.recordValue(3_600_000_001 * 4)).toThrow();
    ours.recordValue(5.5);
    ref.recordValue(5.5);
    expect(ours.totalCount).toBe(ref.totalCount);
  });

  it('encodes the V2 bytes the library writes, readable by the library, for every shape of histogram', () => {
    const shapes: number[][] = [
      [],
      [1],
      [3_600_000_000],
      [1, 3_600_000_000],
      Array.from({ length: 2000 }, (_, i) => 9000 + ((i * 7919) % 2000)),
      Array.from({ length: 5000 }, () => Math.floor(Math.random() * 3_600_000_000)),
      Array.from({ length: 5000 }, () => 1 + Math.floor(Math.exp(Math.random() * 20))),
    ];
    const payload = (b64: string): Buffer => {
      const raw = Buffer.from(b64, 'base64');
      expect(raw.readInt32BE(0)).toBe(0x1c849314);
      return inflateSync(raw.subarray(8, 8 + raw.readInt32BE(4)));
    };
    for (const values of shapes) {
      const ours = newHistogram();
      for (const v of values) recordUs(ours, v);
      // a heavy slot: counts beyond 2^14 and 2^28 take more LEB128 bytes
      if (values.length > 0) ours.recordValueWithCount(values[0]!, 300_000_000);
      const encoded = encodeHistogram(ours);
      const theirs = hdr.encodeIntoCompressedBase64(ours);
      expect(payload(encoded).equals(payload(theirs))).toBe(true);
      const back = hdr.decodeFromCompressedBase64(encoded, 32, false);
      expect(back.totalCount).toBe(ours.totalCount);
      expect(back.maxValue).toBe(hdr.decodeFromCompressedBase64(theirs, 32, false).maxValue);
      const a = (back as unknown as { _counts: Uint32Array })._counts;
      const b = (ours as unknown as { _counts: Uint32Array })._counts;
      for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) expect([i, a[i]]).toEqual([i, b[i]]);
    }
  });

  it("decodes to the same histogram, field by field, as the library's decoder followed by add()", () => {
    type Fields = { totalCount: number; maxValue: number; minNonZeroValue: number; _counts: Uint32Array };
    const viaLibrary = (encoded: string): Fields => {
      const h = newHistogram();
      h.add(hdr.decodeFromCompressedBase64(encoded, 32, false));
      return h as unknown as Fields;
    };
    const shapes: number[][] = [
      [],
      [1],
      [0],
      [3_600_000_000],
      Array.from({ length: 3000 }, () => Math.floor(Math.random() * 3_600_000_000)),
      Array.from({ length: 3000 }, () => 1 + Math.floor(Math.exp(Math.random() * 21))),
    ];
    for (const values of shapes) {
      const h = newHistogram();
      for (const v of values) h.recordValue(v);
      if (values.length > 1) h.recordValueWithCount(values[1]!, 4_000_000_000);
      for (const encoded of [encodeHistogram(h), hdr.encodeIntoCompressedBase64(h)]) {
        const a = decodeHistogram(encoded) as unknown as Fields;
        const b = viaLibrary(encoded);
        expect([a.totalCount, a.maxValue, a.minNonZeroValue]).toEqual([b.totalCount, b.maxValue, b.minNonZeroValue]);
        expect(Buffer.from(a._counts.buffer).equals(Buffer.from(b._counts.buffer))).toBe(true);
      }
    }
    // another shape (2 digits) goes through the library and lands in ours
    const other = hdr.build({ numberOfSignificantValueDigits: 2, highestTrackableValue: 1_000_000 });
    other.recordValue(1234);
    const back = decodeHistogram(hdr.encodeIntoCompressedBase64(other));
    expect(back.totalCount).toBe(1);
    // two digits: 1234 is known to within its bucket of 8
    expect(Math.abs(back.maxValue - 1234)).toBeLessThan(16);
  });

  it('summarises a histogram whose 32-bit slot wrapped when two were added, instead of throwing', () => {
    const a = newHistogram();
    a.recordValueWithCount(1234, 4294967295);
    const merged = decodeHistogram(encodeHistogram(a));
    merged.add(decodeHistogram(encodeHistogram(a)));
    expect(merged.totalCount).toBe(2 * 4294967295);
    const s = summarizeMs(merged);
    expect(s.count).toBe(2 * 4294967295);
    expect(s.p50).toBeCloseTo(1.234, 2);
  });

  it('records, encodes and decodes to the same distribution', () => {
    const h = newHistogram();
    for (let i = 1; i <= 10_000; i++) recordUs(h, i * 37.3);
    recordUs(h, 0.2); // clamped to 1 µs
    recordUs(h, 1e13); // clamped to 1 h
    const d = decodeHistogram(encodeHistogram(h));
    expect(d.totalCount).toBe(10_002);
    for (const p of [50, 90, 99, 99.9]) expect(d.getValueAtPercentile(p)).toBe(h.getValueAtPercentile(p));
    // the encoding keeps buckets, not the exact max: it comes back as the top of its bucket
    expect(Math.abs(d.maxValue - h.maxValue) / h.maxValue).toBeLessThan(0.001);
  });

  it('merges exactly: two halves add up to the whole', () => {
    const whole = newHistogram();
    const a = newHistogram();
    const b = newHistogram();
    for (let i = 0; i < 5000; i++) {
      const v = 1000 + ((i * 7919) % 100_000);
      recordUs(whole, v);
      recordUs(i % 2 === 0 ? a : b, v);
    }
    const merged = decodeHistogram(encodeHistogram(a));
    merged.add(decodeHistogram(encodeHistogram(b)));
    for (const p of [1, 25, 50, 75, 95, 99, 99.99]) expect(merged.getValueAtPercentile(p)).toBe(whole.getValueAtPercentile(p));
    expect(merged.totalCount).toBe(whole.totalCount);
  });
});

describe('one-pass summary', () => {
  it("gives exactly the library's percentiles, mean and stddev", async () => {
    const { scanHistogram } = await import('../../../src/metrics/hdr.js');
    for (const seed of [1, 2, 3]) {
      const h = newHistogram();
      let x = seed;
      for (let i = 0; i < 20_000; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        recordUs(h, 100 + (x % 5_000_000) * (i % 7 === 0 ? 10 : 1));
      }
      const ps = [0.1, 1, 50, 90, 95, 99, 99.9, 99.99, 100];
      const scan = scanHistogram(h, ps);
      ps.forEach((p, i) => expect(scan.percentiles[i]).toBe(h.getValueAtPercentile(p)));
      expect(scan.mean).toBeCloseTo(h.mean, 6);
      expect(scan.stddev).toBeCloseTo(h.stdDeviation, 4);
    }
    const empty = scanHistogram(newHistogram(), [50]);
    expect(empty.percentiles).toEqual([0]);
  });
});
