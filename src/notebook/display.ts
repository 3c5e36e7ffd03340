/**
 * The tslab bridge: `show(x)` sends a scanflow object to the notebook as a rich display bundle.
 *
 * The toolkit never imports `tslab` (a second copy of it is "not ready"). It receives the kernel's
 * display function by injection: `useDisplay(...)` with a writer, or with tslab's public
 * `display` / `newDisplay()` object; and when nothing was injected, the running kernel's own writer
 * is found among the modules the kernel has already loaded (tslab rebinds it to the executing cell
 * on every execute request). A view captures the writer of the cell that showed it, so later
 * updates (a running workflow's statuses) go to its own output and never into another cell.
 */
import { randomBytes } from 'node:crypto';
import {
  isWorkflowSpec,
  workflowBundle,
  type Displayable,
  type MimeBundle,
  type StepState,
  type WorkflowBundleData
} from './bundles';
import type { RunEvent } from '../run/events';
import { StepLogFiles } from './step-logs';
import type { WorkflowSpec } from '../workflow/types';

/** A display_data / update_display_data content with its display id. */
export interface DisplayMessage extends MimeBundle {
  transient: { display_id?: string };
}

/** Sends one display message; `update` makes it an update_display_data of `transient.display_id`. */
export type DisplayWriter = (message: DisplayMessage, update: boolean) => void;

/** tslab's public Display (`display` or `newDisplay()`): one MIME type per message, strings only. */
export interface RawDisplay {
  raw(contentType: string, data: string): unknown;
}

let injected: DisplayWriter | undefined;

/**
 * Injects the function that sends display messages (e.g. tslab's `display`, or a test's writer).
 * `useDisplay(undefined)` goes back to finding the kernel's writer.
 */
export function useDisplay(display: DisplayWriter | RawDisplay | undefined): void {
  injected = display === undefined || typeof display === 'function' ? display : fromRaw(display);
}

/** A raw display can carry one MIME type: ours, as a JSON string (renderers accept strings). */
function fromRaw(display: RawDisplay): DisplayWriter {
  return message => {
    const [type, value] =
      Object.entries(message.data).find(([key]) => key !== 'text/plain') ??
      Object.entries(message.data)[0];
    display.raw(type, typeof value === 'string' ? value : JSON.stringify(value));
  };
}

interface TslabJupyterModule {
  lastWriteDisplayData?: ((message: DisplayMessage, update: boolean) => void) | null;
}

/** The writer of the running tslab kernel, bound to the cell being executed now. */
function kernelWriter(): DisplayWriter | undefined {
  for (const [file, module] of Object.entries(require.cache)) {
    if (/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) {
      const write = (module?.exports as TslabJupyterModule | undefined)?.lastWriteDisplayData;
      if (typeof write === 'function') return write;
    }
  }
  return undefined;
}

/** Outside a kernel: print the text fallback. */
const consoleWriter: DisplayWriter = (message, update) => {
  if (!update) console.log(String(message.data['text/plain'] ?? ''));
};

function currentWriter(): DisplayWriter {
  return injected ?? kernelWriter() ?? consoleWriter;
}

/** One output in the notebook that can be replaced in place. */
export class DisplayHandle {
  readonly id: string;
  private readonly write: DisplayWriter;
  private shown = false;

  constructor(id = randomBytes(8).toString('hex')) {
    this.id = id;
    // Captured now: tslab rebinds its writer to whichever cell executes later.
    this.write = currentWriter();
  }

  /** Sends the bundle: the first time as a new output, then as updates of that output. */
  display(bundle: MimeBundle): void {
    const message: DisplayMessage = { ...bundle, transient: { display_id: this.id } };
    this.write(message, this.shown);
    this.shown = true;
  }
}

/** What a view needs of a run (src/run's WorkflowRun). */
export interface FollowableRun {
  readonly id: string;
  on(listener: (event: RunEvent) => void): () => void;
  history(): readonly RunEvent[];
}

export interface FollowOptions {
  /**
   * A folder for the steps' logs, relative to the kernel's working folder (the notebook's in
   * tslab), e.g. 'scanflow-logs'. Without it nothing is written.
   */
  logs?: string;
}

/** A workflow shown in a notebook, whose step statuses can be updated while it runs. */
export class WorkflowView {
  readonly status: Record<string, StepState> = {};
  run?: WorkflowBundleData['run'];
  /** At most one redraw per this many milliseconds while a run reports events. */
  throttleMs = 100;
  private readonly handle: DisplayHandle;
  private pending?: ReturnType<typeof setTimeout>;

  constructor(
    readonly workflow: WorkflowSpec,
    displayId?: string
  ) {
    this.handle = new DisplayHandle(displayId);
  }

