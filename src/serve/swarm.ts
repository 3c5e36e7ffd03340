/**
 * `scanflow serve <model> --to swarm --replicas N`: the model server as a replicated Swarm service.
 *   1. The model (and checker) are made local here, as for a local server, then copied into an
 *      image on top of the server image (scanflow/serve:<hash>), so that every replica, on any
 *      node, starts from the same files without reaching this machine.
 *   2. A stack with one service, `model`, of N replicas (DNS round-robin, restarted when they die,
 *      health-checked on /ping, updated start-first), on an attachable overlay network.
 *   3. A gateway container on that network, published on this machine's loopback, spreads
 *      requests over the replicas and retries on the next one when a replica is gone.
 * Everything carries the deployment labels, so `scanflow deployments` lists it and
 * `scanflow undeploy <name>` removes it.
 */
import { createHash } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pack } from 'tar-fs';
import { stringify } from 'yaml';
import { undeploy } from '../deploy/deploy';
import { DEPLOY_LABEL, dnsName } from '../deploy/plan';
import { runCommand, lastLines } from '../deploy/docker-cli';
import { DeployError } from '../deploy/errors';
import { buildProgramImage, type ProgramImage } from '../deploy/program-image';
import { answers } from '../deploy/swarm-deployer';
import type Docker from 'dockerode';
import { DockerClient } from '../run/docker/client';
import { ServeError } from './errors';
import { ModelLocator, openTracker, type ModelTracker } from './model-uri';

export const SERVE_PORT = 8080;

const SERVE_PROGRAM: ProgramImage = {
  role: 'serve',
  repository: 'scanflow/serve',
  bundle: 'serve-image/scanflow-serve.js',
  port: SERVE_PORT,
  command: ['serve', '/model', '--host', '0.0.0.0']
};

export interface SwarmServeOptions {
  model: string;
  replicas: number;
  /** The deployment's name (default serve-<model name>). */
  name?: string;
  tracker?: string;
  trackerToken?: string;
  checker?: string;
  /** The gateway's port on this machine's loopback (default 8080; 0 picks a free one). */
  port?: number;
  /** Arguments passed on to every replica's `scanflow serve` (batching, window, ...). */
  serveArguments?: string[];
  /** A line of progress. */
  log?: (line: string) => void;
  docker?: DockerClient;
}

export interface SwarmModelService {
  name: string;
  url: string;
  replicas: number;
  image: string;
  /** The registered version baked into the image, if the model came from the registry. */
  version?: string;
}

