// The command line: argv → options → the pieces; the only place that prints results and calls
// process.exit, mapping typed errors to cli.md's exit codes.
import { Command, CommanderError, Option } from 'commander';
import { parseTarget } from '../core/secret.js';
import { ExitCode, InferloadError, InvalidInputError, type InputProblem } from '../core/errors.js';
import { MAX_WORKERS, workersProblem } from '../backend/worker/limits.js';
import { listProfiles } from '../sim/profiles.js';
import type { ExecuteOptions, LiveOptions, RunControl } from './execute.js';
import type { RunFlags } from './scenario.js';
import { VERSION } from './version.js';
// Each command loads what it needs when it runs (dynamic imports below): the scenario schema,
// the HTTP client, the simulator, the report renderers. Loading all of it for every command cost
// about half a CPU-second of start-up, paid again by every `--help`, `report` and `compare`.

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Builds the program. `exit` is called with the code each command ends with. */
export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('inferload')
    .description('Load testing and benchmarking for OpenAI-compatible LLM inference servers')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const runCommand = program
    .command('run')
    .description('run a scenario: a YAML file or the name of a shipped one (smoke, sustained, spike, soak, ...)')
    .argument('[scenario]', 'scenario file or shipped name', 'smoke');
  addRunOptions(runCommand, 'run').action(async (scenario: string, allFlags: SharedFlags) => {
    const { out, recordChunks, quiet, strict, checkpoint, workers: workersFlag, shard: shardFlag, shards, startAt: startFlag, startTimeout, runId, metricsListen, remoteWrite, dashboard, dashboardHost, ...flags } = allFlags;
    const problems: InputProblem[] = [];
    const { checkpointS, workers } = parseSharedFlags(checkpoint, workersFlag, problems);
    const sharding = await parseShardFlags({ shard: shardFlag, shards, startAt: startFlag, startTimeout, runId }, problems);
    const live = parseLiveFlags({ metricsListen, remoteWrite, dashboard, dashboardHost }, problems);
    if (problems.length > 0) throw new InvalidInputError(problems);
    const { resolveScenario } = await import('./scenario.js');
    const spec = resolveScenario(scenario, flags);
    const [{ executeRun }, { renderConsoleSummary }] = await Promise.all([import('./execute.js'), import('../report/console.js')]);
    const progress = await liveProgress(quiet);
    let control: RunControl | null = null;
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (!control) {
        process.exit(ExitCode.interrupted);
      }
      if (signals === 1) {
        process.stderr.write(`\ninferload: ${sig}: stopping; in-flight requests get a moment to finish (again to quit now)\n`);
        control.interrupt(`interrupted by ${sig}`);
      } else if (signals === 2) {
        control.abortNow(`interrupted by ${sig} (twice)`).then(
          (result) => {
            process.stderr.write(`\ninferload: ${sig} again: stopped; results written with ${result.summary.requests.completed} completed requests\n`);
            process.exit(ExitCode.interrupted);
          },
          (err: unknown) => {
            process.stderr.write(`\ninferload: ${sig} again: stopped; could not write the results (${(err as Error)?.message ?? String(err)})\n`);
            process.exit(ExitCode.interrupted);
          },
        );
      } else {
        // a third signal while the second one writes: out now
        process.exit(ExitCode.interrupted);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const { result, exitCode, dir } = await executeRun(spec, {
      out,
      recordChunks,
      strict,
      checkpointS,
      workers,
      ...sharding,
      ...(live && { live }),
      argv: redactArgv(process.argv.slice(2)),
      onStart: (c) => {
        control = c;
      },
      progress,
    });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.write(renderConsoleSummary(result, { dir }) + '\n');
    exit(exitCode);
  });

  const sweepCommand = program
    .command('sweep')
    .description("find the sustainable rate under the scenario's SLOs (doubling, then bisection); capacity per GPU")
    .argument('[scenario]', 'scenario file or shipped name', 'sustained-rate')
    .addHelpText(
      'after',
      '\nOptions of run that sweep refuses (exit 104), and what to use instead:\n' +
        Object.entries(SWEEP_REFUSED)
          .map(([flag, reason]) => `  ${flag.padEnd(16)}${wrap(reason, 80 - 18).join('\n' + ' '.repeat(18))}`)
          .join('\n'),
    );
  addRunOptions(sweepCommand, 'sweep').action(async (scenario: string, allFlags: SharedFlags) => {
    const { out, recordChunks, quiet, strict, checkpoint, workers: workersFlag, ...flags } = allFlags;
    // every refused option and every bad value at once, before anything starts
    const problems: InputProblem[] = sweepRefusals(allFlags);
    const { checkpointS, workers } = parseSharedFlags(checkpoint, workersFlag, problems);
    if (problems.length > 0) throw new InvalidInputError(problems);
    const { resolveScenario } = await import('./scenario.js');
    const spec = resolveScenario(scenario, flags);
    const { executeSweep, renderSweepSummary } = await import('./sweep.js');
    const progress = await liveProgress(quiet);
    let control: RunControl | null = null;
    let stopped = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopped) process.exit(ExitCode.interrupted);
      stopped = true;
      process.stderr.write(`\ninferload: ${sig}: stopping the sweep after writing this step (again to quit now)\n`);
      control?.interrupt(`interrupted by ${sig}`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const { capacity, exitCode, dir, generatorLimitedRates } = await executeSweep(spec, {
      out,
      workers,
      recordChunks,
      strict,
      checkpointS,
      argv: redactArgv(process.argv.slice(2)),
      progress,
      onStep: (c) => {
        control = c;
      },
      stopped: () => stopped,
    });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.write(renderSweepSummary(capacity, dir, { generatorLimitedRates, strict }) + '\n');
    exit(exitCode);
  });

  const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };

  program
    .command('compare')
    .description('regression gate: compare a run with a baseline (a baseline file or a results.json), metric by metric, against run-to-run noise')
    .argument('<baseline>', 'baseline file (inferload baseline add) or a results.json')
    .argument('<current>', 'the results.json to judge')
    .option('--tolerance <pct>', 'a change must exceed this relative change (%) to fail the gate', '20')
    .option('--markdown <file>', 'also write the markdown table here (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--junit <file>', 'write a JUnit XML file, one testcase per compared metric')
    .option('--json <file>', 'write the comparison as JSON')
    .option('--benchmark-json <file>', "write github-action-benchmark's customSmallerIsBetter JSON of the current run")
    .option('--benchmark-json-bigger <file>', "write github-action-benchmark's customBiggerIsBetter JSON (throughputs)")
    .option('--seed <n>', 'seed of the bootstrap', '1')
    .action(async (baseline: string, current: string, flags: Record<string, string>) => {
      exit(await (await import('./compare-command.js')).runCompareCommand(baseline, current, flags, io));
    });

  const baselineCmd = program.command('baseline').description('keep several runs as the baseline of the regression gate');
  baselineCmd
    .command('add')
    .description('add a run to a baseline file (created when missing); keeps the newest runs')
    .argument('<baseline>', 'baseline file')
    .argument('<results>', 'results.json of a complete run')
    .option('--max-runs <n>', 'how many runs the baseline keeps', '10')
    .action(async (baseline: string, results: string, flags: { maxRuns?: string }) => {
      exit(await (await import('./baseline-command.js')).runBaselineCommand('add', baseline, results, flags, io));
    });
  baselineCmd
    .command('show')
    .description("show a baseline's runs and their spread")
    .argument('<baseline>', 'baseline file')
    .option('--json', 'print JSON')
    .action(async (baseline: string, flags: { json?: boolean }) => {
      exit(await (await import('./baseline-command.js')).runBaselineCommand('show', baseline, undefined, flags, io));
    });

  const exportCmd = program.command('export').description('write the scenario for another tool');
  exportCmd
    .command('k6')
    .description('write a k6 test (TypeScript, typed with @types/k6, streaming through xk6-sse) of the scenario, its precomputed requests and a k6-operator TestRun')
    .argument('<scenario>', 'scenario file or shipped name')
    .option('--out <file.ts>', "the script (.ts); its requests, the xk6-sse types and the k6-operator TestRun are written beside it")
    .option('--prompts <n>', 'distinct requests precomputed (default: the expected arrivals, at most 10000)')
    .option('--parallelism <n>', 'k6 runners in the TestRun (default 1)')
    .option('--image <image>', "the runners' image: k6 with the xk6-sse extension (default grafana/k6:latest)")
    .option('--namespace <ns>', "the TestRun's namespace")
    .option('--api-key-secret <name[:key]>', 'the Secret the runners read the API key from')
    .option('--set <key=value>', 'override any scenario field by its path; repeatable', collect)
    .option('--seed <n>', 'override the seed')
    .option('--requests <n>', 'make the run exactly N arrivals')
    .option('--target <url>', 'OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1')
    .option('--model <name>', 'model name')
    .option('--api-key-env <var>', 'environment variable holding the API key (default OPENAI_API_KEY when set)')
    .action(async (scenario: string, flags: import('./k6-export.js').ExportK6Flags) => {
      exit(await (await import('./k6-export.js')).runExportK6Command(scenario, flags, io));
    });
  const importCmd = program.command('import').description("read another tool's output into inferload results");
  importCmd
    .command('k6')
    .description("read k6's JSON output of an exported script into results.json, requests.jsonl and the reports (SLOs, windows, the regression gate)")
    .argument('<output...>', "k6's JSON output files (k6 run --out json=FILE; .gz too)")
    .option('--out <dir>', 'where results.json, requests.jsonl and the reports go')
    .option('--scenario <scenario>', 'the scenario the script was exported from (its SLOs, classes, load and workload)')
    .option('--set <key=value>', "the export's overrides (repeatable)", collect)
    .action(async (files: string[], flags: import('./k6-import.js').ImportK6Flags) => {
      exit(await (await import('./k6-import.js')).runImportK6Command(files, { ...flags, argv: redactArgv(process.argv.slice(2)) }, io));
    });

  program
    .command('history')
    .description('the trend of many saved runs of one scenario (nightly runs), each judged by the regression gate against the runs before it: history.html, history.md, history.json')
    .argument('<runs...>', 'run directories, directories of run directories, results.json files or baseline files')
    .option('--out <dir>', 'where history.html, history.md and history.json go (required)')
    .option('--baseline-runs <k>', 'judge each run against the last K runs before it that passed the gate', '10')
    .option('--tolerance <pct>', 'a change must exceed this relative change (%) to count as a regression', '20')
    .option('--metric <list>', 'the metrics shown and gated, comma-separated or repeated (default: all)', collect)
    .option('--scenario <name>', "keep only this scenario's runs (needed when the inputs hold several)")
    .option('--seed <n>', 'seed of the bootstrap', '1')
    .action(async (runs: string[], flags: import('./history-command.js').HistoryCommandOptions) => {
      exit(await (await import('./history-command.js')).runHistoryCommand(runs, flags, io));
    });

  program
    .command('k8s')
    .description('write the Kubernetes manifests that run a scenario as N shards of an Indexed Job against one server, and merge them')
    .argument('<scenario>', 'scenario file or shipped name')
    .option('--shards <n>', 'pods of the Indexed Job, each sending 1/N of the load (required)')
    .option('--image <image>', 'the image the pods run, with inferload on its PATH (the Dockerfile), e.g. ghcr.io/you/inferload:0.1.0 (required)')
    .option('--namespace <ns>', "namespace of every object (default: kubectl's current one)")
    .option('--target <url>', "the server's OpenAI-compatible base URL, written into the scenario as target.url (required when the scenario has none)")
    .option('--out <dir>', 'write one file per object into DIR, in apply order (default: one multi-document YAML stream on stdout)')
    .option('--api-key-secret <name[:key]>', "the Secret (and key; default the variable's name) the pods read the API key from, as the scenario's target.apiKeyEnv (default OPENAI_API_KEY)")
    .option('--storage-class <sc>', 'storage class of the results claim; it must offer ReadWriteMany (default: the cluster default)')
    .option('--results-pvc <name>', 'write the results to this existing ReadWriteMany claim instead of a new one')
    .option('--run-id <id>', "the run's id: results under /results/<id>/, the objects' names (default: UTC time and 4 random hex digits)")
    .action(async (scenario: string, flags: import('./k8s-command.js').K8sFlags) => {
      exit(await (await import('./k8s-command.js')).runK8sCommand(scenario, flags, io));
    });

  program
    .command('merge')
    .description('combine the results of shards of one run (exact: histograms add)')
    .argument('<results...>', "results.json of each shard, or a directory holding the shards' directories")
    .option('--out <dir>', 'where the merged results.json and reports go')
    .option('--wait-for <n>', "with a directory: wait until n shards' results are final (a Kubernetes merge Job)")
    .option('--timeout <d>', 'how long --wait-for waits (default 1h); then the final ones are merged', undefined)
    .action(async (results: string[], flags: { out?: string; waitFor?: string; timeout?: string }) => {
      exit(await (await import('./merge-command.js')).runMergeCommand(results, flags, io));
    });

  program
    .command('report')
    .description('re-render report.md and report.html (and junit.xml when SLOs exist) from a saved results.json')
    .argument('<results>', 'a results.json')
    .option('--out <dir>', 'write the reports here (default: beside results.json)')
    .action(async (results: string, flags: { out?: string }) => {
      exit(await (await import('./report-command.js')).runReportCommand(results, flags, io));
    });

  program
    .command('scrape')
    .description('parse one Prometheus endpoint (URL), file or stdin (-) and print its canonical signals')
    .argument('<source>', 'a URL, a file, or - for stdin')
    .option('--once', 'scrape a URL once (no counter rates)')
    .option('--json', 'print the parsed families, detected profiles, signals and problems as JSON')
    .addOption(
      new Option('--format <format>', 'exposition format; openmetrics also checks strictly').choices(['auto', 'prometheus', 'openmetrics']).default('auto'),
    )
    .option('--check', 'exit 104 when any line breaks the format (like promtool check metrics)')
    .action(async (source: string, flags: { once?: boolean; json?: boolean; format: 'auto' | 'prometheus' | 'openmetrics'; check?: boolean }) => {
      exit(await (await import('./scrape-command.js')).runScrapeCommand(source, flags, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), stdin: process.stdin }));
    });

  program
    .command('sim')
    .description('run the built-in simulator alone (/v1/chat/completions, /v1/completions, /v1/models, /tokenize, /health)')
    .option('--port <n>', 'port to listen on (0: any free port)', '8000')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--profile <name>', `simulated deployment: ${listProfiles().map((p) => p.name).join(', ')}`, 'default')
    .option('--speed <f>', 'scales every engine step: 0.8 simulates a build 20 % slower', '1')
    .option('--seed <n>', 'seed for output lengths and faults', '1')
    .option('--emit-timestamps', "put the simulator's own emit time into every chunk (for benchmarks)")
    .option('--tokenizer <name|path>', 'count prompt tokens with a family (llama3, qwen3) or a tokenizer.json (default: the approximation)')
    .option('--prefix-caching', 'cache prompt KV blocks across requests (vLLM V1 automatic prefix caching) and report cached_tokens')
    .option('--adapters <names>', "LoRA adapters served beside the profile's model, comma-separated (vLLM's --lora-modules)")
    .option('--max-loras <n>', 'distinct adapters in one running batch at most (default: min(adapters, 4))')
    .addHelpText('after', '\nProfiles:\n' + listProfiles().map((p) => `  ${p.name.padEnd(10)} ${p.description}`).join('\n'))
    .action(async (flags: { port: string; host: string; profile: string; speed: string; seed: string; emitTimestamps?: boolean; tokenizer?: string; prefixCaching?: boolean; adapters?: string; maxLoras?: string }) => {
      const sim = await import('../sim/main.js');
      const lora = sim.loraFlags(flags);
      const problems = [...lora.problems];
      const port = Number(flags.port);
      const speed = Number(flags.speed);
      const seed = Number(flags.seed);
      if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push({ path: '--port', message: `expected a port number 0-65535, found "${flags.port}"` });
      if (!(speed > 0)) problems.push({ path: '--speed', message: `expected a number > 0 (1 = nominal), found "${flags.speed}"` });
      if (!Number.isInteger(seed)) problems.push({ path: '--seed', message: `expected an integer, found "${flags.seed}"` });
      if (!listProfiles().some((p) => p.name === flags.profile))
        problems.push({ path: '--profile', message: `unknown profile "${flags.profile}"; expected one of ${listProfiles().map((p) => p.name).join(', ')}` });
      if (flags.tokenizer !== undefined) {
        const { tokenizerSource, tokenizerValueHelp } = await import('../workload/tokenizer.js');
        const kind = tokenizerSource(flags.tokenizer)?.kind;
        if (kind !== 'file' && kind !== 'family') problems.push({ path: '--tokenizer', message: kind === 'server' ? 'the simulator is the server: give a family (llama3, qwen3) or a tokenizer.json' : tokenizerValueHelp(flags.tokenizer) });
      }
      if (problems.length > 0) throw new InvalidInputError(problems);
      await sim.runSimCommand({ port, host: flags.host, profile: flags.profile, speed, seed, emitTimestamps: flags.emitTimestamps, tokenizer: flags.tokenizer, prefixCaching: flags.prefixCaching === true, ...lora.options });
      exit(ExitCode.ok);
    });

  return program;
}

