// A tokenizer whose pre-tokenizer does not split at spaces, with a merge across two words: the
// one-token-words construction fails its check when loaded, and each prompt is counted and
// corrected instead (`synthesis: adjusted`): the planned count stays the tokenizer's own.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { loadTokenizer } from '../../../src/workload/tokenizer.js';

function crossWordTokenizer(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const vocab: Record<string, number> = { 'Ġ': 0 };
  for (const c of letters) vocab[c] = Object.keys(vocab).length;
  const merges: string[] = [];
  for (const c of 'bcdfg') {
    for (const v of 'aeio') {
      vocab[c + v] = Object.keys(vocab).length;
      vocab['Ġ' + c + v] = Object.keys(vocab).length;
      merges.push(`${c} ${v}`, `Ġ ${c}${v}`);
    }
  }
  // "ba be" is one token, at the start of a text and after a space: the construction's premise fails
  vocab['baĠbe'] = Object.keys(vocab).length;
  vocab['ĠbaĠbe'] = Object.keys(vocab).length;
  merges.push('ba Ġbe', 'Ġba Ġbe');
  const json = {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: null,
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  const dir = mkdtempSync(join(tmpdir(), 'inferload-tok-adj-'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  return join(dir, 'tokenizer.json');
}

describe('a tokenizer the words construction does not fit', () => {
  it('adjusts each prompt against its real count', async () => {
    const tok = await loadTokenizer(crossWordTokenizer(), 'completions');
    expect(await tok.count('ba be')).toBe(1);
    expect(tok.info().synthesis).toBe('adjusted');
    const rng = new Rng(4);
    let exact = 0;
    for (let i = 0; i < 200; i++) {
      const asked = rng.int(1, 120);
      const p = tok.synthesize(asked, rng, i);
      // the planned figure is the tokenizer's count whatever happened
      expect(await tok.countPrompt(p.text)).toBe(p.tokens);
      if (p.tokens === asked) exact++;
    }
    expect(exact).toBe(200);
    // an adjusted tokenizer keeps its vocabulary: it counts every prompt
    tok.release();
    expect(await tok.count('ba')).toBe(1);
  });
});
