/**
 * Runs record themselves in an embedded tracker, for real: steps log through MLflow's REST API
 * (what every MLflow client sends) to the tracker the run started, and the run is rebuilt from the
 * store alone once the tracker is gone.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runWorkflow, type RunOptions, type RunResult } from '../../src/run';
import {
  ArtifactStore,
  SqliteStore,
  defaultArtifactsDir,
  loadRecordedRun,
  startTracker,
  type RecordedRun
} from '../../src/track';
import type { WorkflowSpec } from '../../src/workflow';
import {
  leftovers,
  nodeStep,
  removeRunVolumes,
  scanflow,
  testRunId,
  wf,
  writeDefinition
} from './helpers';

const folders: string[] = [];
const runIds: string[] = [];
after(async () => {
  folders.forEach(dir => rmSync(dir, { recursive: true, force: true }));
  for (const id of runIds) await removeRunVolumes(id).catch(() => undefined);
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-tracking-test-'));
  folders.push(dir);
  return dir;
}

/**
 * A step that logs one metric to its own MLflow run, as an MLflow client does on the wire (with
 * MLFLOW_TRACKING_TOKEN as a bearer token), after checking that a request without it is refused.
 */
const logMetric = (key: string, value: number): string =>
  'const u=process.env.MLFLOW_TRACKING_URI,id=process.env.MLFLOW_RUN_ID;' +
  "console.log('tracker',u,'run',id);" +
  "fetch(u+'/api/2.0/mlflow/experiments/search?max_results=1').then(r=>{console.log('anonymous',r.status);" +
  "return fetch(u+'/api/2.0/mlflow/runs/log-metric',{method:'POST',headers:{'content-type':'application/json'," +
  "authorization:'Bearer '+process.env.MLFLOW_TRACKING_TOKEN}," +
  `body:JSON.stringify({run_id:id,key:'${key}',value:${value},timestamp:Date.now(),step:0})})})` +
  `.then(r=>{console.log('logged ${key}',r.status);if(!r.ok)process.exit(1)},e=>{console.log('no tracker',e.cause??e);process.exit(2)})`;

function definition(): WorkflowSpec {
  const inner = wf('inner', [nodeStep('eval', logMetric('loss', 0.25))]);
  inner.tracker = { scope: 'workflow' };
  return wf('trk', [
    nodeStep('train', logMetric('acc', 0.91)),
    inner,
    nodeStep('fail', "console.log('about to fail');process.exit(3)")
  ]);
}

/** Whether something on this machine still listens on the port (IPv4, any address). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .some(line => {
      const fields = line.trim().split(/\s+/);
      return fields[1]?.endsWith(`:${hex}`) && fields[3] === '0A';
    });
}

/** Opens a store the way a user would afterwards, reads one run back, and closes it. */
async function recorded(store: string, workflow: string, runId: string) {
  const sqlite = new SqliteStore(store);
  try {
    const run = await loadRecordedRun(
      sqlite,
      new ArtifactStore(defaultArtifactsDir(store)),
      workflow,
      runId
    );
    const metrics = new Map<string, Record<string, number>>();
    for (const step of run.steps) {
      const mlflow = await sqlite.getRun(step.mlflowRunId);
      metrics.set(step.step, Object.fromEntries(mlflow.data.metrics.map(m => [m.key, m.value])));
    }
    return { run, metrics };
  } finally {
    sqlite.close();
  }
}

const step = (run: RecordedRun, id: string) => {
  const found = run.steps.find(s => s.step === id);
  assert.ok(found, `${id} is recorded (got ${run.steps.map(s => s.step).join(', ')})`);
  return found;
};

async function checkRun(
  result: RunResult,
  spec: WorkflowSpec,
  base: string,
  expectedHost: (host: string) => void
): Promise<void> {
  assert.equal(result.status, 'failed');
  const shared = join(base, '.scanflow', 'tracking.db');
  const own = join(base, '.scanflow', 'trackers', 'trk.inner.db');
  assert.deepEqual(
    result.trackers?.map(t => [t.workflow, t.store, t.experiment]),
    [
      ['trk', shared, 'trk'],
      ['trk.inner', own, 'trk.inner']
    ]
  );
  for (const tracker of result.trackers ?? []) {
    assert.ok(tracker.url, `tracker for ${tracker.workflow} was served`);
    const url = new URL(tracker.url);
    expectedHost(url.hostname);
    assert.equal(listening(Number(url.port)), false, `${tracker.url} is closed after the run`);
  }

  const main = await recorded(shared, 'trk', result.id);
  assert.deepEqual(main.run.definition, spec);
  assert.equal(main.run.status, 'failed');
  assert.deepEqual(
    main.run.steps.map(s => s.step),
    ['trk.train', 'trk.fail']
  );
  const train = step(main.run, 'trk.train');
  assert.equal(train.image, 'scanflow/node:20');
  assert.equal(train.status, 'succeeded');
  assert.equal(train.exitCode, 0);
  assert.match(train.logTail ?? '', /anonymous 401\nlogged acc 200/);
  assert.ok((train.durationSeconds ?? -1) >= 0);
  assert.deepEqual(main.metrics.get('trk.train'), {
    acc: 0.91,
    attempts: 1,
    exit_code: 0,
    duration_seconds: train.durationSeconds
  });
  const fail = step(main.run, 'trk.fail');
  assert.equal(fail.status, 'failed');
  assert.equal(fail.exitCode, 3);
  assert.equal(fail.logTail, 'about to fail\n');
  assert.deepEqual(fail.needs, ['trk.inner.eval']);

  // The sub-workflow with a tracker of its own wrote into its own store, and only there.
  const inner = await recorded(own, 'trk.inner', result.id);
  assert.deepEqual(inner.run.definition, spec);
  assert.deepEqual(
    inner.run.steps.map(s => s.step),
    ['trk.inner.eval']
  );
  assert.equal(inner.metrics.get('trk.inner.eval')?.loss, 0.25);
  assert.match(step(inner.run, 'trk.inner.eval').logTail ?? '', /logged loss 200/);
}

