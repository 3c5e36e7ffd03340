/**
 * The tooltip of a graph node: what a step runs (image, command, resources, retries, timeout) and
 * how its run went (status, attempt, timings, message, a link to its logs). Built from DOM nodes
 * with textContent only: every string here comes from the user's definition or run.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { statusText, type StepState, type WorkflowBundleData } from '../notebook/bundles';
import { isContainer, type NodeSpec, type RunnableSpec } from '../workflow/types';

/** One row of the tooltip: a term and its value; `code` values are set in a monospace font. */
export interface Fact {
  term: string;
  value: string;
  code?: boolean;
}

/** Everything the tooltip shows about one node. */
export interface NodeDetails {
  id: string;
  kind: NodeSpec['kind'];
  description?: string;
  facts: Fact[];
  state?: StepState;
  /** The step's log location, as the run reported it (a URL, or a path from the notebook). */
  logs?: string;
}

/** Finds a node by qualified id (`hello.train.pick`) in the bundle's workflow. */
export function findNode(data: WorkflowBundleData, id: string): NodeSpec | undefined {
  const root = data.workflow;
  if (id === root.name) return root;
  if (!id.startsWith(`${root.name}.`)) return undefined;
  let node: NodeSpec = root;
  let rest = id.slice(root.name.length + 1);
  // Names may contain dots: match the longest child name that prefixes the rest.
  while (rest) {
    if (!isContainer(node)) return undefined;
    const child: NodeSpec | undefined = node.steps
      .filter(c => rest === c.name || rest.startsWith(`${c.name}.`))
      .sort((a, b) => b.name.length - a.name.length)[0];
    if (!child) return undefined;
    node = child;
    rest = rest === child.name ? '' : rest.slice(child.name.length + 1);
  }
  return node;
}

/** The details of a node, or undefined when the id is not in the workflow. */
export function nodeDetails(data: WorkflowBundleData, id: string): NodeDetails | undefined {
  const node = findNode(data, id);
  if (!node) return undefined;
  const state = data.status?.[id];
  const facts = isContainer(node) ? containerFacts(node) : stepFacts(node);
  if (state) facts.push(...stateFacts(state, isContainer(node) ? undefined : node.retries));
  const details: NodeDetails = { id, kind: node.kind, facts };
  if (node.description) details.description = node.description;
  if (state) details.state = state;
  if (state?.logs) details.logs = state.logs;
  return details;
}