/** Deploys the model server with N replicas on this engine's swarm, behind a loopback gateway. */
export async function serveOnSwarm(options: SwarmServeOptions): Promise<SwarmModelService> {
  if (!(Number.isInteger(options.replicas) && options.replicas >= 1)) {
    throw new ServeError(
      `--replicas ${options.replicas} is not a number of replicas`,
      'give a whole number of at least 1'
    );
  }
  const log = options.log ?? (() => undefined);
  const client = options.docker ?? new DockerClient();
  await client.ping();
  const info = await client.docker.info();
  if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm?.ControlAvailable) {
    throw new DeployError(
      'this Docker engine is not a swarm manager',
      'make it one with `docker swarm init`'
    );
  }
  const trackerLocation = options.tracker ?? process.env.MLFLOW_TRACKING_URI;
  const tracker = trackerLocation ? openTracker(trackerLocation, options.trackerToken) : undefined;
  const cache = mkdtempSync(join(tmpdir(), 'scanflow-serve-swarm-'));
  try {
    const locator = new ModelLocator(options.model, join(cache, 'model'), tracker);
    // A registered model is read by the replicas themselves, so that they follow its alias; a
    // folder or a run's model is copied into the image.
    const followsRegistry = locator.uri.kind !== 'path' && locator.uri.kind !== 'run';
    if (followsRegistry) replicaTracker(tracker!, options.model);
    const version = await locator.currentVersion(); // refuses an unknown name or alias now
    const model = followsRegistry ? undefined : await locator.fetch(version);
    const checker = options.checker
      ? await new ModelLocator(options.checker, join(cache, 'checker'), tracker).fetch()
      : undefined;
    const modelName =
      locator.uri.kind === 'path'
        ? basename(locator.uri.path)
        : 'name' in locator.uri
          ? locator.uri.name
          : 'model';
    const name = dnsName(options.name ?? `serve-${modelName}`, 40);
    log(`building the server image`);
    const server = await buildProgramImage(client, SERVE_PROGRAM);
    const image =
      model || checker
        ? await buildModelImage(client, server.image, name, model?.path, checker?.path)
        : server.image;
    log(
      `deploying ${options.replicas} replica${options.replicas === 1 ? '' : 's'} of ${followsRegistry ? options.model : image} as ${name}`
    );
    const labels = {
      [DEPLOY_LABEL.deployment]: name,
      [DEPLOY_LABEL.target]: 'swarm',
      [DEPLOY_LABEL.workflow]: name,
      [DEPLOY_LABEL.run]: name,
      'scanflow.service': 'model'
    };
    const network = `${name}-net`;
    const command = [
      'serve',
      followsRegistry ? options.model : '/model',
      '--host',
      '0.0.0.0',
      '--port',
      String(SERVE_PORT),
      ...(followsRegistry ? ['--tracker', tracker!.location] : []),
      ...(checker ? ['--checker', '/checker'] : []),
      ...(options.serveArguments ?? [])
    ];
    const token = options.trackerToken ?? process.env.MLFLOW_TRACKING_TOKEN;
    const stack = {
      version: '3.8',
      services: {
        model: {
          image,
          command,
          labels,
          ...(followsRegistry && token ? { environment: { MLFLOW_TRACKING_TOKEN: token } } : {}),
          networks: ['serve'],
          healthcheck: {
            test: [
              'CMD',
              'node',
              '-e',
              `fetch('http://127.0.0.1:${SERVE_PORT}/ping').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`
            ],
            interval: '2s',
            timeout: '2s',
            retries: 3,
            start_period: '60s'
          },
          deploy: {
            replicas: options.replicas,
            // A virtual IP needs IPVS in the kernel: DNS round-robin and our gateway do not.
            endpoint_mode: 'dnsrr',
            labels,
            restart_policy: { condition: 'any', delay: '1s' },
            update_config: { order: 'start-first', parallelism: 1 }
          }
        }
      },
      networks: { serve: { name: network, driver: 'overlay', attachable: true, labels } }
    };
    const file = join(cache, 'stack.yaml');
    writeFileSync(file, stringify(stack));
    const existed =
      (
        await client.docker.listServices({
          filters: JSON.stringify({ label: [`${DEPLOY_LABEL.deployment}=${name}`] })
        })
      ).length > 0;
    const deployed = await runCommand('docker', [
      'stack',
      'deploy',
      '--detach=true',
      '--compose-file',
      file,
      name
    ]);
    if (deployed.code !== 0) {
      throw new DeployError(
        `docker stack deploy failed: ${lastLines(deployed.stderr)}`,
        'see the message above'
      );
    }
    let url: string;
    try {
      await waitForReplicas(client, `${name}_model`, options.replicas, log);
      url = await startGateway(
        client,
        server.image,
        name,
        network,
        labels,
        options.port ?? SERVE_PORT
      );
    } catch (error) {
      // Nothing half-deployed stays behind; a deployment that was there before stays.
      if (!existed) await undeploy(name).catch(() => undefined);
      throw error;
    }
    log(`the gateway on ${url} spreads requests over the replicas`);
    return { name, url, replicas: options.replicas, image, version };
  } finally {
    tracker?.close();
    rmSync(cache, { recursive: true, force: true });
  }
}

/**
 * The tracker the replicas read a registered model from: the one given here, which must be one
 * they can reach (not this machine's loopback, not a file on this machine).
 */
function replicaTracker(tracker: ModelTracker, model: string): void {
  const fix =
    'run the tracker on an address the swarm reaches (e.g. `scanflow tracker --host 0.0.0.0 --token T` and --tracker http://<this host>:5000), or serve a model folder, which is copied into the image';
  if (!/^https?:\/\//.test(tracker.location)) {
    throw new ServeError(
      `The replicas read ${model} from the tracker, and ${tracker.location} is a file on this machine`,
      fix
    );
  }
  const host = new URL(tracker.location).hostname;
  // 0.0.0.0 and :: mean "this machine" to a client as well.
  if (['localhost', '[::1]', '[::]', '0.0.0.0'].includes(host) || host.startsWith('127.')) {
    throw new ServeError(
      `The replicas read ${model} from the tracker, and ${tracker.location} is this machine's loopback, which they cannot reach`,
      fix
    );
  }
}

