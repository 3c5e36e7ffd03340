/**
 * The tracker's store abstraction, after MLflow's: one interface for tracking and one for the model
 * registry, with several backends (the embedded SQLite store, the REST store that talks to our
 * server or to a real MLflow server). The HTTP server is only handlers over these interfaces.
 */
import type {
  CreateModelVersionOptions,
  CreateRunOptions,
  DatasetInput,
  Experiment,
  KeyValue,
  LogBatch,
  Metric,
  ModelStage,
  ModelVersion,
  Page,
  RegisteredModel,
  Run,
  RunInfo,
  SearchOptions,
  UpdateRunOptions
} from './types';

export interface TrackingStore {
  createExperiment(name: string, artifactLocation?: string, tags?: KeyValue[]): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment>;
  getExperimentByName(name: string): Promise<Experiment>;
  searchExperiments(options?: SearchOptions): Promise<Page<Experiment>>;
  renameExperiment(experimentId: string, newName: string): Promise<void>;
  deleteExperiment(experimentId: string): Promise<void>;
  restoreExperiment(experimentId: string): Promise<void>;
  setExperimentTag(experimentId: string, key: string, value: string): Promise<void>;
  deleteExperimentTag(experimentId: string, key: string): Promise<void>;

  createRun(experimentId: string, options?: CreateRunOptions): Promise<Run>;
  getRun(runId: string): Promise<Run>;
  updateRun(runId: string, options: UpdateRunOptions): Promise<RunInfo>;
  deleteRun(runId: string): Promise<void>;
  restoreRun(runId: string): Promise<void>;
  searchRuns(experimentIds: string[], options?: SearchOptions): Promise<Page<Run>>;
  setTag(runId: string, key: string, value: string): Promise<void>;
  deleteTag(runId: string, key: string): Promise<void>;
  logMetric(runId: string, metric: Metric): Promise<void>;
  logParam(runId: string, key: string, value: string): Promise<void>;
  logBatch(runId: string, batch: LogBatch): Promise<void>;
  logInputs(runId: string, datasets: DatasetInput[]): Promise<void>;
  getMetricHistory(
    runId: string,
    key: string,
    options?: { maxResults?: number; pageToken?: string }
  ): Promise<Page<Metric>>;
}

export interface ModelRegistryStore {
  createRegisteredModel(
    name: string,
    options?: { tags?: KeyValue[]; description?: string }
  ): Promise<RegisteredModel>;
  getRegisteredModel(name: string): Promise<RegisteredModel>;
  renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel>;
  updateRegisteredModel(name: string, description: string): Promise<RegisteredModel>;
  deleteRegisteredModel(name: string): Promise<void>;
  searchRegisteredModels(options?: SearchOptions): Promise<Page<RegisteredModel>>;
  getLatestVersions(name: string, stages?: string[]): Promise<ModelVersion[]>;
  setRegisteredModelTag(name: string, key: string, value: string): Promise<void>;
  deleteRegisteredModelTag(name: string, key: string): Promise<void>;
  setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void>;
  deleteRegisteredModelAlias(name: string, alias: string): Promise<void>;
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion>;

  createModelVersion(
    name: string,
    source: string,
    options?: CreateModelVersionOptions
  ): Promise<ModelVersion>;
  getModelVersion(name: string, version: string): Promise<ModelVersion>;
  updateModelVersion(name: string, version: string, description: string): Promise<ModelVersion>;
  deleteModelVersion(name: string, version: string): Promise<void>;
  searchModelVersions(options?: SearchOptions): Promise<Page<ModelVersion>>;
  transitionModelVersionStage(
    name: string,
    version: string,
    stage: ModelStage,
    archiveExistingVersions: boolean
  ): Promise<ModelVersion>;
  setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void>;
  deleteModelVersionTag(name: string, version: string, key: string): Promise<void>;
  getModelVersionDownloadUri(name: string, version: string): Promise<string>;
}
