/**
 * The deployment plan: the one intermediate form every exporter renders (in the manner of Kubeflow
 * Pipelines' compiler). It is the flattened DAG that `scanflow run` executes, with what a deployment
 * adds: a service name per step, the image each step runs, the environment it gets (the same as
 * under `scanflow run`), the trackers that run as services, and the MLflow run of every step.
 * The workflow's own services (`service(...)`) are planned beside the steps, with their port,
 * replicas and healthcheck; every step and service is told their URLs on the deployment's network.
 *
 *   const plan = planDeployment(spec, { target: 'compose', baseDir });   // throws ExportError
 *   renderCompose(plan);                                                  // a compose document
 *
 * Whatever a target cannot express is refused here, all problems at once (see `refusals`).
 */
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import {
  CONTAINER_INPUTS,
  CONTAINER_OUTPUTS,
  reachableFromContainers
} from '../run/docker/container-config';
import { newRunId } from '../run/run';
import {
  enclosingWorkflow,
  parameterArguments,
  stepEnvironment,
  trackerFor,
  type StepEnvironment
} from '../run/step-env';
import {
  flatten,
  HEALTHCHECK_DEFAULTS,
  isService,
  serviceUrlVariable,
  type FlatGraph,
  type FlatStep,
  type HealthcheckSpec,
  type Problem,
  type RunnableSpec,
  type ServiceSpec,
  type StepSpec,
  type WorkflowSpec
} from '../workflow';
import { ExportError } from './errors';

export type Target = 'compose' | 'swarm' | 'k8s';
export const TARGETS: readonly Target[] = ['compose', 'swarm', 'k8s'];

/** Where a tracker service listens inside the deployment's network. */
export const TRACKER_PORT = 5000;
/** The variable that carries the trackers' token (compose reads it from `.env`). */
export const TOKEN_VARIABLE = 'SCANFLOW_TRACKER_TOKEN';
export { RECORD_VARIABLE } from './tracker-record';
/** Where the tracker services keep their stores, inside their volume. */
export const TRACKER_DATA = '/scanflow/tracker';

/** Labels on every object of a deployment (the engine's labels are the list of deployments). */
export const DEPLOY_LABEL = {
  deployment: 'scanflow.deployment',
  target: 'scanflow.target',
  run: 'scanflow.run',
  workflow: 'scanflow.workflow',
  step: 'scanflow.step',
  timeout: 'scanflow.timeout'
} as const;

export interface PlanOptions {
  target: Target;
  /** The folder the definition's relative paths are resolved against. */
  baseDir: string;
  /** The run id the deployment records itself under (default: a fresh one). */
  runId?: string;
  /** The deployment's name (default: the root workflow's name, made safe). */
  name?: string;
  /** Images built for `dockerfile`/`base` steps (by step id), as `--build` made them. */
  built?: Record<string, string>;
  /** A registry (HOST:PORT) whose tags the files name, for images pushed there. */
  registry?: string;
  /** An external tracking server for every step (`--tracker`), or false for none. */
  tracker?: string | false;
  /** The image the tracker services run (default: scanflow/tracker:<version>). */
  trackerImage: string;
}

/** A tracker that runs as a service of the deployment. */
export interface PlannedTracker {
  /** The workflow it serves: the root's name, or a qualified id (`tracker: { scope: 'workflow' }`). */
  workflow: string;
  service: string;
  experiment: string;
  /** Its SQLite store, inside the trackers' volume. */
  store: string;
  /** How steps reach it. */
  url: string;
  /** What it records when it starts: the deployment's run and its steps' runs. */
  record: TrackerRecord;
}

/** The runs a tracker service creates at start (idempotent), so that steps log into their own. */
export interface TrackerRecord {
  runId: string;
  experiment: string;
  target: Target;
  definition: WorkflowSpec;
  /** Step id -> the MLflow run id it gets as MLFLOW_RUN_ID. */
  steps: Record<string, string>;
}

