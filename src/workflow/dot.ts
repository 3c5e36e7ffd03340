import type { FlatGraph, FlatStep } from './graph';
import { isService } from './services';

/**
 * Graphviz DOT of the flattened graph, with workflows and groups drawn as nested clusters and
 * services as hexagons labelled with their port (and replicas).
 */
export function toDot(graph: FlatGraph): string {
  const lines = [
    `digraph ${quote(graph.root.name)} {`,
    '  rankdir=LR;',
    '  node [shape=box, style=rounded];'
  ];
  const children = new Map<string, string[]>();
  const add = (parent: string, line: string): void => {
    children.set(parent, [...(children.get(parent) ?? []), line]);
  };
  for (const step of graph.steps) {
    add(
      step.parents[step.parents.length - 1] ?? '',
      `${quote(step.id)} [${nodeAttributes(step)}];`
    );
  }
  const emit = (containerId: string, indent: string): void => {
    for (const container of graph.containers.filter(
      c => c.parents[c.parents.length - 1] === containerId
    )) {
      const style = container.spec.kind === 'parallel' ? 'dashed' : 'solid';
      lines.push(`${indent}subgraph ${quote(`cluster_${container.id}`)} {`);
      lines.push(`${indent}  label=${quote(container.spec.name)}; style=${style};`);
      (children.get(container.id) ?? []).forEach(line => lines.push(`${indent}  ${line}`));
      emit(container.id, `${indent}  `);
      lines.push(`${indent}}`);
    }
  };
  // The root workflow is the graph itself; its own steps sit at the top level.
  (children.get(graph.root.name) ?? []).forEach(line => lines.push(`  ${line}`));
  emit(graph.root.name, '  ');
  graph.edges.forEach(([from, to]) => lines.push(`  ${quote(from)} -> ${quote(to)};`));
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function nodeAttributes(step: FlatStep): string {
  if (!isService(step)) {
    return `label=${quote(step.spec.name)}`;
  }
  const replicas = step.spec.replicas ?? 1;
  const label = `${step.spec.name} :${step.spec.port}${replicas > 1 ? ` ×${replicas}` : ''}`;
  return `label=${quote(label)}, shape=hexagon, style=solid`;
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
