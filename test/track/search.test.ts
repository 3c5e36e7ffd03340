/**
 * MLflow's search syntax on the SQLite store: filters on metrics, params, tags, attributes and
 * datasets; order_by with missing values last; page tokens; experiment and registry searches.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SqliteStore, parseFilter } from '../../src/track';

const store = new SqliteStore(':memory:');
let experimentId: string;
const ids: Record<string, string> = {};

before(async () => {
  experimentId = await store.createExperiment('search', undefined, [
    { key: 'team', value: 'vision' }
  ]);
  await store.createExperiment('other-experiment');
  const runs: Array<[string, number | undefined, string, string]> = [
    ['alpha', 0.5, 'cnn', 'Baseline'],
    ['beta', 0.9, 'cnn', 'tuned'],
    ['gamma', NaN, 'mlp', 'tuned'],
    ['delta', undefined, 'mlp', 'new']
  ];
  for (const [i, [name, acc, model, note]] of runs.entries()) {
    const run = await store.createRun(experimentId, { runName: name, startTime: 1000 + i });
    ids[name] = run.info.run_id;
    await store.logBatch(run.info.run_id, {
      metrics: acc === undefined ? [] : [{ key: 'val acc', value: acc, step: 0, timestamp: 0 }],
      params: [{ key: 'model', value: model }],
      tags: [{ key: 'note', value: note }]
    });
  }
  await store.logInputs(ids.alpha, [
    {
      tags: [{ key: 'mlflow.data.context', value: 'training' }],
      dataset: { name: 'mnist', digest: 'abc123', source_type: 'local', source: '/data/mnist' }
    }
  ]);
  await store.updateRun(ids.delta, { status: 'FAILED', endTime: 5000 });
});

async function names(filter: string, orderBy?: string[]): Promise<string[]> {
  const page = await store.searchRuns([experimentId], { filter, orderBy });
  return page.items.map(r => r.info.run_name);
}

test('filters on metrics (backquoted keys), params, tags and attributes', async () => {
  assert.deepEqual(await names('metrics.`val acc` > 0.6'), ['beta']);
  assert.deepEqual(await names("params.model = 'mlp'", ['attributes.run_name ASC']), [
    'delta',
    'gamma'
  ]);
  assert.deepEqual(await names("params.model != 'mlp' and tags.note = 'tuned'"), ['beta']);
  assert.deepEqual(await names("tags.note LIKE 'b%'"), []);
  assert.deepEqual(await names("tags.note ILIKE 'b%'"), ['alpha']);
  assert.deepEqual(await names("attributes.status = 'FAILED'"), ['delta']);
  assert.deepEqual(await names('attributes.start_time >= 1002', ['start_time ASC']), [
    'gamma',
    'delta'
  ]);
  assert.deepEqual(
    await names(`attributes.run_id IN ('${ids.alpha}', '${ids.gamma}')`, ['run_name']),
    ['alpha', 'gamma']
  );
  assert.deepEqual(await names("run_name NOT IN ('alpha', 'beta')", ['run_name DESC']), [
    'gamma',
    'delta'
  ]);
  assert.deepEqual(await names('metrics.`val acc` IS NULL'), ['delta']);
  assert.deepEqual(await names("datasets.name = 'mnist' and datasets.context = 'training'"), [
    'alpha'
  ]);
  assert.deepEqual(await names('params."model" = "cnn"', ['run_name']), ['alpha', 'beta']);
});

test('order_by puts missing and NaN values last in both directions', async () => {
  assert.deepEqual(await names('', ['metrics.`val acc` DESC']), [
    'beta',
    'alpha',
    'delta',
    'gamma'
  ]);
  assert.deepEqual(await names('', ['metrics.`val acc` ASC']), ['alpha', 'beta', 'delta', 'gamma']);
  // Without order_by: newest first, as MLflow.
  assert.deepEqual(await names(''), ['delta', 'gamma', 'beta', 'alpha']);
});

test('page tokens walk every run exactly once', async () => {
  const seen: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await store.searchRuns([experimentId], {
      maxResults: 3,
      pageToken,
      orderBy: ['run_name']
    });
    seen.push(...page.items.map(r => r.info.run_name));
    pageToken = page.nextPageToken;
  } while (pageToken);
  assert.deepEqual(seen, ['alpha', 'beta', 'delta', 'gamma']);
});

test('deleted runs and experiments follow view types', async () => {
  await store.deleteRun(ids.gamma);
  assert.deepEqual(await names("params.model = 'mlp'"), ['delta']);
  const deleted = await store.searchRuns([experimentId], { viewType: 'DELETED_ONLY' });
  assert.deepEqual(
    deleted.items.map(r => r.info.run_name),
    ['gamma']
  );
  await assert.rejects(
    store.logMetric(ids.gamma, { key: 'x', value: 1, step: 0, timestamp: 0 }),
    /must be in the 'active' state/
  );
  await store.restoreRun(ids.gamma);

  const other = await store.getExperimentByName('other-experiment');
  await store.deleteExperiment(other.experiment_id);
  const active = await store.searchExperiments({ orderBy: ['name ASC'] });
  assert.deepEqual(
    active.items.map(e => e.name),
    ['Default', 'search']
  );
  const all = await store.searchExperiments({ viewType: 'ALL', filter: "name LIKE '%experiment'" });
  assert.deepEqual(
    all.items.map(e => e.name),
    ['other-experiment']
  );
  assert.deepEqual(
    (await store.searchExperiments({ filter: "tags.team = 'vision'" })).items.map(e => e.name),
    ['search']
  );
  await assert.rejects(
    store.createExperiment('other-experiment'),
    /already exists in deleted state/
  );
});

test('registered models and versions are searchable', async () => {
  await store.createRegisteredModel('digits', { tags: [{ key: 'task', value: 'vision' }] });
  await store.createRegisteredModel('prices');
  await store.createModelVersion('digits', `runs:/${ids.alpha}/model`, { runId: ids.alpha });
  await store.createModelVersion('digits', 'models:/elsewhere/1', { runId: ids.beta });
  const models = await store.searchRegisteredModels({ filter: "tags.task = 'vision'" });
  assert.deepEqual(
    models.items.map(m => m.name),
    ['digits']
  );
  assert.deepEqual(
    (await store.searchRegisteredModels({ filter: "name LIKE 'p%'" })).items.map(m => m.name),
    ['prices']
  );
  const versions = await store.searchModelVersions({ filter: `run_id = '${ids.beta}'` });
  assert.deepEqual(
    versions.items.map(v => [v.name, v.version]),
    [['digits', '2']]
  );
  await store.renameRegisteredModel('digits', 'mnist-digits');
  assert.equal((await store.getModelVersion('mnist-digits', '2')).source, 'models:/elsewhere/1');
  assert.equal(
    await store.getModelVersionDownloadUri('mnist-digits', '1'),
    `mlflow-artifacts:/${experimentId}/${ids.alpha}/artifacts/model`
  );
});

test('the filter parser names what is wrong', () => {
  assert.deepEqual(parseFilter("metrics.acc>0.5 AND tags.`a b` != 'x y'"), [
    { entity: 'metric', key: 'acc', op: '>', value: 0.5 },
    { entity: 'tag', key: 'a b', op: '!=', value: 'x y' }
  ]);
  assert.throws(() => parseFilter('bogus.acc > 1'), /'bogus' is not a known entity/);
  assert.throws(() => parseFilter("params.a = 'x"), /unterminated quote/);
  assert.throws(() => parseFilter('metrics.acc >'), /missing its value/);
  assert.throws(() => parseFilter("params.a = 'x' params.b = 'y'"), /joined by AND/);
});
