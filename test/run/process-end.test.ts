/**
 * No run outlives the process that started it: a tslab kernel restarted or shut down from the
 * notebook, a Node process killed with SIGKILL. The reaper (src/run/reaper.ts) removes what
 * the run could not (containers on Docker, step processes on the local executor); it touches
 * nothing of runs that ended normally nor of other processes, and goes away when there is nothing
 * left to watch.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { clean, runWorkflow } from '../../src/run';
import { reaper } from '../../src/run/reaper';
import { ArtifactStore, SqliteStore, defaultArtifactsDir, loadRecordedRun } from '../../src/track';
import {
  docker,
  isRunning,
  leftovers,
  nodeStep,
  processExists,
  removeRunVolumes,
  settle,
  stepPids,
  testRunId,
  wf
} from './helpers';

const root = join(__dirname, '..', '..');
const python = join(root, '.venv', 'bin', 'python');
const notebooks = join(root, 'examples', 'notebooks');
const nothingLeft = { containers: [], networks: [], volumes: [] };
type Leftovers = Awaited<ReturnType<typeof leftovers>>;
const gone = (left: Leftovers): boolean =>
  left.containers.length + left.networks.length + left.volumes.length === 0;

/** Another process's run in progress: a network with its label, which nobody here may remove. */
const foreign = testRunId('reaper-foreign');
const foreignNetwork = `scanflow-${foreign}`;
const runIds = [foreign];

after(async () => {
  await docker
    .getNetwork(foreignNetwork)
    .remove()
    .catch(() => undefined);
  await Promise.all(runIds.map(removeRunVolumes));
});

async function foreignRunIsThere(): Promise<boolean> {
  const networks = await docker.listNetworks({
    filters: JSON.stringify({ label: [`scanflow.run=${foreign}`] })
  });
  return networks.length === 1;
}

interface Message {
  cell?: number;
  type: string;
  alive?: boolean;
  content?: { status?: string; name?: string; text?: string };
}

/** Runs cells in a real tslab kernel (fixtures/kernel_session.py); returns its messages. */
function kernelSession(cells: object[]): Message[] {
  assert.ok(existsSync(python), 'run bash scripts/setup.sh first (.venv is missing)');
  const driver = spawnSync(
    python,
    [join(__dirname, 'fixtures', 'kernel_session.py'), 'tslab', notebooks],
    { input: JSON.stringify(cells), encoding: 'utf8', timeout: 300_000 }
  );
  assert.equal(driver.status, 0, `${driver.stderr}\n${driver.stdout.slice(-3000)}`);
  return driver.stdout
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line) as Message);
}

/**
 * A cell that starts a run whose step ignores SIGTERM, with a stop grace far longer than Jupyter
 * waits for a kernel to end: the run cannot clean up before the kernel is killed.
 */
const stubbornRun = (runId: string): string => `
const stubborn = workflow('reaped', [
  step('sleep', { image: 'scanflow/node:20', command: ['node', '-e', "process.on('SIGTERM',()=>{});console.log('up');setInterval(()=>{},1000)"] })
]);
const run = runWorkflow(stubborn, { executor: 'docker', runId: '${runId}', docker: { stopGraceSeconds: 600 } });
run.on(event => { if (event.type === 'step-log') console.log(event.step, event.line); });
await run.done;`;

