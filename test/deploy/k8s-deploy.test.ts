/**
 * `scanflow deploy --to k8s` (the Jobs flavor) on a simulated cluster (scripts/k8s/cluster.sh
 * `up --simulated`: a real API server, controller manager and scheduler, kwok's fake nodes): the
 * deployer applies the export, and `scanflow run`'s scheduler releases the Jobs in order, retries
 * a failing step with fresh Jobs, never releases what depends on a failure, stops on cancel, and
 * undeploy removes the namespace. Pods run no containers there: kwok moves them through their
 * phases, and the test's own kwok Stages make pods of two test images fail or keep running.
 *
 * SCANFLOW_TEST_KUBECONFIG=FILE runs the tests on a simulated cluster that is already up.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { stringify } from 'yaml';
import { loadWorkflow } from '../../src/cli/load';
import { renderKubernetes } from '../../src/deploy/k8s';
import {
  followKubernetes,
  listKubernetesDeployments,
  undeployKubernetes
} from '../../src/deploy/k8s-deployer';
import { planDeployment, type DeploymentPlan } from '../../src/deploy/plan';
import type { EventInit } from '../../src/run/events';
import { newRunId } from '../../src/run/run';
import type { StepReport } from '../../src/run/scheduler';
import { step, workflow, type ServiceSpec, type WorkflowSpec } from '../../src/workflow';
import { kubectl, startCluster, type Cluster } from './k8s-cluster';
import { scanflow, writeDefinition } from '../run/helpers';
import { servedWorkflow } from './helpers';

const root = join(__dirname, '..', '..');
const bin = join(process.env.SCANFLOW_CACHE ?? '/var/cache/scanflow', 'k8s/v1.37.2/bin');
const given = process.env.SCANFLOW_TEST_KUBECONFIG;
const missing = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].filter(
  b => !existsSync(join(bin, b))
);
const skip =
  given || missing.length === 0
    ? false
    : `${missing.join(', ')} not built in ${bin} (scripts/k8s/build.sh builds them)`;
const STARTUP = { timeout: 240_000 };
const DEPLOY = { timeout: 300_000 };
const TOKEN = 'test-token-0123';
const NODE = 'scanflow/node:20';
/** Images that only the test's kwok Stages know: their pods fail, or keep running. */
const FAILS = 'scanflow/fails:1';
const SLEEPS = 'scanflow/sleeps:1';
const FAIL_CODE = 3;

const hello = loadWorkflow(join(root, 'examples', 'hello', 'workflow.ts'));

/**
 * kwok Stages (kwok.x-k8s.io/v1alpha1) for the test images. Their weight wins over kwok's own
 * pod-complete stage, which matches every Running pod of a Job too.
 */
function stage(name: string, image: string, next: string, delayMs?: number): object {
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name },
    spec: {
      resourceRef: { apiGroup: 'v1', kind: 'Pod' },
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Running'] },
          { key: '.spec.containers.[].image', operator: 'In', values: [image] }
        ]
      },
      weight: 10000,
      ...(delayMs ? { delay: { durationMilliseconds: delayMs } } : {}),
      next: { statusTemplate: next }
    }
  };
}
const STAGES = [
  stage(
    'scanflow-test-pod-fails',
    FAILS,
    `{{ $now := Now }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: ${FAIL_CODE}
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: Failed
`
  ),
  // "Completes" after an hour: until then the pod runs.
  stage('scanflow-test-pod-sleeps', SLEEPS, 'phase: Succeeded\n', 3_600_000)
];

const yaml = (list: object[]): string =>
  list.map(m => stringify(m, { lineWidth: 0 })).join('---\n');

