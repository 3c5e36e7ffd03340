/**
 * `scanflow deploy --to k8s` (the Jobs flavor): every manifest of the export is applied to the
 * cluster of the kubeconfig (server-side apply, strict field validation), the steps' Jobs wait
 * suspended, and `scanflow run`'s own scheduler releases them in dependency order through a
 * K8sReleaser, an Executor whose attempt is one run of the step's Job. Retries (a fresh Job of
 * the same manifest, after the scheduler's backoff), timeouts, skipping and cancelling are
 * therefore exactly those of `scanflow run`, as for Swarm. A workflow's service is a Deployment
 * applied at 0 replicas: once its dependencies have succeeded it is scaled to its replicas, and
 * its dependents are released once they are all available; it stays up after `deploy` returns.
 *
 *   const reports = await followKubernetes({ plan, manifests, emit, signal });
 *   await undeployKubernetes(plan.name);   // the namespace, and everything in it
 *
 * A deployment is its namespace, labelled `scanflow.deployment`: the cluster is the list of
 * deployments, and deleting the namespace removes everything the deployment made.
 */
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  Log,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Job,
  type V1ContainerStatus,
  type V1Pod
} from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import type { EventInit } from '../run/events';
import type { AttemptOutcome, StepRequest } from '../run/executor';
import { LineSplitter } from '../run/lines';
import type { StepReport } from '../run/scheduler';
import { DeployError } from './errors';
import { SERVICE_LABEL, STEP_CONTAINER } from './k8s';
import { DEPLOY_LABEL, type DeploymentPlan, type PlannedService, type PlannedStep } from './plan';
import { releaseInOrder, type Releaser } from './release';
import {
  FAILED_TASKS_LIMIT,
  LAST_LINES,
  readinessBudgetSeconds,
  ServiceDeployError,
  serviceFix
} from './service-health';

/** The field manager of everything scanflow applies (`kubectl get --show-managed-fields`). */
export const FIELD_MANAGER = 'scanflow';
const POLL_MS = 250;
const TRACKER_WAIT_MS = 120_000;
const GONE_WAIT_MS = 120_000;
/** How long a finished step's log may take to arrive in full. */
const LOG_DRAIN_MS = 2_000;
/** The label the Job controller gives a Job's pods: the Job's uid (one per attempt here). */
const JOB_UID_LABEL = 'batch.kubernetes.io/controller-uid';

export interface KubernetesSettings {
  plan: DeploymentPlan;
  /** The manifests as export wrote them (renderKubernetes(plan, { token, flavor: 'jobs' })). */
  manifests: object[];
  emit: (event: EventInit) => void;
  /** Aborted on Ctrl-C: stop what runs; deploy.ts then undeploys. */
  signal: AbortSignal;
  /** A kubeconfig file (default: $KUBECONFIG, then ~/.kube/config: KubeConfig.loadFromDefault). */
  kubeconfig?: string;
}

/** Applies the manifests, waits for the trackers, then releases the steps' Jobs in order. */
export async function followKubernetes(
  settings: KubernetesSettings
): Promise<Map<string, StepReport>> {
  const { plan, emit, signal } = settings;
  const cluster = new Cluster(settings.kubeconfig);
  const manifests = settings.manifests as KubernetesObject[];
  for (const manifest of manifests) {
    await cluster.objects.apply(manifest).catch(error => {
      throw cluster.error(`could not apply ${describe(manifest)}`, error);
    });
  }
  for (const tracker of plan.trackers) {
    emit({ type: 'notice', message: `waiting for the tracker Deployment ${tracker.service}` });
    await waitForDeployment(cluster, plan.name, tracker.service, signal);
  }
  return releaseInOrder(plan, new K8sReleaser(plan, manifests, cluster), emit, signal);
}

/**
 * Deletes the deployment's namespace (everything in it) and waits until it is gone; returns how
 * many objects it held (0: no such deployment). A namespace that scanflow did not label as this
 * deployment is never touched.
 */
export async function undeployKubernetes(name: string, kubeconfig?: string): Promise<number> {
  const cluster = new Cluster(kubeconfig);
  const namespace = await cluster.core.readNamespace({ name }).catch(error => {
    if (statusOf(error) === 404) return undefined;
    throw cluster.error(`could not read the namespace ${name}`, error);
  });
  if (namespace?.metadata?.labels?.[DEPLOY_LABEL.deployment] !== name) return 0;
  const objects = 1 + (await countObjects(cluster, name));
  await cluster.core
    .deleteNamespace({ name, propagationPolicy: 'Background' })
    .catch(ignoreStatus(404));
  const gone = await waitUntil(
    async () =>
      cluster.core.readNamespace({ name }).then(
        () => false,
        error => {
          if (statusOf(error) === 404) return true;
          throw cluster.error(`could not read the namespace ${name}`, error);
        }
      ),
    GONE_WAIT_MS
  );
  if (!gone) {
    throw new DeployError(
      `the namespace ${name} is still terminating after ${GONE_WAIT_MS / 1000} s`,
      `see what holds it in \`kubectl get namespace ${name} -o yaml\` (its status conditions)`
    );
  }
  return objects;
}

