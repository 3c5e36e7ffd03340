/**
 * A quick layered layout of the ELK graphs that `drawWorkflow` builds, in a few milliseconds and
 * without elkjs: inside each box, children go into stages (longest path over the edges between
 * them, as Kahn's stages of the flattened graph do), stages left to right, members of a stage one
 * above the other. Edges are routed with one vertical segment between their ends.
 *
 * The renderer draws this first when elkjs has not answered yet (its first layout in a page costs
 * seconds of compilation), then replaces it by elkjs's layout, which routes edges around boxes.
 * It reads only what `drawWorkflow` sets: sizes, `elk.padding`, `elk.nodeSize.minimum`, and edges
 * stored in the lowest box that holds both ends.
 */
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { Layouter } from './workflow-drawing';

const NODE_GAP = 12;
const STAGE_GAP = 24;

interface Padding {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

function padding(node: ElkNode): Padding {
  const text = node.layoutOptions?.['elk.padding'] ?? '';
  const value = (side: string): number =>
    Number(new RegExp(`${side}=([\\d.]+)`).exec(text)?.[1] ?? 0);
  return { top: value('top'), left: value('left'), bottom: value('bottom'), right: value('right') };
}

function minimumSize(node: ElkNode): { width: number; height: number } {
  const match = /\(([\d.]+),\s*([\d.]+)\)/.exec(node.layoutOptions?.['elk.nodeSize.minimum'] ?? '');
  return { width: Number(match?.[1] ?? 0), height: Number(match?.[2] ?? 0) };
}

/** Lays out a copy of the graph; same contract as `ELK.layout`. */
export function stageLayout(input: ElkNode): ElkNode {
  const graph = structuredClone(input);
  const byId = new Map<string, ElkNode>();
  const parent = new Map<string, ElkNode>();
  const index = (node: ElkNode): void => {
    byId.set(node.id, node);
    for (const child of node.children ?? []) {
      parent.set(child.id, node);
      index(child);
    }
  };
  index(graph);

  /** The direct child of `container` that holds the node `id` (or is it). */
  const childOf = (container: ElkNode, id: string): ElkNode | undefined => {
    let node = byId.get(id);
    while (node && parent.get(node.id) !== container) node = parent.get(node.id);
    return node;
  };

  const place = (node: ElkNode): void => {
    const children = node.children ?? [];
    if (children.length === 0) return;
    children.forEach(place);
    // Stages: the longest chain of edges (between these children) that leads to each child.
    const stage = new Map<ElkNode, number>(children.map(child => [child, 0]));
    const next = new Map<ElkNode, ElkNode[]>();
    const indegree = new Map<ElkNode, number>(children.map(child => [child, 0]));
    for (const edge of (node.edges ?? []) as ElkExtendedEdge[]) {
      const from = childOf(node, edge.sources[0]);
      const to = childOf(node, edge.targets[0]);
      if (!from || !to || from === to) continue;
      next.set(from, [...(next.get(from) ?? []), to]);
      indegree.set(to, (indegree.get(to) ?? 0) + 1);
    }
    const ready = children.filter(child => indegree.get(child) === 0);
    for (let i = 0; i < ready.length; i++) {
      for (const to of next.get(ready[i]) ?? []) {
        stage.set(to, Math.max(stage.get(to) ?? 0, (stage.get(ready[i]) ?? 0) + 1));
        indegree.set(to, (indegree.get(to) ?? 0) - 1);
        if (indegree.get(to) === 0) ready.push(to);
      }
    }
    const stages: ElkNode[][] = [];
    for (const child of children) (stages[stage.get(child) ?? 0] ??= []).push(child);

    const pad = padding(node);
    const heights = stages.map(
      members =>
        members.reduce((sum, child) => sum + (child.height ?? 0), 0) +
        NODE_GAP * Math.max(0, members.length - 1)
    );
    const tallest = Math.max(0, ...heights);
    let x = pad.left;
    stages.forEach((members, s) => {
      const width = Math.max(0, ...members.map(child => child.width ?? 0));
      let y = pad.top + (tallest - heights[s]) / 2;
      for (const child of members) {
        child.x = x + (width - (child.width ?? 0)) / 2;
        child.y = y;
        y += (child.height ?? 0) + NODE_GAP;
      }
      x += width + STAGE_GAP;
    });
    const minimum = minimumSize(node);
    node.width = Math.max(minimum.width, x - STAGE_GAP + pad.right);
    node.height = Math.max(minimum.height, pad.top + tallest + pad.bottom);
  };
  place(graph);

  // Edges, in the coordinates of the box that holds them.
  const absolute = new Map<string, { x: number; y: number }>();
  const locate = (node: ElkNode, dx: number, dy: number): void => {
    const at = { x: dx + (node.x ?? 0), y: dy + (node.y ?? 0) };
    absolute.set(node.id, at);
    node.children?.forEach(child => locate(child, at.x, at.y));
  };
  locate(graph, 0, 0);
  const route = (node: ElkNode): void => {
    const origin = absolute.get(node.id) ?? { x: 0, y: 0 };
    for (const edge of (node.edges ?? []) as ElkExtendedEdge[]) {
      const source = byId.get(edge.sources[0]);
      const target = byId.get(edge.targets[0]);
      const a = source && absolute.get(source.id);
      const b = target && absolute.get(target.id);
      if (!source || !target || !a || !b) continue;
      const start = {
        x: a.x - origin.x + (source.width ?? 0),
        y: a.y - origin.y + (source.height ?? 0) / 2
      };
      const end = { x: b.x - origin.x, y: b.y - origin.y + (target.height ?? 0) / 2 };
      const middle = (start.x + end.x) / 2;
      edge.sections = [
        {
          id: `${edge.id}s`,
          startPoint: start,
          endPoint: end,
          bendPoints:
            Math.abs(start.y - end.y) < 0.5
              ? []
              : [
                  { x: middle, y: start.y },
                  { x: middle, y: end.y }
                ]
        }
      ];
    }
    node.children?.forEach(route);
  };
  route(graph);
  return graph;
}

/** `stageLayout` as a layout engine. */
export const stageLayouter: Layouter = {
  layout: async graph => stageLayout(graph)
};
