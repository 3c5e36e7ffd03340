/**
 * The model server: MLflow's scoring protocol over node:http.
 *   POST /invocations   predictions ({"predictions": [...]}, header x-scanflow-model-version)
 *   GET  /ping, /health 200 once a model is in service
 *   GET  /version       the model in service: URI, name, version, source
 *   GET  /metrics       Prometheus text: requests, latency, batch sizes, drift, swaps
 *   GET  /monitor       the live checker's state and its last verdicts, as JSON
 * Requests are micro-batched (batcher.ts), answered, then fed to the live checker
 * (live-checks.ts), whose verdicts go to the tracker (recorder.ts) and, on an alert, into a
 * labeling session for the improver. A registered model named by an alias or `latest` is polled:
 * when it moves, the new version is loaded beside the old one and swapped in between two batches,
 * so no request fails and each answer says which version made it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyDetector } from '../check/persist';
import { LabelingSession } from '../improve/session';
import { greyImageDataUrl } from '../improve/images';
import { MicroBatcher } from './batcher';
import { RequestError, ServeError } from './errors';
import { liveCheck, type LiveCheck, type LiveCheckOptions, type LiveVerdict } from './live-checks';
import { ServeMetrics } from './metrics';
import { ModelLocator, openTracker, type LocalModel, type ModelTracker } from './model-uri';
import { writeAlertWindow } from './alert-window';
import { loadChecker, loadServedModel, type ServedModel } from './models';
import { ServeRecorder } from './recorder';
import { parseScoringRequest } from './scoring';

const REPLICA = hostname();

export interface ModelServerOptions {
  /** A folder, runs:/<run>/<path>, models:/<name>/<version>, models:/<name>/latest or models:/<name>@<alias>. */
  model: string;
  /** The tracker: an http(s) URL or a tracker file (default $MLFLOW_TRACKING_URI). */
  tracker?: string;
  trackerToken?: string;
  /** Address to listen on (default 127.0.0.1: loopback only). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** A saved detector (path or URI) that checks live traffic. */
  checker?: string;
  batching?: { enabled?: boolean; windowMs?: number; maxRows?: number };
  /** Largest request body accepted, in bytes (default 16 MiB). */
  maxBodyBytes?: number;
  /** Most rows in one request (default 10,000). */
  maxRows?: number;
  /** Seconds between checks of a moving alias (default 5; 0 turns polling off). */
  pollSeconds?: number;
  monitor?: LiveCheckOptions;
  /** The tracker experiment the server logs to (default 'serve'). */
  experiment?: string;
  /** Share of rows whose inputs and predictions are logged (default 0.01). */
  sampleRate?: number;
  /** Open a labeling session here with each flagged window's samples. */
  labelDir?: string;
  /** Class names for labeling (default the classifier's indices '0', '1', ...). */
  classes?: string[];
  /** A line about the server's life: loaded, swapped, alert, warnings. */
  log?: (line: string) => void;
}

interface InService {
  model: ServedModel;
  local: LocalModel;
  loadedAt: Date;
}

export interface ServerStatus {
  url: string;
  model: string;
  version: string | null;
  kind: ServedModel['kind'];
  trackerRun: string | null;
}

export class ModelServer {
  private server!: Server;
  private current!: InService;
  private check: LiveCheck | undefined;
  private readonly verdicts: LiveVerdict[] = [];
  private batcher!: MicroBatcher<InService>;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<unknown> = Promise.resolve();
  private closed = false;
  private samples = 0;
  readonly metrics = new ServeMetrics();
  private recorder: ServeRecorder | undefined;
  private url_ = '';

  private constructor(
    private readonly options: ModelServerOptions,
    private readonly locator: ModelLocator,
    private readonly tracker: ModelTracker | undefined,
    private readonly checker: AnyDetector | undefined,
    private readonly cacheDir: string
  ) {}

  /** Loads the model (and checker), opens the tracker run, then listens. */
  static async start(options: ModelServerOptions): Promise<ModelServer> {
    checkOptions(options);
    const trackerLocation = options.tracker ?? process.env.MLFLOW_TRACKING_URI;
    const tracker = trackerLocation
      ? openTracker(trackerLocation, options.trackerToken)
      : undefined;
    const cacheDir = mkdtempSync(join(tmpdir(), 'scanflow-serve-'));
    let server: ModelServer | undefined;
    try {
      const locator = new ModelLocator(options.model, cacheDir, tracker);
      const checker = options.checker
        ? await loadChecker(
            (await new ModelLocator(options.checker, join(cacheDir, 'checker'), tracker).fetch())
              .path
          )
        : undefined;
      server = new ModelServer(options, locator, tracker, checker, cacheDir);
      await server.load();
      await server.listen();
      return server;
    } catch (error) {
      if (server) await server.close();
      else {
        tracker?.close();
        rmSync(cacheDir, { recursive: true, force: true });
      }
      throw error;
    }
  }

