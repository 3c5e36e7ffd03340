/**
 * `scanflow demo mnist`, for real: the workflow's steps as Docker containers, then the checker and
 * the improver on this machine. Checked as a user would: the exit code, the tracker store (the
 * steps' runs and metrics, the drift verdicts, the model registry) and what Docker has left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SIZES, shiftOf } from '../../src/demo/mnist/data';
import { ModelServer } from '../../src/serve';
import { SqliteStore, type Run } from '../../src/track';
import { leftovers, removeRunVolumes } from '../run/helpers';

const root = join(__dirname, '..', '..');

function scanflow(
  args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'scanflow.js'), ...args], {
      cwd: root
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', status => done({ status, stdout, stderr }));
  });
}

const tag = (run: Run, key: string): string | undefined =>
  run.data.tags.find(t => t.key === key)?.value;
const metric = (run: Run, key: string): number | undefined =>
  run.data.metrics.find(m => m.key === key)?.value;

describe('scanflow demo mnist', () => {
  let runId: string | undefined;
  after(async () => {
    if (runId) await removeRunVolumes(runId);
  });

  test('runs the workflow in containers, flags the shifted batches, retrains and promotes only a better model', async () => {
    const out = mkdtempSync(join(tmpdir(), 'scanflow-demo-'));
    const result = await scanflow([
      'demo',
      'mnist',
      '--size',
      'small',
      '-e',
      'docker',
      '--out',
      out
    ]);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    runId = /workflow run (\S+) \(docker\)/.exec(result.stdout)?.[1];
    assert.ok(runId, result.stdout);
    assert.match(result.stdout, /browse it: scanflow tracker --store \S*tracker\.sqlite/);
    assert.match(
      result.stdout,
      /serve the champion: scanflow serve models:\/mnist@champion --tracker \S*tracker\.sqlite/
    );
    // The steps' logs (printed as step lines) and the host carry no TensorFlow.js advert for
    // tfjs-node, which cannot be installed here.
    assert.doesNotMatch(result.stdout + result.stderr, /install our node backend/);
    assert.match(result.stdout, /mnist\.train \| trained on \d+ digits/, 'no step log was printed');

    // Nothing of the run is left running: no container, no network (outputs are a kept volume).
    const left = await leftovers(runId);
    assert.deepEqual(left.containers, []);
    assert.deepEqual(left.networks, []);

    const store = new SqliteStore(join(out, 'tracker.sqlite'));
    try {
      const experiment = await store.getExperimentByName('mnist');
      const runs = (await store.searchRuns([experiment.experiment_id], { maxResults: 1000 })).items;
      const ofRun = runs.filter(r => tag(r, 'scanflow.run') === runId);
      const step = (id: string): Run => {
        const found = ofRun.find(r => tag(r, 'scanflow.step') === id);
        assert.ok(found, `no tracker run of step ${id}`);
        return found;
      };
      for (const id of [
        'mnist.prepare',
        'mnist.train',
        'mnist.use.evaluate',
        'mnist.use.predict'
      ]) {
        assert.equal(tag(step(id), 'scanflow.status'), 'succeeded', id);
      }
      // What the steps logged themselves, through MLflow's REST API.
      const train = step('mnist.train');
      assert.ok(train.data.params.some(p => p.key === 'epochs'));
      assert.ok(metric(train, 'train_accuracy')! > 0.8);
      const testAccuracy = metric(step('mnist.use.evaluate'), 'test_accuracy')!;
      assert.ok(testAccuracy > 0.7);
      // The summary reports the workflow's accuracy as its evaluate step logged it.
      assert.match(result.stdout, new RegExp(`workflow: ${(testAccuracy * 100).toFixed(1)}%`));

      // The checker's verdict per production batch: drift exactly where the stream was shifted.
      const checker = ofRun.find(r => tag(r, 'scanflow.checker') === 'autoencoder');
      assert.ok(checker, 'no checker run');
      const verdicts = (await store.getMetricHistory(checker.info.run_id, 'drift.is_drift')).items;
      const size = SIZES.small;
      assert.equal(verdicts.length, size.batches);
      for (const verdict of verdicts) {
        const shifted = shiftOf(verdict.step, size) !== 'none';
        assert.equal(verdict.value, shifted ? 1 : 0, `batch ${verdict.step}`);
      }

      // The registry: the workflow's model is version 1; a later version exists only for a
      // candidate that beat the model in service on the same held-out drifted digits.
      const versions = (await store.searchModelVersions({ filter: "name = 'mnist'" })).items;
      assert.ok(versions.some(v => v.version === '1'));
      const improver = await store.getExperimentByName('mnist-improver');
      const candidates = (
        await store.searchRuns([improver.experiment_id], { maxResults: 1000 })
      ).items.filter(r => tag(r, 'scanflow.promotion') !== undefined);
      assert.equal(candidates.length, size.rounds);
      const promoted = candidates.filter(r => tag(r, 'scanflow.promotion') === 'promoted');
      assert.equal(versions.length, 1 + promoted.length);
      for (const candidate of candidates) {
        const reason = tag(candidate, 'scanflow.promotion.reason') ?? '';
        const [, mine, theirs] =
          /candidate accuracy ([\d.]+) vs current ([\d.]+)/.exec(reason) ?? [];
        assert.ok(mine !== undefined, reason);
        assert.equal(
          Number(mine) > Number(theirs),
          tag(candidate, 'scanflow.promotion') === 'promoted',
          reason
        );
      }
      for (const run of promoted) {
        assert.ok(
          versions.some(v => v.run_id === run.info.run_id),
          'a promoted candidate is registered'
        );
      }
      const champion = await store.getModelVersionByAlias('mnist', 'champion');
      assert.equal(champion.version, String(versions.length));
    } finally {
      store.close();
    }

    // The command the summary prints serves the champion from the tracker file.
    const server = await ModelServer.start({
      model: 'models:/mnist@champion',
      tracker: join(out, 'tracker.sqlite'),
      port: 0,
      pollSeconds: 0
    });
    try {
      const versions = /versions ([\d, ]+) \(champion: version (\d+)\)/.exec(result.stdout);
      assert.equal(server.version, versions?.[2]);
      const response = await fetch(`${server.url}/invocations`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ inputs: [Array(784).fill(0)] })
      });
      assert.equal(response.status, 200);
      const { predictions } = (await response.json()) as { predictions: number[] };
      assert.ok(Number.isInteger(predictions[0]) && predictions[0] >= 0 && predictions[0] < 10);
    } finally {
      await server.close();
    }
  });
});
