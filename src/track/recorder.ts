/**
 * Scanflow's own run metadata, recorded as MLflow runs so that any MLflow client can read it and
 * the run's graph can be rebuilt from the tracker alone:
 *   - one MLflow run per scanflow run (in the experiment named after the workflow), tagged
 *     scanflow.run / scanflow.workflow / scanflow.executor, with the workflow definition as the
 *     artifact scanflow/workflow.json;
 *   - one nested MLflow run per step (tag mlflow.parentRunId), tagged scanflow.step, scanflow.image,
 *     scanflow.status, scanflow.exit_code, with metrics duration_seconds, exit_code and attempts, and
 *     the step's last log lines as the artifact logs/tail.txt.
 *
 *   const recorder = new RunRecorder(store, artifacts);   // e.g. tracker.store, tracker.artifacts
 *   run.on(event => recorder.observe(event));             // the run engine's events, as they come
 *   await recorder.idle();                                // everything written
 */
import { flatten, type WorkflowSpec } from '../workflow';
import { NotFoundError } from './errors';
import type { TrackingStore } from './store';
import type { KeyValue, Metric, Run, RunStatus } from './types';

/** Reads and writes a run's artifacts by its artifact URI: RestStore and ArtifactStore both do. */
export interface RunArtifacts {
  uploadArtifact(artifactUri: string, path: string, content: Buffer | string): Promise<void>;
  downloadArtifact(artifactUri: string, path: string): Promise<Buffer>;
}

export type RecordedOutcome = 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/**
 * The run engine's events, as far as the recorder reads them (src/run's RunEvent fits this shape).
 * Unknown event types are ignored.
 */
export interface RecordableEvent {
  type: string;
  runId: string;
  time: number;
  workflow?: string;
  executor?: string;
  steps?: string[];
  step?: string;
  image?: string;
  attempt?: number;
  line?: string;
  durationMs?: number;
  error?: string;
  exitCode?: number;
  reason?: string;
  status?: string;
}

export const TAGS = {
  run: 'scanflow.run',
  workflow: 'scanflow.workflow',
  executor: 'scanflow.executor',
  step: 'scanflow.step',
  image: 'scanflow.image',
  status: 'scanflow.status',
  exitCode: 'scanflow.exit_code',
  error: 'scanflow.error',
  needs: 'scanflow.needs',
  parent: 'mlflow.parentRunId',
  runName: 'mlflow.runName'
} as const;

const DEFINITION_ARTIFACT = 'scanflow/workflow.json';
const LOG_TAIL_ARTIFACT = 'logs/tail.txt';

const MLFLOW_STATUS: Record<string, RunStatus> = {
  succeeded: 'FINISHED',
  failed: 'FAILED',
  cancelled: 'KILLED',
  skipped: 'KILLED'
};

interface StepState {
  runId?: Promise<string>;
  image?: string;
  needs?: string[];
  attempts: number;
  tail: string[];
}

export interface RunRecorderOptions {
  /** How many of a step's last log lines are kept (default 100). */
  logTailLines?: number;
  /**
   * The MLflow run ids to use, for the scanflow run and for its steps: each is created with that
   * id (an embedded store), or adopted when it exists. A deployment names them in its files.
   */
  ids?: { run: string; steps: Record<string, string> };
}

export class RunRecorder {
  private parent?: Promise<Run>;
  private readonly steps = new Map<string, StepState>();
  private queue: Promise<void> = Promise.resolve();
  private failure?: unknown;
  private readonly tailLines: number;
  private readonly ids?: RunRecorderOptions['ids'];

  constructor(
    readonly store: TrackingStore,
    readonly artifacts: RunArtifacts,
    options: RunRecorderOptions = {}
  ) {
    this.tailLines = options.logTailLines ?? 100;
    this.ids = options.ids;
  }

  /** The run of a given id, when it exists already (a tracker restarted, a deployer adopting it). */
  private async existing(runId: string | undefined): Promise<Run | undefined> {
    if (runId === undefined) return undefined;
    return this.store.getRun(runId).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
  }

  /**
   * Creates the MLflow run of a scanflow run and stores its definition. With a workflow definition,
   * each step's image and dependencies are known up front and tagged on its run.
   */
  async startRun(options: {
    runId: string;
    workflow: string;
    definition?: WorkflowSpec | unknown;
    executor?: string;
    time?: number;
  }): Promise<Run> {
    if (options.definition !== undefined && !this.parent) this.learnSteps(options.definition);
    this.parent ??= (async () => {
      const adopted = await this.existing(this.ids?.run);
      if (adopted) return adopted;
      const experimentId = await this.experiment(options.workflow);
      const tags: KeyValue[] = [
        { key: TAGS.run, value: options.runId },
        { key: TAGS.workflow, value: options.workflow }
      ];
      if (options.executor) tags.push({ key: TAGS.executor, value: options.executor });
      const run = await this.store.createRun(experimentId, {
        runName: options.runId,
        runId: this.ids?.run,
        startTime: options.time,
        tags
      });
      if (options.definition !== undefined) {
        await this.artifacts.uploadArtifact(
          run.info.artifact_uri,
          DEFINITION_ARTIFACT,
          `${JSON.stringify(options.definition, null, 2)}\n`
        );
      }
      return run;
    })();
    return this.parent;
  }

