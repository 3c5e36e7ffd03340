/**
 * The interface every executor implements (Docker containers, local processes), in the manner of
 * MLflow's stores: the scheduler only talks to this.
 */
import type { FlatGraph, FlatStep, ServiceSpec, WorkflowSpec } from '../workflow';
import type { RunError } from './errors';
import type { EventInit, ExecutorKind } from './events';

/** What an executor needs to know about the run. */
export interface RunPlan {
  runId: string;
  spec: WorkflowSpec;
  graph: FlatGraph;
  /** The folder relative paths of the definition (dockerfile, context) are resolved against. */
  baseDir: string;
  /** RunOptions.keepOutputs: true keeps the outputs, false never does, undefined decides at the end. */
  keepOutputs?: boolean;
}

/** One attempt of one step. */
export interface StepRequest {
  step: FlatStep;
  /** The qualified name of the workflow the step belongs to (its nearest enclosing workflow). */
  workflow: string;
  attempt: number;
  /** The argv to run; undefined means the image's own command (Docker only). */
  command?: string[];
  /** Environment from the run (SCANFLOW_*, tracker, parameters, the step's env). */
  env: Record<string, string>;
  /** Aborted on timeout or cancel: the executor stops the step and returns its exit code. */
  signal: AbortSignal;
  log: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface AttemptOutcome {
  exitCode: number;
  /** The last line the step printed, for the failure message. */
  lastLine?: string;
}

/** A service to start: all its replicas, with the same command and environment. */
export interface ServiceRequest {
  service: FlatStep<ServiceSpec>;
  /** The qualified name of the workflow the service belongs to. */
  workflow: string;
  /** The argv to run; undefined means the image's own command (Docker only). */
  command?: string[];
  /** Environment from the run, as a step's (SCANFLOW_REPLICA is added per replica). */
  env: Record<string, string>;
  log: (stream: 'stdout' | 'stderr', line: string) => void;
}

/** How a replica of a service ended on its own. */
export interface ServiceExit extends AttemptOutcome {
  /** 0-based. */
  replica: number;
  error?: RunError;
}

/** A started service: its replicas run until `stop()`, or until one of them exits on its own. */
export interface RunningService {
  /** Where this machine reaches each replica (http://127.0.0.1:PORT), in replica order. */
  endpoints: string[];
  /** Runs a healthcheck command where replica `replica` (0-based) runs; resolves with its exit code. */
  probe(replica: number, command: string[], signal: AbortSignal): Promise<number>;
  /**
   * Resolves when a replica exits by itself (never after `stop()` was called); `error` when the
   * engine says why it could not run (e.g. its command does not exist in the image).
   */
  exited: Promise<ServiceExit>;
  /** Stops and removes every replica; resolves when they are gone. */
  stop(): Promise<void>;
}

export interface Executor {
  readonly kind: ExecutorKind;
  /** Human-readable place where outputs are kept (a volume name or a folder). */
  readonly outputs: string;
  /**
   * Checks that every step can run here and prepares images. Creates nothing that belongs to the
   * run, so a failure here leaves nothing behind. Throws a RunError naming the step. When
   * `signal` is aborted (the run is cancelled), stops what it is doing (e.g. an image build),
   * removes what that had created, and returns.
   */
  prepare(plan: RunPlan, emit: (event: EventInit) => void, signal: AbortSignal): Promise<void>;
  /** Creates what the run's steps share (network, outputs volume or folder). */
  open(): Promise<void>;
  /**
   * The address of this machine where the run's steps reach a server (after `open`): the run
   * network's gateway for containers; 127.0.0.1 when absent. The run's embedded trackers listen
   * there, and nowhere else.
   */
  trackerHost?(): Promise<string>;
  /** Runs one attempt. Throws a RunError when the step cannot start (e.g. command not found). */
  runStep(request: StepRequest): Promise<AttemptOutcome>;
  /**
   * The URL a service is reached at by the run's steps (their SCANFLOW_SERVICE_<NAME>_URL).
   * Executors without `startService` cannot run workflows that have services.
   */
  serviceUrl?(service: FlatStep<ServiceSpec>): string;
  /**
   * Starts every replica of a service and resolves once they have started (not yet healthy).
   * Throws a RunError when they cannot start; what did start is removed again.
   */
  startService?(request: ServiceRequest): Promise<RunningService>;
  /**
   * Removes every container, network and scratch space of the run. The outputs are kept when
   * `keepOutputs` is true.
   */
  close(keepOutputs: boolean): Promise<void>;
}
