import { describe, expect, it } from 'vitest';
import {
  capacityGpuCount,
  capacityReport,
  findKnee,
  headroom,
  headroomText,
  judgeStep,
  stepExporterGpuCount,
  SweepPlanner,
  type SweepStep,
} from '../../../src/analysis/capacity.js';
import { renderSweepSummary } from '../../../src/cli/sweep.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import type { RunResult, SloVerdict } from '../../../src/results/types.js';
import { syntheticResult } from '../report/fixtures.js';

/** runs the planner against a server whose true sustainable rate is `truth` */
function search(truth: number, opts = { startRate: 1, maxRate: 1000, precision: 0.05, maxSteps: 20 }) {
  const p = new SweepPlanner(opts);
  const tried: number[] = [];
  for (let r = p.next(); r !== null; r = p.next()) {
    tried.push(r);
    p.report(r, r <= truth);
  }
  return { p, tried };
}

const step = (rate: number, ttftP95: number, sustainable = true, server: Record<string, number> = {}): SweepStep => ({
  rate_per_s: rate,
  slo_passed: sustainable,
  steady: sustainable,
  sustainable,
  reasons: sustainable ? [] : ['e2e_ms: p(95)<3000 (observed 4000)'],
  request_per_s: rate,
  output_tokens_per_s: rate * 256,
  ttft_p50_ms: ttftP95 / 2,
  ttft_p95_ms: ttftP95,
  ttft_p99_ms: ttftP95 * 1.2,
  itl_p50_ms: 10,
  itl_p95_ms: 12,
  itl_p99_ms: 14,
  e2e_p95_ms: 2000,
  goodput_ratio: 1,
  error_ratio: 0,
  server,
  results: `step-${rate}/results.json`,
});

describe('SweepPlanner', () => {
  it('doubles until a rate breaks, then bisects to the precision', () => {
    const { p, tried } = search(18.7);
    expect(tried.slice(0, 6)).toEqual([1, 2, 4, 8, 16, 32]);
    const good = p.sustainable!;
    const bad = p.unsustainable!;
    expect(good).toBeLessThanOrEqual(18.7);
    expect(bad).toBeGreaterThan(18.7);
    expect((bad - good) / good).toBeLessThanOrEqual(0.05);
    expect(Math.abs(good - 18.7) / 18.7).toBeLessThan(0.05);
  });

  it('finds a rate within 10 % for truths across three decades', () => {
    for (const truth of [0.7, 3, 12.5, 30.5, 55, 420]) {
      const { p } = search(truth, { startRate: 1, maxRate: 1000, precision: 0.05, maxSteps: 30 });
      expect(Math.abs(p.sustainable! - truth) / truth).toBeLessThan(0.1);
    }
  });

  it('stops at maxRate and after maxSteps', () => {
    expect(search(5000).tried.at(-1)).toBe(1000);
    expect(search(18.7, { startRate: 1, maxRate: 1000, precision: 0.001, maxSteps: 7 }).tried).toHaveLength(7);
  });
});

describe('knee and capacity report', () => {
  it('puts the knee where TTFT p95 leaves its low-load level (1.5x and +50 ms), interpolated', () => {
    const knee = findKnee([step(4, 40), step(8, 50), step(16, 80), step(32, 1400, false, { queue_depth: 30 })]);
    expect(knee!.metric).toBe('ttft_p95');
    expect(knee!.baseline_ms).toBe(40);
    // the bound is max(60, 90) = 90 ms, 10/1320 of the way from 80 (at 16) to 1400 (at 32)
    expect(knee!.rate_per_s).toBeCloseTo(16 + (16 * 10) / 1320, 2);
    expect(knee!.server).toEqual({ queue_depth: 30 });
    // 300 ms at low load: the factor rules (450 ms)
    expect(findKnee([step(1, 300), step(2, 400), step(4, 500)])!.rate_per_s).toBeCloseTo(3, 2);
  });

  it('reports capacity per GPU and says why in plain words', () => {
    const c = capacityReport([step(4, 40), step(8, 45), step(16, 70), step(32, 1400, false, { kv_cache_usage_ratio: 0.97 })], {
      count: 2,
      source: 'simulator',
    });
    expect(c.sustainable_request_per_s).toBe(16);
    expect(c.per_gpu.request_per_s).toBe(8);
    expect(c.per_gpu.output_tokens_per_s).toBe(16 * 256 / 2);
    expect(c.first_unsustainable!.rate_per_s).toBe(32);
    expect(c.finding).toContain('Sustainable at 16 req/s');
    expect(c.finding).toContain('KV cache saturates');
  });
});

