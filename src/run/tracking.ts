/**
 * The trackers of a run: unless the run has an external tracking server, the engine starts an
 * embedded one (src/track's startTracker) for the run, backed by a store in the project
 * (`<baseDir>/.scanflow/tracking.db` by default), plus one of their own for the workflows whose
 * definition says `tracker: { scope: 'workflow' }`. Each step gets its own MLflow run
 * (MLFLOW_RUN_ID) in the tracker it logs to, and the run's own metadata (definition, images,
 * timings, exit codes, log tails) is recorded there with a RunRecorder. A run that logs to an
 * external server (`--tracker URL`, a workflow's `tracker.url`) is recorded there too, through the
 * REST client; a server that does not answer is a notice, and the run goes on.
 *
 * The servers listen where the run's steps reach them and nowhere else: the run network's gateway
 * for Docker containers, 127.0.0.1 for local processes.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ArtifactStore } from '../track/artifacts';
import { defaultArtifactsDir, startTracker } from '../track/embedded';
import { RunRecorder, type RunArtifacts } from '../track/recorder';
import { RestStore } from '../track/rest-store';
import { SqliteStore } from '../track/sqlite-store';
import type { TrackingStore } from '../track/store';
import type { FlatGraph, FlatStep, WorkflowSpec } from '../workflow';
import type { EventInit, ExecutorKind, RunEvent } from './events';
import type { RunPlan } from './executor';
import { trackerFor, type StepEnvironment } from './step-env';

/** The default store of a run's embedded tracker, relative to the run's base folder. */
export const DEFAULT_STORE = join('.scanflow', 'tracking.db');

/** One embedded tracker of a run, as the run reports it. */
export interface EmbeddedTrackerInfo {
  /** The workflow it serves: the root's name (the run's shared tracker) or a qualified id. */
  workflow: string;
  /**
   * Where the steps reached it (also reachable from this machine); undefined when the run ended
   * before any step ran and it was only recorded, never served.
   */
  url?: string;
  /** The SQLite store and the artifacts folder (absolute paths). */
  store: string;
  artifacts: string;
  /** The experiment the run is recorded in: pass it to loadRecordedRun / Tracker.runs. */
  experiment: string;
}

/** A served tracker, only its store (a run that ends before its steps), or an external server. */
interface Opened {
  url: string;
  store: TrackingStore;
  artifacts: RunArtifacts;
  close(): Promise<void>;
}

interface Embedded {
  info: EmbeddedTrackerInfo;
  tracker: Opened;
  recorder: RunRecorder;
}

export interface RunTrackingOptions {
  /** The run's external tracker (RunOptions.tracker). */
  tracker?: string;
  trackers?: Record<string, string>;
  /** The shared store (default `<baseDir>/.scanflow/tracking.db`). */
  store?: string;
  /** Where the servers listen; undefined: record into the stores without serving them. */
  host?: string;
  executor: ExecutorKind;
}

/** Qualified id -> spec of every workflow in the graph, the root included. */
function workflowsOf(graph: FlatGraph): Map<string, WorkflowSpec> {
  const workflows = new Map<string, WorkflowSpec>();
  workflows.set(graph.root.name, graph.root);
  for (const container of graph.containers) {
    if (container.spec.kind === 'workflow') workflows.set(container.id, container.spec);
  }
  return workflows;
}

/** How long a request to an external tracker may take before recording gives up on it. */
const EXTERNAL_TIMEOUT_MS = 10_000;

