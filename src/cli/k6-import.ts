// `inferload import k6 OUTPUT.json... --out DIR`: k6's JSON output (`k6 run --out json=...`) of a
// script from `inferload export k6` (k6-export.ts), read back into inferload's results: every
// request rebuilt as a RequestRecord from its samples (its id travels as k6 metadata), fed to a
// Recorder in time order, and summarised as a run of inferload's is (windows, SLO verdicts,
// slices, reports, the regression gate). k6's own metrics (http_reqs, iterations, vus, ...) are
// skipped, except dropped_iterations: arrivals that found no free VU, which inferload counts as
// dropped.
import { createReadStream } from 'node:fs';
import { cpus, platform } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ExitCode, InferloadError, InvalidInputError, type InputProblem } from '../core/errors.js';
import { RequestRecord } from '../core/record.js';
import { parseTarget } from '../core/secret.js';
import { parseThreshold } from '../core/threshold.js';
import { ERROR_CLASSES, type ErrorClass, type ScenarioSpec, type SloThreshold } from '../core/types.js';
import { nextTurn } from '../core/turn.js';
import { loadScenario, parseScenario } from '../config/load.js';
import { computeErrorBudget } from '../analysis/error-budget.js';
import { evaluateSlos } from '../analysis/slo.js';
import { analyzeSoak, analyzeSpike } from '../analysis/spike-soak.js';
import { Recorder, requestSlos } from '../metrics/recorder.js';
import { renderConsoleSummary } from '../report/console.js';
import { buildResult, buildSummary, type SummaryFacts } from '../results/build.js';
import { isWriteRefusal, outputDirProblem } from '../results/out-dir.js';
import { classRequestSlos, sliceResults } from '../results/slices.js';
import type { RunMeta, RunResult } from '../results/types.js';
import { RunOutput } from '../results/writer.js';
import { loadDurationS } from '../schedule/arrivals.js';
import type { CommandIo } from './baseline-command.js';
import { utcStamp, writeReports } from './execute.js';
import { K6_METRICS, K6_SCENARIO } from './k6-export.js';
import { VERSION } from './version.js';

/** Lines of k6's JSON output: a whole text, or lines one by one. */
export type K6Lines = string | Iterable<string> | AsyncIterable<string>;

/** One output file (k6-operator writes one per runner), named in messages. */
export interface K6Source {
  name: string;
  lines: K6Lines;
}

export interface K6ImportOptions {
  /**
   * the scenario the script was exported from (`--scenario`): its SLOs (the classes' too), load,
   * workload and target go into the results. Without it the run's facts come from the script's
   * `inferload_run` samples and the SLOs from the thresholds k6 wrote in its Metric lines (those
   * on the plain metrics only: with a warm-up they are on submetrics, which k6 does not write).
   */
  spec?: ScenarioSpec;
  /** names the lines in messages when they are not K6Sources (default `OUTPUT`) */
  source?: string;
  /** the command line, for results.run.argv */
  argv?: string[];
  /** each rebuilt request (and dropped arrival), in the order it ended: requests.jsonl */
  onRecord?: (r: RequestRecord) => void;
}

/** The most problems listed before reading stops. */
const MAX_PROBLEMS = 10;

/** The script's metric → inferload's SLO metric it holds (for thresholds read from Metric lines). */
const SLO_OF_METRIC: Record<string, string> = {
  [K6_METRICS.ttft]: 'ttft_ms',
  [K6_METRICS.itl]: 'itl_ms',
  [K6_METRICS.tpot]: 'tpot_ms',
  [K6_METRICS.e2e]: 'e2e_ms',
  [K6_METRICS.scheduleLag]: 'schedule_lag_ms',
  [K6_METRICS.errors]: 'error_ratio',
  [K6_METRICS.good]: 'goodput_ratio',
  [K6_METRICS.completed]: 'request_throughput',
  [K6_METRICS.outputTokens]: 'output_token_throughput',
};

