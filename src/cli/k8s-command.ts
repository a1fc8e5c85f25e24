// `inferload k8s SCENARIO --shards N --image IMAGE`: the Kubernetes manifests that run one scenario
// as N shards of an Indexed Job against one server, and merge them. No coordinator of our own:
// the Job controller gives each pod its index (JOB_COMPLETION_INDEX), the shards meet on the
// shared results volume (`--start-at sync:DIR`) and start at one instant, and a second Job waits
// for their results and merges them. Nothing here talks to a cluster: the manifests are written,
// checked against the Kubernetes schemas first (kubernetes-models), and applied with kubectl.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { Document, isMap, isScalar, parseDocument } from 'yaml';
import { ExitCode, InferloadError, InvalidInputError, type InputProblem } from '../core/errors.js';
import { parseTarget } from '../core/secret.js';
import type { LengthDist, ScenarioSpec } from '../core/types.js';
import { loadScenario, parseScenario, SCENARIOS_DIR } from '../config/load.js';
import { isArrivalLoad, rateSegments, tailLevel, type ArrivalLoad, type TraceLoad } from '../schedule/arrivals.js';
import { outputDirProblem } from '../results/out-dir.js';
import { isPathLike } from '../workload/tokenizer.js';
import type { CommandIo } from './baseline-command.js';
import { VERSION } from './version.js';

/** The options of `inferload k8s`, as commander hands them over. */
export interface K8sFlags {
  /** N: pods of the Indexed Job, each sending 1/N of the load (required) */
  shards?: string;
  /** the container image with inferload on its PATH (required) */
  image?: string;
  namespace?: string;
  /** written into the scenario as target.url */
  target?: string;
  /** a directory for one file per object; default: one multi-document stream on stdout */
  out?: string;
  /** NAME or NAME:KEY of the Secret holding the API key */
  apiKeySecret?: string;
  /** storage class of the results claim */
  storageClass?: string;
  /** an existing ReadWriteMany claim for the results (no claim is written) */
  resultsPvc?: string;
  runId?: string;
}

// ---- where things are in the pods ------------------------------------------------------------

/** The ConfigMap's mount: the scenario and the small files it names. */
export const SCENARIO_DIR_IN_POD = '/etc/inferload';
export const SCENARIO_IN_POD = `${SCENARIO_DIR_IN_POD}/scenario.yaml`;
/** The shared results volume's mount: /results/<run id>/shard-<i>, /start, /merged. */
export const RESULTS_IN_POD = '/results';
/** The uid and gid the pods run as: the `node` user of the official Node images (the Dockerfile's USER). */
const POD_UID = 1000;
/** The Kubernetes limit on an Indexed Job's completions (and parallelism). */
const MAX_INDEXED_COMPLETIONS = 100_000;
/**
 * The ConfigMap's data at most: the scenario and the files that travel with it. A ConfigMap holds
 * 1 MiB, but a client-side `kubectl apply` also copies the object into its last-applied annotation,
 * and all of an object's annotations together hold 256 KiB.
 */
const CONFIGMAP_BUDGET_BYTES = 200 * 1024;

// ---- sizing: what one shard costs the client (measured in bench/, README "The load generator checks itself") ----

/**
 * CPU-seconds per content chunk, everything included: `whole-run` (64 users, 2 000 requests of
 * 256 tokens, start-up and reports included, the project's 2-core machine) measured 2.3–3.7 CPU-s
 * per 100 k chunks over undici on a slow day (2026-12-01), and the native transport costs 1.40 ×
 * less in the same run (5.6 against 7.86 CPU-s, 2026-12-02; 1.04–1.12 per 100 k that day). The
 * slow end over undici, divided by that: 2.7.
 */
export const CPU_S_PER_CHUNK = 2.7 / 100_000;
/** CPU-seconds per request beside its chunks: 20.3–24.6k short streaming requests (4 tokens) per CPU-second; the slow end. */
export const CPU_S_PER_REQUEST = 1 / 20_300;
/** RSS per concurrent stream: 19–20 KB (5 000 streams held in 167–178 MB); twice that is allowed. */
export const BYTES_PER_STREAM = 2 * 20 * 1024;
/** The client's baseline: a short run peaks at ~130 MB (measured here), the launcher process beside it ~50 MB; with headroom. */
const BASE_MEMORY_BYTES = 384 * 1024 ** 2;
/** A local tokenizer (a family or a tokenizer.json): a run with llama3 peaked ~165 MB above one without (measured here). */
const TOKENIZER_MEMORY_BYTES = 256 * 1024 ** 2;
/** A dataset read in the pod: the `dataset` bench holds its loading peak under 400 MB whatever the file's size. */
const DATASET_MEMORY_BYTES = 400 * 1024 ** 2;
/**
 * Above 80 % of a core the run marks its generator saturated (results.generator.valid false):
 * each shard runs the client on one thread (no --workers), so this is a shard's ceiling.
 */
export const GENERATOR_CPU_CEILING = 0.8;
/**
 * Closed loop only (users wait for their replies, so their pace is the server's): tokens per
 * second each stream is assumed to receive, 10 ms between tokens as in the paced benchmarks. A
 * faster server means more chunks per second: raise N.
 */
export const CLOSED_LOOP_TOKENS_PER_S = 100;
/** Output lengths taken from a dataset or a trace are not known here: assumed this long on average. */
export const ASSUMED_OUTPUT_TOKENS = 512;
/** Bytes on the results volume per request (a requests.jsonl line is ~360 B without --record-chunks). */
const BYTES_PER_REQUEST = 600;
/** Bytes on the results volume per shard: results.json (windows coarsened to 1 800 at most), reports, junit.xml. */
const BYTES_PER_SHARD = 16 * 1024 ** 2;
/** Bytes per shard per second of load: server-metrics.jsonl (~12 KB/s scraping the simulator every second). */
const BYTES_PER_SHARD_SECOND = 16 * 1024;

// ---- deadlines --------------------------------------------------------------------------------

