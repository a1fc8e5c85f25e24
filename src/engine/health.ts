// The load generator watching itself: event-loop delay, CPU, memory. A saturated client
// reports its own slowness as the server's, so a run says when its numbers are not trustworthy.
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { GeneratorHealth } from '../results/types.js';
import { LagProbe } from './lag-probe.js';
import { pacerSpinUs } from './pacer.js';

/** Thresholds beyond which the generator, not the server, may have been the bottleneck. */
export const HEALTH_LIMITS = {
  eventLoopLagP99Ms: 2,
  cpuRatio: 0.8,
  scheduleLagP99Ms: 5,
  /** the main thread waiting for a CPU this share of the run: the machine, not the client, was busy */
  cpuWaitRatio: 0.05,
} as const;

export interface HealthOptions {
  /** client worker threads (`--workers`); 1 = the client runs on the main thread */
  workers?: number;
  /** reads the main thread's scheduler statistics (tests pass their own) */
  schedstat?: () => string;
}

/**
 * The cores the client's own threads can keep busy: one, or with N client worker threads the
 * main thread and N workers, at most every core. process.cpuUsage() counts every thread.
 */
export function clientCores(workers: number): number {
  return workers <= 1 ? 1 : Math.min(workers + 1, availableParallelism());
}

export class HealthMonitor {
  private readonly loop: LagProbe;
  private cpuStart: NodeJS.CpuUsage;
  private wallStartMs: number;
  private readonly workers: number;
  private rssMax = 0;

  constructor(opts: HealthOptions = {}) {
    this.workers = opts.workers ?? 1;
    this.loop = new LagProbe();
    this.cpuStart = process.cpuUsage();
    this.wallStartMs = performance.now();
    this.schedstat = opts.schedstat;
    this.waitStartNs = mainThreadWaitNs(this.schedstat);
    this.sample();
  }

  /** the main thread's time runnable but waiting for a CPU, at the start (ns; null off Linux) */
  private waitStartNs: number | null;
  private readonly schedstat: (() => string) | undefined;

  /**
   * The share of the run the main thread spent ready to run but waiting for a CPU that other
   * processes (or this one's other threads) held: a busy machine, not a busy client. Null where
   * the kernel does not say (not Linux).
   */
  cpuWaitRatio(): number | null {
    const now = mainThreadWaitNs(this.schedstat);
    const wallMs = performance.now() - this.wallStartMs;
    if (now === null || this.waitStartNs === null || wallMs <= 0) return null;
    return Math.max(0, (now - this.waitStartNs) / 1e6 / wallMs);
  }

  /**
   * Counts from now: the run's clock has started. Setup and a wait for a common start (shards)
   * would otherwise dilute every ratio and the event-loop lag with idle time.
   */
  reset(): void {
    this.loop.reset();
    this.cpuStart = process.cpuUsage();
    this.wallStartMs = performance.now();
    this.waitStartNs = mainThreadWaitNs(this.schedstat);
    this.spinStartUs = pacerSpinUs;
    this.rssSamples = [];
    this.nextRssSampleMs = 0;
  }

  /** closed loop: users started that never sent a request before the load's schedule ended */
  private idleUsers: { count: number; of: number } | null = null;

  /**
   * Users the run started but that never sent a request before its schedule ended: the client
   * could not get to them in time, so the load it applied was not the one it was told to.
   */
  usersNeverSent(count: number, of: number): void {
    this.idleUsers = count > 0 ? { count, of } : null;
  }

  private rssSamples: [number, number][] = [];
  private nextRssSampleMs = 0;
  private rssEveryMs = 10_000;

  /** lag probes answered since the start or the last reset */
  get lagProbes(): number {
    return this.loop.count;
  }

