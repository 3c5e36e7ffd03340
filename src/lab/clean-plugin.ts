/**
 * The "Clean Up Scanflow Leftovers" command: asks, then has the Jupyter server run
 * `scanflow clean` (jupyterlab_scanflow/handlers.py) and reports what it removed.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { CATEGORY, COMMANDS } from './commands';
import { messageOf } from './server-plugin';
import { IScanflowServer } from './tokens';

interface CleanChoice {
  run: string;
  keepVolumes: boolean;
}

interface CleanResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The dialog's body: an optional run id, and whether to keep the outputs' volumes. */
class CleanForm extends Widget implements Dialog.IBodyWidget<CleanChoice> {
  private readonly run = document.createElement('input');
  private readonly keep = document.createElement('input');

  constructor(run: string) {
    super();
    this.addClass('jp-ScanflowClean');
    const text = document.createElement('p');
    text.textContent =
      'Removes the Docker containers, networks and volumes that scanflow labelled, ' +
      'of every run or of one run. Images are kept.';
    this.run.className = 'jp-mod-styled jp-ScanflowClean-run';
    this.run.placeholder = 'run id (empty: every run)';
    this.run.value = run;
    this.keep.type = 'checkbox';
    const runLabel = document.createElement('label');
    runLabel.append('Run ', this.run);
    const keepLabel = document.createElement('label');
    keepLabel.append(this.keep, ' keep the volumes and folders that hold outputs');
    this.node.append(text, runLabel, keepLabel);
  }

  getValue(): CleanChoice {
    return { run: this.run.value.trim(), keepVolumes: this.keep.checked };
  }
}

export const clean: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:clean',
  description: 'Removes the Docker objects scanflow left behind (scanflow clean, on the server).',
  autoStart: true,
  requires: [IScanflowServer],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, server: IScanflowServer, palette: ICommandPalette | null) => {
    app.commands.addCommand(COMMANDS.clean, {
      label: 'Clean Up Scanflow Leftovers',
      caption: 'Remove the containers, networks and volumes scanflow labelled (scanflow clean)',
      execute: async args => {
        const answer = await showDialog({
          title: 'Clean up Scanflow leftovers',
          body: new CleanForm(typeof args.run === 'string' ? args.run : ''),
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
        });
        if (!answer.button.accept || !answer.value) return;
        const { run, keepVolumes } = answer.value;
        const response = await server.request('clean', {
          method: 'POST',
          body: JSON.stringify({ ...(run ? { run } : {}), keepVolumes })
        });
        const text = await response.text();
        if (!response.ok) {
          Notification.error(`Scanflow clean failed: ${messageOf(text)}`, { autoClose: false });
          return;
        }
        const result = JSON.parse(text) as CleanResult;
        if (result.exitCode === 0) {
          Notification.success(`Scanflow clean: ${result.stdout.trim()}`, { autoClose: 8000 });
        } else {
          Notification.error(`Scanflow clean failed: ${result.stderr.trim() || result.stdout}`, {
            autoClose: false
          });
        }
      }
    });
    palette?.addItem({ command: COMMANDS.clean, category: CATEGORY });
  }
};
