/**
 * What a deployed tracker service does before it listens: it creates the deployment's MLflow run
 * and one run per step, with the ids the deployment's files give the steps as MLFLOW_RUN_ID, so
 * that a step's own MLflow logging lands in its run under docker-compose, Swarm or Kubernetes as
 * it does under `scanflow run`. Idempotent: a restarted tracker finds its runs and keeps them.
 */
import type { ArtifactStore } from '../track/artifacts';
import { RunRecorder } from '../track/recorder';
import type { TrackingStore } from '../track/store';
import type { TrackerRecord } from './plan';

/** The variable through which a tracker service learns which runs to create. */
export const RECORD_VARIABLE = 'SCANFLOW_DEPLOYMENT';

export async function recordDeployment(
  store: TrackingStore,
  artifacts: ArtifactStore,
  record: TrackerRecord
): Promise<void> {
  const recorder = new RunRecorder(store, artifacts, {
    ids: { run: record.runId, steps: record.steps }
  });
  await recorder.startRun({
    runId: record.runId,
    workflow: record.experiment,
    definition: record.definition,
    executor: record.target
  });
  for (const step of Object.keys(record.steps)) await recorder.stepRun(step);
}

/** The record a tracker service was given in its environment; throws a readable error. */
export function recordFromEnvironment(env: NodeJS.ProcessEnv = process.env): TrackerRecord {
  const text = env[RECORD_VARIABLE];
  if (!text) {
    throw new Error(
      `--deployment needs the deployment in $${RECORD_VARIABLE}. Fix: start the tracker from the files scanflow export wrote, which set it.`
    );
  }
  const record = JSON.parse(text) as TrackerRecord;
  if (typeof record.runId !== 'string' || typeof record.steps !== 'object') {
    throw new Error(
      `$${RECORD_VARIABLE} is not a deployment record. Fix: export the workflow again.`
    );
  }
  return record;
}
