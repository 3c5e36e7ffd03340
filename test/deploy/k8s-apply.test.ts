/**
 * The Kubernetes export against a real API server (scripts/k8s/cluster.sh): the manifests of
 * examples/hello and of the MNIST workflow, in both flavors, are applied as a deployer applies
 * them (server-side, unknown fields are errors, Argo's Workflow checked against its CRD's full
 * schema) and read back; a manifest with an unknown field is rejected by the same path.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { stringify } from 'yaml';
import { loadWorkflow } from '../../src/cli/load';
import { exportWorkflow } from '../../src/deploy/export';
import {
  renderKubernetes,
  type ArgoWorkflow,
  type KubernetesFlavor,
  type KubernetesManifest
} from '../../src/deploy/k8s';
import { planDeployment } from '../../src/deploy/plan';
import { mnistWorkflow } from '../../src/demo/mnist/workflow';
import { flatten, type WorkflowSpec } from '../../src/workflow';
import { servedWorkflow } from './helpers';
import { kubectl, startCluster, type Cluster } from './k8s-cluster';

const root = join(__dirname, '..', '..');
const apiserver = join(
  process.env.SCANFLOW_CACHE ?? '/var/cache/scanflow',
  'k8s/v1.37.2/bin/kube-apiserver'
);
const skip = existsSync(apiserver)
  ? false
  : `${apiserver} is not built (scripts/k8s/build.sh builds it)`;
const STARTUP = { timeout: 240_000 };
const TOKEN = 'test-token-0123';

const hello = loadWorkflow(join(root, 'examples', 'hello', 'workflow.ts'));
const mnist = mnistWorkflow({ size: 'small' });

/** The manifests of `spec` in a namespace of their own (MNIST as `--build --registry` plans it). */
function manifests(spec: WorkflowSpec, flavor: KubernetesFlavor, name: string) {
  const built =
    spec === mnist
      ? Object.fromEntries(flatten(spec).steps.map(s => [s.id, 'scanflow/step:abc']))
      : undefined;
  const plan = planDeployment(spec, {
    target: 'k8s',
    baseDir: join(root, 'examples', spec.name),
    trackerImage: 'scanflow/tracker:test',
    name,
    ...(built ? { built, registry: '127.0.0.1:5000' } : {})
  });
  return { plan, manifests: renderKubernetes(plan, { token: TOKEN, flavor }) };
}

/** Multi-document YAML, as `scanflow export` writes it. */
const yaml = (list: KubernetesManifest[]): string =>
  list.map(m => stringify(m, { lineWidth: 0 })).join('---\n');

/**
 * Applies YAML the way a deployer does: server-side, unknown fields are errors (kubectl's
 * `--validate=strict` asks the server for fieldValidation=Strict; it has no --field-validation).
 */
function apply(kubeconfig: string, manifest: string) {
  return kubectl(
    kubeconfig,
    ['apply', '--server-side', '--validate=strict', '--field-manager=scanflow-test', '-f', '-'],
    manifest
  );
}

type Item = ArgoWorkflow | IJob | IDeployment | IService | IPersistentVolumeClaim | ISecret;

/** What the server holds in a namespace, by `Kind/name`. */
async function readBack(kubeconfig: string, namespace: string): Promise<Map<string, Item>> {
  const result = await kubectl(kubeconfig, [
    'get',
    '-n',
    namespace,
    'workflows.argoproj.io,jobs,deployments,services,pvc,secrets',
    '-o',
    'json'
  ]);
  assert.equal(result.code, 0, result.stderr);
  const list = JSON.parse(result.stdout) as { items: Item[] };
  return new Map(list.items.map(item => [`${item.kind}/${item.metadata!.name}`, item]));
}

function get<K extends Item['kind']>(
  items: Map<string, Item>,
  kind: K,
  name: string
): Extract<Item, { kind: K }> {
  const item = items.get(`${kind}/${name}`);
  assert.ok(item, `the server has ${kind}/${name}; it has ${[...items.keys()].join(', ')}`);
  return item as Extract<Item, { kind: K }>;
}

