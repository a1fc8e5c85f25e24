// Public API of the built-in simulator.

export { startSimServer } from './server.js';
export type { SimServer, SimServerOptions, SimServerStats } from './server.js';
export { spawnSimulator, simChildPath } from './spawn.js';
export type { SpawnedSimulator } from './spawn.js';
export { loraFlags, runSimCommand } from './main.js';
export type { SimCommandOptions } from './main.js';
export { SIM_PROFILES, listProfiles, resolveProfile } from './profiles.js';
export type { SimProfile } from './profiles.js';
export { EngineModel, SimRequest, stepTime } from './model.js';
export type {
  EngineCounters,
  EngineGauges,
  EngineModelOptions,
  FinishReason,
  SimRequestSpec,
  StepPlan,
  StepTime,
  TokenEvent,
} from './model.js';
export { StepLoop } from './loop.js';
export {
  BucketHistogram,
  PROMETHEUS_TEXT_CONTENT_TYPE,
  SimMetrics,
  StepActivityWindow,
  VLLM_BUCKETS,
  buckets125,
  formatPrometheusFloat,
} from './metrics.js';
export type { SimGpuSample, SimMetricsOptions, SimMetricsSource, StepActivity } from './metrics.js';
export { RequestPlanner, resolveFaults, DEFAULT_FAULTS } from './planner.js';
export type { PlannedFault, RequestPlan } from './planner.js';
export { DEFAULT_SIM_WORKLOAD, measureCapacity, simulateOpenLoop } from './capacity.js';
export type {
  CapacityOptions,
  CapacityResult,
  LatencySummaryMs,
  OpenLoopOptions,
  OpenLoopResult,
  SimWorkload,
} from './capacity.js';
