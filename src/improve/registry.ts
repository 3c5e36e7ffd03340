/**
 * What the improver needs from a tracker, and no more: log an evaluation as a run, register a model
 * version, move an alias. `trackerRegistry` adapts any of the tracker's stores (the embedded SQLite
 * store, or the REST store that talks to our tracker server or to a real MLflow server) to it.
 */
import { AlreadyExistsError, NotFoundError } from '../track/errors';
import type { ModelRegistryStore, TrackingStore } from '../track/store';

export interface ModelRegistry {
  /** Logs a finished run with these metrics, params and tags; returns the run's id. */
  logMetrics(
    runName: string,
    metrics: Record<string, number>,
    details?: { params?: Record<string, string>; tags?: Record<string, string> }
  ): Promise<string>;
  /** Registers `source` (where the model is saved) as a new version of `model`; returns the version. */
  registerModelVersion(
    model: string,
    source: string,
    details?: { runId?: string; description?: string; tags?: Record<string, string> }
  ): Promise<string>;
  /** Points `alias` (such as 'champion') of `model` at `version`. */
  setAlias(model: string, alias: string, version: string): Promise<void>;
  /** The version `alias` points at, or undefined. */
  aliasedVersion(model: string, alias: string): Promise<string | undefined>;
}

export interface TrackerRegistryOptions {
  /** The experiment runs go to (created if missing; default 'improver'). */
  experiment?: string;
}

/** The improver's registry over a tracker store (SqliteStore, or RestStore for a server). */
export function trackerRegistry(
  store: TrackingStore & ModelRegistryStore,
  options: TrackerRegistryOptions = {}
): ModelRegistry {
  const experimentName = options.experiment ?? 'improver';
  let experimentId: Promise<string> | undefined;
  const experiment = (): Promise<string> =>
    (experimentId ??= store
      .getExperimentByName(experimentName)
      .then(e => e.experiment_id)
      .catch((error: unknown) => {
        if (error instanceof NotFoundError) return store.createExperiment(experimentName);
        throw error;
      }));
  const keyValues = (record: Record<string, string> = {}): Array<{ key: string; value: string }> =>
    Object.entries(record).map(([key, value]) => ({ key, value }));

  return {
    async logMetrics(runName, metrics, details = {}) {
      const run = await store.createRun(await experiment(), {
        runName,
        tags: keyValues(details.tags)
      });
      const runId = run.info.run_id;
      const timestamp = Date.now();
      await store.logBatch(runId, {
        metrics: Object.entries(metrics).map(([key, value]) => ({
          key,
          value,
          timestamp,
          step: 0
        })),
        params: keyValues(details.params)
      });
      await store.updateRun(runId, { status: 'FINISHED', endTime: Date.now() });
      return runId;
    },
    async registerModelVersion(model, source, details = {}) {
      try {
        await store.createRegisteredModel(model);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
      }
      const version = await store.createModelVersion(model, source, {
        runId: details.runId,
        description: details.description,
        tags: keyValues(details.tags)
      });
      return version.version;
    },
    async setAlias(model, alias, version) {
      await store.setRegisteredModelAlias(model, alias, version);
    },
    async aliasedVersion(model, alias) {
      try {
        return (await store.getModelVersionByAlias(model, alias)).version;
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    }
  };
}
