// Scenario loading: a YAML file or a shipped scenario's name → overrides → validation →
// the normalised ScenarioSpec. Every problem is collected and thrown once, as InvalidInputError.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { InputProblem } from '../core/errors.js';
import { InvalidInputError } from '../core/errors.js';
import type { DatasetSpec, LoadSpec, ScenarioSpec, SessionsSpec, SharedPrefixSpec, SloThreshold } from '../core/types.js';
import { closest, formatPath } from './messages.js';
import type { AppliedOverride, Override, PathSegment, ScenarioCliOptions } from './overrides.js';
import { applyOverrides, cliOverrides, parseSetArgs } from './overrides.js';
import type { RawProblem } from './problems.js';
import { validateScenario } from './problems.js';
import { validateAlertRules } from '../analysis/alerts.js';
import { parseAvailabilitySlo } from '../analysis/error-budget.js';
import { isPathLike } from '../workload/tokenizer.js';
import type { ParsedScenario } from './schema.js';
import { expectedFound } from './schema.js';

/** The shipped scenarios: `scenarios/` at the package root (two levels above src/config/ and dist/config/). */
export const SCENARIOS_DIR: string = fileURLToPath(new URL('../../scenarios/', import.meta.url));

/** Options of `parseScenario` and `loadScenario` beyond `--set` overrides. */
export interface ScenarioOptions {
  /** raw `--set key=value` arguments, applied after `overrides` (a malformed one is a problem like any other) */
  set?: readonly string[];
  /** the run command's flags that override the scenario, applied after the `--set` overrides */
  cli?: ScenarioCliOptions;
  /** directory a relative `workload.dataset` or `load.file` in the text is relative to; unset: left as written */
  baseDir?: string;
  /** also report a `workload.dataset` or `load.file` that does not exist (loadScenario: on) */
  checkFiles?: boolean;
}

/** Names of the shipped scenarios (`smoke`, `sustained`, ...), sorted. */
export function shippedScenarios(): string[] {
  let entries: string[];
  try {
    entries = readdirSync(SCENARIOS_DIR);
  } catch {
    return [];
  }
  return entries
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => file.slice(0, -'.yaml'.length))
    .sort();
}

/**
 * Loads a scenario: a path to a .yaml/.yml file, or the name of a shipped one (`smoke`).
 * `overrides` and `options.set` (`--set`) apply first, then `options.cli` (the run command's flags).
 * @throws InvalidInputError with every problem found (unknown name, unreadable file, YAML, fields)
 */
export function loadScenario(
  nameOrPath: string,
  overrides: readonly Override[] = [],
  options: Omit<ScenarioOptions, 'baseDir'> = {},
): ScenarioSpec {
  const file = resolveScenarioFile(nameOrPath);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError([{ path: 'SCENARIO', message: `cannot read ${file}: ${reason}` }], nameOrPath);
  }
  return parseScenario(text, file, overrides, { checkFiles: true, ...options, baseDir: dirname(file) });
}

const YAML_FILE_RE = /\.ya?ml$/i;