const OURS: ReadonlySet<string> = new Set(Object.values(K6_METRICS));

/** One request as its samples tell it (times in µs since the epoch, values as k6 wrote them). */
interface Seen {
  id: number;
  /** the inferload_requests sample's time: the iteration's start */
  startUs: number;
  plannedPromptTokens: number | null;
  maxTokens: number;
  prefixGroup: number | null;
  className: string | null;
  model: string | null;
  warmup: boolean | null;
  lagMs: number | null;
  ttftMs: number | null;
  itlMs: number[];
  e2eMs: number | null;
  /** inferload_completed's time */
  completedUs: number | null;
  e2eFailedMs: number | null;
  failedUs: number | null;
  errorClass: ErrorClass | null;
  error: string | null;
  outputTokens: number | null;
  outputFromUsage: boolean;
  promptTokens: number | null;
  promptFromUsage: boolean;
  cachedTokens: number | null;
}

/** What the whole output says. */
interface Gathered {
  requests: Map<number, Seen>;
  /** samples of ids not yet started (the request's own start may come later in a joined file) */
  dropped: number[];
  runStartsMs: number[];
  runTags: Record<string, string>;
  firstUs: number;
  lastUs: number;
  thresholds: Record<string, SloThreshold[]>;
  samples: number;
  skipped: Map<string, number>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time as Go writes it (k6's `time`: nanoseconds, trailing zeros trimmed, the local
 * offset) → microseconds since the epoch (exact: below 2^53), or null when it is not one.
 */
export function parseRfc3339Us(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 60) return null;
  const zone = m[8]!;
  const offsetMin = zone === 'Z' || zone === 'z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) - offsetMin * 60_000;
  if (!Number.isFinite(ms)) return null;
  const frac = (m[7] ?? '').padEnd(9, '0');
  return ms * 1000 + Math.floor(Number(frac) / 1000);
}

class LineProblems {
  readonly list: InputProblem[] = [];
  add(where: string, message: string): void {
    this.list.push({ path: where, message });
    if (this.list.length >= MAX_PROBLEMS) throw this.error();
  }
  error(): InvalidInputError {
    return new InvalidInputError(this.list, 'the k6 output (inferload import k6)');
  }
}

async function* linesOf(lines: K6Lines): AsyncGenerator<string> {
  if (typeof lines === 'string') {
    yield* lines.split('\n');
    return;
  }
  for await (const l of lines as AsyncIterable<string>) yield l;
}

function newSeen(id: number): Seen {
  return {
    id,
    startUs: NaN,
    plannedPromptTokens: null,
    maxTokens: 0,
    prefixGroup: null,
    className: null,
    model: null,
    warmup: null,
    lagMs: null,
    ttftMs: null,
    itlMs: [],
    e2eMs: null,
    completedUs: null,
    e2eFailedMs: null,
    failedUs: null,
    errorClass: null,
    error: null,
    outputTokens: null,
    outputFromUsage: false,
    promptTokens: null,
    promptFromUsage: false,
    cachedTokens: null,
  };
}

const intOf = (v: unknown): number | null => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
};

