/**
 * A local step's processes: the step's command is spawned detached, so it leads a process group
 * of its own that also holds whatever it starts (a shell's background jobs, a trainer's workers).
 * Signalling the group ends them all.
 */
import { readFileSync } from 'node:fs';

/** A group and its leader, the step's command: the group id is the leader's process id. */
export interface ProcessGroup {
  pgid: number;
  /** When the leader started (Linux: clock ticks since boot, from /proc), to tell it from a newcomer. */
  started?: string;
}

/** The group that the just-spawned, detached child `pid` leads. */
export function groupLedBy(pid: number): ProcessGroup {
  return { pgid: pid, started: startTime(pid) };
}

/**
 * Sends `signal` to every process of the group, if the group is still this one. A group id stays
 * taken while any member lives; only once the whole group is gone can its number go to a new
 * process, which may lead a group of its own: a process with the group's number that did not start
 * when the leader did is such a newcomer, and is left alone.
 */
export function signalGroup(group: ProcessGroup, signal: NodeJS.Signals): void {
  const now = startTime(group.pgid);
  if (now !== undefined && group.started !== undefined && now !== group.started) {
    return;
  }
  try {
    process.kill(-group.pgid, signal);
  } catch {
    // The group is gone.
  }
}

/** A process, told from a later one given the same number by when it started. */
export interface ProcessIdentity {
  pid: number;
  /** As ProcessGroup.started. */
  started?: string;
}

/** The process `pid` (by default this one). */
export function identify(pid: number = process.pid): ProcessIdentity {
  return { pid, started: startTime(pid) };
}

/** Whether the process still runs: a newcomer that took its number does not count. */
export function isAlive(target: ProcessIdentity): boolean {
  const now = startTime(target.pid);
  if (now !== undefined) {
    return target.started === undefined || now === target.started;
  }
  try {
    // No such process, or no /proc to tell: the kernel answers.
    process.kill(target.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat; undefined when there is no such process (or no /proc). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
