/**
 * The display bundles Scanflow's kernel side emits and its JupyterLab extension renders: one JSON
 * shape per MIME type (src/mime.ts), always sent with a text/plain fallback. Pure TypeScript, no
 * Node APIs: the browser renderers read the same types.
 *
 * Renderers accept the data either as an object or as a JSON string (tslab's public `display.raw`
 * sends strings). Every string in these shapes is user-controlled and is rendered as text.
 */
import { MIME } from '../mime';
import { isContainer, type NodeSpec, type WorkflowSpec } from '../workflow/types';

/** A Jupyter MIME bundle as sent in display_data / update_display_data messages. */
export interface MimeBundle {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** Anything that knows how to show itself inline (runs, tracker queries, drift reports, ...). */
export interface Displayable {
  toMimeBundle(): MimeBundle;
}

/**
 * The life of a step in a run, as the run engine reports it. A service is `running` until its
 * healthcheck passes, then `ready` (running and healthy) until the run stops it (`stopped`).
 */
export type StepStatus =
  | 'queued'
  | 'building'
  | 'running'
  | 'ready'
  | 'succeeded'
  | 'stopped'
  | 'failed'
  | 'skipped'
  | 'retrying';

export const STEP_STATUSES: readonly StepStatus[] = [
  'queued',
  'building',
  'running',
  'ready',
  'succeeded',
  'stopped',
  'failed',
  'skipped',
  'retrying'
];

/** A status as a person reads it: a ready service is running, and healthy. */
export function statusText(status: StepStatus): string {
  return status === 'ready' ? 'running, healthy' : status;
}

/** What a run knows about one step (or a whole workflow / group), keyed by qualified id. */
export interface StepState {
  status: StepStatus;
  /** 1 for the first attempt, 2 after the first retry, ... */
  attempt?: number;
  /** ISO timestamps. */
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** A short reason (an error message, "cached", ...). */
  message?: string;
  /** Where the step's logs are: a URL, or a path relative to the notebook's folder. */
  logs?: string;
  /** A ready service: where this machine reaches it (one URL per replica). */
  endpoints?: string[];
}

/**
 * `application/vnd.scanflow.workflow+json`. A running workflow re-sends this bundle with the same
 * display id (update_display_data) whenever `status` changes.
 */
export interface WorkflowBundleData {
  version: 1;
  workflow: WorkflowSpec;
  /** Qualified step (or container) id -> state; absent ids are drawn without a status. */
  status?: Record<string, StepState>;
  run?: {
    id: string;
    status: 'running' | 'succeeded' | 'failed' | 'cancelled';
    startedAt?: string;
    finishedAt?: string;
  };
}

/** Output metadata of a workflow output: the renderer keeps its view state here. */
export interface WorkflowViewMetadata {
  /** Qualified ids of collapsed workflows and groups. */
  collapsed?: string[];
}

/** `application/vnd.scanflow.tracker+json`: runs of one experiment, as a table. */
export interface TrackerBundleData {
  version: 1;
  experiment?: string;
  /** The tracker's address, shown as text (and a link when it is http(s)). */
  url?: string;
  runs: Array<{
    id: string;
    name?: string;
    status?: string;
    startTime?: number;
    endTime?: number;
    params?: Record<string, string>;
    /** Latest value of each metric. */
    metrics?: Record<string, number>;
    /** Full histories, for charts: metric -> [step, value][]. */
    history?: Record<string, Array<[number, number]>>;
  }>;
}

/** `application/vnd.scanflow.drift+json`: a checker's verdicts over time. */
export interface DriftBundleData {
  version: 1;
  checker: string;
  detector?: string;
  /** Score per batch (e.g. reconstruction error, or 1 - p-value), in order. */
  points: Array<{ t: number | string; score: number; drift?: boolean }>;
  threshold?: number;
  /** Per-feature p-values of the latest batch. */
  features?: Array<{ name: string; pValue: number }>;
}

/** One sample to label: an image (data URL of a PNG/JPEG) or a row of named values. */
export interface LabelingSample {
  id: string;
  image?: string;
  row?: Record<string, string | number | boolean | null>;
  /** The model's guess and its score (e.g. uncertainty or probability). */
  guess?: string;
  score?: number;
}

/**
 * `application/vnd.scanflow.labeling+json`: a labeling session. The widget writes one file per
 * label, `<folder>/labels/<name>.json`, through the Contents API (DESIGN.md section 4), and the
 * kernel watches that folder; src/improve/README.md gives the file format.
 */
export interface LabelingBundleData {
  version: 1;
  session: string;
  /** The session's folder, relative to the Jupyter server's root. */
  folder: string;
  classes: string[];
  samples: LabelingSample[];
}

/** True for a workflow definition (the builders' output or parsed JSON). */
export function isWorkflowSpec(value: unknown): value is WorkflowSpec {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as WorkflowSpec).kind === 'workflow' &&
    typeof (value as WorkflowSpec).name === 'string' &&
    Array.isArray((value as WorkflowSpec).steps)
  );
}

