/**
 * What the server tests serve: classifiers trained on real MNIST digits, an autoencoder checker
 * fitted on them, and a tracker holding the classifiers as registered versions (logged as a run's
 * artifacts, registered from runs:/<run>/model, as an MLflow user would).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AutoencoderDrift } from '../../src/check/autoencoder-detector';
import { saveDetector } from '../../src/check/persist';
import { Classifier } from '../../src/improve/classifier';
import { startTracker, type RunningTracker } from '../../src/track';
import { digits } from '../check/mnist';
import { temporaryFolder } from '../track/helpers';

export const reference = digits(0, 1000);
export const unseen = digits(5000, 7000);

/** A classifier trained on the reference digits, saved to a folder. */
export async function savedClassifier(
  folder: string,
  seed = 1
): Promise<{ model: Classifier; path: string }> {
  const model = await Classifier.train({ x: reference.images, y: reference.labels }, 10, {
    epochs: 5,
    seed
  });
  const path = await model.save(join(folder, `classifier-${seed}`));
  return { model, path };
}

/** An autoencoder drift detector fitted on the reference digits, saved as JSON. */
export async function savedAutoencoder(folder: string): Promise<string> {
  const detector = await AutoencoderDrift.fit(reference.images, {
    architecture: 'dense',
    epochs: 4
  });
  const path = join(folder, 'autoencoder.json');
  saveDetector(detector, path);
  detector.dispose();
  return path;
}

/** A real tracker server with an empty store in `folder`. */
export function trackerIn(folder: string): Promise<RunningTracker> {
  return startTracker({ port: 0, storePath: join(folder, 'tracker.db') });
}

/**
 * Logs the model folder as the artifacts of a new run (under `model/`) and registers it as the
 * next version of `name`; returns the version.
 */
export async function registerModel(
  tracker: RunningTracker,
  name: string,
  modelDir: string
): Promise<string> {
  const store = tracker.store;
  const run = await store.createRun('0', { runName: `train ${name}` });
  for (const file of readdirSync(modelDir)) {
    await tracker.artifacts.uploadArtifact(
      run.info.artifact_uri,
      `model/${file}`,
      readFileSync(join(modelDir, file))
    );
  }
  await store.createRegisteredModel(name).catch(() => undefined);
  const version = await store.createModelVersion(name, `runs:/${run.info.run_id}/model`, {
    runId: run.info.run_id
  });
  return version.version;
}

/** POSTs a scoring request; resolves with the status, the body and the version header. */
export async function invoke(
  url: string,
  body: unknown,
  headers: Record<string, string> = { 'Content-Type': 'application/json' }
): Promise<{ status: number; body: Record<string, unknown>; version: string | null }> {
  const response = await fetch(`${url}/invocations`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body)
  });
  const text = await response.text();
  return {
    status: response.status,
    body: JSON.parse(text) as Record<string, unknown>,
    version: response.headers.get('x-scanflow-model-version')
  };
}

/** Rows as plain arrays, as a client would send them. */
export const rowsOf = (images: Float32Array[]): number[][] => images.map(row => Array.from(row));

export { temporaryFolder };
