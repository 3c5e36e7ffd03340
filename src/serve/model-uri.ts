/**
 * Where a served model comes from, as MLflow's CLI names it: a local path, `runs:/<run>/<path>`,
 * or a registered version, `models:/<name>/<version>`, `models:/<name>/latest` or
 * `models:/<name>@<alias>`. Registered and run models are read from a tracker (our server, a real
 * MLflow server, or a tracker file) and copied into a local folder; an alias or `latest` can move,
 * and `currentVersion` says where it points now (the hot swap polls it).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactStore } from '../track/artifacts';
import { defaultArtifactsDir } from '../track/embedded';
import { NotFoundError } from '../track/errors';
import { RestStore } from '../track/rest-store';
import { SqliteStore } from '../track/sqlite-store';
import type { ModelRegistryStore, TrackingStore } from '../track/store';
import type { ArtifactFile } from '../track/types';
import { ServeError } from './errors';

export type ModelUri =
  | { kind: 'path'; path: string }
  | { kind: 'run'; runId: string; path: string }
  | { kind: 'version'; name: string; version: string }
  | { kind: 'latest'; name: string }
  | { kind: 'alias'; name: string; alias: string };

const URI_FORMS =
  'give a folder, runs:/<run id>/<path>, models:/<name>/<version>, models:/<name>/latest or models:/<name>@<alias>';

/** Reads a model URI; refuses what it cannot serve, naming the forms it can. */
export function parseModelUri(uri: string): ModelUri {
  const registered = /^models:\/(?<name>[^/@]+)(?:\/(?<version>[^/@]+)|@(?<alias>[^/@]+))$/.exec(
    uri
  );
  if (registered?.groups) {
    const { name, version, alias } = registered.groups;
    if (alias) return { kind: 'alias', name, alias };
    if (version === 'latest') return { kind: 'latest', name };
    if (/^\d+$/.test(version)) return { kind: 'version', name, version };
    throw new ServeError(
      `'${uri}' names version '${version}' of ${name}, which is not a version number`,
      `${URI_FORMS} (stages such as Production are deprecated in MLflow: use an alias)`
    );
  }
  if (uri.startsWith('models:')) throw new ServeError(`'${uri}' is not a model URI`, URI_FORMS);
  const run = /^runs:\/(?<runId>[^/]+)\/(?<path>.+)$/.exec(uri);
  if (run?.groups) return { kind: 'run', runId: run.groups.runId, path: run.groups.path };
  if (uri.startsWith('file://')) return { kind: 'path', path: fileURLToPath(uri) };
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) && !/^[a-z]:[\\/]/i.test(uri)) {
    throw new ServeError(`'${uri}' is not a model URI scanflow can read`, URI_FORMS);
  }
  return { kind: 'path', path: resolve(uri) };
}

/** A tracker's registry and artifacts, whether over REST or from a tracker file. */
export interface ModelTracker {
  readonly store: TrackingStore & ModelRegistryStore;
  readonly artifacts: {
    listArtifacts(artifactUri: string, path?: string): Promise<ArtifactFile[]>;
    downloadArtifact(artifactUri: string, path: string): Promise<Buffer>;
    uploadArtifact(artifactUri: string, path: string, content: Buffer | string): Promise<void>;
  };
  /** The tracker as the user named it, for messages. */
  readonly location: string;
  close(): void;
}

