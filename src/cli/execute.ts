// One run, end to end: resolve the target (start the simulator when there is none), preflight,
// drive the load, write requests.jsonl as it goes and results.json as checkpoints and at the
// end. No process.exit and no argv here: main.ts does those.
import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cpus, platform } from 'node:os';
import { join } from 'node:path';
import { readCapped, request } from '../core/http.js';
import { nowUs, runClock } from '../core/clock.js';
import { ExitCode, InvalidInputError, InvalidRunError } from '../core/errors.js';
import { RequestRecord } from '../core/record.js';
import type { ScenarioSpec } from '../core/types.js';
import { OpenAIBackend, type OpenAIBackendOptions } from '../backend/openai/client.js';
import { WorkerPoolBackend } from '../backend/worker/pool.js';
import { MAX_WORKERS, workersProblem } from '../backend/worker/limits.js';
import type { Backend } from '../backend/types.js';
import { Engine, type EngineOutcome, type SessionCounts } from '../engine/engine.js';
import { descriptorWarning, HealthMonitor, openFilesLimit } from '../engine/health.js';
import { Recorder, requestSlos, type RecorderSnapshot } from '../metrics/recorder.js';
import { evaluateSlos } from '../analysis/slo.js';
import { buildResult, buildSummary } from '../results/build.js';
import { classRequestSlos, sliceResults } from '../results/slices.js';
import type { RunIdentity, RunMeta, RunResult, RunStatus, WorkloadSection } from '../results/types.js';
import { RunOutput, prepareRunOutput } from '../results/writer.js';
import { isOpenLoop, loadDurationS, tailLevel, type ArrivalLoad } from '../schedule/arrivals.js';
import { loadWorkload, type Workload } from '../workload/workload.js';
import { prepareTrace, type TraceReplay } from '../workload/trace.js';
import { WorkloadTally } from '../workload/tally.js';
import { loadTokenizer } from '../workload/tokenizer.js';
import { spawnSimulator } from '../sim/spawn.js';
import { resolveProfile } from '../sim/profiles.js';
import { scenarioHash, type ShardSpec } from '../core/shard.js';
import { rendezvous, type StartAt } from './start-at.js';
import { serverSignalSource } from '../scrape/promql.js';
import { BalancedBackend } from '../backend/balanced.js';
import type { LiveLabels, LiveSink } from '../live/sink.js';
import type { ScrapeEndpointOptions, ScrapeSample } from '../scrape/poller.js';
import { fetchExposition, setScrapeCredentials } from '../scrape/fetch.js';
import { correlationAlignment, correlations, reconcileTokens } from '../analysis/server.js';
import { defaultAlertRules, evaluateAlerts } from '../analysis/alerts.js';
import type { Clock } from '../core/clock.js';
import { clientSecrets, oneLineRedacted, parseTarget, redactSecret, type TargetUrl } from '../core/secret.js';
import { computeErrorBudget } from '../analysis/error-budget.js';
import { analyzeSoak, analyzeSpike } from '../analysis/spike-soak.js';
import { renderReports } from '../report/render.js';
import { sloJUnit } from '../report/junit.js';
import { VERSION } from './version.js';
import { nextTurn } from '../core/turn.js';

export interface ExecuteOptions {
  /** output directory; default reports/runs/<scenario>-<UTC timestamp>/ */
  out?: string;
  recordChunks?: boolean;
  /** exit 107 when the generator itself was the bottleneck */
  strict?: boolean;
  /** the command line, for the record (must hold no secret: keys only come from the environment) */
  argv?: string[];
  /** environment to read the API key from (tests pass their own) */
  env?: NodeJS.ProcessEnv;
  /** called once the run is under way, with a handle to stop it (signals) */
  onStart?: (control: RunControl) => void;
  /** live progress hook: started after the preflight, stopped before the summary */
  progress?: (engine: Engine, recorder: Recorder, totalS: number, now: () => number) => () => void;
  /** checkpoint period, seconds (default 5) */
  checkpointS?: number;
  /** log line sink (stderr by default) */
  log?: (line: string) => void;
  /**
   * client threads (`--workers`, 1..64): above 1 the network and the stream parsing run in that
   * many worker threads (WorkerPoolBackend); schedule, recorder and outputs stay here. Default 1.
   */
  workers?: number;
  /** this process is one shard of the run (`--shard i/N`, `--shards N`); needs `startAt` */
  shard?: ShardSpec;
  /** the run's common start (`--start-at`): the run clock's zero for every shard */
  startAt?: StartAt;
  /** the run's id (`--run-id`), shared by its shards; default: derived (see runIdOf) */
  runId?: string;
  /** `--start-at sync:DIR`: how long to wait for the other shards, seconds (default 600) */
  syncTimeoutS?: number;
  /** live outputs during the run: a Prometheus endpoint, remote-write, the dashboard */
  live?: LiveOptions;
}

export interface LiveOptions {
  /** `--metrics-listen HOST:PORT`: inferload's own series for Prometheus to scrape */
  metricsListen?: { host: string; port: number };
  /** `--remote-write URL`: the same series pushed (Prometheus remote-write 1.0) */
  remoteWrite?: string;
  /** `--dashboard [PORT]`, `--dashboard-host`: the live page */
  dashboard?: { host: string; port: number };
}

/**
 * The run's live outputs, started once the run knows its id: each is told every request's end,
 * every tick and every checkpoint, and closed (bounded) when the run is over. A sink that fails
 * to start stops the run before anything is sent (a port taken, a bad URL: exit 104).
 */
