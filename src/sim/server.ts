// The simulator's HTTP front end: OpenAI-compatible endpoints over node:http with vLLM's SSE
// framing, one engine-step timer for every stream, seeded fault injection, client-abort handling,
// and its telemetry (`/metrics` in vLLM's names, `/gpu/metrics` in the DCGM exporter's).

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { approxTokenCount } from '../core/tokens.js';
import type { SimFaults } from '../core/types.js';
import { EngineModel, blockHashes } from './model.js';
import type { EngineCounters, EngineGauges, SimRequest, TokenEvent } from './model.js';
import { StepLoop } from './loop.js';
import { PROMETHEUS_TEXT_CONTENT_TYPE, SimMetrics } from './metrics.js';
import { RequestPlanner } from './planner.js';
import type { FaultKind, RequestPlan } from './planner.js';
import { resolveProfile } from './profiles.js';
import type { SimProfile } from './profiles.js';
import { DONE_FRAME, STREAM_ERROR_FRAME, errorBody, outputText, streamFrames, tokenText } from './sse.js';
import type { ApiKind, StreamFrames } from './sse.js';
import { LocalTokenizer, tokenizerSource, type ChatMessage } from '../workload/tokenizer.js';

/** How to start the simulator. Everything is optional; JSON-serialisable (it crosses to a child). */
export interface SimServerOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** 0 (default): an ephemeral port */
  port?: number;
  /** a built-in profile name (default `default`) or a custom profile */
  profile?: string | SimProfile;
  /** scales every engine step: 0.8 = a build 20 % slower; 20 = a fast simulator for tests */
  speed?: number;
  /** seeds output lengths and faults (default 1) */
  seed?: number;
  faults?: Partial<SimFaults>;
  /** put `inferload_emit_ms` (epoch ms, taken just before the write) in every chunk */
  emitTimestamps?: boolean;
  /**
   * count prompt tokens with this tokenizer (a tokenizer.json path or a family: workload.tokenizer);
   * default: the approximation the client falls back on
   */
  tokenizer?: string;
  /**
   * automatic prefix caching over the prompts' KV blocks, with `prompt_tokens_details.cached_tokens`
   * in the usage: a block is keyed by its token ids under the tokenizer, or by its words without
   * one. Default false (vLLM V1 caches by default, but the usage object and the step times of every
   * run that repeats a prompt would change: a run turns it on with simulator.prefixCaching, or by
   * having a workload.sharedPrefix)
   */
  prefixCaching?: boolean;
  /**
   * LoRA adapters served beside the profile's model (vLLM's `--lora-modules`): listed by
   * `/v1/models`, requested by name in `model`, each adapter in a step costing the profile's
   * `loraOverheadUsPerAdapter`. With adapters a request for any other model gets vLLM's 404;
   * without (the default) every model name is served as the base model
   */
  adapters?: string[];
  /**
   * vLLM's `--max-loras`: distinct adapters in the running batch at most (requests of another
   * adapter wait). Default: min(adapters, 4), at least 1 (vLLM's own default is 1)
   */
  maxLoras?: number;
}

/** Counters of the server and the engine behind it. */
export interface SimServerStats {
  /** valid generation requests (chat + completions), faulted ones included */
  requestsTotal: number;
  /** rejected with 4xx before reaching the engine */
  badRequestsTotal: number;
  /** responses that ran to their end ([DONE] or the JSON body) */
  completedTotal: number;
  /** clients that went away before the end */
  clientAbortsTotal: number;
  /** generation requests open right now */
  activeRequests: number;
  /** generation requests that carried an Authorization header (its value is never kept) */
  authorizationSeenTotal: number;
  faults: Record<Exclude<FaultKind, 'none'>, number>;
  /** worst lateness of the step timer against the step's virtual end */
  maxTimerLagMs: number;
  engine: EngineCounters & EngineGauges;
}

