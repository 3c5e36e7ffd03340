/**
 * The embedded tracking store: one SQLite file (WAL mode) through better-sqlite3. Calls are
 * synchronous underneath (SQLite serializes writers anyway) and wrapped in promises to meet the
 * store interfaces. A committed transaction is in the WAL file before the call returns, so a
 * process killed afterwards (even with SIGKILL) loses nothing it acknowledged.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  AlreadyExistsError,
  InvalidParameterError,
  InvalidStateError,
  NotFoundError,
  StoreOpenError
} from './errors';
import {
  compileFilter,
  compileOrderBy,
  decodePageToken,
  encodePageToken,
  likeToRegExp,
  parseFilter,
  parseOrderBy,
  type SearchSchema
} from './search';
import { SCHEMA } from './sqlite-schema';
import type { ModelRegistryStore, TrackingStore } from './store';
import type {
  CreateModelVersionOptions,
  CreateRunOptions,
  DatasetInput,
  Experiment,
  KeyValue,
  LifecycleStage,
  LogBatch,
  Metric,
  ModelStage,
  ModelVersion,
  Page,
  RegisteredModel,
  Run,
  RunInfo,
  RunStatus,
  SearchOptions,
  UpdateRunOptions,
  ViewType
} from './types';
import {
  LIMITS,
  checkAlias,
  checkBatch,
  checkExperimentName,
  checkMaxResults,
  checkMetric,
  checkModelName,
  checkTag
} from './validation';

export const DEFAULT_EXPERIMENT_ID = '0';
const RUN_NAME_TAG = 'mlflow.runName';

interface ExperimentRow {
  experiment_id: number;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: number;
  last_update_time: number;
}

interface RunRow {
  run_uuid: string;
  name: string;
  experiment_id: number;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

interface MetricRow {
  key: string;
  value: number;
  is_nan: number;
  timestamp: number;
  step: number;
}

interface ModelVersionRow {
  name: string;
  version: number;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id: string | null;
  current_stage: ModelStage;
  description: string | null;
  source: string;
  run_id: string | null;
  run_link: string | null;
}

interface RegisteredModelRow {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string | null;
}

const RUN_SCHEMA: SearchSchema = {
  what: 'runs',
  attributes: {
    run_id: { column: 'r.run_uuid', type: 'string' },
    run_name: { column: 'r.name', type: 'string' },
    status: { column: 'r.status', type: 'string' },
    user_id: { column: 'r.user_id', type: 'string' },
    artifact_uri: { column: 'r.artifact_uri', type: 'string' },
    lifecycle_stage: { column: 'r.lifecycle_stage', type: 'string' },
    start_time: { column: 'r.start_time', type: 'number' },
    created: { column: 'r.start_time', type: 'number' },
    Created: { column: 'r.start_time', type: 'number' },
    end_time: { column: 'r.end_time', type: 'number' }
  },
  keyed: {
    metric: 'latest_metrics k WHERE k.run_uuid = r.run_uuid',
    param: 'params k WHERE k.run_uuid = r.run_uuid',
    tag: 'tags k WHERE k.run_uuid = r.run_uuid'
  },
  dataset: 'run_inputs d WHERE d.run_uuid = r.run_uuid'
};

const EXPERIMENT_SCHEMA: SearchSchema = {
  what: 'experiments',
  attributes: {
    experiment_id: { column: 'e.experiment_id', type: 'number' },
    name: { column: 'e.name', type: 'string' },
    creation_time: { column: 'e.creation_time', type: 'number' },
    last_update_time: { column: 'e.last_update_time', type: 'number' }
  },
  keyed: { tag: 'experiment_tags k WHERE k.experiment_id = e.experiment_id' }
};

const MODEL_SCHEMA: SearchSchema = {
  what: 'registered models',
  attributes: {
    name: { column: 'm.name', type: 'string' },
    creation_timestamp: { column: 'm.creation_timestamp', type: 'number' },
    last_updated_timestamp: { column: 'm.last_updated_timestamp', type: 'number' }
  },
  keyed: { tag: 'registered_model_tags k WHERE k.name = m.name' }
};

const VERSION_SCHEMA: SearchSchema = {
  what: 'model versions',
  attributes: {
    name: { column: 'v.name', type: 'string' },
    run_id: { column: 'v.run_id', type: 'string' },
    source_path: { column: 'v.source', type: 'string' },
    version_number: { column: 'v.version', type: 'number' },
    current_stage: { column: 'v.current_stage', type: 'string' },
    creation_timestamp: { column: 'v.creation_timestamp', type: 'number' },
    last_updated_timestamp: { column: 'v.last_updated_timestamp', type: 'number' }
  },
  keyed: { tag: 'model_version_tags k WHERE k.name = v.name AND k.version = v.version' }
};

const VIEW_STAGES: Record<ViewType, LifecycleStage[]> = {
  ACTIVE_ONLY: ['active'],
  DELETED_ONLY: ['deleted'],
  ALL: ['active', 'deleted']
};

const ADJECTIVES = [
  'amber',
  'bold',
  'brisk',
  'calm',
  'clever',
  'eager',
  'gentle',
  'keen',
  'lucid',
  'merry',
  'quiet',
  'swift'
];
const ANIMALS = [
  'bat',
  'crane',
  'doe',
  'finch',
  'fox',
  'hare',
  'lynx',
  'mole',
  'owl',
  'seal',
  'wren',
  'yak'
];

function randomRunName(): string {
  const [a, b, n] = randomBytes(3);
  return `${ADJECTIVES[a % ADJECTIVES.length]}-${ANIMALS[b % ANIMALS.length]}-${n}`;
}

function toMetric(row: MetricRow): Metric {
  return {
    key: row.key,
    value: row.is_nan ? NaN : row.value,
    timestamp: row.timestamp,
    step: row.step
  };
}

export interface SqliteStoreOptions {
  /** Where new experiments put artifacts; `mlflow-artifacts:` (served by our server) by default. */
  defaultArtifactRoot?: string;
}

