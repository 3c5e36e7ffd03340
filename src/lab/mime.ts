import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../mime';
import { WorkflowRenderer } from './workflow-renderer';

/** Renders `application/vnd.scanflow.workflow+json` outputs as nested workflow boxes. */
const workflowRenderer: IRenderMime.IExtension = {
  id: 'scanflow:workflow-renderer',
  description: 'Renders Scanflow workflow graphs in notebook outputs.',
  rendererFactory: {
    safe: true,
    mimeTypes: [MIME.workflow],
    createRenderer: options => new WorkflowRenderer(options)
  },
  rank: 0,
  dataType: 'json'
};

export default [workflowRenderer];
