/**
 * The notebook's view of a tracker: runs of a workflow as a table, metric histories, run
 * comparisons and params diffs. Every result is plain data (`toRecords()`), shows itself inline
 * (`show()`, the application/vnd.scanflow.tracker+json MIME type with a text fallback), and carries
 * its charts as vega-lite specs in plain JSON.
 *
 *   const tracker = Tracker.connect('http://127.0.0.1:5000');
 *   const runs = await tracker.runs('hello', { filter: 'metrics.acc > 0.8', orderBy: ['metrics.acc DESC'] });
 *   runs.show();
 *   (await tracker.history(runs.ids(), 'loss')).show();
 *   (await tracker.paramsDiff(runs.ids())).show();
 */
import { MIME } from '../mime';
import {
  VEGA_LITE_SCHEMA,
  metricHistoryCharts,
  show,
  trackerBundle,
  type Displayable,
  type MimeBundle,
  type TrackerBundleData,
  type VegaLiteSpec
} from '../notebook';
import { NotFoundError } from './errors';
import { loadRecordedRun, type RecordedRun, type RunArtifacts } from './recorder';
import { RestStore, type RestStoreOptions } from './rest-store';
import type { TrackingStore } from './store';
import type { Run } from './types';

export type { VegaLiteSpec };

export type TrackerView = 'runs' | 'history' | 'compare' | 'params-diff';

/** The tracker MIME type's data: the runs table, plus the view it came from and its charts. */
export interface TrackerViewData extends TrackerBundleData {
  view: TrackerView;
  charts: VegaLiteSpec[];
  /** params-diff only: each differing param with its value per run id (null when unset). */
  diff?: Array<{ key: string; values: Record<string, string | null> }>;
}

export interface RunRow {
  id: string;
  name: string;
  status: string;
  startTime: number;
  endTime?: number;
  params: Record<string, string>;
  /** The latest value of each metric. */
  metrics: Record<string, number>;
  tags: Record<string, string>;
}

function toRow(run: Run): RunRow {
  const row: RunRow = {
    id: run.info.run_id,
    name: run.info.run_name,
    status: run.info.status,
    startTime: run.info.start_time,
    params: Object.fromEntries(run.data.params.map(p => [p.key, p.value])),
    metrics: Object.fromEntries(run.data.metrics.map(m => [m.key, m.value])),
    tags: Object.fromEntries(
      run.data.tags.filter(t => !t.key.startsWith('mlflow.')).map(t => [t.key, t.value])
    )
  };
  if (run.info.end_time !== undefined) row.endTime = run.info.end_time;
  return row;
}

/** Common behaviour of every query result: a MIME bundle, and `show()` in a tslab cell. */
abstract class TrackerResult implements Displayable {
  constructor(
    readonly experiment: string | undefined,
    readonly url: string | undefined
  ) {}

  protected abstract view(): TrackerView;
  protected abstract tableRows(): RunRow[];
  protected abstract charts(): VegaLiteSpec[];
  protected extra(): Partial<TrackerViewData> {
    return {};
  }

  /** The data of the tracker MIME type. */
  toBundle(): TrackerViewData {
    // Only what JSON keeps (no undefined fields), so the bundle is the same after a round trip.
    const runs = this.tableRows().map(row => ({
      id: row.id,
      name: row.name,
      status: row.status,
      startTime: row.startTime,
      ...(row.endTime === undefined ? {} : { endTime: row.endTime }),
      params: row.params,
      metrics: row.metrics
    }));
    const base = trackerBundle({ experiment: this.experiment, url: this.url, runs }).data[
      MIME.tracker
    ] as TrackerBundleData;
    return { ...base, view: this.view(), charts: this.charts(), ...this.extra() };
  }

  toMimeBundle(): MimeBundle {
    const data = this.toBundle();
    const text = trackerBundle({ experiment: data.experiment, url: data.url, runs: data.runs })
      .data['text/plain'];
    return {
      data: { [MIME.tracker]: data, 'text/plain': `${this.view()} · ${String(text)}` },
      metadata: {}
    };
  }

  /** Shows the result in the notebook cell that runs this. */
  show(): void {
    show(this);
  }
}

/** Runs as a table: one row per run, params and latest metrics as columns. */
export class RunTable extends TrackerResult {
  constructor(
    readonly rows: RunRow[],
    experiment?: string,
    url?: string
  ) {
    super(experiment, url);
  }

