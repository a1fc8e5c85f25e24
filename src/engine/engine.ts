// The run loop: at each intended time take a request from the workload and send it through
// the backend; enforce the in-flight cap (an arrival that finds no slot is dropped and
// counted, never delayed); run closed-loop users; end with a graceful stop. It only paces
// and counts: stamps come from the backend, statistics from the recorder.
import type { Clock } from '../core/clock.js';
import { RequestRecord } from '../core/record.js';
import { Rng } from '../core/rng.js';
import type { ScenarioSpec } from '../core/types.js';
import type { Backend, GenRequest, RequestHandle } from '../backend/types.js';
import type { Recorder } from '../metrics/recorder.js';
import { arrivalSchedule, isOpenLoop, loadDurationS, tailLevel, vuTargetAt, type VuLoad } from '../schedule/arrivals.js';
import type { Workload } from '../workload/workload.js';
import type { Conversation } from '../workload/sessions.js';
import { ownerOf, ownsUser, requestsShare, type ShardSpec } from '../core/shard.js';
import { sleepRoughly, sleepUntil } from './pacer.js';

/** Why the load phase ended. */
export type StopReason = 'schedule' | 'requests' | 'interrupted' | 'target-failed' | 'aborted';

export interface EngineOptions {
  spec: ScenarioSpec;
  backend: Backend;
  workload: Workload;
  recorder: Recorder;
  clock: Clock;
  /** every request, once ended (sent or dropped): e.g. requests.jsonl */
  onRequestEnd?: (r: RequestRecord) => void;
  /** called from the engine's tick (every `tickMs`) */
  onTick?: (nowUs: number) => void;
  tickMs?: number;
  /** failures in a row, with no success ever, that mean the target is down (default 20) */
  targetDownAfter?: number;
  /**
   * this process is one shard of the run: it walks the whole run's schedule and sends its own
   * part (core/shard.ts); request ids stay the whole run's. Default: the whole run.
   */
  shard?: ShardSpec;
}

export interface EngineOutcome {
  stoppedBy: StopReason;
  reason: string | null;
  /** when arrivals ended (µs since start): the end of the arrival period */
  arrivalsEndUs: number;
  /** when the last in-flight request ended or was cut */
  endUs: number;
  /** requests cut at the graceful-stop deadline */
  abortedInFlight: number;
}

interface InFlight {
  handle: RequestHandle;
  waiter: (() => void) | null;
  /** the session this request is a turn of (open loop: its end schedules the next turn) */
  conv: Conversation | null;
}

/** Sessions over the run (workload.sessions): results.sessions. */
export interface SessionCounts {
  started: number;
  /** every planned turn completed */
  completed: number;
  /** a turn failed or was dropped: the conversation cannot go on without its reply */
  broken: number;
  /** the run ended (the load's duration, a request count, a stop) before the session's last turn */
  cut: number;
}

export class Engine {
  private readonly spec: ScenarioSpec;
  private readonly clock: Clock;
  private readonly inflight = new Map<RequestRecord, InFlight>();
  private nextId = 0;
  /** closed loop and later turns: arrivals taken against the request count */
  private claimed = 0;
  private readonly shard: ShardSpec;
  private stopping: StopReason | null = null;
  private stopMessage: string | null = null;
  private stopGraceS: number;
  private everOk = false;
  private failuresInRow = 0;
  private drainWaiter: (() => void) | null = null;
  /** while the graceful stop runs: end it within `ms` from now if that is sooner */
  private shortenDrain: ((ms: number) => void) | null = null;
  private readonly timeoutUs: number;
  private readonly limit: number | undefined;
  /** the request count this process claims arrivals against: the whole run's, or a shard's share */
  private readonly claimLimit: number | undefined;
  private readonly warmupUs: number;
  private vuRunning: boolean[] = [];
  private vuLoops: Promise<void>[] = [];
  /**
   * Closed loop: users started, and those of them that sent a request. Every user opens a
   * connection of its own (about 0.4 ms of this thread each), so thousands take seconds to start,
   * and a short run could end before most of them sent anything (vus 1e6 sent nothing at all).
   */
  usersStarted = 0;
  usersSent = 0;
  /** counts for live progress */
  sent = 0;
  dropped = 0;
  ended = 0;
  failed = 0;
  /** requests cut by the run itself (graceful stop, interrupt) */
  interrupted = 0;
  readonly sessions: SessionCounts = { started: 0, completed: 0, broken: 0, cut: 0 };
  private nextSession = 0;
  /** open loop: later turns waiting for their think time to pass */
  private pendingTurns = 0;
  /** the arrivals are over (the schedule's end, a stop): a session's next turn is no longer sent */
  private arrivalsOver = false;

