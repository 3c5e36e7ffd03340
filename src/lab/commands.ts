/** The ids of Scanflow's commands (palette category "Scanflow"). */
export const CATEGORY = 'Scanflow';

export const COMMANDS = {
  exportGraph: 'scanflow:export-graph',
  collapseAll: 'scanflow:collapse-all',
  expandAll: 'scanflow:expand-all',
  openTracker: 'scanflow:open-tracker',
  clean: 'scanflow:clean',
  runWorkflow: 'scanflow:run-workflow'
} as const;
