/**
 * Draws a workflow as SVG: nested workflows and parallel groups are boxes inside boxes, laid out by
 * elkjs (layered, compound nodes, edges across levels). Pure TypeScript: the JupyterLab renderer
 * turns the result into DOM nodes, and `svgString` serializes it (the CLI's `--format svg` and the
 * renderer's "Export SVG"). Names and every other user-controlled string become text nodes or
 * escaped attribute values, never markup.
 *
 * The layout engine is passed in (`new ELK()` from 'elkjs/lib/elk.bundled.js'), so browsers can
 * load it lazily.
 */
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import {
  STEP_STATUSES,
  statusText,
  type StepState,
  type StepStatus,
  type WorkflowBundleData
} from './bundles';
import {
  isContainer,
  isRunnable,
  type NodeSpec,
  type RunnableSpec,
  type ServiceSpec,
  type WorkflowSpec
} from '../workflow/types';

/** An SVG element as plain data: a tag, attributes, children, or a text content. */
export interface SvgElement {
  tag: string;
  attrs: Record<string, string | number>;
  children: SvgElement[];
  text?: string;
}

/** What lays out a graph: an `ELK` instance. */
export interface Layouter {
  layout(graph: ElkNode): Promise<ElkNode>;
}

export interface DrawOptions {
  /** Qualified ids of the workflows and groups drawn closed. */
  collapsed?: Iterable<string>;
  /** Makes marker ids unique in a page that shows several graphs. */
  idPrefix?: string;
  /** elkjs options that override ours for the whole graph (e.g. cheaper ones for big graphs). */
  layoutOptions?: Record<string, string>;
}

export interface Drawing {
  svg: SvgElement;
  width: number;
  height: number;
  /** Boxes drawn, by kind. */
  counts: {
    workflow: number;
    parallel: number;
    step: number;
    service: number;
    collapsed: number;
    edges: number;
  };
}

/** A node of the definition, with its qualified id and parent. */
interface Entry {
  key: string;
  id: string;
  node: NodeSpec;
  parent?: Entry;
  children: Entry[];
}

const STEP_HEIGHT = 30;
const HEADER = 26;
const CHAR_WIDTH = 7;
const MARGIN = 8;

