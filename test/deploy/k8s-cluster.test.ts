/**
 * Manifests against a real Kubernetes API server (scripts/k8s/cluster.sh): strict validation of
 * built-in kinds and of Argo Workflows (through its CRDs' full schemas), and, on the simulated
 * cluster (kwok's fake nodes), a Job that runs to completion.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kubectl, startCluster, type Cluster } from './k8s-cluster';

const STARTUP = { timeout: 240_000 };

/**
 * Applies YAML the way a deployer does: server-side, unknown fields are errors (kubectl's
 * --validate=strict asks the server for fieldValidation=Strict).
 */
function apply(kubeconfig: string, manifest: string) {
  return kubectl(
    kubeconfig,
    ['apply', '--server-side', '--validate=strict', '--field-manager=scanflow-test', '-f', '-'],
    manifest
  );
}

/** `kubectl get -o json`, read as the shape the caller expects (the assertions check it). */
async function getJson<T>(kubeconfig: string, args: string[]): Promise<T> {
  const result = await kubectl(kubeconfig, ['get', '-o', 'json', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

interface Meta {
  metadata: { name: string; uid?: string; labels?: Record<string, string> };
}
interface List<T> {
  items: T[];
}

const deployment = (extraSpec: string) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scorer
spec:
  replicas: 1
  selector:
    matchLabels: {app: scorer}
  template:
    metadata:
      labels: {app: scorer}
    spec:
      containers:
      - name: scorer
        image: scanflow/node:20
${extraSpec}`;

const workflow = (name: string, extraTemplate: string) => `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: ${name}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: prepare
        template: step
      - name: train
        template: step
        dependencies: [prepare]
  - name: step
${extraTemplate}    container:
      image: scanflow/node:20
      command: [node, -e, "console.log('hi')"]
`;

describe('a real Kubernetes API server', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  }, STARTUP);
  after(() => cluster?.stop());

  test('accepts a valid ConfigMap and reads it back', async () => {
    const result = await apply(
      cluster.kubeconfig,
      `
apiVersion: v1
kind: ConfigMap
metadata:
  name: scanflow-settings
  labels: {app.kubernetes.io/managed-by: scanflow}
data:
  threshold: "0.25"
  model: mnist
`
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /configmap\/scanflow-settings serverside-applied/);
    const read = await getJson<Meta & { data: Record<string, string> }>(cluster.kubeconfig, [
      'configmap',
      'scanflow-settings'
    ]);
    assert.deepEqual(read.data, { threshold: '0.25', model: 'mnist' });
    assert.equal(read.metadata.labels?.['app.kubernetes.io/managed-by'], 'scanflow');
    assert.ok(read.metadata.uid, 'the server gave the object a uid');
  });

  test('rejects a Deployment with an unknown field, naming it', async () => {
    const result = await apply(cluster.kubeconfig, deployment('  bogus: 3\n'));
    assert.notEqual(result.code, 0, `accepted: ${result.stdout}`);
    assert.match(result.stderr, /spec\.bogus/);
    const missing = await kubectl(cluster.kubeconfig, ['get', 'deployment', 'scorer']);
    assert.notEqual(missing.code, 0, 'nothing was created');
    assert.match(missing.stderr, /NotFound|not found/);
    // The same Deployment without the field is fine.
    const fixed = await apply(cluster.kubeconfig, deployment(''));
    assert.equal(fixed.code, 0, fixed.stderr);
  });

  test('validates Argo Workflows against their CRD schema', async () => {
    const accepted = await apply(cluster.kubeconfig, workflow('two-steps', ''));
    assert.equal(accepted.code, 0, accepted.stderr);
    type Task = { name: string; dependencies?: string[] };
    const read = await getJson<
      Meta & { apiVersion: string; spec: { templates: { dag: { tasks: Task[] } }[] } }
    >(cluster.kubeconfig, ['workflow', 'two-steps']);
    assert.equal(read.apiVersion, 'argoproj.io/v1alpha1');
    const tasks = read.spec.templates[0].dag.tasks;
    assert.deepEqual(
      tasks.map(t => [t.name, t.dependencies ?? []]),
      [
        ['prepare', []],
        ['train', ['prepare']]
      ]
    );

    const rejected = await apply(cluster.kubeconfig, workflow('bad-template', '    retries: 2\n'));
    assert.notEqual(rejected.code, 0, `accepted: ${rejected.stdout}`);
    assert.match(rejected.stderr, /retries/);
    const missing = await kubectl(cluster.kubeconfig, ['get', 'workflow', 'bad-template']);
    assert.notEqual(missing.code, 0, 'nothing was created');
  });
});

describe('a simulated cluster (kwok nodes)', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ simulated: true });
  }, STARTUP);
  after(() => cluster?.stop());

  test('a Job runs to Complete on the fake nodes', async () => {
    const nodes = await getJson<List<Meta>>(cluster.kubeconfig, ['nodes']);
    assert.equal(nodes.items.length, 2);
    const result = await apply(
      cluster.kubeconfig,
      `
apiVersion: batch/v1
kind: Job
metadata:
  name: score-batch
spec:
  completions: 2
  parallelism: 2
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {type: kwok}
      containers:
      - name: score
        image: scanflow/node:20
        command: [node, -e, "console.log('scored')"]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`
    );
    assert.equal(result.code, 0, result.stderr);
    const wait = await kubectl(cluster.kubeconfig, [
      'wait',
      '--for=condition=Complete',
      '--timeout=120s',
      'job/score-batch'
    ]);
    assert.equal(wait.code, 0, wait.stderr);
    const job = await getJson<{ status: { succeeded?: number } }>(cluster.kubeconfig, [
      'job',
      'score-batch'
    ]);
    assert.equal(job.status.succeeded, 2);
    type Pod = { spec: { nodeName: string }; status: { phase: string } };
    const pods = await getJson<List<Pod>>(cluster.kubeconfig, [
      'pods',
      '-l',
      'job-name=score-batch'
    ]);
    assert.equal(pods.items.length, 2);
    for (const pod of pods.items) {
      assert.equal(pod.status.phase, 'Succeeded');
      assert.match(pod.spec.nodeName, /^kwok-node-[01]$/);
    }
  });
});
