import { qualify } from './names';
import type { Problem } from './problems';
import {
  isContainer,
  isRunnable,
  type ContainerSpec,
  type NodeSpec,
  type RunnableSpec,
  type WorkflowSpec
} from './types';

/**
 * A node of the flattened graph that runs: a batch step or, with `S = ServiceSpec`, a service
 * (`isService` tells them apart).
 */
export interface FlatStep<S extends RunnableSpec = RunnableSpec> {
  /** Qualified id: names from the root down, e.g. "hello.train.fit". */
  id: string;
  spec: S;
  /** Qualified ids of the enclosing workflows and groups, outermost first. */
  parents: string[];
  /** Qualified ids of the steps this one waits for. */
  needs: string[];
}

/** A workflow or parallel group, with the steps it holds at any depth. */
export interface FlatContainer {
  id: string;
  spec: ContainerSpec;
  parents: string[];
  /** Qualified ids of the steps inside, at any depth. */
  steps: string[];
}

/** Nesting flattened into a DAG of steps (and services) with qualified ids. */
export interface FlatGraph {
  root: WorkflowSpec;
  /** Steps and services in definition order. */
  steps: FlatStep[];
  containers: FlatContainer[];
  /** [from, to] pairs of step ids: `to` runs after `from`. */
  edges: Array<[string, string]>;
}

interface Scope {
  id: string;
  node: NodeSpec;
  parent?: Scope;
  children: Scope[];
  waitsForSibling?: boolean;
  awaitedBySibling?: boolean;
}

/**
 * Flattens a definition into a DAG. Workflows chain their children in order, parallel groups do
 * not, and a nested container counts as one unit: what follows it waits for all its last steps,
 * and its first steps wait for what precedes it. Unresolvable `after` entries are reported into
 * `problems` (when given) and otherwise ignored.
 */
export function buildGraph(root: WorkflowSpec, problems?: Problem[]): FlatGraph {
  const rootScope = scopeOf(root, undefined);
  const byId = new Map<string, Scope>();
  collect(rootScope, byId);

  const steps: FlatStep[] = [];
  const containers: FlatContainer[] = [];
  const needs = new Map<string, Set<string>>();
  for (const scope of byId.values()) {
    const parents = ancestors(scope).map(s => s.id);
    if (isRunnable(scope.node)) {
      needs.set(scope.id, new Set());
      steps.push({ id: scope.id, spec: scope.node, parents, needs: [] });
    } else {
      containers.push({ id: scope.id, spec: scope.node, parents, steps: leaves(scope) });
    }
  }

  // Resolve every `after` first: inside a parallel group, a member that waits for a sibling is
  // neither an entry nor an exit of the group.
  const dependencies: Array<[Scope, Scope]> = [];
  for (const scope of byId.values()) {
    for (const dependency of scope.node.after ?? []) {
      const target = resolve(dependency, scope, byId, rootScope);
      if (typeof target === 'string') {
        problems?.push({
          where: scope.id,
          field: 'after',
          ...unknownDependency(dependency, target)
        });
      } else {
        dependencies.push([target, scope]);
        if (target.parent === scope.parent) {
          scope.waitsForSibling = true;
          target.awaitedBySibling = true;
        }
      }
    }
  }

  const link = (from: Scope, to: Scope): void => {
    for (const before of exits(from)) {
      for (const after of entries(to)) {
        needs.get(after)?.add(before);
      }
    }
  };
  for (const scope of byId.values()) {
    if (scope.node.kind === 'workflow') {
      scope.children.forEach((child, i) => i > 0 && link(scope.children[i - 1], child));
    }
  }
  dependencies.forEach(([target, scope]) => link(target, scope));

  const edges: Array<[string, string]> = [];
  for (const step of steps) {
    step.needs = [...(needs.get(step.id) ?? [])];
    step.needs.forEach(before => edges.push([before, step.id]));
  }
  return { root, steps, containers, edges };
}

function scopeOf(node: NodeSpec, parent: Scope | undefined): Scope {
  const scope: Scope = { id: qualify(parent?.id ?? '', node.name), node, parent, children: [] };
  if (isContainer(node)) {
    scope.children = node.steps.map(child => scopeOf(child, scope));
  }
  return scope;
}

function collect(scope: Scope, byId: Map<string, Scope>): void {
  // Duplicate names are reported by validation; the first one wins here.
  if (!byId.has(scope.id)) {
    byId.set(scope.id, scope);
  }
  scope.children.forEach(child => collect(child, byId));
}

function ancestors(scope: Scope): Scope[] {
  const chain: Scope[] = [];
  for (let s = scope.parent; s; s = s.parent) {
    chain.unshift(s);
  }
  return chain;
}

function leaves(scope: Scope): string[] {
  return isRunnable(scope.node) ? [scope.id] : scope.children.flatMap(leaves);
}

/** The steps of a unit that start first. */
function entries(scope: Scope): string[] {
  if (isRunnable(scope.node)) {
    return [scope.id];
  }
  const first =
    scope.node.kind === 'workflow'
      ? scope.children.slice(0, 1)
      : scope.children.filter(child => !child.waitsForSibling);
  return first.flatMap(entries);
}

