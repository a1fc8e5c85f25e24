// `inferload import k6`: k6's JSON output (`k6 run --out json`) of a script from `inferload export
// k6`, read back into inferload's results. test/fixtures/k6/k6-out.json is written by hand in k6's
// documented format (Metric and Point lines, RFC 3339 times with nanoseconds and a zone offset,
// tags, metadata) with the samples the exported script emits, xk6-sse's own (sse_event, http_reqs)
// and k6's built-in ones (vus, iterations, dropped_iterations) among them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../../src/config/load.js';
import type { RequestRecord } from '../../../src/core/record.js';
import { importK6, parseRfc3339Us, runImportK6Command } from '../../../src/cli/k6-import.js';
import { readResultsFile } from '../../../src/results/read.js';
import { tmp } from '../../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/k6/', import.meta.url));
const OUT = join(FIXTURES, 'k6-out.json');
const SCENARIO = join(FIXTURES, 'k6-smoke.yaml');
/** the scenario's start in the fixture: 2025-01-15T10:00:00+01:00 */
const ZERO_US = Date.UTC(2025, 0, 15, 9, 0, 0) * 1000;

function io(): { io: { stdout: (s: string) => void; stderr: (s: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (s) => void (out += s), stderr: (s) => void (err += s) }, out: () => out, err: () => err };
}

async function imported(spec = loadScenario(SCENARIO)): Promise<{ result: Awaited<ReturnType<typeof importK6>>; recs: Map<number, RequestRecord> }> {
  const recs = new Map<number, RequestRecord>();
  const result = await importK6(readFileSync(OUT, 'utf8'), { spec, onRecord: (r) => recs.set(r.id, r) });
  return { result, recs };
}

describe('k6 times', () => {
  it('reads RFC 3339 as Go writes it: nanoseconds trimmed of zeros, Z or an offset, to the microsecond', () => {
    expect(parseRfc3339Us('2025-01-15T10:00:00+01:00')).toBe(ZERO_US);
    expect(parseRfc3339Us('2025-01-15T09:00:00Z')).toBe(ZERO_US);
    expect(parseRfc3339Us('2025-01-15T10:00:00.00025+01:00')).toBe(ZERO_US + 250);
    expect(parseRfc3339Us('2017-05-09T14:34:45.625742514+02:00')).toBe(Date.UTC(2017, 4, 9, 12, 34, 45) * 1000 + 625742);
    expect(parseRfc3339Us('2021-02-24T13:37:10-05:30')).toBe(Date.UTC(2021, 1, 24, 19, 7, 10) * 1000);
    for (const bad of ['2021-02-24 13:37:10Z', '2021-02-24T13:37:10', '2021-13-24T13:37:10Z', 'yesterday', '2021-02-24T13:37:10.1234567890Z'])
      expect(parseRfc3339Us(bad), bad).toBeNull();
  });
});

