/**
 * Runs the Galata (Playwright) UI tests in ui-tests/ against a real JupyterLab started here: the
 * venv's JupyterLab with the scanflow extension installed and the tslab kernel registered, on a
 * free port of 127.0.0.1, in a fresh root folder where `scanflow` is importable
 * (node_modules/scanflow links to this repository). The browser is Debian's Chromium. For the
 * palette commands: a real tracker with runs (SCANFLOW_TRACKER_URL), another that needs a token
 * (SCANFLOW_GUARDED_TRACKER_URL, SCANFLOW_GUARDED_TRACKER_TOKEN), the lab's root folder
 * (SCANFLOW_UI_ROOT) and, when a Docker engine answers, a labelled network left over by a
 * made-up run (SCANFLOW_CLEAN_RUN).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  root,
  seedRuns,
  startTracker,
  venvBin,
  type Started
} from '../extension/servers';

async function waitForLab(url: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`JupyterLab exited:\n${log()}`);
    try {
      const response = await fetch(`${url}/lab`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 500));
  }
  throw new Error(`JupyterLab did not answer at ${url}:\n${log()}`);
}

describe('the JupyterLab extension in a real JupyterLab and Chromium (Galata)', () => {
  let server: ChildProcess | undefined;
  let labRoot = '';
  let url = '';
  let serverLog = '';
  let tracker: Started | undefined;
  let guarded: Started | undefined;
  const guardedToken = randomBytes(12).toString('hex');
  const cleanRun = `sf-ui-${process.pid}-${Date.now().toString(36)}`;
  let leftover = false;

  before(async () => {
    [tracker, guarded] = await Promise.all([startTracker(), startTracker(guardedToken)]);
    await Promise.all([
      seedRuns(tracker.url, 'mnist'),
      seedRuns(guarded.url, 'mnist', guardedToken)
    ]);
    leftover =
      spawnSync('docker', ['network', 'create', '--label', `scanflow.run=${cleanRun}`, cleanRun])
        .status === 0;
    assert.ok(existsSync(join(venvBin, 'jupyter')), 'run bash scripts/setup.sh first');
    labRoot = mkdtempSync(join(tmpdir(), 'scanflow-ui-'));
    mkdirSync(join(labRoot, 'node_modules'));
    symlinkSync(root, join(labRoot, 'node_modules', 'scanflow'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(
      join(venvBin, 'jupyter'),
      ['lab', '--config', join(root, 'ui-tests', 'jupyter_server_test_config.py')],
      {
        cwd: labRoot,
        detached: true,
        env: {
          ...process.env,
          PATH: `${venvBin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
          SCANFLOW_UI_PORT: String(port),
          JUPYTERLAB_GALATA_ROOT_DIR: labRoot
        },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    );
    server.stdout?.on('data', chunk => (serverLog += chunk));
    server.stderr?.on('data', chunk => (serverLog += chunk));
    await waitForLab(url, server, () => serverLog);
  });

  after(() => {
    if (server?.pid && server.exitCode === null) {
      process.kill(-server.pid, 'SIGTERM');
    }
    if (labRoot) rmSync(labRoot, { recursive: true, force: true });
    tracker?.stop();
    guarded?.stop();
    // Whatever the clean test left (nothing when it passed).
    if (leftover) spawnSync('docker', ['network', 'rm', cleanRun], { stdio: 'ignore' });
  });

  it('passes the Galata tests in ui-tests/', async () => {
    // Spawned asynchronously: a spawnSync here would stop this process reading JupyterLab's and
    // the trackers' output, their pipes would fill and their next log line would block them.
    const playwright = spawn(
      process.execPath,
      [
        join(root, 'node_modules', '@playwright', 'test', 'cli.js'),
        'test',
        '-c',
        join(root, 'ui-tests', 'playwright.config.ts'),
        // SCANFLOW_UI_SPECS="labeling workflow" runs only the spec files whose names match.
        ...(process.env.SCANFLOW_UI_SPECS ?? '').split(/\s+/).filter(Boolean)
      ],
      {
        cwd: join(root, 'ui-tests'),
        env: {
          ...process.env,
          SCANFLOW_UI_URL: url,
          SCANFLOW_TRACKER_URL: tracker?.url ?? '',
          SCANFLOW_GUARDED_TRACKER_URL: guarded?.url ?? '',
          SCANFLOW_GUARDED_TRACKER_TOKEN: guardedToken,
          SCANFLOW_UI_ROOT: labRoot,
          SCANFLOW_CLEAN_RUN: leftover ? cleanRun : ''
        },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    );
    let output = '';
    playwright.stdout.on('data', chunk => (output += chunk));
    playwright.stderr.on('data', chunk => (output += chunk));
    const timer = setTimeout(() => playwright.kill('SIGKILL'), 600_000);
    const status = await new Promise<number | null>(resolve => playwright.once('close', resolve));
    clearTimeout(timer);
    assert.equal(
      status,
      0,
      `playwright failed:\n${output}\n--- jupyter lab ---\n${serverLog.slice(-4000)}`
    );
  });
});
