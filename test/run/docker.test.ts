/** The Docker executor, for real: containers, a network and an outputs volume per run. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  ImageNotFoundError,
  RequirementsError,
  runWorkflow,
  ServiceExitedError,
  ServiceUnhealthyError,
  type RunEvent,
  type WorkflowRun
} from '../../src/run';
import { containerOptions } from '../../src/run/docker/container-config';
import {
  callerStep,
  docker,
  httpService,
  leftovers,
  logsByStep,
  nodeStep,
  readVolumeFile,
  removeRunVolumes,
  testRunId,
  wf,
  writeDefinition
} from './helpers';

const runIds: string[] = [];
after(async () => {
  for (const id of runIds) {
    await removeRunVolumes(id);
  }
});

function run(spec: Parameters<typeof runWorkflow>[0], name: string, options = {}) {
  const runId = testRunId(name);
  runIds.push(runId);
  return runWorkflow(spec, {
    executor: 'docker',
    runId,
    retryDelayMs: 200,
    handleSignals: false,
    ...options
  });
}

const nothingLeft = { containers: [], networks: [], volumes: [] };

describe('docker executor', () => {
  test('runs a 3-level nested workflow with a parallel group, passing outputs through the volume', async () => {
    const spec = wf('nested', [
      nodeStep(
        'source',
        "fs.mkdirSync(O+'/numbers');fs.writeFileSync(O+'/numbers/n.json','[1,2,3,4]')",
        {
          outputs: ['numbers']
        }
      ),
      {
        kind: 'workflow',
        name: 'middle',
        steps: [
          {
            kind: 'workflow',
            name: 'inner',
            steps: [
              {
                kind: 'parallel',
                name: 'both',
                steps: [
                  nodeStep(
                    'sum',
                    "const n=JSON.parse(fs.readFileSync(I+'/numbers/n.json'));fs.mkdirSync(O+'/sum');fs.writeFileSync(O+'/sum/v',String(n.reduce((a,b)=>a+b)))",
                    { inputs: ['numbers'], outputs: ['sum'] }
                  ),
                  nodeStep(
                    'product',
                    "const n=JSON.parse(fs.readFileSync(I+'/numbers/n.json'));fs.mkdirSync(O+'/product');fs.writeFileSync(O+'/product/v',String(n.reduce((a,b)=>a*b)))",
                    { inputs: ['numbers'], outputs: ['product'] }
                  )
                ]
              }
            ]
          },
          nodeStep(
            'combine',
            "const s=fs.readFileSync(I+'/sum/v','utf8'),p=fs.readFileSync(I+'/product/v','utf8');fs.mkdirSync(O+'/answer');fs.writeFileSync(O+'/answer/v',s+'+'+p);console.log('answer',s+'+'+p,process.env.SCANFLOW_STEP,process.env.SCANFLOW_WORKFLOW)",
            { inputs: ['sum', 'product'], outputs: ['answer'] }
          )
        ]
      },
      nodeStep(
        'check',
        "try{fs.writeFileSync(I+'/x','no')}catch(e){console.log('inputs are read-only:',e.code)}console.log(process.env.MLFLOW_TRACKING_URI,process.argv.slice(1).join(' '))",
        { parameters: { rate: 0.5 } }
      )
    ]);
    const handle = run(spec, 'nested', { tracker: 'http://tracker.invalid:5000' });
    const seen: RunEvent[] = [];
    for await (const event of handle) {
      seen.push(event);
    }
    const result = await handle.done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    assert.deepEqual(
      result.steps.map(s => [s.id, s.status]),
      [
        ['nested.source', 'succeeded'],
        ['nested.middle.inner.both.sum', 'succeeded'],
        ['nested.middle.inner.both.product', 'succeeded'],
        ['nested.middle.combine', 'succeeded'],
        ['nested.check', 'succeeded']
      ]
    );
    // Order: each step starts only after what it depends on has finished.
    const at = (type: string, step: string): number =>
      seen.findIndex(e => e.type === type && 'step' in e && e.step === step);
    assert.ok(
      at('step-running', 'nested.middle.inner.both.sum') > at('step-succeeded', 'nested.source')
    );
    assert.ok(
      at('step-running', 'nested.middle.combine') >
        Math.max(
          at('step-succeeded', 'nested.middle.inner.both.sum'),
          at('step-succeeded', 'nested.middle.inner.both.product')
        )
    );
    assert.ok(at('step-running', 'nested.check') > at('step-succeeded', 'nested.middle.combine'));

    const logs = logsByStep(seen);
    assert.deepEqual(logs.get('nested.middle.combine'), [
      'answer 10+24 nested.middle.combine nested.middle'
    ]);
    assert.deepEqual(logs.get('nested.check'), [
      'inputs are read-only: EROFS',
      'http://tracker.invalid:5000 --rate=0.5'
    ]);

    // The outputs volume is kept on purpose, and holds the answer; nothing else remains.
    assert.equal(result.outputs, `scanflow-${result.id}-outputs`);
    assert.equal(await readVolumeFile(result.outputs!, 'answer/v', result.id), '10+24');
    assert.deepEqual(await leftovers(result.id), { ...nothingLeft, volumes: [result.outputs!] });
  });

  test('steps reach a tracker on the loopback address of this machine through host.docker.internal', async () => {
    // A stand-in for the tracker, listening where the Docker network can reach it.
    const server = createServer((request, response) => response.end(`tracker saw ${request.url}`));
    await new Promise<void>(resolve => server.listen(0, '0.0.0.0', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const handle = run(
        wf('tracked', [
          nodeStep(
            'log',
            "const u=process.env.MLFLOW_TRACKING_URI;fetch(u+'/api/2.0/mlflow/runs/create').then(r=>r.text()).then(t=>console.log(u,'|',t))"
          )
        ]),
        'tracked',
        { tracker: `http://127.0.0.1:${port}` }
      );
      const result = await handle.done;
      assert.equal(result.status, 'succeeded', result.error?.message);
      assert.deepEqual(logsByStep(handle.history()).get('tracked.log'), [
        `http://host.docker.internal:${port} | tracker saw /api/2.0/mlflow/runs/create`
      ]);
    } finally {
      server.close();
    }
  });

  test('a failed step fails the run, its dependents are skipped, and nothing is left', async () => {
    const spec = wf('failing', [
      {
        kind: 'parallel',
        name: 'group',
        steps: [
          nodeStep('bad', "console.error('cannot go on');process.exit(3)"),
          nodeStep('slow', "setTimeout(()=>console.log('slow done'),1500)")
        ]
      },
      nodeStep('after-bad', "console.log('never')"),
      nodeStep('last', "console.log('never')")
    ]);
    const handle = run(spec, 'failing');
    const result = await handle.done;
    assert.equal(result.status, 'failed');
    assert.equal(
      result.error?.message,
      'step failing.group.bad: exited with code 3 (last output: cannot go on)'
    );
    const status = Object.fromEntries(result.steps.map(s => [s.id, s.status]));
    assert.deepEqual(status, {
      'failing.group.bad': 'failed',
      'failing.group.slow': 'succeeded',
      'failing.after-bad': 'skipped',
      'failing.last': 'skipped'
    });
    assert.match(result.steps[2].reason!, /depends on failing\.group\.bad, which failed/);
    assert.equal(result.steps[0].exitCode, 3);
    assert.deepEqual(await leftovers(result.id), nothingLeft);
  });

  test('a step that fails once succeeds on its retry, after a backoff', async () => {
    // The first attempt leaves a marker in the outputs volume; the second finds it.
    const spec = wf('retry', [
      nodeStep(
        'flaky',
        "const m=O+'/marker';if(!fs.existsSync(m)){fs.writeFileSync(m,'x');console.log('first try fails');process.exit(1)}console.log('second try works',process.env.SCANFLOW_ATTEMPT)",
        { retries: 2, outputs: ['marker'] }
      )
    ]);
    const handle = run(spec, 'retry');
    const result = await handle.done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    assert.equal(result.steps[0].attempts, 2);
    const types = handle
      .history()
      .filter(e => e.type !== 'step-log' && e.type !== 'step-queued')
      .map(e => e.type);
    assert.deepEqual(types, [
      'run-started',
      'tracker-started',
      'step-running',
      'step-retrying',
      'step-running',
      'step-succeeded',
      'run-finished'
    ]);
    const retrying = handle.history().find(e => e.type === 'step-retrying');
    assert.equal(retrying?.type === 'step-retrying' && retrying.delayMs, 200);
    assert.deepEqual(logsByStep(handle.history()).get('retry.flaky'), [
      'first try fails',
      'second try works 2'
    ]);
  });

  test('a step that outlives its timeout is stopped and counted as failed', async () => {
    const spec = wf('timeout', [
      nodeStep('sleepy', "console.log('sleeping');setTimeout(()=>{},60000)", { timeout: 1 })
    ]);
    const started = Date.now();
    const result = await run(spec, 'timeout').done;
    assert.equal(result.status, 'failed');
    assert.equal(
      result.error?.message,
      "step timeout.sleepy: did not finish within its timeout of 1 s and was stopped. Fix: raise the step's 'timeout' or make it faster"
    );
    assert.ok(Date.now() - started < 20000, 'the step was stopped long before it would end');
    assert.deepEqual(await leftovers(result.id), nothingLeft);
  });

  test('cancel() stops running containers and removes everything of the run', async () => {
    const spec = wf('cancel', [
      {
        kind: 'parallel',
        name: 'long',
        steps: [
          nodeStep('a', "console.log('up');setTimeout(()=>{},60000)", {
            resources: { cpus: 0.5, memory: '128m' }
          }),
          nodeStep('b', "console.log('up');setTimeout(()=>{},60000)")
        ]
      },
      nodeStep('never', "console.log('never')")
    ]);
    const handle = run(spec, 'cancel');
    let up = 0;
    await new Promise<void>(resolve =>
      handle.on(event => {
        if (event.type === 'step-log' && ++up === 2) {
          resolve();
        }
      })
    );
    assert.equal((await leftovers(handle.id)).containers.length, 2);
    // The running container carries the labels and the step's limits.
    const [a] = await docker.listContainers({
      filters: JSON.stringify({
        label: [`scanflow.run=${handle.id}`, 'scanflow.step=cancel.long.a']
      })
    });
    assert.equal(a.Labels['scanflow.workflow'], 'cancel');
    const { HostConfig } = await docker.getContainer(a.Id).inspect();
    assert.equal(HostConfig.NanoCpus, 0.5e9);
    assert.equal(HostConfig.Memory, 128 * 1024 * 1024);
    const result = await handle.cancel();
    assert.equal(result.status, 'cancelled');
    assert.deepEqual(
      result.steps.map(s => s.status),
      ['cancelled', 'cancelled', 'cancelled']
    );
    assert.deepEqual(await leftovers(result.id), nothingLeft);
  });

  test('a missing image fails the run before anything is created', async () => {
    const handle = run(
      wf('noimage', [
        nodeStep('first', "console.log('never')"),
        { kind: 'step', name: 'second', image: 'nonexistent/image:1', command: ['true'] }
      ]),
      'noimage'
    );
    const result = await handle.done;
    assert.ok(result.error instanceof ImageNotFoundError);
    assert.equal(result.error.step, 'noimage.second');
    assert.deepEqual(
      result.steps.map(s => [s.id, s.status]),
      [
        ['noimage.first', 'skipped'],
        ['noimage.second', 'failed']
      ]
    );
    assert.match(result.steps[0].reason!, /^the run did not start: step noimage\.second: image/);
    assert.equal(handle.history().filter(e => e.type === 'step-running').length, 0);
    assert.deepEqual(await leftovers(result.id), nothingLeft);
  });

  test('a step that asks for GPUs the engine cannot give fails with the reason', async () => {
    const result = await run(
      wf('gpu', [nodeStep('train', "console.log('never')", { resources: { gpus: 1 } })]),
      'gpu'
    ).done;
    assert.equal(result.status, 'failed');
    assert.match(
      result.error!.message,
      /^step gpu\.train: it asks for 1 GPUs, which this Docker engine cannot give \(.*could not select device driver.*\)\. Fix: install the NVIDIA container toolkit, or remove 'resources\.gpus'$/
    );
    assert.deepEqual(await leftovers(result.id), nothingLeft);

    // What the engine is asked for: the container is created with the GPU request and limits
    // (starting it is what needs a GPU).
    const runId = testRunId('gpu-request');
    const created = await docker.createContainer(
      containerOptions({
        name: `scanflow-${runId}`,
        image: 'scanflow/node:20',
        command: ['true'],
        env: {},
        labels: { 'scanflow.run': runId },
        network: 'bridge',
        alias: 'train',
        volume: `scanflow-${runId}-outputs`,
        resources: { gpus: 2, cpus: 1.5, memory: '1g' }
      })
    );
    try {
      const { HostConfig } = await created.inspect();
      assert.deepEqual(HostConfig.DeviceRequests, [
        { Driver: '', Count: 2, DeviceIDs: null, Capabilities: [['gpu']], Options: null }
      ]);
      assert.equal(HostConfig.NanoCpus, 1.5e9);
      assert.equal(HostConfig.Memory, 1024 ** 3);
    } finally {
      await created.remove({ force: true });
      // Created by the engine for the mount, without labels.
      await docker.getVolume(`scanflow-${runId}-outputs`).remove();
    }
  });

  test('builds a step image from a dockerfile once, then reuses it; a base image gets the files', async () => {
    const file = writeDefinition(wf('unused', []), {
      Dockerfile:
        'FROM scanflow/node:20\nCOPY greet.js /app/greet.js\nVOLUME /scratch\nCMD ["node", "/app/greet.js"]\n',
      'greet.js': `setTimeout(() => console.log('hello from ' + process.env.SCANFLOW_STEP + ' ${Date.now()}', require('fs').existsSync(__dirname + '/secret.txt'), process.argv.slice(2).join(' ')), 1000)`,
      'secret.txt': 'not for images',
      '.dockerignore': '# what stays out of images\nsecret.txt\n'
    });
    const baseDir = file.replace(/\/workflow\.json$/, '');
    const spec = wf('build', [
      { kind: 'step', name: 'built', dockerfile: 'Dockerfile', command: ['node', '/app/greet.js'] },
      { kind: 'step', name: 'based', base: 'scanflow/node:20', command: ['node', 'greet.js'] },
      // No command: the image's own, with the parameters after it.
      { kind: 'step', name: 'implicit', dockerfile: 'Dockerfile', parameters: { who: 'me' } }
    ]);
    const first = run(spec, 'build', { baseDir });
    // The image declares a VOLUME: the step's container gets an anonymous volume, which must go.
    const anonymous = new Promise<string[]>(resolve =>
      first.on(async event => {
        if (event.type === 'step-running' && event.step === 'build.built') {
          const filters = JSON.stringify({ label: [`scanflow.step=build.built`] });
          for (let i = 0; i < 50; i++) {
            const [info] = await docker.listContainers({ all: true, filters });
            const mounts = (info?.Mounts ?? []).filter(m => m.Destination === '/scratch');
            if (mounts.length > 0) {
              return resolve(mounts.map(m => m.Name!));
            }
            await new Promise(r => setTimeout(r, 20));
          }
          resolve([]);
        }
      })
    );
    const result = await first.done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    const logs = logsByStep(first.history());
    assert.match(logs.get('build.built')!.at(-1)!, /^hello from build\.built \d+ false $/);
    assert.match(
      logs.get('build.implicit')!.at(-1)!,
      /^hello from build\.implicit \d+ false --who=me$/
    );
    // The base image gets the definition's files, except what .dockerignore names.
    assert.match(logs.get('build.based')!.at(-1)!, /^hello from build\.based \d+ false $/);
    const [scratch] = await anonymous;
    assert.ok(scratch, 'the step container had an anonymous volume');
    await assert.rejects(docker.getVolume(scratch).inspect(), { statusCode: 404 });
    const builds = first.history().filter(e => e.type === 'step-building');
    assert.deepEqual(
      builds.map(e => e.type === 'step-building' && e.cached),
      [false, false, true]
    );

    const second = run(spec, 'build-again', { baseDir });
    assert.equal((await second.done).status, 'succeeded');
    const again = second.history().filter(e => e.type === 'step-building');
    assert.deepEqual(
      again.map(e => e.type === 'step-building' && e.cached),
      [true, true, true]
    );
    for (const image of new Set(builds.map(e => e.type === 'step-building' && e.image))) {
      await docker.getImage(image as string).remove({ force: true });
    }
  });

  test('a base step gets its pip requirements as wheels resolved on this machine, and imports them', async () => {
    const file = writeDefinition(wf('unused', []), {
      'use.py': "import six\nprint('six', six.__version__, six.PY3)\n"
    });
    const spec = wf('pip', [
      {
        kind: 'step',
        name: 'py',
        base: 'scanflow/python:3.11',
        requirements: ['six==1.16.0'],
        command: ['python3', 'use.py']
      }
    ]);
    const first = run(spec, 'pip', { baseDir: dirname(file) });
    const result = await first.done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    const lines = logsByStep(first.history()).get('pip.py') ?? [];
    // The image installed from the wheels in its context, with no index.
    assert.ok(lines.includes('Looking in links: /scanflow/app/.scanflow-wheels'), lines.join('\n'));
    assert.ok(lines.includes('Successfully installed six-1.16.0'), lines.join('\n'));
    assert.equal(lines.at(-1), 'six 1.16.0 True');

    // The same requirements resolve to the same wheels: the image is reused.
    const second = run(spec, 'pip-again', { baseDir: dirname(file) });
    assert.equal((await second.done).status, 'succeeded');
    const builds = [first, second].map(h => h.history().find(e => e.type === 'step-building'));
    assert.deepEqual(
      builds.map(e => e?.type === 'step-building' && e.cached),
      [false, true]
    );
    const image = builds[0]?.type === 'step-building' ? builds[0].image : '';
    assert.equal(builds[1]?.type === 'step-building' && builds[1].image, image);
    await docker.getImage(image).remove({ force: true });
  });

  test('requirements that pip cannot resolve, or a base without Python, fail before any step starts', async () => {
    const dir = dirname(writeDefinition(wf('unused', [])));
    const cases = [
      {
        base: 'scanflow/python:3.11',
        requirements: ['six==1.16.0', 'scanflow-no-such-package==9.9'],
        reason:
          /^step bad\.py: its requirements cannot be installed: pip could not download them: .*scanflow-no-such-package==9\.9.*\. Fix: check each requirement's name and version: each must exist as a wheel for Python 3\.11 /
      },
      {
        base: 'scanflow/debian:bookworm',
        requirements: ['six==1.16.0'],
        reason:
          /^step bad\.py: its requirements cannot be installed: its base image 'scanflow\/debian:bookworm' has no working python3 to install them into \(.+\)\. Fix: use a base image with Python and pip, such as 'scanflow\/python:3\.11'$/
      }
    ];
    for (const { base, requirements, reason } of cases) {
      const handle = run(
        wf('bad', [
          { kind: 'step', name: 'py', base, requirements, command: ['python3', '-c', 'pass'] },
          nodeStep('after', "console.log('never')")
        ]),
        'pip-bad',
        { baseDir: dir }
      );
      const result = await handle.done;
      assert.equal(result.status, 'failed');
      assert.ok(result.error instanceof RequirementsError, String(result.error));
      assert.match(result.error.message, reason);
      assert.doesNotMatch(result.error.message, /\n/);
      assert.deepEqual(
        result.steps.map(s => s.status),
        ['failed', 'skipped']
      );
      const types = new Set(handle.history().map(e => e.type));
      assert.ok(!types.has('step-building') && !types.has('step-running'));
      assert.deepEqual(await leftovers(result.id), nothingLeft);
    }
  });

  test('cancel() during an image build stops the build and removes what it had created', async () => {
    // A unique first RUN, so that it is built now (not taken from the cache) and commits an image.
    const token = `${process.pid}-${Date.now()}`;
    const file = writeDefinition(wf('unused', []), {
      Dockerfile: `FROM scanflow/debian:bookworm\nRUN echo ${token} > /token\nRUN echo slow-step-started && sleep 600\nCMD ["true"]\n`
    });
    const spec = wf('buildcancel', [
      { kind: 'step', name: 'slow', dockerfile: 'Dockerfile' },
      nodeStep('after', "console.log('never')")
    ]);
    const handle = run(spec, 'build-cancel', { baseDir: dirname(file) });
    await new Promise<void>(resolve =>
      handle.on(event => {
        if (event.type === 'step-log' && event.line === 'slow-step-started') resolve();
      })
    );
    const cancelled = Date.now();
    const result = await handle.cancel();
    assert.ok(Date.now() - cancelled < 60_000, 'the build was stopped, not waited for');
    assert.equal(result.status, 'cancelled');
    assert.equal(result.error, undefined);
    assert.deepEqual(
      result.steps.map(s => [s.id, s.status]),
      [
        ['buildcancel.slow', 'cancelled'],
        ['buildcancel.after', 'cancelled']
      ]
    );
    assert.equal(handle.history().filter(e => e.type === 'step-running').length, 0);

    // What the build created, read from its own output: the containers of both RUN
    // instructions and the image the first one committed. None of it is left.
    const lines = logsByStep(handle.history()).get('buildcancel.slow') ?? [];
    const containers = lines.flatMap(l => /^ ---> Running in (\w+)$/.exec(l)?.[1] ?? []);
    const base = (await docker.getImage('scanflow/debian:bookworm').inspect()).Id.slice(7, 19);
    const images = lines.flatMap(l => /^ ---> ([0-9a-f]{12})$/.exec(l)?.[1] ?? []);
    assert.equal(containers.length, 2, lines.join('\n'));
    assert.deepEqual(images.filter(id => id !== base).length, 1, lines.join('\n'));
    for (const id of containers) {
      await assert.rejects(docker.getContainer(id).inspect(), { statusCode: 404 });
    }
    for (const id of images.filter(id => id !== base)) {
      await assert.rejects(docker.getImage(id).inspect(), { statusCode: 404 });
    }
    const building = handle.history().find(e => e.type === 'step-building');
    assert.ok(building?.type === 'step-building' && !building.cached);
    await assert.rejects(docker.getImage(building.image).inspect(), { statusCode: 404 });
    assert.ok(await docker.getImage('scanflow/debian:bookworm').inspect(), 'the base is kept');
    assert.deepEqual(await leftovers(result.id), nothingLeft);
  });
});

/** Resolves with the first event that `match` accepts (from the history, or later). */
function eventOf<T extends RunEvent>(
  handle: WorkflowRun,
  match: (event: RunEvent) => event is T
): Promise<T> {
  return new Promise(resolve => {
    const seen = handle.history().find(match);
    if (seen) return resolve(seen);
    const off = handle.on(event => {
      if (match(event)) {
        off();
        resolve(event);
      }
    });
  });
}

