/**
 * A deployment from a notebook cell, in a real tslab kernel: the same definition `scanflow run`
 * executes deploys to docker-compose, the graph widget follows it live, and `undeploy` removes it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { undeploy } from '../../src/deploy/deploy';
import { MIME } from '../../src/mime';
import type { WorkflowBundleData } from '../../src/notebook/bundles';
import { deploymentName, deploymentObjects, NOTHING, ROOT } from './helpers';

const python = join(ROOT, '.venv', 'bin', 'python');
const notebooks = join(ROOT, 'examples', 'notebooks');
const name = deploymentName('nb');
after(() => undeploy(name).catch(() => undefined));

interface Message {
  cell: number;
  type: string;
  content: { data?: Record<string, unknown>; text?: string; status?: string };
}

test('a notebook cell deploys hello to compose, follows it live in the graph, and undeploys it', async () => {
  assert.ok(existsSync(python), 'run bash scripts/setup.sh first (.venv is missing)');
  const cells = [
    "import { deployWorkflow, loadWorkflow, undeploy, WorkflowView } from 'scanflow';",
    `const hello = loadWorkflow('../hello/workflow.ts');
const view = new WorkflowView(hello);
const deployment = deployWorkflow(hello, { target: 'compose', baseDir: '../hello', name: '${name}' });
view.follow(deployment);
const result = await deployment.done;
console.log('deployment', result.status);`,
    `console.log((await undeploy('${name}')).description);`
  ];
  const result = spawnSync(
    python,
    [join(ROOT, 'test', 'notebook', 'run_cells.py'), 'tslab', notebooks],
    {
      input: JSON.stringify(cells),
      encoding: 'utf8',
      timeout: 300_000
    }
  );
  assert.equal(result.status, 0, result.stderr);
  const messages = result.stdout
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line) as Message);
  const replies = messages.filter(m => m.type === 'reply');
  assert.deepEqual(
    replies.map(r => r.content.status),
    ['ok', 'ok', 'ok'],
    JSON.stringify(messages.filter(m => m.type === 'error' || m.type === 'stream'))
  );
  const text = (cell: number) =>
    messages
      .filter(m => m.cell === cell && m.type === 'stream')
      .map(m => m.content.text)
      .join('');
  assert.match(text(1), /deployment succeeded/);
  // The graph's last update shows every step succeeded, as for a run.
  const updates = messages.filter(m => m.cell === 1 && m.type === 'update_display_data');
  const last = updates.at(-1)?.content.data?.[MIME.workflow] as WorkflowBundleData | undefined;
  assert.ok(updates.length >= 5, `${updates.length} live updates`);
  assert.deepEqual(
    Object.entries(last?.status ?? {})
      .filter(
        ([id]) => id.split('.').length > 1 && !['hello.train', 'hello.train.models'].includes(id)
      )
      .map(([id, state]) => [id, state.status])
      .sort(),
    [
      ['hello.make-data', 'succeeded'],
      ['hello.report', 'succeeded'],
      ['hello.train.models.linear', 'succeeded'],
      ['hello.train.models.mean', 'succeeded'],
      ['hello.train.pick', 'succeeded']
    ]
  );
  assert.match(text(2), /6 containers, 1 networks, 2 volumes/);
  assert.deepEqual(await deploymentObjects(name), NOTHING);
});
