/**
 * The standalone tracker panel (a main-area tab): the runs of one experiment of a tracker, read
 * through the server extension, drawn by the same TrackerRenderer as tracker outputs in notebooks
 * (runs table, params diff of ticked runs, metric history charts). Pick another experiment,
 * enter the tracker's token or refresh from its toolbar.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { MIME } from '../mime';
import { TrackerRenderer } from './tracker-renderer';
import { TrackerTokenError, type TrackerClient } from './tracker-client';

export class TrackerPanel extends Widget {
  private readonly experiments = document.createElement('select');
  /** A password field: what is typed is never shown, and a token from settings is not put in. */
  private readonly token = document.createElement('input');
  /** The token the panel was opened with (command argument or setting), used when none is typed. */
  private readonly givenToken: string | undefined;
  private readonly status = element('span', 'jp-ScanflowTrackerPanel-status');
  private readonly view = new TrackerRenderer({ mimeType: MIME.tracker });

  constructor(
    private readonly client: TrackerClient,
    private experiment?: string
  ) {
    super();
    this.givenToken = client.token;
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
    this.token.type = 'password';
    this.token.autocomplete = 'off';
    this.token.className = 'jp-ScanflowTrackerPanel-token jp-mod-styled';
    this.token.placeholder = client.token ? 'Token (from settings)' : 'Token';
    this.token.title = "The tracker's bearer token, when it needs one (Enter reads the tracker)";
    this.token.setAttribute('aria-label', 'Tracker token');
    this.token.addEventListener('keydown', event => {
      if (event.key === 'Enter') void this.load();
    });
    const refresh = element('button', 'jp-ScanflowWorkflow-button jp-mod-styled', 'Refresh');
    refresh.title = 'Read the tracker again';
    refresh.addEventListener('click', () => void this.load());
    toolbar.append(
      element('span', 'jp-ScanflowTrackerPanel-url', client.url),
      this.experiments,
      this.token,
      refresh,
      this.status
    );
    this.node.append(toolbar, this.view.node);
  }

  /** Lists the experiments, then shows the runs of the chosen one (or the first). */
  async load(): Promise<void> {
    this.client.token = this.token.value.trim() || this.givenToken;
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
      this.view.node.hidden = false;
      this.say('');
    } catch (error) {
      this.fail(error);
    }
  }

  private say(text: string): void {
    this.status.textContent = text;
    this.status.classList.remove('jp-mod-error');
    this.token.classList.remove('jp-mod-error');
  }

  /** Shows what went wrong instead of the runs (which may be another token's, or none). */
  private fail(error: unknown): void {
    this.view.node.hidden = true;
    this.status.classList.add('jp-mod-error');
    if (error instanceof TrackerTokenError) {
      this.status.textContent =
        `${error.message} Enter its token in the Token field and press Enter` +
        " (or set 'Tracker token' in Scanflow's settings).";
      this.token.classList.add('jp-mod-error');
      this.token.focus();
      return;
    }
    this.status.textContent = error instanceof Error ? error.message : String(error);
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
