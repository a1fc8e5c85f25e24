// The run command's scenario: a shipped name or a file, with --set and flag overrides.
import type { ScenarioSpec } from '../core/types.js';
import { loadScenario } from '../config/load.js';
import type { ScenarioCliOptions } from '../config/overrides.js';

export interface RunFlags extends ScenarioCliOptions {
  set?: string[];
}

export function resolveScenario(nameOrPath: string, flags: RunFlags): ScenarioSpec {
  const { set, ...cli } = flags;
  return loadScenario(nameOrPath, [], { set: set ?? [], cli });
}
