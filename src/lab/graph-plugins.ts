/** Plugins of the workflow graph: the layout engine's warm-up, and the graph commands. */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { CATEGORY, COMMANDS } from './commands';
import { preloadLayout } from './graph-layout';
import { WorkflowRenderer } from './workflow-renderer';

export const graphLayout: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:graph-layout',
  description: 'Starts the graph layout engine (elkjs in a Web Worker) and warms it up at startup.',
  autoStart: true,
  activate: () => {
    // Users open a notebook once: its graphs should not pay for compiling elkjs.
    void preloadLayout();
  }
};

export const graphCommands: JupyterFrontEndPlugin<void> = {
  id: 'scanflow:graph-commands',
  description: 'Palette commands on the workflow graph used last: export as SVG, collapse, expand.',
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
    for (const command of [COMMANDS.exportGraph, COMMANDS.collapseAll, COMMANDS.expandAll]) {
      palette?.addItem({ command, category: CATEGORY });
    }
  }
};
