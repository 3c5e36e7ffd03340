/**
 * The tslab bridge in the real tslab kernel: cells import scanflow from the example notebooks'
 * folder (node_modules/scanflow links to this repository, made by scripts/setup.d/40-tslab.sh),
 * define and show workflows, and the test reads the kernel's iopub messages through jupyter_client.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MIME } from '../../src/mime';
import type { WorkflowBundleData } from '../../src/notebook/bundles';

const root = join(__dirname, '..', '..');
const python = join(root, '.venv', 'bin', 'python');
const notebooks = join(root, 'examples', 'notebooks');

interface Message {
  cell: number;
  type: string;
  msg_id?: string;
  parent?: string;
  content: {
    data?: Record<string, unknown>;
    transient?: { display_id?: string };
    status?: string;
    ename?: string;
    evalue?: string;
    name?: string;
    text?: string;
  };
}

const XSS = '<img src=x onerror=alert(1)>';

const cells = [
  "import { workflow, step, parallel, show, WorkflowView, trackerBundle } from 'scanflow';",
  `const wf = workflow('demo', [
    step('prep', { image: 'scanflow/node:20', command: ['node', 'prep.js'] }),
    workflow('train', [
      parallel('models', [step('linear', { image: 'a' }), step('mean', { image: 'b' })]),
      step('pick', { image: 'c', retries: 1 })
    ]),
    step(${JSON.stringify(XSS)}, { image: 'd' })
  ]);
  show(wf);`,
  `const view = new WorkflowView(wf);
  view.show();
  view.set('demo.prep', { status: 'running' });
  setTimeout(() => view.set('demo.prep', { status: 'succeeded', durationMs: 1200 }), 800);`,
  "await new Promise(resolve => setTimeout(resolve, 2000));\nconsole.log('later cell');",
  `show({ toMimeBundle: () => trackerBundle({ experiment: 'exp', runs: [{ id: 'r1', status: 'FINISHED', metrics: { acc: 0.9 } }] }) });
  show('just text');`,
  `import { runWorkflow } from 'scanflow';
  const quick = workflow('quick', [
    step('a', { image: 'scanflow/node:20', command: ['node', '-e', 'setTimeout(() => {}, 200)'] }),
    parallel('p', [
      step('b', { image: 'scanflow/node:20', command: ['node', '-e', 'console.log("hi")'] }),
      step('c', { image: 'scanflow/node:20', command: ['node', '-e', 'process.exit(3)'] })
    ])
  ]);
  const live = new WorkflowView(quick);
  const run = runWorkflow(quick, { executor: 'local', handleSignals: false });
  live.follow(run);
  const result = await run.done;
  console.log('run', result.status);`
];

let messages: Message[] = [];
const of = (cell: number, type: string): Message[] =>
  messages.filter(m => m.cell === cell && m.type === type);
const executeId = (cell: number): string | undefined =>
  messages.find(m => m.cell === cell && m.type === 'execute')?.msg_id;
const workflowData = (m: Message): WorkflowBundleData =>
  m.content.data?.[MIME.workflow] as WorkflowBundleData;

describe('the tslab bridge in a real tslab kernel', () => {
  before(() => {
    assert.ok(existsSync(python), 'run bash scripts/setup.sh first (.venv is missing)');
    assert.ok(
      existsSync(join(notebooks, 'node_modules', 'scanflow', 'lib', 'index.js')),
      'scanflow is not importable from examples/notebooks: run scripts/setup.d/40-tslab.sh and build:lib'
    );
    const result = spawnSync(python, [join(__dirname, 'run_cells.py'), 'tslab', notebooks], {
      input: JSON.stringify(cells),
      encoding: 'utf8',
      timeout: 240_000
    });
    assert.equal(result.status, 0, result.stderr);
    messages = result.stdout
      .split('\n')
      .filter(Boolean)
      .map(line => JSON.parse(line) as Message);
  });

  it('runs every cell without an error, importing scanflow from the notebook folder', () => {
    const replies = messages.filter(m => m.type === 'reply');
    assert.equal(replies.length, cells.length);
    for (const reply of replies) {
      assert.equal(
        reply.content.status,
        'ok',
        `cell ${reply.cell}: ${JSON.stringify(reply.content)}`
      );
    }
    assert.deepEqual(
      messages.filter(m => m.type === 'error'),
      []
    );
  });

  it('shows a workflow as our MIME bundle with a text/plain tree as fallback', () => {
    const [shown] = of(1, 'display_data');
    assert.ok(shown, 'show(wf) sent no display_data');
    const data = workflowData(shown);
    assert.equal(data.version, 1);
    assert.equal(data.workflow.name, 'demo');
    assert.deepEqual(
      data.workflow.steps.map(s => s.name),
      ['prep', 'train', XSS]
    );
    const text = shown.content.data?.['text/plain'];
    assert.equal(
      text,
      [
        'workflow demo',
        '  prep',
        '  workflow train',
        '    parallel models',
        '      linear',
        '      mean',
        '    pick',
        `  ${XSS}`
      ].join('\n')
    );
    // show() returns nothing, so tslab prints nothing after the output.
    assert.deepEqual(of(1, 'stream'), []);
  });

  it('updates a workflow view in place, by display id, with step statuses', () => {
    const [first] = of(2, 'display_data');
    const updates = messages.filter(m => m.cell <= 3 && m.type === 'update_display_data');
    const id = first.content.transient?.display_id;
    assert.ok(id);
    assert.equal(updates.length, 2);
    for (const update of updates) assert.equal(update.content.transient?.display_id, id);
    assert.deepEqual(workflowData(updates[0]).status, { 'demo.prep': { status: 'running' } });
    assert.deepEqual(workflowData(updates[1]).status, {
      'demo.prep': { status: 'succeeded', durationMs: 1200 }
    });
    assert.match(String(updates[1].content.data?.['text/plain']), /^ {2}prep \[succeeded\]$/m);
  });

  it('sends a later background update to the cell that showed the view, not the running cell', () => {
    const late = messages.filter(m => m.cell === 3 && m.type === 'update_display_data');
    assert.equal(late.length, 1, 'the timer update should arrive while cell 3 runs');
    assert.equal(late[0].parent, executeId(2));
    assert.notEqual(late[0].parent, executeId(3));
    const printed = of(3, 'stream').map(m => m.content.text);
    assert.deepEqual(printed, ['later cell\n']);
  });

  it('shows anything with toMimeBundle(), and plain values as text', () => {
    const [tracker, text] = of(4, 'display_data');
    assert.deepEqual(Object.keys(tracker.content.data ?? {}).sort(), [MIME.tracker, 'text/plain']);
    assert.match(String(tracker.content.data?.['text/plain']), /tracker exp: 1 runs/);
    assert.deepEqual(text.content.data, { 'text/plain': 'just text' });
  });

  it('follows a real run (local executor) in the output of its own view, with statuses', () => {
    const shown = of(5, 'display_data');
    assert.equal(shown.length, 1);
    const id = shown[0].content.transient?.display_id;
    const updates = of(5, 'update_display_data');
    assert.ok(updates.length >= 1);
    for (const update of updates) {
      assert.equal(update.content.transient?.display_id, id);
      assert.equal(update.parent, executeId(5));
    }
    const last = workflowData(updates[updates.length - 1]);
    assert.equal(last.run?.status, 'failed');
    assert.equal(last.status?.['quick.a']?.status, 'succeeded');
    assert.equal(last.status?.['quick.p.b']?.status, 'succeeded');
    assert.equal(last.status?.['quick.p.c']?.status, 'failed');
    assert.match(last.status?.['quick.p.c']?.message ?? '', /exit code 3/);
    // Step logs stay out of the cell's output: only the cell's own print is there.
    assert.deepEqual(
      of(5, 'stream').map(m => m.content.text),
      ['run failed\n']
    );
  });
});
