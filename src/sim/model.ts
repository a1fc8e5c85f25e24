// The engine model: a vLLM V1-style continuous-batching scheduler (token budget, chunked prefill,
// KV blocks, preemption by recompute) and the roofline step time described in docs/architecture.md ("The simulator"). Pure: time is
// whatever the caller passes in (µs), so it runs the same against a wall clock or in virtual time.

import type { SimProfile } from './profiles.js';

/** Why a request stopped: it hit `max_tokens`, or it drew an end-of-sequence token. */
export type FinishReason = 'length' | 'stop';

/** What the engine needs to know about one request. Output length is decided up front (seeded). */
export interface SimRequestSpec {
  promptTokens: number;
  /** tokens to generate before finishing */
  outputTokens: number;
  /** reported when the request reaches `outputTokens` */
  finishReason: FinishReason;
  /** fault injection: after emitting `afterTokens` tokens the request sits out of the batch for `stallUs` */
  stall?: { afterTokens: number; stallUs: number };
  /**
   * the prefix cache's key of each full block of the prompt, in order, each chained with the one
   * before (blockHashes); none: the request neither hits nor fills the cache
   */
  blockHashes?: readonly string[];
  /** the LoRA adapter the request runs with (vLLM's `lora_request`); none: the base model */
  adapter?: string;
}

export type SimRequestState = 'waiting' | 'running' | 'finished' | 'aborted';

/** One request inside the engine. `ctx` is the caller's handle (e.g. the HTTP stream). */
export class SimRequest<T> {
  state: SimRequestState = 'waiting';
  /** prompt + tokens generated so far: what a recompute after preemption must prefill */
  numTokens: number;
  /** tokens whose KV is in the cache */
  numComputed = 0;
  outputTokens = 0;
  kvBlocks = 0;
  preemptions = 0;
  /** µs on the caller's clock; -1 until it happens */
  firstScheduledUs = -1;
  firstTokenUs = -1;
  lastTokenUs = -1;
  /** the token before the last one (-1 before the second token): step-to-step ITL for `/metrics` */
  previousTokenUs = -1;
  finishedUs = -1;
  /** out of the batch until then (stall fault) */
  pausedUntilUs = -1;
  /** prompt tokens found in the prefix cache at its first admission (`cached_tokens`); -1 before */
  cachedTokens = -1;
  /** the cached blocks this request holds (hits and the blocks it filled), in prompt order */
  readonly cacheRefs: string[] = [];

  constructor(
    readonly id: number,
    readonly spec: Readonly<SimRequestSpec>,
    readonly ctx: T,
    readonly arrivalUs: number,
  ) {
    this.numTokens = spec.promptTokens;
  }
}

/** A token produced at the end of a step. */
export interface TokenEvent<T> {
  request: SimRequest<T>;
  /** tokens emitted so far by this request, this one included (1 = the first token) */
  tokenCount: number;
  /** set on the request's last token */
  finishReason: FinishReason | null;
}

/** The roofline breakdown of one step, before the speed factor. */
export interface StepTime {
  memoryUs: number;
  computeUs: number;
  commUs: number;
  /** LoRA kernels of the distinct adapters computed in the step (profile.loraOverheadUsPerAdapter each) */
  loraUs: number;
  /** overhead + max(memory, compute) + comm + lora, divided by speed */
  durationUs: number;
}

/** What a started step does and when it ends. */
export interface StepPlan {
  startUs: number;
  endUs: number;
  time: StepTime;
  /** tokens computed in the step (decodes + prefill chunks) */
  scheduledTokens: number;
  decodeRequests: number;
  prefillTokens: number;
  /** context tokens whose KV the step reads */
  kvTokensRead: number;
  /** distinct LoRA adapters among the requests computed in the step */
  adapters: number;
}

/** Cumulative counters, the raw material for vLLM-style `/metrics` and DCGM-style GPU signals. */
export interface EngineCounters {
  stepsTotal: number;
  /** wall time spent in steps (after the speed factor) */
  busyUsTotal: number;
  /** roofline compute part of the steps (after the speed factor): SM activity = compute / busy */
  computeUsTotal: number;
  memoryUsTotal: number;
  requestsAddedTotal: number;
  requestsFinishedLengthTotal: number;
  requestsFinishedStopTotal: number;
  requestsAbortedTotal: number;
  preemptionsTotal: number;
  /** prompt tokens of requests that got their first token (counted once, like vLLM) */
  promptTokensTotal: number;
  generationTokensTotal: number;
  /** every token prefilled, recomputations after preemption included */
  prefillTokensComputedTotal: number;
  /** vLLM V1 `prefix_cache_queries`: prompt tokens looked up in the prefix cache at admission */
  prefixCacheQueriesTotal: number;
  /** vLLM V1 `prefix_cache_hits`: of those, tokens found cached (their prefill skipped) */
  prefixCacheHitsTotal: number;
}

