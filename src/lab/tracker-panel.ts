/**
 * The standalone tracker panel (a main-area tab): the runs of one experiment of a tracker, read
 * through the server extension, drawn by the same TrackerRenderer as tracker outputs in notebooks
 * (runs table, params diff of ticked runs, metric history charts). Pick another experiment or
 * refresh from its toolbar.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { MIME } from '../mime';
import { TrackerRenderer } from './tracker-renderer';
import type { TrackerClient } from './tracker-client';

export class TrackerPanel extends Widget {
  private readonly experiments = document.createElement('select');
  private readonly status = element('span', 'jp-ScanflowTrackerPanel-status');
  private readonly view = new TrackerRenderer({ mimeType: MIME.tracker });

  constructor(
    private readonly client: TrackerClient,
    private experiment?: string
  ) {
    super();
    this.addClass('jp-ScanflowTrackerPanel');
    this.id = `scanflow-tracker-${Math.random().toString(36).slice(2, 10)}`;
    this.title.label = `Tracker ${client.url}`;
    this.title.closable = true;
    const toolbar = element('div', 'jp-ScanflowTrackerPanel-toolbar');
    this.experiments.className = 'jp-ScanflowTrackerPanel-experiments jp-mod-styled';
    this.experiments.title = 'Experiment (workflow)';
    this.experiments.addEventListener('change', () => {
      this.experiment = this.experiments.value;
      void this.refresh();
    });
    const refresh = element('button', 'jp-ScanflowWorkflow-button jp-mod-styled', 'Refresh');
    refresh.title = 'Read the tracker again';
    refresh.addEventListener('click', () => void this.load());
    toolbar.append(
      element('span', 'jp-ScanflowTrackerPanel-url', client.url),
      this.experiments,
      refresh,
      this.status
    );
    this.node.append(toolbar, this.view.node);
  }

  /** Lists the experiments, then shows the runs of the chosen one (or the first). */
  async load(): Promise<void> {
    this.say('Reading the tracker…');
    let names: string[];
    try {
      names = await this.client.experiments();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.experiments.replaceChildren(
      ...names.map(name => {
        const option = document.createElement('option');
        option.value = name;
        option.textContent = name;
        return option;
      })
    );
    if (names.length === 0) {
      this.say('This tracker has no experiments yet.');
      return;
    }
    if (!this.experiment || !names.includes(this.experiment)) {
      // The default experiment holds runs logged without one; a named workflow is more useful.
      this.experiment = names.find(name => name !== 'Default') ?? names[0];
    }
    this.experiments.value = this.experiment;
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const experiment = this.experiment;
    if (!experiment) return;
    this.say(`Reading the runs of ${experiment}…`);
    try {
      const data = await this.client.runs(experiment);
      if (experiment !== this.experiment) return; // another one was picked meanwhile
      await this.view.renderModel({
        trusted: true,
        data: { [MIME.tracker]: data as unknown as IRenderMime.IMimeModel['data'][string] },
        metadata: {},
        setData: () => undefined
      });
      this.say('');
    } catch (error) {
      this.fail(error);
    }
  }

  private say(text: string): void {
    this.status.textContent = text;
    this.status.classList.remove('jp-mod-error');
  }

  private fail(error: unknown): void {
    this.status.textContent = error instanceof Error ? error.message : String(error);
    this.status.classList.add('jp-mod-error');
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.view.dispose();
    super.dispose();
  }
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const result = document.createElement(tag);
  result.className = className;
  if (text !== undefined) result.textContent = text;
  return result;
}