describe('GPU count of the capacity', () => {
  const steps = (...counts: (number | null)[]) => counts.map((exporter, i) => ({ rate_per_s: 2 ** (i + 1), exporter }));

  it('takes the exporter\'s count when the scenario declares none, before the simulator profile', () => {
    expect(capacityGpuCount({ declared: null, steps: steps(1, 1), simulator: null })).toEqual({ count: 1, source: 'exporter', warnings: [] });
    expect(capacityGpuCount({ declared: null, steps: steps(2, 2), simulator: 1 })).toEqual({ count: 2, source: 'exporter', warnings: [] });
    expect(capacityGpuCount({ declared: null, steps: steps(null, null), simulator: 2 })).toEqual({ count: 2, source: 'simulator', warnings: [] });
    expect(capacityGpuCount({ declared: null, steps: steps(null), simulator: null })).toEqual({ count: null, source: null, warnings: [] });
    // a step whose exporter did not answer is left out
    expect(capacityGpuCount({ declared: null, steps: steps(null, 4), simulator: null }).count).toBe(4);
  });

  it('keeps the scenario\'s count first and warns when the exporter saw another', () => {
    expect(capacityGpuCount({ declared: 2, steps: steps(2, 2), simulator: null })).toEqual({ count: 2, source: 'scenario', warnings: [] });
    const g = capacityGpuCount({ declared: 2, steps: steps(8, 8), simulator: null });
    expect(g.count).toBe(2);
    expect(g.source).toBe('scenario');
    expect(g.warnings).toEqual(['the scenario declares 2 GPUs (target.gpuCount) but the GPU exporter saw 8: capacity per GPU counts the scenario\'s 2']);
  });

  it('takes the most GPUs any step saw when a GPU drops out mid-sweep, and says so', () => {
    const g = capacityGpuCount({ declared: null, steps: steps(2, 2, 1, 2), simulator: null });
    expect(g.count).toBe(2);
    expect(g.warnings).toEqual(['the GPU exporter saw 2 GPUs in some steps but fewer in others (1 at 8 req/s): capacity per GPU counts 2, the most it saw']);
  });

  it('reads a step\'s exporter count only when its windows carry GPU rows (else server.gpu_count repeats target.gpuCount)', () => {
    const r = (gpus: boolean) =>
      ({ server: { gpu_count: 3 }, windows: [{ t_s: 0, ...(gpus && { gpus: [{ gpu: '0' }, { gpu: '1' }, { gpu: '2' }] }) }] }) as unknown as RunResult;
    expect(stepExporterGpuCount(r(true))).toBe(3);
    expect(stepExporterGpuCount(r(false))).toBeNull();
  });
});