async function startLiveSinks(live: LiveOptions | undefined, labels: LiveLabels, title: string, log: (line: string) => void): Promise<LiveSink[]> {
  const sinks: LiveSink[] = [];
  if (live === undefined) return sinks;
  const start = async (path: string, f: () => Promise<LiveSink>): Promise<void> => {
    try {
      sinks.push(await f());
    } catch (err) {
      await Promise.all(sinks.map((x) => x.close().catch(() => undefined)));
      const code = (err as NodeJS.ErrnoException).code;
      throw new InvalidInputError([{ path, message: `could not start: ${code ?? (err as Error).message}; choose another ${code === undefined ? 'value' : 'port or address'}` }]);
    }
  };
  if (live.metricsListen || live.remoteWrite)
    await start(live.metricsListen ? '--metrics-listen' : '--remote-write', async () => {
      const { startPrometheusSink } = await import('../live/prometheus.js');
      const prom = await startPrometheusSink({
        ...(live.metricsListen && { listen: live.metricsListen }),
        ...(live.remoteWrite !== undefined && { remoteWrite: { url: live.remoteWrite } }),
        labels,
        log,
      });
      return prom;
    });
  if (live.dashboard) {
    const where = live.dashboard;
    await start('--dashboard', async () => {
      const { startDashboard } = await import('../live/dashboard.js');
      const dash = await startDashboard({ host: where.host, port: where.port, log, title });
      log(`inferload: dashboard at ${dash.url}`);
      return dash;
    });
  }
  return sinks;
}

/** Tells every sink; a sink's own failure never reaches the run. */
function tellSinks(sinks: readonly LiveSink[], f: (s: LiveSink) => void): void {
  for (const s of sinks) {
    try {
      f(s);
    } catch {
      // sinks say their own problems once; the run goes on
    }
  }
}

/**
 * The run's id: given, or for shards started at a time `<scenario>-<hash 8>-<start, UTC>` (every
 * shard derives the same), else `<scenario>-<UTC timestamp of the start>`. A rendezvous has no
 * time to derive one from before it: its shards need --run-id.
 */
function runIdOf(spec: ScenarioSpec, hash: string, opts: ExecuteOptions): string | null {
  if (opts.runId !== undefined) return opts.runId;
  if (opts.startAt?.kind === 'time') return `${spec.name}-${hash.slice(0, 8)}-${utcStamp(new Date(opts.startAt.epochMs))}`;
  return null;
}

/** What a sharded run needs beyond the scenario; [] when it has it. */
function shardProblems(spec: ScenarioSpec, opts: ExecuteOptions): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const shard = opts.shard;
  if (shard === undefined || shard.count === 1) return problems;
  if (opts.startAt === undefined)
    problems.push({ path: '--start-at', message: 'shards of one run start together: give every shard the same --start-at (a time, or sync:DIR on a directory they share)' });
  if (opts.startAt?.kind === 'sync' && opts.runId === undefined)
    problems.push({ path: '--run-id', message: 'a rendezvous (--start-at sync:DIR) needs the run\'s id: give every shard the same --run-id' });
  if (spec.requests !== undefined && spec.workload.sessions !== undefined)
    problems.push({ path: '--requests', message: 'a request count of a run with sessions cannot be split over shards (later turns come when replies do): give a duration instead' });
  else if (spec.requests !== undefined && !isOpenLoop(spec.load)) {
    // each shard's users claim its share of the count: a shard that has no user left at the
    // load's last level would wait for its share for ever
    const last = tailLevel(spec.load);
    if (spec.load.executor !== 'constant-vus' || last < shard.count)
      problems.push({
        path: '--requests',
        message: `a request count over shards of a closed loop needs every shard to keep a user to the end (${spec.load.executor === 'constant-vus' ? `${last} users for ${shard.count} shards` : 'ramping-vus stages change the users'}): give a duration, or at least ${shard.count} constant users`,
      });
  }
  return problems;
}

export interface RunControl {
  /** first signal: stop sending, let in-flight requests finish within the grace period */
  interrupt(reason: string): void;
  /**
   * second signal: cut everything now and write what there is. A client in worker threads
   * (`--workers`) reports the requests it cut a moment later: they get up to ABORT_SETTLE_MS.
   */
  abortNow(reason: string): Promise<RunResult>;
}

export interface ExecuteResult {
  result: RunResult;
  exitCode: ExitCode;
  dir: string;
}

/**
 * report.md, report.html and (when the scenario has SLOs) junit.xml beside results.json. A
 * failure to render never costs the measurements: results.json is already on disk.
 */
export function writeReports(result: RunResult, dir: string, log: (line: string) => void): void {
  try {
    renderReports(result, dir);
    if (result.slo.length > 0) writeFileSync(join(dir, 'junit.xml'), sloJUnit(result));
  } catch (e) {
    log(`inferload: could not render the reports (${(e as Error).message}); results.json is written; try: inferload report ${join(dir, 'results.json')}`);
  }
}

/** abortOnFail is judged only after this much measured time and this many completions. */
const ABORT_MIN_MEASURED_US = 5e6;
const ABORT_MIN_COMPLETED = 20;

/** A shard (or a run given --start-at) ready later than this after the common start is refused. */
const MAX_LATE_START_MS = 60_000;

/** Interrupted runs give in-flight requests at most this long. */
export const INTERRUPT_GRACE_S = 10;

/** A second signal waits at most this long for the requests it cut to be reported (worker threads). */
const ABORT_SETTLE_MS = 1000;

