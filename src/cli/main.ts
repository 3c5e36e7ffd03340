#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { DefinitionError } from '../workflow';
import { ExportError } from '../deploy/errors';
import { registerDemoCommands } from './demo';
import { registerDeployCommands } from './deploy';
import { EXIT, InputError } from './errors';
import { registerGraphCommands } from './graph';
import { registerRunCommands } from './run';
import { registerServeCommands } from './serve';
import { registerTrackerCommands } from './tracker';

const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
  version: string;
};

/** Where commands print; tests pass their own. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processOutput: Output = {
  out: text => process.stdout.write(text),
  err: text => process.stderr.write(text)
};

/** Builds the `scanflow` command. Each command lives in its own module and registers itself here. */
export function buildProgram(output: Output = processOutput): Command {
  const program = new Command('scanflow')
    .description('Build, run, track and debug containerized machine-learning workflows.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err });
  registerGraphCommands(program, output);
  registerRunCommands(program, output);
  registerTrackerCommands(program, output);
  registerDeployCommands(program, output);
  registerServeCommands(program, output);
  registerDemoCommands(program, output);
  return program;
}

/** Runs the command line and returns the exit code: 0 ok, 1 failed run, 2 bad input. */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  try {
    await buildProgram(output).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" in commander's exit override; they are successes here.
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (
      error instanceof DefinitionError ||
      error instanceof InputError ||
      error instanceof ExportError
    ) {
      output.err(`scanflow: ${error.message}\n`);
      return EXIT.badInput;
    }
    output.err(`scanflow: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}
