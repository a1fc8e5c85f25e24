// `inferload scrape SOURCE`: parse one endpoint (URL), file or stdin (-) and print its canonical
// signals for a person, or cli.md's stable JSON; `--check` is a format check like promtool's.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode } from '../core/errors.js';
import { ACCEPT_OPENMETRICS, ACCEPT_PROMETHEUS, fetchExposition } from '../scrape/fetch.js';
import { parseExposition, type ParseResult } from '../scrape/parser.js';
import { cumulativeSignals, rateSignals, snapshotSignals, type GpuSignals, type Signals, type SignalSnapshot } from '../scrape/signals.js';

/** Flags of `inferload scrape`. */
export interface ScrapeCommandOptions {
  /** one scrape even for a URL (no counter rates) */
  once?: boolean;
  /** print cli.md's stable JSON shape */
  json?: boolean;
  /** default 'auto'; 'openmetrics' also turns on strict OpenMetrics validation */
  format?: 'auto' | 'prometheus' | 'openmetrics';
  /** exit 104 when any line breaks the format (implies one scrape) */
  check?: boolean;
  /** pause between the two scrapes of a URL; default 1000 (tests shorten it) */
  intervalMs?: number;
  /** per-scrape timeout; default 10 000 */
  timeoutMs?: number;
}

/** Where the command writes and reads. */
export interface ScrapeCommandIo {
  stdout(s: string): void;
  stderr(s: string): void;
  /** read for SOURCE `-`; default process.stdin */
  stdin?: NodeJS.ReadableStream;
}

/** cli.md's `inferload scrape --json` shape (stable), plus `interval_s` and `cumulative`. */
export interface ScrapeJson {
  source: string;
  format: 'prometheus' | 'openmetrics';
  profiles: string[];
  signals: Signals;
  per_gpu: GpuSignals[];
  families: { name: string; type: string; help: string; unit: string; samples: number }[];
  problems: { line: number; message: string }[];
  /** seconds between the two scrapes the rates cover, or null after one scrape */
  interval_s: number | null;
  /** counter totals and histogram statistics since the server started */
  cumulative: Record<string, number>;
}

const MAX_INPUT_BYTES = 64 * 1024 * 1024;
const FORMATS = ['auto', 'prometheus', 'openmetrics'] as const;

/** Runs `inferload scrape SOURCE`; resolves to the exit code (0, or 104 for bad input / a failed check). */
export async function runScrapeCommand(source: string, opts: ScrapeCommandOptions, io: ScrapeCommandIo): Promise<number> {
  const format = opts.format ?? 'auto';
  if (!(FORMATS as readonly string[]).includes(format)) {
    io.stderr(`inferload scrape: --format: expected auto, prometheus or openmetrics, found "${clean(String(format))}"\n`);
    return ExitCode.invalidInput;
  }
  const isUrl = /^https?:\/\//i.test(source);
  const load = async (): Promise<{ text: string; contentType?: string }> => {
    if (source === '-') return { text: await readStream(io.stdin ?? process.stdin) };
    if (isUrl) {
      const got = await fetchExposition(source, { timeoutMs: opts.timeoutMs ?? 10_000, accept: format === 'openmetrics' ? ACCEPT_OPENMETRICS : ACCEPT_PROMETHEUS });
      return got.contentType === undefined ? { text: got.text } : { text: got.text, contentType: got.contentType };
    }
    return { text: await readFile(source, 'utf8') };
  };

  let first: { text: string; contentType?: string };
  try {
    first = await load();
  } catch (err) {
    io.stderr(`inferload scrape: cannot read ${source === '-' ? 'stdin' : source}: ${clean(errorMessage(err))}\n`);
    return ExitCode.invalidInput;
  }
  const firstAtMs = performance.now();
  let parsed = parseExposition(first.text, { format, ...(first.contentType !== undefined ? { contentType: first.contentType } : {}) });
  let snap = snapshotSignals(parsed);
  let rates: Signals = {};
  let intervalS: number | null = null;

  if (isUrl && !opts.once && !opts.check) {
    await sleep(opts.intervalMs ?? 1000);
    try {
      const second = await load();
      const nowMs = performance.now();
      const parsed2 = parseExposition(second.text, { format, ...(second.contentType !== undefined ? { contentType: second.contentType } : {}) });
      const snap2 = snapshotSignals(parsed2);
      intervalS = (nowMs - firstAtMs) / 1000;
      rates = rateSignals(snap, snap2, intervalS);
      parsed = parsed2;
      snap = snap2;
    } catch (err) {
      io.stderr(`inferload scrape: second scrape failed (${clean(errorMessage(err))}); showing the first only, without rates\n`);
    }
  }

  const signals: Signals = { ...snap.signals, ...rates };
  const cumulative = cumulativeSignals(snap);
  if (opts.json) {
    io.stdout(JSON.stringify(toJson(source, parsed, snap, signals, intervalS, cumulative)) + '\n');
  } else if (opts.check) {
    printProblems(parsed, io);
    io.stdout(parsed.problems.length === 0 ? `${source}: ok (${parsed.format}${parsed.strict ? ', strict' : ''}, ${parsed.families.length} families)\n` : `${source}: ${parsed.problems.length} problem${parsed.problems.length === 1 ? '' : 's'}\n`);
  } else {
    io.stdout(renderHuman(source, parsed, snap, signals, rates, intervalS, cumulative));
    printProblems(parsed, io);
  }
  return opts.check && parsed.problems.length > 0 ? ExitCode.invalidInput : ExitCode.ok;
}

