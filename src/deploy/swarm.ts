/**
 * The Docker Swarm renderer: a stack file for `docker stack deploy`. Swarm ignores `depends_on`,
 * so every step is a `replicated-job` service created with 0 completions: deployed, it runs
 * nothing until scanflow's releaser (swarm-deployer.ts) lets it run one completion, stage by
 * stage. The trackers are long-running services with a healthcheck and restart and update
 * policies. Retries and timeouts are the releaser's, as in `scanflow run` (a retry is a new job
 * iteration, after the same backoff), so Swarm itself never restarts a step.
 *
 * The workflow's services are replicated services, held at 0 replicas like the steps: the releaser
 * scales one to its replicas once its dependencies have succeeded, and releases its dependents once
 * every replica is healthy. Swarm restarts their tasks (condition any) and updates them start-first.
 */
import { parseMemory } from '../workflow';
import { deploymentVolumes, dockerHealthcheck, runnableFields, trackerService } from './compose';
import type { DeploymentPlan, PlannedRunnable, PlannedService, PlannedStep } from './plan';

/** The label on a held service (step or service) that lists what it waits for (JSON). */
export const NEEDS_LABEL = 'scanflow.needs';

export interface StackDocument {
  version: string;
  services: Record<string, Record<string, unknown>>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
}

export function renderStack(plan: DeploymentPlan): StackDocument {
  const services: StackDocument['services'] = {};
  for (const tracker of plan.trackers) {
    services[tracker.service] = {
      ...trackerService(plan, tracker),
      deploy: {
        mode: 'replicated',
        replicas: 1,
        // DNS round-robin, not a virtual IP: a VIP needs IPVS in the kernel, which some hosts
        // lack (steps then cannot reach the tracker); one replica needs no load balancing.
        endpoint_mode: 'dnsrr',
        restart_policy: { condition: 'any', delay: '1s' },
        // One store per tracker: the old task stops before the new one opens it.
        update_config: { order: 'stop-first', failure_action: 'rollback' },
        // Its store is a local volume: the tracker stays on the manager that holds it (and that
        // `scanflow deploy` relays to), whichever nodes the steps run on.
        placement: { constraints: ['node.role == manager'] },
        labels: { ...plan.labels, 'scanflow.service': 'tracker' }
      }
    };
  }
  for (const service of plan.services) services[service.service] = longRunning(service);
  for (const step of plan.steps) services[step.service] = stepService(step);
  return {
    version: '3.9',
    services,
    networks: {
      // Attachable: `scanflow deploy` and people debugging can join it with a container.
      workflow: { name: plan.network, driver: 'overlay', attachable: true, labels: plan.labels }
    },
    volumes: deploymentVolumes(plan)
  };
}

function stepService(step: PlannedStep): Record<string, unknown> {
  const { spec } = step;
  const limits = resourceLimits(step);
  return {
    ...containerFields(step),
    deploy: {
      mode: 'replicated-job',
      // Held: the releaser sets one completion when the step's dependencies have succeeded.
      replicas: 0,
      restart_policy: { condition: 'none' },
      ...(limits ? { resources: { limits } } : {}),
      labels: {
        ...step.labels,
        [NEEDS_LABEL]: JSON.stringify(step.needs),
        ...(spec.retries ? { 'scanflow.retries': String(spec.retries) } : {})
      }
    }
  };
}

/** A workflow's service: replicated, held at 0 until the releaser scales it to its replicas. */
function longRunning(service: PlannedService): Record<string, unknown> {
  const limits = resourceLimits(service);
  return {
    ...containerFields(service),
    ...(service.healthcheck
      ? { healthcheck: dockerHealthcheck(service.healthcheck, service.port) }
      : {}),
    deploy: {
      mode: 'replicated',
      replicas: 0,
      // DNS round robin over the replicas' own addresses: a virtual IP needs IPVS in the kernel,
      // which some hosts (this one) lack.
      endpoint_mode: 'dnsrr',
      restart_policy: { condition: 'any', delay: '1s' },
      // A new version of the service answers before the old one stops.
      update_config: { order: 'start-first', failure_action: 'rollback' },
      ...(limits ? { resources: { limits } } : {}),
      labels: {
        ...service.labels,
        [NEEDS_LABEL]: JSON.stringify(service.needs),
        'scanflow.replicas': String(service.replicas)
      }
    }
  };
}

/** What a step's or service's task container is: image, argv, environment, network, volumes. */
function containerFields(runnable: PlannedRunnable): Record<string, unknown> {
  return {
    image: runnable.image,
    ...runnableFields(runnable),
    labels: runnable.labels
  };
}

function resourceLimits(runnable: PlannedRunnable): Record<string, string> | undefined {
  const resources = runnable.spec.resources;
  const memory = resources?.memory === undefined ? undefined : parseMemory(resources.memory);
  const limits = {
    ...(resources?.cpus ? { cpus: String(resources.cpus) } : {}),
    ...(memory !== undefined ? { memory: String(memory) } : {})
  };
  return Object.keys(limits).length ? limits : undefined;
}
