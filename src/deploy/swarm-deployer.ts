/**
 * `scanflow deploy --to swarm`: `docker stack deploy` of the exported stack file creates every
 * service (the steps as held `replicated-job` services), then `scanflow run`'s own scheduler
 * releases the steps in dependency order through a SwarmReleaser, an Executor whose attempt is
 * one job iteration of the step's service. Retries, timeouts, skipping and cancelling are
 * therefore exactly those of `scanflow run`. A workflow's service is scaled from 0 to its
 * replicas once its dependencies have succeeded; its dependents are released once every replica
 * is healthy, and it stays up after the deployment is followed to its end.
 */
import type Docker from 'dockerode';
import type { DockerClient } from '../run/docker/client';
import type { EventInit } from '../run/events';
import type { AttemptOutcome, StepRequest } from '../run/executor';
import type { StepReport } from '../run/scheduler';
import { containerTail, followContainerLogs } from './container-logs';
import { lastLines, runCommand } from './docker-cli';
import { DeployError } from './errors';
import {
  TOKEN_VARIABLE,
  TRACKER_PORT,
  type DeploymentPlan,
  type PlannedService,
  type PlannedStep
} from './plan';
import { releaseInOrder, type Releaser } from './release';
import {
  FAILED_TASKS_LIMIT,
  readinessBudgetSeconds,
  ServiceDeployError,
  serviceFix
} from './service-health';

const POLL_MS = 100;

export interface SwarmSettings {
  plan: DeploymentPlan;
  file: string;
  token: string;
  client: DockerClient;
  emit: (event: EventInit) => void;
  signal: AbortSignal;
  onTracker?: (url: string) => Promise<void>;
}

/** The service name `docker stack deploy` gives a stack file's service. */
export function stackService(plan: DeploymentPlan, service: string): string {
  return `${plan.name}_${service}`;
}

export async function followSwarm(settings: SwarmSettings): Promise<Map<string, StepReport>> {
  const { plan, file, token, client, emit, signal } = settings;
  const deployed = await runCommand(
    'docker',
    ['stack', 'deploy', '--detach=true', '--compose-file', file, plan.name],
    { env: { ...process.env, [TOKEN_VARIABLE]: token } }
  );
  if (deployed.code !== 0) {
    throw new DeployError(
      `docker stack deploy failed: ${lastLines(deployed.stderr)}`,
      /not a swarm manager|swarm/i.test(deployed.stderr)
        ? 'make this engine a swarm manager (`docker swarm init`)'
        : 'see the message above'
    );
  }
  for (const tracker of plan.trackers) {
    emit({ type: 'notice', message: `waiting for the tracker service ${tracker.service}` });
    await waitForTracker(client, stackService(plan, tracker.service), signal);
  }
  const root = plan.trackers.find(t => t.workflow === plan.spec.name);
  if (root && settings.onTracker && !signal.aborted) {
    await settings.onTracker(await startGateway(plan, root.service, client));
  }
  return releaseInOrder(plan, new SwarmReleaser(plan, client), emit, signal);
}

/**
 * A tracker on Swarm listens on the deployment's overlay network only. To record the
 * deployment's progress there and let the person browse it, a small TCP relay joins that network
 * and is published on this machine's loopback only (Swarm's own publishing would bind every
 * address). It is a plain container, labelled as the deployment's: `undeploy` removes it.
 */
