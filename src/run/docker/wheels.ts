/**
 * The pip `requirements` of a `base` step, resolved on this machine into wheels for the base
 * image's Python, which the image then installs with no index. The build needs no network (no
 * PyPI access, no certificates, no proxy inside the build); pip on this machine uses its own
 * configuration (index, proxy, CA bundle, PIP_FIND_LINKS) and cache; and the wheels are part of
 * the build context, so the image's content hash changes when a resolved version does.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequirementsError } from '../errors';
import { errorText, type DockerClient } from './client';

/** Where the wheels are in the build context (and so under /scanflow/app in the image). */
export const WHEELS_FOLDER = '.scanflow-wheels';

/** The Python of an image, as pip's download options need it. */
export interface PythonTarget {
  /** e.g. "3.11" */
  version: string;
  /** e.g. "cp" */
  implementation: string;
  /** e.g. ["cp311", "abi3", "none"] */
  abis: string[];
  /** e.g. ["manylinux_2_36_x86_64", ..., "manylinux2014_x86_64"] */
  platforms: string[];
}

// Prints "<major>.<minor> <implementation> <machine> <libc> <libc version>".
const DESCRIBE_PYTHON =
  'import sys,platform;v=sys.version_info;l=platform.libc_ver();' +
  'print(v[0],v[1],sys.implementation.name,platform.machine(),l[0] or "-",l[1] or "-")';

const targets = new Map<string, PythonTarget>();

/**
 * Asks the image's own python3 what it is, in a throwaway container with no network (labelled
 * like the run's other objects, and removed at once). Remembered per image id.
 */
export async function pythonOf(
  client: DockerClient,
  image: string,
  step: string,
  labels: Record<string, string>
): Promise<PythonTarget> {
  const id = (await client.image(image))?.Id ?? image;
  const known = targets.get(id);
  if (known) {
    return known;
  }
  const container = await client.docker.createContainer({
    Image: image,
    Entrypoint: ['python3', '-c', DESCRIBE_PYTHON],
    Cmd: [],
    Labels: labels,
    Tty: true,
    HostConfig: { NetworkMode: 'none' }
  });
  let output = '';
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    output = (await container.logs({ stdout: true, stderr: true })).toString().trim();
    if (StatusCode !== 0) {
      throw new Error(output.split('\n').at(-1) ?? `exit code ${StatusCode}`);
    }
  } catch (error) {
    throw new RequirementsError(
      step,
      `its base image '${image}' has no working python3 to install them into (${errorText(error)})`,
      "use a base image with Python and pip, such as 'scanflow/python:3.11'"
    );
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
  const [major, minor, implementation, machine, libc, libcVersion] = output.split(/\s+/);
  const target = pipTarget(`${major}.${minor}`, implementation, machine, libc, libcVersion);
  targets.set(id, target);
  return target;
}

/** pip's download options for a Python, its machine and its C library. */
export function pipTarget(
  version: string,
  implementation: string,
  machine: string,
  libc: string,
  libcVersion: string
): PythonTarget {
  const short = implementation === 'cpython' ? 'cp' : implementation === 'pypy' ? 'pp' : 'py';
  const abi = `${short}${version.replace('.', '')}`;
  const platforms: string[] = [];
  const glibcMinor = /^2\.(\d+)$/.exec(libcVersion)?.[1];
  if (libc === 'glibc' && glibcMinor) {
    // pip matches platform tags exactly: every manylinux the C library supports, newest first.
    for (let minor = Number(glibcMinor); minor >= 5; minor--) {
      platforms.push(`manylinux_2_${minor}_${machine}`);
    }
    const legacy: Record<number, string> = {
      17: 'manylinux2014',
      12: 'manylinux2010',
      5: 'manylinux1'
    };
    for (const [minor, name] of Object.entries(legacy)) {
      if (Number(glibcMinor) >= Number(minor)) platforms.push(`${name}_${machine}`);
    }
  } else {
    platforms.push(`musllinux_1_2_${machine}`, `musllinux_1_1_${machine}`);
  }
  return { version, implementation: short, abis: [abi, 'abi3', 'none'], platforms };
}

/**
 * Downloads the wheels of `requirements` and their dependencies for `target` with this machine's
 * `python3 -m pip download`; returns them by file name. Throws RequirementsError with pip's own
 * reason when a requirement cannot be resolved.
 */
export async function downloadWheels(
  requirements: string[],
  target: PythonTarget,
  step: string,
  signal?: AbortSignal
): Promise<Map<string, Buffer>> {
  const dest = mkdtempSync(join(tmpdir(), 'scanflow-wheels-'));
  try {
    const args = [
      '-m',
      'pip',
      'download',
      '--disable-pip-version-check',
      '--no-input',
      '--dest',
      dest,
      '--only-binary=:all:',
      '--implementation',
      target.implementation,
      '--python-version',
      target.version,
      ...target.abis.flatMap(abi => ['--abi', abi]),
      ...target.platforms.flatMap(platform => ['--platform', platform]),
      // Everything after this is a requirement, even if it starts with a dash.
      '--',
      ...requirements
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(
        'python3',
        args,
        { signal, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) => {
          if (!error) return resolve();
          if (signal?.aborted) return reject(error);
          const noPip =
            (error as NodeJS.ErrnoException).code === 'ENOENT' ||
            /No module named pip/.test(stderr);
          const pipSays = stderr
            .split('\n')
            .map(line => line.trim())
            .find(line => line.startsWith('ERROR: '))
            ?.replace(/^ERROR: /, '');
          reject(
            noPip
              ? new RequirementsError(
                  step,
                  'they are downloaded with `python3 -m pip` on this machine, where there is none',
                  'install Python 3 with pip on this machine (e.g. `apt-get install python3-pip`)'
                )
              : new RequirementsError(
                  step,
                  `pip could not download them: ${pipSays ?? stderr.trim().split('\n').at(-1) ?? error.message}`,
                  `check each requirement's name and version: each must exist as a wheel for Python ${target.version} on the index pip uses here (PIP_INDEX_URL, PIP_FIND_LINKS)`
                )
          );
        }
      );
    });
    return new Map(
      readdirSync(dest)
        .sort()
        .map(name => [name, readFileSync(join(dest, name))])
    );
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}
