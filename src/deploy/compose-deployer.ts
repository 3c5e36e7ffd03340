/**
 * `scanflow deploy --to compose`: `docker-compose up` of the exported file does the work (its
 * `depends_on` orders the steps, the engine's restart policy retries them); scanflow follows the
 * step containers through the engine's API and reports them as the events of `scanflow run`, and
 * stops a step at its timeout (compose has none). Steps compose never created are skipped.
 * A workflow's service is followed until every replica runs healthy (`service-ready`), then left
 * up; one whose containers keep restarting, turn unhealthy or are not ready in time is stopped
 * and fails the deployment with its last lines.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import type { DockerClient } from '../run/docker/client';
import {
  StepFailedError,
  StepTimeoutError,
  DependencyFailedError,
  EngineError
} from '../run/errors';
import type { EventInit } from '../run/events';
import type { StepReport } from '../run/scheduler';
import type { FlatGraph } from '../workflow';
import { containerTail, followContainerLogs } from './container-logs';
import { lastLines, runCompose } from './docker-cli';
import { DeployError } from './errors';
import {
  DEPLOY_LABEL,
  TOKEN_VARIABLE,
  TRACKER_PORT,
  type DeploymentPlan,
  type PlannedService
} from './plan';
import {
  FAILED_TASKS_LIMIT,
  readinessBudgetSeconds,
  ServiceDeployError,
  serviceFix
} from './service-health';

const POLL_MS = 250;

export interface FollowSettings {
  plan: DeploymentPlan;
  /** The exported compose file. */
  file: string;
  token: string;
  client: DockerClient;
  emit: (event: EventInit) => void;
  signal: AbortSignal;
}

/** Compose's own arguments for the deployment's project and file. */
export function composeArgs(plan: DeploymentPlan, file: string): string[] {
  return ['-p', plan.name, '-f', file];
}

interface Watched {
  report: StepReport;
  container?: string;
  restarts: number;
  startedAt?: number;
  logs?: NodeJS.ReadableStream;
  timedOut?: boolean;
  /** The attempt's last line, for the failure message. */
  lastLine?: string;
}

/** Starts the trackers, returning the loopback URL of the root's (or undefined). */
export async function startComposeTrackers(settings: FollowSettings): Promise<string | undefined> {
  const { plan, file, token } = settings;
  if (plan.trackers.length === 0) return undefined;
  const env = { ...process.env, [TOKEN_VARIABLE]: token };
  const services = plan.trackers.map(t => t.service);
  const up = await runCompose([...composeArgs(plan, file), 'up', '-d', '--no-color', ...services], {
    env
  });
  if (up.code !== 0) {
    throw new DeployError(
      `docker-compose could not start the tracker: ${lastLines(up.stderr)}`,
      'see `docker-compose logs` of the deployment, or deploy with --no-tracker'
    );
  }
  const port = await runCompose(
    [...composeArgs(plan, file), 'port', services[0], String(TRACKER_PORT)],
    {
      env
    }
  );
  const address = port.stdout.trim().split(/\r?\n/).pop();
  return address ? `http://${address}` : undefined;
}

/**
 * Runs `docker-compose up` of the steps and follows them until every step has ended or will never
 * start. Resolves with a report per step.
 */
