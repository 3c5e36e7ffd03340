/** Publishes requests to Scanflow's Jupyter server extension (jupyterlab_scanflow/handlers.py). */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IScanflowServer } from './tokens';

export const server: JupyterFrontEndPlugin<IScanflowServer> = {
  id: 'scanflow:server',
  description: "Requests to Scanflow's Jupyter server extension, with Jupyter's authentication.",
  autoStart: true,
  provides: IScanflowServer,
  activate: (app: JupyterFrontEnd): IScanflowServer => {
    const settings = app.serviceManager.serverSettings;
    return {
      request: (path, init) =>
        ServerConnection.makeRequest(
          URLExt.join(settings.baseUrl, 'scanflow', path),
          init,
          settings
        )
    };
  }
};

/** The message of an error the server extension (or Jupyter) sent, or the start of the body. */
export function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string' && body.message) return body.message;
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}
