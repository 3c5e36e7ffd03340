/**
 * One tracking scenario for our TypeScript client, asserted with exact read-back. The same code
 * runs against our server and against a real `mlflow server`, which is how we know both speak
 * the same API.
 */
import assert from 'node:assert/strict';
import { RunRecorder, Tracker, type RestStore } from '../../src/track';
import { step, workflow } from '../../src/workflow';

/**
 * `infinity`: our store keeps ±Infinity as logged; MLflow's SQL store clamps it to ±Number.MAX_VALUE
 * (its databases cannot all hold infinities), and the scenario expects each server's own answer.
 */
export async function clientScenario(
  client: RestStore,
  prefix: string,
  infinity: 'kept' | 'clamped' = 'kept'
): Promise<void> {
  const experimentId = await client.createExperiment(`${prefix}-experiment`, undefined, [
    { key: 'team', value: 'ml' }
  ]);
  const experiment = await client.getExperimentByName(`${prefix}-experiment`);
  assert.equal(experiment.experiment_id, experimentId);
  assert.deepEqual(experiment.tags, [{ key: 'team', value: 'ml' }]);

  const run = await client.createRun(experimentId, {
    runName: 'train',
    startTime: 1_700_000_000_000
  });
  const runId = run.info.run_id;
  assert.equal(run.info.run_name, 'train');
  assert.equal(run.info.status, 'RUNNING');

  await client.logParam(runId, 'lr', '0.01');
  await client.setTag(runId, 'stage', 'dev');
  const losses = [1, 0.5, 0.25, NaN, Infinity, -Infinity, 1e-300];
  for (const [step, value] of losses.entries()) {
    await client.logMetric(runId, {
      key: 'loss',
      value,
      step,
      timestamp: 1_700_000_000_000 + step
    });
  }
  await client.logBatch(runId, {
    metrics: Array.from({ length: 1000 }, (_, i) => ({
      key: 'batch',
      value: i / 7,
      step: i,
      timestamp: 1_700_000_000_000
    }))
  });
  await client.logBatch(runId, {
    params: Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'x'.repeat(i * 60) })),
    tags: [{ key: 'unicode', value: 'naïve ✓ 日本' }]
  });
  await client.updateRun(runId, { status: 'FINISHED', endTime: 1_700_000_100_000 });

  const got = await client.getRun(runId);
  assert.equal(got.info.status, 'FINISHED');
  assert.equal(got.info.end_time, 1_700_000_100_000);
  const params = Object.fromEntries(got.data.params.map(p => [p.key, p.value]));
  assert.equal(params.lr, '0.01');
  assert.equal(params.p99, 'x'.repeat(99 * 60));
  const tags = Object.fromEntries(got.data.tags.map(t => [t.key, t.value]));
  assert.equal(tags.stage, 'dev');
  assert.equal(tags.unicode, 'naïve ✓ 日本');
  const latest = Object.fromEntries(got.data.metrics.map(m => [m.key, m]));
  assert.equal(latest.loss.value, 1e-300);
  assert.equal(latest.loss.step, 6);
  assert.equal(latest.batch.value, 999 / 7);

  const history = await client.getFullMetricHistory(runId, 'loss');
  assert.deepEqual(
    history.map(m => [m.step, m.value, m.timestamp]),
    losses.map((value, step) => [
      step,
      infinity === 'clamped' && Math.abs(value) === Infinity
        ? Math.sign(value) * Number.MAX_VALUE
        : value,
      1_700_000_000_000 + step
    ])
  );
  const batch = await client.getFullMetricHistory(runId, 'batch');
  assert.deepEqual(
    batch.map(m => m.value),
    Array.from({ length: 1000 }, (_, i) => i / 7)
  );

  // Searching, ordering and paging.
  for (const [name, acc] of [
    ['a', 0.5],
    ['b', 0.7],
    ['c', 0.9]
  ] as const) {
    const other = await client.createRun(experimentId, { runName: name });
    await client.logMetric(other.info.run_id, {
      key: 'acc',
      value: acc,
      step: 0,
      timestamp: Date.now()
    });
    await client.logParam(other.info.run_id, 'kind', name === 'c' ? 'deep' : 'shallow');
  }
  const found = await client.searchRuns([experimentId], {
    filter: "metrics.acc >= 0.7 and params.kind = 'shallow'"
  });
  assert.deepEqual(
    found.items.map(r => r.info.run_name),
    ['b']
  );
  const ordered: string[] = [];
  let pageToken: string | undefined;
  do {
    const result = await client.searchRuns([experimentId], {
      orderBy: ['metrics.acc DESC'],
      maxResults: 2,
      pageToken
    });
    ordered.push(...result.items.map(r => r.info.run_name));
    pageToken = result.nextPageToken;
  } while (pageToken);
  assert.deepEqual(ordered, ['c', 'b', 'a', 'train']);
  const liked = await client.searchRuns([experimentId], {
    filter: "attributes.run_name LIKE 'tr%'"
  });
  assert.deepEqual(
    liked.items.map(r => r.info.run_id),
    [runId]
  );

  // Artifacts through the proxy.
  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
  await client.uploadArtifact(got.info.artifact_uri, 'model/weights.bin', bytes);
  await client.uploadArtifact(got.info.artifact_uri, 'notes.txt', 'hello');
  assert.deepEqual(
    await client.downloadArtifact(got.info.artifact_uri, 'model/weights.bin'),
    bytes
  );
  const listed = await client.listArtifacts(got.info.artifact_uri);
  assert.deepEqual(
    listed.map(f => [f.path, f.is_dir]),
    [
      ['model', true],
      ['notes.txt', false]
    ]
  );
  await client.deleteArtifact(got.info.artifact_uri, 'notes.txt');
  assert.deepEqual(
    (await client.listArtifacts(got.info.artifact_uri)).map(f => f.path),
    ['model']
  );

  // The model registry.
  const modelName = `${prefix}-model`;
  await client.createRegisteredModel(modelName, {
    description: 'the model',
    tags: [{ key: 'k', value: 'v' }]
  });
  const v1 = await client.createModelVersion(modelName, `${got.info.artifact_uri}/model`, {
    runId
  });
  const v2 = await client.createModelVersion(modelName, `${got.info.artifact_uri}/model`, {
    runId
  });
  assert.deepEqual([v1.version, v2.version], ['1', '2']);
  await client.setRegisteredModelAlias(modelName, 'champion', '1');
  assert.equal((await client.getModelVersionByAlias(modelName, 'champion')).version, '1');
  await client.transitionModelVersionStage(modelName, '1', 'Staging', false);
  await client.transitionModelVersionStage(modelName, '2', 'Staging', true);
  assert.equal((await client.getModelVersion(modelName, '1')).current_stage, 'Archived');
  await client.setModelVersionTag(modelName, '2', 'quality', 'good');
  const version2 = await client.getModelVersion(modelName, '2');
  assert.equal(version2.current_stage, 'Staging');
  assert.deepEqual(version2.tags, [{ key: 'quality', value: 'good' }]);
  const model = await client.getRegisteredModel(modelName);
  assert.equal(model.description, 'the model');
  assert.deepEqual(model.aliases, [{ alias: 'champion', version: '1' }]);
  assert.deepEqual(model.tags, [{ key: 'k', value: 'v' }]);
  const staged = await client.getLatestVersions(modelName, ['Staging']);
  assert.deepEqual(
    staged.map(v => v.version),
    ['2']
  );
  await client.deleteRegisteredModelAlias(modelName, 'champion');
  assert.deepEqual((await client.getRegisteredModel(modelName)).aliases, []);

  // Lifecycle.
  await client.deleteRun(runId);
  assert.equal((await client.getRun(runId)).info.lifecycle_stage, 'deleted');
  const active = await client.searchRuns([experimentId], {});
  assert.equal(active.items.length, 3);
  await client.restoreRun(runId);
  await assert.rejects(client.getRun('0123456789abcdef0123456789abcdef'), {
    errorCode: 'RESOURCE_DOES_NOT_EXIST'
  });
  await assert.rejects(client.createExperiment(`${prefix}-experiment`), {
    errorCode: 'RESOURCE_ALREADY_EXISTS'
  });
}

