/**
 * `scanflow export`: plans a deployment, optionally builds and pushes its images, and writes the
 * target's files into a folder. The deployers run exactly these files.
 *
 *   const written = await exportWorkflow(spec, { target: 'compose', outDir: 'deploy', baseDir });
 *   // written.files: ['deploy/compose.yaml', 'deploy/.env'], written.start: how to start it
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { DockerClient } from '../run/docker/client';
import { ensureStepImage } from '../run/docker/images';
import { flatten, type WorkflowSpec } from '../workflow';
import { renderCompose } from './compose';
import { DeployError, ExportError } from './errors';
import { renderKubernetes } from './k8s';
import {
  planDeployment,
  newToken,
  refusals,
  registryTag,
  TOKEN_VARIABLE,
  type DeploymentPlan,
  type PlanOptions,
  type Target
} from './plan';
import { renderStack } from './swarm';
import { buildTrackerImage, trackerImageTag } from './tracker-image';

export interface ExportOptions {
  target: Target;
  /** The folder the files go to (created when missing). */
  outDir: string;
  /** The folder the definition's relative paths are resolved against. */
  baseDir: string;
  /** Build the step images (and the tracker image) first, as `scanflow run` builds them. */
  build?: boolean;
  /** Tag and push every image there (HOST:PORT); the files name the registry's tags. */
  registry?: string;
  /** An external tracker for every step, or false for none. */
  tracker?: string | false;
  runId?: string;
  name?: string;
  /** Kubernetes: an Argo Workflow (default) or plain Jobs released in order. */
  k8sFlavor?: 'argo' | 'jobs';
  /** The trackers' token (default: a fresh one). */
  token?: string;
  /** Progress lines (building, pushing). */
  log?: (line: string) => void;
  docker?: DockerClient;
}

export interface ExportResult {
  plan: DeploymentPlan;
  /** The files written, in order. */
  files: string[];
  /** The main file: the compose file, the stack file or the manifests. */
  main: string;
  /** The shell lines that start the deployment by hand. */
  start: string[];
  token: string;
  /** Kubernetes: the manifests written, as objects. */
  manifests?: object[];
}

export const MAIN_FILE: Record<Target, string> = {
  compose: 'compose.yaml',
  swarm: 'stack.yaml',
  k8s: 'kubernetes.yaml'
};

export async function exportWorkflow(
  spec: WorkflowSpec,
  options: ExportOptions
): Promise<ExportResult> {
  const log = options.log ?? (() => undefined);
  const planOptions: PlanOptions = {
    target: options.target,
    baseDir: options.baseDir,
    runId: options.runId,
    name: options.name,
    registry: options.registry,
    tracker: options.tracker,
    trackerImage: trackerImageTag()
  };
  if (options.build) {
    // What the target refuses whatever is built is reported before any build starts.
    const graph = flatten(spec);
    const stillRefused = refusals(graph, {
      ...planOptions,
      built: Object.fromEntries(
        graph.steps.filter(s => s.spec.image === undefined).map(s => [s.id, 'built'])
      )
    });
    if (stillRefused.length > 0) throw new ExportError(options.target, stillRefused);
    planOptions.built = await buildImages(spec, options, log);
  }
  const plan = planDeployment(spec, planOptions);
  if (options.registry) await pushImages(plan, options, log);

  const token = options.token ?? newToken();
  mkdirSync(options.outDir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string, mode?: number): void => {
    const path = join(options.outDir, name);
    writeFileSync(path, text, mode === undefined ? undefined : { mode });
    if (mode !== undefined) chmodSync(path, mode);
    files.push(path);
  };
  const header = `# Written by scanflow export (${plan.target}) from workflow '${spec.name}', run ${plan.runId}.\n`;
  const main = MAIN_FILE[options.target];
  const dir = relative(process.cwd(), options.outDir) || '.';
  let start: string[];
  let manifests: object[] | undefined;
  switch (options.target) {
    case 'compose':
      write(main, header + stringify(renderCompose(plan), { lineWidth: 0 }));
      // docker-compose reads .env beside the file; the token stays out of the compose file.
      write('.env', `${TOKEN_VARIABLE}=${token}\n`, 0o600);
      start = [`docker-compose -p ${plan.name} -f ${join(dir, main)} up -d`];
      break;
    case 'swarm':
      write(main, header + stringify(renderStack(plan), { lineWidth: 0 }));
      write('.env', `${TOKEN_VARIABLE}=${token}\n`, 0o600);
      start = [
        `scanflow deploy ${join(dir, main)} --to swarm   # releases the steps in order`,
        `# or by hand (steps start at once, ignoring their order${plan.services.length ? '; services stay at 0 replicas until scaled' : ''}):`,
        `set -a; . ${join(dir, '.env')}; set +a; docker stack deploy -c ${join(dir, main)} ${plan.name}`
      ];
      break;
    case 'k8s': {
      manifests = renderKubernetes(plan, { token, flavor: options.k8sFlavor ?? 'argo' });
      write(main, header + manifests.map(m => stringify(m, { lineWidth: 0 })).join('---\n'));
      start =
        options.k8sFlavor === 'jobs'
          ? [
              `scanflow deploy <workflow> --to k8s   # applies the files and releases the Jobs in order`,
              `# the Jobs are suspended${plan.services.length ? " and the services' Deployments at 0 replicas" : ''}: kubectl apply alone starts only the tracker`
            ]
          : [`kubectl apply --server-side -f ${join(dir, main)}`];
      break;
    }
  }
  return { plan, files, main: join(options.outDir, main), start, token, manifests };
}

/** Builds the images of `dockerfile`/`base` steps and the tracker image; by step id. */
async function buildImages(
  spec: WorkflowSpec,
  options: ExportOptions,
  log: (line: string) => void
): Promise<Record<string, string>> {
  const client = options.docker ?? new DockerClient();
  await client.ping();
  const built: Record<string, string> = {};
  for (const step of flatten(spec).steps) {
    if (step.spec.image !== undefined) continue;
    built[step.id] = await ensureStepImage(client, step, {
      baseDir: options.baseDir,
      labels: { 'scanflow.export': spec.name },
      progress: {
        building: (image, cached) =>
          log(`${cached ? 'reusing' : 'building'} ${image} for step ${step.id}`),
        log: () => undefined
      }
    });
  }
  const tracker = await buildTrackerImage(client);
  log(`${tracker.cached ? 'reusing' : 'built'} the tracker image ${tracker.image}`);
  return built;
}

/** Tags every image of the deployment with the registry's name and pushes it there. */
async function pushImages(
  plan: DeploymentPlan,
  options: ExportOptions,
  log: (line: string) => void
): Promise<void> {
  const client = options.docker ?? new DockerClient();
  await client.ping();
  const images = new Map<string, string>(); // registry tag -> local image
  const local = (tagged: string): string => tagged.slice(options.registry!.length + 1);
  for (const step of [...plan.steps, ...plan.services]) {
    if (step.image) images.set(step.image, local(step.image));
  }
  if (plan.trackers.length) images.set(plan.trackerImage, local(plan.trackerImage));
  for (const [tagged, source] of images) {
    if (!(await client.image(source))) {
      throw new DeployError(
        `the image ${source} is not on this machine, so it cannot be pushed to ${options.registry}`,
        source.startsWith('scanflow/tracker')
          ? 'export with --build, which builds it'
          : `build or pull it first (docker pull ${source})`
      );
    }
    log(`pushing ${tagged}`);
    await client.pushAs(source, tagged);
  }
}

export { registryTag };