/** From the Job's creation to the shards' common start: scheduling, the volume, the image pull, the rendezvous. */
export const START_ALLOWANCE_S = 900;
/** After the graceful stop: results, requests.jsonl and the reports written to the shared volume. */
export const FINISH_ALLOWANCE_S = 300;
/** The merge Job's own time beyond its wait: reading the shards, the merged results and reports. */
const MERGE_ALLOWANCE_S = 900;
/** The merge's wait when the load's length is not known here (a trace in the pod, a closed loop with a request count). */
const UNKNOWN_LENGTH_WAIT_S = 24 * 3600;

/**
 * Writes the manifests. Returns 0, or 104 for a bad option or scenario (every problem listed),
 * or 1 when a manifest does not validate against the Kubernetes schemas (a bug of ours).
 */
export async function runK8sCommand(scenario: string, flags: K8sFlags, io: CommandIo): Promise<number> {
  try {
    return await k8s(scenario, flags, io);
  } catch (err) {
    if (err instanceof InferloadError) {
      io.stderr(`inferload: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

/** One object and the file it goes to under --out. */
export interface Manifest {
  file: string;
  comment: string;
  object: IConfigMap | IPersistentVolumeClaim | IJob;
}

/** What the manifests are built from, checked. */
export interface K8sPlan {
  spec: ScenarioSpec;
  /** the scenario file's text as the pods read it (--target and the files' new places written in) */
  scenarioText: string;
  /** files that travel in the ConfigMap: key → content */
  files: { key: string; field: string; local: string; content: Buffer }[];
  shards: number;
  image: string;
  namespace?: string;
  runId: string;
  /** prefix of every object's name */
  base: string;
  apiKey?: { env: string; secret: string; key: string };
  storageClass?: string;
  resultsPvc?: string;
  sizing: ShardSizing;
  notes: string[];
}

async function k8s(scenario: string, flags: K8sFlags, io: CommandIo): Promise<number> {
  const plan = await planK8s(scenario, flags);
  const manifests = buildManifests(plan);
  await validateManifests(manifests);
  const out = flags.out;
  if (out === undefined) {
    io.stdout(renderManifests(manifests));
  } else {
    mkdirSync(out, { recursive: true });
    for (const m of manifests) writeFileSync(join(out, m.file), renderManifests([m]));
  }
  io.stderr(summary(plan, manifests, out));
  return ExitCode.ok;
}

// ---- the plan: options and scenario checked --------------------------------------------------

/** Checks the options and the scenario and sizes the shards; every problem at once (InvalidInputError). */
export async function planK8s(scenario: string, flags: K8sFlags, now: Date = new Date()): Promise<K8sPlan> {
  const problems: InputProblem[] = [];
  const notes: string[] = [];

  const shards = parseShards(flags.shards, problems);
  const image = flags.image?.trim() ?? '';
  if (image === '') problems.push({ path: '--image', message: 'say which image the pods run: --image REGISTRY/inferload:TAG (build it with the Dockerfile at the root of the repository)' });
  else if (/\s/.test(image) || !/^[a-z0-9]/.test(image))
    problems.push({ path: '--image', message: `"${image}" is not an image reference; expected e.g. ghcr.io/you/inferload:0.1.0` });
  else if (!/[:@][^/]+$/.test(image)) notes.push(`--image ${image} has no tag: the pods pull :latest, and a later push changes what a rerun measures; give a tag or a digest`);
  if (flags.namespace !== undefined && !isDnsLabel(flags.namespace))
    problems.push({ path: '--namespace', message: `"${flags.namespace}" is not a namespace name: lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit` });
  if (flags.storageClass !== undefined && !isDnsSubdomain(flags.storageClass))
    problems.push({ path: '--storage-class', message: `"${flags.storageClass}" is not a storage class name (lowercase letters, digits, '-' and '.')` });
  if (flags.resultsPvc !== undefined && !isDnsSubdomain(flags.resultsPvc))
    problems.push({ path: '--results-pvc', message: `"${flags.resultsPvc}" is not a claim name (lowercase letters, digits, '-' and '.')` });
  if (flags.resultsPvc !== undefined && flags.storageClass !== undefined)
    problems.push({ path: '--storage-class', message: 'no claim is written with --results-pvc (the existing claim has its class): give one of them' });
  const runId = flags.runId ?? defaultRunId(now);
  if (!/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(runId))
    problems.push({ path: '--run-id', message: `"${runId}" cannot name the run's objects and directory: lowercase letters, digits and '-', 1 to 40, starting and ending with a letter or digit` });
  if (flags.out !== undefined) {
    const p = outputDirProblem(flags.out) ?? staleManifestProblem(flags.out, manifestFiles(flags.resultsPvc === undefined));
    if (p) problems.push(p);
  }

  // the scenario: loaded as `run` loads it (an unknown name, bad YAML or a bad field is 104 here)
  let spec0: ScenarioSpec;
  try {
    spec0 = loadScenario(scenario, [], { checkFiles: false });
  } catch (err) {
    // with the options' problems, all at once
    if (err instanceof InvalidInputError) throw new InvalidInputError([...problems, ...err.problems], scenario);
    throw err;
  }
  const file = isFile(scenario) ? resolve(scenario) : join(SCENARIOS_DIR, `${scenario}.yaml`);
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text, { uniqueKeys: true, logLevel: 'error' });
  let edited = false;

  // files the scenario names: relative ones travel in the ConfigMap, absolute ones are the pods'
  const files: K8sPlan['files'] = [];
  const podFiles: string[] = [];
  for (const ref of fileRefs(spec0, doc)) {
    const written = doc.getIn(ref.path);
    if (typeof written !== 'string') {
      problems.push({ path: ref.field, message: 'write the path as a plain string, so that it can be rewritten to its place in the pods' });
      continue;
    }
    if (isAbsolute(written)) {
      podFiles.push(ref.field);
      notes.push(`${ref.field}: ${written} is an absolute path, taken as a path inside the pods (the image, or the results volume under ${RESULTS_IN_POD}/); it must exist there`);
      continue;
    }
    const local = resolve(dirname(file), written);
    let content: Buffer;
    try {
      content = readFileSync(local);
    } catch (err) {
      problems.push({ path: ref.field, message: `cannot read ${local} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): a relative path is read here, relative to ${file}, and travels in the ConfigMap` });
      continue;
    }
    const key = configMapKey(written, files.map((f) => f.key));
    files.push({ key, field: ref.field, local, content });
    doc.setIn(ref.path, `${SCENARIO_DIR_IN_POD}/${key}`);
    edited = true;
  }

  if (flags.target !== undefined) {
    const p = urlProblem(flags.target, '--target');
    if (p) problems.push(p);
    else {
      const target = doc.get('target', true);
      if (isMap(target)) target.set('url', flags.target);
      else doc.set('target', doc.createNode({ url: flags.target }));
      edited = true;
    }
  }

  const scenarioText = edited ? doc.toString({ lineWidth: 0, flowCollectionPadding: false }) : text;
  const bytes = Buffer.byteLength(scenarioText) + files.reduce((s, f) => s + f.content.length, 0);
  if (bytes > CONFIGMAP_BUDGET_BYTES) {
    const big = files.map((f) => `${f.field} (${f.local}, ${kib(f.content.length)})`).join(', ');
    problems.push({
      path: 'SCENARIO',
      message:
        `the scenario and its files come to ${kib(bytes)}, more than a ConfigMap carries through kubectl apply (${kib(CONFIGMAP_BUDGET_BYTES)})` +
        (big ? `: ${big}. Copy a large file to the results volume (e.g. ${RESULTS_IN_POD}/data/NAME) and write that absolute path in the scenario, or build an image FROM this one that holds it; a tokenizer.json can often be a family name instead (llama3, qwen3) or server` : ''),
    });
  }

  // the scenario as the pods will read it
  let spec: ScenarioSpec | undefined;
  try {
    spec = parseScenario(scenarioText, file, [], { checkFiles: false });
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    problems.push(...err.problems);
  }
  if (spec !== undefined) {
    if (spec.target.url === undefined)
      problems.push({
        path: '--target',
        message: "the scenario has no target.url: every pod would start its own built-in simulator, and N simulators merged are not one server's load. Give the server's base URL: --target http://vllm.NAMESPACE.svc:8000/v1",
      });
    else {
      const p = urlProblem(spec.target.url, 'target.url');
      if (p) problems.push(p);
    }
    // what `run --shards` refuses, refused here rather than in every pod
    if (shards !== undefined && shards > 1 && spec.workload.sessions !== undefined && spec.requests !== undefined)
      problems.push({ path: 'requests', message: 'a request count of a run with sessions cannot be split over shards (later turns come when replies do): give a duration instead' });
    spec.target.metrics.forEach((m, i) => {
      const p = urlProblem(m.url, `target.metrics[${i}]`);
      if (p) problems.push(p);
    });
  }

  let apiKey: K8sPlan['apiKey'];
  const envName = spec0.target.apiKeyEnv ?? 'OPENAI_API_KEY';
  if (flags.apiKeySecret !== undefined) {
    const m = /^([^:]+)(?::(.+))?$/.exec(flags.apiKeySecret.trim());
    const secret = m?.[1] ?? '';
    const key = m?.[2] ?? envName;
    if (!isDnsSubdomain(secret)) problems.push({ path: '--api-key-secret', message: `"${secret}" is not a Secret name (lowercase letters, digits, '-' and '.'); expected NAME or NAME:KEY` });
    else if (!/^[-._a-zA-Z0-9]{1,253}$/.test(key)) problems.push({ path: '--api-key-secret', message: `"${key}" is not a key of a Secret (letters, digits, '-', '_' and '.')` });
    else apiKey = { env: envName, secret, key };
  } else if (spec0.target.apiKeyEnv !== undefined) {
    problems.push({
      path: '--api-key-secret',
      message: `the scenario reads its API key from ${spec0.target.apiKeyEnv} (target.apiKeyEnv): name the Secret that holds it, --api-key-secret NAME[:KEY] (created with kubectl create secret generic NAME --from-literal=${spec0.target.apiKeyEnv}=...); the key is never written into a manifest`,
    });
  }

  if (problems.length > 0 || spec === undefined || shards === undefined) throw new InvalidInputError(problems);

  // the trace's rate and length, when the trace travels with the scenario and the scenario does not say them
  let trace: TraceFigures | undefined;
  if (spec.load.executor === 'trace') {
    const local = files.find((f) => f.field === 'load.file')?.local;
    if (local !== undefined) {
      const { scanTrace } = await import('../workload/trace.js');
      const scan = await scanTrace({ ...spec.load, file: local } as TraceLoad, spec.requests);
      trace = { peakPerS: scan.info.peak_rate_per_s ?? scan.info.mean_rate_per_s ?? 0, spanS: scan.info.span_s };
    }
  }
  const sizing = shardSizing(spec, shards, { trace, podFiles });
  notes.push(...sizing.notes);

  return {
    spec,
    scenarioText,
    files,
    shards,
    image,
    ...(flags.namespace !== undefined && { namespace: flags.namespace }),
    runId,
    base: baseName(spec.name, runId),
    ...(apiKey !== undefined && { apiKey }),
    ...(flags.storageClass !== undefined && { storageClass: flags.storageClass }),
    ...(flags.resultsPvc !== undefined && { resultsPvc: flags.resultsPvc }),
    sizing,
    notes,
  };
}

function parseShards(text: string | undefined, problems: InputProblem[]): number | undefined {
  if (text === undefined) {
    problems.push({ path: '--shards', message: 'say how many shards (pods) share the load: --shards N' });
    return undefined;
  }
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n < 1 || n > MAX_INDEXED_COMPLETIONS) {
    problems.push({ path: '--shards', message: `expected a whole number of shards from 1 to ${MAX_INDEXED_COMPLETIONS} (an Indexed Job's most completions), found "${text}"` });
    return undefined;
  }
  return n;
}

/** The files --out DIR gets, in the order kubectl apply -f DIR applies them. */
function manifestFiles(withClaim: boolean): string[] {
  return ['01-configmap.yaml', ...(withClaim ? ['02-pvc.yaml'] : []), '03-shards-job.yaml', '04-merge-job.yaml'];
}

/** `kubectl apply -f DIR` applies every manifest in DIR: one this command would not rewrite is refused. */
function staleManifestProblem(dir: string, ours: readonly string[]): InputProblem | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  const other = names.filter((n) => /\.(ya?ml|json)$/i.test(n) && !ours.includes(n));
  if (other.length === 0) return null;
  return {
    path: '--out',
    message: `${dir} holds ${other.slice(0, 5).join(', ')}${other.length > 5 ? ', …' : ''}, which kubectl apply -f ${dir} would apply with this run's manifests: give each run a directory of its own`,
  };
}