export async function followCompose(settings: FollowSettings): Promise<Map<string, StepReport>> {
  const { plan, file, token, client, emit, signal } = settings;
  const watched = new Map<string, Watched>(
    plan.steps.map(s => [
      s.id,
      { report: { id: s.id, status: 'pending', attempts: 0 }, restarts: 0 }
    ])
  );
  const services = new Map<string, WatchedService>(
    plan.services.map(s => [
      s.id,
      { planned: s, report: { id: s.id, status: 'pending', attempts: 0 }, logs: new Map() }
    ])
  );
  const order = dependenciesFirst(plan.graph);
  let composeDone = false;
  let composeError = '';
  const up = runCompose([...composeArgs(plan, file), 'up', '-d', '--no-color'], {
    env: { ...process.env, [TOKEN_VARIABLE]: token }
  }).then(result => {
    composeDone = true;
    if (result.code !== 0) composeError = lastLines(result.stderr);
  });

  const ended = (w: Watched): boolean =>
    ['succeeded', 'failed', 'skipped', 'cancelled'].includes(w.report.status);
  while (!signal.aborted) {
    const containers = await client.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${DEPLOY_LABEL.run}=${plan.runId}`, DEPLOY_LABEL.step] })
    });
    // Dependencies first, so that the events come in the order things happened.
    for (const id of order) {
      const mine = containers.filter(c => c.Labels[DEPLOY_LABEL.step] === id);
      const service = services.get(id);
      if (service) {
        if (!settled(service)) await observeService(service, mine, client, emit);
        continue;
      }
      const w = watched.get(id)!;
      for (const info of mine) if (!ended(w)) await observe(w, info, plan, client, emit);
    }
    if (
      composeDone &&
      [...watched.values()].every(w => ended(w) || w.container === undefined) &&
      [...services.values()].every(s => settled(s) || s.since === undefined)
    ) {
      break;
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS));
  }
  await up;
  for (const service of services.values()) {
    // A service stays up: its log streams would never end, and would keep this process alive.
    service.logs.forEach(stream => (stream as Readable).destroy());
    if (settled(service)) continue;
    if (signal.aborted) {
      service.report.status = 'cancelled';
      emit({ type: 'step-cancelled', step: service.report.id });
      continue;
    }
    const reason = `docker-compose did not start it${composeError ? ` (${composeError})` : ''}`;
    service.report.status = 'skipped';
    service.report.reason = reason;
    emit({ type: 'step-skipped', step: service.report.id, reason });
  }
  for (const w of watched.values()) {
    w.logs?.removeAllListeners();
    if (ended(w)) continue;
    if (signal.aborted) {
      w.report.status = 'cancelled';
      emit({ type: 'step-cancelled', step: w.report.id });
      continue;
    }
    const failed = plan.steps.find(s => s.id === w.report.id)!.needs.length
      ? 'a step it depends on failed'
      : `docker-compose did not start it${composeError ? ` (${composeError})` : ''}`;
    w.report.status = 'skipped';
    w.report.reason = failed;
    w.report.error = new DependencyFailedError(failed, w.report.id);
    emit({ type: 'step-skipped', step: w.report.id, reason: failed });
  }
  // In definition order, as a run reports them.
  return new Map(
    plan.graph.steps.map(({ id }): [string, StepReport] => [
      id,
      (watched.get(id) ?? services.get(id)!).report
    ])
  );
}

/** The ids of steps and services, each after everything it needs. */
function dependenciesFirst(graph: FlatGraph): string[] {
  const placed = new Set<string>();
  const left = [...graph.steps];
  while (left.length > 0) {
    const next = left.findIndex(s => s.needs.every(id => placed.has(id)));
    // A validated graph has no cycle; were there one, the rest keeps its definition order.
    const [step] = left.splice(Math.max(0, next), 1);
    placed.add(step.id);
  }
  return [...placed];
}

interface WatchedService {
  planned: PlannedService;
  report: StepReport;
  /** When its first container was seen (its readiness budget runs from then). */
  since?: number;
  /** The log streams followed, by container id. */
  logs: Map<string, NodeJS.ReadableStream>;
}

/** Ready (and left up) or failed: nothing more to follow. */
const settled = (service: WatchedService): boolean =>
  ['ready', 'failed'].includes(service.report.status);

/**
 * One look at a service's replicas: running once one has started, ready once `replicas` of them
 * run healthy, failed when they keep restarting, turn unhealthy or take longer than the budget.
 */
async function observeService(
  service: WatchedService,
  replicas: Docker.ContainerInfo[],
  client: DockerClient,
  emit: (event: EventInit) => void
): Promise<void> {
  const { planned, report } = service;
  const step = planned.id;
  if (replicas.length === 0) return;
  if (service.since === undefined) {
    service.since = Date.now();
    report.status = 'queued';
    emit({ type: 'step-queued', step });
  }
  const details = (
    await Promise.all(
      replicas.map(r =>
        client.docker
          .getContainer(r.Id)
          .inspect()
          .catch(() => undefined)
      )
    )
  ).filter((d): d is Docker.ContainerInspectInfo => d !== undefined);
  if (report.status === 'queued' && details.some(d => d.State.Running)) {
    report.status = 'running';
    report.attempts = 1;
    emit({ type: 'step-running', step, attempt: 1 });
  }
  for (const d of details) {
    if (!d.State.Running || service.logs.has(d.Id)) continue;
    const stream = await followContainerLogs(
      client.docker.getContainer(d.Id),
      (stream, line) => emit({ type: 'step-log', step, stream, line }),
      Math.floor((Date.parse(d.State.StartedAt) || Date.now()) / 1000)
    );
    if (stream) service.logs.set(d.Id, stream);
  }
  const healthy = details.filter(
    d => d.State.Running && [undefined, 'healthy'].includes(d.State.Health?.Status)
  );
  if (healthy.length >= planned.replicas) {
    report.status = 'ready';
    emit({
      type: 'service-ready',
      step,
      url: planned.url,
      endpoints: loopbackEndpoints(details, planned.port)
    });
    return;
  }
  const restarts = details.reduce((sum, d) => sum + d.RestartCount, 0);
  // A container that exited shows as unhealthy too: only a running one failed its probes.
  const unhealthy = details.find(
    d =>
      d.State.Running &&
      d.State.Health?.Status === 'unhealthy' &&
      (d.State.Health.FailingStreak ?? 0) > 0
  );
  const late = Date.now() - service.since > readinessBudgetSeconds(planned) * 1000;
  const what =
    restarts >= FAILED_TASKS_LIMIT
      ? `had its containers restarted ${restarts} times (last exit code ${details.find(d => d.RestartCount > 0)?.State.ExitCode ?? '?'})`
      : unhealthy
        ? `did not pass its healthcheck (${lastProbe(unhealthy)})`
        : late
          ? `was not ready within ${readinessBudgetSeconds(planned)} s`
          : undefined;
  if (what === undefined) return;
  const worst = unhealthy ?? details.find(d => d.RestartCount > 0) ?? details[0];
  const lines = worst ? await containerTail(client.docker.getContainer(worst.Id)) : [];
  // Stopped through the API, a container is not restarted by its policy: no endless restarts.
  await Promise.all(
    details.map(d =>
      client.docker
        .getContainer(d.Id)
        .stop({ t: 2 })
        .catch(() => undefined)
    )
  );
  const error = new ServiceDeployError(planned, what, lines, serviceFix(planned));
  report.status = 'failed';
  report.error = error;
  emit({ type: 'step-failed', step, attempt: 1, error: error.message });
}

/** Where this machine reaches each replica: its port, published on 127.0.0.1. */
function loopbackEndpoints(details: Docker.ContainerInspectInfo[], port: number): string[] {
  return details.flatMap(d =>
    (d.NetworkSettings.Ports?.[`${port}/tcp`] ?? []).map(b => `http://${b.HostIp}:${b.HostPort}`)
  );
}

