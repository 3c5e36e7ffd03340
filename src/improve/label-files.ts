/**
 * The labeling session's folder: the one contract between the kernel (which queries samples and
 * waits for labels) and whoever labels them (the JupyterLab widget, through the Contents API; the
 * simulated oracle; a script). Files, not comms: see DESIGN.md section 4. src/improve/README.md
 * describes the format for writers; this module reads and writes it.
 *
 *   <folder>/session.json        the manifest: classes and samples (written by the kernel only)
 *   <folder>/labels/<name>.json  one label per file, e.g. {"sample":"s3","label":"7","by":"ana",
 *                                "at":"2026-11-29T14:00:00.000Z"}; any unique name ending in .json
 *   <folder>/rejected/<name>.json a label file the kernel refused, moved here with its reason
 *
 * Every write goes to a hidden temporary file in the same folder, is flushed to disk, then renamed
 * into place, so a reader never sees half a document and a crash loses nothing that was written.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync
} from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const MANIFEST_FILE = 'session.json';
export const LABELS_DIR = 'labels';
export const REJECTED_DIR = 'rejected';
export const MANIFEST_FORMAT = 'scanflow.labeling-session';

/** One sample to label, as the manifest and the widget see it. */
export interface SessionSample {
  /** Unique in the session; letters, digits, '_', '-' and '.', not starting with '.'. */
  id: string;
  /** The image as a data URL (PNG), for image data. */
  image?: string;
  /** Named values, for tabular data. */
  row?: Record<string, string | number | boolean | null>;
  /** The model's most likely class, and the query strategy's score (higher: more informative). */
  guess?: string;
  score?: number;
  /** The model's probability for each class, in the order of `classes`. */
  probabilities?: number[];
}

/** `<folder>/session.json`. */
export interface SessionManifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  /** The session's name. */
  id: string;
  createdAt: string;
  /** The classes a label may take, in order (a model's class index i is classes[i]). */
  classes: string[];
  samples: SessionSample[];
}

/** `<folder>/labels/<name>.json`: one label, given by `by` at `at`. */
export interface LabelDocument {
  /** The id of a sample of the manifest. */
  sample: string;
  /** One of the manifest's classes, or null: the labeler skipped the sample (cannot tell). */
  label: string | null;
  /** Who gave it (a user name). */
  by: string;
  /** When, as an ISO 8601 timestamp. */
  at: string;
}

/** `<folder>/rejected/<name>.json`: the refused document and why. */
export interface RejectedDocument {
  document: unknown;
  reason: string;
  rejectedAt: string;
}

/** A label file as found in the folder: its name and its parsed content (or why it is unreadable). */
export type LabelFileEntry =
  { name: string; content: unknown } | { name: string; unreadable: string };

export const SAMPLE_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;

/** Writes `text` to `dir/name` atomically: temporary file, flush, rename, flush the folder. */
export function writeFileAtomic(dir: string, name: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  const temporary = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, join(dir, name));
  syncFolder(dir);
}

/** Flushes a folder's entries (the rename) to disk; not every platform allows it. */
function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Windows cannot open a folder; the rename is still atomic there.
  }
}

export function writeManifest(folder: string, manifest: SessionManifest): void {
  writeFileAtomic(folder, MANIFEST_FILE, `${JSON.stringify(manifest, null, 1)}\n`);
}

/** The manifest's parsed content, or undefined when the folder has none. */
export function readManifestFile(folder: string): unknown {
  const path = join(folder, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

/** A unique file name for a new label of `sample`: `<sample>.<time>.<random>.json`. */
export function labelFileName(sample: string, at: Date): string {
  return `${sample}.${at.getTime()}.${randomBytes(3).toString('hex')}.json`;
}

export function writeLabelDocument(folder: string, name: string, document: LabelDocument): void {
  writeFileAtomic(join(folder, LABELS_DIR), name, `${JSON.stringify(document)}\n`);
}

/** The label files in the folder, in name order; hidden (temporary) files are skipped. */
export function listLabelFiles(folder: string, skip: ReadonlySet<string>): LabelFileEntry[] {
  const dir = join(folder, LABELS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(name => name.endsWith('.json') && !name.startsWith('.') && !skip.has(name))
    .sort()
    .flatMap((name): LabelFileEntry[] => {
      let text: string;
      try {
        text = readFileSync(join(dir, name), 'utf8');
      } catch {
        return []; // removed between the listing and the read
      }
      try {
        return [{ name, content: JSON.parse(text) as unknown }];
      } catch (error) {
        return [{ name, unreadable: (error as Error).message }];
      }
    });
}

/** Moves a refused label file to rejected/, with the reason, so the labeler can see why. */
export function rejectLabelFile(
  folder: string,
  name: string,
  document: unknown,
  reason: string
): void {
  const record: RejectedDocument = { document, reason, rejectedAt: new Date().toISOString() };
  writeFileAtomic(join(folder, REJECTED_DIR), name, `${JSON.stringify(record, null, 1)}\n`);
  unlinkSync(join(folder, LABELS_DIR, name));
}

/** The refused label files in rejected/, oldest first, with their reasons. */
export function listRejected(folder: string): Array<{ file: string; reason: string }> {
  const dir = join(folder, REJECTED_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(name => name.endsWith('.json') && !name.startsWith('.'))
    .flatMap(name => {
      try {
        const record = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RejectedDocument;
        return [{ file: name, reason: String(record.reason), at: String(record.rejectedAt) }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.at.localeCompare(b.at) || a.file.localeCompare(b.file))
    .map(({ file, reason }) => ({ file, reason }));
}