/** The flags `run` and `sweep` share, as commander hands them over. */
type SharedFlags = RunFlags & {
  out?: string;
  recordChunks?: boolean;
  quiet?: boolean;
  strict?: boolean;
  checkpoint: string;
  workers: string;
  shard?: string;
  shards?: string;
  startAt?: string;
  startTimeout?: string;
  runId?: string;
  metricsListen?: string;
  remoteWrite?: string;
  dashboard?: string | boolean;
  dashboardHost?: string;
};

/** One option of `run`, and how `sweep` takes it. */
interface RunOptionDef {
  flags: string;
  description: string;
  /**
   * `same`: sweep takes it as run does; a string: sweep takes it, described so; `{refused}`:
   * sweep refuses it (exit 104) with this reason, which says what to use instead.
   */
  sweep: 'same' | string | { refused: string };
  defaultValue?: string;
  repeatable?: true;
  choices?: readonly string[];
}

/**
 * The options of `run`, defined once; `sweep` gets each of them too, either taken or refused,
 * so that a new option of `run` has to be decided for `sweep` (test/unit/cli/sweep-options).
 */
const RUN_OPTIONS: readonly RunOptionDef[] = [
  {
    flags: '--target <url>',
    description: 'OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (omitted: the built-in simulator)',
    sweep: 'same',
  },
  { flags: '--model <name>', description: 'model name (default: the first of GET {target}/models)', sweep: 'same' },
  {
    flags: '--api-key-env <var>',
    description: 'environment variable holding the API key (default OPENAI_API_KEY when set)',
    sweep: 'same',
  },
  { flags: '--metrics <url>', description: 'a Prometheus endpoint to scrape; repeatable', sweep: 'same', repeatable: true },
  {
    flags: '--prometheus <url>',
    description: 'take the server and GPU signals from this Prometheus by PromQL (every replica it scrapes) instead of scraping endpoints (target.prometheus)',
    sweep: 'same',
  },
  {
    flags: '--out <dir>',
    description: 'output directory (default reports/runs/<scenario>-<UTC timestamp>/)',
    sweep: 'output directory, one subdirectory per step (default reports/runs/<scenario>-sweep-<UTC timestamp>/)',
  },
  {
    flags: '--duration <d>',
    description: 'override load.duration (e.g. 30s, 5m)',
    sweep: { refused: 'the sweep holds every rate for sweep.step (default 30s), the first sweep.stepWarmup discarded: use --set sweep.step=20s' },
  },
  {
    flags: '--rate <r>',
    description: 'override load.rate (arrival-rate executors)',
    sweep: {
      refused:
        'the sweep chooses the rates itself (doubling from sweep.startRate, then bisection): bound them with --set sweep.startRate=5 --set sweep.maxRate=200, ' +
        'or hold one rate with inferload run --rate R',
    },
  },
  {
    flags: '--concurrency <n>',
    description: 'override load.vus (VU executors) or load.maxInFlight (arrival-rate executors)',
    sweep: {
      refused:
        "the sweep's steps are open-loop arrivals at the rates it chooses, with no users to count: cap the requests in flight of every step " +
        'with --set load.maxInFlight=N (arrival-rate scenarios), or measure N users with inferload run --concurrency N',
    },
  },
  { flags: '--seed <n>', description: 'override the seed', sweep: 'same' },
  {
    flags: '--requests <n>',
    description:
      'make the run exactly N arrivals (sent or dropped; warm-up ones included) in any executor; it ends once the N-th has ended. ' +
      "Past the scenario's length the load goes on at its last non-zero level",
    sweep: {
      refused:
        'every step is held for the same time so that steps at different rates are judged alike; a request count would end each at another time: ' +
        'use --set sweep.step=20s, or inferload run --requests N for a single run',
    },
  },
  { flags: '--endpoint <endpoint>', description: 'which OpenAI endpoint to drive', sweep: 'same', choices: ['chat', 'completions'] },
  { flags: '--max-tokens <n>', description: 'output length to ask for (fixed)', sweep: 'same' },
  {
    flags: '--record-chunks',
    description: 'write every content chunk arrival time into requests.jsonl',
    sweep: "write every content chunk arrival time into each step's requests.jsonl",
  },
  {
    flags: '--set <key=value>',
    description: 'override any scenario field by its path; repeatable',
    sweep: 'override any scenario field by its path, e.g. sweep.step=20s; repeatable',
    repeatable: true,
  },
  { flags: '--quiet', description: 'no live progress', sweep: 'no live progress of each step' },
  {
    flags: '--strict',
    description: 'exit 107 when the load generator itself was the bottleneck',
    sweep:
      "exit 107 when the load generator itself was the bottleneck in any step (see the step's results.generator): " +
      "that step's verdict may be the client's, not the server's; the sweep still runs to its end",
  },
  {
    flags: '--checkpoint <seconds>',
    description: 'rewrite results.json every this many seconds during the run',
    sweep: "rewrite each step's results.json every this many seconds during the step",
    defaultValue: '5',
  },
  {
    flags: '--shard <i/N>',
    description: 'run shard i (from 0) of N of the run: its share of the schedule, from the same seed (needs --start-at)',
    sweep: { refused: 'a sweep runs its steps one after another in one process: shard a single run (inferload run --shard i/N), or give the client more threads with --workers' },
  },
  {
    flags: '--shards <n>',
    description: 'one of N shards, the index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it)',
    sweep: { refused: 'a sweep runs its steps one after another in one process: shard a single run (inferload run --shards N), or give the client more threads with --workers' },
  },
  {
    flags: '--start-at <time>',
    description: "the shards' common start: epoch seconds or ms, ISO-8601 with a zone (2026-12-02T10:00:00Z), or sync:DIR (start together once every shard is ready in DIR)",
    sweep: { refused: 'a sweep starts each step when the last one ended: shard a single run instead (inferload run --shard i/N --start-at T)' },
  },
  {
    flags: '--start-timeout <d>',
    description: '--start-at sync:DIR: how long to wait for the other shards (default 10m); then exit 107 naming the missing',
    sweep: { refused: 'a sweep starts each step when the last one ended: shard a single run instead (inferload run --shards N --start-at sync:DIR --start-timeout D)' },
  },
  {
    flags: '--run-id <id>',
    description: "the run's id, shared by its shards (default: derived from the scenario and --start-at)",
    sweep: { refused: "every step of a sweep is a run with its own id: --run-id names the shards of one run (inferload run --shard i/N --run-id ID)" },
  },
  {
    flags: '--metrics-listen <host:port>',
    description: "serve inferload's own metrics for Prometheus at http://HOST:PORT/metrics during the run (e.g. 127.0.0.1:9464; 0.0.0.0:9464 in a pod)",
    sweep: { refused: 'each step of a sweep is a run of its own: watch one rate with inferload run --metrics-listen' },
  },
  {
    flags: '--remote-write <url>',
    description: 'push the same series to a Prometheus remote-write receiver (1.0) every 5 s; a slow or down receiver never slows the run',
    sweep: { refused: 'each step of a sweep is a run of its own: push one rate with inferload run --remote-write' },
  },
  {
    flags: '--dashboard [port]',
    description: "serve a live page of the run's charts, SLOs and health (default: a free port; the URL is printed)",
    sweep: { refused: 'each step of a sweep is a run of its own: watch one rate with inferload run --dashboard' },
  },
  {
    flags: '--dashboard-host <addr>',
    description: 'the address the dashboard binds (default 127.0.0.1; anything else shows the run to whoever reaches the port)',
    sweep: { refused: 'each step of a sweep is a run of its own: watch one rate with inferload run --dashboard' },
  },
  {
    flags: '--workers <n>',
    description: `client threads, 1-${MAX_WORKERS}: above 1, HTTP and stream parsing run in N worker threads`,
    sweep: `client threads of every step, 1-${MAX_WORKERS} (see run --workers)`,
    defaultValue: '1',
  },
];