/** A run id unique enough for one cluster: UTC time to the second and 4 random hex digits. */
function defaultRunId(now: Date): string {
  const t = now.toISOString();
  return `${t.slice(0, 10).replaceAll('-', '')}-${t.slice(11, 19).replaceAll(':', '')}-${randomBytes(2).toString('hex')}`;
}

/** The files a scenario names, where each is written in the document. */
function fileRefs(spec: ScenarioSpec, doc: Document): { field: string; path: string[] }[] {
  const refs: { field: string; path: string[] }[] = [];
  if (spec.workload.dataset !== undefined) {
    const asString = isScalar(doc.getIn(['workload', 'dataset'], true));
    refs.push(asString ? { field: 'workload.dataset', path: ['workload', 'dataset'] } : { field: 'workload.dataset.path', path: ['workload', 'dataset', 'path'] });
  }
  if (spec.load.executor === 'trace') refs.push({ field: 'load.file', path: ['load', 'file'] });
  if (spec.workload.tokenizer !== undefined && isPathLike(spec.workload.tokenizer)) refs.push({ field: 'workload.tokenizer', path: ['workload', 'tokenizer'] });
  return refs;
}

/** A ConfigMap key for a file (its name, made a valid key, unique, never scenario.yaml). */
function configMapKey(written: string, taken: readonly string[]): string {
  const name = basename(written).replace(/[^-._a-zA-Z0-9]+/g, '-').replace(/^\.+/, '') || 'file';
  let key = name;
  for (let i = 1; key === 'scenario.yaml' || taken.includes(key); i++) key = `${i}-${name}`;
  return key;
}

