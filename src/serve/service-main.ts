/**
 * The entry point of the model server image (scanflow/serve): `scanflow serve` and the gateway in
 * front of its replicas, bundled into one file at build time (scripts/bundle-programs.mjs).
 *
 *   node scanflow-serve.js serve /model --host 0.0.0.0 --port 8080
 *   node scanflow-serve.js gateway --service <stack>_model --host 0.0.0.0 --port 8080
 */
import type { Command } from 'commander';
import { registerServeCommands } from '../cli/serve';
import { runStandalone } from '../cli/standalone';
import { stopSignal } from '../cli/tracker';
import type { Output } from '../cli/main';
import { Gateway, swarmReplicas } from './gateway';

function registerGatewayCommand(program: Command, output: Output): void {
  program
    .command('gateway')
    .description("Spread requests over a Swarm service's replicas, retrying on the next one.")
    .requiredOption('--service <name>', 'the Swarm service whose replicas answer')
    .option('--replica-port <port>', 'the port the replicas listen on', '8080')
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on', '8080')
    .action(
      async (options: { service: string; replicaPort: string; host: string; port: string }) => {
        const gateway = await Gateway.start({
          upstreams: swarmReplicas(options.service, Number(options.replicaPort)),
          host: options.host,
          port: Number(options.port),
          log: line => output.err(`scanflow gateway: ${line}\n`)
        });
        output.out(`scanflow gateway: ${options.service} on ${gateway.url}\n`);
        await stopSignal();
        await gateway.close();
      }
    );
}

runStandalone((program, output) => {
  registerServeCommands(program, output);
  registerGatewayCommand(program, output);
});
