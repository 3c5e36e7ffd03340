/**
 * Docker Swarm, for real, on this engine as a one-node swarm: `scanflow deploy --to swarm` of
 * hello converges in dependency order (checked from the engine's own task timestamps), retries a
 * flaky step, and leaves nothing behind after `undeploy` or a Ctrl-C.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadWorkflow } from '../../src/cli/load';
import { deployWorkflow, undeploy } from '../../src/deploy/deploy';
import { runCommand as runDocker } from '../../src/deploy/docker-cli';
import { exportWorkflow } from '../../src/deploy/export';
import type { WorkflowSpec } from '../../src/workflow';
import { docker, nodeStep, scanflow, wf, writeDefinition } from '../run/helpers';
import { loadRecordedRun } from '../../src/track/recorder';
import { RestStore } from '../../src/track/rest-store';
import {
  HELLO,
  NOTHING,
  assertServed,
  brokenServiceWorkflow,
  servedWorkflow,
  deploymentName,
  deploymentObjects,
  freshDir,
  metricsInTracker,
  tokenIn
} from './helpers';
import { join } from 'node:path';

const deployed: string[] = [];
before(async () => {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string } };
  if (info.Swarm?.LocalNodeState !== 'active') {
    // CI's setup makes the engine a one-node swarm; a developer's machine may not be one yet.
    const init = await runDocker('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    assert.equal(init.code, 0, init.stderr);
  }
});
after(async () => {
  for (const name of deployed) await undeploy(name).catch(() => undefined);
});

function deploy(spec: WorkflowSpec, base: string) {
  const name = deploymentName(base);
  deployed.push(name);
  return deployWorkflow(spec, { target: 'swarm', baseDir: join(HELLO, '..'), name });
}

interface Task {
  CreatedAt: string;
  Status: { State: string; Timestamp: string };
}

/** The tasks of a deployment's step service, as the engine reports them. */
async function tasksOf(name: string, service: string): Promise<Task[]> {
  return (await docker.listTasks({
    filters: JSON.stringify({ service: [`${name}_${service}`] })
  })) as unknown as Task[];
}

describe('swarm', () => {
  test('docker stack config accepts every export of the examples', async () => {
    for (const path of [HELLO, join(HELLO, '..', 'workflow.yaml')]) {
      const dir = freshDir();
      const result = await exportWorkflow(loadWorkflow(path), {
        target: 'swarm',
        outDir: dir,
        baseDir: join(HELLO, '..')
      });
      const config = await runDocker('docker', ['stack', 'config', '-c', result.main], {
        env: { ...process.env, SCANFLOW_TRACKER_TOKEN: result.token }
      });
      assert.equal(config.code, 0, `${path}: ${config.stderr}`);
    }
  });

  test('deploy of hello converges in dependency order, and undeploy leaves nothing', async () => {
    const deployment = deploy(loadWorkflow(HELLO), 'hello-swarm');
    const result = await deployment.done;
    assert.equal(result.status, 'succeeded', result.error?.message);
    assert.equal(result.executor, 'swarm');

    // A step's task is created only after the tasks of the steps it needs completed.
    const plan = (await import('../../src/deploy/plan')).planDeployment(loadWorkflow(HELLO), {
      target: 'swarm',
      baseDir: join(HELLO, '..'),
      trackerImage: 'unused'
    });
    for (const step of plan.steps) {
      const [task] = await tasksOf(deployment.name, step.service);
      assert.equal(task?.Status.State, 'complete', `${step.id} completed`);
      for (const need of step.needs) {
        const [before] = await tasksOf(deployment.name, need);
        assert.ok(
          Date.parse(task.CreatedAt) >= Date.parse(before.Status.Timestamp),
          `${step.id} started at ${task.CreatedAt}, after ${need} completed at ${before.Status.Timestamp}`
        );
      }
    }
    // The tracker service holds the run as `scanflow run` records one: outcomes and metrics.
    const started = deployment.history().find(e => e.type === 'tracker-started');
    assert.ok(started && started.type === 'tracker-started');
    const dir = join(HELLO, '..', '.scanflow', 'deployments', deployment.name, 'swarm');
    const client = new RestStore(started.url, { token: tokenIn(dir) });
    try {
      const recorded = await loadRecordedRun(client, client, 'hello', deployment.id);
      assert.deepEqual(
        recorded.steps.map(s => [s.step, s.status, s.exitCode]).sort(),
        plan.steps.map(s => [s.id, 'succeeded', 0]).sort()
      );
      assert.match(recorded.steps.find(s => s.step === 'hello.report')!.logTail!, /best model/);
    } finally {
      client.close();
    }
    assert.deepEqual(await metricsInTracker(started.url, tokenIn(dir), 'hello', deployment.id), {
      'hello.train.pick': { best_mse: 0 }
    });

    const objects = await deploymentObjects(deployment.name);
    assert.equal(objects.services.length, 6, 'five steps and the tracker');
    await undeploy(deployment.name);
    assert.deepEqual(await deploymentObjects(deployment.name), NOTHING);
  });

  test('retries a flaky step as `scanflow run` does; a failure skips its dependents', async () => {
    const spec = wf('flakyswarm', [
      nodeStep(
        'flaky',
        "fs.mkdirSync(O+'/count',{recursive:true});const f=O+'/count/n';" +
          "const n=fs.existsSync(f)?Number(fs.readFileSync(f,'utf8')):0;fs.writeFileSync(f,String(n+1));" +
          "console.log('attempt',n+1);process.exit(n===0?1:0)",
        { retries: 1, outputs: ['count'] }
      ),
      nodeStep('fails', "console.log('about to fail');process.exit(3)"),
      nodeStep('never', "console.log('must not run')")
    ]);
    const deployment = deploy(spec, 'flaky-swarm');
    const result = await deployment.done;
    const status = Object.fromEntries(result.steps.map(s => [s.id, [s.status, s.attempts]]));
    assert.deepEqual(status, {
      'flakyswarm.flaky': ['succeeded', 2],
      'flakyswarm.fails': ['failed', 1],
      'flakyswarm.never': ['skipped', 0]
    });
    assert.match(
      result.error!.message,
      /^step flakyswarm\.fails: exited with code 3 \(last output: about to fail\)/
    );
    assert.equal((await tasksOf(deployment.name, 'never')).length, 0, 'never released');
  });

  test('Ctrl-C during `scanflow deploy --to swarm` removes the deployment', async () => {
    const name = `ctrlc${process.pid.toString(36)}`;
    const file = writeDefinition(
      wf(name, [nodeStep('slow', "console.log('started');setTimeout(()=>{},120000)")])
    );
    let interrupted = false;
    const result = await scanflow(['deploy', file, '--to', 'swarm'], {
      onStdout: (text, child) => {
        if (!interrupted && text.includes('started')) {
          interrupted = true;
          child.kill('SIGINT');
        }
      }
    });
    assert.ok(interrupted, result.stdout + result.stderr);
    assert.equal(result.code, 130, result.stderr);
    assert.deepEqual(await deploymentObjects(name), NOTHING);
  });
});

