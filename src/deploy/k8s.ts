/**
 * The Kubernetes renderer: a namespace holding the trackers (Deployment + Service + a volume each)
 * and the batch DAG, either as one Argo `Workflow` (flavor 'argo') or as one suspended Job per step
 * that scanflow's deployer releases stage by stage (flavor 'jobs', for clusters without Argo).
 * Steps mount one outputs volume as `scanflow run` mounts it and get the same environment.
 *
 * A workflow's service is a Deployment (readiness probe from its healthcheck) behind a ClusterIP
 * Service of its name and port. It starts after its dependencies as `scanflow run` starts it:
 * with Argo, a `resource` task of the DAG applies the Deployment and succeeds once every replica
 * is available, so its dependents' tasks wait for it (the Deployment outlives the Workflow); with
 * Jobs, the Deployment is applied at 0 replicas and scanflow's deployer scales it up, then
 * releases its dependents once it is available.
 *
 *   const manifests = renderKubernetes(plan, { token, flavor: 'argo' });  // plain objects
 *   // export.ts writes them as one multi-document YAML file for `kubectl apply --server-side`
 */
import { createHash } from 'node:crypto';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { CONTAINER_INPUTS, CONTAINER_OUTPUTS } from '../run/docker/container-config';
import { parseMemory } from '../workflow';
import { trackerCommand } from './compose';
import { ExportError } from './errors';
import {
  DEPLOY_LABEL,
  RECORD_VARIABLE,
  TOKEN_VARIABLE,
  TRACKER_DATA,
  TRACKER_PORT,
  type DeploymentPlan,
  type PlannedRunnable,
  type PlannedService,
  type PlannedStep,
  type PlannedTracker
} from './plan';
import { readinessBudgetSeconds } from './service-health';

export type KubernetesFlavor = 'argo' | 'jobs';

export interface KubernetesOptions {
  /** The trackers' token, stored in the namespace's Secret. */
  token: string;
  /** An Argo Workflow, or plain Jobs that scanflow's deployer releases in order. */
  flavor: KubernetesFlavor;
  /** The size of the outputs volume (default 1Gi). */
  outputsSize?: string;
}

export type ObjectMeta = NonNullable<INamespace['metadata']>;

/** An Argo `Workflow` (argoproj.io/v1alpha1): the few fields we write (kubernetes-models has none). */
export interface ArgoWorkflow {
  apiVersion: 'argoproj.io/v1alpha1';
  kind: 'Workflow';
  metadata: ObjectMeta;
  spec: {
    entrypoint: string;
    serviceAccountName: string;
    /** A strategic merge patch of every pod's spec. */
    podSpecPatch?: string;
    volumes: IVolume[];
    templates: ArgoTemplate[];
  };
}

export interface ArgoTemplate {
  name: string;
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  dag?: { tasks: ArgoTask[] };
  container?: IContainer;
  initContainers?: IContainer[];
  retryStrategy?: {
    limit: number;
    retryPolicy: 'Always' | 'OnFailure' | 'OnError' | 'OnTransientError';
    backoff: { duration: string; factor: number };
  };
  activeDeadlineSeconds?: number;
  /** A task that applies an object and waits for `successCondition` on it. */
  resource?: ArgoResource;
}

export interface ArgoResource {
  action: 'apply' | 'create';
  /** The object, as YAML (or JSON). */
  manifest: string;
  /** e.g. "status.availableReplicas > 0" (Argo's JSON path conditions). */
  successCondition?: string;
  /** Whether the object is deleted with the Workflow (no: a service outlives it). */
  setOwnerReference?: boolean;
}

export interface ArgoTask {
  name: string;
  template: string;
  dependencies?: string[];
}

export type KubernetesManifest =
  | INamespace
  | IServiceAccount
  | IRole
  | IRoleBinding
  | ISecret
  | IPersistentVolumeClaim
  | IDeployment
  | IService
  | IJob
  | ArgoWorkflow;

