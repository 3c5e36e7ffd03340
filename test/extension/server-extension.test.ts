/**
 * The jupyterlab_scanflow server extension in a real Jupyter server: enabled by `pip install .`,
 * a read-only proxy to a real tracker (with and without the tracker's bearer token), refusals of
 * unauthenticated and write requests, `scanflow clean` run with an argv array, and runs of
 * workflow files started, followed and cancelled.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { root, seedRuns, startJupyter, startTracker, venvBin, type Started } from './servers';

const TOKEN = randomBytes(12).toString('hex');
const TRACKER_TOKEN = randomBytes(12).toString('hex');

describe('the jupyterlab_scanflow server extension', () => {
  let jupyter: Started | undefined;
  let open: Started | undefined;
  let guarded: Started | undefined;
  let labRoot = '';

  before(async () => {
    labRoot = mkdtempSync(join(tmpdir(), 'scanflow-server-'));
    [jupyter, open, guarded] = await Promise.all([
      // The CLI of this checkout (a list option is given once per item).
      startJupyter(labRoot, TOKEN, [
        `--Scanflow.command=${process.execPath}`,
        `--Scanflow.command=${join(root, 'bin', 'scanflow.js')}`
      ]),
      startTracker(),
      startTracker(TRACKER_TOKEN)
    ]);
    await Promise.all([seedRuns(open.url, 'mnist'), seedRuns(guarded.url, 'mnist', TRACKER_TOKEN)]);
  });

  after(() => {
    jupyter?.stop();
    open?.stop();
    guarded?.stop();
    if (labRoot) rmSync(labRoot, { recursive: true, force: true });
  });

  const call = (
    path: string,
    init: { method?: string; body?: unknown; tracker?: string; trackerToken?: string } = {},
    auth = true
  ): Promise<Response> =>
    fetch(`${jupyter!.url}/scanflow/${path}`, {
      method: init.method ?? 'GET',
      headers: {
        ...(auth ? { Authorization: `token ${TOKEN}` } : {}),
        ...(init.tracker ? { 'X-Scanflow-Tracker': init.tracker } : {}),
        ...(init.trackerToken ? { 'X-Scanflow-Tracker-Token': init.trackerToken } : {}),
        ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' })
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body)
    });

  it('is enabled by `pip install .` (jupyter server extension list)', () => {
    const result = spawnSync(join(venvBin, 'jupyter'), ['server', 'extension', 'list'], {
      encoding: 'utf8'
    });
    assert.equal(result.status, 0, result.stderr);
    const listing = stripVTControlCharacters(`${result.stdout}${result.stderr}`);
    assert.match(listing, /^\s+jupyterlab_scanflow enabled\s*$/m);
    assert.match(listing, /^\s+jupyterlab_scanflow \d+\.\d+\.\d+ OK\s*$/m);
  });

  it("proxies the tracker's read API: experiments, run searches, metric histories", async () => {
    const experiment = await call(
      'tracker/api/2.0/mlflow/experiments/get-by-name?experiment_name=mnist',
      { tracker: open!.url }
    );
    assert.equal(experiment.status, 200);
    const { experiment_id } = (
      (await experiment.json()) as { experiment: { experiment_id: string } }
    ).experiment;
    const search = await call('tracker/api/2.0/mlflow/runs/search', {
      method: 'POST',
      tracker: open!.url,
      body: { experiment_ids: [experiment_id], order_by: ['metrics.acc DESC'] }
    });
    assert.equal(search.status, 200);
    const runs = (
      (await search.json()) as { runs: Array<{ info: { run_name: string; run_id: string } }> }
    ).runs;
    assert.deepEqual(
      runs.map(r => r.info.run_name),
      ['big', 'small', 'tiny']
    );
    const history = await call(
      `tracker/api/2.0/mlflow/metrics/get-history?run_id=${runs[0].info.run_id}&metric_key=loss`,
      { tracker: open!.url }
    );
    assert.equal(history.status, 200);
    assert.equal(((await history.json()) as { metrics: unknown[] }).metrics.length, 3);
  });

  it("passes the tracker's bearer token on, and never Jupyter's credentials", async () => {
    const path = 'tracker/api/2.0/mlflow/experiments/get-by-name?experiment_name=mnist';
    // Jupyter's own Authorization header is not forwarded: the guarded tracker refuses.
    assert.equal((await call(path, { tracker: guarded!.url })).status, 401);
    const withToken = await call(path, { tracker: guarded!.url, trackerToken: TRACKER_TOKEN });
    assert.equal(withToken.status, 200);
  });

  it('refuses anonymous requests, writes, bad addresses and unreachable trackers', async () => {
    const read = 'tracker/api/2.0/mlflow/experiments/get-by-name?experiment_name=mnist';
    assert.equal((await call(read, { tracker: open!.url }, false)).status, 403);
    assert.equal((await call('clean', { method: 'POST', body: {} }, false)).status, 403);
    const write = await call('tracker/api/2.0/mlflow/experiments/create', {
      method: 'POST',
      tracker: open!.url,
      body: { name: 'sneaky' }
    });
    assert.equal(write.status, 403);
    const after = await call(
      'tracker/api/2.0/mlflow/experiments/get-by-name?experiment_name=sneaky',
      {
        tracker: open!.url
      }
    );
    assert.equal(after.status, 404);
    assert.equal((await call(read, { tracker: 'file:///etc/passwd' })).status, 400);
    assert.equal((await call(read)).status, 400);
    assert.equal((await call(read, { tracker: 'http://127.0.0.1:9' })).status, 502);
  });

  it('runs `scanflow clean` for one run, and refuses a run id that is not one', async () => {
    const bad = await call('clean', { method: 'POST', body: { run: 'x; rm -rf /' } });
    assert.equal(bad.status, 400);
    const docker = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
      encoding: 'utf8'
    });
    const run = `sf-clean-test-${randomBytes(4).toString('hex')}`;
    if (docker.status === 0) {
      // A leftover of a run that no longer exists: a labelled network.
      const created = spawnSync(
        'docker',
        ['network', 'create', '--label', `scanflow.run=${run}`, run],
        { encoding: 'utf8' }
      );
      assert.equal(created.status, 0, created.stderr);
    }
    const response = await call('clean', { method: 'POST', body: { run } });
    assert.equal(response.status, 200, jupyter!.log().slice(-3000));
    const result = (await response.json()) as { exitCode: number; stdout: string; stderr: string };
    if (docker.status === 0) {
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /removed 0 containers, 1 networks, 0 volumes/);
      const left = spawnSync(
        'docker',
        ['network', 'ls', '-q', '--filter', `label=scanflow.run=${run}`],
        {
          encoding: 'utf8'
        }
      );
      assert.equal(left.stdout.trim(), '');
    } else {
      // No Docker engine: the CLI's own explanation comes back.
      assert.notEqual(result.exitCode, 0);
      assert.match(result.stderr, /docker/i);
    }
  });

  it('starts `scanflow run` of a workflow file with the chosen executor, logging to a file', async () => {
    const definition = {
      kind: 'workflow',
      name: 'from-lab',
      steps: [
        {
          kind: 'step',
          name: 'say',
          image: 'scanflow/node:20',
          command: ['node', '-e', "console.log('hello from the lab')"]
        }
      ]
    };
    writeFileSync(join(labRoot, 'from-lab.json'), JSON.stringify(definition));
    const response = await call('run', {
      method: 'POST',
      body: { path: 'from-lab.json', executor: 'local' }
    });
    assert.equal(response.status, 200, jupyter!.log().slice(-3000));
    const { log } = (await response.json()) as { log: string };
    assert.match(log, /^scanflow-logs\/from-lab\.json\.\d{8}-\d{6}\.log$/);
    const text = (): string => readFileSync(join(labRoot, log), 'utf8');
    for (let i = 0; i < 600 && !/^run \S+ (succeeded|failed)/m.test(text()); i++) {
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    assert.match(text(), /^\$ scanflow run from-lab\.json --executor local$/m);
    assert.match(text(), /hello from the lab/);
    assert.match(text(), /local executor/);
    assert.match(text(), /^run \S+ succeeded: 1 steps/m);

    // Only workflow files under the server's root, and only known executors.
    const refused = async (body: unknown): Promise<number> =>
      (await call('run', { method: 'POST', body })).status;
    assert.equal(await refused({ path: 'from-lab.json', executor: 'kubernetes' }), 400);
    assert.equal(await refused({ path: '../etc/passwd.json' }), 404);
    assert.equal(await refused({ path: 'notes.txt' }), 400);
    assert.equal(await refused(['from-lab.json']), 400);
    assert.equal(existsSync(join(labRoot, '..', 'etc')), false);
  });

  /** A one-step workflow file under the lab root, run by the server with the local executor. */
  const startRun = async (name: string, script: string): Promise<string> => {
    const definition = {
      kind: 'workflow',
      name,
      steps: [
        { kind: 'step', name: 'step', image: 'scanflow/node:20', command: ['node', '-e', script] }
      ]
    };
    writeFileSync(join(labRoot, `${name}.json`), JSON.stringify(definition));
    const response = await call('run', {
      method: 'POST',
      body: { path: `${name}.json`, executor: 'local' }
    });
    assert.equal(response.status, 200, jupyter!.log().slice(-3000));
    const { id } = (await response.json()) as { id: string };
    assert.match(id, /^[0-9a-f]{16}$/);
    return id;
  };

  interface Progress {
    state: string;
    exitCode: number | null;
    text: string;
    offset: number;
  }

  /** Reads a run's log from `offset` on until `until` holds for what was read (or 60 s pass). */
  const follow = async (
    id: string,
    offset: number,
    until: (read: { text: string; last: Progress }) => boolean
  ): Promise<{ text: string; last: Progress }> => {
    let text = '';
    for (let i = 0; i < 600; i++) {
      const response = await call(`run/${id}?offset=${offset}`);
      assert.equal(response.status, 200);
      const last = (await response.json()) as Progress;
      text += last.text;
      offset = last.offset;
      if (until({ text, last })) return { text, last };
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    assert.fail(`run ${id} never got there; read:\n${text}`);
  };

  it('follows a run from the lab: its log from an offset while it runs, then how it ended', async () => {
    const go = join(labRoot, 'go');
    const id = await startRun(
      'followed',
      `console.log('first line'); setInterval(() => { if (require('fs').existsSync(${JSON.stringify(go)})) { console.log('second line'); process.exit(0); } }, 100);`
    );
    const start = await follow(id, 0, ({ text }) => text.includes('first line'));
    assert.equal(start.last.state, 'running');
    assert.equal(start.last.exitCode, null);
    assert.match(start.text, /^\$ scanflow run followed\.json --executor local$/m);
    assert.doesNotMatch(start.text, /second line/);

    writeFileSync(go, '');
    const end = await follow(id, start.last.offset, ({ last }) => last.state !== 'running');
    assert.equal(end.last.state, 'succeeded');
    assert.equal(end.last.exitCode, 0);
    // From the offset on: what came after the first line only, to the end of the run.
    assert.doesNotMatch(end.text, /first line/);
    assert.match(end.text, /second line/);
    assert.match(end.text, /^run \S+ succeeded: 1 steps/m);
    const again = (await (await call(`run/${id}?offset=${end.last.offset}`)).json()) as Progress;
    assert.deepEqual(again, { ...end.last, text: '' });

    const failing = await startRun('failing', 'process.exit(3)');
    const failed = await follow(failing, 0, ({ last }) => last.state !== 'running');
    assert.equal(failed.last.state, 'failed');
    assert.equal(failed.last.exitCode, 1);

    assert.equal((await call(`run/${id}?offset=-1`)).status, 400);
    assert.equal((await call(`run/${'0'.repeat(16)}`)).status, 404);
    assert.equal((await call(`run/${id}`, {}, false)).status, 403);
  });

  it('cancels a run from the lab: SIGINT, as Ctrl-C, and the run ends cancelled', async () => {
    const id = await startRun('endless', "console.log('waiting'); setInterval(() => {}, 1000);");
    await follow(id, 0, ({ text }) => text.includes('waiting'));
    const response = await call(`run/${id}`, { method: 'DELETE' });
    assert.equal(response.status, 200);
    const end = await follow(id, 0, ({ last }) => last.state !== 'running');
    assert.equal(end.last.state, 'cancelled');
    assert.match(end.text, /was cancelled/);
  });
});
