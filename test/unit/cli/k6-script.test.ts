// The exported k6 script run without k6: transpiled, and run in a VM against stand-ins for k6's
// modules (k6/metrics writes k6's JSON output lines, k6/x/sse plays scripted streams on a fake
// clock). What it emits is then imported: every request comes back with the stamps the streams
// were played at, and classed as inferload classes it. This checks that the script and `inferload
// import k6` agree (the hand-written fixture of k6-import.test.ts checks the format against k6's).
import { runInNewContext } from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { ScenarioSpec } from '../../../src/core/types.js';
import type { RequestRecord } from '../../../src/core/record.js';
import { exportK6 } from '../../../src/cli/k6-export.js';
import { importK6 } from '../../../src/cli/k6-import.js';
import { testSpec } from '../../helpers/spec.js';

/** One scripted response: its status and headers, SSE events at ms after the send, then how the body ends. */
interface Played {
  status?: number;
  headers?: Record<string, string>;
  /** an error before any response (sse.open's error) */
  transportError?: string;
  events?: { at: number; data: string }[];
  /** after the events: the body ends (eof), a read error, or nothing more comes until the timeout */
  end?: { at: number; error?: string };
}

const WALL0_MS = Date.UTC(2025, 2, 1, 12, 0, 0);

/** Go's RFC 3339 with nanoseconds, trailing zeros trimmed, in UTC. */
function goTime(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const ns = Math.round((ms - whole * 1000) * 1e6);
  const frac = String(ns).padStart(9, '0').replace(/0+$/, '');
  return `${new Date(whole * 1000).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

function runScript(script: string, data: string, plays: Played[], opts: { thinkS?: number } = {}): string[] {
  const js = ts.transpileModule(script, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText;
  const lines: string[] = [];
  const seen = new Set<string>();
  let clockMs = 0; // the test run's clock
  const vu = { tags: {} as Record<string, string>, metadata: {} as Record<string, string> };
  let iteration = 0;
  const emit = (name: string, type: string, value: number | boolean, tags?: Record<string, string>): void => {
    if (!seen.has(name)) {
      seen.add(name);
      lines.push(JSON.stringify({ type: 'Metric', data: { name, type, contains: 'default', thresholds: [], submetrics: null }, metric: name }));
    }
    const meta = { ...vu.metadata };
    const point: Record<string, unknown> = { time: goTime(WALL0_MS + clockMs), value: Number(value), tags: { group: '', scenario: 'inferload', ...vu.tags, ...tags } };
    if (Object.keys(meta).length > 0) point.metadata = meta;
    lines.push(JSON.stringify({ type: 'Point', data: point, metric: name }));
  };
  const metric = (type: string) =>
    class {
      constructor(readonly name: string) {}
      add(v: number | boolean, tags?: Record<string, string>): void {
        emit(this.name, type, v, tags);
      }
    };
  const modules: Record<string, unknown> = {
    k6: { sleep: (s: number) => void (clockMs += s * 1000) },
    'k6/data': { SharedArray: class { constructor(_n: string, fn: () => unknown[]) { return fn(); } } },
    'k6/http': { default: { get: () => ({ status: 200, body: '{"data":[{"id":"listed-model"}]}' }) } },
    'k6/metrics': { Counter: metric('counter'), Trend: metric('trend'), Rate: metric('rate'), Gauge: metric('gauge') },
    'k6/execution': {
      default: {
        instance: { get currentTestRunDuration() { return clockMs; } },
        scenario: { get iterationInTest() { return iteration; }, startTime: WALL0_MS, name: 'inferload' },
        vu: { get iterationInScenario() { return iteration; }, metrics: vu },
        test: { abort: (m: string) => { throw new Error(`abort: ${m}`); } },
      },
    },
    'k6/x/sse': {
      default: {
        open(_url: string, _params: unknown, setup: (client: unknown) => void) {
          const play = plays[iteration]!;
          const handlers: Record<string, ((x?: unknown) => void)[]> = {};
          let closed = false;
          const client = { on: (ev: string, h: (x?: unknown) => void) => (handlers[ev] ??= []).push(h), close: () => void (closed = true) };
          if (play.transportError !== undefined) return { url: '', status: 0, headers: {}, error: play.transportError };
          const sent = clockMs;
          setup(client);
          for (const e of play.events ?? []) {
            if (closed) break;
            clockMs = sent + e.at;
            for (const h of handlers.event ?? []) h({ id: '', comment: '', name: '', data: e.data });
          }
          if (!closed && play.end) {
            clockMs = sent + play.end.at;
            const message = play.end.error;
            if (message !== undefined) for (const h of handlers.error ?? []) h({ error: () => message });
          }
          return { url: '', status: play.status ?? 200, headers: play.headers ?? { 'Content-Type': 'text/event-stream' }, error: '' };
        },
      },
    },
  };
  const module = { exports: {} as Record<string, unknown> };
  const require = (name: string): unknown => {
    if (!(name in modules)) throw new Error(`no module ${name}`);
    return modules[name];
  };
  // Date.now() on the same fake clock, as wall time
  const FakeDate = { now: (): number => Math.floor(WALL0_MS + clockMs) };
  runInNewContext(js, { module, exports: module.exports, require, __ENV: {}, open: () => data, JSON, Math, Number, String, Object, Array, Date: FakeDate, Error, isNaN });
  const k6 = module.exports as { default: (d: unknown) => void; setup: () => unknown };
  const setupData = k6.setup();
  for (iteration = 0; iteration < plays.length; iteration++) {
    // arrivals 100 ms apart (an arrival-rate executor's constant spacing)
    clockMs = Math.max(clockMs, iteration * 100 + 0.25);
    k6.default(setupData);
    clockMs += opts.thinkS ?? 0;
  }
  return lines;
}

/** The Point lines of one metric. */
const points = (lines: string[], metric: string): string[] => lines.filter((l) => l.startsWith('{"type":"Point"') && l.endsWith(`"metric":"${metric}"}`));

const chunk = (content: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra });
const finish = JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] });
const usage = (completion: number, prompt: number): string => JSON.stringify({ choices: [], usage: { completion_tokens: completion, prompt_tokens: prompt, prompt_tokens_details: { cached_tokens: 3 } } });
const role = JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant' } }] });

const PLAYS: Played[] = [
  // 0: a whole stream: role chunk, 4 content chunks, finish, usage, [DONE]
  {
    events: [
      { at: 5, data: role },
      { at: 100.5, data: chunk('a') },
      { at: 120.25, data: chunk('b') },
      { at: 140, data: chunk('c') },
      { at: 170.125, data: chunk('d') },
      { at: 171, data: finish },
      { at: 172, data: usage(4, 20) },
      { at: 173.5, data: '[DONE]' },
      { at: 500, data: chunk('after the end: not read') },
    ],
  },
  // 1: no usage, no [DONE]: a finish reason, then the body ends: 2 tokens from the chunks
  { events: [{ at: 50, data: chunk('x') }, { at: 80, data: chunk('y') }, { at: 81, data: finish }], end: { at: 90 } },
  // 2: HTTP 503 with a JSON body (not SSE: xk6-sse says "unknown event")
  { status: 503, headers: { 'Content-Type': 'application/json' }, end: { at: 12, error: 'unknown event: {"error":"overloaded"}' } },
  // 3: an error inside an HTTP-200 stream
  { events: [{ at: 30, data: chunk('x') }, { at: 40, data: JSON.stringify({ error: { message: 'engine died' } }) }] },
  // 4: the body ends mid-stream: truncated
  { events: [{ at: 30, data: chunk('x') }], end: { at: 60 } },
  // 5: not JSON
  { events: [{ at: 30, data: 'hello' }] },
  // 6: the connection was refused
  { transportError: 'Post "http://127.0.0.1:9/v1/chat/completions": dial tcp 127.0.0.1:9: connect: connection refused' },
  // 7: 200 but not an event stream
  { headers: { 'Content-Type': 'application/json' }, end: { at: 8, error: 'unknown event: {"choices":[]}' } },
  // 8: the whole-request deadline passed mid-stream
  { events: [{ at: 30, data: chunk('x') }], end: { at: 30_000, error: 'context deadline exceeded (Client.Timeout or context cancellation while reading body)' } },
  // 9: usage that cannot be true (10^6 tokens for 2 chunks at max_tokens 4): the chunks stand
  { events: [{ at: 10, data: chunk('x') }, { at: 20, data: chunk('y') }, { at: 21, data: usage(1_000_000, 20) }, { at: 22, data: '[DONE]' }] },
  // 10: 429
  { status: 429, headers: { 'Content-Type': 'application/json' }, end: { at: 3 } },
];

function spec(): ScenarioSpec {
  return testSpec(
    { executor: 'constant-arrival-rate', rate: 10, durationS: 2, timeUnitS: 1, arrival: 'constant', burstiness: 1, maxInFlight: 50, gracefulStopS: 30 },
    { name: 'k6-script', slo: { ttft_ms: [{ threshold: 'p(95)<150', abortOnFail: false }], e2e_ms: [{ threshold: 'p(99)<1000', abortOnFail: false }] } },
  );
}

describe('the exported script, run against stand-ins for k6', () => {
  it('emits what inferload import k6 rebuilds: stamps as played, classes as inferload classes them', async () => {
    const s = spec();
    const x = await exportK6(s, { prompts: 4 });
    const lines = runScript(x.script, x.data, PLAYS);
    const recs = new Map<number, RequestRecord>();
    const result = await importK6(lines.join('\n'), { spec: s, onRecord: (r) => recs.set(r.id, r) });
    const r0 = recs.get(0)!;
    expect(r0.ok).toBe(true);
    expect(r0.intendedStartUs).toBe(250);
    expect(r0.firstTokenUs).toBeCloseTo(250 + 100_500, 3);
    expect(r0.chunkUs.map((t) => Math.round(t - 250))).toEqual([100_500, 120_250, 140_000, 170_125]);
    expect(r0.endUs).toBeCloseTo(250 + 173_500, 3);
    expect([r0.outputTokensUsage, r0.promptTokensUsage, r0.cachedTokensUsage]).toEqual([4, 20, 3]);
    const r1 = recs.get(1)!;
    expect([r1.ok, r1.outputTokensUsage, r1.outputTokens]).toEqual([true, null, 2]);
    expect(r1.endUs - r1.intendedStartUs).toBeCloseTo(90_000, 3);
    expect(recs.get(9)!.outputTokensUsage).toBeNull();
    expect(recs.get(9)!.outputTokens).toBe(2);
    const classes = [...recs.values()].sort((a, b) => a.id - b.id).map((r) => (r.ok ? 'ok' : r.errorClass));
    expect(classes).toEqual(['ok', 'ok', 'http_5xx', 'stream_error', 'truncated', 'invalid_response', 'connect', 'invalid_response', 'timeout', 'ok', 'http_429']);
    expect(recs.get(3)!.errorMessage).toMatch(/engine died/);
    expect(recs.get(2)!.endUs - recs.get(2)!.intendedStartUs).toBeCloseTo(12_000, 3);
    expect(result.summary.requests).toMatchObject({ sent: 11, completed: 3, failed: 8 });
    expect(result.summary.errors).toEqual({ http_5xx: 1, stream_error: 1, truncated: 1, invalid_response: 2, connect: 1, timeout: 1, http_429: 1 });
    // the model: none in the scenario, so the first the server lists (setup's GET /models)
    expect(result.run.target.model).toBe('listed-model');
    // goodput as the script judged it agrees with the recorder's: TTFT 100.5 and 50 < 150, E2E < 1000; the third's TTFT is 10
    expect(result.summary.requests.good).toBe(3);
    const goodPoints = points(lines, 'inferload_good').map((l) => (JSON.parse(l) as { data: { value: number } }).data.value);
    expect(goodPoints).toEqual([1, 1, 1]);
  });

  it('tags warm-up, classes and models; thinks between requests in a closed loop; sends nothing past the request count', async () => {
    const s = testSpec(
      { executor: 'constant-vus', vus: 1, durationS: 10, thinkTimeS: 0.25, gracefulStopS: 30 },
      {
        name: 'k6-script-vus',
        warmupS: 0.15,
        requests: 3,
        target: { endpoint: 'chat', metrics: [], timeoutS: 30, models: [{ name: 'm1', weight: 1 }, { name: 'm2', weight: 1 }] },
        workload: {
          promptTokens: { dist: 'fixed', value: 8 },
          outputTokens: { dist: 'fixed', value: 2 },
          ignoreEos: false,
          minTokens: false,
          temperature: 0,
          classes: [
            { name: 'a', weight: 1, promptTokens: { dist: 'fixed', value: 8 }, outputTokens: { dist: 'fixed', value: 2 }, slo: {} },
            { name: 'b', weight: 1, promptTokens: { dist: 'fixed', value: 9 }, outputTokens: { dist: 'fixed', value: 2 }, slo: {} },
          ],
        },
      },
    );
    const x = await exportK6(s, { prompts: 3 });
    const ok: Played = { events: [{ at: 10, data: chunk('x') }, { at: 20, data: chunk('y') }, { at: 21, data: '[DONE]' }] };
    const lines = runScript(x.script, x.data, [ok, ok, ok, ok, ok]);
    const requests = points(lines, 'inferload_requests').map((l) => JSON.parse(l) as { data: { tags: Record<string, string>; metadata: Record<string, string> } });
    // the fourth and fifth iterations are past requests: 3
    expect(requests).toHaveLength(3);
    const planned = JSON.parse(x.data) as { class: string; model: string }[];
    expect(requests.map((p) => p.data.tags.class)).toEqual(planned.map((p) => p.class));
    expect(requests.map((p) => p.data.tags.model)).toEqual(planned.map((p) => p.model));
    // iteration 0 starts at 0.25 ms: warm-up; iteration 1 after 21 ms and 250 ms of thinking, past 150 ms
    expect(requests.map((p) => p.data.tags.warmup)).toEqual(['true', 'false', 'false']);
    const recs: RequestRecord[] = [];
    const result = await importK6(lines.join('\n'), { spec: s, onRecord: (r) => recs.push(r) });
    expect(result.summary.requests).toMatchObject({ sent: 2, completed: 2, warmup_sent: 1 });
    expect(Object.keys(result.models ?? {}).sort()).toEqual([...new Set(planned.slice(1).map((p) => p.model))].sort());
    expect(Object.keys(result.classes ?? {}).sort()).toEqual(['a', 'b']);
  });
});
