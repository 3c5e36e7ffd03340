import { DockerClient, LABEL, type DockerOptions } from './docker/client';

export interface CleanOptions {
  /** Only this run's objects (default: every run's). */
  runId?: string;
  /** Also remove the volumes that hold runs' outputs (default true). */
  volumes?: boolean;
  docker?: DockerOptions;
}

export interface CleanReport {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/**
 * `scanflow clean`: removes the containers, networks and volumes that scanflow labelled, those
 * of one run or of every run. Images are kept: they are the build cache.
 */
export async function clean(options: CleanOptions = {}): Promise<CleanReport> {
  const client = new DockerClient(options.docker);
  await client.ping();
  return client.removeLabelled(
    { [LABEL.run]: options.runId },
    { volumes: options.volumes ?? true }
  );
}
