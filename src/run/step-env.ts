import type { FlatGraph, FlatStep, ParameterValue } from '../workflow';

/** Settings of a run that reach every step through its environment. */
export interface StepEnvironment {
  runId: string;
  /** The run's tracking server; passed as MLFLOW_TRACKING_URI and SCANFLOW_TRACKER_URI. */
  tracker?: string;
  /** Tracking servers of single workflows, by qualified id (e.g. embedded per-workflow trackers). */
  trackers?: Record<string, string>;
  /** The URL of each service of the workflow, by variable (SCANFLOW_SERVICE_<NAME>_URL). */
  services?: Record<string, string>;
}

/**
 * Where a step's tracking data goes: the nearest enclosing workflow that has a tracker of its own
 * (a URL given for it in `trackers`, or its definition's `tracker.url`; a workflow whose tracker
 * scope is "shared" uses its parent's), else the run's `tracker`, else the root's `tracker.url`.
 * The experiment comes from the nearest `tracker.experiment`.
 */
export function trackerFor(
  graph: FlatGraph,
  step: FlatStep,
  run: StepEnvironment
): { url?: string; experiment?: string } {
  const workflows = new Map(
    graph.containers.filter(c => c.spec.kind === 'workflow').map(c => [c.id, c.spec])
  );
  workflows.set(graph.root.name, graph.root);
  let url: string | undefined;
  let experiment: string | undefined;
  for (const id of [...step.parents].reverse()) {
    const spec = workflows.get(id);
    if (!spec || spec.kind !== 'workflow') {
      continue;
    }
    experiment ??= spec.tracker?.experiment;
    if (url === undefined && spec.tracker?.scope !== 'shared') {
      // The root's own URL is the run's default, which the run's `tracker` option overrides.
      url = run.trackers?.[id] ?? (spec === graph.root ? undefined : spec.tracker?.url);
    }
  }
  return { url: url ?? run.tracker ?? graph.root.tracker?.url, experiment };
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
  graph: FlatGraph,
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
  // Every step and service is told where every service is: one that depends on a service
  // reaches it there once it is ready.
  Object.assign(env, run.services);
  if (step.spec.kind === 'service') {
    env.SCANFLOW_SERVICE_PORT = String(step.spec.port);
  }
  const tracker = trackerFor(graph, step, run);
  if (tracker.url) {
    env.MLFLOW_TRACKING_URI = tracker.url;
    env.SCANFLOW_TRACKER_URI = tracker.url;
    // MLflow 3's telemetry thread unsets a variable while requests reads os.environ, which
    // failed a client's call with KeyError '_MLFLOW_TELEMETRY_SESSION_ID'. A step's own
    // setting wins.
    env.MLFLOW_DISABLE_TELEMETRY ??= 'true';
  }
  if (tracker.experiment) {
    env.MLFLOW_EXPERIMENT_NAME = tracker.experiment;
  }
  return env;
}
