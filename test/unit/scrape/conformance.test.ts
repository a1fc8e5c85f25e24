// The official OpenMetrics parser test set (test/fixtures/openmetrics; 211 cases), read in
// strict OpenMetrics mode: good cases parse with no problem, bad ones report at least one, none throw.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseExposition } from '../../../src/scrape/parser.js';

const DIR = fileURLToPath(new URL('../../fixtures/openmetrics/', import.meta.url));

interface Case {
  name: string;
  text: string;
  shouldParse: boolean;
}

function loadCases(): Case[] {
  return readdirSync(DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const meta = JSON.parse(readFileSync(join(DIR, d.name, 'test.json'), 'utf8')) as { file: string; shouldParse: boolean };
      return { name: d.name, text: readFileSync(join(DIR, d.name, meta.file), 'utf8'), shouldParse: meta.shouldParse };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

describe('OpenMetrics conformance (strict mode)', () => {
  const cases = loadCases();

  it('has the 211 cases: 44 good, 167 bad', () => {
    expect(cases.length).toBe(211);
    expect(cases.filter((c) => c.shouldParse).length).toBe(44);
  });

  it('agrees with every case', () => {
    const failures: string[] = [];
    for (const c of cases) {
      let problems: { line: number; message: string }[];
      try {
        problems = parseExposition(c.text, { format: 'openmetrics' }).problems;
      } catch (err) {
        failures.push(`${c.name}: threw ${String(err)}`);
        continue;
      }
      if (problems.some((p) => p.message.startsWith('internal parser error'))) failures.push(`${c.name}: ${problems[0]!.message}`);
      else if (c.shouldParse && problems.length > 0) failures.push(`${c.name}: should parse, got ${problems.map((p) => `line ${p.line}: ${p.message}`).join('; ')}`);
      else if (!c.shouldParse && problems.length === 0) failures.push(`${c.name}: should fail, parsed with no problem`);
    }
    expect(failures).toEqual([]);
  });

  it('good cases also parse leniently with no problem', () => {
    const failures = cases
      .filter((c) => c.shouldParse)
      .filter((c) => parseExposition(c.text).problems.length > 0)
      .map((c) => c.name);
    expect(failures).toEqual([]);
  });
});
