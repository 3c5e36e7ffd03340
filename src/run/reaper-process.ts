/**
 * The reaper's own process (started by reaper.ts, detached, with no output): reads the owner's
 * messages from stdin; when stdin ends (the owner is gone, or has no run open), ends the step
 * processes and removes the Docker objects or the folder of every run that was not reported closed,
 * then exits.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { signalGroup } from './process-group';
import { removeRunFolder } from './run-folder';
import type { OpenRun, ReaperMessage } from './reaper';

/** A container or network the owner asked for just before it died may appear after a sweep. */
const SECOND_SWEEP_MS = 2000;

const open = new Map<string, OpenRun>();

function apply(message: ReaperMessage): void {
  if ('open' in message) {
    const { docker, dir, keep } = message;
    open.set(message.open, { docker, dir, keep, groups: new Map() });
  } else if ('keep' in message) {
    const run = open.get(message.keep);
    if (run) run.keep = true;
  } else if ('started' in message) {
    open.get(message.started)?.groups.set(message.group.pgid, message.group);
  } else if ('ended' in message) {
    open.get(message.ended)?.groups.delete(message.pgid);
  } else {
    open.delete(message.closed);
  }
}

/** Step processes are asked to stop first (SIGTERM), and are killed on the second sweep. */
async function sweep(signal: NodeJS.Signals): Promise<void> {
  for (const run of open.values()) {
    run.groups.forEach(group => signalGroup(group, signal));
  }
  const docker = [...open].filter(([, run]) => run.docker);
  if (docker.length === 0) {
    return;
  }
  // Loaded only when there is something to sweep: a reaper that only waits stays small.
  const { DockerClient, LABEL } = await import('./docker/client');
  await Promise.all(
    docker.map(([id, run]) =>
      new DockerClient(run.docker)
        .removeLabelled({ [LABEL.run]: id }, { volumes: !run.keep })
        .catch(() => undefined)
    )
  );
}

async function reap(): Promise<void> {
  if (open.size > 0) {
    await sweep('SIGTERM');
    await sleep(SECOND_SWEEP_MS);
    await sweep('SIGKILL');
    // Only now that no step process is left to write in them.
    for (const run of open.values()) {
      try {
        if (run.dir) removeRunFolder(run.dir, run.keep);
      } catch {
        // `scanflow clean` removes what is left.
      }
    }
  }
  process.exit(0);
}

createInterface({ input: process.stdin })
  .on('line', line => {
    try {
      apply(JSON.parse(line) as ReaperMessage);
    } catch {
      // Only the owner writes here; a line it did not finish (it died mid-write) is skipped.
    }
  })
  .on('close', () => void reap());
