/**
 * Stopping a run from outside: Ctrl-C (SIGINT) and SIGTERM in a terminal, the stop button
 * (an interrupt, which Jupyter sends as SIGINT) in a tslab notebook kernel.
 */

import { CleanupError } from './errors';
import type { RunResult } from './run';

/** What the signals act on: the run's id, how to cancel it, and its end (which never rejects). */
export interface CancellableRun {
  id: string;
  cancel: () => void;
  done: Promise<RunResult>;
}

/** How long a kernel told to end (SIGTERM) may spend removing its runs' objects. */
const KERNEL_TERM_GRACE_MS = 10_000;

/**
 * Cancels `run` on SIGINT/SIGTERM until it has ended. Inside a tslab kernel, the cell is told, in
 * one line each, that an interrupted run is being stopped and when everything of it is gone; a
 * SIGTERM (Jupyter's second step when a shutdown or restart request did not end the kernel) also
 * cancels the run, and ends the kernel once the run has cleaned up, within a bound: SIGTERM must
 * still end the kernel. Whatever a SIGKILL cuts short is left to the reaper (reaper.ts).
 */
export function cancelOnSignals(run: CancellableRun): void {
  const kernel = insideTslabKernel();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  let interrupted = false;
  let terminating = false;
  let ended = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (kernel && signal === 'SIGTERM') {
      // The notebook is going away: nothing is printed into it any more.
      terminating = true;
      setTimeout(() => process.exit(128 + 15), KERNEL_TERM_GRACE_MS).unref();
    } else if (kernel && !interrupted && !terminating) {
      // tslab ends the awaiting cell at once; the cleanup goes on and reports below.
      process.stderr.write(`run ${run.id} interrupted: stopping it and removing its containers\n`);
    }
    interrupted = true;
    run.cancel();
  };
  const listen = (): void => {
    if (!ended) signals.forEach(signal => process.on(signal, onSignal));
  };
  if (kernel) {
    // tslab runs a cell's synchronous part with vm's breakOnSigint, whose SIGINT watchdog restores
    // the default action (terminate) when the part ends; a listener added during that part is
    // then never called and the next interrupt kills the kernel. Listening from the next turn of
    // the event loop, after the cell's synchronous part, keeps both tslab's handler and ours.
    setImmediate(listen);
  } else {
    listen();
  }
  void run.done.then(result => {
    ended = true;
    signals.forEach(signal => process.off(signal, onSignal));
    if (terminating) {
      // The SIGTERM this kernel put off: with no listener left it ends the kernel (a run still
      // cleaning up catches it instead, and does the same when it is done).
      process.kill(process.pid, 'SIGTERM');
    } else if (kernel && interrupted) {
      process.stderr.write(`${interruptedLine(result)}\n`);
    }
  });
}

/** How an interrupted run ended, in one line. */
function interruptedLine(result: RunResult): string {
  if (result.error instanceof CleanupError) {
    return `run ${result.id} interrupted; ${result.error.message}`;
  }
  if (result.status === 'succeeded' && result.steps.some(s => s.status === 'stopped')) {
    return `run ${result.id} stopped: its steps had succeeded, and its services are removed`;
  }
  if (result.status !== 'cancelled') {
    return `run ${result.id} ${result.status} before the interrupt reached it`;
  }
  return result.executor === 'docker'
    ? `run ${result.id} interrupted; its containers were removed`
    : `run ${result.id} interrupted; its processes were stopped`;
}

/** Whether this process is a tslab kernel (`tslab kernel --config-path ...`). */
export function insideTslabKernel(): boolean {
  return /tslab/.test(process.argv[1] ?? '') && process.argv.includes('kernel');
}
