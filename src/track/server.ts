/**
 * The tracking server: MLflow's REST API over node:http. It only routes, authenticates, reads
 * bodies and writes answers; the handlers (handlers.ts) call the store, and every failure is sent
 * in MLflow's format `{ "error_code": ..., "message": ... }` with MLflow's HTTP status.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { ArtifactStore } from './artifacts';
import {
  BadRequestError,
  EndpointNotFoundError,
  InvalidParameterError,
  PayloadTooLargeError,
  TrackerError,
  UnauthenticatedError
} from './errors';
import { registryHandlers, trackingHandlers, type Handler } from './handlers';
import type { ModelRegistryStore, TrackingStore } from './store';
import { LIMITS, optionalString, requiredString, type Fields } from './validation';

/** The MLflow version whose REST API this server answers like. */
export const MLFLOW_API_VERSION = '3.1.0';

const API_PREFIXES = ['/api/2.0/mlflow/', '/ajax-api/2.0/mlflow/', '/api/2.0/preview/mlflow/'];
const ARTIFACT_PREFIXES = [
  '/api/2.0/mlflow-artifacts/artifacts',
  '/ajax-api/2.0/mlflow-artifacts/artifacts'
];

export interface TrackerServerOptions {
  store: TrackingStore;
  registry?: ModelRegistryStore;
  /** Serves the mlflow-artifacts proxy from this store; without it those routes answer 404. */
  artifacts?: ArtifactStore;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** The largest artifact accepted, in bytes (default 1 GiB). */
  maxArtifactBytes?: number;
}

