/**
 * The reaper's own process (started by reaper.ts, detached, with no output): reads the owner's
 * messages from stdin; when stdin ends (the owner is gone, or has no run open), removes what
 * belongs to every run that was not reported closed, then exits.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReaperConnection, ReaperMessage } from './reaper';

/** A container or network the owner asked for just before it died may appear after a sweep. */
const SECOND_SWEEP_MS = 2000;

const open = new Map<string, { docker: ReaperConnection; keep: boolean }>();

function apply(message: ReaperMessage): void {
  if ('open' in message) {
    open.set(message.open, { docker: message.docker, keep: message.keep });
  } else if ('keep' in message) {
    const run = open.get(message.keep);
    if (run) run.keep = true;
  } else {
    open.delete(message.closed);
  }
}

async function sweep(): Promise<void> {
  // Loaded only when there is something to sweep: a reaper that only waits stays small.
  const { DockerClient, LABEL } = await import('./client');
  await Promise.all(
    [...open].map(([id, run]) =>
      new DockerClient(run.docker)
        .removeLabelled({ [LABEL.run]: id }, { volumes: !run.keep })
        .catch(() => undefined)
    )
  );
}

async function reap(): Promise<void> {
  if (open.size > 0) {
    await sweep();
    await sleep(SECOND_SWEEP_MS);
    await sweep();
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
