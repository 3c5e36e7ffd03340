/**
 * The image of each step: an existing image (pulled when missing and pullable), a Dockerfile to
 * build, or a base image extended with the definition's files and pip requirements (as wheels
 * resolved on this machine, see wheels.ts). Built images are tagged by a content hash of their
 * build context, so an unchanged step is not built again.
 */
import dockerignore from '@balena/dockerignore';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pack } from 'tar-fs';
import type { FlatStep } from '../../workflow';
import { ImageBuildError, ImageNotFoundError } from '../errors';
import { DockerClient, DockerStreamError, LABEL } from './client';
import { WHEELS_FOLDER, downloadWheels, pythonOf } from './wheels';

/** The repository of images built for steps; the tag is the context hash. */
export const STEP_IMAGE_REPOSITORY = 'scanflow/step';
const GENERATED_DOCKERFILE = '.scanflow.Dockerfile';

export interface ImageProgress {
  /** Called before a build starts (cached: an identical build already exists). */
  building: (image: string, cached: boolean) => void;
  log: (line: string) => void;
}

export interface ImageSettings {
  /** The folder the definition's relative paths are resolved against. */
  baseDir: string;
  /** Labels for the throwaway container that asks a base image for its Python. */
  labels: Record<string, string>;
  progress: ImageProgress;
  /** Stops a pull or build; the call then rejects and the build leaves nothing behind. */
  signal?: AbortSignal;
}

/** Makes sure the step's image exists on the engine and returns its name. */
export async function ensureStepImage(
  client: DockerClient,
  step: FlatStep,
  { baseDir, labels, progress, signal }: ImageSettings
): Promise<string> {
  const spec = step.spec;
  if (spec.image !== undefined) {
    await ensurePresent(client, step.id, spec.image, signal);
    return spec.image;
  }
  const build =
    spec.dockerfile !== undefined ? dockerfileBuild(step, baseDir) : baseBuild(step, baseDir);
  if (spec.requirements?.length) {
    await ensurePresent(client, step.id, spec.base!, signal);
    const python = await pythonOf(client, spec.base!, step.id, labels);
    build.extra = new Map(
      [...(await downloadWheels(spec.requirements, python, step.id, signal))].map(
        ([name, content]) => [`${WHEELS_FOLDER}/${name}`, content]
      )
    );
  }
  const ignored = ignoreRules(build.context, build.dockerfile);
  const hash = contextHash(build.context, build.dockerfile, build.generated, ignored, build.extra);
  const tag = `${STEP_IMAGE_REPOSITORY}:${hash.slice(0, 20)}`;
  const cached = (await client.image(tag)) !== undefined;
  progress.building(tag, cached);
  if (!cached) {
    const added = build.generated !== undefined || build.extra !== undefined;
    const tar = pack(build.context, {
      ignore: path => ignored(relative(build.context, path).split(sep).join('/')),
      finalize: !added,
      finish: archive => {
        if (added) {
          if (build.generated !== undefined) {
            archive.entry({ name: build.dockerfile }, build.generated);
          }
          build.extra?.forEach((content, name) => archive.entry({ name }, content));
          archive.finalize();
        }
      }
    });
    try {
      await client.build(
        tar as unknown as NodeJS.ReadableStream,
        { tag, dockerfile: build.dockerfile, labels: { [LABEL.context]: hash } },
        progress.log,
        signal
      );
    } catch (error) {
      if (error instanceof DockerStreamError) {
        throw new ImageBuildError(step.id, error.message);
      }
      throw error;
    }
  }
  return tag;
}

/** Pulls the image when it is not on this machine; ImageNotFoundError when it cannot. */
async function ensurePresent(
  client: DockerClient,
  step: string,
  image: string,
  signal?: AbortSignal
): Promise<void> {
  if (await client.image(image)) {
    return;
  }
  try {
    await client.pull(image, signal);
  } catch (error) {
    throw new ImageNotFoundError(step, image, (error as Error).message);
  }
}

interface BuildInput {
  context: string;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  /** The text of a generated Dockerfile, added to the context. */
  generated?: string;
  /** Further files added to the context, by path (the wheels of pip requirements). */
  extra?: Map<string, Buffer>;
}