function resolveScenarioFile(nameOrPath: string): string {
  const shipped = shippedScenarios();
  const looksLikePath = YAML_FILE_RE.test(nameOrPath) || /[\\/]/.test(nameOrPath);
  if (looksLikePath || isFile(nameOrPath)) {
    if (isFile(nameOrPath)) return resolve(nameOrPath);
    const stem = basename(nameOrPath).replace(YAML_FILE_RE, '');
    const hint = shipped.includes(stem) ? `; a shipped scenario has that name: run it by name, \`${stem}\`` : '';
    throw new InvalidInputError(
      [{ path: 'SCENARIO', message: `no such file: ${nameOrPath} (from ${process.cwd()})${hint}` }],
      nameOrPath,
    );
  }
  if (shipped.includes(nameOrPath)) return join(SCENARIOS_DIR, `${nameOrPath}.yaml`);
  const near = closest(nameOrPath, shipped);
  throw new InvalidInputError(
    [
      {
        path: 'SCENARIO',
        message:
          `unknown scenario "${nameOrPath}": not a file, and no shipped scenario has that name; ` +
          `shipped: ${shipped.join(', ')}${near === undefined ? '' : `; did you mean "${near}"?`}`,
      },
    ],
    nameOrPath,
  );
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Parses and validates scenario YAML. `source` names it in messages (a file path or a label).
 * `overrides` and `options.set` (`--set`) apply to the parsed YAML first, then `options.cli` (the
 * run command's flags); problems in overridden fields name the option.
 * @throws InvalidInputError with every problem found
 */
export function parseScenario(
  text: string,
  source: string,
  overrides: readonly Override[] = [],
  options: ScenarioOptions = {},
): ScenarioSpec {
  const lineCounter = new LineCounter();
  // logLevel 'error': yaml would otherwise print warnings (e.g. collection keys) to stderr itself.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length > 0) {
    throw new InvalidInputError(
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { path: `line ${line}, column ${col}`, message: `YAML syntax: ${error.message.split('\n')[0] ?? ''}` };
      }),
      source,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError([{ path: '(root)', message: `YAML: ${reason}` }], source);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const what = 'a mapping of scenario fields (name, load, workload, ...)';
    const message =
      raw === null || raw === undefined
        ? `the file is empty: expected ${what}, with at least name and load`
        : expectedFound(what, raw);
    throw new InvalidInputError([{ path: '(root)', message }], source);
  }
  const scenario = raw as Record<string, unknown>;

  const problems: InputProblem[] = [];
  const setArgs = parseSetArgs(options.set ?? []);
  problems.push(...setArgs.problems);
  const fromSet = applyOverrides(scenario, [...overrides, ...setArgs.overrides]);
  problems.push(...fromSet.problems);
  const load = scenario['load'];
  const executor = typeof load === 'object' && load !== null ? (load as Record<string, unknown>)['executor'] : undefined;
  const fromFlags = cliOverrides(options.cli ?? {}, executor);
  problems.push(...fromFlags.problems);
  const flagged = applyOverrides(scenario, fromFlags.overrides);
  problems.push(...flagged.problems);
  const applied = [...fromSet.applied, ...flagged.applied];

  const validation = validateScenario(scenario);
  if (validation.ok) {
    const workload = scenario['workload'];
    const outputTokensWritten = isRecord(workload) && workload['outputTokens'] !== undefined;
    const spec = toSpec(validation.value, outputTokensWritten);
    for (const file of inputFiles(spec, validation.value)) {
      const fromFile = overriddenBy(file.path, applied) === undefined;
      if (fromFile && options.baseDir !== undefined) file.set(resolve(options.baseDir, file.get()));
      const fileProblem = options.checkFiles ? checkFile(file, fromFile, doc, lineCounter) : undefined;
      if (fileProblem !== undefined) problems.push(fileProblem);
    }
    // alert expressions have their own small grammar: check each rule, naming it by index
    spec.alerts.rules.forEach((rule, i) => {
      for (const message of validateAlertRules([rule])) problems.push({ path: `alerts.rules[${i}].expr`, message });
    });
    if (problems.length === 0) return spec;
  } else {
    problems.push(...validation.problems.map((p) => locate(p, applied, doc, lineCounter)));
  }
  throw new InvalidInputError(problems, source);
}

/** A file the scenario names (a dataset, a trace): where it is written, and its value in the spec. */
interface InputFile {
  path: PropertyKey[];
  get(): string;
  set(value: string): void;
}

function inputFiles(spec: ScenarioSpec, parsed: ParsedScenario): InputFile[] {
  const files: InputFile[] = [];
  const dataset = spec.workload.dataset;
  if (dataset !== undefined) {
    // a string dataset is its path; a mapping holds it under `path`
    const path = typeof parsed.workload.dataset === 'string' ? ['workload', 'dataset'] : ['workload', 'dataset', 'path'];
    files.push({ path, get: () => dataset.path, set: (v) => (dataset.path = v) });
  }
  const load = spec.load;
  if (load.executor === 'trace') files.push({ path: ['load', 'file'], get: () => load.file, set: (v) => (load.file = v) });
  // a tokenizer.json path (a family name or `server` names no file)
  const workload = spec.workload;
  if (workload.tokenizer !== undefined && isPathLike(workload.tokenizer)) {
    files.push({ path: ['workload', 'tokenizer'], get: () => workload.tokenizer!, set: (v) => (workload.tokenizer = v) });
  }
  return files;
}

