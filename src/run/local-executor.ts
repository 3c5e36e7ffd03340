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
import { CommandNotFoundError, EngineError, StepConfigError } from './errors';
import type { EventInit } from './events';
import type { Executor, RunPlan, AttemptOutcome, StepRequest } from './executor';
import { LineSplitter } from './lines';
import { groupLedBy, signalGroup, type ProcessGroup } from './process-group';
import { reaper } from './reaper';
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
    }
  }

  async open(): Promise<void> {
    // From now on, should this process die, the reaper ends the steps it reports running and
    // removes the run's folder (all but the outputs, once they are worth keeping).
    reaper.opened(this.runId, { dir: this.runDir, keep: this.plan!.keepOutputs === true });
    openRunFolder(this.runDir);
  }

  runStep(request: StepRequest): Promise<AttemptOutcome> {
    const [program, ...args] = request.command!;
    const cwd = join(this.runDir, 'steps', request.step.id, String(request.attempt));
    mkdirSync(cwd, { recursive: true });
    const source = this.sources.get(request.step.id);
    if (source) {
      // Not the project's run data (the embedded tracker's store, being written right now).
      const runData = join(source, '.scanflow');
      cpSync(source, cwd, { recursive: true, filter: path => path !== runData });
    }
    return new Promise((resolvePromise, reject) => {
      const child = spawn(program, args, {
        cwd,
        env: {
          ...process.env,
          ...request.env,
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
      const out = new LineSplitter(line => request.log('stdout', line));
      const err = new LineSplitter(line => request.log('stderr', line));
      child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));

      const stop = (): void => {
        if (group) this.stop(child, group);
      };
      request.signal.addEventListener('abort', stop);
      if (request.signal.aborted) {
        stop();
      }
      const settle = (): void => {
        this.live.delete(child);
        request.signal.removeEventListener('abort', stop);
      };
      child.on('error', (error: NodeJS.ErrnoException) => {
        settle();
        reject(
          error.code === 'ENOENT' || error.code === 'EACCES'
            ? new CommandNotFoundError(request.step.id, program, 'the PATH of this machine')
            : new EngineError(`the process did not start: ${error.message}`, request.step.id)
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
        settle();
        out.end();
        err.end();
        const exitCode = code ?? 128 + signalNumber(signal);
        if (
          exitCode === 0 &&
          request.step.spec.outputs?.length &&
          this.plan!.keepOutputs !== false
        ) {
          // The outputs folder holds outputs now: kept by the run's own cleanup, and by the reaper's.
          reaper.keep(this.runId);
        }
        resolvePromise({ exitCode, lastLine: err.last ?? out.last });
      });
    });
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