/** Reads every line; throws InvalidInputError (104) naming the lines that are not k6's JSON output. */
async function gather(sources: readonly K6Source[]): Promise<Gathered> {
  const g: Gathered = {
    requests: new Map(),
    dropped: [],
    runStartsMs: [],
    runTags: {},
    firstUs: Infinity,
    lastUs: -Infinity,
    thresholds: {},
    samples: 0,
    skipped: new Map(),
  };
  const problems = new LineProblems();
  for (const src of sources) {
    let n = 0;
    for await (const raw of linesOf(src.lines)) {
      n++;
      const line = raw.trim();
      if (line === '') continue;
      const where = `${src.name} line ${n}`;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        problems.add(where, `not JSON (${(e as Error).message}): ${line.slice(0, 80)}`);
        continue;
      }
      if (!isObject(obj) || (obj.type !== 'Metric' && obj.type !== 'Point')) {
        problems.add(where, 'expected a line of k6\'s JSON output: {"type":"Metric",...} or {"type":"Point",...}');
        continue;
      }
      const data = obj.data;
      if (!isObject(data)) {
        problems.add(where, `a ${obj.type} line without its "data" object`);
        continue;
      }
      if (obj.type === 'Metric') {
        const name = data.name ?? obj.metric;
        if (typeof name !== 'string' || name === '') problems.add(where, 'a Metric line without a name');
        else metricLine(g, name, data.thresholds);
        continue;
      }
      pointLine(g, obj.metric, data, where, problems);
    }
  }
  if (problems.list.length > 0) throw problems.error();
  return g;
}

/** The thresholds k6 wrote for one of the script's metrics, as inferload SLOs. */
function metricLine(g: Gathered, name: string, thresholds: unknown): void {
  const slo = SLO_OF_METRIC[name];
  if (slo === undefined || !Array.isArray(thresholds)) return;
  for (const t of thresholds) {
    const text = typeof t === 'string' ? t : isObject(t) && typeof t.threshold === 'string' ? t.threshold : null;
    if (text === null || parseThreshold(text) === null) continue;
    // k6's Counter rate is our whole-run throughput
    const list = (g.thresholds[slo] ??= []);
    const threshold = text.replace(/\s+/g, '');
    if (!list.some((x) => x.threshold === threshold)) list.push({ threshold, abortOnFail: isObject(t) && t.abortOnFail === true });
  }
}

function pointLine(g: Gathered, metric: unknown, data: Record<string, unknown>, where: string, problems: LineProblems): void {
  if (typeof metric !== 'string' || metric === '') return problems.add(where, 'a Point line without its "metric"');
  const time = typeof data.time === 'string' ? parseRfc3339Us(data.time) : null;
  if (time === null) return problems.add(where, `"time" is not an RFC 3339 time: ${JSON.stringify(data.time)?.slice(0, 60)}`);
  const value = data.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) return problems.add(where, `"value" is not a number: ${JSON.stringify(value)?.slice(0, 60)}`);
  const tags = isObject(data.tags) ? data.tags : {};
  const metadata = isObject(data.metadata) ? data.metadata : {};
  g.samples++;
  if (time < g.firstUs) g.firstUs = time;
  if (time > g.lastUs) g.lastUs = time;
  if (metric === 'dropped_iterations') {
    // k6's own: an arrival-rate iteration that found no free VU (one sample, value 1, per iteration)
    if (tags.scenario === undefined || tags.scenario === K6_SCENARIO) for (let i = 0; i < value; i++) g.dropped.push(time);
    return;
  }
  if (!OURS.has(metric)) {
    g.skipped.set(metric, (g.skipped.get(metric) ?? 0) + 1);
    return;
  }
  if (metric === K6_METRICS.run) {
    g.runStartsMs.push(value);
    for (const [k, v] of Object.entries(tags)) if (typeof v === 'string' && g.runTags[k] === undefined) g.runTags[k] = v;
    return;
  }
  const id = intOf(metadata.request_id ?? tags.request_id);
  if (id === null) return problems.add(where, `a sample of ${metric} without a request_id (metadata or tag): not the output of a script from inferload export k6`);
  let r = g.requests.get(id);
  if (!r) {
    r = newSeen(id);
    g.requests.set(id, r);
  }
  const tag = (k: string): string | null => (typeof tags[k] === 'string' ? (tags[k] as string) : null);
  switch (metric) {
    case K6_METRICS.requests:
      if (!Number.isNaN(r.startUs)) return problems.add(where, `request ${id} started twice: the same output joined twice, or two runs' outputs`);
      r.startUs = time;
      r.plannedPromptTokens = intOf(metadata.prompt_tokens_planned);
      r.maxTokens = intOf(metadata.max_tokens) ?? 0;
      r.prefixGroup = intOf(metadata.prefix_group);
      r.className = tag('class');
      r.model = tag('model');
      r.warmup = tag('warmup') === null ? null : tag('warmup') === 'true';
      return;
    case K6_METRICS.scheduleLag:
      r.lagMs = value;
      return;
    case K6_METRICS.ttft:
      r.ttftMs = value;
      return;
    case K6_METRICS.itl:
      r.itlMs.push(value);
      return;
    case K6_METRICS.e2e:
      r.e2eMs = value;
      return;
    case K6_METRICS.completed:
      r.completedUs = time;
      return;
    case K6_METRICS.e2eFailed:
      r.e2eFailedMs = value;
      return;
    case K6_METRICS.failed: {
      r.failedUs = time;
      const cls = tag('error_class');
      if (cls === null || !(ERROR_CLASSES as readonly string[]).includes(cls))
        return problems.add(where, `${metric} of request ${id} with error_class ${JSON.stringify(cls)}: expected one of ${ERROR_CLASSES.join(', ')}`);
      r.errorClass = cls as ErrorClass;
      r.error = typeof metadata.error === 'string' ? metadata.error : null;
      return;
    }
    case K6_METRICS.outputTokens:
      r.outputTokens = value;
      r.outputFromUsage = tag('tokens_from') === 'usage';
      return;
    case K6_METRICS.promptTokens:
      r.promptTokens = value;
      r.promptFromUsage = tag('tokens_from') === 'usage';
      return;
    case K6_METRICS.cachedTokens:
      r.cachedTokens = value;
      return;
    default:
      // inferload_tpot, inferload_errors, inferload_good: derived again from the stamps
      return;
  }
}

