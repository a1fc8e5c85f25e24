// LoRA adapters in the engine model, in virtual time: vLLM's max_loras limit on the running batch
// (base-model requests free of it, a blocked request passed over by later ones), the per-adapter
// cost of a step, per-adapter prefix-cache keys, and `vllm:lora_requests_info`.

import { describe, expect, it } from 'vitest';
import { EngineModel, blockHashes, stepTime } from '../../../src/sim/model.js';
import type { SimRequest, SimRequestSpec, StepPlan } from '../../../src/sim/model.js';
import { StepLoop } from '../../../src/sim/loop.js';
import { SimMetrics } from '../../../src/sim/metrics.js';
import { SIM_PROFILES, resolveProfile } from '../../../src/sim/profiles.js';
import type { SimProfile } from '../../../src/sim/profiles.js';
import { parseExposition } from '../../../src/scrape/parser.js';
import { loraFlags } from '../../../src/sim/main.js';

const profile = resolveProfile('default');

function spec(promptTokens: number, outputTokens: number, adapter?: string): SimRequestSpec {
  return { promptTokens, outputTokens, finishReason: 'length', ...(adapter !== undefined ? { adapter } : {}) };
}

/** Run until idle from `startUs`; returns every step planned. */
function runToIdle<T>(model: EngineModel<T>, onStep?: (plan: StepPlan) => void, startUs = 0): StepPlan[] {
  const plans: StepPlan[] = [];
  const loop = new StepLoop<T>(model, () => undefined, Infinity, (plan) => {
    plans.push(plan);
    onStep?.(plan);
  });
  let due = loop.advance(startUs);
  for (let guard = 0; due !== undefined; guard++) {
    if (guard > 1_000_000) throw new Error('model never went idle');
    due = loop.advance(due);
  }
  return plans;
}

/** The first step in which every request decodes (their prefills all done). */
function firstDecodeStep<T>(model: EngineModel<T>): StepPlan {
  let t = 0;
  for (;;) {
    const plan = model.beginStep(t)!;
    if (plan.prefillTokens === 0) return plan;
    model.endStep(plan.endUs);
    t = plan.endUs;
  }
}

describe('LoRA step cost', () => {
  it('adds the profile figure per distinct adapter, divided by speed like the rest of the step', () => {
    expect(profile.loraOverheadUsPerAdapter).toBe(400);
    const none = stepTime(profile, 8, 8 * 600);
    const two = stepTime(profile, 8, 8 * 600, 1, 2);
    expect(none.loraUs).toBe(0);
    expect(two.loraUs).toBe(800);
    expect(two.durationUs - none.durationUs).toBeCloseTo(800, 6);
    expect(stepTime(profile, 8, 8 * 600, 2, 2).durationUs).toBeCloseTo(two.durationUs / 2, 6);
    // 5-10 % of a small-batch decode step per adapter
    expect(400 / none.durationUs).toBeGreaterThan(0.05);
    expect(400 / none.durationUs).toBeLessThan(0.1);
  });

  it('a decode batch of two adapters is slower per step than the same batch on the base model', () => {
    const base = new EngineModel<null>(profile);
    const mixed = new EngineModel<null>(profile, { maxLoras: 4 });
    for (const [i, adapter] of ['a', 'b', 'a', 'b'].entries()) {
      base.add(spec(500 + i, 50), null, 0);
      mixed.add(spec(500 + i, 50, adapter), null, 0);
    }
    const b = firstDecodeStep(base);
    const m = firstDecodeStep(mixed);
    expect(b.decodeRequests).toBe(4);
    expect(m.decodeRequests).toBe(4);
    expect(b.adapters).toBe(0);
    expect(m.adapters).toBe(2);
    expect(m.kvTokensRead).toBe(b.kvTokensRead);
    expect(m.time.durationUs - b.time.durationUs).toBeCloseTo(2 * profile.loraOverheadUsPerAdapter, 6);
  });

  it('counts an adapter once however many of its requests share the step', () => {
    const model = new EngineModel<null>(profile, { maxLoras: 1 });
    for (let i = 0; i < 6; i++) model.add(spec(100, 5, 'a'), null, 0);
    model.add(spec(100, 5), null, 0);
    const plan = model.beginStep(0)!;
    expect(plan.adapters).toBe(1);
    expect(plan.time.loraUs).toBe(profile.loraOverheadUsPerAdapter);
  });
});

