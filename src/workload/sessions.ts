// Multi-turn sessions (workload.sessions): a conversation per session, every turn resending the
// whole history, the replies exactly as the server streamed them included.
//
// A turn's prompt tokens are planned without tokenizing the history on the send path (a local
// tokenizer would block the event loop for milliseconds on a long history, and `server` counting
// is an HTTP call): every message adds its content's tokens and a fixed number of template tokens,
// measured once before the run (`measureTurnCosts`), and a reply counts as the tokens the server
// said it generated (usage.completion_tokens, or its chunks). The run measures what this plan is
// worth per request (summary.tokens.prompt_planned_vs_server), as it does for every prompt.
import type { Endpoint } from '../core/types.js';
import type { ChatMessage, TokenText, Tokenizer } from './tokenizer.js';

/** Template tokens a message adds beyond its content, measured on the run's tokenizer. */
export interface TurnCosts {
  /** a first user message: the tokenizer's overhead (BOS, the template's headers, the generation prompt) */
  first: number;
  /** a system message (the shared prefix) before the first user message */
  system: number;
  /** an assistant reply and the next user message after it */
  turn: number;
}

/** Costs for the approximation: content only, nothing around it (as its countPrompt counts). */
export const NO_TURN_COSTS: TurnCosts = { first: 0, system: 0, turn: 0 };

/** The prompt a conversation is sent as on the endpoint: the messages, or their contents joined (completions). */
export function promptOf(messages: readonly ChatMessage[], endpoint: Endpoint): string | readonly ChatMessage[] {
  return endpoint === 'chat' ? messages : messages.map((m) => m.content).join('\n');
}

/**
 * Measures TurnCosts with the tokenizer's own counts of short conversations of one-token words
 * (before the tokenizer lets go of its vocabulary). Differences, so whatever a template adds per
 * message (headers, end-of-turn tokens, a default system prompt it drops when one is given) is
 * taken as it is.
 */
export async function measureTurnCosts(tokenizer: Tokenizer, sample: (tokens: number) => TokenText): Promise<TurnCosts> {
  const [u1, a1, u2, sys] = [sample(8), sample(8), sample(8), sample(8)];
  const ep = tokenizer.endpoint;
  const user = (t: TokenText): ChatMessage => ({ role: 'user', content: t.text });
  const one = await tokenizer.countPrompt(promptOf([user(u1)], ep));
  const withSystem = await tokenizer.countPrompt(promptOf([{ role: 'system', content: sys.text }, user(u1)], ep));
  const twoTurns = await tokenizer.countPrompt(promptOf([user(u1), { role: 'assistant', content: a1.text }, user(u2)], ep));
  return { first: one - u1.tokens, system: withSystem - one - sys.tokens, turn: twoTurns - one - a1.tokens - u2.tokens };
}

/** One session's conversation, as the engine drives it turn by turn. */
export class Conversation {
  /** turns sent so far */
  turn = 0;
  /** the history: [system prefix], user, assistant, user, ... */
  readonly messages: ChatMessage[] = [];
  /** each message's content tokens (messages[i] ↔ content[i]); a reply's are what the server generated */
  readonly content: number[] = [];
  /** turns left out of the history (historyTokens) */
  dropped = 0;

  constructor(
    readonly id: number,
    /** turns planned for this session */
    readonly turns: number,
    /** index into workload.classes, or null */
    readonly cls: number | null,
    /** target.models' name, or null */
    readonly model: string | null,
    /** the global shared-prefix group of the system message, or null */
    readonly prefixGroup: number | null,
    private readonly costs: TurnCosts,
  ) {}

  get done(): boolean {
    return this.turn >= this.turns;
  }

  private get hasSystem(): boolean {
    return this.messages[0]?.role === 'system';
  }

  /** Planned prompt tokens of the history as it stands (its last message a user's). */
  get plannedTokens(): number {
    let n = this.costs.first;
    for (const t of this.content) n += t;
    const conversation = this.messages.length - (this.hasSystem ? 1 : 0);
    if (this.hasSystem) n += this.costs.system;
    // every reply and the user message after it add the template's cost of a turn
    return n + this.costs.turn * Math.max(0, (conversation - 1) / 2);
  }

  add(message: ChatMessage, tokens: number): void {
    this.messages.push(message);
    this.content.push(tokens);
  }

  /**
   * Leaves the oldest turns out, a user message and its reply at a time (the system prefix and
   * the newest user message kept), until the history is within `limit` planned tokens or only
   * the newest user message is left.
   */
  trim(limit: number): void {
    const start = this.hasSystem ? 1 : 0;
    while (this.plannedTokens > limit && this.messages.length - start >= 3) {
      this.messages.splice(start, 2);
      this.content.splice(start, 2);
      this.dropped++;
    }
  }
}