/**
 * The problem with a URL that goes into a ConfigMap, or null: a user and password in it would be
 * there in clear (anyone who may read the namespace's ConfigMaps reads them).
 */
function urlProblem(url: string, path: string): InputProblem | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { path, message: `"${url}" is not a URL; expected e.g. http://vllm.default.svc:8000/v1` };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { path, message: `expected an http:// or https:// URL, found ${parsed.protocol}` };
  if (parsed.username !== '' || parsed.password !== '')
    return {
      path,
      message: `${parseTarget(url).display} carries credentials, which a ConfigMap would hold in clear: put the API key in a Secret and name it with --api-key-secret NAME[:KEY]`,
    };
  return null;
}

// ---- sizing -------------------------------------------------------------------------------------

export interface TraceFigures {
  /** arrivals per run second in the trace's busiest bucket, whole run */
  peakPerS: number;
  /** run seconds from the replay's start to its last arrival */
  spanS: number;
}

/** What one shard is expected to carry, and what its pod asks for. */
export interface ShardSizing {
  /** requests per second of one shard at the load's peak (open loop: exact share; closed loop: at CLOSED_LOOP_TOKENS_PER_S) */
  requestsPerS: number;
  /** content chunks per second of one shard at the peak */
  chunksPerS: number;
  /** streams one shard may hold open at once: its users; or the in-flight cap, or the arrivals of one request timeout if fewer */
  streams: number;
  /** mean output tokens per request used above */
  outputTokens: number;
  /** the client's CPU, in cores, at the peak */
  cpuCores: number;
  /** the pod's CPU request, in millicores */
  cpuRequestMilli: number;
  /** the pod's memory request and limit, MiB */
  memoryMiB: number;
  /** the merge pod's memory request and limit, MiB */
  mergeMemoryMiB: number;
  /** the shards needed to keep each under GENERATOR_CPU_CEILING, when more than given */
  minShards?: number;
  /** the load's length in run seconds (warm-up included), or null when not known here */
  lengthS: number | null;
  gracefulStopS: number;
  /** the shards Job's activeDeadlineSeconds, or null (no deadline) */
  deadlineS: number | null;
  /** the merge's --timeout, seconds */
  mergeWaitS: number;
  /** the results claim's size, GiB */
  storageGiB: number;
  notes: string[];
}

/**
 * Sizes one shard's pod from the load. Open loop: the peak arrival rate (turns of sessions
 * included) × mean output tokens ÷ N chunks per second, exactly what the schedule sends. Closed
 * loop: ⌈users ÷ N⌉ streams, each at CLOSED_LOOP_TOKENS_PER_S. CPU from the measured costs above.
 */