async function getJson<T>(kubeconfig: string, args: string[]): Promise<T> {
  const result = await kubectl(kubeconfig, ['get', '-o', 'json', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

async function jobsOf(kubeconfig: string, namespace: string): Promise<Map<string, IJob>> {
  const list = await getJson<{ items: IJob[] }>(kubeconfig, ['jobs', '-n', namespace]);
  return new Map(list.items.map(j => [j.metadata!.name!, j]));
}

const condition = (job: IJob, type: string): boolean =>
  job.status?.conditions?.some(c => c.type === type && c.status === 'True') ?? false;

async function eventually(check: () => Promise<boolean>, what: string, ms = 30_000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < until, `${what} within ${ms / 1000} s`);
    await new Promise(resolve => setTimeout(resolve, 250));
  }
}

describe('scanflow deploy --to k8s (Jobs) on a simulated cluster', { skip }, () => {
  let cluster: Cluster | undefined;
  let kubeconfig: string;
  /** Why the tests that need the test's kwok Stages cannot run, if they cannot. */
  let noStages: string | undefined;
  const deployed: string[] = [];

  before(async () => {
    if (given) kubeconfig = given;
    else {
      cluster = await startCluster({ simulated: true });
      kubeconfig = cluster.kubeconfig;
    }
    const applied = await kubectl(
      kubeconfig,
      ['apply', '--server-side', '--field-manager=scanflow-test', '-f', '-'],
      yaml(STAGES)
    );
    if (applied.code !== 0) {
      noStages =
        'kwok on this cluster reads no Stage objects (the API serves no kind Stage): ' +
        'scripts/k8s/cluster.sh must install the Stage CRD and start kwok with --enable-crds=Stage';
    }
  }, STARTUP);

  after(async () => {
    if (given) {
      // A cluster that stays up: leave it as it was.
      for (const name of deployed) await undeployKubernetes(name, kubeconfig).catch(() => 0);
      await kubectl(kubeconfig, ['delete', 'pv', '--wait=false', '-l', 'scanflow-test=k8s-deploy']);
      await kubectl(kubeconfig, ['delete', '-f', '-'], yaml(STAGES));
    }
    await cluster?.stop();
  });

  interface Deployed {
    plan: DeploymentPlan;
    reports: Map<string, StepReport>;
    events: EventInit[];
    durationMs: number;
  }

  /**
   * Deploys `spec` as `scanflow deploy` does (plan, render, follow), after giving each of its
   * volume claims a hostPath PersistentVolume (a simulated cluster has no provisioner).
   */
  async function deploy(
    spec: WorkflowSpec,
    name: string,
    options: { signal?: AbortSignal; onEvent?: (event: EventInit) => void } = {}
  ): Promise<Deployed> {
    const plan = planDeployment(spec, {
      target: 'k8s',
      baseDir: root,
      trackerImage: 'scanflow/tracker:test',
      runId: newRunId(),
      name
    });
    const manifests = renderKubernetes(plan, { token: TOKEN, flavor: 'jobs' });
    const claims = manifests.filter(
      (m): m is IPersistentVolumeClaim => m.kind === 'PersistentVolumeClaim'
    );
    const volumes = claims.map(claim => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        name: `${name}-${claim.metadata!.name}`,
        labels: { 'scanflow-test': 'k8s-deploy' }
      },
      spec: {
        capacity: { storage: claim.spec!.resources!.requests!.storage },
        accessModes: ['ReadWriteOnce'],
        hostPath: { path: `/tmp/scanflow-k8s-volumes/${name}/${claim.metadata!.name}` },
        claimRef: { namespace: name, name: claim.metadata!.name }
      }
    }));
    const created = await kubectl(kubeconfig, ['apply', '-f', '-'], yaml(volumes));
    assert.equal(created.code, 0, created.stderr);
    deployed.push(name);
    const events: EventInit[] = [];
    const started = Date.now();
    const reports = await followKubernetes({
      plan,
      manifests,
      emit: event => {
        events.push(event);
        options.onEvent?.(event);
      },
      signal: options.signal ?? new AbortController().signal,
      kubeconfig
    });
    return { plan, reports, events, durationMs: Date.now() - started };
  }

  const idOf = (plan: DeploymentPlan, service: string) =>
    plan.steps.find(s => s.service === service)!.id;

  test(
    'hello converges: every Job completes, each released after its needs completed',
    DEPLOY,
    async () => {
      const { plan, reports, events, durationMs } = await deploy(hello, 'hello-k8s');
      for (const report of reports.values()) {
        assert.equal(report.status, 'succeeded', `${report.id}: ${report.error?.message}`);
        assert.equal(report.attempts, 1, report.id);
      }
      assert.equal(reports.size, 5);
      const running = events.filter(e => e.type === 'step-running');
      assert.equal(running.length, 5, 'one attempt per step');

      const jobs = await jobsOf(kubeconfig, plan.name);
      assert.deepEqual([...jobs.keys()].sort(), plan.steps.map(s => s.service).sort());
      for (const [name, job] of jobs) {
        assert.ok(condition(job, 'Complete'), `${name} is Complete`);
        assert.equal(job.spec!.suspend, false, `${name} was released`);
        const started = Date.parse(String(job.status!.startTime));
        for (const need of JSON.parse(job.metadata!.annotations!['scanflow.needs']) as string[]) {
          // The API's times are whole seconds: a release in the same second reads as equal.
          const completed = Date.parse(String(jobs.get(need)!.status!.completionTime));
          assert.ok(
            started >= completed,
            `${name} started (${job.status!.startTime}) after ${need} completed (${jobs.get(need)!.status!.completionTime})`
          );
        }
      }
      // The order the scheduler released them in honours every dependency as well.
      const order = running.map(e => ('step' in e ? e.step : ''));
      for (const s of plan.steps) {
        for (const need of s.needs) {
          assert.ok(
            order.indexOf(idOf(plan, need)) < order.indexOf(s.id),
            `${need} before ${s.id}`
          );
        }
      }
      console.log(`hello deployed in ${durationMs} ms`);
    }
  );

  test(
    "a service's Deployment is scaled up after its needs; its dependents are released once it is available, and it stays up",
    DEPLOY,
    async () => {
      const { plan, reports, events } = await deploy(servedWorkflow('served'), 'served-k8s');
      assert.deepEqual(
        Object.fromEntries(
          [...reports].map(([id, r]) => [id, `${r.status} ${r.error?.message ?? ''}`.trim()])
        ),
        { 'served.train': 'succeeded', 'served.api': 'ready', 'served.call': 'succeeded' }
      );
      const order = events
        .filter(e => ['step-succeeded', 'step-running', 'service-ready'].includes(e.type))
        .map(e => `${e.type} ${'step' in e ? e.step : ''}`);
      const at = (entry: string) => order.indexOf(entry);
      assert.ok(at('step-succeeded served.train') < at('step-running served.api'), order.join());
      assert.ok(at('service-ready served.api') < at('step-running served.call'), order.join());
      // Followed to its end, the service is still there with every replica available.
      const deployment = await getJson<IDeployment>(kubeconfig, [
        'deployment',
        '-n',
        plan.name,
        'api'
      ]);
      assert.equal(deployment.spec!.replicas, 2);
      assert.equal(deployment.status!.availableReplicas, 2);
    }
  );

  test(
    'a service whose pods fail fails the deployment, is held at 0, and its dependents never run',
    // Quarantined: under CI load the deployment reported the service ready (1 of 2 CI runs).
    { ...DEPLOY, skip: 'quarantined: reported ready instead of failed under CI load' },
    async (t: TestContext) => {
      if (noStages) return t.skip(noStages);
      const spec = servedWorkflow('unserved');
      const api = spec.steps[1] as ServiceSpec;
      api.image = FAILS;
      const { plan, reports } = await deploy(spec, 'unserved-k8s');
      const failed = reports.get('unserved.api')!;
      assert.equal(failed.status, 'failed');
      assert.match(
        failed.error!.message,
        /^step unserved\.api: the service (its pod failed|container main restarted)/
      );
      assert.equal(reports.get('unserved.call')!.status, 'skipped');
      const deployment = await getJson<IDeployment>(kubeconfig, [
        'deployment',
        '-n',
        plan.name,
        'api'
      ]);
      assert.equal(deployment.spec!.replicas, 0, 'held again');
      const jobs = await jobsOf(kubeconfig, plan.name);
      assert.equal(jobs.get('call')!.spec!.suspend, true, 'the caller was never released');
    }
  );

  test(
    'a failing step is attempted 1 + retries times, and what depends on it never runs',
    DEPLOY,
    async (t: TestContext) => {
      if (noStages) return t.skip(noStages);
      const flaky = workflow('flaky', [
        step('prepare', { image: NODE }),
        step('fails', { image: FAILS, retries: 2, after: ['prepare'] }),
        step('publish', { image: NODE, after: ['fails'] })
      ]);
      const { plan, reports, events, durationMs } = await deploy(flaky, 'flaky-k8s');
      assert.equal(reports.get('flaky.prepare')!.status, 'succeeded');
      const failed = reports.get('flaky.fails')!;
      assert.equal(failed.status, 'failed');
      assert.equal(failed.attempts, 3);
      assert.equal(failed.exitCode, FAIL_CODE, "the exit code of the pod's container");
      const retrying = events.filter(e => e.type === 'step-retrying' && e.step === 'flaky.fails');
      assert.equal(retrying.length, 2);
      assert.equal(reports.get('flaky.publish')!.status, 'skipped');
      assert.equal(reports.get('flaky.publish')!.attempts, 0);

      const jobs = await jobsOf(kubeconfig, plan.name);
      assert.ok(condition(jobs.get('fails')!, 'Failed'), "the last attempt's Job failed");
      const publish = jobs.get('publish')!;
      assert.equal(publish.spec!.suspend, true, 'publish was never released');
      assert.equal(publish.status?.startTime, undefined);
      const pods = await getJson<{ items: IPod[] }>(kubeconfig, [
        'pods',
        '-n',
        plan.name,
        '-l',
        'batch.kubernetes.io/job-name=publish'
      ]);
      assert.equal(pods.items.length, 0, 'publish never had a pod');
      console.log(`flaky deployed (3 attempts, 1 s + 2 s of backoff) in ${durationMs} ms`);
    }
  );

  test(
    'a step that outlives its timeout is stopped, and retried as under scanflow run',
    DEPLOY,
    async (t: TestContext) => {
      if (noStages) return t.skip(noStages);
      const late = workflow('late', [step('hangs', { image: SLEEPS, timeout: 2, retries: 1 })]);
      const { plan, reports, events } = await deploy(late, 'late-k8s');
      const hangs = reports.get('late.hangs')!;
      assert.equal(hangs.status, 'failed');
      assert.equal(hangs.attempts, 2);
      assert.equal(hangs.exitCode, 137);
      assert.match(hangs.error!.message, /timeout of 2 s/);
      assert.equal(events.filter(e => e.type === 'step-retrying').length, 1);
      const job = await kubectl(kubeconfig, ['get', 'job', '-n', plan.name, 'hangs']);
      assert.match(job.stderr, /NotFound|not found/, "the stopped attempt's Job is deleted");
    }
  );

  test(
    'a manifest the API server refuses fails the deployment, naming the field',
    DEPLOY,
    async () => {
      const plan = planDeployment(workflow('strict', [step('one', { image: NODE })]), {
        target: 'k8s',
        baseDir: root,
        trackerImage: 'scanflow/tracker:test',
        name: 'strict-k8s'
      });
      const manifests = renderKubernetes(plan, { token: TOKEN, flavor: 'jobs' });
      const job = manifests.find(m => m.kind === 'Job')!;
      Object.assign(job.spec!, { bogus: 3 });
      deployed.push(plan.name);
      await assert.rejects(
        followKubernetes({
          plan,
          manifests,
          emit: () => undefined,
          signal: new AbortController().signal,
          kubeconfig
        }),
        (error: Error) => {
          assert.equal(error.name, 'DeployError');
          assert.match(error.message, /Job strict-k8s\/one/);
          assert.match(error.message, /\.spec\.bogus: field not declared in schema/);
          return true;
        }
      );
      const created = await kubectl(kubeconfig, ['get', 'job', '-n', plan.name, 'one']);
      assert.notEqual(created.code, 0, 'the Job was not created');
    }
  );

  test(
    'undeploy removes the namespace, and the deployments no longer list it',
    DEPLOY,
    async () => {
      const before = await listKubernetesDeployments(kubeconfig);
      const listed = before.find(d => d.name === 'hello-k8s');
      assert.ok(listed, `hello-k8s is listed: ${JSON.stringify(before)}`);
      assert.equal(listed.target, 'k8s');
      assert.equal(listed.workflow, 'hello');
      assert.match(listed.runId, /\S/);
      assert.equal(listed.state, '5 jobs: 5 complete');

      const started = Date.now();
      const removed = await undeployKubernetes('hello-k8s', kubeconfig);
      // The namespace, its Secret, 2 claims, the tracker's Deployment, Service and pod, 5 Jobs and
      // their 5 pods.
      assert.ok(removed >= 11, `counted ${removed} objects`);
      const namespace = await kubectl(kubeconfig, ['get', 'namespace', 'hello-k8s']);
      assert.notEqual(namespace.code, 0, 'the namespace is gone');
      assert.match(namespace.stderr, /NotFound|not found/);
      const now = await listKubernetesDeployments(kubeconfig);
      assert.equal(
        now.find(d => d.name === 'hello-k8s'),
        undefined
      );
      assert.equal(await undeployKubernetes('hello-k8s', kubeconfig), 0, 'nothing left to remove');
      assert.equal(
        await undeployKubernetes('default', kubeconfig),
        0,
        'not a deployment: untouched'
      );
      console.log(`undeployed ${removed} objects in ${Date.now() - started} ms`);
    }
  );

  test(
    'cancel stops a deployment: the running Job is deleted, nothing else is released',
    DEPLOY,
    async (t: TestContext) => {
      if (noStages) return t.skip(noStages);
      const slow = workflow('slow', [
        step('wait', { image: SLEEPS }),
        step('then', { image: NODE, after: ['wait'] })
      ]);
      const cancel = new AbortController();
      let cancelled = 0;
      const deployment = deploy(slow, 'slow-k8s', {
        signal: cancel.signal,
        onEvent: event => {
          if (event.type !== 'step-running' || event.step !== 'slow.wait') return;
          // Cancel once the step's pod runs.
          void eventually(async () => {
            const pods = await getJson<{ items: IPod[] }>(kubeconfig, [
              'pods',
              '-n',
              'slow-k8s',
              '-l',
              'batch.kubernetes.io/job-name=wait'
            ]);
            return pods.items.some(p => p.status?.phase === 'Running');
          }, 'the pod of wait runs').then(
            () => {
              cancelled = Date.now();
              cancel.abort();
            },
            () => cancel.abort() // it never ran: stop anyway (the assertions below fail)
          );
        }
      });
      const { reports } = await deployment;
      assert.ok(cancelled > 0, 'cancelled while wait ran');
      const stopMs = Date.now() - cancelled;
      assert.ok(stopMs < 10_000, `stopped ${stopMs} ms after the cancel`);
      assert.equal(reports.get('slow.wait')!.status, 'cancelled');
      assert.equal(reports.get('slow.then')!.status, 'cancelled');
      assert.equal(reports.get('slow.then')!.attempts, 0);
      await eventually(async () => {
        const job = await kubectl(kubeconfig, ['get', 'job', '-n', 'slow-k8s', 'wait']);
        return job.code !== 0 && /NotFound|not found/.test(job.stderr);
      }, 'the Job of wait is deleted');
      const then = (await jobsOf(kubeconfig, 'slow-k8s')).get('then')!;
      assert.equal(then.spec!.suspend, true, 'then was never released');
      console.log(`stopped ${stopMs} ms after the cancel`);
    }
  );
});

