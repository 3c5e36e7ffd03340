/**
 * The Docker executor: one container per step attempt, on a network of the run, with the run's
 * outputs volume mounted read-write at /scanflow/outputs and read-only at /scanflow/inputs.
 * Every container, network and volume carries the scanflow labels.
 */
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { parseMemory } from '../../workflow';
import { CommandNotFoundError, EngineError, RunError } from '../errors';
import type { EventInit } from '../events';
import type { Executor, RunPlan, AttemptOutcome, StepRequest } from '../executor';
import { LineSplitter } from '../lines';
import { DockerClient, LABEL, errorText, statusOf, type DockerOptions } from './client';
import { ensureStepImage } from './images';

export const CONTAINER_OUTPUTS = '/scanflow/outputs';
export const CONTAINER_INPUTS = '/scanflow/inputs';
/** The name under which step containers reach this machine. */
export const HOST_ALIAS = 'host.docker.internal';
const TRACKER_VARIABLES = ['MLFLOW_TRACKING_URI', 'SCANFLOW_TRACKER_URI'];

export interface DockerExecutorOptions {
  /** How to reach the engine; by default DOCKER_HOST or the local socket. */
  docker?: DockerOptions;
  /** Seconds between SIGTERM and SIGKILL when a step is stopped. */
  stopGraceSeconds?: number;
}

export class DockerExecutor implements Executor {
  readonly kind = 'docker';
  readonly client: DockerClient;
  private plan?: RunPlan;
  private readonly images = new Map<string, Docker.ImageInspectInfo>();
  private readonly imageNames = new Map<string, string>();
  private readonly live = new Set<Docker.Container>();
  private opened = false;

  constructor(private readonly options: DockerExecutorOptions = {}) {
    this.client = new DockerClient(options.docker);
  }

  get network(): string {
    return `scanflow-${this.runId}`;
  }

  get outputs(): string {
    return `scanflow-${this.runId}-outputs`;
  }

  private get runId(): string {
    return this.plan?.runId ?? 'unplanned';
  }