/** Instantaneous state. */
export interface EngineGauges {
  running: number;
  waiting: number;
  kvBlocksUsed: number;
  kvBlocksTotal: number;
  /** vLLM's `kv_cache_usage_perc`, 0-1 */
  kvCacheUsageRatio: number;
}

export interface EngineModelOptions<T> {
  /** scales every step: 2 = steps take half as long; 0.8 = a build 20 % slower (25 % longer steps) */
  speed?: number;
  /** called once per request that finished normally (not aborted), after its last token */
  onFinished?: (request: SimRequest<T>) => void;
  /** automatic prefix caching over the requests' `blockHashes` (vLLM V1's default; default true) */
  prefixCaching?: boolean;
  /**
   * vLLM's `--max-loras`: distinct adapters the running batch may hold (base-model requests do not
   * count); a waiting request whose adapter would exceed it is skipped. Default: no limit
   */
  maxLoras?: number;
}

/**
 * The prefix cache's keys of a prompt's full blocks, as vLLM's automatic prefix caching keys
 * them: each block's token ids hashed together with the previous block's key, so a block matches
 * only behind the same whole prefix. The partial last block has no key (it is never shared).
 * Tokens are numbers (ids) or strings (the words of a prompt counted without a tokenizer).
 * `extraKey` goes into the first block's key and so into every one: vLLM keys a LoRA request's
 * blocks with its adapter too, so a prompt cached under one adapter is no hit for another.
 */
export function blockHashes(tokens: ArrayLike<number | string>, blockSizeTokens: number, extraKey = ''): string[] {
  const out: string[] = [];
  let prev = extraKey;
  for (let start = 0; start + blockSizeTokens <= tokens.length; start += blockSizeTokens) {
    // two independent 32-bit FNV-1a lanes: a 64-bit key, collisions negligible at cache sizes
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ 0x5bd1e995;
    const feed = (s: string): void => {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
      }
      a = Math.imul(a ^ 0x1f, 0x01000193);
      b = Math.imul(b ^ 0x1f, 0x5bd1e995) ^ (b >>> 15);
    };
    feed(prev);
    for (let i = start; i < start + blockSizeTokens; i++) feed(String(tokens[i]));
    prev = (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
    out.push(prev);
  }
  return out;
}

/**
 * Roofline step time (docs/architecture.md, "The simulator") for `tokens` computed while reading
 * `kvTokensRead` of context, for requests of `adapters` distinct LoRA adapters.
 */
export function stepTime(profile: SimProfile, tokens: number, kvTokensRead: number, speed = 1, adapters = 0): StepTime {
  const gpus = profile.gpuCount;
  const memoryUs =
    ((profile.weightBytes + kvTokensRead * profile.kvBytesPerToken) / (profile.memBandwidthBytesPerS * gpus)) * 1e6;
  const computeUs = ((2 * profile.paramsCount * tokens) / (profile.peakFlopsPerS * profile.mfu * gpus)) * 1e6;
  const commUs =
    gpus > 1
      ? profile.commFixedUsPerStep + ((tokens * profile.commBytesPerToken) / profile.interconnectBytesPerS) * 1e6
      : 0;
  const loraUs = adapters * profile.loraOverheadUsPerAdapter;
  const durationUs = (profile.stepOverheadUs + Math.max(memoryUs, computeUs) + commUs + loraUs) / speed;
  return { memoryUs, computeUs, commUs, loraUs, durationUs };
}

interface Scheduled<T> {
  request: SimRequest<T>;
  numNewTokens: number;
}

/**
 * The continuous-batching engine. Drive it with `beginStep(t)` / `endStep(t)` pairs (see
 * `StepLoop`); add and abort requests at any time between or during steps.
 */
