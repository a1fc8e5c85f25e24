// config/: scenario files and CLI overrides → the validated, normalised ScenarioSpec.

export { loadScenario, parseScenario, shippedScenarios, SCENARIOS_DIR } from './load.js';
export type { ScenarioOptions } from './load.js';
export { applyOverrides, cliOverrides, parseOverridePath, parseSetArgs } from './overrides.js';
export type { AppliedOverride, CliOverrides, Override, PathSegment, ScenarioCliOptions } from './overrides.js';
export {
  AGGREGATIONS_BY_KIND,
  ARRIVALS,
  EXECUTORS,
  LENGTH_DISTS,
  SLO_METRICS,
  renderScenarioJsonSchema,
  scenarioJsonSchema,
  scenarioSchema,
} from './schema.js';
export type { ParsedScenario, SloMetric, SloMetricKind, ThresholdAggregation } from './schema.js';
export { DURATION_PATTERN, formatDuration, parseDurationS } from './duration.js';
