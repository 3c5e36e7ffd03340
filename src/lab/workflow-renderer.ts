import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import type { NodeSpec, WorkflowSpec } from '../workflow/types';

/**
 * Draws a workflow as nested boxes: workflows and parallel groups contain their steps. Every name
 * is set as text, never as HTML.
 */
export class WorkflowRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private readonly options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('jp-ScanflowWorkflow');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const spec = readSpec(model.data[this.options.mimeType]);
    this.node.replaceChildren(spec ? drawNode(spec) : message('No workflow to show.'));
  }
}

/** Our bundles may carry the workflow as an object or as a JSON string (tslab's display.raw). */
export function readSpec(data: unknown): WorkflowSpec | undefined {
  const value = typeof data === 'string' ? safeParse(data) : data;
  return value && typeof value === 'object' && Array.isArray((value as WorkflowSpec).steps)
    ? (value as WorkflowSpec)
    : undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function drawNode(node: NodeSpec): HTMLElement {
  const box = document.createElement('div');
  box.className = `jp-ScanflowWorkflow-node jp-ScanflowWorkflow-${node.kind}`;
  box.dataset.kind = node.kind;
  const title = document.createElement('div');
  title.className = 'jp-ScanflowWorkflow-title';
  title.textContent = node.name;
  box.appendChild(title);
  if (node.kind !== 'step') {
    const children = document.createElement('div');
    children.className = 'jp-ScanflowWorkflow-children';
    node.steps.forEach(child => children.appendChild(drawNode(child)));
    box.appendChild(children);
  } else if (node.image) {
    title.title = node.image;
  }
  return box;
}

function message(text: string): HTMLElement {
  const element = document.createElement('div');
  element.textContent = text;
  return element;
}
