#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { DefinitionError } from '../workflow';
import { EXIT, InputError } from './errors';
import { graphCommand } from './graph';
import { loadWorkflow } from './load';
import { WORKFLOW_SCHEMA, buildGraph, stages } from '../workflow';

const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
  version: string;
};

/** Builds the `scanflow` command; `output` receives what the commands print. */
export function buildProgram(
  output: (text: string) => void = text => process.stdout.write(text)
): Command {
  const program = new Command('scanflow')
    .description('Build, run, track and debug containerized machine-learning workflows.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: output, writeErr: text => process.stderr.write(text) });

  const write = (text: string, file?: string): void => {
    if (file) {
      writeFileSync(file, text);
    } else {
      output(text);
    }
  };

  program
    .command('graph')
    .description(
      'Print a workflow: its definition (json), its flattened DAG (dag) or a Graphviz drawing (dot).'
    )
    .argument(
      '<workflow>',
      'a .ts/.js module whose default export is a workflow, or a .json/.yaml file'
    )
    .addOption(
      new Option('-f, --format <format>', 'output format')
        .choices(['json', 'yaml', 'dag', 'dot'])
        .default('json')
    )
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action(
      (path: string, options: { format: 'json' | 'yaml' | 'dag' | 'dot'; output?: string }) => {
        write(graphCommand(loadWorkflow(path), options.format), options.output);
      }
    );

  program
    .command('validate')
    .description(
      'Check a workflow definition and list every problem with its fix (exit code 2 when there are any).'
    )
    .argument(
      '<workflow>',
      'a .ts/.js module whose default export is a workflow, or a .json/.yaml file'
    )
    .action((path: string) => {
      const spec = loadWorkflow(path);
      const graph = buildGraph(spec);
      output(
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

  return program;
}

/** Runs the command line and returns the exit code: 0 ok, 1 failed run, 2 bad input. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" in commander's exit override; they are successes here.
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (error instanceof DefinitionError || error instanceof InputError) {
      process.stderr.write(`scanflow: ${error.message}\n`);
      return EXIT.badInput;
    }
    process.stderr.write(`scanflow: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then(code => {
    process.exitCode = code;
  });
}