/** The server image with the model (and checker) in it, tagged by a hash of their files. */
async function buildModelImage(
  client: DockerClient,
  base: string,
  name: string,
  modelPath: string | undefined,
  checkerPath: string | undefined
): Promise<string> {
  const context = mkdtempSync(join(tmpdir(), 'scanflow-model-image-'));
  try {
    if (modelPath) copyInto(modelPath, join(context, 'model'));
    if (checkerPath) copyInto(checkerPath, join(context, 'checker'));
    const dockerfile = [
      `FROM ${base}`,
      ...(modelPath ? ['COPY model /model'] : []),
      ...(checkerPath ? ['COPY checker /checker'] : []),
      ''
    ].join('\n');
    writeFileSync(join(context, 'Dockerfile'), dockerfile);
    const image = `scanflow/model-${name}:${hashTree(context)}`;
    if (!(await client.image(image))) {
      await client.build(pack(context) as unknown as NodeJS.ReadableStream, {
        tag: image,
        dockerfile: 'Dockerfile',
        labels: { 'scanflow.image': 'model' }
      });
    }
    return image;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** A folder copied as it is; a single file copied into a folder of its own. */
function copyInto(source: string, target: string): void {
  if (statSync(source).isDirectory()) cpSync(source, target, { recursive: true });
  else {
    mkdirSync(target, { recursive: true });
    cpSync(source, join(target, basename(source)));
  }
}

function hashTree(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${entry}/`);
      else hash.update(`${prefix}${entry}\0`).update(readFileSync(path));
    }
  };
  walk(root, '');
  return hash.digest('hex').slice(0, 20);
}

/** Waits until `count` tasks of the service run and pass their healthcheck. */
async function waitForReplicas(
  client: DockerClient,
  service: string,
  count: number,
  log: (line: string) => void
): Promise<void> {
  const started = Date.now();
  const until = started + 180_000;
  let reported = -1;
  for (;;) {
    // After a redeploy, replicas of the old spec still run (updates start the new one first):
    // only replicas of the service's current spec count.
    const spec = (await client.docker.getService(service).inspect()).Spec?.TaskTemplate
      ?.ContainerSpec as { Image?: string; Args?: string[] } | undefined;
    const current = (task: {
      Spec?: { ContainerSpec?: { Image?: string; Args?: string[] } };
    }): boolean =>
      task.Spec?.ContainerSpec?.Image === spec?.Image &&
      JSON.stringify(task.Spec?.ContainerSpec?.Args ?? []) === JSON.stringify(spec?.Args ?? []);
    const all = await client.docker.listTasks({ filters: JSON.stringify({ service: [service] }) });
    const tasks = all.filter(t => t.DesiredState === 'running');
    // A replica of the old spec answers until its container has stopped, whatever its desired state.
    const stale = all.filter(t => !current(t) && t.Status?.State === 'running').length;
    let healthy = 0;
    for (const task of tasks.filter(current)) {
      const id = task.Status?.ContainerStatus?.ContainerID;
      if (task.Status?.State !== 'running' || !id) continue;
      const state = (
        await client.docker
          .getContainer(id)
          .inspect()
          .catch(() => undefined)
      )?.State;
      if (state?.Health?.Status === 'healthy') healthy++;
    }
    if (healthy !== reported) log(`${healthy} of ${count} replicas healthy`);
    reported = healthy;
    if (healthy >= count && stale === 0) return;
    // Replicas that keep failing will not get better by waiting: say why now.
    const failures = all.filter(
      t =>
        ['failed', 'rejected'].includes(t.Status?.State ?? '') &&
        current(t) &&
        Date.parse(t.CreatedAt ?? '') >= started - 5_000
    );
    if (failures.length >= count + 2) {
      const logs = await runCommand('docker', ['service', 'logs', '--tail', '3', '--raw', service]);
      throw new DeployError(
        `the replicas of ${service} keep failing (${failures.length} tasks so far: ${failures[0].Status?.Err ?? 'exited'}); their last lines:\n${lastLines(logs.stdout + logs.stderr, 6)}`,
        'fix what the lines above say, then serve again'
      );
    }
    const failed = tasks.find(t => t.Status?.Err);
    if (Date.now() > until) {
      throw new DeployError(
        `${healthy} of ${count} replicas of ${service} became healthy within 3 minutes${failed ? `: ${failed.Status?.Err}` : ''}`,
        `see \`docker service logs ${service}\``
      );
    }
    await new Promise(resolve => setTimeout(resolve, 500));
  }
}