/** Options of `run` that `sweep` refuses, by flag: the reason, with what to use instead. */
export const SWEEP_REFUSED: Readonly<Record<string, string>> = Object.fromEntries(
  RUN_OPTIONS.flatMap((o) => (typeof o.sweep === 'object' ? [[new Option(o.flags).long!, o.sweep.refused]] : [])),
);

/** Adds RUN_OPTIONS to `run`, or to `sweep` (refused ones hidden from its help). */
function addRunOptions(cmd: Command, command: 'run' | 'sweep'): Command {
  for (const def of RUN_OPTIONS) {
    const sweepWording = typeof def.sweep === 'string' && def.sweep !== 'same' ? def.sweep : def.description;
    const opt = new Option(def.flags, command === 'run' ? def.description : sweepWording);
    if (def.repeatable) opt.argParser(collect);
    if (def.choices) opt.choices(def.choices);
    if (def.defaultValue !== undefined) opt.default(def.defaultValue);
    if (command === 'sweep' && typeof def.sweep === 'object') opt.hideHelp();
    cmd.addOption(opt);
  }
  return cmd;
}

/** The refused options a sweep was given, each with its reason (in RUN_OPTIONS' order). */
function sweepRefusals(flags: SharedFlags): InputProblem[] {
  const given = new Map<string, unknown>(Object.entries(flags));
  return RUN_OPTIONS.flatMap((def) => {
    if (typeof def.sweep !== 'object') return [];
    const opt = new Option(def.flags);
    return given.get(opt.attributeName()) === undefined ? [] : [{ path: opt.long!, message: def.sweep.refused }];
  });
}