/** The last healthcheck's output (or exit code), for the failure message. */
function lastProbe(details: Docker.ContainerInspectInfo): string {
  const log = details.State.Health?.Log ?? [];
  const last = log[log.length - 1];
  if (!last) return 'no probe result';
  return last.Output.trim()
    ? last.Output.trim().split(/\r?\n/).pop()!
    : `exit code ${last.ExitCode}`;
}

async function observe(
  w: Watched,
  info: Docker.ContainerInfo,
  plan: DeploymentPlan,
  client: DockerClient,
  emit: (event: EventInit) => void
): Promise<void> {
  const step = w.report.id;
  const container = client.docker.getContainer(info.Id);
  // Compose may replace a container it had just created: the next poll sees the new one.
  const details = await container.inspect().catch(() => undefined);
  if (!details) return;
  const { State: state, RestartCount: restarts } = details;
  if (w.container === undefined) {
    w.report.status = 'queued';
    emit({ type: 'step-queued', step });
  }
  w.container = info.Id;
  if (state.Status === 'created') return;
  if (w.report.status === 'queued' || restarts > w.restarts) {
    if (restarts > w.restarts) {
      emit({
        type: 'step-retrying',
        step,
        attempt: w.report.attempts,
        delayMs: 0,
        error: new StepFailedError(step, state.ExitCode).message
      });
    }
    w.restarts = restarts;
    w.report.attempts++;
    w.report.status = 'running';
    w.startedAt = Date.parse(state.StartedAt) || Date.now();
    emit({ type: 'step-running', step, attempt: w.report.attempts });
    w.logs?.removeAllListeners();
    w.lastLine = undefined;
    w.logs = await followContainerLogs(
      container,
      (stream, line) => {
        if (line.trim()) w.lastLine = line;
        emit({ type: 'step-log', step, stream, line });
      },
      Math.floor((Date.parse(state.StartedAt) || Date.now()) / 1000)
    );
  }
  const timeout = plan.steps.find(s => s.id === step)?.spec.timeout;
  if (state.Running && timeout && Date.now() - w.startedAt! > timeout * 1000 && !w.timedOut) {
    w.timedOut = true;
    // A container stopped through the API is not restarted by its restart policy.
    await container.stop({ t: 2 }).catch(() => undefined);
    return;
  }
  if (state.Running || state.Restarting || state.Status !== 'exited') return;
  const retries = plan.steps.find(s => s.id === step)?.spec.retries ?? 0;
  // Exited with a failure while the engine will restart it: not the end yet.
  if (state.ExitCode !== 0 && !w.timedOut && restarts < retries) return;
  w.report.exitCode = state.ExitCode;
  w.report.durationMs = Math.max(0, Date.parse(state.FinishedAt) - Date.parse(state.StartedAt));
  if (state.ExitCode === 0 && !w.timedOut) {
    w.report.status = 'succeeded';
    emit({
      type: 'step-succeeded',
      step,
      attempt: w.report.attempts,
      durationMs: w.report.durationMs
    });
    return;
  }
  const error = w.timedOut
    ? new StepTimeoutError(step, timeout!)
    : state.OOMKilled
      ? new EngineError('was stopped: out of memory (raise resources.memory)', step)
      : new StepFailedError(step, state.ExitCode, w.lastLine);
  w.report.status = 'failed';
  w.report.error = error;
  emit({
    type: 'step-failed',
    step,
    attempt: w.report.attempts,
    error: error.message,
    exitCode: state.ExitCode
  });
}
