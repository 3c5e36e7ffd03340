/**
 * A thin, typed layer over dockerode for what the engine needs: ping, images (inspect, pull,
 * build with every build event checked), labelled networks and volumes, and the sweep of labelled
 * objects. Containers are driven by the Docker executor directly through dockerode.
 */
import type Docker from 'dockerode';
import { DaemonUnreachableError, EngineError } from '../errors';
import { BuildTrace } from './build-trace';

/** Labels on every object scanflow creates (DESIGN.md, section 3). */
export const LABEL = {
  run: 'scanflow.run',
  workflow: 'scanflow.workflow',
  step: 'scanflow.step',
  /** On images built from a step's dockerfile or base: the content hash of the build context. */
  context: 'scanflow.context'
} as const;

export type DockerOptions = Docker.DockerOptions;

/** One event of a build or pull stream, as the engine sends it. */
interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** The build or pull failed; `message` is the engine's own explanation. */
export class DockerStreamError extends Error {}

/** The build was stopped by its abort signal, and what it had created removed. */
export class BuildCancelledError extends Error {
  constructor() {
    super('the build was cancelled');
  }
}

export class DockerClient {
  readonly docker: Docker;
  /** Where the engine is expected, for messages. */
  readonly where: string;

  constructor(options?: DockerOptions) {
    // Loaded here, by the first client: dockerode (with ssh2 and gRPC) takes a good part of a
    // second to load, which commands and runs that never reach Docker should not pay.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Dockerode = require('dockerode') as typeof Docker;
    this.docker = new Dockerode(options);
    this.where =
      options?.socketPath ??
      (options?.host ? `${options.host}:${options.port ?? ''}` : undefined) ??
      process.env.DOCKER_HOST ??
      '/var/run/docker.sock';
  }

