/**
 * The docker-compose renderer: one service per step, started by compose in dependency order
 * (`depends_on` with `service_completed_successfully`), on the deployment's network, with the
 * outputs volume mounted as `scanflow run` mounts it and the trackers as services of their own.
 * The workflow's services are long-running compose services (`deploy.replicas`, which
 * docker-compose 1.29 honors, a healthcheck, published on 127.0.0.1 only); what depends on one
 * waits with `service_healthy` (`service_started` without a healthcheck).
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
  type PlannedHealthcheck,
  type PlannedRunnable,
  type PlannedService,
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
  for (const service of plan.services) services[service.service] = longRunning(plan, service);
  for (const step of plan.steps) services[step.service] = stepService(plan, step);
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

function stepService(plan: DeploymentPlan, step: PlannedStep): Record<string, unknown> {
  const { spec } = step;
  return {
    ...containerFields(step),
    ...dependsOn(plan, step),
    // Retries: the engine restarts a failed container up to `retries` times (else compose's
    // default, "no").
    ...(spec.retries ? { restart: `on-failure:${spec.retries}` } : {}),
    ...(spec.resources?.gpus ? { deploy: { resources: gpuReservation(spec.resources.gpus) } } : {})
  };
}

/**
 * A workflow's service: its replicas behind its name on the deployment's network, each published
 * on a free port of this machine's loopback (`docker-compose port`), restarted by the engine when
 * it exits, and healthy once its healthcheck passes.
 */
function longRunning(plan: DeploymentPlan, service: PlannedService): Record<string, unknown> {
  const gpus = service.spec.resources?.gpus;
  return {
    ...containerFields(service),
    ...dependsOn(plan, service),
    ports: [`127.0.0.1::${service.port}`],
    restart: 'unless-stopped',
    ...(service.healthcheck
      ? { healthcheck: dockerHealthcheck(service.healthcheck, service.port) }
      : {}),
    deploy: {
      replicas: service.replicas,
      ...(gpus ? { resources: gpuReservation(gpus) } : {})
    }
  };
}

/**
 * What a step's or service's container is under compose and Swarm alike: argv, environment,
 * the deployment's network and its outputs volume.
 */
export function runnableFields(runnable: PlannedRunnable): Record<string, unknown> {
  return {
    ...(runnable.command ? { command: runnable.command.map(literal) } : {}),
    environment: {
      ...literalEnv(runnable.env),
      ...(runnable.token ? { MLFLOW_TRACKING_TOKEN: TOKEN_REFERENCE } : {})
    },
    networks: ['workflow'],
    volumes: [
      { type: 'volume', source: 'outputs', target: CONTAINER_OUTPUTS },
      { type: 'volume', source: 'outputs', target: CONTAINER_INPUTS, read_only: true }
    ],
    init: true
  };
}

/** What a step's or service's container is: image, argv, environment, network, volumes. */
function containerFields(runnable: PlannedRunnable): Record<string, unknown> {
  const resources = runnable.spec.resources;
  const memory = resources?.memory === undefined ? undefined : parseMemory(resources.memory);
  return {
    ...(runnable.image ? { image: runnable.image } : {}),
    ...(runnable.build
      ? { build: { context: runnable.build.context, dockerfile: runnable.build.dockerfile } }
      : {}),
    ...runnableFields(runnable),
    ...(resources?.cpus ? { cpus: resources.cpus } : {}),
    ...(memory !== undefined ? { mem_limit: memory } : {}),
    // An external tracker on this machine's loopback is reached as host.docker.internal.
    ...(Object.values(runnable.env).some(v => v.includes(`//${HOST_ALIAS}`))
      ? { extra_hosts: [`${HOST_ALIAS}:host-gateway`] }
      : {}),
    labels: runnable.labels
  };
}

/**
 * What compose waits for before it starts a container: a healthy tracker, the steps it needs
 * completed, the services it needs healthy (started, without a healthcheck).
 */
function dependsOn(plan: DeploymentPlan, runnable: PlannedRunnable): Record<string, unknown> {
  const conditions: Record<string, { condition: string }> = {};
  if (runnable.tracker) conditions[runnable.tracker] = { condition: 'service_healthy' };
  for (const need of runnable.needs) {
    const service = plan.services.find(s => s.service === need);
    conditions[need] = {
      condition: !service
        ? 'service_completed_successfully'
        : service.healthcheck
          ? 'service_healthy'
          : 'service_started'
    };
  }
  return Object.keys(conditions).length ? { depends_on: conditions } : {};
}

function gpuReservation(count: number): Record<string, unknown> {
  return { reservations: { devices: [{ capabilities: ['gpu'], count }] } };
}

/**
 * An HTTP healthcheck run inside the container, where Docker runs healthchecks: the image's
 * curl or wget, else bash's /dev/tcp (Debian-based images have bash but neither client). The
 * port and path are its arguments ($1, $2), never part of the script.
 */
export const HTTP_PROBE_SCRIPT = [
  'url="http://127.0.0.1:$1$2"',
  'if command -v curl >/dev/null 2>&1; then exec curl -fsS -o /dev/null "$url"; fi',
  'if command -v wget >/dev/null 2>&1; then exec wget -q -O /dev/null "$url"; fi',
  'if command -v bash >/dev/null 2>&1; then exec bash -c \'exec 3<>"/dev/tcp/127.0.0.1/$1" && ' +
    'printf "GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n" "$2" >&3 && read -r _ code _ <&3 && ' +
    'code=${code%%[!0-9]*} && [ "$code" -ge 200 ] && [ "$code" -lt 400 ]\' probe "$1" "$2"; fi',
  'echo "the image has no curl, wget or bash to probe $url with" >&2',
  'exit 1'
].join('\n');

/** The Docker healthcheck (compose and stack files) of a service's healthcheck. */
export function dockerHealthcheck(
  healthcheck: PlannedHealthcheck,
  port: number
): Record<string, unknown> {
  const test =
    healthcheck.path !== undefined
      ? ['CMD', 'sh', '-c', HTTP_PROBE_SCRIPT, 'scanflow-health', String(port), healthcheck.path]
      : ['CMD', ...healthcheck.command!];
  return {
    test: test.map(literal),
    interval: `${healthcheck.interval}s`,
    timeout: `${healthcheck.timeout}s`,
    retries: healthcheck.retries,
    start_period: `${healthcheck.startPeriod}s`
  };
}