/** What steps and services share in a plan: how their containers are made and run. */
export interface PlannedRunnable {
  /** Qualified id, as under `scanflow run`. */
  id: string;
  /** The service (compose, Swarm) or object (Kubernetes) name: DNS-safe, unique. */
  service: string;
  spec: RunnableSpec;
  /** The image to run (registry-tagged when a registry is given); undefined with `build`. */
  image?: string;
  /** A Dockerfile that compose builds itself (absolute paths), when not built by scanflow. */
  build?: { context: string; dockerfile: string };
  /** The argv (the step's command and its parameters); undefined: the image's own. */
  command?: string[];
  /** The step's environment, as `scanflow run` gives it, less the tracker's token. */
  env: Record<string, string>;
  /** Whether the step gets the tracker's token as MLFLOW_TRACKING_TOKEN. */
  token: boolean;
  /** Service names of the steps (and services) it waits for. */
  needs: string[];
  /** The tracker service it logs to, if one of the deployment's. */
  tracker?: string;
  labels: Record<string, string>;
}

export interface PlannedStep extends PlannedRunnable {
  spec: StepSpec;
}

/** A healthcheck with its timings filled in (seconds; `retries`: failed probes in a row). */
export type PlannedHealthcheck = HealthcheckSpec &
  Required<Pick<HealthcheckSpec, 'interval' | 'timeout' | 'retries' | 'startPeriod'>>;

/** A long-running service of the workflow: up once its dependencies are done, until undeploy. */
export interface PlannedService extends PlannedRunnable {
  spec: ServiceSpec;
  port: number;
  replicas: number;
  healthcheck?: PlannedHealthcheck;
  /** Where the steps reach it: its DNS name on the deployment's network (SCANFLOW_SERVICE_*_URL). */
  url: string;
  /** Service names of the steps and services that start only once it is ready. */
  dependents: string[];
}

export interface DeploymentPlan {
  target: Target;
  name: string;
  runId: string;
  spec: WorkflowSpec;
  graph: FlatGraph;
  /** The batch steps, in definition order. */
  steps: PlannedStep[];
  /** The workflow's long-running services, in definition order. */
  services: PlannedService[];
  trackers: PlannedTracker[];
  trackerImage: string;
  /** Object names: the network, the outputs volume and the trackers' volume. */
  network: string;
  volume: string;
  trackerVolume: string;
  /** Labels every object carries. */
  labels: Record<string, string>;
  /** Things the person should know that do not stop the export. */
  notices: string[];
}

