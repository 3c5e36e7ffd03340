/**
 * The Kubernetes export, offline: the manifests of examples/hello and of the MNIST workflow pass
 * the official schemas pinned in kubernetes-models, and say what `scanflow run` would do (the same
 * DAG, environment, retries, timeouts, resources and volumes). test/deploy/k8s-apply.test.ts gives
 * the same manifests to a real API server.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Container, type IContainer } from 'kubernetes-models/v1/Container';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Volume } from 'kubernetes-models/v1/Volume';
import { loadWorkflow } from '../../src/cli/load';
import { trackerCommand } from '../../src/deploy/compose';
import { ExportError } from '../../src/deploy/errors';
import {
  renderKubernetes,
  unexpanded,
  type ArgoTemplate,
  type ArgoWorkflow,
  type KubernetesFlavor,
  type KubernetesManifest
} from '../../src/deploy/k8s';
import { planDeployment, type DeploymentPlan, type PlanOptions } from '../../src/deploy/plan';
import { mnistWorkflow } from '../../src/demo/mnist/workflow';
import { enclosingWorkflow, stepEnvironment } from '../../src/run/step-env';
import { servedWorkflow } from './helpers';
import { flatten, parseMemory, step, workflow, type WorkflowSpec } from '../../src/workflow';

const root = join(__dirname, '..', '..');
const RUN_ID = '20261207-203000-ab12';
const TOKEN = 'test-token-0123';
const TRACKER_IMAGE = 'scanflow/tracker:test';
const hello = loadWorkflow(join(root, 'examples', 'hello', 'workflow.ts'));
const mnist = mnistWorkflow({ size: 'small' });

function plan(spec: WorkflowSpec, options: Partial<PlanOptions> = {}): DeploymentPlan {
  return planDeployment(spec, {
    target: 'k8s',
    baseDir: join(root, 'examples', spec.name),
    trackerImage: TRACKER_IMAGE,
    runId: RUN_ID,
    ...options
  });
}

/** MNIST's steps extend a base image: planned as `--build --registry` plans them. */
function mnistPlan(): DeploymentPlan {
  const built = Object.fromEntries(flatten(mnist).steps.map(s => [s.id, 'scanflow/step:abc']));
  return plan(mnist, { built, registry: '127.0.0.1:5000' });
}

const render = (p: DeploymentPlan, flavor: KubernetesFlavor = 'argo'): KubernetesManifest[] =>
  renderKubernetes(p, { token: TOKEN, flavor });

/**
 * Checks every manifest against the Kubernetes schemas in kubernetes-models (types, required
 * fields, enums); an Argo Workflow, which has no model, through its containers and volumes and
 * the references between its templates. Throws on the first problem.
 */
function validate(manifest: KubernetesManifest): void {
  switch (manifest.kind) {
    case 'Namespace':
      return new Namespace(manifest).validate();
    case 'ServiceAccount':
      return new ServiceAccount(manifest).validate();
    case 'Role':
      return new Role(manifest).validate();
    case 'RoleBinding':
      return new RoleBinding(manifest).validate();
    case 'Secret':
      return new Secret(manifest).validate();
    case 'PersistentVolumeClaim':
      return new PersistentVolumeClaim(manifest).validate();
    case 'Deployment':
      return new Deployment(manifest).validate();
    case 'Service':
      return new Service(manifest).validate();
    case 'Job':
      return new Job(manifest).validate();
    case 'Workflow':
      return validateWorkflow(manifest);
  }
}

