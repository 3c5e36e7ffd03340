/** The local executor (child processes) and the scheduler's rules, with real processes. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  CommandNotFoundError,
  runWorkflow,
  snapshot,
  StepConfigError,
  type RunOptions
} from '../../src/run';
import type { WorkflowSpec } from '../../src/workflow';
import {
  callerStep,
  httpService,
  isRunning,
  logsByStep,
  nodeStep,
  settle,
  shellStep,
  stepPids,
  wf,
  writeDefinition
} from './helpers';

const workdir = mkdtempSync(join(tmpdir(), 'scanflow-local-test-'));
after(() => rmSync(workdir, { recursive: true, force: true }));

function runLocal(spec: WorkflowSpec, options: RunOptions = {}) {
  return runWorkflow(spec, {
    executor: 'local',
    local: { workdir, stopGraceMs: 500 },
    retryDelayMs: 100,
    handleSignals: false,
    ...options
  });
}

describe('local executor', () => {
  test('--keep-going runs what does not depend on the failure', async () => {
    const spec = wf('keep', [
      nodeStep('start', "console.log('ok')"),
      {
        kind: 'parallel',
        name: 'branches',
        steps: [
          {
            kind: 'workflow',
            name: 'broken',
            steps: [
              nodeStep('fail', 'process.exit(2)'),
              nodeStep('after-fail', "console.log('no')")
            ]
          },
          {
            kind: 'workflow',
            name: 'fine',
            steps: [
              nodeStep('one', "setTimeout(()=>console.log('one'),300)"),
              nodeStep('two', "console.log('two')")
            ]
          }
        ]
      },
      nodeStep('end', "console.log('no')")
    ]);
    const status = async (keepGoing: boolean) =>
      Object.fromEntries(
        (await runLocal(spec, { keepGoing, concurrency: 4 }).done).steps.map(s => [
          s.id.replace('keep.', ''),
          s.status
        ])
      );
    assert.deepEqual(await status(true), {
      start: 'succeeded',
      'branches.broken.fail': 'failed',
      'branches.broken.after-fail': 'skipped',
      'branches.fine.one': 'succeeded',
      'branches.fine.two': 'succeeded',
      end: 'skipped'
    });
    // Without it, the run stops launching steps after the failure (a running one finishes).
    const stopped = await status(false);
    assert.equal(stopped['branches.fine.two'], 'skipped');
    assert.equal(stopped['branches.fine.one'], 'succeeded');
  });

  test('never runs more steps at once than the concurrency allows', async () => {
    const steps = ['a', 'b', 'c', 'd', 'e'].map(name => nodeStep(name, 'setTimeout(()=>{},250)'));
    const handle = runLocal(wf('bounded', [{ kind: 'parallel', name: 'all', steps }]), {
      concurrency: 2
    });
    let running = 0;
    let most = 0;
    handle.on(event => {
      if (event.type === 'step-running') {
        most = Math.max(most, ++running);
      } else if (event.type === 'step-succeeded') {
        running--;
      }
    });
    assert.equal((await handle.done).status, 'succeeded');
    assert.equal(most, 2);
  });

  test('passes the run, step, tracker and parameters through the environment', async () => {
    const handle = runLocal(
      wf('env', [
        nodeStep(
          'show',
          "const e=process.env;console.log(e.SCANFLOW_RUN_ID,e.SCANFLOW_STEP,e.SCANFLOW_TRACKER_URI,e.MLFLOW_TRACKING_URI,e.SCANFLOW_PARAM_LEARNING_RATE,e.MINE,process.argv.slice(1).join(' '))",
          { parameters: { 'learning-rate': 0.1, epochs: 3 }, env: { MINE: 'yes' } }
        )
      ]),
      { tracker: 'http://127.0.0.1:5999', runId: 'env-run' }
    );
    await handle.done;
    assert.deepEqual(logsByStep(handle.history()).get('env.show'), [
      'env-run env.show http://127.0.0.1:5999 http://127.0.0.1:5999 0.1 yes --learning-rate=0.1 --epochs=3'
    ]);
  });

  test('a timeout stops the process and what it started', async () => {
    const result = await runLocal(
      wf('slow', [
        nodeStep(
          'sleep',
          "const c=require('child_process').spawn('sleep',['30']);fs.writeFileSync(O+'/pid',String(c.pid))",
          { timeout: 0.5 }
        )
      ]),
      { keepOutputs: true }
    ).done;
    assert.equal(result.status, 'failed');
    assert.match(
      result.error!.message,
      /^step slow\.sleep: did not finish within its timeout of 0\.5 s/
    );
    const pid = Number(readFileSync(join(result.outputs!, 'pid'), 'utf8'));
    assert.equal(isRunning(pid), false, 'the process the step started is stopped too');
  });

  test('cancel stops every process of a running step, what it started in the background too', async () => {
    const handle = runLocal(
      wf('cancelled', [shellStep('wait', 'sleep 600 & echo "pids $$ $!"; wait')])
    );
    const pids = new Promise<number[]>(resolve =>
      handle.on(event => {
        if (event.type === 'step-log') {
          resolve(stepPids(event.line));
          handle.cancel();
        }
      })
    );
    const result = await handle.done;
    assert.equal(result.status, 'cancelled');
    const [shell, sleep] = await pids;
    assert.equal(isRunning(shell), false, 'the step is still running');
    assert.equal(isRunning(sleep), false, 'what the step started is still running');
  });

  test("what a step leaves running in the background ends with the step's command", async () => {
    const handle = runLocal(
      wf('background', [shellStep('detach', 'sleep 600 >/dev/null 2>&1 & echo "pids $$ $!"')])
    );
    const result = await handle.done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    const [, sleep] = stepPids(logsByStep(handle.history()).get('background.detach')![0]);
    assert.equal(
      await settle(
        async () => isRunning(sleep),
        running => !running,
        5000
      ),
      false
    );
  });

  test('snapshot() folds the events into the state a live display draws', async () => {
    const handle = runLocal(
      wf('snap', [
        {
          kind: 'parallel',
          name: 'p',
          steps: [
            nodeStep('ok', "console.log('first');console.log('last')"),
            nodeStep('flaky', 'process.exit(process.env.SCANFLOW_ATTEMPT==="1"?1:0)', {
              retries: 1
            }),
            nodeStep('bad', "console.error('broken');process.exit(4)")
          ]
        },
        nodeStep('later', "console.log('never')")
      ]),
      { keepGoing: true }
    );
    let whileRunning: ReturnType<typeof snapshot> | undefined;
    handle.on(event => {
      if (event.type === 'step-running' && event.step === 'snap.p.ok') {
        whileRunning = snapshot(handle.history());
      }
    });
    await handle.done;
    assert.equal(whileRunning?.status, 'running');
    assert.equal(whileRunning?.steps['snap.p.ok'].status, 'running');
    assert.equal(whileRunning?.steps['snap.later'].status, 'pending');

    const end = snapshot(handle.history());
    assert.equal(end.status, 'failed');
    assert.equal(end.runId, handle.id);
    assert.deepEqual(Object.keys(end.steps), [
      'snap.p.ok',
      'snap.p.flaky',
      'snap.p.bad',
      'snap.later'
    ]);
    const { ok, flaky, bad } = {
      ok: end.steps['snap.p.ok'],
      flaky: end.steps['snap.p.flaky'],
      bad: end.steps['snap.p.bad']
    };
    assert.equal(ok.status, 'succeeded');
    assert.equal(ok.lastLine, 'last');
    assert.ok(ok.durationMs! > 0 && ok.startedAt! <= ok.finishedAt!);
    assert.equal(flaky.status, 'succeeded');
    assert.equal(flaky.attempt, 2);
    assert.equal(bad.status, 'failed');
    assert.equal(bad.message, 'step snap.p.bad: exited with code 4 (last output: broken)');
    assert.deepEqual(end.steps['snap.later'], {
      status: 'skipped',
      message: 'it depends on snap.p.bad, which failed',
      finishedAt: end.steps['snap.later'].finishedAt
    });
  });

  test('refuses, before anything runs, a step that reads what nothing before it writes', () => {
    const spec = wf('flow', [
      {
        kind: 'parallel',
        name: 'p',
        steps: [
          nodeStep('write', '', { outputs: ['x'] }),
          nodeStep('read', '', { inputs: ['x', 'y'] })
        ]
      }
    ]);
    assert.throws(() => runLocal(spec), {
      name: 'DefinitionError',
      message:
        'The workflow definition has 2 problems:\n' +
        "  - flow.p.read (inputs): it reads 'x', which flow.p.write writes, but it does not wait for flow.p.write. Fix: add 'flow.p.write' to its 'after', or move it after flow.p.write.\n" +
        "  - flow.p.read (inputs): it reads 'y', which no step writes. Fix: list 'y' in the 'outputs' of a step that runs before it, or remove it from 'inputs'."
    });
  });

  test('a step built from a base starts in a copy of its files, as in its container', async () => {
    const file = writeDefinition(wf('unused', []), {
      'greet.js': "console.log('hi from greet.js')"
    });
    const handle = runLocal(
      wf('based', [
        {
          kind: 'step',
          name: 'greet',
          base: 'scanflow/node:20',
          command: ['node', 'greet.js'],
          resources: { memory: '64m' }
        }
      ]),
      { baseDir: dirname(file) }
    );
    const result = await handle.done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    assert.deepEqual(logsByStep(handle.history()).get('based.greet'), ['hi from greet.js']);
    const notices = handle.history().filter(e => e.type === 'notice');
    assert.deepEqual(
      notices.map(e => e.type === 'notice' && e.message),
      ['resource limits do not apply to local processes (based.greet)']
    );
  });

  test('a command that does not exist, or a step without one, is reported as such', async () => {
    const missing = await runLocal(
      wf('missing', [
        { kind: 'step', name: 'x', image: 'any', command: ['no-such-command-here'], retries: 2 }
      ])
    ).done;
    assert.ok(missing.error instanceof CommandNotFoundError);
    assert.equal(
      missing.error.message,
      "step missing.x: command 'no-such-command-here' was not found in the PATH of this machine. Fix: check the step's 'command' (an argv array whose first item is an executable)"
    );
    assert.equal(missing.steps[0].attempts, 1, 'a missing command is not retried');

    const none = await runLocal(wf('none', [{ kind: 'step', name: 'x', image: 'any' }])).done;
    assert.ok(none.error instanceof StepConfigError);
    assert.equal(
      none.error.message,
      "step none.x: it has no command, and the local executor cannot run an image. Fix: give the step a 'command', or run with --executor docker"
    );
  });
});

/** A port of 127.0.0.1 that was free a moment ago; with `hold`, something listens there until closed. */
async function loopbackPort(hold = false): Promise<{ port: number; close(): void }> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  if (!hold) await new Promise(resolve => server.close(resolve));
  return { port, close: () => server.close() };
}

