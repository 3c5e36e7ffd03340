/**
 * The "Run Workflow File" command: has the Jupyter server start `scanflow run` on a workflow file
 * (jupyterlab_scanflow/handlers.py) with the default executor setting unless told otherwise, and
 * opens the run's log file. Runs that should update a graph live belong in a notebook cell.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, Notification } from '@jupyterlab/apputils';
import { CATEGORY, COMMANDS } from './commands';
import { messageOf } from './server-plugin';
import { IScanflowServer, IScanflowSettings, type Executor } from './tokens';

const WORKFLOW_FILE = /\.(ts|js|json|ya?ml)$/;

/** The command's arguments; without `path` it asks, offering the open document's path. */
interface RunWorkflowArgs {
  path?: string;
  executor?: Executor;
}

export const runWorkflow: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:run-workflow',
  description: 'Runs a workflow file on the Jupyter server (scanflow run) and opens its log.',
  autoStart: true,
  requires: [IScanflowServer, IScanflowSettings],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    server: IScanflowServer,
    settings: IScanflowSettings,
    palette: ICommandPalette | null
  ) => {
    app.commands.addCommand(COMMANDS.runWorkflow, {
      label: args =>
        `Run Workflow File (${(args as RunWorkflowArgs).executor ?? settings.defaultExecutor} executor)`,
      caption: 'Run a workflow file (.ts, .js, .json, .yaml) with scanflow run, on the server',
      execute: async args => {
        const given = args as RunWorkflowArgs;
        let path = given.path;
        if (typeof path !== 'string') {
          const open = app.shell.currentWidget as { context?: { path?: unknown } } | null;
          const current = typeof open?.context?.path === 'string' ? open.context.path : '';
          const answer = await InputDialog.getText({
            title: 'Run Workflow File',
            label: 'Workflow file (from the server root)',
            text: WORKFLOW_FILE.test(current) ? current : '',
            okLabel: 'Run'
          });
          if (!answer.button.accept || !answer.value) return;
          path = answer.value.trim();
        }
        const executor = given.executor ?? settings.defaultExecutor;
        const response = await server.request('run', {
          method: 'POST',
          body: JSON.stringify({ path, executor })
        });
        const text = await response.text();
        if (!response.ok) {
          Notification.error(`Could not run ${path}: ${messageOf(text)}`, { autoClose: false });
          return;
        }
        const { log } = JSON.parse(text) as { log: string };
        Notification.info(`Running ${path} (${executor} executor); its log: ${log}`, {
          autoClose: 6000
        });
        await app.commands.execute('docmanager:open', { path: log });
      }
    });
    palette?.addItem({ command: COMMANDS.runWorkflow, category: CATEGORY });
  }
};
