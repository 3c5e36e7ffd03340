/**
 * `runWorkflow`: the one call that runs a workflow, from a notebook cell or the CLI.
 *
 *   const run = runWorkflow(hello, { executor: 'docker' });
 *   for await (const event of run) console.log(event.type, 'step' in event ? event.step : '');
 *   const result = await run.done;        // or: run.cancel()
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import { flatten, servicesOf, serviceUrlVariable, type WorkflowSpec } from '../workflow';
import { DockerExecutor, type DockerExecutorOptions } from './docker/executor';
import { CleanupError, EngineError, RunError, StepConfigError } from './errors';
import {
  EventLog,
  type EngineKind,
  type ExecutorKind,
  type RunEvent,
  type WorkflowRunStatus
} from './events';
import type { Executor, RunPlan } from './executor';
import { LocalExecutor, type LocalExecutorOptions } from './local-executor';
import { schedule, type StepReport } from './scheduler';
import { cancelOnSignals } from './signals';
import { RunTracking, type EmbeddedTrackerInfo } from './tracking';

export interface RunOptions {
  /**
   * Where steps run: 'docker', 'local' (child processes), an Executor of your own, or 'auto'
   * (the default): Docker when its engine answers, else local processes, with a notice.
   */
  executor?: ExecutorKind | 'auto' | Executor;
  /**
   * An external tracking server for the run, passed to steps as MLFLOW_TRACKING_URI and
   * SCANFLOW_TRACKER_URI (without it, the run starts an embedded one: see `tracking`). A workflow
   * with a tracker of its own (`tracker.url`, an entry in `trackers`, or `scope: 'workflow'`)
   * overrides it for its steps.
   */
  tracker?: string;
  /** Tracking servers of single workflows, by qualified id, e.g. { 'hello.train': 'http://...' }. */
  trackers?: Record<string, string>;
  /**
   * Without an external `tracker`, the run starts an embedded one (and one more for each workflow
   * whose definition says `tracker: { scope: 'workflow' }`), records itself there and stops it at
   * the end; false turns that off. Default true.
   */
  tracking?: boolean;
  /**
   * The embedded tracker's SQLite store, relative to `baseDir` (default `.scanflow/tracking.db`;
   * artifacts in `<store>.artifacts`, per-workflow stores in `trackers/<qualified id>.db` next to it).
   */
  store?: string;
  /** After a failure, still run every step that does not depend on it. */
  keepGoing?: boolean;
  /** How many steps run at the same time; by default the number of cores. */
  concurrency?: number;
  /** Delay before the first retry of a step, doubled for each further one (default 1000). */
  retryDelayMs?: number;
  /** The folder relative paths in the definition are resolved against (default: the cwd). */
  baseDir?: string;
  /** The run's id (default: a fresh one from the date and random digits). */
  runId?: string;
  /** Keep the outputs (volume or folder); by default when a step that declares outputs succeeded. */
  keepOutputs?: boolean;
  /**
   * Cancel the run on SIGINT/SIGTERM (Ctrl-C), and in a tslab kernel on an interrupt (the
   * notebook's stop button), which also prints what became of the run; default true.
   */
  handleSignals?: boolean;
  docker?: DockerExecutorOptions;
  local?: LocalExecutorOptions;
}

/** How a run ended. */
export interface RunResult {
  id: string;
  workflow: string;
  status: WorkflowRunStatus;
  executor: EngineKind;
  steps: StepReport[];
  durationMs: number;
  /** Where the outputs are kept (a Docker volume or a folder), when they are. */
  outputs?: string;
  /** The first failure. */
  error?: RunError;
  /** The embedded trackers the run recorded itself in (stopped by now). */
  trackers?: EmbeddedTrackerInfo[];
}

/** A run in progress: its events (as a stream, a listener, or the history) and its end. */
export interface WorkflowRun extends AsyncIterable<RunEvent> {
  readonly id: string;
  /** Resolves when the run has ended and everything it created is removed; never rejects. */
  readonly done: Promise<RunResult>;
  /** Calls `listener` for every further event; returns a function that unsubscribes. */
  on(listener: (event: RunEvent) => void): () => void;
  /** Every event so far. */
  history(): readonly RunEvent[];
  /**
   * Stops every step and service, removes the run's containers, and resolves with the result.
   * This is also how a run with services ends well: once its steps have succeeded, its services
   * run until this is called (or Ctrl-C), and the run then counts as succeeded.
   */
  cancel(): Promise<RunResult>;
}

