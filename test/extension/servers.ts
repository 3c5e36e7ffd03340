/**
 * Real servers for the extension's tests: a Scanflow tracker (`scanflow tracker`, loopback) seeded
 * with runs through MLflow's REST API, and a Jupyter server from the venv with the
 * jupyterlab_scanflow server extension as `pip install .` installed it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '../track/helpers';

export const root = join(__dirname, '..', '..');
export const venvBin = join(root, '.venv', 'bin');
export { freePort };

export interface Started {
  url: string;
  process: ChildProcess;
  log: () => string;
  stop: () => void;
}

function started(child: ChildProcess, url: string, output: { text: string }): Started {
  return {
    url,
    process: child,
    log: () => output.text,
    stop: () => {
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    }
  };
}

/** `scanflow tracker` on 127.0.0.1 and a free port, with a fresh store. */
export async function startTracker(token?: string): Promise<Started> {
  const store = join(mkdtempSync(join(tmpdir(), 'scanflow-tracker-')), 'tracking.db');
  const args = [join(root, 'bin', 'scanflow.js'), 'tracker', '--port', '0', '--store', store];
  if (token) args.push('--token', token);
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const output = { text: '' };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no tracker:\n${output.text}`)), 60_000);
    const read = (chunk: Buffer): void => {
      output.text += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(output.text);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', code => reject(new Error(`tracker exited (${code}):\n${output.text}`)));
  });
  return started(child, url, output);
}

/** MLflow REST call against a tracker. */
export async function mlflow(
  url: string,
  path: string,
  body: unknown,
  token?: string
): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/api/2.0/mlflow/${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(token ? { Authorization: `Bearer ${token}` } : {})
    },
    body: JSON.stringify(body)
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Three finished runs of experiment `name` with params, a final acc and a loss history. */
export async function seedRuns(url: string, name: string, token?: string): Promise<void> {
  const { experiment_id } = (await mlflow(url, 'experiments/create', { name }, token)) as {
    experiment_id: string;
  };
  const runs: Array<[string, string, number]> = [
    ['tiny', '0.1', 0.71],
    ['small', '0.1', 0.88],
    ['big', '0.01', 0.95]
  ];
  let time = Date.UTC(2026, 10, 29, 12);
  for (const [runName, lr, acc] of runs) {
    time += 60_000;
    const { run } = (await mlflow(
      url,
      'runs/create',
      { experiment_id, run_name: runName, start_time: time },
      token
    )) as { run: { info: { run_id: string } } };
    const id = run.info.run_id;
    await mlflow(
      url,
      'runs/log-batch',
      {
        run_id: id,
        params: [
          { key: 'lr', value: lr },
          { key: 'layers', value: '2' }
        ],
        metrics: [
          { key: 'acc', value: acc, timestamp: time, step: 2 },
          ...[0, 1, 2].map(step => ({
            key: 'loss',
            value: (1 - acc) * (3 - step),
            timestamp: time + step,
            step
          }))
        ]
      },
      token
    );
    await mlflow(
      url,
      'runs/update',
      { run_id: id, status: 'FINISHED', end_time: time + 1000 },
      token
    );
  }
}

/** `jupyter server` from the venv on a free port of 127.0.0.1, token auth, in `rootDir`. */
export async function startJupyter(
  rootDir: string,
  token: string,
  extra: string[] = []
): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    join(venvBin, 'jupyter'),
    [
      'server',
      '--no-browser',
      '--ip=127.0.0.1',
      `--port=${port}`,
      `--ServerApp.root_dir=${rootDir}`,
      `--IdentityProvider.token=${token}`,
      '--allow-root',
      ...extra
    ],
    {
      cwd: rootDir,
      detached: true,
      env: { ...process.env, PATH: `${venvBin}:${dirname(process.execPath)}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  const output = { text: '' };
  child.stdout?.on('data', chunk => (output.text += chunk));
  child.stderr?.on('data', chunk => (output.text += chunk));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`jupyter server exited:\n${output.text}`);
    try {
      const response = await fetch(`${url}/api/status`, {
        headers: { Authorization: `token ${token}` }
      });
      if (response.ok) return started(child, url, output);
    } catch {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 300));
  }
  throw new Error(`jupyter server did not answer:\n${output.text}`);
}