/** The annotation on a Job that lists the Jobs (service names, JSON) it waits for. */
export const NEEDS_ANNOTATION = 'scanflow.needs';
/** The annotation on a service's Deployment that says how many replicas it runs once released. */
export const REPLICAS_ANNOTATION = 'scanflow.replicas';
/** The annotation on a Job that says how often scanflow's deployer retries it (absent: never). */
export const RETRIES_ANNOTATION = 'scanflow.retries';
/** The label that tells the trackers' pods apart (its value: the tracker's service name). */
export const SERVICE_LABEL = 'scanflow.service';
/** The container that runs a step, in an Argo template or a Job (Argo calls it `main` anyway). */
export const STEP_CONTAINER = 'main';
/** How long a step's pod waits for its tracker to answer before it fails. */
const TRACKER_WAIT_SECONDS = 120;
const OUTPUTS_VOLUME = 'outputs';
const TOKEN_KEY = 'token';

export function renderKubernetes(
  plan: DeploymentPlan,
  options: KubernetesOptions
): KubernetesManifest[] {
  const namespace: INamespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: withLabels({ name: plan.name }, plan.labels)
  };
  const manifests: KubernetesManifest[] = [namespace];
  if (plan.trackers.length) {
    const secret: ISecret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(plan, tokenSecret(plan)),
      type: 'Opaque',
      stringData: { [TOKEN_KEY]: options.token }
    };
    manifests.push(secret);
  }
  for (const tracker of plan.trackers) manifests.push(...trackerManifests(plan, tracker));
  manifests.push(volumeClaim(plan, plan.volume, options.outputsSize ?? '1Gi'));
  // The Services exist from the start (DNS resolves, with no endpoints until pods are ready).
  manifests.push(...plan.services.map(service => serviceObject(plan, service)));
  if (options.flavor === 'argo') manifests.push(...argoManifests(plan));
  else {
    manifests.push(...plan.services.map(service => serviceDeployment(plan, service, 0)));
    manifests.push(...plan.steps.map(step => stepJob(plan, step)));
  }
  return manifests;
}

// --- names, labels ---------------------------------------------------------------------------

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * A valid label value (at most 63 characters, alphanumeric at both ends): `value` itself when it
 * is one (run ids, workflow names and qualified step ids usually are), else a cleaned prefix and
 * a hash of the whole, so that different values stay different.
 */
export function labelValue(value: string): string {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 8);
  const cleaned = value
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .slice(0, 54)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned ? `${cleaned}-${hash}` : hash;
}

/** Labels made valid; a value that had to change keeps its original in an annotation. */
function withLabels(metadata: ObjectMeta, labels: Record<string, string>): ObjectMeta {
  const valid: Record<string, string> = {};
  const originals: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    valid[key] = labelValue(value);
    if (valid[key] !== value) originals[key] = value;
  }
  const { annotations: given, ...rest } = metadata;
  const annotations = { ...given, ...originals };
  return {
    ...rest,
    labels: { ...metadata.labels, ...valid },
    ...(Object.keys(annotations).length ? { annotations } : {})
  };
}

/** The metadata of an object in the deployment's namespace. */
function meta(
  plan: DeploymentPlan,
  name: string,
  labels: Record<string, string> = plan.labels,
  annotations?: Record<string, string>
): ObjectMeta {
  return withLabels(
    { name, namespace: plan.name, ...(annotations ? { annotations } : {}) },
    labels
  );
}

const tokenSecret = (plan: DeploymentPlan): string => `${plan.name}-tracker-token`;

function tokenVariable(name: string, plan: DeploymentPlan): IEnvVar {
  return { name, valueFrom: { secretKeyRef: { name: tokenSecret(plan), key: TOKEN_KEY } } };
}

/**
 * Kubernetes expands `$(NAME)` in commands, arguments and env values, and reads `$$` as `$`:
 * doubling every `$` keeps a value as the step wrote it.
 */
export function unexpanded(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

function envList(env: Record<string, string>): IEnvVar[] {
  return Object.entries(env).map(([name, value]) => ({ name, value: unexpanded(value) }));
}

function volumeClaim(plan: DeploymentPlan, name: string, size: string): IPersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(plan, name),
    spec: {
      // One node mounts it at a time: steps and the tracker are then scheduled next to their data.
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: size } }
    }
  };
}

// --- trackers --------------------------------------------------------------------------------

