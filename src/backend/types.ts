// The backend seam: send one request, stamp what happens to it, call back once at the end.
// Backends only stamp; every derived figure is computed later by metrics/.
import type { RequestRecord } from '../core/record.js';
import type { AbortClass } from '../core/types.js';

/** One generation request, ready to send. */
export interface GenRequest {
  /** chat messages, for the chat endpoint */
  messages?: { role: string; content: string }[];
  /** raw prompt, for the completions endpoint */
  prompt?: string;
  maxTokens: number;
  /** the prompt's approximate token count */
  promptTokens: number;
  /** the workload's shared-prefix group the prompt starts with (workload.sharedPrefix); absent: none */
  prefixGroup?: number;
  /** the request class (workload.classes); absent: none */
  className?: string;
  /** the model to ask for (target.models); absent: the run's model */
  model?: string;
  /** sessions: the session's number and this turn's (1 = the first) */
  session?: number;
  turn?: number;
  /** keep the reply's text (delta.content, or text) in the record: the next turn resends it */
  captureReply?: boolean;
  /** extra request headers (lower-case names), e.g. the session header */
  headers?: Record<string, string>;
}

export interface RequestHandle {
  /** stop the request now; it ends with `errorClass` (e.g. 'timeout' or 'aborted') */
  abort(errorClass: AbortClass, message: string): void;
}

/** How many SSE events each parsing path of the client handled. */
export interface ParseStats {
  /** matched the stream's learned chunk template: no framing, no parsing */
  template: number;
  /** classified by bounded string searches */
  search: number;
  /** parsed with JSON.parse */
  json: number;
}

export interface Backend {
  /**
   * Send `req`, stamping into `record` as events happen; `done` is called exactly once, when
   * the request has ended (success or failure), never synchronously from `send`.
   */
  send(req: GenRequest, record: RequestRecord, done: (record: RequestRecord) => void): RequestHandle;
  close(): Promise<void>;
  /** runs the send path's code on `req` once without sending it (before the run clock starts) */
  warm?(req: GenRequest): void;
  /** events per parsing path so far, over every request sent (a backend that parses streams) */
  parseStats?(): ParseStats;
}