describe('`scanflow deploy --to k8s` as typed', { skip }, () => {
  test('deploys, lists and undeploys a workflow through the CLI', DEPLOY, async () => {
    const cluster = await startCluster({ simulated: true });
    try {
      const name = `k8scli${process.pid.toString(36)}`;
      const file = writeDefinition({
        kind: 'workflow',
        name,
        steps: [
          { kind: 'step', name: 'first', image: NODE, command: ['node', '-e', '0'] },
          { kind: 'step', name: 'second', image: NODE, command: ['node', '-e', '0'] }
        ]
      });
      // The simulated cluster has no volume provisioner: the outputs claim gets a volume by hand.
      const volume = {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${name}-outputs` },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          hostPath: { path: `/tmp/scanflow-k8s-volumes/${name}` },
          claimRef: { namespace: name, name: `${name}-outputs` }
        }
      };
      assert.equal(
        (await kubectl(cluster.kubeconfig, ['apply', '-f', '-'], yaml([volume]))).code,
        0
      );
      const kube = ['--kubeconfig', cluster.kubeconfig];
      const deployed = await scanflow(['deploy', file, '--to', 'k8s', '--no-tracker', ...kube]);
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(deployed.stdout, new RegExp(`run \\S+ succeeded: 2 steps`), deployed.stderr);
      assert.match(deployed.stdout, /start {2}k8scli\S*\.second/);
      const listed = await scanflow(['deployments', ...kube]);
      assert.match(
        listed.stdout,
        new RegExp(`${name}\\tk8s\\tworkflow ${name}\\t`),
        listed.stdout + listed.stderr
      );
      const removed = await scanflow(['undeploy', name, ...kube]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, new RegExp(`undeployed ${name}: namespace ${name}`));
      const again = await scanflow(['deployments', ...kube]);
      assert.doesNotMatch(again.stdout, new RegExp(name));
    } finally {
      await cluster.stop();
    }
  });
});