/** Lays out and draws the workflow of a bundle. */
export async function drawWorkflow(
  data: WorkflowBundleData,
  elk: Layouter,
  options: DrawOptions = {}
): Promise<Drawing> {
  const collapsed = new Set(options.collapsed ?? []);
  const prefix = options.idPrefix ?? 'sf';
  const status = data.status ?? {};
  const byKey = new Map<string, Entry>();
  const byId = new Map<string, Entry>();
  let counter = 0;
  const index = (node: NodeSpec, parent?: Entry): Entry => {
    const entry: Entry = {
      key: `n${counter++}`,
      id: parent ? `${parent.id}.${node.name}` : node.name,
      node,
      parent,
      children: []
    };
    byKey.set(entry.key, entry);
    if (!byId.has(entry.id)) byId.set(entry.id, entry);
    if (isContainer(node)) entry.children = node.steps.map(child => index(child, entry));
    return entry;
  };
  const root = index(data.workflow);

  const isOpen = (entry: Entry): boolean =>
    isContainer(entry.node) && (entry === root || !collapsed.has(entry.id));
  /** The box that stands for an entry: itself, or its outermost collapsed ancestor. */
  const visible = (entry: Entry): Entry => {
    let shown = entry;
    for (let e: Entry | undefined = entry.parent; e; e = e.parent) {
      if (!isOpen(e)) shown = e;
    }
    return shown;
  };

  // Edges between units: consecutive children of a workflow, and `after` dependencies.
  const edgeKeys = new Set<string>();
  const edges: Array<[Entry, Entry]> = [];
  const addEdge = (from: Entry, to: Entry): void => {
    const a = visible(from);
    const b = visible(to);
    const key = `${a.key}>${b.key}`;
    if (a !== b && !isAncestor(a, b) && !isAncestor(b, a) && !edgeKeys.has(key)) {
      edgeKeys.add(key);
      edges.push([a, b]);
    }
  };
  for (const entry of byKey.values()) {
    if (entry.node.kind === 'workflow') {
      entry.children.forEach((child, i) => i > 0 && addEdge(entry.children[i - 1], child));
    }
    for (const dependency of entry.node.after ?? []) {
      const target = resolve(dependency, entry, byId, root);
      if (target) addEdge(target, entry);
    }
  }

  // The ELK graph: containers carry a header; edges live in their lowest common ancestor.
  const elkNodes = new Map<string, ElkNode>();
  const toElk = (entry: Entry): ElkNode => {
    const label = labelOf(entry, isOpen(entry));
    const node: ElkNode = { id: entry.key };
    if (isOpen(entry)) {
      node.layoutOptions = {
        'elk.padding': `[top=${HEADER + 4},left=${MARGIN},bottom=${MARGIN},right=${MARGIN}]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${textWidth(label) + 40}, ${HEADER + 10})`
      };
      node.children = entry.children.map(toElk);
      node.edges = [];
    } else {
      node.width = textWidth(label) + (entry.node.kind === 'service' ? badgeWidth(entry.node) : 0);
      node.height = STEP_HEIGHT;
    }
    elkNodes.set(entry.key, node);
    return node;
  };
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.thoroughness': '1',
      // Big graphs: greedy switching costs the most time for little gain on series-parallel graphs.
      'elk.layered.crossingMinimization.greedySwitch.type': 'OFF',
      'elk.layered.nodePlacement.strategy': 'LINEAR_SEGMENTS',
      'elk.spacing.nodeNode': '12',
      'elk.layered.spacing.nodeNodeBetweenLayers': '24',
      'elk.layered.spacing.edgeNodeBetweenLayers': '12',
      'elk.padding': `[top=${MARGIN},left=${MARGIN},bottom=${MARGIN},right=${MARGIN}]`,
      ...options.layoutOptions
    },
    children: [toElk(root)],
    edges: []
  };
  let edgeCount = 0;
  for (const [from, to] of edges) {
    const owner = commonAncestor(from, to);
    const container = owner ? elkNodes.get(owner.key) : graph;
    const edge: ElkExtendedEdge = { id: `e${edgeCount++}`, sources: [from.key], targets: [to.key] };
    (container ?? graph).edges!.push(edge);
  }

  const laid = await elk.layout(graph);

  // Absolute positions of every laid-out node.
  const position = new Map<string, { x: number; y: number; node: ElkNode }>();
  const place = (node: ElkNode, dx: number, dy: number): void => {
    const x = dx + (node.x ?? 0);
    const y = dy + (node.y ?? 0);
    position.set(node.id, { x, y, node });
    node.children?.forEach(child => place(child, x, y));
  };
  position.set('root', { x: 0, y: 0, node: laid });
  laid.children?.forEach(child => place(child, 0, 0));

  const counts = { workflow: 0, parallel: 0, step: 0, service: 0, collapsed: 0, edges: 0 };
  const boxes: SvgElement[] = [];
  const draw = (entry: Entry): void => {
    const at = position.get(entry.key);
    if (!at) return;
    const open = isOpen(entry);
    if (isContainer(entry.node) && !open) counts.collapsed++;
    else counts[entry.node.kind]++;
    boxes.push(
      box(entry, at.x, at.y, at.node.width ?? 0, at.node.height ?? 0, open, stateOf(entry, status))
    );
    if (open) entry.children.forEach(draw);
  };
  draw(root);

  const lines: SvgElement[] = [];
  const drawEdges = (node: ElkNode): void => {
    for (const edge of (node.edges ?? []) as ElkExtendedEdge[]) {
      const origin = position.get(edge.container ?? node.id) ?? { x: 0, y: 0 };
      for (const section of edge.sections ?? []) {
        const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
        const d = points
          .map((p, i) => `${i ? 'L' : 'M'}${round(origin.x + p.x)} ${round(origin.y + p.y)}`)
          .join(' ');
        counts.edges++;
        lines.push(el('path', { class: 'sf-edge', d, 'marker-end': `url(#${prefix}-arrow)` }, []));
      }
    }
    node.children?.forEach(drawEdges);
  };
  drawEdges(laid);

  const width = Math.ceil(laid.width ?? 0);
  const height = Math.ceil(laid.height ?? 0);
  const arrow = el(
    'marker',
    {
      id: `${prefix}-arrow`,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse'
    },
    [el('path', { d: 'M0 0 L10 5 L0 10 z', class: 'sf-arrow' }, [])]
  );
  const svg = el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      class: 'sf-graph',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`
    },
    [
      el('defs', {}, [arrow]),
      el('g', { class: 'sf-viewport' }, [
        el('g', { class: 'sf-boxes' }, boxes),
        el('g', { class: 'sf-edges' }, lines)
      ])
    ]
  );
  return { svg, width, height, counts };
}

function box(
  entry: Entry,
  x: number,
  y: number,
  width: number,
  height: number,
  open: boolean,
  state: StepState | undefined
): SvgElement {
  const kind = entry.node.kind;
  const runnable = isRunnable(entry.node);
  const classes = ['sf-node', `sf-${kind}`];
  if (!runnable) classes.push(open ? 'sf-open' : 'sf-collapsed');
  if (state) classes.push(`sf-status-${state.status}`);
  const label = labelOf(entry, open);
  const children: SvgElement[] = [
    el('title', {}, [], tooltip(entry, state)),
    el(
      'rect',
      {
        x: 0,
        y: 0,
        width: round(width),
        height: round(height),
        // A service is a pill: it does not end like a step's box.
        rx: kind === 'service' ? round(height / 2) : kind === 'step' ? 4 : 6
      },
      []
    )
  ];
  if (runnable || !open) {
    children.push(
      el(
        'text',
        { class: 'sf-label', x: 10, y: round(height / 2), 'dominant-baseline': 'central' },
        [],
        label
      )
    );
  } else {
    children.push(
      el(
        'text',
        { class: 'sf-label sf-header', x: 24, y: HEADER / 2 + 2, 'dominant-baseline': 'central' },
        [],
        label
      )
    );
  }
  if (entry.node.kind === 'service') {
    children.push(serviceBadge(entry.node, width, height, state));
  }
  if (!runnable) {
    // The toggle: a small square with a minus (open) or plus (collapsed).
    const cy = open ? HEADER / 2 + 2 : height / 2;
    const toggle = el(
      'g',
      { class: 'sf-toggle', transform: `translate(${open ? 6 : width - 18} ${round(cy - 6)})` },
      [
        el('rect', { x: 0, y: 0, width: 12, height: 12, rx: 2 }, []),
        el('path', { d: open ? 'M3 6 H9' : 'M3 6 H9 M6 3 V9' }, [])
      ]
    );
    children.push(toggle);
  }
  if (state && state.attempt !== undefined && state.attempt > 1) {
    children.push(
      el(
        'text',
        { class: 'sf-attempt', x: round(width - 6), y: 10, 'text-anchor': 'end' },
        [],
        `×${state.attempt}`
      )
    );
  }
  return el(
    'g',
    {
      class: classes.join(' '),
      transform: `translate(${round(x)} ${round(y)})`,
      'data-id': entry.id,
      'data-kind': kind,
      ...(state ? { 'data-status': state.status } : {})
    },
    children
  );
}

/**
 * The badge at the right end of a service: its port and replicas (`:8080 ×2`), and a dot that is
 * filled once its healthcheck passed.
 */
function serviceBadge(
  service: ServiceSpec,
  width: number,
  height: number,
  state: StepState | undefined
): SvgElement {
  const healthy = state?.status === 'ready';
  return el(
    'g',
    {
      class: `sf-service-badge${healthy ? ' sf-healthy' : ''}`,
      transform: `translate(${round(width - badgeWidth(service))} 0)`
    },
    [
      el(
        'text',
        { x: 0, y: round(height / 2), 'dominant-baseline': 'central' },
        [],
        badgeText(service)
      ),
      el('circle', { cx: round(badgeWidth(service) - 12), cy: round(height / 2), r: 3.5 }, [])
    ]
  );
}

function badgeText(service: ServiceSpec): string {
  const replicas = service.replicas ?? 1;
  return `:${service.port}${replicas > 1 ? ` ×${replicas}` : ''}`;
}

function badgeWidth(service: ServiceSpec): number {
  return badgeText(service).length * CHAR_WIDTH + 24;
}

function labelOf(entry: Entry, open: boolean): string {
  const node = entry.node;
  if (isRunnable(node)) return node.name;
  const attached = node.kind === 'workflow' ? attachments(node) : [];
  const suffix = attached.length ? ` · ${attached.join(' · ')}` : '';
  if (open) return `${node.name}${suffix}`;
  return `${node.name} (${countSteps(node)} steps)${suffix}`;
}

/** The tracker, checkers and improver attached to a workflow, as short labels. */
function attachments(node: WorkflowSpec): string[] {
  const parts: string[] = [];
  if (node.tracker) parts.push(node.tracker.url ? `tracker ${node.tracker.url}` : 'tracker');
  for (const checker of node.checkers ?? []) {
    parts.push(`checker ${checker.name}${checker.detector ? ` (${checker.detector})` : ''}`);
  }
  if (node.improver)
    parts.push(`improver${node.improver.strategy ? ` (${node.improver.strategy})` : ''}`);
  return parts;
}

function countSteps(node: NodeSpec): number {
  return isContainer(node) ? node.steps.reduce((n, child) => n + countSteps(child), 0) : 1;
}

function textWidth(text: string): number {
  return Math.min(320, Math.max(60, text.length * CHAR_WIDTH + 34));
}

/** The state of a node: its own, or for containers without one, summarized from their steps. */
function stateOf(entry: Entry, status: Record<string, StepState>): StepState | undefined {
  const own = status[entry.id];
  if (own || isRunnable(entry.node)) return own;
  const states = leafStates(entry, status);
  if (states.length === 0) return undefined;
  const has = (s: StepStatus): boolean => states.includes(s);
  const all = (s: StepStatus): boolean => states.every(x => x === s);
  const summary: StepStatus = has('failed')
    ? 'failed'
    : has('running') || has('building') || has('retrying') || has('ready')
      ? 'running'
      : all('skipped')
        ? 'skipped'
        : states.every(s => s === 'succeeded' || s === 'stopped' || s === 'skipped') &&
            states.length === countSteps(entry.node)
          ? 'succeeded'
          : 'queued';
  return { status: summary };
}

function leafStates(entry: Entry, status: Record<string, StepState>): StepStatus[] {
  if (isRunnable(entry.node)) {
    const s = status[entry.id]?.status;
    return s && STEP_STATUSES.includes(s) ? [s] : [];
  }
  return entry.children.flatMap(child => leafStates(child, status));
}

function tooltip(entry: Entry, state: StepState | undefined): string {
  const node = entry.node;
  const lines = [`${node.kind} ${entry.id}`];
  if (node.description) lines.push(node.description);
  if (isRunnable(node)) lines.push(...stepFacts(node));
  else
    lines.push(`${countSteps(node)} steps`, ...(node.kind === 'workflow' ? attachments(node) : []));
  if (state) {
    lines.push(
      `status: ${statusText(state.status)}${state.attempt ? ` (attempt ${state.attempt})` : ''}`
    );
    if (state.endpoints?.length) lines.push(`reachable at ${state.endpoints.join(', ')}`);
    if (state.startedAt) lines.push(`started: ${state.startedAt}`);
    if (state.finishedAt) lines.push(`finished: ${state.finishedAt}`);
    if (state.durationMs !== undefined)
      lines.push(`took: ${(state.durationMs / 1000).toFixed(1)} s`);
    if (state.message) lines.push(state.message);
    if (state.logs) lines.push(`logs: ${state.logs}`);
  }
  return lines.join('\n');
}

function stepFacts(step: RunnableSpec): string[] {
  const facts: string[] = [];
  if (step.kind === 'service') {
    facts.push(`port: ${step.port}`, `replicas: ${step.replicas ?? 1}`);
    const check = step.healthcheck;
    if (check) facts.push(`healthcheck: ${check.path ?? check.command?.join(' ')}`);
  }
  if (step.image) facts.push(`image: ${step.image}`);
  if (step.dockerfile) facts.push(`dockerfile: ${step.dockerfile}`);
  if (step.base) facts.push(`base: ${step.base} + ${(step.requirements ?? []).join(' ')}`);
  if (step.command) facts.push(`command: ${step.command.join(' ')}`);
  const r = step.resources;
  if (r) {
    const parts = [
      r.cpus !== undefined ? `${r.cpus} cpus` : '',
      r.memory !== undefined ? `${r.memory} memory` : '',
      r.gpus !== undefined ? `${r.gpus} gpus` : ''
    ].filter(Boolean);
    if (parts.length) facts.push(`resources: ${parts.join(', ')}`);
  }
  if (step.retries) facts.push(`retries: ${step.retries}`);
  if (step.timeout) facts.push(`timeout: ${step.timeout} s`);
  return facts;
}

function isAncestor(a: Entry, b: Entry): boolean {
  for (let e = b.parent; e; e = e.parent) if (e === a) return true;
  return false;
}

function commonAncestor(a: Entry, b: Entry): Entry | undefined {
  const chain = new Set<Entry>();
  for (let e = a.parent; e; e = e.parent) chain.add(e);
  for (let e = b.parent; e; e = e.parent) if (chain.has(e)) return e;
  return undefined;
}

/** Same rules as the model's graph: a plain name is a sibling (then outwards), dotted is qualified. */
function resolve(
  dependency: string,
  from: Entry,
  byId: Map<string, Entry>,
  root: Entry
): Entry | undefined {
  if (dependency.includes('.')) {
    return byId.get(dependency) ?? byId.get(`${root.id}.${dependency}`);
  }
  for (let scope = from.parent; scope; scope = scope.parent) {
    const found = scope.children.find(child => child.node.name === dependency);
    if (found) return found;
  }
  return undefined;
}

function el(
  tag: string,
  attrs: Record<string, string | number>,
  children: SvgElement[],
  text?: string
): SvgElement {
  return text === undefined ? { tag, attrs, children } : { tag, attrs, children, text };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;'
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, c => ESCAPES[c]);
}

/**
 * CSS for a standalone SVG file: the same look as in JupyterLab, on --jp-* variables with light
 * fallbacks for viewers outside JupyterLab.
 */
export const GRAPH_CSS = `
.sf-graph { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px; }
.sf-node > rect { fill: var(--jp-layout-color0, #fff); stroke: var(--jp-border-color1, #9e9e9e); stroke-width: 1; }
.sf-workflow.sf-open > rect { fill: var(--jp-layout-color1, #fafafa); }
.sf-parallel.sf-open > rect { fill: var(--jp-layout-color2, #eee); stroke-dasharray: 5 3; }
.sf-collapsed > rect { stroke-width: 2; }
.sf-label { fill: var(--jp-ui-font-color1, #212121); }
.sf-header { font-weight: 600; }
.sf-toggle { cursor: pointer; }
.sf-toggle > rect { fill: var(--jp-layout-color2, #eee); stroke: var(--jp-border-color1, #9e9e9e); }
.sf-toggle > path { stroke: var(--jp-ui-font-color1, #212121); stroke-width: 1.5; }
.sf-edge { fill: none; stroke: var(--jp-ui-font-color2, #616161); stroke-width: 1.2; }
.sf-arrow { fill: var(--jp-ui-font-color2, #616161); }
.sf-attempt { fill: var(--jp-ui-font-color2, #616161); font-size: 10px; }
.sf-status-queued > rect { stroke: var(--jp-ui-font-color3, #9e9e9e); stroke-dasharray: 3 2; }
.sf-status-building > rect { stroke: var(--jp-warn-color1, #f57c00); stroke-width: 2; }
.sf-status-running > rect { stroke: var(--jp-brand-color1, #1976d2); stroke-width: 2.5; }
.sf-status-retrying > rect { stroke: var(--jp-warn-color0, #e65100); stroke-width: 2.5; }
.sf-status-succeeded > rect { stroke: var(--jp-success-color1, #388e3c); stroke-width: 2; }
.sf-step.sf-status-succeeded > rect { fill: var(--jp-success-color3, #c8e6c9); }
.sf-status-failed > rect { stroke: var(--jp-error-color1, #d32f2f); stroke-width: 2.5; }
.sf-step.sf-status-failed > rect { fill: var(--jp-error-color3, #ffcdd2); }
.sf-service > rect { stroke-width: 1.5; }
.sf-service-badge > text { fill: var(--jp-ui-font-color2, #616161); font-size: 11px; }
.sf-service-badge > circle { fill: none; stroke: var(--jp-ui-font-color2, #616161); }
.sf-service-badge.sf-healthy > circle { fill: var(--jp-success-color1, #388e3c); stroke: var(--jp-success-color1, #388e3c); }
.sf-status-ready > rect { stroke: var(--jp-brand-color1, #1976d2); stroke-width: 2.5; fill: var(--jp-brand-color3, #bbdefb); }
.sf-status-stopped > rect { stroke: var(--jp-ui-font-color3, #9e9e9e); stroke-width: 2; }
.sf-status-skipped > rect { stroke: var(--jp-ui-font-color3, #bdbdbd); stroke-dasharray: 2 3; opacity: 0.7; }
`;

/** Serializes a drawing element; `standalone` embeds the CSS (for .svg files). */
export function svgString(element: SvgElement, standalone = false): string {
  const write = (e: SvgElement): string => {
    const attrs = Object.entries(e.attrs)
      .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
      .join('');
    const style = standalone && e.tag === 'svg' ? `<style>${escapeXml(GRAPH_CSS)}</style>` : '';
    const inner =
      style + (e.text !== undefined ? escapeXml(e.text) : e.children.map(write).join(''));
    return inner ? `<${e.tag}${attrs}>${inner}</${e.tag}>` : `<${e.tag}${attrs}/>`;
  };
  return write(element);
}

/**
 * A workflow as a standalone SVG document, laid out by elkjs (loaded on first use): for
 * `scanflow graph --format svg` and anything else that wants a file.
 */
export async function workflowSvg(
  data: WorkflowBundleData | WorkflowBundleData['workflow'],
  options: DrawOptions = {}
): Promise<string> {
  const { default: ELK } = await import('elkjs/lib/elk.bundled.js');
  const bundle: WorkflowBundleData = 'kind' in data ? { version: 1, workflow: data } : data;
  const drawing = await drawWorkflow(bundle, new ELK(), options);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${svgString(drawing.svg, true)}\n`;
}