/** The run's facts: from the scenario when given, else from the script's inferload_run samples. */
interface RunFacts {
  name: string;
  seed: number;
  warmupS: number;
  windowS: number;
  executor: string;
  loadS: number | null;
  gracefulStopS: number;
  endpoint: string;
  requests: number | null;
}

function runFacts(g: Gathered, spec: ScenarioSpec | undefined): RunFacts {
  const t = g.runTags;
  const num = (v: string | undefined, dflt: number): number => (v !== undefined && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : dflt);
  if (spec)
    return {
      name: spec.name,
      seed: spec.seed,
      warmupS: spec.warmupS,
      windowS: spec.windowS,
      executor: spec.load.executor,
      loadS: loadDurationS(spec.load),
      gracefulStopS: spec.load.gracefulStopS,
      endpoint: spec.target.endpoint,
      requests: spec.requests ?? null,
    };
  return {
    name: t.inferload_scenario ?? 'k6',
    seed: num(t.seed, 0),
    warmupS: num(t.warmup_s, 0),
    windowS: num(t.window_s, 1) > 0 ? num(t.window_s, 1) : 1,
    executor: t.executor ?? 'unknown',
    loadS: t.load_s !== undefined ? num(t.load_s, 0) : null,
    gracefulStopS: num(t.graceful_stop_s, 30),
    endpoint: t.endpoint ?? 'chat',
    requests: null,
  };
}

/** The scenario's defaults for what `sliceResults` reads (the run's SLOs, no classes), when no scenario was given. */
function specWithout(f: RunFacts, slo: Record<string, SloThreshold[]>): ScenarioSpec {
  const spec = parseScenario(`name: imported\nload: {executor: constant-vus, vus: 1, duration: 1s}\n`, 'inferload import k6');
  return { ...spec, name: f.name, seed: f.seed, warmupS: f.warmupS, windowS: f.windowS, slo };
}

