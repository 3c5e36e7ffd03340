/**
 * The scheduler: starts steps in dependency order with bounded parallelism, retries with backoff,
 * stops steps at their timeout, skips the dependents of a failure and stops on cancel. It knows
 * nothing of containers or processes: that is the executor's job.
 *
 * Services (services.ts) start like steps, but take none of the `concurrency` slots (a service
 * holds its slot until the end of the run); their dependents start once they are ready. Once no
 * step is left to run, a run without failures waits for the cancel, services up; a run with a
 * failure stops its services and ends.
 */
import { isService, type FlatGraph, type FlatStep } from '../workflow';
import { EngineError, RunError, StepFailedError, StepTimeoutError } from './errors';
import type { EventInit, StepRunStatus } from './events';
import type { Executor } from './executor';
import { runService } from './services';
import { sleep } from './sleep';
import {
  enclosingWorkflow,
  parameterArguments,
  stepEnvironment,
  type StepEnvironment
} from './step-env';

export interface SchedulerOptions {
  /** How many steps run at the same time. */
  concurrency: number;
  /** After a failure, still run every step that does not depend on it. */
  keepGoing: boolean;
  /** Delay before the first retry; it doubles for each further one. */
  retryDelayMs: number;
  environment: StepEnvironment;
  /** Further variables for a step, asked for before each attempt (e.g. its MLflow run id). */
  stepEnv?: (step: FlatStep) => Promise<Record<string, string>>;
}

/** How one step ended. */
export interface StepReport {
  id: string;
  status: StepRunStatus;
  /** Attempts started (0 when the step never ran). */
  attempts: number;
  exitCode?: number;
  /** Duration of the last attempt. */
  durationMs?: number;
  error?: RunError;
  /** Why the step did not run. */
  reason?: string;
}

/** Runs the graph's steps on the executor; resolves when nothing runs any more. */
export async function schedule(
  graph: FlatGraph,
  executor: Executor,
  options: SchedulerOptions,
  emit: (event: EventInit) => void,
  cancel: AbortSignal
): Promise<Map<string, StepReport>> {
  const reports = new Map<string, StepReport>(
    graph.steps.map(s => [s.id, { id: s.id, status: 'pending', attempts: 0 }])
  );
  const dependents = new Map<string, string[]>(graph.steps.map(s => [s.id, []]));
  graph.steps.forEach(s => s.needs.forEach(before => dependents.get(before)?.push(s.id)));

  const ready: FlatStep[] = [];
  const running = new Set<Promise<void>>();
  let runningSteps = 0;
  let stopReason: string | undefined;
  /** Aborted when the run ends with a failure: its services are stopped too. */
  const stopServices = new AbortController();
  /** Resolved when a service becomes ready, which may let its dependents start. */
  let wake = (): void => {};
  let serviceReady = new Promise<void>(resolve => (wake = resolve));
  let announced = false;

  const markReady = (): void => {
    for (const step of graph.steps) {
      const report = reports.get(step.id)!;
      if (
        report.status === 'pending' &&
        step.needs.every(id => ['succeeded', 'ready'].includes(reports.get(id)!.status))
      ) {
        report.status = 'queued';
        ready.push(step);
        emit({ type: 'step-queued', step: step.id });
      }
    }
  };

  const skipDependents = (failed: string): void => {
    const pending = [...(dependents.get(failed) ?? [])];
    while (pending.length > 0) {
      const id = pending.shift()!;
      const report = reports.get(id)!;
      if (report.status === 'pending') {
        report.status = 'skipped';
        report.reason = `it depends on ${failed}, which failed`;
        emit({ type: 'step-skipped', step: id, reason: report.reason });
        pending.push(...(dependents.get(id) ?? []));
      }
    }
  };

  /** Whether a step (not a service) runs, or may still start. */
  const stepsLeft = (): boolean =>
    graph.steps.some(step => {
      const status = reports.get(step.id)!.status;
      return (
        !isService(step) &&
        (['running', 'retrying', 'building'].includes(status) ||
          (!stopReason && (status === 'pending' || status === 'queued')))
      );
    });

  const start = (step: FlatStep): void => {
    const report = reports.get(step.id)!;
    let work: Promise<void>;
    if (isService(step)) {
      const workflow = enclosingWorkflow(graph, step);
      work = runService({
        service: step,
        workflow,
        executor,
        command: commandOf(step),
        env: async () => ({
          ...stepEnvironment(options.environment, graph, step, workflow, 1),
          ...(await stepExtras(step, options, emit))
        }),
        emit,
        report,
        cancel,
        stop: stopServices.signal,
        onReady: () => wake()
      });
    } else {
      runningSteps++;
      work = runStep(step, graph, executor, options, emit, cancel, report).finally(
        () => runningSteps--
      );
    }
    const task = work.then(() => {
      running.delete(task);
      if (report.status === 'failed') {
        skipDependents(step.id);
        if (!options.keepGoing && !stopReason) {
          stopReason = `the run stopped after ${step.id} failed (--keep-going would run it)`;
        }
      }
    });
    running.add(task);
  };

  markReady();
  for (;;) {
    if (cancel.aborted) {
      stopReason ??= 'the run was cancelled';
    }
    for (let i = 0; !stopReason && i < ready.length;) {
      if (isService(ready[i]) || runningSteps < options.concurrency) {
        start(ready.splice(i, 1)[0]);
      } else {
        i++;
      }
    }
    if (!stepsLeft()) {
      if ([...reports.values()].some(r => r.status === 'failed')) {
        stopServices.abort();
      } else if (!announced && running.size > 0) {
        announced = true;
        const services = graph.steps.filter(isService).map(s => s.id);
        emit({
          type: 'notice',
          message:
            `no step is left to run; the services ${services.join(', ')} keep running until ` +
            'the run is stopped (Ctrl-C, or run.cancel() in code)'
        });
      }
    }
    if (running.size === 0) {
      break;
    }
    await Promise.race([...running, serviceReady]);
    serviceReady = new Promise<void>(resolve => (wake = resolve));
    if (!stopReason) {
      markReady();
    }
  }

  for (const report of reports.values()) {
    if (report.status === 'pending' || report.status === 'queued') {
      if (cancel.aborted) {
        report.status = 'cancelled';
        emit({ type: 'step-cancelled', step: report.id });
      } else {
        report.status = 'skipped';
        report.reason = stopReason ?? 'it was never ready';
        emit({ type: 'step-skipped', step: report.id, reason: report.reason });
      }
    }
  }
  return reports;
}

