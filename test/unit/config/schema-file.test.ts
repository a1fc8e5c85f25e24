// schema/scenario.schema.json is generated from the zod schema (`npm run schema`); the two must not drift.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { EXECUTORS, renderScenarioJsonSchema, scenarioJsonSchema, SLO_METRICS } from '../../../src/config/schema.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../../schema/scenario.schema.json', import.meta.url));

describe('schema/scenario.schema.json', () => {
  test('equals what the zod schema generates (run `npm run build && npm run schema` after changing it)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderScenarioJsonSchema());
  });

  test('describes the input side: durations as text, defaults, strict mappings, one branch per executor', () => {
    const schema = scenarioJsonSchema() as {
      $schema: string;
      required: string[];
      additionalProperties: boolean;
      properties: {
        warmup: { type: string; default: string; pattern: string };
        load: { oneOf: Array<{ properties: { executor: { const: string } }; additionalProperties: boolean }> };
        slo: { properties: Record<string, unknown> };
      };
    };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.required).toEqual(['name', 'load']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.warmup).toMatchObject({ type: 'string', default: '0s' });
    expect(new RegExp(schema.properties.warmup.pattern).test('1h30m')).toBe(true);
    expect(new RegExp(schema.properties.warmup.pattern).test('30')).toBe(false);
    expect(schema.properties.load.oneOf.map((b) => b.properties.executor.const)).toEqual([...EXECUTORS]);
    expect(schema.properties.load.oneOf.every((b) => b.additionalProperties === false)).toBe(true);
    expect(Object.keys(schema.properties.slo.properties)).toEqual(Object.keys(SLO_METRICS));
  });
});