export function shardSizing(spec: ScenarioSpec, shards: number, opts: { trace?: TraceFigures; podFiles?: readonly string[] } = {}): ShardSizing {
  const notes: string[] = [];
  const load = spec.load;
  const { tokens: outputTokens, assumed } = meanOutputTokens(spec);
  if (assumed) notes.push(`output lengths come from the ${load.executor === 'trace' ? 'trace' : 'dataset'}: sized at ${outputTokens} tokens a request on average`);
  const turns = spec.workload.sessions ? meanLength(spec.workload.sessions.turns) : 1;
  let lengthS: number | null;
  let requestsPerS: number;
  let chunksPerS: number;
  let streams: number;
  let totalRequests: number;
  if (load.executor === 'constant-vus' || load.executor === 'ramping-vus') {
    const users = load.executor === 'constant-vus' ? load.vus : Math.max(load.startVUs, ...load.stages.map((s) => s.target));
    streams = Math.ceil(users / shards);
    chunksPerS = streams * CLOSED_LOOP_TOKENS_PER_S;
    requestsPerS = chunksPerS / outputTokens;
    const length = load.executor === 'constant-vus' ? load.durationS : load.stages.reduce((s, st) => s + st.durationS, 0);
    lengthS = spec.requests === undefined ? length : null;
    totalRequests = spec.requests ?? users * (CLOSED_LOOP_TOKENS_PER_S / outputTokens) * length;
    notes.push(`closed loop: each of a shard's ${streams} users is sized at ${CLOSED_LOOP_TOKENS_PER_S} tokens/s (10 ms between tokens); a faster server sends more chunks per second`);
    if (lengthS === null) notes.push('a closed loop with a request count ends when the server has answered them: its length is not known here');
  } else if (isArrivalLoad(load)) {
    const perS = (load.executor === 'constant-arrival-rate' ? load.rate : Math.max(load.startRate, ...load.stages.map((s) => s.target))) / load.timeUnitS;
    requestsPerS = (perS * turns) / shards;
    chunksPerS = requestsPerS * outputTokens;
    // at most the in-flight cap (each shard has the whole cap), and no more than arrive within a request's timeout
    streams = Math.min(load.maxInFlight, Math.ceil(requestsPerS * spec.target.timeoutS));
    lengthS = arrivalLengthS(load, spec.requests);
    totalRequests = spec.requests ?? perS * turns * lengthS;
  } else {
    const trace = opts.trace;
    streams = load.maxInFlight;
    if (trace !== undefined) {
      requestsPerS = trace.peakPerS / shards;
      streams = Math.min(load.maxInFlight, Math.ceil(requestsPerS * spec.target.timeoutS));
      lengthS = load.durationS !== undefined && spec.requests === undefined ? load.durationS / load.speedup : trace.spanS;
    } else {
      requestsPerS = 0;
      lengthS = load.durationS !== undefined && spec.requests === undefined ? load.durationS / load.speedup : null;
      notes.push("the trace is read in the pods, not here: its rate is not known, and the pods are sized for the client's baseline only; check the shards' results.generator");
      if (lengthS === null) notes.push('the trace is replayed to its end (no load.duration): its length is not known here');
    }
    chunksPerS = requestsPerS * outputTokens;
    totalRequests = spec.requests ?? requestsPerS * shards * (lengthS ?? 3600);
  }

  const cpuCores = chunksPerS * CPU_S_PER_CHUNK + requestsPerS * CPU_S_PER_REQUEST;
  const cpuRequestMilli = Math.min(1500, Math.max(250, Math.ceil((cpuCores * 1.25 * 1000) / 50) * 50));
  let minShards: number | undefined;
  if (cpuCores > GENERATOR_CPU_CEILING) {
    minShards = Math.ceil((cpuCores * shards) / GENERATOR_CPU_CEILING);
    notes.push(
      `one shard would need ${cpuCores.toFixed(2)} cores of client (${Math.round(chunksPerS)} chunks/s), more than the ${GENERATOR_CPU_CEILING} of a core above which a run marks its generator saturated: use --shards ${minShards} or more`,
    );
  }

  const pod = new Set(opts.podFiles ?? []);
  let memory = BASE_MEMORY_BYTES + streams * BYTES_PER_STREAM;
  if (spec.workload.tokenizer !== undefined && spec.workload.tokenizer !== 'server') memory += TOKENIZER_MEMORY_BYTES;
  if (spec.workload.dataset !== undefined) memory += pod.has('workload.dataset') || pod.has('workload.dataset.path') ? DATASET_MEMORY_BYTES : 64 * 1024 ** 2;
  const memoryMiB = roundUp(memory / 1024 ** 2, 64);
  const windows = Math.min(1800, lengthS === null ? 1800 : Math.ceil(lengthS / spec.windowS) + 1);
  const mergeMemoryMiB = roundUp(512 + (shards * windows * 16) / 1024, 64);

  const gracefulStopS = load.gracefulStopS;
  const deadlineS = lengthS === null ? null : Math.ceil(START_ALLOWANCE_S + lengthS + gracefulStopS + FINISH_ALLOWANCE_S);
  const mergeWaitS = deadlineS ?? UNKNOWN_LENGTH_WAIT_S;
  if (deadlineS === null) notes.push(`no deadline on the shards; the merge waits up to ${UNKNOWN_LENGTH_WAIT_S / 3600} h for them`);
  const storageBytes = 2 * ((shards + 1) * (BYTES_PER_SHARD + (lengthS ?? 3600) * BYTES_PER_SHARD_SECOND) + totalRequests * BYTES_PER_REQUEST);
  const storageGiB = Math.max(1, Math.ceil(storageBytes / 1024 ** 3));
  return {
    requestsPerS,
    chunksPerS,
    streams,
    outputTokens,
    cpuCores,
    cpuRequestMilli,
    memoryMiB,
    mergeMemoryMiB,
    ...(minShards !== undefined && { minShards }),
    lengthS,
    gracefulStopS,
    deadlineS,
    mergeWaitS,
    storageGiB,
    notes,
  };
}

/** Seconds until the load ends: its length, or, with a request count, until the N-th arrival (past the end at its tail level). */
function arrivalLengthS(load: ArrivalLoad, requests: number | undefined): number {
  const segs = rateSegments(load);
  const endS = segs.length > 0 ? segs[segs.length - 1]!.t1 : 0;
  if (requests === undefined) return endS;
  for (const s of segs) {
    if (requests > s.n1) continue;
    // inside this segment: n(t) = n0 + r0 τ + (r1 − r0) τ² / (2 d); solved for τ
    const d = s.t1 - s.t0;
    const a = (s.r1 - s.r0) / (2 * d);
    const need = requests - s.n0;
    const tau = Math.abs(a) < 1e-12 ? need / Math.max(s.r0, 1e-9) : (-s.r0 + Math.sqrt(s.r0 * s.r0 + 4 * a * need)) / (2 * a);
    return s.t0 + Math.min(d, Math.max(0, tau));
  }
  const made = segs.length > 0 ? segs[segs.length - 1]!.n1 : 0;
  const tail = tailLevel(load) / load.timeUnitS;
  return endS + (tail > 0 ? (requests - made) / tail : 0);
}

