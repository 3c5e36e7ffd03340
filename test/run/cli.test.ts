/** `scanflow run` and `scanflow clean` as a user runs them: a separate process, real Docker. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ArtifactStore, SqliteStore, defaultArtifactsDir, loadRecordedRun } from '../../src/track';
import {
  callerStep,
  httpService,
  leftovers,
  nodeStep,
  scanflow,
  testRunId,
  wf,
  writeDefinition
} from './helpers';

/** The hello example's tracking store (next to the workflow), as `scanflow run` leaves it. */
const HELLO_STORE = join(__dirname, '..', '..', 'examples', 'hello', '.scanflow', 'tracking.db');

/** The `pick` step of a recorded hello run: its image, exit code and the metric it logged. */
async function recordedPick(runId: string) {
  const store = new SqliteStore(HELLO_STORE);
  try {
    const run = await loadRecordedRun(
      store,
      new ArtifactStore(defaultArtifactsDir(HELLO_STORE)),
      'hello',
      runId
    );
    const pick = run.steps.find(s => s.step === 'hello.train.pick');
    assert.ok(pick, 'the pick step is recorded');
    const metrics = (await store.getRun(pick.mlflowRunId)).data.metrics;
    return {
      steps: run.steps.length,
      image: pick.image,
      exitCode: pick.exitCode,
      bestMse: metrics.find(m => m.key === 'best_mse')?.value
    };
  } finally {
    store.close();
  }
}

const nothingLeft = { containers: [], networks: [], volumes: [] };

/** Step output lines ("<step> | <line>") of a run's printout, by step. */
function stepLines(stdout: string): Record<string, string[]> {
  const lines: Record<string, string[]> = {};
  for (const match of stdout.matchAll(/^ +(\S+) \| (.*)$/gm)) {
    (lines[match[1]] ??= []).push(match[2]);
  }
  return lines;
}