/** Plans a deployment of `spec` to `options.target`; throws ExportError listing every refusal. */
export function planDeployment(spec: WorkflowSpec, options: PlanOptions): DeploymentPlan {
  const graph = flatten(spec);
  const problems = refusals(graph, options);
  if (problems.length > 0) throw new ExportError(options.target, problems);

  const name = options.name ?? dnsName(spec.name);
  const runId = options.runId ?? newRunId();
  const names = serviceNames(graph.steps.map(s => s.id.slice(spec.name.length + 1)));
  const serviceOf = new Map(graph.steps.map((s, i) => [s.id, names[i]]));
  const labels = {
    [DEPLOY_LABEL.deployment]: name,
    [DEPLOY_LABEL.target]: options.target,
    [DEPLOY_LABEL.run]: runId,
    [DEPLOY_LABEL.workflow]: spec.name
  };

  const trackers = plannedTrackers(graph, options, runId, serviceOf);
  const trackerUrls = Object.fromEntries(
    trackers.filter(t => t.workflow !== spec.name).map(t => [t.workflow, t.url])
  );
  const environment: StepEnvironment = {
    runId,
    tracker:
      options.tracker === false
        ? undefined
        : (options.tracker ?? trackers.find(t => t.workflow === spec.name)?.url),
    trackers: trackerUrls,
    // As under `scanflow run`: every step and service knows every service's URL, here its DNS
    // name on the deployment's network (compose and Swarm service names, Kubernetes Services).
    services: Object.fromEntries(
      graph.steps
        .filter(isService)
        .map(s => [serviceUrlVariable(s.spec.name), serviceUrl(serviceOf.get(s.id)!, s.spec)])
    )
  };
  const notices: string[] = [];
  /** Images of this machine (scanflow's base images) that a cluster cannot pull. */
  const localImages: string[] = [];
  const planRunnable = (step: FlatStep): PlannedRunnable => {
    const tracker = trackers.find(t => t.url === trackerFor(graph, step, environment).url);
    return {
      id: step.id,
      service: serviceOf.get(step.id)!,
      spec: step.spec,
      ...stepImage(step, options, localImages),
      command: step.spec.command
        ? [...step.spec.command, ...parameterArguments(step.spec.parameters)]
        : undefined,
      env: deployedEnvironment(environment, graph, step, options.target, tracker),
      token: tracker !== undefined,
      needs: step.needs.map(id => serviceOf.get(id)!),
      tracker: tracker?.service,
      labels: {
        ...labels,
        [DEPLOY_LABEL.workflow]: enclosingWorkflow(graph, step),
        [DEPLOY_LABEL.step]: step.id,
        ...(step.spec.timeout ? { [DEPLOY_LABEL.timeout]: String(step.spec.timeout) } : {})
      }
    };
  };
  const steps = graph.steps
    .filter((step): step is FlatStep<StepSpec> => step.spec.kind === 'step')
    .map((step): PlannedStep => ({ ...planRunnable(step), spec: step.spec }));
  const services = graph.steps.filter(isService).map((service): PlannedService => ({
    ...planRunnable(service),
    spec: service.spec,
    port: service.spec.port,
    replicas: service.spec.replicas ?? 1,
    ...(service.spec.healthcheck
      ? { healthcheck: { ...HEALTHCHECK_DEFAULTS, ...service.spec.healthcheck } }
      : {}),
    url: serviceUrl(serviceOf.get(service.id)!, service.spec),
    dependents: graph.steps
      .filter(other => other.needs.includes(service.id))
      .map(other => serviceOf.get(other.id)!)
  }));
  const local = [...new Set(localImages)];
  if (local.length) {
    notices.push(
      `the images ${local.join(', ')} are built on this machine: a cluster's nodes need them ` +
        'from a registry (export with --registry HOST:PORT) or loaded by hand'
    );
  }
  return {
    target: options.target,
    name,
    runId,
    spec,
    graph,
    steps,
    services,
    trackers,
    trackerImage: registryTag(options.trackerImage, options.registry),
    network: `${name}-net`,
    volume: `${name}-outputs`,
    trackerVolume: `${name}-tracker`,
    labels,
    notices
  };
}

/** Where the deployment's steps reach a service: its DNS name and its port. */
function serviceUrl(dnsName: string, spec: ServiceSpec): string {
  return `http://${dnsName}:${spec.port}`;
}

/** A step's or service's environment as `scanflow run` gives it, for a deployment. */
function deployedEnvironment(
  environment: StepEnvironment,
  graph: FlatGraph,
  step: FlatStep,
  target: Target,
  tracker: PlannedTracker | undefined
): Record<string, string> {
  let env = stepEnvironment(environment, graph, step, enclosingWorkflow(graph, step), 1);
  // A tracker on this machine's loopback is reached as host.docker.internal (compose maps it).
  if (target === 'compose') env = reachableFromContainers(env);
  // Retries are the orchestrator's (restart policies, Argo, Jobs): no attempt number reaches
  // the step, as none can be given to a restarted container.
  delete env.SCANFLOW_ATTEMPT;
  env.SCANFLOW_INPUTS = CONTAINER_INPUTS;
  env.SCANFLOW_OUTPUTS = CONTAINER_OUTPUTS;
  if (tracker) env.MLFLOW_RUN_ID = tracker.record.steps[step.id];
  return env;
}

