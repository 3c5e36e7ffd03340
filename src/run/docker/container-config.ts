/** How a step attempt becomes a container: image, command, environment, mounts, limits, labels. */
import type Docker from 'dockerode';
import { parseMemory, type Resources } from '../../workflow';

export const CONTAINER_OUTPUTS = '/scanflow/outputs';
export const CONTAINER_INPUTS = '/scanflow/inputs';
/** The name under which step containers reach this machine. */
export const HOST_ALIAS = 'host.docker.internal';
const TRACKER_VARIABLES = ['MLFLOW_TRACKING_URI', 'SCANFLOW_TRACKER_URI'];

export interface ContainerRequest {
  name: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** The run's network, where the step is known by `alias` (its name). */
  network: string;
  alias: string;
  /** The run's outputs volume: read-write at /scanflow/outputs, read-only at /scanflow/inputs. */
  volume: string;
  resources?: Resources;
  /**
   * A service's port, published on this machine's 127.0.0.1 only: on `hostPort`, or on a free
   * port the engine picks when it is undefined.
   */
  publish?: { port: number; hostPort?: number };
}

export function containerOptions(request: ContainerRequest): Docker.ContainerCreateOptions {
  const resources = request.resources ?? {};
  return {
    name: request.name,
    Image: request.image,
    Cmd: request.command,
    Env: Object.entries({
      ...reachableFromContainers(request.env),
      SCANFLOW_INPUTS: CONTAINER_INPUTS,
      SCANFLOW_OUTPUTS: CONTAINER_OUTPUTS
    }).map(([key, value]) => `${key}=${value}`),
    Labels: request.labels,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    ExposedPorts: request.publish ? { [`${request.publish.port}/tcp`]: {} } : undefined,
    HostConfig: {
      NetworkMode: request.network,
      PortBindings: request.publish
        ? {
            [`${request.publish.port}/tcp`]: [
              { HostIp: '127.0.0.1', HostPort: String(request.publish.hostPort ?? '') }
            ]
          }
        : undefined,
      // A real init as PID 1, so that SIGTERM stops the step at once.
      Init: true,
      ExtraHosts: [`${HOST_ALIAS}:host-gateway`],
      Mounts: [
        { Type: 'volume', Source: request.volume, Target: CONTAINER_OUTPUTS },
        { Type: 'volume', Source: request.volume, Target: CONTAINER_INPUTS, ReadOnly: true }
      ],
      NanoCpus: resources.cpus ? Math.round(resources.cpus * 1e9) : undefined,
      Memory: resources.memory === undefined ? undefined : parseMemory(resources.memory),
      DeviceRequests: resources.gpus
        ? [{ Driver: '', Count: resources.gpus, Capabilities: [['gpu']] }]
        : undefined
    },
    NetworkingConfig: {
      EndpointsConfig: { [request.network]: { Aliases: [request.alias] } }
    }
  };
}

/**
 * A tracker on this machine's loopback address is this machine's, not the container's: steps
 * reach it as host.docker.internal (the tracker must then listen on an address the Docker
 * network can reach, such as the bridge's gateway). The run's embedded trackers need none of
 * this: they listen on the run network's gateway and are given to steps by that address; this is
 * for an external `--tracker http://127.0.0.1:...`.
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
        copy[name] = value.endsWith('/') ? url.toString() : url.toString().replace(/\/$/, '');
      }
    } catch {
      // Not a URL (e.g. a file store path): passed as it is.
    }
  }
  return copy;
}
