// `workload.tokenizer: server`: the target's own tokenizer, through its tokenize endpoint, calibrated
// before the run clock starts (nothing here runs on the send path).
//
// The endpoints (all at the server's root, not under /v1):
//   vLLM, SGLang: POST /tokenize {model, prompt, add_special_tokens} → {count, tokens, max_model_len};
//                 vLLM also takes {model, messages} and applies the chat template
//   llama.cpp:    POST /tokenize {content, add_special} → {tokens: [...]} (and POST /apply-template)
//   TGI:          POST /tokenize {inputs, add_special_tokens} → [{id, text, start, stop}, ...]
//                 (and POST /chat_tokenize with a chat request)
// Calibration keeps the words of vocabulary.ts the server counts as one token each (in groups,
// halved where a group counts more), then measures what the endpoint adds around a prompt (BOS,
// the chat template) from the usage of two one-token generations of synthetic prompts: the server's
// own figure, whatever its template or BOS handling. The two must agree, and the tokenize endpoint
// must count the synthetic texts exactly, or the run refuses to start (a words construction the
// server does not honour cannot give exact lengths).
import { readCapped, request } from '../core/http.js';
import { InvalidInputError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { parseTarget } from '../core/secret.js';
import type { Endpoint } from '../core/types.js';
import { VOCABULARY } from './vocabulary.js';
import { WordSynthesizer, type ChatMessage, type Tokenizer, type TokenizerInfo, type TokenizerTarget } from './tokenizer.js';

type Dialect = 'vllm' | 'llamacpp' | 'tgi';

const DIALECT_NAMES: Record<Dialect, string> = {
  vllm: 'POST /tokenize (vLLM, SGLang)',
  llamacpp: 'POST /tokenize (llama.cpp)',
  tgi: 'POST /tokenize (TGI)',
};

const CALL_TIMEOUT_MS = 30_000;
/** The most bytes of one tokenize answer read (a token list of a 100 000-token prompt is under 1 MiB). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** words whose bare form (a prompt's first word) is checked one request each */
const HEAD_WORDS = 64;
const PARALLEL = 8;

class TokenizeClient {
  private readonly root: string;
  private readonly query: string;
  private readonly api: string;
  dialect: Dialect = 'vllm';

  constructor(
    private readonly target: TokenizerTarget,
    private readonly authorization: string | null,
  ) {
    const t = parseTarget(target.baseUrl);
    this.root = t.origin + t.path.replace(/\/v1$/, '');
    this.api = t.origin + t.path;
    this.query = t.query;
  }

  async post(url: string, body: unknown): Promise<{ status: number; json: unknown; text: string }> {
    const res = await request(url + this.query, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'accept-encoding': 'identity',
        ...(this.authorization !== null && { authorization: this.authorization }),
      },
      body: JSON.stringify(body),
      headersTimeout: CALL_TIMEOUT_MS,
      bodyTimeout: CALL_TIMEOUT_MS,
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const { text, over } = await readCapped(res.body, MAX_ANSWER_BYTES);
    if (over) throw new InvalidInputError([{ path: 'workload.tokenizer', message: `the server's tokenize endpoint (${url.replace(/\?.*$/, '')}) answered with a body over ${MAX_ANSWER_BYTES / (1024 * 1024)} MiB, cut there: not a token count; use a tokenizer file or family instead of server` }]);
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: the caller reports the status and the text
    }
    return { status: res.statusCode, json, text };
  }

  /** Which tokenize endpoint the server has; null when none answers. */
  async detect(): Promise<Dialect | null> {
    const probe = 'hello world';
    const vllm = await this.post(`${this.root}/tokenize`, { model: this.target.model, prompt: probe, add_special_tokens: false });
    if (vllm.status === 200 && typeof (vllm.json as { count?: unknown })?.count === 'number') return (this.dialect = 'vllm');
    const llama = await this.post(`${this.root}/tokenize`, { content: probe, add_special: false });
    const tokens = (llama.json as { tokens?: unknown })?.tokens;
    if (llama.status === 200 && Array.isArray(tokens) && tokens.length > 0) return (this.dialect = 'llamacpp');
    const tgi = await this.post(`${this.root}/tokenize`, { inputs: probe, add_special_tokens: false });
    if (tgi.status === 200 && Array.isArray(tgi.json) && tgi.json.length > 0) return (this.dialect = 'tgi');
    return null;
  }

  /** Tokens of `text` alone, as the server counts them. */
  async count(text: string): Promise<number> {
    switch (this.dialect) {
      case 'vllm': {
        const r = await this.post(`${this.root}/tokenize`, { model: this.target.model, prompt: text, add_special_tokens: false });
        return countOf(r, (j) => (j as { count?: unknown }).count);
      }
      case 'llamacpp': {
        const r = await this.post(`${this.root}/tokenize`, { content: text, add_special: false });
        return countOf(r, (j) => (j as { tokens?: unknown[] }).tokens?.length);
      }
      case 'tgi': {
        const r = await this.post(`${this.root}/tokenize`, { inputs: text, add_special_tokens: false });
        return countOf(r, (j) => (Array.isArray(j) ? j.length : undefined));
      }
    }
  }

  /** A whole conversation with the chat template, where the endpoint offers it (vLLM); else null. */
  async countChat(messages: readonly ChatMessage[]): Promise<number | null> {
    if (this.dialect !== 'vllm') return null;
    const r = await this.post(`${this.root}/tokenize`, { model: this.target.model, messages, add_generation_prompt: true });
    if (r.status !== 200) return null;
    return countOf(r, (j) => (j as { count?: unknown }).count);
  }

  /** usage.prompt_tokens of a one-token generation of `text` on the endpoint, or null without usage. */
  async promptUsage(endpoint: Endpoint, text: string): Promise<number | null> {
    const body =
      endpoint === 'chat'
        ? { model: this.target.model, messages: [{ role: 'user', content: text }], max_tokens: 1, temperature: 0, stream: false }
        : { model: this.target.model, prompt: text, max_tokens: 1, temperature: 0, stream: false };
    const r = await this.post(`${this.api}/${endpoint === 'chat' ? 'chat/completions' : 'completions'}`, body);
    if (r.status !== 200) throw new Error(`HTTP ${r.status} from a one-token ${endpoint} request: ${r.text.slice(0, 300)}`);
    const n = (r.json as { usage?: { prompt_tokens?: unknown } } | null)?.usage?.prompt_tokens;
    return typeof n === 'number' && Number.isInteger(n) ? n : null;
  }
}