export async function executeRun(spec: ScenarioSpec, opts: ExecuteOptions = {}): Promise<ExecuteResult> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS)
    throw new InvalidInputError([{ path: '--workers', message: workersProblem(String(opts.workers)) }]);
  const sharding = shardProblems(spec, opts);
  if (sharding.length > 0) throw new InvalidInputError(sharding);
  if ((spec.target.urls?.length ?? 0) > 1 && workers > 1)
    throw new InvalidInputError([{ path: '--workers', message: 'client threads and replicas (target.urls) do not go together yet: drive the replicas from one thread (--workers 1), or shard the run (--shard i/N), each shard spreading its part over the replicas' }]);
  const shard = opts.shard !== undefined && opts.shard.count > 1 ? opts.shard : undefined;
  // a trace is read whole before anything starts: a bad record stops the run here (exit 104), and
  // a trace replayed to its end gets its length
  const trace = spec.load.executor === 'trace' ? await prepareTrace(spec) : null;
  if (trace !== null) spec = trace.spec;
  const hash = scenarioHash(spec);
  const runId = runIdOf(spec, hash, opts);
  // a user and password in the target URL go as HTTP Basic authorization, its query with every
  // request; every output shows the URL with both masked (parseTarget)
  const given = spec.target.url !== undefined ? parseTarget(spec.target.url) : null;
  // a replica's URL (target.urls) with credentials and a key: the same conflict as target.url's
  const withCredentials = [given, ...(spec.target.urls ?? []).map((u) => parseTarget(u))].find((t) => t?.authorization);
  if (withCredentials && !given?.authorization && spec.target.apiKeyEnv) {
    throw new InvalidInputError([
      {
        path: 'target.urls',
        message: `${withCredentials.display} carries credentials (user:password@, sent as HTTP Basic) and target.apiKeyEnv names ${spec.target.apiKeyEnv} (sent as a Bearer key): a request has one Authorization header; keep one of them`,
      },
    ]);
  }
  if (given?.authorization && spec.target.apiKeyEnv) {
    throw new InvalidInputError([
      {
        path: 'target.url',
        message: `the URL carries credentials (user:password@, sent as HTTP Basic) and target.apiKeyEnv names ${spec.target.apiKeyEnv} (sent as a Bearer key): a request has one Authorization header; keep one of them`,
      },
    ]);
  }
  // the URL's credentials were written for this target; a key merely present in the environment was not
  const apiKeyEnv = spec.target.apiKeyEnv ?? (env.OPENAI_API_KEY && !given?.authorization ? 'OPENAI_API_KEY' : undefined);
  if (given?.authorization && !spec.target.apiKeyEnv && env.OPENAI_API_KEY)
    log('inferload: the target URL\'s credentials are sent (HTTP Basic); OPENAI_API_KEY, set in the environment, is not');
  const apiKey = apiKeyEnv ? env[apiKeyEnv] : undefined;
  if (spec.target.apiKeyEnv && (apiKey === undefined || apiKey === '')) {
    throw new InvalidInputError([
      {
        path: 'target.apiKeyEnv',
        message: `the environment variable ${spec.target.apiKeyEnv} is not set; export it, or name another variable with --api-key-env`,
      },
    ]);
  }
  // a tokenizer file or family loads now (1-2 s), so that a bad one stops the run before anything
  // starts; `server` is calibrated against the target once it answers, before the run clock starts
  const byServer = spec.workload.tokenizer?.trim() === 'server';
  let tokenizer = byServer ? null : await loadTokenizer(spec.workload.tokenizer, spec.target.endpoint);
  const dir = opts.out ?? join('reports', 'runs', `${spec.name}-${utcStamp(new Date())}`);
  const outProblem = prepareRunOutput(dir);
  if (outProblem !== null) throw new InvalidInputError([outProblem]);
  const descriptors = descriptorWarning(peakConnections(spec), openFilesLimit(), workers);
  if (descriptors !== null) log(`inferload: warning: ${descriptors}`);

  let sim: Awaited<ReturnType<typeof spawnSimulator>> | null = null;
  if (!spec.target.url) {
    // the simulator counts prompt tokens with the scenario's tokenizer, so that a run reconciles exactly
    const simTokenizer = byServer ? undefined : spec.workload.tokenizer;
    // a model mix is served as the profile's model and, for every other name, a LoRA adapter
    const base = resolveProfile(spec.simulator.profile).modelName;
    const adapters = (spec.target.models ?? []).map((m) => m.name).filter((name) => name !== base);
    // on wherever the traffic shares prefixes: shared system prompts, conversations, and traces
    // (a Mooncake trace's hash ids are shared blocks), as a real vLLM V1 server has it on
    const prefixCaching =
      spec.simulator.prefixCaching ??
      (spec.workload.sharedPrefix !== undefined ||
        (spec.workload.classes ?? []).some((c) => c.sharedPrefix !== undefined) ||
        spec.workload.sessions !== undefined ||
        spec.load.executor === 'trace');
    sim = await spawnSimulator({ profile: spec.simulator.profile, speed: spec.simulator.speed, seed: spec.seed, faults: spec.simulator.faults, tokenizer: simTokenizer, prefixCaching, ...(adapters.length > 0 && { adapters }) });
  }
  const baseUrl: string = spec.target.url ?? sim!.url;
  const target = given ?? parseTarget(baseUrl);
  // scrapes of the target's own host (its /metrics) carry its credentials too: an auth proxy in
  // front of the server guards both; with replicas (target.urls), each host its own URL's
  setScrapeCredentials(target.origin, target.authorization);
  for (const u of spec.target.urls ?? []) {
    const replica = parseTarget(u);
    if (replica.authorization !== null) setScrapeCredentials(replica.origin, replica.authorization);
  }
  const output = new RunOutput(dir, opts.recordChunks ?? false);
  /** the backend, until the run closed it: a run that throws must not leave client threads behind */
  let openBackend: Backend | null = null;
  /** the trace's reader, until the run is over: a run that ends early leaves it mid-file */
  let openTrace: TraceReplay | null = null;
  /** the live outputs (--metrics-listen, --remote-write, --dashboard), closed however the run ends */
  let sinks: LiveSink[] = [];
  try {
    const clockAtPreflight = Date.now();
    // with a model mix, the first of it names the run's model (meta, the tokenizer's `server` lookup)
    let model = spec.target.model ?? spec.target.models?.[0]?.name;
    let preflightError: string | null = null;
    if (!model) {
      try {
        model = await firstModel(baseUrl, apiKey);
      } catch (e) {
        preflightError = `GET ${target.displayAt('/models')} failed: ${redactSecret((e as Error).message, clientSecrets(baseUrl, apiKey))}`;
      }
    }
    const meta = runMeta(spec, target, model ?? '(unknown)', apiKeyEnv ?? null, sim !== null, new Date(clockAtPreflight), opts.argv ?? []);
    if (runId !== null) meta.id = runId;
    /** who this run is: shards of one run share the id and the hash (merge checks both) */
    const identity: RunIdentity = { run_id: meta.id, scenario_hash: hash, ...(shard && { shard: { index: shard.index, count: shard.count } }) };
    sinks = await startLiveSinks(opts.live, { scenario: spec.name, run_id: meta.id, shard: shard ? `${shard.index}/${shard.count}` : '0/1' }, spec.name, log);
    // the common start: a rendezvous with the other shards (before the connections are opened and
    // the server's baseline is scraped, which the margin after it leaves time for), or a time given
    const startMs =
      opts.startAt?.kind === 'sync'
        ? await rendezvous(opts.startAt.dir, shard ?? { index: 0, count: 1 }, meta.id, { timeoutMs: (opts.syncTimeoutS ?? 600) * 1000, log })
        : opts.startAt?.kind === 'time'
          ? opts.startAt.epochMs
          : null;
    if (preflightError !== null || !model) {
      // the target never answered: write a results.json that says so, then exit 107
      const recorder = new Recorder({ windowS: spec.windowS });
      const health = new HealthMonitor({ workers });
      const snapshot = recorder.snapshot();
      const summary = buildSummary(snapshot, { warmupS: spec.warmupS, arrivalsEndUs: 0, openLoop: isOpenLoop(spec.load) });
      const result = buildResult({
        status: 'failed',
        statusReason: preflightError ?? 'the target lists no model; give one with --model',
        meta: { ...meta, ended_at: new Date().toISOString() },
        summary,
        snapshot,
        slo: evaluateSlos(spec.slo, summary, { windows: snapshot.windows, warmupS: spec.warmupS }),
        generator: health.report(null),
        errorSamples: [],
        identity,
      });
      health.stop();
      output.writeFinal(result);
      await output.close();
      return { result, exitCode: ExitCode.invalidRun, dir };
    }

    const authorization = apiKey ? `Bearer ${apiKey}` : target.authorization;
    tokenizer ??= await loadTokenizer('server', spec.target.endpoint, { baseUrl, model, authorization });
    // the dataset is read and sampled with the tokenizer's counts, the trace's replay opened
    const workload = await loadWorkload(spec, tokenizer, trace);
    openTrace = workload.trace;
    const workloadSection = { tokenizer: tokenizer.info() };

    // the scraper's first look and the connection warm-up happen before the run clock starts;
    // everything holds this live view of the clock, which is restarted right before the load
    const recorder = new Recorder({ windowS: spec.windowS, requestSlos: requestSlos(spec.slo), classRequestSlos: classRequestSlos(spec) });
    let clock: Clock = runClock();
    const liveClock: Clock = {
      now: () => clock.now(),
      get epochMs() {
        return clock.epochMs;
      },
    };
    // with Prometheus as the source, nothing is scraped directly (its queries see every replica)
    const endpoints = spec.target.prometheus ? [] : await scrapeEndpoints(spec, baseUrl, sim !== null);
    const rawLog = new RawSampleLog();
    let clockStarted = false;
    const scraper = serverSignalSource(
      spec.target.prometheus,
      endpoints,
      liveClock,
      {
        onSample: (sample) => {
          // before the run clock starts (a wait for the common start) the idle server's samples
          // would land in the run's first windows: the raw line is kept, the windows are not fed
          if (sample.ok && clockStarted) recorder.addServerSample(Math.max(0, sample.tUs), sample.signals, sample.perGpu);
          output.writeServerSample(serverLine(sample, rawLog));
        },
      },
      spec.windowS,
    );
    if (scraper.size > 0) await scraper.start();
    const backendOptions: OpenAIBackendOptions = {
      baseUrl,
      model,
      endpoint: spec.target.endpoint,
      apiKey,
      ignoreEos: spec.workload.ignoreEos,
      minTokens: spec.workload.minTokens,
      temperature: spec.workload.temperature,
      idleTimeoutS: spec.target.timeoutS,
      clock: liveClock,
      ...(spec.target.maxEventBytes !== undefined && { maxEventBytes: spec.target.maxEventBytes }),
    };
    // --workers N > 1: the same client in N worker threads (each preconnects its share); replicas
    // (target.urls): a client each, the requests spread over them
    const urls = spec.target.urls;
    const backend =
      urls && urls.length > 1
        ? new BalancedBackend(
            urls.map((u) => new OpenAIBackend({ ...backendOptions, baseUrl: u })),
            spec.target.balance ?? 'least-in-flight',
          )
        : workers > 1
          ? new WorkerPoolBackend({ ...backendOptions, workers })
          : new OpenAIBackend(backendOptions);
    openBackend = backend;
    await backend.preconnect(Math.min(4, expectedConcurrency(spec)));
    warmHousekeeping(alertRulesOf(spec));
    const errorSamples = new ErrorSamples();
    const tally = new WorkloadTally();
    const health = new HealthMonitor({ workers });
    const checkpointUs = (opts.checkpointS ?? 5) * 1e6;
    let nextCheckpointUs = checkpointUs;
    let outcome: EngineOutcome | null = null;

    let clientTokensAll = 0;
    let checkpointing = false;
    /** set once the run is over: a checkpoint still in the making must not overwrite the final results */
    let finished = false;
    const alertRules = alertRulesOf(spec);
    /** parts of a result computed ahead, on turns of their own (a checkpoint during the run) */
    type Precomputed = { alerts?: ReturnType<typeof evaluateAlerts>; correlation?: Record<string, number> };
    const snapshotResult = (status: RunStatus, reason: string | null, arrivalsEndUs: number, given?: RecorderSnapshot, pre: Precomputed = {}): RunResult => {
      const snapshot = given ?? recorder.snapshot();
      const facts = { warmupS: spec.warmupS, arrivalsEndUs, openLoop: isOpenLoop(spec.load) };
      const summary = buildSummary(snapshot, facts);
      const { slices, verdicts } = sliceResults(snapshot, spec, facts);
      const serverTokens = scraper.serverGenerationTokens();
      const prefixCache = scraper.serverPrefixCache();
      return buildResult({
        server: {
          endpoints: scraper.info(),
          tokens: serverTokens === null ? null : reconcileTokens(clientTokensAll, serverTokens),
          gpu_count: scraper.gpuCount() ?? spec.target.gpuCount ?? null,
          alerts: pre.alerts ?? evaluateAlerts(alertRules, snapshot.windows),
          ...(prefixCache !== null && { prefix_cache: prefixCache }),
          ...(scraper.replicas && { replicas: scraper.replicas() }),
        },
        workload: { ...workloadSection, ...workloadFigures(workload, tally) },
        correlation: pre.correlation ?? correlations(snapshot.windows),
        correlationAlignment: correlationAlignment(snapshot.windows),
        status,
        statusReason: reason,
        meta: { ...meta, ended_at: status === 'running' ? null : new Date().toISOString() },
        summary,
        snapshot,
        // the classes' own SLOs count as the run's: a class that breaks its SLO fails the run
        slo: [...evaluateSlos(spec.slo, summary, { windows: snapshot.windows, warmupS: spec.warmupS }), ...verdicts],
        generator: { ...health.report(summary.latency_ms.schedule_lag.p99), chunk_parsing: backend.parseStats?.() },
        errorSamples: errorSamples.list(),
        slices,
        ...(spec.workload.sessions && { sessions: sessionsSection(engine.sessions) }),
        identity,
      });
    };

    const engine = new Engine({
      spec,
      backend,
      workload,
      recorder,
      ...(shard && { shard }),
      clock: liveClock,
      onRequestEnd: (r: RequestRecord) => {
        tally.add(r);
        output.writeRequest(r);
        if (sinks.length > 0) tellSinks(sinks, (x) => x.requestEnded(r));
        if (!r.dropped) clientTokensAll += r.outputTokens;
        if (!r.ok && !r.dropped) errorSamples.add(r.errorClass ?? 'invalid_response', r.errorMessage ?? '');
      },
      onTick: (nowUs) => {
        health.sample();
        output.tick(nowUs);
        if (sinks.length > 0) {
          const t = { nowUs, epochMs: clock.epochMs + nowUs / 1000, inFlight: engine.inFlight, sent: engine.sent, dropped: engine.dropped, ended: engine.ended, failed: engine.failed };
          tellSinks(sinks, (x) => x.tick(t));
        }
        if (nowUs >= nextCheckpointUs && !checkpointing) {
          nextCheckpointUs = nowUs + checkpointUs;
          checkpointing = true;
          // every piece on a turn of its own: the stamps of chunks arriving meanwhile wait for
          // one piece at most (each well under a millisecond), never for the whole checkpoint
          void (async () => {
            const snap = await recorder.snapshotSliced();
            await nextTurn();
            const alerts = evaluateAlerts(alertRules, snap.windows);
            await nextTurn();
            const correlation = correlations(snap.windows);
            await nextTurn();
            // with a request count, arrivals may go on past the scenario's length
            const arrivalsSoFarUs = spec.requests !== undefined ? nowUs : Math.min(nowUs, loadDurationS(spec.load) * 1e6);
            const partial = snapshotResult('running', null, arrivalsSoFarUs, snap, { alerts, correlation });
            await nextTurn();
            if (finished) return;
            output.checkpoint(partial);
            if (sinks.length > 0) tellSinks(sinks, (x) => x.checkpoint(partial));
            // k6's abortOnFail: a threshold so marked stops the run once it fails on enough data
            const broken = partial.slo.find((v) => v.abort_on_fail && !v.passed && v.observed !== null);
            if (broken && nowUs >= spec.warmupS * 1e6 + ABORT_MIN_MEASURED_US && partial.summary.requests.completed >= ABORT_MIN_COMPLETED)
              engine.stop('aborted', `stopped early: ${broken.name} failed (observed ${broken.observed}; abortOnFail)`);
          })().finally(() => {
            checkpointing = false;
          });
        }
      },
    });

    let aborted = false;
    /** the second signal's write, once it came: the run's own ending waits for it */
    let abortWrite: Promise<RunResult> | null = null;
    const abortNow = async (reason: string): Promise<RunResult> => {
      aborted = true;
      finished = true;
      engine.stop('interrupted', reason, 0);
      engine.abortAll(reason);
      void scraper.stop();
      // the in-thread client ends the cut requests at once; worker threads report them shortly
      for (const until = Date.now() + ABORT_SETTLE_MS; engine.inFlight > 0 && Date.now() < until; ) await sleepMs(5);
      recorder.flush();
      const result = snapshotResult('interrupted', reason, liveClock.now());
      // a checkpoint whose write is under way must not land after the final file
      await output.settle();
      output.writeFinal(result);
      tellSinks(sinks, (x) => x.checkpoint(result));
      // the process exits once this resolves: the sinks' last push now (each bounded)
      await Promise.all(sinks.map((x) => x.close().catch(() => undefined)));
      return result;
    };
    /** ends the wait for the common start early (an interrupt) */
    let cancelWait: (() => void) | null = null;
    opts.onStart?.({
      interrupt: (reason) => {
        engine.stop('interrupted', reason, INTERRUPT_GRACE_S);
        cancelWait?.();
      },
      abortNow: (reason) => (abortWrite ??= abortNow(reason)),
    });
    const stopProgress = opts.progress?.(engine, recorder, loadDurationS(spec.load), () => clock.now());
    // the first arrival's code, run once now rather than on the clock
    engine.warm();
    // what only counting needed goes before the run clock starts: a vocabulary would pause the run in collections
    tokenizer.release();
    settleHeap();
    // a few turns of the event loop before the clock: the preconnected sockets' last events (the
    // warm-up's end) are handled in its I/O phase, which the synchronous work above kept it from.
    // Unhandled, undici's pool still held those connections busy and opened a new one for the
    // first request: 4-8 ms of connect in the smoke run's first send, flagged as schedule lag.
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (startMs === null) {
      // the run clock starts now: intended times are relative to this instant
      clock = runClock();
    } else {
      // every shard's clock counts from the common start, so their schedules and windows align
      const ahead = startMs - Date.now();
      if (ahead > 2000) log(`inferload: starting at ${new Date(startMs).toISOString()} (in ${(ahead / 1000).toFixed(1)} s)`);
      if (ahead > 0)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ahead);
          cancelWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      cancelWait = null;
      const late = Date.now() - startMs;
      // arrivals due a minute ago and more would all leave at once, as one burst, and be measured
      // from when they were due: not a run of the scenario (a wrong time, a clock off, a shard far too late)
      if (late > MAX_LATE_START_MS)
        throw new InvalidRunError(
          `the common start (${new Date(startMs).toISOString()}) was ${(late / 1000).toFixed(0)} s ago when this ${shard ? 'shard' : 'run'} was ready: its arrivals until now would all leave late at once; give a start ahead of time (or sync:DIR), and check the clock`,
        );
      // a shard that starts late keeps the schedule: what was due meanwhile goes now, late
      if (late > 1000) log(`inferload: warning: started ${(late / 1000).toFixed(1)} s after the common start (${new Date(startMs).toISOString()}); the arrivals due until now leave late and count as schedule lag`);
      clock = runClock(nowUs() - Math.max(0, late) * 1000);
    }
    meta.started_at = new Date(clock.epochMs).toISOString();
    clockStarted = true;
    // the generator's figures count from the run's start, not from the setup or a wait before it
    health.reset();
    try {
      outcome = await engine.run();
    } finally {
      stopProgress?.();
    }
    // an early stop (an interrupt, a request count) leaves users unsent by design
    if (outcome.stoppedBy === 'schedule') health.usersNeverSent(engine.usersStarted - engine.usersSent, engine.usersStarted);
    // a second signal writes the results itself; nothing here may close the files under it
    if (abortWrite) await abortWrite;
    finished = true;
    openBackend = null;
    await backend.close();
    // one last scrape, so the server's counters cover every request
    await scraper.stop();
    recorder.flush();
    // an abortOnFail stop is a complete run whose SLO failed (exit 99), with the reason said
    const status: RunStatus =
      outcome.stoppedBy === 'interrupted' ? 'interrupted' : outcome.stoppedBy === 'target-failed' ? 'failed' : 'complete';
    let reason = outcome.reason;
    const counters = recorder.counters;
    let finalStatus = status;
    if (status === 'complete' && counters.sent + counters.warmupSent > 0 && counters.completed === 0 && engine.failed > 0 && engine.ended === engine.failed) {
      finalStatus = 'failed';
      reason = 'no request succeeded: the target failed entirely';
    }
    const arrivalsEndUs = arrivalPeriodEndUs(outcome, spec, recorder);
    const result = snapshotResult(finalStatus, reason, arrivalsEndUs);
    result.error_budget = computeErrorBudget(result, { availabilitySlo: spec.availabilitySlo });
    result.spike = analyzeSpike(result);
    result.soak = analyzeSoak(result, result.generator.rss_samples ?? []);
    health.stop();
    await output.settle();
    if (!aborted) {
      output.writeFinal(result);
      writeReports(result, dir, log);
      tellSinks(sinks, (x) => x.checkpoint(result));
    }
    await output.close();
    if (outcome.abortedInFlight > 0) {
      const when = outcome.stoppedBy === 'interrupted' ? 'when the interrupt\'s grace ended' : 'at the graceful stop';
      const unfinished = result.summary.errors.unfinished ?? 0;
      log(
        `inferload: ${outcome.abortedInFlight} request(s) were still in flight ${when} and were cut` +
          (unfinished > 0 ? `; ${unfinished} of them count as failed (unfinished: the server had ${spec.load.gracefulStopS} s to finish them)` : ''),
      );
    }
    let exitCode = exitCodeOf(result, opts.strict ?? false);
    if (shard && exitCode === ExitCode.thresholdFailed) {
      // a shard's verdicts are on its share of the load (a throughput SLO fails at 1/N of the
      // rate): the merge judges the run; a Job's shards all succeed when their results are written
      log(`inferload: shard ${shard.index}/${shard.count}: ${result.slo.filter((v) => !v.passed).length} SLO(s) failed on this shard's share alone; the verdict is the merge's (inferload merge)`);
      exitCode = ExitCode.ok;
    }
    return { result, exitCode, dir };
  } finally {
    // bounded: the last remote-write push, a dashboard page loading the final report
    await Promise.all(sinks.map((x) => x.close().catch(() => undefined)));
    await openBackend?.close().catch(() => undefined);
    await output.settle();
    await output.close();
    openTrace?.close();
    if (sim) await sim.close();
  }
}

