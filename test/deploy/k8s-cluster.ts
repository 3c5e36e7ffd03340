/**
 * A real Kubernetes API server for the deploy tests: scripts/k8s/cluster.sh starts etcd and
 * kube-apiserver (with Argo Workflows' CRDs) from the binaries that scripts/k8s/build.sh caches,
 * and with `simulated` also a controller manager, a scheduler and kwok with 2 fake Ready nodes.
 * Each cluster lives in its own temporary folder, on its own free loopback ports.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const clusterScript = join(root, 'scripts', 'k8s', 'cluster.sh');

export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  /** Path of a kubeconfig with admin rights (token auth) on the cluster. */
  kubeconfig: string;
  /** The cluster's folder: logs (*.log), pids, certificates, etcd's data. */
  dir: string;
  /** Stops every process of the cluster and removes its folder. */
  stop(): Promise<void>;
}

/** Runs a program (argv, no shell) and collects its output; a signal death counts as code 128+n. */
function run(program: string, args: string[], input?: string): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })
    );
    child.stdin.on('error', () => undefined); // a program that exits without reading its input
    child.stdin.end(input ?? '');
  });
}

/**
 * Starts a cluster in a fresh temporary folder (20 to 40 s, most of it installing the CRDs).
 * Throws with the script's output (ending with the servers' last log lines) if it does not come up.
 */
export async function startCluster(options: { simulated?: boolean } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-k8s-test-'));
  const stop = async (): Promise<void> => {
    const result = await run('bash', [clusterScript, 'down', '--dir', dir]);
    rmSync(dir, { recursive: true, force: true });
    if (result.code !== 0) {
      throw new Error(`cluster.sh down failed (${result.code}): ${result.stderr}`);
    }
  };
  const args = [clusterScript, 'up', '--dir', dir, ...(options.simulated ? ['--simulated'] : [])];
  const result = await run('bash', args);
  const kubeconfig = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code !== 0 || !kubeconfig.endsWith('kubeconfig')) {
    await stop().catch(() => undefined);
    throw new Error(`cluster.sh up failed (${result.code}):\n${result.stderr}${result.stdout}`);
  }
  return { kubeconfig, dir, stop };
}

/** Runs kubectl against a cluster, with `input` as its standard input (for `-f -`). */
export function kubectl(
  kubeconfig: string,
  args: string[],
  input?: string
): Promise<CommandOutput> {
  return run('kubectl', ['--kubeconfig', kubeconfig, ...args], input);
}
