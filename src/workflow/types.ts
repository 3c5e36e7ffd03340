/**
 * The workflow model: plain data, serializable as JSON/YAML, shared by the toolkit and the browser.
 *
 * A workflow runs its `steps` in order; a parallel group runs its `steps` side by side. Both nest to
 * any depth, and `after` adds dependencies on other nodes (siblings by name, or qualified ids).
 */

/** A parameter value; passed to the step both as `--name=value` arguments and as environment. */
export type ParameterValue = string | number | boolean;

/** Compute resources of a step's container. */
export interface Resources {
  /** CPU cores, fractional allowed (e.g. 0.5). */
  cpus?: number;
  /** Memory limit: bytes, or a size such as "512m" or "2g". */
  memory?: number | string;
  /** Number of GPUs to request. */
  gpus?: number;
}

/** Fields every node (step, parallel group, workflow) has. */
export interface NodeBase {
  name: string;
  description?: string;
  /** Extra dependencies: sibling names, or qualified ids such as "train.fit". */
  after?: string[];
}

/** How a step's or a service's container is made and run. */
export interface RunnableFields {
  /** An existing image, e.g. "python:3.11-slim". */
  image?: string;
  /** A Dockerfile to build, relative to the definition file. */
  dockerfile?: string;
  /** Build context; defaults to the Dockerfile's folder (or the definition's folder with `base`). */
  context?: string;
  /** A base image to extend with `requirements` (pip packages). */
  base?: string;
  requirements?: string[];
  /** The command as an argv array (never a shell string). */
  command?: string[];
  env?: Record<string, string>;
  parameters?: Record<string, ParameterValue>;
  /** Names of outputs of earlier steps that this step reads. */
  inputs?: string[];
  resources?: Resources;
}

/** A batch step: a container that runs its command to the end. */
export interface StepSpec extends NodeBase, RunnableFields {
  kind: 'step';
  /** Names of outputs this step writes (folders under /scanflow/outputs). */
  outputs?: string[];
  /** Extra attempts after a failure. */
  retries?: number;
  /** Seconds before the step is stopped and counted as failed. */
  timeout?: number;
}

/**
 * When a service counts as ready: an HTTP `path` answered on its port with a 2xx or 3xx status,
 * or a `command` (argv, run where the service runs) that exits with 0. Exactly one of the two.
 */
export interface HealthcheckSpec {
  /** An HTTP path such as "/health", requested with GET on the service's port. */
  path?: string;
  /** A command run inside the service's container (or beside its local process). */
  command?: string[];
  /** Seconds between probes (default 1). */
  interval?: number;
  /** Seconds one probe may take (default 2). */
  timeout?: number;
  /** Failed probes in a row, after the start period, before the service counts as unhealthy (default 30). */
  retries?: number;
  /** Seconds after the start during which failed probes do not count (default 0). */
  startPeriod?: number;
}

/**
 * A long-running service beside the batch steps (a model server, a database): it starts after the
 * nodes it depends on, counts as ready once its healthcheck passes (or once started, without one),
 * and runs until the run is stopped. Nodes that depend on it start when it is ready. It writes no
 * outputs, and is neither retried nor timed out: nothing could wait for the end of a service.
 */
export interface ServiceSpec extends NodeBase, RunnableFields {
  kind: 'service';
  /** The port it listens on, inside its container (or on 127.0.0.1, as a local process). */
  port: number;
  /** How many containers run it side by side, behind one DNS name (default 1). */
  replicas?: number;
  healthcheck?: HealthcheckSpec;
  /** Services have none of these; declared so that code reading any runnable's fields type-checks. */
  outputs?: never;
  retries?: never;
  timeout?: never;
}

/** What runs as containers: a batch step or a service. */
export type RunnableSpec = StepSpec | ServiceSpec;

export interface ParallelSpec extends NodeBase {
  kind: 'parallel';
  steps: NodeSpec[];
}

/** Where a workflow's tracking data goes. */
export interface TrackerSpec {
  /** "workflow": its own tracker; "shared": the one of the enclosing workflow (or the run's). */
  scope?: 'workflow' | 'shared';
  /** An external tracking server (ours or MLflow) instead of an embedded one. */
  url?: string;
  experiment?: string;
}

export interface CheckerSpec {
  name: string;
  /** "drift" detectors are built in; "custom" checkers name a plugin module. */
  kind: 'drift' | 'custom';
  detector?: string;
  plugin?: string;
  options?: Record<string, unknown>;
}

export interface ImproverSpec {
  strategy?: string;
  batchSize?: number;
  options?: Record<string, unknown>;
}

export interface WorkflowSpec extends NodeBase {
  kind: 'workflow';
  steps: NodeSpec[];
  tracker?: TrackerSpec;
  checkers?: CheckerSpec[];
  improver?: ImproverSpec;
}

export type NodeSpec = StepSpec | ServiceSpec | ParallelSpec | WorkflowSpec;
export type ContainerSpec = ParallelSpec | WorkflowSpec;

export function isContainer(node: NodeSpec): node is ContainerSpec {
  return node.kind === 'parallel' || node.kind === 'workflow';
}

/** True for the nodes that run as containers: steps and services (not workflows or groups). */
export function isRunnable(node: NodeSpec): node is RunnableSpec {
  return node.kind === 'step' || node.kind === 'service';
}
