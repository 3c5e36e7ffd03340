/**
 * Run events: what a run reports while it goes, as one typed stream. The CLI draws them as a live
 * progress display; the notebook bridge renders them in a cell.
 */

export type ExecutorKind = 'docker' | 'local';

/** What ran a workflow: an executor of `scanflow run`, or a deployment target. */
export type EngineKind = ExecutorKind | 'compose' | 'swarm' | 'k8s';

/**
 * Where a step is in its life. A service is `running` from its start until its healthcheck
 * passes, then `ready` (its dependents may start) until the run stops it: `stopped`, the end of a
 * service that did its job. A service whose container exits on its own has `failed`.
 */
export type StepRunStatus =
  | 'pending'
  | 'queued'
  | 'building'
  | 'running'
  | 'ready'
  | 'retrying'
  | 'succeeded'
  | 'stopped'
  | 'failed'
  | 'skipped'
  | 'cancelled';

export type WorkflowRunStatus = 'succeeded' | 'failed' | 'cancelled';

interface EventBase {
  runId: string;
  /** Milliseconds since the epoch. */
  time: number;
}

export interface RunStartedEvent extends EventBase {
  type: 'run-started';
  workflow: string;
  executor: EngineKind;
  /** Qualified ids of every step, in definition order. */
  steps: string[];
}

/** A line for the person watching, e.g. that the local executor is used because Docker is absent. */
export interface NoticeEvent extends EventBase {
  type: 'notice';
  message: string;
}

/** An embedded tracker of the run listens: where the steps log, and where the data stays. */
export interface TrackerStartedEvent extends EventBase {
  type: 'tracker-started';
  /** The workflow it serves: the root's name (the run's tracker) or a qualified id. */
  workflow: string;
  url: string;
  /** The SQLite store (an absolute path); artifacts are in `<store>.artifacts`. */
  store: string;
}

export interface StepQueuedEvent extends EventBase {
  type: 'step-queued';
  step: string;
}

export interface StepBuildingEvent extends EventBase {
  type: 'step-building';
  step: string;
  image: string;
  /** True when an image built earlier from the same context was reused. */
  cached: boolean;
}

export interface StepRunningEvent extends EventBase {
  type: 'step-running';
  step: string;
  /** 1 for the first attempt. */
  attempt: number;
}

export interface StepLogEvent extends EventBase {
  type: 'step-log';
  step: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface StepRetryingEvent extends EventBase {
  type: 'step-retrying';
  step: string;
  /** The attempt that failed. */
  attempt: number;
  delayMs: number;
  error: string;
}

export interface StepSucceededEvent extends EventBase {
  type: 'step-succeeded';
  step: string;
  attempt: number;
  durationMs: number;
}

export interface StepFailedEvent extends EventBase {
  type: 'step-failed';
  step: string;
  attempt: number;
  error: string;
  exitCode?: number;
}

export interface StepSkippedEvent extends EventBase {
  type: 'step-skipped';
  step: string;
  reason: string;
}

export interface StepCancelledEvent extends EventBase {
  type: 'step-cancelled';
  step: string;
}

/** A service passed its healthcheck (or started, without one): its dependents may start. */
export interface ServiceReadyEvent extends EventBase {
  type: 'service-ready';
  step: string;
  /** Where the steps reach it (their SCANFLOW_SERVICE_<NAME>_URL). */
  url: string;
  /** Where this machine reaches it: one URL per replica, on 127.0.0.1. */
  endpoints: string[];
}

/** A service was stopped and removed by the run: the user stopped the run, or the run ended. */
export interface ServiceStoppedEvent extends EventBase {
  type: 'service-stopped';
  step: string;
  reason: string;
}

export interface RunFinishedEvent extends EventBase {
  type: 'run-finished';
  status: WorkflowRunStatus;
  durationMs: number;
  /** The first failure, as one line. */
  error?: string;
}

export type RunEvent =
  | RunStartedEvent
  | NoticeEvent
  | TrackerStartedEvent
  | StepQueuedEvent
  | StepBuildingEvent
  | StepRunningEvent
  | StepLogEvent
  | StepRetryingEvent
  | StepSucceededEvent
  | StepFailedEvent
  | StepSkippedEvent
  | StepCancelledEvent
  | ServiceReadyEvent
  | ServiceStoppedEvent
  | RunFinishedEvent;

/** An event before the run id and time are stamped on it. */
export type EventInit = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, 'runId' | 'time'>
    : never
  : never;

/** Log lines kept in a run's history; later ones still reach listeners (`on`). */
export const HISTORY_LOG_LINES = 100_000;

/**
 * The event log of one run: keeps every event (and the first HISTORY_LOG_LINES log lines), so
 * that a listener or iterator that arrives late still sees the whole run, and ends after
 * `run-finished`.
 */
export class EventLog implements AsyncIterable<RunEvent> {
  private readonly events: RunEvent[] = [];
  private readonly listeners = new Set<(event: RunEvent) => void>();
  private wake: Array<() => void> = [];
  private closed = false;
  private logLines = 0;

  constructor(
    private readonly runId: string,
    private readonly maxLogLines = HISTORY_LOG_LINES
  ) {}

  emit(init: EventInit): RunEvent {
    const event = { ...init, runId: this.runId, time: Date.now() } as RunEvent;
    // A step that prints without end must not fill the memory: past the cap, its lines go only
    // to listeners.
    if (event.type !== 'step-log' || ++this.logLines <= this.maxLogLines) {
      this.events.push(event);
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener must not stop the run.
      }
    }
    if (event.type === 'run-finished') {
      this.closed = true;
    }
    this.wake.splice(0).forEach(resolve => resolve());
    return event;
  }

  /** Calls `listener` for every event from now on; returns a function that unsubscribes. */
  on(listener: (event: RunEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every event so far. */
  history(): readonly RunEvent[] {
    return this.events;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RunEvent> {
    let next = 0;
    for (;;) {
      while (next < this.events.length) {
        yield this.events[next++];
      }
      if (this.closed) {
        return;
      }
      await new Promise<void>(resolve => this.wake.push(resolve));
    }
  }
}