  constructor(private readonly opts: EngineOptions) {
    this.spec = opts.spec;
    this.clock = opts.clock;
    this.stopGraceS = opts.spec.load.gracefulStopS;
    this.timeoutUs = opts.spec.target.timeoutS * 1e6;
    this.shard = opts.shard ?? { index: 0, count: 1 };
    // a request count is the whole run's: an open loop's schedule counts it over every shard's
    // arrivals; a closed loop (and later turns) claim this shard's share of it
    this.limit = opts.spec.requests;
    this.claimLimit = this.limit !== undefined && this.shard.count > 1 ? requestsShare(this.limit, this.shard) : this.limit;
    this.warmupUs = opts.spec.warmupS * 1e6;
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  /** Stop sending now; in-flight requests get `graceS` (default: the scenario's gracefulStop). */
  stop(reason: StopReason, message: string | null = null, graceS?: number): void {
    if (this.stopping && !(reason === 'interrupted' && this.stopping !== 'interrupted')) return;
    // an interrupt during the graceful stop (of the schedule's end or an early stop) still ends
    // the run as interrupted, and its shorter grace counts from now
    this.stopping = reason;
    this.stopMessage = message;
    if (graceS !== undefined) {
      this.stopGraceS = Math.min(this.stopGraceS, graceS);
      this.shortenDrain?.(graceS * 1000);
    }
  }

  /** Abort every request in flight at once (a second Ctrl-C). */
  abortAll(message: string): void {
    for (const [, f] of [...this.inflight]) f.handle.abort('aborted', message);
  }

  /**
   * Runs the code of a first arrival once before the run clock starts, on nothing that counts: a
   * throwaway schedule and the first request's build (pure: request k is the same whenever it is
   * built), and the backend's body building. Otherwise the first arrival pays for code running for
   * the first time (~3 ms in a smoke run: the schedule, the seeded streams, the first synthesis),
   * and a short run's schedule-lag p99 is that one arrival.
   */
  warm(): void {
    const load = this.spec.load;
    const workload = this.opts.workload;
    if (isOpenLoop(load) && load.executor !== 'trace') {
      const s = arrivalSchedule(load, Rng.derive(this.spec.seed, 'warm'), { requests: 4 });
      for (let i = 0; i < 4; i++) s.next();
    }
    if (workload.trace !== null) return;
    const req = workload.sessions ? workload.turnRequest(workload.startSession(this.shard.index)) : workload.request(0);
    this.opts.backend.warm?.(req);
  }

  async run(): Promise<EngineOutcome> {
    const tickMs = this.opts.tickMs ?? 100;
    const ticker = setInterval(() => this.tick(), tickMs);
    try {
      this.tick();
      if (isOpenLoop(this.spec.load)) await this.openLoop();
      else await this.closedLoop(this.spec.load);
      const arrivalsEndUs = this.clock.now();
      this.arrivalsOver = true;
      const abortedInFlight = await this.drain();
      // sessions: turns that were waiting for their think time when the run stopped are cut
      // before the run returns, so that its counts are final
      await this.settleTurns();
      // closed-loop users end once their request has ended (or been cut by the drain)
      await Promise.all(this.vuLoops);
      const stoppedBy: StopReason = this.stopping ?? 'schedule';
      return { stoppedBy, reason: this.stopMessage, arrivalsEndUs, endUs: this.clock.now(), abortedInFlight };
    } finally {
      clearInterval(ticker);
      this.opts.recorder.tick(this.clock.now());
    }
  }

  private tick(): void {
    const now = this.clock.now();
    this.opts.recorder.tick(now);
    // the total deadline of each request, from its send (undici's own timeouts are idle timeouts)
    if (this.inflight.size > 0) {
      for (const [r, f] of this.inflight) {
        if (now - r.sentUs > this.timeoutUs) f.handle.abort('timeout', `no end of stream within ${this.spec.target.timeoutS} s`);
      }
    }
    if (!isOpenLoop(this.spec.load) && !this.stopping) this.controlVus(this.spec.load, now);
    this.opts.onTick?.(now);
  }

  // -- open loop ----------------------------------------------------------------------

  private async openLoop(): Promise<void> {
    const load = this.spec.load;
    if (!isOpenLoop(load)) return;
    // a trace brings its own intended times, read from the file as the run goes
    const schedule =
      load.executor === 'trace' ? this.opts.workload.arrivals() : arrivalSchedule(load, Rng.derive(this.spec.seed, 'arrivals'), { requests: this.limit });
    const shouldStop = (): boolean => this.stopping !== null;
    const workload = this.opts.workload;
    const shard = this.shard;
    const process = load.executor === 'trace' ? 'trace' : load.arrival;
    const mine = (g: number): boolean => ownerOf(g, shard, process, this.spec.seed) === shard.index;
    if (load.executor === 'trace' && shard.count > 1) workload.arrivals().owns = mine;
    // the arrival's number in the whole run's schedule (every shard walks all of it)
    let g = -1;
    for (;;) {
      const due = await schedule.next();
      if (due === null) {
        if (this.limit !== undefined && g + 1 >= this.limit) this.stop('requests');
        if (workload.sessions) await this.laterTurns(loadDurationS(load) * 1e6);
        return;
      }
      g++;
      if (shard.count > 1 && !mine(g)) continue;
      // build the request before its time comes, so building never delays the send
      if (workload.sessions) {
        // an arrival starts a session (numbered as the run's arrivals); its later turns follow
        // their replies (continueSession)
        const conv = workload.startSession(g);
        this.sessions.started++;
        const req = workload.turnRequest(conv);
        await sleepUntil(this.clock, due, shouldStop);
        this.sendTurn(conv, due, req);
        if (this.stopping) return;
        continue;
      }
      const id = g;
      this.nextId = g + 1;
      const req = workload.request(id);
      await sleepUntil(this.clock, due, shouldStop);
      if (this.stopping) return;
      if (this.inflight.size >= load.maxInFlight) this.drop(id, due, req);
      else this.send(id, due, req);
    }
  }

  /**
   * Sessions, open loop: once the schedule has made its last session start, the sessions under
   * way go on until the load's end: each later turn is due before it (continueSession), so this
   * waits for the turns waiting and the requests in flight, or that end, or a stop.
   */
  private async laterTurns(loadEndUs: number): Promise<void> {
    const endUs = this.limit === undefined ? loadEndUs : Number.POSITIVE_INFINITY;
    for (;;) {
      if (this.stopping) break;
      const now = this.clock.now();
      // a turn waiting was due before the load's end: it is sent within a pacer step, so wait
      // for it even past the end; a request in flight may still bring one, until the end
      if (this.pendingTurns === 0 && (this.inflight.size === 0 || now >= endUs)) break;
      if (now >= endUs) await new Promise((r) => setTimeout(r, 2));
      else await sleepRoughly(this.clock, Math.min(endUs, now + 20_000), () => this.stopping !== null);
    }
    // from here on no new turn is sent (continueSession counts them cut)
    this.arrivalsOver = true;
  }

  /** Turns waiting when the run stopped: each wakes within a pacer step and counts itself cut. */
  private async settleTurns(): Promise<void> {
    for (const until = Date.now() + 1000; this.pendingTurns > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 2));
  }