/**
 * Where the arrival period ended: the schedule's own end when it ran its course; one mean gap
 * after the last arrival when a request count ended it; the moment of the stop otherwise.
 */
/** results.sessions from the engine's counts: a session neither ended nor cut is still under way. */
function sessionsSection(c: SessionCounts): NonNullable<RunResult['sessions']> {
  return { ...c, in_progress: Math.max(0, c.started - c.completed - c.broken - c.cut) };
}

function arrivalPeriodEndUs(outcome: EngineOutcome, spec: ScenarioSpec, recorder: Recorder): number {
  const c = recorder.counters;
  switch (outcome.stoppedBy) {
    case 'schedule':
      return loadDurationS(spec.load) * 1e6;
    case 'requests': {
      const n = c.sent + c.dropped;
      if (n < 2 || Number.isNaN(c.firstArrivalUs)) return outcome.arrivalsEndUs;
      return c.lastArrivalUs + (c.lastArrivalUs - c.firstArrivalUs) / (n - 1);
    }
    case 'interrupted':
    case 'target-failed':
    case 'aborted':
      return outcome.arrivalsEndUs;
    default: {
      const never: never = outcome.stoppedBy;
      throw new Error(`unknown stop reason ${String(never)}`);
    }
  }
}

/**
 * The Prometheus endpoints of a run: the scenario's (or --metrics); else the simulator's
 * /metrics and /gpu/metrics; else {target origin}/metrics when it answers.
 */
