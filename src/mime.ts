/** The MIME types Scanflow's kernel side emits and its JupyterLab extension renders. */
export const MIME = {
  workflow: 'application/vnd.scanflow.workflow+json',
  tracker: 'application/vnd.scanflow.tracker+json',
  drift: 'application/vnd.scanflow.drift+json',
  labeling: 'application/vnd.scanflow.labeling+json'
} as const;

export type ScanflowMime = (typeof MIME)[keyof typeof MIME];
