/**
 * The model server on real parts: classifiers trained on MNIST digits, registered in a real
 * tracker server, called by MLflow's own Python scoring client; the live checker on a shifted
 * stream; a hot swap under load.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KSDrift } from '../../src/check/ks-detector';
import { saveDetector } from '../../src/check/persist';
import type { Classifier } from '../../src/improve/classifier';
import { LabelingSession } from '../../src/improve/session';
import { ModelServer } from '../../src/serve';
import { ServeError } from '../../src/serve/errors';
import type { RunningTracker } from '../../src/track';
import { gaussianNoise } from '../check/mnist';
import { PYTHON, requirePython } from '../track/helpers';
import {
  invoke,
  registerModel,
  rowsOf,
  savedAutoencoder,
  savedClassifier,
  temporaryFolder,
  trackerIn,
  unseen
} from './fixtures';

const folder = temporaryFolder('serve');
let tracker: RunningTracker;
let first: { model: Classifier; path: string };
let second: { model: Classifier; path: string };
let autoencoder: string;

before(async () => {
  tracker = await trackerIn(folder.path);
  first = await savedClassifier(folder.path, 1);
  second = await savedClassifier(folder.path, 2);
  autoencoder = await savedAutoencoder(folder.path);
  assert.equal(await registerModel(tracker, 'mnist', first.path), '1');
  assert.equal(await registerModel(tracker, 'mnist', second.path), '2');
});

after(async () => {
  first.model.dispose();
  second.model.dispose();
  await tracker.close();
  folder.remove();
});

function python(args: string[]): Promise<string> {
  requirePython();
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('scanflow serve', () => {
  it("answers MLflow's own scoring client with the model's in-process predictions", async () => {
    await tracker.store.setRegisteredModelAlias('mnist', 'champion', '1');
    const server = await ModelServer.start({
      model: 'models:/mnist@champion',
      tracker: tracker.url,
      port: 0,
      pollSeconds: 0
    });
    try {
      const rows = unseen.images.slice(0, 40);
      const file = join(folder.path, 'rows.json');
      writeFileSync(file, JSON.stringify(rowsOf(rows)));
      const answer = JSON.parse(
        await python([join(__dirname, 'mlflow_client.py'), server.url, file])
      ) as { array: number[]; frame: number[]; probabilities: number[][] };
      const expected = first.model.predict(rows);
      assert.deepEqual(answer.array, expected);
      assert.deepEqual(answer.frame, expected);
      const probabilities = first.model.predictProbabilities(rows);
      answer.probabilities.forEach((row, i) =>
        row.forEach((p, j) => assert.ok(Math.abs(p - probabilities[i][j]) < 1e-6))
      );
      const version = (await (await fetch(`${server.url}/version`)).json()) as Record<
        string,
        unknown
      >;
      assert.equal(version.version, '1');
      assert.equal(version.name, 'mnist');
      assert.match(String(version.source), /^runs:\//);
    } finally {
      await server.close();
    }
  });

  it('flags a noisy stream within one window, logs the verdict to the tracker and opens a labeling session', async () => {
    const labelDir = join(folder.path, 'labels');
    const server = await ModelServer.start({
      model: first.path,
      checker: autoencoder,
      tracker: tracker.url,
      port: 0,
      monitor: { windowSize: 20, expectedRunTime: 300, simulations: 50 },
      sampleRate: 0.1,
      labelDir
    });
    const runId = server.trackerRunId!;
    try {
      const clean = unseen.images.slice(0, 100);
      const noisy = gaussianNoise(unseen.images.slice(100, 160), 0.2, 5);
      const stream = [...clean, ...noisy];
      for (let i = 0; i < stream.length; i += 5) {
        const answer = await invoke(server.url, { inputs: rowsOf(stream.slice(i, i + 5)) });
        assert.equal(answer.status, 200);
      }
      const status = await waitFor(async () => {
        const monitor = (await (await fetch(`${server.url}/monitor`)).json()) as {
          check: { samples: number; alerts: number };
          verdicts: Array<{ t: number; isDrift: boolean }>;
        };
        return monitor.check.samples === 160 ? monitor : undefined;
      });
      const alerts = status.verdicts.filter(v => v.isDrift).map(v => v.t);
      // As the checker's own test of this monitor: at most one false alarm on 100 clean digits,
      // and an alert within one window (20 samples) of the noise.
      assert.ok(alerts.filter(t => t <= 100).length <= 1, `alerts at ${alerts.join(', ')}`);
      const firstAlert = alerts.find(t => t > 100);
      assert.ok(firstAlert !== undefined && firstAlert <= 120, `alerts at ${alerts.join(', ')}`);

      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /scanflow_serve_requests_total\{path="\/invocations",code="200"\} 32/);
      assert.match(metrics, /scanflow_serve_predictions_total 160/);
      assert.match(metrics, /scanflow_serve_drift_alerts_total [1-9]/);

      const session = LabelingSession.open(join(labelDir, `alert-${firstAlert}`));
      assert.equal(session.samples.length, 20);
      assert.match(session.samples[0].image ?? '', /^data:image\/png;base64,/);
      assert.ok(session.samples.every(s => s.guess !== undefined));
    } finally {
      await server.close();
    }
    // In the tracker: the verdicts as metrics at their sample counts, the alert as a tag, and a
    // sample of the requests as an artifact.
    const run = await tracker.store.getRun(runId);
    assert.equal(run.info.status, 'FINISHED');
    const params = Object.fromEntries(run.data.params.map(p => [p.key, p.value]));
    assert.equal(params.model_uri, first.path);
    assert.equal(params.checker, autoencoder);
    const isDrift = await tracker.store.getMetricHistory(runId, 'drift.is_drift');
    assert.ok(isDrift.items.some(m => m.value === 1 && m.step > 100 && m.step <= 120));
    assert.ok(
      run.data.tags.some(t => t.key === 'scanflow.drift' && /alert at sample/.test(t.value))
    );
    const logged = await tracker.artifacts.list(
      run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '') + '/predictions'
    );
    assert.equal(logged.length, 1);
    const lines = (
      await tracker.artifacts.downloadArtifact(
        run.info.artifact_uri,
        `predictions/${logged[0].path}`
      )
    )
      .toString()
      .trim()
      .split('\n')
      .map(line => JSON.parse(line) as { inputs: number[]; prediction: number });
    assert.equal(lines.length, 16);
    assert.equal(lines[0].inputs.length, 784);
    assert.equal(typeof lines[0].prediction, 'number');
  });

  it('swaps in the version an alias moves to, under load, without a failed request', async () => {
    await tracker.store.setRegisteredModelAlias('mnist', 'champion', '1');
    const server = await ModelServer.start({
      model: 'models:/mnist@champion',
      tracker: tracker.url,
      port: 0,
      pollSeconds: 0.2
    });
    const row = unseen.images[7];
    const body = { inputs: [Array.from(row)] };
    const seen: Array<{ status: number; version: string | null; prediction: unknown }> = [];
    let stop = false;
    const worker = async (): Promise<string[]> => {
      const versions: string[] = [];
      while (!stop) {
        try {
          const answer = await invoke(server.url, body);
          seen.push({
            status: answer.status,
            version: answer.version,
            prediction: answer.body.predictions
          });
          versions.push(answer.version ?? '');
        } catch (error) {
          seen.push({ status: 0, version: null, prediction: String(error) });
        }
      }
      return versions;
    };
    try {
      const workers = Array.from({ length: 8 }, worker);
      await new Promise(r => setTimeout(r, 1000));
      await tracker.store.setRegisteredModelAlias('mnist', 'champion', '2');
      await waitFor(async () => (seen.some(s => s.version === '2') ? true : undefined));
      await new Promise(r => setTimeout(r, 500));
      stop = true;
      const versions = await Promise.all(workers);
      const failed = seen.filter(s => s.status !== 200);
      assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 3)));
      assert.ok(seen.length > 50, `only ${seen.length} requests`);
      // Each client sees version 1, then version 2, never back.
      for (const list of versions) {
        const switched = list.indexOf('2');
        assert.ok(list.slice(0, switched === -1 ? list.length : switched).every(v => v === '1'));
        if (switched !== -1) assert.ok(list.slice(switched).every(v => v === '2'));
      }
      const [v1] = first.model.predict([row]);
      const [v2] = second.model.predict([row]);
      for (const s of seen) assert.deepEqual(s.prediction, [s.version === '1' ? v1 : v2]);
      assert.equal(server.version, '2');
    } finally {
      stop = true;
      await server.close();
    }
  });

  it('refuses what it cannot serve before listening, naming the fix', async () => {
    const refusals: Array<[Parameters<typeof ModelServer.start>[0], RegExp]> = [
      [
        { model: join(folder.path, 'nothing-here') },
        /There is no model at .*nothing-here.*Fix: give a folder/
      ],
      [{ model: 'models:/mnist@nobody', tracker: tracker.url }, /has no models:\/mnist@nobody/],
      [{ model: 'models:/mnist/1', tracker: undefined }, /none was given.*--tracker/],
      [{ model: first.path, port: 70000 }, /Port 70000 is not a port/],
      [{ model: first.path, sampleRate: 2 }, /sample rate is 2/],
      [{ model: autoencoder, labelDir: folder.path }, /Labeling needs class names.*--classes/]
    ];
    const saved = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    try {
      const ks = join(folder.path, 'ks.json');
      saveDetector(
        new KSDrift([
          [1, 2, 3],
          [2, 3, 4],
          [3, 4, 5]
        ]),
        ks
      );
      refusals.push(
        [{ model: first.path, checker: ks }, /fitted on 3 features but the model takes 784/],
        [{ model: ks }, /is a ks detector, which checks data but predicts nothing/]
      );
      for (const [options, message] of refusals) {
        await assert.rejects(
          ModelServer.start({ port: 0, ...options }),
          (error: Error) => error instanceof ServeError && message.test(error.message),
          JSON.stringify(options)
        );
      }
    } finally {
      if (saved !== undefined) process.env.MLFLOW_TRACKING_URI = saved;
    }
    assert.ok(existsSync(first.path));
  });
});

/** Polls `probe` until it returns something (10 s at most). */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise(r => setTimeout(r, 50));
  }
}
