/**
 * The log of a run started from the lab, followed live: asks the server extension
 * (`GET /scanflow/run/<id>?offset=…`, jupyterlab_scanflow/handlers.py) for what was written since
 * the last time, once a second, until the run has ended and its log is read to the end; then
 * shows how it ended. Closing the tab stops following (the run goes on); Cancel stops the run.
 */
import { Widget } from '@lumino/widgets';
import { messageOf } from './server-plugin';
import type { Executor, IScanflowServer } from './tokens';

/** How a run stands, as the server extension reports it. */
export type RunState = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A run the server extension started (the answer to `POST /scanflow/run`, and what was run). */
export interface StartedRun {
  id: string;
  /** Its log file, from the server root. */
  log: string;
  /** The workflow file, from the server root. */
  path: string;
  executor: Executor;
}

/** One answer of `GET /scanflow/run/<id>`: the log from the offset asked for, and the state. */
interface RunProgress {
  state: RunState;
  exitCode: number | null;
  text: string;
  offset: number;
}

/** Between two requests for more of the log. */
const POLL_MS = 1000;

export class RunLog extends Widget {
  private readonly status = element('span', 'jp-ScanflowRunLog-status');
  private readonly cancel = element('button', 'jp-ScanflowWorkflow-button jp-mod-styled', 'Cancel');
  private readonly text = element('pre', 'jp-ScanflowRunLog-text');
  private offset = 0;
  private cancelling = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** @param openFile - opens the log file in JupyterLab's editor. */
  constructor(
    private readonly server: IScanflowServer,
    readonly run: StartedRun,
    openFile: (path: string) => void
  ) {
    super();
    this.addClass('jp-ScanflowRunLog');
    this.id = `scanflow-run-${run.id}`;
    const name = run.path.split('/').pop() ?? run.path;
    this.title.label = `Run ${name}`;
    this.title.caption = `scanflow run ${run.path} --executor ${run.executor}\nlog: ${run.log}`;
    this.title.closable = true;
    this.cancel.title = 'Stop the run and remove its containers (as Ctrl-C)';
    this.cancel.addEventListener('click', () => void this.stop());
    const file = element('button', 'jp-ScanflowWorkflow-button jp-mod-styled', 'Open Log File');
    file.title = run.log;
    file.addEventListener('click', () => openFile(run.log));
    const toolbar = element('div', 'jp-ScanflowRunLog-toolbar');
    toolbar.append(
      element('span', 'jp-ScanflowRunLog-name', `${run.path} · ${run.executor} executor`),
      this.status,
      this.cancel,
      file
    );
    this.node.append(toolbar, this.text);
    this.showState('running');
  }

  /** Reads the log from where it was left, and again a second later while the run goes on. */
  async follow(): Promise<void> {
    this.timer = undefined;
    let progress: RunProgress;
    try {
      const response = await this.server.request(
        `run/${encodeURIComponent(this.run.id)}?offset=${this.offset}`,
        { method: 'GET' }
      );
      const body = await response.text();
      if (!response.ok) throw new Error(messageOf(body) || `HTTP ${response.status}`);
      progress = JSON.parse(body) as RunProgress;
    } catch (error) {
      if (this.isDisposed) return;
      this.status.textContent = `not followed any more: ${error instanceof Error ? error.message : String(error)}`;
      this.status.classList.add('jp-mod-error');
      return;
    }
    if (this.isDisposed) return;
    this.append(progress.text);
    this.offset = progress.offset;
    this.showState(progress.state, progress.exitCode);
    if (progress.state === 'running') {
      this.timer = setTimeout(() => void this.follow(), POLL_MS);
    }
  }

  private append(text: string): void {
    if (!text) return;
    // Keep the end in view, unless the reader scrolled up to read something.
    const atEnd = this.node.scrollTop + this.node.clientHeight >= this.node.scrollHeight - 4;
    this.text.append(document.createTextNode(text));
    if (atEnd) this.node.scrollTop = this.node.scrollHeight;
  }

  private showState(state: RunState, exitCode: number | null = null): void {
    this.status.dataset.state = state;
    this.status.textContent =
      state === 'running'
        ? this.cancelling
          ? 'cancelling…'
          : 'running…'
        : state === 'failed' && exitCode !== null
          ? `failed (exit code ${exitCode})`
          : state;
    this.cancel.hidden = state !== 'running';
  }

  private async stop(): Promise<void> {
    this.cancel.disabled = true;
    this.cancelling = true;
    this.status.textContent = 'cancelling…';
    const response = await this.server.request(`run/${encodeURIComponent(this.run.id)}`, {
      method: 'DELETE'
    });
    if (!response.ok) {
      this.status.textContent = `could not cancel: ${messageOf(await response.text())}`;
      this.status.classList.add('jp-mod-error');
      this.cancel.disabled = false;
      this.cancelling = false;
    }
    // The state comes with the next read of the log.
  }

  dispose(): void {
    if (this.isDisposed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    super.dispose();
  }
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const result = document.createElement(tag);
  result.className = className;
  if (text !== undefined) result.textContent = text;
  return result;
}