/** Deployments on the cluster: namespaces labelled scanflow.deployment. */
export async function listKubernetesDeployments(
  kubeconfig?: string
): Promise<Array<{ name: string; target: 'k8s'; workflow: string; runId: string; state: string }>> {
  const cluster = new Cluster(kubeconfig);
  const namespaces = await cluster.core
    .listNamespace({ labelSelector: DEPLOY_LABEL.deployment })
    .catch(error => {
      throw cluster.error('could not list the namespaces', error);
    });
  const found: Awaited<ReturnType<typeof listKubernetesDeployments>> = [];
  for (const namespace of namespaces.items) {
    const meta = namespace.metadata ?? {};
    // A label value that had to change keeps the original in an annotation of the same key.
    const value = (key: string): string => meta.annotations?.[key] ?? meta.labels?.[key] ?? '?';
    const name = meta.name ?? '?';
    const state =
      namespace.status?.phase === 'Terminating'
        ? 'terminating'
        : jobsState(
            (await cluster.batch.listNamespacedJob({ namespace: name }).catch(() => undefined))
              ?.items ?? []
          );
    found.push({
      name: value(DEPLOY_LABEL.deployment),
      target: 'k8s' as const,
      workflow: value(DEPLOY_LABEL.workflow),
      runId: value(DEPLOY_LABEL.run),
      state
    });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

// --- the releaser ----------------------------------------------------------------------------

/**
 * The releaser of the Jobs flavor: a step's attempt is a run of its Job (created suspended by the
 * export); a service's Deployment is scaled from 0 to its replicas.
 */
class K8sReleaser implements Releaser {
  private readonly jobs: Map<string, V1Job>;

  constructor(
    private readonly plan: DeploymentPlan,
    manifests: KubernetesObject[],
    private readonly cluster: Cluster
  ) {
    this.jobs = new Map(
      manifests.filter(m => m.kind === 'Job').map(m => [m.metadata?.name ?? '', m as V1Job])
    );
  }

  /**
   * Scales the service's Deployment to its replicas and waits until that many are available
   * (ready: their readiness probe passed). Containers that keep failing (restarted
   * FAILED_TASKS_LIMIT times, or stuck: image not pulled, bad configuration), or a service not
   * ready within its budget, hold it again at 0 and fail it with its last lines.
   */
  async startService(service: PlannedService, signal: AbortSignal): Promise<void> {
    const namespace = this.plan.name;
    const name = service.service;
    await this.scaleDeployment(service, service.replicas);
    const until = Date.now() + readinessBudgetSeconds(service) * 1000;
    while (!signal.aborted) {
      const deployment = await this.cluster.apps
        .readNamespacedDeployment({ name, namespace })
        .catch(error => {
          throw this.cluster.error(`could not read the Deployment ${name}`, error);
        });
      const status = deployment.status;
      const current = (status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
      if (current && (status?.availableReplicas ?? 0) >= service.replicas) return;
      const pods = (
        await this.cluster.core.listNamespacedPod({
          namespace,
          labelSelector: `${DEPLOY_LABEL.deployment}=${namespace},${SERVICE_LABEL}=${name}`
        })
      ).items;
      const failing = pods.find(pod => podTrouble(pod) !== undefined);
      if (failing) {
        throw await this.serviceFailure(service, failing, podTrouble(failing)!);
      }
      if (Date.now() > until) {
        throw await this.serviceFailure(
          service,
          pods[0],
          `was not ready within ${readinessBudgetSeconds(service)} s`
        );
      }
      await sleep(POLL_MS, signal);
    }
  }

  private async scaleDeployment(service: PlannedService, replicas: number): Promise<void> {
    await this.cluster.apps
      .patchNamespacedDeployment(
        {
          name: service.service,
          namespace: this.plan.name,
          body: { spec: { replicas } },
          fieldManager: FIELD_MANAGER
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
      )
      .catch(error => {
        throw this.cluster.error(`could not scale the Deployment ${service.service}`, error);
      });
  }

  /** Holds the failed service at 0 replicas and says why, with its pod's last lines. */
  private async serviceFailure(
    service: PlannedService,
    pod: V1Pod | undefined,
    what: string
  ): Promise<ServiceDeployError> {
    const name = pod?.metadata?.name;
    // Where no container runs (kwok's nodes) the API server has no log to give: no lines then.
    const log = name
      ? await this.cluster.core
          .readNamespacedPodLog({
            name,
            namespace: this.plan.name,
            container: STEP_CONTAINER,
            tailLines: LAST_LINES,
            previous: (podRestarts(pod!) ?? 0) > 0
          })
          .catch(() => '')
      : '';
    await this.scaleDeployment(service, 0).catch(() => undefined);
    return new ServiceDeployError(service, what, log.split(/\r?\n/), serviceFix(service));
  }

  async runStep(step: PlannedStep, request: StepRequest): Promise<AttemptOutcome> {
    if (request.signal.aborted) return { exitCode: 137 };
    const uid = await this.release(step, request.attempt);
    const logs = new Map<string, LogFollower>();
    let lastLine: string | undefined;
    const onLine = (line: string): void => {
      if (line.trim()) lastLine = line;
      request.log('stdout', line);
    };
    const drain = async (): Promise<void> => {
      const done = Promise.all([...logs.values()].map(l => l.done));
      await Promise.race([done, sleep(LOG_DRAIN_MS)]);
      logs.forEach(l => l.stop());
    };
    for (;;) {
      if (request.signal.aborted) {
        // A timeout or a cancel: the attempt ends with its Job (and the Job's pods).
        logs.forEach(l => l.stop());
        await this.deleteJob(step.service, false).catch(() => undefined);
        return { exitCode: 137, lastLine };
      }
      const job = await this.cluster.batch
        .readNamespacedJob({ name: step.service, namespace: this.plan.name })
        .catch(error => {
          throw this.cluster.error(`could not read the Job ${step.service}`, error);
        });
      const pods = await this.pods(uid);
      for (const pod of pods) this.followLogs(pod, logs, onLine);
      const condition = (type: string) =>
        job.status?.conditions?.find(c => c.type === type && c.status === 'True');
      if (condition('Complete')) {
        await drain();
        return { exitCode: 0, lastLine };
      }
      const failed = condition('Failed');
      if (failed) {
        await drain();
        const reason = [failed.reason, failed.message].filter(Boolean).join(': ');
        return { exitCode: exitCode(pods), lastLine: lastLine ?? (reason || undefined) };
      }
      await sleep(POLL_MS, request.signal);
    }
  }

  /**
   * Lets the step's Job run: the first attempt unsuspends the Job the export created; a later
   * one replaces it with a fresh Job of the same manifest (a Job that failed stays failed).
   * Returns the uid of the Job that runs, whose pods carry it.
   */
  private async release(step: PlannedStep, attempt: number): Promise<string> {
    const namespace = this.plan.name;
    if (attempt === 1) {
      const job = await this.cluster.batch.patchNamespacedJob(
        {
          name: step.service,
          namespace,
          body: { spec: { suspend: false } },
          fieldManager: FIELD_MANAGER
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
      );
      return job.metadata?.uid ?? '';
    }
    const manifest = this.jobs.get(step.service);
    if (!manifest) {
      throw new DeployError(`the manifests have no Job ${step.service} for the step ${step.id}`);
    }
    await this.deleteJob(step.service, true);
    const job = await this.cluster.objects.apply({
      ...manifest,
      spec: { ...manifest.spec!, suspend: false }
    } as KubernetesObject);
    return job.metadata?.uid ?? '';
  }

  /** Deletes a Job (its pods go in the background), and waits until it is gone if asked. */
  private async deleteJob(name: string, wait: boolean): Promise<void> {
    const namespace = this.plan.name;
    await this.cluster.batch
      .deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' })
      .catch(ignoreStatus(404));
    if (!wait) return;
    const gone = await waitUntil(
      () =>
        this.cluster.batch.readNamespacedJob({ name, namespace }).then(
          () => false,
          error => {
            if (statusOf(error) === 404) return true;
            throw error;
          }
        ),
      GONE_WAIT_MS
    );
    if (!gone) throw new DeployError(`the Job ${name} was not deleted within 120 s`);
  }

  private async pods(uid: string): Promise<V1Pod[]> {
    if (!uid) return [];
    const list = await this.cluster.core.listNamespacedPod({
      namespace: this.plan.name,
      labelSelector: `${JOB_UID_LABEL}=${uid}`
    });
    return list.items;
  }

  /**
   * Follows the step container's log once it has started. Where no container runs (kwok's
   * simulated nodes) the API server cannot reach a kubelet: that is no error of the step's.
   */
  private followLogs(
    pod: V1Pod,
    logs: Map<string, LogFollower>,
    onLine: (line: string) => void
  ): void {
    const name = pod.metadata?.name;
    const status = pod.status?.containerStatuses?.find(c => c.name === STEP_CONTAINER);
    if (!name || logs.has(name) || !(status?.state?.running || status?.state?.terminated)) return;
    logs.set(name, followLog(this.cluster.log, this.plan.name, name, onLine));
  }
}

interface LogFollower {
  /** Settles when the log ended (or could not be read). */
  done: Promise<void>;
  stop(): void;
}

function followLog(
  log: Log,
  namespace: string,
  pod: string,
  onLine: (line: string) => void
): LogFollower {
  const lines = new LineSplitter(onLine);
  let controller: AbortController | undefined;
  let stopped = false;
  const done = new Promise<void>(resolve => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (!stopped) lines.push(chunk);
        callback();
      },
      final(callback) {
        lines.end();
        callback();
      }
    });
    sink.on('finish', () => resolve());
    sink.on('close', () => resolve());
    sink.on('error', () => resolve());
    log.log(namespace, pod, STEP_CONTAINER, sink, { follow: true }).then(
      c => {
        controller = c;
        if (stopped) c.abort();
      },
      () => resolve()
    );
  });
  return {
    done,
    stop: () => {
      stopped = true;
      controller?.abort();
    }
  };
}

/** Waiting reasons of a container that will not start by itself (a crash loop counts restarts). */
const STUCK_REASONS = new Set([
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError'
]);

/** How a service's main container restarted so far. */
function podRestarts(pod: V1Pod): number | undefined {
  return pod.status?.containerStatuses?.find(c => c.name === STEP_CONTAINER)?.restartCount;
}

/** Why a service's pod will not become ready by itself, or undefined. */
function podTrouble(pod: V1Pod): string | undefined {
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? [])
  ];
  for (const status of statuses) {
    if (status.restartCount >= FAILED_TASKS_LIMIT) {
      const code = status.lastState?.terminated?.exitCode;
      return `container ${status.name} restarted ${status.restartCount} times${code === undefined ? '' : ` (last exit code ${code})`}`;
    }
    const waiting = status.state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason)) {
      return `container ${status.name} cannot start: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}`;
    }
  }
  return pod.status?.phase === 'Failed' ? `its pod failed: ${pod.status.reason ?? ''}` : undefined;
}

