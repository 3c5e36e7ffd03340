/**
 * Reads a tracker through the server extension's proxy (jupyterlab_scanflow/handlers.py): the
 * Jupyter server reaches the tracker, so a tracker on the server machine's loopback works from any
 * browser. Speaks MLflow's REST API, so it also reads a real MLflow server. Turns what it reads
 * into the tracker bundle that TrackerRenderer draws: runs, params, latest metrics, and a line
 * chart of each metric's history.
 */
import {
  metricHistoryCharts,
  type MetricPoint,
  type TrackerBundleData,
  type VegaLiteSpec
} from '../notebook/bundles';

/** Sends a request to a path of the Jupyter server's `/scanflow/` routes (with Jupyter's auth). */
export type ScanflowRequest = (path: string, init: RequestInit) => Promise<Response>;

export interface TrackerView extends TrackerBundleData {
  view: 'runs';
  charts: VegaLiteSpec[];
}

interface MlflowRun {
  info: {
    run_id: string;
    run_name?: string;
    status?: string;
    start_time?: number;
    end_time?: number;
  };
  data?: {
    params?: Array<{ key: string; value: string }>;
    metrics?: Array<{ key: string; value: number }>;
    tags?: Array<{ key: string; value: string }>;
  };
}

/** A failure the user reads: says what was asked of which tracker, and what came back. */
export class TrackerRequestError extends Error {}

/** The tracker wants a bearer token (401): none was sent, or not the right one. */
export class TrackerTokenError extends TrackerRequestError {}

/** Metric histories are fetched for this many runs at most (newest first). */
const CHART_RUNS = 20;

export class TrackerClient {
  /**
   * @param token - the tracker's bearer token, if it needs one; the proxy sends it on as
   *   `Authorization: Bearer <token>`. Writable, so that a panel can retry with another.
   */
  constructor(
    private readonly request: ScanflowRequest,
    readonly url: string,
    public token?: string
  ) {}

  /** The names of the tracker's experiments (workflows). */
  async experiments(): Promise<string[]> {
    const answer = (await this.call('POST', 'experiments/search', { max_results: 1000 })) as {
      experiments?: Array<{ name: string }>;
    };
    return (answer.experiments ?? []).map(e => e.name).sort();
  }

  /** The runs of one experiment (scanflow's per-step runs left out), with metric charts. */
  async runs(experiment: string): Promise<TrackerView> {
    const found = (await this.call(
      'GET',
      `experiments/get-by-name?experiment_name=${encodeURIComponent(experiment)}`
    )) as { experiment: { experiment_id: string } };
    const runs: MlflowRun[] = [];
    let pageToken: string | undefined;
    do {
      const page = (await this.call('POST', 'runs/search', {
        experiment_ids: [found.experiment.experiment_id],
        max_results: 1000,
        order_by: ['attributes.start_time DESC'],
        ...(pageToken ? { page_token: pageToken } : {})
      })) as { runs?: MlflowRun[]; next_page_token?: string };
      runs.push(...(page.runs ?? []));
      pageToken = page.next_page_token || undefined;
    } while (pageToken && runs.length < 5000);
    const top = runs.filter(run => !run.data?.tags?.some(t => t.key === 'scanflow.step'));
    const rows = top.map(run => ({
      id: run.info.run_id,
      name: run.info.run_name ?? run.info.run_id,
      status: run.info.status ?? '',
      ...(run.info.start_time !== undefined ? { startTime: Number(run.info.start_time) } : {}),
      ...(run.info.end_time ? { endTime: Number(run.info.end_time) } : {}),
      params: Object.fromEntries((run.data?.params ?? []).map(p => [p.key, p.value])),
      metrics: Object.fromEntries((run.data?.metrics ?? []).map(m => [m.key, Number(m.value)]))
    }));
    return {
      version: 1,
      view: 'runs',
      experiment,
      url: this.url,
      runs: rows,
      charts: await this.charts(rows.slice(0, CHART_RUNS))
    };
  }

  /** One line chart per metric: its history over steps, a line per run. */
  private async charts(runs: TrackerBundleData['runs']): Promise<VegaLiteSpec[]> {
    const metrics = [...new Set(runs.flatMap(run => Object.keys(run.metrics ?? {})))].sort();
    const points = await Promise.all(
      runs.flatMap(run =>
        metrics
          .filter(metric => run.metrics?.[metric] !== undefined)
          .map(async (metric): Promise<MetricPoint[]> => {
            const history = (await this.call(
              'GET',
              `metrics/get-history?run_id=${encodeURIComponent(run.id)}` +
                `&metric_key=${encodeURIComponent(metric)}&max_results=25000`
            )) as { metrics?: Array<{ step?: number; value: number }> };
            return (history.metrics ?? []).map(m => ({
              runName: run.name ?? run.id,
              metric,
              step: Number(m.step ?? 0),
              value: Number(m.value)
            }));
          })
      )
    );
    return metricHistoryCharts(points.flat(), metrics);
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { 'X-Scanflow-Tracker': this.url };
    if (this.token) headers['X-Scanflow-Tracker-Token'] = this.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await this.request(`tracker/api/2.0/mlflow/${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body)
      });
    } catch (error) {
      throw new TrackerRequestError(`Could not reach the Jupyter server: ${String(error)}`);
    }
    const text = await response.text();
    // Jupyter refuses its own unauthenticated requests with 403: a 401 is the tracker's.
    if (response.status === 401) {
      throw new TrackerTokenError(
        this.token
          ? `The tracker at ${this.url} refused the token (401).`
          : `The tracker at ${this.url} needs a token (401).`
      );
    }
    if (!response.ok) {
      throw new TrackerRequestError(
        `${this.url} answered ${response.status} to ${path.split('?')[0]}: ${reason(text)}`
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new TrackerRequestError(`${this.url} sent something other than JSON for ${path}.`);
    }
  }
}

/** The message of an MLflow or Jupyter error body, or the body itself. */
function reason(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; reason?: unknown };
    const message = body.message ?? body.reason;
    if (typeof message === 'string' && message) return message;
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || 'no details';
}