  /**
   * One turn of a session at its intended time: a new arrival (the request count counts it),
   * sent, or dropped at the in-flight cap (which ends the session: no reply to go on with).
   */
  private sendTurn(conv: Conversation, due: number, req: GenRequest): void {
    if (this.stopping || (this.arrivalsOver && isOpenLoop(this.spec.load))) {
      this.sessions.cut++;
      return;
    }
    const id = this.claimArrival();
    if (id === null) {
      this.sessions.cut++;
      return;
    }
    const load = this.spec.load;
    if (isOpenLoop(load) && this.inflight.size >= load.maxInFlight) {
      this.drop(id, due, req);
      this.sessions.broken++;
    } else this.send(id, due, req, null, conv);
  }

  /**
   * Open loop: a session's turn ended. Its next turn is due the think time after this end (its
   * intended time: a late send of it counts as schedule lag), when that is inside the load.
   */
  private continueSession(conv: Conversation, r: RequestRecord): void {
    if (!r.ok) {
      // cut by the run: the run ended the session; a failure: it cannot go on without the reply
      if (r.errorClass === 'aborted' || r.errorClass === 'unfinished') this.sessions.cut++;
      else this.sessions.broken++;
      return;
    }
    if (conv.done) {
      this.sessions.completed++;
      return;
    }
    const load = this.spec.load;
    const workload = this.opts.workload;
    workload.noteReply(conv, r);
    const due = r.endUs + workload.thinkUs(conv);
    // a request count ends the run by itself: the load's length does not cut sessions then
    if (this.stopping || this.arrivalsOver || !isOpenLoop(load) || (this.limit === undefined && due >= loadDurationS(load) * 1e6)) {
      this.sessions.cut++;
      return;
    }
    const req = workload.turnRequest(conv);
    this.pendingTurns++;
    void sleepUntil(this.clock, due, () => this.stopping !== null).then(() => {
      this.pendingTurns--;
      this.sendTurn(conv, due, req);
    });
  }

