/**
 * The local executor: each step attempt is a child process of this machine, in a working folder
 * of its own, for machines without Docker. Outputs go to the run's outputs folder, which steps
 * find through SCANFLOW_OUTPUTS (and SCANFLOW_INPUTS), as they do in containers. Images and
 * resource limits do not apply here; a step built from a `base` starts in a copy of its files, as
 * its container would.
 *
 * Each step leads a process group of its own, which ends with the step's command (as a container
 * ends with its main process) and which the reaper ends should this process die mid-run; the
 * reaper then removes the run's folder too (see run-folder.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import type { FlatStep, ServiceSpec } from '../workflow';
import { CommandNotFoundError, EngineError, StepConfigError } from './errors';
import type { EventInit } from './events';
import type {
  AttemptOutcome,
  Executor,
  RunningService,
  RunPlan,
  ServiceRequest,
  StepRequest
} from './executor';
import { LineSplitter } from './lines';
import { groupLedBy, signalGroup, type ProcessGroup } from './process-group';
import { reaper } from './reaper';
import { isLoopbackPortFree } from './ports';
import { openRunFolder, removeRunFolder, runsRoot } from './run-folder';

export interface LocalExecutorOptions {
  /** The folder that holds one folder per run; by default `<tmp>/scanflow-runs`. */
  workdir?: string;
  /** Milliseconds between SIGTERM and SIGKILL when a step is stopped. */
  stopGraceMs?: number;
}

export class LocalExecutor implements Executor {
  readonly kind = 'local';
  private runId = '';
  private runDir = '';
  private plan?: RunPlan;
  /** The steps running now, and the process group each leads. */
  private readonly live = new Map<ChildProcess, ProcessGroup>();
  /** Steps built from a `base`: the folder whose files their working folder starts with. */
  private readonly sources = new Map<string, string>();

  constructor(private readonly options: LocalExecutorOptions = {}) {}

  get outputs(): string {
    return join(this.runDir, 'outputs');
  }

  async prepare(plan: RunPlan, emit: (event: EventInit) => void): Promise<void> {
    this.plan = plan;
    this.runId = plan.runId;
    this.runDir = join(runsRoot(this.options.workdir), plan.runId);
    const limited = plan.graph.steps.filter(step => step.spec.resources).map(step => step.id);
    if (limited.length > 0) {
      emit({
        type: 'notice',
        message: `resource limits do not apply to local processes (${limited.join(', ')})`
      });
    }
    for (const step of plan.graph.steps) {
      if (step.spec.base !== undefined) {
        // Like the image's /scanflow/app, the step's working folder starts with these files.
        this.sources.set(step.id, resolve(plan.baseDir, step.spec.context ?? '.'));
      }
      if (!step.spec.command || step.spec.command.length === 0) {
        throw new StepConfigError(
          'it has no command, and the local executor cannot run an image',
          step.id,
          "give the step a 'command', or run with --executor docker"
        );
      }
      if (step.spec.kind === 'service') {
        await this.checkService(step.id, step.spec);
      }
    }
  }

  /** A local service is one process on 127.0.0.1:port: the port must be free, and one replica. */
  private async checkService(id: string, service: ServiceSpec): Promise<void> {
    const replicas = service.replicas ?? 1;
    if (replicas > 1) {
      throw new StepConfigError(
        `it asks for ${replicas} replicas, and the local executor runs a service as one process ` +
          `on 127.0.0.1:${service.port}, which only one process can listen on`,
        id,
        'run the workflow with --executor docker (one container per replica, behind one name), ' +
          "or set 'replicas' to 1"
      );
    }
    if (!(await isLoopbackPortFree(service.port))) {
      throw new StepConfigError(
        `its port ${service.port} is taken on this machine (127.0.0.1), where the local executor runs it`,
        id,
        "stop what listens there, give the service another 'port', or run with --executor docker"
      );
    }
  }

  async open(): Promise<void> {
    // From now on, should this process die, the reaper ends the steps it reports running and
    // removes the run's folder (all but the outputs, once they are worth keeping).
    reaper.opened(this.runId, { dir: this.runDir, keep: this.plan!.keepOutputs === true });
    openRunFolder(this.runDir);
  }

  runStep(request: StepRequest): Promise<AttemptOutcome> {
    const started = this.spawnRunnable(request.step, request.command!, request.env, request.log, 1);
    const stop = (): void => started.stop();
    request.signal.addEventListener('abort', stop);
    if (request.signal.aborted) {
      stop();
    }
    return started.ended
      .then(outcome => {
        if (
          outcome.exitCode === 0 &&
          request.step.spec.outputs?.length &&
          this.plan!.keepOutputs !== false
        ) {
          // The outputs folder holds outputs now: kept by the run's own cleanup, and by the reaper's.
          reaper.keep(this.runId);
        }
        return outcome;
      })
      .finally(() => request.signal.removeEventListener('abort', stop));
  }