describe('inferload import k6', () => {
  it('rebuilds every request from its samples, on the run clock of the scenario\'s start', async () => {
    const { recs } = await imported();
    // 6 requests and 1 dropped iteration; xk6-sse's and k6's own samples add none
    expect([...recs.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const r0 = recs.get(0)!;
    expect(r0.warmup).toBe(true);
    expect(r0.intendedStartUs).toBe(250);
    expect(r0.sentUs).toBeCloseTo(312, 6);
    expect(r0.firstTokenUs).toBeCloseTo(120_750, 6);
    expect(r0.chunkUs.map((t) => Math.round(t))).toEqual([120_750, 141_000, 160_750, 190_750]);
    expect(r0.endUs).toBeCloseTo(201_125, 6);
    expect(r0.ok).toBe(true);
    expect(r0.outputTokensUsage).toBe(4);
    expect(r0.promptTokensUsage).toBe(16);
    expect(r0.promptTokensPlanned).toBe(16);
    expect(r0.outputTokensAsked).toBe(4);
    expect(recs.get(1)!.cachedTokensUsage).toBe(8);
    // no usage: the chunks are the tokens, the planned count the prompt's
    const r2 = recs.get(2)!;
    expect(r2.warmup).toBe(false);
    expect(r2.outputTokensUsage).toBeNull();
    expect(r2.outputTokens).toBe(3);
    expect(r2.promptTokensUsage).toBeNull();
    expect(r2.promptTokens).toBe(16);
    const r3 = recs.get(3)!;
    expect(r3.ok).toBe(false);
    expect(r3.errorClass).toBe('http_5xx');
    expect(r3.errorMessage).toBe('HTTP 503');
    expect(r3.endUs).toBeCloseTo(1_515_750, 6);
    // started, never ended: cut by k6 at its graceful stop (5 s > 0: unfinished, a failure)
    const r5 = recs.get(5)!;
    expect(r5.errorClass).toBe('unfinished');
    expect(r5.endUs).toBe(8_000_000);
    const dropped = recs.get(6)!;
    expect(dropped.dropped).toBe(true);
    expect(dropped.intendedStartUs).toBe(2_500_100);
    expect(dropped.warmup).toBe(false);
  });

  it('summarises as a run of inferload\'s: warm-up apart, classes of errors, latencies from the stamps, SLOs judged', async () => {
    const { result } = await imported();
    const s = result.summary;
    expect(s.requests).toMatchObject({ sent: 4, completed: 2, failed: 2, dropped: 1, interrupted: 0, warmup_sent: 2, warmup_dropped: 0 });
    expect(s.errors).toEqual({ http_5xx: 1, unfinished: 1 });
    expect(s.latency_ms.ttft.count).toBe(2);
    expect(s.latency_ms.ttft.max).toBeCloseTo(400, 0);
    expect(s.latency_ms.e2e.max).toBeCloseTo(900, 0);
    // gaps of the measured requests: 40, 60, 10, 10, 10 ms
    expect(s.latency_ms.itl.count).toBe(5);
    expect(s.tokens.output).toBe(7);
    expect(s.tokens.output_estimated_requests).toBe(1);
    expect(result.run.warmup_s).toBe(1);
    expect(result.run.started_at).toBe('2025-01-15T09:00:00.000Z');
    expect(result.run.load.client).toBe('k6');
    expect(result.run.target.model).toBe('test-model');
    expect(result.windows.map((w) => w.t_s).slice(0, 3)).toEqual([0, 1, 2]);
    expect(result.windows[1]!.arrivals).toBe(2);
    // error_ratio 2/4 = 0.5 is not below 0.5
    const verdicts = Object.fromEntries(result.slo.map((v) => [v.name, v.passed]));
    expect(verdicts).toEqual({ 'ttft_ms: p(95)<500': true, 'e2e_ms: p(99)<2000': true, 'error_ratio: rate<0.5': false });
    expect(result.error_samples).toContainEqual({ error_class: 'http_5xx', message: 'HTTP 503', count: 1 });
    expect(result.generator.warnings.join(' ')).toMatch(/measured by k6/);
  });

  it('writes results.json, requests.jsonl and the reports; an SLO that fails exits 99, and the file reads back', async () => {
    const dir = join(tmp('inferload-k6-'), 'imported');
    const c = io();
    const code = await runImportK6Command(OUT, { out: dir, scenario: SCENARIO }, c.io);
    expect(c.err()).not.toMatch(/inferload: invalid/);
    expect(code).toBe(99);
    for (const f of ['results.json', 'requests.jsonl', 'report.md', 'report.html', 'junit.xml']) expect(existsSync(join(dir, f)), f).toBe(true);
    const back = await readResultsFile(join(dir, 'results.json'), 'results');
    expect(back.summary.requests.completed).toBe(2);
    const lines = readFileSync(join(dir, 'requests.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(c.out()).toMatch(/imported .*k6-out\.json/);
  });

  it('without --scenario takes the run\'s facts from the script\'s inferload_run samples', async () => {
    const recs: RequestRecord[] = [];
    const result = await importK6(readFileSync(OUT, 'utf8'), { onRecord: (r) => recs.push(r) });
    expect(result.run.scenario).toBe('k6-smoke');
    expect(result.run.seed).toBe(3);
    expect(result.run.warmup_s).toBe(1);
    expect(result.run.load).toMatchObject({ executor: 'constant-arrival-rate', durationS: 3, gracefulStopS: 5, client: 'k6' });
    expect(result.summary.requests).toMatchObject({ sent: 4, completed: 2, failed: 2, dropped: 1, warmup_sent: 2 });
    // the thresholds are on {warmup:false} submetrics, which k6 does not write: none to judge
    expect(result.slo).toEqual([]);
  });

  it('without --scenario and without a warm-up, judges the thresholds k6 wrote in its Metric lines', async () => {
    const text = readFileSync(OUT, 'utf8')
      .replace('"name":"inferload_ttft","type":"trend","contains":"time","thresholds":[]', '"name":"inferload_ttft","type":"trend","contains":"time","thresholds":["p(95)<100"]')
      .replace(
        '"name":"inferload_errors","type":"rate","contains":"default","thresholds":[]',
        '"name":"inferload_errors","type":"rate","contains":"default","thresholds":[{"threshold":"rate<0.9","abortOnFail":true,"delayAbortEval":"6s"}]',
      );
    const result = await importK6(text);
    expect(result.slo.map((v) => [v.name, v.passed, v.abort_on_fail])).toEqual([
      ['ttft_ms: p(95)<100', false, false],
      ['error_ratio: rate<0.9', true, true],
    ]);
  });

  it('reads several runners\' files, and gzipped ones', async () => {
    const dir = tmp('inferload-k6-');
    const lines = readFileSync(OUT, 'utf8').trim().split('\n');
    // one runner had requests 0-2, the other the rest (each file with its own Metric lines)
    const first = lines.filter((l) => !/"request_id":"[345]"|dropped_iterations/.test(l) || l.includes('"type":"Metric"'));
    const second = lines.filter((l) => /"request_id":"[345]"|dropped_iterations|"type":"Metric"/.test(l));
    writeFileSync(join(dir, 'a.json'), first.join('\n') + '\n');
    writeFileSync(join(dir, 'b.json.gz'), gzipSync(second.join('\n') + '\n'));
    const c = io();
    const code = await runImportK6Command([join(dir, 'a.json'), join(dir, 'b.json.gz')], { out: join(dir, 'out'), scenario: SCENARIO }, c.io);
    expect(code).toBe(99);
    const back = await readResultsFile(join(dir, 'out', 'results.json'), 'results');
    expect(back.summary.requests).toMatchObject({ sent: 4, completed: 2, failed: 2, dropped: 1, warmup_sent: 2 });
  });

  it('refuses malformed lines with 104, naming the file and the line', async () => {
    const dir = tmp('inferload-k6-');
    const lines = readFileSync(OUT, 'utf8').trim().split('\n');
    lines.splice(2, 0, '{"type":"Point","data":{"time":"2025-01-15T10:00:00+01:00","value":1,"tags":null},"metric":"vus"', 'not json at all');
    lines.splice(9, 0, '{"type":"Point","data":{"time":"yesterday","value":1},"metric":"vus"}', '{"type":"Sample","data":{}}');
    writeFileSync(join(dir, 'bad.json'), lines.join('\n'));
    const c = io();
    expect(await runImportK6Command(join(dir, 'bad.json'), { out: join(dir, 'out') }, c.io)).toBe(104);
    expect(c.err()).toMatch(/bad\.json line 3: not JSON/);
    expect(c.err()).toMatch(/bad\.json line 4: not JSON/);
    expect(c.err()).toMatch(/bad\.json line 10: "time" is not an RFC 3339 time/);
    expect(c.err()).toMatch(/bad\.json line 11: expected a line of k6's JSON output/);
  });

  it('refuses a sample of the script\'s metrics without a request id, an unknown error class, a file that is not there, and output with no request of such a script', async () => {
    const point = (metric: string, tags: Record<string, string>, metadata?: Record<string, string>): string =>
      JSON.stringify({ type: 'Point', data: { time: '2025-01-15T10:00:01.5+01:00', value: 1, tags, ...(metadata && { metadata }) }, metric });
    await expect(importK6(point('inferload_ttft', { scenario: 'inferload' }))).rejects.toThrow(/line 1: a sample of inferload_ttft without a request_id/);
    await expect(importK6(point('inferload_failed', { error_class: 'teapot' }, { request_id: '1' }))).rejects.toThrow(/error_class "teapot"/);
    await expect(importK6([point('vus', {}), point('http_reqs', {}, { request_id: '1' })].join('\n'))).rejects.toThrow(/no inferload_requests sample in 2 sample/);
    await expect(importK6(readFileSync(OUT, 'utf8'), { spec: loadScenario('smoke') })).rejects.toThrow(/the k6 output is of scenario "k6-smoke" .*not "smoke"/);
    const c = io();
    expect(await runImportK6Command(join(tmp(), 'missing.json'), { out: join(tmp(), 'out') }, c.io)).toBe(104);
    expect(c.err()).toMatch(/missing\.json: cannot read it \(ENOENT/);
    const d = io();
    expect(await runImportK6Command(OUT, {}, d.io)).toBe(104);
    expect(d.err()).toMatch(/--out/);
  });
});
