import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../mime';
import { LabelingRenderer } from './labeling-renderer';
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

/** Renders `application/vnd.scanflow.labeling+json` outputs as the labeling widget. */
const labelingRenderer: IRenderMime.IExtension = {
  id: 'scanflow:labeling-renderer',
  description: 'Renders Scanflow labeling sessions as a labeling widget.',
  rendererFactory: {
    safe: true,
    mimeTypes: [MIME.labeling],
    createRenderer: options => new LabelingRenderer(options)
  },
  rank: 0,
  dataType: 'json'
};

export default [workflowRenderer, labelingRenderer];