describe('when the process of a run ends before the run', () => {
  test('a tslab kernel restarted, then shut down, in the middle of a run leaves nothing of it', async () => {
    const restarted = testRunId('kernel-restarted');
    const shutDown = testRunId('kernel-shutdown');
    const afterRestart = testRunId('kernel-after');
    runIds.push(restarted, shutDown, afterRestart);
    await docker.createNetwork({ Name: foreignNetwork, Labels: { 'scanflow.run': foreign } });
    const cells = [
      {
        code: `import { runWorkflow, workflow, step } from 'scanflow';${stubbornRun(restarted)}`,
        restart_on: 'reaped.sleep up'
      },
      // The new kernel runs cells, and workflows.
      {
        code: `import { runWorkflow, workflow, step } from 'scanflow';
const quick = workflow('after', [step('hi', { image: 'scanflow/node:20', command: ['node', '-e', "console.log('hi')"] })]);
const done = await runWorkflow(quick, { executor: 'docker', runId: '${afterRestart}' }).done;
console.log('after', done.status, 6 * 7);`
      },
      { code: stubbornRun(shutDown), shutdown_on: 'reaped.sleep up' }
    ];
    const messages = kernelSession(cells);
    const of = (cell: number, type: string): Message[] =>
      messages.filter(m => m.cell === cell && m.type === type);
    assert.equal(of(0, 'restarted').length, 1, 'the kernel was never restarted');
    assert.equal(of(2, 'shutdown').length, 1, 'the kernel was never shut down');

    // The restarted kernel works.
    assert.equal(of(1, 'reply')[0]?.content?.status, 'ok');
    const printed = of(1, 'stream')
      .map(m => m.content?.text ?? '')
      .join('');
    assert.equal(printed, 'after succeeded 42\n');

    // Nothing is left of the runs the kernels could not finish: no container, network or volume.
    assert.deepEqual(await settle(() => leftovers(restarted), gone), nothingLeft);
    assert.deepEqual(await settle(() => leftovers(shutDown), gone), nothingLeft);
    assert.ok(await foreignRunIsThere(), "another process's run was touched");
  });

  test('a tslab kernel told to end (SIGTERM) mid-run first ends the run as cancelled, then itself', async () => {
    const runId = testRunId('kernel-sigterm');
    runIds.push(runId);
    const folder = mkdtempSync(join(tmpdir(), 'scanflow-sigterm-'));
    const store = join(folder, 'tracking.db');
    try {
      const messages = kernelSession([
        {
          code: `import { runWorkflow, workflow, step } from 'scanflow';
const ended = workflow('ended', [step('sleep', { image: 'scanflow/node:20', command: ['node', '-e', "console.log('up');setInterval(()=>{},1000)"] })]);
const run = runWorkflow(ended, { executor: 'docker', runId: '${runId}', store: '${store}' });
run.on(event => { if (event.type === 'step-log') console.log(event.step, event.line); });
await run.done;`,
          terminate_on: 'ended.sleep up'
        }
      ]);
      const [terminated] = messages.filter(m => m.type === 'terminated');
      assert.equal(terminated?.alive, false, 'the kernel did not end on SIGTERM');
      // The kernel cleaned up before it ended: its tracker recorded the end of the run.
      const tracking = new SqliteStore(store);
      try {
        const recorded = await loadRecordedRun(
          tracking,
          new ArtifactStore(defaultArtifactsDir(store)),
          'ended',
          runId
        );
        assert.equal(recorded.status, 'cancelled');
      } finally {
        tracking.close();
      }
      assert.deepEqual(await settle(() => leftovers(runId), gone), nothingLeft);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('a Node process killed with SIGKILL mid-run leaves nothing of that run, and keeps what it should', async () => {
    const kept = testRunId('sigkill-kept');
    const killed = testRunId('sigkill-killed');
    runIds.push(kept, killed);
    if (!(await foreignRunIsThere())) {
      await docker.createNetwork({ Name: foreignNetwork, Labels: { 'scanflow.run': foreign } });
    }
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'fixtures', 'two-runs.ts'), kept, killed],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const up = await new Promise<boolean>(resolve => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('killed.long up')) resolve(true);
      });
      child.on('exit', () => resolve(false));
    });
    assert.ok(up, `the long step never started: ${stdout}${stderr}`);
    assert.match(stdout, /^kept succeeded$/m);
    assert.equal((await leftovers(killed)).containers.length, 1);
    child.kill('SIGKILL');

    assert.deepEqual(await settle(() => leftovers(killed), gone), nothingLeft);
    // The run that had ended keeps its outputs volume; the other process's run is untouched.
    assert.deepEqual(await leftovers(kept), {
      ...nothingLeft,
      volumes: [`scanflow-${kept}-outputs`]
    });
    assert.ok(await foreignRunIsThere(), "another process's run was touched");
  });

  test('a Node process killed with SIGKILL mid-run on the local executor leaves none of its step processes, and of its folder only the outputs', async () => {
    const workdir = mkdtempSync(join(tmpdir(), 'scanflow-sigkill-local-'));
    const killed = localRun(testRunId('sigkill-local'), workdir);
    const kept = localRun(testRunId('sigkill-local-kept'), workdir, 'outputs');
    const other = localRun(testRunId('sigkill-local-other'), workdir);
    try {
      const [killedPids, keptPids, otherPids] = await Promise.all([
        killed.pids,
        kept.pids,
        other.pids
      ]);
      const pids = killedPids.concat(keptPids);
      assert.ok(pids.concat(otherPids).every(isRunning), 'the steps were not running');
      killed.child.kill('SIGKILL');
      kept.child.kill('SIGKILL');

      const stillRunning = async (): Promise<number[]> => pids.filter(isRunning);
      assert.deepEqual(await settle(stillRunning, left => left.length === 0, 10_000), []);
      // The reaper removes the runs' folders, all but the outputs a step wrote.
      const folder = async (run: LocalRun): Promise<string[]> => entries(run.dir);
      assert.deepEqual(
        await settle(
          () => folder(killed),
          left => left.length === 0,
          10_000
        ),
        []
      );
      assert.deepEqual(
        await settle(
          () => folder(kept),
          left => !left.includes('steps'),
          10_000
        ),
        ['outputs', 'run.json']
      );
      assert.equal(readFileSync(join(kept.dir, 'outputs', 'result.txt'), 'utf8'), '42\n');
      // The run of another process goes on, and a cancel (Ctrl-C) ends all of its processes.
      assert.ok(otherPids.every(isRunning), "another process's run was touched");
      assert.deepEqual(entries(other.dir), ['outputs', 'run.json', 'steps']);
      other.child.kill('SIGINT');
      assert.equal(await other.exited, 'run cancelled');
      assert.deepEqual(otherPids.filter(isRunning), []);
      assert.equal(existsSync(other.dir), false);
    } finally {
      [killed, kept, other].forEach(run => run.child.kill('SIGKILL'));
      rmSync(workdir, { recursive: true, force: true });
    }
  });

  test('scanflow clean removes the folder of a local run whose process and reaper were killed, not of one in progress, with or without Docker', async () => {
    const workdir = mkdtempSync(join(tmpdir(), 'scanflow-clean-local-'));
    const runId = testRunId('clean-local');
    const run = localRun(runId, workdir, 'outputs');
    let pids: number[] = [];
    try {
      pids = await run.pids;
      const nothing = { containers: [], networks: [], volumes: [], folders: [] };
      assert.deepEqual(await clean({ runId, workdir }), nothing, 'a run in progress was cleaned');
      assert.deepEqual(entries(run.dir), ['outputs', 'run.json', 'steps']);

      // As if the machine had lost both (an OOM kill, say): nothing has removed the folder.
      const [watcher] = childrenOf(run.child.pid!).filter(pid =>
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('reaper-process')
      );
      assert.ok(watcher !== undefined, 'the run has no reaper');
      process.kill(watcher, 'SIGKILL');
      run.child.kill('SIGKILL');
      await run.exited;
      killGroup(pids[0]);

      // --keep-volumes keeps the outputs; a plain clean removes the rest.
      const dir = [run.dir];
      assert.deepEqual(await clean({ runId, workdir, volumes: false }), {
        ...nothing,
        folders: dir
      });
      assert.deepEqual(entries(run.dir), ['outputs', 'run.json']);
      // On a machine where no Docker engine answers, the folders are cleaned all the same.
      const noDocker = join(workdir, 'no-docker.sock');
      const { dockerUnreachable, ...removed } = await clean({
        runId,
        workdir,
        docker: { socketPath: noDocker }
      });
      assert.deepEqual(removed, { ...nothing, folders: dir });
      assert.match(dockerUnreachable ?? '', /Docker engine at .*no-docker\.sock does not answer/);
      assert.equal(existsSync(run.dir), false);
      assert.deepEqual(await clean({ runId, workdir }), nothing);
    } finally {
      run.child.kill('SIGKILL');
      if (pids.length > 0) killGroup(pids[0]);
      rmSync(workdir, { recursive: true, force: true });
    }
  });

  test('in a process that lives on, a run that ends normally keeps its outputs and the reaper goes away', async () => {
    const runId = testRunId('reaper-normal');
    runIds.push(runId);
    if (!(await foreignRunIsThere())) {
      await docker.createNetwork({ Name: foreignNetwork, Labels: { 'scanflow.run': foreign } });
    }
    const run = runWorkflow(
      wf('normal', [nodeStep('write', "fs.mkdirSync(O+'/result');", { outputs: ['result'] })]),
      { executor: 'docker', runId, tracking: false, handleSignals: false }
    );
    let watcher: number | undefined;
    run.on(event => {
      if (event.type === 'step-running') watcher = reaper.pid;
    });
    const result = await run.done;
    assert.equal(result.status, 'succeeded');
    assert.ok(watcher !== undefined, 'no reaper watched the run');

    // With no run left to watch, the reaper exits while this process goes on.
    assert.equal(
      await settle(
        async () => processExists(watcher!),
        alive => !alive
      ),
      false
    );
    assert.deepEqual(await leftovers(runId), {
      ...nothingLeft,
      volumes: [`scanflow-${runId}-outputs`]
    });
    assert.ok(await foreignRunIsThere(), "another process's run was touched");
  });
});

