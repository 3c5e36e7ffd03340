/**
 * The Docker CLIs a deployer drives (`docker-compose` or `docker compose`, `docker stack`), run
 * with argv arrays (never a shell), their output collected.
 */
import { spawn } from 'node:child_process';
import { DeployError } from './errors';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void } = {}
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    // Decoded by a stream decoder, not chunk by chunk: a character split across two chunks would
    // otherwise come out as two replacement characters, differently at every run.
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.stderr.on('data', (chunk: string) => {
      const text = chunk;
      stderr += text;
      if (options.onLine) {
        const lines = (partial + text).split(/\r?\n/);
        partial = lines.pop() ?? '';
        lines.filter(Boolean).forEach(options.onLine);
      }
    });
    child.on('error', reject);
    child.on('close', code => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

let composeCommand: Promise<string[]> | undefined;

/** `docker compose` (v2) when the engine's CLI has it, else `docker-compose` (v1). */
export function compose(): Promise<string[]> {
  composeCommand ??= (async () => {
    const v2 = await runCommand('docker', ['compose', 'version']).catch(() => undefined);
    if (v2?.code === 0) return ['docker', 'compose'];
    const v1 = await runCommand('docker-compose', ['version']).catch(() => undefined);
    if (v1?.code === 0) return ['docker-compose'];
    throw new DeployError(
      'neither `docker compose` nor `docker-compose` is installed',
      'install Docker Compose (Debian: apt-get install docker-compose)'
    );
  })();
  return composeCommand;
}

/** Runs compose with `args`; throws DeployError with compose's last lines when it fails. */
export async function runCompose(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}
): Promise<CommandResult> {
  const [command, ...first] = await compose();
  return runCommand(command, [...first, ...args], options);
}

/** The last few lines of a command's error output, for a one-line message. */
export function lastLines(text: string, count = 3): string {
  return text.trim().split(/\r?\n/).slice(-count).join(' / ');
}
