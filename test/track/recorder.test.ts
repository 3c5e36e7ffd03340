/**
 * Scanflow's own run metadata in the tracker: a real run of the run engine (local executor) is
 * recorded through RunRecorder, then rebuilt from the tracker alone over HTTP: the definition, each
 * step's image, dependencies, outcome, exit code, duration and log tail.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { runWorkflow } from '../../src/run';
import { RestStore, RunRecorder, Tracker, loadRecordedRun, startTracker } from '../../src/track';
import { step, workflow } from '../../src/workflow';
import { temporaryFolder } from './helpers';

const folder = temporaryFolder('recorder');
after(() => folder.remove());

test(
  'a run is recorded as MLflow runs and rebuilt from the tracker alone',
  { timeout: 120_000 },
  async () => {
    const tracker = await startTracker({ storePath: `${folder.path}/tracker.db` });
    const client = new RestStore(tracker.url);
    try {
      const spec = workflow('recorded', [
        step('prepare', {
          image: 'scanflow/node:20',
          command: ['node', '-e', 'for (let i = 0; i < 150; i++) console.log("line " + i)']
        }),
        step('train', {
          image: 'scanflow/node:20',
          command: ['node', '-e', 'console.error("diverged"); process.exit(3)'],
          after: ['prepare']
        })
      ]);
      const recorder = new RunRecorder(tracker.store, tracker.artifacts);
      const run = runWorkflow(spec, {
        executor: 'local',
        tracker: tracker.url,
        handleSignals: false,
        runId: 'run-1'
      });
      await recorder.startRun({
        runId: run.id,
        workflow: spec.name,
        definition: spec,
        executor: 'local'
      });
      run.on(event => recorder.observe(event));
      const result = await run.done;
      await recorder.idle();
      assert.equal(result.status, 'failed');

      const recorded = await loadRecordedRun(client, client, 'recorded', 'run-1');
      assert.equal(recorded.status, 'failed');
      assert.deepEqual(recorded.definition, JSON.parse(JSON.stringify(spec)));
      assert.deepEqual(
        recorded.steps.map(s => [s.step, s.image, s.needs, s.status, s.exitCode]),
        [
          ['recorded.prepare', 'scanflow/node:20', [], 'succeeded', 0],
          ['recorded.train', 'scanflow/node:20', ['recorded.prepare'], 'failed', 3]
        ]
      );
      const [prepare, train] = recorded.steps;
      assert.ok((prepare.durationSeconds ?? -1) >= 0);
      assert.ok(prepare.endTime !== undefined && prepare.endTime <= (train.endTime ?? 0));
      // The log tail keeps the last 100 lines.
      const tail = (prepare.logTail ?? '').trimEnd().split('\n');
      assert.equal(tail.length, 100);
      assert.equal(tail[0], 'line 50');
      assert.equal(tail[99], 'line 149');
      assert.match(train.logTail ?? '', /diverged/);

      // The notebook's Tracker reads the same record.
      const notebook = Tracker.connect(tracker.url);
      assert.deepEqual(await notebook.recordedRun('recorded', 'run-1'), recorded);
      notebook.close();

      // Any MLflow client sees the same thing: the step runs are nested under the run.
      const mlflowRun = await client.getRun(train.mlflowRunId);
      assert.equal(mlflowRun.info.status, 'FAILED');
      assert.equal(
        mlflowRun.data.tags.find(t => t.key === 'mlflow.parentRunId')?.value,
        recorded.mlflowRunId
      );
    } finally {
      client.close();
      await tracker.close();
    }
  }
);

test('a tracker that is down does not stop the recorder from taking events; idle() reports it', async () => {
  const gone = await startTracker({ storePath: `${folder.path}/gone.db` });
  const url = gone.url;
  await gone.close();
  const client = new RestStore(url, { timeoutMs: 2000 });
  const recorder = new RunRecorder(client, client);
  assert.doesNotThrow(() => {
    recorder.observe({
      type: 'run-started',
      runId: 'r',
      time: 0,
      workflow: 'w',
      executor: 'local',
      steps: []
    });
    recorder.observe({ type: 'step-log', runId: 'r', time: 0, step: 'w.a', line: 'x' });
    recorder.observe({ type: 'run-finished', runId: 'r', time: 1, status: 'succeeded' });
  });
  await assert.rejects(recorder.idle(), /ECONNREFUSED/);
  client.close();
});
