import { DockerClient, LABEL, type DockerOptions } from './docker/client';
import { DaemonUnreachableError } from './errors';
import { removeEndedRunFolders, runsRoot } from './run-folder';

export interface CleanOptions {
  /** Only this run's objects (default: every run's). */
  runId?: string;
  /** Also remove the volumes and folders that hold runs' outputs (default true). */
  volumes?: boolean;
  docker?: DockerOptions;
  /** Where local runs keep their folders (LocalExecutorOptions.workdir). */
  workdir?: string;
}

export interface CleanReport {
  containers: string[];
  networks: string[];
  volumes: string[];
  /** Local runs' folders (of runs whose process has ended). */
  folders: string[];
  /** Why Docker's objects were not looked at, when no Docker engine answers (a machine that
   *  runs workflows on the local executor only). */
  dockerUnreachable?: string;
}

/**
 * `scanflow clean`: removes the containers, networks and volumes that scanflow labelled, those
 * of one run or of every run, and what is left of the folders of local runs whose process has
 * ended (a run in progress keeps its folder). Images are kept: they are the build cache.
 */
export async function clean(options: CleanOptions = {}): Promise<CleanReport> {
  const volumes = options.volumes ?? true;
  // First, so that a machine without Docker gets its folders removed too.
  const folders = removeEndedRunFolders(runsRoot(options.workdir), {
    runId: options.runId,
    keepOutputs: !volumes
  });
  const client = new DockerClient(options.docker);
  try {
    await client.ping();
  } catch (error) {
    if (!(error instanceof DaemonUnreachableError)) throw error;
    return { containers: [], networks: [], volumes: [], folders, dockerUnreachable: error.message };
  }
  // Deployments live until `scanflow undeploy`, by design.
  const removed = await client.removeLabelled(
    { [LABEL.run]: options.runId },
    { volumes, except: 'scanflow.deployment' }
  );
  return { ...removed, folders };
}
