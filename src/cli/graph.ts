import {
  buildGraph,
  criticalPath,
  stages,
  toDot,
  toJSON,
  toYAML,
  type WorkflowSpec
} from '../workflow';

export type GraphFormat = 'json' | 'yaml' | 'dag' | 'dot';

/** The text `scanflow graph` prints for a valid workflow. */
export function graphCommand(spec: WorkflowSpec, format: GraphFormat): string {
  switch (format) {
    case 'json':
      return toJSON(spec);
    case 'yaml':
      return toYAML(spec);
    case 'dot':
      return toDot(buildGraph(spec));
    case 'dag': {
      const graph = buildGraph(spec);
      const dag = {
        workflow: spec.name,
        steps: graph.steps.map(step => ({ id: step.id, needs: step.needs })),
        containers: graph.containers.map(c => ({ id: c.id, kind: c.spec.kind, steps: c.steps })),
        stages: stages(graph),
        criticalPath: criticalPath(graph).steps
      };
      return `${JSON.stringify(dag, null, 2)}\n`;
    }
  }
}
