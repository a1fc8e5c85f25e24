// The workload: what each request asks for. Synthetic prompts of a sampled length, exact under
// the run's tokenizer (tokenizer.ts), prompts from a dataset (dataset.ts), or a trace's requests
// (trace.ts); output lengths sampled likewise. Deterministic for the seed: request k of a run with
// seed s is always the same request.
import { Rng } from '../core/rng.js';
import type { Endpoint, LengthDist, ModelShare, ScenarioSpec, SharedPrefixSpec, WorkloadSpec } from '../core/types.js';
import type { GenRequest } from '../backend/types.js';
import { datasetSampleSize, loadDataset, type Dataset } from './dataset.js';
import { sampleLength } from './lengths.js';
import { approximateTokenizer, type TokenText, type Tokenizer } from './tokenizer.js';
import { TraceReplay, type PreparedTrace } from './trace.js';
import { Conversation, measureTurnCosts, NO_TURN_COSTS, promptOf, type TurnCosts } from './sessions.js';
import type { RequestRecord } from '../core/record.js';

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
  const workload = new Workload(spec.workload, spec.seed, spec.target.endpoint, dataset, tokenizer, replay, spec.target.models);
  // what a turn's messages add to the prompt, counted before the tokenizer lets go of counting
  if (spec.workload.sessions) workload.turnCosts = await measureTurnCosts(tokenizer, (n) => tokenizer.words(n, Rng.derive(spec.seed, 'turn-costs')));
  return workload;
}

/** The request shape of the workload, or of one of its classes. */
interface Shape {
  /** the class's name; null: the workload itself (no classes) */
  name: string | null;
  promptTokens: LengthDist;
  outputTokens: LengthDist;
  sharedPrefix: SharedPrefixSpec | undefined;
  /** where this shape's prefixes start in Workload.prefixes (global group numbers) */
  prefixAt: number;
}

/** Picks from cumulative weights with a uniform draw in [0, 1). */
function pickWeighted(cumulative: readonly number[], u: number): number {
  const x = u * cumulative[cumulative.length - 1]!;
  for (let i = 0; i < cumulative.length; i++) if (x < cumulative[i]!) return i;
  return cumulative.length - 1;
}

function cumulativeOf(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}

/** A stream of its own per request (or session) key and purpose, independent of all others. */
function keyRng(seed: number, key: number, purpose: string): Rng {
  return Rng.derive(seed ^ Math.imul(key + 1, 0x9e3779b1), purpose);
}

export class Workload {
  /** counts and builds prompts: the approximation unless the run loaded a tokenizer */
  readonly tokenizer: Tokenizer;
  readonly dataset: Dataset | null;
  readonly trace: TraceReplay | null;
  /**
   * every shared prefix text (exact under the tokenizer), numbered globally: the workload's
   * groups first, then each class's own; empty without shared prefixes
   */
  readonly prefixes: readonly TokenText[];
  /** workload.classes in order, or the workload alone */
  private readonly shapes: readonly Shape[];
  private readonly classCumulative: readonly number[] | null;
  private readonly models: readonly ModelShare[];
  private readonly modelCumulative: readonly number[] | null;
  /** sessions: what a turn's messages add to the prompt (loadWorkload measures them) */
  turnCosts: TurnCosts = NO_TURN_COSTS;

  /**
   * `dataset`: a sampled dataset (loadDataset); `tokenizer`: counts and builds prompts, the
   * approximation when absent; `trace`: a trace's replay, whose records are the requests and whose
   * times the arrivals; `models`: target.models. loadWorkload reads the dataset and opens the trace.
   */
  constructor(
    private readonly spec: WorkloadSpec,
    private readonly seed: number,
    private readonly endpoint: Endpoint,
    dataset?: Dataset,
    tokenizer?: Tokenizer,
    trace?: TraceReplay,
    models?: readonly ModelShare[],
  ) {
    this.tokenizer = tokenizer ?? approximateTokenizer(endpoint);
    this.dataset = dataset ?? null;
    this.trace = trace ?? null;
    const prefixes: TokenText[] = [];
    // each group's prefix from its own stream, so group g is the same text whatever `groups` is
    // (a class's own prefixes from streams named after it)
    const addPrefixes = (shared: SharedPrefixSpec | undefined, tag: string): number => {
      const at = prefixes.length;
      for (let g = 0; shared && g < shared.groups; g++) prefixes.push(this.tokenizer.words(shared.prefixTokens, Rng.derive(seed, `prefix-${tag}${g}`)));
      return at;
    };
    const base: Shape = { name: null, promptTokens: spec.promptTokens, outputTokens: spec.outputTokens, sharedPrefix: spec.sharedPrefix, prefixAt: addPrefixes(spec.sharedPrefix, '') };
    this.shapes = spec.classes
      ? spec.classes.map((c) =>
          c.sharedPrefix
            ? { name: c.name, promptTokens: c.promptTokens, outputTokens: c.outputTokens, sharedPrefix: c.sharedPrefix, prefixAt: addPrefixes(c.sharedPrefix, `${c.name}-`) }
            : { ...base, name: c.name, promptTokens: c.promptTokens, outputTokens: c.outputTokens },
        )
      : [base];
    this.prefixes = prefixes;
    this.classCumulative = spec.classes ? cumulativeOf(spec.classes.map((c) => c.weight)) : null;
    this.models = models ?? [];
    this.modelCumulative = models && models.length > 0 ? cumulativeOf(models.map((m) => m.weight)) : null;
  }