/**
 * Starts a run of `spec`. Throws a DefinitionError at once when the definition is not valid (or
 * a step reads an input that no step it waits for writes);
 * everything else (a missing image, a failing step) is reported by the run's events and result.
 */
export function runWorkflow(spec: WorkflowSpec, options: RunOptions = {}): WorkflowRun {
  const graph = flatten(spec);
  const id = options.runId ?? newRunId();
  const log = new EventLog(id);
  const cancel = new AbortController();
  // Every running step listens for the cancel; more than ten at once is not a leak.
  setMaxListeners(0, cancel.signal);

  const plan: RunPlan = {
    runId: id,
    spec,
    graph,
    baseDir: options.baseDir ?? process.cwd(),
    keepOutputs: options.keepOutputs
  };
  const done = execute(plan, options, log, cancel.signal);
  if (options.handleSignals ?? true) {
    cancelOnSignals({ id, cancel: () => cancel.abort(), done });
  }

  return {
    id,
    done,
    on: listener => log.on(listener),
    history: () => log.history(),
    cancel: () => {
      cancel.abort();
      return done;
    },
    [Symbol.asyncIterator]: () => log[Symbol.asyncIterator]()
  };
}

async function execute(
  plan: RunPlan,
  options: RunOptions,
  log: EventLog,
  cancel: AbortSignal
): Promise<RunResult> {
  const started = Date.now();
  const emit = log.emit.bind(log);
  const steps = plan.graph.steps.map(s => s.id);
  const executor = await chooseExecutor(options, notice =>
    emit({ type: 'notice', message: notice })
  );
  emit({
    type: 'run-started',
    workflow: plan.spec.name,
    executor: executor.kind,
    steps
  });

  const result: RunResult = {
    id: plan.runId,
    workflow: plan.spec.name,
    status: 'failed',
    executor: executor.kind,
    steps: [],
    durationMs: 0
  };
  let reports = new Map<string, StepReport>();
  let tracking: RunTracking | undefined;
  let trackingTried = false;
  try {
    const services = servicesOf(plan.graph);
    if (services.length > 0 && (!executor.startService || !executor.serviceUrl)) {
      throw new StepConfigError(
        `the ${executor.kind} executor cannot run services`,
        services[0].id,
        'run the workflow with --executor docker or local'
      );
    }
    await executor.prepare(plan, emit, cancel);
    if (cancel.aborted) {
      result.status = 'cancelled';
    } else {
      await executor.open();
      trackingTried = true;
      tracking = await startTracking(plan, options, executor, log);
      reports = await schedule(
        plan.graph,
        executor,
        {
          concurrency: options.concurrency ?? Math.max(1, availableParallelism()),
          keepGoing: options.keepGoing ?? false,
          retryDelayMs: options.retryDelayMs ?? 1000,
          environment: {
            ...(tracking?.environment ?? {
              runId: plan.runId,
              tracker: options.tracker,
              trackers: options.trackers
            }),
            services: Object.fromEntries(
              services.map(s => [serviceUrlVariable(s.spec.name), executor.serviceUrl!(s)])
            )
          },
          stepEnv: tracking ? step => tracking!.stepEnv(step) : undefined
        },
        emit,
        cancel
      );
      Object.assign(result, outcome(reports, cancel.aborted));
    }
  } catch (error) {
    result.status = cancel.aborted ? 'cancelled' : 'failed';
    result.error =
      error instanceof RunError
        ? error
        : new EngineError((error as Error).message ?? String(error));
    if (result.error.step) {
      reports.set(result.error.step, {
        id: result.error.step,
        status: 'failed',
        attempts: 0,
        error: result.error
      });
      emit({
        type: 'step-failed',
        step: result.error.step,
        attempt: 0,
        error: result.error.message
      });
    }
  }

  // A run that ended before its steps (a failure while preparing, a cancel) is recorded too,
  // straight into the stores: no step needs to reach a server any more.
  if (!trackingTried) {
    tracking = await startTracking(plan, options, executor, log, false);
  }

  const withOutputs = new Set(plan.graph.steps.filter(s => s.spec.outputs?.length).map(s => s.id));
  const keepOutputs =
    options.keepOutputs ??
    [...reports.values()].some(r => r.status === 'succeeded' && withOutputs.has(r.id));
  try {
    await executor.close(keepOutputs);
  } catch (error) {
    result.error ??= new CleanupError(plan.runId, (error as Error).message ?? String(error));
  }
  result.outputs = keepOutputs ? executor.outputs : undefined;
  result.steps = steps.map(id => {
    const report = reports.get(id);
    if (report) {
      return report;
    }
    // The run ended before the steps were scheduled (a cancel, or a failure while preparing).
    if (result.status === 'cancelled') {
      emit({ type: 'step-cancelled', step: id });
      return { id, status: 'cancelled', attempts: 0 };
    }
    const reason = `the run did not start: ${result.error?.message ?? 'it failed'}`;
    emit({ type: 'step-skipped', step: id, reason });
    return { id, status: 'skipped', attempts: 0, reason };
  });
  result.durationMs = Date.now() - started;
  if (tracking) {
    result.trackers = tracking.trackers;
    // Everything recorded and the servers stopped before the run is reported as finished.
    tracking.observe({
      type: 'run-finished',
      runId: plan.runId,
      time: Date.now(),
      status: result.status,
      durationMs: result.durationMs,
      error: result.error?.message
    });
    for (const problem of await tracking.close()) {
      emit({ type: 'notice', message: problem });
    }
  }
  emit({
    type: 'run-finished',
    status: result.status,
    durationMs: result.durationMs,
    error: result.error?.message
  });
  return result;
}

