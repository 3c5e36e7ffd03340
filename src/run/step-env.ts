import type { FlatGraph, FlatStep, ParameterValue } from '../workflow';

/** Settings of a run that reach every step through its environment. */
export interface StepEnvironment {
  runId: string;
  /** The tracking server; passed as MLFLOW_TRACKING_URI and SCANFLOW_TRACKER_URI. */
  tracker?: string;
  experiment?: string;
}

/** The environment variable that carries a parameter: `learning-rate` gives SCANFLOW_PARAM_LEARNING_RATE. */
export function parameterVariable(name: string): string {
  return `SCANFLOW_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Parameters as `--name=value` arguments, in definition order. */
export function parameterArguments(parameters: Record<string, ParameterValue> = {}): string[] {
  return Object.entries(parameters).map(([name, value]) => `--${name}=${String(value)}`);
}

/** The qualified name of the nearest workflow that encloses a step. */
export function enclosingWorkflow(graph: FlatGraph, step: FlatStep): string {
  const workflows = new Set(
    graph.containers.filter(c => c.spec.kind === 'workflow').map(c => c.id)
  );
  return [...step.parents].reverse().find(id => workflows.has(id)) ?? graph.root.name;
}

/**
 * The environment of one attempt: the step's parameters and own `env`, then Scanflow's variables
 * (which win, so that a step always knows where it is).
 */
export function stepEnvironment(
  run: StepEnvironment,
  step: FlatStep,
  workflow: string,
  attempt: number
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(step.spec.parameters ?? {})) {
    env[parameterVariable(name)] = String(value);
  }
  Object.assign(env, step.spec.env ?? {});
  env.SCANFLOW_RUN_ID = run.runId;
  env.SCANFLOW_STEP = step.id;
  env.SCANFLOW_WORKFLOW = workflow;
  env.SCANFLOW_ATTEMPT = String(attempt);
  if (run.tracker) {
    env.MLFLOW_TRACKING_URI = run.tracker;
    env.SCANFLOW_TRACKER_URI = run.tracker;
  }
  if (run.experiment) {
    env.MLFLOW_EXPERIMENT_NAME = run.experiment;
  }
  return env;
}
