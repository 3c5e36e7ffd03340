/**
 * How Swarm and Kubernetes deployments run their steps: held on the target (a job at 0
 * completions, a suspended Job), released in dependency order by `scanflow run`'s own scheduler
 * through an Executor whose attempt is one run on the target. Retries, backoff, timeouts,
 * skipped dependents and cancel are therefore exactly those of a run.
 */
import type { EventInit } from '../run/events';
import type { Executor } from '../run/executor';
import { schedule, type StepReport } from '../run/scheduler';
import type { DeploymentPlan } from './plan';

export function releaseInOrder(
  plan: DeploymentPlan,
  releaser: Executor,
  emit: (event: EventInit) => void,
  signal: AbortSignal
): Promise<Map<string, StepReport>> {
  return schedule(
    plan.graph,
    releaser,
    {
      // The cluster's scheduler places the tasks: this machine's cores are no limit.
      concurrency: Math.max(1, plan.steps.length),
      keepGoing: false,
      retryDelayMs: 1000,
      environment: { runId: plan.runId }
    },
    emit,
    signal
  );
}