/** A tracker: its store's volume, a Deployment of one replica and the Service steps call. */
function trackerManifests(plan: DeploymentPlan, tracker: PlannedTracker): KubernetesManifest[] {
  const claim = `${plan.name}-${tracker.service}`;
  const selector = { [DEPLOY_LABEL.deployment]: plan.name, [SERVICE_LABEL]: tracker.service };
  const labels = { ...plan.labels, [SERVICE_LABEL]: tracker.service };
  const deployment: IDeployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(plan, tracker.service, labels),
    spec: {
      replicas: 1,
      // SQLite on a ReadWriteOnce volume: the old pod goes before the new one starts.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selector },
      template: {
        metadata: withLabels({}, labels),
        spec: {
          enableServiceLinks: false,
          containers: [
            {
              name: 'tracker',
              image: plan.trackerImage,
              // The image's ENTRYPOINT is the tracker program: these are its arguments.
              args: trackerCommand(tracker),
              env: [
                tokenVariable(TOKEN_VARIABLE, plan),
                { name: RECORD_VARIABLE, value: unexpanded(JSON.stringify(tracker.record)) }
              ],
              ports: [{ name: 'http', containerPort: TRACKER_PORT }],
              readinessProbe: {
                httpGet: { path: '/health', port: TRACKER_PORT },
                periodSeconds: 2,
                failureThreshold: 3
              },
              volumeMounts: [{ name: 'store', mountPath: TRACKER_DATA }]
            }
          ],
          volumes: [{ name: 'store', persistentVolumeClaim: { claimName: claim } }]
        }
      }
    }
  };
  const service: IService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(plan, tracker.service, labels),
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'http', port: TRACKER_PORT, targetPort: TRACKER_PORT }]
    }
  };
  return [volumeClaim(plan, claim, '1Gi'), deployment, service];
}

// --- steps -----------------------------------------------------------------------------------

/** What a step's pod holds, in either flavor. */
interface StepPod {
  container: IContainer;
  initContainers: IContainer[];
}

function stepPod(plan: DeploymentPlan, step: PlannedRunnable): StepPod {
  if (step.image === undefined) {
    // planDeployment refuses unbuilt steps for k8s; this guards a plan made for another target.
    throw new ExportError('k8s', [
      {
        where: step.id,
        field: 'image',
        message: 'its image is not built, and Kubernetes only runs images from a registry',
        fix: 'export with --build --registry HOST:PORT'
      }
    ]);
  }
  const env = envList(step.env);
  if (step.token) env.push(tokenVariable('MLFLOW_TRACKING_TOKEN', plan));
  const mounts: IVolumeMount[] = [
    { name: OUTPUTS_VOLUME, mountPath: CONTAINER_OUTPUTS },
    { name: OUTPUTS_VOLUME, mountPath: CONTAINER_INPUTS, readOnly: true }
  ];
  const resources = stepResources(step);
  const container: IContainer = {
    name: STEP_CONTAINER,
    image: step.image,
    // A command replaces the image's ENTRYPOINT and CMD alike (no args: the parameters are in it).
    ...(step.command ? { command: step.command.map(unexpanded) } : {}),
    env,
    ...(resources ? { resources } : {}),
    volumeMounts: mounts
  };
  const tracker = plan.trackers.find(t => t.service === step.tracker);
  return { container, initContainers: tracker ? [waitForTracker(plan, tracker)] : [] };
}

/**
 * Compose waits for a healthy tracker with `depends_on`; Kubernetes starts pods regardless of
 * other Deployments (and Argo has no "wait for a Deployment"), so each step's pod first polls its
 * tracker's /health with the tracker image's node.
 */
function waitForTracker(plan: DeploymentPlan, tracker: PlannedTracker): IContainer {
  const url = JSON.stringify(`${tracker.url}/health`);
  const script =
    `const u=${url},end=Date.now()+${TRACKER_WAIT_SECONDS}e3;` +
    '(function poll(){fetch(u,{signal:AbortSignal.timeout(2000)})' +
    ".then(r=>{if(!r.ok)throw new Error('HTTP '+r.status);process.exit(0)})" +
    '.catch(e=>{if(Date.now()>end){' +
    `console.error('the tracker at '+u+' did not answer within ${TRACKER_WAIT_SECONDS} s: '+e.message);` +
    'process.exit(1)}setTimeout(poll,1000)})})()';
  return { name: 'wait-for-tracker', image: plan.trackerImage, command: ['node', '-e', script] };
}

