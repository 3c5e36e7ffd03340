/**
 * Scanflow's JupyterLab plugins (the MIME renderers are in ./mime.ts): palette commands that act
 * on the workflow graph used last, and the graph settings.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { preloadLayout } from './graph-layout';
import { labelingServices } from './labeling-renderer';
import { trackerServices } from './tracker-renderer';
import { graphSettings, WorkflowRenderer } from './workflow-renderer';

const CATEGORY = 'Scanflow';

export const COMMANDS = {
  exportGraph: 'scanflow:export-graph',
  collapseAll: 'scanflow:collapse-all',
  expandAll: 'scanflow:expand-all'
} as const;

const commands: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:commands',
  description: 'Palette commands for Scanflow workflow graphs.',
  autoStart: true,
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null) => {
    const current = (): WorkflowRenderer | undefined => {
      const graph = WorkflowRenderer.current;
      return graph && !graph.isDisposed ? graph : undefined;
    };
    app.commands.addCommand(COMMANDS.exportGraph, {
      label: 'Export Workflow Graph as SVG',
      caption: 'Download the workflow graph used last as an SVG file',
      isEnabled: () => current() !== undefined,
      execute: () => current()?.exportSvg()
    });
    app.commands.addCommand(COMMANDS.collapseAll, {
      label: 'Collapse All Sub-workflows',
      isEnabled: () => current() !== undefined,
      execute: () => current()?.collapseAll(true)
    });
    app.commands.addCommand(COMMANDS.expandAll, {
      label: 'Expand All Sub-workflows',
      isEnabled: () => current() !== undefined,
      execute: () => current()?.collapseAll(false)
    });
    for (const command of Object.values(COMMANDS)) {
      palette?.addItem({ command, category: CATEGORY });
    }
  }
};

const graphLayout: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:graph-layout',
  description: 'Starts the graph layout engine (elkjs in a Web Worker) and warms it up at startup.',
  autoStart: true,
  activate: () => {
    // Users open a notebook once: its graphs should not pay for compiling elkjs.
    void preloadLayout();
  }
};

const settings: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:settings',
  description: 'Loads the Scanflow settings (graph height, when to collapse big graphs).',
  autoStart: true,
  requires: [ISettingRegistry],
  activate: async (_app: JupyterFrontEnd, registry: ISettingRegistry) => {
    const apply = (loaded: ISettingRegistry.ISettings): void => {
      graphSettings.maxHeight = Number(loaded.get('maxGraphHeight').composite) || 560;
      graphSettings.collapseAbove = Number(loaded.get('collapseAbove').composite) || 0;
    };
    try {
      const loaded = await registry.load('scanflow:settings');
      apply(loaded);
      loaded.changed.connect(apply);
    } catch (error) {
      console.warn('scanflow: settings could not be loaded', error);
    }
  }
};

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

export default [commands, graphLayout, settings, labeling, charts];