/** A running simulator. */
export interface SimServer {
  /** OpenAI base URL, e.g. `http://127.0.0.1:PORT/v1` */
  url: string;
  port: number;
  profile: SimProfile;
  /** the LoRA adapters served beside the profile's model */
  adapters: readonly string[];
  /** `--max-loras` in force; undefined without adapters */
  maxLoras: number | undefined;
  /** ends open streams, destroys sockets, resolves once the server is closed */
  close(): Promise<void>;
  stats(): SimServerStats;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_TOKENS = 256;
/** default `maxLoras`: enough for a small model mix to share the batch (vLLM's default is 1) */
const DEFAULT_MAX_LORAS = 4;
/** a step due within this much is run now rather than re-armed (timers have 1 ms granularity) */
const TIMER_TOLERANCE_US = 500;
const EMIT_TIMESTAMPS_HEADER = 'x-inferload-emit-timestamps';
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};
const JSON_HEADERS = { 'content-type': 'application/json' };

/** One open generation request. */
interface Exchange {
  kind: ApiKind;
  res: ServerResponse;
  id: string;
  created: number;
  plan: RequestPlan;
  promptTokens: number;
  includeUsage: boolean;
  emitTimestamps: boolean;
  /** the `model` of the response: the adapter's name, or the profile's model */
  modelName: string;
  frames: StreamFrames | undefined;
  request: SimRequest<Exchange> | undefined;
  /** the response is over (sent in full, failed, or the client left) */
  done: boolean;
}

/** The parsed, validated body of a generation request. */
interface GenerationParams {
  /** the body's `model`, as sent (checked only when the simulator serves adapters) */
  model: unknown;
  promptTokens: number;
  /** what the prompt's cache blocks are keyed by: token ids, or words under the approximation */
  promptTokenKeys: () => ArrayLike<number | string>;
  maxTokens: number | undefined;
  minTokens: number;
  ignoreEos: boolean;
  stream: boolean;
  includeUsage: boolean;
}

class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** Start the simulator and resolve once it listens. Throws on an unknown profile or bad options. */
export async function startSimServer(options: SimServerOptions = {}): Promise<SimServer> {
  let counter = APPROXIMATE_COUNTER;
  if (options.tokenizer !== undefined) {
    const source = tokenizerSource(options.tokenizer);
    if (source?.kind !== 'file' && source?.kind !== 'family') {
      throw new RangeError(`tokenizer must be a tokenizer.json path or a family (llama3, qwen3), got ${JSON.stringify(options.tokenizer)}`);
    }
    counter = tokenizerCounter(await LocalTokenizer.load(source));
  }
  const sim = new Simulator(options, counter);
  return sim.listen(options.host ?? '127.0.0.1', options.port ?? 0);
}

class Simulator {
  private readonly profile: SimProfile;
  private readonly model: EngineModel<Exchange>;
  private readonly loop: StepLoop<Exchange>;
  private readonly metrics: SimMetrics;
  private readonly planner: RequestPlanner;
  private readonly emitTimestamps: boolean;
  private readonly prefixCaching: boolean;
  /** the LoRA adapters served; empty: any model name is the base model */
  private readonly adapters: ReadonlySet<string>;
  private readonly maxLoras: number | undefined;
  private readonly originUs = performance.now() * 1000;
  private readonly idPrefix = randomBytes(12).toString('hex');
  private readonly modelsBody: string;
  private readonly open = new Set<Exchange>();
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private timerDueUs = -1;
  private advancing = false;
  private closed = false;
  private readonly counts = {
    requestsTotal: 0,
    badRequestsTotal: 0,
    completedTotal: 0,
    clientAbortsTotal: 0,
    authorizationSeenTotal: 0,
    maxTimerLagUs: 0,
  };
  private readonly faultCounts: Record<Exclude<FaultKind, 'none'>, number> = {
    http500: 0,
    http429: 0,
    stall: 0,
    drop: 0,
    midStreamError: 0,
  };

