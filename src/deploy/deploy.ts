/**
 * `scanflow deploy`, `undeploy` and `deployments`. A deployment is an export (the same files
 * `scanflow export` writes, kept under `.scanflow/deployments/<name>/<target>` next to the
 * definition) that scanflow starts and follows with the events of `scanflow run`, so the same
 * progress display, exit codes and tracker records apply. It is followed until every step has
 * ended and every service of the workflow is healthy, and then lives on, services up, until
 * `undeploy`; the list of deployments is read from the engine's labels, never from a file that
 * can go stale.
 *
 *   const deployment = deployWorkflow(spec, { target: 'compose', baseDir });
 *   deployment.on(event => console.log(event.type));
 *   const result = await deployment.done;   // a RunResult, as runWorkflow's
 */
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { DockerClient } from '../run/docker/client';
import { EngineError, RunError } from '../run/errors';
import { EventLog } from '../run/events';
import type { RunResult, WorkflowRun } from '../run/run';
import { newRunId, outcome } from '../run/run';
import type { StepReport } from '../run/scheduler';
import { RestStore } from '../track/rest-store';
import { RunRecorder } from '../track/recorder';
import type { WorkflowSpec } from '../workflow';
import { followCompose, startComposeTrackers } from './compose-deployer';
import { DeployError } from './errors';
import { exportWorkflow, type ExportResult } from './export';
import { DEPLOY_LABEL, TOKEN_VARIABLE, dnsName, type DeploymentPlan, type Target } from './plan';
import { followSwarm } from './swarm-deployer';

export interface DeployOptions {
  target: Target;
  /** The folder the definition's relative paths are resolved against (and the files go under). */
  baseDir: string;
  registry?: string;
  tracker?: string | false;
  runId?: string;
  name?: string;
  docker?: DockerClient;
  /** Kubernetes: the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config). */
  kubeconfig?: string;
}

/** A deployment in progress: a run's events and result, and where its tracker listens. */
export interface Deployment extends WorkflowRun {
  readonly name: string;
  /** Lines for the person: where the tracker is, how to remove the deployment. */
  summary(): string[];
}

export function deployWorkflow(spec: WorkflowSpec, options: DeployOptions): Deployment {
  const runId = options.runId ?? newRunId();
  const name = options.name ?? dnsName(spec.name);
  const log = new EventLog(runId);
  const cancel = new AbortController();
  setMaxListeners(0, cancel.signal);
  const summary: string[] = [];
  const done = execute(spec, { ...options, runId, name }, log, cancel.signal, summary);
  return {
    id: runId,
    name,
    done,
    on: listener => log.on(listener),
    history: () => log.history(),
    cancel: () => {
      cancel.abort();
      return done;
    },
    summary: () => summary,
    [Symbol.asyncIterator]: () => log[Symbol.asyncIterator]()
  };
}

async function execute(
  spec: WorkflowSpec,
  options: DeployOptions & { runId: string; name: string },
  log: EventLog,
  signal: AbortSignal,
  summary: string[]
): Promise<RunResult> {
  const started = Date.now();
  const emit = log.emit.bind(log);
  const client = options.docker ?? new DockerClient();
  const result: RunResult = {
    id: options.runId,
    workflow: spec.name,
    status: 'failed',
    executor: options.target,
    steps: [],
    durationMs: 0
  };
  let exported: ExportResult | undefined;
  let recorder: RunRecorder | undefined;
  let reports = new Map<string, StepReport>();
  try {
    // Kubernetes needs no Docker engine unless images are built for it.
    if (options.target !== 'k8s') await client.ping();
    exported = await exportWorkflow(spec, {
      target: options.target,
      outDir: join(options.baseDir, '.scanflow', 'deployments', options.name, options.target),
      baseDir: options.baseDir,
      build: options.target !== 'k8s' || options.registry !== undefined,
      registry: options.registry,
      tracker: options.tracker,
      runId: options.runId,
      name: options.name,
      k8sFlavor: 'jobs',
      docker: client,
      log: message => emit({ type: 'notice', message })
    });
    const { plan } = exported;
    if (options.target === 'k8s') {
      const { undeployKubernetes } = await import('./k8s-deployer');
      await undeployKubernetes(plan.name, options.kubeconfig);
    } else {
      await removeEarlier(plan, client);
    }
    emit({
      type: 'run-started',
      workflow: spec.name,
      executor: options.target,
      steps: plan.graph.steps.map(s => s.id)
    });
    plan.notices.forEach(message => emit({ type: 'notice', message }));
    const settings = { plan, file: exported.main, token: exported.token, client, emit, signal };
    if (options.target === 'compose') {
      const url = await startComposeTrackers(settings);
      recorder = await trackerRecorder(plan, url, exported.token, log, summary);
      reports = await followCompose(settings);
    } else if (options.target === 'swarm') {
      reports = await followSwarm({
        ...settings,
        onTracker: async url => {
          recorder = await trackerRecorder(plan, url, exported!.token, log, summary);
        }
      });
    } else {
      const { followKubernetes } = await import('./k8s-deployer');
      reports = await followKubernetes({
        plan,
        manifests: exported.manifests ?? [],
        emit,
        signal,
        kubeconfig: options.kubeconfig
      });
    }
    Object.assign(result, deploymentOutcome(reports, signal.aborted));
  } catch (error) {
    result.status = signal.aborted ? 'cancelled' : 'failed';
    result.error =
      error instanceof RunError
        ? error
        : new EngineError((error as Error).message ?? String(error), undefined);
    if (!(error instanceof RunError) && !(error instanceof DeployError)) {
      emit({ type: 'notice', message: `deployment failed: ${(error as Error).stack ?? error}` });
    }
  }
  result.steps = [...reports.values()];
  result.durationMs = Date.now() - started;
  if (signal.aborted && exported && options.target === 'k8s') {
    const { undeployKubernetes } = await import('./k8s-deployer');
    await undeployKubernetes(exported.plan.name, options.kubeconfig).catch(() => undefined);
  } else if (signal.aborted && exported) {
    await undeploy(exported.plan.name, { volumes: true, docker: client }).catch(() => undefined);
  } else if (exported) {
    summary.push(...servicesUp(exported.plan, reports));
    summary.push(
      `deployment ${exported.plan.name} (${options.target}) stays up: files in ${exported.main}; ` +
        `remove it with \`scanflow undeploy ${exported.plan.name}\``
    );
  }
  log.emit({
    type: 'run-finished',
    status: result.status,
    durationMs: result.durationMs,
    error: result.error?.message
  });
  if (recorder) {
    await recorder.idle().catch(() => undefined);
    (recorder.store as RestStore).close();
  }
  return result;
}

