/**
 * The image of each step: an existing image (pulled when missing and pullable), a Dockerfile to
 * build, or a base image extended with pip requirements and the definition's files. Built images
 * are tagged by a content hash of their build context, so an unchanged step is not built again.
 */
import dockerignore from '@balena/dockerignore';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pack } from 'tar-fs';
import type { FlatStep } from '../../workflow';
import { ImageBuildError, ImageNotFoundError } from '../errors';
import { DockerClient, DockerStreamError, LABEL } from './client';

/** The repository of images built for steps; the tag is the context hash. */
export const STEP_IMAGE_REPOSITORY = 'scanflow/step';
const GENERATED_DOCKERFILE = '.scanflow.Dockerfile';

export interface ImageProgress {
  /** Called before a build starts (cached: an identical build already exists). */
  building: (image: string, cached: boolean) => void;
  log: (line: string) => void;
}

/** Makes sure the step's image exists on the engine and returns its name. */
export async function ensureStepImage(
  client: DockerClient,
  step: FlatStep,
  baseDir: string,
  progress: ImageProgress,
  /** Stops a pull or build; the call then rejects and the build leaves nothing behind. */
  signal?: AbortSignal
): Promise<string> {
  const spec = step.spec;
  if (spec.image !== undefined) {
    if (!(await client.image(spec.image))) {
      try {
        await client.pull(spec.image, signal);
      } catch (error) {
        throw new ImageNotFoundError(step.id, spec.image, (error as Error).message);
      }
    }
    return spec.image;
  }
  const build =
    spec.dockerfile !== undefined ? dockerfileBuild(step, baseDir) : baseBuild(step, baseDir);
  const ignored = ignoreRules(build.context, build.dockerfile);
  const hash = contextHash(build.context, build.dockerfile, build.generated, ignored);
  const tag = `${STEP_IMAGE_REPOSITORY}:${hash.slice(0, 20)}`;
  const cached = (await client.image(tag)) !== undefined;
  progress.building(tag, cached);
  if (!cached) {
    const tar = pack(build.context, {
      ignore: path => ignored(relative(build.context, path).split(sep).join('/')),
      finalize: build.generated === undefined,
      finish: generated => {
        if (build.generated !== undefined) {
          generated.entry({ name: build.dockerfile }, build.generated);
          generated.finalize();
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

interface BuildInput {
  context: string;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  /** The text of a generated Dockerfile, added to the context. */
  generated?: string;
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
  const lines = [`FROM ${step.spec.base!}`, 'WORKDIR /scanflow/app'];
  const requirements = step.spec.requirements ?? [];
  if (requirements.length > 0) {
    // The exec form: requirement strings never pass through a shell.
    lines.push(`RUN ${JSON.stringify(['pip', 'install', '--no-cache-dir', ...requirements])}`);
  }
  lines.push('COPY . /scanflow/app');
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

/** The project's run data (the embedded tracker's store, `.scanflow/`) is never part of an image. */
function runData(path: string): boolean {
  return path === '.scanflow' || path.startsWith('.scanflow/');
}

/** A hash of everything that goes into a build: every file's path, mode and content. */
export function contextHash(
  context: string,
  dockerfile: string,
  generated?: string,
  ignored: (path: string) => boolean = () => false
): string {
  const hash = createHash('sha256');
  hash.update(`dockerfile\0${dockerfile}\0${generated ?? ''}\0`);
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
