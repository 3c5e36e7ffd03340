import type { NodeSpec, ParallelSpec, ServiceSpec, StepSpec, WorkflowSpec } from './types';

/** The fields of a step besides its name and kind. */
export type StepOptions = Omit<StepSpec, 'kind' | 'name'>;
/** The fields of a service besides its name and kind (`port` is required). */
export type ServiceOptions = Omit<ServiceSpec, 'kind' | 'name' | 'outputs' | 'retries' | 'timeout'>;
export type ParallelOptions = Omit<ParallelSpec, 'kind' | 'name' | 'steps'>;
export type WorkflowOptions = Omit<WorkflowSpec, 'kind' | 'name' | 'steps'>;

/** A step: one container with its image, command, environment and resources. */
export function step(name: string, options: StepOptions): StepSpec {
  return { kind: 'step', name, ...options };
}

/**
 * A long-running service (e.g. a model server) beside the batch steps: it runs until the run is
 * stopped, and the nodes that depend on it start once its healthcheck passes.
 *
 *   service('api', { image: 'scanflow/node:20', command: ['node', 'serve.js'], port: 8080,
 *                    healthcheck: { path: '/health' } })
 */
export function service(name: string, options: ServiceOptions): ServiceSpec {
  return { kind: 'service', name, ...options };
}

/** A group whose members run side by side (unless `after` orders some of them). */
export function parallel(
  name: string,
  steps: NodeSpec[],
  options: ParallelOptions = {}
): ParallelSpec {
  return { kind: 'parallel', name, ...options, steps };
}

/** A workflow: its steps run in order; it can hold parallel groups and nested workflows. */
export function workflow(
  name: string,
  steps: NodeSpec[],
  options: WorkflowOptions = {}
): WorkflowSpec {
  return { kind: 'workflow', name, ...options, steps };
}