/** The gateway container, on the stack's network, published on this machine's loopback. */
async function startGateway(
  client: DockerClient,
  image: string,
  name: string,
  network: string,
  labels: Record<string, string>,
  port: number
): Promise<string> {
  // Serving again under the same name updates the replicas; the gateway stays as it is.
  const existing = client.docker.getContainer(`${name}-gateway`);
  const running = await existing.inspect().catch(() => undefined);
  if (running) {
    if (!running.State.Running) await existing.start();
    return gatewayUrl(existing, name);
  }
  const container = await client.docker.createContainer({
    name: `${name}-gateway`,
    Image: image,
    Cmd: ['gateway', '--service', `${name}_model`, '--port', String(SERVE_PORT)],
    Labels: { ...labels, 'scanflow.service': 'gateway' },
    ExposedPorts: { [`${SERVE_PORT}/tcp`]: {} },
    HostConfig: {
      Init: true,
      NetworkMode: network,
      RestartPolicy: { Name: 'unless-stopped' },
      PortBindings: {
        [`${SERVE_PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: port ? String(port) : '' }]
      }
    }
  });
  await container.start();
  return gatewayUrl(container, name);
}

/** The gateway's URL on this machine, once it answers. */
async function gatewayUrl(container: Docker.Container, name: string): Promise<string> {
  const ports = (await container.inspect()).NetworkSettings.Ports[`${SERVE_PORT}/tcp`];
  const url = `http://127.0.0.1:${ports?.[0]?.HostPort}`;
  const until = Date.now() + 30_000;
  for (;;) {
    if (await answers(`${url}/ping`)) return url;
    if (Date.now() > until) {
      throw new DeployError(
        `the gateway on ${url} did not answer within 30 s`,
        `see \`docker logs ${name}-gateway\``
      );
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
}

/** Sets the replicas of a model service deployed by `serveOnSwarm`; waits until they are healthy. */
export async function scaleModelService(
  name: string,
  replicas: number,
  options: { log?: (line: string) => void; docker?: DockerClient } = {}
): Promise<void> {
  if (!(Number.isInteger(replicas) && replicas >= 0)) {
    throw new ServeError(
      `${replicas} is not a number of replicas`,
      'give a whole number, 0 or more'
    );
  }
  const client = options.docker ?? new DockerClient();
  const services = await client.docker.listServices({
    filters: JSON.stringify({
      label: [`${DEPLOY_LABEL.deployment}=${name}`, 'scanflow.service=model']
    })
  });
  if (services.length === 0) {
    throw new ServeError(
      `There is no model service named ${name} on this swarm`,
      '`scanflow deployments` lists what is deployed; scale a name that `scanflow serve --to swarm` gave'
    );
  }
  const service = services[0].Spec!.Name!;
  const scaled = await runCommand('docker', [
    'service',
    'scale',
    '--detach',
    `${service}=${replicas}`
  ]);
  if (scaled.code !== 0) {
    throw new DeployError(
      `docker service scale failed: ${lastLines(scaled.stderr)}`,
      'see the message above'
    );
  }
  const log = options.log ?? (() => undefined);
  await waitForReplicas(client, service, replicas, log);
  // Replicas being removed answer until their container has stopped: wait until just N run.
  const until = Date.now() + 60_000;
  for (;;) {
    const tasks = await client.docker.listTasks({
      filters: JSON.stringify({ service: [service] })
    });
    const running = tasks.filter(t => t.Status?.State === 'running').length;
    if (running === replicas || Date.now() > until) return;
    await new Promise(resolve => setTimeout(resolve, 250));
  }
}
