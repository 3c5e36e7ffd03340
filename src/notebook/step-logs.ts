/**
 * Step output written to files while a notebook follows a run, so that the graph's tooltips can
 * link each step to its whole log (the run's events keep only the first lines). Kernel side: in
 * tslab the working folder is the notebook's, so the paths are relative to the notebook and
 * JupyterLab opens them.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { RunEvent } from '../run/events';

export class StepLogFiles {
  private readonly started = new Set<string>();

  /** `folder` is relative to the working folder (or absolute); one subfolder per run. */
  constructor(
    private readonly folder: string,
    private readonly runId: string
  ) {}

  /** The log file of a step, as the tooltip links it. */
  pathOf(step: string): string {
    return posix.join(this.folder.split('\\').join('/'), safe(this.runId), `${safe(step)}.log`);
  }

  /** Writes what an event adds to a step's log; returns the step's log path when it has one. */
  take(event: RunEvent): { step: string; path: string } | undefined {
    if (event.type !== 'step-running' && event.type !== 'step-log') return undefined;
    const path = this.pathOf(event.step);
    if (!this.started.has(event.step)) {
      mkdirSync(join(this.folder, safe(this.runId)), { recursive: true });
      writeFileSync(path, '');
      this.started.add(event.step);
    }
    if (event.type === 'step-running' && event.attempt > 1) {
      appendFileSync(path, `--- attempt ${event.attempt} ---\n`);
    }
    if (event.type === 'step-log') {
      appendFileSync(
        path,
        event.stream === 'stderr' ? `[stderr] ${event.line}\n` : `${event.line}\n`
      );
    }
    return { step: event.step, path };
  }
}

/** A file name from an id: anything but letters, digits, '.', '_' and '-' becomes '_'. */
function safe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