  constructor(
    options: SimServerOptions,
    private readonly counter: PromptCounter,
  ) {
    this.profile = resolveProfile(options.profile ?? 'default');
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    this.prefixCaching = options.prefixCaching ?? false;
    this.adapters = checkAdapters(options.adapters ?? [], this.profile.modelName);
    const maxLoras = options.maxLoras ?? Math.max(1, Math.min(this.adapters.size, DEFAULT_MAX_LORAS));
    if (!Number.isInteger(maxLoras) || maxLoras < 1) throw new RangeError(`maxLoras must be an integer >= 1, got ${maxLoras}`);
    this.maxLoras = this.adapters.size > 0 ? maxLoras : undefined;
    const lora = this.adapters.size > 0 ? { maxLoras } : {};
    this.model = new EngineModel<Exchange>(this.profile, { speed: options.speed ?? 1, prefixCaching: this.prefixCaching, ...lora });
    this.metrics = new SimMetrics(this.model, { startUs: this.nowUs(), instanceId: this.idPrefix, ...lora });
    this.loop = new StepLoop<Exchange>(
      this.model,
      (events, stepEndUs) => {
        // write first: the histograms can wait until the bytes are on their way
        this.onTokens(events);
        this.metrics.onTokens(events, stepEndUs);
      },
      undefined,
      (plan) => this.metrics.onStep(plan),
    );
    this.planner = new RequestPlanner(seed, options.faults);
    this.emitTimestamps = options.emitTimestamps ?? false;
    this.modelsBody = modelList(this.profile, [...this.adapters]);
  }

