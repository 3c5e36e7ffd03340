import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../mime';
import { DriftRenderer } from './drift-renderer';
import { LabelingRenderer } from './labeling-renderer';
import { TrackerRenderer } from './tracker-renderer';
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

/** Renders `application/vnd.scanflow.tracker+json` outputs as the tracker panel. */
const trackerRenderer: IRenderMime.IExtension = {
  id: 'scanflow:tracker-renderer',
  description: 'Renders Scanflow tracker queries: runs table, params diff, metric charts.',
  rendererFactory: {
    safe: true,
    mimeTypes: [MIME.tracker],
    createRenderer: options => new TrackerRenderer(options)
  },
  rank: 0,
  dataType: 'json'
};

/** Renders `application/vnd.scanflow.drift+json` outputs as the drift panel. */
const driftRenderer: IRenderMime.IExtension = {
  id: 'scanflow:drift-renderer',
  description: 'Renders Scanflow drift reports: score timeline, threshold, per-feature p-values.',
  rendererFactory: {
    safe: true,
    mimeTypes: [MIME.drift],
    createRenderer: options => new DriftRenderer(options)
  },
  rank: 0,
  dataType: 'json'
};

export default [workflowRenderer, labelingRenderer, trackerRenderer, driftRenderer];
