/**
 * The REST store: our TypeScript client for MLflow's REST API. It talks to our server or to a real
 * MLflow server alike, and normalizes what real MLflow leaves out (empty lists are omitted in
 * protobuf JSON) so callers always get complete entities.
 *
 *   const client = new RestStore('http://127.0.0.1:5000');
 *   const run = await client.createRun('0', { runName: 'train' });
 *   await client.logBatch(run.info.run_id, { metrics: [{ key: 'loss', value: 0.1, step: 1, timestamp: Date.now() }] });
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { errorFromResponse, InvalidParameterError, RemoteTrackerError } from './errors';
import type { ModelRegistryStore, TrackingStore } from './store';
import type {
  ArtifactFile,
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

type Json = Record<string, unknown>;

export interface RestStoreOptions {
  /** Sent as `Authorization: Bearer <token>`; default MLFLOW_TRACKING_TOKEN from the environment. */
  token?: string;
  /** Per-request timeout in milliseconds (default 60 s). */
  timeoutMs?: number;
}

const API = '/api/2.0/mlflow/';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return Number(value);
}

function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function keyValues(value: unknown): KeyValue[] {
  return list<Json>(value).map(kv => ({
    key: String(kv.key),
    value: kv.value === undefined ? '' : String(kv.value)
  }));
}

function metric(value: Json): Metric {
  return {
    key: String(value.key),
    value: toNumber(value.value),
    timestamp: toNumber(value.timestamp ?? 0),
    step: toNumber(value.step ?? 0)
  };
}

function experiment(value: Json): Experiment {
  return {
    experiment_id: String(value.experiment_id),
    name: String(value.name),
    artifact_location: String(value.artifact_location ?? ''),
    lifecycle_stage: (value.lifecycle_stage as Experiment['lifecycle_stage']) ?? 'active',
    creation_time: toNumber(value.creation_time ?? 0),
    last_update_time: toNumber(value.last_update_time ?? 0),
    tags: keyValues(value.tags)
  };
}

function runInfo(value: Json): RunInfo {
  const info: RunInfo = {
    run_id: String(value.run_id ?? value.run_uuid),
    run_uuid: String(value.run_uuid ?? value.run_id),
    run_name: String(value.run_name ?? ''),
    experiment_id: String(value.experiment_id),
    user_id: String(value.user_id ?? ''),
    status: (value.status as RunInfo['status']) ?? 'RUNNING',
    start_time: toNumber(value.start_time ?? 0),
    artifact_uri: String(value.artifact_uri ?? ''),
    lifecycle_stage: (value.lifecycle_stage as RunInfo['lifecycle_stage']) ?? 'active'
  };
  if (value.end_time !== undefined && value.end_time !== null)
    info.end_time = toNumber(value.end_time);
  return info;
}

function run(value: Json): Run {
  const data = (value.data ?? {}) as Json;
  const inputs = (value.inputs ?? {}) as Json;
  return {
    info: runInfo(value.info as Json),
    data: {
      metrics: list<Json>(data.metrics).map(metric),
      params: keyValues(data.params),
      tags: keyValues(data.tags)
    },
    inputs: { dataset_inputs: list<DatasetInput>(inputs.dataset_inputs) }
  };
}

function modelVersion(value: Json): ModelVersion {
  return {
    ...(value as unknown as ModelVersion),
    version: String(value.version),
    creation_timestamp: toNumber(value.creation_timestamp ?? 0),
    last_updated_timestamp: toNumber(value.last_updated_timestamp ?? 0),
    current_stage: (value.current_stage as ModelStage) ?? 'None',
    status: 'READY',
    tags: keyValues(value.tags),
    aliases: list<string>(value.aliases)
  };
}