/** `--checkpoint` and `--workers`, checked; a bad value becomes a problem that says so. */
function parseSharedFlags(checkpoint: string, workers: string, problems: InputProblem[]): { checkpointS: number; workers: number } {
  const checkpointS = Number(checkpoint);
  // the run's tick (100 ms) is when a checkpoint can start, and Node's timers wait at most 24.8 days
  if (!(checkpointS >= 0.1 && checkpointS <= 2_073_600))
    problems.push({
      path: '--checkpoint',
      message: `expected a number of seconds from 0.1 (the run's 100 ms tick, when a checkpoint starts) to 2073600 (24d), found "${checkpoint}"`,
    });
  return { checkpointS, workers: parseWorkers(workers, problems) };
}

/** `text` in lines of at most `width` characters, broken at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/** The live progress line, on a TTY unless --quiet. */
async function liveProgress(quiet: boolean | undefined): Promise<ExecuteOptions['progress']> {
  if (quiet || process.stderr.isTTY !== true) return undefined;
  const { startProgress } = await import('./progress.js');
  return (engine, recorder, totalS, now) => startProgress(engine, recorder, totalS, now);
}

/** `HOST:PORT`, `[::1]:PORT` or `:PORT` (loopback); null when it is not one. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '127.0.0.1' : m[2]);
  return { host, port };
}

/** `--metrics-listen`, `--remote-write`, `--dashboard`, `--dashboard-host`, checked; undefined when none is given. */
function parseLiveFlags(
  flags: { metricsListen?: string; remoteWrite?: string; dashboard?: string | boolean; dashboardHost?: string },
  problems: InputProblem[],
): LiveOptions | undefined {
  const live: LiveOptions = {};
  if (flags.metricsListen !== undefined) {
    const at = parseHostPort(flags.metricsListen);
    if (at === null) problems.push({ path: '--metrics-listen', message: `expected HOST:PORT like 127.0.0.1:9464 (or :9464 on loopback), found "${flags.metricsListen}"` });
    else live.metricsListen = at;
  }
  if (flags.remoteWrite !== undefined) {
    let ok = false;
    try {
      ok = /^https?:$/.test(new URL(flags.remoteWrite).protocol);
    } catch {
      ok = false;
    }
    // never echoed: a receiver's URL may carry a token
    if (!ok) problems.push({ path: '--remote-write', message: 'expected an http(s) URL of a remote-write receiver, like http://127.0.0.1:9090/api/v1/write' });
    else live.remoteWrite = flags.remoteWrite;
  }
  if (flags.dashboard !== undefined) {
    const port = flags.dashboard === true ? 0 : Number(flags.dashboard);
    if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push({ path: '--dashboard', message: `expected a port 0-65535 (or nothing: any free port), found "${String(flags.dashboard)}"` });
    else live.dashboard = { host: flags.dashboardHost ?? '127.0.0.1', port };
  } else if (flags.dashboardHost !== undefined) problems.push({ path: '--dashboard-host', message: 'give --dashboard too: the host is where the dashboard binds' });
  return Object.keys(live).length > 0 ? live : undefined;
}