/** The steps of a unit that finish last. */
function exits(scope: Scope): string[] {
  if (isRunnable(scope.node)) {
    return [scope.id];
  }
  const last =
    scope.node.kind === 'workflow'
      ? scope.children.slice(-1)
      : scope.children.filter(child => !child.awaitedBySibling);
  return last.flatMap(exits);
}

/**
 * A dependency names a node: a plain name is looked up among the siblings, then outwards in the
 * enclosing scopes; a dotted name is a qualified id, with or without the root's name. Returns the
 * scope, or a reason why none fits.
 */
function resolve(
  dependency: string,
  from: Scope,
  byId: Map<string, Scope>,
  root: Scope
): Scope | string {
  let target: Scope | undefined;
  if (dependency.includes('.')) {
    target = byId.get(dependency) ?? byId.get(qualify(root.id, dependency));
  } else {
    for (let scope = from.parent; scope && !target; scope = scope.parent) {
      target = scope.children.find(child => child.node.name === dependency);
    }
  }
  if (!target) {
    return 'unknown';
  }
  if (target === from) {
    return 'self';
  }
  if (from.id.startsWith(`${target.id}.`)) {
    return 'ancestor';
  }
  if (target.id.startsWith(`${from.id}.`)) {
    return 'descendant';
  }
  return target;
}

function unknownDependency(dependency: string, reason: string): Omit<Problem, 'where'> {
  switch (reason) {
    case 'self':
      return {
        message: `it depends on itself ('${dependency}')`,
        fix: `remove '${dependency}' from 'after'`
      };
    case 'ancestor':
      return {
        message: `it depends on '${dependency}', which contains it`,
        fix: `a node inside '${dependency}' already runs as part of it: remove '${dependency}' from 'after'`
      };
    case 'descendant':
      return {
        message: `it depends on '${dependency}', which is inside it`,
        fix: `order the steps inside instead, and remove '${dependency}' from 'after'`
      };
    default:
      return {
        message: `it depends on '${dependency}', which does not exist`,
        fix: 'name a sibling step, group or workflow, or a qualified id such as "train.fit"'
      };
  }
}

/** A cycle of step ids (first = last), or undefined when the graph is acyclic. */
export function findCycle(graph: FlatGraph): string[] | undefined {
  const needs = new Map(graph.steps.map(s => [s.id, s.needs]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'visiting');
    path.push(id);
    for (const before of needs.get(id) ?? []) {
      if (state.get(before) === 'visiting') {
        return [...path.slice(path.indexOf(before)), before].reverse();
      }
      if (!state.has(before)) {
        const cycle = visit(before);
        if (cycle) {
          return cycle;
        }
      }
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const step of graph.steps) {
    if (!state.has(step.id)) {
      const cycle = visit(step.id);
      if (cycle) {
        return cycle;
      }
    }
  }
  return undefined;
}

/**
 * Topological stages: each stage holds the steps whose dependencies all lie in earlier stages,
 * so the steps of one stage can run at the same time. Throws on a cycle.
 */
export function stages(graph: FlatGraph): string[][] {
  // Kahn's algorithm, one layer at a time: O(steps + edges).
  const waiting = new Map(graph.steps.map(s => [s.id, s.needs.length]));
  const dependents = new Map<string, string[]>(graph.steps.map(s => [s.id, []]));
  graph.edges.forEach(([from, to]) => dependents.get(from)?.push(to));
  const order = new Map(graph.steps.map((s, i) => [s.id, i]));
  let ready = graph.steps.filter(s => s.needs.length === 0).map(s => s.id);
  const result: string[][] = [];
  let placed = 0;
  while (ready.length > 0) {
    result.push(ready);
    placed += ready.length;
    const next: string[] = [];
    for (const id of ready) {
      for (const dependent of dependents.get(id) ?? []) {
        const left = waiting.get(dependent)! - 1;
        waiting.set(dependent, left);
        if (left === 0) {
          next.push(dependent);
        }
      }
    }
    ready = next.sort((a, b) => order.get(a)! - order.get(b)!);
  }
  if (placed < graph.steps.length) {
    throw new Error(`the graph has a cycle: ${(findCycle(graph) ?? []).join(' -> ')}`);
  }
  return result;
}

/**
 * The longest chain of dependent steps, weighted by `duration` (1 per step by default, or e.g.
 * measured seconds). Its length bounds the run's wall-clock time from below.
 */
export function criticalPath(
  graph: FlatGraph,
  duration: (step: FlatStep) => number = () => 1
): { steps: string[]; length: number } {
  const byId = new Map(graph.steps.map(s => [s.id, s]));
  const finish = new Map<string, number>();
  const via = new Map<string, string | undefined>();
  for (const stage of stages(graph)) {
    for (const id of stage) {
      const step = byId.get(id)!;
      let start = 0;
      let previous: string | undefined;
      for (const before of step.needs) {
        if ((finish.get(before) ?? 0) > start) {
          start = finish.get(before)!;
          previous = before;
        }
      }
      finish.set(id, start + duration(step));
      via.set(id, previous);
    }
  }
  let last: string | undefined;
  for (const [id, end] of finish) {
    if (last === undefined || end > finish.get(last)!) {
      last = id;
    }
  }
  const path: string[] = [];
  for (let id = last; id !== undefined; id = via.get(id)) {
    path.unshift(id);
  }
  return { steps: path, length: last === undefined ? 0 : finish.get(last)! };
}