async function scrapeEndpoints(spec: ScenarioSpec, baseUrl: string, simulated: boolean): Promise<ScrapeEndpointOptions[]> {
  if (spec.target.metrics.length > 0) return spec.target.metrics.map((m) => ({ url: m.url, intervalS: m.intervalS }));
  const origin = new URL(baseUrl).origin;
  if (simulated) return [`${origin}/metrics`, `${origin}/gpu/metrics`].map((url) => ({ url, intervalS: 1 }));
  // each replica's own /metrics, when it answers
  const origins = [...new Set((spec.target.urls ?? [baseUrl]).map((u) => new URL(u).origin))];
  const found = await Promise.all(
    origins.map(async (o) => {
      try {
        const res = await fetchExposition(`${o}/metrics`, { timeoutMs: 2000 });
        return res.status === 200 ? [{ url: `${o}/metrics`, intervalS: 1 }] : [];
      } catch {
        return [];
      }
    }),
  );
  return found.flat();
}

/** Every this many seconds a server-metrics.jsonl line carries all raw samples, not just the changed ones. */
const FULL_SAMPLES_EVERY_S = 60;

/**
 * Raw samples for server-metrics.jsonl, bounded: a full set at the first scrape of an endpoint
 * and every FULL_SAMPLES_EVERY_S, in between only the samples whose value changed (a vLLM scrape
 * is ~40 kB; a day of full scrapes would be gigabytes). Replaying the lines in order rebuilds
 * every scrape exactly.
 */