/** The step container's exit code (else an init container's that failed), or 1. */
function exitCode(pods: V1Pod[]): number {
  const statuses: V1ContainerStatus[] = pods.flatMap(p => [
    ...(p.status?.containerStatuses ?? []).filter(c => c.name === STEP_CONTAINER),
    ...(p.status?.initContainerStatuses ?? [])
  ]);
  const code = statuses
    .map(s => s.state?.terminated?.exitCode)
    .find(c => c !== undefined && c !== 0);
  return code ?? 1;
}

// --- the cluster -----------------------------------------------------------------------------

/**
 * The generic object API, with an apply that sends each manifest as written: the client's own
 * serializer keeps only the fields its models know, which would hide from strict validation
 * exactly the fields it is there to reject.
 */
class StrictObjectApi extends KubernetesObjectApi {
  static connect(config: KubeConfig): StrictObjectApi {
    const api = config.makeApiClient(StrictObjectApi);
    api.setDefaultNamespace(config);
    return api;
  }

  /** Server-side apply as `scanflow`, unknown or duplicate fields refused. */
  async apply(manifest: KubernetesObject): Promise<KubernetesObject> {
    const path = await this.specUriPath(manifest, 'patch');
    const request = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    request.setHeaderParam('Accept', 'application/json');
    request.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    request.setQueryParam('fieldManager', FIELD_MANAGER);
    request.setQueryParam('fieldValidation', 'Strict');
    request.setQueryParam('force', 'true');
    request.setBody(JSON.stringify(manifest));
    return this.requestPromise(request);
  }
}