  listen(host: string, port: number): Promise<SimServer> {
    const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => this.route(req, res));
    this.server = server;
    server.on('connection', (socket) => socket.setNoDelay(true));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const boundPort = (server.address() as AddressInfo).port;
        const hostInUrl = host.includes(':') ? `[${host}]` : host;
        resolve({
          url: `http://${hostInUrl}:${boundPort}/v1`,
          port: boundPort,
          profile: this.profile,
          adapters: [...this.adapters],
          maxLoras: this.maxLoras,
          close: () => this.close(),
          stats: () => this.stats(),
        });
      });
    });
  }

  private nowUs(): number {
    return performance.now() * 1000 - this.originUs;
  }

  // ---- HTTP -------------------------------------------------------------------------------

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const method = req.method ?? 'GET';
    switch (path) {
      case '/v1/chat/completions':
      case '/v1/completions': {
        if (method !== 'POST') return this.methodNotAllowed(req, res);
        const kind: ApiKind = path === '/v1/chat/completions' ? 'chat' : 'completions';
        this.readBody(req, res, (body) => this.generate(kind, body, req, res));
        return;
      }
      case '/tokenize':
        if (method !== 'POST') return this.methodNotAllowed(req, res);
        this.readBody(req, res, (body) => this.tokenize(body, res));
        return;
      case '/v1/models':
        if (method !== 'GET') return this.methodNotAllowed(req, res);
        res.writeHead(200, JSON_HEADERS).end(this.modelsBody);
        return;
      case '/health':
        if (method !== 'GET') return this.methodNotAllowed(req, res);
        res.writeHead(200).end();
        return;
      case '/metrics':
        if (method !== 'GET') return this.methodNotAllowed(req, res);
        res.writeHead(200, { 'content-type': PROMETHEUS_TEXT_CONTENT_TYPE }).end(this.metrics.vllmText());
        return;
      case '/gpu/metrics':
        if (method !== 'GET') return this.methodNotAllowed(req, res);
        res.writeHead(200, { 'content-type': PROMETHEUS_TEXT_CONTENT_TYPE }).end(this.metrics.dcgmText(this.nowUs()));
        return;
      default:
        req.resume();
        sendError(res, 404, 'NotFoundError', `Not Found: ${method} ${path}`);
    }
  }

  private methodNotAllowed(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    sendError(res, 405, 'MethodNotAllowed', `Method Not Allowed: ${req.method ?? ''} ${req.url ?? ''}`);
  }

  private readBody(req: IncomingMessage, res: ServerResponse, then: (body: string) => void): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      bytes += chunk.length;
      if (bytes > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        this.counts.badRequestsTotal++;
        res.setHeader('connection', 'close');
        sendError(res, 413, 'BadRequestError', `request body larger than ${MAX_BODY_BYTES} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!tooLarge) then(Buffer.concat(chunks).toString('utf8'));
    });
    // a client that leaves mid-upload: nothing to answer, and no unhandled 'error'
    req.on('error', () => res.destroy());
  }

  /**
   * vLLM's POST /tokenize (at the root, not under /v1): `{prompt, add_special_tokens = true}` or
   * `{messages, add_generation_prompt = true}` (the chat template applied) → `{count, max_model_len,
   * tokens, token_strs}`. Without a tokenizer the count is the approximation's and the ids are zeros.
   */
  private tokenize(body: string, res: ServerResponse): void {
    let ids: number[];
    try {
      const json = jsonObject(body);
      if (json.messages !== undefined) {
        if (optionalBool(json, 'add_generation_prompt') === false) {
          throw new BadRequest('the simulator applies the chat template with the generation prompt only', 'add_generation_prompt');
        }
        ids = this.counter.ids({ messages: chatMessages(json.messages) });
      } else {
        if (typeof json.prompt !== 'string') throw new BadRequest('prompt: a string is required (or messages)', 'prompt');
        ids = this.counter.ids({ text: json.prompt, addSpecial: optionalBool(json, 'add_special_tokens') ?? true });
      }
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      return void sendError(res, 400, 'BadRequestError', err.message, err.param);
    }
    res.writeHead(200, JSON_HEADERS).end(JSON.stringify({ count: ids.length, max_model_len: this.model.maxRequestTokens, tokens: ids, token_strs: null }));
  }

  private generate(kind: ApiKind, body: string, req: IncomingMessage, res: ServerResponse): void {
    if (this.closed) return void sendError(res, 503, 'ServiceUnavailable', 'the simulator is shutting down');
    let params: GenerationParams;
    try {
      params = parseGeneration(kind, body, this.counter);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      this.counts.badRequestsTotal++;
      return void sendError(res, 400, 'BadRequestError', err.message, err.param);
    }
    // vLLM checks the model after the body's schema and before the prompt
    let served: { name: string; adapter?: string } | undefined;
    try {
      served = this.servedModel(params.model);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      this.counts.badRequestsTotal++;
      return void sendError(res, 400, 'BadRequestError', err.message, err.param);
    }
    if (!served) {
      this.counts.badRequestsTotal++;
      return void sendError(res, 404, 'NotFoundError', `The model \`${String(params.model)}\` does not exist.`, 'model');
    }
    const maxModelLen = this.model.maxRequestTokens;
    if (params.promptTokens >= maxModelLen) {
      this.counts.badRequestsTotal++;
      const message =
        `This model's maximum context length is ${maxModelLen} tokens. However, your request has ` +
        `${params.promptTokens} input tokens. Please reduce the length of the input messages.`;
      return void sendError(res, 400, 'BadRequestError', message, 'messages');
    }
    const maxTokens = Math.min(params.maxTokens ?? DEFAULT_MAX_TOKENS, maxModelLen - params.promptTokens);
    if (params.minTokens > maxTokens) {
      this.counts.badRequestsTotal++;
      const message = 'min_tokens must be less than or equal to max_tokens';
      return void sendError(res, 400, 'BadRequestError', message, 'min_tokens');
    }
    if (req.headers.authorization !== undefined) this.counts.authorizationSeenTotal++;
    this.counts.requestsTotal++;
    const plan = this.planner.next({ maxTokens, minTokens: params.minTokens, ignoreEos: params.ignoreEos });
    const fault = plan.fault;
    switch (fault.kind) {
      case 'http500':
        this.faultCounts.http500++;
        return void sendError(res, 500, 'InternalServerError', 'Internal server error (injected fault)');
      case 'http429':
        this.faultCounts.http429++;
        res.setHeader('retry-after', '1');
        return void sendError(res, 429, 'RateLimitError', 'Too many requests (injected fault); retry after 1 s');
      case 'stall':
        this.faultCounts.stall++;
        break;
      case 'drop':
      case 'midStreamError':
      case 'none':
        break;
      default: {
        const unreachable: never = fault;
        throw new Error(`unknown fault ${JSON.stringify(unreachable)}`);
      }
    }

    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${this.idPrefix}${plan.ordinal.toString(16).padStart(8, '0')}`;
    const created = Math.floor(Date.now() / 1000);
    const ex: Exchange = {
      kind,
      res,
      id,
      created,
      plan,
      promptTokens: params.promptTokens,
      includeUsage: params.includeUsage,
      emitTimestamps: this.emitTimestamps || req.headers[EMIT_TIMESTAMPS_HEADER] === '1',
      modelName: served.name,
      frames: params.stream ? streamFrames(kind, id, created, served.name) : undefined,
      request: undefined,
      done: false,
    };
    ex.request = this.model.add(
      {
        promptTokens: params.promptTokens,
        outputTokens: plan.outputTokens,
        finishReason: plan.finishReason,
        ...(served.adapter !== undefined ? { adapter: served.adapter } : {}),
        ...(this.prefixCaching
          ? { blockHashes: blockHashes(params.promptTokenKeys(), this.profile.blockSizeTokens, served.adapter === undefined ? '' : `lora:${served.adapter}`) }
          : {}),
        ...(fault.kind === 'stall' ? { stall: { afterTokens: fault.afterTokens, stallUs: fault.stallUs } } : {}),
      },
      ex,
      this.nowUs(),
    );
    this.open.add(ex);
    res.on('close', () => {
      if (ex.done) return;
      this.counts.clientAbortsTotal++;
      this.finish(ex);
      this.kick();
    });
    if (params.stream) {
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
    }
    this.kick();
  }

  /**
   * What a request's `model` is served as (vLLM's `_check_model`): with adapters, the profile's
   * model (also when `model` is absent or empty), an adapter by its name, else undefined (404).
   * Without adapters any name is the base model, as before adapters existed.
   */
  private servedModel(model: unknown): { name: string; adapter?: string } | undefined {
    const base = { name: this.profile.modelName };
    if (this.adapters.size === 0 || model === undefined || model === null || model === '') return base;
    if (typeof model !== 'string') throw new BadRequest('model must be a string', 'model');
    if (model === base.name) return base;
    return this.adapters.has(model) ? { name: model, adapter: model } : undefined;
  }

  // ---- engine timer -------------------------------------------------------------------------

  /** Run what is due and re-arm the single step timer. */
  private kick(nowUs = this.nowUs()): void {
    if (this.closed || this.advancing) return;
    this.advancing = true;
    let next: number | undefined;
    try {
      next = this.loop.advance(nowUs);
    } finally {
      this.advancing = false;
    }
    this.arm(next);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    const nowUs = this.nowUs();
    const lagUs = nowUs - this.timerDueUs;
    if (lagUs > this.counts.maxTimerLagUs) this.counts.maxTimerLagUs = lagUs;
    this.kick(nowUs + TIMER_TOLERANCE_US);
  };

  private arm(dueUs: number | undefined): void {
    if (dueUs === undefined) {
      this.disarm();
      return;
    }
    if ((this.timer || this.immediate) && this.timerDueUs === dueUs) return;
    this.disarm();
    this.timerDueUs = dueUs;
    const delayUs = dueUs - this.nowUs();
    if (delayUs <= TIMER_TOLERANCE_US) this.immediate = setImmediate(this.onTimer);
    else this.timer = setTimeout(this.onTimer, Math.max(1, Math.round(delayUs / 1000)));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  // ---- writing tokens -------------------------------------------------------------------------

  /** All tokens of one step, written in the same tick. */
  private onTokens(events: ReadonlyArray<TokenEvent<Exchange>>): void {
    for (const e of events) {
      const ex = e.request.ctx;
      if (ex.done) continue;
      if (ex.frames) this.writeToken(ex, ex.frames, e);
      else this.advanceNonStreaming(ex, e);
    }
  }

  private writeToken(ex: Exchange, frames: StreamFrames, e: TokenEvent<Exchange>): void {
    const text = tokenText(ex.plan.ordinal, e.tokenCount);
    const emitMs = ex.emitTimestamps ? performance.timeOrigin + performance.now() : undefined;
    const first = e.tokenCount === 1 && ex.kind === 'chat' ? frames.role(emitMs) : '';
    if (e.finishReason !== null) {
      const usage = ex.includeUsage ? frames.usage(ex.promptTokens, e.tokenCount, emitMs, this.cachedTokens(ex)) : '';
      ex.res.end(first + frames.last(text, e.finishReason, emitMs) + usage + DONE_FRAME);
      this.counts.completedTotal++;
      this.finish(ex);
      return;
    }
    const chunk = first + frames.token(text, emitMs);
    const fault = ex.plan.fault;
    if (fault.kind === 'drop' && fault.afterTokens === e.tokenCount) {
      this.faultCounts.drop++;
      ex.res.write(chunk);
      this.finish(ex);
      ex.res.socket?.destroy();
    } else if (fault.kind === 'midStreamError' && fault.afterTokens === e.tokenCount) {
      this.faultCounts.midStreamError++;
      ex.res.end(chunk + STREAM_ERROR_FRAME + DONE_FRAME);
      this.finish(ex);
    } else {
      ex.res.write(chunk);
    }
  }

  private advanceNonStreaming(ex: Exchange, e: TokenEvent<Exchange>): void {
    const fault = ex.plan.fault;
    if (e.finishReason === null) {
      if (fault.kind === 'drop' && fault.afterTokens === e.tokenCount) {
        this.faultCounts.drop++;
        this.finish(ex);
        ex.res.socket?.destroy();
      } else if (fault.kind === 'midStreamError' && fault.afterTokens === e.tokenCount) {
        this.faultCounts.midStreamError++;
        this.finish(ex);
        sendError(ex.res, 500, 'InternalServerError', 'Internal server error (injected fault)');
      }
      return;
    }
    const completionTokens = e.tokenCount;
    const usage = {
      prompt_tokens: ex.promptTokens,
      total_tokens: ex.promptTokens + completionTokens,
      completion_tokens: completionTokens,
      ...(this.prefixCaching ? { prompt_tokens_details: { cached_tokens: this.cachedTokens(ex) } } : {}),
    };
    const text = outputText(ex.plan.ordinal, completionTokens);
    const body =
      ex.kind === 'chat'
        ? {
            id: ex.id,
            object: 'chat.completion',
            created: ex.created,
            model: ex.modelName,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: text, tool_calls: [] },
                logprobs: null,
                finish_reason: e.finishReason,
                stop_reason: null,
              },
            ],
            usage,
          }
        : {
            id: ex.id,
            object: 'text_completion',
            created: ex.created,
            model: ex.modelName,
            choices: [{ index: 0, text, logprobs: null, finish_reason: e.finishReason, stop_reason: null }],
            usage,
          };
    ex.res.writeHead(200, JSON_HEADERS).end(JSON.stringify(body));
    this.counts.completedTotal++;
    this.finish(ex);
  }

  /** The request's prefix-cache hit, for `usage.prompt_tokens_details`; undefined when caching is off. */
  private cachedTokens(ex: Exchange): number | undefined {
    if (!this.prefixCaching) return undefined;
    return Math.max(0, ex.request?.cachedTokens ?? 0);
  }

  /** The exchange is over: out of the engine (blocks freed) and out of the open set. */
  private finish(ex: Exchange): void {
    ex.done = true;
    this.open.delete(ex);
    if (ex.request) this.model.abort(ex.request);
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  private stats(): SimServerStats {
    return {
      requestsTotal: this.counts.requestsTotal,
      badRequestsTotal: this.counts.badRequestsTotal,
      completedTotal: this.counts.completedTotal,
      clientAbortsTotal: this.counts.clientAbortsTotal,
      activeRequests: this.open.size,
      authorizationSeenTotal: this.counts.authorizationSeenTotal,
      faults: { ...this.faultCounts },
      maxTimerLagMs: this.counts.maxTimerLagUs / 1000,
      engine: { ...this.model.counters, ...this.model.gauges() },
    };
  }

  private close(): Promise<void> {
    const server = this.server;
    if (!server || this.closed) return Promise.resolve();
    this.closed = true;
    this.disarm();
    for (const ex of [...this.open]) {
      ex.done = true;
      if (ex.request) this.model.abort(ex.request);
      ex.res.destroy();
    }
    this.open.clear();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

function sendError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  param: string | null = null,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, JSON_HEADERS).end(errorBody(status, type, message, param));
}

/** The adapter names, checked: distinct non-empty strings, none the profile's own model. */
function checkAdapters(adapters: unknown, baseModel: string): ReadonlySet<string> {
  if (!Array.isArray(adapters)) throw new RangeError('adapters must be a list of names');
  const out = new Set<string>();
  for (const name of adapters) {
    if (typeof name !== 'string' || name.length === 0) throw new RangeError(`adapter names must be non-empty strings, got ${JSON.stringify(name)}`);
    if (name === baseModel) throw new RangeError(`adapter "${name}" has the name of the base model`);
    if (out.has(name)) throw new RangeError(`adapter "${name}" is listed twice`);
    out.add(name);
  }
  return out;
}

/**
 * `GET /v1/models` as vLLM's `show_available_models` writes it: the base model's card, then one per
 * LoRA adapter with the base model as its `parent`. vLLM's adapter `root` is the adapter's path;
 * the simulator has none and gives the name.
 */
function modelList(profile: SimProfile, adapters: readonly string[]): string {
  const created = Math.floor(Date.now() / 1000);
  const permission = (): Record<string, unknown> => ({
    id: `modelperm-${randomBytes(16).toString('hex')}`,
    object: 'model_permission',
    created,
    allow_create_engine: false,
    allow_sampling: true,
    allow_logprobs: true,
    allow_search_indices: false,
    allow_view: true,
    allow_fine_tuning: false,
    organization: '*',
    group: null,
    is_blocking: false,
  });
  const card = (id: string, root: string, parent: string | null, maxModelLen: number | null): Record<string, unknown> => ({
    id,
    object: 'model',
    created,
    owned_by: 'vllm',
    root,
    parent,
    max_model_len: maxModelLen,
    permission: [permission()],
  });
  return JSON.stringify({
    object: 'list',
    data: [
      card(profile.modelName, profile.modelName, null, profile.maxModelLen),
      ...adapters.map((name) => card(name, name, profile.modelName, null)),
    ],
  });
}

// ---- request parsing ------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How the simulator counts a prompt: the scenario's tokenizer, or the approximation the client falls back on. */
interface PromptCounter {
  chat(messages: readonly ChatMessage[]): number;
  completion(text: string): number;
  /** the ids POST /tokenize answers with (the approximation has none: zeros, as many as it counts) */
  ids(input: { messages: readonly ChatMessage[] } | { text: string; addSpecial: boolean }): number[];
  /**
   * the prompt's tokens as the prefix cache keys them: the ids, or without a tokenizer the words
   * (whitespace-separated, each message's role first), which the approximation counts about one a token
   */
  keys(input: { messages: readonly ChatMessage[] } | { text: string; addSpecial: boolean }): ArrayLike<number | string>;
}

const APPROXIMATE_COUNTER: PromptCounter = {
  chat: (messages) => messages.reduce((n, m) => n + approxTokenCount(m.content), 0),
  completion: approxTokenCount,
  ids: (input) => new Array<number>('messages' in input ? APPROXIMATE_COUNTER.chat(input.messages) : approxTokenCount(input.text)).fill(0),
  keys: (input) =>
    'messages' in input ? input.messages.flatMap((m) => [`<${m.role}>`, ...promptWords(m.content)]) : promptWords(input.text),
};

function promptWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

/** Counts as vLLM does with this tokenizer: a completion with BOS, a chat through its template. */
function tokenizerCounter(t: LocalTokenizer): PromptCounter {
  return {
    chat: (messages) => t.countChat(messages),
    completion: (text) => t.countCompletion(text),
    ids: (input) => ('messages' in input ? t.chatIds(input.messages) : t.ids(input.text, input.addSpecial)),
    keys: (input) => ('messages' in input ? t.chatIds(input.messages) : t.ids(input.text, input.addSpecial)),
  };
}

/** A request body that must be a JSON object, or the 400 vLLM would answer. */
function jsonObject(body: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new BadRequest(`invalid JSON body: ${(err as Error).message}`);
  }
  if (!isObject(json)) throw new BadRequest('the request body must be a JSON object');
  return json;
}

/** Parse and check a chat/completions body the way vLLM's pydantic models would reject it. */
function parseGeneration(kind: ApiKind, body: string, counter: PromptCounter): GenerationParams {
  const json = jsonObject(body);

  const messages = kind === 'chat' ? chatMessages(json.messages) : undefined;
  const promptTokens = messages ? counter.chat(messages) : completionPromptTokens(json.prompt, counter);
  const prompt = json.prompt;
  // keyed only when the engine caches: a tokenizer's second encoding costs
  const promptTokenKeys = (): ArrayLike<number | string> => {
    if (messages) return counter.keys({ messages });
    const p = Array.isArray(prompt) && prompt.length === 1 ? prompt[0] : prompt;
    if (Array.isArray(p)) return p as number[];
    return counter.keys({ text: String(p), addSpecial: true });
  };
  const maxTokens = optionalInt(json, 'max_completion_tokens', 1) ?? optionalInt(json, 'max_tokens', 1);
  const minTokens = optionalInt(json, 'min_tokens', 0) ?? 0;
  const ignoreEos = optionalBool(json, 'ignore_eos') ?? false;
  const stream = optionalBool(json, 'stream') ?? false;
  const n = optionalInt(json, 'n', 1);
  if (n !== undefined && n !== 1) throw new BadRequest('the simulator supports n = 1 only', 'n');
  let includeUsage = false;
  const so = json.stream_options;
  if (so !== undefined && so !== null) {
    if (!stream) throw new BadRequest('Stream options can only be defined when `stream=True`.', 'stream_options');
    if (!isObject(so)) throw new BadRequest('stream_options must be an object', 'stream_options');
    const iu = so.include_usage;
    if (iu !== undefined && iu !== null && typeof iu !== 'boolean') {
      throw new BadRequest('stream_options.include_usage must be a boolean', 'stream_options');
    }
    includeUsage = iu === true;
  }
  return { model: json.model, promptTokens: Math.max(1, promptTokens), promptTokenKeys, maxTokens, minTokens, ignoreEos, stream, includeUsage };
}

/** The messages with their text: a content of parts is its text parts joined by newlines (as vLLM joins them). */
function chatMessages(messages: unknown): ChatMessage[] {
  if (messages === undefined) throw new BadRequest('messages: Field required', 'messages');
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRequest('messages must be a non-empty array', 'messages');
  }
  const out: ChatMessage[] = [];
  for (const m of messages) {
    if (!isObject(m) || typeof m.role !== 'string') {
      throw new BadRequest('each message must be an object with a string role', 'messages');
    }
    const content = m.content;
    if (typeof content === 'string') out.push({ role: m.role, content });
    else if (Array.isArray(content)) {
      const texts: string[] = [];
      for (const part of content) {
        if (isObject(part) && part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      }
      out.push({ role: m.role, content: texts.join('\n') });
    } else if (content === null || content === undefined) out.push({ role: m.role, content: '' });
    else throw new BadRequest('message content must be a string, an array of parts or null', 'messages');
  }
  return out;
}

function completionPromptTokens(prompt: unknown, counter: PromptCounter): number {
  if (prompt === undefined || prompt === null) throw new BadRequest('prompt: Field required', 'prompt');
  if (typeof prompt === 'string') return counter.completion(prompt);
  if (Array.isArray(prompt)) {
    if (prompt.length > 0 && prompt.every((t) => Number.isInteger(t))) return prompt.length;
    if (prompt.length === 1) return completionPromptTokens(prompt[0], counter);
    throw new BadRequest('batched prompts are not supported by the simulator; send one prompt', 'prompt');
  }
  throw new BadRequest('prompt must be a string, an array of token ids, or a one-element array', 'prompt');
}

function optionalInt(o: Record<string, unknown>, key: string, min: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new BadRequest(`${key} must be an integer >= ${min}`, key);
  }
  return v;
}

function optionalBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new BadRequest(`${key} must be a boolean`, key);
  return v;
}
