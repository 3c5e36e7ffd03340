/**
 * The notebook query layer over HTTP: runs of a workflow as a table, metric histories, comparisons
 * and params diffs, each shown inline as the tracker MIME type with vega-lite charts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { useDisplay, type DisplayMessage } from '../../src/notebook';
import { MIME } from '../../src/mime';
import { Tracker, startTracker, type RunningTracker, type TrackerViewData } from '../../src/track';
import { temporaryFolder } from './helpers';

const folder = temporaryFolder('query');
let server: RunningTracker;
let tracker: Tracker;
const ids: Record<string, string> = {};

before(async () => {
  server = await startTracker({ storePath: `${folder.path}/tracker.db` });
  const store = server.store;
  const experimentId = await store.createExperiment('hello');
  for (const [name, lr, acc] of [
    ['slow', '0.001', 0.7],
    ['fast', '0.1', 0.9]
  ] as const) {
    const run = await store.createRun(experimentId, {
      runName: name,
      startTime: name === 'slow' ? 1000 : 2000
    });
    ids[name] = run.info.run_id;
    await store.logBatch(run.info.run_id, {
      params: [
        { key: 'lr', value: lr },
        { key: 'model', value: 'cnn' }
      ],
      metrics: [0, 1, 2].map(step => ({
        key: 'loss',
        value: 1 / (step + 1) + (name === 'slow' ? 0.5 : 0),
        step,
        timestamp: step
      }))
    });
    await store.logMetric(run.info.run_id, { key: 'acc', value: acc, step: 2, timestamp: 3 });
  }
  // A scanflow step run nested under 'fast': not a row of the workflow's table by default.
  await store.createRun(experimentId, {
    runName: 'hello.train',
    tags: [
      { key: 'scanflow.step', value: 'hello.train' },
      { key: 'mlflow.parentRunId', value: ids.fast }
    ]
  });
  tracker = Tracker.connect(server.url);
});

after(async () => {
  tracker.close();
  await server.close();
  useDisplay(undefined);
  folder.remove();
});

function captured(): { messages: DisplayMessage[] } {
  const messages: DisplayMessage[] = [];
  useDisplay(message => messages.push(message));
  return { messages };
}

test('runs of a workflow as a table, searched and ordered with MLflow syntax', async () => {
  const table = await tracker.runs('hello', { orderBy: ['metrics.acc DESC'] });
  assert.deepEqual(
    table.rows.map(r => r.name),
    ['fast', 'slow']
  );
  assert.deepEqual(table.toRecords()[0], {
    id: ids.fast,
    name: 'fast',
    status: 'RUNNING',
    startTime: 2000,
    endTime: undefined,
    'params.lr': '0.1',
    'params.model': 'cnn',
    'metrics.loss': 1 / 3,
    'metrics.acc': 0.9
  });
  const filtered = await tracker.runs('hello', { filter: "params.lr = '0.001'" });
  assert.deepEqual(filtered.ids(), [ids.slow]);
  const withSteps = await tracker.runs('hello', { includeSteps: true });
  assert.equal(withSteps.rows.length, 3);
  await assert.rejects(tracker.runs('nope'), { errorCode: 'RESOURCE_DOES_NOT_EXIST' });

  const { messages } = captured();
  table.show();
  assert.equal(messages.length, 1);
  const data = messages[0].data[MIME.tracker] as TrackerViewData;
  assert.equal(data.view, 'runs');
  assert.equal(data.experiment, 'hello');
  assert.deepEqual(
    data.runs.map(r => [r.name, r.metrics?.acc]),
    [
      ['fast', 0.9],
      ['slow', 0.7]
    ]
  );
  assert.match(String(messages[0].data['text/plain']), /hello: 2 runs/);
});

test('metric history with a vega-lite line chart per metric', async () => {
  const history = await tracker.history([ids.slow, ids.fast], ['loss', 'acc']);
  assert.deepEqual(
    history
      .toRecords()
      .filter(p => p.metric === 'loss' && p.run === ids.fast)
      .map(p => [p.step, p.value]),
    [
      [0, 1],
      [1, 0.5],
      [2, 1 / 3]
    ]
  );
  const [loss, acc] = history.toBundle().charts;
  assert.equal(loss.title, 'loss');
  assert.equal(acc.title, 'acc');
  assert.match(loss.$schema, /vega-lite\/v5/);
  assert.deepEqual((loss.encoding as Record<string, { field: string }>).x.field, 'step');
  assert.equal((loss.data as { values: unknown[] }).values.length, 6);
  // Plain JSON: it survives a round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(history.toBundle())), history.toBundle());
});

test('compare runs and diff their params', async () => {
  const comparison = await tracker.compare([ids.slow, ids.fast]);
  assert.deepEqual(comparison.metrics, ['acc', 'loss']);
  assert.deepEqual(
    comparison
      .toRecords()
      .filter(r => r.metric === 'acc')
      .map(r => [r.runName, r.value]),
    [
      ['slow', 0.7],
      ['fast', 0.9]
    ]
  );
  assert.equal(
    comparison.toBundle().charts[0].mark &&
      (comparison.toBundle().charts[0].mark as { type: string }).type,
    'bar'
  );

  const diff = await tracker.paramsDiff([ids.slow, ids.fast]);
  assert.deepEqual(diff.toRecords(), [
    { key: 'lr', values: { [ids.slow]: '0.001', [ids.fast]: '0.1' } }
  ]);
  assert.deepEqual(
    (await tracker.paramsDiff([ids.slow, ids.fast], { all: true })).toRecords().map(d => d.key),
    ['lr', 'model']
  );
  const { messages } = captured();
  diff.show();
  const data = messages[0].data[MIME.tracker] as TrackerViewData;
  assert.equal(data.view, 'params-diff');
  assert.deepEqual(data.diff, diff.toRecords());
});