/** cpus and memory as requests and limits alike (Docker's limits), GPUs as NVIDIA's resource. */
function stepResources(step: PlannedRunnable): IResourceRequirements | undefined {
  const { cpus, memory, gpus } = step.spec.resources ?? {};
  const amounts: Record<string, string> = {};
  if (cpus) amounts.cpu = `${Math.round(cpus * 1000)}m`;
  const bytes = memory === undefined ? undefined : parseMemory(memory);
  if (bytes !== undefined) amounts.memory = String(bytes);
  if (!Object.keys(amounts).length && !gpus) return undefined;
  return {
    ...(Object.keys(amounts).length ? { requests: { ...amounts } } : {}),
    limits: { ...amounts, ...(gpus ? { 'nvidia.com/gpu': String(gpus) } : {}) }
  };
}

function outputsVolume(plan: DeploymentPlan): IVolume {
  return { name: OUTPUTS_VOLUME, persistentVolumeClaim: { claimName: plan.volume } };
}

/** Seconds, whole, for activeDeadlineSeconds (a step's timeout is per attempt, as here). */
const deadline = (step: PlannedStep): number | undefined =>
  step.spec.timeout === undefined ? undefined : Math.ceil(step.spec.timeout);

// --- services --------------------------------------------------------------------------------

/** The selector of a service's pods (and of its Service). */
function serviceSelector(plan: DeploymentPlan, service: PlannedService): Record<string, string> {
  return { [DEPLOY_LABEL.deployment]: plan.name, [SERVICE_LABEL]: service.service };
}

/** The ClusterIP Service that gives a service its DNS name and port in the namespace. */
function serviceObject(plan: DeploymentPlan, service: PlannedService): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(plan, service.service, { ...service.labels, [SERVICE_LABEL]: service.service }),
    spec: {
      type: 'ClusterIP',
      selector: serviceSelector(plan, service),
      ports: [{ name: 'http', port: service.port, targetPort: service.port }]
    }
  };
}

/**
 * The Deployment of a service with `replicas` replicas (0: held until scanflow's deployer
 * releases it). Its pods run as a step's do (same container, environment and volumes), ready
 * once their readiness probe (the healthcheck) passes.
 */
export function serviceDeployment(
  plan: DeploymentPlan,
  service: PlannedService,
  replicas: number
): IDeployment {
  const pod = stepPod(plan, service);
  const probe = readinessProbe(service);
  const labels = { ...service.labels, [SERVICE_LABEL]: service.service };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(plan, service.service, labels, {
      [NEEDS_ANNOTATION]: JSON.stringify(service.needs),
      [REPLICAS_ANNOTATION]: String(service.replicas)
    }),
    spec: {
      replicas,
      selector: { matchLabels: serviceSelector(plan, service) },
      template: {
        metadata: withLabels({}, labels),
        spec: {
          enableServiceLinks: false,
          ...(pod.initContainers.length ? { initContainers: pod.initContainers } : {}),
          containers: [
            {
              ...pod.container,
              ports: [{ name: 'http', containerPort: service.port }],
              ...(probe ? { readinessProbe: probe } : {})
            }
          ],
          volumes: [outputsVolume(plan)]
        }
      }
    }
  };
}

/** The healthcheck as a readiness probe (whole seconds, at least 1, as Kubernetes counts). */
function readinessProbe(service: PlannedService): IProbe | undefined {
  const healthcheck = service.healthcheck;
  if (!healthcheck) return undefined;
  return {
    ...(healthcheck.path !== undefined
      ? { httpGet: { path: healthcheck.path, port: service.port } }
      : { exec: { command: healthcheck.command! } }),
    periodSeconds: Math.max(1, Math.ceil(healthcheck.interval)),
    timeoutSeconds: Math.max(1, Math.ceil(healthcheck.timeout)),
    failureThreshold: Math.max(1, healthcheck.retries)
  };
}

// --- flavor 'argo' ---------------------------------------------------------------------------

