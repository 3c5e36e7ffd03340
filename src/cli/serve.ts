import type { Command } from 'commander';
import { parseMemory } from '../workflow/resources';
import { InputError } from './errors';
import type { Output } from './main';
import { stopSignal } from './tracker';

interface ServeOptions {
  host: string;
  port: string;
  tracker?: string;
  checker?: string;
  batching: boolean;
  batchWindow: string;
  maxBatch: string;
  maxBody: string;
  maxRows: string;
  poll: string;
  window: string;
  expectedRunTime: string;
  experiment: string;
  sampleRate: string;
  labelDir?: string;
  classes?: string;
  replicas: string;
  to?: string;
  name?: string;
}

/** A number option, or an InputError naming the option and the fix. */
function numberOption(
  value: string,
  name: string,
  check: (n: number) => boolean,
  fix: string
): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || !check(number)) {
    throw new InputError(`${name} '${value}' is not valid`, fix);
  }
  return number;
}

const whole = (n: number): boolean => Number.isInteger(n) && n > 0;

/** The options every replica on Swarm gets, as given here. */
function replicaArguments(options: ServeOptions): string[] {
  return [
    ...(options.batching ? [] : ['--no-batching']),
    ...[
      'batchWindow',
      'maxBatch',
      'maxBody',
      'maxRows',
      'window',
      'expectedRunTime',
      'sampleRate',
      'poll',
      'experiment'
    ].flatMap(key => {
      const flag = `--${key.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)}`;
      return [flag, String(options[key as keyof ServeOptions])];
    })
  ];
}

