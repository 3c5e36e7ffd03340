/**
 * The page side of bench/lab.ts (kept here, with the browser code, out of the Node type-check), bundled for Chromium by esbuild: draws a workflow with the real
 * renderer (elkjs layout, SVG) and, as the anchor, as plain nested HTML boxes without any layout
 * engine (what the first minimal renderer did). Each returns milliseconds to first render,
 * including the browser's own style and layout (a forced reflow and the next animation frame).
 */
import { Widget } from '@lumino/widgets';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../../src/mime';
import { workflowBundle } from '../../src/notebook/bundles';
import { WorkflowRenderer } from '../../src/lab/workflow-renderer';
import type { NodeSpec, WorkflowSpec } from '../../src/workflow/types';

function frame(): Promise<void> {
  return new Promise(resolve => requestAnimationFrame(() => resolve()));
}

async function renderGraph(spec: WorkflowSpec): Promise<number> {
  document.body.replaceChildren();
  const start = performance.now();
  const renderer = new WorkflowRenderer({
    mimeType: MIME.workflow,
    sanitizer: { sanitize: (s: string) => s },
    resolver: null,
    linkHandler: null,
    latexTypesetter: null
  } as unknown as IRenderMime.IRendererOptions);
  Widget.attach(renderer, document.body);
  const data = workflowBundle(spec).data as IRenderMime.IMimeModel['data'];
  await renderer.renderModel({
    trusted: true,
    data,
    metadata: {},
    setData: () => undefined
  });
  document.body.getBoundingClientRect();
  await frame();
  const elapsed = performance.now() - start;
  const boxes = renderer.node.querySelectorAll('g.sf-node').length;
  renderer.dispose();
  if (boxes === 0) throw new Error('nothing was drawn');
  return elapsed;
}

async function renderBoxes(spec: WorkflowSpec): Promise<number> {
  document.body.replaceChildren();
  const start = performance.now();
  const draw = (node: NodeSpec): HTMLElement => {
    const box = document.createElement('div');
    box.style.cssText = 'border:1px solid #999;margin:4px;padding:4px;display:flex;gap:4px';
    box.style.flexDirection = node.kind === 'parallel' ? 'column' : 'row';
    const title = document.createElement('div');
    title.textContent = node.name;
    box.appendChild(title);
    if (node.kind !== 'step') node.steps.forEach(child => box.appendChild(draw(child)));
    return box;
  };
  document.body.appendChild(draw(spec));
  document.body.getBoundingClientRect();
  await frame();
  return performance.now() - start;
}

Object.assign(window, { renderGraph, renderBoxes });