function dockerfileBuild(step: FlatStep, baseDir: string): BuildInput {
  const dockerfile = resolve(baseDir, step.spec.dockerfile!);
  const context = resolve(baseDir, step.spec.context ?? dirname(step.spec.dockerfile!));
  if (!existsSync(dockerfile) || !statSync(dockerfile).isFile()) {
    throw new ImageBuildError(
      step.id,
      `its dockerfile ${dockerfile} does not exist`,
      "set 'dockerfile' to a path relative to the workflow definition"
    );
  }
  if (!existsSync(context) || !statSync(context).isDirectory()) {
    throw new ImageBuildError(
      step.id,
      `its build context ${context} is not a folder`,
      "set 'context' to a folder relative to the workflow definition"
    );
  }
  const inside = relative(context, dockerfile);
  if (inside.startsWith('..')) {
    throw new ImageBuildError(
      step.id,
      `its dockerfile ${dockerfile} lies outside its build context ${context}`,
      "move the Dockerfile into the context, or set 'context' to a folder that holds it"
    );
  }
  return { context, dockerfile: inside.split(sep).join('/') };
}

function baseBuild(step: FlatStep, baseDir: string): BuildInput {
  const context = resolve(baseDir, step.spec.context ?? '.');
  const lines = [`FROM ${step.spec.base!}`, 'WORKDIR /scanflow/app', 'COPY . /scanflow/app'];
  const requirements = step.spec.requirements ?? [];
  if (requirements.length > 0) {
    // The wheels were resolved on this machine and came with the context: no index is needed.
    // Build arguments reach pip as environment without staying in the image: install over a
    // distribution's Python (PEP 668), and as root, without complaint.
    lines.push('ARG PIP_BREAK_SYSTEM_PACKAGES=1', 'ARG PIP_ROOT_USER_ACTION=ignore');
    const install = ['python3', '-m', 'pip', 'install', '--no-cache-dir', '--no-index'];
    const wheels = `/scanflow/app/${WHEELS_FOLDER}`;
    // The exec form: requirement strings never pass through a shell.
    lines.push(
      `RUN ${JSON.stringify([...install, '--find-links', wheels, '--', ...requirements])}`
    );
  }
  return { context, dockerfile: GENERATED_DOCKERFILE, generated: `${lines.join('\n')}\n` };
}

/**
 * The context's .dockerignore as a test of paths relative to the context (as `docker build`
 * reads it); the Dockerfile and .dockerignore themselves are always sent, the run data folder
 * `.scanflow/` never.
 */
export function ignoreRules(context: string, dockerfile: string): (path: string) => boolean {
  const file = join(context, '.dockerignore');
  if (!existsSync(file)) {
    return runData;
  }
  const rules = dockerignore().add(
    readFileSync(file, 'utf8')
      .split(/\r?\n/)
      .map(line => line.trim())
      .filter(line => line && !line.startsWith('#'))
  );
  // The context itself ('') is never ignored, whatever the rules say of the empty path.
  const kept = new Set(['', dockerfile, '.dockerignore']);
  return path => runData(path) || (!kept.has(path) && rules.ignores(path));
}

/**
 * The project's run data (the embedded tracker's store, `.scanflow/`) is never part of an image,
 * nor a wheels folder on disk (the context's wheels are the ones resolved for the build).
 */
function runData(path: string): boolean {
  return [`.scanflow`, WHEELS_FOLDER].some(dir => path === dir || path.startsWith(`${dir}/`));
}

/** A hash of everything that goes into a build: every file's path, mode and content. */
export function contextHash(
  context: string,
  dockerfile: string,
  generated?: string,
  ignored: (path: string) => boolean = () => false,
  extra: ReadonlyMap<string, Buffer> = new Map()
): string {
  const hash = createHash('sha256');
  hash.update(`dockerfile\0${dockerfile}\0${generated ?? ''}\0`);
  for (const [name, content] of extra) {
    hash.update(`x\0${name}\0${content.length}\0`);
    hash.update(content);
  }
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      const name = relative(context, path).split(sep).join('/');
      if (ignored(name)) {
        continue;
      }
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        hash.update(`d\0${name}\0${stat.mode}\0`);
        visit(path);
      } else if (stat.isSymbolicLink()) {
        hash.update(`l\0${name}\0${readlinkSync(path)}\0`);
      } else if (stat.isFile()) {
        hash.update(`f\0${name}\0${stat.mode}\0${stat.size}\0`);
        hash.update(readFileSync(path));
      }
    }
  };
  visit(context);
  return hash.digest('hex');
}
