/**
 * A run in a real tslab kernel, interrupted with the notebook's stop button. tslab catches SIGINT
 * itself and a signal listener of ours would make the interrupt kill the kernel (leaving the run's
 * containers behind), so runs add none there: the kernel lives, and the run ends and removes
 * everything it created by itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { leftovers, testRunId } from './helpers';

const root = join(__dirname, '..', '..');
const python = join(root, '.venv', 'bin', 'python');
const notebooks = join(root, 'examples', 'notebooks');

test('a notebook interrupt neither kills the kernel nor leaves the run behind', async () => {
  assert.ok(existsSync(python), 'run bash scripts/setup.sh first (.venv is missing)');
  assert.ok(
    existsSync(join(notebooks, 'node_modules', 'scanflow', 'lib', 'index.js')),
    'scanflow is not importable from examples/notebooks: run scripts/setup.sh'
  );
  const runId = testRunId('notebook');
  const cell = `import { runWorkflow, workflow, step } from 'scanflow';
const short = (name: string) =>
  step(name, { image: 'scanflow/node:20', command: ['node', '-e', "console.log('up');setTimeout(()=>{},3000)"] });
const run = runWorkflow(workflow('nb', [short('first'), short('second')]), { executor: 'docker', runId: '${runId}' });
run.on(event => {
  if (event.type === 'step-log') console.log(event.step, event.line);
});
await run.done;`;
  const driver = spawnSync(
    python,
    [join(__dirname, 'fixtures', 'interrupt_cell.py'), 'tslab', notebooks, 'nb.first up', '12'],
    { input: cell, encoding: 'utf8', timeout: 240_000 }
  );
  assert.equal(driver.status, 0, driver.stderr);
  const result = JSON.parse(driver.stdout.trim().split('\n').at(-1)!) as {
    output: string;
    interrupted: boolean;
    alive: boolean;
  };
  assert.ok(result.interrupted, `the step never started: ${result.output}`);
  assert.ok(result.alive, 'the kernel died on the interrupt');
  assert.deepEqual(await leftovers(runId), { containers: [], networks: [], volumes: [] });
});
