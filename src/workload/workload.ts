// The workload: what each request asks for. Synthetic prompts of a sampled length, exact under
// the run's tokenizer (tokenizer.ts), prompts from a dataset (dataset.ts), or a trace's requests
// (trace.ts); output lengths sampled likewise. Deterministic for the seed: request k of a run with
// seed s is always the same request.
import { Rng } from '../core/rng.js';
import type { Endpoint, ScenarioSpec, WorkloadSpec } from '../core/types.js';
import type { GenRequest } from '../backend/types.js';
import { datasetSampleSize, loadDataset, type Dataset } from './dataset.js';
import { sampleLength } from './lengths.js';
import { approximateTokenizer, type TokenText, type Tokenizer } from './tokenizer.js';
import { TraceReplay, type PreparedTrace } from './trace.js';

/**
 * The run's workload with its inputs read: the dataset sampled to the run's size (datasetSampleSize)
 * with the tokenizer's counts, and the trace's replay when the load is one (prepareTrace).
 */
export async function loadWorkload(spec: ScenarioSpec, tokenizer: Tokenizer, trace?: PreparedTrace | null): Promise<Workload> {
  const ds = spec.workload.dataset;
  const dataset =
    ds === undefined
      ? undefined
      : await loadDataset(ds, { tokenizer, seed: spec.seed, sampleSize: datasetSampleSize(spec), promptTokens: spec.workload.promptTokens });
  const replay = trace ? new TraceReplay(trace, tokenizer) : undefined;
  return new Workload(spec.workload, spec.seed, spec.target.endpoint, dataset, tokenizer, replay);
}

export class Workload {
  /** counts and builds prompts: the approximation unless the run loaded a tokenizer */
  readonly tokenizer: Tokenizer;
  readonly dataset: Dataset | null;
  readonly trace: TraceReplay | null;
  /** workload.sharedPrefix's prefix texts, one per group (exact under the tokenizer); empty without */
  readonly prefixes: readonly TokenText[];

  /**
   * `dataset`: a sampled dataset (loadDataset); `tokenizer`: counts and builds prompts, the
   * approximation when absent; `trace`: a trace's replay, whose records are the requests and whose
   * times the arrivals. loadWorkload reads the dataset and opens the trace.
   */
  constructor(
    private readonly spec: WorkloadSpec,
    private readonly seed: number,
    private readonly endpoint: Endpoint,
    dataset?: Dataset,
    tokenizer?: Tokenizer,
    trace?: TraceReplay,
  ) {
    this.tokenizer = tokenizer ?? approximateTokenizer(endpoint);
    this.dataset = dataset ?? null;
    this.trace = trace ?? null;
    const shared = spec.sharedPrefix;
    // each group's prefix from its own stream, so group g is the same text whatever `groups` is
    this.prefixes = shared
      ? Array.from({ length: shared.groups }, (_, g) => this.tokenizer.words(shared.prefixTokens, Rng.derive(seed, `prefix-${g}`)))
      : [];
  }

  /**
   * The shared-prefix group of request `id`, or null for none: `promptsPerGroup` consecutive
   * requests per group, the groups in turn; or `share` of the requests, each drawn to a group.
   * From a stream of its own, so the request's lengths are those of the same run without prefixes.
   */
  prefixGroup(id: number): number | null {
    const shared = this.spec.sharedPrefix;
    if (!shared) return null;
    if (shared.promptsPerGroup !== undefined) return Math.floor(id / shared.promptsPerGroup) % shared.groups;
    const rng = Rng.derive(this.seed ^ Math.imul(id + 1, 0x9e3779b1), 'prefix-group');
    if (rng.next() >= (shared.share ?? 0)) return null;
    return rng.nextU32() % shared.groups;
  }

  /** The trace's arrivals, for the engine's open loop of `executor: trace`. */
  arrivals(): TraceReplay {
    if (this.trace === null) throw new Error('executor trace: the workload was made without the trace (loadWorkload)');
    return this.trace;
  }

  /** Request number `id` of the run (deterministic for the seed). */
  request(id: number): GenRequest {
    if (this.trace) return this.trace.request(id);
    const rng = Rng.derive(this.seed ^ Math.imul(id + 1, 0x9e3779b1), 'request');
    if (this.dataset) {
      // the sample is in a random order already; a run longer than it cycles through it
      const entry = this.dataset.entries[id % this.dataset.entries.length]!;
      const maxTokens = entry.outputTokens ?? sampleLength(this.spec.outputTokens, rng);
      // the entry is as the endpoint takes it, conversations included
      return typeof entry.prompt === 'string'
        ? { prompt: entry.prompt, maxTokens, promptTokens: entry.promptTokens }
        : { messages: entry.prompt, maxTokens, promptTokens: entry.promptTokens };
    }
    const planned = sampleLength(this.spec.promptTokens, rng);
    const maxTokens = sampleLength(this.spec.outputTokens, rng);
    // exact under the tokenizer, the template's tokens included (a length below the template's
    // own is raised to the fewest possible). A shared prefix leads the prompt (the one user
    // message: the template's header, then the prefix, is the same token sequence for the whole
    // group) and the request's own part, from its id's words on, follows it.
    const group = this.prefixGroup(id);
    const prefix = group === null ? undefined : this.prefixes[group]!;
    const synthetic = this.tokenizer.synthesize(planned + (prefix?.tokens ?? 0), rng, id, prefix);
    const prompt = synthetic.text;
    const promptTokens = synthetic.tokens;
    const withGroup = group === null ? {} : { prefixGroup: group };
    return this.endpoint === 'chat'
      ? { messages: [{ role: 'user', content: prompt }], maxTokens, promptTokens, ...withGroup }
      : { prompt, maxTokens, promptTokens, ...withGroup };
  }
}