/** Numbers JSON cannot write are sent as protobuf's JSON strings. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  }
  return value;
}

function send(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body, jsonReplacer);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text)
  });
  response.end(text);
}

function queryFields(query: string): Fields {
  const fields: Fields = {};
  for (const [key, value] of new URLSearchParams(query)) {
    const earlier = fields[key];
    fields[key] =
      earlier === undefined
        ? value
        : Array.isArray(earlier)
          ? [...earlier, value]
          : [earlier, value];
  }
  return fields;
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(
        new PayloadTooLargeError(`The request body is ${declared} bytes; the limit is ${limit}.`)
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(
          new PayloadTooLargeError(`The request body is larger than the limit of ${limit} bytes.`)
        );
        request.removeAllListeners('data');
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

async function jsonFields(request: IncomingMessage): Promise<Fields> {
  const body = await readBody(request, LIMITS.jsonBodyBytes);
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new BadRequestError(`Malformed JSON in the request body: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidParameterError('The request body must be a JSON object.');
  }
  return parsed as Fields;
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidParameterError(`Invalid percent-encoding in the path '${raw.slice(0, 200)}'.`);
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Builds the request listener; `createTrackerServer` wraps it in an http.Server. */
export function trackerRequestListener(
  options: TrackerServerOptions
): (request: IncomingMessage, response: ServerResponse) => void {
  const routes = new Map<string, Handler>(Object.entries(trackingHandlers(options.store)));
  if (options.registry) {
    for (const [route, handler] of Object.entries(registryHandlers(options.registry)))
      routes.set(route, handler);
  }
  const artifacts = options.artifacts;
  const maxArtifactBytes = options.maxArtifactBytes ?? 1024 ** 3;
  if (artifacts) {
    // The tracking API's own listing, for runs whose artifacts this server proxies.
    routes.set('GET artifacts/list', async f => {
      const run = await options.store.getRun(
        optionalString(f, 'run_id') || requiredString(f, 'run_uuid')
      );
      const path = optionalString(f, 'path') ?? '';
      const prefix = /^mlflow-artifacts:\/(.*)$/.exec(run.info.artifact_uri)?.[1];
      if (prefix === undefined) return { root_uri: run.info.artifact_uri, files: [] };
      const files = await artifacts.list([prefix, path].filter(Boolean).join('/'));
      return {
        root_uri: run.info.artifact_uri,
        files: files.map(file => ({ ...file, path: path ? `${path}/${file.path}` : file.path }))
      };
    });
  }
  const methods = new Map<string, Set<string>>();
  for (const route of routes.keys()) {
    const [method, path] = route.split(' ');
    methods.set(path, (methods.get(path) ?? new Set()).add(method));
  }

  async function artifactRoute(
    request: IncomingMessage,
    response: ServerResponse,
    rest: string,
    query: string
  ): Promise<void> {
    if (!artifacts)
      throw new EndpointNotFoundError(
        'This tracker serves no artifacts (it was started without an artifact folder).'
      );
    const method = request.method ?? 'GET';
    if (rest === '' || rest === '/') {
      if (method !== 'GET')
        throw new EndpointNotFoundError(
          `${method} is not allowed on the artifact listing; use GET.`,
          405
        );
      const path = optionalString(queryFields(query), 'path') ?? '';
      send(response, 200, { files: await artifacts.list(decodePath(path)) });
      return;
    }
    const path = decodePath(rest.slice(1));
    if (method === 'PUT') {
      await artifacts.put(path, request, maxArtifactBytes);
      send(response, 200, {});
    } else if (method === 'GET') {
      const { stream, size } = await artifacts.get(path);
      response.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': size
      });
      stream.pipe(response);
    } else if (method === 'DELETE') {
      await artifacts.delete(path);
      send(response, 200, {});
    } else {
      throw new EndpointNotFoundError(
        `${method} is not allowed on artifacts; use GET, PUT or DELETE.`,
        405
      );
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (
      options.token !== undefined &&
      !tokenMatches(request.headers.authorization, options.token)
    ) {
      request.resume();
      throw new UnauthenticatedError(
        'This tracker needs a bearer token: send "Authorization: Bearer <token>" (MLFLOW_TRACKING_TOKEN for MLflow clients).'
      );
    }
    const url = request.url ?? '/';
    const mark = url.indexOf('?');
    const pathname = mark < 0 ? url : url.slice(0, mark);
    const query = mark < 0 ? '' : url.slice(mark + 1);
    const method = request.method ?? 'GET';

    const apiPrefix = API_PREFIXES.find(p => pathname.startsWith(p));
    if (apiPrefix) {
      const path = pathname.slice(apiPrefix.length);
      const handler = routes.get(`${method} ${path}`);
      if (!handler) {
        request.resume();
        const allowed = methods.get(path);
        throw allowed
          ? new EndpointNotFoundError(
              `${method} is not allowed on ${pathname}; use ${[...allowed].join(' or ')}.`,
              405
            )
          : new EndpointNotFoundError(
              `No API endpoint ${pathname}: see MLflow's REST API for the endpoints this tracker serves.`
            );
      }
      const fields =
        method === 'GET'
          ? queryFields(query)
          : { ...queryFields(query), ...(await jsonFields(request)) };
      send(response, 200, await handler(fields));
      return;
    }
    const artifactPrefix = ARTIFACT_PREFIXES.find(
      p => pathname === p || pathname.startsWith(`${p}/`)
    );
    if (artifactPrefix) {
      await artifactRoute(request, response, pathname.slice(artifactPrefix.length), query);
      return;
    }
    request.resume();
    if (pathname === '/health') {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
    } else if (pathname === '/version') {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end(MLFLOW_API_VERSION);
    } else {
      throw new EndpointNotFoundError(
        `No API endpoint ${pathname}: the tracking API lives under /api/2.0/mlflow/.`
      );
    }
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      const known = error instanceof TrackerError;
      if (!known) console.error('scanflow tracker: internal error:', error);
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (!request.complete) request.resume();
      const failure = known
        ? error
        : new TrackerError(
            `Internal error: ${(error as Error)?.message ?? String(error)}`,
            'INTERNAL_ERROR',
            500
          );
      send(response, failure.httpStatus, failure.toJSON());
    });
  };
}

export function createTrackerServer(options: TrackerServerOptions): Server {
  const server = createServer({ keepAliveTimeout: 30_000 }, trackerRequestListener(options));
  return server;
}

/** Listens and resolves with the bound address (port 0 picks a free port). */
export async function listen(
  server: Server,
  host: string,
  port: number
): Promise<{ host: string; port: number; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { host: address.address, port: address.port, url: `http://${shown}:${address.port}` };
}