  private learnSteps(definition: unknown): void {
    let steps;
    try {
      steps = flatten(definition as WorkflowSpec).steps;
    } catch {
      return; // not a workflow definition: it is still stored, just not read
    }
    for (const step of steps) {
      const state = this.state(step.id);
      state.image ??= step.spec.image;
      state.needs = step.needs;
    }
  }

  private async experiment(name: string): Promise<string> {
    try {
      return (await this.store.getExperimentByName(name)).experiment_id;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return this.store.createExperiment(name).catch(async (raced: unknown) => {
        // Another recorder created it in the meantime.
        if ((raced as { errorCode?: string }).errorCode === 'RESOURCE_ALREADY_EXISTS') {
          return (await this.store.getExperimentByName(name)).experiment_id;
        }
        throw raced;
      });
    }
  }

  private state(step: string): StepState {
    let state = this.steps.get(step);
    if (!state) {
      state = { attempts: 0, tail: [] };
      this.steps.set(step, state);
    }
    return state;
  }

  /**
   * The MLflow run id of a step, created on first use. Give it to the step as MLFLOW_RUN_ID and the
   * step's own MLflow logging lands in its run.
   */
  stepRun(step: string, time?: number): Promise<string> {
    const state = this.state(step);
    state.runId ??= (async () => {
      if (!this.parent)
        throw new NotFoundError(`RunRecorder: startRun() must come before step '${step}'.`);
      const parent = await this.parent;
      const id = this.ids?.steps[step];
      const adopted = await this.existing(id);
      if (adopted) return adopted.info.run_id;
      const tags: KeyValue[] = [
        { key: TAGS.parent, value: parent.info.run_id },
        { key: TAGS.run, value: parent.data.tags.find(t => t.key === TAGS.run)?.value ?? '' },
        { key: TAGS.step, value: step }
      ];
      if (state.image) tags.push({ key: TAGS.image, value: state.image });
      if (state.needs) tags.push({ key: TAGS.needs, value: JSON.stringify(state.needs) });
      const run = await this.store.createRun(parent.info.experiment_id, {
        runName: step,
        runId: id,
        startTime: time,
        tags
      });
      return run.info.run_id;
    })();
    return state.runId;
  }

  async stepImage(step: string, image: string): Promise<void> {
    const state = this.state(step);
    state.image = image;
    if (state.runId) await this.store.setTag(await state.runId, TAGS.image, image);
  }

  async stepStarted(step: string, attempt: number, time?: number): Promise<void> {
    const state = this.state(step);
    state.attempts = Math.max(state.attempts, attempt);
    await this.stepRun(step, time);
  }

  /** Keeps the step's last lines in memory; they are written when the step ends. */
  stepLog(step: string, line: string): void {
    const tail = this.state(step).tail;
    tail.push(line);
    if (tail.length > this.tailLines) tail.splice(0, tail.length - this.tailLines);
  }

  async stepFinished(
    step: string,
    outcome: RecordedOutcome,
    details: { durationMs?: number; exitCode?: number; error?: string; time?: number } = {}
  ): Promise<void> {
    const state = this.state(step);
    const time = details.time ?? Date.now();
    const runId = await this.stepRun(step, time);
    const metrics: Metric[] = [
      { key: 'attempts', value: state.attempts, step: 0, timestamp: time }
    ];
    if (details.durationMs !== undefined)
      metrics.push({
        key: 'duration_seconds',
        value: details.durationMs / 1000,
        step: 0,
        timestamp: time
      });
    if (details.exitCode !== undefined)
      metrics.push({ key: 'exit_code', value: details.exitCode, step: 0, timestamp: time });
    const tags: KeyValue[] = [{ key: TAGS.status, value: outcome }];
    if (details.exitCode !== undefined)
      tags.push({ key: TAGS.exitCode, value: String(details.exitCode) });
    if (details.error) tags.push({ key: TAGS.error, value: details.error.slice(0, 8000) });
    await this.store.logBatch(runId, { metrics, tags });
    if (state.tail.length) {
      const run = await this.store.getRun(runId);
      await this.artifacts.uploadArtifact(
        run.info.artifact_uri,
        LOG_TAIL_ARTIFACT,
        `${state.tail.join('\n')}\n`
      );
    }
    await this.store.updateRun(runId, { status: MLFLOW_STATUS[outcome], endTime: time });
  }

  async finishRun(status: string, details: { error?: string; time?: number } = {}): Promise<void> {
    if (!this.parent) return;
    const parent = await this.parent;
    const tags: KeyValue[] = [{ key: TAGS.status, value: status }];
    if (details.error) tags.push({ key: TAGS.error, value: details.error.slice(0, 8000) });
    await this.store.logBatch(parent.info.run_id, { tags });
    await this.store.updateRun(parent.info.run_id, {
      status: MLFLOW_STATUS[status] ?? 'FINISHED',
      endTime: details.time ?? Date.now()
    });
  }

