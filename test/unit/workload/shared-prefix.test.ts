// workload.sharedPrefix: each group's prefix exact under the tokenizer, the prompt's own part right
// after it, the groups assigned by the seed (share) or in turn (promptsPerGroup).
import { describe, expect, it } from 'vitest';
import type { WorkloadSpec } from '../../../src/core/types.js';
import { loadTokenizer } from '../../../src/workload/tokenizer.js';
import { Workload } from '../../../src/workload/workload.js';

const base: WorkloadSpec = {
  promptTokens: { dist: 'uniform', min: 50, max: 300 },
  outputTokens: { dist: 'fixed', value: 8 },
  ignoreEos: true,
  minTokens: false,
  temperature: 0,
};

describe('shared prefixes', () => {
  it('under llama3: each prompt is its group prefix then its own part, exactly as many tokens as planned', async () => {
    for (const endpoint of ['chat', 'completions'] as const) {
      const tokenizer = await loadTokenizer('llama3', endpoint);
      const w = new Workload({ ...base, sharedPrefix: { groups: 3, prefixTokens: 1024, share: 0.8 } }, 7, endpoint, undefined, tokenizer);
      expect(w.prefixes).toHaveLength(3);
      for (const p of w.prefixes) expect(await tokenizer.count(p.text)).toBe(1024);
      let prefixed = 0;
      for (let id = 0; id < 40; id++) {
        const req = w.request(id);
        const text = endpoint === 'chat' ? req.messages![0]!.content : req.prompt!;
        expect(await tokenizer.countPrompt(endpoint === 'chat' ? req.messages! : text), `${endpoint} ${id}`).toBe(req.promptTokens);
        if (req.prefixGroup === undefined) {
          expect(req.promptTokens).toBeLessThanOrEqual(300);
          continue;
        }
        prefixed++;
        const prefix = w.prefixes[req.prefixGroup]!.text;
        expect(text.startsWith(prefix + ' ')).toBe(true);
        // the prompt's own part adds promptTokens' sample to the prefix
        expect(req.promptTokens).toBeGreaterThanOrEqual(1024 + 50);
        expect(req.promptTokens).toBeLessThanOrEqual(1024 + 300);
      }
      expect(prefixed).toBeGreaterThan(20);
      expect(prefixed).toBeLessThan(40);
    }
  });

  it('prompts of one group differ right after the prefix', () => {
    const w = new Workload({ ...base, sharedPrefix: { groups: 1, prefixTokens: 64, promptsPerGroup: 5 } }, 1, 'completions');
    const after = (id: number): string => w.request(id).prompt!.slice(w.prefixes[0]!.text.length + 1).split(' ')[0]!;
    expect(new Set([0, 1, 2, 3, 4].map(after)).size).toBe(5);
  });

  it('share: the groups are drawn by the seed, the same for the same seed; the lengths are those of the run without prefixes', () => {
    const shared = { ...base, sharedPrefix: { groups: 8, prefixTokens: 100, share: 0.5 } };
    const a = new Workload(shared, 3, 'chat');
    const b = new Workload(shared, 3, 'chat');
    const c = new Workload(shared, 4, 'chat');
    const plain = new Workload(base, 3, 'chat');
    const groups = (w: Workload): (number | null)[] => Array.from({ length: 200 }, (_, id) => w.prefixGroup(id));
    expect(groups(a)).toEqual(groups(b));
    expect(groups(a)).not.toEqual(groups(c));
    const ga = groups(a);
    const carried = ga.filter((g) => g !== null).length;
    expect(carried).toBeGreaterThan(70);
    expect(carried).toBeLessThan(130);
    expect(new Set(ga.filter((g) => g !== null)).size).toBe(8);
    for (let id = 0; id < 20; id++) {
      const r = a.request(id);
      expect(r.maxTokens).toBe(plain.request(id).maxTokens);
      expect(r.promptTokens).toBe(plain.request(id).promptTokens + (ga[id] === null ? 0 : 100));
    }
  });

  it('promptsPerGroup: consecutive requests per group, the groups in turn, every request prefixed', () => {
    const w = new Workload({ ...base, sharedPrefix: { groups: 3, prefixTokens: 16, promptsPerGroup: 2 } }, 1, 'chat');
    expect(Array.from({ length: 8 }, (_, id) => w.prefixGroup(id))).toEqual([0, 0, 1, 1, 2, 2, 0, 0]);
    expect(w.request(5).prefixGroup).toBe(2);
  });
});
