// report.html in a real headless Chromium (Debian's, driven by playwright-core): the page loads
// from file:// without console errors and without any request besides itself, every chart draws
// marks, hostile strings stay text, and docs/report.png shows a real run. Skipped, saying so, where
// /usr/bin/chromium is missing (CI installs it: apt-get install -y chromium).
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeRun } from '../../src/cli/execute.js';
import { resolveScenario } from '../../src/cli/scenario.js';
import { buildCharts } from '../../src/report/charts.js';
import { renderReports } from '../../src/report/render.js';
import type { RunResult } from '../../src/results/types.js';
import { HOSTILE, syntheticResult, withHostileStrings } from '../unit/report/fixtures.js';

const CHROMIUM = process.env.INFERLOAD_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(
    `[test/browser/report.test.ts] SKIPPED: no Chromium at ${CHROMIUM}. Install Debian's (apt-get install -y chromium) ` +
      'or point INFERLOAD_CHROMIUM at one; CI always runs this test.',
  );

const SCREENSHOT = fileURLToPath(new URL('../../docs/report.png', import.meta.url));
const RAMP_FIXTURE = new URL('./fixtures/ramp-results.json', import.meta.url);
const tmp = (): string => mkdtempSync(join(tmpdir(), 'inferload-browser-'));

interface Opened {
  page: Page;
  consoleErrors: string[];
  /** every URL the page asked for, the page itself included */
  requests: string[];
  failedRequests: string[];
  dialogs: string[];
}

/** Runs a browser-side expression (as text: this test compiles without the DOM's types). */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;

/** Marks vega drew per chart container: elements inside the mark groups of its SVG. */
function marksPerChart(page: Page): Promise<Record<string, number>> {
  return inPage(
    page,
    `Object.fromEntries(Array.from(document.querySelectorAll('.vis')).map((el) => [el.id, el.querySelectorAll('svg.marks g[class*="role-mark"] > *').length]))`,
  );
}

