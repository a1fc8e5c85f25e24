import { it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { renderReports } from '../../../src/report/render.js';
import { syntheticResult, withHostileStrings } from './fixtures.js';
it('probe', () => {
  for (const [d, r] of [['/tmp/syn', syntheticResult({ server: true })], ['/tmp/syn0', syntheticResult({ noneCompleted: true })], ['/tmp/hostile', withHostileStrings(syntheticResult({ server: true }))], ['/tmp/synplain', syntheticResult({})]] as const) {
    mkdirSync(d, { recursive: true });
    writeFileSync(d + '/results.json', JSON.stringify(r));
    renderReports(r, d);
  }
});