function countOf(r: { status: number; json: unknown; text: string }, get: (json: object) => unknown): number {
  const n = r.status === 200 && typeof r.json === 'object' && r.json !== null ? get(r.json) : undefined;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`HTTP ${r.status} from the tokenize endpoint: ${r.text.slice(0, 300)}`);
  return n;
}

class ServerTokenizer extends WordSynthesizer implements Tokenizer {
  readonly kind = 'server' as const;
  readonly name: string;

  constructor(
    private readonly client: TokenizeClient,
    readonly endpoint: Endpoint,
    protected readonly head: readonly string[],
    protected readonly list: readonly string[],
    readonly overhead: number,
  ) {
    super();
    this.name = DIALECT_NAMES[client.dialect];
  }

  count(text: string): Promise<number> {
    return this.client.count(text);
  }

  async countPrompt(prompt: string | readonly ChatMessage[]): Promise<number> {
    if (typeof prompt === 'string') return (await this.count(prompt)) + this.overhead;
    if (prompt.length === 1) return (await this.count(prompt[0]!.content)) + this.overhead;
    if (this.endpoint === 'chat') {
      const whole = await this.client.countChat(prompt);
      if (whole !== null) return whole;
    }
    // a conversation where the server cannot template it for us: its contents and one message's overhead
    let n = this.overhead;
    for (const m of prompt) n += await this.count(m.content);
    return n;
  }

