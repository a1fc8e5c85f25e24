// The scrape package's public surface: exposition parser, server profiles, canonical signals, fetch.
export { detectFormat, parseExposition, type Exemplar, type ExpositionFormat, type MetricFamily, type MetricType, type ParseOptions, type ParseProblem, type ParseResult, type Sample } from './parser.js';
export {
  DCGM,
  LLAMACPP,
  PROFILES,
  SGLANG,
  TGI,
  TRITON,
  VLLM,
  detectProfiles,
  profileByName,
  type CounterSignal,
  type GaugeSignal,
  type GpuSignal,
  type HistogramSignal,
  type ProfileName,
  type ServerProfile,
} from './profiles.js';
export {
  bucketQuantile,
  counterDeltas,
  cumulativeSignals,
  histogramStats,
  rateSignals,
  snapshotSignals,
  type CanonicalSignal,
  type CumulativeValues,
  type GpuSignals,
  type HistogramSeries,
  type HistogramStat,
  type RateSignal,
  type SignalSnapshot,
  type Signals,
} from './signals.js';
export { ACCEPT_OPENMETRICS, ACCEPT_PROMETHEUS, ScrapeFetchError, fetchExposition, type FetchExpositionOptions, type FetchedExposition } from './fetch.js';
