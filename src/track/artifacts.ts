/**
 * The artifact store behind the mlflow-artifacts proxy: files under one root folder on disk. Every
 * path is checked before it touches the file system, so `../`, absolute paths and NUL bytes never
 * leave the root.
 */
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { InvalidParameterError, NotFoundError, PayloadTooLargeError } from './errors';
import type { ArtifactFile } from './types';

export class ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The absolute file for an artifact path, or an InvalidParameterError naming the problem. */
  resolvePath(path: string): string {
    if (path.includes('\0'))
      throw new InvalidParameterError('Invalid artifact path: it contains a NUL byte.');
    if (path.startsWith('/') || path.includes('\\') || /^[a-zA-Z]:/.test(path)) {
      throw new InvalidParameterError(
        `Invalid artifact path '${path}': use a relative path with '/' separators.`
      );
    }
    const segments = path.split('/');
    if (segments.some(s => s === '..' || s === '.')) {
      throw new InvalidParameterError(
        `Invalid artifact path '${path}': '.' and '..' segments are not allowed.`
      );
    }
    const absolute = resolve(this.root, ...segments.filter(Boolean));
    if (absolute !== this.root && !absolute.startsWith(this.root + sep)) {
      throw new InvalidParameterError(
        `Invalid artifact path '${path}': it leaves the artifact root.`
      );
    }
    return absolute;
  }

  /** Writes a file from a stream (via a temporary file, so a reader never sees half a file). */
  async put(path: string, body: Readable, maxBytes: number): Promise<void> {
    const file = this.resolvePath(path);
    if (file === this.root || path.endsWith('/')) {
      throw new InvalidParameterError(
        `Invalid artifact path '${path}': name a file, not a folder.`
      );
    }
    await mkdir(dirname(file), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOTDIR' || error.code === 'EEXIST') {
        throw new InvalidParameterError(
          `Invalid artifact path '${path}': a part of it is a file, not a folder.`
        );
      }
      throw error;
    });
    const existing = await stat(file).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new InvalidParameterError(
        `Invalid artifact path '${path}': a folder of that name exists.`
      );
    }
    const temporary = `${file}.${randomBytes(6).toString('hex')}.partial`;
    // Counted on the way through; past the limit the upload fails, and the rest of the request is
    // drained rather than cut off, so the client reads our 413 instead of a reset connection.
    let size = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(
          size > maxBytes
            ? new PayloadTooLargeError(
                `Artifact '${path}' is larger than the limit of ${maxBytes} bytes.`
              )
            : null,
          chunk
        );
      }
    });
    body.pipe(limiter);
    try {
      await pipeline(limiter, createWriteStream(temporary));
      await rename(temporary, file);
    } catch (error) {
      body.unpipe(limiter);
      body.resume();
      await rm(temporary, { force: true });
      throw error;
    }
  }

  /** Opens a file for reading, with its size. */
  async get(path: string): Promise<{ stream: ReadStream; size: number }> {
    const file = this.resolvePath(path);
    const info = await stat(file).catch(() => undefined);
    if (!info || !info.isFile()) throw new NotFoundError(`Artifact '${path}' does not exist.`);
    return { stream: createReadStream(file), size: info.size };
  }

  /** Lists one folder; paths are relative to the listed folder, as MLflow's proxy answers. */
  async list(path: string): Promise<ArtifactFile[]> {
    const folder = this.resolvePath(path);
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    const files: ArtifactFile[] = [];
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.endsWith('.partial')) continue;
      if (entry.isDirectory()) {
        files.push({ path: entry.name, is_dir: true });
      } else if (entry.isFile()) {
        files.push({
          path: entry.name,
          is_dir: false,
          file_size: (await stat(join(folder, entry.name))).size
        });
      }
    }
    return files;
  }

  /** Deletes a file or a folder with everything in it. */
  async delete(path: string): Promise<void> {
    const file = this.resolvePath(path);
    if (file === this.root)
      throw new InvalidParameterError(
        'Refusing to delete the whole artifact root: name a path inside it.'
      );
    await rm(file, { recursive: true, force: true });
  }

  /** The store path behind a `mlflow-artifacts:/<path>` URI (what this store serves). */
  private pathOfUri(artifactUri: string, path: string): string {
    const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
    if (!match) {
      throw new InvalidParameterError(
        `Artifact URI '${artifactUri}' is not served by this tracker (it is not mlflow-artifacts:/...).`
      );
    }
    return [match[1].replace(/\/+$/, ''), path.replace(/^\/+/, '')].filter(Boolean).join('/');
  }

  /** Writes one artifact of a run, given the run's artifact URI (the same call as RestStore's). */
  async uploadArtifact(artifactUri: string, path: string, content: Buffer | string): Promise<void> {
    await this.put(
      this.pathOfUri(artifactUri, path),
      Readable.from([Buffer.from(content)]),
      Number.MAX_SAFE_INTEGER
    );
  }

  /** Reads one artifact of a run, given the run's artifact URI. */
  async downloadArtifact(artifactUri: string, path: string): Promise<Buffer> {
    const { stream } = await this.get(this.pathOfUri(artifactUri, path));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Lists one folder of a run's artifacts, given the run's artifact URI (as RestStore's). */
  async listArtifacts(artifactUri: string, path = ''): Promise<ArtifactFile[]> {
    return this.list(this.pathOfUri(artifactUri, path));
  }

  /** The path relative to the root (for messages). */
  relative(file: string): string {
    return relative(this.root, file);
  }
}