/** Each request's RequestRecord, on a clock whose zero is the run's start (µs). */
function records(g: Gathered, f: RunFacts, zeroUs: number): RequestRecord[] {
  const out: RequestRecord[] = [];
  const warmupUs = f.warmupS * 1e6;
  let maxId = -1;
  for (const s of g.requests.values()) {
    if (s.id > maxId) maxId = s.id;
    // samples of a request whose start is not in the output (a truncated or filtered file): its
    // place in time is unknown, so it is left out
    if (Number.isNaN(s.startUs)) continue;
    const intended = s.startUs - zeroUs;
    const r = new RequestRecord(s.id, intended, s.plannedPromptTokens ?? (s.promptFromUsage ? 0 : (s.promptTokens ?? 0)), s.warmup ?? intended < warmupUs);
    r.sentUs = intended + (s.lagMs ?? 0) * 1000;
    r.outputTokensAsked = s.maxTokens;
    r.prefixGroup = s.prefixGroup;
    r.className = s.className;
    r.model = s.model;
    if (s.completedUs !== null || s.e2eMs !== null) {
      r.ok = true;
      r.httpStatus = 200;
      r.endUs = s.e2eMs !== null ? intended + s.e2eMs * 1000 : s.completedUs! - zeroUs;
      if (s.ttftMs !== null) {
        let t = intended + s.ttftMs * 1000;
        r.firstChunkUs = r.firstTokenUs = t;
        r.chunkUs.push(t);
        for (const gap of s.itlMs) r.chunkUs.push((t += gap * 1000));
        // the script does not say how much text each chunk carried: usage beyond one token a
        // chunk is shared out evenly (metrics.md, itl_per_token)
        r.chunkChars = r.chunkUs.map(() => 1);
      }
      r.outputTokensUsage = s.outputFromUsage ? s.outputTokens : null;
      r.promptTokensUsage = s.promptFromUsage ? s.promptTokens : null;
      r.cachedTokensUsage = s.cachedTokens;
    } else if (s.errorClass !== null) {
      r.errorClass = s.errorClass;
      r.errorMessage = s.error;
      r.endUs = s.e2eFailedMs !== null ? intended + s.e2eFailedMs * 1000 : s.failedUs! - zeroUs;
    } else {
      // started, never ended in the output: k6 cut it at the graceful stop (or the run was stopped)
      r.errorClass = f.gracefulStopS > 0 ? 'unfinished' : 'aborted';
      r.errorMessage = 'no end in the k6 output: k6 interrupted the request (its graceful stop ended, or the test was stopped)';
      r.endUs = Math.max(r.sentUs, g.lastUs - zeroUs);
    }
    out.push(r);
  }
  // dropped arrivals have no id in k6: numbered after the requests, in time order
  const drops = [...g.dropped].sort((a, b) => a - b);
  for (const [i, t] of drops.entries()) {
    const intended = t - zeroUs;
    const r = new RequestRecord(maxId + 1 + i, intended, 0, intended < warmupUs);
    r.dropped = true;
    r.errorClass = null;
    out.push(r);
  }
  return out;
}

/** First distinct failure messages per class, with counts (as a run's results.error_samples). */
function errorSamples(recs: readonly RequestRecord[]): RunResult['error_samples'] {
  const byKey = new Map<string, { error_class: string; message: string; count: number }>();
  for (const r of recs) {
    if (r.ok || r.dropped) continue;
    const cls = r.errorClass ?? 'invalid_response';
    const message = r.errorMessage ?? '';
    const key = `${cls}\u0000${message}`;
    const e = byKey.get(key);
    if (e) e.count++;
    else if (byKey.size < 20) byKey.set(key, { error_class: cls, message, count: 1 });
  }
  return [...byKey.values()].sort((a, b) => b.count - a.count);
}

/**
 * The results of a k6 run of an exported script, from its JSON output. Throws InvalidInputError
 * (exit 104) for lines that are not k6's JSON output (naming them: file and line number), for
 * samples of the script's metrics without a request id or with an unknown error class, and for an
 * output without any request of such a script.
 */