export class RunTracking {
  private readonly embedded: Embedded[] = [];
  /** Recorders into external servers (`--tracker URL`, a workflow's `tracker.url`). */
  private readonly external: Embedded[] = [];
  /** What went wrong while starting, without stopping the run (an unreachable external server). */
  readonly notices: string[] = [];
  private readonly byUrl = new Map<string, Embedded>();
  private readonly byStep = new Map<string, Embedded>();
  /** What the scheduler passes to steps: the run's trackers, embedded ones included. */
  readonly environment: StepEnvironment;
  private closed?: Promise<string[]>;
  /**
   * Every request to the run's trackers must carry it (`Authorization: Bearer`): the gateway
   * address is reachable from this machine and other Docker networks too, not only the run's.
   * Steps get it as MLFLOW_TRACKING_TOKEN, which MLflow clients send.
   */
  private readonly token = randomBytes(24).toString('hex');

  private constructor(environment: StepEnvironment) {
    this.environment = environment;
  }

  /** The embedded trackers, as they were started. */
  get trackers(): EmbeddedTrackerInfo[] {
    return this.embedded.map(e => e.info);
  }

  /** True when the run is recorded nowhere (tracking found neither embedded nor external stores). */
  get isEmpty(): boolean {
    return this.embedded.length === 0 && this.external.length === 0;
  }

  /**
   * Starts the run's embedded trackers (none when every step logs to an external server) and a
   * recorder in each. On a failure, whatever was started is closed again and the error thrown.
   */
  static async start(plan: RunPlan, options: RunTrackingOptions): Promise<RunTracking> {
    const { graph } = plan;
    const sharedStore = resolve(plan.baseDir, options.store ?? DEFAULT_STORE);
    const wanted: Array<{ workflow: string; store: string; experiment: string }> = [];
    if (options.tracker === undefined && graph.root.tracker?.url === undefined) {
      wanted.push({
        workflow: graph.root.name,
        store: sharedStore,
        experiment: graph.root.tracker?.experiment ?? graph.root.name
      });
    }
    for (const [id, spec] of workflowsOf(graph)) {
      if (
        spec !== graph.root &&
        spec.tracker?.scope === 'workflow' &&
        spec.tracker.url === undefined &&
        options.trackers?.[id] === undefined
      ) {
        wanted.push({
          workflow: id,
          store: join(dirname(sharedStore), 'trackers', `${id}.db`),
          experiment: spec.tracker.experiment ?? id
        });
      }
    }
    const trackers: Record<string, string> = { ...options.trackers };
    const tracking = new RunTracking({
      runId: plan.runId,
      tracker: options.tracker,
      trackers
    });
    try {
      for (const want of wanted) {
        const artifacts = defaultArtifactsDir(want.store);
        const tracker =
          options.host === undefined
            ? openStore(want.store, artifacts)
            : await startTracker({
                host: options.host,
                token: tracking.token,
                storePath: want.store,
                artifactsDir: artifacts
              });
        const recorder = new RunRecorder(tracker.store, tracker.artifacts);
        const embedded: Embedded = {
          info: {
            workflow: want.workflow,
            url: options.host === undefined ? undefined : tracker.url,
            store: want.store,
            artifacts,
            experiment: want.experiment
          },
          tracker,
          recorder
        };
        tracking.embedded.push(embedded);
        tracking.byUrl.set(tracker.url, embedded);
        if (want.workflow === graph.root.name) {
          tracking.environment.tracker = tracker.url;
        } else {
          trackers[want.workflow] = tracker.url;
        }
      }
      await tracking.startExternal(plan, options.executor);
      for (const step of graph.steps) {
        const url = trackerFor(graph, step, tracking.environment).url;
        const embedded = url === undefined ? undefined : tracking.byUrl.get(url);
        if (embedded) tracking.byStep.set(step.id, embedded);
      }
      await Promise.all(
        tracking.embedded.map(e =>
          e.recorder.startRun({
            runId: plan.runId,
            workflow: e.info.experiment,
            definition: plan.spec,
            executor: options.executor
          })
        )
      );
    } catch (error) {
      await tracking.close();
      throw error;
    }
    return tracking;
  }