function validateWorkflow(workflow: ArgoWorkflow): void {
  const { spec } = workflow;
  for (const volume of spec.volumes) new Volume(volume).validate();
  const templates = new Map(spec.templates.map(t => [t.name, t]));
  assert.equal(templates.size, spec.templates.length, 'template names are unique');
  const entry = templates.get(spec.entrypoint);
  assert.ok(entry?.dag, `the entrypoint ${spec.entrypoint} is a dag template`);
  const tasks = new Set(entry.dag.tasks.map(t => t.name));
  for (const task of entry.dag.tasks) {
    const template = templates.get(task.template);
    // A service's task applies its Deployment (a resource template), which must be valid too.
    if (template?.resource) {
      new Deployment(JSON.parse(template.resource.manifest)).validate();
    } else {
      assert.ok(template?.container, `task ${task.name}: a container template`);
    }
    for (const need of task.dependencies ?? []) assert.ok(tasks.has(need), `${task.name}: ${need}`);
  }
  const volumes = new Set(spec.volumes.map(v => v.name));
  for (const template of spec.templates) {
    for (const container of [...(template.initContainers ?? []), template.container ?? []].flat()) {
      new Container(container).validate();
      for (const mount of container.volumeMounts ?? []) assert.ok(volumes.has(mount.name));
    }
  }
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function assertLabels(labels: Record<string, string> | undefined, where: string): void {
  assert.ok(labels, `${where} has labels`);
  for (const [key, value] of Object.entries(labels)) {
    assert.match(key, LABEL_KEY, `${where}: label key ${key}`);
    assert.ok(value.length <= 63 && LABEL_VALUE.test(value), `${where}: ${key}=${value}`);
  }
}

const ofKind = <K extends KubernetesManifest['kind']>(
  manifests: KubernetesManifest[],
  kind: K
): Array<Extract<KubernetesManifest, { kind: K }>> =>
  manifests.filter((m): m is Extract<KubernetesManifest, { kind: K }> => m.kind === kind);

function workflowOf(manifests: KubernetesManifest[]): ArgoWorkflow {
  const workflows = ofKind(manifests, 'Workflow');
  assert.equal(workflows.length, 1);
  return workflows[0];
}

/** The template of each step, by task name. */
function stepTemplates(workflow: ArgoWorkflow): Map<string, ArgoTemplate> {
  const byName = new Map(workflow.spec.templates.map(t => [t.name, t]));
  const main = byName.get(workflow.spec.entrypoint)!;
  return new Map(main.dag!.tasks.map(t => [t.name, byName.get(t.template)!]));
}

/** The step containers, by service name, in either flavor. */
function stepContainers(manifests: KubernetesManifest[]): Map<string, IContainer> {
  const workflows = ofKind(manifests, 'Workflow');
  if (workflows.length) {
    return new Map(
      [...stepTemplates(workflows[0])].map(([name, template]) => [name, template.container!])
    );
  }
  return new Map(
    ofKind(manifests, 'Job').map(job => [
      job.metadata!.name!,
      job.spec!.template.spec!.containers[0]
    ])
  );
}

/** A container's environment as the step sees it (values unescaped); secrets as `secret:NAME/KEY`. */
function environment(container: IContainer): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).map(e => {
      const secret = e.valueFrom?.secretKeyRef;
      const value = secret ? `secret:${secret.name}/${secret.key}` : e.value!.replace(/\$\$/g, '$');
      return [e.name, value];
    })
  );
}