/**
 * How a deployment ended: as a run, except that its services are up and ready rather than
 * stopped; that is their success, since a deployment lives on until `undeploy`.
 */
function deploymentOutcome(
  reports: Map<string, StepReport>,
  cancelled: boolean
): Pick<RunResult, 'status' | 'error'> {
  const settled = new Map(
    [...reports].map(([id, report]): [string, StepReport] => [
      id,
      report.status === 'ready' ? { ...report, status: 'succeeded' } : report
    ])
  );
  return outcome(settled, cancelled);
}

/** Lines for the person: which services stay up, and where the steps reach them. */
function servicesUp(plan: DeploymentPlan, reports: Map<string, StepReport>): string[] {
  return plan.services
    .filter(s => reports.get(s.id)?.status === 'ready')
    .map(
      s =>
        `service ${s.id} stays up: ${s.replicas} replica${s.replicas === 1 ? '' : 's'} at ${s.url} ` +
        `on the deployment's network`
    );
}

/**
 * Records the deployment's events in its tracker (the runs the tracker service created, adopted by
 * their ids), as `scanflow run` records a run; says where the tracker is.
 */
async function trackerRecorder(
  plan: DeploymentPlan,
  url: string | undefined,
  token: string,
  log: EventLog,
  summary: string[]
): Promise<RunRecorder | undefined> {
  const root = plan.trackers.find(t => t.workflow === plan.spec.name) ?? plan.trackers[0];
  if (!url || !root) return undefined;
  try {
    return await startRecorder(plan, root, url, token, log, summary);
  } catch (error) {
    // As under `scanflow run`: a tracker that cannot record is a notice, not a failed deployment.
    log.emit({
      type: 'notice',
      message: `the deployment's progress is not recorded in ${url}: ${(error as Error).message}`
    });
    return undefined;
  }
}

async function startRecorder(
  plan: DeploymentPlan,
  root: DeploymentPlan['trackers'][number],
  url: string,
  token: string,
  log: EventLog,
  summary: string[]
): Promise<RunRecorder> {
  log.emit({ type: 'tracker-started', workflow: root.workflow, url, store: root.store });
  summary.push(
    `tracker: ${url} (MLFLOW_TRACKING_TOKEN is ${TOKEN_VARIABLE} in the deployment's .env; ` +
      `store ${root.store} in volume ${plan.trackerVolume})`
  );
  const client = new RestStore(url, { token, timeoutMs: 10_000 });
  const recorder = new RunRecorder(client, client, {
    ids: { run: plan.runId, steps: root.record.steps }
  });
  await recorder.startRun({
    runId: plan.runId,
    workflow: root.experiment,
    executor: plan.target
  });
  const steps = new Set(Object.keys(root.record.steps));
  log.on(event => {
    if (event.type === 'run-started' || ('step' in event && !steps.has(event.step))) return;
    recorder.observe(event);
  });
  return recorder;
}