export async function importK6(input: K6Lines | readonly K6Source[], opts: K6ImportOptions = {}): Promise<RunResult> {
  const sources: readonly K6Source[] =
    Array.isArray(input) && input.every((x: unknown) => isObject(x) && 'lines' in x)
      ? (input as readonly K6Source[])
      : [{ name: opts.source ?? 'OUTPUT', lines: input as K6Lines }];
  const g = await gather(sources);
  const started = [...g.requests.values()].filter((s) => !Number.isNaN(s.startUs));
  if (started.length === 0)
    throw new InvalidInputError(
      [
        {
          path: sources.map((s) => s.name).join(', '),
          message: `no ${K6_METRICS.requests} sample in ${g.samples} sample(s): not the JSON output of a script from inferload export k6 (run it with k6 run --out json=FILE)`,
        },
      ],
      'the k6 output (inferload import k6)',
    );
  const spec = opts.spec;
  const exported = g.runTags.inferload_scenario;
  if (spec && exported !== undefined && exported !== spec.name)
    throw new InvalidInputError(
      [{ path: '--scenario', message: `the k6 output is of scenario "${exported}" (its ${K6_METRICS.run} samples), not "${spec.name}": give the scenario the script was exported from` }],
      'inferload import k6',
    );
  const facts = runFacts(g, spec);
  // the run's zero: the scenario's start as k6 says it (the earliest of the instances'), else the first request's
  let zeroUs = Infinity;
  for (const s of started) if (s.startUs < zeroUs) zeroUs = s.startUs;
  for (const t of g.dropped) if (t < zeroUs) zeroUs = t;
  for (const ms of g.runStartsMs) if (ms * 1000 < zeroUs) zeroUs = ms * 1000;
  const slo = spec?.slo ?? g.thresholds;
  const sliceSpec = spec ?? specWithout(facts, slo);

  const recs = records(g, facts, zeroUs);
  const recorder = new Recorder({ windowS: facts.windowS, requestSlos: requestSlos(slo), classRequestSlos: classRequestSlos(sliceSpec) });
  // every event in time order, as the engine would have told the recorder
  type Ev = { t: number; order: number; r: RequestRecord };
  const events: Ev[] = [];
  for (const r of recs) {
    if (r.dropped) events.push({ t: r.intendedStartUs, order: 1, r });
    else {
      events.push({ t: r.intendedStartUs, order: 0, r });
      events.push({ t: r.endUs, order: 2, r });
    }
  }
  events.sort((a, b) => a.t - b.t || a.order - b.order || a.r.id - b.r.id);
  let inFlight = 0;
  let tickedUs = -Infinity;
  for (const [i, e] of events.entries()) {
    if (e.t - tickedUs >= recorder.windowUs) {
      recorder.tick(e.t);
      tickedUs = e.t;
    }
    if (e.order === 0) recorder.onSent(e.r, ++inFlight);
    else if (e.order === 1) {
      recorder.onDropped(e.r);
      opts.onRecord?.(e.r);
    } else {
      inFlight--;
      recorder.record(e.r);
      opts.onRecord?.(e.r);
    }
    // the recorder closes windows on later turns of the event loop
    if (i % 4096 === 4095) await nextTurn();
  }
  recorder.flush();

  const snapshot = recorder.snapshot();
  const counters = recorder.counters;
  let arrivalsEndUs = facts.loadS !== null ? facts.loadS * 1e6 : counters.lastArrivalUs;
  if (facts.requests !== null && !Number.isNaN(counters.firstArrivalUs)) {
    const n = counters.sent + counters.dropped;
    arrivalsEndUs = n < 2 ? counters.lastArrivalUs : counters.lastArrivalUs + (counters.lastArrivalUs - counters.firstArrivalUs) / (n - 1);
  }
  if (Number.isNaN(arrivalsEndUs)) arrivalsEndUs = 0;
  const summaryFacts: SummaryFacts = { warmupS: facts.warmupS, arrivalsEndUs, openLoop: facts.executor.endsWith('arrival-rate') };
  const summary = buildSummary(snapshot, summaryFacts);
  const { slices, verdicts } = sliceResults(snapshot, sliceSpec, summaryFacts);
  const allFailed = counters.sent + counters.warmupSent > 0 && counters.completed === 0 && counters.failed > 0;
  const meta = runMeta(g, facts, spec, zeroUs, opts.argv ?? []);
  const result = buildResult({
    status: allFailed ? 'failed' : 'complete',
    statusReason: allFailed ? 'no request succeeded: the target failed entirely' : null,
    meta,
    summary,
    snapshot,
    slo: [...evaluateSlos(slo, summary, { windows: snapshot.windows, warmupS: facts.warmupS }), ...verdicts],
    generator: {
      event_loop_lag_p99_ms: null,
      event_loop_lag_max_ms: null,
      cpu_ratio: null,
      schedule_lag_p99_ms: summary.latency_ms.schedule_lag.p99,
      rss_max_bytes: 0,
      valid: true,
      warnings: [
        'measured by k6 (inferload import k6): TTFT and E2E from the start of each k6 iteration, not from an intended time (not coordinated-omission correct); schedule lag is only the script\'s own delay before the send; k6\'s own health is not known here',
        ...(g.requests.size > started.length
          ? [`${g.requests.size - started.length} request(s) had samples but no ${K6_METRICS.requests} sample (a cut or filtered output): left out`]
          : []),
      ],
      workers: 1,
    },
    errorSamples: errorSamples(recs),
    slices,
  });
  result.error_budget = computeErrorBudget(result, { availabilitySlo: spec?.availabilitySlo ?? 0.999 });
  result.spike = analyzeSpike(result);
  result.soak = analyzeSoak(result, []);
  return result;
}

