/** The engine's pure parts: build-context hashing, step environments, tracker addresses, build output. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { reachableFromContainers } from '../../src/run/docker/container-config';
import { EventLog } from '../../src/run/events';
import { BuildTrace } from '../../src/run/docker/build-trace';
import { contextHash, ignoreRules } from '../../src/run/docker/images';
import { pipTarget } from '../../src/run/docker/wheels';
import { stepEnvironment, trackerFor } from '../../src/run/step-env';
import { buildGraph } from '../../src/workflow';
import { nodeStep, wf } from './helpers';

describe('build context hash', () => {
  test('is stable, and changes with a file, its mode, its name and the Dockerfile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanflow-hash-'));
    try {
      writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
      writeFileSync(join(dir, 'a.txt'), 'one');
      const first = contextHash(dir, 'Dockerfile');
      assert.equal(contextHash(dir, 'Dockerfile'), first, 'the same context hashes the same');
      writeFileSync(join(dir, 'a.txt'), 'two');
      const changed = contextHash(dir, 'Dockerfile');
      assert.notEqual(changed, first);
      chmodSync(join(dir, 'a.txt'), 0o755);
      const executable = contextHash(dir, 'Dockerfile');
      assert.notEqual(executable, changed);
      assert.notEqual(contextHash(dir, 'other/Dockerfile'), executable);
      assert.notEqual(contextHash(dir, 'Dockerfile', 'FROM x\n'), executable);
      rmSync(join(dir, 'a.txt'));
      writeFileSync(join(dir, 'b.txt'), 'two');
      chmodSync(join(dir, 'b.txt'), 0o755);
      assert.notEqual(contextHash(dir, 'Dockerfile'), executable, 'a renamed file counts');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('.dockerignore', () => {
  test('what it names is neither hashed nor sent; the Dockerfile always is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanflow-ignore-'));
    try {
      writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
      writeFileSync(join(dir, '.dockerignore'), '# comment\n*.log\nDockerfile\n');
      writeFileSync(join(dir, 'keep.txt'), 'kept');
      const ignored = ignoreRules(dir, 'Dockerfile');
      assert.deepEqual(['', 'Dockerfile', '.dockerignore', 'keep.txt', 'run.log'].map(ignored), [
        false,
        false,
        false,
        false,
        true
      ]);
      const before = contextHash(dir, 'Dockerfile', undefined, ignored);
      writeFileSync(join(dir, 'run.log'), 'noise');
      assert.equal(contextHash(dir, 'Dockerfile', undefined, ignored), before);
      writeFileSync(join(dir, 'keep.txt'), 'changed');
      assert.notEqual(contextHash(dir, 'Dockerfile', undefined, ignored), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('step environment', () => {
  const graph = buildGraph(
    wf('env', [
      {
        kind: 'workflow',
        name: 'inner',
        tracker: { scope: 'shared', experiment: 'inner-exp' },
        steps: [
          nodeStep('s', '', {
            env: { SCANFLOW_STEP: 'mine', OWN: '1' },
            parameters: { 'batch-size': 32, fast: true }
          })
        ]
      }
    ])
  );
  const [step] = graph.steps;

  test("scanflow's variables win over the step's own, and parameters become variables", () => {
    const env = stepEnvironment(
      { runId: 'r1', tracker: 'http://t:5000' },
      graph,
      step,
      'env.inner',
      2
    );
    assert.deepEqual(env, {
      SCANFLOW_PARAM_BATCH_SIZE: '32',
      SCANFLOW_PARAM_FAST: 'true',
      OWN: '1',
      SCANFLOW_STEP: 'env.inner.s',
      SCANFLOW_RUN_ID: 'r1',
      SCANFLOW_WORKFLOW: 'env.inner',
      SCANFLOW_ATTEMPT: '2',
      MLFLOW_TRACKING_URI: 'http://t:5000',
      SCANFLOW_TRACKER_URI: 'http://t:5000',
      MLFLOW_DISABLE_TELEMETRY: 'true',
      MLFLOW_EXPERIMENT_NAME: 'inner-exp'
    });
  });

  test("MLflow telemetry is off in steps that log to a tracker, unless the step's env says so", () => {
    const telemetry = (env?: Record<string, string>): string | undefined => {
      const own = buildGraph(wf('t', [nodeStep('s', '', { env })]));
      const tracked = stepEnvironment(
        { runId: 'r', tracker: 'http://t:1' },
        own,
        own.steps[0],
        't',
        1
      );
      return tracked.MLFLOW_DISABLE_TELEMETRY;
    };
    assert.equal(telemetry(), 'true');
    assert.equal(telemetry({ MLFLOW_DISABLE_TELEMETRY: 'false' }), 'false');
  });

  test('each workflow with a tracker of its own sends its steps there', () => {
    const nested = buildGraph({
      ...wf('root', [
        nodeStep('top', ''),
        {
          kind: 'workflow',
          name: 'own',
          tracker: { url: 'http://own:1', experiment: 'own-exp' },
          steps: [
            nodeStep('a', ''),
            {
              kind: 'workflow',
              name: 'shared',
              tracker: { scope: 'shared' },
              steps: [nodeStep('b', '')]
            }
          ]
        },
        { kind: 'workflow', name: 'given', steps: [nodeStep('c', '')] }
      ]),
      tracker: { url: 'http://root:1', experiment: 'root-exp' }
    });
    const where = (run: Parameters<typeof trackerFor>[2]) =>
      Object.fromEntries(nested.steps.map(s => [s.id, trackerFor(nested, s, run)]));
    assert.deepEqual(where({ runId: 'r', trackers: { 'root.given': 'http://given:1' } }), {
      'root.top': { url: 'http://root:1', experiment: 'root-exp' },
      'root.own.a': { url: 'http://own:1', experiment: 'own-exp' },
      'root.own.shared.b': { url: 'http://own:1', experiment: 'own-exp' },
      'root.given.c': { url: 'http://given:1', experiment: 'root-exp' }
    });
    // The run's tracker replaces the root's, not those the nested workflows declare.
    const withRunTracker = where({ runId: 'r', tracker: 'http://cli:1' });
    assert.equal(withRunTracker['root.top'].url, 'http://cli:1');
    assert.equal(withRunTracker['root.given.c'].url, 'http://cli:1');
    assert.equal(withRunTracker['root.own.shared.b'].url, 'http://own:1');
  });

  test('a tracker on the loopback address is reached through host.docker.internal', () => {
    const rewrite = (url: string) =>
      reachableFromContainers({ MLFLOW_TRACKING_URI: url, OTHER: url }).MLFLOW_TRACKING_URI;
    assert.equal(rewrite('http://127.0.0.1:5000'), 'http://host.docker.internal:5000');
    assert.equal(
      rewrite('http://localhost:5000/mlflow/'),
      'http://host.docker.internal:5000/mlflow/'
    );
    assert.equal(rewrite('http://[::1]:5000'), 'http://host.docker.internal:5000');
    assert.equal(rewrite('http://tracker.lan:5000'), 'http://tracker.lan:5000');
    assert.equal(rewrite('./mlruns'), './mlruns');
    assert.equal(
      reachableFromContainers({ OTHER: 'http://127.0.0.1:1' }).OTHER,
      'http://127.0.0.1:1',
      'only the tracker variables are rewritten'
    );
  });
});

describe('event log', () => {
  test('keeps the history for late readers, caps log lines there, and ends after the run', async () => {
    const log = new EventLog('r', 2);
    const heard: string[] = [];
    log.on(event => heard.push(event.type === 'step-log' ? event.line : event.type));
    log.emit({ type: 'run-started', workflow: 'w', executor: 'local', steps: ['w.s'] });
    for (const line of ['1', '2', '3', '4']) {
      log.emit({ type: 'step-log', step: 'w.s', stream: 'stdout', line });
    }
    const late: string[] = [];
    const reading = (async () => {
      for await (const event of log) {
        late.push(event.type === 'step-log' ? event.line : event.type);
      }
    })();
    log.emit({ type: 'run-finished', status: 'succeeded', durationMs: 1 });
    await reading;
    assert.deepEqual(heard, ['run-started', '1', '2', '3', '4', 'run-finished']);
    assert.deepEqual(late, ['run-started', '1', '2', 'run-finished']);
    assert.ok(log.history().every(event => event.runId === 'r' && event.time > 0));
  });
});

describe('build trace', () => {
  test("finds a build's running container and the images it committed, not cache hits or bases", () => {
    const trace = new BuildTrace();
    const output = [
      'Step 1/6 : FROM scanflow/debian:bookworm AS tools',
      ' ---> ec399b2b19a4',
      'Step 2/6 : RUN echo cached',
      ' ---> Using cache',
      ' ---> 0a1b2c3d4e5f',
      'Step 3/6 : RUN echo new',
      ' ---> Running in 84e70de19b60',
      'new',
      'Removing intermediate container 84e70de19b60',
      ' ---> 22b93eacd1e8',
      'Step 4/6 : FROM scanflow/node:20',
      ' ---> fcdeb513c8fa',
      'Step 5/6 : COPY --from=tools /x /x',
      ' ---> 9f8e7d6c5b4a',
      'Step 6/6 : RUN sleep 600',
      ' ---> Running in bd62e3f3a6f1'
    ];
    output.forEach(line => trace.read(line));
    assert.equal(trace.container, 'bd62e3f3a6f1');
    assert.deepEqual(trace.images, ['22b93eacd1e8', '9f8e7d6c5b4a']);
  });
});

describe('pip download target', () => {
  test("names the image's Python and every manylinux its C library can load", () => {
    const target = pipTarget('3.11', 'cpython', 'x86_64', 'glibc', '2.36');
    assert.equal(target.version, '3.11');
    assert.equal(target.implementation, 'cp');
    assert.deepEqual(target.abis, ['cp311', 'abi3', 'none']);
    assert.equal(target.platforms[0], 'manylinux_2_36_x86_64');
    for (const tag of ['manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux1_x86_64']) {
      assert.ok(target.platforms.includes(tag), tag);
    }
    assert.ok(!target.platforms.includes('manylinux_2_37_x86_64'));
    assert.deepEqual(pipTarget('3.12', 'cpython', 'aarch64', '-', '-').platforms, [
      'musllinux_1_2_aarch64',
      'musllinux_1_1_aarch64'
    ]);
  });
});
