// undici, loaded piece by piece. The package's index loads everything it has (fetch, WebSocket,
// caches, mocks, proxies): 270 ms of CPU at every start of the CLI, against 100 ms for the three
// pieces inferload uses (the connection pool the client streams through, an agent and the
// request API for the few plain GETs: /models and /metrics). undici has no exports map, so these
// paths are public in the package's sense; a test runs a request through each piece.
import PoolModule from 'undici/lib/dispatcher/pool.js';
import AgentModule from 'undici/lib/dispatcher/agent.js';
import requestModule from 'undici/lib/api/api-request.js';
import type { Dispatcher, Pool as PoolType, Agent as AgentType } from 'undici';

/** undici's Pool (the same class as `import { Pool } from 'undici'`). */
export const Pool = PoolModule as unknown as typeof PoolType;

/** undici's Agent. */
export const Agent = AgentModule as unknown as typeof AgentType;

type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod };

let shared: AgentType | null = null;

/**
 * `dispatcher.request(options)`: the method undici's index adds to every dispatcher, which the
 * pieces loaded here lack (a Pool's `request` is undefined unless something loaded the index).
 */
export function requestOn(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  const fn = requestModule as unknown as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
  return fn.call(dispatcher, options);
}

/** `undici.request(url, options)` on a shared agent (what undici's global dispatcher is). */
export function request(url: string | URL, options: RequestOptions = {}): Promise<Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  shared ??= new Agent();
  return requestOn(shared, {
    ...options,
    origin: u.origin,
    path: u.search ? `${u.pathname}${u.search}` : u.pathname,
    method: options.method ?? 'GET',
  } as Dispatcher.RequestOptions);
}

/**
 * A response body read as UTF-8 text up to `maxBytes`: past it, the body is destroyed (the
 * connection closed) and `over` is true, with what was read so far. Every answer read outside
 * the stream is bounded so: a server decides its size.
 */
export async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<{ text: string; over: boolean }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (bytes + b.length > maxBytes) {
      chunks.push(b.subarray(0, maxBytes - bytes));
      body.destroy();
      return { text: Buffer.concat(chunks).toString('utf8'), over: true };
    }
    bytes += b.length;
    chunks.push(b);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), over: false };
}
