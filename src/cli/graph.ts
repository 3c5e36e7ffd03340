import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import {
  WORKFLOW_SCHEMA,
  buildGraph,
  criticalPath,
  stages,
  toDot,
  toJSON,
  toYAML,
  type WorkflowSpec
} from '../workflow';
import { workflowSvg } from '../notebook/workflow-drawing';
import { loadWorkflow } from './load';
import type { Output } from './main';

export type GraphFormat = 'json' | 'yaml' | 'dag' | 'dot' | 'svg';

export const WORKFLOW_ARGUMENT =
  'a .ts/.js module whose default export is a workflow, or a .json/.yaml file';

/** The text `scanflow graph` prints for a valid workflow. */
export async function graphText(spec: WorkflowSpec, format: GraphFormat): Promise<string> {
  switch (format) {
    case 'svg':
      return workflowSvg(spec);
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

/** `scanflow graph`, `scanflow validate` and `scanflow schema`: the definition-only commands. */
export function registerGraphCommands(program: Command, output: Output): void {
  const write = (text: string, file?: string): void => {
    if (file) {
      writeFileSync(file, text);
    } else {
      output.out(text);
    }
  };

  program
    .command('graph')
    .description(
      'Print a workflow: its definition (json, yaml), its flattened DAG (dag), a Graphviz drawing (dot) or an SVG picture (svg).'
    )
    .argument('<workflow>', WORKFLOW_ARGUMENT)
    .addOption(
      new Option('-f, --format <format>', 'output format')
        .choices(['json', 'yaml', 'dag', 'dot', 'svg'])
        .default('json')
    )
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action(async (path: string, options: { format: GraphFormat; output?: string }) => {
      write(await graphText(loadWorkflow(path), options.format), options.output);
    });

  program
    .command('validate')
    .description(
      'Check a workflow definition and list every problem with its fix (exit code 2 when there are any).'
    )
    .argument('<workflow>', WORKFLOW_ARGUMENT)
    .action((path: string) => {
      const spec = loadWorkflow(path);
      const graph = buildGraph(spec);
      output.out(
        `${path}: workflow '${spec.name}' is valid: ${graph.steps.length} steps, ` +
          `${graph.containers.length} workflows and groups, ${stages(graph).length} stages\n`
      );
    });

  program
    .command('schema')
    .description('Print the JSON schema of workflow definitions (for editors and other tools).')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action((options: { output?: string }) =>
      write(`${JSON.stringify(WORKFLOW_SCHEMA, null, 2)}\n`, options.output)
    );
}
