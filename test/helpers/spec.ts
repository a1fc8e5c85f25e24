// A ScenarioSpec for tests, without going through YAML.
import type { LoadSpec, ScenarioSpec } from '../../src/core/types.js';

export function testSpec(load: LoadSpec, over: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    name: 'test',
    seed: 1,
    warmupS: 0,
    windowS: 1,
    target: { endpoint: 'chat', metrics: [], timeoutS: 30 },
    simulator: {
      profile: 'default',
      speed: 1,
      faults: { http500Ratio: 0, http429Ratio: 0, stallRatio: 0, stallS: 5, dropRatio: 0, midStreamErrorRatio: 0 },
    },
    load,
    workload: {
      promptTokens: { dist: 'fixed', value: 16 },
      outputTokens: { dist: 'fixed', value: 4 },
      ignoreEos: true,
      minTokens: false,
      temperature: 0,
    },
    slo: {},
    sweep: { startRate: 1, maxRate: 1000, precision: 0.05, stepS: 30, stepWarmupS: 10, maxSteps: 16, arrival: 'poisson' },
    alerts: { defaults: true, rules: [] },
    availabilitySlo: 0.999,
    ...over,
  };
}
