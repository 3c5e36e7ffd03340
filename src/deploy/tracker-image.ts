/**
 * The tracker image, `scanflow/tracker:<hash>`: a deployment's tracker runs as a service from it.
 * Its program is `scanflow tracker` (src/deploy/tracker-service.ts, bundled into
 * lib/tracker-image/scanflow-tracker.js) with better-sqlite3.
 */
import type { DockerClient } from '../run/docker/client';
import { buildProgramImage, programImageTag, type ProgramImage } from './program-image';
import { TRACKER_PORT } from './plan';

const TRACKER_PROGRAM: ProgramImage = {
  role: 'tracker',
  repository: 'scanflow/tracker',
  bundle: 'tracker-image/scanflow-tracker.js',
  port: TRACKER_PORT,
  command: ['tracker', '--host', '0.0.0.0']
};

/** The tracker image's name: its repository and a hash of its build context. */
export function trackerImageTag(): string {
  return programImageTag(TRACKER_PROGRAM);
}

/** Builds the tracker image unless it exists; returns its tag and whether it was there. */
export function buildTrackerImage(
  client: DockerClient
): Promise<{ image: string; cached: boolean }> {
  return buildProgramImage(client, TRACKER_PROGRAM);
}
