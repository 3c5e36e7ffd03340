/**
 * The server's Prometheus metrics (GET /metrics, text format), through prom-client, in a registry
 * of the server's own so that two servers in one process never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'scanflow_serve_requests_total',
    help: 'Requests answered, by path and HTTP status code.',
    labelNames: ['path', 'code'] as const,
    registers: [this.registry]
  });
  readonly latency = new Histogram({
    name: 'scanflow_serve_request_duration_seconds',
    help: 'Time from a request to its answer on POST /invocations.',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry]
  });
  readonly predictions = new Counter({
    name: 'scanflow_serve_predictions_total',
    help: 'Rows predicted.',
    registers: [this.registry]
  });
  readonly batchRows = new Histogram({
    name: 'scanflow_serve_batch_rows',
    help: 'Rows per model call (micro-batching groups concurrent requests).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry]
  });
  readonly modelVersion = new Gauge({
    name: 'scanflow_serve_model_version',
    help: 'The registered version in service (0 for a model served from a path).',
    registers: [this.registry]
  });
  readonly swaps = new Counter({
    name: 'scanflow_serve_model_swaps_total',
    help: 'Times a new version was loaded and put in service.',
    registers: [this.registry]
  });
  readonly driftDistance = new Gauge({
    name: 'scanflow_serve_drift_distance',
    help: "The live checker's last window distance to the reference.",
    registers: [this.registry]
  });
  readonly driftThreshold = new Gauge({
    name: 'scanflow_serve_drift_threshold',
    help: "The live checker's alert threshold on that distance.",
    registers: [this.registry]
  });
  readonly driftWindows = new Counter({
    name: 'scanflow_serve_drift_windows_total',
    help: 'Windows the live checker judged.',
    registers: [this.registry]
  });
  readonly driftAlerts = new Counter({
    name: 'scanflow_serve_drift_alerts_total',
    help: 'Windows the live checker flagged as drifted.',
    registers: [this.registry]
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'scanflow_serve_' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
