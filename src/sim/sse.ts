// Byte-exact OpenAI/vLLM response frames for the simulator: SSE chunks pre-serialised per request
// (template strings, ~6x cheaper than JSON.stringify per token), the generated words, and the
// OpenAI-style error bodies.

/** Which OpenAI API a request came through. */
export type ApiKind = 'chat' | 'completions';

/** Short, JSON-safe, single-token words with their leading space: the simulated output. */
const VOCAB = [
  ' the', ' of', ' and', ' to', ' a', ' in', ' is', ' it', ' that', ' for', ' on', ' was', ' with', ' as',
  ' be', ' at', ' by', ' this', ' from', ' or', ' have', ' an', ' not', ' are', ' but', ' which', ' one',
  ' all', ' they', ' we', ' can', ' more', ' time', ' when', ' there', ' so', ' some', ' what', ' up',
  ' out', ' about', ' into', ' than', ' them', ' only', ' other', ' new', ' also', ' after', ' first',
  ' many', ' then', ' two', ' these', ' may', ' like', ' over', ' most', ' such', ' work', ' well',
  ' way', ' even', ' model',
] as const;

/** The text of token `tokenCount` (1-based) of request `ordinal`: deterministic, no state. */
export function tokenText(ordinal: number, tokenCount: number): string {
  const h = (Math.imul(ordinal + 1, 0x9e3779b1) ^ Math.imul(tokenCount, 0x85ebca6b)) >>> 0;
  return VOCAB[h % VOCAB.length]!;
}

/** The whole output of a request, for non-streaming responses. */
export function outputText(ordinal: number, tokens: number): string {
  let s = '';
  for (let i = 1; i <= tokens; i++) s += tokenText(ordinal, i);
  return s;
}

export const DONE_FRAME = 'data: [DONE]\n\n';

/**
 * vLLM's in-stream error (`create_streaming_error_response`): Python's `json.dumps`, hence the
 * spaces after separators; vLLM follows it with `data: [DONE]`.
 */
export const STREAM_ERROR_FRAME =
  'data: {"error": {"message": "Internal server error", "type": "InternalServerError", "param": null, "code": 500}}\n\n';

/** The SSE frames of one streaming response. `emitMs` (when given) is added to each chunk. */
export interface StreamFrames {
  /** chat only: the role-only first chunk */
  role(emitMs?: number): string;
  token(text: string, emitMs?: number): string;
  /** the last content chunk, carrying the finish reason */
  last(text: string, finishReason: 'length' | 'stop', emitMs?: number): string;
  /**
   * `choices: []` with the usage (stream_options.include_usage); `cachedTokens` (prefix-cache
   * hits) adds `prompt_tokens_details.cached_tokens`, as vLLM does
   */
  usage(promptTokens: number, completionTokens: number, emitMs?: number, cachedTokens?: number): string;
}

function close(emitMs: number | undefined): string {
  return emitMs === undefined ? '}\n\n' : `,"inferload_emit_ms":${emitMs}}\n\n`;
}

/** Frames for one request; the constant parts are built once here. */
export function streamFrames(kind: ApiKind, id: string, created: number, modelName: string): StreamFrames {
  const modelJson = JSON.stringify(modelName);
  const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const envelope = `data: {"id":"${id}","object":"${object}","created":${created},"model":${modelJson},"choices":`;
  const usage = (p: number, c: number, emitMs?: number, cached?: number): string =>
    `${envelope}[],"usage":{"prompt_tokens":${p},"total_tokens":${p + c},"completion_tokens":${c}` +
    `${cached === undefined ? '' : `,"prompt_tokens_details":{"cached_tokens":${cached}}`}}${close(emitMs)}`;
  switch (kind) {
    case 'chat': {
      const head = `${envelope}[{"index":0,"delta":`;
      return {
        role: (emitMs) =>
          `${head}{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]${close(emitMs)}`,
        token: (text, emitMs) =>
          `${head}{"content":"${text}"},"logprobs":null,"finish_reason":null}]${close(emitMs)}`,
        last: (text, reason, emitMs) =>
          `${head}{"content":"${text}"},"logprobs":null,"finish_reason":"${reason}","stop_reason":null}]${close(emitMs)}`,
        usage,
      };
    }
    case 'completions': {
      const head = `${envelope}[{"index":0,"text":"`;
      return {
        role: () => '',
        token: (text, emitMs) =>
          `${head}${text}","logprobs":null,"finish_reason":null,"stop_reason":null}]${close(emitMs)}`,
        last: (text, reason, emitMs) =>
          `${head}${text}","logprobs":null,"finish_reason":"${reason}","stop_reason":null}]${close(emitMs)}`,
        usage,
      };
    }
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown api kind ${String(unreachable)}`);
    }
  }
}

/** OpenAI/vLLM error body: `{"error":{"message","type","param","code"}}`. */
export function errorBody(status: number, type: string, message: string, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code: status } });
}