/** Opens a tracker: an http(s) URL (ours or MLflow's), or a tracker file written by scanflow. */
export function openTracker(location: string, token?: string): ModelTracker {
  if (/^https?:\/\//.test(location)) {
    const rest = new RestStore(location, { token });
    return { store: rest, artifacts: rest, location, close: () => rest.close() };
  }
  const file = resolve(location.replace(/^sqlite:\/\//, ''));
  if (!existsSync(file)) {
    throw new ServeError(
      `There is no tracker file at ${file}`,
      'give --tracker an http(s) URL of a tracking server, or the SQLite file of a scanflow tracker'
    );
  }
  const store = new SqliteStore(file);
  return {
    store,
    artifacts: new ArtifactStore(defaultArtifactsDir(file)),
    location: file,
    close: () => store.close()
  };
}

/** A version of a model, copied to a local folder (or found on disk). */
export interface LocalModel {
  path: string;
  /** The registered version, when the model came from the registry. */
  version?: string;
  name?: string;
  /** Where the files came from (the version's source, the run URI or the path). */
  source: string;
}

/** Finds the model a URI names and makes its files local, under `cacheDir`. */
export class ModelLocator {
  readonly uri: ModelUri;

  constructor(
    readonly text: string,
    private readonly cacheDir: string,
    private readonly tracker?: ModelTracker
  ) {
    this.uri = parseModelUri(text);
    if (this.uri.kind !== 'path' && !tracker) {
      throw new ServeError(
        `'${text}' is read from a tracker, and none was given`,
        'pass --tracker <url or file>, or set MLFLOW_TRACKING_URI'
      );
    }
  }

  /** Whether the version behind the URI can change (an alias or `latest`). */
  get movable(): boolean {
    return this.uri.kind === 'alias' || this.uri.kind === 'latest';
  }

  /** The registered version the URI names now, or undefined for a path or a run. */
  async currentVersion(): Promise<string | undefined> {
    const uri = this.uri;
    const store = this.tracker?.store;
    if (!store) return undefined;
    try {
      switch (uri.kind) {
        case 'version':
          return (await store.getModelVersion(uri.name, uri.version)).version;
        case 'alias':
          return (await store.getModelVersionByAlias(uri.name, uri.alias)).version;
        case 'latest': {
          const versions = await store.getLatestVersions(uri.name);
          const newest = versions.map(v => v.version).sort((a, b) => Number(b) - Number(a))[0];
          if (newest === undefined)
            throw new NotFoundError(`Registered model ${uri.name} has no version`);
          return newest;
        }
        default:
          return undefined;
      }
    } catch (error) {
      unreachable(error, this.tracker!.location);
      if (error instanceof NotFoundError) {
        throw new ServeError(
          `The tracker at ${this.tracker!.location} has no ${this.text}: ${error.message}`,
          'check the name, the version or the alias (scanflow tracker lists them in JupyterLab)'
        );
      }
      throw error;
    }
  }

  /** The model's files, as a local folder; `version` picks a registered version. */
  async fetch(version?: string): Promise<LocalModel> {
    try {
      return await this.fetchFiles(version);
    } catch (error) {
      if (this.tracker) unreachable(error, this.tracker.location);
      throw error;
    }
  }

  private async fetchFiles(version?: string): Promise<LocalModel> {
    const uri = this.uri;
    if (uri.kind === 'path') {
      if (!existsSync(uri.path)) {
        throw new ServeError(`There is no model at ${uri.path}`, URI_FORMS);
      }
      return { path: uri.path, source: uri.path };
    }
    const tracker = this.tracker!;
    if (uri.kind === 'run') {
      const run = await tracker.store.getRun(uri.runId);
      const path = join(this.cacheDir, 'runs', safe(uri.runId), safe(uri.path));
      await this.download(run.info.artifact_uri, uri.path, path);
      return { path, source: this.text };
    }
    const chosen = version ?? (await this.currentVersion())!;
    const registered = await tracker.store.getModelVersion(uri.name, chosen);
    const path = join(this.cacheDir, 'models', safe(uri.name), chosen);
    const local = await this.materialize(registered.source, path);
    return { path: local, version: chosen, name: uri.name, source: registered.source };
  }

  /** The folder a version's `source` names, copied here when it lives in the tracker. */
  private async materialize(source: string, path: string): Promise<string> {
    const tracker = this.tracker!;
    const run = /^runs:\/([^/]+)\/(.+)$/.exec(source);
    if (run) {
      const info = await tracker.store.getRun(run[1]);
      await this.download(info.info.artifact_uri, run[2], path);
      return path;
    }
    if (source.startsWith('mlflow-artifacts:')) {
      await this.download(source, '', path);
      return path;
    }
    const local = source.startsWith('file://') ? fileURLToPath(source) : source;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(local) && existsSync(local)) return local;
    throw new ServeError(
      `The registered source '${source}' is not readable from here`,
      "register versions from runs:/<run>/<path> or the tracker's artifacts (mlflow-artifacts:/...), which the server downloads"
    );
  }

  /** Copies the artifact at `path` under `artifactUri` (a file or a folder) to `target`. */
  private async download(artifactUri: string, path: string, target: string): Promise<void> {
    const artifacts = this.tracker!.artifacts;
    const entries = await artifacts.listArtifacts(artifactUri, path);
    if (entries.length === 0) {
      // A file (MLflow lists a file as nothing), or nothing at all.
      const body = await artifacts.downloadArtifact(artifactUri, path).catch(() => undefined);
      if (!body) {
        throw new ServeError(
          `The tracker has no artifact '${path}' under ${artifactUri}`,
          'check the path the model was logged under'
        );
      }
      mkdirSync(target, { recursive: true });
      writeFileSync(join(target, safe(path.split('/').pop() ?? 'model')), body);
      return;
    }
    mkdirSync(target, { recursive: true });
    for (const entry of entries) {
      // Our tracker lists names relative to the folder; MLflow's lists paths from the run's root.
      const name = entry.path.split('/').pop()!;
      const child = [path, name].filter(Boolean).join('/');
      if (entry.is_dir) await this.download(artifactUri, child, join(target, safe(name)));
      else {
        const file = join(target, safe(name));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, await artifacts.downloadArtifact(artifactUri, child));
      }
    }
  }
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN'
]);

/** Throws a ServeError naming the tracker when `error` says it could not be reached. */
function unreachable(error: unknown, location: string): void {
  const code =
    (error as { code?: string; cause?: { code?: string } }).code ??
    (error as { cause?: { code?: string } }).cause?.code;
  if (code && NETWORK_ERRORS.has(code)) {
    throw new ServeError(
      `The tracker at ${location} cannot be reached (${code})`,
      'start it, or point --tracker (or $MLFLOW_TRACKING_URI) at a running one'
    );
  }
}

/** A path segment safe to use as a file name. */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_');
}