  serviceUrl(service: FlatStep<ServiceSpec>): string {
    return `http://127.0.0.1:${service.spec.port}`;
  }

  /** One process per service (`prepare` refused more replicas), listening on 127.0.0.1:port. */
  async startService(request: ServiceRequest): Promise<RunningService> {
    const { service } = request;
    const env = { ...request.env, SCANFLOW_REPLICA: '1' };
    const started = this.spawnRunnable(service, request.command!, env, request.log, 1);
    // A command that does not exist fails the start, as a container's would.
    await Promise.race([started.spawned, started.ended]);
    let stopping = false;
    return {
      endpoints: [this.serviceUrl(service)],
      exited: new Promise(resolve => {
        started.ended.then(
          outcome => !stopping && resolve({ ...outcome, replica: 0 }),
          () => undefined
        );
      }),
      probe: (_replica, command, signal) => probeCommand(command, started.cwd, env, signal),
      stop: async () => {
        stopping = true;
        started.stop();
        await started.ended.catch(() => undefined);
      }
    };
  }

  /**
   * Spawns a step's or service's command in its working folder, in a process group of its own.
   * `ended` rejects with a RunError when the command cannot start.
   */
  private spawnRunnable(
    step: FlatStep,
    command: string[],
    env: Record<string, string>,
    log: StepRequest['log'],
    attempt: number
  ): { cwd: string; spawned: Promise<void>; ended: Promise<AttemptOutcome>; stop(): void } {
    const [program, ...args] = command;
    const cwd = join(this.runDir, 'steps', step.id, String(attempt));
    mkdirSync(cwd, { recursive: true });
    const source = this.sources.get(step.id);
    if (source) {
      // Not the project's run data (the embedded tracker's store, being written right now).
      const runData = join(source, '.scanflow');
      cpSync(source, cwd, { recursive: true, filter: path => path !== runData });
    }
    const child = spawn(program, args, {
      cwd,
      env: {
        ...process.env,
        ...env,
        SCANFLOW_INPUTS: this.outputs,
        SCANFLOW_OUTPUTS: this.outputs
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that stopping the step stops what it started too.
      detached: true
    });
    // No pid: the command did not start ('error' follows).
    const group = child.pid === undefined ? undefined : groupLedBy(child.pid);
    if (group) {
      this.live.set(child, group);
      reaper.started(this.runId, group);
    }
    const out = new LineSplitter(line => log('stdout', line));
    const err = new LineSplitter(line => log('stderr', line));
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    const spawned = new Promise<void>(resolve => child.once('spawn', () => resolve()));

    const ended = new Promise<AttemptOutcome>((resolvePromise, reject) => {
      child.on('error', (error: NodeJS.ErrnoException) => {
        this.live.delete(child);
        reject(
          error.code === 'ENOENT' || error.code === 'EACCES'
            ? new CommandNotFoundError(step.id, program, 'the PATH of this machine')
            : new EngineError(`the process did not start: ${error.message}`, step.id)
        );
      });
      child.on('exit', () => {
        if (group) {
          // What the command left running (background jobs) ends with it, as in a container.
          signalGroup(group, 'SIGKILL');
          reaper.ended(this.runId, group.pgid);
        }
      });
      child.on('close', (code, signal) => {
        this.live.delete(child);
        out.end();
        err.end();
        resolvePromise({
          exitCode: code ?? 128 + signalNumber(signal),
          lastLine: err.last ?? out.last
        });
      });
    });
    return {
      cwd,
      spawned,
      ended,
      stop: () => {
        if (group) this.stop(child, group);
      }
    };
  }

  private stop(child: ChildProcess, group: ProcessGroup): void {
    signalGroup(group, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(group, 'SIGKILL'), this.options.stopGraceMs ?? 3000);
    timer.unref();
    child.once('close', () => clearTimeout(timer));
  }

  async close(keepOutputs: boolean): Promise<void> {
    if (!this.runDir) {
      return;
    }
    this.live.forEach((group, child) => this.stop(child, group));
    removeRunFolder(this.runDir, keepOutputs);
    reaper.closed(this.runId);
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && constants.signals[signal]) || 1;
}

/** Runs a healthcheck command beside a local service; resolves with its exit code (-1 when stopped). */
function probeCommand(
  command: string[],
  cwd: string,
  env: Record<string, string>,
  signal: AbortSignal
): Promise<number> {
  return new Promise(resolve => {
    const [program, ...args] = command;
    const child = spawn(program, args, { cwd, env: { ...process.env, ...env }, stdio: 'ignore' });
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    signal.addEventListener('abort', kill, { once: true });
    child.on('error', () => resolve(127));
    child.on('close', code => {
      signal.removeEventListener('abort', kill);
      resolve(signal.aborted ? -1 : (code ?? -1));
    });
  });
}