/** The API clients of the kubeconfig's current cluster. */
class Cluster {
  readonly server: string;
  readonly objects: StrictObjectApi;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly log: Log;

  constructor(kubeconfig?: string) {
    const config = new KubeConfig();
    try {
      if (kubeconfig) config.loadFromFile(kubeconfig);
      else config.loadFromDefault();
    } catch (error) {
      throw new DeployError(
        `could not read the kubeconfig ${kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'}: ${(error as Error).message}`,
        'point KUBECONFIG at a valid kubeconfig file'
      );
    }
    const cluster = config.getCurrentCluster();
    if (!cluster) {
      throw new DeployError(
        'the kubeconfig names no current cluster',
        'select one with `kubectl config use-context NAME`'
      );
    }
    this.server = cluster.server;
    this.objects = StrictObjectApi.connect(config);
    this.core = config.makeApiClient(CoreV1Api);
    this.apps = config.makeApiClient(AppsV1Api);
    this.batch = config.makeApiClient(BatchV1Api);
    this.log = new Log(config);
  }

  /** A DeployError for a failed request, saying what the server (or the network) said. */
  error(what: string, error: unknown): DeployError {
    return new DeployError(
      `${what} on the Kubernetes API server at ${this.server}: ${apiMessage(error)}`,
      isUnreachable(error)
        ? 'check that the cluster of the kubeconfig runs and is reachable (`kubectl cluster-info`)'
        : undefined
    );
  }
}

