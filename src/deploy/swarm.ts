/**
 * The Docker Swarm renderer: a stack file for `docker stack deploy`. Swarm ignores `depends_on`,
 * so every step is a `replicated-job` service created with 0 completions: deployed, it runs
 * nothing until scanflow's releaser (swarm-deployer.ts) lets it run one completion, stage by
 * stage. The trackers are long-running services with a healthcheck and restart and update
 * policies. Retries and timeouts are the releaser's, as in `scanflow run` (a retry is a new job
 * iteration, after the same backoff), so Swarm itself never restarts a step.
 */
import { CONTAINER_INPUTS, CONTAINER_OUTPUTS } from '../run/docker/container-config';
import { parseMemory } from '../workflow';
import { deploymentVolumes, literal, literalEnv, TOKEN_REFERENCE, trackerService } from './compose';
import type { DeploymentPlan, PlannedStep } from './plan';

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
  const memory =
    spec.resources?.memory === undefined ? undefined : parseMemory(spec.resources.memory);
  const limits = {
    ...(spec.resources?.cpus ? { cpus: String(spec.resources.cpus) } : {}),
    ...(memory !== undefined ? { memory: String(memory) } : {})
  };
  return {
    image: step.image,
    ...(step.command ? { command: step.command.map(literal) } : {}),
    environment: {
      ...literalEnv(step.env),
      ...(step.token ? { MLFLOW_TRACKING_TOKEN: TOKEN_REFERENCE } : {})
    },
    networks: ['workflow'],
    volumes: [
      { type: 'volume', source: 'outputs', target: CONTAINER_OUTPUTS },
      { type: 'volume', source: 'outputs', target: CONTAINER_INPUTS, read_only: true }
    ],
    init: true,
    labels: step.labels,
    deploy: {
      mode: 'replicated-job',
      // Held: the releaser sets one completion when the step's dependencies have succeeded.
      replicas: 0,
      restart_policy: { condition: 'none' },
      ...(Object.keys(limits).length ? { resources: { limits } } : {}),
      labels: {
        ...step.labels,
        'scanflow.needs': JSON.stringify(step.needs),
        ...(spec.retries ? { 'scanflow.retries': String(spec.retries) } : {})
      }
    }
  };
}
