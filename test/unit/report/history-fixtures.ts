// Nightly runs for the history tests, made from the real smoke results of the regression-gate
// tests (test/fixtures/results/): each night a copy with its own id and start, and one night's
// latencies scaled (every histogram, the whole run's and each window's, so the gate's window
// bootstrap sees the same slowdown as the summary).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeHistogram, encodeHistogram, newHistogram, percentilesMs, recordUs, summarizeMs } from '../../../src/metrics/hdr.js';
import type { RunResult } from '../../../src/results/types.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/results/', import.meta.url));

/** A smoke fixture: base-1, base-2, base-3, same, slow. */
export function smoke(name: string): RunResult {
  return JSON.parse(readFileSync(join(FIXTURES, `smoke-${name}.json`), 'utf8')) as RunResult;
}

interface HistogramInternals {
  countsArrayLength: number;
  getCountAtIndex(i: number): number;
  valueFromIndex(i: number): number;
  medianEquivalentValue(v: number): number;
}

/** An encoded histogram with every value multiplied by `factor`. */
export function scaleEncoded(encoded: string, factor: number): string {
  if (encoded === '') return encoded;
  const h = decodeHistogram(encoded) as unknown as HistogramInternals;
  const out = newHistogram();
  for (let i = 0; i < h.countsArrayLength; i++) {
    const c = h.getCountAtIndex(i);
    if (c > 0) recordUs(out, h.medianEquivalentValue(h.valueFromIndex(i)) * factor, c);
  }
  return encodeHistogram(out);
}

/** A copy of `result` whose latencies (TTFT, ITL, TPOT, E2E: summary and windows) are `factor` times as long. */
export function scaleLatencies(result: RunResult, factor: number): RunResult {
  const r = structuredClone(result);
  for (const m of ['ttft', 'ttft_sent', 'itl', 'tpot', 'e2e'] as const) {
    const l = r.summary.latency_ms[m];
    if (l.count > 0) r.summary.latency_ms[m] = summarizeMs(decodeHistogram(scaleEncoded(l.hdr, factor)));
  }
  for (const w of r.windows) {
    for (const m of ['ttft', 'itl', 'e2e'] as const) {
      w.hdr[m] = scaleEncoded(w.hdr[m], factor);
      const [p50, p95, p99] = percentilesMs(decodeHistogram(w.hdr[m]), [50, 95, 99]);
      Object.assign(w, { [`${m}_p50_ms`]: p50, [`${m}_p95_ms`]: p95, [`${m}_p99_ms`]: p99 });
    }
    if (w.by_arrival) {
      for (const m of ['ttft', 'e2e'] as const) {
        w.by_arrival.hdr[m] = scaleEncoded(w.by_arrival.hdr[m], factor);
        const [p50, p95, p99] = percentilesMs(decodeHistogram(w.by_arrival.hdr[m]), [50, 95, 99]);
        Object.assign(w.by_arrival, { [`${m}_p50_ms`]: p50, [`${m}_p95_ms`]: p95, [`${m}_p99_ms`]: p99 });
      }
    }
  }
  return r;
}

/** One night of the series: which fixture, how much slower. */
export interface Night {
  date: string;
  fixture: string;
  scale?: number;
}

/**
 * Seven nights of the same build, except 2026-11-30, 20 % slower (every latency × 1.2). The
 * other nights carry the fixtures' own run-to-run noise, and two of them a ±1 % drift.
 */
export const NIGHTS: Night[] = [
  { date: '2026-11-25', fixture: 'base-1' },
  { date: '2026-11-26', fixture: 'base-2' },
  { date: '2026-11-27', fixture: 'base-3' },
  { date: '2026-11-28', fixture: 'same' },
  { date: '2026-11-29', fixture: 'base-2', scale: 1.01 },
  { date: '2026-11-30', fixture: 'base-1', scale: 1.2 },
  { date: '2026-12-01', fixture: 'base-3', scale: 0.99 },
];

/** The night's run: the fixture with its own id and start (03:00 UTC), scaled when it should be. */
export function nightRun(n: Night): RunResult {
  const base = smoke(n.fixture);
  const r = n.scale !== undefined ? scaleLatencies(base, n.scale) : structuredClone(base);
  r.run.id = `smoke-${n.date.replace(/-/g, '')}T030000Z`;
  const start = Date.parse(`${n.date}T03:00:00.000Z`);
  const length = r.run.ended_at ? Date.parse(r.run.ended_at) - Date.parse(base.run.started_at) : 16_000;
  r.run.started_at = new Date(start).toISOString();
  r.run.ended_at = new Date(start + length).toISOString();
  return r;
}

/**
 * Writes each night as `dir/<date>/results.json` (with a stand-in report.html beside it unless
 * `reports` is false) and returns the run directories, oldest first.
 */
export function writeNights(dir: string, nights: Night[] = NIGHTS, opts: { reports?: boolean; edit?: (r: RunResult, n: Night) => void } = {}): string[] {
  return nights.map((n) => {
    const runDir = join(dir, n.date);
    mkdirSync(runDir, { recursive: true });
    const r = nightRun(n);
    opts.edit?.(r, n);
    writeFileSync(join(runDir, 'results.json'), JSON.stringify(r));
    if (opts.reports !== false) writeFileSync(join(runDir, 'report.html'), `<!doctype html><title>report of ${n.date}</title><h1>report of ${n.date}</h1>\n`);
    return runDir;
  });
}
