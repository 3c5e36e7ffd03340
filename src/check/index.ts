/** Checkers: drift detectors fitted on reference data, called on batches, all with one result shape. */
export * from './errors';
export type { Matrix, Category } from './data';
export type { DriftResult, DriftDetector, FeatureResult, SavedDetector } from './result';
export { ks2samp, type KSResult } from './ks';
export { chi2Contingency, type Chi2Result } from './chi2';
export { adjustPValues, type Correction } from './correction';
export { KSDrift, type KSDriftOptions, type KSDetails, type Preprocess } from './ks-detector';
export {
  ChiSquareDrift,
  ClassBalanceDrift,
  type CategoryMatrix,
  type ChiSquareDriftOptions,
  type ChiSquareDetails,
  type ClassBalanceDriftOptions,
  type LevelChanges
} from './chi2-detector';
export { MMDDrift, type MMDDriftOptions, type MMDDetails } from './mmd-detector';
export {
  AutoencoderDrift,
  minimumCalibrationSize,
  type AutoencoderDriftOptions,
  type AutoencoderDetails
} from './autoencoder-detector';
export { type AutoencoderArchitecture } from './autoencoder';
export { tensorflowBackend } from './backend';
export {
  detectorFromJSON,
  detectorToJSON,
  loadDetector,
  saveDetector,
  type AnyDetector,
  type LoadOptions
} from './persist';
export {
  OnlineMonitor,
  type OnlineMonitorOptions,
  type MonitorAlert,
  type MonitorPoint
} from './online-monitor';
export {
  checkerFromDetector,
  createChecker,
  defineChecker,
  registerChecker,
  registeredCheckers,
  CheckerPluginError,
  type Checker,
  type CheckerFactory
} from './plugin';
export {
  ValueRangeCheck,
  type Range,
  type ValueRangeOptions,
  type ValueRangeDetails,
  type Violation
} from './value-range-check';
export {
  DriftReport,
  toBundle,
  driftReportData,
  driftSummary,
  type DriftReportData,
  type DriftBundleExtras,
  type Reportable,
  type ReportOptions
} from './report';
export {
  logVerdict,
  trackerRun,
  type VerdictTracker,
  type BatchLoggingStore,
  type LogVerdictOptions
} from './tracker-hook';
