// Planned prompt tokens against the server's usage.prompt_tokens, per request (metrics.md "Prompt
// tokens: planned vs server"). The relative errors are kept as a distribution of values rounded to
// three significant digits (as the latency histograms are): bounded in size (a few thousand
// distinct values at most, one when every count matches), exact for 0, and mergeable across shards
// by adding counts.

/** What the recorder accumulates over the measured requests. */
export interface PromptPlannedCounts {
  /** completed requests whose response carried usage.prompt_tokens */
  compared: number;
  /** of those, planned ≠ server */
  mismatches: number;
  /** sum of planned − server, tokens */
  differenceSum: number;
  /** |planned − server| / server, rounded to 3 significant digits → requests */
  relativeErrors: Map<number, number>;
}

/** results.summary.tokens.prompt_planned_vs_server */
export interface PromptPlannedVsServer {
  requests_compared: number;
  mismatches: number;
  /** nearest-rank percentiles of |planned − server| / server; null when no request was compared */
  relative_error_p50: number | null;
  relative_error_p99: number | null;
  relative_error_max: number | null;
  /** mean of planned − server (tokens; negative: the server counted more); null when none compared */
  mean_difference_tokens: number | null;
  /** the distribution itself: relative error (3 significant digits) → requests; what shards merge by */
  relative_errors: Record<string, number>;
}

export function newPromptPlannedCounts(): PromptPlannedCounts {
  return { compared: 0, mismatches: 0, differenceSum: 0, relativeErrors: new Map() };
}

/** One completed request: what the workload planned and what the server counted (null: no usage). */
export function notePromptPlanned(c: PromptPlannedCounts, planned: number, server: number | null): void {
  if (server === null) return;
  c.compared++;
  const diff = planned - server;
  if (diff === 0) {
    c.relativeErrors.set(0, (c.relativeErrors.get(0) ?? 0) + 1);
    return;
  }
  c.mismatches++;
  c.differenceSum += diff;
  const key = Number((Math.abs(diff) / Math.max(1, server)).toPrecision(3));
  c.relativeErrors.set(key, (c.relativeErrors.get(key) ?? 0) + 1);
}

export function summarizePromptPlanned(c: PromptPlannedCounts): PromptPlannedVsServer {
  const relative_errors: Record<string, number> = {};
  for (const [k, n] of [...c.relativeErrors].sort((a, b) => a[0] - b[0])) relative_errors[String(k)] = n;
  return fromDistribution(c.compared, c.mismatches, c.differenceSum, relative_errors);
}

/** Shards' figures as one: counts and distributions added. */
export function mergePromptPlanned(parts: readonly PromptPlannedVsServer[]): PromptPlannedVsServer {
  const sums = new Map<number, number>();
  let compared = 0;
  let mismatches = 0;
  let differenceSum = 0;
  for (const p of parts) {
    compared += p.requests_compared;
    mismatches += p.mismatches;
    differenceSum += (p.mean_difference_tokens ?? 0) * p.requests_compared;
    for (const [k, n] of Object.entries(p.relative_errors)) sums.set(Number(k), (sums.get(Number(k)) ?? 0) + n);
  }
  return summarizePromptPlanned({ compared, mismatches, differenceSum: Math.round(differenceSum), relativeErrors: sums });
}

function fromDistribution(compared: number, mismatches: number, differenceSum: number, dist: Record<string, number>): PromptPlannedVsServer {
  const entries = Object.entries(dist).map(([k, n]) => [Number(k), n] as const);
  const at = (p: number): number | null => {
    if (compared === 0) return null;
    const rank = Math.ceil((p / 100) * compared);
    let seen = 0;
    for (const [v, n] of entries) {
      seen += n;
      if (seen >= rank) return v;
    }
    return entries[entries.length - 1]![0];
  };
  return {
    requests_compared: compared,
    mismatches,
    relative_error_p50: at(50),
    relative_error_p99: at(99),
    relative_error_max: compared === 0 ? null : entries[entries.length - 1]![0],
    mean_difference_tokens: compared === 0 ? null : Math.round((differenceSum / compared) * 1000) / 1000,
    relative_errors: dist,
  };
}
