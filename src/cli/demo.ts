import { Option, type Command } from 'commander';
import type { ExecutorKind } from '../run';
import { SIZES, type SizeName } from '../demo/mnist/data';
import type { Output } from './main';
import { ProgressDisplay } from './progress';

interface DemoCommandOptions {
  executor: ExecutorKind | 'auto';
  out: string;
  size: SizeName;
}

/** `scanflow demo mnist`: the seed's MNIST use case, end to end and headless. */
export function registerDemoCommands(program: Command, output: Output): void {
  program
    .command('demo')
    .description(
      'Run a demo end to end: mnist runs the MNIST workflow (one container per step), checks ' +
        'the production stream for drift, labels the most informative digits and retrains.'
    )
    .addArgument(program.createArgument('<name>', 'the demo to run').choices(['mnist']))
    .addOption(
      new Option('-e, --executor <executor>', 'where steps run (auto: Docker when it answers)')
        .choices(['docker', 'local', 'auto'])
        .default('auto')
    )
    .option('--out <dir>', 'where the tracker store, labels and models go', '.scanflow/demo')
    .addOption(
      new Option('--size <size>', 'how much data and training (small: for tests)')
        .choices(Object.keys(SIZES))
        .default('standard')
    )
    .action(async (_name: string, options: DemoCommandOptions) => {
      // Loaded only for the demo: it brings the whole toolkit, TensorFlow.js included.
      const { DemoError, formatSummary, runMnistDemo } = await import('../demo/mnist/demo');
      // The workflow's steps show the same live progress as `scanflow run`.
      const display = new ProgressDisplay(output, false);
      try {
        const summary = await runMnistDemo({
          executor: options.executor,
          out: options.out,
          size: options.size,
          print: line => output.out(`${line}\n`),
          onRunEvent: event => {
            display.show(event);
            if (event.type === 'run-finished') display.stop();
          }
        });
        output.out(formatSummary(summary));
      } catch (error) {
        display.stop();
        if (!(error instanceof DemoError)) throw error;
        output.err(`scanflow: demo mnist failed: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}
