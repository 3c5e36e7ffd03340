/**
 * How Swarm and Kubernetes deployments run their steps: held on the target (a job at 0
 * completions, a suspended Job), released in dependency order by `scanflow run`'s own scheduler
 * through an Executor whose attempt is one run on the target. Retries, backoff, timeouts,
 * skipped dependents and cancel are therefore exactly those of a run.
 *
 * A workflow's service is held too (0 replicas). The scheduler sees it as a step whose one
 * attempt scales it to its replicas and ends once every replica is healthy: its dependents are
 * then released, and the scheduler ends once no step is left, the services up (a run's scheduler
 * would wait for a cancel; a deployment lives on until `undeploy`). Its events are those of a
 * run's service: `step-running`, then `service-ready` (or `step-failed`).
 */
import type { EventInit } from '../run/events';
import type { AttemptOutcome, Executor, StepRequest } from '../run/executor';
import { schedule, type StepReport } from '../run/scheduler';
import type { FlatGraph, FlatStep } from '../workflow';
import type { DeploymentPlan, PlannedService, PlannedStep } from './plan';

/** What a target's releaser does: run one attempt of a held step, or bring up a held service. */
export interface Releaser {
  /** One attempt of a step (a job iteration, a Job). */
  runStep(step: PlannedStep, request: StepRequest): Promise<AttemptOutcome>;
  /**
   * Scales a service to its replicas and resolves once every replica is healthy; throws a
   * RunError (ServiceDeployError) with its last lines when its tasks keep failing or it is not
   * ready in time. Resolves at once when `signal` aborts.
   */
  startService(service: PlannedService, signal: AbortSignal): Promise<void>;
}

export function releaseInOrder(
  plan: DeploymentPlan,
  releaser: Releaser,
  emit: (event: EventInit) => void,
  signal: AbortSignal
): Promise<Map<string, StepReport>> {
  const services = new Map(plan.services.map(s => [s.id, s]));
  return schedule(
    servicesAsSteps(plan.graph, services),
    releasingExecutor(plan, releaser),
    {
      // The cluster's scheduler places the tasks: this machine's cores are no limit.
      concurrency: Math.max(1, plan.steps.length + plan.services.length),
      keepGoing: false,
      retryDelayMs: 1000,
      environment: { runId: plan.runId }
    },
    event => emit(asServiceEvent(event, services)),
    signal
  ).then(reports => {
    for (const service of services.values()) {
      const report = reports.get(service.id);
      // Up and healthy, and staying so: a service's report says so, as a run's says while it runs.
      if (report?.status === 'succeeded') report.status = 'ready';
    }
    return reports;
  });
}

/** The graph with every service as a plain step (no retries, no timeout) of the same id. */
function servicesAsSteps(graph: FlatGraph, services: Map<string, PlannedService>): FlatGraph {
  return {
    ...graph,
    steps: graph.steps.map((step): FlatStep =>
      services.has(step.id)
        ? { ...step, spec: { kind: 'step', name: step.spec.name, after: step.spec.after } }
        : step
    )
  };
}

/** A service's "succeeded" is its readiness. */
function asServiceEvent(event: EventInit, services: Map<string, PlannedService>): EventInit {
  const service = event.type === 'step-succeeded' ? services.get(event.step) : undefined;
  return service
    ? { type: 'service-ready', step: service.id, url: service.url, endpoints: [] }
    : event;
}

/** The Executor the scheduler drives: attempts of steps and services go to the releaser. */
function releasingExecutor(plan: DeploymentPlan, releaser: Releaser): Executor {
  return {
    kind: 'docker',
    outputs: plan.volume,
    prepare: async () => undefined,
    open: async () => undefined,
    close: async () => undefined,
    runStep: async request => {
      const service = plan.services.find(s => s.id === request.step.id);
      if (service) {
        await releaser.startService(service, request.signal);
        return { exitCode: request.signal.aborted ? 137 : 0 };
      }
      return releaser.runStep(
        plan.steps.find(s => s.id === request.step.id)!,
        request
      );
    }
  };
}