/** `--shard`, `--shards`, `--start-at` and `--run-id`, checked: each bad one becomes a problem. */
async function parseShardFlags(
  flags: { shard?: string; shards?: string; startAt?: string; startTimeout?: string; runId?: string },
  problems: InputProblem[],
): Promise<Pick<ExecuteOptions, 'shard' | 'startAt' | 'runId' | 'syncTimeoutS'>> {
  const [{ parseShard, shardFromEnv }, { parseStartAt }, { parseDurationS }] = await Promise.all([
    import('../core/shard.js'),
    import('./start-at.js'),
    import('../config/duration.js'),
  ]);
  const out: Pick<ExecuteOptions, 'shard' | 'startAt' | 'runId' | 'syncTimeoutS'> = {};
  if (flags.startTimeout !== undefined) {
    const s = parseDurationS(flags.startTimeout);
    if (s === undefined || !(s > 0)) problems.push({ path: '--start-timeout', message: `expected a duration like 15m, found "${flags.startTimeout}"` });
    else out.syncTimeoutS = s;
  }
  const take = (f: () => void): void => {
    try {
      f();
    } catch (err) {
      if (err instanceof InvalidInputError) problems.push(...err.problems);
      else throw err;
    }
  };
  if (flags.shard !== undefined && flags.shards !== undefined)
    problems.push({ path: '--shards', message: 'give --shard INDEX/COUNT or --shards COUNT (the index from JOB_COMPLETION_INDEX), not both' });
  else if (flags.shard !== undefined) take(() => (out.shard = parseShard(flags.shard!)));
  else if (flags.shards !== undefined) take(() => (out.shard = shardFromEnv(flags.shards!)));
  if (flags.startAt !== undefined) take(() => (out.startAt = parseStartAt(flags.startAt!)));
  if (flags.runId !== undefined) {
    if (/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(flags.runId)) out.runId = flags.runId;
    else problems.push({ path: '--run-id', message: `expected letters, digits, "_", ".", ":" or "-" (at most 128), found "${flags.runId}"` });
  }
  return out;
}