function runMeta(g: Gathered, f: RunFacts, spec: ScenarioSpec | undefined, zeroUs: number, argv: string[]): RunMeta {
  const started = new Date(Math.floor(zeroUs / 1000));
  const url = spec?.target.url;
  const target = url !== undefined ? parseTarget(url) : null;
  const models = spec?.target.models;
  const load: Record<string, unknown> = spec
    ? (({ executor, ...rest }) => ({ executor, ...rest }))(spec.load)
    : { executor: f.executor, ...(f.loadS !== null && { durationS: f.loadS }), gracefulStopS: f.gracefulStopS };
  // not inferload's own client: a k6 run is comparable with k6 runs of the scenario, not with inferload's
  load.client = 'k6';
  return {
    id: `${f.name}-k6-${utcStamp(started)}`,
    scenario: f.name,
    description: spec?.description ?? null,
    started_at: started.toISOString(),
    ended_at: new Date(Math.floor(g.lastUs / 1000)).toISOString(),
    seed: f.seed,
    warmup_s: f.warmupS,
    window_s: f.windowS,
    requests_limit: f.requests,
    target: {
      url: target?.display ?? '(k6: INFERLOAD_TARGET)',
      model: g.runTags.model ?? spec?.target.model ?? models?.[0]?.name ?? '(unknown)',
      endpoint: f.endpoint,
      api_key_env: null,
      simulator: null,
      ...(models && { models: models.map((m) => ({ name: m.name, weight: m.weight })) }),
    },
    load,
    workload: spec ? { ...spec.workload } : {},
    inferload_version: VERSION,
    node_version: process.version,
    platform: `${platform()}-${process.arch} (imported from k6)`,
    cpus: cpus().length,
    argv,
  };
}

// ---- the command ------------------------------------------------------------------------------

/** Flags of `inferload import k6`. */
export interface ImportK6Flags {
  /** where results.json, requests.jsonl and the reports go */
  out?: string;
  /** the scenario the script was exported from (a file or a shipped name) */
  scenario?: string;
  /** `--set` overrides of the scenario, as given to the export */
  set?: string[];
  /** the command line, for results.run.argv */
  argv?: string[];
}

