// The run's files: requests.jsonl streamed line by line during the run, results.json written
// atomically (write a temporary file, then rename), so a crash at any moment leaves either
// the previous complete checkpoint or the new one on disk, never half a file.
import { closeSync, mkdirSync, openSync, renameSync, statSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { InputProblem } from '../core/errors.js';
import type { RequestRecord } from '../core/record.js';
import { outputDirProblem } from './out-dir.js';
import type { RunResult } from './types.js';

/**
 * The files of a run (or a merge) that must be regular files (or not exist yet) in its directory:
 * a directory in the place of a report failed only after the run, with exit 0 and no report.
 */
const RUN_FILES = ['results.json', 'requests.jsonl', 'server-metrics.jsonl', 'report.md', 'report.html', 'junit.xml'] as const;

/** The first of the run's own files in `dir` that is there but not a regular file, as a problem with `--out`. */
export function runFilesProblem(dir: string): InputProblem | null {
  for (const file of RUN_FILES) {
    const found = statOrNull(join(dir, file));
    if (found !== null && !found.isFile())
      return {
        path: '--out',
        message: `${join(dir, file)} is ${found.isDirectory() ? 'a directory' : 'not a regular file'}: inferload writes a file there; remove it, or choose another directory`,
      };
  }
  return null;
}

/**
 * Makes `dir` a run's output directory before anything starts (the simulator, the preflight), or
 * says why it cannot be one: a bad `--out` (a file, /dev/null, "", a place that cannot be
 * written) otherwise failed once the run was under way, with a stack trace and exit 1. Beyond
 * what every command's `--out` must be, the directory is created here (some places refuse only
 * then, /proc/x), and the run's own files in it must be files.
 */
export function prepareRunOutput(dir: string): InputProblem | null {
  const problem = outputDirProblem(dir);
  if (problem !== null) return problem;
  try {
    makeDirectory(dir);
  } catch (e) {
    return { path: '--out', message: `cannot create ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another directory` };
  }
  return runFilesProblem(dir);
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdirSync never returns where mkdir answers
 * ENOENT under a directory that exists (`/proc/x` on Linux: it creates the parent, finds it
 * there, and tries again forever).
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); statOrNull(at) === null; at = dirname(at)) {
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const ms = (us: number): number | null => (Number.isNaN(us) ? null : Math.round(us) / 1000);

/** One requests.jsonl line (cli.md's stable fields; times in ms since the run's start). */
export function requestLine(r: RequestRecord, recordChunks: boolean): string {
  return JSON.stringify(requestObject(r, recordChunks));
}

function requestObject(r: RequestRecord, recordChunks: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: r.id,
    intended_start_ms: ms(r.intendedStartUs),
    sent_ms: ms(r.sentUs),
    headers_ms: ms(r.headersUs),
    first_chunk_ms: ms(r.firstChunkUs),
    first_token_ms: ms(r.firstTokenUs),
    end_ms: ms(r.endUs),
    http_status: r.httpStatus === 0 ? null : r.httpStatus,
    ok: r.ok,
    error_class: r.errorClass,
    prompt_tokens: r.promptTokens,
    prompt_tokens_planned: r.promptTokensPlanned,
    output_tokens: r.dropped ? 0 : r.outputTokens,
    output_tokens_usage: r.outputTokensUsage,
    output_chunks: r.outputChunks,
    warmup: r.warmup,
    dropped: r.dropped,
  };
  if (r.errorMessage !== null) o.error = r.errorMessage;
  if (r.finishReason !== null) o.finish_reason = r.finishReason;
  if (r.cachedTokensUsage !== null) o.cached_tokens = r.cachedTokensUsage;
  if (r.prefixGroup !== null) o.prefix_group = r.prefixGroup;
  if (r.className !== null) o.class = r.className;
  if (r.session !== null) {
    o.session = r.session;
    o.turn = r.turn;
  }
  if (r.model !== null) o.model = r.model;
  if (r.replica !== null) o.replica = r.replica;
  if (recordChunks) o.chunk_ms = r.chunkUs.map((t) => Math.round(t) / 1000);
  if (r.emitMs !== null) o.emit_ms = r.emitMs;
  return o;
}

/**
 * Dropped arrivals that get a requests.jsonl line each; the ones after them are summarised, one
 * line per second of intended time (metrics.md "Dropped arrivals"). An arrival rate the server
 * cannot follow drops nearly every arrival: a line each wrote 22.9 GB in ten minutes at rate 1e9.
 */
export const DROPS_WRITTEN_EACH = 1000;

/** The dropped arrivals of one second (and one side of the warm-up) not yet written. */
interface DropSummary {
  first: RequestRecord;
  second: number;
  count: number;
  lastId: number;
  lastIntendedUs: number;
}

/** The line of a DropSummary: the first arrival's line, with how many it stands for and the last. */
function dropSummaryLine(d: DropSummary): string {
  return JSON.stringify({
    ...requestObject(d.first, false),
    dropped_count: d.count,
    last_id: d.lastId,
    last_intended_start_ms: ms(d.lastIntendedUs),
  });
}

