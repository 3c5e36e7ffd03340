/**
 * Images that run one of scanflow's own programs (the tracker, the model server): the Node base
 * image, the program bundled into one file by esbuild at build time (lib/<bundle>), and the native
 * modules it loads. Built on this machine (no registry, no npm inside the build) and tagged by a
 * hash of exactly those files, so that the files a deployment names can be written without Docker,
 * and an unchanged program is not built again.
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
import { DeployError } from './errors';

/** The base image: any image with a Node 20 `node` on the PATH and glibc. */
export const DEFAULT_NODE_BASE = process.env.SCANFLOW_NODE_IMAGE ?? 'scanflow/node:20';
/** Where the program's files are inside the image. */
const APP = '/opt/scanflow';

export interface ProgramImage {
  /** What the image is, for messages and its `scanflow.image` label ('tracker', 'serve'). */
  role: string;
  repository: string;
  /** The bundle under lib/, e.g. 'tracker-image/scanflow-tracker.js'. */
  bundle: string;
  port: number;
  /** The default arguments of the entry point. */
  command: string[];
}

/** better-sqlite3 and what it loads at run time: the files or folders each needs. */
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

/** The build context: file path inside the context -> content. */
function contextFiles(program: ProgramImage, base: string): Map<string, Buffer> {
  const bundle = resolve(__dirname, '../../lib', program.bundle);
  // From src/ (tsx) or lib/ (tsc) alike: both sit two levels below the package root.
  const bundlePath = [bundle, resolve(__dirname, '..', program.bundle)].find(existsSync);
  if (bundlePath === undefined) {
    throw new DeployError(
      `the ${program.role} image's program ${bundle} is missing`,
      'build the package first (`npm run build:lib`)'
    );
  }
  const entry = program.bundle.split('/').pop()!;
  const files = new Map<string, Buffer>();
  files.set(`app/${entry}`, readFileSync(bundlePath));
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
        `EXPOSE ${program.port}`,
        `ENTRYPOINT ["node", "${APP}/lib/cli/${entry}"]`,
        `CMD ${JSON.stringify(program.command)}`,
        ''
      ].join('\n')
    )
  );
  return files;
}

/** The image's name: its repository and a hash of its build context. */
export function programImageTag(program: ProgramImage, base = DEFAULT_NODE_BASE): string {
  const hash = createHash('sha256');
  const files = [...contextFiles(program, base)].sort(([a], [b]) => a.localeCompare(b));
  for (const [path, content] of files) {
    hash.update(`${path}\0${content.length}\0`).update(content);
  }
  return `${program.repository}:${hash.digest('hex').slice(0, 20)}`;
}

/** Builds the image unless it exists; returns its tag and whether it was there. */
export async function buildProgramImage(
  client: DockerClient,
  program: ProgramImage,
  base = DEFAULT_NODE_BASE
): Promise<{ image: string; cached: boolean }> {
  const image = programImageTag(program, base);
  if (await client.image(image)) return { image, cached: true };
  if (!(await client.image(base))) {
    throw new DeployError(
      `the ${program.role} image's base ${base} is not on this machine`,
      base.startsWith('scanflow/')
        ? 'build the local base images with `bash scripts/build-base-images.sh`'
        : `pull it first (docker pull ${base}), or set SCANFLOW_NODE_IMAGE to a Node 20 image`
    );
  }
  const dir = mkdtempSync(join(tmpdir(), `scanflow-${program.role}-image-`));
  try {
    for (const [path, content] of contextFiles(program, base)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    await client.build(pack(dir) as unknown as NodeJS.ReadableStream, {
      tag: image,
      dockerfile: 'Dockerfile',
      labels: { 'scanflow.image': program.role }
    });
  } catch (error) {
    throw new DeployError(
      `the ${program.role} image did not build: ${(error as Error).message}`,
      'check that the Docker engine runs and the base image has node'
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { image, cached: false };
}
