/** Shared by the run tests: real Docker, real processes, and checks of what a run leaves behind. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { RunEvent } from '../../src/run';
import type { NodeSpec, ServiceSpec, StepSpec, WorkflowSpec } from '../../src/workflow';

export const docker = new Docker();
export const NODE_IMAGE = 'scanflow/node:20';
const root = join(__dirname, '..', '..');

/** A unique run id for a test, so that checks only ever look at that test's objects. */
export function testRunId(name: string): string {
  return `test-${name}-${process.pid}-${Date.now().toString(36)}`;
}

/** A step running a short Node script, with SCANFLOW_OUTPUTS as O and SCANFLOW_INPUTS as I. */
export function nodeStep(name: string, source: string, extra: Partial<StepSpec> = {}): StepSpec {
  return {
    kind: 'step',
    name,
    image: NODE_IMAGE,
    command: [
      'node',
      '-e',
      `const fs=require('fs'),O=process.env.SCANFLOW_OUTPUTS,I=process.env.SCANFLOW_INPUTS;${source}`,
      '--'
    ],
    ...extra
  };
}

/**
 * A service running a small HTTP server in Node on SCANFLOW_SERVICE_PORT: GET /health answers
 * "ok", anything else "hello from replica N". `host` is the address it listens on.
 */
export function httpService(
  name: string,
  extra: Partial<ServiceSpec> & { host?: string } = {}
): ServiceSpec {
  const { host = '0.0.0.0', ...fields } = extra;
  const server =
    "require('http').createServer((q,s)=>s.end(q.url==='/health'?'ok':'hello from replica '+process.env.SCANFLOW_REPLICA))" +
    `.listen(Number(process.env.SCANFLOW_SERVICE_PORT),'${host}',()=>console.log('listening'))`;
  return {
    kind: 'service',
    name,
    image: NODE_IMAGE,
    command: ['node', '-e', server],
    port: 8080,
    ...fields
  };
}

/**
 * A step that asks service `name` for "/" at the URL it was given, prints the answer, and fails
 * unless the service answered as httpService does.
 */
export function callerStep(name: string, service: string): StepSpec {
  const variable = `SCANFLOW_SERVICE_${service.toUpperCase()}_URL`;
  return nodeStep(
    name,
    `fetch(process.env.${variable}+'/').then(r=>r.text()).then(t=>{console.log('answer: '+t);` +
      "if(!t.startsWith('hello from replica'))process.exit(3)}).catch(e=>{console.error(String(e.cause??e));process.exit(2)})"
  );
}

/** A step running a shell script (local executor only: the Node image has no shell). */
export function shellStep(name: string, script: string): StepSpec {
  return { kind: 'step', name, image: NODE_IMAGE, command: ['sh', '-c', script] };
}

/** The process ids in a step's line `pids <shell> <background job>`. */
export function stepPids(line: string): number[] {
  return (/^pids (\d+) (\d+)$/.exec(line) ?? []).slice(1).map(Number);
}

export function wf(name: string, steps: NodeSpec[]): WorkflowSpec {
  return { kind: 'workflow', name, steps };
}

/** The containers, networks and volumes of a run that still exist. */
export async function leftovers(
  runId: string
): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const filters = JSON.stringify({ label: [`scanflow.run=${runId}`] });
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters })
  ]);
  return {
    containers: containers.map(c => c.Names[0]),
    networks: networks.map(n => n.Name),
    volumes: (volumes.Volumes ?? []).map(v => v.Name)
  };
}

/** Removes what a test's run kept on purpose (its outputs volume). */
export async function removeRunVolumes(runId: string): Promise<void> {
  const { volumes } = await leftovers(runId);
  await Promise.all(volumes.map(v => docker.getVolume(v).remove({ force: true })));
}

/** Reads a file from a Docker volume with a throwaway container (labelled as the test's run). */
export async function readVolumeFile(volume: string, path: string, runId: string): Promise<string> {
  const result = await runCommand('docker', [
    'run',
    '--rm',
    '--label',
    `scanflow.run=${runId}`,
    '-v',
    `${volume}:/v:ro`,
    NODE_IMAGE,
    'cat',
    `/v/${path}`
  ]);
  if (result.code !== 0) {
    throw new Error(`reading ${path} from ${volume} failed: ${result.stderr}`);
  }
  return result.stdout;
}

/** Step log lines by step id. */
export function logsByStep(events: readonly RunEvent[]): Map<string, string[]> {
  const logs = new Map<string, string[]>();
  for (const event of events) {
    if (event.type === 'step-log') {
      logs.set(event.step, [...(logs.get(event.step) ?? []), event.line]);
    }
  }
  return logs;
}

const folders: string[] = [];
process.on('exit', () => folders.forEach(dir => rmSync(dir, { recursive: true, force: true })));

/** Writes a definition as JSON into a fresh folder (removed when the tests end); returns its path. */
export function writeDefinition(spec: WorkflowSpec, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-run-test-'));
  folders.push(dir);
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
  }
  const file = join(dir, 'workflow.json');
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCommand(
  program: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    onStdout?: (text: string, child: ReturnType<typeof spawn>) => void;
  } = {}
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: root,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the `scanflow` command from the sources, as a separate process. */
export function scanflow(
  args: string[],
  options: Parameters<typeof runCommand>[2] = {}
): Promise<CommandResult> {
  return runCommand(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'fixtures', 'scanflow.ts'), ...args],
    options
  );
}

/**
 * Asks `probe` again (every half second, for at most `limitMs`) until `enough` holds of its
 * answer, and returns the last answer: the caller asserts on it. For what happens in the
 * background, such as the reaper's sweep; the limit is generous, not a measure.
 */
export async function settle<T>(
  probe: () => Promise<T>,
  enough: (answer: T) => boolean,
  limitMs = 60_000
): Promise<T> {
  const end = Date.now() + limitMs;
  let answer = await probe();
  while (!enough(answer) && Date.now() < end) {
    await new Promise(resolve => setTimeout(resolve, 500));
    answer = await probe();
  }
  return answer;
}

/** Whether a process with this id exists (the reaper, say). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process runs (a zombie, killed but not yet reaped by its new parent, does not). */
export function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
