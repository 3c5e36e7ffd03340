import type { RunEvent } from './events';

/** Seconds with one decimal, e.g. "1.2 s". */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * One line of text for an event, as the CLI prints it (and a plain-text fallback for the notebook);
 * undefined for events that make no line.
 */
export function describeEvent(event: RunEvent): string | undefined {
  switch (event.type) {
    case 'notice':
      return `note: ${event.message}`;
    case 'run-started':
      return `run ${event.runId}: workflow ${event.workflow}, ${event.steps.length} steps, ${event.executor} executor`;
    case 'tracker-started':
      return `tracker for ${event.workflow}: ${event.url} (store ${event.store})`;
    case 'step-building':
      return `  build  ${event.step}: ${event.image}${event.cached ? ' (cached)' : ''}`;
    case 'step-running':
      return `  start  ${event.step}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`;
    case 'step-log':
      return `         ${event.step} | ${event.line}`;
    case 'step-succeeded':
      return `  done   ${event.step} in ${seconds(event.durationMs)}`;
    case 'step-retrying':
      return `  retry  ${event.step}: attempt ${event.attempt} failed, next in ${seconds(event.delayMs)} (${event.error})`;
    case 'step-failed':
      return `  FAILED ${event.error}`;
    case 'step-skipped':
      return `  skip   ${event.step}: ${event.reason}`;
    case 'step-cancelled':
      return `  stop   ${event.step}: cancelled`;
    case 'service-ready':
      // A deployed service (Swarm, Kubernetes) is reached on its network only: no endpoints.
      return `  ready  ${event.step}: ${event.url}${event.endpoints.length ? ` (from this machine: ${event.endpoints.join(', ')})` : ''}`;
    case 'service-stopped':
      return `  stop   ${event.step}: ${event.reason}`;
    case 'run-finished':
      return `run ${event.runId} ${event.status} in ${seconds(event.durationMs)}`;
    default:
      return undefined;
  }
}