  ids(): string[] {
    return this.rows.map(r => r.id);
  }

  /** Flat records (`params.lr`, `metrics.acc` columns), e.g. for console.table or a CSV. */
  toRecords(): Array<Record<string, string | number | undefined>> {
    return this.rows.map(row => ({
      id: row.id,
      name: row.name,
      status: row.status,
      startTime: row.startTime,
      endTime: row.endTime,
      ...Object.fromEntries(Object.entries(row.params).map(([k, v]) => [`params.${k}`, v])),
      ...Object.fromEntries(Object.entries(row.metrics).map(([k, v]) => [`metrics.${k}`, v]))
    }));
  }

  protected view(): TrackerView {
    return 'runs';
  }
  protected tableRows(): RunRow[] {
    return this.rows;
  }
  protected charts(): VegaLiteSpec[] {
    return [];
  }
}

export interface HistoryPoint {
  run: string;
  runName: string;
  metric: string;
  step: number;
  value: number;
  timestamp: number;
}

/** Metric histories of one or more runs, drawn as lines over steps. */
export class MetricHistory extends TrackerResult {
  constructor(
    readonly points: HistoryPoint[],
    readonly runs: RunRow[],
    experiment?: string,
    url?: string
  ) {
    super(experiment, url);
  }

  toRecords(): HistoryPoint[] {
    return this.points;
  }

  protected view(): TrackerView {
    return 'history';
  }
  protected tableRows(): RunRow[] {
    return this.runs;
  }
  protected charts(): VegaLiteSpec[] {
    // Points that JSON cannot carry (NaN, Infinity) stay in the records, not in the drawing.
    return metricHistoryCharts(this.points);
  }
}

/** Runs side by side: their params and latest metrics, with a grouped bar chart of the metrics. */
export class RunComparison extends TrackerResult {
  constructor(
    readonly runs: RunRow[],
    readonly metrics: string[],
    experiment?: string,
    url?: string
  ) {
    super(experiment, url);
  }

  /** One record per (run, metric). */
  toRecords(): Array<{ run: string; runName: string; metric: string; value: number | null }> {
    return this.runs.flatMap(run =>
      this.metrics.map(metric => ({
        run: run.id,
        runName: run.name,
        metric,
        value: run.metrics[metric] ?? null
      }))
    );
  }

  protected view(): TrackerView {
    return 'compare';
  }
  protected tableRows(): RunRow[] {
    return this.runs;
  }
  protected charts(): VegaLiteSpec[] {
    if (this.metrics.length === 0) return [];
    return [
      {
        $schema: VEGA_LITE_SCHEMA,
        title: 'latest metrics',
        data: {
          values: this.toRecords().filter(r => r.value !== null && Number.isFinite(r.value))
        },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'runName', type: 'nominal', title: 'run' },
          y: { field: 'value', type: 'quantitative' },
          color: { field: 'runName', type: 'nominal', legend: null },
          column: { field: 'metric', type: 'nominal', title: null }
        },
        resolve: { scale: { y: 'independent' } }
      }
    ];
  }
}

/** The params that differ between runs (all params with `all: true`). */
export class ParamsDiff extends TrackerResult {
  constructor(
    readonly runs: RunRow[],
    readonly diff: Array<{ key: string; values: Record<string, string | null> }>,
    experiment?: string,
    url?: string
  ) {
    super(experiment, url);
  }

  toRecords(): Array<{ key: string; values: Record<string, string | null> }> {
    return this.diff;
  }

  protected view(): TrackerView {
    return 'params-diff';
  }
  protected tableRows(): RunRow[] {
    return this.runs;
  }
  protected charts(): VegaLiteSpec[] {
    return [];
  }
  protected extra(): Partial<TrackerViewData> {
    return { diff: this.diff };
  }
}

export interface RunsQuery {
  /** MLflow filter syntax, e.g. `metrics.acc > 0.8 and params.model = 'cnn'`. */
  filter?: string;
  orderBy?: string[];
  /** At most this many runs (default 1000); every page is fetched up to it. */
  max?: number;
  /** Include scanflow's per-step runs (nested under a run); by default only top-level runs. */
  includeSteps?: boolean;
}

