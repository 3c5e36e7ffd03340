/**
 * The docker-compose renderer: one service per step, started by compose in dependency order
 * (`depends_on` with `service_completed_successfully`), on the deployment's network, with the
 * outputs volume mounted as `scanflow run` mounts it and the trackers as services of their own.
 * Its output is what `docker-compose up` reads and what `scanflow deploy --to compose` runs.
 */
import { CONTAINER_INPUTS, CONTAINER_OUTPUTS, HOST_ALIAS } from '../run/docker/container-config';
import { parseMemory } from '../workflow';
import {
  RECORD_VARIABLE,
  TOKEN_VARIABLE,
  TRACKER_DATA,
  TRACKER_PORT,
  type DeploymentPlan,
  type PlannedStep,
  type PlannedTracker
} from './plan';

/** The token, as compose and `docker stack deploy` read it from the environment (or `.env`). */
export const TOKEN_REFERENCE = `\${${TOKEN_VARIABLE}:?set ${TOKEN_VARIABLE} (scanflow export wrote it to .env)}`;

/** A value compose must take as it is: `$` starts a variable there, `$$` is a `$`. */
export function literal(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

export function literalEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, literal(v)]));
}

/**
 * The healthcheck of a tracker service: its port accepts connections, which it does only once
 * the deployment's runs exist (the tracker records them before it listens). Bash's /dev/tcp
 * costs a few milliseconds, so it can run every quarter second: steps wait for it.
 */
export function trackerHealthcheck(): string[] {
  return ['CMD', 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${TRACKER_PORT}`];
}

/** How often the healthcheck runs. */
export const HEALTH_INTERVAL = '250ms';

/** The tracker service's command: serve its store, after creating the deployment's runs. */
export function trackerCommand(tracker: PlannedTracker): string[] {
  return [
    'tracker',
    '--host',
    '0.0.0.0',
    '--port',
    String(TRACKER_PORT),
    '--store',
    tracker.store,
    '--deployment'
  ];
}

/** What a tracker service is in a compose or stack file; each target adds its own policies. */
export function trackerService(
  plan: DeploymentPlan,
  tracker: PlannedTracker
): Record<string, unknown> {
  return {
    image: plan.trackerImage,
    command: trackerCommand(tracker),
    environment: {
      [TOKEN_VARIABLE]: TOKEN_REFERENCE,
      [RECORD_VARIABLE]: literal(JSON.stringify(tracker.record))
    },
    networks: ['workflow'],
    volumes: [{ type: 'volume', source: 'tracker', target: TRACKER_DATA }],
    healthcheck: {
      test: trackerHealthcheck(),
      interval: HEALTH_INTERVAL,
      timeout: '5s',
      retries: 120
    },
    labels: { ...plan.labels, 'scanflow.service': 'tracker' }
  };
}

export interface ComposeDocument {
  services: Record<string, Record<string, unknown>>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
}

export function renderCompose(plan: DeploymentPlan): ComposeDocument {
  const services: ComposeDocument['services'] = {};
  for (const tracker of plan.trackers) {
    services[tracker.service] = {
      ...trackerService(plan, tracker),
      // Reachable from this machine's loopback only (a free port: `docker-compose port`).
      ports: [`127.0.0.1::${TRACKER_PORT}`],
      restart: 'unless-stopped'
    };
  }
  for (const step of plan.steps) services[step.service] = stepService(step);
  return {
    services,
    networks: { workflow: { name: plan.network, labels: plan.labels } },
    volumes: deploymentVolumes(plan)
  };
}

/** The named volumes of a compose or stack file: the outputs, and the trackers' stores. */
export function deploymentVolumes(plan: DeploymentPlan): Record<string, unknown> {
  return {
    outputs: { name: plan.volume, labels: plan.labels },
    ...(plan.trackers.length ? { tracker: { name: plan.trackerVolume, labels: plan.labels } } : {})
  };
}

function stepService(step: PlannedStep): Record<string, unknown> {
  const { spec } = step;
  const dependsOn: Record<string, { condition: string }> = {};
  if (step.tracker) dependsOn[step.tracker] = { condition: 'service_healthy' };
  for (const need of step.needs) dependsOn[need] = { condition: 'service_completed_successfully' };
  const memory =
    spec.resources?.memory === undefined ? undefined : parseMemory(spec.resources.memory);
  return {
    ...(step.image ? { image: step.image } : {}),
    ...(step.build
      ? { build: { context: step.build.context, dockerfile: step.build.dockerfile } }
      : {}),
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
    ...(Object.keys(dependsOn).length ? { depends_on: dependsOn } : {}),
    // Retries: the engine restarts a failed container up to `retries` times (else compose's
    // default, "no").
    ...(spec.retries ? { restart: `on-failure:${spec.retries}` } : {}),
    init: true,
    ...(spec.resources?.cpus ? { cpus: spec.resources.cpus } : {}),
    ...(memory !== undefined ? { mem_limit: memory } : {}),
    ...(spec.resources?.gpus
      ? {
          deploy: {
            resources: {
              reservations: {
                devices: [{ capabilities: ['gpu'], count: spec.resources.gpus }]
              }
            }
          }
        }
      : {}),
    // An external tracker on this machine's loopback is reached as host.docker.internal.
    ...(Object.values(step.env).some(v => v.includes(`//${HOST_ALIAS}`))
      ? { extra_hosts: [`${HOST_ALIAS}:host-gateway`] }
      : {}),
    labels: step.labels
  };
}