/**
 * An append-only file of lines, written with synchronous writes of a buffer: every 250 ms, when
 * 64 KiB have gathered, and on `flush()`. Synchronous on purpose: a second Ctrl-C exits at once,
 * and a stream's queued writes would be lost with the process; a 64 KiB write costs ~50 µs.
 */
export class LineFile {
  private fd: number | null;
  private buf: string[] = [];
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;
  failed = false;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
    this.timer = setInterval(() => this.flush(), 250);
    this.timer.unref();
  }

  write(line: string): void {
    if (this.fd === null) return;
    this.buf.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= 65536) this.flush();
  }

  flush(): void {
    if (this.fd === null || this.buf.length === 0) return;
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    this.bytes = 0;
    try {
      writeSync(this.fd, text);
    } catch {
      // a full disk must not crash the run: results.json is still written at the end
      this.failed = true;
    }
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    clearInterval(this.timer);
    closeSync(this.fd);
    this.fd = null;
  }
}

export class RunOutput {
  readonly dir: string;
  private readonly requests: LineFile;
  private serverMetrics: LineFile | null = null;
  private checkpointing: Promise<void> | null = null;
  private closed = false;
  /** dropped arrivals seen so far */
  private drops = 0;
  private pendingDrops: DropSummary | null = null;

  constructor(
    dir: string,
    private readonly recordChunks: boolean,
  ) {
    this.dir = dir;
    makeDirectory(dir);
    this.requests = new LineFile(join(dir, 'requests.jsonl'));
  }

  get resultsPath(): string {
    return join(this.dir, 'results.json');
  }

  writeRequest(r: RequestRecord): void {
    if (this.closed) return;
    if (r.dropped && this.drops++ >= DROPS_WRITTEN_EACH) this.summariseDrop(r);
    else this.requests.write(requestLine(r, this.recordChunks));
  }

  private summariseDrop(r: RequestRecord): void {
    const second = Math.floor(r.intendedStartUs / 1e6);
    const p = this.pendingDrops;
    if (p !== null && p.second === second && p.first.warmup === r.warmup) {
      p.count++;
      p.lastId = r.id;
      p.lastIntendedUs = r.intendedStartUs;
      return;
    }
    this.writeDropSummary();
    this.pendingDrops = { first: r, second, count: 1, lastId: r.id, lastIntendedUs: r.intendedStartUs };
  }

  private writeDropSummary(): void {
    if (this.pendingDrops === null) return;
    this.requests.write(dropSummaryLine(this.pendingDrops));
    this.pendingDrops = null;
  }

  /** Writes the summary of dropped arrivals whose second is over at `nowUs` (the run's tick). */
  tick(nowUs: number): void {
    if (this.pendingDrops !== null && (this.pendingDrops.second + 1) * 1e6 <= nowUs) this.writeDropSummary();
  }

  /** One line of server-metrics.jsonl: a scrape, with its raw samples (created on first use). */
  writeServerSample(line: Record<string, unknown>): void {
    if (this.closed) return;
    this.serverMetrics ??= new LineFile(join(this.dir, 'server-metrics.jsonl'));
    this.serverMetrics.write(JSON.stringify(line));
  }

  /** closed windows never change: their JSON is made once, not at every checkpoint */
  private readonly windowJson = new WeakMap<object, string>();

  /** Rewrites results.json in the background (skipped while the previous one is in flight). */
  checkpoint(result: RunResult): void {
    if (this.checkpointing) return;
    const tmp = `${this.resultsPath}.tmp-${process.pid}`;
    const { windows, ...rest } = result;
    const parts = windows.map((w) => {
      let j = this.windowJson.get(w);
      if (j === undefined) {
        j = JSON.stringify(w);
        this.windowJson.set(w, j);
      }
      return j;
    });
    const head = JSON.stringify(rest);
    const text = `${head.slice(0, -1)},"windows":[${parts.join(',')}]}`;
    this.checkpointing = writeFile(tmp, text)
      .then(() => rename(tmp, this.resultsPath))
      .catch(() => undefined)
      .finally(() => {
        this.checkpointing = null;
      });
  }

  /** Writes out every line gathered so far, synchronously. */
  flushLines(): void {
    this.writeDropSummary();
    this.requests.flush();
    this.serverMetrics?.flush();
  }

  /** The final results.json, synchronously (it must land even when the process is about to exit). */
  writeFinal(result: RunResult): void {
    this.flushLines();
    const tmp = `${this.resultsPath}.tmp-${process.pid}-final`;
    writeFileSync(tmp, JSON.stringify(result, null, 1));
    renameSync(tmp, this.resultsPath);
  }

  /** Waits for a checkpoint in flight (so it cannot overwrite the final file). */
  async settle(): Promise<void> {
    if (this.checkpointing) await this.checkpointing;
  }

  /** Flushes and closes requests.jsonl. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.writeDropSummary();
    this.closed = true;
    this.requests.close();
    this.serverMetrics?.close();
  }
}
