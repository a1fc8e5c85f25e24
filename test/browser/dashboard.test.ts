// The live dashboard in a real headless Chromium (Debian's, driven by playwright-core), served by
// its worker thread as `inferload run --dashboard` serves it (the compiled dist/live/
// dashboard-thread.js: needs `npm run build` first, which npm test does): a chart gains points as
// checkpoints arrive, the page asks nothing of any other server, hostile strings from the run stay
// text, and at the end the page opens the final report. Skipped, saying so, where
// /usr/bin/chromium is missing (CI installs it: apt-get install -y chromium).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardThreadPath, startDashboard } from '../../src/live/dashboard.js';
import type { RunResult } from '../../src/results/types.js';
import { HOSTILE, syntheticResult, withHostileStrings } from '../unit/report/fixtures.js';

const CHROMIUM = process.env.INFERLOAD_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(
    `[test/browser/dashboard.test.ts] SKIPPED: no Chromium at ${CHROMIUM}. Install Debian's (apt-get install -y chromium) ` +
      'or point INFERLOAD_CHROMIUM at one; CI always runs this test.',
  );

/** Runs a browser-side expression (as text: this test compiles without the DOM's types). */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;

/** Marks vega drew in one chart: elements inside the mark groups of its SVG. */
const marks = (page: Page, id: string): Promise<number> =>
  inPage(page, `document.querySelectorAll('#chart-${id} svg.marks g[class*="role-mark"] > *').length`);

/** A checkpoint's partial results after `k` windows, with hostile strings wherever a run can put them. */
const partial = (k: number): RunResult => ({ ...withHostileStrings(syntheticResult({ windows: k, server: true })), status: 'running', status_reason: null });

describe.skipIf(!haveChromium)('the live dashboard in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    expect(existsSync(dashboardThreadPath()), `${dashboardThreadPath()} missing: run npm run build`).toBe(true);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('gains points as checkpoints arrive, keeps hostile strings inert, then shows the final report', async () => {
    const logs: string[] = [];
    const d = await startDashboard({ host: '127.0.0.1', port: 0, title: HOSTILE[2]!, log: (l) => logs.push(l), finalGraceMs: 5_000 });
    const origin = new URL(d.url).origin;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (dlg) => {
      dialogs.push(dlg.message());
      void dlg.dismiss();
    });
    try {
      d.checkpoint(partial(12));
      d.tick({ nowUs: 12e6, epochMs: Date.now(), inFlight: 40, sent: 180, dropped: 0, ended: 140, failed: 3 });
      await page.goto(d.url);
      const seq = (): Promise<number> => inPage(page, 'Number(document.body.getAttribute("data-seq"))');
      // polled from outside: waitForFunction evaluates a string in the page, which its policy forbids
      const waitPast = async (n: number): Promise<void> => {
        for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) if ((await seq()) > n) return;
        throw new Error(`the page did not draw a state past ${n} within 10 s`);
      };
      await waitPast(0);
      expect(await page.getAttribute('body', 'data-charts')).toBe('done');
      expect(await page.textContent('#status')).toContain('180 sent');
      // charts redraw while in view; the load chart is the one watched
      await page.locator('#fig-load').scrollIntoViewIfNeeded();
      const counts = [await marks(page, 'load')];
      const lagBefore = await marks(page, 'schedule-lag');
      expect(lagBefore).toBeGreaterThan(0);
      expect(counts[0]).toBeGreaterThan(12);
      for (const k of [24, 36]) {
        const before = await seq();
        d.checkpoint(partial(k));
        await waitPast(before);
        counts.push(await marks(page, 'load'));
      }
      expect(counts[1]).toBeGreaterThan(counts[0]!);
      expect(counts[2]).toBeGreaterThan(counts[1]!);
      // a chart that changed off screen is redrawn once it scrolls into view
      expect(await marks(page, 'schedule-lag')).toBe(lagBefore);
      await page.locator('#fig-schedule-lag').scrollIntoViewIfNeeded();
      for (const until = Date.now() + 5_000; Date.now() < until && (await marks(page, 'schedule-lag')) === lagBefore; ) await new Promise((r) => setTimeout(r, 50));
      expect(await marks(page, 'schedule-lag')).toBeGreaterThan(lagBefore);
      // one view per chart: a redraw replaces the old one
      expect(await inPage<number>(page, `document.querySelectorAll('#fig-load .vis').length`)).toBe(1);
      expect(await marks(page, 'ttft-over-time')).toBeGreaterThan(0);
      expect(await marks(page, 'gpu-utilization')).toBeGreaterThan(0);

      // the run's strings are text: scenario, model, SLO names, error messages, server URLs
      expect(await page.textContent('h1')).toBe(HOSTILE[0]);
      expect(await page.textContent('#runline')).toContain(`model ${HOSTILE[0]}`);
      expect(await page.textContent('#runline')).toContain(`target ${HOSTILE[2]}`);
      expect(await page.textContent('#slo')).toContain(HOSTILE[0]);
      expect(await page.textContent('#health-warnings')).toContain(HOSTILE[2]);
      expect(await page.textContent('#warnings')).toContain(HOSTILE[3]);
      expect(await page.title()).toBe(`inferload live: ${HOSTILE[0]} (FAIL)`);
      const inert = async (): Promise<void> => {
        expect(dialogs).toEqual([]);
        expect(await inPage<string>(page, 'typeof window.__xss')).toBe('undefined');
        expect(await page.locator('main img, main iframe, main script, main object, main embed, header svg').count()).toBe(0);
        expect(await inPage<number>(page, `document.querySelectorAll('[onerror], [onload], [onclick]').length`)).toBe(0);
      };
      await inert();

      // the end: the page opens the final report, served by the dashboard until the page has it
      const final = withHostileStrings(syntheticResult({ windows: 40, server: true }));
      d.checkpoint(final);
      const closing = d.close();
      await page.waitForURL(`${origin}/report`, { timeout: 10_000 });
      await page.waitForSelector('body[data-charts]', { timeout: 15_000 });
      expect(await page.getAttribute('body', 'data-charts')).toBe('done');
      expect(await page.textContent('h1')).toBe(HOSTILE[0]);
      expect(await page.textContent('.brand')).toBe('inferload report');
      await closing;
      await inert();

      expect(consoleErrors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);
      expect(logs).toEqual([]);
    } finally {
      await page.close();
      await d.close();
    }
  }, 30_000);
});