describe('renderKubernetes', () => {
  for (const [name, planned] of [
    ['hello', () => plan(hello)],
    ['mnist', mnistPlan]
  ] as const) {
    for (const flavor of ['argo', 'jobs'] as const) {
      it(`${name} (${flavor}): every manifest passes the official schemas, with valid names and labels`, () => {
        const p = planned();
        const manifests = render(p, flavor);
        for (const manifest of manifests) {
          const where = `${manifest.kind} ${manifest.metadata?.name}`;
          assert.doesNotThrow(() => validate(manifest), where);
          const meta = manifest.metadata!;
          assert.match(meta.name!, DNS_LABEL, `${where}: a DNS-1123 name`);
          assert.ok(meta.name!.length <= 63, where);
          assert.equal(meta.namespace, manifest.kind === 'Namespace' ? undefined : p.name, where);
          assertLabels(meta.labels, where);
          // A step's objects name its enclosing workflow in scanflow.workflow.
          const step = p.steps.find(s => s.service === meta.name && manifest.kind === 'Job');
          for (const [key, value] of Object.entries(step?.labels ?? p.labels)) {
            assert.equal(meta.labels![key], value, `${where} carries ${key}`);
          }
        }
        const pods = [
          ...ofKind(manifests, 'Deployment').map(d => d.spec!.template.metadata?.labels),
          ...ofKind(manifests, 'Job').map(j => j.spec!.template.metadata?.labels),
          ...ofKind(manifests, 'Workflow').flatMap(w =>
            [...stepTemplates(w).values()].map(t => t.metadata?.labels)
          )
        ];
        assert.ok(pods.length > p.steps.length - 1);
        pods.forEach((labels, i) => assertLabels(labels, `pod template ${i}`));
        // One object of each kind and name (kubectl apply would merge duplicates silently).
        const keys = manifests.map(m => `${m.kind}/${m.metadata?.name}`);
        assert.deepEqual([...new Set(keys)], keys);
      });
    }
  }

  it('hello (argo): the DAG is the flattened graph of `scanflow run`', () => {
    const p = plan(hello);
    const workflow = workflowOf(render(p));
    assert.equal(workflow.apiVersion, 'argoproj.io/v1alpha1');
    assert.equal(workflow.metadata.name, 'hello');
    assert.equal(workflow.spec.entrypoint, 'main');
    const main = workflow.spec.templates.find(t => t.name === 'main')!;
    const dependencies: Record<string, string[]> = Object.fromEntries(
      main.dag!.tasks.map(t => [t.name, t.dependencies ?? []])
    );
    // Each task waits for its step's needs in the flattened graph, by service name.
    const service = new Map(p.steps.map(s => [s.id, s.service]));
    for (const s of p.graph.steps) {
      assert.deepEqual(
        dependencies[service.get(s.id)!],
        s.needs.map(id => service.get(id))
      );
    }
    // hello: linear and mean wait for make-data, pick for both, report for pick.
    assert.deepEqual(dependencies, {
      'make-data': [],
      'train-models-linear': ['make-data'],
      'train-models-mean': ['make-data'],
      'train-pick': ['train-models-linear', 'train-models-mean'],
      report: ['train-pick']
    });
    // Every step template mounts the outputs volume, as `scanflow run` does.
    assert.deepEqual(workflow.spec.volumes, [
      { name: 'outputs', persistentVolumeClaim: { claimName: 'hello-outputs' } }
    ]);
  });

  it('mnist (argo): registry images, prepare -> train -> evaluate and predict', () => {
    const p = mnistPlan();
    const manifests = render(p);
    const templates = stepTemplates(workflowOf(manifests));
    const main = workflowOf(manifests).spec.templates[0];
    assert.deepEqual(
      main.dag!.tasks.map(t => [t.name, t.dependencies ?? []]),
      [
        ['prepare', []],
        ['train', ['prepare']],
        ['use-evaluate', ['train']],
        ['use-predict', ['train']]
      ]
    );
    for (const template of templates.values()) {
      assert.equal(template.container!.image, '127.0.0.1:5000/scanflow/step:abc');
      assert.equal(template.initContainers?.[0].image, '127.0.0.1:5000/scanflow/tracker:test');
    }
    assert.deepEqual(templates.get('prepare')!.container!.command, [
      'node',
      'steps.js',
      'prepare',
      '--size=small'
    ]);
    const trackers = ofKind(manifests, 'Deployment');
    assert.deepEqual(
      trackers.map(d => d.spec!.template.spec!.containers[0].image),
      ['127.0.0.1:5000/scanflow/tracker:test']
    );
  });

  it('maps retries, timeouts and resources in both flavors', () => {
    const p = plan(hello);
    const templates = stepTemplates(workflowOf(render(p)));
    const jobs = new Map(ofKind(render(p, 'jobs'), 'Job').map(j => [j.metadata!.name!, j]));

    // pick: retries 1 -> Argo's retryStrategy with backoff; for Jobs, the deployer's retries
    // (scanflow.retries), each Job running one pod.
    assert.deepEqual(templates.get('train-pick')!.retryStrategy, {
      limit: 1,
      retryPolicy: 'OnFailure',
      backoff: { duration: '1s', factor: 2 }
    });
    assert.equal(jobs.get('train-pick')!.spec!.backoffLimit, 0);
    assert.equal(jobs.get('train-pick')!.metadata!.annotations!['scanflow.retries'], '1');
    assert.equal(templates.get('report')!.retryStrategy, undefined);
    assert.equal(jobs.get('report')!.spec!.backoffLimit, 0);
    assert.equal(jobs.get('report')!.metadata!.annotations!['scanflow.retries'], undefined);

    // report: timeout 60 s, per attempt (the pod's deadline, in both flavors).
    assert.equal(templates.get('report')!.activeDeadlineSeconds, 60);
    assert.equal(jobs.get('report')!.spec!.template.spec!.activeDeadlineSeconds, 60);
    assert.equal(templates.get('train-pick')!.activeDeadlineSeconds, undefined);

    // linear: cpus 0.5, memory 256m -> requests and limits.
    const amounts = { cpu: '500m', memory: String(parseMemory('256m')) };
    for (const container of [
      templates.get('train-models-linear')!.container!,
      jobs.get('train-models-linear')!.spec!.template.spec!.containers[0]
    ]) {
      assert.deepEqual(container.resources, { requests: amounts, limits: amounts });
    }
    assert.equal(templates.get('make-data')!.container!.resources, undefined);

    // MNIST's train: memory 2g. A GPU step: NVIDIA's resource, in limits.
    const mnistTrain = stepTemplates(workflowOf(render(mnistPlan()))).get('train')!;
    assert.deepEqual(mnistTrain.container!.resources!.limits, {
      memory: String(parseMemory('2g'))
    });
    const gpu = workflow('gpu', [
      step('fit', { image: 'scanflow/node:20', resources: { gpus: 2, cpus: 1 } })
    ]);
    const fit = stepTemplates(workflowOf(render(plan(gpu)))).get('fit')!.container!;
    assert.deepEqual(fit.resources, {
      requests: { cpu: '1000m' },
      limits: { cpu: '1000m', 'nvidia.com/gpu': '2' }
    });
  });

  it('gives every step the environment `scanflow run` gives it, tracker and token included', () => {
    const p = plan(hello);
    const tracker = p.trackers.find(t => t.workflow === 'hello');
    assert.ok(tracker);
    assert.equal(tracker.url, 'http://tracker:5000');
    for (const flavor of ['argo', 'jobs'] as const) {
      const manifests = render(p, flavor);
      const containers = stepContainers(manifests);
      assert.equal(containers.size, p.steps.length);
      for (const s of p.steps) {
        const flat = p.graph.steps.find(f => f.id === s.id)!;
        const run = stepEnvironment(
          { runId: RUN_ID, tracker: tracker.url },
          p.graph,
          flat,
          enclosingWorkflow(p.graph, flat),
          1
        );
        delete run.SCANFLOW_ATTEMPT; // retries are the orchestrator's
        assert.deepEqual(environment(containers.get(s.service)!), {
          ...run,
          SCANFLOW_INPUTS: '/scanflow/inputs',
          SCANFLOW_OUTPUTS: '/scanflow/outputs',
          MLFLOW_RUN_ID: tracker.record.steps[s.id],
          MLFLOW_TRACKING_TOKEN: 'secret:hello-tracker-token/token'
        });
        assert.deepEqual(containers.get(s.service)!.volumeMounts, [
          { name: 'outputs', mountPath: '/scanflow/outputs' },
          { name: 'outputs', mountPath: '/scanflow/inputs', readOnly: true }
        ]);
      }
      const report = environment(containers.get('report')!);
      assert.equal(report.SCANFLOW_PARAM_AUDIENCE, 'team');
      assert.equal(report.MLFLOW_TRACKING_URI, 'http://tracker:5000');
      assert.equal(report.MLFLOW_RUN_ID, `${RUN_ID}-report`);
      assert.equal(containers.get('report')!.command!.at(-1), '--audience=team');
    }
  });

  it('runs the tracker as a Deployment and a Service on a volume, with the token from a Secret', () => {
    const p = plan(hello);
    const manifests = render(p);
    const [secret] = ofKind(manifests, 'Secret');
    assert.equal(secret.metadata!.name, 'hello-tracker-token');
    assert.deepEqual(secret.stringData, { token: TOKEN });

    assert.equal(p.trackers.length, 1, 'one tracker: the root workflow has one of its own');
    const [tracker] = p.trackers;
    const [deployment] = ofKind(manifests, 'Deployment');
    const [service] = ofKind(manifests, 'Service');
    const claims = ofKind(manifests, 'PersistentVolumeClaim');
    assert.equal(deployment.metadata!.name, 'tracker');
    assert.equal(deployment.spec!.replicas, 1);
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0];
    assert.equal(container.image, TRACKER_IMAGE);
    assert.equal(container.command, undefined, "the image's entrypoint runs the tracker");
    assert.deepEqual(container.args, trackerCommand(tracker));
    const env = environment(container);
    assert.deepEqual(JSON.parse(env.SCANFLOW_DEPLOYMENT), tracker.record);
    assert.equal(env.SCANFLOW_TRACKER_TOKEN, 'secret:hello-tracker-token/token');
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/health', port: 5000 });
    const store = pod.volumes![0].persistentVolumeClaim!.claimName;
    assert.ok(claims.some(c => c.metadata!.name === store));
    assert.deepEqual(container.volumeMounts, [{ name: 'store', mountPath: '/scanflow/tracker' }]);

    // The Service that MLFLOW_TRACKING_URI names selects the tracker's pods.
    assert.equal(`http://${service.metadata!.name}:${service.spec!.ports![0].port}`, tracker.url);
    assert.equal(service.spec!.type, 'ClusterIP');
    for (const [key, value] of Object.entries(service.spec!.selector!)) {
      assert.equal(deployment.spec!.template.metadata!.labels![key], value);
    }
    assert.deepEqual(deployment.spec!.selector.matchLabels, service.spec!.selector);

    // The outputs volume every step shares.
    const outputs = claims.find(c => c.metadata!.name === 'hello-outputs');
    assert.deepEqual(outputs?.spec, {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } }
    });

    // Steps wait for the tracker's /health before they start.
    for (const template of stepTemplates(workflowOf(manifests)).values()) {
      const [wait] = template.initContainers!;
      assert.equal(wait.image, TRACKER_IMAGE);
      assert.match(wait.command!.join(' '), /http:\/\/tracker:5000\/health/);
    }
  });

  it('a nested workflow with a tracker of its own gets a second tracker, which its steps wait for', () => {
    const node = 'scanflow/node:20';
    const spec = workflow('two', [
      step('prep', { image: node }),
      workflow('inner', [step('fit', { image: node })], { tracker: { scope: 'workflow' } })
    ]);
    const p = plan(spec);
    const manifests = render(p);
    assert.deepEqual(
      ofKind(manifests, 'Service').map(s => s.metadata!.name),
      p.trackers.map(t => t.service)
    );
    assert.equal(p.trackers.length, 2);
    const claims = ofKind(manifests, 'PersistentVolumeClaim').map(c => c.metadata!.name);
    for (const [deployment, tracker] of ofKind(manifests, 'Deployment').map(
      (d, i) => [d, p.trackers[i]] as const
    )) {
      const claim = deployment.spec!.template.spec!.volumes![0].persistentVolumeClaim!.claimName;
      assert.ok(claims.includes(claim), `${tracker.service}: its store's volume is exported`);
    }
    const inner = p.trackers.find(t => t.workflow === 'two.inner')!;
    const templates = stepTemplates(workflowOf(manifests));
    const fit = templates.get('inner-fit')!;
    assert.equal(environment(fit.container!).MLFLOW_TRACKING_URI, inner.url);
    assert.ok(fit.initContainers![0].command!.join(' ').includes(`${inner.url}/health`));
    const prep = templates.get('prep')!;
    assert.ok(prep.initContainers![0].command!.join(' ').includes('http://tracker:5000/health'));
  });

  it('an external tracker: no tracker objects, no secret, no waiting', () => {
    const p = plan(hello, { tracker: 'http://mlflow.example.org:5000' });
    const manifests = render(p);
    assert.deepEqual(
      manifests.map(m => m.kind),
      ['Namespace', 'PersistentVolumeClaim', 'ServiceAccount', 'Role', 'RoleBinding', 'Workflow']
    );
    for (const [name, template] of stepTemplates(workflowOf(manifests))) {
      assert.equal(template.initContainers, undefined, name);
      const env = environment(template.container!);
      assert.equal(env.MLFLOW_TRACKING_URI, 'http://mlflow.example.org:5000');
      assert.equal(env.MLFLOW_TRACKING_TOKEN, undefined);
    }
  });

  it('jobs: one suspended Job per step, released by scanflow in the order of its needs', () => {
    const p = plan(hello);
    const manifests = render(p, 'jobs');
    assert.equal(ofKind(manifests, 'Workflow').length, 0);
    const jobs = ofKind(manifests, 'Job');
    assert.deepEqual(
      jobs.map(j => j.metadata!.name),
      p.steps.map(s => s.service)
    );
    for (const job of jobs) {
      const s = p.steps.find(x => x.service === job.metadata!.name)!;
      assert.equal(job.spec!.suspend, true);
      assert.equal(job.spec!.backoffLimit, 0, "one pod per Job: retries are the deployer's");
      assert.equal(
        job.metadata!.annotations!['scanflow.retries'],
        s.spec.retries ? String(s.spec.retries) : undefined
      );
      assert.deepEqual(JSON.parse(job.metadata!.annotations!['scanflow.needs']), s.needs);
      assert.equal(job.metadata!.labels!['scanflow.step'], s.id);
      const pod = job.spec!.template.spec!;
      assert.equal(pod.restartPolicy, 'Never');
      assert.deepEqual(pod.volumes, [
        { name: 'outputs', persistentVolumeClaim: { claimName: 'hello-outputs' } }
      ]);
      assert.equal(pod.initContainers?.[0].name, 'wait-for-tracker');
    }
  });

  it('keeps `$` as the step wrote it, and makes odd label values valid', () => {
    const deep = workflow('odd', [
      workflow('a-very-long-workflow-name-for-labels', [
        step('and-an-equally-long-step-name-ending-badly_', {
          image: 'scanflow/node:20',
          command: ['sh', '-c', 'echo $(HOME) $$ $HOME'],
          env: { PRICE: '$(5)' }
        })
      ])
    ]);
    const manifests = render(plan(deep));
    const template = [...stepTemplates(workflowOf(manifests)).values()][0];
    // Kubernetes would expand $(HOME) and read $$ as $: every $ is doubled.
    assert.deepEqual(template.container!.command, ['sh', '-c', 'echo $$(HOME) $$$$ $$HOME']);
    assert.equal(unexpanded('$(5)'), '$$(5)');
    assert.equal(template.container!.env!.find(e => e.name === 'PRICE')!.value, '$$(5)');
    const id =
      'odd.a-very-long-workflow-name-for-labels.and-an-equally-long-step-name-ending-badly_';
    const labels = template.metadata!.labels!;
    assertLabels(labels, 'the odd step');
    assert.notEqual(labels['scanflow.step'], id);
    assert.equal(template.metadata!.annotations!['scanflow.step'], id, 'the original is kept');
  });

  it('refuses a step without an image, naming it', () => {
    const built = workflow('built', [step('fit', { dockerfile: 'Dockerfile' })]);
    assert.throws(() => plan(built), ExportError);
    // A plan made for compose (which builds Dockerfiles itself) cannot be rendered for k8s.
    const composePlan = plan(built, { target: 'compose' });
    assert.throws(() => render(composePlan), /built\.fit.*--build --registry/s);
  });

  it('the schema check fails on a broken manifest', () => {
    const [deployment] = ofKind(render(plan(hello)), 'Deployment');
    assert.doesNotThrow(() => validate(deployment));
    const wrongType = structuredClone(deployment);
    (wrongType.spec as unknown as { replicas: string }).replicas = 'one';
    assert.throws(() => validate(wrongType), /replicas must be integer/);
    const noSelector = structuredClone(deployment);
    delete (noSelector.spec as { selector?: unknown }).selector;
    assert.throws(() => validate(noSelector), /selector/);
    const workflow = workflowOf(render(plan(hello)));
    workflow.spec.templates[1].container!.volumeMounts![0].mountPath = 42 as unknown as string;
    assert.throws(() => validate(workflow), /mountPath must be string/);
  });

  it('services: a Deployment (readiness probe) behind a ClusterIP Service, after its dependencies, before its dependents, in both flavors', () => {
    const served = servedWorkflow('served');
    const p = plan(served);
    for (const flavor of ['argo', 'jobs'] as const) {
      const manifests = render(p, flavor);
      manifests.forEach(m => assert.doesNotThrow(() => validate(m), `${flavor}: ${m.kind}`));
      const [service] = ofKind(manifests, 'Service').filter(s => s.metadata!.name === 'api');
      assert.deepEqual(service.spec!.ports, [{ name: 'http', port: 8080, targetPort: 8080 }]);
      assert.equal(service.spec!.type, 'ClusterIP');
      let deployment: Extract<KubernetesManifest, { kind: 'Deployment' }>;
      if (flavor === 'argo') {
        const workflow = workflowOf(manifests);
        const main = workflow.spec.templates.find(t => t.name === 'main')!;
        assert.deepEqual(
          Object.fromEntries(main.dag!.tasks.map(t => [t.name, t.dependencies ?? []])),
          { train: [], api: ['train'], call: ['api'] }
        );
        const template = workflow.spec.templates.find(t => t.name === 'step-api')!;
        assert.equal(template.resource!.action, 'apply');
        assert.equal(template.resource!.successCondition, 'status.availableReplicas > 1');
        assert.equal(template.resource!.setOwnerReference, false, 'it outlives the Workflow');
        deployment = JSON.parse(template.resource!.manifest);
        assert.equal(deployment.spec!.replicas, 2);
        // The executor applies it, so its service account may.
        const role = ofKind(manifests, 'Role')[0];
        assert.ok(role.rules!.some(r => r.resources!.includes('deployments')));
      } else {
        deployment = ofKind(manifests, 'Deployment').find(d => d.metadata!.name === 'api')!;
        assert.equal(deployment.spec!.replicas, 0, 'held until scanflow releases it');
        assert.equal(deployment.metadata!.annotations!['scanflow.replicas'], '2');
        assert.deepEqual(JSON.parse(deployment.metadata!.annotations!['scanflow.needs']), [
          'train'
        ]);
      }
      assert.deepEqual(deployment.spec!.selector.matchLabels, service.spec!.selector);
      const pod = deployment.spec!.template;
      for (const [key, value] of Object.entries(service.spec!.selector!)) {
        assert.equal(pod.metadata!.labels![key], value);
      }
      const container = pod.spec!.containers[0];
      assert.deepEqual(container.readinessProbe, {
        httpGet: { path: '/health', port: 8080 },
        periodSeconds: 1,
        timeoutSeconds: 2,
        failureThreshold: 30
      });
      // The environment `scanflow run` gives it, and every step knows the service's URL.
      const env = environment(container);
      assert.equal(env.SCANFLOW_SERVICE_PORT, '8080');
      assert.equal(env.SCANFLOW_STEP, 'served.api');
      assert.equal(env.SCANFLOW_SERVICE_API_URL, 'http://api:8080');
      assert.equal(
        environment(stepContainers(manifests).get('call')!).SCANFLOW_SERVICE_API_URL,
        'http://api:8080'
      );
    }
  });
});