describe('headroom', () => {
  it('is 1 − rate / sustainable rate, with its factor, for every step; negative over capacity', () => {
    const c = capacityReport([step(4, 40), step(8, 45), step(16, 70), step(24, 900, false), step(32, 1400, false)], { count: 1, source: 'exporter' });
    expect(c.steps.map((s) => s.headroom)).toEqual([
      { ratio: 0.75, factor: 4 },
      { ratio: 0.5, factor: 2 },
      { ratio: 0, factor: 1 },
      { ratio: -0.5, factor: 0.667 },
      { ratio: -1, factor: 0.5 },
    ]);
    expect(c.headroom_note).toBeNull();
    expect(c.steps.map((s) => headroomText(s.headroom))).toEqual([
      '75 % headroom (4.00×)',
      '50 % headroom (2.00×)',
      'at capacity',
      'over capacity by 50 %',
      'over capacity by 100 %',
    ]);
    expect(headroomText(headroom(16.5, 16))).toBe('over capacity by 3.1 %');
  });

  it('is null with the reason when no rate was sustainable, and a lower bound when none broke', () => {
    const none = capacityReport([step(1, 900, false), step(0.5, 800, false)], { count: null, source: null });
    expect(none.steps.every((s) => s.headroom === null)).toBe(true);
    expect(none.headroom_note).toBe('no rate tried was sustainable (not even 0.5 req/s): with no capacity found there is no headroom to measure');
    const all = capacityReport([step(4, 40), step(8, 45)], { count: 1, source: 'simulator' });
    expect(all.steps[0]!.headroom).toEqual({ ratio: 0.5, factor: 2 });
    expect(all.headroom_note).toBe('no rate tried was unsustainable: the capacity is at least 8 req/s, so each headroom is a lower bound');
  });

  it('is shown per step in report.md, report.html and the console summary, with the warnings', () => {
    const result = syntheticResult({ server: true, capacity: true });
    result.capacity = capacityReport([step(20, 40), step(40, 70), step(50, 1400, false)], {
      count: 2,
      source: 'scenario',
      warnings: ['the scenario declares 2 GPUs (target.gpuCount) but the GPU exporter saw 8: capacity per GPU counts the scenario\'s 2'],
    });
    const md = renderMarkdown(result);
    expect(md).toContain('| offered (req/s) | sustainable | completed (req/s) | TTFT p95 (ms) | ITL p95 (ms) | E2E p95 (ms) | errors | why not | headroom |');
    expect(md).toMatch(/\| 20\.00 \| yes \| .* \| 50 % headroom \(2\.00×\) \|/);
    expect(md).toMatch(/\| 50\.00 \| \*\*no\*\* \| .* \| over capacity by 25 % \|/);
    expect(md).toContain('**Warning:** the scenario declares 2 GPUs');
    const page = renderHtml(result);
    expect(page).toContain('<th class="text">sustainable</th><th>headroom</th>');
    expect(page).toContain('<td class="text pass">yes</td><td>at capacity</td>');
    expect(page).toContain('<td class="text fail">no</td><td>over capacity by 25 %</td>');
    expect(page).toMatch(/<div class="banner warning" role="alert"><b>Warning<\/b>the scenario declares 2 GPUs/);
    const text = renderSweepSummary(result.capacity, 'out');
    expect(text).toMatch(/ 20 .* ok +50 % headroom \(2\.00×\)/);
    expect(text).toMatch(/ 50 .* NOT sustainable +over capacity by 25 %/);
    expect(text).toContain('warning: the scenario declares 2 GPUs');
    const none = capacityReport([step(1, 900, false)], { count: null, source: null });
    expect(renderSweepSummary(none, 'out')).toContain('headroom: no rate tried was sustainable (not even 1 req/s)');
  });
});

