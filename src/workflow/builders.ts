import type { NodeSpec, ParallelSpec, StepSpec, WorkflowSpec } from './types';

/** The fields of a step besides its name and kind. */
export type StepOptions = Omit<StepSpec, 'kind' | 'name'>;
export type ParallelOptions = Omit<ParallelSpec, 'kind' | 'name' | 'steps'>;
export type WorkflowOptions = Omit<WorkflowSpec, 'kind' | 'name' | 'steps'>;

/** A step: one container with its image, command, environment and resources. */
export function step(name: string, options: StepOptions): StepSpec {
  return { kind: 'step', name, ...options };
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
