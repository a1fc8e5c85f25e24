// results/read.ts: what a saved results or baseline file must be to be read, and how each
// refusal names the field. One case per finding of issue 13 (each exited 1 with a stack trace, or
// passed the gate on garbage, before the check), then the schema versions, nesting, histogram
// bombs and duplicate baseline runs.
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { addRun, baselineRunOf, emptyBaseline } from '../../../src/analysis/baseline.js';
import { InvalidInputError } from '../../../src/core/errors.js';
import { baselineOf, baselineProblems, normalizeResults, resultsOf, resultsProblems } from '../../../src/results/read.js';

/** a parsed file, edited freely by the cases */
type Doc = Record<string, any>;

const text = (name: string): string => readFileSync(new URL(`../../fixtures/results/smoke-${name}.json`, import.meta.url), 'utf8');
const results = (name = 'base-1'): Doc => JSON.parse(text(name)) as Doc;
const paths = (problems: { path: string }[]): string[] => problems.map((p) => p.path);

function baselineDoc(): Doc {
  const b = emptyBaseline('smoke');
  for (const n of ['base-1', 'base-2', 'base-3']) addRun(b, baselineRunOf(normalizeResults(results(n))));
  return JSON.parse(JSON.stringify(b)) as Doc;
}

/** One character of a base64 string changed in its middle: the compressed bytes damaged, the frame intact. */
const damaged = (hdr: string): string => {
  const i = Math.floor(hdr.length / 2);
  return hdr.slice(0, i) + (hdr[i] === 'A' ? 'B' : 'A') + hdr.slice(i + 1);
};