  release(): void {
    // nothing held: counting asks the server
  }

  info(): TokenizerInfo {
    return {
      kind: 'server',
      name: this.name,
      chat_template: this.endpoint === 'chat' ? true : null,
      overhead_tokens: this.overhead,
      synthesis: 'words',
      note:
        this.endpoint === 'chat' && this.client.dialect !== 'vllm'
          ? 'the overhead of one message was measured on the server; a conversation of several messages counts its contents plus that overhead'
          : null,
    };
  }
}

/** Calibrates the words and the overhead against the target; throws 104 naming workload.tokenizer when it cannot. */
export async function calibrateServerTokenizer(target: TokenizerTarget, endpoint: Endpoint): Promise<Tokenizer> {
  const fail = (message: string): InvalidInputError => new InvalidInputError([{ path: 'workload.tokenizer', message: `server: ${message}` }]);
  const client = new TokenizeClient(target, target.authorization);
  let dialect: Dialect | null;
  try {
    dialect = await client.detect();
  } catch (e) {
    throw fail(`the tokenize endpoint did not answer (${(e as Error).message}); name the model's tokenizer.json or a family instead`);
  }
  if (dialect === null) {
    throw fail(
      'the target has no tokenize endpoint (tried POST /tokenize as vLLM and SGLang, llama.cpp and TGI take it, at the server\'s root); ' +
        "name the model's tokenizer.json or a family (llama3, qwen3) instead",
    );
  }
  try {
    const list = await oneTokenGroups(client, [...VOCABULARY]);
    const head: string[] = [];
    const firsts = list.slice(0, HEAD_WORDS);
    for (let i = 0; i < firsts.length; i += PARALLEL) {
      const batch = firsts.slice(i, i + PARALLEL);
      const counts = await Promise.all(batch.map((w) => client.count(w)));
      batch.forEach((w, j) => counts[j] === 1 && head.push(w));
    }
    if (list.length < 16 || head.length === 0) {
      throw fail(`the server counts too few of inferload's words as one token (${list.length} after a space, ${head.length} at the start); name the model's tokenizer.json instead`);
    }
    // the overhead, measured twice on prompts of different lengths: it must not depend on the length
    const probe = new ServerTokenizer(client, endpoint, head, list, 0);
    const rng = Rng.derive(3, 'server-tokenizer');
    const overheads: number[] = [];
    for (const size of [16, 200]) {
      const p = probe.synthesize(size, rng, rng.nextU32());
      const counted = await client.count(p.text);
      if (counted !== p.tokens) {
        throw fail(`the tokenize endpoint counts ${counted} tokens in a synthetic text of ${p.tokens} one-token words: exact lengths cannot be built this way; name the model's tokenizer.json instead`);
      }
      const usage = await client.promptUsage(endpoint, p.text);
      if (usage === null) throw fail(`a one-token ${endpoint} request came back without usage.prompt_tokens, so the template's tokens cannot be measured; name the model's tokenizer.json instead`);
      overheads.push(usage - p.tokens);
    }
    if (overheads[0] !== overheads[1] || overheads[0]! < 0) {
      throw fail(`the server adds ${overheads.join(' and ')} tokens around prompts of 16 and 200 words: not a fixed overhead; name the model's tokenizer.json instead`);
    }
    return new ServerTokenizer(client, endpoint, head, list, overheads[0]!);
  } catch (e) {
    if (e instanceof InvalidInputError) throw e;
    throw fail(`calibration failed: ${(e as Error).message}`);
  }
}

/** The words the server counts as one token after a space: a group at a time, halved where it counts more. */
async function oneTokenGroups(client: TokenizeClient, words: string[]): Promise<string[]> {
  const n = await client.count(' ' + words.join(' '));
  if (n === words.length) return words;
  if (words.length === 1) return [];
  const mid = words.length >> 1;
  const [a, b] = await Promise.all([oneTokenGroups(client, words.slice(0, mid)), oneTokenGroups(client, words.slice(mid))]);
  return [...a, ...b];
}