  /** The record of request `id`, with what the workload said about it. */
  private newRecord(id: number, intendedUs: number, req: GenRequest): RequestRecord {
    const r = new RequestRecord(id, intendedUs, req.promptTokens, intendedUs < this.warmupUs);
    if (req.prefixGroup !== undefined) r.prefixGroup = req.prefixGroup;
    if (req.className !== undefined) r.className = req.className;
    if (req.model !== undefined) r.model = req.model;
    if (req.session !== undefined) {
      r.session = req.session;
      r.turn = req.turn ?? null;
    }
    return r;
  }

  private drop(id: number, intendedUs: number, req: GenRequest): void {
    const r = this.newRecord(id, intendedUs, req);
    r.dropped = true;
    this.dropped++;
    this.opts.recorder.onDropped(r);
    this.opts.onRequestEnd?.(r);
  }

  private send(id: number, intendedUs: number, req: GenRequest, waiter: (() => void) | null = null, conv: Conversation | null = null): RequestRecord {
    const r = this.newRecord(id, intendedUs, req);
    r.outputTokensAsked = req.maxTokens;
    const entry: InFlight = { handle: NO_HANDLE, waiter, conv };
    this.inflight.set(r, entry);
    this.sent++;
    this.opts.recorder.onSent(r, this.inflight.size);
    entry.handle = this.opts.backend.send(req, r, this.onDone);
    return r;
  }

  private readonly onDone = (r: RequestRecord): void => {
    const entry = this.inflight.get(r);
    this.inflight.delete(r);
    this.ended++;
    this.opts.recorder.record(r);
    this.opts.onRequestEnd?.(r);
    if (r.ok) {
      this.everOk = true;
      this.failuresInRow = 0;
    } else if (r.errorClass === 'aborted') {
      // cut by the run itself (graceful stop, interrupt): not the server's failure
      this.interrupted++;
    } else {
      this.failed++;
      this.failuresInRow++;
      if (!this.everOk && this.failuresInRow >= (this.opts.targetDownAfter ?? 20) && !this.stopping)
        this.stop('target-failed', `the first ${this.failuresInRow} requests all failed (last: ${r.errorClass}: ${r.errorMessage ?? ''})`, 0);
    }
    entry?.waiter?.();
    if (entry?.conv && isOpenLoop(this.spec.load)) this.continueSession(entry.conv, r);
    if (this.inflight.size === 0) this.drainWaiter?.();
  };

  // -- closed loop --------------------------------------------------------------------

  /**
   * The id of the next closed-loop arrival, or null when the request count is already made.
   * Taking the N-th stops the run at once: arrivals are over, and the drain waits for the
   * requests in flight (the N-th among them) up to the graceful stop, as the open loop does.
   */
  private claimArrival(): number | null {
    const limit = this.claimLimit;
    if (limit !== undefined && this.claimed >= limit) {
      this.stop('requests');
      return null;
    }
    this.claimed++;
    if (limit !== undefined && this.claimed >= limit) this.stop('requests');
    // a shard's ids interleave with the other shards' (k·N + i), so the run's ids stay unique
    if (this.shard.count === 1) return this.nextId++;
    return this.shard.index + this.shard.count * this.nextId++;
  }

  private controlVus(load: VuLoad, nowUs: number): void {
    const target = vuTargetAt(load, nowUs / 1e6, { requests: this.limit });
    for (let i = 0; i < target; i++) {
      // users are numbered over the whole run; this shard runs every N-th
      if (this.shard.count > 1 && !ownsUser(i, this.shard)) continue;
      if (!this.vuRunning[i]) {
        this.vuRunning[i] = true;
        this.vuLoops.push(this.vuLoop(load, i, nowUs));
      }
    }
  }

  private async closedLoop(load: VuLoad): Promise<void> {
    const endUs = loadDurationS(load) * 1e6;
    // a request count goes on past the stages, unless the load has no user to go on with
    const limited = this.limit !== undefined && tailLevel(load) > 0;
    // VUs are started by the tick; wait until the stages are over (or the request count is made)
    while (!this.stopping) {
      const now = this.clock.now();
      if (!limited && now >= endUs) break;
      await sleepRoughly(this.clock, limited ? now + 50_000 : Math.min(endUs, now + 50_000), () => this.stopping !== null);
    }
    if (!this.stopping && !limited) this.stop('schedule');
    // not waiting for the users here: their requests in flight get the graceful stop, like
    // the open loop's (drain), not as long as they like
  }

