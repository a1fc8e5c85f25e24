// One HTTP GET of a metrics endpoint with undici: Accept negotiation, a hard timeout, a size cap,
// gzip/deflate bodies, HTTP Basic credentials. Shared by `inferload scrape` and the run-time scraper.
import { gunzipSync, inflateSync } from 'node:zlib';
import { request } from '../core/http.js';
import { ExitCode, InferloadError } from '../core/errors.js';
import { parseTarget } from '../core/secret.js';

/** `authorization` header values by origin: the run's target's credentials (setScrapeCredentials) */
const credentials = new Map<string, string>();

/**
 * Scrapes of `origin` (scheme, host and port) send `authorization` (null: nothing), unless their
 * URL carries credentials of its own. The run sets its target's: the server's /metrics sits
 * behind the same auth proxy as its API more often than not, and the URL the scraper shows
 * (`{origin}/metrics`) must hold no password.
 */
export function setScrapeCredentials(origin: string, authorization: string | null): void {
  if (authorization === null) credentials.delete(origin);
  else credentials.set(origin, authorization);
}

/** Accept header preferring Prometheus text 0.0.4 (prometheus_client switches to OpenMetrics whenever the header mentions it). */
export const ACCEPT_PROMETHEUS = 'text/plain;version=0.0.4;q=1.0,*/*;q=0.1';
/** Accept header preferring OpenMetrics 1.0. */
export const ACCEPT_OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** A scrape that could not be done: unreachable, timed out, non-2xx, too large. */
export class ScrapeFetchError extends InferloadError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IL_SCRAPE_FAILED', message, ExitCode.invalidInput, options);
  }
}

/** Options of {@link fetchExposition}. */
export interface FetchExpositionOptions {
  /** the whole exchange, headers and body; default 10 000 */
  timeoutMs?: number;
  accept?: string;
  /** refuse bodies larger than this (decoded); default 64 MiB */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** A fetched exposition. */
export interface FetchedExposition {
  text: string;
  contentType: string | undefined;
  status: number;
  /** body size as received (before decompression) */
  bytes: number;
  elapsedMs: number;
}

/** GETs `url` and returns its text. Throws {@link ScrapeFetchError} with a readable message. */
export async function fetchExposition(url: string, options: FetchExpositionOptions = {}): Promise<FetchedExposition> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  // messages show the URL masked (a URL that does not parse has nothing to mask)
  let where = url;
  let redact = (text: string): string => text;
  try {
    // a user and password in the URL go as HTTP Basic (curl's rule)
    const target = parseTarget(url);
    where = target.display;
    redact = target.redact;
    const authorization = target.authorization ?? credentials.get(target.origin);
    const res = await request(url, {
      method: 'GET',
      headers: { accept: options.accept ?? ACCEPT_PROMETHEUS, ...(authorization !== undefined && { authorization }) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal,
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      bytes += buf.length;
      if (bytes > maxBytes) {
        res.body.destroy();
        throw new ScrapeFetchError(`${where}: response larger than ${maxBytes} bytes`);
      }
      chunks.push(buf);
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw new ScrapeFetchError(`${where}: HTTP ${res.statusCode}`);
    let body = Buffer.concat(chunks);
    const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
    if (encoding === 'gzip' || encoding === 'x-gzip') body = gunzipSync(body, { maxOutputLength: maxBytes });
    else if (encoding === 'deflate') body = inflateSync(body, { maxOutputLength: maxBytes });
    const ct = res.headers['content-type'];
    return { text: body.toString('utf8'), contentType: Array.isArray(ct) ? ct[0] : ct, status: res.statusCode, bytes, elapsedMs: performance.now() - started };
  } catch (err) {
    if (err instanceof ScrapeFetchError) throw err;
    if (timeout.aborted) throw new ScrapeFetchError(`${where}: no complete answer within ${timeoutMs} ms`, { cause: err });
    const e = err as { code?: string; message?: string };
    throw new ScrapeFetchError(`${where}: ${redact(`${e.code ? `${e.code} ` : ''}${e.message ?? String(err)}`)}`, { cause: err });
  }
}