describe('swarm: services', () => {
  test('step -> service (2 replicas, dnsrr, healthcheck) -> step that calls it: released in order, the service stays up until undeploy', async () => {
    const deployment = deploy(servedWorkflow('served'), 'served-swarm');
    const result = await deployment.done;
    await assertServed(deployment, result);
    const [service] = await docker.listServices({
      filters: JSON.stringify({ name: [`${deployment.name}_api`] })
    });
    const spec = service.Spec as {
      Mode?: { Replicated?: { Replicas?: number } };
      EndpointSpec?: { Mode?: string };
      UpdateConfig?: { Order?: string };
      TaskTemplate?: { RestartPolicy?: { Condition?: string } };
    };
    assert.equal(spec.Mode?.Replicated?.Replicas, 2);
    assert.equal(spec.EndpointSpec?.Mode, 'dnsrr');
    assert.equal(spec.UpdateConfig?.Order, 'start-first');
    assert.equal(spec.TaskTemplate?.RestartPolicy?.Condition, 'any');
    // The caller's task was created only once the service's tasks ran healthy.
    const [call] = await tasksOf(deployment.name, 'call');
    const api = await tasksOf(deployment.name, 'api');
    assert.ok(api.every(t => Date.parse(call.CreatedAt) >= Date.parse(t.CreatedAt)));
    await undeploy(deployment.name);
    assert.deepEqual(await deploymentObjects(deployment.name), NOTHING);
  });

  test('a service whose tasks keep failing fails the deployment with its last lines, and is held at 0', async () => {
    const deployment = deploy(brokenServiceWorkflow('unserved'), 'unserved-swarm');
    const result = await deployment.done;
    assert.equal(result.status, 'failed');
    assert.match(
      result.error!.message,
      /^step unserved\.api: the service had 3 failed tasks \(last: task: non-zero exit \(4\)\); its last lines: cannot serve: no model here\. Fix: /
    );
    assert.deepEqual(Object.fromEntries(result.steps.map(s => [s.id, s.status])), {
      'unserved.api': 'failed',
      'unserved.call': 'skipped'
    });
    const [service] = await docker.listServices({
      filters: JSON.stringify({ name: [`${deployment.name}_api`] })
    });
    const mode = (service.Spec as { Mode?: { Replicated?: { Replicas?: number } } }).Mode;
    assert.equal(mode?.Replicated?.Replicas, 0);
  });
});