/** Control characters (C0, DEL, C1) and bidi overrides removed: server strings must not drive the terminal. */
export function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
}

function toJson(source: string, parsed: ParseResult, snap: SignalSnapshot, signals: Signals, intervalS: number | null, cumulative: Record<string, number>): ScrapeJson {
  return {
    source,
    format: parsed.format,
    profiles: snap.profiles,
    signals,
    per_gpu: snap.perGpu.map((g) => ({ ...g, gpu: clean(g.gpu), uuid: clean(g.uuid) })),
    families: parsed.families.map((f) => ({ name: clean(f.name), type: f.type, help: clean(f.help), unit: clean(f.unit), samples: f.samples.length })),
    problems: parsed.problems.map((p) => ({ line: p.line, message: clean(p.message) })),
    interval_s: intervalS,
    cumulative,
  };
}

function printProblems(parsed: ParseResult, io: ScrapeCommandIo): void {
  const shown = parsed.problems.slice(0, 20);
  for (const p of shown) io.stderr(`line ${p.line}: ${clean(p.message)}\n`);
  if (parsed.problems.length > shown.length) io.stderr(`... and ${parsed.problems.length - shown.length} more problems (--json lists them all)\n`);
}

const SIGNAL_ORDER = [
  'requests_running',
  'queue_depth',
  'kv_cache_usage_ratio',
  'prefix_cache_hit_ratio',
  'preemptions_per_s',
  'prompt_tokens_per_s',
  'generation_tokens_per_s',
  'server_ttft_s_p50',
  'server_ttft_s_p95',
  'server_ttft_s_p99',
  'server_ttft_s_mean',
  'server_itl_s_p50',
  'server_itl_s_p95',
  'server_itl_s_p99',
  'server_itl_s_mean',
  'server_e2e_s_p50',
  'server_e2e_s_p95',
  'server_e2e_s_p99',
  'server_e2e_s_mean',
  'server_queue_time_s_p50',
  'server_queue_time_s_p95',
  'server_queue_time_s_p99',
  'server_queue_time_s_mean',
  'gpu_count',
  'gpu_utilization_ratio',
  'gpu_sm_active_ratio',
  'gpu_memory_used_ratio',
  'gpu_memory_used_bytes',
  'gpu_memory_free_bytes',
  'gpu_memory_total_bytes',
  'gpu_power_watts',
];

