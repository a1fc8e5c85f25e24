// Requests the run cut before they ended (summary.requests.interrupted) belong in the headline of
// every report: a tile and a verdict sentence in report.html, a sentence in report.md, a line in
// the console summary; phrased by what cut them (graceful stop, early stop, interrupt, a failed
// target), escaped for each target, and absent for results written before the count existed.
import { describe, expect, it } from 'vitest';
import { cutRequests } from '../../../src/report/common.js';
import { renderConsoleSummary } from '../../../src/report/console.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderMarkdown } from '../../../src/report/markdown.js';
import type { RunResult } from '../../../src/results/types.js';
import { HOSTILE, syntheticResult, withHostileStrings } from './fixtures.js';

/** A copy of `base` whose accounting says `cut` of `sent` requests were cut, with the given status. */
function withCut(base: RunResult, sent: number, cut: number, status: RunResult['status'] = 'complete', reason: string | null = null): RunResult {
  const r = structuredClone(base);
  r.status = status;
  r.status_reason = reason;
  r.summary.requests.sent = sent;
  r.summary.requests.failed = 0;
  r.summary.requests.completed = sent - cut;
  r.summary.requests.interrupted = cut;
  r.run.load = { ...r.run.load, gracefulStopS: 10 };
  return r;
}

const ramp = syntheticResult({ server: true });
// the outside check's run: a ramp into overload, 838 of 2 420 cut at the graceful stop
const overload = withCut(ramp, 2420, 838);
const interrupted = withCut(ramp, 2420, 838, 'interrupted', 'interrupted by SIGINT');

describe('cutRequests', () => {
  it("the synthetic ramp's accounting adds up: what the server had not finished at the end was cut", () => {
    const r = ramp.summary.requests;
    expect(r.interrupted).toBeGreaterThan(200);
    expect(r.completed + r.failed + r.interrupted).toBe(r.sent);
    expect(cutRequests(ramp)!.cause).toBe('graceful-stop');
    expect(cutRequests(syntheticResult({ interrupt: true }))!.cause).toBe('interrupt');
    expect(cutRequests(syntheticResult({ noneCompleted: true }))).toBeNull();
  });

  it('a graceful stop that cut a third: the server fell behind', () => {
    const c = cutRequests(overload)!;
    expect(c).toMatchObject({ count: 838, cause: 'graceful-stop' });
    expect(c.shareOfSent).toBeCloseTo(0.3463, 4);
    expect(c.sentence).toBe(
      '838 requests (34.6 % of sent) were still waiting when the run ended: the server fell behind, and they were cut at the graceful stop (10 s). ' +
        'They count as neither completed nor failed, and no latency figure includes them.',
    );
    expect(c.short).toBe('34.6 % of sent · still waiting at the graceful stop');
  });

  it('a few stragglers are not "the server fell behind"; one request is singular', () => {
    expect(cutRequests(withCut(ramp, 2420, 3))!.sentence).toMatch(/^3 requests \(0\.1 % of sent\) were still waiting when the run ended: the server had not finished them by the graceful stop \(10 s\)/);
    const one = cutRequests(withCut(ramp, 2420, 1))!.sentence;
    expect(one).toMatch(/^1 request \(0\.0 % of sent\) was still waiting when the run ended: the server had not finished it by/);
    expect(one).toContain('It counts as neither completed nor failed, and no latency figure includes it.');
  });

  it('an interrupt cut them, not the server: says which signal, and never "fell behind"', () => {
    const c = cutRequests(interrupted)!;
    expect(c.cause).toBe('interrupt');
    expect(c.sentence).toMatch(/^838 requests \(34\.6 % of sent\) were still in flight when the run was interrupted by SIGINT and were cut: the interrupt ended them, not the server\./);
    expect(c.sentence).not.toContain('fell behind');
    expect(cutRequests(withCut(ramp, 100, 10, 'interrupted', 'interrupted by SIGTERM (twice)'))!.sentence).toContain('interrupted by SIGTERM and were cut');
  });

  it('an early stop (abortOnFail) and a failed target say so', () => {
    const early = cutRequests(withCut(ramp, 500, 40, 'complete', 'stopped early: ttft_ms: p(95)<500 failed (observed 812; abortOnFail)'))!;
    expect(early.cause).toBe('early-stop');
    expect(early.sentence).toContain('were still waiting when the run stopped early (stopped early: ttft_ms: p(95)<500 failed (observed 812; abortOnFail)) and were cut at the graceful stop (10 s)');
    const failed = cutRequests(withCut(ramp, 50, 5, 'failed', 'the first 20 requests all failed'))!;
    expect(failed.cause).toBe('target-failed');
    expect(failed.sentence).toContain('were still in flight when the run gave up on the target and were cut');
  });

  it('nothing cut, or results written before the count existed: nothing to say', () => {
    expect(cutRequests(withCut(ramp, 2420, 0))).toBeNull();
    const older = structuredClone(overload) as unknown as { summary: { requests: Record<string, unknown> } };
    delete older.summary.requests.interrupted;
    const r = older as unknown as RunResult;
    expect(cutRequests(r)).toBeNull();
    const page = renderHtml(r);
    expect(page).not.toContain('cut at the end');
    expect(page).toContain('<section class="tiles" aria-label="headline numbers">');
    expect(renderMarkdown(r)).not.toMatch(/cut at the end|undefined|NaN/i);
    expect(renderConsoleSummary(r, { dir: 'out' })).not.toMatch(/cut|undefined|NaN/);
  });
});

/** The same accounting as the run writes it now: the graceful stop's cut requests are failures of class unfinished. */
function withUnfinished(base: RunResult, sent: number, cut: number): RunResult {
  const r = withCut(base, sent, 0);
  r.summary.requests.completed = sent - cut;
  r.summary.requests.failed = cut;
  r.summary.errors = { unfinished: cut };
  return r;
}
const unfinished = withUnfinished(ramp, 2420, 838);