  /**
   * Scanflow's own metadata goes to external servers too: one recorder (over the REST client) per
   * external URL that a step logs to. A server that does not answer is a notice, not a failure.
   */
  private async startExternal(plan: RunPlan, executor: ExecutorKind): Promise<void> {
    const { graph } = plan;
    const experiments = new Map<string, string>();
    for (const step of graph.steps) {
      const { url, experiment } = trackerFor(graph, step, this.environment);
      if (url !== undefined && !this.byUrl.has(url) && !experiments.has(url)) {
        experiments.set(url, experiment ?? graph.root.tracker?.experiment ?? graph.root.name);
      }
    }
    for (const [url, experiment] of experiments) {
      const client = new RestStore(url, { timeoutMs: EXTERNAL_TIMEOUT_MS });
      const recorder = new RunRecorder(client, client);
      try {
        await recorder.startRun({
          runId: plan.runId,
          workflow: experiment,
          definition: plan.spec,
          executor
        });
      } catch (error) {
        client.close();
        this.notices.push(
          `the run is not recorded in ${url}: ${(error as Error).message ?? String(error)}`
        );
        continue;
      }
      const entry: Embedded = {
        info: { workflow: graph.root.name, url, store: url, artifacts: url, experiment },
        tracker: { url, store: client, artifacts: client, close: async () => client.close() },
        recorder
      };
      this.external.push(entry);
      this.byUrl.set(url, entry);
    }
  }

  /** Records one run event in the tracker of its step (run-wide events go to every tracker). */
  observe(event: RunEvent): void {
    if (event.type === 'service-stopped') {
      // A service the run stopped did its job: its MLflow run ends FINISHED, as a step's that
      // succeeded.
      this.byStep.get(event.step)?.recorder.observe({ ...event, type: 'step-succeeded' });
    } else if ('step' in event) {
      this.byStep.get(event.step)?.recorder.observe(event);
    } else {
      [...this.embedded, ...this.external].forEach(e => e.recorder.observe(event));
    }
  }

  /**
   * Variables for one step that only the tracker knows: MLFLOW_RUN_ID, the step's own MLflow run,
   * so that whatever the step logs lands next to its image, timings and exit code, and the
   * tracker's token as MLFLOW_TRACKING_TOKEN.
   */
  async stepEnv(step: FlatStep): Promise<Record<string, string>> {
    const embedded = this.byStep.get(step.id);
    if (!embedded) return {};
    const runId = await embedded.recorder.stepRun(step.id);
    // An external server's token is the user's own (MLFLOW_TRACKING_TOKEN in their environment).
    return this.external.includes(embedded)
      ? { MLFLOW_RUN_ID: runId }
      : { MLFLOW_RUN_ID: runId, MLFLOW_TRACKING_TOKEN: this.token };
  }

  /**
   * Waits until everything observed is written, then stops the servers and closes the stores.
   * Resolves with the problems met on the way (a tracker hiccup does not fail the run).
   */
  close(): Promise<string[]> {
    this.closed ??= (async () => {
      const problems: string[] = [];
      for (const { info, tracker, recorder } of [...this.embedded, ...this.external]) {
        try {
          await recorder.idle();
        } catch (error) {
          problems.push(
            `recording the run in ${info.store} failed: ${(error as Error).message ?? String(error)}`
          );
        }
        await tracker.close();
      }
      return problems;
    })();
    return this.closed;
  }

  /** The run's tracker-started events: where each tracker listens and keeps its data. */
  started(): EventInit[] {
    return this.embedded.flatMap(({ info }) =>
      info.url === undefined
        ? []
        : [{ type: 'tracker-started', workflow: info.workflow, url: info.url, store: info.store }]
    );
  }
}

/** A store opened for recording only: no server, so nothing listens. */
function openStore(path: string, artifactsDir: string): Opened {
  const store = new SqliteStore(path);
  let closed = false;
  return {
    url: pathToFileURL(path).href,
    store,
    artifacts: new ArtifactStore(artifactsDir),
    close: async () => {
      if (!closed) store.close();
      closed = true;
    }
  };
}