  /** The class of request (or session) `key`: an index into workload.classes, or null without classes. */
  classOf(key: number): number | null {
    return this.classCumulative ? pickWeighted(this.classCumulative, keyRng(this.seed, key, 'class').next()) : null;
  }

  /** The model name of request (or session) `key` (target.models), or null without a mix. */
  modelOf(key: number): string | null {
    return this.modelCumulative ? this.models[pickWeighted(this.modelCumulative, keyRng(this.seed, key, 'model').next())]!.name : null;
  }

  /** The name of class `cls` (workload.classes). */
  className(cls: number): string {
    return this.shapes[cls]!.name!;
  }

  private shape(cls: number | null): Shape {
    return this.shapes[cls ?? 0]!;
  }

  /**
   * The shared-prefix group (global) of request (or session) `key` of shape `cls`, or null for
   * none: `promptsPerGroup` consecutive keys per group, the groups in turn; or `share` of the
   * keys, each drawn to a group. From a stream of its own, so the request's lengths are those of
   * the same run without prefixes.
   */
  prefixGroup(key: number, cls: number | null = null): number | null {
    const { sharedPrefix: shared, prefixAt } = this.shape(cls);
    if (!shared) return null;
    if (shared.promptsPerGroup !== undefined) return prefixAt + (Math.floor(key / shared.promptsPerGroup) % shared.groups);
    const rng = keyRng(this.seed, key, 'prefix-group');
    if (rng.next() >= (shared.share ?? 0)) return null;
    return prefixAt + (rng.nextU32() % shared.groups);
  }

  /** The trace's arrivals, for the engine's open loop of `executor: trace`. */
  arrivals(): TraceReplay {
    if (this.trace === null) throw new Error('executor trace: the workload was made without the trace (loadWorkload)');
    return this.trace;
  }

  /** Request number `id` of the run (deterministic for the seed). */
  request(id: number): GenRequest {
    if (this.trace) return this.withModel(this.trace.request(id), id);
    const rng = keyRng(this.seed, id, 'request');
    if (this.dataset) {
      // the sample is in a random order already; a run longer than it cycles through it
      const entry = this.dataset.entries[id % this.dataset.entries.length]!;
      const maxTokens = entry.outputTokens ?? sampleLength(this.spec.outputTokens, rng);
      // the entry is as the endpoint takes it, conversations included
      const req: GenRequest =
        typeof entry.prompt === 'string'
          ? { prompt: entry.prompt, maxTokens, promptTokens: entry.promptTokens }
          : { messages: entry.prompt, maxTokens, promptTokens: entry.promptTokens };
      return this.withModel(req, id);
    }
    const cls = this.classOf(id);
    const shape = this.shape(cls);
    const planned = sampleLength(shape.promptTokens, rng);
    const maxTokens = sampleLength(shape.outputTokens, rng);
    // exact under the tokenizer, the template's tokens included (a length below the template's
    // own is raised to the fewest possible). A shared prefix leads the prompt (the one user
    // message: the template's header, then the prefix, is the same token sequence for the whole
    // group) and the request's own part, from its id's words on, follows it.
    const group = this.prefixGroup(id, cls);
    const prefix = group === null ? undefined : this.prefixes[group]!;
    const synthetic = this.tokenizer.synthesize(planned + (prefix?.tokens ?? 0), rng, id, prefix);
    const prompt = synthetic.text;
    const promptTokens = synthetic.tokens;
    const req: GenRequest =
      this.endpoint === 'chat' ? { messages: [{ role: 'user', content: prompt }], maxTokens, promptTokens } : { prompt, maxTokens, promptTokens };
    if (group !== null) req.prefixGroup = group;
    if (cls !== null) req.className = shape.name!;
    return this.withModel(req, id);
  }