/** Lines of a file, gunzipped when its name ends in .gz (k6 writes json=out.json.gz compressed). */
function fileLines(path: string): AsyncIterable<string> {
  const stream = createReadStream(path);
  return createInterface({ input: path.endsWith('.gz') ? stream.pipe(createGunzip()) : stream, crlfDelay: Infinity });
}

/**
 * Reads k6's JSON output of an exported script (`files`: one, or one per k6-operator runner) into
 * `flags.out`: results.json, requests.jsonl and the reports. Returns 99 when an SLO fails, 0
 * otherwise, and 104 when --out is missing or cannot be written, a file cannot be read, a line is
 * not k6's JSON output (named by file and line number) or no request of such a script is in it.
 */
export async function runImportK6Command(files: string | readonly string[], flags: ImportK6Flags, io: CommandIo): Promise<number> {
  try {
    return await importCommand(typeof files === 'string' ? [files] : files, flags, io);
  } catch (err) {
    if (err instanceof InferloadError) {
      io.stderr(`inferload: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

async function importCommand(files: readonly string[], flags: ImportK6Flags, io: CommandIo): Promise<number> {
  const out = flags.out;
  if (out === undefined) throw new InvalidInputError([{ path: '--out', message: 'say where the results go: --out DIR' }]);
  const outProblem = outputDirProblem(out);
  if (outProblem) throw new InvalidInputError([outProblem]);
  if (files.length === 0) throw new InvalidInputError([{ path: 'OUTPUT', message: 'give the k6 JSON output file(s)' }]);
  const clobbered = files.find((p) => resolve(p) === resolve(out, 'requests.jsonl') || resolve(p) === resolve(out, 'results.json'));
  if (clobbered !== undefined) throw new InvalidInputError([{ path: '--out', message: `${out} holds ${clobbered}, which the import would overwrite; choose another directory` }]);
  const spec = flags.scenario !== undefined ? loadScenario(flags.scenario, [], { set: flags.set ?? [] }) : undefined;
  let output: RunOutput;
  try {
    output = new RunOutput(out, false);
  } catch (err) {
    if (!isWriteRefusal(err)) throw err;
    throw new InvalidInputError([{ path: '--out', message: `cannot write into ${out} (${(err as NodeJS.ErrnoException).code}); choose a writable directory` }]);
  }
  let result: RunResult;
  try {
    const sources: K6Source[] = files.map((f) => ({ name: f, lines: readable(f) }));
    result = await importK6(sources, { ...(spec && { spec }), argv: flags.argv ?? [], onRecord: (r) => output.writeRequest(r) });
    output.writeFinal(result);
  } finally {
    await output.close();
  }
  writeReports(result, out, (l) => io.stderr(l + '\n'));
  io.stdout(renderConsoleSummary(result, { dir: out }) + '\n');
  io.stdout(`  imported ${files.join(', ')} (k6) into ${join(out, 'results.json')}\n`);
  if (!spec) io.stderr('inferload: note: without --scenario the SLOs are the thresholds k6 wrote on the plain metrics (none with a warm-up) and classes are not judged; give the exported scenario with --scenario\n');
  return result.slo.some((v) => !v.passed) ? ExitCode.thresholdFailed : ExitCode.ok;
}

/** A file's lines, or 104 naming it when it cannot be read. */
async function* readable(path: string): AsyncGenerator<string> {
  try {
    yield* fileLines(path);
  } catch (err) {
    // a system error (ENOENT, EACCES, EISDIR) or zlib's (Z_DATA_ERROR: a .gz that is not gzip)
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw err;
    throw new InvalidInputError([{ path, message: `cannot read it (${code}: ${(err as Error).message})` }], 'inferload import k6');
  }
}