describe.skipIf(!haveChromium)('report.html in headless Chromium', () => {
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

  /** Renders `result` to a fresh directory and opens its report.html; resolves once every chart settled. */
  async function open(result: RunResult, viewport = { width: 1366, height: 900 }): Promise<Opened & { htmlPath: string }> {
    const dir = tmp();
    const { htmlPath } = renderReports(result, dir);
    const page = await browser.newPage({ viewport });
    const opened: Opened = { page, consoleErrors: [], requests: [], failedRequests: [], dialogs: [] };
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') opened.consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => opened.consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => opened.requests.push(r.url()));
    page.on('requestfailed', (r) => opened.failedRequests.push(r.url()));
    page.on('dialog', (d) => {
      opened.dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(pathToFileURL(htmlPath).href);
    await page.waitForSelector('body[data-charts]', { timeout: 30_000 });
    return { ...opened, htmlPath };
  }

  /** The checks every report must pass: loads clean, asks for nothing, every chart drew marks. */
  async function expectClean(o: Opened & { htmlPath: string }, result: RunResult): Promise<void> {
    expect(o.consoleErrors).toEqual([]);
    expect(o.failedRequests).toEqual([]);
    expect(o.requests).toEqual([pathToFileURL(o.htmlPath).href]);
    expect(await o.page.getAttribute('body', 'data-charts')).toBe('done');
    const marks = await marksPerChart(o.page);
    const ids = buildCharts(result).map((c) => `chart-${c.id}`);
    expect(Object.keys(marks).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(marks[id], id).toBeGreaterThan(0);
  }

  it('draws a fresh run of the built-in simulator', async () => {
    const spec = resolveScenario('smoke', { requests: '20', rate: '20' });
    const { result } = await executeRun(spec, { out: tmp(), argv: ['run', 'smoke', '--requests', '20', '--rate', '20'], log: () => undefined });
    expect(result.summary.requests.completed).toBeGreaterThan(0);
    const o = await open(result);
    await expectClean(o, result);
    expect(await o.page.textContent('h1')).toBe('smoke');
    await o.page.close();
  }, 90_000);

  it('draws a saved run past the knee with server and GPU signals, and screenshots it for the README', async () => {
    const result = JSON.parse(readFileSync(RAMP_FIXTURE, 'utf8')) as RunResult;
    const o = await open(result, { width: 1280, height: 900 });
    await expectClean(o, result);
    for (const id of ['kv-cache', 'gpu-utilization', 'gpu-memory']) expect(await o.page.locator(`#chart-${id} svg.marks`).count(), id).toBe(1);
    // the time charts line up: their plot areas start at the same x
    const plotLefts = await inPage<number[]>(
      o.page,
      `['load', 'ttft-over-time', 'concurrency', 'itl-over-time', 'kv-cache', 'gpu-utilization', 'errors'].map((id) => {
        const axis = document.querySelector('#chart-' + id + ' svg.marks g.role-axis-domain > *');
        return Math.round(axis.getBoundingClientRect().left);
      })`,
    );
    expect(new Set(plotLefts).size).toBe(1);
    // the story at a glance: headline, verdict, tiles, SLO table, then load, TTFT and the queue
    const bottom = await inPage<number>(o.page, `Math.ceil(document.querySelector('#fig-concurrency').getBoundingClientRect().bottom + window.scrollY + 8)`);
    mkdirSync(fileURLToPath(new URL('../../docs/', import.meta.url)), { recursive: true });
    await o.page.screenshot({ path: SCREENSHOT, clip: { x: 0, y: 0, width: 1280, height: bottom }, fullPage: true });
    expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).toBe('PNG');
    await o.page.close();
  }, 60_000);

  it('draws a run with no server signals, and says so', async () => {
    const result = syntheticResult();
    const o = await open(result);
    await expectClean(o, result);
    expect(await o.page.textContent('#server')).toContain('No server metrics were scraped.');
    await o.page.close();
  }, 60_000);

  it('draws a run with zero completed requests: load, in-flight and errors, and says why the rest is missing', async () => {
    const result = syntheticResult({ noneCompleted: true });
    const o = await open(result);
    await expectClean(o, result);
    const text = await o.page.textContent('body');
    expect(text).toContain('No request completed: there is no latency to report.');
    expect(text).toContain('No request completed, so there is no latency over time to draw.');
    // the error banner is above the fold
    const top = await o.page.locator('.banner.error').first().boundingBox();
    expect(top!.y + top!.height).toBeLessThan(900);
    await o.page.close();
  }, 60_000);

  it('draws the capacity a sweep found, a spike, and server signals', async () => {
    const result = syntheticResult({ server: true, capacity: true, spikeSoak: true });
    const o = await open(result);
    await expectClean(o, result);
    expect(await o.page.textContent('#capacity')).toContain('Sustainable at 40 req/s');
    await o.page.close();
  }, 60_000);

  it('shows the requests cut at the end above the fold: a tile beside completed and failed, and the verdict says it', async () => {
    // the outside check's run: a ramp into overload, 838 of 2 420 requests cut at the graceful stop
    const result = syntheticResult({ server: true });
    Object.assign(result.summary.requests, { sent: 2420, completed: 1582, failed: 0, interrupted: 838 });
    const o = await open(result, { width: 1280, height: 900 });
    await expectClean(o, result);
    const tile = o.page.locator('.tile', { has: o.page.locator('.k', { hasText: 'cut at the end' }) });
    expect(await tile.locator('.v').textContent()).toBe('838');
    expect(await tile.locator('.s').textContent()).toBe('34.6 % of sent · still waiting at the graceful stop');
    const line = o.page.locator('.verdict .cut');
    expect(await line.textContent()).toContain('838 requests (34.6 % of sent) were still waiting when the run ended: the server fell behind');
    for (const box of [await tile.boundingBox(), await line.boundingBox()]) expect(box!.y + box!.height).toBeLessThan(900);
    // completed, failed and cut share the first row of tiles
    const rowOf = async (k: string): Promise<number> =>
      Math.round((await o.page.locator('.tile', { has: o.page.locator('.k', { hasText: new RegExp(`^${k}$`) }) }).boundingBox())!.y);
    expect(new Set([await rowOf('completed'), await rowOf('failed'), await rowOf('cut at the end')]).size).toBe(1);
    // seven tiles a row still fit their values on one line, nothing spills out of a tile
    const spills = await inPage<string[]>(
      o.page,
      `Array.from(document.querySelectorAll('.tiles .tile .v')).filter((v) => v.scrollWidth > v.clientWidth + 1 || v.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(v).fontSize)).map((v) => v.textContent)`,
    );
    expect(spills).toEqual([]);
    await o.page.close();
  }, 60_000);

  it('shows hostile strings as text and runs none of them', async () => {
    const result = withHostileStrings(syntheticResult({ server: true, capacity: true, spikeSoak: true }));
    const o = await open(result);
    await expectClean(o, result);
    expect(o.dialogs).toEqual([]);
    expect(await inPage<unknown>(o.page, 'typeof window.__xss')).toBe('undefined');
    expect(await o.page.locator('main img, main iframe, main script, header svg').count()).toBe(0);
    expect(await o.page.textContent('h1')).toBe(HOSTILE[0]);
    expect(await o.page.textContent('.runline')).toContain(`model ${HOSTILE[0]}`);
    expect(await o.page.title()).toBe(`inferload: ${HOSTILE[0]} (FAIL)`);
    // the generator warning is above the fold
    const banner = await o.page.locator('.banner.warning').first().boundingBox();
    expect(banner!.y).toBeLessThan(900);
    await o.page.close();
  }, 60_000);
});
