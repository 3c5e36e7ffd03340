/**
 * What the server writes to the tracker: one run per server (experiment "serve" by default) with
 * the model URI and version as params, every window verdict as metrics (`drift.distance`,
 * `drift.threshold`, `drift.is_drift`, `drift.p_value` at the sample count), the version in
 * service as the metric `model.version` (so a swap shows on the timeline), and a sample of the
 * requests (inputs and predictions) as JSON-lines artifacts under `predictions/`.
 *
 * Nothing here is awaited on a request's path: writes queue up and go out once a second, and a
 * tracker that is down costs a warning, not an answer.
 */
import { NotFoundError } from '../track/errors';
import type { Metric } from '../track/types';
import type { LiveVerdict } from './live-checks';
import type { ModelTracker } from './model-uri';
import type { Prediction } from './models';

export interface RecorderOptions {
  experiment: string;
  runName: string;
  params: Record<string, string>;
  /** Share of rows whose inputs and predictions are kept (0 to 1). */
  sampleRate: number;
  /** Rows per predictions artifact. */
  rowsPerFile?: number;
  warn: (message: string) => void;
}

export class ServeRecorder {
  private metrics: Metric[] = [];
  private tags: Array<{ key: string; value: string }> = [];
  private lines: string[] = [];
  private files = 0;
  private rowsSeen = 0;
  private failures = 0;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly tracker: ModelTracker,
    readonly runId: string,
    private readonly artifactUri: string,
    private readonly options: RecorderOptions
  ) {
    this.timer = setInterval(() => void this.flush(), 1000);
    this.timer.unref();
  }

  static async start(tracker: ModelTracker, options: RecorderOptions): Promise<ServeRecorder> {
    const store = tracker.store;
    const experimentId = await store
      .getExperimentByName(options.experiment)
      .then(e => e.experiment_id)
      .catch((error: unknown) => {
        if (error instanceof NotFoundError) return store.createExperiment(options.experiment);
        throw error;
      });
    const run = await store.createRun(experimentId, {
      runName: options.runName,
      tags: [{ key: 'scanflow.kind', value: 'serve' }]
    });
    await store.logBatch(run.info.run_id, {
      params: Object.entries(options.params).map(([key, value]) => ({ key, value }))
    });
    return new ServeRecorder(tracker, run.info.run_id, run.info.artifact_uri, options);
  }

  /** A window's verdict, as metrics at the sample count. */
  verdict(verdict: LiveVerdict): void {
    const timestamp = Date.now();
    const metric = (key: string, value: number): void => {
      this.metrics.push({ key: `drift.${key}`, value, timestamp, step: verdict.t });
    };
    metric('distance', verdict.distance);
    metric('threshold', verdict.threshold);
    metric('is_drift', verdict.isDrift ? 1 : 0);
    if (verdict.pValue !== null) metric('p_value', verdict.pValue);
    if (verdict.isDrift) {
      this.tags.push({
        key: 'scanflow.drift',
        value: `${verdict.detector} alert at sample ${verdict.t}`
      });
    }
  }

  /** The version now in service, from sample `t` on. */
  modelVersion(version: string, t: number): void {
    const value = Number(version);
    if (Number.isFinite(value)) {
      this.metrics.push({ key: 'model.version', value, timestamp: Date.now(), step: t });
    }
    this.tags.push({ key: 'scanflow.model_version', value: version });
  }

  /** One request's rows and predictions; a share of them is kept. */
  requests(rows: Float32Array[], predictions: Prediction[], version: string | undefined): void {
    const rate = this.options.sampleRate;
    for (let i = 0; i < rows.length; i++) {
      const before = Math.floor(this.rowsSeen * rate);
      this.rowsSeen++;
      if (Math.floor(this.rowsSeen * rate) === before) continue;
      this.lines.push(
        JSON.stringify({
          time: new Date().toISOString(),
          version: version ?? null,
          inputs: Array.from(rows[i]),
          prediction: predictions[i]
        })
      );
    }
  }

  /** Sends what is queued; one flush at a time, in order. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.send());
    return this.flushing;
  }

  private async send(): Promise<void> {
    const metrics = this.metrics.splice(0, 1000);
    const tags = this.tags.splice(0);
    // The last value of a tag wins: send each key once.
    const lastTags = [...new Map(tags.map(t => [t.key, t])).values()];
    const rowsPerFile = this.options.rowsPerFile ?? 100;
    try {
      if (metrics.length || lastTags.length) {
        await this.tracker.store.logBatch(this.runId, { metrics, tags: lastTags });
      }
      while (this.lines.length >= rowsPerFile) await this.writeLines(rowsPerFile);
    } catch (error) {
      this.failures++;
      if (this.failures === 1 || this.failures % 100 === 0) {
        this.options.warn(
          `could not write to the tracker at ${this.tracker.location} (${this.failures} times so far): ${(error as Error).message}`
        );
      }
    }
  }

  private async writeLines(count: number): Promise<void> {
    const lines = this.lines.slice(0, count);
    const name = `predictions/part-${String(++this.files).padStart(5, '0')}.jsonl`;
    await this.tracker.artifacts.uploadArtifact(this.artifactUri, name, lines.join('\n') + '\n');
    this.lines.splice(0, lines.length);
  }

  /** Sends everything left and marks the run finished. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    try {
      while (this.metrics.length) await this.send();
      if (this.lines.length) await this.writeLines(this.lines.length);
      await this.tracker.store.updateRun(this.runId, { status: 'FINISHED', endTime: Date.now() });
    } catch (error) {
      this.options.warn(
        `could not finish the tracker run ${this.runId}: ${(error as Error).message}`
      );
    }
  }
}