function registeredModel(value: Json): RegisteredModel {
  return {
    ...(value as unknown as RegisteredModel),
    creation_timestamp: toNumber(value.creation_timestamp ?? 0),
    last_updated_timestamp: toNumber(value.last_updated_timestamp ?? 0),
    latest_versions: list<Json>(value.latest_versions).map(modelVersion),
    tags: keyValues(value.tags),
    aliases: list<Json>(value.aliases).map(a => ({
      alias: String(a.alias),
      version: String(a.version)
    }))
  };
}

function page<T>(items: T[], token: unknown): Page<T> {
  return typeof token === 'string' && token !== '' ? { items, nextPageToken: token } : { items };
}

function searchBody(options: SearchOptions): Json {
  return {
    filter: options.filter,
    order_by: options.orderBy?.length ? options.orderBy : undefined,
    max_results: options.maxResults,
    page_token: options.pageToken
  };
}

/** Numbers JSON cannot write go as protobuf's strings, which MLflow servers parse. */
function encode(body: Json): string {
  return JSON.stringify(body, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value)
      ? Number.isNaN(value)
        ? 'NaN'
        : value > 0
          ? 'Infinity'
          : '-Infinity'
      : value
  );
}

export class RestStore implements TrackingStore, ModelRegistryStore {
  readonly url: URL;
  private readonly token?: string;
  private readonly timeoutMs: number;
  private readonly agent: HttpAgent;