/**
 * Scanflow's run metadata through a client: recorded with RunRecorder, read back with the notebook
 * layer. Works against any MLflow server, because it is only MLflow runs, tags and artifacts.
 */
export async function metadataScenario(client: RestStore, url: string): Promise<void> {
  const recorder = new RunRecorder(client, client);
  const definition = workflow('recorded-remote', [
    step('prepare', { image: 'python:3.11-slim', command: ['python', 'prepare.py'] }),
    step('train', {
      image: 'python:3.11-slim',
      command: ['python', 'train.py'],
      after: ['prepare']
    })
  ]);
  const t0 = 1_700_000_000_000;
  await recorder.startRun({
    runId: 'r-1',
    workflow: 'recorded-remote',
    definition,
    executor: 'docker',
    time: t0
  });
  const events = [
    { type: 'step-running', step: 'recorded-remote.prepare', attempt: 1, time: t0 + 10 },
    { type: 'step-log', step: 'recorded-remote.prepare', line: 'prepared 10 rows', time: t0 + 20 },
    {
      type: 'step-succeeded',
      step: 'recorded-remote.prepare',
      attempt: 1,
      durationMs: 1500,
      time: t0 + 1510
    },
    { type: 'step-running', step: 'recorded-remote.train', attempt: 1, time: t0 + 1600 },
    {
      type: 'step-failed',
      step: 'recorded-remote.train',
      attempt: 1,
      exitCode: 2,
      error: 'exit code 2',
      time: t0 + 2000
    },
    {
      type: 'run-finished',
      status: 'failed',
      durationMs: 2000,
      error: 'train failed',
      time: t0 + 2100
    }
  ];
  for (const event of events) recorder.observe({ runId: 'r-1', ...event });
  await recorder.idle();

  const tracker = new Tracker(client, url, client);
  const recorded = await tracker.recordedRun('recorded-remote', 'r-1');
  assert.equal(recorded.status, 'failed');
  assert.deepEqual(recorded.definition, JSON.parse(JSON.stringify(definition)));
  assert.deepEqual(
    recorded.steps.map(s => [
      s.step,
      s.image,
      s.needs,
      s.status,
      s.exitCode,
      s.durationSeconds,
      s.logTail
    ]),
    [
      [
        'recorded-remote.prepare',
        'python:3.11-slim',
        [],
        'succeeded',
        0,
        1.5,
        'prepared 10 rows\n'
      ],
      [
        'recorded-remote.train',
        'python:3.11-slim',
        ['recorded-remote.prepare'],
        'failed',
        2,
        undefined,
        undefined
      ]
    ]
  );
  const table = await tracker.runs('recorded-remote');
  assert.deepEqual(
    table.rows.map(r => [r.name, r.status]),
    [['r-1', 'FAILED']]
  );
  const withSteps = await tracker.runs('recorded-remote', {
    includeSteps: true,
    orderBy: ['attributes.start_time ASC']
  });
  assert.deepEqual(
    withSteps.rows.map(r => r.name),
    ['r-1', 'recorded-remote.prepare', 'recorded-remote.train']
  );
}