  get displayId(): string {
    return this.handle.id;
  }

  toMimeBundle(): MimeBundle {
    return workflowBundle(this.workflow, this.status, this.run);
  }

  /** Shows (first call) or redraws the workflow in its own output. */
  show(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    this.handle.display(this.toMimeBundle());
  }

  /** Records a step's (or container's) state and redraws; fields not given keep their values. */
  set(id: string, state: Partial<StepState> & Pick<StepState, 'status'>): void {
    this.status[id] = { ...this.status[id], ...state };
    this.show();
  }

  /**
   * Follows a run (`runWorkflow(...)`): every step event updates this view's own output, so the
   * run's progress never lands in whichever cell happens to execute later. With `logs`, each
   * step's output is also written to `<logs>/<run id>/<step>.log` and its tooltip links to it.
   * Returns a function that stops following.
   */
  follow(run: FollowableRun, options: FollowOptions = {}): () => void {
    const files = options.logs === undefined ? undefined : new StepLogFiles(options.logs, run.id);
    const take = (event: RunEvent): void => {
      this.apply(event);
      const log = files?.take(event);
      if (log && this.status[log.step]) this.status[log.step].logs = log.path;
    };
    run.history().forEach(take);
    this.show();
    return run.on(event => {
      take(event);
      if (event.type === 'run-finished') this.show();
      else if (event.type !== 'step-log' && !this.pending) {
        this.pending = setTimeout(() => this.show(), this.throttleMs);
      }
    });
  }

  /** Records what one run event says, without redrawing. */
  apply(event: RunEvent): void {
    const iso = new Date(event.time).toISOString();
    switch (event.type) {
      case 'run-started':
        this.run = { id: event.runId, status: 'running', startedAt: iso };
        break;
      case 'run-finished':
        this.run = { ...this.run, id: event.runId, status: event.status, finishedAt: iso };
        break;
      case 'step-queued':
        this.record(event.step, { status: 'queued' });
        break;
      case 'step-building':
        this.record(event.step, {
          status: 'building',
          message: event.cached ? `image ${event.image} (cached)` : `building ${event.image}`
        });
        break;
      case 'step-running':
        this.record(event.step, { status: 'running', attempt: event.attempt, startedAt: iso });
        break;
      case 'step-retrying':
        this.record(event.step, {
          status: 'retrying',
          attempt: event.attempt,
          message: event.error
        });
        break;
      case 'step-succeeded':
        this.record(event.step, {
          status: 'succeeded',
          attempt: event.attempt,
          durationMs: event.durationMs,
          finishedAt: iso,
          message: undefined
        });
        break;
      case 'step-failed':
        this.record(event.step, {
          status: 'failed',
          attempt: event.attempt,
          finishedAt: iso,
          message:
            event.exitCode === undefined
              ? event.error
              : `${event.error} (exit code ${event.exitCode})`
        });
        break;
      case 'step-skipped':
        this.record(event.step, { status: 'skipped', message: event.reason });
        break;
      case 'step-cancelled':
        this.record(event.step, { status: 'skipped', message: 'cancelled', finishedAt: iso });
        break;
      case 'service-ready':
        this.record(event.step, {
          status: 'ready',
          endpoints: event.endpoints,
          message: `reached at ${event.url} by the steps`
        });
        break;
      case 'service-stopped':
        this.record(event.step, { status: 'stopped', finishedAt: iso, message: event.reason });
        break;
      default:
        break;
    }
  }

  private record(id: string, state: Partial<StepState> & Pick<StepState, 'status'>): void {
    const next: StepState = { ...this.status[id], ...state };
    for (const key of Object.keys(next) as Array<keyof StepState>) {
      if (next[key] === undefined) delete next[key];
    }
    this.status[id] = next;
  }
}

/** The display bundle of anything `show` understands; undefined otherwise. */
export function toMimeBundle(value: unknown): MimeBundle | undefined {
  if (isWorkflowSpec(value)) return workflowBundle(value);
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Displayable).toMimeBundle === 'function'
  ) {
    return (value as Displayable).toMimeBundle();
  }
  return undefined;
}

/**
 * Shows a scanflow object inline: a workflow definition, or anything with `toMimeBundle()` (runs,
 * tracker queries, drift reports, labeling sessions). Other values are shown as text. Returns
 * nothing, so that tslab prints nothing after the output; for an output to update in place, use a
 * `WorkflowView` or a `DisplayHandle`.
 */
export function show(value: unknown): void {
  new DisplayHandle().display(
    toMimeBundle(value) ?? { data: { 'text/plain': textOf(value) }, metadata: {} }
  );
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}
