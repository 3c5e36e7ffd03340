/** The "Open Tracker Panel" command: a tracker's runs in a main-area tab (see tracker-panel.ts). */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget } from '@jupyterlab/apputils';
import { CATEGORY, COMMANDS } from './commands';
import { TrackerClient } from './tracker-client';
import { TrackerPanel } from './tracker-panel';
import { IScanflowServer, IScanflowSettings } from './tokens';

/**
 * The command's arguments; without `url` it asks, offering the tracker URL setting. Without
 * `token`, the token setting is used for the tracker of the URL setting (and the panel asks).
 */
interface OpenTrackerArgs {
  url?: string;
  experiment?: string;
  /** The tracker's bearer token, when it requires one. */
  token?: string;
}

export const trackerPanel: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:tracker-panel',
  description: "Opens a tracker's runs table, charts and params diff in a main-area panel.",
  autoStart: true,
  requires: [IScanflowServer, IScanflowSettings],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    server: IScanflowServer,
    settings: IScanflowSettings,
    palette: ICommandPalette | null
  ) => {
    app.commands.addCommand(COMMANDS.openTracker, {
      label: 'Open Tracker Panel',
      caption: "Show a tracker's runs, metric charts and params diff",
      execute: async args => {
        const given = args as OpenTrackerArgs;
        let url = typeof given.url === 'string' ? given.url : undefined;
        if (url === undefined) {
          const answer = await InputDialog.getText({
            title: 'Open Tracker Panel',
            label: 'Tracker URL (the Jupyter server connects to it)',
            text: settings.trackerUrl,
            okLabel: 'Open'
          });
          if (!answer.button.accept || !answer.value) return;
          url = answer.value.trim();
        }
        url = url.replace(/\/+$/, '');
        const client = new TrackerClient(
          (path, init) => server.request(path, init),
          url,
          typeof given.token === 'string' ? given.token : settingToken(settings, url)
        );
        const panel = new TrackerPanel(
          client,
          typeof given.experiment === 'string' ? given.experiment : undefined
        );
        const widget = new MainAreaWidget({ content: panel });
        widget.id = panel.id;
        widget.title.label = panel.title.label;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        await panel.load();
      }
    });
    palette?.addItem({ command: COMMANDS.openTracker, category: CATEGORY });
  }
};

/** The token setting, for the tracker it belongs to only: a token is not sent to other servers. */
function settingToken(settings: IScanflowSettings, url: string): string | undefined {
  const own = settings.trackerUrl.replace(/\/+$/, '');
  return settings.trackerToken && url === own ? settings.trackerToken : undefined;
}