  /**
   * Records one run-engine event. Events are written one after another in arrival order; a failure
   * is kept and reported by `idle()` (a tracker hiccup must not break the run itself).
   */
  observe(event: RecordableEvent): void {
    if (event.type === 'step-log') {
      if (event.step && event.line !== undefined) this.stepLog(event.step, event.line);
      return;
    }
    this.queue = this.queue
      .then(() => this.apply(event))
      .catch(error => {
        this.failure ??= error;
      });
  }

  private async apply(event: RecordableEvent): Promise<void> {
    const step = event.step ?? '';
    switch (event.type) {
      case 'run-started':
        await this.startRun({
          runId: event.runId,
          workflow: event.workflow ?? 'workflow',
          executor: event.executor,
          time: event.time
        });
        return;
      case 'step-building':
        if (event.image) await this.stepImage(step, event.image);
        return;
      case 'step-running':
        await this.stepStarted(step, event.attempt ?? 1, event.time);
        return;
      case 'step-succeeded':
        await this.stepFinished(step, 'succeeded', {
          durationMs: event.durationMs,
          exitCode: 0,
          time: event.time
        });
        return;
      case 'step-failed':
        await this.stepFinished(step, 'failed', {
          exitCode: event.exitCode,
          error: event.error,
          time: event.time
        });
        return;
      case 'step-skipped':
        await this.stepFinished(step, 'skipped', { error: event.reason, time: event.time });
        return;
      case 'step-cancelled':
        await this.stepFinished(step, 'cancelled', { time: event.time });
        return;
      case 'run-finished':
        await this.finishRun(event.status ?? 'succeeded', { error: event.error, time: event.time });
        return;
      default:
        return;
    }
  }

  /** Resolves when every observed event is written; rejects with the first failure, if any. */
  async idle(): Promise<void> {
    await this.queue;
    if (this.failure !== undefined) throw this.failure;
  }
}

export interface RecordedStep {
  step: string;
  mlflowRunId: string;
  image?: string;
  /** The steps it waited for (qualified ids). */
  needs?: string[];
  status?: string;
  exitCode?: number;
  attempts?: number;
  durationSeconds?: number;
  startTime: number;
  endTime?: number;
  logTail?: string;
}

export interface RecordedRun {
  runId: string;
  workflow: string;
  mlflowRunId: string;
  status?: string;
  startTime: number;
  endTime?: number;
  /** The workflow definition as it was run. */
  definition?: unknown;
  steps: RecordedStep[];
}

const tag = (run: Run, key: string): string | undefined =>
  run.data.tags.find(t => t.key === key)?.value;
const metricValue = (run: Run, key: string): number | undefined =>
  run.data.metrics.find(m => m.key === key)?.value;

/** Rebuilds a scanflow run (definition, steps, images, outcomes, log tails) from the tracker alone. */
export async function loadRecordedRun(
  store: TrackingStore,
  artifacts: RunArtifacts,
  workflow: string,
  runId: string
): Promise<RecordedRun> {
  const experiment = await store.getExperimentByName(workflow);
  const runs: Run[] = [];
  let pageToken: string | undefined;
  do {
    const page = await store.searchRuns([experiment.experiment_id], {
      filter: `tags.\`${TAGS.run}\` = '${runId.replace(/'/g, "\\'")}'`,
      maxResults: 1000,
      pageToken
    });
    runs.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  const parent = runs.find(r => tag(r, TAGS.step) === undefined);
  if (!parent)
    throw new NotFoundError(`No scanflow run '${runId}' of workflow '${workflow}' in the tracker.`);
  const optional = async (uri: string, path: string): Promise<string | undefined> => {
    try {
      return (await artifacts.downloadArtifact(uri, path)).toString('utf8');
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  };
  const definition = await optional(parent.info.artifact_uri, DEFINITION_ARTIFACT);
  const steps = await Promise.all(
    runs
      .filter(r => tag(r, TAGS.parent) === parent.info.run_id)
      .map(async (r): Promise<RecordedStep> => {
        const exitCode = tag(r, TAGS.exitCode);
        const needs = tag(r, TAGS.needs);
        return {
          step: tag(r, TAGS.step) ?? r.info.run_name,
          mlflowRunId: r.info.run_id,
          image: tag(r, TAGS.image),
          needs: needs === undefined ? undefined : (JSON.parse(needs) as string[]),
          status: tag(r, TAGS.status),
          exitCode: exitCode === undefined ? undefined : Number(exitCode),
          attempts: metricValue(r, 'attempts'),
          durationSeconds: metricValue(r, 'duration_seconds'),
          startTime: r.info.start_time,
          endTime: r.info.end_time,
          logTail: await optional(r.info.artifact_uri, LOG_TAIL_ARTIFACT)
        };
      })
  );
  steps.sort((a, b) => a.startTime - b.startTime || a.step.localeCompare(b.step));
  return {
    runId,
    workflow,
    mlflowRunId: parent.info.run_id,
    status: tag(parent, TAGS.status),
    startTime: parent.info.start_time,
    endTime: parent.info.end_time,
    definition: definition === undefined ? undefined : (JSON.parse(definition) as unknown),
    steps
  };
}