describe('scanflow run', () => {
  test('runs the hello example on Docker and as local processes, with the same results', async () => {
    const dockerId = testRunId('hello-docker');
    const localId = testRunId('hello-local');
    const workdir = join(__dirname, '..', '..', 'node_modules', '.cache', 'scanflow-test-runs');
    const onDocker = await scanflow([
      'run',
      'examples/hello/workflow.ts',
      '--executor',
      'docker',
      '--run-id',
      dockerId
    ]);
    assert.equal(onDocker.code, 0, onDocker.stderr);
    assert.match(onDocker.stdout, /^run .*: workflow hello, 5 steps, docker executor$/m);
    // The run's tracker listens on the run network's gateway, and the data stays in the project.
    assert.match(
      onDocker.stdout,
      /^tracker for hello: http:\/\/\d+\.\d+\.\d+\.\d+:\d+ \(store .*examples\/hello\/\.scanflow\/tracking\.db\)$/m
    );
    assert.match(
      onDocker.stdout,
      /scanflow tracker --store .*examples\/hello\/\.scanflow\/tracking\.db/
    );
    assert.match(onDocker.stdout, /^ {2}done {3}hello\.train\.pick in \d+\.\d s$/m);
    assert.match(
      onDocker.stdout,
      new RegExp(`succeeded: 5 steps in .*; outputs in Docker volume scanflow-${dockerId}-outputs`)
    );

    const onLocal = await scanflow(
      ['run', 'examples/hello/workflow.ts', '--executor', 'local', '--run-id', localId],
      { env: { ...process.env, TMPDIR: workdir } }
    );
    assert.equal(onLocal.code, 0, onLocal.stderr);
    assert.match(onLocal.stdout, /5 steps, local executor/);
    const expected = {
      'hello.make-data': ['wrote 100 points'],
      'hello.train.models.linear': ['a 2 b 1'],
      'hello.train.models.mean': ['mse 33.33'],
      'hello.train.pick': ['best model: linear'],
      'hello.report': ["best model for the team is linear [ '--audience=team' ]"]
    };
    assert.deepEqual(stepLines(onDocker.stdout), expected);
    assert.deepEqual(stepLines(onLocal.stdout), expected);
    // Both runs are in the tracker, with the metric the pick step logged in its own MLflow run.
    const tracked = { steps: 5, image: 'scanflow/node:20', exitCode: 0, bestMse: 0 };
    assert.deepEqual(await recordedPick(dockerId), tracked);
    assert.deepEqual(await recordedPick(localId), tracked);
    const outputs = join(workdir, 'scanflow-runs', localId, 'outputs');
    assert.equal(readFileSync(join(outputs, 'best', 'name.txt'), 'utf8'), 'linear');
    assert.equal(existsSync(join(workdir, 'scanflow-runs', localId, 'steps')), false);
    rmSync(workdir, { recursive: true, force: true });

    // Only the outputs volume is left, until `scanflow clean` removes it.
    assert.deepEqual(await leftovers(dockerId), {
      ...nothingLeft,
      volumes: [`scanflow-${dockerId}-outputs`]
    });
    const cleaned = await scanflow(['clean', '--run', dockerId]);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.equal(cleaned.stdout, 'removed 0 containers, 0 networks, 1 volumes, 0 run folders\n');
    assert.deepEqual(await leftovers(dockerId), nothingLeft);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} stops the run and removes its containers and network`, async () => {
      const runId = testRunId(signal.toLowerCase());
      const file = writeDefinition(
        wf('interrupted', [
          nodeStep('first', "fs.mkdirSync(O+'/x');console.log('first done')", { outputs: ['x'] }),
          nodeStep('long', "console.log('up');setTimeout(()=>{},120000)"),
          nodeStep('never', "console.log('never')")
        ])
      );
      let interrupted = false;
      const result = await scanflow(['run', file, '--executor', 'docker', '--run-id', runId], {
        onStdout: (stdout, child) => {
          if (!interrupted && stdout.includes('interrupted.long | up')) {
            interrupted = true;
            child.kill(signal);
          }
        }
      });
      assert.ok(interrupted, `the long step never started: ${result.stdout}${result.stderr}`);
      assert.equal(result.code, 130, result.stderr);
      assert.equal(
        result.stderr,
        "scanflow: stopping: removing the run's containers (Ctrl-C again to quit now)\n" +
          `scanflow: run ${runId} was cancelled; its containers and network are removed\n`
      );
      assert.match(result.stdout, /stop {3}interrupted\.long: cancelled/);
      assert.match(result.stdout, /stop {3}interrupted\.never: cancelled/);
      // The outputs of the step that finished are kept; nothing else is.
      assert.deepEqual(await leftovers(runId), {
        ...nothingLeft,
        volumes: [`scanflow-${runId}-outputs`]
      });
      await scanflow(['clean', '--run', runId]);
      assert.deepEqual(await leftovers(runId), nothingLeft);
    });
  }
});

describe('a run with a service', () => {
  test('stays up after its steps, shows the service with its address, and Ctrl-C ends it with exit code 0', async () => {
    const runId = testRunId('cli-service');
    const file = writeDefinition(
      wf('served', [
        nodeStep('prepare', "console.log('prepared')"),
        httpService('api', { port: 8080, healthcheck: { path: '/health', interval: 0.2 } }),
        callerStep('call', 'api')
      ])
    );
    let interrupted = false;
    const result = await scanflow(['run', file, '--executor', 'docker', '--run-id', runId], {
      onStdout: (stdout, child) => {
        if (!interrupted && stdout.includes('no step is left to run')) {
          interrupted = true;
          child.kill('SIGINT');
        }
      }
    });
    assert.ok(interrupted, `the steps never finished: ${result.stdout}${result.stderr}`);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /ready {2}served\.api: http:\/\/api:8080 \(from this machine: http:\/\/127\.0\.0\.1:\d+\)/
    );
    assert.match(result.stdout, /served\.call \| answer: hello from replica 1/);
    assert.match(result.stdout, /stop {3}served\.api: the run was stopped/);
    assert.match(
      result.stdout,
      new RegExp(`run ${runId} succeeded: 3 steps in .*; its service was stopped and removed`)
    );
    assert.deepEqual(await leftovers(runId), nothingLeft);
  });
});

describe('bad input gives one line naming the step and the cause, exit code 1, nothing left', () => {
  const cases: Array<{ name: string; files?: Record<string, string>; step: object; line: RegExp }> =
    [
      {
        name: 'missing-image',
        step: { kind: 'step', name: 'x', image: 'nonexistent/image:1', command: ['true'] },
        line: /^scanflow: step missing-image\.x: image 'nonexistent\/image:1' is not on this machine and could not be pulled \(.+\)\. Fix: build or pull it first \(`docker pull nonexistent\/image:1`\), or use another image \(run .*\)$/
      },
      {
        name: 'failing-build',
        files: { Dockerfile: 'FROM scanflow/debian:bookworm\nRUN false\n' },
        step: { kind: 'step', name: 'x', dockerfile: 'Dockerfile', command: ['true'] },
        line: /^scanflow: step failing-build\.x: the image did not build: The command '\/bin\/sh -c false' returned a non-zero code: 1\. Fix: fix the Dockerfile or its build context \(run .*\)$/
      },
      {
        name: 'no-command',
        step: { kind: 'step', name: 'x', image: 'scanflow/node:20', command: ['no-such-command'] },
        line: /^scanflow: step no-command\.x: command 'no-such-command' was not found in image 'scanflow\/node:20'\. Fix: check the step's 'command' .*\(run .*: 0 succeeded, 1 failed, 0 skipped\)$/
      }
    ];
  for (const { name, files, step, line } of cases) {
    test(name, async () => {
      const runId = testRunId(name);
      const file = writeDefinition(wf(name, [step as never]), files);
      const result = await scanflow(['run', file, '--executor', 'docker', '--run-id', runId]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, result.stderr);
      assert.match(result.stderr.trim(), line);
      assert.deepEqual(await leftovers(runId), nothingLeft);
    });
  }

  test('bad options are refused before anything runs, with exit code 2', async () => {
    const result = await scanflow([
      'run',
      'examples/hello/workflow.yaml',
      '-j',
      '0',
      '-e',
      'local'
    ]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      'scanflow: --concurrency 0 is not a whole number of 1 or more. Fix: give --concurrency a whole number such as 2.\n'
    );
    const tracker = await scanflow(['run', 'examples/hello/workflow.yaml', '--tracker', 'mlflow']);
    assert.equal(tracker.code, 2);
    assert.equal(
      tracker.stderr,
      "scanflow: --tracker 'mlflow' is not a URL. Fix: give the tracker's address, e.g. http://127.0.0.1:5000.\n"
    );
  });

  test('an engine that does not answer', async () => {
    const file = writeDefinition(wf('no-daemon', [nodeStep('x', "console.log('ran locally')")]));
    const env = { ...process.env, DOCKER_HOST: 'unix:///tmp/scanflow-no-such-docker.sock' };
    const explicit = await scanflow(['run', file, '--executor', 'docker'], { env });
    assert.equal(explicit.code, 1);
    assert.match(
      explicit.stderr,
      /^scanflow: the Docker engine at unix:\/\/\/tmp\/scanflow-no-such-docker\.sock does not answer \(.*\)\. Fix: start it .*, or run with --executor local \(run .*\)\n$/
    );
    // Without --executor, the steps run as local processes, with a one-line notice.
    const auto = await scanflow(['run', file], { env });
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(
      auto.stdout,
      /^note: no Docker engine answers at .*: running the steps as local processes$/m
    );
    assert.match(auto.stdout, /no-daemon\.x \| ran locally/);
  });
});