function meanOutputTokens(spec: ScenarioSpec): { tokens: number; assumed: boolean } {
  const w = spec.workload;
  const dataset = w.dataset;
  if (spec.load.executor === 'trace' || (dataset !== undefined && dataset.outputTokens === 'dataset')) {
    return { tokens: Math.min(ASSUMED_OUTPUT_TOKENS, dataset?.maxOutputTokens ?? ASSUMED_OUTPUT_TOKENS), assumed: true };
  }
  if (w.classes !== undefined && w.classes.length > 0) {
    const total = w.classes.reduce((s, c) => s + c.weight, 0);
    return { tokens: w.classes.reduce((s, c) => s + (c.weight / total) * meanLength(c.outputTokens), 0), assumed: false };
  }
  return { tokens: meanLength(w.outputTokens), assumed: false };
}

/** The mean of a length distribution (a clamp's bound when the mean lies past it), at least 1. */
export function meanLength(d: LengthDist): number {
  switch (d.dist) {
    case 'fixed':
      return Math.max(1, d.value);
    case 'uniform':
      return Math.max(1, (d.min + d.max) / 2);
    case 'normal':
    case 'lognormal':
      return Math.max(1, d.min ?? 1, Math.min(d.max ?? Number.POSITIVE_INFINITY, d.mean));
  }
}

function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}

// ---- names and labels -----------------------------------------------------------------------------

/** A DNS-1123 label: what namespaces, most object names, volume and container names must be. */
export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);
}

/** A DNS-1123 subdomain: ConfigMap, Secret, claim and storage class names. */
export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s);
}

/** A label value: 63 characters at most, alphanumerics with '-', '_' and '.' inside. */
export function isLabelValue(s: string): boolean {
  return s.length <= 63 && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(s);
}

/** The longest base name: '-scenario' (9) after it still makes a 63-character label, with room to spare. */
const MAX_BASE = 50;

/** The objects' name prefix, `<scenario>-<run id>`, a DNS label; a long scenario name is cut and a hash of it added. */
export function baseName(scenarioName: string, runId: string): string {
  const clean = (s: string): string => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '');
  let scenario = clean(scenarioName) || 'scenario';
  const room = MAX_BASE - runId.length - 1;
  if (scenario.length > room) {
    const hash = shortHash(scenarioName);
    scenario = `${scenario.slice(0, Math.max(1, room - hash.length - 1)).replace(/-+$/, '')}-${hash}`;
  }
  return `${scenario}-${runId}`;
}

function shortHash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36).slice(0, 5);
}

