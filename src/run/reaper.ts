/**
 * The reaper: a small detached process that ends what a run left behind when the process that
 * started the run goes away before the run has cleaned up (a tslab kernel restarted or shut down,
 * a SIGKILL, a crash): the run's containers and network (and its outputs volume, unless the
 * outputs are worth keeping) on Docker, the step processes and the run's folder (but for the
 * outputs worth keeping) on the local executor.
 *
 * The idea is testcontainers' Ryuk, without a container: this process holds the write end of a
 * pipe to the reaper and tells it, one JSON line at a time, which runs are open and which step
 * process groups they have running. The kernel closes the pipe whenever this process ends, however
 * it ends; the reaper then sweeps what belongs to the runs that were never reported closed (through
 * the Docker API and the same `removeLabelled` as `scanflow clean`; by signalling the process
 * groups and removing the folders), and exits. One reaper per process, started by the first run; when no run has been open
 * for a few seconds this process closes the pipe itself, and the reaper, with nothing to sweep,
 * exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DockerOptions } from './docker/client';
import type { ProcessGroup } from './process-group';

/** How the reaper reaches the engine: the part of DockerOptions that can travel as JSON. */
export type ReaperConnection = Pick<DockerOptions, 'socketPath' | 'host' | 'port' | 'protocol'>;

/**
 * One line from the owner to the reaper. `docker` is absent for a run of local processes, `dir`
 * (the run's folder, see run-folder.ts) for a run in containers.
 */
export type ReaperMessage =
  | { open: string; docker?: ReaperConnection; dir?: string; keep: boolean }
  | { keep: string }
  | { closed: string }
  | { started: string; group: ProcessGroup }
  | { ended: string; pgid: number };

/** How long the reaper stays after the last run closed, so that back-to-back runs share it. */
const LINGER_MS = 5000;

/** What the owner and the reaper both keep of an open run. */
export interface OpenRun {
  docker?: ReaperConnection;
  dir?: string;
  keep: boolean;
  /** The step process groups running now, by group id. */
  groups: Map<number, ProcessGroup>;
}

class Reaper {
  private child?: ChildProcess;
  private readonly open = new Map<string, OpenRun>();
  private idle?: NodeJS.Timeout;

  /**
   * Call before the run creates anything: from then on, if this process dies, the reaper removes
   * what carries the run's label on the `docker` engine (a run of local processes has none), ends
   * the step processes reported `started` and removes the run's folder `dir` (local runs). `keep`:
   * its outputs volume or folder is kept whatever happens.
   */
  opened(
    runId: string,
    options: { docker?: DockerOptions; dir?: string; keep?: boolean } = {}
  ): void {
    clearTimeout(this.idle);
    const { docker, dir, keep = false } = options;
    const run: OpenRun = { docker: docker && connection(docker), dir, keep, groups: new Map() };
    this.open.set(runId, run);
    this.send({ open: runId, docker: run.docker, dir, keep });
  }

  /** The run's outputs volume or folder holds outputs now: the reaper keeps it. */
  keep(runId: string): void {
    const run = this.open.get(runId);
    if (run && !run.keep) {
      run.keep = true;
      this.send({ keep: runId });
    }
  }

  /** A step of the run leads this process group now: the reaper ends it should this process die. */
  started(runId: string, group: ProcessGroup): void {
    const run = this.open.get(runId);
    if (run) {
      run.groups.set(group.pgid, group);
      this.send({ started: runId, group });
    }
  }

  /** The step's processes have ended: the reaper forgets the group (its number may be reused). */
  ended(runId: string, pgid: number): void {
    if (this.open.get(runId)?.groups.delete(pgid)) {
      this.send({ ended: runId, pgid });
    }
  }

  /** The run has removed everything of its own: the reaper forgets it. */
  closed(runId: string): void {
    if (!this.open.delete(runId)) {
      return;
    }
    this.send({ closed: runId });
    if (this.open.size === 0) {
      this.idle = setTimeout(() => this.stop(), LINGER_MS).unref();
    }
  }

  /** The reaper's process id while it runs (for tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private send(message: ReaperMessage): void {
    if (this.child) {
      this.child.stdin!.write(`${JSON.stringify(message)}\n`);
    } else if (this.open.size > 0) {
      // A new reaper (the first, or one after the last went away) learns every open run.
      this.start();
    }
  }

  private start(): void {
    const child = spawn(process.execPath, reaperArgv(), {
      // Its own session: the signals a Jupyter server sends the kernel's process group on a
      // restart or shutdown (SIGINT, SIGTERM, SIGKILL) must not reach it.
      detached: true,
      // Nothing it prints could reach a notebook cell or a terminal.
      stdio: ['pipe', 'ignore', 'ignore']
    });
    this.child = child;
    const gone = (): void => {
      if (this.child === child) this.child = undefined;
    };
    child.on('error', gone);
    child.on('exit', gone);
    child.stdin!.on('error', gone);
    // Neither the process nor the pipe keeps this process (a kernel, a CLI) alive.
    child.unref();
    (child.stdin as Socket).unref();
    const messages = [...this.open].flatMap(([id, run]): ReaperMessage[] => [
      { open: id, docker: run.docker, dir: run.dir, keep: run.keep },
      ...[...run.groups.values()].map(group => ({ started: id, group }))
    ]);
    child.stdin!.write(messages.map(message => `${JSON.stringify(message)}\n`).join(''));
  }

  private stop(): void {
    // End of input with no run open: the reaper exits without touching anything.
    this.child?.stdin!.end();
    this.child = undefined;
  }
}

/** The reaper of this process. */
export const reaper = new Reaper();

/** node [loader] reaper-process: from the sources (tsx) or from lib/. */
function reaperArgv(): string[] {
  const extension = extname(__filename);
  const entry = join(__dirname, `reaper-process${extension}`);
  return extension === '.ts'
    ? ['--import', pathToFileURL(require.resolve('tsx')).href, entry]
    : [entry];
}

function connection(options: DockerOptions): ReaperConnection {
  const { socketPath, host, port, protocol } = options;
  return { socketPath, host, port, protocol };
}