export class EngineModel<T = unknown> {
  readonly profile: SimProfile;
  readonly speed: number;
  readonly counters: EngineCounters = {
    stepsTotal: 0,
    busyUsTotal: 0,
    computeUsTotal: 0,
    memoryUsTotal: 0,
    requestsAddedTotal: 0,
    requestsFinishedLengthTotal: 0,
    requestsFinishedStopTotal: 0,
    requestsAbortedTotal: 0,
    preemptionsTotal: 0,
    promptTokensTotal: 0,
    generationTokensTotal: 0,
    prefillTokensComputedTotal: 0,
    prefixCacheQueriesTotal: 0,
    prefixCacheHitsTotal: 0,
  };
  /** FCFS queue; preempted requests go back to its head */
  private readonly waiting: Array<SimRequest<T>> = [];
  /** in admission order: the last one is preempted first */
  private readonly running: Array<SimRequest<T>> = [];
  /** blocks held by no running request; the evictable cached blocks are among them */
  private freeBlocks: number;
  /** cached block key → how many running requests hold it */
  private readonly cached = new Map<string, number>();
  /** cached blocks no request holds, least recently freed first: evicted from the front */
  private readonly evictable = new Set<string>();
  /** automatic prefix caching over the requests' `blockHashes` */
  readonly prefixCaching: boolean;
  /** vLLM's `--max-loras` (Infinity: no limit) */
  readonly maxLoras: number;
  /** adapter → its running requests, in the order the adapters entered the batch */
  private readonly runningAdapters = new Map<string, number>();
  /** adapter → its waiting requests, in the order the adapters entered the queue */
  private readonly waitingAdapters = new Map<string, number>();
  private nextId = 0;
  private current: { plan: StepPlan; scheduled: Array<Scheduled<T>> } | undefined;
  private readonly onFinished: ((request: SimRequest<T>) => void) | undefined;

  constructor(profile: SimProfile, options: EngineModelOptions<T> = {}) {
    const speed = options.speed ?? 1;
    if (!Number.isFinite(speed) || speed <= 0) throw new RangeError(`speed must be a positive number, got ${speed}`);
    this.profile = profile;
    this.speed = speed;
    this.freeBlocks = profile.kvCacheBlocks;
    this.onFinished = options.onFinished;
    this.prefixCaching = options.prefixCaching ?? true;
    const maxLoras = options.maxLoras ?? Infinity;
    if (maxLoras !== Infinity && !(Number.isInteger(maxLoras) && maxLoras >= 1)) {
      throw new RangeError(`maxLoras must be an integer >= 1, got ${maxLoras}`);
    }
    this.maxLoras = maxLoras;
  }

  /** Blocks in the prefix cache (held by requests or evictable). */
  get cachedBlocks(): number {
    return this.cached.size;
  }

  /** Largest prompt + output a request may have (the cache must hold it whole). */
  get maxRequestTokens(): number {
    return Math.min(this.profile.maxModelLen, this.profile.kvCacheBlocks * this.profile.blockSizeTokens);
  }

  /** Queue a request that arrived at `arrivalUs`. Throws RangeError if it can never fit. */
  add(spec: SimRequestSpec, ctx: T, arrivalUs: number): SimRequest<T> {
    if (!Number.isInteger(spec.promptTokens) || spec.promptTokens < 1) {
      throw new RangeError(`promptTokens must be an integer >= 1, got ${spec.promptTokens}`);
    }
    if (!Number.isInteger(spec.outputTokens) || spec.outputTokens < 1) {
      throw new RangeError(`outputTokens must be an integer >= 1, got ${spec.outputTokens}`);
    }
    if (spec.promptTokens + spec.outputTokens > this.maxRequestTokens) {
      throw new RangeError(
        `prompt (${spec.promptTokens}) + output (${spec.outputTokens}) tokens exceed ${this.maxRequestTokens}`,
      );
    }
    const request = new SimRequest(this.nextId++, spec, ctx, arrivalUs);
    this.waiting.push(request);
    countAdapter(this.waitingAdapters, spec.adapter, 1);
    this.counters.requestsAddedTotal++;
    return request;
  }

  /** Remove a request (client went away): out of the queue or batch, its blocks freed at once. */
  abort(request: SimRequest<T>): void {
    if (request.state === 'finished' || request.state === 'aborted') return;
    const list = request.state === 'running' ? this.running : this.waiting;
    const i = list.indexOf(request);
    if (i >= 0) {
      list.splice(i, 1);
      countAdapter(request.state === 'running' ? this.runningAdapters : this.waitingAdapters, request.spec.adapter, -1);
    }
    this.freeRequestBlocks(request);
    request.state = 'aborted';
    this.counters.requestsAbortedTotal++;
  }