describe('max_loras', () => {
  it('max_loras 1 serialises adapters: the second adapter runs only once the first has left the batch', () => {
    const model = new EngineModel<string>(profile, { maxLoras: 1 });
    const a1 = model.add(spec(100, 20, 'a'), 'a1', 0);
    const b1 = model.add(spec(100, 20, 'b'), 'b1', 0);
    const a2 = model.add(spec(100, 30, 'a'), 'a2', 0);
    const b2 = model.add(spec(100, 20, 'b'), 'b2', 0);
    const plans = runToIdle(model);
    expect(plans.every((p) => p.adapters <= 1)).toBe(true);
    expect(a1.firstScheduledUs).toBe(0);
    expect(a2.firstScheduledUs).toBe(0);
    // b1 and b2 wait for the last request of adapter a, then run together
    const aDone = Math.max(a1.finishedUs, a2.finishedUs);
    expect(b1.firstScheduledUs).toBe(aDone);
    expect(b2.firstScheduledUs).toBe(aDone);
    for (const r of [a1, a2, b1, b2]) expect(r.state).toBe('finished');
  });

  it('with room for both adapters the same requests share the batch and finish sooner', () => {
    const run = (maxLoras: number): { end: number; firstB: number } => {
      const model = new EngineModel<null>(profile, { maxLoras });
      const rs: Array<SimRequest<null>> = [];
      for (const adapter of ['a', 'b', 'a', 'b']) rs.push(model.add(spec(100, 20, adapter), null, 0));
      runToIdle(model);
      return { end: Math.max(...rs.map((r) => r.finishedUs)), firstB: rs[1]!.firstScheduledUs };
    };
    const serial = run(1);
    const shared = run(2);
    expect(shared.firstB).toBe(0);
    expect(serial.firstB).toBeGreaterThan(0);
    expect(shared.end).toBeLessThan(serial.end);
  });

  it('base-model requests are free of the limit, and go ahead of a blocked adapter request', () => {
    const model = new EngineModel<string>(profile, { maxLoras: 1 });
    const a = model.add(spec(100, 10, 'a'), 'a', 0);
    const b = model.add(spec(100, 10, 'b'), 'b', 0);
    const base1 = model.add(spec(100, 10), 'base1', 0);
    const a2 = model.add(spec(100, 10, 'a'), 'a2', 0);
    const base2 = model.add(spec(100, 10), 'base2', 0);
    const first = model.beginStep(0)!;
    // b is passed over (vLLM skips it), everything behind it that fits is admitted
    expect(model.gauges()).toMatchObject({ running: 4, waiting: 1 });
    expect(model.loraAdapters()).toEqual({ running: ['a'], waiting: ['b'] });
    expect(first.adapters).toBe(1);
    model.endStep(first.endUs);
    runToIdle(model, undefined, first.endUs);
    for (const r of [a, base1, a2, base2]) expect(r.firstScheduledUs).toBe(0);
    expect(b.firstScheduledUs).toBe(Math.max(a.finishedUs, a2.finishedUs));
    expect(b.state).toBe('finished');
  });

  it('without maxLoras there is no limit', () => {
    const model = new EngineModel<null>(profile);
    for (let i = 0; i < 10; i++) model.add(spec(50, 5, `adapter-${i}`), null, 0);
    expect(model.beginStep(0)!.adapters).toBe(10);
  });

  it('rejects a max_loras that is not an integer >= 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new EngineModel<null>(profile, { maxLoras: bad })).toThrow(RangeError);
    }
  });

  it('keeps its per-adapter counts through preemption and aborts', () => {
    // 8 blocks of 16 tokens: the two requests cannot both finish, so the later one is preempted
    const tiny: SimProfile = resolveProfile({ ...SIM_PROFILES.default!, name: 'tiny', kvCacheBlocks: 8, maxModelLen: 128 });
    const model = new EngineModel<null>(tiny, { maxLoras: 2 });
    const a = model.add(spec(40, 40, 'a'), null, 0);
    const b = model.add(spec(40, 40, 'b'), null, 0);
    const seen: string[] = [];
    runToIdle(model, () => seen.push(JSON.stringify(model.loraAdapters())));
    expect(model.counters.preemptionsTotal).toBeGreaterThan(0);
    expect(b.preemptions).toBeGreaterThan(0);
    expect(a.state).toBe('finished');
    expect(b.state).toBe('finished');
    // b was back in the queue after its preemption
    expect(seen).toContain(JSON.stringify({ running: ['a'], waiting: ['b'] }));
    expect(model.loraAdapters()).toEqual({ running: [], waiting: [] });

    const m2 = new EngineModel<null>(profile, { maxLoras: 1 });
    const x = m2.add(spec(100, 50, 'x'), null, 0);
    const y = m2.add(spec(100, 50, 'y'), null, 0);
    const s = m2.beginStep(0)!;
    expect(m2.loraAdapters()).toEqual({ running: ['x'], waiting: ['y'] });
    m2.abort(y);
    expect(m2.loraAdapters()).toEqual({ running: ['x'], waiting: [] });
    m2.abort(x);
    expect(m2.loraAdapters()).toEqual({ running: [], waiting: [] });
    m2.endStep(s.endUs);
  });

  it('is deterministic for the same arrivals', () => {
    const run = (): number[] => {
      const model = new EngineModel<null>(profile, { maxLoras: 2 });
      const rs: Array<SimRequest<null>> = [];
      for (let i = 0; i < 40; i++) rs.push(model.add(spec(100 + i * 7, 10 + (i % 5), i % 4 === 0 ? undefined : `l${i % 3}`), null, i * 3_000));
      runToIdle(model);
      return rs.flatMap((r) => [r.firstScheduledUs, r.finishedUs]);
    };
    expect(run()).toEqual(run());
  });
});

