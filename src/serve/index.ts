/** The model server: MLflow's scoring protocol, micro-batching, live checks, hot swap. */
export { RequestError, ServeError, type RequestErrorCode } from './errors';
export { ModelServer, type ModelServerOptions, type ServerStatus } from './server';
export {
  ModelLocator,
  openTracker,
  parseModelUri,
  type LocalModel,
  type ModelTracker,
  type ModelUri
} from './model-uri';
export { loadChecker, loadServedModel, type Prediction, type ServedModel } from './models';
export { MicroBatcher, type BatcherOptions } from './batcher';
export { readAlertWindow, type AlertWindow } from './alert-window';
export { parseScoringRequest, SCORING_FORMATS, type ScoringRequest } from './scoring';
export {
  liveCheck,
  type LiveCheck,
  type LiveCheckOptions,
  type LiveCheckStatus,
  type LiveVerdict
} from './live-checks';