  /** The step in flight, if any (for busy/idle GPU signals). */
  get currentStep(): StepPlan | undefined {
    return this.current?.plan;
  }

  gauges(): EngineGauges {
    const used = this.profile.kvCacheBlocks - this.freeBlocks;
    return {
      running: this.running.length,
      waiting: this.waiting.length,
      kvBlocksUsed: used,
      kvBlocksTotal: this.profile.kvCacheBlocks,
      kvCacheUsageRatio: used / this.profile.kvCacheBlocks,
    };
  }

  /**
   * The adapters with requests in the batch and in the queue, each in the order the adapters got
   * there: vLLM's `running_lora_adapters` and `waiting_lora_adapters`.
   */
  loraAdapters(): { running: string[]; waiting: string[] } {
    return { running: [...this.runningAdapters.keys()], waiting: [...this.waitingAdapters.keys()] };
  }

  /** Requests in the engine (queued or in the batch). */
  get size(): number {
    return this.running.length + this.waiting.length;
  }

  /**
   * Schedule one step starting at `nowUs` (vLLM V1 `Scheduler.schedule`): first the running
   * requests (a decode token each, or the rest of a chunked prefill), preempting from the back of
   * the batch when a block is missing; then, if nothing was preempted, waiting requests in FCFS
   * order while the token budget, the free blocks and `max_num_seqs` allow (one whose adapter
   * would exceed `maxLoras` is passed over). Returns undefined when there is nothing to compute
   * at `nowUs`.
   */
  beginStep(nowUs: number): StepPlan | undefined {
    if (this.current) throw new Error('beginStep called while a step is in flight');
    const p = this.profile;
    const scheduled: Array<Scheduled<T>> = [];
    let budget = p.maxNumBatchedTokens;
    let preempted = false;
    let decodeRequests = 0;
    let prefillTokens = 0;
    let kvTokensRead = 0;

    let i = 0;
    runningLoop: while (i < this.running.length && budget > 0) {
      const request = this.running[i]!;
      if (request.pausedUntilUs > nowUs) {
        i++;
        continue;
      }
      const numNew = Math.min(request.numTokens - request.numComputed, budget);
      for (;;) {
        const needed = this.blocksFor(request.numComputed + numNew) - request.kvBlocks;
        if (needed <= this.freeBlocks) {
          this.takeBlocks(request, needed);
          break;
        }
        // No room: preempt the most recently admitted request (vLLM: `self.running.pop()`).
        const victim = this.running.pop()!;
        this.preempt(victim);
        preempted = true;
        if (victim === request) break runningLoop;
      }
      scheduled.push({ request, numNewTokens: numNew });
      budget -= numNew;
      kvTokensRead += request.numComputed + numNew;
      if (request.numComputed + numNew === request.numTokens && numNew === 1 && request.outputTokens > 0) {
        decodeRequests++;
      } else {
        prefillTokens += numNew;
      }
      i++;
    }

    // vLLM V1 admits no new request in a step that had to preempt.
    if (!preempted) {
      let w = 0;
      while (w < this.waiting.length && budget > 0 && this.running.length < p.maxNumSeqs) {
        const request = this.waiting[w]!;
        // FCFS by arrival: whatever follows a future arrival arrived later still.
        if (request.arrivalUs > nowUs) break;
        if (request.pausedUntilUs > nowUs) {
          w++;
          continue;
        }
        // vLLM V1 skips a request whose adapter would take the batch past max_loras; later ones
        // (base-model ones, or of adapters already in the batch) may go ahead of it
        const adapter = request.spec.adapter;
        if (adapter !== undefined && this.runningAdapters.size >= this.maxLoras && !this.runningAdapters.has(adapter)) {
          w++;
          continue;
        }
        const hitBlocks = request.numComputed === 0 ? this.cacheHitBlocks(request) : 0;
        const hitTokens = hitBlocks * p.blockSizeTokens;
        const numNew = Math.min(request.numTokens - request.numComputed - hitTokens, budget);
        // hit blocks no one holds come out of the free pool too
        let revived = 0;
        for (let b = 0; b < hitBlocks; b++) if (this.cached.get(request.spec.blockHashes![b]!) === 0) revived++;
        const needed = this.blocksFor(hitTokens + numNew) - hitBlocks;
        if (needed + revived > this.freeBlocks) break;
        if (request.numComputed === 0 && this.prefixCaching && request.spec.blockHashes) {
          this.counters.prefixCacheQueriesTotal += request.spec.promptTokens;
          this.counters.prefixCacheHitsTotal += hitTokens;
          if (request.cachedTokens < 0) request.cachedTokens = hitTokens;
        }
        for (let b = 0; b < hitBlocks; b++) this.holdCached(request, request.spec.blockHashes![b]!);
        request.numComputed = hitTokens;
        this.takeBlocks(request, needed);
        this.waiting.splice(w, 1);
        this.running.push(request);
        countAdapter(this.waitingAdapters, adapter, -1);
        countAdapter(this.runningAdapters, adapter, 1);
        request.state = 'running';
        if (request.firstScheduledUs < 0) request.firstScheduledUs = nowUs;
        scheduled.push({ request, numNewTokens: numNew });
        budget -= numNew;
        kvTokensRead += request.numComputed + numNew;
        prefillTokens += numNew;
      }
    }

    if (scheduled.length === 0) return undefined;
    const scheduledTokens = p.maxNumBatchedTokens - budget;
    let adapters = 0;
    if (this.runningAdapters.size > 0) {
      const seen = new Set<string>();
      for (const { request } of scheduled) if (request.spec.adapter !== undefined) seen.add(request.spec.adapter);
      adapters = seen.size;
    }
    const time = stepTime(p, scheduledTokens, kvTokensRead, this.speed, adapters);
    const plan: StepPlan = {
      startUs: nowUs,
      endUs: nowUs + time.durationUs,
      time,
      scheduledTokens,
      decodeRequests,
      prefillTokens,
      kvTokensRead,
      adapters,
    };
    this.current = { plan, scheduled };
    const c = this.counters;
    c.stepsTotal++;
    c.busyUsTotal += time.durationUs;
    c.computeUsTotal += time.computeUs / this.speed;
    c.memoryUsTotal += time.memoryUs / this.speed;
    c.prefillTokensComputedTotal += prefillTokens;
    return plan;
  }