/** A deployment of the same name is replaced: its objects are removed first. */
async function removeEarlier(plan: DeploymentPlan, client: DockerClient): Promise<void> {
  await undeploy(plan.name, { volumes: false, docker: client });
}

export interface UndeployReport {
  total: number;
  description: string;
}

/**
 * Removes every object labelled with the deployment's name: Swarm services (the stack), then
 * containers, networks and, unless `volumes` is false, volumes, configs and secrets.
 */
export async function undeploy(
  name: string,
  options: { volumes?: boolean; docker?: DockerClient } = {}
): Promise<UndeployReport> {
  const client = options.docker ?? new DockerClient();
  await client.ping();
  const filters = JSON.stringify({ label: [`${DEPLOY_LABEL.deployment}=${name}`] });
  const swarm = await swarmActive(client);
  const services = swarm ? await client.docker.listServices({ filters }) : [];
  for (const service of services) {
    await client.docker
      .getService(service.ID)
      .remove()
      .catch(() => undefined);
  }
  // Swarm removes a service's tasks' containers by itself, a moment later.
  await waitFor(async () => {
    const left = await client.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`com.docker.swarm.service.id`] })
    });
    return !left.some(c => services.some(s => s.ID === c.Labels['com.docker.swarm.service.id']));
  }, 20_000);
  const removed = await client.removeLabelled(
    { [DEPLOY_LABEL.deployment]: name },
    { volumes: options.volumes ?? true }
  );
  // An overlay network keeps its endpoints a moment after the last container left (409 then).
  await waitFor(async () => {
    const left = await client.docker.listNetworks({ filters });
    for (const network of left) {
      await client.docker
        .getNetwork(network.Id)
        .remove()
        .then(() => removed.networks.push(network.Name))
        .catch(() => undefined);
    }
    return (await client.docker.listNetworks({ filters })).length === 0;
  }, 20_000);
  let configs = 0;
  if (swarm && (options.volumes ?? true)) {
    for (const config of await client.docker.listConfigs({ filters })) {
      await client.docker
        .getConfig(config.ID)
        .remove()
        .catch(() => undefined);
      configs++;
    }
    for (const secret of await client.docker.listSecrets({ filters })) {
      await client.docker
        .getSecret(secret.ID)
        .remove()
        .catch(() => undefined);
      configs++;
    }
  }
  const total =
    services.length +
    removed.containers.length +
    removed.networks.length +
    removed.volumes.length +
    configs;
  return {
    total,
    description:
      `${services.length} services, ${removed.containers.length} containers, ` +
      `${removed.networks.length} networks, ${removed.volumes.length} volumes` +
      (configs ? `, ${configs} configs and secrets` : '')
  };
}

export interface DeploymentInfo {
  name: string;
  target: string;
  workflow: string;
  runId: string;
  /** e.g. "3 containers (1 running)" or "5 services". */
  state: string;
}

/** The deployments on this engine, from the labels of their containers and services. */
export async function listDeployments(docker?: DockerClient): Promise<DeploymentInfo[]> {
  const client = docker ?? new DockerClient();
  await client.ping();
  const filters = JSON.stringify({ label: [DEPLOY_LABEL.deployment] });
  const found = new Map<string, DeploymentInfo & { running: number; objects: number }>();
  const note = (labels: Record<string, string>, running: boolean): void => {
    const name = labels[DEPLOY_LABEL.deployment];
    const entry = found.get(name) ?? {
      name,
      target: labels[DEPLOY_LABEL.target] ?? '?',
      // Steps carry their enclosing workflow's qualified name: the root is its first part.
      workflow: (labels[DEPLOY_LABEL.workflow] ?? '?').split('.')[0],
      runId: labels[DEPLOY_LABEL.run] ?? '?',
      state: '',
      running: 0,
      objects: 0
    };
    entry.objects++;
    if (running) entry.running++;
    found.set(name, entry);
  };
  if (await swarmActive(client)) {
    for (const service of await client.docker.listServices({ filters })) {
      note(service.Spec?.Labels ?? {}, false);
    }
  }
  for (const container of await client.docker.listContainers({ all: true, filters })) {
    // Swarm's task containers and the Swarm tracker's loopback relay belong to services.
    if (container.Labels[DEPLOY_LABEL.target] === 'swarm') continue;
    note(container.Labels, container.State === 'running');
  }
  return [...found.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(({ running, objects, ...info }) => ({
      ...info,
      state:
        info.target === 'swarm'
          ? `${objects} services`
          : `${objects} containers (${running} running)`
    }));
}

async function swarmActive(client: DockerClient): Promise<boolean> {
  const info = (await client.docker.info()) as { Swarm?: { LocalNodeState?: string } };
  return info.Swarm?.LocalNodeState === 'active';
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !(await check())) {
    await new Promise(resolve => setTimeout(resolve, 250));
  }
}
