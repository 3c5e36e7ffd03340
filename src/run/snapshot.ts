/**
 * A run's state at one moment, folded from its events: what a live display draws (the notebook's
 * workflow view, a progress line). Pure: give it `run.history()` at any time.
 */
import type { RunEvent, StepRunStatus, WorkflowRunStatus } from './events';

export interface StepSnapshot {
  status: StepRunStatus;
  /** 1 for the first attempt. */
  attempt?: number;
  /** ISO timestamps of the current attempt. */
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** Why it failed, was skipped or is retrying; or the image it is built into. */
  message?: string;
  /** The last line it printed. */
  lastLine?: string;
  /** A ready service: where this machine reaches it (one URL per replica). */
  endpoints?: string[];
}

export interface RunSnapshot {
  runId?: string;
  workflow?: string;
  status: 'running' | WorkflowRunStatus;
  startedAt?: string;
  finishedAt?: string;
  /** By qualified step id, in definition order. */
  steps: Record<string, StepSnapshot>;
}

export function snapshot(events: Iterable<RunEvent>): RunSnapshot {
  const run: RunSnapshot = { status: 'running', steps: {} };
  const iso = (time: number): string => new Date(time).toISOString();
  for (const event of events) {
    if (event.type === 'run-started') {
      run.runId = event.runId;
      run.workflow = event.workflow;
      run.startedAt = iso(event.time);
      event.steps.forEach(id => (run.steps[id] = { status: 'pending' }));
      continue;
    }
    if (event.type === 'run-finished') {
      run.status = event.status;
      run.finishedAt = iso(event.time);
      continue;
    }
    if (event.type === 'notice' || event.type === 'tracker-started') {
      continue;
    }
    const step = (run.steps[event.step] ??= { status: 'pending' });
    switch (event.type) {
      case 'step-queued':
        step.status = 'queued';
        break;
      case 'step-building':
        step.status = 'building';
        step.message = `${event.cached ? 'cached image' : 'building'} ${event.image}`;
        break;
      case 'step-running':
        Object.assign(step, {
          status: 'running',
          attempt: event.attempt,
          startedAt: iso(event.time),
          finishedAt: undefined,
          durationMs: undefined,
          message: undefined
        });
        break;
      case 'step-log':
        step.lastLine = event.line;
        break;
      case 'step-retrying':
        step.status = 'retrying';
        step.message = event.error;
        break;
      case 'service-ready':
        step.status = 'ready';
        step.endpoints = event.endpoints;
        step.message = `reached at ${event.url} by the steps`;
        break;
      case 'service-stopped':
        step.status = 'stopped';
        step.finishedAt = iso(event.time);
        step.message = event.reason;
        break;
      case 'step-succeeded':
      case 'step-failed':
      case 'step-skipped':
      case 'step-cancelled':
        step.status = STATUS[event.type];
        step.finishedAt = iso(event.time);
        if (event.type === 'step-succeeded') {
          step.durationMs = event.durationMs;
        } else if (event.type === 'step-failed') {
          step.message = event.error;
        } else if (event.type === 'step-skipped') {
          step.message = event.reason;
        }
        break;
    }
  }
  return run;
}

const STATUS = {
  'step-succeeded': 'succeeded',
  'step-failed': 'failed',
  'step-skipped': 'skipped',
  'step-cancelled': 'cancelled'
} as const;
