/**
 * The life of a service in a run: started by its executor once the nodes it depends on are done,
 * ready once every replica passed its healthcheck (or at once, without one), then up until the run
 * stops it. A replica that exits on its own fails the service, and the run with it.
 *
 * HTTP healthchecks are probed from this machine on each replica's endpoint (127.0.0.1); command
 * healthchecks run where the replica runs (inside its container, or beside its process).
 */
import {
  HEALTHCHECK_DEFAULTS,
  type FlatStep,
  type HealthcheckSpec,
  type ServiceSpec
} from '../workflow';
import {
  EngineError,
  RunError,
  ServiceExitedError,
  ServiceUnhealthyError,
  StepConfigError
} from './errors';
import type { EventInit } from './events';
import type { Executor, RunningService, ServiceExit } from './executor';
import type { StepReport } from './scheduler';
import { sleep } from './sleep';

export interface ServiceRun {
  service: FlatStep<ServiceSpec>;
  /** The qualified name of the workflow it belongs to. */
  workflow: string;
  executor: Executor;
  command?: string[];
  /** Its environment, asked for just before it starts (the tracker's run id comes then). */
  env: () => Promise<Record<string, string>>;
  emit: (event: EventInit) => void;
  report: StepReport;
  /** The user stopped the run. */
  cancel: AbortSignal;
  /** The run is ending without the user (a failure elsewhere): stop the service too. */
  stop: AbortSignal;
  /** Called once the service is ready, so that its dependents may start. */
  onReady: () => void;
}

/** Runs one service from its start to its end, and records that end in `report`. */
export async function runService(run: ServiceRun): Promise<void> {
  const { service, executor, emit, report } = run;
  const stopping = follow([run.cancel, run.stop]);
  const stopped = stopping.signal;
  report.status = 'running';
  report.attempts = 1;
  emit({ type: 'step-running', step: service.id, attempt: 1 });
  const started = Date.now();

  let running: RunningService | undefined;
  try {
    if (!executor.startService || !executor.serviceUrl) {
      throw new StepConfigError(
        `the ${executor.kind} executor cannot run services`,
        service.id,
        'run the workflow with --executor docker or local'
      );
    }
    running = await executor.startService({
      service,
      workflow: run.workflow,
      command: run.command,
      env: await run.env(),
      log: (stream, line) => emit({ type: 'step-log', step: service.id, stream, line })
    });
    const readiness = await untilReady(running, service, stopped);
    if (readiness.exited) {
      throw exitedError(service.id, readiness.exited);
    }
    if (!stopped.aborted) {
      report.status = 'ready';
      emit({
        type: 'service-ready',
        step: service.id,
        url: executor.serviceUrl(service),
        endpoints: running.endpoints
      });
      run.onReady();
      const exited = await Promise.race([running.exited, aborted(stopped)]);
      if (exited) {
        throw exitedError(service.id, exited);
      }
    }
  } catch (thrown) {
    report.status = 'failed';
    report.error =
      thrown instanceof RunError
        ? thrown
        : new EngineError((thrown as Error).message ?? String(thrown), service.id);
    report.exitCode = thrown instanceof ServiceExitedError ? thrown.exitCode : undefined;
  } finally {
    stopping.dispose();
    await running?.stop();
    report.durationMs = Date.now() - started;
  }

  if (report.status === 'failed') {
    emit({
      type: 'step-failed',
      step: service.id,
      attempt: 1,
      error: report.error!.message,
      exitCode: report.exitCode
    });
  } else if (report.status === 'ready' || !run.cancel.aborted) {
    // A ready service that the run stopped did its job; so did one the run no longer needed.
    report.status = 'stopped';
    emit({
      type: 'service-stopped',
      step: service.id,
      reason: run.cancel.aborted
        ? 'the run was stopped: the service was stopped and removed'
        : 'the run ended after a failure: the service was stopped and removed'
    });
  } else {
    report.status = 'cancelled';
    emit({ type: 'step-cancelled', step: service.id });
  }
}

/** How waiting for readiness ended: ready (or stopped meanwhile), or a replica exited. */
interface Readiness {
  exited?: ServiceExit;
}

