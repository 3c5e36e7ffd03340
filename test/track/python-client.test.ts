/**
 * The real MLflow Python client (from PyPI, in the venv) logs a full scenario to our server and
 * reads every value back exactly (the asserts are in mlflow_scenario.py); here we also check from
 * the store's side that what the client wrote is what landed. The server requires a bearer token.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTracker, type RunningTracker } from '../../src/track';
import { runPython, temporaryFolder } from './helpers';

let tracker: RunningTracker;
const folder = temporaryFolder('python-client');

before(async () => {
  // Guarded by a bearer token, which the MLflow client sends from MLFLOW_TRACKING_TOKEN.
  tracker = await startTracker({ storePath: `${folder.path}/tracker.db`, token: 'scenario-token' });
});

after(async () => {
  await tracker.close();
  folder.remove();
});

test('the MLflow Python client logs, searches, stores artifacts and registers models with exact read-back', async () => {
  const output = await runPython('mlflow_scenario.py', [tracker.url], {
    MLFLOW_TRACKING_TOKEN: 'scenario-token'
  });
  const { experiment_id: experimentId, run_id: runId } = JSON.parse(
    output.trim().split('\n').pop() ?? '{}'
  ) as {
    experiment_id: string;
    run_id: string;
  };

  const run = await tracker.store.getRun(runId);
  assert.equal(run.info.experiment_id, experimentId);
  assert.equal(run.info.run_name, 'train');
  assert.equal(run.info.status, 'FINISHED');
  assert.equal(run.data.params.length, 103);
  const loss = await tracker.store.getMetricHistory(runId, 'loss');
  assert.deepEqual(
    loss.items.map(m => m.value),
    [1, 0.5, 0.25, 0.125, 0.0625]
  );
  const latest = Object.fromEntries(run.data.metrics.map(m => [m.key, m.value]));
  assert.ok(Number.isNaN(latest.not_a_number));
  assert.equal(latest.unbounded, Infinity);

  const files = await tracker.artifacts.list(`${experimentId}/${runId}/artifacts`);
  assert.deepEqual(
    files.map(f => f.path),
    ['model', 'notes.txt', 'plots']
  );
  const model = await tracker.store.getRegisteredModel('scanflow-model');
  assert.deepEqual(model.aliases, [{ alias: 'champion', version: '2' }]);
  assert.deepEqual(
    model.latest_versions.map(v => [v.version, v.current_stage]),
    [
      ['1', 'Archived'],
      ['2', 'Production']
    ]
  );
});
