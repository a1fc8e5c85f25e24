// The workload: what each request asks for. Synthetic prompts of a sampled length, exact under
// the run's tokenizer (tokenizer.ts), or prompts from a JSONL dataset; output lengths sampled
// likewise. Deterministic for the seed: request k of a run with seed s is always the same request.
import { readFileSync } from 'node:fs';
import { InvalidInputError, type InputProblem } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { approxTokenCount } from '../core/tokens.js';
import type { Endpoint, WorkloadSpec } from '../core/types.js';
import type { GenRequest } from '../backend/types.js';
import { sampleLength } from './lengths.js';
import { approximateTokenizer, type Tokenizer } from './tokenizer.js';

export interface DatasetEntry {
  prompt: string;
  /** requested output length; the workload's distribution when absent */
  outputTokens?: number;
  promptTokens: number;
}

/** Reads a JSONL dataset: one `{"prompt": "...", "output_tokens": N}` object a line. */
export function readDataset(path: string): DatasetEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidInputError(
      [{ path: 'workload.dataset', message: `cannot read ${path}: ${(e as Error).message}; give a path to a JSONL file` }],
    );
  }
  const problems: InputProblem[] = [];
  const out: DatasetEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `workload.dataset (${path}:${i + 1})`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      problems.push({ path: where, message: `not JSON (${(e as Error).message}); expected {"prompt": "...", "output_tokens": 128}` });
      continue;
    }
    const o = obj as { prompt?: unknown; output_tokens?: unknown; max_tokens?: unknown };
    if (typeof obj !== 'object' || obj === null || typeof o.prompt !== 'string' || o.prompt.length === 0) {
      problems.push({ path: where, message: 'expected an object with a non-empty string "prompt"' });
      continue;
    }
    const ot = o.output_tokens ?? o.max_tokens;
    if (ot !== undefined && !(typeof ot === 'number' && Number.isInteger(ot) && ot > 0)) {
      problems.push({ path: where, message: `"output_tokens" must be a positive integer, found ${JSON.stringify(ot)}` });
      continue;
    }
    out.push({ prompt: o.prompt, outputTokens: ot as number | undefined, promptTokens: approxTokenCount(o.prompt) });
    if (problems.length >= 20) break;
  }
  if (problems.length === 0 && out.length === 0) problems.push({ path: 'workload.dataset', message: `${path} holds no prompts` });
  if (problems.length > 0) throw new InvalidInputError(problems, path);
  return out;
}

export class Workload {
  private readonly dataset: DatasetEntry[] | null;
  private readonly order: number[] = [];
  /** counts and builds prompts: the approximation unless the run loaded a tokenizer */
  readonly tokenizer: Tokenizer;

  constructor(
    private readonly spec: WorkloadSpec,
    private readonly seed: number,
    private readonly endpoint: Endpoint,
    dataset?: DatasetEntry[],
    tokenizer?: Tokenizer,
  ) {
    this.tokenizer = tokenizer ?? approximateTokenizer(endpoint);
    this.dataset = dataset ?? (spec.dataset ? readDataset(spec.dataset) : null);
    if (this.dataset) {
      // a seeded shuffle, then the dataset is cycled through in that order
      const rng = Rng.derive(seed, 'dataset-order');
      for (let i = 0; i < this.dataset.length; i++) this.order.push(i);
      for (let i = this.order.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
      }
    }
  }

  /** Request number `id` of the run (deterministic for the seed). */
  request(id: number): GenRequest {
    const rng = Rng.derive(this.seed ^ Math.imul(id + 1, 0x9e3779b1), 'request');
    let prompt: string;
    let promptTokens: number;
    let maxTokens: number;
    if (this.dataset) {
      const entry = this.dataset[this.order[id % this.order.length]!]!;
      prompt = entry.prompt;
      promptTokens = entry.promptTokens;
      maxTokens = entry.outputTokens ?? sampleLength(this.spec.outputTokens, rng);
    } else {
      const planned = sampleLength(this.spec.promptTokens, rng);
      maxTokens = sampleLength(this.spec.outputTokens, rng);
      // exact under the tokenizer, the template's tokens included (a length below the template's
      // own is raised to the fewest possible)
      const synthetic = this.tokenizer.synthesize(planned, rng, id);
      prompt = synthetic.text;
      promptTokens = synthetic.tokens;
    }
    return this.endpoint === 'chat'
      ? { messages: [{ role: 'user', content: prompt }], maxTokens, promptTokens }
      : { prompt, maxTokens, promptTokens };
  }
}
