import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { Target } from '../deploy/plan';
import { InputError } from './errors';
import { WORKFLOW_ARGUMENT } from './graph';
import { loadWorkflow } from './load';
import type { Output } from './main';
import { ProgressDisplay } from './progress';
import { report } from './run';

interface ExportCommandOptions {
  to: Target;
  output?: string;
  registry?: string;
  build?: boolean;
  tracker?: string | false;
  runId?: string;
  k8sFlavor: 'argo' | 'jobs';
}

interface DeployCommandOptions {
  to: Target;
  kubeconfig?: string;
  registry?: string;
  tracker?: string | false;
  quiet?: boolean;
  timeout?: string;
}

const targetOption = (): Option =>
  new Option('--to <target>', 'compose, swarm or k8s')
    .choices(['compose', 'swarm', 'k8s'])
    .makeOptionMandatory();

/** `scanflow export`, `deploy`, `undeploy` and `deployments`. */
export function registerDeployCommands(program: Command, output: Output): void {
  program
    .command('export')
    .description(
      'Write a workflow as docker-compose, Docker Swarm or Kubernetes files, and say how to start them.'
    )
    .argument('<workflow>', WORKFLOW_ARGUMENT)
    .addOption(targetOption())
    .option(
      '-o, --output <dir>',
      'the folder for the files (default: deploy/<target> next to the workflow)'
    )
    .option('--build', 'build the step images and the tracker image first, as `scanflow run` does')
    .option('--registry <host:port>', 'tag and push every image there; the files name those tags')
    .option(
      '--tracker <url>',
      'an external tracking server for every step, instead of a tracker service'
    )
    .option('--no-tracker', 'no tracker at all')
    .option('--run-id <id>', 'the run id the deployment records itself under')
    .addOption(
      new Option('--k8s-flavor <flavor>', 'Kubernetes: an Argo Workflow, or plain Jobs')
        .choices(['argo', 'jobs'])
        .default('argo')
    )
    .action(async (path: string, options: ExportCommandOptions) => {
      const spec = loadWorkflow(path);
      const baseDir = dirname(resolve(path));
      const { exportWorkflow } = await import('../deploy/export');
      const outDir = resolve(options.output ?? resolve(baseDir, 'deploy', options.to));
      const result = await exportWorkflow(spec, {
        target: options.to,
        outDir,
        baseDir,
        build: options.build,
        registry: registry(options.registry),
        tracker: trackerOption(options.tracker),
        runId: options.runId,
        k8sFlavor: options.k8sFlavor,
        log: line => output.err(`scanflow: ${line}\n`)
      });
      result.plan.notices.forEach(notice => output.err(`scanflow: note: ${notice}\n`));
      output.out(
        `exported workflow ${spec.name} to ${options.to} (run ${result.plan.runId}, ` +
          `${result.plan.steps.length} steps, ${result.plan.trackers.length} tracker services):\n` +
          result.files.map(f => `  ${f}\n`).join('') +
          `start it with:\n${result.start.map(l => `  ${l}\n`).join('')}`
      );
    });

  program
    .command('deploy')
    .description(
      'Deploy a workflow to docker-compose or Docker Swarm on this engine, or to Kubernetes (Jobs), and follow it live.'
    )
    .argument('<workflow>', WORKFLOW_ARGUMENT)
    .addOption(targetOption())
    .option('--registry <host:port>', 'push the images there first (a multi-node swarm)')
    .option(
      '--tracker <url>',
      'an external tracking server for every step, instead of a tracker service'
    )
    .option('--no-tracker', 'no tracker at all')
    .option('-q, --quiet', "do not print the steps' output")
    .option('--kubeconfig <file>', 'Kubernetes: the cluster (default: $KUBECONFIG, ~/.kube/config)')
    .action(async (path: string, options: DeployCommandOptions) => {
      const spec = loadWorkflow(path);
      const { deployWorkflow } = await import('../deploy/deploy');
      const run = deployWorkflow(spec, {
        target: options.to,
        baseDir: dirname(resolve(path)),
        registry: registry(options.registry),
        tracker: trackerOption(options.tracker),
        kubeconfig: options.kubeconfig
      });
      const display = new ProgressDisplay(output, options.quiet ?? false);
      run.on(event => display.show(event));
      const onInterrupt = (): void => {
        output.err('scanflow: stopping: removing the deployment\n');
        void run.cancel();
      };
      process.on('SIGINT', onInterrupt);
      process.on('SIGTERM', onInterrupt);
      try {
        const result = await run.done;
        display.stop();
        process.exitCode = report(result, output);
        for (const line of run.summary()) output.out(`${line}\n`);
      } finally {
        process.off('SIGINT', onInterrupt);
        process.off('SIGTERM', onInterrupt);
      }
    });

  program
    .command('undeploy')
    .description('Remove everything a deployment created: services, containers, networks, volumes.')
    .argument('<name>', 'the deployment (see `scanflow deployments`)')
    .option('--keep-volumes', "keep the outputs and the tracker's store")
    .option('--kubeconfig <file>', 'Kubernetes: the cluster (default: $KUBECONFIG, ~/.kube/config)')
    .action(async (name: string, options: { keepVolumes?: boolean; kubeconfig?: string }) => {
      const { undeploy } = await import('../deploy/deploy');
      const removed = await undeploy(name, { volumes: !options.keepVolumes });
      if (removed.total === 0 && hasKubeconfig(options.kubeconfig)) {
        const { undeployKubernetes } = await import('../deploy/k8s-deployer');
        const objects = await undeployKubernetes(name, options.kubeconfig);
        if (objects > 0) {
          output.out(`undeployed ${name}: namespace ${name} and its ${objects} objects\n`);
          return;
        }
      }
      if (removed.total === 0) {
        throw new InputError(
          `no deployment '${name}' on this engine`,
          'see `scanflow deployments` for the names'
        );
      }
      output.out(`undeployed ${name}: ${removed.description}\n`);
    });

  program
    .command('deployments')
    .description('List what scanflow deployed on this engine and cluster (read from their labels).')
    .option('--kubeconfig <file>', 'Kubernetes: the cluster (default: $KUBECONFIG, ~/.kube/config)')
    .action(async (options: { kubeconfig?: string }) => {
      const { listDeployments } = await import('../deploy/deploy');
      const deployments: Array<{
        name: string;
        target: string;
        workflow: string;
        runId: string;
        state: string;
      }> = await listDeployments();
      if (hasKubeconfig(options.kubeconfig)) {
        const { listKubernetesDeployments } = await import('../deploy/k8s-deployer');
        try {
          deployments.push(...(await listKubernetesDeployments(options.kubeconfig)));
        } catch (error) {
          output.err(
            `scanflow: the Kubernetes cluster was not asked: ${(error as Error).message}\n`
          );
        }
      }
      if (deployments.length === 0) {
        output.out('no deployments\n');
        return;
      }
      for (const d of deployments) {
        output.out(`${d.name}\t${d.target}\tworkflow ${d.workflow}\trun ${d.runId}\t${d.state}\n`);
      }
    });
}

/** Whether a kubeconfig is given or found where kubectl looks for one. */
function hasKubeconfig(file: string | undefined): boolean {
  const path = file ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  return existsSync(path.split(':')[0]);
}

function registry(value: string | undefined): string | undefined {
  if (value !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(value)) {
    throw new InputError(
      `--registry '${value}' is not HOST:PORT`,
      'give the registry as HOST:PORT, e.g. 127.0.0.1:5000'
    );
  }
  return value;
}

function trackerOption(value: string | false | undefined): string | false | undefined {
  if (typeof value === 'string' && !URL.canParse(value)) {
    throw new InputError(
      `--tracker '${value}' is not a URL`,
      "give the tracker's address, e.g. http://tracker.example:5000"
    );
  }
  return value;
}
