/**
 * Wiping a workflow's tracked data for good: its experiment's runs, metrics, params, tags and
 * artifacts. Scanflow records each workflow in the experiment named after it.
 */
import { rm } from 'node:fs/promises';
import type { ArtifactStore } from './artifacts';
import { NotFoundError } from './errors';
import type { SqliteStore } from './sqlite-store';

export interface WipeResult {
  experimentId: string;
  runs: number;
  artifactsRemoved: boolean;
}

export async function wipeExperiment(
  store: SqliteStore,
  artifacts: ArtifactStore,
  name: string
): Promise<WipeResult> {
  let experiment;
  try {
    experiment = await store.getExperimentByName(name);
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new NotFoundError(
        `No workflow or experiment named '${name}' in ${store.path}: nothing to wipe.`
      );
    }
    throw error;
  }
  const { runs } = store.purgeExperiment(experiment.experiment_id);
  // Only artifacts this tracker serves are ours to delete; a foreign location is left alone.
  const served = /^mlflow-artifacts:\/(\d+)$/.exec(experiment.artifact_location);
  if (served) await rm(artifacts.resolvePath(served[1]), { recursive: true, force: true });
  return { experimentId: experiment.experiment_id, runs, artifactsRemoved: Boolean(served) };
}
