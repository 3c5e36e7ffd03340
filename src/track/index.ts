/** The tracker: an MLflow-compatible tracking store, server and client. */
export * from './errors';
export * from './types';
export type { TrackingStore, ModelRegistryStore } from './store';
export { SqliteStore, DEFAULT_EXPERIMENT_ID, type SqliteStoreOptions } from './sqlite-store';
export { ArtifactStore } from './artifacts';
export { LIMITS } from './validation';
export { parseFilter, parseOrderBy, type Condition, type OrderClause } from './search';
export {
  createTrackerServer,
  trackerRequestListener,
  MLFLOW_API_VERSION,
  type TrackerServerOptions
} from './server';
export {
  startTracker,
  defaultArtifactsDir,
  type StartTrackerOptions,
  type RunningTracker
} from './embedded';
export { RestStore, type RestStoreOptions } from './rest-store';
export { openApiDocument } from './openapi';
export { wipeExperiment, type WipeResult } from './wipe';
export {
  RunRecorder,
  loadRecordedRun,
  TAGS as RECORDER_TAGS,
  type RunArtifacts,
  type RecordableEvent,
  type RecordedRun,
  type RecordedStep,
  type RecordedOutcome,
  type RunRecorderOptions
} from './recorder';
export {
  Tracker,
  RunTable,
  MetricHistory,
  RunComparison,
  ParamsDiff,
  type RunRow,
  type HistoryPoint,
  type RunsQuery,
  type TrackerView,
  type TrackerViewData,
  type VegaLiteSpec
} from './query';