describe('results files', () => {
  it('reads the real files, and the results of earlier versions that lack later sections', () => {
    for (const n of ['base-1', 'base-2', 'base-3', 'same', 'slow']) expect(resultsProblems(results(n)), n).toEqual([]);
    const old = results();
    delete old.server;
    delete old.correlation;
    delete old.error_samples;
    delete old.summary.requests.interrupted;
    delete old.summary.requests.good;
    for (const w of old.windows) delete w.server;
    expect(resultsProblems(old)).toEqual([]);
    const r = resultsOf(old, 'results.json');
    expect(r.server).toEqual({ endpoints: [], tokens: null, gpu_count: null, alerts: [] });
    expect(r.summary.requests.interrupted).toBe(0);
  });

  it('a truncated histogram: the field named, whether or not the reader decodes it', () => {
    const doc = results();
    doc.summary.latency_ms.ttft.hdr = doc.summary.latency_ms.ttft.hdr.slice(0, 40);
    doc.windows[3].hdr.itl = doc.windows[3].hdr.itl.slice(0, 30);
    const problems = resultsProblems(doc, { decode: 'summary' });
    expect(paths(problems)).toEqual(['summary.latency_ms.ttft.hdr', 'windows[3].hdr.itl']);
    expect(problems[0]!.message).toMatch(/^the histogram is cut short \(\d+ of \d+ bytes\): the file was truncated or edited$/);
  });

  it('a damaged histogram: refused where it is decoded (compare, merge, baseline), left to report, which never decodes a window\'s', () => {
    const doc = results();
    doc.windows[2].hdr.e2e = damaged(doc.windows[2].hdr.e2e);
    const problems = resultsProblems(doc);
    expect(paths(problems)).toEqual(['windows[2].hdr.e2e']);
    expect(problems[0]!.message).toMatch(/^the histogram does not decode \(.+\): the file was cut or edited$/);
    expect(resultsProblems(doc, { decode: 'summary' })).toEqual([]);
  });

  it('a histogram that inflates beyond any of ours is refused without being inflated whole', () => {
    const doc = results();
    const payload = deflateSync(Buffer.alloc(8 << 20));
    const frame = Buffer.alloc(8);
    frame.writeInt32BE(0x1c849304 | 0x10, 0);
    frame.writeInt32BE(payload.length, 4);
    doc.summary.latency_ms.e2e.hdr = Buffer.concat([frame, payload]).toString('base64');
    expect(resultsProblems(doc)).toEqual([{ path: 'summary.latency_ms.e2e.hdr', message: expect.stringMatching(/^the histogram inflates to more than 1048576 bytes/) }]);
  });

  it('a window without its histograms, slo[0] null, run.load missing: each named', () => {
    const doc = results();
    delete doc.windows[0].hdr;
    doc.slo[0] = null;
    delete doc.run.load;
    expect(resultsProblems(doc)).toEqual([
      { path: 'run.load', message: 'expected an object, found nothing' },
      { path: 'windows[0].hdr', message: 'expected an object, found nothing' },
      { path: 'slo[0]', message: 'expected an object, found null' },
    ]);
  });

  it('negative latencies, overflowing and absurd numbers, fractional counts', () => {
    const doc = results();
    doc.summary.latency_ms.e2e.p50 = -5;
    doc.windows[1].ttft_p95_ms = -0.5;
    doc.summary.requests.completed = 149.5;
    doc.summary.throughput.request_per_s = 1e308;
    const parsed = JSON.parse(JSON.stringify(doc).replace('"duration_s":15.', '"duration_s":1e999,"was":15.')) as Doc;
    expect(resultsProblems(parsed)).toEqual([
      { path: 'summary.duration_s', message: 'expected a number, found the number Infinity (a literal such as 1e999 overflows)' },
      { path: 'summary.requests.completed', message: 'expected an integer, found number 149.5' },
      { path: 'summary.throughput.request_per_s', message: 'expected a number <= 1e+15, found number 1e+308' },
      { path: 'summary.latency_ms.e2e.p50', message: 'expected a number >= 0, found number -5' },
      { path: 'windows[1].ttft_p95_ms', message: 'expected a number >= 0, found number -0.5' },
    ]);
  });

  it('an SLO metric that every object has (a lookup by it finds Object.prototype, not nothing)', () => {
    const doc = results();
    doc.slo[0].metric = 'constructor';
    doc.slo[1].metric = '__proto__';
    expect(paths(resultsProblems(doc))).toEqual(['slo[0].metric', 'slo[1].metric']);
  });

  it('200 000 load stages (merge\'s spike analysis spread them into Math.max and overflowed the stack)', () => {
    const doc = results();
    doc.run.load.stages = Array.from({ length: 200_000 }, () => ({ durationS: 0.001, target: 5 }));
    expect(resultsProblems(doc)).toEqual([{ path: 'run.load.stages', message: 'expected at most 10000 items, found 200000' }]);
  });

  it('an alert rule that no longer compiles (merge judges the rules again)', () => {
    const doc = JSON.parse(readFileSync(new URL('../../browser/fixtures/ramp-results.json', import.meta.url), 'utf8')) as Doc;
    doc.server.alerts[0].condition = 'queue_depth >';
    const [p] = resultsProblems(doc);
    expect(p!.path).toBe('server.alerts[0]');
    expect(p!.message).toMatch(/^alert rule ".+": expected a number after ">"/);
  });

  it('schema versions: another major version refused with both named, a later minor one read, anything else named', () => {
    const tag = (schema: unknown): string[] => resultsProblems({ ...results(), schema }).map((p) => `${p.path}: ${p.message}`);
    expect(tag('inferload/results@2')).toEqual([
      'schema: "inferload/results@2" (written by inferload 0.1.0) is version 2 of the format, this inferload reads version 1 ("inferload/results@1"): read it with a newer inferload',
    ]);
    expect(tag('inferload/results@0')[0]).toMatch(/is version 0 of the format, this inferload reads version 1 .*: read it with the inferload that wrote it, or re-run the test$/);
    expect(tag('inferload/results@1.4')).toEqual([]);
    expect(resultsOf({ ...results(), schema: 'inferload/results@1.4' }, 'r.json').schema).toBe('inferload/results@1');
    expect(tag('inferload/baseline@1')[0]).toMatch(/^schema: expected a run's results \("inferload\/results@1"\), found a baseline file/);
    expect(tag(undefined)[0]).toMatch(/^schema: expected "inferload\/results@1", found nothing: this is not a file inferload wrote/);
    expect(resultsProblems([1, 2])).toEqual([{ path: '(file)', message: expect.stringMatching(/^expected a JSON object with "schema": "inferload\/results@1", found an array/) }]);
  });

  it('nesting deep enough to overflow a recursive copy is refused, at its path', () => {
    const doc = results();
    let at: Doc = doc.run.workload;
    for (let i = 0; i < 100_000; i++) at = at.x = {};
    const [p] = resultsProblems(doc);
    expect(p!.path).toMatch(/^run\.workload(\.x){62}$/);
    expect(p!.message).toBe('nested more than 64 levels deep: no file inferload writes is; the file was edited');
  });

  it('resultsOf throws 104 naming the file; more than 20 problems are counted, not listed', () => {
    const doc = results();
    for (const w of doc.windows) w.sent = -1;
    let err: unknown;
    try {
      resultsOf(doc, '/runs/x/results.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInputError);
    const e = err as InvalidInputError;
    expect(e.exitCode).toBe(104);
    expect(e.message).toMatch(/^invalid input in \/runs\/x\/results\.json \(\d+ problems\):\n {2}- windows\[0\]\.sent: expected a number >= 0, found number -1\n/);
    expect(e.problems.length).toBeLessThanOrEqual(21);
  });
});

describe('baseline files', () => {
  it('reads what baseline add writes', () => {
    expect(baselineProblems(baselineDoc())).toEqual([]);
  });

  it('a run without slo, a damaged histogram, a metric of 1e308 (its noise band read "−NaN %" and the gate passed)', () => {
    const b = baselineDoc();
    delete b.runs[0].slo;
    b.runs[1].windows[2].hdr.ttft = damaged(b.runs[1].windows[2].hdr.ttft);
    b.runs[2].metrics.e2e_p50_ms = 1e308;
    b.runs[2].metrics.error_ratio = 1.5;
    expect(baselineProblems(b).map((p) => `${p.path}: ${p.message}`)).toEqual([
      'runs[0].slo: expected an array, found nothing',
      'runs[2].metrics.e2e_p50_ms: expected a number <= 1e+7, found number 1e+308',
      'runs[2].metrics.error_ratio: expected a number <= 1, found number 1.5',
    ]);
    delete b.runs[0];
    b.runs = b.runs.filter(Boolean);
    b.runs[1].metrics.e2e_p50_ms = 200;
    b.runs[1].metrics.error_ratio = 0;
    expect(paths(baselineProblems(b))).toEqual(['runs[0].windows[2].hdr.ttft']);
  });

  it('a run held twice (a hand edit) is refused, naming both: counted twice it narrows the noise band', () => {
    const b = baselineDoc();
    b.runs.push(structuredClone(b.runs[0]));
    const renamed = structuredClone(b.runs[1]);
    renamed.id = 'renamed-copy';
    b.runs.push(renamed);
    expect(baselineProblems(b)).toEqual([
      { path: 'runs[3]', message: expect.stringMatching(/^the same run as runs\[0\] \(run "smoke-\d+T\d+Z", started .+\): a baseline holds each run once; delete one of them$/) },
      { path: 'runs[4]', message: expect.stringMatching(/^the same run as runs\[1\] /) },
    ]);
    expect(() => baselineOf(b, 'baseline.json')).toThrow(/^invalid input in baseline\.json \(2 problems\)/);
  });

  it('schema versions, as for results', () => {
    expect(baselineProblems({ ...baselineDoc(), schema: 'inferload/baseline@3' })[0]!.message).toMatch(/is version 3 of the format, this inferload reads version 1/);
    expect(baselineProblems({ ...baselineDoc(), schema: 'inferload/baseline@1.1' })).toEqual([]);
    expect(baselineProblems(results())[0]!.message).toMatch(/^expected a baseline file \("inferload\/baseline@1"\), found a run's results/);
  });
});