describe('Kubernetes exports on a real API server', { skip }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  }, STARTUP);
  after(() => cluster?.stop());

  for (const [spec, flavor] of [
    [hello, 'argo'],
    [hello, 'jobs'],
    [mnist, 'argo'],
    [mnist, 'jobs']
  ] as const) {
    test(`${spec.name} (${flavor}) is accepted and reads back as exported`, async () => {
      const namespace = `${spec.name}-${flavor}`;
      const { plan, manifests: list } = manifests(spec, flavor, namespace);
      const result = await apply(cluster.kubeconfig, yaml(list));
      assert.equal(result.code, 0, result.stderr);

      const items = await readBack(cluster.kubeconfig, namespace);
      // Everything in the namespace that we sent, and nothing else of these kinds.
      const sent = list
        .filter(m =>
          ['Workflow', 'Job', 'Deployment', 'Service', 'PersistentVolumeClaim', 'Secret'].includes(
            m.kind
          )
        )
        .map(m => `${m.kind}/${m.metadata!.name}`);
      assert.deepEqual([...items.keys()].sort(), sent.sort());

      const needs = Object.fromEntries(plan.steps.map(s => [s.service, s.needs]));
      if (flavor === 'argo') {
        const workflow = get(items, 'Workflow', namespace);
        const main = workflow.spec.templates.find(t => t.name === workflow.spec.entrypoint)!;
        assert.deepEqual(
          Object.fromEntries(main.dag!.tasks.map(t => [t.name, t.dependencies ?? []])),
          needs
        );
        const retried = plan.steps.filter(s => s.spec.retries);
        for (const s of retried) {
          const template = workflow.spec.templates.find(t => t.name === `step-${s.service}`)!;
          assert.equal(template.retryStrategy?.limit, s.spec.retries);
        }
      } else {
        for (const s of plan.steps) {
          const job = get(items, 'Job', s.service);
          assert.equal(job.spec!.suspend, true, `${s.service} waits to be released`);
          // Retries are scanflow's releaser's (a Job released again), as under `scanflow run`.
          assert.equal(job.spec!.backoffLimit, 0);
          assert.equal(
            job.metadata!.annotations!['scanflow.retries'],
            s.spec.retries ? String(s.spec.retries) : undefined
          );
          assert.deepEqual(JSON.parse(job.metadata!.annotations!['scanflow.needs']), s.needs);
          assert.equal(job.status?.startTime, undefined, 'a suspended Job has not started');
        }
      }
      for (const tracker of plan.trackers) {
        const deployment = get(items, 'Deployment', tracker.service);
        assert.equal(deployment.spec!.template.spec!.containers[0].image, plan.trackerImage);
        const service = get(items, 'Service', tracker.service);
        assert.equal(service.spec!.ports![0].port, 5000);
        assert.ok(service.spec!.clusterIP, 'the server gave the Service an address');
      }
      const claim = get(items, 'PersistentVolumeClaim', plan.volume);
      assert.deepEqual(claim.spec!.accessModes, ['ReadWriteOnce']);
      const secret = get(items, 'Secret', `${namespace}-tracker-token`);
      assert.equal(Buffer.from(secret.data!.token, 'base64').toString(), TOKEN);
    });
  }

  test('the file `scanflow export --to k8s` writes is accepted as it is', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'scanflow-k8s-export-'));
    try {
      const result = await exportWorkflow(hello, {
        target: 'k8s',
        outDir,
        baseDir: join(root, 'examples', 'hello'),
        name: 'hello-file',
        k8sFlavor: 'jobs',
        token: TOKEN
      });
      const applied = await apply(cluster.kubeconfig, readFileSync(result.main, 'utf8'));
      assert.equal(applied.code, 0, applied.stderr);
      const items = await readBack(cluster.kubeconfig, 'hello-file');
      assert.equal(get(items, 'Job', 'report').spec!.suspend, true);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  test('a Workflow with an unknown field in a template is rejected, naming it', async () => {
    const { manifests: list } = manifests(hello, 'argo', 'hello-broken');
    const workflow = list.find((m): m is ArgoWorkflow => m.kind === 'Workflow')!;
    Object.assign(workflow.spec.templates[1], { bogus: 3 });
    const result = await apply(cluster.kubeconfig, yaml(list));
    assert.notEqual(result.code, 0, `accepted: ${result.stdout}`);
    assert.match(result.stderr, /bogus/);
    const missing = await kubectl(cluster.kubeconfig, [
      'get',
      '-n',
      'hello-broken',
      'workflows.argoproj.io',
      'hello-broken'
    ]);
    assert.notEqual(missing.code, 0, 'the Workflow was not created');
    assert.match(missing.stderr, /NotFound|not found/);
  });

  for (const flavor of ['argo', 'jobs'] as const) {
    test(`a workflow with a service (${flavor}) is accepted: its Service, its Deployment and the Workflow or Jobs`, async () => {
      const namespace = `served-${flavor}`;
      const { plan, manifests: list } = manifests(servedWorkflow('served'), flavor, namespace);
      const result = await apply(cluster.kubeconfig, yaml(list));
      assert.equal(result.code, 0, result.stderr);
      let deployment: IDeployment;
      if (flavor === 'argo') {
        // The Deployment is applied by the Workflow's resource task: the server validates it
        // (strictly, as Argo's executor would send it) when we apply it the same way.
        const workflow = list.find((m): m is ArgoWorkflow => m.kind === 'Workflow')!;
        const template = workflow.spec.templates.find(t => t.resource)!;
        const dryRun = await kubectl(
          cluster.kubeconfig,
          ['apply', '--server-side', '--validate=strict', '--dry-run=server', '-f', '-'],
          template.resource!.manifest
        );
        assert.equal(dryRun.code, 0, dryRun.stderr);
        deployment = JSON.parse(template.resource!.manifest) as IDeployment;
        const items = await readBack(cluster.kubeconfig, namespace);
        const main = get(items, 'Workflow', namespace).spec.templates.find(t => t.dag)!;
        assert.deepEqual(main.dag!.tasks.find(t => t.name === 'call')!.dependencies, ['api']);
      } else {
        deployment = get(await readBack(cluster.kubeconfig, namespace), 'Deployment', 'api');
        assert.equal(deployment.spec!.replicas, 0);
      }
      const service = get(await readBack(cluster.kubeconfig, namespace), 'Service', 'api');
      assert.equal(service.spec!.ports![0].port, 8080);
      assert.ok(service.spec!.clusterIP, 'the server gave the Service an address');
      const container = deployment.spec!.template.spec!.containers[0];
      assert.equal(container.readinessProbe?.httpGet?.path, '/health');
      assert.equal(plan.services[0].url, 'http://api:8080');
    });
  }
});
