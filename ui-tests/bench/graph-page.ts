/**
 * The page side of bench/lab.ts (kept here, with the browser code, out of the Node type-check), bundled for Chromium by esbuild: draws a workflow with the real
 * renderer (elkjs layout, SVG) and, as the anchor, as plain nested HTML boxes without any layout
 * engine (what the first minimal renderer did). Each returns milliseconds to first render,
 * including the browser's own style and layout (a forced reflow and the next animation frame).
 */
import { Widget } from '@lumino/widgets';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../../src/mime';
import { labelingBundle, workflowBundle } from '../../src/notebook/bundles';
import { LabelingRenderer } from '../../src/lab/labeling-renderer';
import { preloadLayout } from '../../src/lab/graph-layout';
import { graphSettings, WorkflowRenderer } from '../../src/lab/workflow-renderer';
import type { NodeSpec, WorkflowSpec } from '../../src/workflow/types';

function frame(): Promise<void> {
  return new Promise(resolve => requestAnimationFrame(() => resolve()));
}

/** What JupyterLab does at startup: the graph plugin's activation warms up the layout engine. */
function activate(): void {
  void preloadLayout();
}

/** Sets the renderer's settings (to measure each lever on its own). */
function configure(settings: Partial<typeof graphSettings>): void {
  Object.assign(graphSettings, settings);
}

/**
 * Milliseconds until the graph is first on screen, and until it is on screen with elkjs's layout
 * (the same when elkjs answered first).
 */
async function renderGraph(spec: WorkflowSpec): Promise<{ firstMs: number; laidOutMs: number }> {
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
  const firstMs = performance.now() - start;
  const boxes = renderer.node.querySelectorAll('g.sf-node').length;
  await renderer.whenLaidOut();
  document.body.getBoundingClientRect();
  await frame();
  const laidOutMs = performance.now() - start;
  const layout = renderer.node.querySelector('svg')?.dataset.layout;
  renderer.dispose();
  if (boxes === 0) throw new Error('nothing was drawn');
  if (layout !== 'elk') throw new Error(`the graph ended with the ${layout} layout`);
  return { firstMs, laidOutMs };
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
    if (node.kind === 'workflow' || node.kind === 'parallel')
      node.steps.forEach(child => box.appendChild(draw(child)));
    return box;
  };
  document.body.appendChild(draw(spec));
  document.body.getBoundingClientRect();
  await frame();
  return performance.now() - start;
}

/** The labeling widget with `count` samples of one image, as a session of MNIST digits. */
async function renderLabeling(image: string, count: number): Promise<number> {
  document.body.replaceChildren();
  const start = performance.now();
  const renderer = new LabelingRenderer({
    mimeType: MIME.labeling,
    sanitizer: { sanitize: (s: string) => s },
    resolver: null,
    linkHandler: null,
    latexTypesetter: null
  } as unknown as IRenderMime.IRendererOptions);
  Widget.attach(renderer, document.body);
  const samples = Array.from({ length: count }, (_, i) => ({
    id: `s${i}`,
    image,
    guess: String(i % 10),
    score: (i % 100) / 100
  }));
  const data = labelingBundle({
    session: 'bench',
    folder: 'sessions/bench',
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    samples
  }).data as IRenderMime.IMimeModel['data'];
  await renderer.renderModel({ trusted: true, data, metadata: {}, setData: () => undefined });
  document.body.getBoundingClientRect();
  await frame();
  const elapsed = performance.now() - start;
  const cards = renderer.node.querySelectorAll('.jp-ScanflowLabeling-card').length;
  renderer.dispose();
  if (cards !== count) throw new Error(`drew ${cards} of ${count} samples`);
  return elapsed;
}

/** The anchor: the same images as a bare grid of <img> elements. */
async function renderImages(image: string, count: number): Promise<number> {
  document.body.replaceChildren();
  const start = performance.now();
  const grid = document.createElement('div');
  grid.style.cssText = 'display:grid;grid-template-columns:repeat(auto-fill,minmax(96px,1fr))';
  for (let i = 0; i < count; i++) {
    const img = document.createElement('img');
    img.src = image;
    grid.appendChild(img);
  }
  document.body.appendChild(grid);
  document.body.getBoundingClientRect();
  await frame();
  return performance.now() - start;
}

Object.assign(window, {
  activate,
  configure,
  renderGraph,
  renderBoxes,
  renderLabeling,
  renderImages
});