/** One tracker service per workflow that has a tracker of its own and no external URL. */
function plannedTrackers(
  graph: FlatGraph,
  options: PlanOptions,
  runId: string,
  serviceOf: Map<string, string>
): PlannedTracker[] {
  if (options.tracker !== undefined) return [];
  const root = graph.root;
  const wanted: Array<{ workflow: string; experiment: string }> = [];
  if (root.tracker?.url === undefined) {
    wanted.push({ workflow: root.name, experiment: root.tracker?.experiment ?? root.name });
  }
  for (const container of graph.containers) {
    const tracker = container.spec.kind === 'workflow' ? container.spec.tracker : undefined;
    if (container.spec !== root && tracker?.scope === 'workflow' && tracker.url === undefined) {
      wanted.push({ workflow: container.id, experiment: tracker.experiment ?? container.id });
    }
  }
  const services = serviceNames(
    wanted.map(w => (w.workflow === root.name ? 'tracker' : `tracker-${w.workflow}`))
  );
  const trackers = wanted.map(({ workflow, experiment }, i): PlannedTracker => {
    const service = services[i];
    return {
      workflow,
      service,
      experiment,
      store: `${TRACKER_DATA}/${service}.db`,
      url: `http://${service}:${TRACKER_PORT}`,
      record: { runId, experiment, target: options.target, definition: root, steps: {} }
    };
  });
  // Which tracker each step logs to, as `scanflow run` decides it.
  const environment = {
    runId,
    tracker: trackers.find(t => t.workflow === root.name)?.url,
    trackers: Object.fromEntries(trackers.map(t => [t.workflow, t.url]))
  };
  for (const step of graph.steps) {
    const env = stepEnvironment(environment, graph, step, enclosingWorkflow(graph, step), 1);
    const tracker = trackers.find(t => t.url === env.MLFLOW_TRACKING_URI);
    if (tracker) tracker.record.steps[step.id] = `${runId}-${serviceOf.get(step.id)}`;
  }
  return trackers;
}

function stepImage(
  step: FlatStep,
  options: PlanOptions,
  localImages: string[]
): Pick<PlannedRunnable, 'image' | 'build'> {
  const built = options.built?.[step.id];
  if (built !== undefined) return { image: registryTag(built, options.registry) };
  if (step.spec.image !== undefined) {
    if (options.target === 'k8s' && !options.registry && step.spec.image.startsWith('scanflow/')) {
      localImages.push(step.spec.image);
    }
    return { image: registryTag(step.spec.image, options.registry) };
  }
  // Refusals let only a compose Dockerfile step through to here: compose builds it itself.
  const dockerfile = resolve(options.baseDir, step.spec.dockerfile!);
  const context = resolve(options.baseDir, step.spec.context ?? dirname(step.spec.dockerfile!));
  return { build: { context, dockerfile } };
}

/**
 * What the target cannot express, one problem per feature and step: each names the feature and
 * the fix. Checked before anything is built, written or started.
 */
export function refusals(graph: FlatGraph, options: PlanOptions): Problem[] {
  const { target } = options;
  const problems: Problem[] = [];
  for (const step of graph.steps) {
    if (isService(step)) problems.push(...serviceRefusals(step, target));
    const spec = step.spec;
    const built = options.built?.[step.id] !== undefined;
    if (spec.base !== undefined && !built) {
      problems.push({
        where: step.id,
        field: 'base',
        message:
          "its image is built from `base` plus the definition's folder (and pip requirements), " +
          'which only scanflow builds',
        fix: 'export with --build, which builds the image as `scanflow run` does'
      });
    }
    if (spec.dockerfile !== undefined && !built && target !== 'compose') {
      problems.push({
        where: step.id,
        field: 'dockerfile',
        message: `its image is built from a Dockerfile, which ${target === 'swarm' ? "'docker stack deploy'" : 'Kubernetes'} does not build`,
        fix: `export with --build${target === 'k8s' ? ' --registry HOST:PORT' : ''}`
      });
    }
    if ((spec.dockerfile !== undefined || spec.base !== undefined) && target === 'k8s') {
      if (built && !options.registry) {
        problems.push({
          where: step.id,
          field: spec.dockerfile !== undefined ? 'dockerfile' : 'base',
          message:
            "its image is built on this machine, which a Kubernetes cluster's nodes cannot pull",
          fix: 'export with --build --registry HOST:PORT (a registry the nodes reach)'
        });
      }
    }
    if (spec.resources?.gpus && target === 'swarm') {
      problems.push({
        where: step.id,
        field: 'resources.gpus',
        message: 'Swarm services cannot request GPUs (a stack file has no device requests)',
        fix: 'export to compose or k8s, or remove resources.gpus and place the step with node labels'
      });
    }
  }
  problems.push(...trackerNameClashes(graph, options));
  const external = options.tracker === false ? undefined : options.tracker;
  if (external !== undefined && target !== 'compose' && isLoopback(external)) {
    problems.push({
      where: graph.root.name,
      field: 'tracker',
      message: `the tracker ${external} is on this machine's loopback, which ${target === 'k8s' ? 'pods' : 'Swarm services'} cannot reach`,
      fix: "give an address the cluster reaches, or leave out --tracker to deploy the workflow's own"
    });
  }
  return problems;
}

