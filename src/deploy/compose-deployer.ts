/**
 * `scanflow deploy --to compose`: `docker-compose up` of the exported file does the work (its
 * `depends_on` orders the steps, the engine's restart policy retries them); scanflow follows the
 * step containers through the engine's API and reports them as the events of `scanflow run`, and
 * stops a step at its timeout (compose has none). Steps compose never created are skipped.
 */
import type Docker from 'dockerode';
import type { DockerClient } from '../run/docker/client';
import {
  StepFailedError,
  StepTimeoutError,
  DependencyFailedError,
  EngineError
} from '../run/errors';
import type { EventInit } from '../run/events';
import type { StepReport } from '../run/scheduler';
import { followContainerLogs } from './container-logs';
import { lastLines, runCompose } from './docker-cli';
import { DeployError } from './errors';
import { DEPLOY_LABEL, TOKEN_VARIABLE, TRACKER_PORT, type DeploymentPlan } from './plan';

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
    for (const info of containers) {
      const w = watched.get(info.Labels[DEPLOY_LABEL.step]);
      if (!w || ended(w)) continue;
      await observe(w, info, plan, client, emit);
    }
    if (composeDone && [...watched.values()].every(w => ended(w) || w.container === undefined)) {
      break;
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS));
  }
  await up;
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
  return new Map([...watched].map(([id, w]) => [id, w.report]));
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