describe('requests unfinished at the graceful stop (failures of class unfinished)', () => {
  it('are the cut requests, and the sentence says they count against availability', () => {
    const c = cutRequests(unfinished)!;
    expect(c).toMatchObject({ count: 838, cause: 'graceful-stop', countedAsFailed: true });
    expect(c.sentence).toBe(
      '838 requests (34.6 % of sent) were still waiting when the run ended: the server fell behind, and they were cut at the graceful stop (10 s). ' +
        'They count as failed (class unfinished): in the error ratio, availability SLOs and the error budget, and in no latency figure.',
    );
    expect(c.short).toBe('34.6 % of sent · unfinished at the graceful stop, failed');
    expect(cutRequests(overload)!.countedAsFailed).toBe(false);
  });

  it('no report says the SLOs left them out, and each names them as failed', () => {
    const page = renderHtml(unfinished);
    expect(page).toContain('<div class="k">cut at the end</div><div class="v">838</div><div class="s">34.6 % of sent · unfinished at the graceful stop, failed</div>');
    expect(page).not.toContain('The SLOs judged only the requests that ended.');
    const md = renderMarkdown(unfinished);
    expect(md).toContain('1582 completed · 838 failed · **838 cut at the end (unfinished, in failed)**');
    expect(md).not.toContain('The SLOs judged only the requests that ended.');
    expect(renderConsoleSummary(unfinished, { dir: 'out' })).toContain('2420 sent, 1582 completed, 838 failed (838 unfinished at the graceful stop), 0 dropped');
  });
});

describe('the cut requests in the headline of each report', () => {
  it('report.html: a tile beside completed and failed, and the sentence in the verdict, before the tiles', () => {
    const page = renderHtml(overload);
    expect(page).toContain(
      '<div class="tile bad"><div class="k">cut at the end</div><div class="v">838</div><div class="s">34.6 % of sent · still waiting at the graceful stop</div></div>',
    );
    // completed, failed and cut add up to sent, side by side in the first row of seven
    expect(page).toContain('<section class="tiles seven" aria-label="headline numbers">');
    const order = ['<div class="k">completed</div>', '<div class="k">failed</div>', '<div class="k">cut at the end</div>', '<div class="k">dropped</div>'].map((k) => page.indexOf(k));
    expect(order.every((x, i) => x > 0 && (i === 0 || x > order[i - 1]!))).toBe(true);
    const verdict = page.indexOf('<div class="verdict fail">');
    const sentence = page.indexOf('<div class="cut graceful-stop"><b>Cut at the end:</b> 838 requests (34.6 % of sent) were still waiting when the run ended: the server fell behind');
    expect(verdict).toBeGreaterThan(0);
    expect(sentence).toBeGreaterThan(verdict);
    expect(sentence).toBeLessThan(page.indexOf('aria-label="headline numbers"'));
    expect(page).toContain('The SLOs judged only the requests that ended.');
  });

  it('report.html: an interrupt is a warning tile, phrased as the interrupt', () => {
    const page = renderHtml(interrupted);
    expect(page).toContain('<div class="tile warn"><div class="k">cut at the end</div><div class="v">838</div><div class="s">34.6 % of sent · in flight at the interrupt</div></div>');
    const line = /<div class="cut interrupt">.*?<\/div>/.exec(page)![0];
    expect(line).toContain('<b>Cut at the end:</b> 838 requests (34.6 % of sent) were still in flight when the run was interrupted by SIGINT');
    expect(line).not.toContain('fell behind');
  });

  it('report.md: the sentence right under the verdict, and the count in the requests row', () => {
    const md = renderMarkdown(overload);
    const verdict = md.indexOf('**FAIL**: 2 of 3 SLOs failed.');
    const sentence = md.indexOf('**Cut at the end:** 838 requests (34.6 % of sent) were still waiting when the run ended: the server fell behind');
    expect(verdict).toBeGreaterThan(0);
    expect(sentence).toBeGreaterThan(verdict);
    expect(sentence).toBeLessThan(md.indexOf('| target |'));
    expect(md).toContain('| requests | 2420 sent · 1582 completed · 0 failed · **838 cut at the end** ·');
    expect(renderMarkdown(interrupted)).toContain('**Cut at the end:** 838 requests (34.6 % of sent) were still in flight when the run was interrupted by SIGINT');
  });

  it('console: the sentence under the counts, before the latencies that leave these requests out', () => {
    const text = renderConsoleSummary(overload, { dir: 'out' });
    expect(text).toContain('2420 sent, 1582 completed, 0 failed, 0 dropped, 838 cut at the end');
    const line = text.split('\n').find((l) => l.startsWith('  CUT '))!;
    expect(line).toContain('838 requests (34.6 % of sent) were still waiting when the run ended: the server fell behind');
    expect(text.indexOf(line)).toBeLessThan(text.indexOf('latency (ms)'));
  });

  it('escapes a hostile status reason in every report', () => {
    const hostile = withHostileStrings(overload);
    hostile.status_reason = `${HOSTILE[0]}\u001b[2J`;
    expect(cutRequests(hostile)!.cause).toBe('early-stop');
    const page = renderHtml(hostile);
    expect(page).toContain('when the run stopped early (&lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt; [2J)');
    expect(page.split('<script>window.__xss').length).toBe(1);
    const md = renderMarkdown(hostile);
    expect(md).toContain('stopped early (&lt;script&gt;window.\\_\\_xss=1;alert(1)&lt;/script&gt; \\[2J)');
    expect(renderConsoleSummary(hostile, { dir: 'out' })).not.toContain('\u001b');
  });
});