/** Whether a path holds what an HTTP request line cannot carry: spaces and control characters. */
function unsendable(path: string): boolean {
  return [...path].some(char => char.trim() === '' || char.charCodeAt(0) < 32 || char === '\x7f');
}

/** What a target cannot express of one service. */
function serviceRefusals(service: FlatStep<ServiceSpec>, target: Target): Problem[] {
  const problems: Problem[] = [];
  const path = service.spec.healthcheck?.path;
  if (path !== undefined && unsendable(path)) {
    problems.push({
      where: service.id,
      field: 'healthcheck.path',
      message: `the healthcheck path ${JSON.stringify(path)} holds spaces or control characters, which an HTTP request line (and a Kubernetes probe) cannot carry`,
      fix: 'percent-encode them, e.g. "/health%20check"'
    });
  }
  if (target === 'k8s' && !/^[a-z]/.test(dnsName(service.id.split('.').slice(1).join('.')))) {
    problems.push({
      where: service.id,
      message:
        'its Kubernetes Service name would begin with a digit, which Service names cannot (DNS-1035)',
      fix: 'give the service (or the workflow that holds it) a name that begins with a letter'
    });
  }
  return problems;
}

/**
 * A step or service whose DNS name is a tracker service's would take its place on the network
 * (and in the files): refused, with the fix.
 */
function trackerNameClashes(graph: FlatGraph, options: PlanOptions): Problem[] {
  if (options.tracker !== undefined) return [];
  const root = graph.root.name;
  const trackerNames = new Set(graph.root.tracker?.url === undefined ? ['tracker'] : []);
  for (const container of graph.containers) {
    const tracker = container.spec.kind === 'workflow' ? container.spec.tracker : undefined;
    if (tracker?.scope === 'workflow' && tracker.url === undefined) {
      trackerNames.add(dnsName(`tracker-${container.id}`, 40));
    }
  }
  const names = serviceNames(graph.steps.map(s => s.id.slice(root.length + 1)));
  return graph.steps
    .filter((_, i) => trackerNames.has(names[i]))
    .map(step => ({
      where: step.id,
      message: `its name on the deployment's network, '${names[graph.steps.indexOf(step)]}', is that of the deployment's tracker service`,
      fix: `rename the ${step.spec.kind}, or deploy with --tracker URL (or --no-tracker)`
    }));
}

function isLoopback(url: string): boolean {
  try {
    return ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** `image` as the registry's tag: `HOST:PORT/repository:tag` (a registry already named stays). */
export function registryTag(image: string, registry?: string): string {
  if (!registry) return image;
  const first = image.split('/')[0];
  const hasRegistry = image.includes('/') && (first.includes('.') || first.includes(':'));
  return `${registry}/${hasRegistry ? image.slice(first.length + 1) : image}`;
}

/**
 * A DNS-1123 label (lowercase letters, digits, '-', at most 63): what Kubernetes object names and
 * compose/Swarm service names all accept.
 */
export function dnsName(name: string, max = 63): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (cleaned || 'step').slice(0, max).replace(/-+$/, '');
}

/** Unique DNS names for qualified ids; names that clash after cleaning get a short hash. */
export function serviceNames(ids: string[], max = 40): string[] {
  const names = ids.map(id => dnsName(id, max));
  const counts = new Map<string, number>();
  names.forEach(n => counts.set(n, (counts.get(n) ?? 0) + 1));
  return names.map((n, i) => {
    if (counts.get(n) === 1) return n;
    const hash = simpleHash(ids[i]);
    return `${n.slice(0, max - 7).replace(/-+$/, '')}-${hash}`;
  });
}

function simpleHash(text: string): string {
  let h = 2166136261;
  for (const char of text) h = Math.imul(h ^ char.charCodeAt(0), 16777619);
  return (h >>> 0).toString(36).padStart(6, '0').slice(-6);
}

/** A fresh token for the deployment's trackers. */
export function newToken(): string {
  return randomBytes(24).toString('hex');
}
