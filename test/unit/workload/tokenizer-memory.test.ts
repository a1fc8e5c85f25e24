// What a local tokenizer keeps in memory. The simulator holds one for the whole run, on the cores
// the load generator runs on, and the load generator lets go of its own before the run clock
// starts (a full collection of it mid-run would pause the thread that stamps every chunk). Heap
// sizes after full collections, no timing: V8's gc function, exposed here as settleHeap does it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { LocalTokenizer, type Tokenizer } from '../../../src/workload/tokenizer.js';

const LOAD_MS = 60_000;

let gc: () => void;

/** The heap in use after full collections (WeakRefs cleared: they hold their target until the job ends). */
async function heapUsed(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Loaded in a frame of its own, so that no local of the test's keeps it alive. */
async function boundQwen3(): Promise<{ tok: Tokenizer; ref: WeakRef<LocalTokenizer> }> {
  const local = await LocalTokenizer.load({ kind: 'family', family: 'qwen3' });
  return { tok: local.forEndpoint('chat'), ref: new WeakRef(local) };
}

describe('a local tokenizer in memory', () => {
  beforeAll(() => {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  });

  it('keeps the maps it encodes with, not tokenizer.json\'s vocabulary and merges beside them', async () => {
    // the library imported first, so that only the tokenizer is measured
    await import('@huggingface/tokenizers');
    await import('@huggingface/jinja');
    const before = await heapUsed();
    const local = await LocalTokenizer.load({ kind: 'family', family: 'llama3' });
    const words = local.oneTokenWords();
    const retained = (await heapUsed()) - before;
    // 44 MB measured; 90 MB with tokenizer.json's model section kept referenced by the library
    expect(retained).toBeLessThan(60e6);
    expect(retained).toBeGreaterThan(20e6);
    // and it still counts as the full vocabulary does (a merge, BOS, the chat template)
    expect(local.count('hello world')).toBe(2);
    expect(local.countCompletion('hello world')).toBe(3);
    expect(local.countChat([{ role: 'user', content: 'hello world' }])).toBe(12);
    expect(words.length).toBe(4096);
  }, LOAD_MS);

  it('released, a bound tokenizer no longer holds the vocabulary: it is collected, synthesis goes on', async () => {
    const { tok, ref } = await boundQwen3();
    await heapUsed();
    // held by the bound tokenizer until released
    expect(ref.deref()).toBeDefined();
    tok.release();
    await heapUsed();
    expect(ref.deref()).toBeUndefined();
    expect(tok.synthesize(300, new Rng(1), 5).tokens).toBe(300);
  }, LOAD_MS);
});
