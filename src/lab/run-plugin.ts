/**
 * The "Run Workflow File" command: has the Jupyter server start `scanflow run` on a workflow file
 * (jupyterlab_scanflow/handlers.py) with the default executor setting unless told otherwise, and
 * opens the run's log, followed live until the run ends (run-log.ts). Runs that should update a
 * graph live belong in a notebook cell.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { CATEGORY, COMMANDS } from './commands';
import { RunLog } from './run-log';
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
  description: 'Runs a workflow file on the Jupyter server (scanflow run) and follows its log.',
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
        const { id, log } = JSON.parse(text) as { id: string; log: string };
        const content = new RunLog(server, { id, log, path, executor }, file => {
          void app.commands.execute('docmanager:open', { path: file });
        });
        const widget = new MainAreaWidget({ content });
        widget.id = content.id;
        widget.title.label = content.title.label;
        widget.title.caption = content.title.caption;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        await content.follow();
      }
    });
    palette?.addItem({ command: COMMANDS.runWorkflow, category: CATEGORY });
  }
};
