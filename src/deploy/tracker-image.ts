/**
 * The tracker image, `scanflow/tracker:<hash>`: a deployment's tracker runs as a service from it.
 * It is built on this machine from this package (no registry, no npm inside the build): the Node
 * base image, the bundled `scanflow tracker` (lib/tracker-image/scanflow-tracker.js) and
 * better-sqlite3's native module. Tagged by a hash of exactly those files, so that the files a
 * deployment names can be written without Docker, and an unchanged tracker is not built again.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pack } from 'tar-fs';
import type { DockerClient } from '../run/docker/client';
import { TRACKER_PORT } from './plan';
import { DeployError } from './errors';

export const TRACKER_REPOSITORY = 'scanflow/tracker';
/** The base image: any image with a Node 20 `node` on the PATH and glibc. */
export const DEFAULT_TRACKER_BASE = process.env.SCANFLOW_NODE_IMAGE ?? 'scanflow/node:20';
/** Where the tracker's files are inside the image. */
const APP = '/opt/scanflow';

/** The build context: file path inside the context -> content. */
function contextFiles(base: string): Map<string, Buffer> {
  const bundle = resolve(__dirname, '../../lib/tracker-image/scanflow-tracker.js');
  // From src/ (tsx) or lib/ (tsc) alike: both sit two levels below the package root.
  const bundlePath = [bundle, resolve(__dirname, '../tracker-image/scanflow-tracker.js')].find(
    existsSync
  );
  if (bundlePath === undefined) {
    throw new DeployError(
      `the tracker image's program ${bundle} is missing`,
      'build the package first (`npm run build:lib`)'
    );
  }
  const files = new Map<string, Buffer>();
  files.set('app/scanflow-tracker.js', readFileSync(bundlePath));
  // The bundle reads its version from ../../package.json, as the CLI does.
  const { version } = JSON.parse(
    readFileSync(resolve(__dirname, '../../package.json'), 'utf8')
  ) as { version: string };
  files.set('package.json', Buffer.from(JSON.stringify({ name: 'scanflow', version }) + '\n'));
  for (const [name, paths] of Object.entries(NATIVE_MODULES)) {
    const root = dirname(require.resolve(`${name}/package.json`));
    for (const path of paths.flatMap(p => filesUnder(root, p))) {
      files.set(`app/node_modules/${name}/${path}`, readFileSync(join(root, path)));
    }
  }
  files.set(
    'Dockerfile',
    Buffer.from(
      [
        `FROM ${base}`,
        `COPY app ${APP}/lib/cli`,
        `COPY package.json ${APP}/package.json`,
        `ENV NODE_PATH=${APP}/lib/cli/node_modules`,
        `EXPOSE ${TRACKER_PORT}`,
        `ENTRYPOINT ["node", "${APP}/lib/cli/scanflow-tracker.js"]`,
        'CMD ["tracker", "--host", "0.0.0.0"]',
        ''
      ].join('\n')
    )
  );
  return files;
}

/** better-sqlite3 and what it loads at run time: the files or folders the tracker needs of each. */
const NATIVE_MODULES: Record<string, string[]> = {
  'better-sqlite3': ['package.json', 'lib', 'build/Release/better_sqlite3.node'],
  bindings: ['package.json', 'bindings.js'],
  'file-uri-to-path': ['package.json', 'index.js']
};

/** A file, or every file under a folder, as paths relative to `root`. */
function filesUnder(root: string, path: string): string[] {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full)
    .sort()
    .flatMap(entry => filesUnder(root, `${path}/${entry}`));
}

/** The tracker image's name: its repository and a hash of its build context. */
export function trackerImageTag(base = DEFAULT_TRACKER_BASE): string {
  const hash = createHash('sha256');
  for (const [path, content] of [...contextFiles(base)].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(`${path}\0${content.length}\0`).update(content);
  }
  return `${TRACKER_REPOSITORY}:${hash.digest('hex').slice(0, 20)}`;
}

/** Builds the tracker image unless it exists; returns its tag and whether it was there. */
export async function buildTrackerImage(
  client: DockerClient,
  base = DEFAULT_TRACKER_BASE
): Promise<{ image: string; cached: boolean }> {
  const image = trackerImageTag(base);
  if (await client.image(image)) return { image, cached: true };
  if (!(await client.image(base))) {
    throw new DeployError(
      `the tracker image's base ${base} is not on this machine`,
      base.startsWith('scanflow/')
        ? 'build the local base images with `bash scripts/build-base-images.sh`'
        : `pull it first (docker pull ${base}), or set SCANFLOW_NODE_IMAGE to a Node 20 image`
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-tracker-image-'));
  try {
    for (const [path, content] of contextFiles(base)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    await client.build(pack(dir) as unknown as NodeJS.ReadableStream, {
      tag: image,
      dockerfile: 'Dockerfile',
      labels: { 'scanflow.image': 'tracker' }
    });
  } catch (error) {
    throw new DeployError(
      `the tracker image did not build: ${(error as Error).message}`,
      'check that the Docker engine runs and the base image has node'
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { image, cached: false };
}
