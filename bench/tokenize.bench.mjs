// Prompt preparation under a real tokenizer: what workload.tokenizer costs a run, all of it before
// the run clock starts or off the send path.
//   - load: reading a family's tokenizer.json and finding its one-token words (once per run);
//   - retained: the heap a loaded tokenizer keeps (after full collections) and a full collection's
//     time with it: the simulator holds one for the whole run, on the cores the load generator
//     uses, and the load generator collects its own before the run clock (settleHeap);
//   - synthesis: building exact-length prompts (what the workload does per request; no tokenizing),
//     in prompt tokens per second, with every prompt checked afterwards against the tokenizer;
//   - counting: tokenizing text with the chat template (what a dataset's prompts cost when loaded);
//   - server calibration: `tokenizer: server` against the simulator's POST /tokenize.
// Target: synthesis well above any run's need (1000 req/s of 1000-token prompts = 1 M tokens/s).
import { report, long } from './lib.mjs';
import { loadTokenizer, LocalTokenizer } from '../dist/workload/tokenizer.js';
import { Rng } from '../dist/core/rng.js';
import { startSimServer } from '../dist/sim/server.js';

const PROMPTS = long ? 20_000 : 4_000;
const MEAN_TOKENS = 512;

// bench/run.mjs runs each benchmark with --expose-gc
const gc = globalThis.gc;
/** The heap in use after full collections, or null without gc. */
const heapUsed = () => {
  if (!gc) return null;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
// the libraries loaded first, so that only the tokenizer counts as retained
await Promise.all([import('@huggingface/tokenizers'), import('@huggingface/jinja')]);

// a function per family: its frame, and the tokenizer with it, is gone before the next is measured
async function benchFamily(family) {
  const heapBefore = heapUsed();
  let t0 = performance.now();
  const local = await LocalTokenizer.load({ kind: 'family', family });
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  const tok = local.forEndpoint('chat');
  const bindMs = performance.now() - t0;
  report({ bench: `tokenize.load.${family}`, value: loadMs + bindMs, unit: 'ms', better: 'lower', params: { read_and_build_ms: Math.round(loadMs), one_token_words_ms: Math.round(bindMs) } });
  if (heapBefore !== null) {
    const retained = heapUsed() - heapBefore;
    t0 = performance.now();
    gc();
    const fullGcMs = performance.now() - t0;
    report({ bench: `tokenize.retained.${family}`, value: retained / 1e6, unit: 'MB', better: 'lower', params: { full_gc_ms: Math.round(fullGcMs) } });
  }

  // the workload's own draws: a length, then the prompt
  const rng = new Rng(7);
  const lengths = Array.from({ length: PROMPTS }, () => Math.max(tok.minPromptTokens, Math.round(rng.lognormal(MEAN_TOKENS, 128))));
  const prompts = new Array(PROMPTS);
  let tokens = 0;
  t0 = performance.now();
  for (let i = 0; i < PROMPTS; i++) {
    const p = tok.synthesize(lengths[i], rng, i);
    prompts[i] = p;
    tokens += p.tokens;
  }
  const synthS = (performance.now() - t0) / 1000;
  report({ bench: `tokenize.synthesis.${family}`, value: tokens / synthS, unit: 'tokens/s', better: 'higher', target: 1_000_000, params: { prompts: PROMPTS, mean_tokens: MEAN_TOKENS, endpoint: 'chat' } });

  // every prompt recounted through the chat template: the exactness check, timed as counting
  let mismatches = 0;
  t0 = performance.now();
  for (const p of prompts) if ((await tok.countPrompt(p.text)) !== p.tokens) mismatches++;
  const countS = (performance.now() - t0) / 1000;
  report({ bench: `tokenize.count.${family}`, value: tokens / countS, unit: 'tokens/s', better: 'higher', params: { prompts: PROMPTS, endpoint: 'chat' } });
  report({ bench: `tokenize.mismatches.${family}`, value: mismatches, unit: 'prompts', better: 'lower', target: 0, params: { prompts: PROMPTS } });
}

for (const family of ['llama3', 'qwen3']) await benchFamily(family);

const sim = await startSimServer({ tokenizer: 'llama3', speed: 50 });
try {
  const t0 = performance.now();
  const tok = await loadTokenizer('server', 'chat', { baseUrl: sim.url, model: sim.profile.modelName, authorization: null });
  report({ bench: 'tokenize.server_calibration', value: performance.now() - t0, unit: 'ms', better: 'lower', params: { server: 'simulator, llama3', overhead_tokens: tok.overhead } });
} finally {
  await sim.close();
}