  private labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [LABEL.run]: this.runId, [LABEL.workflow]: this.plan!.spec.name, ...extra };
  }

  async prepare(plan: RunPlan, emit: (event: EventInit) => void): Promise<void> {
    this.plan = plan;
    await this.client.ping();
    for (const step of plan.graph.steps) {
      const known = step.spec.image !== undefined && this.images.has(step.spec.image);
      const name = known
        ? step.spec.image!
        : await ensureStepImage(this.client, step, plan.baseDir, {
            building: (image, cached) =>
              emit({ type: 'step-building', step: step.id, image, cached }),
            log: line => emit({ type: 'step-log', step: step.id, stream: 'stdout', line })
          });
      this.imageNames.set(step.id, name);
      if (!this.images.has(name)) {
        this.images.set(name, (await this.client.image(name))!);
      }
    }
  }

  async open(): Promise<void> {
    this.opened = true;
    await Promise.all([
      this.client.createNetwork(this.network, this.labels()),
      this.client.createVolume(this.outputs, this.labels())
    ]);
  }

  async runStep(request: StepRequest): Promise<AttemptOutcome> {
    const { step } = request;
    const image = this.imageNames.get(step.id)!;
    const command = request.command ?? this.defaultCommand(image, step.spec.parameters);
    const resources = step.spec.resources ?? {};
    const memory = resources.memory === undefined ? undefined : parseMemory(resources.memory);
    const container = await this.client.docker.createContainer({
      name: `scanflow-${this.runId}-${step.id}-${request.attempt}`,
      Image: image,
      Cmd: command,
      Env: Object.entries({
        ...reachableFromContainers(request.env),
        SCANFLOW_INPUTS: CONTAINER_INPUTS,
        SCANFLOW_OUTPUTS: CONTAINER_OUTPUTS
      }).map(([key, value]) => `${key}=${value}`),
      Labels: this.labels({ [LABEL.workflow]: request.workflow, [LABEL.step]: step.id }),
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      HostConfig: {
        NetworkMode: this.network,
        // A real init as PID 1, so that SIGTERM stops the step at once.
        Init: true,
        ExtraHosts: [`${HOST_ALIAS}:host-gateway`],
        Mounts: [
          { Type: 'volume', Source: this.outputs, Target: CONTAINER_OUTPUTS },
          { Type: 'volume', Source: this.outputs, Target: CONTAINER_INPUTS, ReadOnly: true }
        ],
        NanoCpus: resources.cpus ? Math.round(resources.cpus * 1e9) : undefined,
        Memory: memory,
        DeviceRequests: resources.gpus
          ? [{ Driver: '', Count: resources.gpus, Capabilities: [['gpu']] }]
          : undefined
      },
      NetworkingConfig: {
        EndpointsConfig: { [this.network]: { Aliases: [step.spec.name] } }
      }
    });
    this.live.add(container);
    try {
      return await this.attachAndWait(container, request, command, image);
    } finally {
      this.live.delete(container);
      await container.remove({ force: true, v: true }).catch(() => undefined);
    }
  }

  private async attachAndWait(
    container: Docker.Container,
    request: StepRequest,
    command: string[],
    image: string
  ): Promise<AttemptOutcome> {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = new LineSplitter(line => request.log('stdout', line));
    const err = new LineSplitter(line => request.log('stderr', line));
    stdout.on('data', (chunk: Buffer) => out.push(chunk));
    stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const ended = new Promise<void>(resolve => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    this.client.docker.modem.demuxStream(stream, stdout, stderr);

    try {
      await container.start();
    } catch (error) {
      const text = errorText(error);
      if (
        /exec: "[^"]*": (executable file not found|stat .*no such file or directory)/.test(text)
      ) {
        throw new CommandNotFoundError(request.step.id, command[0] ?? '', `image '${image}'`);
      }
      throw new EngineError(`the container did not start: ${text}`, request.step.id);
    }

    const stop = (): void => {
      container.stop({ t: this.options.stopGraceSeconds ?? 3 }).catch(() => undefined);
    };
    request.signal.addEventListener('abort', stop);
    if (request.signal.aborted) {
      stop();
    }
    try {
      const result = (await container.wait()) as { StatusCode: number };
      // The attach stream ends once the container's output is drained.
      await Promise.race([ended, new Promise(resolve => setTimeout(resolve, 2000))]);
      out.end();
      err.end();
      // The init process (tini) reports a command it cannot exec and exits with 127.
      if (result.StatusCode === 127 && /^\[FATAL tini .*\] exec .* failed/.test(err.last ?? '')) {
        throw new CommandNotFoundError(request.step.id, command[0] ?? '', `image '${image}'`);
      }
      return { exitCode: result.StatusCode, lastLine: err.last ?? out.last };
    } catch (error) {
      if (error instanceof RunError) {
        throw error;
      }
      if (statusOf(error) === 404) {
        return { exitCode: 137 };
      }
      throw new EngineError(`lost the container: ${errorText(error)}`, request.step.id);
    } finally {
      request.signal.removeEventListener('abort', stop);
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    }
  }

  /** The image's own entrypoint and command, followed by the parameter arguments. */
  private defaultCommand(image: string, parameters: Record<string, unknown> = {}): string[] {
    const config = this.images.get(image)?.Config;
    const args = Object.entries(parameters).map(([k, v]) => `--${k}=${String(v)}`);
    return [...(config?.Cmd ?? []), ...args];
  }

  async close(keepOutputs: boolean): Promise<void> {
    if (!this.plan || !this.opened) {
      return;
    }
    await Promise.all(
      [...this.live].map(c => c.remove({ force: true, v: true }).catch(() => undefined))
    );
    // Sweep by label as well: nothing of the run outlives it, whatever happened above.
    const run = { [LABEL.run]: this.runId };
    await this.client.removeLabelled(run, { volumes: !keepOutputs });
  }
}

/**
 * A tracker on this machine's loopback address is this machine's, not the container's: steps
 * reach it as host.docker.internal (the tracker must then listen on an address the Docker
 * network can reach, such as 0.0.0.0 or the bridge's gateway).
 */
export function reachableFromContainers(env: Record<string, string>): Record<string, string> {
  const copy = { ...env };
  for (const name of TRACKER_VARIABLES) {
    const value = copy[name];
    if (value === undefined) {
      continue;
    }
    try {
      const url = new URL(value);
      if (['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
        url.hostname = HOST_ALIAS;
        copy[name] = url.toString().replace(/\/$/, value.endsWith('/') ? '/' : '');
      }
    } catch {
      // Not a URL (e.g. a file store path): passed as it is.
    }
  }
  return copy;
}
