import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MIME } from '../../src/mime';
import {
  useDisplay,
  WorkflowView,
  type DisplayMessage,
  type FollowableRun,
  type WorkflowBundleData
} from '../../src/notebook';
import type { RunEvent } from '../../src/run/events';
import { step, workflow } from '../../src/workflow/builders';

/** A run that replays the given events to its listeners, as src/run's WorkflowRun does. */
function fakeRun(id: string): FollowableRun & { emit(event: RunEvent): void } {
  const listeners: Array<(event: RunEvent) => void> = [];
  return {
    id,
    on: listener => {
      listeners.push(listener);
      return () => undefined;
    },
    history: () => [],
    emit: event => listeners.forEach(listener => listener(event))
  };
}

describe("a followed run's step logs", () => {
  const sent: DisplayMessage[] = [];
  let folder = '';
  let cwd = '';

  before(() => {
    useDisplay(message => sent.push(message));
    cwd = process.cwd();
    folder = mkdtempSync(join(tmpdir(), 'scanflow-logs-'));
    // As in tslab: the kernel's working folder is the notebook's.
    process.chdir(folder);
  });
  after(() => {
    process.chdir(cwd);
    useDisplay(undefined);
    rmSync(folder, { recursive: true, force: true });
  });

  it('go to one file per step, linked from the step state the graph shows', () => {
    const flow = workflow('flow', [
      step('fit', { image: 'x', retries: 1 }),
      step('report', { image: 'x' })
    ]);
    const view = new WorkflowView(flow);
    view.throttleMs = 0;
    const run = fakeRun('run-1');
    view.follow(run, { logs: 'scanflow-logs' });
    const at = { runId: 'run-1', time: Date.UTC(2026, 10, 29) };
    run.emit({ ...at, type: 'step-running', step: 'flow.fit', attempt: 1 });
    run.emit({ ...at, type: 'step-log', step: 'flow.fit', stream: 'stdout', line: 'epoch 1' });
    run.emit({ ...at, type: 'step-log', step: 'flow.fit', stream: 'stderr', line: 'oops' });
    run.emit({ ...at, type: 'step-running', step: 'flow.fit', attempt: 2 });
    run.emit({
      ...at,
      type: 'step-log',
      step: 'flow.fit',
      stream: 'stdout',
      line: 'epoch 1 again'
    });
    run.emit({ ...at, type: 'run-finished', status: 'succeeded' } as RunEvent);

    const path = 'scanflow-logs/run-1/flow.fit.log';
    assert.equal(view.status['flow.fit'].logs, path);
    assert.equal(view.status['flow.report'], undefined);
    assert.equal(
      readFileSync(join(folder, path), 'utf8'),
      'epoch 1\n[stderr] oops\n--- attempt 2 ---\nepoch 1 again\n'
    );
    const last = sent.at(-1)!.data[MIME.workflow] as WorkflowBundleData;
    assert.equal(last.status?.['flow.fit'].logs, path);
  });

  it('are not written unless asked for', () => {
    const view = new WorkflowView(workflow('quiet', [step('a', { image: 'x' })]));
    const run = fakeRun('run-2');
    view.follow(run);
    run.emit({ runId: 'run-2', time: 0, type: 'step-running', step: 'quiet.a', attempt: 1 });
    assert.equal(view.status['quiet.a'].logs, undefined);
  });
});