describe('docker executor: services', () => {
  test('a step, a service with 2 replicas, a step that calls it; the service runs until cancel()', async () => {
    const spec = wf('serving', [
      nodeStep('prepare', "console.log('prepared')"),
      httpService('api', {
        port: 8080,
        replicas: 2,
        healthcheck: { path: '/health', interval: 0.2 }
      }),
      callerStep('call', 'api')
    ]);
    const handle = run(spec, 'service');
    const ready = await eventOf(
      handle,
      (e): e is Extract<RunEvent, { type: 'service-ready' }> => e.type === 'service-ready'
    );
    assert.equal(ready.url, 'http://api:8080');
    assert.equal(ready.endpoints.length, 2);
    await eventOf(
      handle,
      (e): e is Extract<RunEvent, { type: 'notice' }> =>
        e.type === 'notice' && e.message.startsWith('no step is left to run')
    );

    // The steps are done, the service is still up: two containers, each published on 127.0.0.1
    // only, each answering from this machine as its own replica.
    const logs = logsByStep(handle.history());
    // The step reached the service by its name on the run's network (either replica may answer).
    assert.equal(logs.get('serving.call')?.length, 1);
    assert.match(logs.get('serving.call')![0], /^answer: hello from replica [12]$/);
    const { containers } = await leftovers(handle.id);
    assert.equal(containers.length, 2, containers.join(', '));
    for (const name of containers) {
      const info = await docker.getContainer(name.slice(1)).inspect();
      assert.equal(info.State.Running, true);
      assert.deepEqual(
        (info.HostConfig.PortBindings as Record<string, Array<{ HostIp: string }>> | undefined)?.[
          '8080/tcp'
        ]?.map(binding => binding.HostIp),
        ['127.0.0.1']
      );
    }
    for (const [i, endpoint] of ready.endpoints.entries()) {
      assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(await (await fetch(`${endpoint}/`)).text(), `hello from replica ${i + 1}`);
    }
    const status = new Map(handle.history().flatMap(e => ('step' in e ? [[e.step, e.type]] : [])));
    assert.equal(status.get('serving.api'), 'service-ready');
    assert.equal(status.get('serving.call'), 'step-succeeded');

    const result = await handle.cancel();
    assert.equal(result.status, 'succeeded', result.error?.message);
    assert.deepEqual(
      result.steps.map(s => [s.id, s.status]),
      [
        ['serving.prepare', 'succeeded'],
        ['serving.api', 'stopped'],
        ['serving.call', 'succeeded']
      ]
    );
    assert.deepEqual(await leftovers(result.id), nothingLeft);
    await assert.rejects(fetch(`${ready.endpoints[0]}/`));
  });

  test('a service whose container exits on its own fails the run, and nothing is left', async () => {
    const spec = wf('exiting', [
      {
        kind: 'service',
        name: 'flaky',
        image: 'scanflow/node:20',
        command: [
          'node',
          '-e',
          "console.log('up for a moment');setTimeout(()=>process.exit(3),1500)"
        ],
        port: 9000
      },
      nodeStep('long', "setTimeout(()=>console.log('done'),5000)")
    ]);
    const result = await run(spec, 'service-exit').done;
    assert.equal(result.status, 'failed');
    assert.ok(result.error instanceof ServiceExitedError, String(result.error));
    assert.match(
      result.error.message,
      /exited with code 3 while the run still ran it \(last output: up for a moment\)/
    );
    assert.deepEqual(
      result.steps.map(s => [s.id, s.status]),
      [
        ['exiting.flaky', 'failed'],
        ['exiting.long', 'succeeded']
      ]
    );
    assert.deepEqual(await leftovers(result.id), nothingLeft);
  });

  test('a service that never passes its healthcheck fails, with the fix; its dependents are skipped', async () => {
    const spec = wf('unhealthy', [
      // Listening on the container's loopback: nothing outside the container reaches it.
      httpService('api', {
        host: '127.0.0.1',
        healthcheck: { path: '/health', interval: 0.2, retries: 3 }
      }),
      callerStep('call', 'api')
    ]);
    const result = await run(spec, 'service-unhealthy').done;
    assert.equal(result.status, 'failed');
    assert.ok(result.error instanceof ServiceUnhealthyError, String(result.error));
    assert.match(
      result.error.message,
      /^step unhealthy\.api: the service did not pass its healthcheck: GET http:\/\/127\.0\.0\.1:\d+\/health failed 4 times in a row, last: .+\. Fix: check that it listens on port 8080 on every interface \(0\.0\.0\.0/
    );
    assert.deepEqual(
      result.steps.map(s => [s.id, s.status]),
      [
        ['unhealthy.api', 'failed'],
        ['unhealthy.call', 'skipped']
      ]
    );
    assert.deepEqual(await leftovers(result.id), nothingLeft);
  });
});
