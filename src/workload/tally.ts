// The workload as it ran: the distributions of prompt and output tokens asked for (what each
// request planned and sent as max_tokens) and served (the server's usage), for results.workload.
// Exact: lengths are whole numbers of tokens with few distinct values, so each distribution is a
// count per length (bounded by the longest length, not by the number of requests).
import type { RequestRecord } from '../core/record.js';

/** One distribution of token counts over the run's measured requests. */
export interface TokenDistribution {
  count: number;
  mean: number | null;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface AskedServed {
  /** every measured request sent: prompt tokens planned, max_tokens asked */
  asked: TokenDistribution;
  /** every measured request that completed with usage: usage.prompt_tokens, usage.completion_tokens */
  served: TokenDistribution;
}

class Counts {
  private readonly byValue = new Map<number, number>();
  private n = 0;
  private sum = 0;

  add(value: number): void {
    this.byValue.set(value, (this.byValue.get(value) ?? 0) + 1);
    this.n++;
    this.sum += value;
  }

  summary(): TokenDistribution {
    if (this.n === 0) return { count: 0, mean: null, min: null, p50: null, p90: null, p99: null, max: null };
    const values = [...this.byValue.keys()].sort((a, b) => a - b);
    // nearest rank: the smallest value with at least p·n requests at or below it
    const at = (p: number): number => {
      const rank = Math.max(1, Math.ceil(p * this.n));
      let seen = 0;
      for (const v of values) {
        seen += this.byValue.get(v)!;
        if (seen >= rank) return v;
      }
      return values[values.length - 1]!;
    };
    return {
      count: this.n,
      mean: Math.round((this.sum / this.n) * 10) / 10,
      min: values[0]!,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: values[values.length - 1]!,
    };
  }
}

/** Tallies ended requests (warm-up and dropped ones left out, as in the summary). */
export class WorkloadTally {
  private readonly promptAsked = new Counts();
  private readonly promptServed = new Counts();
  private readonly outputAsked = new Counts();
  private readonly outputServed = new Counts();

  add(r: RequestRecord): void {
    if (r.warmup || r.dropped) return;
    this.promptAsked.add(r.promptTokensPlanned);
    if (r.outputTokensAsked > 0) this.outputAsked.add(r.outputTokensAsked);
    if (!r.ok) return;
    if (r.promptTokensUsage !== null) this.promptServed.add(r.promptTokensUsage);
    if (r.outputTokensUsage !== null) this.outputServed.add(r.outputTokensUsage);
  }

  summary(): { prompt_tokens: AskedServed; output_tokens: AskedServed } {
    return {
      prompt_tokens: { asked: this.promptAsked.summary(), served: this.promptServed.summary() },
      output_tokens: { asked: this.outputAsked.summary(), served: this.outputServed.summary() },
    };
  }
}
