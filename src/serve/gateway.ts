/**
 * The gateway in front of a model server's replicas. Swarm's own load balancing needs IPVS in the
 * host's kernel, which some hosts lack, and publishes on every address; the gateway needs neither:
 * it finds the replicas by DNS (`tasks.<service>` lists one address per running task), sends each
 * request to the next replica in turn, and when a replica cannot be reached (killed, restarting)
 * or answers 503, it sends the same request to the next one, up to `attempts` replicas, and rests
 * the failed one for a moment. Scoring requests are safe to repeat: a prediction changes nothing.
 */
import { lookup } from 'node:dns/promises';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatewayOptions {
  /** The replicas' addresses (host:port), asked again every second. */
  upstreams: () => Promise<string[]>;
  host?: string;
  port?: number;
  /** Replicas tried per request (default 3). */
  attempts?: number;
  /** Largest body relayed, in bytes (default 16 MiB; the replicas check their own limit too). */
  maxBodyBytes?: number;
  /** How long a replica that failed is skipped (default 1 s). */
  restMs?: number;
  log?: (line: string) => void;
}

/** The replicas of a Swarm service, by its task DNS name. */
export function swarmReplicas(service: string, port: number): () => Promise<string[]> {
  return async () => {
    const found = await lookup(`tasks.${service}`, { all: true, family: 4 }).catch(() => []);
    return found.map(entry => `${entry.address}:${port}`).sort();
  };
}

interface Upstream {
  address: string;
  restingUntil: number;
  served: number;
}

const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE']);

export class Gateway {
  private upstreams: Upstream[] = [];
  private next = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private refreshTimer: NodeJS.Timeout | undefined;
  private server!: Server;
  private url_ = '';

  private constructor(private readonly options: GatewayOptions) {}

  static async start(options: GatewayOptions): Promise<Gateway> {
    const gateway = new Gateway(options);
    await gateway.refresh();
    await gateway.listen();
    return gateway;
  }

  get url(): string {
    return this.url_;
  }

  /** Each replica's address and how many requests it answered. */
  get replicas(): Array<{ address: string; served: number }> {
    return this.upstreams.map(({ address, served }) => ({ address, served }));
  }

  private async refresh(): Promise<void> {
    try {
      const addresses = await this.options.upstreams();
      const known = new Map(this.upstreams.map(u => [u.address, u]));
      this.upstreams = addresses.map(
        address => known.get(address) ?? { address, restingUntil: 0, served: 0 }
      );
    } finally {
      this.refreshTimer = setTimeout(() => void this.refresh(), 1000);
      this.refreshTimer.unref();
    }
  }

  private listen(): Promise<void> {
    this.server = createServer((request, response) => {
      if (request.url === '/gateway') {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ replicas: this.replicas }));
        return;
      }
      this.relay(request, response).catch((error: unknown) =>
        answerError(response, 502, `No replica answered: ${(error as Error).message}`)
      );
    });
    this.server.keepAliveTimeout = 65_000;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 8080, this.options.host ?? '127.0.0.1', () => {
        const { port } = this.server.address() as AddressInfo;
        this.url_ = `http://${this.options.host ?? '127.0.0.1'}:${port}`;
        resolve();
      });
    });
  }

  /** The next replica that is not resting (or, if all rest, the next one anyway). */
  private pick(exclude: Set<string>): Upstream | undefined {
    const now = Date.now();
    const candidates = this.upstreams.filter(u => !exclude.has(u.address));
    if (candidates.length === 0) return undefined;
    const awake = candidates.filter(u => u.restingUntil <= now);
    const pool = awake.length ? awake : candidates;
    return pool[this.next++ % pool.length];
  }

  private async relay(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readAll(request, this.options.maxBodyBytes ?? 16 * 1024 * 1024);
    if (body === undefined) {
      answerError(response, 413, 'The body is larger than the gateway relays');
      return;
    }
    const tried = new Set<string>();
    const attempts = this.options.attempts ?? 3;
    let lastError = 'no replica is running';
    for (let attempt = 0; attempt < attempts; attempt++) {
      const upstream = this.pick(tried);
      if (!upstream) break;
      tried.add(upstream.address);
      const outcome = await this.forward(upstream, request, body, response);
      if (outcome === 'answered') {
        upstream.served++;
        return;
      }
      lastError = `${upstream.address}: ${outcome}`;
      upstream.restingUntil = Date.now() + (this.options.restMs ?? 1000);
      this.options.log?.(`replica ${upstream.address} failed (${outcome}); trying another`);
    }
    answerError(response, 503, `No replica could answer (${lastError}): try again shortly`);
  }

  /** Sends the request to one replica; 'answered', or why it could not (then nothing was sent back). */
  private forward(
    upstream: Upstream,
    request: IncomingMessage,
    body: Buffer,
    response: ServerResponse
  ): Promise<'answered' | string> {
    const [host, port] = upstream.address.split(':');
    return new Promise(resolve => {
      const outgoing = httpRequest(
        {
          host,
          port: Number(port),
          method: request.method,
          path: request.url,
          headers: { ...request.headers, host: upstream.address, 'content-length': body.length },
          agent: this.agent,
          timeout: 30_000
        },
        answer => {
          if (answer.statusCode === 503) {
            answer.resume();
            resolve('503 (not ready)');
            return;
          }
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          answer.on('end', () => resolve('answered'));
          answer.on('error', () => {
            response.destroy();
            resolve('answered');
          });
        }
      );
      outgoing.on('timeout', () =>
        outgoing.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }))
      );
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        if (response.headersSent) {
          response.destroy();
          resolve('answered');
        } else
          resolve(
            RETRYABLE.has(error.code ?? '') ? (error.code ?? 'error') : `error ${error.message}`
          );
      });
      outgoing.end(body);
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.server.closeIdleConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
    this.agent.destroy();
  }
}

function readAll(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function answerError(response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const text = JSON.stringify({
    error_code: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'SERVICE_UNAVAILABLE',
    message
  });
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(text);
}