  /**
   * End the step in flight at `nowUs` (its `endUs`): advance every scheduled request, and give a
   * token to each one whose context is now complete (a decode, or the last chunk of a prefill).
   */
  endStep(nowUs: number): Array<TokenEvent<T>> {
    const current = this.current;
    if (!current) throw new Error('endStep called with no step in flight');
    this.current = undefined;
    const events: Array<TokenEvent<T>> = [];
    let finishedAny = false;
    for (const { request, numNewTokens } of current.scheduled) {
      // aborted (client gone) while the step ran
      if (request.state !== 'running') continue;
      request.numComputed += numNewTokens;
      this.fillCache(request);
      if (request.numComputed < request.numTokens) continue;
      request.numTokens++;
      request.outputTokens++;
      request.previousTokenUs = request.lastTokenUs;
      request.lastTokenUs = nowUs;
      if (request.firstTokenUs < 0) {
        request.firstTokenUs = nowUs;
        this.counters.promptTokensTotal += request.spec.promptTokens;
      }
      this.counters.generationTokensTotal++;
      const spec = request.spec;
      if (request.outputTokens >= spec.outputTokens) {
        events.push({ request, tokenCount: request.outputTokens, finishReason: spec.finishReason });
        request.state = 'finished';
        request.finishedUs = nowUs;
        this.freeRequestBlocks(request);
        countAdapter(this.runningAdapters, spec.adapter, -1);
        finishedAny = true;
        if (spec.finishReason === 'length') this.counters.requestsFinishedLengthTotal++;
        else this.counters.requestsFinishedStopTotal++;
      } else {
        events.push({ request, tokenCount: request.outputTokens, finishReason: null });
        if (spec.stall && spec.stall.afterTokens === request.outputTokens) {
          request.pausedUntilUs = nowUs + spec.stall.stallUs;
        }
      }
    }
    if (finishedAny) {
      let k = 0;
      for (const r of this.running) if (r.state === 'running') this.running[k++] = r;
      this.running.length = k;
      if (this.onFinished) for (const e of events) if (e.finishReason !== null) this.onFinished(e.request);
    }
    return events;
  }