  private async vuLoop(load: VuLoad, index: number, startUs: number): Promise<void> {
    const thinkUs = load.thinkTimeS * 1e6;
    let intended = startUs;
    let sentOnce = false;
    this.usersStarted++;
    try {
      for (;;) {
        if (this.stopping) return;
        await sleepUntil(this.clock, intended, () => this.stopping !== null);
        if (this.stopping) return;
        // judged at the moment of sending, on the same clock as the tick that starts users, so
        // a user that retires is not started again at once; past the end of the stages only a
        // fixed request count keeps users going (at the tail level)
        const want = vuTargetAt(load, this.clock.now() / 1e6, { requests: this.limit });
        if (index >= want) return;
        // the count is checked and taken in one synchronous step, right before the send: all
        // users wake in the same turn of the loop, and a check before the await let every one
        // of them through (64 users, --requests 1: 64 requests)
        if (this.opts.workload.sessions) {
          if (!sentOnce) {
            sentOnce = true;
            this.usersSent++;
          }
          // a user holds one session at a time; the load's think time comes between sessions
          if (!(await this.userSession(intended))) return;
          intended = this.clock.now() + thinkUs;
          continue;
        }
        const id = this.claimArrival();
        if (id === null) return;
        const req = this.opts.workload.request(id);
        if (!sentOnce) {
          sentOnce = true;
          this.usersSent++;
        }
        await new Promise<void>((resolve) => this.send(id, intended, req, resolve));
        intended = this.clock.now() + thinkUs;
      }
    } finally {
      this.vuRunning[index] = false;
    }
  }

  /**
   * Closed loop: one user's session, turn after turn, each the think time after the last one's
   * end (its intended time). A user that retires in a ramp-down finishes its session first, as
   * k6 lets an iteration finish. False when the run ended it (the user stops too).
   */
  private async userSession(firstUs: number): Promise<boolean> {
    const workload = this.opts.workload;
    // numbered over the whole run: a shard's sessions interleave with the others' (k·N + i)
    const conv = workload.startSession(this.shard.index + this.shard.count * this.nextSession++);
    this.sessions.started++;
    let intended = firstUs;
    for (;;) {
      const req = workload.turnRequest(conv);
      await sleepUntil(this.clock, intended, () => this.stopping !== null);
      if (this.stopping) {
        this.sessions.cut++;
        return false;
      }
      const id = this.claimArrival();
      if (id === null) {
        this.sessions.cut++;
        return false;
      }
      let r!: RequestRecord;
      await new Promise<void>((resolve) => {
        r = this.send(id, intended, req, resolve);
      });
      if (!r.ok) {
        if (r.errorClass === 'aborted' || r.errorClass === 'unfinished') {
          this.sessions.cut++;
          return false;
        }
        this.sessions.broken++;
        return true;
      }
      if (conv.done) {
        this.sessions.completed++;
        return true;
      }
      workload.noteReply(conv, r);
      intended = r.endUs + workload.thinkUs(conv);
    }
  }

  // -- the end ------------------------------------------------------------------------

  /** Waits for in-flight requests up to the grace period, then cuts the rest. */
  private async drain(): Promise<number> {
    if (this.inflight.size === 0) return 0;
    const graceMs = this.stopGraceS * 1000;
    await new Promise<void>((resolve) => {
      let deadline = performance.now() + graceMs;
      let timer = setTimeout(resolve, graceMs);
      this.shortenDrain = (ms) => {
        if (performance.now() + ms >= deadline) return;
        deadline = performance.now() + ms;
        clearTimeout(timer);
        timer = setTimeout(resolve, ms);
      };
      this.drainWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.drainWaiter = null;
    this.shortenDrain = null;
    const left = [...this.inflight.values()];
    // The server had the whole graceful stop to finish these (every one was sent before the
    // arrivals ended) and did not: a failure against availability, or a server that hangs would
    // pass an availability SLO. An interrupt or a give-up cut them instead (not the server's
    // doing), and a graceful stop of 0 s gave them no time at all: those are only interrupted.
    const serverHadTime = this.stopGraceS > 0 && this.stopping !== 'interrupted' && this.stopping !== 'target-failed';
    for (const f of left)
      if (serverHadTime) f.handle.abort('unfinished', `still in flight when the graceful stop (${this.stopGraceS} s) ended`);
      else f.handle.abort('aborted', this.stopping === 'interrupted' ? 'cut by the interrupt' : `still in flight when the graceful stop (${this.stopGraceS} s) ended`);
    return left.length;
  }
}

const NO_HANDLE: RequestHandle = { abort: () => undefined };