/** An argv array as a person would type it: arguments with spaces or quotes are quoted. */
export function commandLine(argv: string[]): string {
  return argv
    .map(arg => (arg === '' || /[\s"'\\]/.test(arg) ? JSON.stringify(arg) : arg))
    .join(' ');
}

function stepFacts(step: RunnableSpec): Fact[] {
  const facts: Fact[] = [];
  if (step.kind === 'service') {
    const replicas = step.replicas ?? 1;
    facts.push({
      term: 'port',
      value: `${step.port}${replicas > 1 ? ` · ${replicas} replicas` : ''}`
    });
    const check = step.healthcheck;
    if (check?.path) facts.push({ term: 'healthcheck', value: `GET ${check.path}`, code: true });
    if (check?.command) {
      facts.push({ term: 'healthcheck', value: commandLine(check.command), code: true });
    }
  }
  if (step.image) facts.push({ term: 'image', value: step.image, code: true });
  if (step.dockerfile) {
    const context = step.context ? ` (context ${step.context})` : '';
    facts.push({ term: 'dockerfile', value: `${step.dockerfile}${context}`, code: true });
  }
  if (step.base) {
    const requirements = (step.requirements ?? []).join(' ');
    facts.push({ term: 'base', value: `${step.base}${requirements ? ` + ${requirements}` : ''}` });
  }
  if (step.command) facts.push({ term: 'command', value: commandLine(step.command), code: true });
  const r = step.resources;
  const resources = [
    r?.cpus !== undefined ? `${r.cpus} CPU${r.cpus === 1 ? '' : 's'}` : '',
    r?.memory !== undefined ? `${r.memory} memory` : '',
    r?.gpus !== undefined ? `${r.gpus} GPU${r.gpus === 1 ? '' : 's'}` : ''
  ].filter(Boolean);
  if (resources.length) facts.push({ term: 'resources', value: resources.join(' · ') });
  if (step.retries) facts.push({ term: 'retries', value: `up to ${step.retries}` });
  if (step.timeout) facts.push({ term: 'timeout', value: `${step.timeout} s` });
  return facts;
}

function containerFacts(node: Exclude<NodeSpec, RunnableSpec>): Fact[] {
  const count = (n: NodeSpec): number =>
    isContainer(n) ? n.steps.reduce((sum, child) => sum + count(child), 0) : 1;
  const facts: Fact[] = [{ term: 'steps', value: String(count(node)) }];
  if (node.kind === 'workflow') {
    if (node.tracker)
      facts.push({ term: 'tracker', value: node.tracker.url ?? node.tracker.scope ?? 'yes' });
    for (const checker of node.checkers ?? []) {
      facts.push({
        term: 'checker',
        value: `${checker.name}${checker.detector ? ` (${checker.detector})` : ''}`
      });
    }
    if (node.improver) facts.push({ term: 'improver', value: node.improver.strategy ?? 'yes' });
  }
  return facts;
}

function stateFacts(state: StepState, retries: number | undefined): Fact[] {
  const facts: Fact[] = [];
  if (state.attempt !== undefined) {
    const of = retries ? ` of ${retries + 1}` : '';
    facts.push({ term: 'attempt', value: `${state.attempt}${of}` });
  }
  if (state.startedAt) facts.push({ term: 'started', value: time(state.startedAt) });
  if (state.finishedAt) facts.push({ term: 'finished', value: time(state.finishedAt) });
  if (state.durationMs !== undefined)
    facts.push({ term: 'took', value: duration(state.durationMs) });
  if (state.message) facts.push({ term: 'message', value: state.message });
  for (const endpoint of state.endpoints ?? []) {
    facts.push({ term: 'endpoint', value: endpoint, code: true });
  }
  return facts;
}

function time(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * The tooltip element: one per graph, shown next to the pointer over a node. It stays while the
 * pointer moves onto it, so that its log link can be clicked.
 */
export class NodeTooltip {
  readonly node: HTMLElement = document.createElement('div');
  private hideTimer: ReturnType<typeof setTimeout> | undefined;
  private shownId: string | undefined;

  constructor(
    private readonly links: Pick<IRenderMime.IRendererOptions, 'resolver' | 'linkHandler'>
  ) {
    this.node.className = 'jp-ScanflowWorkflow-tooltip';
    this.node.setAttribute('role', 'tooltip');
    this.node.hidden = true;
    this.node.addEventListener('pointerenter', () => this.cancelHide());
    this.node.addEventListener('pointerleave', () => this.hideSoon());
  }

  /** The id of the node shown, if any. */
  get shown(): string | undefined {
    return this.shownId;
  }

  /** Shows the details at (x, y), in the coordinates of the tooltip's offset parent. */
  show(details: NodeDetails, x: number, y: number): void {
    this.cancelHide();
    if (this.shownId !== details.id) {
      this.node.replaceChildren(...this.content(details));
      this.shownId = details.id;
    }
    this.node.hidden = false;
    this.node.style.left = `${Math.max(0, x)}px`;
    this.node.style.top = `${Math.max(0, y)}px`;
  }

  hide(): void {
    this.cancelHide();
    this.node.hidden = true;
    this.shownId = undefined;
  }

  /** Hides after a moment, unless the pointer reaches the tooltip first. */
  hideSoon(): void {
    this.cancelHide();
    this.hideTimer = setTimeout(() => this.hide(), 250);
  }

  private cancelHide(): void {
    if (this.hideTimer !== undefined) clearTimeout(this.hideTimer);
    this.hideTimer = undefined;
  }

  private content(details: NodeDetails): HTMLElement[] {
    const title = element('div', 'jp-ScanflowWorkflow-tooltipTitle');
    title.append(
      element('span', 'jp-ScanflowWorkflow-tooltipKind', details.kind),
      ` ${details.id}`
    );
    const parts = [title];
    if (details.state) {
      const status = element(
        'div',
        'jp-ScanflowWorkflow-tooltipStatus',
        statusText(details.state.status)
      );
      status.dataset.status = details.state.status;
      parts.push(status);
    }
    if (details.description) {
      parts.push(element('div', 'jp-ScanflowWorkflow-tooltipDescription', details.description));
    }
    const list = element('dl', 'jp-ScanflowWorkflow-tooltipFacts');
    for (const fact of details.facts) {
      const value = element('dd', '');
      value.appendChild(element(fact.code ? 'code' : 'span', '', fact.value));
      list.append(element('dt', '', fact.term), value);
    }
    if (details.logs) {
      const value = element('dd', '');
      value.appendChild(this.logLink(details.logs));
      list.append(element('dt', '', 'logs'), value);
    }
    parts.push(list);
    return parts;
  }

  /** http(s) URLs open in a new tab; paths open in JupyterLab; anything else is shown as text. */
  private logLink(logs: string): HTMLElement {
    const link = document.createElement('a');
    link.className = 'jp-ScanflowWorkflow-tooltipLogs';
    link.textContent = logs;
    if (/^https?:\/\//i.test(logs)) {
      link.href = logs;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      return link;
    }
    const { resolver, linkHandler } = this.links;
    if (/^[a-z][a-z0-9+.-]*:/i.test(logs) || !resolver || !linkHandler) {
      return element('span', '', logs);
    }
    link.href = '#';
    void resolver.resolveUrl(logs).then(path => {
      linkHandler.handleLink(link, decodeURIComponent(path).replace(/^\/+/, ''), '');
    });
    return link;
  }
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const result = document.createElement(tag);
  if (className) result.className = className;
  if (text !== undefined) result.textContent = text;
  return result;
}
