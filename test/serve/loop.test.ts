/**
 * The seed's loop, end to end on real parts: a served model sees digits it was not trained on
 * (inverted ones), the live checker flags the window and opens a labeling session, a labeler
 * answers it, the improver retrains on the window's rows and promotes the better model in the
 * registry, and the server swaps to the promoted version by itself.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Classifier } from '../../src/improve/classifier';
import { SimulatedOracle } from '../../src/improve/oracle';
import { trackerRegistry } from '../../src/improve/registry';
import { labelsAsTrainingSet, retrainAndCompare } from '../../src/improve/retrain';
import { LabelingSession } from '../../src/improve/session';
import { ModelServer, readAlertWindow } from '../../src/serve';
import type { RunningTracker } from '../../src/track';
import {
  invoke,
  reference,
  registerModel,
  rowsOf,
  savedAutoencoder,
  savedClassifier,
  temporaryFolder,
  trackerIn,
  unseen
} from './fixtures';

const folder = temporaryFolder('serve-loop');
const CLASSES = Array.from({ length: 10 }, (_, i) => String(i));
const inverted = (rows: Float32Array[]): Float32Array[] => rows.map(r => r.map(v => 1 - v));
let tracker: RunningTracker;
let served: Classifier;
let autoencoder: string;

before(async () => {
  tracker = await trackerIn(folder.path);
  const saved = await savedClassifier(folder.path);
  served = saved.model;
  autoencoder = await savedAutoencoder(folder.path);
  const registry = trackerRegistry(tracker.store);
  await registerModel(tracker, 'digits', saved.path);
  await registry.setAlias('digits', 'champion', '1');
});

after(async () => {
  served.dispose();
  await tracker.close();
  folder.remove();
});

describe('serve, detect, label, retrain, promote', () => {
  it('the server flags inverted digits, and swaps to the model retrained on their labels', async () => {
    const labelDir = join(folder.path, 'labels');
    const server = await ModelServer.start({
      model: 'models:/digits@champion',
      tracker: tracker.url,
      checker: autoencoder,
      port: 0,
      pollSeconds: 0.2,
      monitor: { windowSize: 50, expectedRunTime: 500, simulations: 50 },
      labelDir
    });
    try {
      // Production: 100 ordinary digits, then inverted ones, 10 per request.
      const stream = [...unseen.images.slice(0, 100), ...inverted(unseen.images.slice(100, 200))];
      const truth = [...unseen.labels.slice(0, 100), ...unseen.labels.slice(100, 200)];
      for (let i = 0; i < stream.length; i += 10) {
        assert.equal(
          (await invoke(server.url, { inputs: rowsOf(stream.slice(i, i + 10)) })).status,
          200
        );
      }
      const alert = await until(async () => {
        const monitor = (await (await fetch(`${server.url}/monitor`)).json()) as {
          verdicts: Array<{ t: number; isDrift: boolean }>;
        };
        return monitor.verdicts.find(v => v.isDrift && v.t > 100);
      });

      // A labeler answers the session the alert opened (here an oracle that knows the digits).
      const session = LabelingSession.open(join(labelDir, `alert-${alert.t}`));
      const truthOf = new Map(
        session.samples.map(s => [s.id, CLASSES[truth[Number(s.id.slice(1)) - 1]]])
      );
      SimulatedOracle.fromMap(truthOf).answer(session.folder);
      const labels = await session.complete();
      assert.equal(labels.length, 50);

      // The improver retrains on the window's exact rows and promotes only a better model.
      const window = readAlertWindow(session.folder);
      assert.equal(window.version, '1');
      const heldOut = {
        x: inverted(unseen.images.slice(300, 500)),
        y: unseen.labels.slice(300, 500)
      };
      const { comparison, candidate } = await retrainAndCompare({
        current: served,
        reference: { x: reference.images, y: reference.labels },
        newLabels: labelsAsTrainingSet(labels, CLASSES, id => window.rows.get(id)!),
        heldOut,
        // 50 inverted digits among 1,000 ordinary ones need more passes than the 5 of the fixture.
        classifier: { epochs: 15 },
        target: {
          registry: trackerRegistry(tracker.store),
          model: 'digits',
          saveTo: join(folder.path, 'candidate')
        }
      });
      assert.ok(comparison.promote, comparison.reason);
      assert.equal(comparison.version, '2');

      // The server follows the alias: answers now come from version 2, with its predictions.
      const probe = inverted(unseen.images.slice(600, 620));
      const answer = await until(async () => {
        const reply = await invoke(server.url, { inputs: rowsOf(probe) });
        return reply.version === '2' ? reply : undefined;
      });
      assert.deepEqual(answer.body.predictions, candidate.predict(probe));
      candidate.dispose();
    } finally {
      await server.close();
    }
  });
});

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise(r => setTimeout(r, 100));
  }
}