/**
 * Resolves once every replica passed its healthcheck (at once without one), when `stopped`
 * aborts, or when a replica exits; rejects with ServiceUnhealthyError when a replica failed more
 * probes in a row than the healthcheck's retries allow.
 */
async function untilReady(
  running: RunningService,
  service: FlatStep<ServiceSpec>,
  stopped: AbortSignal
): Promise<Readiness> {
  const healthcheck = service.spec.healthcheck;
  if (!healthcheck) {
    return {};
  }
  const probing = follow([stopped]);
  const done = probing.signal;
  try {
    const healthy = Promise.all(
      running.endpoints.map((endpoint, replica) =>
        probeUntilHealthy(running, replica, endpoint, service, healthcheck, done)
      )
    ).then((): Readiness => ({}));
    const exited = running.exited.then((outcome): Readiness => ({ exited: outcome }));
    return await Promise.race([healthy, exited, aborted(stopped).then((): Readiness => ({}))]);
  } finally {
    probing.abort();
    probing.dispose();
  }
}

async function probeUntilHealthy(
  running: RunningService,
  replica: number,
  endpoint: string,
  service: FlatStep<ServiceSpec>,
  healthcheck: HealthcheckSpec,
  stopped: AbortSignal
): Promise<void> {
  const { interval, timeout, retries, startPeriod } = { ...HEALTHCHECK_DEFAULTS, ...healthcheck };
  const started = Date.now();
  let failures = 0;
  let lastFailure = '';
  while (!stopped.aborted) {
    const probe = follow([stopped]);
    const timer = setTimeout(() => probe.abort(), timeout * 1000);
    try {
      lastFailure = await probeOnce(running, replica, endpoint, healthcheck, probe.signal);
    } finally {
      clearTimeout(timer);
      probe.dispose();
    }
    if (lastFailure === '') {
      return;
    }
    // Failures while the service starts up (its start period) do not count.
    if (Date.now() - started >= startPeriod * 1000 && ++failures > retries) {
      const what = healthcheck.path
        ? `GET ${endpoint}${healthcheck.path}`
        : healthcheck.command!.join(' ');
      const where = running.endpoints.length > 1 ? ` (replica ${replica + 1})` : '';
      throw new ServiceUnhealthyError(
        service.id,
        `${what}${where} failed ${failures} times in a row, last: ${lastFailure}`,
        service.spec.port
      );
    }
    await sleep(interval * 1000, stopped);
  }
}

/** One probe: '' when healthy, else why not. */
async function probeOnce(
  running: RunningService,
  replica: number,
  endpoint: string,
  healthcheck: HealthcheckSpec,
  signal: AbortSignal
): Promise<string> {
  try {
    if (healthcheck.path !== undefined) {
      const response = await fetch(`${endpoint}${healthcheck.path}`, {
        signal,
        redirect: 'manual'
      });
      await response.body?.cancel();
      return response.status >= 200 && response.status < 400 ? '' : `HTTP ${response.status}`;
    }
    const code = await running.probe(replica, healthcheck.command!, signal);
    return code === 0 ? '' : `exit code ${code}`;
  } catch (error) {
    if (signal.aborted) {
      return 'no answer within its timeout';
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
  }
}

function exitedError(service: string, exit: ServiceExit): RunError {
  return exit.error ?? new ServiceExitedError(service, exit.exitCode, exit.lastLine);
}

/**
 * A signal that aborts with any of `signals` (or `abort()`). Not AbortSignal.any: on Node 20 a
 * signal it makes from AbortSignal.timeout can be garbage-collected before it fires, which left a
 * probe waiting forever on a connection the engine's port proxy had accepted.
 */
function follow(signals: AbortSignal[]): {
  signal: AbortSignal;
  abort(): void;
  dispose(): void;
} {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  for (const signal of signals) {
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  }
  return {
    signal: controller.signal,
    abort,
    dispose: () => signals.forEach(signal => signal.removeEventListener('abort', abort))
  };
}

/** Resolves (with undefined) when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise(resolve => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}
