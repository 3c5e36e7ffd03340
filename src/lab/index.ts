/**
 * Scanflow's JupyterLab plugins (the MIME renderers are in ./mime.ts), one concern each: settings,
 * requests to the server extension, the graph's layout engine and commands, the tracker panel,
 * cleaning up, runs started from the lab, the labeling widget's file store, and charts.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { clean } from './clean-plugin';
import { graphCommands, graphLayout } from './graph-plugins';
import { labelingServices } from './labeling-renderer';
import { runWorkflow } from './run-plugin';
import { server } from './server-plugin';
import { settings } from './settings-plugin';
import { trackerPanel } from './tracker-plugin';
import { trackerServices } from './tracker-renderer';

const labeling: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:labeling',
  description: 'Lets the labeling widget write labels through the Contents API.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    const { contents, user } = app.serviceManager;
    labelingServices.store = {
      save: async (path, text) => {
        await contents.save(path, { type: 'file', format: 'text', content: text });
      },
      user: () => user?.identity?.username ?? 'jupyter',
      read: async folder => {
        const files: Record<string, string> = {};
        try {
          const listing = await contents.get(folder, { content: true });
          for (const item of (listing.content ?? []) as Array<{
            name: string;
            path: string;
            type: string;
          }>) {
            if (item.type !== 'file' || !item.name.endsWith('.json')) continue;
            const file = await contents.get(item.path, { content: true, format: 'text' });
            files[item.name] = String(file.content ?? '');
          }
        } catch {
          // no such folder yet: nothing was refused
        }
        return files;
      }
    };
  }
};

const charts: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:charts',
  description: "Draws the tracker panel's charts with JupyterLab's own vega-lite renderer.",
  autoStart: true,
  optional: [IRenderMimeRegistry],
  activate: (_app: JupyterFrontEnd, rendermime: IRenderMimeRegistry | null) => {
    if (rendermime) {
      trackerServices.charts = {
        createRenderer: mimeType => rendermime.createRenderer(mimeType)
      };
    }
  }
};

export default [
  settings,
  server,
  graphLayout,
  graphCommands,
  trackerPanel,
  clean,
  runWorkflow,
  labeling,
  charts
];