describe('local executor: services', () => {
  test('a step, a service on 127.0.0.1:port with a command healthcheck, a step that calls it; up until cancel', async () => {
    const { port } = await loopbackPort();
    const health = `fetch('http://127.0.0.1:${port}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
    const spec = wf('local-serving', [
      nodeStep('prepare', "console.log('prepared')"),
      httpService('api', {
        host: '127.0.0.1',
        port,
        healthcheck: { command: [process.execPath, '-e', health], interval: 0.1 }
      }),
      callerStep('call', 'api')
    ]);
    const handle = runLocal(spec, { tracking: false });
    const steady = await new Promise<string>(resolve => {
      const check = (): void => {
        const notice = handle
          .history()
          .find(e => e.type === 'notice' && e.message.startsWith('no step is left to run'));
        if (notice?.type === 'notice') resolve(notice.message);
      };
      check();
      handle.on(check);
    });
    assert.match(steady, /the services local-serving\.api keep running until the run is stopped/);
    assert.deepEqual(logsByStep(handle.history()).get('local-serving.call'), [
      'answer: hello from replica 1'
    ]);
    const ready = handle.history().find(e => e.type === 'service-ready');
    assert.ok(ready?.type === 'service-ready');
    assert.equal(ready.url, `http://127.0.0.1:${port}`);
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'hello from replica 1');
    assert.equal(snapshot(handle.history()).steps['local-serving.api'].status, 'ready');

    const result = await handle.cancel();
    assert.equal(result.status, 'succeeded', result.error?.message);
    assert.deepEqual(
      result.steps.map(s => s.status),
      ['succeeded', 'stopped', 'succeeded']
    );
    assert.equal(snapshot(handle.history()).steps['local-serving.api'].status, 'stopped');
    // The service's process is gone: its port is free again.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  });

  test('refuses, before anything runs, replicas it cannot give and a port that is taken', async () => {
    const { port } = await loopbackPort();
    const replicated = await runLocal(
      wf('replicated', [httpService('api', { port, replicas: 2 })]),
      { tracking: false }
    ).done;
    assert.ok(replicated.error instanceof StepConfigError);
    assert.equal(
      replicated.error.message,
      `step replicated.api: it asks for 2 replicas, and the local executor runs a service as one ` +
        `process on 127.0.0.1:${port}, which only one process can listen on. Fix: run the workflow ` +
        "with --executor docker (one container per replica, behind one name), or set 'replicas' to 1"
    );

    const taken = await loopbackPort(true);
    try {
      const handle = runLocal(wf('taken', [httpService('api', { port: taken.port })]), {
        tracking: false
      });
      const result = await handle.done;
      assert.ok(result.error instanceof StepConfigError);
      assert.match(
        result.error.message,
        new RegExp(`^step taken\\.api: its port ${taken.port} is taken on this machine`)
      );
      assert.equal(handle.history().filter(e => e.type === 'step-running').length, 0);
      assert.deepEqual(
        result.steps.map(s => s.status),
        ['failed']
      );
    } finally {
      taken.close();
    }
  });
});
