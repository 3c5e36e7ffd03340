/** `scanflow serve` as a user runs it: the bin script, its errors and exit codes, Ctrl-C. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { invoke, rowsOf, savedClassifier, temporaryFolder, unseen } from './fixtures';

const BIN = join(__dirname, '..', '..', 'bin', 'scanflow.js');
const folder = temporaryFolder('serve-cli');
let modelDir: string;
const env = { ...process.env, MLFLOW_TRACKING_URI: '' };

before(async () => {
  const { model, path } = await savedClassifier(folder.path);
  model.dispose();
  modelDir = path;
});
after(() => folder.remove());

function scanflow(...args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env,
    timeout: 60_000
  });
  return { status: result.status, stderr: result.stderr };
}

describe('scanflow serve (CLI)', () => {
  const refusals: Array<[string, () => string[], RegExp]> = [
    [
      'a missing folder',
      () => [join(folder.path, 'nope')],
      /There is no model at .*nope.*Fix: give a folder/
    ],
    [
      'a registered model without a tracker',
      () => ['models:/digits@champion'],
      /none was given.*--tracker/
    ],
    [
      'a tracker that is not running',
      () => ['models:/digits@champion', '--tracker', 'http://127.0.0.1:1'],
      /tracker at http:\/\/127\.0\.0\.1:1 cannot be reached \(ECONNREFUSED\).*Fix: start it/
    ],
    [
      'a stage instead of a version',
      () => ['models:/digits/Production'],
      /not a version number.*use an alias/
    ],
    ['a port out of range', () => [modelDir, '--port', '99999'], /--port '99999' is not valid/],
    [
      'replicas without a target',
      () => [modelDir, '--replicas', '3'],
      /--replicas 3 runs several servers.*--to swarm/
    ],
    ['an unknown target', () => [modelDir, '--to', 'k8s'], /--to 'k8s' is not a target of serve/],
    [
      'a body limit that is not a size',
      () => [modelDir, '--max-body', 'lots'],
      /--max-body 'lots' is not a size/
    ],
    ['labeling on Swarm', () => [modelDir, '--to', 'swarm', '--label-dir', 'x'], /inside a replica/]
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what} with exit code 2 and the fix`, () => {
      const result = scanflow('serve', ...args());
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, message);
    });
  }

  it('serves until Ctrl-C, then stops cleanly', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', modelDir, '--port', '0'], { env });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>(resolve => child.on('exit', resolve));
    try {
      const deadline = Date.now() + 60_000;
      while (!/on (http:\/\/127\.0\.0\.1:\d+)/.test(stdout) && Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 100));
      }
      const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      assert.ok(url, `no URL in ${stdout}`);
      assert.equal((await fetch(`${url}/ping`)).status, 200);
      const answer = await invoke(url, { inputs: rowsOf(unseen.images.slice(0, 2)) });
      assert.equal(answer.status, 200);
      assert.equal((answer.body.predictions as number[]).length, 2);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      assert.match(stdout, /scanflow serve stopped \(SIGINT\)/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