function run(spec: WorkflowSpec, name: string, options: RunOptions) {
  const runId = testRunId(name);
  runIds.push(runId);
  return runWorkflow(spec, { runId, retryDelayMs: 200, handleSignals: false, ...options });
}

describe('embedded tracker of a run', () => {
  test('docker: steps log to the tracker on the run network; the run is rebuilt from the stores', async () => {
    const base = freshDir();
    const spec = definition();
    const handle = run(spec, 'track-docker', { executor: 'docker', baseDir: base });
    const result = await handle.done;
    await checkRun(result, spec, base, host => {
      // The run network's gateway: neither loopback nor every address.
      assert.match(host, /^\d+\.\d+\.\d+\.\d+$/);
      assert.notEqual(host, '127.0.0.1');
      assert.notEqual(host, '0.0.0.0');
    });
    assert.deepEqual(
      handle.history().flatMap(e => (e.type === 'tracker-started' ? [[e.workflow, e.url]] : [])),
      result.trackers?.map(t => [t.workflow, t.url])
    );
    assert.deepEqual(await leftovers(result.id), { containers: [], networks: [], volumes: [] });
  });

  test('local: the same with processes and a tracker on 127.0.0.1', async () => {
    const base = freshDir();
    const spec = definition();
    const result = await run(spec, 'track-local', { executor: 'local', baseDir: base }).done;
    await checkRun(result, spec, base, host => assert.equal(host, '127.0.0.1'));
  });

  test('local: the Python mlflow client logs into the step run', async t => {
    const python = join(__dirname, '..', '..', '.venv', 'bin', 'python');
    if (!existsSync(python)) {
      t.skip('no .venv with mlflow');
      return;
    }
    const base = freshDir();
    const spec: WorkflowSpec = wf('pytrk', [
      {
        kind: 'step',
        name: 'fit',
        // The local executor runs the command as it is; the image only matters on Docker.
        image: 'python:3.11-slim',
        command: [python, '-c', "import mlflow; mlflow.log_metric('py_acc', 0.5); print('ok')"]
      }
    ]);
    const result = await run(spec, 'track-python', {
      executor: 'local',
      baseDir: base,
      store: 'runs.db'
    }).done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    const { run: recordedRun, metrics } = await recorded(join(base, 'runs.db'), 'pytrk', result.id);
    assert.equal(step(recordedRun, 'pytrk.fit').exitCode, 0);
    assert.equal(metrics.get('pytrk.fit')?.py_acc, 0.5);
  });

  test('a cancelled run is recorded as killed and its tracker stopped', async () => {
    const base = freshDir();
    const spec = wf('stopped', [
      nodeStep('slow', "console.log('waiting');setTimeout(()=>{},60000)"),
      nodeStep('never', "console.log('never')")
    ]);
    const handle = run(spec, 'track-cancel', { executor: 'local', baseDir: base });
    await new Promise<void>(resolve =>
      handle.on(e => {
        if (e.type === 'step-log' && e.line === 'waiting') resolve();
      })
    );
    const result = await handle.cancel();
    assert.equal(result.status, 'cancelled');
    const [tracker] = result.trackers ?? [];
    assert.ok(tracker?.url);
    assert.equal(listening(Number(new URL(tracker.url).port)), false);
    const store = new SqliteStore(tracker.store);
    try {
      const recordedRun = await loadRecordedRun(
        store,
        new ArtifactStore(tracker.artifacts),
        'stopped',
        result.id
      );
      assert.equal(recordedRun.status, 'cancelled');
      assert.equal((await store.getRun(recordedRun.mlflowRunId)).info.status, 'KILLED');
      assert.deepEqual(
        recordedRun.steps.map(s => [s.step, s.status]),
        [
          ['stopped.slow', 'cancelled'],
          ['stopped.never', 'cancelled']
        ]
      );
      assert.equal(step(recordedRun, 'stopped.slow').logTail, 'waiting\n');
    } finally {
      store.close();
    }
  });

  test('a run that fails before its steps (a missing image) is recorded, with no server', async () => {
    const base = freshDir();
    const spec = wf('unbuilt', [
      nodeStep('ok', "console.log('fine')"),
      nodeStep('ghost', "console.log('never')", { image: 'scanflow/no-such-image:never' })
    ]);
    const handle = run(spec, 'track-missing', { executor: 'docker', baseDir: base });
    const result = await handle.done;
    assert.equal(result.status, 'failed');
    assert.equal(
      handle.history().some(e => e.type === 'tracker-started'),
      false
    );
    const [tracker] = result.trackers ?? [];
    assert.equal(tracker?.url, undefined);
    const { run: recordedRun } = await recorded(tracker.store, 'unbuilt', result.id);
    assert.equal(recordedRun.status, 'failed');
    assert.deepEqual(recordedRun.definition, spec);
    assert.deepEqual(Object.fromEntries(recordedRun.steps.map(s => [s.step, s.status])), {
      'unbuilt.ok': 'skipped',
      'unbuilt.ghost': 'failed'
    });
    assert.equal(step(recordedRun, 'unbuilt.ghost').image, 'scanflow/no-such-image:never');
    assert.deepEqual(await leftovers(result.id), { containers: [], networks: [], volumes: [] });
  });

  test('an external tracker, or tracking off, starts no embedded tracker', async () => {
    const base = freshDir();
    const spec = wf('plain', [
      nodeStep('one', "console.log(process.env.MLFLOW_TRACKING_URI ?? 'none')")
    ]);
    const off = await run(spec, 'track-off', { executor: 'local', baseDir: base, tracking: false })
      .done;
    assert.equal(off.status, 'succeeded');
    assert.equal(off.trackers, undefined);
    const unreachable = run(spec, 'track-external', {
      executor: 'local',
      baseDir: base,
      tracker: 'http://127.0.0.1:5999'
    });
    const external = await unreachable.done;
    assert.equal(external.status, 'succeeded');
    assert.equal(external.trackers, undefined);
    assert.equal(existsSync(join(base, '.scanflow')), false);
    // Nothing answers there: the run goes on, and says it is not recorded.
    assert.ok(
      unreachable
        .history()
        .some(
          e => e.type === 'notice' && /not recorded in http:\/\/127\.0\.0\.1:5999/.test(e.message)
        )
    );
  });

  test('an external tracker records the run too: definition, step runs, and what the steps log', async () => {
    const server = await startTracker({ storePath: join(freshDir(), 'external.db') });
    try {
      const spec = wf('ext', [
        nodeStep('train', logMetric('acc', 0.5)),
        nodeStep('report', "console.log('done')")
      ]);
      const base = freshDir();
      const result = await run(spec, 'track-ext', {
        executor: 'local',
        baseDir: base,
        tracker: server.url
      }).done;
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(result.trackers ?? [], [], 'no embedded tracker was started');
      assert.equal(existsSync(join(base, '.scanflow')), false);
      const recordedRun = await loadRecordedRun(server.store, server.artifacts, 'ext', result.id);
      assert.deepEqual(recordedRun.definition, spec);
      assert.equal(recordedRun.status, 'succeeded');
      assert.deepEqual(
        recordedRun.steps.map(s => [s.step, s.status, s.exitCode]),
        [
          ['ext.train', 'succeeded', 0],
          ['ext.report', 'succeeded', 0]
        ]
      );
      const train = step(recordedRun, 'ext.train');
      assert.match(train.logTail ?? '', /logged acc 200/);
      const metrics = (await server.store.getRun(train.mlflowRunId)).data.metrics;
      assert.equal(metrics.find(m => m.key === 'acc')?.value, 0.5);
    } finally {
      await server.close();
    }
  });

  test('scanflow run prints where the tracker is and where the data stays', async () => {
    const file = writeDefinition(wf('cli-trk', [nodeStep('one', logMetric('m', 1))]));
    const store = join(freshDir(), 'cli.db');
    const result = await scanflow(['run', file, '-e', 'local', '--store', store]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /tracker for cli-trk: http:\/\/127\.0\.0\.1:\d+ \(store .*cli\.db\)/
    );
    assert.match(result.stdout, /logged m 200/);
    assert.match(
      result.stdout,
      new RegExp(`scanflow tracker --store ${store.replace(/[.]/g, '\\.')}`)
    );
    const plain = writeDefinition(wf('cli-off', [nodeStep('one', "console.log('hi')")]));
    const off = await scanflow(['run', plain, '-e', 'local', '--no-tracker']);
    assert.equal(off.code, 0, off.stderr);
    assert.doesNotMatch(off.stdout + off.stderr, /tracker/);
  });
});
