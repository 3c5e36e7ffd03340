import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { isContainer, type NodeSpec } from '../workflow/types';
import {
  readWorkflowData,
  type WorkflowBundleData,
  type WorkflowViewMetadata
} from '../notebook/bundles';
import { stageLayouter } from '../notebook/stage-layout';
import {
  drawWorkflow,
  GRAPH_CSS,
  svgString,
  type Drawing,
  type SvgElement
} from '../notebook/workflow-drawing';
import { elkLayouter } from './graph-layout';
import { NodeTooltip, nodeDetails } from './node-tooltip';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The graph settings (schema/settings.json), updated by the settings plugin. */
export const graphSettings = {
  /** The tallest a graph output grows before it needs panning, in pixels. */
  maxHeight: 560,
  /** Graphs with more steps than this start with their sub-workflows collapsed (0: never). */
  collapseAbove: 200,
  /**
   * Draw a quick stage layout first when elkjs takes longer than `quickAfterMs`, then elkjs's.
   * Always on in JupyterLab; the benchmark turns it off to measure elkjs alone.
   */
  progressive: true,
  quickAfterMs: 50,
  /** elkjs options over the drawing's own (the benchmark tries cheaper ones). */
  layoutOptions: {} as Record<string, string>
};

let renderers = 0;

/**
 * Draws `application/vnd.scanflow.workflow+json` outputs: nested workflows as boxes in boxes,
 * parallel groups side by side, step statuses as colours, a tooltip with each node's details.
 * Sub-workflows collapse with their toggle; the collapsed ids are kept in the output's metadata.
 * Drag to pan, Ctrl+wheel or the buttons to zoom. Every name is set as text, never as HTML.
 */
export class WorkflowRenderer extends Widget implements IRenderMime.IRenderer {
  /** The graph the user touched last (or, failing that, drew last): the commands act on it. */
  static current: WorkflowRenderer | undefined;

  private model?: IRenderMime.IMimeModel;
  private data?: WorkflowBundleData;
  private drawing?: Drawing;
  private collapsed = new Set<string>();
  private view = { x: 0, y: 0, k: 1 };
  private fitted = false;
  /** The user panned or zoomed: a later layout keeps the view. */
  private moved = false;
  /** Counts draws, so that a layout that finishes after a newer draw is dropped. */
  private generation = 0;
  private laidOut: Promise<void> = Promise.resolve();
  private readonly prefix = `sf${++renderers}`;
  private readonly toolbar: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly canvas: HTMLElement;
  private readonly tooltip: NodeTooltip;
  private viewport?: SVGGElement;
  private svg?: SVGSVGElement;

  constructor(private readonly options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('jp-ScanflowWorkflow');
    this.toolbar = element('div', 'jp-ScanflowWorkflow-toolbar');
    this.summary = element('span', 'jp-ScanflowWorkflow-summary');
    this.toolbar.append(
      this.summary,
      button('Fit', 'Fit the graph in view', () => this.fitToView()),
      button('−', 'Zoom out', () => this.zoom(1 / 1.25)),
      button('+', 'Zoom in', () => this.zoom(1.25)),
      button('Export SVG', 'Download the graph as an SVG file', () => this.exportSvg())
    );
    this.canvas = element('div', 'jp-ScanflowWorkflow-canvas');
    this.tooltip = new NodeTooltip(options);
    this.node.append(this.toolbar, this.canvas, this.tooltip.node);
    this.canvas.addEventListener('click', this.onClick);
    this.canvas.addEventListener('pointerover', this.onPointerOver);
    this.canvas.addEventListener('pointerout', this.onPointerOut);
    this.canvas.addEventListener('pointerdown', this.onPointerDown);
    this.canvas.addEventListener('wheel', this.onWheel, { passive: false });
    this.node.addEventListener('pointerdown', () => (WorkflowRenderer.current = this), true);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this.model = model;
    this.data = readWorkflowData(model.data[this.options.mimeType]);
    const meta = model.metadata[this.options.mimeType] as WorkflowViewMetadata | undefined;
    if (Array.isArray(meta?.collapsed)) {
      this.collapsed = new Set(meta.collapsed.map(String));
    } else if (!this.drawing && this.data && graphSettings.collapseAbove > 0) {
      this.collapsed = new Set(largeGraphCollapsed(this.data, graphSettings.collapseAbove));
    }
    WorkflowRenderer.current ??= this;
    await this.draw();
  }