  /** Throws DaemonUnreachableError unless the engine answers within `timeoutMs`. */
  async ping(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.docker.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs
          );
        })
      ]);
    } catch (error) {
      throw new DaemonUnreachableError(this.where, errorText(error));
    } finally {
      clearTimeout(timer);
    }
  }

  /** The image's details, or undefined when it is not on this machine. */
  async image(name: string): Promise<Docker.ImageInspectInfo | undefined> {
    try {
      return await this.docker.getImage(name).inspect();
    } catch (error) {
      if (statusOf(error) === 404) {
        return undefined;
      }
      throw error;
    }
  }

  /** Tags `source` as `target` (REGISTRY/name:tag) and pushes it; DockerStreamError when refused. */
  async pushAs(source: string, target: string, signal?: AbortSignal): Promise<void> {
    const at = target.lastIndexOf(':');
    const tagged =
      at > target.lastIndexOf('/')
        ? { repo: target.slice(0, at), tag: target.slice(at + 1) }
        : { repo: target, tag: 'latest' };
    let stream: NodeJS.ReadableStream;
    try {
      await this.docker.getImage(source).tag(tagged);
      // The engine wants an X-Registry-Auth header even for a registry without authentication;
      // the user's credentials stay with the engine (docker login), so it is empty.
      stream = await this.docker
        .getImage(target)
        .push({ abortSignal: signal, authconfig: { serveraddress: target.split('/')[0] } });
    } catch (error) {
      throw new DockerStreamError(errorText(error));
    }
    await this.follow(stream, undefined, signal);
  }

  /** Pulls an image; throws DockerStreamError with the engine's reason when it cannot. */
  async pull(name: string, signal?: AbortSignal): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.pull(name, { abortSignal: signal });
    } catch (error) {
      throw new DockerStreamError(errorText(error));
    }
    await this.follow(stream, undefined, signal);
  }

  /**
   * Builds an image from a tar stream of the build context. The API answers 200 even when the
   * build fails, so every event is checked: an error event rejects with DockerStreamError.
   * Aborting `signal` drops the request, which makes the engine stop the build; what the build
   * had created (its running container, the images it committed) is then removed, and the call
   * rejects with BuildCancelledError.
   */
  async build(
    context: NodeJS.ReadableStream,
    options: { tag: string; dockerfile: string; labels: Record<string, string> },
    onLine?: (line: string) => void,
    signal?: AbortSignal
  ): Promise<void> {
    const trace = new BuildTrace();
    try {
      const stream = await this.docker.buildImage(context, {
        t: options.tag,
        dockerfile: options.dockerfile,
        labels: options.labels,
        rm: true,
        forcerm: true,
        abortSignal: signal
      });
      await this.follow(
        stream,
        line => {
          trace.read(line);
          onLine?.(line);
        },
        signal
      );
    } catch (error) {
      if (signal?.aborted) {
        await this.removeBuildLeftovers(trace);
        throw new BuildCancelledError();
      }
      throw error instanceof DockerStreamError ? error : new DockerStreamError(errorText(error));
    }
  }

  /**
   * Removes a stopped build's container and committed images, newest first. An image that has
   * children or is in use (another build took it as cache meanwhile) is kept.
   */
  private async removeBuildLeftovers(trace: BuildTrace): Promise<void> {
    if (trace.container) {
      await ignoreMissing(this.docker.getContainer(trace.container).remove({ force: true }));
    }
    for (const image of [...trace.images].reverse()) {
      await ignoreMissing(this.docker.getImage(image).remove({ noprune: true }));
    }
  }

  async createNetwork(name: string, labels: Record<string, string>): Promise<void> {
    await this.docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels });
  }

  /** The IPv4 gateway of a network (the host's address on it), from its IPAM configuration. */
  async networkGateway(name: string): Promise<string> {
    const info = (await this.docker.getNetwork(name).inspect()) as {
      IPAM?: { Config?: Array<{ Gateway?: string }> };
    };
    const gateway = info.IPAM?.Config?.map(c => c.Gateway).find(
      g => g !== undefined && /^\d+\.\d+\.\d+\.\d+$/.test(g)
    );
    if (!gateway) {
      throw new EngineError(`network ${name} has no IPv4 gateway`);
    }
    return gateway;
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.docker.createVolume({ Name: name, Labels: labels });
  }

  /**
   * Removes the containers, networks and volumes that carry all the given labels (a value of
   * undefined matches any value). Returns what was removed, by kind.
   */
  async removeLabelled(
    labels: Record<string, string | undefined>,
    kinds: { volumes: boolean; except?: string } = { volumes: true }
  ): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
    // Objects that carry the `except` label are kept (deployments live until `undeploy`).
    const kept = (objectLabels: Record<string, string> | null | undefined): boolean =>
      kinds.except !== undefined && objectLabels?.[kinds.except] !== undefined;
    const label = Object.entries(labels).map(([k, v]) => (v === undefined ? k : `${k}=${v}`));
    const filters = JSON.stringify({ label });
    const removed = {
      containers: [] as string[],
      networks: [] as string[],
      volumes: [] as string[]
    };

    const containers = (await this.docker.listContainers({ all: true, filters })).filter(
      c => !kept(c.Labels)
    );
    await Promise.all(
      containers.map(async info => {
        await ignoreMissing(this.docker.getContainer(info.Id).remove({ force: true, v: true }));
        removed.containers.push(info.Names[0]?.replace(/^\//, '') ?? info.Id);
      })
    );
    const networks = (await this.docker.listNetworks({ filters })).filter(n => !kept(n.Labels));
    for (const network of networks) {
      await ignoreMissing(this.docker.getNetwork(network.Id).remove());
      removed.networks.push(network.Name);
    }
    if (kinds.volumes) {
      const { Volumes: volumes } = await this.docker.listVolumes({ filters });
      for (const volume of (volumes ?? []).filter(v => !kept(v.Labels))) {
        await ignoreMissing(this.docker.getVolume(volume.Name).remove({ force: true }));
        removed.volumes.push(volume.Name);
      }
    }
    return removed;
  }

  private follow(
    stream: NodeJS.ReadableStream,
    onLine?: (line: string) => void,
    signal?: AbortSignal
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      let failure: string | undefined;
      // Dropping the response ends the request, which is how the engine learns to stop.
      const drop = (): void => (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
      signal?.addEventListener('abort', drop, { once: true });
      if (signal?.aborted) drop();
      this.docker.modem.followProgress(
        stream,
        error => {
          signal?.removeEventListener('abort', drop);
          if (signal?.aborted) {
            reject(new DockerStreamError('cancelled'));
          } else if (error || failure) {
            reject(new DockerStreamError(failure ?? errorText(error)));
          } else {
            resolve();
          }
        },
        (event: ProgressEvent) => {
          if (event.error || event.errorDetail) {
            failure ??= (event.errorDetail?.message ?? event.error ?? 'unknown error').trim();
          }
          const text = event.stream ?? event.status;
          if (onLine && text) {
            text
              .split('\n')
              .filter(line => line.trim())
              .forEach(line => onLine(line));
          }
        }
      );
    });
  }
}

/** The HTTP status of a dockerode error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The engine's explanation of an error, without dockerode's prefixes, on one line. */
export function errorText(error: unknown): string {
  const json = (error as { json?: { message?: string } })?.json;
  const text =
    json?.message ??
    (error as Error)?.message?.replace(/^\(HTTP code \d+\) [^-]*- /, '') ??
    String(error);
  return text.replace(/\s+/g, ' ').trim();
}

async function ignoreMissing(removal: Promise<unknown>): Promise<void> {
  try {
    await removal;
  } catch (error) {
    const status = statusOf(error);
    // 404: already gone; 409: removal already in progress.
    if (status !== 404 && status !== 409) {
      throw error;
    }
  }
}