  /** Samples memory; call now and then (the run's tick). */
  sample(): void {
    const rss = residentBytes();
    if (rss === null) return;
    if (rss > this.rssMax) this.rssMax = rss;
    const t = performance.now() - this.wallStartMs;
    if (t >= this.nextRssSampleMs) {
      this.rssSamples.push([Math.round(t / 100) / 10, rss]);
      this.nextRssSampleMs = t + this.rssEveryMs;
      // bounded: keep every other sample and sample half as often
      if (this.rssSamples.length > 720) {
        this.rssSamples = this.rssSamples.filter((_, i) => i % 2 === 0);
        this.rssEveryMs *= 2;
      }
    }
  }

  /** [seconds since start, RSS bytes] samples so far. */
  rss(): [number, number][] {
    return this.rssSamples.slice();
  }

  private spinStartUs = pacerSpinUs;

  /** CPU used by this process as a share of one core since the start. */
  cpuRatio(): number {
    const cpu = process.cpuUsage(this.cpuStart);
    const wallMs = performance.now() - this.wallStartMs;
    return wallMs > 0 ? (cpu.user + cpu.system) / 1000 / wallMs : 0;
  }

  /**
   * CPU less the pacer's deliberate spinning before sends (a lower bound of the work done: I/O
   * handled during the spin is subtracted too). The saturation warning reads this one.
   */
  workCpuRatio(): number {
    const wallMs = performance.now() - this.wallStartMs;
    const spinMs = (pacerSpinUs - this.spinStartUs) / 1000;
    return wallMs > 0 ? Math.max(0, this.cpuRatio() - spinMs / wallMs) : 0;
  }

  /** The health figures; `scheduleLagP99Ms` comes from the recorder. */
  report(scheduleLagP99Ms: number | null): GeneratorHealth {
    this.sample();
    // how long the main thread took to answer an event (lag-probe.ts), not a timer's lateness
    const lagP99 = this.loop.percentileMs(99);
    const lagMax = this.loop.maxMs();
    const cpu = this.cpuRatio();
    const workCpu = this.workCpuRatio();
    const waitRatio = this.cpuWaitRatio();
    const load = loadavg()[0]!;
    // a thread kept from a CPU by other processes lags as a busy one does; the warning says which
    const machineBusy = waitRatio !== null && waitRatio > HEALTH_LIMITS.cpuWaitRatio;
    const why = machineBusy
      ? `the machine was busy: the client's thread waited for a CPU ${(waitRatio * 100).toFixed(1)} % of the run (load average ${load.toFixed(1)} on ${availableParallelism()} cores); latencies include those waits`
      : 'the client was busy; latencies include its delays';
    const warnings: string[] = [];
    if (lagP99 !== null && lagP99 > HEALTH_LIMITS.eventLoopLagP99Ms)
      warnings.push(`event-loop lag p99 ${lagP99.toFixed(2)} ms > ${HEALTH_LIMITS.eventLoopLagP99Ms} ms: ${why}`);
    const cores = clientCores(this.workers);
    if (cores === 1 && workCpu > HEALTH_LIMITS.cpuRatio)
      warnings.push(
        `client CPU ${(workCpu * 100).toFixed(0)} % of a core (pacing excluded) > ${HEALTH_LIMITS.cpuRatio * 100} %: the load generator may be the bottleneck`,
      );
    else if (cores > 1 && workCpu > HEALTH_LIMITS.cpuRatio * cores)
      warnings.push(
        `client CPU ${(workCpu * 100).toFixed(0)} % of a core (pacing excluded) > ${HEALTH_LIMITS.cpuRatio * 100} % of the ${cores} cores its ${this.workers + 1} threads can use: the load generator may be the bottleneck`,
      );
    if (this.idleUsers !== null)
      warnings.push(
        `${this.idleUsers.count} of the ${this.idleUsers.of} users never sent a request before the load ended: the client could not start them in time (each opens a connection of its own); ramp them up with ramping-vus stages, run longer, or use --workers`,
      );
    if (scheduleLagP99Ms !== null && scheduleLagP99Ms > HEALTH_LIMITS.scheduleLagP99Ms)
      warnings.push(
        `schedule lag p99 ${scheduleLagP99Ms.toFixed(2)} ms > ${HEALTH_LIMITS.scheduleLagP99Ms} ms: requests left later than intended (${machineBusy ? 'the machine was busy, see above' : 'client saturated or max-in-flight reached'})`,
      );
    return {
      event_loop_lag_p99_ms: lagP99 === null ? null : round3(lagP99),
      event_loop_lag_max_ms: lagMax === null ? null : round3(lagMax),
      cpu_ratio: round3(cpu),
      cpu_work_ratio: round3(workCpu),
      cpu_wait_ratio: waitRatio === null ? null : round3(waitRatio),
      load_average: Math.round(load * 100) / 100,
      schedule_lag_p99_ms: scheduleLagP99Ms,
      rss_max_bytes: this.rssMax,
      rss_samples: this.rss(),
      valid: warnings.length === 0,
      warnings,
      workers: this.workers,
    };
  }

