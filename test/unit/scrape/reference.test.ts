// Cross-check against the reference parser: Debian's python3-prometheus-client
// (prometheus_client.parser.text_string_to_metric_families, text format 0.0.4), spawned with
// /usr/bin/python3, on every real capture in test/fixtures/metrics. Same samples (names,
// labels, values) and the same typed families. Skips, saying so, when the module is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseExposition, type MetricFamily } from '../../../src/scrape/parser.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/metrics/', import.meta.url));
const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
def num(v):
    if math.isnan(v): return 'NaN'
    if math.isinf(v): return '+Inf' if v > 0 else '-Inf'
    return v
out = {}
for path in sys.argv[1:]:
    with open(path, encoding='utf-8') as f:
        text = f.read()
    out[path] = [{'name': m.name, 'type': m.type,
                  'samples': [{'name': s.name, 'labels': s.labels, 'value': num(s.value)} for s in m.samples]}
                 for m in text_string_to_metric_families(text)]
print(json.dumps(out))
`;

function pythonHasClient(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import prometheus_client.parser'], { encoding: 'utf8' }).status === 0;
}

const available = existsSync(FIXTURES) && pythonHasClient();
if (!available) {
  console.warn('reference.test.ts: skipped: /usr/bin/python3 with prometheus_client is missing (apt-get install -y python3-prometheus-client)');
}

interface PySample {
  name: string;
  labels: Record<string, string>;
  value: number | string;
}
interface PyFamily {
  name: string;
  type: string;
  samples: PySample[];
}

/** prometheus_client renames counter samples to end in _total and strips it from family names: compare without it. */
const stripTotal = (name: string, type: string): string => (type === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name);
const valueKey = (v: number | string): string => (typeof v === 'string' ? v : Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));
const labelKey = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

function sampleMultiset(families: { type: string; samples: PySample[] }[]): string[] {
  return families.flatMap((f) => f.samples.map((s) => `${stripTotal(s.name, f.type)} ${labelKey(s.labels)} ${valueKey(s.value)}`)).sort();
}
function typedFamilies(families: { name: string; type: string }[]): string[] {
  return families
    .filter((f) => f.type !== 'unknown' && f.type !== 'untyped')
    .map((f) => `${stripTotal(f.name, f.type)} ${f.type}`)
    .sort();
}
const ours = (fams: MetricFamily[]): { name: string; type: string; samples: PySample[] }[] => fams.map((f) => ({ name: f.name, type: f.type, samples: f.samples }));

describe.skipIf(!available)('agreement with prometheus_client (python3-prometheus-client)', () => {
  const files = available
    ? readdirSync(FIXTURES)
        .filter((f) => f.endsWith('.prom'))
        .sort()
    : [];
  const reference: Record<string, PyFamily[]> = available
    ? (JSON.parse(spawnSync(PYTHON, ['-c', SCRIPT, ...files.map((f) => join(FIXTURES, f))], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout) as Record<string, PyFamily[]>)
    : {};

  it('reads all 13 captures', () => {
    expect(files.length).toBe(13);
    expect(Object.keys(reference).length).toBe(files.length);
  });

  for (const file of files) {
    it(`${file}: same samples and typed families`, () => {
      const parsed = parseExposition(readFileSync(join(FIXTURES, file), 'utf8'));
      expect(parsed.problems).toEqual([]);
      const py = reference[join(FIXTURES, file)]!;
      const mine = ours(parsed.families);
      expect(sampleMultiset(mine)).toEqual(sampleMultiset(py));
      expect(typedFamilies(mine)).toEqual(typedFamilies(py));
      expect(sampleMultiset(mine).length).toBeGreaterThan(0);
    });
  }
});
