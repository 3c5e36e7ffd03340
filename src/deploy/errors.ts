import { formatProblem, type Problem } from '../workflow';
import type { Target } from './plan';

export const TARGET_NAMES: Record<Target, string> = {
  compose: 'docker-compose',
  swarm: 'Docker Swarm',
  k8s: 'Kubernetes'
};

/**
 * A workflow uses features that a target cannot express: every one is listed, each naming the
 * feature, the step and the fix. Raised before anything is written or started.
 */
export class ExportError extends Error {
  constructor(
    readonly target: Target,
    readonly problems: Problem[]
  ) {
    const head =
      problems.length === 1
        ? `The workflow cannot be exported to ${TARGET_NAMES[target]}`
        : `The workflow cannot be exported to ${TARGET_NAMES[target]} (${problems.length} problems)`;
    super(`${head}:\n${problems.map(p => `  - ${formatProblem(p)}`).join('\n')}`);
    this.name = 'ExportError';
  }
}

/** A deployment failed to start, to follow or to be removed (the engine said no). */
export class DeployError extends Error {
  constructor(
    message: string,
    readonly fix?: string
  ) {
    super(fix ? `${message}. Fix: ${fix}.` : message);
    this.name = 'DeployError';
  }
}