  stop(): void {
    this.loop.stop();
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The process's resident memory, or null when it cannot be read: on Linux libuv reads it from
 * /proc/self/stat, which takes a file descriptor, and a run that has used every one it may have
 * (one per connection) got EMFILE here, thrown from the tick, and lost its results.
 */
function residentBytes(): number | null {
  try {
    return process.memoryUsage.rss();
  } catch {
    return null;
  }
}

/**
 * File descriptors a run holds besides its connections: stdio, its output files, the event
 * loop's own (epoll, eventfd, signal pipes), the scraper's and the preflight's connections; about
 * 20 counted in a run, with room to spare. Each client worker thread has an event loop of its own.
 */
const FD_MARGIN = 64;
const FD_PER_WORKER = 8;

/** The limit of open files (`ulimit -n`), soft and hard; null where it cannot be read (not Linux). */
export interface OpenFilesLimit {
  soft: number;
  hard: number;
}

/** This process's limit of open files, from /proc/self/limits (Linux); `Infinity` when unlimited. */
export function openFilesLimit(limits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): OpenFilesLimit | null {
  let text: string;
  try {
    text = limits();
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return null;
  const read = (v: string): number => (v === 'unlimited' ? Infinity : Number(v));
  const soft = read(m[1]!);
  const hard = read(m[2]!);
  return Number.isNaN(soft) || Number.isNaN(hard) ? null : { soft, hard };
}

/**
 * A warning, before the run, when its connections may need more file descriptors than the
 * process may open: past the limit every new connection fails (EMFILE, counted as `connect`).
 * `connections` is the most the load may hold at once, `what` says where that number comes from.
 */
export function descriptorWarning(connections: { count: number; what: string }, limit: OpenFilesLimit | null, workers = 1): string | null {
  if (limit === null) return null;
  const need = connections.count + FD_MARGIN + (workers > 1 ? FD_PER_WORKER * workers : 0);
  if (need <= limit.soft) return null;
  const suggested = 2 ** Math.ceil(Math.log2(need));
  const fix =
    suggested <= limit.hard
      ? `raise the limit before the run, e.g. \`ulimit -n ${suggested}\`, or lower the load`
      : `lower the load, or raise the hard limit (${limit.hard}) too, e.g. in /etc/security/limits.conf`;
  return (
    `${connections.what} may hold ${connections.count} connections at once, about ${need} file descriptors with the run's own, ` +
    `and this process may open ${limit.soft} (ulimit -n): connections past it fail (counted as connect errors); ${fix}`
  );
}

/**
 * The main thread's time spent runnable but not running (ns), from the kernel's scheduler
 * statistics (/proc/thread-self/schedstat: run time, wait time, time slices). Read on the main
 * thread, so `thread-self` is the thread that stamps the chunks. Null where there is none.
 */
function mainThreadWaitNs(read: (() => string) | undefined): number | null {
  try {
    read ??= () => readFileSync('/proc/thread-self/schedstat', 'utf8');
    const wait = Number(read().split(' ')[1]);
    return Number.isFinite(wait) ? wait : null;
  } catch {
    return null;
  }
}
