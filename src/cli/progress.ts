import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { RunEvent } from '../run';
import { describeEvent } from '../run/format';
import type { Output } from './main';

/**
 * Shows a run's events: a progress bar with the running steps at the bottom of a terminal, and a
 * line per event above it (only the lines when the output is not a terminal). A ready service is
 * shown among the running ones with the address this machine reaches it at.
 */
export class ProgressDisplay {
  private bars?: MultiBar;
  private bar?: SingleBar;
  /** What runs now: step id -> how the bar names it (a service with its address). */
  private readonly running = new Map<string, string>();
  private finished = 0;

  constructor(
    private readonly output: Output,
    private readonly quiet: boolean
  ) {}

  show(event: RunEvent): void {
    if (event.type === 'run-started' && process.stderr.isTTY && process.stdout.isTTY) {
      this.bars = new MultiBar(
        {
          format: `${event.workflow} {bar} {value}/{total} steps | {duration}s | {running}`,
          hideCursor: true,
          clearOnComplete: true
        },
        Presets.shades_classic
      );
      this.bar = this.bars.create(event.steps.length, 0, { running: '' });
    }
    if (event.type === 'step-running') {
      this.running.set(event.step, event.step);
    }
    if (event.type === 'service-ready') {
      // Deployed services have no endpoint on this machine: then their URL says where they are.
      const where = event.endpoints.length ? event.endpoints.join(', ') : event.url;
      this.running.set(event.step, `${event.step} (${where})`);
    }
    if (
      [
        'step-succeeded',
        'step-failed',
        'step-skipped',
        'step-cancelled',
        'service-stopped'
      ].includes(event.type) &&
      'step' in event
    ) {
      this.running.delete(event.step);
      this.finished++;
    }
    this.bar?.update(this.finished, { running: [...this.running.values()].join(', ') });
    if (event.type === 'run-finished' || (this.quiet && event.type === 'step-log')) {
      return;
    }
    const line = describeEvent(event);
    if (line !== undefined) {
      if (this.bars) {
        this.bars.log(`${line}\n`);
      } else {
        this.output.out(`${line}\n`);
      }
    }
  }

  stop(): void {
    this.bars?.stop();
  }
}
