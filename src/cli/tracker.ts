import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { SqliteStore } from '../track';
import { StoreOpenError } from '../track/errors';
import { InputError } from './errors';
import type { Output } from './main';

const DEFAULT_STORE = 'scanflow-tracker.db';

interface TrackerOptions {
  host: string;
  port: string;
  store: string;
  artifacts?: string;
  token?: string;
  deployment?: boolean;
}

function port(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number > 65535) {
    throw new InputError(
      `--port '${value}' is not a port`,
      'give a number from 0 to 65535 (0 picks a free one)'
    );
  }
  return number;
}

/** A store that will not open is bad input: say which file and what to do. */
function storeProblem(error: unknown): never {
  if (error instanceof StoreOpenError) {
    throw new InputError(
      error.message.replace(/\. Fix: .*$/, ''),
      'point --store at a scanflow tracker file, or at a new path'
    );
  }
  throw error;
}

/** Resolves on SIGINT or SIGTERM (Ctrl-C in a terminal, `docker stop`, `kill`). */
export function stopSignal(): Promise<string> {
  return new Promise(resolve => {
    const stop = (signal: string): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function confirm(question: string): Promise<string> {
  const lines = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  try {
    return (await lines.question(question)).trim();
  } finally {
    lines.close();
  }
}

/** `scanflow tracker` (serve MLflow's REST API from a SQLite file) and `scanflow wipe`. */
export function registerTrackerCommands(program: Command, output: Output): void {
  program
    .command('tracker')
    .description(
      "Serve a tracking server that speaks MLflow's REST API, backed by one SQLite file."
    )
    .option(
      '--host <host>',
      'address to listen on (0.0.0.0 exposes it to the network)',
      '127.0.0.1'
    )
    .option('--port <port>', 'port to listen on (0 picks a free one)', '5000')
    .option('--store <file>', 'the SQLite store', DEFAULT_STORE)
    .option('--artifacts <dir>', 'where artifacts are kept (default: <store>.artifacts)')
    .option(
      '--token <token>',
      'require "Authorization: Bearer <token>" (default: $SCANFLOW_TRACKER_TOKEN)'
    )
    .option(
      '--deployment',
      "before serving, create the runs of the deployment in $SCANFLOW_DEPLOYMENT (a deployed workflow's tracker)"
    )
    .action(async (options: TrackerOptions) => {
      // The tracker (SQLite, the REST server) is loaded by the commands that use it.
      const { startTracker } = await import('../track');
      const token = options.token ?? process.env.SCANFLOW_TRACKER_TOKEN ?? undefined;
      const deployment = options.deployment ? await import('../deploy/tracker-record') : undefined;
      const record = deployment?.recordFromEnvironment();
      const tracker = await startTracker({
        host: options.host,
        port: port(options.port),
        storePath: options.store,
        artifactsDir: options.artifacts,
        token: token || undefined,
        prepare:
          record && ((store, artifacts) => deployment!.recordDeployment(store, artifacts, record))
      }).catch(storeProblem);
      output.out(
        `scanflow tracker listening on ${tracker.url} (store ${options.store}, artifacts ${tracker.artifacts.root}` +
          `${token ? ', bearer token required' : ''})\n` +
          `  MLFLOW_TRACKING_URI=${tracker.url}\n`
      );
      if (!token && !['127.0.0.1', '::1', 'localhost'].includes(options.host)) {
        output.err(
          `scanflow: warning: the tracker listens on ${options.host} without a token, so anyone who can reach it can read and write. ` +
            'Fix: pass --token (or set SCANFLOW_TRACKER_TOKEN) and give clients MLFLOW_TRACKING_TOKEN.\n'
        );
      }
      const signal = await stopSignal();
      await tracker.close();
      output.out(`scanflow tracker stopped (${signal})\n`);
    });

  program
    .command('wipe')
    .description(
      "Delete a workflow's tracked data (its runs, metrics, params, tags and artifacts) for good."
    )
    .argument('<workflow>', 'the workflow (experiment) name')
    .option('--store <file>', 'the SQLite store', DEFAULT_STORE)
    .option('--artifacts <dir>', 'where artifacts are kept (default: <store>.artifacts)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, options: { store: string; artifacts?: string; yes?: boolean }) => {
      const track = await import('../track');
      let store: SqliteStore;
      try {
        store = new track.SqliteStore(options.store);
      } catch (error) {
        storeProblem(error);
      }
      try {
        const experiment = await store.getExperimentByName(name).catch(() => {
          throw new InputError(
            `no workflow '${name}' in ${options.store}`,
            'check the name (scanflow records each workflow as the experiment of that name) and --store'
          );
        });
        const runs = await store.searchRuns([experiment.experiment_id], {
          viewType: 'ALL',
          maxResults: 50000
        });
        if (!options.yes) {
          const answer = await confirm(
            `This deletes workflow '${name}' for good: ${runs.items.length}${runs.nextPageToken ? '+' : ''} runs and their artifacts.\n` +
              `Type the workflow name to confirm: `
          );
          if (answer !== name) {
            output.err('scanflow: wipe cancelled, nothing was deleted\n');
            process.exitCode = 1;
            return;
          }
        }
        const artifacts = new track.ArtifactStore(
          options.artifacts ?? track.defaultArtifactsDir(options.store)
        );
        const result = await track.wipeExperiment(store, artifacts, name);
        output.out(
          `wiped workflow '${name}': ${result.runs} runs${result.artifactsRemoved ? ' and their artifacts' : ''}\n`
        );
      } finally {
        store.close();
      }
    });
}
