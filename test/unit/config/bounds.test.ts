// The bounds of docs/scenarios.md "Bounds": every value past what a run can honour is refused
// (exit 104) with its path, the bound and what to do instead; the bound itself is accepted.
// Each refused value below once ran and did something else than it said (issue 13).
import { describe, expect, test } from 'vitest';
import { parseScenario } from '../../../src/config/load.js';
import { MAX_ARRIVALS_PER_S, MAX_CONNECTIONS, MAX_DURATION_S, MAX_TOKENS } from '../../../src/config/schema.js';
import { problemsOf } from './problems-of.js';

const RATE = 'executor: constant-arrival-rate, rate: 5, duration: 10s';
const VUS = 'executor: constant-vus, vus: 2, duration: 10s';

/** A scenario of `load` (a flow mapping's inside) and further top-level lines. */
const scenario = (load: string, ...rest: string[]): string => ['name: b', `load: {${load}}`, ...rest].join('\n') + '\n';

describe('values past what a run can honour are refused, each with its path, its bound and the fix', () => {
  test.each([
    // rate 1e9 ran for ten minutes past its end, ignoring SIGINT, writing 22.9 GB
    ['load.rate', scenario('executor: constant-arrival-rate, rate: 1e9, duration: 10s'), 'at most 100000 arrivals a second', 'split the load'],
    ['load.rate', scenario('executor: constant-arrival-rate, rate: 200, timeUnit: 1ms, duration: 10s'), '200 per 1ms is 200000 a second', 'lower it'],
    ['load.startRate', scenario('executor: ramping-arrival-rate, startRate: 2e5, stages: [{duration: 1m, target: 5}]'), 'at most 100000', 'lower it'],
    ['load.stages[1].target', scenario('executor: ramping-arrival-rate, stages: [{duration: 1m, target: 5}, {duration: 1m, target: 1e7}]'), 'at most 100000', 'lower it'],
    ['sweep.maxRate', scenario(RATE, 'sweep: {maxRate: 1e9}'), 'at most 100000', 'lower it'],
    // vus 1e6 sent nothing and reported "complete"
    ['load.vus', scenario('executor: constant-vus, vus: 1000000, duration: 10s'), 'from 1 to 65535', '65535 ports'],
    ['load.startVUs', scenario('executor: ramping-vus, startVUs: 70000, stages: [{duration: 1m, target: 5}]'), 'from 0 to 65535', 'lower it'],
    ['load.stages[0].target', scenario('executor: ramping-vus, stages: [{duration: 1m, target: 1e12}]'), 'from 0 to 65535', 'lower it'],
    ['load.maxInFlight', scenario(`${RATE}, maxInFlight: 1e12`), 'from 1 to 65535', 'lower it'],
    // gracefulStop 30d overflowed Node's timer and cut after 1 ms
    ['load.gracefulStop', scenario(`${RATE}, gracefulStop: 30d`), 'at most 24d', "Node's timers wait at most 24.8 days"],
    ['load.duration', scenario('executor: constant-vus, vus: 1, duration: 1000d'), 'at most 24d', 'shorten it'],
    ['load.thinkTime', scenario(`${VUS}, thinkTime: 25d`), 'at most 24d', 'shorten it'],
    ['load.timeUnit', scenario(`${RATE}, timeUnit: 25d`), 'at most 24d', 'shorten it'],
    ['load.stages', scenario('executor: ramping-vus, stages: [{duration: 20d, target: 5}, {duration: 5d, target: 5}]'), 'the stages last 600h in total', 'shorten them'],
    ['target.timeout', scenario(RATE, 'target: {timeout: 30d}'), 'at most 24d', 'shorten it'],
    ['simulator.faults.stall', scenario(RATE, 'simulator: {faults: {stall: 30d}}'), 'at most 24d', 'shorten it'],
    ['sweep.step', scenario(RATE, 'sweep: {step: 30d}'), 'at most 24d', 'shorten it'],
    // window 1ms grew to 16 GB and overflowed the stack, without results
    ['window', scenario(RATE, 'window: 1ms'), 'at least 100ms', 'write 100ms or more'],
    ['target.metrics[0].interval', scenario(RATE, 'target: {metrics: [{url: "http://127.0.0.1:9/metrics", interval: 1ms}]}'), 'at least 100ms', 'write 100ms or more'],
    ['workload.promptTokens.value', scenario(RATE, 'workload: {promptTokens: {dist: fixed, value: 1e12}}'), `from 1 to ${MAX_TOKENS}`, 'lower it'],
    ['workload.outputTokens.max', scenario(RATE, 'workload: {outputTokens: {dist: uniform, min: 1, max: 2000000}}'), `from 1 to ${MAX_TOKENS}`, 'lower it'],
    ['workload.promptTokens.stddev', scenario(RATE, 'workload: {promptTokens: {dist: lognormal, mean: 100, stddev: 1e300}}'), `from 0 to ${MAX_TOKENS}`, 'lower it'],
    // a mean of 1e-300 made the lognormal's lengths NaN
    ['workload.promptTokens.mean', scenario(RATE, 'workload: {promptTokens: {dist: lognormal, mean: 1e-300, stddev: 1}}'), `from 1 to ${MAX_TOKENS}`, 'at least one token'],
    // a shape of 1e-12 put every arrival of the run at t = 0
    ['load.burstiness', scenario(`${RATE}, arrival: gamma, burstiness: 1e-12`), '>= 0.01', 'pile up at one instant'],
    ['simulator.speed', scenario(RATE, 'simulator: {speed: 1e-12}'), 'from 0.01 to 100', 'a simulated step lasts'],
  ])('%s', (path, text, bound, fix) => {
    const problems = problemsOf(() => parseScenario(text, 'b.yaml'));
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect(problems[0]!.message).toContain(bound);
    expect(problems[0]!.message).toContain(fix);
  });

  test('the flags that override those fields are refused the same way, named by the flag', () => {
    const problems = problemsOf(() =>
      parseScenario(scenario(RATE), 'b.yaml', [], { cli: { rate: '1e9', concurrency: '1e7', maxTokens: '1e12', duration: '30d' } }),
    );
    expect(problems.map((p) => p.path).sort()).toEqual(['--concurrency', '--duration', '--max-tokens', '--rate']);
  });
});

