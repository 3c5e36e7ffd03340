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

export interface StepSpec extends NodeBase {
  kind: 'step';
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
  /** Names of outputs this step writes (folders under /scanflow/outputs). */
  outputs?: string[];
  resources?: Resources;
  /** Extra attempts after a failure. */
  retries?: number;
  /** Seconds before the step is stopped and counted as failed. */
  timeout?: number;
}

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

export type NodeSpec = StepSpec | ParallelSpec | WorkflowSpec;
export type ContainerSpec = ParallelSpec | WorkflowSpec;

export function isContainer(node: NodeSpec): node is ContainerSpec {
  return node.kind !== 'step';
}