/** The Workflow, and the service account its pods run as with what Argo's executor needs. */
function argoManifests(plan: DeploymentPlan): KubernetesManifest[] {
  const account = `${plan.name}-executor`;
  const serviceAccount: IServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: meta(plan, account)
  };
  // Argo's minimum for the executor (docs/workflow-rbac.md): report each task's result; and
  // apply the services' Deployments and watch them become available.
  const role: IRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta(plan, account),
    rules: [
      {
        apiGroups: ['argoproj.io'],
        resources: ['workflowtaskresults'],
        verbs: ['create', 'patch']
      },
      ...(plan.services.length
        ? [
            {
              apiGroups: ['apps'],
              resources: ['deployments'],
              verbs: ['get', 'list', 'watch', 'create', 'patch', 'update']
            }
          ]
        : [])
    ]
  };
  const binding: IRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(plan, account),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: account },
    subjects: [{ kind: 'ServiceAccount', name: account, namespace: plan.name }]
  };
  const template = (step: PlannedRunnable): string => `step-${step.service}`;
  // Steps and services in definition order, as the DAG's tasks.
  const runnables = plan.graph.steps.map(s =>
    [...plan.steps, ...plan.services].find(r => r.id === s.id)!
  );
  const workflow: ArgoWorkflow = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: meta(plan, plan.name),
    spec: {
      entrypoint: 'main',
      serviceAccountName: account,
      // No `TRACKER_SERVICE_HOST`-style variables: steps get the environment `scanflow run` gives.
      podSpecPatch: JSON.stringify({ enableServiceLinks: false }),
      volumes: [outputsVolume(plan)],
      templates: [
        {
          name: 'main',
          dag: {
            tasks: runnables.map(step => ({
              name: step.service,
              template: template(step),
              ...(step.needs.length ? { dependencies: step.needs } : {})
            }))
          }
        },
        ...plan.services.map((service): ArgoTemplate => ({
          name: template(service),
          resource: {
            action: 'apply',
            manifest: JSON.stringify(serviceDeployment(plan, service, service.replicas)),
            successCondition: `status.availableReplicas > ${service.replicas - 1}`,
            setOwnerReference: false
          },
          // A service that never becomes available fails its task, as under `scanflow run`.
          activeDeadlineSeconds: readinessBudgetSeconds(service)
        })),
        ...plan.steps.map((step): ArgoTemplate => {
          const pod = stepPod(plan, step);
          const retries = step.spec.retries ?? 0;
          const seconds = deadline(step);
          return {
            name: template(step),
            metadata: withLabels({}, step.labels),
            ...(pod.initContainers.length ? { initContainers: pod.initContainers } : {}),
            container: pod.container,
            ...(retries
              ? {
                  retryStrategy: {
                    limit: retries,
                    retryPolicy: 'OnFailure',
                    backoff: { duration: '1s', factor: 2 }
                  }
                }
              : {}),
            ...(seconds !== undefined ? { activeDeadlineSeconds: seconds } : {})
          };
        })
      ]
    }
  };
  return [serviceAccount, role, binding, workflow];
}

// --- flavor 'jobs' ---------------------------------------------------------------------------

/**
 * One Job per step, created suspended: Jobs have no order, so scanflow's deployer releases each
 * (suspend: false) once the Jobs named in its `scanflow.needs` annotation have succeeded. Retries
 * are the deployer's too, as under `scanflow run` (with its backoff, and a timeout per attempt):
 * a Job runs one pod (backoffLimit 0), and a retry is a new Job of the same manifest; its
 * `scanflow.retries` annotation (as on Swarm's services) says how many, when there are any.
 */
function stepJob(plan: DeploymentPlan, step: PlannedStep): IJob {
  const pod = stepPod(plan, step);
  const seconds = deadline(step);
  const podSpec: IPodSpec = {
    restartPolicy: 'Never',
    enableServiceLinks: false,
    ...(pod.initContainers.length ? { initContainers: pod.initContainers } : {}),
    containers: [pod.container],
    volumes: [outputsVolume(plan)],
    // On the pod, not the Job: a timeout bounds each attempt, as under `scanflow run` and Argo.
    ...(seconds !== undefined ? { activeDeadlineSeconds: seconds } : {})
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(plan, step.service, step.labels, {
      [NEEDS_ANNOTATION]: JSON.stringify(step.needs),
      ...(step.spec.retries ? { [RETRIES_ANNOTATION]: String(step.spec.retries) } : {})
    }),
    spec: {
      suspend: true,
      backoffLimit: 0,
      template: { metadata: withLabels({}, step.labels), spec: podSpec }
    }
  };
}
