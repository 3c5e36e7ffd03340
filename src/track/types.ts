/**
 * The tracker's entities, shaped exactly as MLflow's REST API spells them in JSON, so the server
 * serializes them as they are and the client returns what it receives.
 */

export interface KeyValue {
  key: string;
  value: string;
}

export type LifecycleStage = 'active' | 'deleted';

/** Which lifecycle stages a search returns. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: number;
  last_update_time: number;
  tags: KeyValue[];
}

export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunInfo {
  run_id: string;
  /** The same as run_id; MLflow still sends the old name. */
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

/** One metric value. `value` may be NaN or ±Infinity (sent as "NaN", "Infinity", "-Infinity"). */
export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  tags: KeyValue[];
  dataset: Dataset;
}

export interface RunData {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

export interface Run {
  info: RunInfo;
  data: RunData;
  inputs: { dataset_inputs: DatasetInput[] };
}

export interface Page<T> {
  items: T[];
  /** Absent on the last page. */
  nextPageToken?: string;
}

export interface SearchOptions {
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
  viewType?: ViewType;
}

export interface CreateRunOptions {
  runName?: string;
  /**
   * The run's id, chosen by the caller (embedded stores only; MLflow's API has no such field):
   * a deployment names its steps' runs before they exist, see src/deploy.
   */
  runId?: string;
  userId?: string;
  startTime?: number;
  tags?: KeyValue[];
}

export interface UpdateRunOptions {
  status?: RunStatus;
  endTime?: number;
  runName?: string;
}

export interface LogBatch {
  metrics?: Metric[];
  params?: KeyValue[];
  tags?: KeyValue[];
}

export interface ArtifactFile {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

// ---- Model registry ----

export const MODEL_STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type ModelStage = (typeof MODEL_STAGES)[number];

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: ModelStage;
  description?: string;
  source: string;
  run_id?: string;
  run_link?: string;
  status: 'READY';
  tags: KeyValue[];
  aliases: string[];
}

export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  latest_versions: ModelVersion[];
  tags: KeyValue[];
  aliases: RegisteredModelAlias[];
}

export interface CreateModelVersionOptions {
  runId?: string;
  tags?: KeyValue[];
  runLink?: string;
  description?: string;
}
