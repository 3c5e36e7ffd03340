/**
 * The entry point of the tracker image (scanflow/tracker): `scanflow tracker` and nothing else,
 * bundled into one file at build time (scripts/bundle-programs.mjs) so that the image needs no npm.
 *
 *   node scanflow-tracker.js tracker --host 0.0.0.0 --store /scanflow/tracker/tracker.db --deployment
 */
import { Command, CommanderError } from 'commander';
import { InputError } from '../cli/errors';
import { registerTrackerCommands } from '../cli/tracker';

const output = {
  out: (text: string) => process.stdout.write(text),
  err: (text: string) => process.stderr.write(text)
};
const program = new Command('scanflow')
  .exitOverride()
  .configureOutput({ writeOut: output.out, writeErr: output.err });
registerTrackerCommands(program, output);
program.parseAsync(process.argv.slice(2), { from: 'user' }).catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  output.err(
    `scanflow: ${error instanceof InputError ? error.message : ((error as Error).stack ?? String(error))}\n`
  );
  process.exit(error instanceof InputError ? 2 : 1);
});