  private withModel(req: GenRequest, key: number): GenRequest {
    const model = this.modelOf(key);
    if (model !== null) req.model = model;
    return req;
  }

  // -- sessions -----------------------------------------------------------------------

  /**
   * Session number `sessionId`: its turn count, class, model and shared prefix (a system message
   * every turn resends), all drawn from the session's own streams.
   */
  startSession(sessionId: number): Conversation {
    const sessions = this.spec.sessions;
    if (!sessions) throw new Error('workload.sessions is not set');
    const turns = sampleLength(sessions.turns, keyRng(this.seed, sessionId, 'session'));
    const cls = this.classOf(sessionId);
    const group = this.prefixGroup(sessionId, cls);
    const conv = new Conversation(sessionId, turns, cls, this.modelOf(sessionId), group, this.turnCosts);
    if (group !== null) {
      const prefix = this.prefixes[group]!;
      conv.add({ role: 'system', content: prefix.text }, prefix.tokens);
    }
    return conv;
  }

  /**
   * The next turn of `conv`: a new user message of the shape's promptTokens (its content alone:
   * the history and the template come on top) after the whole history, the replies as streamed
   * included, left to `historyTokens` when set. The first turn's words start with the session's
   * id, so no two sessions share a prefix by accident.
   */
  turnRequest(conv: Conversation): GenRequest {
    const sessions = this.spec.sessions!;
    const shape = this.shape(conv.cls);
    const rng = Rng.derive(this.seed ^ Math.imul(conv.id + 1, 0x9e3779b1) ^ Math.imul(conv.turn + 1, 0x27d4eb2f), 'turn');
    const userTokens = sampleLength(shape.promptTokens, rng);
    const maxTokens = sampleLength(shape.outputTokens, rng);
    let text: TokenText;
    if (conv.turn === 0) {
      const s = this.tokenizer.synthesize(userTokens + this.tokenizer.overhead, rng, conv.id);
      text = { text: s.text, tokens: s.tokens - this.tokenizer.overhead };
    } else text = this.tokenizer.words(userTokens, rng);
    conv.add({ role: 'user', content: text.text }, text.tokens);
    if (sessions.historyTokens !== undefined) conv.trim(sessions.historyTokens);
    conv.turn++;
    // a copy: the conversation grows after the send, and a client thread gets the request posted
    const prompt = promptOf(conv.messages.slice(), this.endpoint);
    const req: GenRequest = typeof prompt === 'string' ? { prompt, maxTokens, promptTokens: conv.plannedTokens } : { messages: [...prompt], maxTokens, promptTokens: conv.plannedTokens };
    req.session = conv.id;
    req.turn = conv.turn;
    // the reply goes into the next turn's history
    if (!conv.done) req.captureReply = true;
    if (conv.prefixGroup !== null) req.prefixGroup = conv.prefixGroup;
    if (conv.cls !== null) req.className = shape.name!;
    if (conv.model !== null) req.model = conv.model;
    if (sessions.header !== undefined) req.headers = { [sessions.header.toLowerCase()]: `inferload-${this.seed}-${conv.id}` };
    return req;
  }

  /** Whether requests come in sessions (workload.sessions). */
  get sessions(): boolean {
    return this.spec.sessions !== undefined;
  }

  /** The think time after `conv`'s last turn, µs: fixed, or drawn (exponential) from the turn's own stream. */
  thinkUs(conv: Conversation): number {
    const s = this.spec.sessions!;
    if (s.thinkTimeS === 0) return 0;
    if (s.thinkTimeDist === 'fixed') return s.thinkTimeS * 1e6;
    return Rng.derive(this.seed ^ Math.imul(conv.id + 1, 0x9e3779b1) ^ Math.imul(conv.turn + 1, 0x27d4eb2f), 'think').exponential(s.thinkTimeS) * 1e6;
  }

  /** The reply the server streamed to `conv`'s last turn (record `r`), into its history. */
  noteReply(conv: Conversation, r: RequestRecord): void {
    conv.add({ role: 'assistant', content: r.reply ?? '' }, r.outputTokens);
  }
}