function renderHuman(source: string, parsed: ParseResult, snap: SignalSnapshot, signals: Signals, rates: Signals, intervalS: number | null, cumulative: Record<string, number>): string {
  const lines: string[] = [];
  const samples = parsed.families.reduce((n, f) => n + f.samples.length, 0);
  lines.push(`${source}`);
  lines.push(
    `  ${parsed.format}${parsed.strict ? ' (strict)' : ''} · ${parsed.families.length} families · ${samples} samples · ${parsed.problems.length} problem${parsed.problems.length === 1 ? '' : 's'} · profile${snap.profiles.length === 1 ? '' : 's'}: ${snap.profiles.length > 0 ? snap.profiles.join(', ') : 'none recognised'}`,
  );
  lines.push(intervalS === null ? '  one scrape: gauges only (a URL without --once is scraped twice for rates)' : `  two scrapes ${intervalS.toFixed(2)} s apart: rates and server_* values cover that interval`);
  const sourceOf = (key: string, overInterval: boolean): string => {
    const base = key.replace(/_(p50|p95|p99|mean|count)$/, '').replace(/_per_s$/, '_total');
    if (key === 'prefix_cache_hit_ratio' && (overInterval ? key in rates : true)) return `${overInterval ? 'Δ' : ''}prefix_cache_hits / ${overInterval ? 'Δ' : ''}prefix_cache_queries`;
    if (key === 'gpu_count') return 'distinct GPUs';
    return snap.sources[key] ?? snap.sources[base] ?? (key.startsWith('gpu_memory_') ? 'derived' : '');
  };
  const rows: [string, string, string][] = [];
  const keys = [...SIGNAL_ORDER.filter((k) => k in signals), ...Object.keys(signals).filter((k) => !SIGNAL_ORDER.includes(k))];
  for (const k of keys) rows.push([k, formatValue(k, (signals as Record<string, number>)[k]!), clean(sourceOf(k, true))]);
  lines.push('');
  if (rows.length === 0) lines.push('  no canonical signal found');
  else for (const l of table(['signal', 'value', 'from'], rows)) lines.push(`  ${l}`);

  const cumKeys = Object.keys(cumulative);
  if (cumKeys.length > 0) {
    lines.push('', '  since the server started');
    const cumRows: [string, string, string][] = [];
    for (const k of cumKeys) cumRows.push([k, formatValue(k, cumulative[k]!), clean(sourceOf(k, false))]);
    for (const l of table(['counter / histogram', 'value', 'from'], cumRows)) lines.push(`  ${l}`);
  }

  if (snap.perGpu.length > 0) {
    lines.push('', `  GPUs (${snap.perGpu.length})`);
    const cols = ['gpu_utilization_ratio', 'gpu_sm_active_ratio', 'gpu_memory_used_ratio', 'gpu_memory_used_bytes', 'gpu_memory_free_bytes', 'gpu_power_watts'] as const;
    const present = cols.filter((c) => snap.perGpu.some((g) => g[c] !== undefined));
    const header = ['gpu', 'uuid', ...present.map((c) => c.replace(/^gpu_/, ''))];
    const gpuRows = snap.perGpu.map((g) => [clean(g.gpu), clean(g.uuid), ...present.map((c) => (g[c] === undefined ? '-' : formatValue(c, g[c])))]);
    for (const l of table(header, gpuRows)) lines.push(`  ${l}`);
  }
  if (snap.unmapped.length > 0) lines.push('', `  kept raw: ${snap.unmapped.length} other famil${snap.unmapped.length === 1 ? 'y' : 'ies'} (not canonical signals; --json lists every family)`);
  return lines.join('\n') + '\n';
}

function formatValue(key: string, v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (key.endsWith('_bytes')) return `${Math.round(v)} (${(v / 1024 ** 3).toFixed(2)} GiB)`;
  if (key.endsWith('_ratio')) return v.toFixed(3);
  if (key.endsWith('_per_s') || key.endsWith('_watts')) return v.toFixed(1);
  if (/_s_(p50|p95|p99|mean)$/.test(key)) return v >= 1 ? `${v.toFixed(3)} s` : `${(v * 1000).toFixed(1)} ms`;
  return Number.isInteger(v) ? String(v) : v.toPrecision(6);
}

/**
 * Rows as aligned columns. Widths are found and lines added in loops: spreading the rows into
 * Math.max or push passes one argument per row, and an exporter's 150 000 GPUs overflowed the stack.
 */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h) => h.length);
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [fmt(header)];
  for (const r of rows) out.push(fmt(r));
  return out;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += buf.length;
    if (bytes > MAX_INPUT_BYTES) throw new Error(`input larger than ${MAX_INPUT_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