function labelValue(s: string): string {
  const v = s.replace(/[^-A-Za-z0-9_.]+/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return v;
}

// ---- the manifests -------------------------------------------------------------------------------------

/** The pod command of shard $(JOB_COMPLETION_INDEX), as the Job runs it (Kubernetes expands $(VAR) from the container's env). */
export function shardArgs(plan: Pick<K8sPlan, 'shards' | 'runId'>): string[] {
  const dir = `${RESULTS_IN_POD}/${plan.runId}`;
  // the rendezvous waits as long as the Job allows its pods to start
  return ['run', SCENARIO_IN_POD, '--shards', String(plan.shards), '--run-id', plan.runId, '--start-at', `sync:${dir}/start`, '--start-timeout', `${START_ALLOWANCE_S}s`, '--out', `${dir}/shard-$(JOB_COMPLETION_INDEX)`];
}

/** The merge pod's command. */
export function mergeArgs(plan: Pick<K8sPlan, 'shards' | 'runId' | 'sizing'>): string[] {
  const dir = `${RESULTS_IN_POD}/${plan.runId}`;
  return ['merge', dir, '--wait-for', String(plan.shards), '--timeout', `${plan.sizing.mergeWaitS}s`, '--out', `${dir}/merged`];
}

export function buildManifests(plan: K8sPlan): Manifest[] {
  const { base, runId, shards, sizing } = plan;
  const ns = plan.namespace !== undefined ? { namespace: plan.namespace } : {};
  const labels = (component: string): Record<string, string> => ({
    'app.kubernetes.io/name': 'inferload',
    'app.kubernetes.io/instance': base,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'inferload',
    'app.kubernetes.io/version': labelValue(VERSION),
    'app.kubernetes.io/managed-by': 'inferload-k8s',
    'inferload/run-id': runId,
    'inferload/scenario': labelValue(plan.spec.name),
  });
  const configMapName = `${base}-scenario`;
  const claimName = plan.resultsPvc ?? `${base}-results`;
  const manifests: Manifest[] = [];

  const data: Record<string, string> = { 'scenario.yaml': plan.scenarioText };
  const binaryData: Record<string, string> = {};
  for (const f of plan.files) {
    const asText = f.content.toString('utf8');
    if (Buffer.from(asText, 'utf8').equals(f.content)) data[f.key] = asText;
    else binaryData[f.key] = f.content.toString('base64');
  }
  const configMap: IConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: configMapName, ...ns, labels: labels('scenario') },
    data,
    ...(Object.keys(binaryData).length > 0 && { binaryData }),
  };
  manifests.push({
    file: '01-configmap.yaml',
    comment: `The scenario${plan.files.length > 0 ? ' and the files it names' : ''}, mounted read-only at ${SCENARIO_DIR_IN_POD} in every pod.`,
    object: configMap,
  });

  if (plan.resultsPvc === undefined) {
    const pvc: IPersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: claimName, ...ns, labels: labels('results') },
      spec: {
        accessModes: ['ReadWriteMany'],
        resources: { requests: { storage: `${sizing.storageGiB}Gi` } },
        ...(plan.storageClass !== undefined && { storageClassName: plan.storageClass }),
      },
    };
    manifests.push({
      file: '02-pvc.yaml',
      comment:
        `The results of every shard and the merge, mounted at ${RESULTS_IN_POD} (the run's files under ${RESULTS_IN_POD}/${runId}/). ` +
        'ReadWriteMany: the shards run on different nodes at once, so the storage class must offer it (NFS, CephFS, EFS, Filestore, Azure Files); ' +
        'a ReadWriteOnce class leaves the claim or the pods pending. Kept after the Jobs end: delete it when the results are copied.',
      object: pvc,
    });
  }

  const podSecurity: IPodSpec['securityContext'] = {
    runAsNonRoot: true,
    runAsUser: POD_UID,
    runAsGroup: POD_UID,
    fsGroup: POD_UID,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
  const containerSecurity: IContainer['securityContext'] = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
  const volumes: IPodSpec['volumes'] = [
    { name: 'scenario', configMap: { name: configMapName } },
    { name: 'results', persistentVolumeClaim: { claimName } },
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
  ];
  const mounts: IContainer['volumeMounts'] = [
    { name: 'scenario', mountPath: SCENARIO_DIR_IN_POD, readOnly: true },
    { name: 'results', mountPath: RESULTS_IN_POD },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const podAnnotations = { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' };

  const env: IEnvVar[] = [
    // declared here so that $(JOB_COMPLETION_INDEX) in args expands whatever the Job controller's
    // version (it adds the same variable only when a container lacks it)
    { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
  ];
  if (plan.apiKey !== undefined) env.push({ name: plan.apiKey.env, valueFrom: { secretKeyRef: { name: plan.apiKey.secret, key: plan.apiKey.key } } });
  const shardLabels = labels('shard');
  const shardsJob: IJob = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `${base}-shards`, ...ns, labels: shardLabels },
    spec: {
      completionMode: 'Indexed',
      completions: shards,
      parallelism: shards,
      backoffLimitPerIndex: 0,
      ...(sizing.deadlineS !== null && { activeDeadlineSeconds: sizing.deadlineS }),
      template: {
        metadata: { labels: shardLabels, annotations: podAnnotations },
        spec: {
          restartPolicy: 'Never',
          // a SIGTERM (the deadline, a deletion) stops sending, waits up to 10 s for replies, and writes the results
          terminationGracePeriodSeconds: 60,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: { 'app.kubernetes.io/instance': base, 'app.kubernetes.io/component': 'shard' } },
            },
          ],
          containers: [
            {
              name: 'inferload',
              image: plan.image,
              command: ['inferload'],
              args: shardArgs(plan),
              env,
              resources: {
                requests: { cpu: `${sizing.cpuRequestMilli}m`, memory: `${sizing.memoryMiB}Mi` },
                limits: { memory: `${sizing.memoryMiB}Mi` },
              },
              securityContext: containerSecurity,
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
  manifests.push({
    file: '03-shards-job.yaml',
    comment: [
      `${shards} shard${shards === 1 ? '' : 's'} of the run, one pod each, started together (--start-at sync: every shard writes ${RESULTS_IN_POD}/${runId}/start/shard-<i>.ready and all start at one instant once all ${shards} are there).`,
      'backoffLimitPerIndex 0 (Kubernetes 1.29+): a failed shard is not retried, since a retry would start after the common start, and the others go on (their results still merge; the merge names the missing shard).',
      sizing.deadlineS !== null
        ? `activeDeadlineSeconds: ${START_ALLOWANCE_S} s to start + ${Math.round(sizing.lengthS ?? 0)} s of load + ${sizing.gracefulStopS} s graceful stop + ${FINISH_ALLOWANCE_S} s to write.`
        : 'No deadline: the load\'s length is not known here.',
      `Per shard ~${fmt(sizing.requestsPerS)} req/s, ~${fmt(sizing.chunksPerS)} chunks/s, up to ${sizing.streams} streams: ~${sizing.cpuCores.toFixed(2)} cores of client at ${(CPU_S_PER_CHUNK * 1e6).toFixed(0)} µs a chunk (bench/whole-run).`,
      'No CPU limit: CFS throttling would pause the client for tens of milliseconds, which reads as server latency.',
    ].join('\n'),
    object: shardsJob,
  });

  const mergeLabels = labels('merge');
  const mergeJob: IJob = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `${base}-merge`, ...ns, labels: mergeLabels },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: 1,
      activeDeadlineSeconds: sizing.mergeWaitS + MERGE_ALLOWANCE_S,
      podFailurePolicy: {
        rules: [
          // evicted or preempted: run again (the merge only reads the shards' files)
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          // its own verdict (99: an SLO failed; 104: shards missing or not of one run) is final
          { action: 'FailJob', onExitCodes: { containerName: 'inferload', operator: 'NotIn', values: [0] } },
        ],
      },
      template: {
        metadata: { labels: mergeLabels, annotations: podAnnotations },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          containers: [
            {
              name: 'inferload',
              image: plan.image,
              command: ['inferload'],
              args: mergeArgs(plan),
              resources: {
                requests: { cpu: '500m', memory: `${sizing.mergeMemoryMiB}Mi` },
                limits: { memory: `${sizing.mergeMemoryMiB}Mi` },
              },
              securityContext: containerSecurity,
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
  manifests.push({
    file: '04-merge-job.yaml',
    comment:
      `Waits for the ${shards} shards' final results (up to ${sizing.mergeWaitS} s from its start) and merges them into ${RESULTS_IN_POD}/${runId}/merged ` +
      '(results.json, report.md, report.html, junit.xml). Exit 99 (an SLO of the merged run failed) fails this Job: that is the verdict.',
    object: mergeJob,
  });
  return manifests;
}

function fmt(x: number): string {
  return x >= 100 ? String(Math.round(x)) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** The manifests as one YAML stream, each document with its comment. */
export function renderManifests(manifests: readonly Manifest[]): string {
  return manifests
    .map((m) => {
      // no anchors and aliases for objects used twice (the labels): plain YAML for every reader
      const doc = new Document(m.object, { aliasDuplicateObjects: false });
      doc.commentBefore = ` ${m.comment.split('\n').join('\n ')}`;
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
}

// ---- validation -------------------------------------------------------------------------------------------

/**
 * Every manifest against the Kubernetes schemas (kubernetes-models), and every name against the
 * rules the schemas leave to the API server; a failure is a bug of ours and nothing is written.
 */
export async function validateManifests(manifests: readonly Manifest[]): Promise<void> {
  let models: { ConfigMap: Validator; PersistentVolumeClaim: Validator; Job: Validator };
  try {
    const [cm, pvc, job] = await Promise.all([import('kubernetes-models/v1/ConfigMap'), import('kubernetes-models/v1/PersistentVolumeClaim'), import('kubernetes-models/batch/v1/Job')]);
    models = { ConfigMap: cm.ConfigMap, PersistentVolumeClaim: pvc.PersistentVolumeClaim, Job: job.Job };
  } catch (err) {
    throw new InferloadError(
      'IL_K8S_VALIDATOR',
      `cannot load kubernetes-models, which checks the manifests against the Kubernetes schemas before they are written (${(err as Error).message}); install it beside inferload (npm install kubernetes-models)`,
      ExitCode.internal,
    );
  }
  const problems: string[] = [];
  for (const m of manifests) {
    const model = models[m.object.kind];
    try {
      new model(m.object as never).validate();
    } catch (err) {
      problems.push(`${m.object.kind} ${m.object.metadata?.name}: ${(err as Error).message}`);
    }
    problems.push(...nameProblems(m.object).map((p) => `${m.object.kind} ${m.object.metadata?.name}: ${p}`));
  }
  if (problems.length > 0)
    throw new InferloadError('IL_K8S_INVALID', `internal error (a bug; please report it): a manifest does not validate, nothing written:\n  - ${problems.join('\n  - ')}`, ExitCode.internal);
}

type Validator = new (data: never) => { validate(): void };

/** Names the schemas do not check: object, volume, container, label, key and env names. */
export function nameProblems(obj: IConfigMap | IPersistentVolumeClaim | IJob): string[] {
  const problems: string[] = [];
  const meta = (m: { name?: string; namespace?: string; labels?: Record<string, string> } | undefined, where: string, named: boolean): void => {
    if (named) {
      const name = m?.name ?? '';
      // a Job's name becomes a label of its pods, so 63 at most
      const ok = obj.kind === 'Job' ? isDnsLabel(name) : isDnsSubdomain(name);
      if (!ok) problems.push(`${where}name "${name}" is not a valid name`);
    }
    if (m?.namespace !== undefined && !isDnsLabel(m.namespace)) problems.push(`${where}namespace "${m.namespace}" is not a valid namespace`);
    for (const [k, v] of Object.entries(m?.labels ?? {})) {
      const [prefix, name] = k.includes('/') ? k.split('/', 2) : [undefined, k];
      if ((prefix !== undefined && !isDnsSubdomain(prefix)) || !name || !/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name)) problems.push(`${where}label key "${k}" is not valid`);
      if (!isLabelValue(v)) problems.push(`${where}label ${k}: "${v}" is not a valid label value`);
    }
  };
  meta(obj.metadata, 'metadata.', true);
  if (obj.kind === 'ConfigMap') {
    for (const k of [...Object.keys(obj.data ?? {}), ...Object.keys(obj.binaryData ?? {})])
      if (!/^[-._a-zA-Z0-9]{1,253}$/.test(k)) problems.push(`data key "${k}" is not a valid key`);
  }
  if (obj.kind === 'Job') {
    const t = obj.spec?.template;
    meta(t?.metadata, 'template.metadata.', false);
    const pod = t?.spec;
    for (const v of pod?.volumes ?? []) {
      if (!isDnsLabel(v.name)) problems.push(`volume name "${v.name}" is not a DNS label`);
      if (v.configMap?.name !== undefined && !isDnsSubdomain(v.configMap.name)) problems.push(`volume ${v.name}: ConfigMap name "${v.configMap.name}" is not valid`);
      if (v.persistentVolumeClaim !== undefined && !isDnsSubdomain(v.persistentVolumeClaim.claimName)) problems.push(`volume ${v.name}: claim name "${v.persistentVolumeClaim.claimName}" is not valid`);
    }
    for (const c of pod?.containers ?? []) {
      if (!isDnsLabel(c.name)) problems.push(`container name "${c.name}" is not a DNS label`);
      for (const e of c.env ?? []) {
        if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(e.name)) problems.push(`env name "${e.name}" is not valid`);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref !== undefined && (!isDnsSubdomain(ref.name ?? '') || !/^[-._a-zA-Z0-9]+$/.test(ref.key))) problems.push(`env ${e.name}: Secret "${ref.name}" key "${ref.key}" is not valid`);
      }
      for (const mnt of c.volumeMounts ?? []) if (!(pod?.volumes ?? []).some((v) => v.name === mnt.name)) problems.push(`mount of an undeclared volume "${mnt.name}"`);
    }
  }
  return problems;
}

// ---- what the person reads -----------------------------------------------------------------------------------

function summary(plan: K8sPlan, manifests: readonly Manifest[], out: string | undefined): string {
  const s = plan.sizing;
  const nsFlag = plan.namespace !== undefined ? ` -n ${plan.namespace}` : '';
  const claim = plan.resultsPvc ?? `${plan.base}-results`;
  const lines = [
    `inferload k8s: run ${plan.runId}: ${plan.shards} shard${plan.shards === 1 ? '' : 's'} of ${plan.spec.name} against ${parseTarget(plan.spec.target.url!).display}, ${manifests.length} objects ${out === undefined ? 'on stdout' : `in ${out}/`}`,
    `  per shard: ~${fmt(s.requestsPerS)} req/s, ~${fmt(s.chunksPerS)} chunks/s, up to ${s.streams} streams → cpu request ${s.cpuRequestMilli}m (no limit), memory ${s.memoryMiB}Mi`,
    ...plan.notes.map((n) => `  note: ${n}`),
  ];
  if (plan.apiKey !== undefined)
    lines.push(`  the API key: Secret ${plan.apiKey.secret}, key ${plan.apiKey.key}, as ${plan.apiKey.env} (kubectl${nsFlag} create secret generic ${plan.apiKey.secret} --from-literal=${plan.apiKey.key}=...)`);
  lines.push(
    `  apply:   kubectl${nsFlag} apply -f ${out === undefined ? '-   (pipe this output)' : out}`,
    `  watch:   kubectl${nsFlag} get pods -l inferload/run-id=${plan.runId} -w`,
    `  merged:  kubectl${nsFlag} logs -f job/${plan.base}-merge   (results in ${RESULTS_IN_POD}/${plan.runId}/merged on claim ${claim}; README "Kubernetes" copies them out)`,
  );
  return lines.join('\n') + '\n';
}

function kib(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KiB`;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
