// history.html in a real headless Chromium (Debian's, driven by playwright-core), like
// report.test.ts: the page loads from file:// without console errors and without any request
// besides itself, every chart draws its points, the night that regressed carries the red rule and
// rings, a point opens its run's report, and hostile strings stay text. Skipped, saying so, where
// /usr/bin/chromium is missing (CI installs it: apt-get install -y chromium).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoryCommand } from '../../src/cli/history-command.js';
import { REGRESSION_COLOR } from '../../src/report/history-charts.js';
import { HOSTILE } from '../unit/report/fixtures.js';
import { NIGHTS, writeNights } from '../unit/report/history-fixtures.js';

const CHROMIUM = process.env.INFERLOAD_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(
    `[test/browser/history.test.ts] SKIPPED: no Chromium at ${CHROMIUM}. Install Debian's (apt-get install -y chromium) ` +
      'or point INFERLOAD_CHROMIUM at one; CI always runs this test.',
  );

/** Runs a browser-side expression (as text: this test compiles without the DOM's types). */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;

/** Writes the nights, runs `inferload history` over them and returns the page's path. */
async function historyOf(nights = NIGHTS, edit?: NonNullable<Parameters<typeof writeNights>[2]>['edit']): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'inferload-history-browser-'));
  writeNights(join(dir, 'runs'), nights, { edit });
  const out = join(dir, 'history');
  const code = await runHistoryCommand([join(dir, 'runs')], { out }, { stdout: () => undefined, stderr: (s) => void process.stderr.write(s) });
  expect(code).toBe(0);
  return join(out, 'history.html');
}

describe.skipIf(!haveChromium)('history.html in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function open(htmlPath: string): Promise<{ page: Page; consoleErrors: string[]; requests: string[]; dialogs: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const o = { page, consoleErrors: [] as string[], requests: [] as string[], dialogs: [] as string[] };
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') o.consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => o.consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => o.requests.push(r.url()));
    page.on('dialog', (d) => {
      o.dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(pathToFileURL(htmlPath).href);
    await page.waitForSelector('body[data-charts]', { timeout: 10_000 });
    return o;
  }

  it('draws every chart, marks the night that regressed, and a point opens that run’s report', async () => {
    const htmlPath = await historyOf();
    const { page, consoleErrors, requests } = await open(htmlPath);
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(htmlPath).href]);
    expect(await page.getAttribute('body', 'data-charts')).toBe('done');
    // one filled point per run and series in each chart
    const points = await inPage<Record<string, number>>(
      page,
      `Object.fromEntries(Array.from(document.querySelectorAll('.vis')).map((el) => [el.id, el.querySelectorAll('svg.marks g.mark-symbol.role-mark path[fill]:not([fill="transparent"])').length]))`,
    );
    expect(points).toEqual({
      'chart-ttft': 21,
      'chart-itl': 21,
      'chart-tpot': 21,
      'chart-e2e': 21,
      'chart-throughput': 14,
      'chart-output-tokens': 7,
      'chart-ratios': 14,
    });
    // the dashed rule of the night that regressed, in every chart; rings on the figures that did
    const red = await inPage<Record<string, { rules: number; rings: number }>>(
      page,
      `Object.fromEntries(Array.from(document.querySelectorAll('.vis')).map((el) => [el.id, {
        rules: el.querySelectorAll('svg.marks g.mark-rule.role-mark line[stroke="${REGRESSION_COLOR}"]').length,
        rings: el.querySelectorAll('svg.marks g.mark-symbol.role-mark path[stroke="${REGRESSION_COLOR}"]').length }]))`,
    );
    for (const [id, r] of Object.entries(red)) expect(r.rules, id).toBe(1);
    expect(red['chart-e2e']!.rings).toBeGreaterThanOrEqual(1);
    expect(red['chart-itl']!.rings).toBeGreaterThanOrEqual(1);
    expect(red['chart-throughput']!.rings).toBe(0);
    expect(await page.textContent('#regressions')).toMatch(/2026-11-30: .*E2E p95 \+2\d\.\d % \(regression\)/);
    expect(await page.locator('tr.regression td.regressed').count()).toBeGreaterThan(0);

    // a click on the ring of the slow night's E2E p95 opens its report
    const ring = page.locator(`#chart-e2e svg.marks g.mark-symbol.role-mark path[stroke="${REGRESSION_COLOR}"]`).first();
    await ring.scrollIntoViewIfNeeded();
    const box = (await ring.boundingBox())!;
    await Promise.all([page.waitForURL(/\/runs\/2026-11-30\/report\.html$/, { timeout: 5_000 }), page.mouse.click(box.x + box.width / 2, box.y + box.height / 2)]);
    expect(await page.textContent('h1')).toBe('report of 2026-11-30');
    await page.close();
  }, 30_000);

  it('shows hostile scenario names and run ids as text and runs none of them', async () => {
    const htmlPath = await historyOf(NIGHTS.slice(0, 3), (r, n) => {
      r.run.scenario = HOSTILE[0]!;
      r.run.id = `${HOSTILE[NIGHTS.indexOf(n) % HOSTILE.length]!} ${n.date}`;
    });
    const { page, consoleErrors, dialogs } = await open(htmlPath);
    expect(consoleErrors).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(await page.getAttribute('body', 'data-charts')).toBe('done');
    expect(await inPage<unknown>(page, 'typeof window.__xss')).toBe('undefined');
    expect(await page.locator('main img, main iframe, main script').count()).toBe(0);
    expect(await page.textContent('h1')).toBe(HOSTILE[0]);
    expect(await page.title()).toBe(`inferload history: ${HOSTILE[0]} (OK)`);
    expect(await page.locator('#verdicts tbody tr').nth(1).locator('td').nth(1).textContent()).toBe(`${HOSTILE[1]} 2026-11-26`);
    await page.close();
  }, 30_000);
});