/** Waits until the tracker's Deployment has an available replica. */
async function waitForDeployment(
  cluster: Cluster,
  namespace: string,
  name: string,
  signal: AbortSignal
): Promise<void> {
  const until = Date.now() + TRACKER_WAIT_MS;
  while (!signal.aborted && Date.now() < until) {
    const deployment = await cluster.apps
      .readNamespacedDeployment({ name, namespace })
      .catch(error => {
        throw cluster.error(`could not read the tracker Deployment ${name}`, error);
      });
    if ((deployment.status?.availableReplicas ?? 0) > 0) return;
    await sleep(POLL_MS, signal);
  }
  if (!signal.aborted) {
    throw new DeployError(
      `the tracker Deployment ${name} was not available within ${TRACKER_WAIT_MS / 1000} s`,
      `see \`kubectl -n ${namespace} describe deployment ${name}\` and its pods' events`
    );
  }
}

/** The kinds a deployment holds (what renderKubernetes writes, and the pods), with its label. */
const COUNTED: Array<[apiVersion: string, kind: string]> = [
  ['v1', 'Secret'],
  ['v1', 'PersistentVolumeClaim'],
  ['v1', 'Service'],
  ['v1', 'ServiceAccount'],
  ['v1', 'Pod'],
  ['apps/v1', 'Deployment'],
  ['batch/v1', 'Job'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['argoproj.io/v1alpha1', 'Workflow']
];

async function countObjects(cluster: Cluster, namespace: string): Promise<number> {
  const selector = `${DEPLOY_LABEL.deployment}=${namespace}`;
  let count = 0;
  for (const [apiVersion, kind] of COUNTED) {
    const list = await cluster.objects
      .list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, selector)
      .catch(() => undefined); // e.g. no Argo on this cluster
    count += list?.items.length ?? 0;
  }
  return count;
}

/** e.g. "4 jobs: 2 complete, 1 running, 1 waiting". */
function jobsState(jobs: V1Job[]): string {
  if (jobs.length === 0) return 'no jobs';
  const counts = new Map<string, number>();
  for (const job of jobs) {
    const done = job.status?.conditions?.find(
      c => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'
    );
    const state = done
      ? done.type === 'Complete'
        ? 'complete'
        : 'failed'
      : job.spec?.suspend
        ? 'waiting'
        : 'running';
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  const parts = ['complete', 'failed', 'running', 'waiting']
    .filter(s => counts.has(s))
    .map(s => `${counts.get(s)} ${s}`);
  return `${jobs.length} jobs: ${parts.join(', ')}`;
}

// --- small helpers ---------------------------------------------------------------------------

function describe(manifest: KubernetesObject): string {
  const { namespace, name } = manifest.metadata ?? {};
  return `${manifest.kind} ${namespace ? `${namespace}/` : ''}${name ?? '?'}`;
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

const ignoreStatus =
  (code: number) =>
  (error: unknown): undefined => {
    if (statusOf(error) === code) return undefined;
    throw error;
  };

/** What the API server said (its Status message), else the error's own message. */
function apiMessage(error: unknown): string {
  if (error instanceof ApiException) {
    let body: unknown = error.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON: keep the text
      }
    }
    const message = (body as { message?: unknown } | undefined)?.message;
    if (typeof message === 'string') return message;
    return typeof body === 'string' && body ? body : `HTTP ${error.code}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function isUnreachable(error: unknown): boolean {
  return (
    !(error instanceof ApiException) &&
    /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|certificate/i.test(apiMessage(error))
  );
}

/** Polls `check` until it is true (true) or the time is up (false). */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= until) return false;
    await sleep(POLL_MS);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
