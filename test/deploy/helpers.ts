/** Shared by the deploy tests: exports into fresh folders, tracked metrics, what is left. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore } from '../../src/track/artifacts';
import { defaultArtifactsDir } from '../../src/track/embedded';
import { loadRecordedRun } from '../../src/track/recorder';
import { RestStore } from '../../src/track/rest-store';
import { SqliteStore } from '../../src/track/sqlite-store';
import type { TrackingStore } from '../../src/track/store';
import type { RunResult, WorkflowRun } from '../../src/run/run';
import type { WorkflowSpec } from '../../src/workflow';
import { callerStep, docker, httpService, nodeStep, wf } from '../run/helpers';

export const ROOT = join(__dirname, '..', '..');
export const HELLO = join(ROOT, 'examples', 'hello', 'workflow.ts');

const folders: string[] = [];
process.on('exit', () => folders.forEach(dir => rmSync(dir, { recursive: true, force: true })));

/** A fresh folder, removed when the tests end. */
export function freshDir(prefix = 'scanflow-deploy-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
}

/** A deployment name unique to this test process. */
export function deploymentName(base: string): string {
  return `${base}-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
}

/** Scanflow's own metrics on a step's run; the rest are the step's. */
const SCANFLOW_METRICS = new Set(['attempts', 'exit_code', 'duration_seconds']);

/** The metrics each step logged itself, by step id, read back through a store. */
export async function stepMetrics(
  store: TrackingStore,
  artifacts: Parameters<typeof loadRecordedRun>[1],
  workflow: string,
  runId: string
): Promise<Record<string, Record<string, number>>> {
  const run = await loadRecordedRun(store, artifacts, workflow, runId);
  const metrics: Record<string, Record<string, number>> = {};
  for (const step of run.steps) {
    const mlflow = await store.getRun(step.mlflowRunId);
    const own = mlflow.data.metrics.filter(m => !SCANFLOW_METRICS.has(m.key));
    if (own.length) metrics[step.step] = Object.fromEntries(own.map(m => [m.key, m.value]));
  }
  return metrics;
}

/** Step metrics from a `scanflow run` store file. */
export async function metricsInStore(store: string, workflow: string, runId: string) {
  const sqlite = new SqliteStore(store);
  try {
    return await stepMetrics(
      sqlite,
      new ArtifactStore(defaultArtifactsDir(store)),
      workflow,
      runId
    );
  } finally {
    sqlite.close();
  }
}

/** Step metrics from a deployed tracker, over its REST API. */
export async function metricsInTracker(
  url: string,
  token: string,
  workflow: string,
  runId: string
) {
  const client = new RestStore(url, { token });
  try {
    return await stepMetrics(client, client, workflow, runId);
  } finally {
    client.close();
  }
}

/** The token `scanflow export` wrote into a deployment's .env. */
export function tokenIn(dir: string): string {
  return /SCANFLOW_TRACKER_TOKEN=(\S+)/.exec(readFileSync(join(dir, '.env'), 'utf8'))![1];
}

/** Everything on the engine that carries the deployment's label. */
export async function deploymentObjects(name: string) {
  const filters = JSON.stringify({ label: [`scanflow.deployment=${name}`] });
  const swarm =
    ((await docker.info()) as { Swarm?: { LocalNodeState?: string } }).Swarm?.LocalNodeState ===
    'active';
  const [containers, networks, volumes, services, configs, secrets] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters }),
    swarm ? docker.listServices({ filters }) : [],
    swarm ? docker.listConfigs({ filters }) : [],
    swarm ? docker.listSecrets({ filters }) : []
  ]);
  return {
    containers: containers.map(c => c.Names[0]).sort(),
    networks: networks.map(n => n.Name).sort(),
    volumes: (volumes.Volumes ?? []).map(v => v.Name).sort(),
    services: services.map(s => s.Spec?.Name ?? s.ID).sort(),
    configs: configs.length + secrets.length
  };
}

export const NOTHING = { containers: [], networks: [], volumes: [], services: [], configs: 0 };

/** The output files of hello, read from a volume. */
export const HELLO_OUTPUTS = [
  'data/points.json',
  'linear/model.json',
  'mean/model.json',
  'best/name.txt'
];

/**
 * A step that writes a model, a service with 2 replicas that serves once that model is in its
 * inputs (a /health path, probed every half second), and a step that succeeds only if the service
 * answered it at $SCANFLOW_SERVICE_API_URL.
 */
export function servedWorkflow(name: string): WorkflowSpec {
  const service = httpService('api', {
    replicas: 2,
    inputs: ['model'],
    healthcheck: { path: '/health', interval: 0.5 }
  });
  // It refuses to start without the model, which the step before it wrote.
  service.command = [
    'node',
    '-e',
    "require('fs').readFileSync(process.env.SCANFLOW_INPUTS+'/model/weights');" +
      service.command![2]
  ];
  return wf(name, [
    nodeStep(
      'train',
      "fs.mkdirSync(O+'/model',{recursive:true});fs.writeFileSync(O+'/model/weights','42')",
      { outputs: ['model'] }
    ),
    service,
    callerStep('call', 'api')
  ]);
}

/** A service whose command ends at once, printing why, and a step that needs it. */
export function brokenServiceWorkflow(name: string): WorkflowSpec {
  return wf(name, [
    {
      ...httpService('api', { healthcheck: { path: '/health', interval: 0.5 } }),
      command: ['node', '-e', "console.log('cannot serve: no model here');process.exit(4)"]
    },
    callerStep('call', 'api')
  ]);
}

/**
 * What a deployment of servedWorkflow must have done: the caller succeeded after the service was
 * ready, and the service is still up (2 healthy replicas) now that the deployment was followed to
 * its end.
 */
export async function assertServed(deployment: WorkflowRun, result: RunResult): Promise<void> {
  const name = result.workflow;
  assert.equal(result.status, 'succeeded', result.error?.message);
  assert.deepEqual(Object.fromEntries(result.steps.map(s => [s.id, s.status])), {
    [`${name}.train`]: 'succeeded',
    [`${name}.api`]: 'ready',
    [`${name}.call`]: 'succeeded'
  });
  const events = deployment.history();
  const at = (type: string, step: string) =>
    events.findIndex(e => e.type === type && 'step' in e && e.step === step);
  assert.ok(at('step-succeeded', `${name}.train`) < at('step-running', `${name}.api`));
  assert.ok(at('service-ready', `${name}.api`) < at('step-running', `${name}.call`));
  const ready = events[at('service-ready', `${name}.api`)];
  assert.equal(ready.type === 'service-ready' && ready.url, 'http://api:8080');
  const answers = events.filter(
    e => e.type === 'step-log' && e.step === `${name}.call` && e.line.startsWith('answer: ')
  );
  assert.equal(answers.length, 1, 'the caller printed the answer');
  assert.match(
    answers[0].type === 'step-log' ? answers[0].line : '',
    /^answer: hello from replica/
  );

  const replicas = await docker.listContainers({
    filters: JSON.stringify({
      label: [`scanflow.step=${name}.api`, `scanflow.run=${deployment.id}`]
    })
  });
  assert.equal(replicas.length, 2, 'both replicas still run');
  assert.ok(
    replicas.every(c => c.Status.includes('(healthy)')),
    replicas.map(c => c.Status).join()
  );
}