  get url(): string {
    return this.url_;
  }

  /** The registered version in service (undefined for a model served from a path or a run). */
  get version(): string | undefined {
    return this.current.local.version;
  }

  /** The tracker run the server logs to, if it has a tracker. */
  get trackerRunId(): string | undefined {
    return this.recorder?.runId;
  }

  status(): ServerStatus {
    return {
      url: this.url,
      model: this.options.model,
      version: this.version ?? null,
      kind: this.current.model.kind,
      trackerRun: this.trackerRunId ?? null
    };
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private async load(): Promise<void> {
    const version = await this.locator.currentVersion();
    const local = await this.locator.fetch(version);
    const model = await loadServedModel(local.path);
    this.current = { model, local, loadedAt: new Date() };
    this.check = liveCheck(model, this.checker, this.options.monitor);
    if (this.options.labelDir) this.labelClasses(); // refuses now, not at the first alert
    const batching = this.options.batching ?? {};
    this.batcher = new MicroBatcher<InService>(
      rows => ({ outputs: this.current.model.run(rows), context: this.current }),
      {
        enabled: batching.enabled ?? true,
        windowMs: batching.windowMs ?? 0,
        maxRows: batching.maxRows ?? 256
      },
      rows => this.metrics.batchRows.observe(rows)
    );
    this.metrics.modelVersion.set(Number(local.version ?? 0));
    if (this.tracker) {
      this.recorder = await ServeRecorder.start(this.tracker, {
        experiment: this.options.experiment ?? 'serve',
        runName: `serve ${this.options.model}`,
        params: {
          model_uri: this.options.model,
          model_kind: model.kind,
          ...(local.version ? { model_version: local.version } : {}),
          ...(this.options.checker ? { checker: this.options.checker } : {}),
          ...(this.check ? { window_size: String(this.check.status.windowSize) } : {})
        },
        sampleRate: this.options.sampleRate ?? 0.01,
        warn: line => this.log(`warning: ${line}`)
      });
      if (local.version) this.recorder.modelVersion(local.version, 0);
    }
    this.log(
      `serving ${this.options.model}${local.version ? ` (version ${local.version})` : ''}: a ${model.kind} of ${model.inputWidth} inputs` +
        (this.check
          ? `, checked live by ${this.check.status.detector} on windows of ${this.check.status.windowSize}`
          : '')
    );
    this.schedulePoll();
  }

  private schedulePoll(): void {
    const seconds = this.options.pollSeconds ?? 5;
    if (!this.locator.movable || seconds <= 0 || this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.polling = this.refresh()
        .catch((error: unknown) => this.log(`warning: ${(error as Error).message}`))
        .finally(() => this.schedulePoll());
    }, seconds * 1000);
  }

  /**
   * Checks where the alias points now and, when it moved, swaps the new version in. Resolves to
   * whether it swapped. Called by the poll; callable directly (tests, a webhook).
   */
  async refresh(): Promise<boolean> {
    const version = await this.locator.currentVersion();
    if (version === undefined || version === this.current.local.version || this.closed)
      return false;
    const local = await this.locator.fetch(version);
    const model = await loadServedModel(local.path);
    const old = this.current;
    if (model.inputWidth !== old.model.inputWidth || model.kind !== old.model.kind) {
      model.dispose();
      throw new ServeError(
        `Version ${version} of ${this.options.model} is a ${model.kind} of ${model.inputWidth} inputs, but clients send ${old.model.inputWidth} to the ${old.model.kind} in service: version ${old.local.version} stays in service`,
        'register a model that takes the same inputs, or serve the new one on its own'
      );
    }
    // Batches run synchronously, so between two of them nothing uses the old model.
    this.current = { model, local, loadedAt: new Date() };
    if (model.selfCheck && !this.checker)
      this.check = liveCheck(model, undefined, this.options.monitor);
    old.model.dispose();
    this.metrics.swaps.inc();
    this.metrics.modelVersion.set(Number(version));
    this.recorder?.modelVersion(version, this.samples);
    this.log(`swapped in version ${version} of ${this.options.model} (was ${old.local.version})`);
    return true;
  }