/** `scanflow serve <model-uri>`: the model server (MLflow's scoring protocol, live checks, hot swap). */
export function registerServeCommands(program: Command, output: Output): void {
  program
    .command('serve')
    .description(
      "Serve a model over MLflow's scoring protocol (POST /invocations), with micro-batching, live drift checks and hot swap when its alias moves."
    )
    .argument(
      '<model-uri>',
      'a model folder, runs:/<run>/<path>, models:/<name>/<version>, models:/<name>/latest or models:/<name>@<alias>'
    )
    .option(
      '--host <host>',
      'address to listen on (0.0.0.0 exposes it to the network)',
      '127.0.0.1'
    )
    .option('--port <port>', 'port to listen on (0 picks a free one)', '8080')
    .option('--tracker <url|file>', 'the tracker with the registry (default: $MLFLOW_TRACKING_URI)')
    .option('--checker <path|uri>', 'a saved detector that checks live traffic for drift')
    .option('--no-batching', 'predict every request on its own (no micro-batching)')
    .option('--batch-window <ms>', 'how long a batch waits for more requests', '0')
    .option('--max-batch <rows>', 'most rows in one model call', '256')
    .option('--max-body <size>', 'largest request body, e.g. 16m', '16m')
    .option('--max-rows <rows>', 'most rows in one request', '10000')
    .option('--poll <seconds>', 'how often a moving alias is checked (0: never)', '5')
    .option('--window <samples>', 'samples per window of the live checker', '50')
    .option(
      '--expected-run-time <samples>',
      'mean samples between false alarms of a score monitor',
      '1000'
    )
    .option('--experiment <name>', 'the tracker experiment the server logs to', 'serve')
    .option('--sample-rate <share>', 'share of requests logged to the tracker', '0.01')
    .option('--label-dir <dir>', 'open a labeling session here with every flagged window')
    .option('--classes <names>', 'class names for labeling, comma-separated')
    .option('--replicas <n>', 'replicas of the server (with --to swarm)', '1')
    .option('--to <target>', 'deploy the server instead of running it here: swarm')
    .option('--name <name>', 'the deployment name with --to (default serve-<model>)')
    .action(async (uri: string, options: ServeOptions) => {
      const maxBody = parseMemory(options.maxBody);
      if (maxBody === undefined || maxBody <= 0) {
        throw new InputError(
          `--max-body '${options.maxBody}' is not a size`,
          'give bytes or a size such as 16m'
        );
      }
      const settings = {
        model: uri,
        tracker: options.tracker,
        checker: options.checker,
        host: options.host,
        port: numberOption(
          options.port,
          '--port',
          n => Number.isInteger(n) && n >= 0 && n <= 65535,
          'give a number from 0 to 65535 (0 picks a free one)'
        ),
        batching: {
          enabled: options.batching,
          windowMs: numberOption(
            options.batchWindow,
            '--batch-window',
            n => n >= 0,
            'give 0 or more milliseconds'
          ),
          maxRows: numberOption(
            options.maxBatch,
            '--max-batch',
            whole,
            'give a whole number of rows above 0'
          )
        },
        maxBodyBytes: maxBody,
        maxRows: numberOption(
          options.maxRows,
          '--max-rows',
          whole,
          'give a whole number of rows above 0'
        ),
        pollSeconds: numberOption(options.poll, '--poll', n => n >= 0, 'give 0 or more seconds'),
        monitor: {
          windowSize: numberOption(
            options.window,
            '--window',
            whole,
            'give a whole number of samples above 0'
          ),
          expectedRunTime: numberOption(
            options.expectedRunTime,
            '--expected-run-time',
            whole,
            'give a whole number of samples, larger than --window'
          )
        },
        experiment: options.experiment,
        sampleRate: numberOption(
          options.sampleRate,
          '--sample-rate',
          n => n >= 0 && n <= 1,
          'give a share from 0 to 1'
        ),
        labelDir: options.labelDir,
        classes: options.classes
          ?.split(',')
          .map(c => c.trim())
          .filter(Boolean),
        log: (line: string) => output.err(`scanflow serve: ${line}\n`)
      };
      const replicas = numberOption(
        options.replicas,
        '--replicas',
        whole,
        'give a whole number of at least 1'
      );
      if (options.to !== undefined && options.to !== 'swarm') {
        throw new InputError(`--to '${options.to}' is not a target of serve`, 'give --to swarm');
      }
      if (options.to === 'swarm') {
        if (options.labelDir) {
          throw new InputError(
            '--label-dir opens labeling sessions where the server runs, and on Swarm that is inside a replica',
            'serve here (without --to) to label flagged windows'
          );
        }
        const { serveOnSwarm } = await import('../serve/swarm');
        const service = await serveOnSwarm({
          model: uri,
          replicas,
          name: options.name,
          tracker: options.tracker,
          checker: options.checker,
          port: settings.port,
          serveArguments: replicaArguments(options),
          log: line => output.err(`scanflow serve: ${line}\n`)
        });
        output.out(
          `scanflow serve: ${service.replicas} replica${service.replicas === 1 ? '' : 's'} of ${uri}${service.version ? ` version ${service.version}` : ''} as ${service.name}, on ${service.url}\n` +
            `  scanflow undeploy ${service.name}   removes it\n`
        );
        return;
      }
      if (replicas > 1) {
        throw new InputError(
          `--replicas ${replicas} runs several servers`,
          'add --to swarm (one server runs here)'
        );
      }
      // TensorFlow.js and the registry load only for this command.
      const { ModelServer, ServeError } = await import('../serve');
      const { CheckerError } = await import('../check/errors');
      const { TrackerError } = await import('../track/errors');
      const server = await ModelServer.start(settings).catch((error: unknown) => {
        // What the user gave is wrong (a URI, a file, a setting): exit 2 with the fix.
        if (error instanceof ServeError) throw new InputError(error.message.replace(/\.$/, ''));
        if (error instanceof CheckerError) throw new InputError(error.message.replace(/\.$/, ''));
        if (error instanceof TrackerError) {
          throw new InputError(
            `the tracker refused: ${error.message.replace(/\.$/, '')}`,
            'check --tracker and the model URI'
          );
        }
        throw error;
      });
      output.out(
        `scanflow serve: ${uri}${server.version ? ` version ${server.version}` : ''} on ${server.url}\n` +
          `  curl -s ${server.url}/invocations -H 'Content-Type: application/json' -d '{"inputs": [[...]]}'\n` +
          (server.trackerRunId ? `  tracker run ${server.trackerRunId}\n` : '')
      );
      if (!['127.0.0.1', '::1', 'localhost'].includes(options.host)) {
        output.err(
          `scanflow serve: warning: listening on ${options.host}: anyone who can reach it can call the model.\n`
        );
      }
      const signal = await stopSignal();
      await server.close();
      output.out(`scanflow serve stopped (${signal})\n`);
    });

  program
    .command('scale')
    .description(
      'Set the number of replicas of a model served on Swarm (scanflow serve --to swarm).'
    )
    .argument('<name>', 'the deployment name scanflow serve gave')
    .argument('<replicas>', 'how many replicas to run')
    .action(async (name: string, count: string) => {
      const replicas = numberOption(
        count,
        '<replicas>',
        n => Number.isInteger(n) && n >= 0,
        'give a whole number, 0 or more'
      );
      const { scaleModelService } = await import('../serve/swarm');
      const { ServeError } = await import('../serve/errors');
      await scaleModelService(name, replicas, {
        log: line => output.err(`scanflow scale: ${line}\n`)
      }).catch((error: unknown) => {
        if (error instanceof ServeError) throw new InputError(error.message.replace(/\.$/, ''));
        throw error;
      });
      output.out(`scanflow scale: ${name} runs ${replicas} replica${replicas === 1 ? '' : 's'}\n`);
    });
}