class RawSampleLog {
  private readonly last = new Map<string, { values: Map<string, number>; fullAtUs: number }>();

  samples(s: ScrapeSample): { samples: [string, Record<string, string>, number][]; full: boolean } {
    const all = (s.parsed?.families ?? []).flatMap((f) => f.samples.map((x) => [x.name, x.labels, x.value] as [string, Record<string, string>, number]));
    let state = this.last.get(s.url);
    const full = !state || s.tUs - state.fullAtUs >= FULL_SAMPLES_EVERY_S * 1e6;
    if (!state || full) {
      state = { values: new Map(), fullAtUs: s.tUs };
      this.last.set(s.url, state);
    }
    const out: [string, Record<string, string>, number][] = [];
    for (const smp of all) {
      const key = smp[0] + JSON.stringify(smp[1]);
      const was = state.values.get(key);
      if (full || was === undefined || !Object.is(was, smp[2])) out.push(smp);
      state.values.set(key, smp[2]);
    }
    return { samples: out, full };
  }
}

/** One line of server-metrics.jsonl: when, what the canonical signals were, and the raw samples. */
function serverLine(s: ScrapeSample, raw: RawSampleLog): Record<string, unknown> {
  const r = s.parsed ? raw.samples(s) : null;
  return {
    t_s: Math.round(s.tUs) / 1e6,
    url: s.url,
    ok: s.ok,
    elapsed_ms: Math.round(s.elapsedMs * 1000) / 1000,
    ...(s.error !== null && { error: s.error }),
    profiles: s.profiles,
    signals: s.signals,
    ...(s.perGpu.length > 0 && { per_gpu: s.perGpu }),
    ...(r && { samples_full: r.full, samples: r.samples }),
    ...(s.parsed && s.parsed.problems.length > 0 && { problems: s.parsed.problems.slice(0, 20) }),
  };
}

