// workload.tokenizer in a scenario: a family, server or a tokenizer.json path (relative to the
// scenario file); anything else is a 104 at its line, with the fix. Old scenarios have none.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/core/errors.js';
import { parseScenario } from '../../../src/config/load.js';

const scenario = (tokenizer?: string): string =>
  [
    'name: t',
    'load: {executor: constant-arrival-rate, rate: 1, duration: 10s}',
    'workload:',
    '  promptTokens: {dist: fixed, value: 64}',
    ...(tokenizer === undefined ? [] : [`  tokenizer: ${tokenizer}`]),
    '',
  ].join('\n');

describe('workload.tokenizer', () => {
  it('is absent from old scenarios, and kept as written otherwise', () => {
    expect(parseScenario(scenario(), 's.yaml').workload.tokenizer).toBeUndefined();
    expect(parseScenario(scenario('llama3'), 's.yaml').workload.tokenizer).toBe('llama3');
    expect(parseScenario(scenario('server'), 's.yaml').workload.tokenizer).toBe('server');
    expect(parseScenario(scenario(), 's.yaml', [], { set: ['workload.tokenizer=qwen3'] }).workload.tokenizer).toBe('qwen3');
  });

  it('an unknown name is a 104 at its line, naming the fix', () => {
    let err: unknown;
    try {
      parseScenario(scenario('llama4'), 's.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInputError);
    const p = (err as InvalidInputError).problems[0]!;
    expect(p.path).toMatch(/^workload\.tokenizer/);
    expect(p.message).toMatch(/unknown tokenizer "llama4": give a path to the model's tokenizer\.json/);
  });

  it('a path is relative to the scenario file, and must exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferload-tokfield-'));
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    const spec = parseScenario(scenario('./tokenizer.json'), join(dir, 's.yaml'), [], { baseDir: dir, checkFiles: true });
    expect(spec.workload.tokenizer).toBe(join(dir, 'tokenizer.json'));
    expect(() => parseScenario(scenario('./missing.json'), join(dir, 's.yaml'), [], { baseDir: dir, checkFiles: true })).toThrow(/workload\.tokenizer.*no such file/s);
  });
});