/** The notebook's entry point to a tracker: ours or a real MLflow server, or any TrackingStore. */
export class Tracker {
  constructor(
    readonly store: TrackingStore,
    readonly url?: string,
    /** Where run artifacts are read from (a RestStore reads them through the server). */
    readonly artifacts?: RunArtifacts
  ) {}

  static connect(url: string, options?: RestStoreOptions): Tracker {
    const client = new RestStore(url, options);
    return new Tracker(client, url, client);
  }

  /** Closes the connection of a tracker made by `connect`. */
  close(): void {
    if (this.store instanceof RestStore) this.store.close();
  }

  /** A scanflow run as recorded by RunRecorder: definition, steps, images, outcomes, log tails. */
  async recordedRun(workflow: string, runId: string): Promise<RecordedRun> {
    if (!this.artifacts) {
      throw new NotFoundError(
        'This Tracker has no artifact access: make it with Tracker.connect(url).'
      );
    }
    return loadRecordedRun(this.store, this.artifacts, workflow, runId);
  }

  /** Runs of a workflow (the experiment of that name) as a table. */
  async runs(workflow: string, query: RunsQuery = {}): Promise<RunTable> {
    const experiment = await this.store.getExperimentByName(workflow);
    const max = query.max ?? 1000;
    const rows: RunRow[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.store.searchRuns([experiment.experiment_id], {
        filter: query.filter,
        orderBy: query.orderBy,
        maxResults: Math.min(1000, max - rows.length),
        pageToken
      });
      // Step runs are told apart here, on the client, so this works against any MLflow server.
      const wanted = query.includeSteps
        ? page.items
        : page.items.filter(run => !run.data.tags.some(t => t.key === 'scanflow.step'));
      rows.push(...wanted.map(toRow));
      pageToken = page.nextPageToken;
    } while (pageToken && rows.length < max);
    return new RunTable(rows, workflow, this.url);
  }

  private async rows(runIds: string[]): Promise<{ rows: RunRow[]; experiment?: string }> {
    if (runIds.length === 0)
      throw new NotFoundError('No runs given: pass one or more run ids (e.g. runs.ids()).');
    const runs = await Promise.all(runIds.map(id => this.store.getRun(id)));
    const experiment = await this.store.getExperiment(runs[0].info.experiment_id).then(
      e => e.name,
      () => undefined
    );
    return { rows: runs.map(toRow), experiment };
  }

  /** The full history of one or more metrics for one or more runs. */
  async history(runIds: string | string[], metrics: string | string[]): Promise<MetricHistory> {
    const ids = typeof runIds === 'string' ? [runIds] : runIds;
    const keys = typeof metrics === 'string' ? [metrics] : metrics;
    const { rows, experiment } = await this.rows(ids);
    const points: HistoryPoint[] = [];
    for (const row of rows) {
      for (const key of keys) {
        let pageToken: string | undefined;
        do {
          const page = await this.store.getMetricHistory(row.id, key, {
            maxResults: 25000,
            pageToken
          });
          for (const m of page.items) {
            points.push({
              run: row.id,
              runName: row.name,
              metric: key,
              step: m.step,
              value: m.value,
              timestamp: m.timestamp
            });
          }
          pageToken = page.nextPageToken;
        } while (pageToken);
      }
    }
    return new MetricHistory(points, rows, experiment, this.url);
  }

  /** Runs side by side; by default every metric any of them logged. */
  async compare(runIds: string[], metrics?: string[]): Promise<RunComparison> {
    const { rows, experiment } = await this.rows(runIds);
    const keys = metrics ?? [...new Set(rows.flatMap(r => Object.keys(r.metrics)))].sort();
    return new RunComparison(rows, keys, experiment, this.url);
  }

  /** The params whose values differ between the runs (or every param, with `all`). */
  async paramsDiff(runIds: string[], options: { all?: boolean } = {}): Promise<ParamsDiff> {
    const { rows, experiment } = await this.rows(runIds);
    const keys = [...new Set(rows.flatMap(r => Object.keys(r.params)))].sort();
    const diff = keys
      .map(key => ({
        key,
        values: Object.fromEntries(rows.map(r => [r.id, r.params[key] ?? null]))
      }))
      .filter(entry => options.all || new Set(Object.values(entry.values)).size > 1);
    return new ParamsDiff(rows, diff, experiment, this.url);
  }
}