  constructor(url: string, options: RestStoreOptions = {}) {
    try {
      this.url = new URL(url);
    } catch {
      throw new InvalidParameterError(
        `Invalid tracker URL '${url}': give an http(s) URL such as http://127.0.0.1:5000.`
      );
    }
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') {
      throw new InvalidParameterError(
        `Invalid tracker URL '${url}': only http and https are supported.`
      );
    }
    this.token = options.token ?? process.env.MLFLOW_TRACKING_TOKEN;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.agent =
      this.url.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true })
        : new HttpAgent({ keepAlive: true });
  }

  /** Closes idle keep-alive connections (call when done, so the process can exit promptly). */
  close(): void {
    this.agent.destroy();
  }

  /** One HTTP exchange; resolves with the status and the raw body. */
  private async exchange(
    method: string,
    path: string,
    body?: Buffer | string,
    contentType = 'application/json'
  ): Promise<{ status: number; body: Buffer }> {
    try {
      return await this.exchangeOnce(method, path, body, contentType);
    } catch (error) {
      // A kept-alive connection the server closed while idle fails before the server read the
      // request (Node marks such sockets as reused): sending it again on a new connection is safe.
      if ((error as { staleConnection?: boolean }).staleConnection) {
        return this.exchangeOnce(method, path, body, contentType);
      }
      throw error;
    }
  }

  private exchangeOnce(
    method: string,
    path: string,
    body: Buffer | string | undefined,
    contentType: string
  ): Promise<{ status: number; body: Buffer }> {
    const base = this.url.pathname.replace(/\/+$/, '');
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        {
          host: this.url.hostname,
          port: this.url.port,
          path: `${base}${path}`,
          method,
          headers,
          agent: this.agent,
          timeout: this.timeoutMs
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) })
          );
          response.on('error', reject);
        }
      );
      request.on('timeout', () =>
        request.destroy(
          new RemoteTrackerError(
            `${method} ${path} timed out after ${this.timeoutMs} ms`,
            'INTERNAL_ERROR',
            504
          )
        )
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (request.reusedSocket && error.code === 'ECONNRESET') {
          Object.assign(error, { staleConnection: true });
        }
        reject(error);
      });
      request.end(body);
    });
  }

  private async call(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    endpoint: string,
    fields: Json = {}
  ): Promise<Json> {
    let path = `${API}${endpoint}`;
    let body: string | undefined;
    if (method === 'GET') {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        for (const item of Array.isArray(value) ? value : [value]) query.append(key, String(item));
      }
      const text = query.toString();
      if (text) path += `?${text}`;
    } else {
      body = encode(fields);
    }
    const response = await this.exchange(method, path, body);
    const text = response.body.toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // not JSON: reported below with the text
    }
    if (response.status < 200 || response.status >= 300) {
      throw errorFromResponse(response.status, parsed, `${method} ${this.url.origin}${path}`);
    }
    return (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Json;
  }

  // ---- Experiments ----

  async createExperiment(
    name: string,
    artifactLocation?: string,
    tags: KeyValue[] = []
  ): Promise<string> {
    const answer = await this.call('POST', 'experiments/create', {
      name,
      artifact_location: artifactLocation,
      tags
    });
    return String(answer.experiment_id);
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    return experiment(
      (await this.call('GET', 'experiments/get', { experiment_id: experimentId }))
        .experiment as Json
    );
  }

  async getExperimentByName(name: string): Promise<Experiment> {
    return experiment(
      (await this.call('GET', 'experiments/get-by-name', { experiment_name: name }))
        .experiment as Json
    );
  }

  async searchExperiments(options: SearchOptions = {}): Promise<Page<Experiment>> {
    const answer = await this.call('POST', 'experiments/search', {
      ...searchBody(options),
      view_type: options.viewType
    });
    return page(list<Json>(answer.experiments).map(experiment), answer.next_page_token);
  }

  async renameExperiment(experimentId: string, newName: string): Promise<void> {
    await this.call('POST', 'experiments/update', {
      experiment_id: experimentId,
      new_name: newName
    });
  }

  async deleteExperiment(experimentId: string): Promise<void> {
    await this.call('POST', 'experiments/delete', { experiment_id: experimentId });
  }

  async restoreExperiment(experimentId: string): Promise<void> {
    await this.call('POST', 'experiments/restore', { experiment_id: experimentId });
  }

  async setExperimentTag(experimentId: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'experiments/set-experiment-tag', {
      experiment_id: experimentId,
      key,
      value
    });
  }

  async deleteExperimentTag(experimentId: string, key: string): Promise<void> {
    await this.call('POST', 'experiments/delete-experiment-tag', {
      experiment_id: experimentId,
      key
    });
  }

  // ---- Runs ----

  async createRun(experimentId: string, options: CreateRunOptions = {}): Promise<Run> {
    if (options.runId !== undefined) {
      throw new InvalidParameterError(
        `A REST tracker chooses its runs' ids itself; '${options.runId}' cannot be given. Create the run in an embedded store, or leave runId out.`
      );
    }
    const answer = await this.call('POST', 'runs/create', {
      experiment_id: experimentId,
      run_name: options.runName,
      user_id: options.userId,
      start_time: options.startTime ?? Date.now(),
      tags: options.tags ?? []
    });
    return run(answer.run as Json);
  }

  async getRun(runId: string): Promise<Run> {
    return run((await this.call('GET', 'runs/get', { run_id: runId })).run as Json);
  }

  async updateRun(runId: string, options: UpdateRunOptions): Promise<RunInfo> {
    const answer = await this.call('POST', 'runs/update', {
      run_id: runId,
      status: options.status,
      end_time: options.endTime,
      run_name: options.runName
    });
    return runInfo(answer.run_info as Json);
  }

  async deleteRun(runId: string): Promise<void> {
    await this.call('POST', 'runs/delete', { run_id: runId });
  }

  async restoreRun(runId: string): Promise<void> {
    await this.call('POST', 'runs/restore', { run_id: runId });
  }

  async searchRuns(experimentIds: string[], options: SearchOptions = {}): Promise<Page<Run>> {
    const answer = await this.call('POST', 'runs/search', {
      experiment_ids: experimentIds,
      ...searchBody(options),
      run_view_type: options.viewType
    });
    return page(list<Json>(answer.runs).map(run), answer.next_page_token);
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'runs/set-tag', { run_id: runId, key, value });
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    await this.call('POST', 'runs/delete-tag', { run_id: runId, key });
  }

  async logMetric(runId: string, m: Metric): Promise<void> {
    await this.call('POST', 'runs/log-metric', { run_id: runId, ...m });
  }

  async logParam(runId: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'runs/log-parameter', { run_id: runId, key, value });
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    await this.call('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: batch.metrics ?? [],
      params: batch.params ?? [],
      tags: batch.tags ?? []
    });
  }

  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.call('POST', 'runs/log-inputs', { run_id: runId, datasets });
  }

  async getMetricHistory(
    runId: string,
    key: string,
    options: { maxResults?: number; pageToken?: string } = {}
  ): Promise<Page<Metric>> {
    const answer = await this.call('GET', 'metrics/get-history', {
      run_id: runId,
      metric_key: key,
      max_results: options.maxResults,
      page_token: options.pageToken
    });
    return page(list<Json>(answer.metrics).map(metric), answer.next_page_token);
  }

  /** Every page of a metric's history. */
  async getFullMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const all: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const result = await this.getMetricHistory(runId, key, { maxResults: 25000, pageToken });
      all.push(...result.items);
      pageToken = result.nextPageToken;
    } while (pageToken);
    return all;
  }

  // ---- Artifacts (the mlflow-artifacts proxy) ----

  /** The proxy path of a run's artifact, from its `mlflow-artifacts:/...` artifact URI. */
  private artifactPath(artifactUri: string, path: string): string {
    const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
    if (!match) {
      throw new InvalidParameterError(
        `Artifact URI '${artifactUri}' is not served by the tracker (it is not mlflow-artifacts:/...): start the server with artifact proxying.`
      );
    }
    return [match[1].replace(/\/+$/, ''), path.replace(/^\/+/, '')].filter(Boolean).join('/');
  }

  private encodedPath(path: string): string {
    return path.split('/').map(encodeURIComponent).join('/');
  }

  async uploadArtifact(artifactUri: string, path: string, content: Buffer | string): Promise<void> {
    const full = this.artifactPath(artifactUri, path);
    const response = await this.exchange(
      'PUT',
      `${ARTIFACTS}/${this.encodedPath(full)}`,
      content,
      'application/octet-stream'
    );
    if (response.status !== 200) throw this.artifactError(response, full);
  }

  async downloadArtifact(artifactUri: string, path: string): Promise<Buffer> {
    const full = this.artifactPath(artifactUri, path);
    const response = await this.exchange('GET', `${ARTIFACTS}/${this.encodedPath(full)}`);
    if (response.status !== 200) throw this.artifactError(response, full);
    return response.body;
  }

  async listArtifacts(artifactUri: string, path = ''): Promise<ArtifactFile[]> {
    const full = this.artifactPath(artifactUri, path);
    const response = await this.exchange(
      'GET',
      `${ARTIFACTS}?${new URLSearchParams({ path: full })}`
    );
    if (response.status !== 200) throw this.artifactError(response, full);
    const answer = JSON.parse(response.body.toString('utf8') || '{}') as Json;
    return list<Json>(answer.files).map(f => {
      const file: ArtifactFile = { path: String(f.path), is_dir: Boolean(f.is_dir) };
      if (f.file_size !== undefined) file.file_size = toNumber(f.file_size);
      return file;
    });
  }

  async deleteArtifact(artifactUri: string, path: string): Promise<void> {
    const full = this.artifactPath(artifactUri, path);
    const response = await this.exchange('DELETE', `${ARTIFACTS}/${this.encodedPath(full)}`);
    if (response.status !== 200) throw this.artifactError(response, full);
  }

  private artifactError(response: { status: number; body: Buffer }, path: string): Error {
    let parsed: unknown = response.body.toString('utf8');
    try {
      parsed = JSON.parse(parsed as string);
    } catch {
      // keep the text
    }
    return errorFromResponse(response.status, parsed, `the artifact proxy (${path})`);
  }

  // ---- Model registry ----

  async createRegisteredModel(
    name: string,
    options: { tags?: KeyValue[]; description?: string } = {}
  ): Promise<RegisteredModel> {
    const answer = await this.call('POST', 'registered-models/create', {
      name,
      tags: options.tags ?? [],
      description: options.description
    });
    return registeredModel(answer.registered_model as Json);
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return registeredModel(
      (await this.call('GET', 'registered-models/get', { name })).registered_model as Json
    );
  }

  async renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel> {
    return registeredModel(
      (await this.call('POST', 'registered-models/rename', { name, new_name: newName }))
        .registered_model as Json
    );
  }

  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    return registeredModel(
      (await this.call('PATCH', 'registered-models/update', { name, description }))
        .registered_model as Json
    );
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.call('DELETE', 'registered-models/delete', { name });
  }

  async searchRegisteredModels(options: SearchOptions = {}): Promise<Page<RegisteredModel>> {
    const answer = await this.call('GET', 'registered-models/search', searchBody(options));
    return page(list<Json>(answer.registered_models).map(registeredModel), answer.next_page_token);
  }

  async getLatestVersions(name: string, stages: string[] = []): Promise<ModelVersion[]> {
    const answer = await this.call('POST', 'registered-models/get-latest-versions', {
      name,
      stages
    });
    return list<Json>(answer.model_versions).map(modelVersion);
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'registered-models/set-tag', { name, key, value });
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    await this.call('DELETE', 'registered-models/delete-tag', { name, key });
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call('POST', 'registered-models/alias', { name, alias, version });
  }

  async deleteRegisteredModelAlias(name: string, alias: string): Promise<void> {
    await this.call('DELETE', 'registered-models/alias', { name, alias });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    return modelVersion(
      (await this.call('GET', 'registered-models/alias', { name, alias })).model_version as Json
    );
  }

  async createModelVersion(
    name: string,
    source: string,
    options: CreateModelVersionOptions = {}
  ): Promise<ModelVersion> {
    const answer = await this.call('POST', 'model-versions/create', {
      name,
      source,
      run_id: options.runId,
      tags: options.tags ?? [],
      run_link: options.runLink,
      description: options.description
    });
    return modelVersion(answer.model_version as Json);
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return modelVersion(
      (await this.call('GET', 'model-versions/get', { name, version })).model_version as Json
    );
  }

  async updateModelVersion(
    name: string,
    version: string,
    description: string
  ): Promise<ModelVersion> {
    return modelVersion(
      (await this.call('PATCH', 'model-versions/update', { name, version, description }))
        .model_version as Json
    );
  }

  async deleteModelVersion(name: string, version: string): Promise<void> {
    await this.call('DELETE', 'model-versions/delete', { name, version });
  }

  async searchModelVersions(options: SearchOptions = {}): Promise<Page<ModelVersion>> {
    const answer = await this.call('GET', 'model-versions/search', searchBody(options));
    return page(list<Json>(answer.model_versions).map(modelVersion), answer.next_page_token);
  }

  async transitionModelVersionStage(
    name: string,
    version: string,
    stage: ModelStage,
    archiveExistingVersions: boolean
  ): Promise<ModelVersion> {
    const answer = await this.call('POST', 'model-versions/transition-stage', {
      name,
      version,
      stage,
      archive_existing_versions: archiveExistingVersions
    });
    return modelVersion(answer.model_version as Json);
  }

  async setModelVersionTag(
    name: string,
    version: string,
    key: string,
    value: string
  ): Promise<void> {
    await this.call('POST', 'model-versions/set-tag', { name, version, key, value });
  }

  async deleteModelVersionTag(name: string, version: string, key: string): Promise<void> {
    await this.call('DELETE', 'model-versions/delete-tag', { name, version, key });
  }

  async getModelVersionDownloadUri(name: string, version: string): Promise<string> {
    return String(
      (await this.call('GET', 'model-versions/get-download-uri', { name, version })).artifact_uri
    );
  }
}
