/**
 * Runs in a real tslab kernel, stopped with the notebook's stop button (a kernel interrupt, which
 * Jupyter sends as SIGINT): the cell ends at once, the run is cancelled and removes its containers
 * and network, and the kernel lives on for the next cells, interrupts included.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { leftovers, removeRunVolumes, testRunId } from './helpers';

const root = join(__dirname, '..', '..');
const python = join(root, '.venv', 'bin', 'python');
const notebooks = join(root, 'examples', 'notebooks');

interface Message {
  cell?: number;
  type: string;
  msg_id?: string;
  parent?: string;
  alive?: boolean;
  content?: { status?: string; name?: string; text?: string; execution_state?: string };
}

interface Cell {
  code: string;
  interrupt_on?: string;
  wait_for?: string;
}

const first = testRunId('nb-first');
const second = testRunId('nb-second');
const quickRun = testRunId('nb-after');
const removed = (id: string): string => `run ${id} interrupted; its containers were removed`;

const cells: Cell[] = [
  // 0: a run started in one cell...
  {
    code: `import { runWorkflow, workflow, step } from 'scanflow';
const long = workflow('nb', [
  step('sleep', { image: 'scanflow/node:20', command: ['node', '-e', "console.log('up');setTimeout(()=>{},600000)"] }),
  step('never', { image: 'scanflow/node:20', command: ['node', '-e', "console.log('never')"] })
]);
const first = runWorkflow(long, { executor: 'docker', runId: '${first}' });
first.on(event => { if (event.type === 'step-log') console.log(event.step, event.line); });`
  },
  // 1: ...and awaited in the next, which is interrupted once the step is up.
  { code: 'await first.done;', interrupt_on: 'nb.sleep up', wait_for: removed(first) },
  // 2: the run's end, as the person sees it.
  {
    code: `const ended = await first.done;
console.log('first', ended.status, ended.steps.map(s => s.status).join(' '));`
  },
  // 3: started and awaited in the same cell, in the same kernel, interrupted again.
  {
    code: `const second = runWorkflow(long, { executor: 'docker', runId: '${second}' });
second.on(event => { if (event.type === 'step-log') console.log(event.step, event.line); });
await second.done;`,
    interrupt_on: 'nb.sleep up',
    wait_for: removed(second)
  },
  // 4: the kernel still runs cells, and workflows.
  {
    code: `const quick = workflow('after', [step('hi', { image: 'scanflow/node:20', command: ['node', '-e', "console.log('hi')"] })]);
const done = await runWorkflow(quick, { executor: 'docker', runId: '${quickRun}' }).done;
console.log('after', done.status, 6 * 7);`
  }
];

let messages: Message[] = [];
const ofCell = (cell: number, type: string): Message[] =>
  messages.filter(m => m.cell === cell && m.type === type);
const printed = (cell: number, stream?: string): string =>
  ofCell(cell, 'stream')
    .filter(m => stream === undefined || m.content?.name === stream)
    .map(m => m.content?.text ?? '')
    .join('');
const reply = (cell: number): string | undefined => ofCell(cell, 'reply')[0]?.content?.status;

describe('a run in a tslab kernel, interrupted from the notebook', () => {
  before(() => {
    assert.ok(existsSync(python), 'run bash scripts/setup.sh first (.venv is missing)');
    assert.ok(
      existsSync(join(notebooks, 'node_modules', 'scanflow', 'lib', 'index.js')),
      'scanflow is not importable from examples/notebooks: run scripts/setup.sh'
    );
    const driver = spawnSync(
      python,
      [join(__dirname, 'fixtures', 'kernel_session.py'), 'tslab', notebooks],
      { input: JSON.stringify(cells), encoding: 'utf8', timeout: 300_000 }
    );
    messages = driver.stdout
      .split('\n')
      .filter(Boolean)
      .map(line => JSON.parse(line) as Message);
    assert.equal(driver.status, 0, `${driver.stderr}\n${driver.stdout.slice(-3000)}`);
  });

  after(async () => {
    await Promise.all([first, second, quickRun].map(removeRunVolumes));
  });

  it('ends the interrupted cell with an error and a one-line notice, then reports the cleanup', () => {
    for (const cell of [1, 3]) {
      assert.equal(ofCell(cell, 'interrupted').length, 1, `cell ${cell} was never interrupted`);
      assert.equal(reply(cell), 'error');
      const id = cell === 1 ? first : second;
      const text = printed(cell, 'stderr');
      assert.match(text, /Interrupted/);
      assert.ok(
        text.includes(`run ${id} interrupted: stopping it and removing its containers\n`),
        text
      );
      assert.ok(text.includes(`${removed(id)}\n`), text);
      // The cell went idle (the person gets the prompt back) before the cleanup report came.
      const cellMessages = messages.filter(m => m.cell === cell);
      const idle = cellMessages.findIndex(m => m.content?.execution_state === 'idle');
      const report = cellMessages.findIndex(m => m.content?.text?.includes(removed(id)));
      assert.ok(idle > 0 && report > idle);
    }
  });

  it('cancels the interrupted run: its steps are cancelled, none ran after it', () => {
    assert.equal(reply(2), 'ok');
    assert.equal(printed(2), 'first cancelled cancelled cancelled\n');
    assert.doesNotMatch(printed(1) + printed(3), /never/);
  });

  it('leaves no container, network or volume of the interrupted runs', async () => {
    const nothing = { containers: [], networks: [], volumes: [] };
    assert.deepEqual(await leftovers(first), nothing);
    assert.deepEqual(await leftovers(second), nothing);
  });

  it('keeps the kernel alive and usable: the next cell runs a workflow', () => {
    assert.equal(reply(4), 'ok');
    assert.equal(printed(4), 'after succeeded 42\n');
    assert.deepEqual(
      messages.filter(m => m.type === 'alive').map(m => m.alive),
      [true]
    );
  });
});
