/**
 * Starting a tracker in-process: the one call the CLI, the run engine and tests use.
 *
 *   const tracker = await startTracker({ storePath: 'runs/tracker.db' });
 *   // step containers get MLFLOW_TRACKING_URI=tracker.url
 *   await tracker.close();
 */
import type { Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore } from './artifacts';
import { createTrackerServer, listen } from './server';
import { SqliteStore } from './sqlite-store';

export interface StartTrackerOptions {
  /** Default 127.0.0.1; use 0.0.0.0 only to reach it from containers on another network. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The SQLite file; default a fresh file in a temporary folder. */
  storePath?: string;
  /** Where artifacts are kept; default `<storePath>.artifacts/` next to the store. */
  artifactsDir?: string;
  /** Require `Authorization: Bearer <token>` on every request. */
  token?: string;
  maxArtifactBytes?: number;
  /** Runs on the opened store before the server listens (e.g. creating a deployment's runs). */
  prepare?: (store: SqliteStore, artifacts: ArtifactStore) => Promise<void>;
}

export interface RunningTracker {
  /** `http://host:port`: give it to MLflow clients as MLFLOW_TRACKING_URI. */
  url: string;
  host: string;
  port: number;
  store: SqliteStore;
  artifacts: ArtifactStore;
  server: Server;
  close(): Promise<void>;
}

export function defaultArtifactsDir(storePath: string): string {
  return `${storePath}.artifacts`;
}

export async function startTracker(options: StartTrackerOptions = {}): Promise<RunningTracker> {
  const storePath =
    options.storePath ?? join(mkdtempSync(join(tmpdir(), 'scanflow-tracker-')), 'tracker.db');
  const store = new SqliteStore(storePath);
  const artifacts = new ArtifactStore(options.artifactsDir ?? defaultArtifactsDir(storePath));
  const server = createTrackerServer({
    store,
    registry: store,
    artifacts,
    token: options.token,
    maxArtifactBytes: options.maxArtifactBytes
  });
  let address;
  try {
    await options.prepare?.(store, artifacts);
    address = await listen(server, options.host ?? '127.0.0.1', options.port ?? 0);
  } catch (error) {
    store.close();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    ...address,
    store,
    artifacts,
    server,
    close() {
      closed ??= new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => store.close());
      return closed;
    }
  };
}
