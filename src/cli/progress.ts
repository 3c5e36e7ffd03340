import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { RunEvent } from '../run';
import { describeEvent } from '../run/format';
import type { Output } from './main';

/**
 * Shows a run's events: a progress bar with the running steps at the bottom of a terminal, and a
 * line per event above it (only the lines when the output is not a terminal).
 */
export class ProgressDisplay {
  private bars?: MultiBar;
  private bar?: SingleBar;
  private readonly running = new Set<string>();
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
      this.running.add(event.step);
    }
    if (
      ['step-succeeded', 'step-failed', 'step-skipped', 'step-cancelled'].includes(event.type) &&
      'step' in event
    ) {
      this.running.delete(event.step);
      this.finished++;
    }
    this.bar?.update(this.finished, { running: [...this.running].join(', ') });
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