/**
 * The most connections the load may hold at once, and what sets it: every user, or the in-flight
 * cap (no more than the peak rate keeps in flight over the request timeout, which cuts a request).
 */
function peakConnections(spec: ScenarioSpec): { count: number; what: string } {
  const load = spec.load;
  if (load.executor === 'constant-vus') return { count: load.vus, what: `load.vus (${load.vus})` };
  if (load.executor === 'ramping-vus') {
    const most = load.stages.reduce((m, s) => Math.max(m, s.target), load.startVUs);
    return { count: most, what: `the most users of load.stages (${most})` };
  }
  const byRate =
    load.executor === 'constant-arrival-rate' || load.executor === 'ramping-arrival-rate'
      ? Math.ceil(peakRatePerS(load) * spec.target.timeoutS)
      : Infinity;
  return byRate < load.maxInFlight
    ? { count: byRate, what: `the peak rate over target.timeout (${byRate} requests)` }
    : { count: load.maxInFlight, what: `load.maxInFlight (${load.maxInFlight})` };
}

/** The highest arrival rate of the load, per second. */
function peakRatePerS(load: ArrivalLoad): number {
  const perUnit = load.executor === 'constant-arrival-rate' ? load.rate : load.stages.reduce((most, s) => Math.max(most, s.target), load.startRate);
  return perUnit / load.timeUnitS;
}

/** results.workload beyond the tokenizer: where prompts came from, and the tokens asked and served. */
function workloadFigures(workload: Workload, tally: WorkloadTally): Omit<WorkloadSection, 'tokenizer'> {
  return {
    source: workload.trace ? 'trace' : workload.dataset ? 'dataset' : 'synthetic',
    dataset: workload.dataset?.info ?? null,
    trace: workload.trace?.info() ?? null,
    ...tally.summary(),
  };
}

/** A rough number of requests in flight at once, to open that many connections up front. */
function expectedConcurrency(spec: ScenarioSpec): number {
  const load = spec.load;
  switch (load.executor) {
    case 'constant-vus':
      return load.vus;
    case 'ramping-vus':
      return Math.max(1, load.startVUs);
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
    case 'trace':
      return 1;
    default: {
      const never: never = load;
      throw new Error(`unknown executor ${JSON.stringify(never)}`);
    }
  }
}

/** The exit code a finished run deserves (cli.md). */
export function exitCodeOf(result: RunResult, strict: boolean): ExitCode {
  if (result.status === 'interrupted') return ExitCode.interrupted;
  if (result.status === 'failed') return ExitCode.invalidRun;
  if (strict && !result.generator.valid) return ExitCode.invalidRun;
  if (result.slo.some((v) => !v.passed)) return ExitCode.thresholdFailed;
  return ExitCode.ok;
}

/** The most bytes of the /models answer read: thousands of models take well under it. */
const MAX_MODELS_BYTES = 8 * 1024 * 1024;
/** The whole /models exchange, headers and body, in ms: a server that trickles it must not hold the run. */
const MODELS_TIMEOUT_MS = 30_000;
/** The longest model name taken from the list: it goes into every request's body. */
const MAX_MODEL_NAME = 1024;