function checkFile(file: InputFile, fromFile: boolean, doc: Document, lineCounter: LineCounter): InputProblem | undefined {
  if (isFile(file.get())) return undefined;
  const problem = { path: file.path, message: `no such file: ${file.get()}` };
  return fromFile ? locate(problem, [], doc, lineCounter) : { path: formatPath(file.path), message: problem.message };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function startsWith(path: readonly PropertyKey[], prefix: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

/** The last override that wrote `path` or one of its ancestors. */
function overriddenBy(path: readonly PropertyKey[], applied: readonly AppliedOverride[]): AppliedOverride | undefined {
  return applied.findLast((override) => startsWith(path, override.segments));
}

/**
 * A problem's final form: a flag's problem is named by the flag; a `--set` problem says so; a
 * problem in the file gives the line.
 */
function locate(
  problem: RawProblem,
  applied: readonly AppliedOverride[],
  doc: Document,
  lineCounter: LineCounter,
): InputProblem {
  const override = overriddenBy(problem.path, applied);
  if (override !== undefined) {
    if (override.origin !== '--set') return { path: override.origin, message: problem.message };
    return { path: formatPath(problem.path), message: `${problem.message} (from --set ${formatPath(override.segments)})` };
  }
  const line = lineOf(problem.path, doc, lineCounter);
  return { path: formatPath(problem.path), message: line === undefined ? problem.message : `${problem.message} (line ${line})` };
}

function lineOf(path: readonly PropertyKey[], doc: Document, lineCounter: LineCounter): number | undefined {
  if (path.length === 0) return undefined;
  const node: unknown = doc.getIn(path as unknown[], true);
  if (!isNode(node) || node.range == null) return undefined;
  return lineCounter.linePos(node.range[0]).line;
}

// ---------------------------------------------------------------------------------------------
// The schema's output (k6 names) → ScenarioSpec (unit-suffixed names, seconds).

function toLoad(load: ParsedScenario['load']): LoadSpec {
  switch (load.executor) {
    case 'constant-vus':
      return {
        executor: load.executor,
        vus: load.vus,
        durationS: load.duration,
        thinkTimeS: load.thinkTime,
        gracefulStopS: load.gracefulStop,
      };
    case 'ramping-vus':
      return {
        executor: load.executor,
        startVUs: load.startVUs,
        stages: load.stages.map((s) => ({ durationS: s.duration, target: s.target })),
        thinkTimeS: load.thinkTime,
        gracefulStopS: load.gracefulStop,
      };
    case 'constant-arrival-rate':
      return {
        executor: load.executor,
        rate: load.rate,
        durationS: load.duration,
        timeUnitS: load.timeUnit,
        arrival: load.arrival,
        burstiness: load.burstiness,
        maxInFlight: load.maxInFlight,
        gracefulStopS: load.gracefulStop,
      };
    case 'ramping-arrival-rate':
      return {
        executor: load.executor,
        startRate: load.startRate,
        stages: load.stages.map((s) => ({ durationS: s.duration, target: s.target })),
        timeUnitS: load.timeUnit,
        arrival: load.arrival,
        burstiness: load.burstiness,
        maxInFlight: load.maxInFlight,
        gracefulStopS: load.gracefulStop,
      };
    case 'trace':
      return {
        executor: load.executor,
        file: load.file,
        ...(load.format !== undefined && { format: load.format }),
        speedup: load.speedup,
        startS: load.start,
        ...(load.duration !== undefined && { durationS: load.duration }),
        maxInFlight: load.maxInFlight,
        gracefulStopS: load.gracefulStop,
      };
    default: {
      const unreachable: never = load;
      return unreachable;
    }
  }
}

function toSharedPrefix(p: NonNullable<ParsedScenario['workload']['sharedPrefix']>): SharedPrefixSpec {
  return {
    groups: p.groups,
    prefixTokens: p.prefixTokens,
    ...(p.share !== undefined && { share: p.share }),
    ...(p.promptsPerGroup !== undefined && { promptsPerGroup: p.promptsPerGroup }),
  };
}

function toSessions(p: NonNullable<ParsedScenario['workload']['sessions']>): SessionsSpec {
  return {
    turns: typeof p.turns === 'number' ? { dist: 'fixed', value: p.turns } : p.turns,
    thinkTimeS: p.thinkTime,
    thinkTimeDist: p.thinkTimeDist,
    ...(p.historyTokens !== undefined && { historyTokens: p.historyTokens }),
    ...(p.header !== undefined && { header: p.header }),
  };
}

function toSlo(slo: ParsedScenario['slo']): Record<string, SloThreshold[]> {
  const out: Record<string, SloThreshold[]> = {};
  for (const [metric, thresholds] of Object.entries(slo)) {
    if (thresholds === undefined) continue;
    out[metric] = thresholds.map((t) =>
      typeof t === 'string' ? { threshold: t, abortOnFail: false } : { threshold: t.threshold, abortOnFail: t.abortOnFail },
    );
  }
  return out;
}

/**
 * A dataset as written → DatasetSpec. A plain string is today's prompt JSONL, whose lines' own
 * output_tokens win as before; in a mapping the dataset's output lengths are used unless the
 * scenario writes workload.outputTokens itself (or --max-tokens does).
 */
function toDataset(dataset: NonNullable<ParsedScenario['workload']['dataset']>, outputTokensWritten: boolean): DatasetSpec {
  if (typeof dataset === 'string') return { format: 'prompts', path: dataset, maxEntries: DEFAULT_MAX_ENTRIES, outputTokens: 'dataset' };
  return {
    format: dataset.format,
    path: dataset.path,
    ...(dataset.minPromptTokens !== undefined && { minPromptTokens: dataset.minPromptTokens }),
    ...(dataset.maxPromptTokens !== undefined && { maxPromptTokens: dataset.maxPromptTokens }),
    ...(dataset.minOutputTokens !== undefined && { minOutputTokens: dataset.minOutputTokens }),
    ...(dataset.maxOutputTokens !== undefined && { maxOutputTokens: dataset.maxOutputTokens }),
    maxEntries: dataset.maxEntries,
    outputTokens: outputTokensWritten || dataset.format === 'text' ? 'scenario' : 'dataset',
  };
}

/** The sample's size cap of a dataset given as a plain string (the mapping's maxEntries default). */
const DEFAULT_MAX_ENTRIES = 10_000;

function toSpec(parsed: ParsedScenario, outputTokensWritten: boolean): ScenarioSpec {
  const { target, simulator, workload } = parsed;
  return {
    name: parsed.name,
    ...(parsed.description !== undefined && { description: parsed.description }),
    seed: parsed.seed,
    warmupS: parsed.warmup,
    windowS: parsed.window,
    ...(parsed.requests !== undefined && { requests: parsed.requests }),
    target: {
      ...(target.url !== undefined && { url: target.url }),
      ...(target.model !== undefined && { model: target.model }),
      endpoint: target.endpoint,
      ...(target.apiKeyEnv !== undefined && { apiKeyEnv: target.apiKeyEnv }),
      metrics: target.metrics.map((m) => (typeof m === 'string' ? { url: m, intervalS: 1 } : { url: m.url, intervalS: m.interval })),
      timeoutS: target.timeout,
      ...(target.gpuCount !== undefined && { gpuCount: target.gpuCount }),
      ...(target.maxEventBytes !== undefined && { maxEventBytes: target.maxEventBytes }),
      ...(target.models !== undefined && { models: target.models.map((m) => ({ name: m.name, weight: m.weight })) }),
      // the first replica is the run's url (the model list, the tokenizer, the reports' target)
      ...(target.urls !== undefined && { url: target.urls[0]!, urls: [...target.urls], balance: target.balance ?? 'least-in-flight' }),
      ...(target.prometheus !== undefined && { prometheus: target.prometheus }),
    },
    simulator: {
      profile: simulator.profile,
      speed: simulator.speed,
      faults: {
        http500Ratio: simulator.faults.http500Ratio,
        http429Ratio: simulator.faults.http429Ratio,
        stallRatio: simulator.faults.stallRatio,
        stallS: simulator.faults.stall,
        dropRatio: simulator.faults.dropRatio,
        midStreamErrorRatio: simulator.faults.midStreamErrorRatio,
      },
      ...(simulator.prefixCaching !== undefined && { prefixCaching: simulator.prefixCaching }),
    },
    load: toLoad(parsed.load),
    workload: {
      promptTokens: workload.promptTokens,
      outputTokens: workload.outputTokens,
      ignoreEos: workload.ignoreEos,
      minTokens: workload.minTokens,
      ...(workload.dataset !== undefined && { dataset: toDataset(workload.dataset, outputTokensWritten) }),
      ...(workload.sharedPrefix !== undefined && { sharedPrefix: toSharedPrefix(workload.sharedPrefix) }),
      ...(workload.sessions !== undefined && { sessions: toSessions(workload.sessions) }),
      ...(workload.classes !== undefined && {
        classes: workload.classes.map((c) => ({
          name: c.name,
          weight: c.weight,
          promptTokens: c.promptTokens ?? workload.promptTokens,
          outputTokens: c.outputTokens ?? workload.outputTokens,
          // a class without its own shares the workload's prefixes (the same system prompts)
          ...(c.sharedPrefix !== undefined && { sharedPrefix: toSharedPrefix(c.sharedPrefix) }),
          slo: toSlo(c.slo),
        })),
      }),
      temperature: workload.temperature,
      ...(workload.tokenizer !== undefined && { tokenizer: workload.tokenizer }),
    },
    slo: toSlo(parsed.slo),
    availabilitySlo: parseAvailabilitySlo(String(parsed.errorBudget.availability), 'errorBudget.availability'),
    alerts: {
      defaults: parsed.alerts.defaults,
      rules: parsed.alerts.rules.map((r) => ({ name: r.name, expr: r.expr, for_s: r.for, severity: r.severity })),
    },
    sweep: {
      startRate: parsed.sweep.startRate,
      maxRate: parsed.sweep.maxRate,
      precision: parsed.sweep.precision,
      stepS: parsed.sweep.step,
      stepWarmupS: parsed.sweep.stepWarmup,
      maxSteps: parsed.sweep.maxSteps,
      arrival: parsed.sweep.arrival,
    },
  };
}