interface LocalRun {
  child: ChildProcessWithoutNullStreams;
  /** The run's folder. */
  dir: string;
  pids: Promise<number[]>;
  exited: Promise<string>;
}

/**
 * A Node process running fixtures/local-run.ts: `pids` resolves to its long step's shell and
 * background job once both run, `exited` to the last line it printed.
 */
function localRun(runId: string, workdir: string, outputs?: 'outputs'): LocalRun {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, 'fixtures', 'local-run.ts'),
      runId,
      workdir,
      ...(outputs ? [outputs] : [])
    ],
    { cwd: root }
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<string>(resolve =>
    child.on('close', () => resolve(stdout.trim().split('\n').pop() ?? ''))
  );
  const pids = new Promise<number[]>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const pids = stepPids(stdout.split('\n')[0]);
      if (pids.length === 2) resolve(pids);
    });
    void exited.then(() => reject(new Error(`the step never started: ${stdout}${stderr}`)));
  });
  return { child, dir: join(workdir, runId), pids, exited };
}

/** What a folder holds, sorted; nothing when it does not exist. */
function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter(entry => /^\d+$/.test(entry))
    .map(Number)
    .filter(child => {
      try {
        return readFileSync(`/proc/${child}/status`, 'utf8').includes(`\nPPid:\t${pid}\n`);
      } catch {
        return false;
      }
    });
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
