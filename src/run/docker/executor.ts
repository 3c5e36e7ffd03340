/**
 * The Docker executor: one container per step attempt, on a network of the run, with the run's
 * outputs volume mounted read-write at /scanflow/outputs and read-only at /scanflow/inputs.
 * Every container, network and volume carries the scanflow labels.
 *
 * A service runs as one container per replica, all known on the run's network by the service's
 * name (Docker's DNS answers with every replica), each with its port published on 127.0.0.1 only:
 * the first replica on the same port when it is free there, the others on ports the engine picks.
 */
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import {
  CommandNotFoundError,
  EngineError,
  RunError,
  ServiceExitedError,
  StepConfigError
} from '../errors';
import type { EventInit } from '../events';
import type {
  AttemptOutcome,
  Executor,
  RunningService,
  RunPlan,
  ServiceExit,
  ServiceRequest,
  StepRequest
} from '../executor';
import { LineSplitter } from '../lines';
import { isLoopbackPortFree } from '../ports';
import { parameterArguments } from '../step-env';
import type { FlatStep, ParameterValue, ServiceSpec } from '../../workflow';
import { DockerClient, LABEL, errorText, statusOf, type DockerOptions } from './client';
import { containerOptions } from './container-config';
import { ensureStepImage } from './images';
import { reaper } from '../reaper';

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

  async prepare(
    plan: RunPlan,
    emit: (event: EventInit) => void,
    signal: AbortSignal
  ): Promise<void> {
    this.plan = plan;
    await this.client.ping();
    for (const step of plan.graph.steps) {
      if (signal.aborted) {
        return;
      }
      const known = step.spec.image !== undefined && this.images.has(step.spec.image);
      let name: string;
      try {
        name = known
          ? step.spec.image!
          : await ensureStepImage(this.client, step, {
              baseDir: plan.baseDir,
              labels: this.labels({ [LABEL.step]: step.id }),
              progress: {
                building: (image, cached) =>
                  emit({ type: 'step-building', step: step.id, image, cached }),
                log: line => emit({ type: 'step-log', step: step.id, stream: 'stdout', line })
              },
              signal
            });
      } catch (error) {
        // A cancelled pull or build is the cancel, not a failure of the step.
        if (signal.aborted) {
          return;
        }
        throw error;
      }
      this.imageNames.set(step.id, name);
      if (!this.images.has(name)) {
        this.images.set(name, (await this.client.image(name))!);
      }
    }
  }

  async open(): Promise<void> {
    this.opened = true;
    // Before anything exists: should this process die from now on, the reaper removes it all.
    reaper.opened(this.runId, {
      docker: this.options.docker ?? {},
      keep: this.plan!.keepOutputs === true
    });
    await Promise.all([
      this.client.createNetwork(this.network, this.labels()),
      this.client.createVolume(this.outputs, this.labels())
    ]);
  }

  /**
   * The gateway of the run's bridge network: the host's own address on that network, reachable
   * from the run's containers and from no other network.
   */
  async trackerHost(): Promise<string> {
    return this.client.networkGateway(this.network);
  }

  serviceUrl(service: FlatStep<ServiceSpec>): string {
    return `http://${service.spec.name}:${service.spec.port}`;
  }

  async startService(request: ServiceRequest): Promise<RunningService> {
    const { service } = request;
    const { port } = service.spec;
    const image = this.imageNames.get(service.id)!;
    const command = request.command ?? this.defaultCommand(image, service.spec.parameters);
    const replicas: Array<{ container: Docker.Container; ended: Promise<AttemptOutcome> }> = [];
    let stopping = false;
    const stop = async (): Promise<void> => {
      stopping = true;
      await Promise.all(
        replicas.map(async ({ container, ended }) => {
          await container.stop({ t: this.options.stopGraceSeconds ?? 3 }).catch(() => undefined);
          await ended.catch(() => undefined);
          this.live.delete(container);
          await container.remove({ force: true, v: true }).catch(() => undefined);
        })
      );
    };
    const endpoints: string[] = [];
    try {
      for (let replica = 1; replica <= (service.spec.replicas ?? 1); replica++) {
        // The same port on this machine when it is free, so that its address is the one the
        // definition names; else (and for further replicas) one that the engine picks.
        const hostPort = replica === 1 && (await isLoopbackPortFree(port)) ? port : undefined;
        let container: Docker.Container;
        try {
          container = await this.client.docker.createContainer(
            containerOptions({
              name: `scanflow-${this.runId}-${service.id}-r${replica}`,
              image,
              command,
              env: { ...request.env, SCANFLOW_REPLICA: String(replica) },
              labels: this.labels({
                [LABEL.workflow]: request.workflow,
                [LABEL.step]: service.id
              }),
              network: this.network,
              volume: this.outputs,
              alias: service.spec.name,
              resources: service.spec.resources,
              publish: { port, hostPort }
            })
          );
        } catch (error) {
          throw new EngineError(
            `the container of replica ${replica} was not created: ${errorText(error)}`,
            service.id
          );
        }
        this.live.add(container);
        const log =
          (service.spec.replicas ?? 1) > 1
            ? (stream: 'stdout' | 'stderr', line: string) =>
                request.log(stream, `[${replica}] ${line}`)
            : request.log;
        const started = await this.startAttached(container, service, log, command, image);
        const ended = started.wait();
        // Handled by `exited` below, once every replica started: a replica may end before that.
        ended.catch(() => undefined);
        replicas.push({ container, ended });
        const published = await this.publishedPort(container, service, port);
        if (published === undefined) {
          // It has ended already: its end says why (e.g. a command the image does not have).
          const outcome = await ended;
          throw new ServiceExitedError(service.id, outcome.exitCode, outcome.lastLine);
        }
        endpoints.push(`http://127.0.0.1:${published}`);
      }
    } catch (error) {
      await stop();
      throw error;
    }
    const exited = new Promise<ServiceExit>(resolve => {
      replicas.forEach(({ ended }, replica) =>
        ended.then(
          outcome => !stopping && resolve({ ...outcome, replica }),
          (error: unknown) =>
            !stopping &&
            resolve({
              exitCode: -1,
              replica,
              error:
                error instanceof RunError
                  ? error
                  : new EngineError(`lost the container: ${errorText(error)}`, service.id)
            })
        )
      );
    });
    return {
      endpoints,
      exited,
      stop,
      probe: (replica, probeCommand, signal) =>
        this.execExitCode(replicas[replica].container, probeCommand, signal)
    };
  }

  /**
   * The port of this machine that a service container's `port` is published on; undefined when
   * the container is no longer running (ports are only bound while it runs).
   */
  private async publishedPort(
    container: Docker.Container,
    service: FlatStep<ServiceSpec>,
    port: number
  ): Promise<string | undefined> {
    const info = await container.inspect();
    if (!info.State.Running) {
      return undefined;
    }
    const binding = info.NetworkSettings.Ports?.[`${port}/tcp`]?.find(
      b => b.HostIp === '127.0.0.1'
    );
    if (!binding?.HostPort) {
      throw new EngineError(`port ${port} was not published on 127.0.0.1`, service.id);
    }
    return binding.HostPort;
  }

  /** Runs a command in a running container and resolves with its exit code (-1 when stopped). */
  private async execExitCode(
    container: Docker.Container,
    command: string[],
    signal: AbortSignal
  ): Promise<number> {
    const exec = await container.exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const ended = new Promise<void>(resolve => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    stream.resume();
    await ended;
    (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    if (signal.aborted) {
      return -1;
    }
    const info = await exec.inspect();
    return info.ExitCode ?? -1;
  }

  async runStep(request: StepRequest): Promise<AttemptOutcome> {
    const { step } = request;
    const image = this.imageNames.get(step.id)!;
    const command = request.command ?? this.defaultCommand(image, step.spec.parameters);
    let container: Docker.Container;
    try {
      container = await this.client.docker.createContainer(
        containerOptions({
          name: `scanflow-${this.runId}-${step.id}-${request.attempt}`,
          image,
          command,
          env: request.env,
          labels: this.labels({ [LABEL.workflow]: request.workflow, [LABEL.step]: step.id }),
          network: this.network,
          volume: this.outputs,
          alias: step.spec.name,
          resources: step.spec.resources
        })
      );
    } catch (error) {
      throw new EngineError(`the container was not created: ${errorText(error)}`, step.id);
    }
    this.live.add(container);
    try {
      const outcome = await this.attachAndWait(container, request, command, image);
      if (outcome.exitCode === 0 && step.spec.outputs?.length && this.plan!.keepOutputs !== false) {
        // The volume holds outputs now: kept by the run's own cleanup, and by the reaper's.
        reaper.keep(this.runId);
      }
      return outcome;
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
    const started = await this.startAttached(container, request.step, request.log, command, image);
    const stop = (): void => {
      container.stop({ t: this.options.stopGraceSeconds ?? 3 }).catch(() => undefined);
    };
    request.signal.addEventListener('abort', stop);
    if (request.signal.aborted) {
      stop();
    }
    try {
      return await started.wait();
    } finally {
      request.signal.removeEventListener('abort', stop);
    }
  }

  /**
   * Attaches to a container's output, starts it, and returns how to wait for its end (its exit
   * code and last line, once its output is drained).
   */
  private async startAttached(
    container: Docker.Container,
    step: FlatStep,
    log: StepRequest['log'],
    command: string[],
    image: string
  ): Promise<{ wait(): Promise<AttemptOutcome> }> {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = new LineSplitter(line => log('stdout', line));
    const err = new LineSplitter(line => log('stderr', line));
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
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      const text = errorText(error);
      if (
        /exec: "[^"]*": (executable file not found|stat .*no such file or directory)/.test(text)
      ) {
        throw new CommandNotFoundError(step.id, command[0] ?? '', `image '${image}'`);
      }
      if (/could not select device driver/.test(text)) {
        throw new StepConfigError(
          `it asks for ${step.spec.resources?.gpus} GPUs, which this Docker engine cannot give (${text})`,
          step.id,
          "install the NVIDIA container toolkit, or remove 'resources.gpus'"
        );
      }
      throw new EngineError(`the container did not start: ${text}`, step.id);
    }

    const wait = async (): Promise<AttemptOutcome> => {
      try {
        const result = (await container.wait()) as { StatusCode: number };
        // The attach stream ends once the container's output is drained.
        await Promise.race([ended, new Promise(resolve => setTimeout(resolve, 2000))]);
        out.end();
        err.end();
        // The init process (tini) reports a command it cannot exec and exits with 127.
        if (result.StatusCode === 127 && /^\[FATAL tini .*\] exec .* failed/.test(err.last ?? '')) {
          throw new CommandNotFoundError(step.id, command[0] ?? '', `image '${image}'`);
        }
        return { exitCode: result.StatusCode, lastLine: err.last ?? out.last };
      } catch (error) {
        if (error instanceof RunError) {
          throw error;
        }
        if (statusOf(error) === 404) {
          return { exitCode: 137 };
        }
        throw new EngineError(`lost the container: ${errorText(error)}`, step.id);
      } finally {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      }
    };
    return { wait };
  }

  /**
   * For a step without a command: the image's own command followed by the parameter arguments
   * (Docker puts the image's entrypoint, if any, in front).
   */
  private defaultCommand(image: string, parameters?: Record<string, ParameterValue>): string[] {
    return [...(this.images.get(image)?.Config?.Cmd ?? []), ...parameterArguments(parameters)];
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
    // Only now: had the sweep failed, the reaper would try again once this process ends.
    reaper.closed(this.runId);
  }
}
