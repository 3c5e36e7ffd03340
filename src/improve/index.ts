/** The improver: query strategies, labeling sessions, retraining and promotion. */
export * from './errors';
export {
  anomalyRanking,
  entropySampling,
  entropyScores,
  leastConfidence,
  leastConfidenceScores,
  marginSampling,
  marginScores,
  powerSampling,
  randomSampling,
  rankedBatch,
  reconstructionErrorSampling,
  type AnomalyScorer,
  type PowerOptions,
  type Probabilities,
  type Query,
  type RankedBatchOptions,
  type SelectOptions
} from './strategies';
export {
  LabelingSession,
  type CreateSessionOptions,
  type LabelRecord,
  type NewSample,
  type OpenSessionOptions,
  type Progress as LabelingProgress,
  type RejectedLabel,
  type WaitOptions
} from './session';
export {
  MANIFEST_FORMAT,
  type LabelDocument,
  type RejectedDocument,
  type SessionManifest,
  type SessionSample
} from './label-files';
export { SimulatedOracle, type GroundTruth, type OracleOptions } from './oracle';
export { greyImageDataUrl, type GreyImage } from './images';
export {
  labelingSessionBundle,
  labelingSessionData,
  labelingSessionText,
  type LabelingSessionBundle
} from './bundle';
export {
  Classifier,
  MlpClassifier,
  argmax,
  type ClassifierOptions,
  type ContinueOptions,
  type TrainingSet
} from './classifier';
export { trackerRegistry, type ModelRegistry, type TrackerRegistryOptions } from './registry';
export {
  decidePromotion,
  labelsAsTrainingSet,
  retrainAndCompare,
  type Comparison,
  type PromotionDecision,
  type PromotionTarget,
  type RetrainOptions
} from './retrain';
export {
  ActiveLearner,
  DEFAULT_SELECT,
  STRATEGIES as QUERY_STRATEGIES,
  type ActiveLearnerOptions,
  type QueryInputs,
  type QueryStrategy,
  type StrategyName
} from './learner';