describe('the bounds themselves are honoured, and accepted', () => {
  test('rate, users, in-flight cap, durations, window and token counts at their bounds', () => {
    const days = `${MAX_DURATION_S / 86_400}d`;
    const open = parseScenario(
      scenario(`executor: constant-arrival-rate, rate: ${MAX_ARRIVALS_PER_S}, duration: ${days}, gracefulStop: ${days}, maxInFlight: ${MAX_CONNECTIONS}`, 'window: 100ms', `workload: {promptTokens: {dist: fixed, value: ${MAX_TOKENS}}}`),
      'b.yaml',
    );
    expect(open.load).toMatchObject({ rate: MAX_ARRIVALS_PER_S, durationS: MAX_DURATION_S, gracefulStopS: MAX_DURATION_S, maxInFlight: MAX_CONNECTIONS });
    expect(open.windowS).toBe(0.1);
    // 24 days stay below Node's timer limit (2^31 - 1 ms)
    expect(MAX_DURATION_S * 1000).toBeLessThan(2 ** 31 - 1);
    const closed = parseScenario(scenario(`executor: constant-vus, vus: ${MAX_CONNECTIONS}, duration: 10s`), 'b.yaml');
    expect(closed.load).toMatchObject({ vus: MAX_CONNECTIONS });
  });

  test('a bell-shaped length without a max is clamped to the token bound, so a wide spread cannot build a huge prompt', () => {
    const spec = parseScenario(scenario(RATE, 'workload: {promptTokens: {dist: lognormal, mean: 100, stddev: 1000000}, outputTokens: {dist: normal, mean: 100, stddev: 10, max: 300}}'), 'b.yaml');
    expect(spec.workload.promptTokens).toEqual({ dist: 'lognormal', mean: 100, stddev: 1_000_000, max: MAX_TOKENS });
    expect(spec.workload.outputTokens).toEqual({ dist: 'normal', mean: 100, stddev: 10, max: 300 });
  });
});
