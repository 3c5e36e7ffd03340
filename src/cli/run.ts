import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { ExecutorKind, RunResult } from '../run';
import { seconds } from '../run/format';
import { InputError } from './errors';
import { WORKFLOW_ARGUMENT } from './graph';
import { loadWorkflow } from './load';
import type { Output } from './main';
import { ProgressDisplay } from './progress';

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
const EXIT_INTERRUPTED = 130;

interface RunCommandOptions {
  executor: ExecutorKind | 'auto';
  /** A URL, or false for --no-tracker. */
  tracker?: string | false;
  store?: string;
  keepGoing?: boolean;
  concurrency?: string;
  retryDelay?: string;
  quiet?: boolean;
  runId?: string;
}

/** `scanflow run` and `scanflow clean`. */
export function registerRunCommands(program: Command, output: Output): void {
  program
    .command('run')
    .description(
      'Run a workflow: steps in dependency order, side by side where they can, with live progress; ' +
        'its services stay up until Ctrl-C.'
    )
    .argument('<workflow>', WORKFLOW_ARGUMENT)
    .addOption(
      new Option('-e, --executor <executor>', 'where steps run (auto: Docker when it answers)')
        .choices(['docker', 'local', 'auto'])
        .default('auto')
    )
    .option(
      '--tracker <url>',
      'tracking server, passed to steps as MLFLOW_TRACKING_URI (default: an embedded one for the run)'
    )
    .option('--no-tracker', 'do not start an embedded tracker nor record the run')
    .option(
      '--store <file>',
      "the embedded tracker's SQLite store (default: .scanflow/tracking.db next to the workflow)"
    )
    .option('-k, --keep-going', 'after a failure, still run what does not depend on it')
    .option('-j, --concurrency <n>', 'steps at the same time (default: the number of cores)')
    .option('--retry-delay <ms>', 'delay before the first retry, doubled after each (default 1000)')
    .option('-q, --quiet', "do not print the steps' output")
    .option('--run-id <id>', 'the run id (default: the date, the time and random digits)')
    .action(async (path: string, options: RunCommandOptions) => {
      // The engine (dockerode, SQLite, the tracker server) is loaded by the commands that run.
      const { runWorkflow } = await import('../run');
      const spec = loadWorkflow(path);
      const run = runWorkflow(spec, {
        executor: options.executor,
        tracker: options.tracker === false ? undefined : trackerUrl(options.tracker),
        tracking: options.tracker !== false,
        store: options.store === undefined ? undefined : resolve(options.store),
        keepGoing: options.keepGoing,
        concurrency: positive(options.concurrency, '--concurrency'),
        retryDelayMs: positive(options.retryDelay, '--retry-delay', 0),
        baseDir: dirname(resolve(path)),
        runId: runId(options.runId)
      });
      const display = new ProgressDisplay(output, options.quiet ?? false);
      run.on(event => display.show(event));
      // The run itself stops on the first Ctrl-C; a second one quits without waiting.
      let interrupts = 0;
      const onInterrupt = (): void => {
        interrupts++;
        if (interrupts === 1) {
          output.err(
            "scanflow: stopping: removing the run's containers (Ctrl-C again to quit now)\n"
          );
        } else {
          display.stop();
          output.err(
            `scanflow: quit before cleaning up; the run's containers and network are removed in ` +
              `the background (\`scanflow clean --run ${run.id}\` removes anything left)\n`
          );
          process.exit(EXIT_INTERRUPTED);
        }
      };
      process.on('SIGINT', onInterrupt);
      process.on('SIGTERM', onInterrupt);
      try {
        const result = await run.done;
        display.stop();
        process.exitCode = report(result, output);
        reportTrackers(result, output);
      } finally {
        process.off('SIGINT', onInterrupt);
        process.off('SIGTERM', onInterrupt);
      }
    });

  program
    .command('clean')
    .description(
      'Remove every container, network and volume that scanflow labelled, and the folders of ' +
        'local runs whose process has ended.'
    )
    .option('--run <id>', "only this run's objects")
    .option('--keep-volumes', 'keep the volumes and folders that hold outputs')
    .action(async (options: { run?: string; keepVolumes?: boolean }) => {
      const { clean } = await import('../run/clean');
      const removed = await clean({ runId: options.run, volumes: !options.keepVolumes });
      output.out(
        `removed ${removed.containers.length} containers, ${removed.networks.length} networks, ` +
          `${removed.volumes.length} volumes, ${removed.folders.length} run folders\n`
      );
      if (removed.dockerUnreachable) {
        output.err(`scanflow: Docker was not cleaned: ${removed.dockerUnreachable}\n`);
      }
    });
}

function trackerUrl(value: string | undefined): string | undefined {
  if (value !== undefined && !URL.canParse(value)) {
    throw new InputError(
      `--tracker '${value}' is not a URL`,
      "give the tracker's address, e.g. http://127.0.0.1:5000"
    );
  }
  return value;
}

function runId(value: string | undefined): string | undefined {
  if (value !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(value)) {
    throw new InputError(
      `--run-id '${value}' cannot name Docker objects`,
      "use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit"
    );
  }
  return value;
}

function positive(value: string | undefined, option: string, min = 1): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) {
    throw new InputError(
      `${option} ${value} is not a whole number of ${min} or more`,
      `give ${option} a whole number such as ${Math.max(min, 2)}`
    );
  }
  return number;
}

/** Where the run's tracking data is, and how to browse it. */
function reportTrackers(result: RunResult, output: Output): void {
  for (const tracker of result.trackers ?? []) {
    const store = shortPath(tracker.store);
    output.out(
      `tracked: run ${result.id} of ${tracker.workflow} in ${store} (experiment ${tracker.experiment}); ` +
        `browse it with \`scanflow tracker --store ${store}\`\n`
    );
  }
}

/** A path relative to the current folder when it is inside it. */
function shortPath(path: string): string {
  const short = relative(process.cwd(), path);
  return short && !short.startsWith('..') && !isAbsolute(short) ? short : path;
}

/** Prints the end of a run and returns the exit code. */
export function report(result: RunResult, output: Output): number {
  const count = (status: string): number => result.steps.filter(s => s.status === status).length;
  const outputs = result.outputs
    ? `; outputs in ${result.executor === 'docker' ? 'Docker volume' : 'folder'} ${result.outputs}`
    : '';
  if (result.status === 'succeeded') {
    const services = count('stopped');
    const stopped =
      services === 0
        ? ''
        : `; ${services === 1 ? 'its service was' : `its ${services} services were`} stopped and removed`;
    output.out(
      `run ${result.id} succeeded: ${result.steps.length} steps in ${seconds(result.durationMs)}${outputs}${stopped}\n`
    );
    return 0;
  }
  if (result.status === 'cancelled') {
    output.err(
      `scanflow: run ${result.id} was cancelled; its containers and network are removed\n`
    );
    return EXIT_INTERRUPTED;
  }
  output.err(
    `scanflow: ${result.error?.message ?? 'the run failed'} ` +
      `(run ${result.id}: ${count('succeeded')} succeeded, ${count('failed')} failed, ` +
      `${count('skipped')} skipped${outputs})\n`
  );
  return 1;
}