async function startGateway(
  plan: DeploymentPlan,
  tracker: string,
  client: DockerClient
): Promise<string> {
  const relay =
    "const net=require('net');net.createServer(c=>{const u=net.connect(" +
    `${TRACKER_PORT},'${tracker}');c.pipe(u).pipe(c);` +
    "u.on('error',()=>c.destroy());c.on('error',()=>u.destroy())}).listen(" +
    `${TRACKER_PORT})`;
  const container = await client.docker.createContainer({
    name: `${plan.name}-tracker-gateway`,
    Image: plan.trackerImage,
    Entrypoint: ['node', '-e', relay],
    Cmd: [],
    Labels: { ...plan.labels, 'scanflow.service': 'tracker-gateway' },
    ExposedPorts: { [`${TRACKER_PORT}/tcp`]: {} },
    HostConfig: {
      Init: true,
      NetworkMode: plan.network,
      PortBindings: { [`${TRACKER_PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] }
    }
  });
  await container.start();
  const ports = (await container.inspect()).NetworkSettings.Ports[`${TRACKER_PORT}/tcp`];
  const url = `http://127.0.0.1:${ports?.[0]?.HostPort}`;
  // The relay answers once node listens in it (any HTTP status will do: the tracker wants a token).
  const until = Date.now() + 15_000;
  while (Date.now() < until && !(await answers(`${url}/health`))) await sleep(100);
  return url;
}

/**
 * Whether a URL answers within a second. The timer is a plain (referenced) one: a request that
 * hangs on a relay that is still starting keeps no event loop alive by itself.
 */
export async function answers(url: string): Promise<boolean> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 1000);
  try {
    await fetch(url, { signal: abort.signal });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the tracker service's task runs and its healthcheck passes. */
async function waitForTracker(
  client: DockerClient,
  service: string,
  signal: AbortSignal
): Promise<void> {
  const until = Date.now() + 120_000;
  while (!signal.aborted && Date.now() < until) {
    const tasks = await client.docker.listTasks({
      filters: JSON.stringify({ service: [service], 'desired-state': ['running'] })
    });
    for (const task of tasks) {
      const id = task.Status?.ContainerStatus?.ContainerID;
      if (task.Status?.State !== 'running' || !id) continue;
      const health = (await client.docker.getContainer(id).inspect()).State.Health?.Status;
      if (health === 'healthy') return;
    }
    await sleep(POLL_MS);
  }
  if (!signal.aborted) {
    throw new DeployError(
      `the tracker service ${service} did not become healthy within 120 s`,
      `see \`docker service logs ${service}\``
    );
  }
}

interface SwarmTask {
  ID: string;
  JobIteration?: { Index: number };
  DesiredState?: string;
  Status?: {
    State?: string;
    Err?: string;
    Timestamp?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
}

/**
 * The releaser of a stack: a step's attempt is a job iteration of its held service; a service is
 * scaled to its replicas.
 */
export class SwarmReleaser implements Releaser {
  constructor(
    private readonly plan: DeploymentPlan,
    private readonly client: DockerClient
  ) {}

  async runStep(step: PlannedStep, request: StepRequest): Promise<AttemptOutcome> {
    const service = this.client.docker.getService(stackService(this.plan, step.service));
    const iteration = await release(service);
    let lastLine: string | undefined;
    let following: string | undefined;
    for (;;) {
      const tasks = await this.tasks(step.service);
      const task = tasks.find(t => (t.JobIteration?.Index ?? -1) >= iteration);
      const state = task?.Status?.State;
      const container = task?.Status?.ContainerStatus?.ContainerID;
      if (container && following !== container) {
        following = container;
        void followContainerLogs(this.client.docker.getContainer(container), (stream, line) => {
          lastLine = line;
          request.log(stream, line);
        });
      }
      if (request.signal.aborted) {
        // A timeout or a cancel: the job iteration ends with its task's container.
        await hold(service);
        if (container) {
          await this.client.docker
            .getContainer(container)
            .remove({ force: true })
            .catch(() => undefined);
        }
        return { exitCode: 137, lastLine };
      }
      if (state === 'complete') return { exitCode: 0, lastLine };
      if (state && ['failed', 'rejected', 'orphaned'].includes(state)) {
        const code = task?.Status?.ContainerStatus?.ExitCode;
        return {
          exitCode: code === undefined || code === 0 ? 1 : code,
          lastLine: lastLine ?? task?.Status?.Err
        };
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * Scales the service to its replicas and waits until that many tasks run with a healthy
   * container (Swarm keeps a task "starting" until its healthcheck passes). Tasks that fail
   * (exited, killed as unhealthy, rejected) are replaced by Swarm; after FAILED_TASKS_LIMIT of
   * them, or past the readiness budget, the service is held again and fails with its last lines.
   */
  async startService(planned: PlannedService, signal: AbortSignal): Promise<void> {
    const name = stackService(this.plan, planned.service);
    const service = this.client.docker.getService(name);
    await scale(service, planned.replicas);
    const until = Date.now() + readinessBudgetSeconds(planned) * 1000;
    while (!signal.aborted) {
      const tasks = await this.tasks(planned.service);
      const failed = tasks.filter(t =>
        ['failed', 'rejected', 'orphaned'].includes(t.Status?.State ?? '')
      );
      if (failed.length >= FAILED_TASKS_LIMIT) {
        throw await this.failure(planned, service, failed, `had ${failed.length} failed tasks`);
      }
      if ((await this.healthyTasks(tasks)) >= planned.replicas) return;
      if (Date.now() > until) {
        throw await this.failure(
          planned,
          service,
          failed,
          `was not ready within ${readinessBudgetSeconds(planned)} s`
        );
      }
      await sleep(POLL_MS);
    }
  }

  private async tasks(service: string): Promise<SwarmTask[]> {
    return (await this.client.docker.listTasks({
      filters: JSON.stringify({ service: [stackService(this.plan, service)] })
    })) as SwarmTask[];
  }

  /** Tasks that should run, run, and whose container is healthy (or has no healthcheck). */
  private async healthyTasks(tasks: SwarmTask[]): Promise<number> {
    let healthy = 0;
    for (const task of tasks) {
      const id = task.Status?.ContainerStatus?.ContainerID;
      if (task.DesiredState !== 'running' || task.Status?.State !== 'running' || !id) continue;
      const details = await this.client.docker
        .getContainer(id)
        .inspect()
        .catch(() => undefined);
      const health = details?.State.Health?.Status;
      if (details?.State.Running && (health === undefined || health === 'healthy')) healthy++;
    }
    return healthy;
  }

  /** Holds the failed service (no task restarts without end) and says why, with its last lines. */
  private async failure(
    planned: PlannedService,
    service: Docker.Service,
    failed: SwarmTask[],
    what: string
  ): Promise<ServiceDeployError> {
    await scale(service, 0).catch(() => undefined);
    const last = failed.sort((a, b) =>
      (a.Status?.Timestamp ?? '').localeCompare(b.Status?.Timestamp ?? '')
    )[failed.length - 1];
    const container = last?.Status?.ContainerStatus?.ContainerID;
    const lines = container ? await containerTail(this.client.docker.getContainer(container)) : [];
    const reason = last?.Status?.Err ? ` (last: ${last.Status.Err})` : '';
    return new ServiceDeployError(planned, `${what}${reason}`, lines, serviceFix(planned));
  }
}

/** Sets a replicated service's replicas. */
async function scale(service: Docker.Service, replicas: number): Promise<void> {
  const info = await service.inspect();
  const spec = info.Spec as { Mode?: { Replicated?: { Replicas?: number } } } & Record<
    string,
    unknown
  >;
  spec.Mode = { Replicated: { Replicas: replicas } };
  await service.update({ ...spec, version: info.Version.Index });
}

interface JobServiceSpec {
  Mode?: { ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number } };
  TaskTemplate?: { ForceUpdate?: number };
}

/**
 * Lets a held job run one completion. Every update of a job's spec starts a new job iteration;
 * returns its index, so that the tasks of earlier iterations (earlier attempts) are told apart.
 */
async function release(service: Docker.Service): Promise<number> {
  const info = await service.inspect();
  const spec = info.Spec as JobServiceSpec & Record<string, unknown>;
  const before = (info as { JobStatus?: { JobIteration?: { Index?: number } } }).JobStatus
    ?.JobIteration?.Index;
  spec.Mode = { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } };
  spec.TaskTemplate = {
    ...spec.TaskTemplate,
    ForceUpdate: (spec.TaskTemplate?.ForceUpdate ?? 0) + 1
  };
  await service.update({ ...spec, version: info.Version.Index });
  const after = await service.inspect();
  return (
    (after as { JobStatus?: { JobIteration?: { Index?: number } } }).JobStatus?.JobIteration
      ?.Index ?? (before ?? 0) + 1
  );
}

/** Holds a job again (0 completions), so that nothing restarts it. */
async function hold(service: Docker.Service): Promise<void> {
  const info = await service.inspect().catch(() => undefined);
  if (!info) return;
  const spec = info.Spec as JobServiceSpec & Record<string, unknown>;
  spec.Mode = { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 0 } };
  await service.update({ ...spec, version: info.Version.Index }).catch(() => undefined);
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
