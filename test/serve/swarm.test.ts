/**
 * `scanflow serve --to swarm --replicas 3` on this engine as a one-node swarm: the replicas
 * converge, the gateway spreads requests over them (each answers a share), the answers are the
 * model's, a replica killed with SIGKILL is replaced while a client keeps calling, and undeploy
 * leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { undeploy } from '../../src/deploy/deploy';
import { runCommand } from '../../src/deploy/docker-cli';
import type { Classifier } from '../../src/improve/classifier';
import { serveOnSwarm, type SwarmModelService } from '../../src/serve/swarm';
import { docker } from '../run/helpers';
import { deploymentName } from '../deploy/helpers';
import { startTracker } from '../../src/track';
import { registerModel, rowsOf, savedClassifier, temporaryFolder, unseen } from './fixtures';

const folder = temporaryFolder('serve-swarm');
const name = deploymentName('serve');
let model: Classifier;
let service: SwarmModelService;

before(async () => {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string } };
  if (info.Swarm?.LocalNodeState !== 'active') {
    const init = await runCommand('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    assert.equal(init.code, 0, init.stderr);
  }
  const saved = await savedClassifier(folder.path);
  model = saved.model;
  service = await serveOnSwarm({ model: saved.path, replicas: 3, name, port: 0 });
});

after(async () => {
  await undeploy(name).catch(() => undefined);
  model.dispose();
  folder.remove();
});

/** One request through the gateway: the status, the replica that answered, the predictions. */
async function predict(
  rows: Float32Array[],
  params?: Record<string, string>
): Promise<{ status: number; replica: string | null; predictions: unknown }> {
  const response = await fetch(`${service.url}/invocations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ inputs: rowsOf(rows), ...(params ? { params } : {}) })
  });
  const body = (await response.json()) as { predictions?: unknown };
  return {
    status: response.status,
    replica: response.headers.get('x-scanflow-replica'),
    predictions: body.predictions
  };
}

async function runningTasks(): Promise<Array<{ id: string; container: string }>> {
  const tasks = await docker.listTasks({
    filters: JSON.stringify({ service: [`${name}_model`], 'desired-state': ['running'] })
  });
  return tasks
    .filter(t => t.Status?.State === 'running' && t.Status?.ContainerStatus?.ContainerID)
    .map(t => ({ id: t.ID!, container: t.Status!.ContainerStatus!.ContainerID! }));
}

describe('serve --to swarm', () => {
  it('spreads requests over 3 replicas, each answering with the model', async () => {
    assert.equal((await runningTasks()).length, 3);
    const rows = unseen.images.slice(0, 60);
    const shares = new Map<string, number>();
    for (let i = 0; i < rows.length; i++) {
      const answer = await predict([rows[i]], { output: 'probabilities' });
      assert.equal(answer.status, 200);
      shares.set(answer.replica!, (shares.get(answer.replica!) ?? 0) + 1);
      // The replicas run TensorFlow.js's cpu backend, this process its wasm backend.
      const expected = model.predictProbabilities([rows[i]])[0];
      const got = (answer.predictions as number[][])[0];
      got.forEach((p, j) => assert.ok(Math.abs(p - expected[j]) < 1e-4, `row ${i} class ${j}`));
    }
    assert.equal(shares.size, 3, `replicas that answered: ${[...shares.keys()].join(', ')}`);
    for (const [replica, count] of shares)
      assert.ok(count >= 10, `${replica} answered ${count} of 60`);
  });

  it('replaces a replica killed with SIGKILL while a client keeps calling, without a failed request', async () => {
    const before = await runningTasks();
    const row = unseen.images[3];
    let stop = false;
    const outcomes: number[] = [];
    const client = async (): Promise<void> => {
      while (!stop) {
        // A client with retries, as the issue puts it: up to 2 more tries on a failure.
        let status = 0;
        for (let attempt = 0; attempt < 3 && status !== 200; attempt++) {
          status = await predict([row]).then(
            a => a.status,
            () => 0
          );
        }
        outcomes.push(status);
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await new Promise(r => setTimeout(r, 500));
    const victim = before[0];
    const killed = await runCommand('docker', ['kill', '--signal', 'KILL', victim.container]);
    assert.equal(killed.code, 0, killed.stderr);
    // Swarm starts a new task in its place; wait until 3 run again, the victim's not among them.
    const deadline = Date.now() + 120_000;
    let after = await runningTasks();
    while (Date.now() < deadline) {
      after = await runningTasks();
      const healthy = await Promise.all(
        after.map(
          async t => (await docker.getContainer(t.container).inspect()).State.Health?.Status
        )
      );
      if (
        after.length === 3 &&
        !after.some(t => t.id === victim.id) &&
        healthy.every(h => h === 'healthy')
      )
        break;
      await new Promise(r => setTimeout(r, 500));
    }
    await new Promise(r => setTimeout(r, 1500));
    stop = true;
    await Promise.all(clients);
    assert.equal(after.length, 3);
    assert.ok(!after.some(t => t.id === victim.id), 'the killed task is still listed as running');
    const failed = outcomes.filter(s => s !== 200);
    assert.ok(outcomes.length > 20, `only ${outcomes.length} requests`);
    assert.equal(
      failed.length,
      0,
      `${failed.length} of ${outcomes.length} failed: ${failed.slice(0, 5).join(', ')}`
    );
    // The new replica takes its share again.
    const replicas = new Set<string>();
    for (let i = 0; i < 30; i++) replicas.add((await predict([row])).replica!);
    assert.equal(replicas.size, 3);
  });

  it('scanflow scale sets the replicas, and the gateway follows', async () => {
    const bin = join(__dirname, '..', '..', 'bin', 'scanflow.js');
    const scaled = spawnSync(process.execPath, [bin, 'scale', name, '2'], { encoding: 'utf8' });
    assert.equal(scaled.status, 0, scaled.stderr);
    assert.match(scaled.stdout, new RegExp(`${name} runs 2 replicas`));
    assert.equal((await runningTasks()).length, 2);
    // The gateway asks DNS again every second: then only the two replicas answer.
    await new Promise(r => setTimeout(r, 1500));
    const replicas = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const answer = await predict([unseen.images[i]]);
      assert.equal(answer.status, 200);
      replicas.add(answer.replica!);
    }
    assert.equal(replicas.size, 2);
    const unknown = spawnSync(process.execPath, [bin, 'scale', 'no-such-model', '2'], {
      encoding: 'utf8'
    });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no model service named no-such-model.*scanflow deployments/);
  });

  it('serving another model under the same name rolls the replicas over without a failed request', async () => {
    const other = await savedClassifier(folder.path, 2);
    try {
      // A digit the two models tell apart.
      const row = unseen.images.find(r => model.predict([r])[0] !== other.model.predict([r])[0])!;
      const [before, after] = [model.predict([row]), other.model.predict([row])];
      const seen: Array<{ status: number; prediction: string }> = [];
      let stop = false;
      const client = async (): Promise<void> => {
        while (!stop) {
          const answer = await predict([row]).catch(() => ({ status: 0, predictions: null }));
          seen.push({ status: answer.status, prediction: JSON.stringify(answer.predictions) });
        }
      };
      const clients = Array.from({ length: 3 }, client);
      const updated = await serveOnSwarm({ model: other.path, replicas: 2, name, port: 0 });
      const updatedAt = seen.length;
      assert.equal(updated.url, service.url, 'the gateway stays where it was');
      await new Promise(r => setTimeout(r, 1000));
      stop = true;
      await Promise.all(clients);
      const failed = seen.filter(s => s.status !== 200);
      assert.equal(failed.length, 0, `${failed.length} of ${seen.length} failed`);
      assert.ok(seen.some(s => s.prediction === JSON.stringify(before)));
      assert.ok(seen.slice(updatedAt).every(s => s.prediction === JSON.stringify(after)));
      assert.equal((await runningTasks()).length, 2);
    } finally {
      other.model.dispose();
    }
  });

  it('undeploy removes the replicas, the gateway and the network', async () => {
    await undeploy(name);
    const label = JSON.stringify({ label: [`scanflow.deployment=${name}`] });
    assert.deepEqual(await docker.listServices({ filters: label }), []);
    assert.deepEqual(await docker.listContainers({ all: true, filters: label }), []);
    assert.deepEqual(await docker.listNetworks({ filters: label }), []);
  });
});

describe('serve --to swarm, from the registry', () => {
  it('every replica swaps to the version the alias moves to, under load, without a failed request', async () => {
    const trackerFolder = temporaryFolder('serve-swarm-tracker');
    // The replicas reach this machine through the swarm's bridge: the tracker listens on every
    // address, behind a token.
    const bridge = await runCommand('docker', [
      'network',
      'inspect',
      'docker_gwbridge',
      '--format',
      '{{(index .IPAM.Config 0).Gateway}}'
    ]);
    const token = 'serve-swarm-test-token';
    const tracker = await startTracker({
      host: '0.0.0.0',
      port: 0,
      token,
      storePath: `${trackerFolder.path}/tracker.db`
    });
    const url = `http://${bridge.stdout.trim()}:${tracker.port}`;
    const registryName = deploymentName('registry');
    const second = await savedClassifier(trackerFolder.path, 2);
    try {
      assert.equal(
        await registerModel(tracker, 'digits', (await savedClassifier(trackerFolder.path, 1)).path),
        '1'
      );
      assert.equal(await registerModel(tracker, 'digits', second.path), '2');
      await tracker.store.setRegisteredModelAlias('digits', 'champion', '1');
      await assert.rejects(
        serveOnSwarm({
          model: 'models:/digits@champion',
          replicas: 2,
          tracker: `http://127.0.0.1:${tracker.port}`,
          trackerToken: token
        }),
        /this machine's loopback, which they cannot reach.*Fix: run the tracker on an address the swarm reaches/
      );
      const served = await serveOnSwarm({
        model: 'models:/digits@champion',
        replicas: 2,
        name: registryName,
        tracker: url,
        trackerToken: token,
        port: 0,
        serveArguments: ['--poll', '0.5']
      });
      assert.equal(served.version, '1');
      const row = unseen.images[11];
      const seen: Array<{
        status: number;
        version: string | null;
        replica: string | null;
        prediction: unknown;
      }> = [];
      let stop = false;
      const client = async (): Promise<void> => {
        while (!stop) {
          const response = await fetch(`${served.url}/invocations`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ inputs: rowsOf([row]) })
          }).catch(() => undefined);
          const body = response ? ((await response.json()) as { predictions?: unknown }) : {};
          seen.push({
            status: response?.status ?? 0,
            version: response?.headers.get('x-scanflow-model-version') ?? null,
            replica: response?.headers.get('x-scanflow-replica') ?? null,
            prediction: body.predictions
          });
        }
      };
      const clients = Array.from({ length: 4 }, client);
      await new Promise(r => setTimeout(r, 1000));
      await tracker.store.setRegisteredModelAlias('digits', 'champion', '2');
      // Both replicas answer with version 2 within a few polls.
      const deadline = Date.now() + 30_000;
      const replicasOnTwo = (): number =>
        new Set(seen.filter(s => s.version === '2').map(s => s.replica)).size;
      while (replicasOnTwo() < 2 && Date.now() < deadline)
        await new Promise(r => setTimeout(r, 200));
      const swappedAt = seen.length;
      await new Promise(r => setTimeout(r, 1000));
      stop = true;
      await Promise.all(clients);
      assert.equal(replicasOnTwo(), 2, 'not every replica swapped to version 2');
      const failed = seen.filter(s => s.status !== 200);
      assert.equal(failed.length, 0, `${failed.length} of ${seen.length} failed`);
      assert.ok(seen.slice(swappedAt).every(s => s.version === '2'));
      const [expected] = second.model.predict([row]);
      assert.ok(
        seen
          .filter(s => s.version === '2')
          .every(s => JSON.stringify(s.prediction) === JSON.stringify([expected]))
      );
      // Each replica logged its verdicts and version to the tracker, as a run of its own.
      const experiment = await tracker.store.getExperimentByName('serve');
      const runs = await tracker.store.searchRuns([experiment.experiment_id]);
      assert.ok(runs.items.length >= 2);
    } finally {
      await undeploy(registryName).catch(() => undefined);
      second.model.dispose();
      await tracker.close();
      trackerFolder.remove();
    }
  });
});
