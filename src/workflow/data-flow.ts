/**
 * Inputs and outputs: a step may only read an output that a step it waits for (directly or
 * through others) writes; otherwise it would race with the writer, or read nothing.
 */
import type { FlatGraph } from './graph';
import type { Problem } from './problems';

export function dataFlowProblems(graph: FlatGraph): Problem[] {
  const byId = new Map(graph.steps.map(step => [step.id, step]));
  const upstream = new Map<string, Set<string>>();
  const before = (id: string): Set<string> => {
    let found = upstream.get(id);
    if (!found) {
      found = new Set();
      upstream.set(id, found);
      for (const need of byId.get(id)?.needs ?? []) {
        found.add(need);
        before(need).forEach(earlier => found!.add(earlier));
      }
    }
    return found;
  };

  const problems: Problem[] = [];
  for (const step of graph.steps) {
    const writers = [...before(step.id)].flatMap(id => byId.get(id)?.spec.outputs ?? []);
    for (const input of step.spec.inputs ?? []) {
      if (writers.includes(input)) {
        continue;
      }
      const writer = graph.steps.find(other => other.spec.outputs?.includes(input));
      problems.push({
        where: step.id,
        field: 'inputs',
        message: writer
          ? `it reads '${input}', which ${writer.id} writes, but it does not wait for ${writer.id}`
          : `it reads '${input}', which no step writes`,
        fix: writer
          ? `add '${writer.id}' to its 'after', or move it after ${writer.id}`
          : `list '${input}' in the 'outputs' of a step that runs before it, or remove it from 'inputs'`
      });
    }
  }
  return problems;
}
