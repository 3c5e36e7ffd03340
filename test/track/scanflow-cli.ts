/** Runs the `scanflow` command from the sources (tests spawn it as a user would run the CLI). */
import { main } from '../../src/cli/main';

void main(process.argv.slice(2)).then(code => {
  process.exitCode = code;
});