  /** The current drawing as a standalone SVG document (with its CSS). */
  toSvg(): string {
    return this.drawing ? svgString(this.drawing.svg, true) : '';
  }

  /** Collapses or expands a workflow or group, and keeps the choice in the output's metadata. */
  async toggle(id: string): Promise<void> {
    if (this.collapsed.has(id)) this.collapsed.delete(id);
    else this.collapsed.add(id);
    await this.saveAndDraw();
  }

  /** Collapses every sub-workflow and group (`true`) or expands them all (`false`). */
  async collapseAll(collapse: boolean): Promise<void> {
    this.collapsed = new Set(collapse && this.data ? containerIds(this.data).slice(1) : []);
    await this.saveAndDraw();
  }

  /** Downloads the graph as an SVG file. */
  exportSvg(): void {
    if (!this.drawing || !this.data) return;
    const blob = new Blob([this.toSvg()], { type: 'image/svg+xml' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `${this.data.workflow.name.replace(/[^A-Za-z0-9_-]+/g, '_') || 'workflow'}.svg`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  private async saveAndDraw(): Promise<void> {
    const state: WorkflowViewMetadata = { collapsed: [...this.collapsed].sort() };
    const model = this.model;
    if (model) {
      // JupyterLab re-renders this output in place; our state is then read back from the metadata.
      model.setData({ metadata: { ...model.metadata, [this.options.mimeType]: { ...state } } });
    }
    await this.draw();
  }

  /**
   * Draws the current data. Resolves once a drawing is on screen: elkjs's layout, or, when elkjs
   * takes longer than `quickAfterMs` (its first layout in a page compiles code for seconds), a
   * quick stage layout that elkjs's replaces when it is ready (`whenLaidOut`).
   */
  private async draw(): Promise<void> {
    const data = this.data;
    const generation = ++this.generation;
    if (!data) {
      this.drawing = undefined;
      this.laidOut = Promise.resolve();
      this.summary.textContent = '';
      this.canvas.replaceChildren(
        element('div', 'jp-ScanflowWorkflow-message', 'No workflow to show.')
      );
      return;
    }
    const options = {
      collapsed: new Set(this.collapsed),
      idPrefix: this.prefix,
      layoutOptions: graphSettings.layoutOptions
    };
    const final = elkLayouter().then(elk => drawWorkflow(data, elk, options));
    const current = (): boolean => generation === this.generation;
    this.laidOut = final.then(
      drawing => {
        if (current()) this.present(drawing, data, 'elk');
      },
      error => {
        if (current()) this.showError(error);
      }
    );
    if (graphSettings.progressive) {
      const first = await Promise.race([
        final.catch(() => undefined),
        new Promise<undefined>(resolve => setTimeout(resolve, graphSettings.quickAfterMs))
      ]);
      if (!first && current()) {
        this.present(await drawWorkflow(data, stageLayouter, options), data, 'stage');
        return;
      }
    }
    await this.laidOut;
  }

  /** Resolves when the current graph is drawn with elkjs's layout. */
  whenLaidOut(): Promise<void> {
    return this.laidOut;
  }

  private present(drawing: Drawing, data: WorkflowBundleData, layout: 'stage' | 'elk'): void {
    this.drawing = drawing;
    this.summary.textContent =
      summarize(data, drawing) + (layout === 'stage' ? ' · arranging the graph…' : '');
    const svg = toDom(drawing.svg) as SVGSVGElement;
    svg.removeAttribute('viewBox');
    svg.setAttribute('width', '100%');
    svg.dataset.layout = layout;
    // Our tooltip replaces the browser's (the <title>s stay in exported SVG files).
    svg.querySelectorAll('title').forEach(title => title.remove());
    this.tooltip.hide();
    svg.prepend(toDom({ tag: 'style', attrs: {}, children: [], text: GRAPH_CSS }));
    this.svg = svg;
    this.viewport = svg.querySelector('.sf-viewport') as SVGGElement;
    this.canvas.replaceChildren(svg);
    // Fit the first drawing, and elkjs's after a stage layout unless the user moved the view.
    if (!this.fitted || (layout === 'elk' && !this.moved)) {
      this.fitted = true;
      const available = this.canvas.clientWidth;
      const k = available > 0 ? Math.min(1, available / Math.max(1, drawing.width)) : 1;
      this.view = { x: 0, y: 0, k: Math.max(0.2, k) };
    }
    this.applyView();
  }

  private showError(error: unknown): void {
    console.error('scanflow: the graph could not be laid out', error);
    this.summary.textContent = `The graph could not be laid out: ${String(error)}`;
  }

  private applyView(): void {
    const { x, y, k } = this.view;
    this.viewport?.setAttribute('transform', `translate(${x} ${y}) scale(${k})`);
    const height = Math.min(
      graphSettings.maxHeight,
      Math.max(60, (this.drawing?.height ?? 0) * k + 4)
    );
    this.svg?.setAttribute('height', String(Math.ceil(height)));
  }

  private fitToView(): void {
    if (!this.drawing) return;
    const width = this.canvas.clientWidth || this.drawing.width;
    const k = Math.min(
      width / this.drawing.width,
      graphSettings.maxHeight / this.drawing.height,
      2
    );
    this.view = { x: 0, y: 0, k: Math.max(0.05, k) };
    this.moved = true;
    this.applyView();
  }

  private zoom(factor: number, cx = 0, cy = 0): void {
    const { x, y, k } = this.view;
    this.moved = true;
    const next = Math.min(4, Math.max(0.05, k * factor));
    // Keep the point under (cx, cy) in place.
    this.view = { k: next, x: cx - ((cx - x) * next) / k, y: cy - ((cy - y) * next) / k };
    this.applyView();
  }

  private readonly onClick = (event: MouseEvent): void => {
    const target = event.target as Element | null;
    const toggle = target?.closest?.('.sf-toggle');
    const id = toggle?.closest('.sf-node')?.getAttribute('data-id');
    if (id && id !== this.data?.workflow.name) {
      event.stopPropagation();
      void this.toggle(id);
    }
  };

  /** Shows the details of the node under the pointer. */
  showTooltip(id: string, clientX: number, clientY: number): void {
    const details = this.data && nodeDetails(this.data, id);
    if (!details) return;
    const box = this.node.getBoundingClientRect();
    this.tooltip.show(details, clientX - box.left + 12, clientY - box.top + 12);
  }

  private readonly onPointerOver = (event: PointerEvent): void => {
    const id = (event.target as Element | null)?.closest?.('.sf-node')?.getAttribute('data-id');
    if (id) this.showTooltip(id, event.clientX, event.clientY);
  };

  private readonly onPointerOut = (event: PointerEvent): void => {
    const from = (event.target as Element | null)?.closest?.('.sf-node');
    const to = (event.relatedTarget as Element | null)?.closest?.('.sf-node');
    if (from && from !== to) this.tooltip.hideSoon();
  };

  private readonly onPointerDown = (event: PointerEvent): void => {
    if (event.button !== 0 || (event.target as Element | null)?.closest?.('.sf-toggle')) return;
    const start = { x: event.clientX, y: event.clientY, vx: this.view.x, vy: this.view.y };
    const move = (e: PointerEvent): void => {
      this.moved = true;
      this.view = {
        ...this.view,
        x: start.vx + e.clientX - start.x,
        y: start.vy + e.clientY - start.y
      };
      this.applyView();
    };
    const up = (): void => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  private readonly onWheel = (event: WheelEvent): void => {
    // Plain wheel scrolls the notebook; Ctrl (or Cmd) + wheel zooms the graph.
    if (!(event.ctrlKey || event.metaKey) || !this.svg) return;
    event.preventDefault();
    const box = this.svg.getBoundingClientRect();
    this.zoom(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - box.left, event.clientY - box.top);
  };

  dispose(): void {
    if (this.isDisposed) return;
    if (WorkflowRenderer.current === this) WorkflowRenderer.current = undefined;
    this.canvas.removeEventListener('click', this.onClick);
    this.canvas.removeEventListener('pointerdown', this.onPointerDown);
    this.canvas.removeEventListener('wheel', this.onWheel);
    this.canvas.removeEventListener('pointerover', this.onPointerOver);
    this.canvas.removeEventListener('pointerout', this.onPointerOut);
    this.tooltip.hide();
    super.dispose();
  }
}

/** Qualified ids of the workflow's containers, the root first. */
function containerIds(data: WorkflowBundleData): string[] {
  const ids: string[] = [];
  const visit = (node: NodeSpec, id: string): void => {
    if (!isContainer(node)) return;
    ids.push(id);
    node.steps.forEach(child => visit(child, `${id}.${child.name}`));
  };
  visit(data.workflow, data.workflow.name);
  return ids;
}

/** For big graphs: the root's direct sub-workflows and groups start collapsed. */
function largeGraphCollapsed(data: WorkflowBundleData, above: number): string[] {
  const count = (node: NodeSpec): number =>
    isContainer(node) ? node.steps.reduce((n, child) => n + count(child), 0) : 1;
  if (count(data.workflow) <= above) return [];
  return data.workflow.steps
    .filter(isContainer)
    .map(child => `${data.workflow.name}.${child.name}`);
}

function summarize(data: WorkflowBundleData, drawing: Drawing): string {
  const { step, service, workflow, parallel, collapsed } = drawing.counts;
  const parts = [`${step} steps`, `${workflow} workflows`, `${parallel} parallel groups`];
  if (service) parts.splice(1, 0, `${service} service${service === 1 ? '' : 's'}`);
  if (collapsed) parts.push(`${collapsed} collapsed`);
  const states = Object.values(data.status ?? {});
  if (states.length) {
    const done = states.filter(s => s.status === 'succeeded').length;
    const failed = states.filter(s => s.status === 'failed').length;
    const serving = states.filter(s => s.status === 'ready').length;
    parts.push(
      `${done} succeeded${failed ? `, ${failed} failed` : ''}${serving ? `, ${serving} serving` : ''}`
    );
  }
  if (data.run) parts.push(`run ${data.run.id}: ${data.run.status}`);
  return parts.join(' · ');
}

/** Builds DOM nodes from a drawing: attributes with setAttribute, text with textContent. */
export function toDom(node: SvgElement): Element {
  const result = document.createElementNS(SVG_NS, node.tag);
  for (const [name, value] of Object.entries(node.attrs)) {
    if (name !== 'xmlns') result.setAttribute(name, String(value));
  }
  if (node.text !== undefined) result.textContent = node.text;
  else node.children.forEach(child => result.appendChild(toDom(child)));
  return result;
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const result = document.createElement(tag);
  result.className = className;
  if (text !== undefined) result.textContent = text;
  return result;
}

function button(label: string, title: string, action: () => void): HTMLButtonElement {
  const result = element('button', 'jp-ScanflowWorkflow-button jp-mod-styled') as HTMLButtonElement;
  result.type = 'button';
  result.textContent = label;
  result.title = title;
  result.addEventListener('click', action);
  return result;
}