describe('prefix cache under adapters', () => {
  it('keys blocks by adapter: a prompt cached for the base model is no hit for an adapter', () => {
    const tokens = Array.from({ length: 64 }, (_, i) => i);
    const baseKeys = blockHashes(tokens, 16);
    expect(blockHashes(tokens, 16, '')).toEqual(baseKeys);
    expect(blockHashes(tokens, 16, 'lora:a')).not.toContain(baseKeys[0]);
    const model = new EngineModel<null>(profile, { maxLoras: 2 });
    const first = model.add({ ...spec(64, 2), blockHashes: baseKeys }, null, 0);
    runToIdle(model);
    const other = model.add({ ...spec(64, 2, 'a'), blockHashes: blockHashes(tokens, 16, 'lora:a') }, null, first.finishedUs);
    const same = model.add({ ...spec(64, 2), blockHashes: baseKeys }, null, first.finishedUs);
    runToIdle(model, undefined, first.finishedUs);
    expect(other.cachedTokens).toBe(0);
    expect(same.cachedTokens).toBe(48);
  });
});

describe('vllm:lora_requests_info', () => {
  const CREATED_S = 1_762_438_423;

  function lines(text: string): string[] {
    return text.split('\n').filter((l) => l.includes('lora_requests_info'));
  }

  it('stamps each label set with the wall-clock time it was last current; the newest is the present', () => {
    const model = new EngineModel<null>(profile, { maxLoras: 1 });
    const metrics = new SimMetrics(model, { createdEpochS: CREATED_S, maxLoras: 1 });
    expect(lines(metrics.vllmText())).toEqual([
      '# HELP vllm:lora_requests_info Running stats on lora requests.',
      '# TYPE vllm:lora_requests_info gauge',
    ]);
    const a = model.add(spec(100, 5, 'a'), null, 0);
    model.add(spec(100, 5, 'b'), null, 0);
    const loop = new StepLoop<null>(model, (events, endUs) => metrics.onTokens(events, endUs), Infinity, (plan) => metrics.onStep(plan));
    let due = loop.advance(0);
    while (due !== undefined) due = loop.advance(due);

    const parsed = parseExposition(metrics.vllmText());
    expect(parsed.problems).toEqual([]);
    const family = parsed.families.find((f) => f.name === 'vllm:lora_requests_info')!;
    expect(family.type).toBe('gauge');
    expect(family.help).toBe('Running stats on lora requests.');
    const series: Array<Record<string, string> & { value: number }> = family.samples.map((s) => Object.assign({}, s.labels, { value: s.value }));
    const at = (running: string, waiting: string): number | undefined =>
      series.find((s) => s.running_lora_adapters === running && s.waiting_lora_adapters === waiting)?.value;
    for (const s of series) expect(s.max_lora).toBe('1');
    // a ran while b waited; then b ran; then nothing
    expect(at('a', 'b')).toBeDefined();
    expect(at('b', '')).toBeDefined();
    expect(at('', '')).toBeDefined();
    expect(at('a', 'b')!).toBeLessThan(at('b', '')!);
    expect(at('b', '')!).toBeLessThan(at('', '')!);
    // the last series set is the idle one, at the end of the last step, in epoch seconds
    const lastS = Math.max(...series.map((s) => s.value));
    expect(at('', '')).toBe(lastS);
    expect(lastS).toBeGreaterThan(CREATED_S);
    expect(lastS).toBeLessThan(CREATED_S + 1);
    // at the end of a's last step a has left the batch and b not yet entered it
    expect(at('', 'b')).toBeCloseTo(CREATED_S + a.finishedUs / 1e6, 6);
    expect(at('a', 'b')!).toBeLessThan(at('', 'b')!);
    // labels in prometheus_client's sorted order
    expect(lines(metrics.vllmText())[2]).toMatch(/^vllm:lora_requests_info\{max_lora="1",running_lora_adapters="a",waiting_lora_adapters="b"\} 1\.762438423\d*e\+09$/);
  });

  it('is absent without adapters', () => {
    const model = new EngineModel<null>(profile);
    const metrics = new SimMetrics(model, { createdEpochS: CREATED_S });
    model.add(spec(10, 2), null, 0);
    const loop = new StepLoop<null>(model, (events, endUs) => metrics.onTokens(events, endUs), Infinity, (plan) => metrics.onStep(plan));
    let due = loop.advance(0);
    while (due !== undefined) due = loop.advance(due);
    expect(lines(metrics.vllmText())).toEqual([]);
  });

  it('joins the adapters in the order they entered the batch and the queue, and keeps at most 100 label sets', () => {
    const model = new EngineModel<null>(profile, { maxLoras: 2 });
    const metrics = new SimMetrics(model, { createdEpochS: CREATED_S, maxLoras: 2 });
    for (const adapter of ['z', 'y', 'x']) model.add(spec(100, 3, adapter), null, 0);
    metrics.onStep(model.beginStep(0)!);
    expect(lines(metrics.vllmText())[2]).toContain('max_lora="2",running_lora_adapters="z,y",waiting_lora_adapters="x"');

    const many = new EngineModel<null>(profile, { maxLoras: 1 });
    const m = new SimMetrics(many, { createdEpochS: CREATED_S, maxLoras: 1 });
    for (let i = 0; i < 150; i++) many.add(spec(20, 1, `ad${i}`), null, 0);
    const loop = new StepLoop<null>(many, (events, endUs) => m.onTokens(events, endUs), Infinity, (plan) => m.onStep(plan));
    let due = loop.advance(0);
    while (due !== undefined) due = loop.advance(due);
    const samples = lines(m.vllmText()).filter((l) => !l.startsWith('#'));
    expect(samples).toHaveLength(100);
    // the newest survive: the idle state and the last adapter
    expect(samples.some((l) => l.includes('running_lora_adapters="",waiting_lora_adapters=""'))).toBe(true);
    expect(samples.some((l) => l.includes('running_lora_adapters="ad149"'))).toBe(true);
    expect(samples.some((l) => l.includes('running_lora_adapters="ad0"'))).toBe(false);
  });
});

describe('inferload sim --adapters / --max-loras', () => {
  it('turns the flags into server options, and says what is wrong with bad ones', () => {
    expect(loraFlags({})).toEqual({ options: {}, problems: [] });
    expect(loraFlags({ adapters: 'sql-lora, chat-lora', maxLoras: '2' })).toEqual({
      options: { adapters: ['sql-lora', 'chat-lora'], maxLoras: 2 },
      problems: [],
    });
    expect(loraFlags({ adapters: 'a,,b' }).problems).toEqual([{ path: '--adapters', message: expect.stringMatching(/separated by commas/) }]);
    expect(loraFlags({ adapters: 'a,a' }).problems[0]!.message).toMatch(/twice/);
    for (const bad of ['0', '1.5', 'two', '', '-3']) {
      expect(loraFlags({ maxLoras: bad })).toEqual({ options: {}, problems: [{ path: '--max-loras', message: expect.stringMatching(/integer >= 1/) }] });
    }
  });
});
