// The run's files: requests.jsonl streamed line by line during the run, results.json written
// atomically (write a temporary file, then rename), so a crash at any moment leaves either
// the previous complete checkpoint or the new one on disk, never half a file.
import { createWriteStream, mkdirSync, renameSync, writeFileSync, type WriteStream } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestRecord } from '../core/record.js';
import type { RunResult } from './types.js';

const ms = (us: number): number | null => (Number.isNaN(us) ? null : Math.round(us) / 1000);

/** One requests.jsonl line (cli.md's stable fields; times in ms since the run's start). */
export function requestLine(r: RequestRecord, recordChunks: boolean): string {
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
    output_tokens: r.dropped ? 0 : r.outputTokens,
    output_tokens_usage: r.outputTokensUsage,
    output_chunks: r.outputChunks,
    warmup: r.warmup,
    dropped: r.dropped,
  };
  if (r.errorMessage !== null) o.error = r.errorMessage;
  if (r.finishReason !== null) o.finish_reason = r.finishReason;
  if (recordChunks) o.chunk_ms = r.chunkUs.map((t) => Math.round(t) / 1000);
  if (r.emitMs !== null) o.emit_ms = r.emitMs;
  return JSON.stringify(o);
}

export class RunOutput {
  readonly dir: string;
  private readonly requests: WriteStream;
  private serverMetrics: WriteStream | null = null;
  private checkpointing: Promise<void> | null = null;
  private closed = false;

  constructor(
    dir: string,
    private readonly recordChunks: boolean,
  ) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.requests = createWriteStream(join(dir, 'requests.jsonl'), { flags: 'w' });
    // a full disk must not crash the run: the summary is still written at the end
    this.requests.on('error', () => undefined);
  }

  get resultsPath(): string {
    return join(this.dir, 'results.json');
  }

  writeRequest(r: RequestRecord): void {
    if (!this.closed) this.requests.write(requestLine(r, this.recordChunks) + '\n');
  }

  /** One line of server-metrics.jsonl: a scrape, with its raw samples (created on first use). */
  writeServerSample(line: Record<string, unknown>): void {
    if (this.closed) return;
    if (!this.serverMetrics) {
      this.serverMetrics = createWriteStream(join(this.dir, 'server-metrics.jsonl'), { flags: 'w' });
      this.serverMetrics.on('error', () => undefined);
    }
    this.serverMetrics.write(JSON.stringify(line) + '\n');
  }

  /** Rewrites results.json in the background (skipped while the previous one is in flight). */
  checkpoint(result: RunResult): void {
    if (this.checkpointing) return;
    const tmp = `${this.resultsPath}.tmp-${process.pid}`;
    const text = JSON.stringify(result);
    this.checkpointing = writeFile(tmp, text)
      .then(() => rename(tmp, this.resultsPath))
      .catch(() => undefined)
      .finally(() => {
        this.checkpointing = null;
      });
  }

  /** The final results.json, synchronously (it must land even when the process is about to exit). */
  writeFinal(result: RunResult): void {
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
    this.closed = true;
    await new Promise<void>((resolve) => this.requests.end(resolve));
    const sm = this.serverMetrics;
    if (sm) await new Promise<void>((resolve) => sm.end(resolve));
  }
}
