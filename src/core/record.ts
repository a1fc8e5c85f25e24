// The per-request record: raw stamps and counts, filled in by the backend, read by the
// recorder. Stamps are µs since the run's start on the run clock; NaN means "never happened".
import type { ErrorClass } from './types.js';

export class RequestRecord {
  /** the request's number in arrival order (0-based) */
  readonly id: number;
  /** when the schedule said to send it */
  readonly intendedStartUs: number;
  sentUs = NaN;
  headersUs = NaN;
  /** first SSE event that parsed to a chunk with a non-empty `choices` array */
  firstChunkUs = NaN;
  /** first chunk whose delta carried non-empty content/text/reasoning_content */
  firstTokenUs = NaN;
  endUs = NaN;
  /** arrival of every content-bearing chunk, the first token's included */
  chunkUs: number[] = [];
  /** characters of content carried by each content-bearing chunk (token apportioning) */
  chunkChars: number[] = [];
  /** ground truth from a server that stamps its own emit time (benchmarks), epoch ms */
  emitMs: number[] | null = null;
  httpStatus = 0;
  ok = false;
  errorClass: ErrorClass | 'aborted' | null = null;
  errorMessage: string | null = null;
  /** the prompt tokens the workload planned: exact under a tokenizer, an estimate under the approximation */
  promptTokensPlanned: number;
  /** the max_tokens the request asked for (0: not sent) */
  outputTokensAsked = 0;
  promptTokensUsage: number | null = null;
  /** `usage.prompt_tokens_details.cached_tokens`: prompt tokens the server found in its prefix cache; null: not reported */
  cachedTokensUsage: number | null = null;
  /** the shared-prefix group the prompt started with (workload.sharedPrefix); null: none */
  prefixGroup: number | null = null;
  outputTokensUsage: number | null = null;
  /** the request class (workload.classes); null: none */
  className: string | null = null;
  /** the model name asked for when the run mixes models (target.models); null: the run's model */
  model: string | null = null;
  /** sessions: the session's number and the turn (1 = the first); null without sessions */
  session: number | null = null;
  turn: number | null = null;
  /** target.urls: the replica (its index in the list) the request went to; null with one URL */
  replica: number | null = null;
  /** the reply's text as streamed, kept only when the request asked (captureReply); null otherwise */
  reply: string | null = null;
  finishReason: string | null = null;
  /** arrived during the warm-up: kept out of the summary */
  readonly warmup: boolean;
  /** never sent: the max-in-flight cap was reached when it arrived */
  dropped = false;

  constructor(id: number, intendedStartUs: number, promptTokensPlanned: number, warmup: boolean) {
    this.id = id;
    this.intendedStartUs = intendedStartUs;
    this.promptTokensPlanned = promptTokensPlanned;
    this.warmup = warmup;
  }

  get outputChunks(): number {
    return this.chunkUs.length;
  }

  /** `usage.completion_tokens`, or the chunk count when the server sent no usage */
  get outputTokens(): number {
    return this.outputTokensUsage ?? this.chunkUs.length;
  }

  get promptTokens(): number {
    return this.promptTokensUsage ?? this.promptTokensPlanned;
  }
}
