/** Shared pieces of the tracker tests: the venv's Python, temporary folders, a real `mlflow server`. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const PYTHON = join(ROOT, '.venv/bin/python');
export const MLFLOW = join(ROOT, '.venv/bin/mlflow');

export function requirePython(): void {
  if (!existsSync(PYTHON)) {
    throw new Error(
      `${PYTHON} is missing: run scripts/setup.sh (it creates the venv with mlflow).`
    );
  }
}

export function temporaryFolder(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `scanflow-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs a Python script from test/track with the venv's interpreter; resolves with its stdout. */
export function runPython(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {}
): Promise<string> {
  requirePython();
  return new Promise((resolvePromise, reject) => {
    execFile(
      PYTHON,
      [join(ROOT, 'test/track', script), ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${script} failed: ${error.message}\n${stderr}`));
        else resolvePromise(stdout);
      }
    );
  });
}

/** A free TCP port on 127.0.0.1 (for servers that cannot be told to pick one themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
    server.on('error', reject);
  });
}

export async function waitForHttp(
  url: string,
  timeoutMs: number,
  child?: ChildProcess
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(`the server exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise(r => setTimeout(r, 250));
  }
}

export interface MlflowServer {
  url: string;
  stop: () => Promise<void>;
}

/** Starts a real `mlflow server` (SQLite backend, artifacts proxied) on a free port. */
export async function startMlflowServer(folder: string, workers = 1): Promise<MlflowServer> {
  requirePython();
  const port = await freePort();
  const child = spawn(
    MLFLOW,
    [
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      String(workers),
      '--backend-store-uri',
      `sqlite:///${join(folder, 'mlflow.db')}`,
      '--artifacts-destination',
      join(folder, 'mlartifacts')
    ],
    { cwd: folder, stdio: ['ignore', 'ignore', 'pipe'], detached: true }
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/health`, 240_000, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`mlflow server did not start: ${(error as Error).message}\n${log}`);
  }
  return {
    url,
    stop: () =>
      new Promise<void>(resolvePromise => {
        if (child.exitCode !== null) return resolvePromise();
        child.once('exit', () => resolvePromise());
        // The server runs workers in its own process group: stop the whole group we started.
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      })
  };
}