/**
 * Starts the run's embedded trackers where its steps reach them, and records the run from its
 * first event on; undefined when the run is not tracked here (tracking off, or external trackers
 * only). A tracker that cannot start is a notice: the run goes on without it.
 */
async function startTracking(
  plan: RunPlan,
  options: RunOptions,
  executor: Executor,
  log: EventLog,
  /** false: record into the stores only, with no server (no step will run). */
  serve = true
): Promise<RunTracking | undefined> {
  if (options.tracking === false) {
    return undefined;
  }
  let tracking: RunTracking;
  try {
    tracking = await RunTracking.start(plan, {
      tracker: options.tracker,
      trackers: options.trackers,
      store: options.store,
      host: serve ? ((await executor.trackerHost?.()) ?? '127.0.0.1') : undefined,
      executor: executor.kind
    });
  } catch (error) {
    log.emit({
      type: 'notice',
      message: `the run is not tracked: its tracker did not start (${(error as Error).message ?? String(error)})`
    });
    return undefined;
  }
  tracking.notices.forEach(message => log.emit({ type: 'notice', message }));
  if (tracking.isEmpty) {
    await tracking.close();
    return undefined;
  }
  // What happened before the trackers started (image builds), then everything that follows,
  // except the end, which is recorded before the run reports it.
  log.history().forEach(event => tracking.observe(event));
  log.on(event => {
    if (event.type !== 'run-finished') tracking.observe(event);
  });
  tracking.started().forEach(event => log.emit(event));
  return tracking;
}

async function chooseExecutor(
  options: RunOptions,
  notice: (message: string) => void
): Promise<Executor> {
  const choice = options.executor ?? 'auto';
  if (typeof choice === 'object') {
    return choice;
  }
  if (choice === 'local') {
    return new LocalExecutor(options.local);
  }
  const docker = new DockerExecutor(options.docker);
  if (choice === 'auto') {
    try {
      await docker.client.ping(2000);
    } catch {
      notice(
        `no Docker engine answers at ${docker.client.where}: running the steps as local processes`
      );
      return new LocalExecutor(options.local);
    }
  }
  return docker;
}

/**
 * How a run ended, from its steps' reports: its status and its first failure. A run whose steps
 * all succeeded and whose services the user then stopped has succeeded: that is how such a run
 * ends.
 */
export function outcome(
  reports: Map<string, StepReport>,
  cancelled: boolean
): Pick<RunResult, 'status' | 'error'> {
  const all = [...reports.values()];
  const completed = all.every(r => r.status === 'succeeded' || r.status === 'stopped');
  const servicesStopped = all.some(r => r.status === 'stopped');
  return {
    status:
      completed && (!cancelled || servicesStopped)
        ? 'succeeded'
        : cancelled
          ? 'cancelled'
          : 'failed',
    error: all.find(r => r.error)?.error
  };
}

/** A run id: the UTC date and time and four random hex digits, e.g. 20261129-140512-a1b2. */
export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}