describe('the binding class (first_unsustainable.binding_classes)', () => {
  /** a verdict as results.slo holds it: the run's, or (with `cls`) a class's own, named as a run names it */
  const verdict = (metric: string, threshold: string, observed: number, passed: boolean, cls?: string): SloVerdict => ({
    name: `${cls !== undefined ? `class ${cls}: ` : ''}${metric}: ${threshold}`,
    ...(cls !== undefined && { class: cls }),
    metric,
    threshold,
    observed,
    passed,
    abort_on_fail: false,
  });

  /** a step's results at `rate` as judgeStep reads them: steady, every arrival completed, the given verdicts; with classes when `classes` */
  const stepResult = (rate: number, slo: SloVerdict[], classes?: string[]): RunResult => {
    const lat = { p50: 100, p90: 150, p95: 200, p99: 250, p999: 260, max: 270, mean: 110, count: rate * 60, hdr: '' };
    return {
      run: { warmup_s: 0, window_s: 1 },
      summary: {
        requests: { sent: rate * 60, completed: rate * 60, failed: 0, dropped: 0, interrupted: 0, good: rate * 60, warmup_sent: 0, warmup_dropped: 0 },
        throughput: { request_per_s: rate, output_tokens_per_s: rate * 256, total_tokens_per_s: rate * 1280, goodput_request_per_s: rate, goodput_ratio: 1 },
        latency_ms: { ttft: lat, itl: lat, e2e: lat },
      },
      windows: [],
      slo,
      ...(classes && { classes: Object.fromEntries(classes.map((c) => [c, { weight: 1 / classes.length, summary: {}, slo: slo.filter((v) => v.class === c) }])) }),
    } as unknown as RunResult;
  };

  const RUN_OK = verdict('e2e_ms', 'p(95)<3000', 2000, true);
  const sweep = (bad: SloVerdict[], classes?: string[]) =>
    capacityReport(
      [
        judgeStep(7, stepResult(7, [RUN_OK, verdict('ttft_ms', 'p(95)<500', 300, true, 'rag'), verdict('ttft_ms', 'p(95)<200', 90, true, 'chat')], classes), 's7/results.json'),
        judgeStep(14, stepResult(14, [RUN_OK, verdict('ttft_ms', 'p(95)<500', 450, true, 'rag'), verdict('ttft_ms', 'p(95)<200', 120, true, 'chat')], classes), 's14/results.json'),
        judgeStep(28, stepResult(28, bad, classes), 's28/results.json'),
      ],
      { count: 1, source: 'simulator' },
    );

  it('judgeStep lists the classes whose own SLOs failed, once each, in their verdicts\' order', () => {
    const s = judgeStep(
      28,
      stepResult(
        28,
        [
          RUN_OK,
          verdict('ttft_ms', 'p(95)<200', 150, true, 'chat'),
          verdict('ttft_ms', 'p(95)<500', 612, false, 'rag'),
          verdict('e2e_ms', 'p(95)<8000', 9100, false, 'rag'),
        ],
        ['chat', 'rag'],
      ),
      '',
    );
    expect(s.failed_classes).toEqual(['rag']);
    expect(s.slo_passed).toBe(false);
    expect(s.reasons).toEqual(['class rag: ttft_ms: p(95)<500 (observed 612)', 'class rag: e2e_ms: p(95)<8000 (observed 9100)']);
    // with classes and none failing: empty; without classes: absent
    expect(judgeStep(7, stepResult(7, [RUN_OK], ['chat', 'rag']), '').failed_classes).toEqual([]);
    expect('failed_classes' in judgeStep(7, stepResult(7, [RUN_OK]), '')).toBe(false);
  });

  it('names the class whose own SLO failed at the first unsustainable rate, and says so in the finding', () => {
    const c = sweep([RUN_OK, verdict('ttft_ms', 'p(95)<500', 612, false, 'rag'), verdict('ttft_ms', 'p(95)<200', 150, true, 'chat')], ['rag', 'chat']);
    expect(c.sustainable_request_per_s).toBe(14);
    expect(c.first_unsustainable).toEqual({ rate_per_s: 28, reasons: ['class rag: ttft_ms: p(95)<500 (observed 612)'], binding_classes: ['rag'] });
    expect(c.finding).toBe('Sustainable at 14 req/s (3584 output tok/s), 14.00 req/s per GPU over 1 GPU. At 28 req/s the rag class\'s ttft_ms: p(95)<500 (observed 612) binds first.');
  });

  it('puts the whole run\'s reasons after the binding classes, and names every class that failed there', () => {
    const c = sweep(
      [verdict('e2e_ms', 'p(95)<3000', 4100, false), verdict('ttft_ms', 'p(95)<500', 612, false, 'rag'), verdict('ttft_ms', 'p(95)<200', 260, false, 'chat')],
      ['rag', 'chat'],
    );
    expect(c.first_unsustainable!.binding_classes).toEqual(['rag', 'chat']);
    expect(c.finding).toContain(
      'At 28 req/s the rag class\'s ttft_ms: p(95)<500 (observed 612) and the chat class\'s ttft_ms: p(95)<200 (observed 260) bind first; also e2e_ms: p(95)<3000 (observed 4100).',
    );
  });

  it('is empty when only the whole run\'s limits failed, and absent without classes; the finding as before', () => {
    const runOnly = sweep([verdict('e2e_ms', 'p(95)<3000', 4100, false), verdict('ttft_ms', 'p(95)<500', 450, true, 'rag')], ['rag', 'chat']);
    expect(runOnly.first_unsustainable!.binding_classes).toEqual([]);
    expect(runOnly.finding).toContain('At 28 req/s: e2e_ms: p(95)<3000 (observed 4100).');
    const plain = sweep([verdict('e2e_ms', 'p(95)<3000', 4100, false)]);
    expect(plain.first_unsustainable).toEqual({ rate_per_s: 28, reasons: ['e2e_ms: p(95)<3000 (observed 4100)'] });
    expect(plain.finding).toContain('At 28 req/s: e2e_ms: p(95)<3000 (observed 4100).');
    // steps of sweeps written before it (no failed_classes) leave it out too
    expect('binding_classes' in capacityReport([step(4, 40), step(8, 1400, false)], { count: 1, source: 'simulator' }).first_unsustainable!).toBe(false);
  });

  it('names the class when even the first rate tried broke on it', () => {
    const c = capacityReport([judgeStep(1, stepResult(1, [RUN_OK, verdict('ttft_ms', 'p(95)<500', 700, false, 'rag')], ['rag']), '')], { count: null, source: null });
    expect(c.first_unsustainable!.binding_classes).toEqual(['rag']);
    expect(c.finding).toBe('No rate tried was sustainable under the SLOs. At 1 req/s the rag class\'s ttft_ms: p(95)<500 (observed 700) binds first.');
  });
});
