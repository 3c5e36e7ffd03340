/** Services Scanflow's plugins share, as JupyterLab tokens. */
import { Token } from '@lumino/coreutils';

/** Where runs started from the lab put their steps (`scanflow run --executor`). */
export type Executor = 'auto' | 'docker' | 'local';

/** The user's Scanflow settings (schema/settings.json), kept current by the settings plugin. */
export interface IScanflowSettings {
  /** The tracker the tracker panel command reads by default. */
  readonly trackerUrl: string;
  /** The bearer token of that tracker ('' when it needs none); sent to no other tracker. */
  readonly trackerToken: string;
  /** A vega theme name for the tracker's charts, or 'auto' (JupyterLab's choice). */
  readonly chartTheme: string;
  /** The executor of runs started from the lab. */
  readonly defaultExecutor: Executor;
}

export const IScanflowSettings = new Token<IScanflowSettings>(
  'scanflow:IScanflowSettings',
  "The user's Scanflow settings: default tracker URL, chart theme, default executor."
);

/** Sends a request to the Jupyter server's `/scanflow/` routes (the server extension). */
export interface IScanflowServer {
  request(path: string, init: RequestInit): Promise<Response>;
}

export const IScanflowServer = new Token<IScanflowServer>(
  'scanflow:IScanflowServer',
  "Requests to Scanflow's Jupyter server extension, with Jupyter's authentication."
);