/** `--workers`: an integer 1..MAX_WORKERS; otherwise a problem that says so (and the value 1). */
function parseWorkers(value: string, problems: InputProblem[]): number {
  const n = Number(value);
  if (/^\s*\d+\s*$/.test(value) && Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS) return n;
  problems.push({ path: '--workers', message: workersProblem(value) });
  return 1;
}

/** argv as recorded in results.json: values of --set that look like secrets are masked. */
export function redactArgv(argv: string[]): string[] {
  return argv.map((a) => {
    // a URL (--target, --metrics, or one inside --set x=URL) keeps its shape, its secrets masked as
    // every output masks them: a password, a user name alone, every query value
    const url = /[a-z][a-z0-9+.-]*:\/\/\S+/i.exec(a);
    if (url) {
      try {
        return a.slice(0, url.index) + parseTarget(url[0]).display + a.slice(url.index + url[0].length);
      } catch {
        // not a URL after all: the rule below
      }
    }
    return /(key|token|secret|password)\s*=/i.test(a) ? a.replace(/=.*/, '=***') : a;
  });
}

/**
 * Exits once what was written to stdout and stderr has left the process. Writes to a pipe are
 * asynchronous in Node, and exiting at once cut them (`inferload scrape --json | wc -c` read
 * 65 536 bytes); a write's callback runs after every earlier write to that stream. A reader that
 * never reads does not hold the process for more than 10 s.
 */
function exitWhenWritten(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  setTimeout(() => process.exit(code), 10_000).unref();
  for (const stream of [process.stdout, process.stderr])
    if (stream.writableLength === 0 || stream.destroyed) done();
    else stream.write('', () => done());
}

export async function main(argv: string[] = process.argv): Promise<void> {
  followParent();
  const program = buildProgram(exitWhenWritten);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    exitWhenWritten(handleError(err));
  }
}

/** Prints an error the way a person can act on it and returns its exit code. */
export function handleError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
    // commander printed the message already
    return ExitCode.invalidInput;
  }
  if (err instanceof InferloadError) {
    process.stderr.write(`inferload: ${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`inferload: internal error (a bug; please report it): ${(err as Error)?.stack ?? String(err)}\n`);
  return ExitCode.internal;
}

/**
 * In the child process bin/inferload.js starts for run and sweep: the IPC channel to the parent
 * must not keep this process alive, and if the parent is killed outright (kill -9, an OOM kill),
 * this process goes the same way at once, leaving what a killed run leaves (the last checkpoint),
 * and its simulator, which watches this process in turn, with it.
 */
function followParent(): void {
  if (!process.env.INFERLOAD_PARENT || !process.connected) return;
  process.channel?.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}
