// Client-side balancing over replicas (target.urls): one client per replica, each request to the
// replica with the fewest requests in flight (ties in turn) or to each in turn. Where no gateway
// spreads the load, the run does; each request's record says which replica it went to.
import type { RequestRecord } from '../core/record.js';
import type { OpenAIBackend } from './openai/client.js';
import type { Backend, GenRequest, ParseStats, RequestHandle } from './types.js';

export type BalancePolicy = 'least-in-flight' | 'round-robin';

export class BalancedBackend implements Backend {
  private readonly inFlight: number[];
  private next = 0;

  constructor(
    private readonly backends: readonly OpenAIBackend[],
    private readonly policy: BalancePolicy,
  ) {
    if (backends.length === 0) throw new RangeError('BalancedBackend needs at least one backend');
    this.inFlight = backends.map(() => 0);
  }

  /** The replica of the next request. */
  private pick(): number {
    const n = this.backends.length;
    const start = this.next;
    this.next = (this.next + 1) % n;
    if (this.policy === 'round-robin') return start;
    // the fewest in flight; among equals the first from where round robin stands
    let best = start;
    for (let k = 1; k < n; k++) {
      const i = (start + k) % n;
      if (this.inFlight[i]! < this.inFlight[best]!) best = i;
    }
    return best;
  }

  send(req: GenRequest, record: RequestRecord, done: (record: RequestRecord) => void): RequestHandle {
    // a session stays on its replica, as a router with session affinity keeps it: its history is
    // in that replica's prefix cache
    const i = req.session !== undefined ? req.session % this.backends.length : this.pick();
    this.inFlight[i]!++;
    record.replica = i;
    return this.backends[i]!.send(req, record, (r) => {
      this.inFlight[i]!--;
      done(r);
    });
  }

  /** Opens the warm-up connections over the replicas, at least one each. */
  async preconnect(connections = 1): Promise<void> {
    const each = Math.max(1, Math.ceil(connections / this.backends.length));
    await Promise.all(this.backends.map((b) => b.preconnect(each)));
  }

  warm(req: GenRequest): void {
    this.backends[0]!.warm(req);
  }

  parseStats(): ParseStats {
    const sum: ParseStats = { template: 0, search: 0, json: 0 };
    for (const b of this.backends) {
      const s = b.parseStats();
      sum.template += s.template;
      sum.search += s.search;
      sum.json += s.json;
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.close()));
  }
}