  /**
   * The earliest time after `afterUs` at which a request that cannot run now becomes runnable
   * (a stall ending, or a queued arrival stamped in the future); undefined when there is none.
   */
  nextWakeUs(afterUs: number): number | undefined {
    let wake = Infinity;
    for (const r of this.running) if (r.pausedUntilUs > afterUs && r.pausedUntilUs < wake) wake = r.pausedUntilUs;
    for (const r of this.waiting) {
      if (r.pausedUntilUs > afterUs && r.pausedUntilUs < wake) wake = r.pausedUntilUs;
      if (r.arrivalUs > afterUs && r.arrivalUs < wake) wake = r.arrivalUs;
    }
    return wake === Infinity ? undefined : wake;
  }

  private blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.profile.blockSizeTokens);
  }

  private takeBlocks(request: SimRequest<T>, blocks: number): void {
    if (blocks <= 0) return;
    request.kvBlocks += blocks;
    this.freeBlocks -= blocks;
    this.evict();
  }

  private freeRequestBlocks(request: SimRequest<T>): void {
    // its private blocks go back to the pool; a cached one only when no other request holds it
    let returned = request.kvBlocks - request.cacheRefs.length;
    // the tail first, as vLLM frees: a prompt's last blocks are evicted before its first ones
    for (let i = request.cacheRefs.length - 1; i >= 0; i--) {
      const key = request.cacheRefs[i]!;
      const refs = this.cached.get(key)! - 1;
      this.cached.set(key, refs);
      if (refs === 0) {
        this.evictable.add(key);
        returned++;
      }
    }
    this.freeBlocks += returned;
    request.kvBlocks = 0;
    request.cacheRefs.length = 0;
  }

  /**
   * Leading blocks of the request's prompt in the cache. At most the prompt less one token is a
   * hit (vLLM V1: the last token is always computed, for its logits), in whole blocks.
   */
  private cacheHitBlocks(request: SimRequest<T>): number {
    const keys = request.spec.blockHashes;
    if (!this.prefixCaching || !keys) return 0;
    const most = Math.min(keys.length, Math.floor((request.spec.promptTokens - 1) / this.profile.blockSizeTokens));
    let n = 0;
    while (n < most && this.cached.has(keys[n]!)) n++;
    return n;
  }

  /** The request takes a cached block: out of the evictable set (and the free pool) if no one held it. */
  private holdCached(request: SimRequest<T>, key: string): void {
    const refs = this.cached.get(key)!;
    if (refs === 0) {
      this.evictable.delete(key);
      this.freeBlocks--;
    }
    this.cached.set(key, refs + 1);
    request.kvBlocks++;
    request.cacheRefs.push(key);
  }

  /**
   * Enter the prompt blocks the request has now computed in full. A block another request
   * entered meanwhile stays the request's private copy (vLLM keeps such duplicates out of the
   * cache too).
   */
  private fillCache(request: SimRequest<T>): void {
    const keys = request.spec.blockHashes;
    if (!this.prefixCaching || !keys) return;
    const full = Math.min(keys.length, Math.floor(Math.min(request.numComputed, request.spec.promptTokens) / this.profile.blockSizeTokens));
    for (let b = request.cacheRefs.length; b < full; b++) {
      const key = keys[b]!;
      // a duplicate ends the chain this request can share: later blocks would hang off another's copy
      if (this.cached.has(key)) return;
      this.cached.set(key, 1);
      request.cacheRefs.push(key);
    }
  }

  /** Cached blocks live in free blocks: as the free pool shrinks, the least recently freed go. */
  private evict(): void {
    while (this.evictable.size > this.freeBlocks) {
      const oldest = this.evictable.values().next().value as string;
      this.evictable.delete(oldest);
      this.cached.delete(oldest);
    }
  }

  private preempt(request: SimRequest<T>): void {
    countAdapter(this.runningAdapters, request.spec.adapter, -1);
    countAdapter(this.waitingAdapters, request.spec.adapter, 1);
    this.freeRequestBlocks(request);
    request.numComputed = 0;
    request.state = 'waiting';
    request.preemptions++;
    this.waiting.unshift(request);
    this.counters.preemptionsTotal++;
  }
}

/** Count a request of `adapter` in or out; an adapter leaves the map (and its order) at zero. */
function countAdapter(counts: Map<string, number>, adapter: string | undefined, delta: 1 | -1): void {
  if (adapter === undefined) return;
  const n = (counts.get(adapter) ?? 0) + delta;
  if (n > 0) counts.set(adapter, n);
  else counts.delete(adapter);
}