  private listen(): Promise<void> {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => this.fail(request, response, error));
    });
    this.server.keepAliveTimeout = 65_000;
    return new Promise((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new ServeError(
                `Port ${this.options.port ?? 8080} is in use`,
                'pass another --port, or --port 0 for a free one'
              )
            : error
        )
      );
      this.server.listen(this.options.port ?? 8080, this.options.host ?? '127.0.0.1', () => {
        const address = this.server.address() as AddressInfo;
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        this.url_ = `http://${host}:${address.port}`;
        resolve();
      });
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    const method = request.method ?? 'GET';
    const routes: Record<string, string> = {
      '/invocations': 'POST',
      '/ping': 'GET',
      '/health': 'GET',
      '/version': 'GET',
      '/metrics': 'GET',
      '/monitor': 'GET'
    };
    const allowed = routes[path];
    if (allowed === undefined) {
      throw new RequestError(
        'ENDPOINT_NOT_FOUND',
        `There is no ${path} here: POST /invocations predicts; GET /ping, /health, /version, /metrics and /monitor describe the server`
      );
    }
    if (method !== allowed && !(allowed === 'GET' && method === 'HEAD')) {
      response.setHeader('Allow', allowed);
      throw new RequestError('METHOD_NOT_ALLOWED', `${path} takes ${allowed}, not ${method}`);
    }
    switch (path) {
      case '/invocations':
        return this.invocations(request, response);
      case '/ping':
      case '/health':
        return this.send(response, path, 200, { status: 'ok', version: this.version ?? null });
      case '/version':
        return this.send(response, path, 200, {
          model: this.options.model,
          name: this.current.local.name ?? null,
          version: this.version ?? null,
          source: this.current.local.source,
          kind: this.current.model.kind,
          input_width: this.current.model.inputWidth,
          loaded_at: this.current.loadedAt.toISOString()
        });
      case '/metrics': {
        const text = await this.metrics.text();
        response.writeHead(200, { 'Content-Type': this.metrics.contentType });
        response.end(text);
        this.metrics.requests.inc({ path, code: 200 });
        return;
      }
      default:
        return this.send(response, path, 200, {
          check: this.check?.status ?? null,
          verdicts: this.verdicts.map(({ rows: _rows, predictions: _p, ...verdict }) => verdict)
        });
    }
  }

  private async invocations(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') {
      request.resume();
      throw new RequestError(
        'UNSUPPORTED_MEDIA_TYPE',
        `The body's Content-Type is ${type ? `'${type}'` : 'missing'}: send JSON with Content-Type: application/json`
      );
    }
    const body = await readBody(request, this.options.maxBodyBytes ?? 16 * 1024 * 1024);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new RequestError(
        'BAD_REQUEST',
        `The body is not valid JSON: ${(error as Error).message}`
      );
    }
    const model = this.current.model;
    const scoring = parseScoringRequest(parsed, {
      width: model.inputWidth,
      maxRows: this.options.maxRows ?? 10_000
    });
    model.checkParams(scoring.params);
    const answer = await this.batcher.submit(scoring.rows);
    const served = answer.context;
    const predictions = served.model.format(answer.outputs, scoring.params);
    response.setHeader('x-scanflow-model-version', served.local.version ?? '');
    // Which replica answered (a container's hostname is its id): a gateway spreads requests.
    response.setHeader('x-scanflow-replica', REPLICA);
    this.send(response, '/invocations', 200, { predictions });
    this.metrics.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.predictions.inc(scoring.rows.length);
    // After the answer: the checker and the tracker never slow a request down.
    setImmediate(() => this.observe(scoring.rows, answer.outputs, served));
  }

  private observe(rows: Float32Array[], outputs: Float32Array[], served: InService): void {
    const classes =
      served.model.kind === 'classifier' ? (served.model.format(outputs, {}) as number[]) : [];
    this.samples += rows.length;
    this.recorder?.requests(rows, served.model.format(outputs, {}), served.local.version);
    if (!this.check) return;
    let verdicts: LiveVerdict[];
    try {
      verdicts = this.check.observe(rows, outputs, classes);
    } catch (error) {
      this.log(`warning: the live checker failed on a request: ${(error as Error).message}`);
      return;
    }
    for (const verdict of verdicts) {
      this.metrics.driftWindows.inc();
      this.metrics.driftDistance.set(verdict.distance);
      this.metrics.driftThreshold.set(verdict.threshold);
      this.recorder?.verdict(verdict);
      this.verdicts.push(verdict);
      if (this.verdicts.length > 20) this.verdicts.shift();
      if (!verdict.isDrift) continue;
      this.metrics.driftAlerts.inc();
      const session = this.options.labelDir ? this.openLabeling(verdict, served) : undefined;
      this.log(
        `drift: ${verdict.detector} flagged the window ending at sample ${verdict.t} (distance ${verdict.distance.toFixed(3)} > ${verdict.threshold.toFixed(3)})` +
          (session ? `; its ${verdict.rows.length} samples await labels in ${session}` : '')
      );
    }
  }

  /** The classes a labeler picks from. */
  private labelClasses(): string[] {
    if (this.options.classes?.length) return this.options.classes;
    const count = this.current.model.classes;
    if (count === undefined) {
      throw new ServeError(
        `Labeling needs class names, and the served ${this.current.model.kind} has none`,
        'pass --classes a,b,c with --label-dir'
      );
    }
    return Array.from({ length: count }, (_, i) => String(i));
  }

  /** A labeling session holding a flagged window's samples; returns its folder. */
  private openLabeling(verdict: LiveVerdict, served: InService): string | undefined {
    const folder = join(this.options.labelDir!, `alert-${verdict.t}`);
    const classes = this.labelClasses();
    const side = Math.sqrt(served.model.inputWidth);
    const ids = verdict.rows.map((_, i) => `t${verdict.t - verdict.rows.length + 1 + i}`);
    try {
      LabelingSession.create(folder, {
        classes,
        samples: verdict.rows.map((row, i) => ({
          id: ids[i],
          ...(Number.isInteger(side)
            ? { image: greyImageDataUrl({ width: side, height: side, values: row }) }
            : { row: Object.fromEntries(Array.from(row, (v, j) => [`x${j}`, v])) }),
          ...(verdict.predictions[i] !== undefined
            ? { guess: classes[verdict.predictions[i]] }
            : {})
        }))
      });
      writeAlertWindow(folder, { ids, rows: verdict.rows, version: served.local.version });
      return folder;
    } catch (error) {
      this.log(
        `warning: could not open a labeling session in ${folder}: ${(error as Error).message}`
      );
      return undefined;
    }
  }

  private send(response: ServerResponse, path: string, status: number, body: object): void {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text)
    });
    response.end(text);
    this.metrics.requests.inc({ path, code: status });
  }

  private fail(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    const known = error instanceof RequestError;
    if (!known) this.log(`error: ${(error as Error).stack ?? String(error)}`);
    const status = known ? error.status : 500;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (status === 413) response.setHeader('Connection', 'close');
    // Unknown paths share one label, so that scanners cannot grow the metrics without bound.
    const path =
      known && error.code === 'ENDPOINT_NOT_FOUND' ? 'other' : (request.url ?? '/').split('?')[0];
    this.send(response, path, status, {
      error_code: known ? error.code : 'INTERNAL_ERROR',
      message: known ? error.message : `The server failed: ${(error as Error).message}`
    });
  }

  /** Stops listening, finishes the tracker run and frees the model. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.pollTimer);
    await this.polling;
    if (this.server?.listening) {
      // Requests under way finish; kept-alive connections close as soon as they are idle, and
      // after 5 s whatever is left is cut (a client's retry goes to another replica).
      const closed = new Promise<void>(resolve => this.server.close(() => resolve()));
      const idle = setInterval(() => this.server.closeIdleConnections(), 100);
      const cut = setTimeout(() => this.server.closeAllConnections(), 5000);
      this.server.closeIdleConnections();
      await closed;
      clearInterval(idle);
      clearTimeout(cut);
    }
    await this.recorder?.close();
    this.current?.model.dispose();
    this.tracker?.close();
    rmSync(this.cacheDir, { recursive: true, force: true });
  }
}

/** The body, refused as soon as it is known to be too large (before it is read whole). */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (size: string): RequestError =>
    new RequestError(
      'PAYLOAD_TOO_LARGE',
      `The body is ${size} bytes, more than the ${limit} the server takes: send fewer rows per request, or start it with a larger --max-body`
    );
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (declared > limit) {
    request.resume(); // drained, not kept: the client reads the 413 instead of a reset
    return Promise.reject(tooLarge(String(declared)));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        request.off('data', onData);
        request.resume();
        reject(tooLarge(`over ${limit}`));
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function checkOptions(options: ModelServerOptions): void {
  const positive = (value: number | undefined, name: string, fix: string): void => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new ServeError(`${name} is ${value}`, fix);
    }
  };
  positive(options.maxBodyBytes, 'The body limit', 'give a number of bytes above 0');
  positive(options.maxRows, 'The row limit', 'give a number of rows above 0');
  positive(options.batching?.maxRows, 'The batch size', 'give a number of rows above 0');
  const window = options.batching?.windowMs;
  if (window !== undefined && !(Number.isFinite(window) && window >= 0)) {
    throw new ServeError(`The batch window is ${window} ms`, 'give 0 or more milliseconds');
  }
  const rate = options.sampleRate;
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
    throw new ServeError(`The sample rate is ${rate}`, 'give a share from 0 to 1, e.g. 0.01');
  }
  const port = options.port;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new ServeError(
      `Port ${port} is not a port`,
      'give a number from 0 to 65535 (0 picks a free one)'
    );
  }
}
