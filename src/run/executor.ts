/**
 * The interface every executor implements (Docker containers, local processes), in the manner of
 * MLflow's stores: the scheduler only talks to this.
 */
import type { FlatGraph, FlatStep, WorkflowSpec } from '../workflow';
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
   * Removes every container, network and scratch space of the run. The outputs are kept when
   * `keepOutputs` is true.
   */
  close(keepOutputs: boolean): Promise<void>;
}
