import { dataFlowProblems } from './data-flow';
import { buildGraph, findCycle, type FlatGraph } from './graph';
import { DefinitionError, type Problem } from './problems';
import { schemaProblems } from './schema';
import { serviceProblems } from './services';
import { isContainer, type NodeSpec, type WorkflowSpec } from './types';

/**
 * Every problem of a definition, structural and semantic, in one list (empty when it is valid).
 * Accepts any value, such as parsed JSON or YAML; nothing here throws on malformed input.
 */
export function validate(definition: unknown): Problem[] {
  const normalized = withKinds(definition);
  const problems = schemaProblems(normalized);
  if (!isWellShaped(normalized, true)) {
    return problems;
  }
  const root = normalized as WorkflowSpec;
  const before = problems.length;
  walk(root, root.name, node => problems.push(...nodeProblems(node.spec, node.id)));
  // With duplicate ids the flattened graph is not the one the user meant: skip the cycle check.
  const hasDuplicates = problems.slice(before).some(p => p.message.includes('is used twice in'));
  const graph = buildGraph(root, problems);
  const cycle = hasDuplicates ? undefined : findCycle(graph);
  if (cycle) {
    problems.push({
      where: cycle[0],
      field: 'after',
      message: `the dependencies form a cycle: ${cycle.join(' -> ')}`,
      fix: "remove one of these dependencies from an 'after' list"
    });
  } else if (!hasDuplicates) {
    problems.push(...dataFlowProblems(graph));
  }
  problems.push(...serviceProblems(graph));
  return problems;
}

/**
 * The definition as a typed workflow, with every `kind` filled in. Throws a DefinitionError that
 * lists all problems when it is not valid.
 */
export function parseWorkflow(definition: unknown, source?: string): WorkflowSpec {
  const problems = validate(definition);
  if (problems.length > 0) {
    throw new DefinitionError(problems, source);
  }
  return withKinds(definition) as WorkflowSpec;
}

/** Throws a DefinitionError when the workflow is not valid; returns it otherwise. */
export function assertValid<T extends WorkflowSpec>(spec: T, source?: string): T {
  const problems = validate(spec);
  if (problems.length > 0) {
    throw new DefinitionError(problems, source);
  }
  return spec;
}

/** The validated workflow flattened into a DAG of steps (throws DefinitionError when invalid). */
export function flatten(spec: WorkflowSpec): FlatGraph {
  return buildGraph(assertValid(spec));
}

/** Visits every node with its qualified id, depth first, in definition order. */
export function walk(
  node: NodeSpec,
  id: string,
  visit: (node: { spec: NodeSpec; id: string }) => void
): void {
  visit({ spec: node, id });
  if (isContainer(node)) {
    node.steps.forEach(child => walk(child, `${id}.${child.name}`, visit));
  }
}

/** A deep copy in which the root is a workflow and a node without `kind` is a step. */
function withKinds(definition: unknown, isRoot = true): unknown {
  if (!isObject(definition)) {
    return definition;
  }
  const copy: Record<string, unknown> = { ...definition };
  if (copy.kind === undefined) {
    copy.kind = isRoot ? 'workflow' : 'step';
  }
  if (Array.isArray(copy.steps)) {
    copy.steps = copy.steps.map(child => withKinds(child, false));
  }
  return copy;
}

/** True when names and nesting are sound enough to build the graph (other fields may be wrong). */
function isWellShaped(node: unknown, isRoot = false): boolean {
  if (!isObject(node) || typeof node.name !== 'string') {
    return false;
  }
  if (
    node.after !== undefined &&
    !(Array.isArray(node.after) && node.after.every(a => typeof a === 'string'))
  ) {
    return false;
  }
  if (node.kind === 'step' || node.kind === 'service') {
    return !isRoot;
  }
  if (node.kind !== 'workflow' && node.kind !== 'parallel') {
    return false;
  }
  return Array.isArray(node.steps) && node.steps.every(child => isWellShaped(child));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Problems a schema cannot express, for one node. */
function nodeProblems(node: NodeSpec, id: string): Problem[] {
  const problems: Problem[] = [];
  if (isContainer(node)) {
    const seen = new Set<string>();
    for (const child of node.steps) {
      if (seen.has(child.name)) {
        problems.push({
          where: `${id}.${child.name}`,
          message: `the name '${child.name}' is used twice in ${node.kind} '${id}'`,
          fix: 'give every step, group and workflow in one scope its own name'
        });
      }
      seen.add(child.name);
    }
    if (node.kind === 'workflow') {
      const checkers = new Set<string>();
      for (const checker of node.checkers ?? []) {
        if (checkers.has(checker.name)) {
          problems.push({
            where: id,
            field: 'checkers',
            message: `the checker name '${checker.name}' is used twice`,
            fix: 'give every checker of a workflow its own name'
          });
        }
        checkers.add(checker.name);
      }
    }
    return problems;
  }
  const sources = (['image', 'dockerfile', 'base'] as const).filter(key => node[key] !== undefined);
  if (sources.length === 0) {
    problems.push({
      where: id,
      message: `the ${node.kind} has no image, dockerfile or base`,
      fix: "set 'image' (e.g. \"python:3.11-slim\"), 'dockerfile', or 'base' with 'requirements'"
    });
  } else if (sources.length > 1) {
    problems.push({
      where: id,
      field: sources.join(', '),
      message: `the ${node.kind} sets ${sources.map(s => `'${s}'`).join(' and ')}, which exclude each other`,
      fix: 'keep exactly one of them'
    });
  }
  if (node.requirements !== undefined && node.base === undefined) {
    problems.push({
      where: id,
      field: 'requirements',
      message: `'requirements' are installed on top of 'base', and the ${node.kind} has no 'base'`,
      fix: "set 'base' to the image to extend, or bake the requirements into the image"
    });
  }
  if (node.context !== undefined && node.dockerfile === undefined && node.base === undefined) {
    problems.push({
      where: id,
      field: 'context',
      message: "a build 'context' needs 'dockerfile' or 'base'",
      fix: `remove 'context', or build the ${node.kind} from a 'dockerfile'`
    });
  }
  const healthcheck = node.kind === 'service' ? node.healthcheck : undefined;
  if (healthcheck && (healthcheck.path === undefined) === (healthcheck.command === undefined)) {
    problems.push({
      where: id,
      field: 'healthcheck',
      message:
        healthcheck.path === undefined
          ? "the healthcheck has neither an HTTP 'path' nor a 'command'"
          : "the healthcheck sets both 'path' and 'command', which exclude each other",
      fix: 'give an HTTP path probed on the port, e.g. { path: "/health" }, or a command argv'
    });
  }
  return problems;
}
