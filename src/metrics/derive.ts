// Pure derivations from one request's stamps, exactly as metrics.md defines them. Every
// consumer (recorder, tests, an independent recomputation from requests.jsonl) uses these.
import type { RequestRecord } from '../core/record.js';

export interface DerivedRequest {
  /** first_token − intended_start (coordinated-omission correct) */
  ttftUs: number;
  /** first_token − sent (what vLLM bench calls TTFT) */
  ttftSentUs: number;
  /** sent − intended_start */
  scheduleLagUs: number;
  /** end − intended_start */
  e2eUs: number;
  /** end − sent */
  e2eSentUs: number;
  /** (end − first_token) / (output_tokens − 1); NaN unless output_tokens > 1 */
  tpotUs: number;
  outputTokens: number;
  /** true when output_tokens is the chunk count because the server sent no usage */
  outputTokensEstimated: boolean;
}

/** The per-request latencies (NaN where a stamp is missing). */
export function derive(r: RequestRecord): DerivedRequest {
  const outputTokens = r.outputTokens;
  return {
    ttftUs: r.firstTokenUs - r.intendedStartUs,
    ttftSentUs: r.firstTokenUs - r.sentUs,
    scheduleLagUs: r.sentUs - r.intendedStartUs,
    e2eUs: r.endUs - r.intendedStartUs,
    e2eSentUs: r.endUs - r.sentUs,
    tpotUs: outputTokens > 1 ? (r.endUs - r.firstTokenUs) / (outputTokens - 1) : NaN,
    outputTokens,
    outputTokensEstimated: r.outputTokensUsage === null,
  };
}

/** A token count a server can have meant: a non-negative safe integer. */
export function isTokenCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * A server's usage.completion_tokens above this many times max(max_tokens, content chunks) is
 * not believed: max_tokens bounds what a server may generate, and a chunk carries at least one
 * token. The slack is for servers that count a token more (an EOS) or ignore max_tokens.
 */
export const USAGE_SLACK = 2;

/**
 * The usage.completion_tokens a request is counted with (metrics.md, `output_tokens`): the
 * server's figure when it is a token count no larger than USAGE_SLACK × max(max_tokens, content
 * chunks); otherwise null, so that the chunk count stands in for it and the request counts as
 * estimated. A negative, fractional or astronomic figure would otherwise become the run's
 * throughput, and its per-token ITL weights.
 */
export function believedUsage(usage: number | null, chunks: number, maxTokens: number): number | null {
  if (usage === null || !isTokenCount(usage)) return null;
  return usage <= USAGE_SLACK * Math.max(Number.isFinite(maxTokens) ? maxTokens : 0, chunks) ? usage : null;
}

/**
 * Calls `each(gapUs)` for every gap between consecutive content-bearing chunks after the
 * first token (per-chunk ITL, pooled like vLLM's).
 */
export function forEachItl(chunkUs: readonly number[], each: (gapUs: number) => void): void {
  for (let i = 1; i < chunkUs.length; i++) each(chunkUs[i]! - chunkUs[i - 1]!);
}

/**
 * How many tokens each content chunk carried. With one token per chunk (the usual case, and
 * whenever usage equals the chunk count) that is 1 each. Otherwise the usage total is
 * apportioned over the chunks by their content length (largest remainder), since the stream
 * does not say; a chunk gets at least one token.
 */
export function tokensPerChunk(chunkChars: readonly number[], outputTokensUsage: number | null): number[] {
  const n = chunkChars.length;
  const total = outputTokensUsage ?? n;
  if (total <= n) return new Array<number>(n).fill(1);
  let chars = 0;
  for (const c of chunkChars) chars += c;
  const extra = total - n; // tokens beyond the one each chunk surely carries
  const out = new Array<number>(n).fill(1);
  if (chars === 0) {
    for (let i = 0; i < extra; i++) out[i % n]! += 1;
    return out;
  }
  const remainders: { i: number; frac: number }[] = [];
  let given = 0;
  for (let i = 0; i < n; i++) {
    const exact = (extra * chunkChars[i]!) / chars;
    const whole = Math.floor(exact);
    out[i]! += whole;
    given += whole;
    remainders.push({ i, frac: exact - whole });
  }
  remainders.sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (let k = 0; k < extra - given; k++) out[remainders[k]!.i]! += 1;
  return out;
}

/**
 * Calls `each(gapPerTokenUs, tokens)` for every chunk gap after the first token: the gap
 * divided by the tokens the later chunk carried, to be recorded once per token.
 */
export function forEachItlPerToken(
  chunkUs: readonly number[],
  tokens: readonly number[],
  each: (gapPerTokenUs: number, tokens: number) => void,
): void {
  for (let i = 1; i < chunkUs.length; i++) {
    const k = tokens[i] ?? 1;
    each((chunkUs[i]! - chunkUs[i - 1]!) / k, k);
  }
}
