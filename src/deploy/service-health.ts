/**
 * When a deployed service counts as failed, on every target: the same bounds `scanflow run`
 * gives its healthcheck (start period, then `retries` failed probes in a row), plus time for the
 * engine to pull and place it; or tasks (containers, pods) that keep failing.
 */
import { RunError } from '../run/errors';
import type { PlannedService } from './plan';

/** Failed tasks (exited containers, restarted pods) after which a service has failed. */
export const FAILED_TASKS_LIMIT = 3;
/** Time for the engine to pull an image, place and start the replicas, beyond the healthcheck. */
const PLACEMENT_SECONDS = 60;
/** Log lines of a failed service's last task, in its error. */
export const LAST_LINES = 5;

/** How long a service may take to be ready before it has failed (whole seconds). */
export function readinessBudgetSeconds(service: PlannedService): number {
  const healthcheck = service.healthcheck;
  const probing = healthcheck
    ? healthcheck.startPeriod +
      (healthcheck.retries + 1) * (healthcheck.interval + healthcheck.timeout)
    : 0;
  return Math.ceil(PLACEMENT_SECONDS + probing);
}

/** A deployed service failed: its tasks kept failing, or it never became ready. */
export class ServiceDeployError extends RunError {
  constructor(service: PlannedService, what: string, lastLines: string[], fix: string) {
    const lines = lastLines
      .map(l => l.trim())
      .filter(Boolean)
      .slice(-LAST_LINES);
    super(
      `the service ${what}` + (lines.length ? `; its last lines: ${lines.join(' | ')}` : ''),
      service.id,
      fix
    );
  }
}

/** The fix for a service that keeps failing or never becomes ready. */
export function serviceFix(service: PlannedService): string {
  return service.healthcheck
    ? `check that it listens on port ${service.port} on every interface (0.0.0.0) and that its ` +
        "healthcheck passes, or give it longer with the healthcheck's 'startPeriod' or 'retries'"
    : `check its command and its output: a service must keep running until the deployment is removed`;
}