/** Runs the attempts of one step and records the outcome in `report`. */
async function runStep(
  step: FlatStep,
  graph: FlatGraph,
  executor: Executor,
  options: SchedulerOptions,
  emit: (event: EventInit) => void,
  cancel: AbortSignal,
  report: StepReport
): Promise<void> {
  const workflow = enclosingWorkflow(graph, step);
  const retries = step.spec.retries ?? 0;
  const timeout = step.spec.timeout;
  const command = commandOf(step);

  for (let attempt = 1; ; attempt++) {
    report.status = 'running';
    report.attempts = attempt;
    emit({ type: 'step-running', step: step.id, attempt });
    const started = Date.now();
    const stop = new AbortController();
    const onCancel = (): void => stop.abort();
    cancel.addEventListener('abort', onCancel);
    if (cancel.aborted) {
      stop.abort();
    }
    let timedOut = false;
    const timer =
      timeout === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop.abort();
          }, timeout * 1000);

    let error: RunError | undefined;
    try {
      const extra = await stepExtras(step, options, emit);
      const outcome = await executor.runStep({
        step,
        workflow,
        attempt,
        command,
        env: { ...stepEnvironment(options.environment, graph, step, workflow, attempt), ...extra },
        signal: stop.signal,
        log: (stream, line) => emit({ type: 'step-log', step: step.id, stream, line })
      });
      report.exitCode = outcome.exitCode;
      if (timedOut) {
        error = new StepTimeoutError(step.id, timeout!);
      } else if (outcome.exitCode !== 0) {
        error = new StepFailedError(step.id, outcome.exitCode, outcome.lastLine);
      }
    } catch (thrown) {
      error =
        thrown instanceof RunError
          ? thrown
          : new EngineError((thrown as Error).message ?? String(thrown), step.id);
    } finally {
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    }
    report.durationMs = Date.now() - started;

    if (cancel.aborted) {
      report.status = 'cancelled';
      emit({ type: 'step-cancelled', step: step.id });
      return;
    }
    if (!error) {
      report.status = 'succeeded';
      emit({ type: 'step-succeeded', step: step.id, attempt, durationMs: report.durationMs });
      return;
    }
    if (error.retryable && attempt <= retries) {
      const delayMs = options.retryDelayMs * 2 ** (attempt - 1);
      report.status = 'retrying';
      emit({ type: 'step-retrying', step: step.id, attempt, delayMs, error: error.message });
      await sleep(delayMs, cancel);
      if (cancel.aborted) {
        report.status = 'cancelled';
        emit({ type: 'step-cancelled', step: step.id });
        return;
      }
      continue;
    }
    report.status = 'failed';
    report.error = error;
    emit({
      type: 'step-failed',
      step: step.id,
      attempt,
      error: error.message,
      exitCode: report.exitCode
    });
    return;
  }
}

/** The argv of a step or service: its command and its parameters; undefined: the image's own. */
function commandOf(step: FlatStep): string[] | undefined {
  return step.spec.command
    ? [...step.spec.command, ...parameterArguments(step.spec.parameters)]
    : undefined;
}

/** The step's further variables; a failure to get them is a notice, not a failed step. */
async function stepExtras(
  step: FlatStep,
  options: SchedulerOptions,
  emit: (event: EventInit) => void
): Promise<Record<string, string>> {
  if (!options.stepEnv) {
    return {};
  }
  try {
    return await options.stepEnv(step);
  } catch (error) {
    emit({
      type: 'notice',
      message: `${step.id} runs without its tracker run: ${(error as Error).message ?? String(error)}`
    });
    return {};
  }
}
