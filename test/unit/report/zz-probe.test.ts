import { it } from 'vitest';
import { writeFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { renderReports } from '../../../src/report/render.js';
import { syntheticResult, withHostileStrings } from './fixtures.js';
import type { RunResult } from '../../../src/results/types.js';
it('probe', () => {
  const ramp = JSON.parse(readFileSync('test/browser/fixtures/ramp-results.json', 'utf8')) as RunResult;
  const big = structuredClone(ramp);
  big.windows = [];
  for (let k = 0; k < 56; k++) for (const w of ramp.windows) big.windows.push({ ...w, t_s: w.t_s + k * 32 });
  for (const [d, r] of [['/tmp/syn', syntheticResult({ server: true })], ['/tmp/syn0', syntheticResult({ noneCompleted: true })], ['/tmp/hostile', withHostileStrings(syntheticResult({ server: true }))], ['/tmp/synplain', syntheticResult({})], ['/tmp/big', big], ['/tmp/ramp', ramp]] as const) {
    mkdirSync(d, { recursive: true });
    writeFileSync(d + '/results.json', JSON.stringify(r));
    const t = Date.now();
    renderReports(r, d);
    console.log(d, r.windows.length, 'windows', Date.now() - t, 'ms', statSync(d + '/report.html').size, 'bytes');
  }
});
