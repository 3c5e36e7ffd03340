/** `scanflow tracker` option errors and `scanflow wipe` with its confirmation, run as a user would. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqliteStore } from '../../src/track';
import { ROOT, temporaryFolder } from './helpers';

const folder = temporaryFolder('tracker-cli');
after(() => folder.remove());

function scanflow(
  args: string[],
  input = ''
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/track/scanflow-cli.ts'), ...args],
    {
      cwd: ROOT,
      input,
      encoding: 'utf8'
    }
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('scanflow tracker refuses a bad port with the fix', () => {
  const result = scanflow(['tracker', '--port', 'http']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--port 'http' is not a port.*Fix: give a number from 0 to 65535/);
});

test('scanflow tracker names a store file that is not a store', () => {
  const bogus = join(folder.path, 'notes.db');
  writeFileSync(bogus, 'these are notes, not a SQLite database '.repeat(10));
  const result = scanflow(['tracker', '--port', '0', '--store', bogus]);
  assert.equal(result.status, 2);
  assert.match(
    result.stderr,
    /Cannot open the tracker store .*notes\.db: file is not a database\. Fix: point --store/
  );
});

test('scanflow wipe asks first, and deletes the runs and artifacts only when confirmed', async () => {
  const storePath = join(folder.path, 'tracker.db');
  const store = new SqliteStore(storePath);
  const experimentId = await store.createExperiment('hello');
  const keep = await store.createExperiment('other');
  const runs = [await store.createRun(experimentId), await store.createRun(experimentId)];
  const kept = await store.createRun(keep);
  await store.logMetric(runs[0].info.run_id, { key: 'loss', value: 1, step: 0, timestamp: 0 });
  store.close();
  const artifacts = join(`${storePath}.artifacts`, experimentId, runs[0].info.run_id, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, 'model.bin'), 'weights');

  const refused = scanflow(['wipe', 'hello', '--store', storePath], 'no\n');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /This deletes workflow 'hello' for good: 2 runs/);
  assert.match(refused.stderr, /wipe cancelled, nothing was deleted/);
  assert.ok(existsSync(join(artifacts, 'model.bin')));

  const confirmed = scanflow(['wipe', 'hello', '--store', storePath], 'hello\n');
  assert.equal(confirmed.status, 0, confirmed.stderr);
  assert.match(confirmed.stdout, /wiped workflow 'hello': 2 runs and their artifacts/);
  assert.ok(!existsSync(join(`${storePath}.artifacts`, experimentId)));

  const after = new SqliteStore(storePath);
  await assert.rejects(after.getExperimentByName('hello'), {
    errorCode: 'RESOURCE_DOES_NOT_EXIST'
  });
  await assert.rejects(after.getRun(runs[0].info.run_id), { errorCode: 'RESOURCE_DOES_NOT_EXIST' });
  assert.equal((await after.getRun(kept.info.run_id)).info.experiment_id, keep);
  after.close();

  const missing = scanflow(['wipe', 'hello', '--store', storePath, '--yes']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no workflow 'hello'/);
});