/** The first model of GET {target}/models, with the target's credentials and query; messages hold no secret. */
async function firstModel(baseUrl: string, apiKey: string | undefined): Promise<string> {
  const target = parseTarget(baseUrl);
  const secrets = clientSecrets(baseUrl, apiKey);
  const authorization = apiKey ? `Bearer ${apiKey}` : target.authorization;
  const timeout = AbortSignal.timeout(MODELS_TIMEOUT_MS);
  let status: number;
  let encoding: string;
  let text: string;
  try {
    const res = await request(`${target.origin}${target.path}/models${target.query}`, {
      method: 'GET',
      headers: { 'accept-encoding': 'identity', ...(authorization !== null && { authorization }) },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
      signal: timeout,
    });
    status = res.statusCode;
    encoding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
    const body = await readCapped(res.body, MAX_MODELS_BYTES);
    if (body.over) throw new InvalidRunError(`HTTP ${status} with a body over ${MAX_MODELS_BYTES / (1024 * 1024)} MiB, cut there: not a model list; give the model with --model`);
    text = body.text;
  } catch (e) {
    if (timeout.aborted) throw new InvalidRunError(`no complete answer within ${MODELS_TIMEOUT_MS / 1000} s; give the model with --model`);
    throw e;
  }
  // the request asked for identity: a compressed answer is not read
  if (encoding !== 'identity') text = `(a ${encoding}-encoded body, not decoded)`;
  if (status !== 200) throw new InvalidRunError(`HTTP ${status}: ${oneLineRedacted(text, secrets, 200)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRunError(`the answer is not JSON: ${oneLineRedacted(text, secrets, 200)}`);
  }
  const id = (body as { data?: { id?: unknown }[] } | null)?.data?.[0]?.id;
  if (typeof id !== 'string' || id === '') throw new InvalidRunError('the model list is empty; pass --model');
  if (id.length > MAX_MODEL_NAME) throw new InvalidRunError(`the first model's id is ${id.length} characters long, not a model name; give the model with --model`);
  return id;
}

function runMeta(
  spec: ScenarioSpec,
  target: TargetUrl,
  model: string,
  apiKeyEnv: string | null,
  simulated: boolean,
  started: Date,
  argv: string[],
): RunMeta {
  const { executor, ...load } = spec.load;
  return {
    id: `${spec.name}-${utcStamp(started)}`,
    scenario: spec.name,
    description: spec.description ?? null,
    started_at: started.toISOString(),
    ended_at: null,
    seed: spec.seed,
    warmup_s: spec.warmupS,
    window_s: spec.windowS,
    requests_limit: spec.requests ?? null,
    target: {
      url: target.display,
      model,
      endpoint: spec.target.endpoint,
      api_key_env: apiKeyEnv,
      simulator: simulated ? { profile: spec.simulator.profile, speed: spec.simulator.speed } : null,
      ...(spec.target.models && { models: spec.target.models.map((m) => ({ name: m.name, weight: m.weight })) }),
      ...(spec.target.urls && spec.target.urls.length > 1 && { replicas: spec.target.urls.map((u) => parseTarget(u).display), balance: spec.target.balance ?? 'least-in-flight' }),
    },
    load: { executor, ...load },
    workload: { ...spec.workload },
    inferload_version: VERSION,
    node_version: process.version,
    platform: `${platform()}-${process.arch}`,
    cpus: cpus().length,
    // the command line may hold the target URL (--target, --set target.url=)
    argv: argv.map((a) => target.redact(a)),
  };
}

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `20261123T180702Z` */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** The first distinct failure messages per class, with counts (bounded). */
class ErrorSamples {
  private readonly byKey = new Map<string, { error_class: string; message: string; count: number }>();
  add(errorClass: string, message: string): void {
    const key = `${errorClass}\u0000${message}`;
    const e = this.byKey.get(key);
    if (e) e.count++;
    else if (this.byKey.size < 20) this.byKey.set(key, { error_class: errorClass, message, count: 1 });
  }
  list(): { error_class: string; message: string; count: number }[] {
    return [...this.byKey.values()].sort((a, b) => b.count - a.count);
  }
}


function alertRulesOf(spec: ScenarioSpec): ReturnType<typeof defaultAlertRules> {
  return [...(spec.alerts.defaults ? defaultAlertRules() : []), ...spec.alerts.rules];
}

/**
 * Runs the run's housekeeping (window closing, histogram summaries and encodings, alerts,
 * correlations) on made-up requests before the clock starts. Code that runs once a second stays
 * cold in the JIT for a long time, and cold it cost 1-3 ms a piece at the first window close and
 * the first checkpoint, stalls that the stamps of chunks arriving then paid for (measured with
 * bench/light-load.bench.mjs); warm, a piece is 0.1-0.3 ms. About 140 ms of CPU, once, most of
 * it compiling code that the run would otherwise compile in the middle of its measurements.
 */
export function warmHousekeeping(rules: ReturnType<typeof defaultAlertRules>): void {
  for (let round = 0; round < 2; round++) {
    const recorder = new Recorder({ windowS: 1 });
    for (let i = 0; i < 40; i++) {
      const r = new RequestRecord(i, i * 100_000, 10, false);
      r.sentUs = r.intendedStartUs + 50;
      r.firstChunkUs = r.firstTokenUs = r.sentUs + 20_000 + i * 300;
      for (let k = 0; k < 8; k++) {
        r.chunkUs.push(r.firstTokenUs + k * 10_000);
        r.chunkChars.push(4);
      }
      r.endUs = r.firstTokenUs + 80_000;
      r.outputTokensUsage = 8;
      r.ok = true;
      r.httpStatus = 200;
      recorder.onSent(r, 1);
      recorder.addServerSample(r.sentUs, { queue_depth: i % 7, kv_cache_usage_ratio: i / 40 }, []);
      recorder.record(r);
    }
    recorder.flush();
    const snapshot = recorder.snapshot();
    evaluateAlerts(rules, snapshot.windows);
    correlations(snapshot.windows, { minWindows: 2 });
  }
}

/**
 * A full garbage collection just before the run clock starts. Start-up leaves the young
 * generation full of long-lived objects (modules, compiled code, the scenario); left alone, the
 * first scavenge of the run copies them all (4-9 ms, seen with --trace-gc at 2 req/s) and the
 * old generation's growth then asks for a mark-compact (10-15 ms), stalls that every chunk
 * arriving then is stamped late by. Done here, the same work costs nothing that is measured.
 * The gc function is V8's own, exposed for this one call (its flag can be set at run time).
 */
function settleHeap(): void {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    gc?.();
    // The collection returns before its sweeping is done: V8's background threads go on sweeping
    // (and giving back the pages of) whatever it found dead. After a released tokenizer that is
    // ~50 ms of a core in the run's first 100 ms (the process's threads' CPU beside the main
    // thread's, from /proc), on a machine whose other core the simulator shares. A second
    // collection first finishes that sweeping, here; the heap it marks is the live one (~20 MB).
    gc?.();
  } catch {
    // no gc to be had: the run goes on as before
  }
}