export class SqliteStore implements TrackingStore, ModelRegistryStore {
  readonly db: Database.Database;
  private readonly artifactRoot: string;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly path: string,
    options: SqliteStoreOptions = {}
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
    } catch (error) {
      this.db.close();
      throw new StoreOpenError(path, (error as Error).message);
    }
    // NORMAL in WAL mode: a commit survives a killed process; only an OS crash may lose the last few.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.function(
      'mlflow_like',
      { deterministic: true },
      (value: unknown, pattern: unknown, ci: unknown) =>
        typeof value === 'string' &&
        typeof pattern === 'string' &&
        likeToRegExp(pattern, ci === 1).test(value)
          ? 1
          : 0
    );
    this.db.exec(SCHEMA);
    this.artifactRoot = (options.defaultArtifactRoot ?? 'mlflow-artifacts:').replace(/\/+$/, '');
    const now = Date.now();
    this.sql(
      `INSERT OR IGNORE INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time)
       VALUES (0, 'Default', ?, ?, ?)`
    ).run(`${this.artifactRoot}/0`, now, now);
  }

  close(): void {
    this.db.close();
  }

  /** Prepared statements are cached by their text: preparing is the costly part of a small query. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      // Search statements vary with the filter's shape; keep the cache bounded.
      if (this.statements.size >= 1000) this.statements.clear();
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  // ---- Experiments ----

  private experimentRow(experimentId: string): ExperimentRow {
    const row = /^\d+$/.test(experimentId)
      ? (this.sql('SELECT * FROM experiments WHERE experiment_id = ?').get(Number(experimentId)) as
          ExperimentRow | undefined)
      : undefined;
    if (!row) throw new NotFoundError(`No Experiment with id=${experimentId} exists`);
    return row;
  }

  private toExperiment(row: ExperimentRow): Experiment {
    const tags = this.sql(
      'SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key'
    ).all(row.experiment_id) as KeyValue[];
    return { ...row, experiment_id: String(row.experiment_id), tags };
  }

  private activeExperiment(experimentId: string): ExperimentRow {
    const row = this.experimentRow(experimentId);
    if (row.lifecycle_stage !== 'active') {
      throw new InvalidStateError(
        `The experiment ${experimentId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`
      );
    }
    return row;
  }

  async createExperiment(
    name: string,
    artifactLocation?: string,
    tags: KeyValue[] = []
  ): Promise<string> {
    checkExperimentName(name);
    tags.forEach(checkTag);
    return this.db.transaction(() => {
      const existing = this.sql('SELECT lifecycle_stage FROM experiments WHERE name = ?').get(
        name
      ) as { lifecycle_stage: string } | undefined;
      if (existing) {
        throw new AlreadyExistsError(
          existing.lifecycle_stage === 'deleted'
            ? `Experiment '${name}' already exists in deleted state. You can restore the experiment, or permanently delete it before creating a new one with the same name.`
            : `Experiment '${name}' already exists.`
        );
      }
      const now = Date.now();
      const id = Number(
        this.sql(
          `INSERT INTO experiments (name, artifact_location, creation_time, last_update_time) VALUES (?, '', ?, ?)`
        ).run(name, now, now).lastInsertRowid
      );
      this.sql('UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?').run(
        artifactLocation || `${this.artifactRoot}/${id}`,
        id
      );
      for (const tag of tags) {
        this.sql('INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)').run(
          id,
          tag.key,
          tag.value
        );
      }
      return String(id);
    })();
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    return this.toExperiment(this.experimentRow(experimentId));
  }

  async getExperimentByName(name: string): Promise<Experiment> {
    const row = this.sql('SELECT * FROM experiments WHERE name = ?').get(name) as
      ExperimentRow | undefined;
    if (!row) throw new NotFoundError(`Could not find experiment with name '${name}'`);
    return this.toExperiment(row);
  }

  async searchExperiments(options: SearchOptions = {}): Promise<Page<Experiment>> {
    const rows = this.search<ExperimentRow>('experiments e', EXPERIMENT_SCHEMA, options, {
      stageColumn: 'e.lifecycle_stage',
      tiebreak: 'e.creation_time DESC, e.experiment_id ASC',
      defaultMax: LIMITS.searchDefaultResults,
      maxLimit: LIMITS.searchMaxResults
    });
    return { items: rows.items.map(r => this.toExperiment(r)), nextPageToken: rows.nextPageToken };
  }

  async renameExperiment(experimentId: string, newName: string): Promise<void> {
    checkExperimentName(newName);
    this.activeExperiment(experimentId);
    const taken = this.sql('SELECT experiment_id FROM experiments WHERE name = ?').get(newName) as
      { experiment_id: number } | undefined;
    if (taken && String(taken.experiment_id) !== experimentId) {
      throw new AlreadyExistsError(`Experiment '${newName}' already exists.`);
    }
    this.sql('UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?').run(
      newName,
      Date.now(),
      Number(experimentId)
    );
  }

  async deleteExperiment(experimentId: string): Promise<void> {
    if (experimentId === DEFAULT_EXPERIMENT_ID) {
      throw new InvalidParameterError(
        'Cannot delete the default experiment (id 0): every run without an experiment lands there.'
      );
    }
    this.activeExperiment(experimentId);
    this.setExperimentStage(experimentId, 'deleted');
  }

  async restoreExperiment(experimentId: string): Promise<void> {
    const row = this.experimentRow(experimentId);
    if (row.lifecycle_stage !== 'deleted') {
      throw new InvalidStateError(`Cannot restore experiment ${experimentId}: it is not deleted.`);
    }
    this.setExperimentStage(experimentId, 'active');
  }

  private setExperimentStage(experimentId: string, stage: LifecycleStage): void {
    const now = Date.now();
    this.db.transaction(() => {
      this.sql(
        'UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?'
      ).run(stage, now, Number(experimentId));
      this.sql('UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?').run(
        stage,
        stage === 'deleted' ? now : null,
        Number(experimentId)
      );
    })();
  }

  async setExperimentTag(experimentId: string, key: string, value: string): Promise<void> {
    checkTag({ key, value });
    this.activeExperiment(experimentId);
    this.sql('INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)').run(
      Number(experimentId),
      key,
      value
    );
  }

  async deleteExperimentTag(experimentId: string, key: string): Promise<void> {
    this.activeExperiment(experimentId);
    const { changes } = this.sql(
      'DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?'
    ).run(Number(experimentId), key);
    if (changes === 0)
      throw new NotFoundError(`No tag with name: ${key} in experiment ${experimentId}.`);
  }

  /**
   * Deletes an experiment for good, with its runs, metrics, params, tags and inputs (the artifacts on
   * disk are the caller's: see `wipeExperiment`). The default experiment is emptied, not removed.
   */
  purgeExperiment(experimentId: string): { runs: number } {
    this.experimentRow(experimentId);
    return this.db.transaction(() => {
      const { changes } = this.sql('DELETE FROM runs WHERE experiment_id = ?').run(
        Number(experimentId)
      );
      if (experimentId !== DEFAULT_EXPERIMENT_ID) {
        this.sql('DELETE FROM experiments WHERE experiment_id = ?').run(Number(experimentId));
      }
      return { runs: changes };
    })();
  }

  // ---- Runs ----

  private runRow(runId: string): RunRow {
    const row = this.sql('SELECT * FROM runs WHERE run_uuid = ?').get(runId) as RunRow | undefined;
    if (!row) throw new NotFoundError(`Run with id=${runId} not found`);
    return row;
  }

  private activeRun(runId: string): RunRow {
    const row = this.runRow(runId);
    if (row.lifecycle_stage !== 'active') {
      throw new InvalidParameterError(
        `The run ${runId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`
      );
    }
    return row;
  }

  private toInfo(row: RunRow): RunInfo {
    const info: RunInfo = {
      run_id: row.run_uuid,
      run_uuid: row.run_uuid,
      run_name: row.name,
      experiment_id: String(row.experiment_id),
      user_id: row.user_id,
      status: row.status,
      start_time: row.start_time,
      artifact_uri: row.artifact_uri,
      lifecycle_stage: row.lifecycle_stage
    };
    if (row.end_time !== null) info.end_time = row.end_time;
    return info;
  }

  private toRun(row: RunRow): Run {
    const id = row.run_uuid;
    const metrics = (
      this.sql(
        'SELECT key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_uuid = ? ORDER BY key'
      ).all(id) as MetricRow[]
    ).map(toMetric);
    const params = this.sql('SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key').all(
      id
    ) as KeyValue[];
    const tags = this.sql('SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key').all(
      id
    ) as KeyValue[];
    const inputs = (
      this.sql('SELECT dataset, tags FROM run_inputs WHERE run_uuid = ?').all(id) as {
        dataset: string;
        tags: string;
      }[]
    ).map(r => ({
      tags: JSON.parse(r.tags) as KeyValue[],
      dataset: JSON.parse(r.dataset) as DatasetInput['dataset']
    }));
    return {
      info: this.toInfo(row),
      data: { metrics, params, tags },
      inputs: { dataset_inputs: inputs }
    };
  }

  async createRun(experimentId: string, options: CreateRunOptions = {}): Promise<Run> {
    const tags = options.tags ?? [];
    tags.forEach(checkTag);
    const experiment = this.activeExperiment(experimentId);
    const nameTag = tags.find(t => t.key === RUN_NAME_TAG)?.value;
    if (options.runName && nameTag !== undefined && nameTag !== options.runName) {
      throw new InvalidParameterError(
        `Both 'run_name' ('${options.runName}') and the '${RUN_NAME_TAG}' tag ('${nameTag}') are set and differ. Set only one, or the same value.`
      );
    }
    const runName = options.runName || nameTag || randomRunName();
    const runId = options.runId ?? randomUUID().replace(/-/g, '');
    const row: RunRow = {
      run_uuid: runId,
      name: runName,
      experiment_id: experiment.experiment_id,
      user_id: options.userId ?? '',
      status: 'RUNNING',
      start_time: options.startTime ?? Date.now(),
      end_time: null,
      artifact_uri: `${experiment.artifact_location}/${runId}/artifacts`,
      lifecycle_stage: 'active'
    };
    this.db.transaction(() => {
      this.sql(
        `INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage)
         VALUES (@run_uuid, @name, @experiment_id, @user_id, @status, @start_time, @end_time, @artifact_uri, @lifecycle_stage)`
      ).run(row);
      const setTag = this.sql('INSERT OR REPLACE INTO tags VALUES (?, ?, ?)');
      for (const tag of tags) setTag.run(runId, tag.key, tag.value);
      setTag.run(runId, RUN_NAME_TAG, runName);
    })();
    return this.toRun(row);
  }

  async getRun(runId: string): Promise<Run> {
    return this.toRun(this.runRow(runId));
  }

  async updateRun(runId: string, options: UpdateRunOptions): Promise<RunInfo> {
    const row = this.activeRun(runId);
    const next: RunRow = {
      ...row,
      status: options.status ?? row.status,
      end_time: options.endTime ?? row.end_time,
      name: options.runName || row.name
    };
    this.db.transaction(() => {
      this.sql('UPDATE runs SET status = ?, end_time = ?, name = ? WHERE run_uuid = ?').run(
        next.status,
        next.end_time,
        next.name,
        runId
      );
      if (options.runName)
        this.sql('INSERT OR REPLACE INTO tags VALUES (?, ?, ?)').run(
          runId,
          RUN_NAME_TAG,
          options.runName
        );
    })();
    return this.toInfo(next);
  }

  async deleteRun(runId: string): Promise<void> {
    this.runRow(runId);
    this.sql(
      `UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?`
    ).run(Date.now(), runId);
  }

  async restoreRun(runId: string): Promise<void> {
    this.runRow(runId);
    this.sql(
      `UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?`
    ).run(runId);
  }

  async searchRuns(experimentIds: string[], options: SearchOptions = {}): Promise<Page<Run>> {
    if (experimentIds.length > LIMITS.searchExperimentIds) {
      throw new InvalidParameterError(
        `A run search can span at most ${LIMITS.searchExperimentIds} experiments; got ${experimentIds.length}. Search fewer at a time.`
      );
    }
    const ids = experimentIds.filter(id => /^\d+$/.test(id)).map(Number);
    if (ids.length === 0) return { items: [] };
    const rows = this.search<RunRow>('runs r', RUN_SCHEMA, options, {
      stageColumn: 'r.lifecycle_stage',
      tiebreak: 'r.start_time DESC, r.run_uuid ASC',
      defaultMax: LIMITS.searchDefaultResults,
      maxLimit: LIMITS.searchMaxResults,
      where: { sql: `r.experiment_id IN (${ids.map(() => '?').join(', ')})`, args: ids }
    });
    return { items: rows.items.map(r => this.toRun(r)), nextPageToken: rows.nextPageToken };
  }

  /** The one search routine behind runs, experiments, models and versions. */
  private search<Row>(
    from: string,
    schema: SearchSchema,
    options: SearchOptions,
    how: {
      stageColumn?: string;
      tiebreak: string;
      defaultMax: number;
      maxLimit: number;
      where?: { sql: string; args: (string | number)[] };
    }
  ): Page<Row> {
    const max = checkMaxResults(options.maxResults, how.defaultMax, how.maxLimit);
    const offset = decodePageToken(options.pageToken);
    const filter = compileFilter(parseFilter(options.filter), schema, options.filter ?? '');
    const order = compileOrderBy(
      parseOrderBy(options.orderBy),
      schema,
      (options.orderBy ?? []).join(', ')
    );
    const where = [filter.sql];
    const args: (string | number)[] = [...filter.args];
    if (how.where) {
      where.push(how.where.sql);
      args.push(...how.where.args);
    }
    if (how.stageColumn) {
      const stages = VIEW_STAGES[options.viewType ?? 'ACTIVE_ONLY'];
      where.push(`${how.stageColumn} IN (${stages.map(() => '?').join(', ')})`);
      args.push(...stages);
    }
    const orderSql = [order.sql, how.tiebreak].filter(Boolean).join(', ');
    const alias = from.split(' ')[1]; // 'runs r' -> 'r'
    const rows = this.sql(
      `SELECT ${alias}.* FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${orderSql} LIMIT ? OFFSET ?`
    ).all(...args, ...order.args, max + 1, offset) as Row[];
    const more = rows.length > max;
    return {
      items: rows.slice(0, max),
      nextPageToken: more ? encodePageToken(offset + max) : undefined
    };
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    this.logBatchNow(runId, [], [], [{ key, value }]);
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    this.activeRun(runId);
    const { changes } = this.sql('DELETE FROM tags WHERE run_uuid = ? AND key = ?').run(runId, key);
    if (changes === 0) throw new NotFoundError(`No tag with name: ${key} in run with id ${runId}`);
  }

  async logMetric(runId: string, metric: Metric): Promise<void> {
    checkMetric(metric);
    this.logBatchNow(runId, [metric], [], []);
  }

  async logParam(runId: string, key: string, value: string): Promise<void> {
    this.logBatchNow(runId, [], [{ key, value }], []);
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    this.logBatchNow(runId, batch.metrics ?? [], batch.params ?? [], batch.tags ?? []);
  }

  /** Every logging call ends here: one transaction, so a batch lands whole or not at all. */
  private logBatchNow(
    runId: string,
    metrics: Metric[],
    params: KeyValue[],
    tags: KeyValue[]
  ): void {
    checkBatch(metrics, params, tags);
    this.db.transaction(() => {
      this.activeRun(runId);
      const insertParam = this.sql('INSERT INTO params VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
      const existingParam = this.sql('SELECT value FROM params WHERE run_uuid = ? AND key = ?');
      for (const p of params) {
        if (insertParam.run(runId, p.key, p.value).changes === 0) {
          const old = (existingParam.get(runId, p.key) as { value: string }).value;
          if (old !== p.value) {
            throw new InvalidParameterError(
              `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`
            );
          }
        }
      }
      const setTag = this.sql('INSERT OR REPLACE INTO tags VALUES (?, ?, ?)');
      for (const t of tags) {
        setTag.run(runId, t.key, t.value);
        if (t.key === RUN_NAME_TAG)
          this.sql('UPDATE runs SET name = ? WHERE run_uuid = ?').run(t.value, runId);
      }
      const insertMetric = this.sql('INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)');
      // The latest value is the one with the highest (step, timestamp, value), as in MLflow.
      const upsertLatest = this.sql(
        `INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_uuid, key) DO UPDATE SET
           value = excluded.value, is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step
         WHERE (excluded.step, excluded.timestamp, excluded.value) >= (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)`
      );
      for (const m of metrics) {
        const nan = Number.isNaN(m.value) ? 1 : 0;
        const value = nan ? 0 : m.value;
        insertMetric.run(runId, m.key, value, nan, m.timestamp, m.step);
        upsertLatest.run(runId, m.key, value, nan, m.timestamp, m.step);
      }
    })();
  }

  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    this.db.transaction(() => {
      this.activeRun(runId);
      for (const input of datasets) {
        input.tags.forEach(checkTag);
        const context = input.tags.find(t => t.key === 'mlflow.data.context')?.value ?? null;
        this.sql('INSERT OR REPLACE INTO run_inputs VALUES (?, ?, ?, ?, ?, ?)').run(
          runId,
          input.dataset.name,
          input.dataset.digest,
          context,
          JSON.stringify(input.dataset),
          JSON.stringify(input.tags)
        );
      }
    })();
  }

  async getMetricHistory(
    runId: string,
    key: string,
    options: { maxResults?: number; pageToken?: string } = {}
  ): Promise<Page<Metric>> {
    this.runRow(runId);
    const offset = decodePageToken(options.pageToken);
    const max = options.maxResults ?? -1;
    if (max !== -1) checkMaxResults(max, max, 1_000_000);
    const rows = this.sql(
      'SELECT key, value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp, rowid LIMIT ? OFFSET ?'
    ).all(runId, key, max === -1 ? -1 : max + 1, offset) as MetricRow[];
    const more = max !== -1 && rows.length > max;
    return {
      items: (more ? rows.slice(0, max) : rows).map(toMetric),
      nextPageToken: more ? encodePageToken(offset + max) : undefined
    };
  }

  // ---- Model registry ----

  private modelRow(name: string): RegisteredModelRow {
    const row = this.sql('SELECT * FROM registered_models WHERE name = ?').get(name) as
      RegisteredModelRow | undefined;
    if (!row) throw new NotFoundError(`Registered Model with name=${name} not found`);
    return row;
  }

  private versionRow(name: string, version: string): ModelVersionRow {
    this.modelRow(name);
    const row = /^\d+$/.test(version)
      ? (this.sql('SELECT * FROM model_versions WHERE name = ? AND version = ?').get(
          name,
          Number(version)
        ) as ModelVersionRow | undefined)
      : undefined;
    if (!row) throw new NotFoundError(`Model Version (name=${name}, version=${version}) not found`);
    return row;
  }

  private toVersion(row: ModelVersionRow): ModelVersion {
    const tags = this.sql(
      'SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key'
    ).all(row.name, row.version) as KeyValue[];
    const aliases = (
      this.sql(
        'SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias'
      ).all(row.name, row.version) as { alias: string }[]
    ).map(a => a.alias);
    const version: ModelVersion = {
      name: row.name,
      version: String(row.version),
      creation_timestamp: row.creation_timestamp,
      last_updated_timestamp: row.last_updated_timestamp,
      current_stage: row.current_stage,
      source: row.source,
      status: 'READY',
      tags,
      aliases
    };
    if (row.user_id) version.user_id = row.user_id;
    if (row.description) version.description = row.description;
    if (row.run_id) version.run_id = row.run_id;
    if (row.run_link) version.run_link = row.run_link;
    return version;
  }

  private latestVersions(name: string, stages?: string[]): ModelVersion[] {
    const rows = this.sql(
      `SELECT * FROM model_versions v WHERE name = ? AND version = (
         SELECT MAX(version) FROM model_versions w WHERE w.name = v.name AND w.current_stage = v.current_stage)
       ORDER BY version`
    ).all(name) as ModelVersionRow[];
    const wanted = stages?.length ? stages.map(s => s.toLowerCase()) : undefined;
    return rows
      .filter(r => !wanted || wanted.includes(r.current_stage.toLowerCase()))
      .map(r => this.toVersion(r));
  }

  private toModel(row: RegisteredModelRow): RegisteredModel {
    const tags = this.sql(
      'SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key'
    ).all(row.name) as KeyValue[];
    const aliases = (
      this.sql(
        'SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias'
      ).all(row.name) as { alias: string; version: number }[]
    ).map(a => ({ alias: a.alias, version: String(a.version) }));
    const model: RegisteredModel = {
      name: row.name,
      creation_timestamp: row.creation_timestamp,
      last_updated_timestamp: row.last_updated_timestamp,
      latest_versions: this.latestVersions(row.name),
      tags,
      aliases
    };
    if (row.description) model.description = row.description;
    return model;
  }

  private touchModel(name: string, now = Date.now()): void {
    this.sql('UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?').run(
      now,
      name
    );
  }

  async createRegisteredModel(
    name: string,
    options: { tags?: KeyValue[]; description?: string } = {}
  ): Promise<RegisteredModel> {
    checkModelName(name);
    (options.tags ?? []).forEach(checkTag);
    const now = Date.now();
    this.db.transaction(() => {
      if (this.sql('SELECT 1 FROM registered_models WHERE name = ?').get(name)) {
        throw new AlreadyExistsError(`Registered Model (name=${name}) already exists.`);
      }
      this.sql('INSERT INTO registered_models VALUES (?, ?, ?, ?)').run(
        name,
        now,
        now,
        options.description ?? null
      );
      for (const tag of options.tags ?? []) {
        this.sql('INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)').run(
          name,
          tag.key,
          tag.value
        );
      }
    })();
    return this.toModel(this.modelRow(name));
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return this.toModel(this.modelRow(name));
  }

  async renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel> {
    checkModelName(newName);
    this.modelRow(name);
    if (
      name !== newName &&
      this.sql('SELECT 1 FROM registered_models WHERE name = ?').get(newName)
    ) {
      throw new AlreadyExistsError(`Registered Model (name=${newName}) already exists.`);
    }
    this.sql(
      'UPDATE registered_models SET name = ?, last_updated_timestamp = ? WHERE name = ?'
    ).run(newName, Date.now(), name);
    return this.toModel(this.modelRow(newName));
  }

  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    this.modelRow(name);
    this.sql(
      'UPDATE registered_models SET description = ?, last_updated_timestamp = ? WHERE name = ?'
    ).run(description, Date.now(), name);
    return this.toModel(this.modelRow(name));
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    this.modelRow(name);
    this.sql('DELETE FROM registered_models WHERE name = ?').run(name);
  }

  async searchRegisteredModels(options: SearchOptions = {}): Promise<Page<RegisteredModel>> {
    const rows = this.search<RegisteredModelRow>('registered_models m', MODEL_SCHEMA, options, {
      tiebreak: 'm.name ASC',
      defaultMax: LIMITS.registrySearchDefaultResults,
      maxLimit: LIMITS.registrySearchMaxResults
    });
    return { items: rows.items.map(r => this.toModel(r)), nextPageToken: rows.nextPageToken };
  }

  async getLatestVersions(name: string, stages?: string[]): Promise<ModelVersion[]> {
    this.modelRow(name);
    return this.latestVersions(name, stages);
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    checkTag({ key, value });
    this.modelRow(name);
    this.sql('INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)').run(name, key, value);
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    this.modelRow(name);
    this.sql('DELETE FROM registered_model_tags WHERE name = ? AND key = ?').run(name, key);
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    checkAlias(alias);
    this.versionRow(name, version);
    this.sql('INSERT OR REPLACE INTO registered_model_aliases VALUES (?, ?, ?)').run(
      name,
      alias,
      Number(version)
    );
    this.touchModel(name);
  }

  async deleteRegisteredModelAlias(name: string, alias: string): Promise<void> {
    this.modelRow(name);
    this.sql('DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?').run(name, alias);
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    this.modelRow(name);
    const row = this.sql(
      'SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?'
    ).get(name, alias) as { version: number } | undefined;
    if (!row) throw new NotFoundError(`Registered model alias ${alias} not found.`);
    return this.toVersion(this.versionRow(name, String(row.version)));
  }

  async createModelVersion(
    name: string,
    source: string,
    options: CreateModelVersionOptions = {}
  ): Promise<ModelVersion> {
    if (typeof source !== 'string' || source === '') {
      throw new InvalidParameterError(
        `Model version source cannot be empty: pass the URI of the model's artifacts (e.g. runs:/<run_id>/model).`
      );
    }
    (options.tags ?? []).forEach(checkTag);
    const now = Date.now();
    const version = this.db.transaction(() => {
      this.modelRow(name);
      if (options.runId) this.runRow(options.runId);
      const { next } = this.sql(
        'SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions WHERE name = ?'
      ).get(name) as { next: number };
      this.sql(
        `INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, current_stage, description, source, run_id, run_link)
         VALUES (?, ?, ?, ?, 'None', ?, ?, ?, ?)`
      ).run(
        name,
        next,
        now,
        now,
        options.description ?? null,
        source,
        options.runId ?? null,
        options.runLink ?? null
      );
      for (const tag of options.tags ?? []) {
        this.sql('INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)').run(
          name,
          next,
          tag.key,
          tag.value
        );
      }
      this.touchModel(name, now);
      return next;
    })();
    return this.toVersion(this.versionRow(name, String(version)));
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return this.toVersion(this.versionRow(name, version));
  }

  async updateModelVersion(
    name: string,
    version: string,
    description: string
  ): Promise<ModelVersion> {
    this.versionRow(name, version);
    this.sql(
      'UPDATE model_versions SET description = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?'
    ).run(description, Date.now(), name, Number(version));
    return this.toVersion(this.versionRow(name, version));
  }

  async deleteModelVersion(name: string, version: string): Promise<void> {
    this.versionRow(name, version);
    this.sql('DELETE FROM model_versions WHERE name = ? AND version = ?').run(
      name,
      Number(version)
    );
    this.touchModel(name);
  }

  async searchModelVersions(options: SearchOptions = {}): Promise<Page<ModelVersion>> {
    const rows = this.search<ModelVersionRow>('model_versions v', VERSION_SCHEMA, options, {
      tiebreak: 'v.name ASC, v.version DESC',
      defaultMax: LIMITS.registrySearchDefaultResults * 100,
      maxLimit: LIMITS.searchMaxResults
    });
    return { items: rows.items.map(r => this.toVersion(r)), nextPageToken: rows.nextPageToken };
  }

  async transitionModelVersionStage(
    name: string,
    version: string,
    stage: ModelStage,
    archiveExistingVersions: boolean
  ): Promise<ModelVersion> {
    this.versionRow(name, version);
    const now = Date.now();
    this.db.transaction(() => {
      if (archiveExistingVersions && (stage === 'Staging' || stage === 'Production')) {
        this.sql(
          `UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = ? WHERE name = ? AND current_stage = ? AND version != ?`
        ).run(now, name, stage, Number(version));
      }
      this.sql(
        'UPDATE model_versions SET current_stage = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?'
      ).run(stage, now, name, Number(version));
      this.touchModel(name, now);
    })();
    return this.toVersion(this.versionRow(name, version));
  }

  async setModelVersionTag(
    name: string,
    version: string,
    key: string,
    value: string
  ): Promise<void> {
    checkTag({ key, value });
    this.versionRow(name, version);
    this.sql('INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)').run(
      name,
      Number(version),
      key,
      value
    );
  }

  async deleteModelVersionTag(name: string, version: string, key: string): Promise<void> {
    this.versionRow(name, version);
    this.sql('DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?').run(
      name,
      Number(version),
      key
    );
  }

  async getModelVersionDownloadUri(name: string, version: string): Promise<string> {
    const { source, run_id } = this.versionRow(name, version);
    const match = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
    if (!match) return source;
    const run = this.runRow(match[1] || run_id || '');
    return match[2] ? `${run.artifact_uri}/${match[2]}` : run.artifact_uri;
  }
}