/** The workflow bundle, with a text/plain tree as its fallback. */
export function workflowBundle(
  workflow: WorkflowSpec,
  status?: Record<string, StepState>,
  run?: WorkflowBundleData['run']
): MimeBundle {
  const data: WorkflowBundleData = { version: 1, workflow };
  if (status) data.status = status;
  if (run) data.run = run;
  return {
    data: { [MIME.workflow]: data, 'text/plain': workflowText(workflow, status) },
    metadata: {}
  };
}

/** A workflow as an indented tree, one line per node, with statuses when known. */
export function workflowText(workflow: WorkflowSpec, status?: Record<string, StepState>): string {
  const lines: string[] = [];
  const visit = (node: NodeSpec, id: string, depth: number): void => {
    const state = status?.[id];
    const kind = node.kind === 'step' ? '' : `${node.kind} `;
    const port = node.kind === 'service' ? ` :${node.port}` : '';
    const suffix = state ? ` [${state.status}]` : '';
    lines.push(`${'  '.repeat(depth)}${kind}${node.name}${port}${suffix}`);
    if (isContainer(node)) {
      node.steps.forEach(child => visit(child, `${id}.${child.name}`, depth + 1));
    }
  };
  visit(workflow, workflow.name, 0);
  return lines.join('\n');
}

/** A vega-lite specification, as plain JSON (vega-lite's own types are not importable here). */
export type VegaLiteSpec = { $schema: string } & Record<string, unknown>;

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** One point of a metric's history. */
export interface MetricPoint {
  runName: string;
  metric: string;
  step: number;
  value: number;
}

/**
 * The tracker's metric charts, drawn alike in notebook outputs and the tracker panel: a line chart
 * per metric (in the order of `metrics`), its history over steps, one line per run.
 */
export function metricHistoryCharts(
  points: readonly MetricPoint[],
  metrics: readonly string[] = [...new Set(points.map(p => p.metric))]
): VegaLiteSpec[] {
  return metrics.map(metric => ({
    $schema: VEGA_LITE_SCHEMA,
    title: metric,
    // JSON has no NaN or Infinity: such points are left out of the drawing.
    data: { values: points.filter(p => p.metric === metric && Number.isFinite(p.value)) },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: metric },
      color: { field: 'runName', type: 'nominal', title: 'run' }
    }
  }));
}

export function trackerBundle(data: Omit<TrackerBundleData, 'version'>): MimeBundle {
  const header = `tracker${data.experiment ? ` ${data.experiment}` : ''}: ${data.runs.length} runs`;
  const rows = data.runs.map(run => {
    const metrics = Object.entries(run.metrics ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    return `  ${run.name ?? run.id} ${run.status ?? ''} ${metrics}`.trimEnd();
  });
  return {
    data: { [MIME.tracker]: { version: 1, ...data }, 'text/plain': [header, ...rows].join('\n') },
    metadata: {}
  };
}

export function driftBundle(data: Omit<DriftBundleData, 'version'>): MimeBundle {
  const alerts = data.points.filter(p => p.drift).length;
  const text =
    `drift ${data.checker}${data.detector ? ` (${data.detector})` : ''}: ` +
    `${data.points.length} batches, ${alerts} alerts` +
    (data.threshold !== undefined ? `, threshold ${data.threshold}` : '');
  return { data: { [MIME.drift]: { version: 1, ...data }, 'text/plain': text }, metadata: {} };
}

export function labelingBundle(data: Omit<LabelingBundleData, 'version'>): MimeBundle {
  const text =
    `labeling session ${data.session}: ${data.samples.length} samples, ` +
    `classes ${data.classes.join(', ')}; labels go to ${data.folder}/labels/`;
  return { data: { [MIME.labeling]: { version: 1, ...data }, 'text/plain': text }, metadata: {} };
}

/** Reads bundle data sent as an object or as a JSON string; undefined when it is neither. */
export function readBundleData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** The workflow bundle's data from whatever a kernel sent: a bundle, or a bare workflow spec. */
export function readWorkflowData(data: unknown): WorkflowBundleData | undefined {
  const value = readBundleData(data);
  if (isWorkflowSpec(value)) return { version: 1, workflow: value };
  if (typeof value === 'object' && value !== null) {
    const bundle = value as WorkflowBundleData;
    if (isWorkflowSpec(bundle.workflow)) return bundle;
  }
  return undefined;
}
