/**
 * A program of its own from some of the `scanflow` commands, for the images that run one of them
 * (the tracker, the model server): the same parsing and exit codes as the CLI (2 for bad input).
 */
import { Command, CommanderError } from 'commander';
import { InputError } from './errors';
import type { Output } from './main';

export function runStandalone(register: (program: Command, output: Output) => void): void {
  const output: Output = {
    out: text => process.stdout.write(text),
    err: text => process.stderr.write(text)
  };
  const program = new Command('scanflow')
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err });
  register(program, output);
  program.parseAsync(process.argv.slice(2), { from: 'user' }).catch((error: unknown) => {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    output.err(
      `scanflow: ${error instanceof InputError ? error.message : ((error as Error).stack ?? String(error))}\n`
    );
    process.exit(error instanceof InputError ? 2 : 1);
  });
}
