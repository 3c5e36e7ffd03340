/**
 * A labeling session: the samples a query strategy picked, waiting for a person (or the simulated
 * oracle) to label them. Its state lives in its folder (label-files.ts), so it survives a crash or
 * a kernel restart: `LabelingSession.open(folder)` resumes it with every label given so far.
 *
 *   const session = LabelingSession.create('sessions/round-1', { classes, samples });
 *   show(session);                       // the widget writes labels into the folder
 *   const labels = await session.complete();
 *
 * Labels come in two ways, checked by the same rules: `session.label(...)` in the kernel, and files
 * that other writers drop into `labels/`, picked up by `refresh()` (which `nextLabels()` and
 * `complete()` call whenever the folder changes). A refused label changes nothing: the call throws
 * a LabelError, and a refused file is moved to `rejected/` with its reason.
 */
import { existsSync, mkdirSync, watch, type FSWatcher } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { MimeBundle } from '../notebook/bundles';
import { labelingSessionBundle, labelingSessionData, type LabelingSessionBundle } from './bundle';
import { LabelError, LabelTimeoutError, SessionError } from './errors';
import { greyImageDataUrl, type GreyImage } from './images';
import {
  LABELS_DIR,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  SAMPLE_ID,
  labelFileName,
  listLabelFiles,
  listRejected,
  readManifestFile,
  rejectLabelFile,
  writeLabelDocument,
  writeManifest,
  type LabelDocument,
  type SessionManifest,
  type SessionSample
} from './label-files';

/** A sample to add to a session; `image` may be grey values, turned into a PNG data URL. */
export interface NewSample extends Omit<SessionSample, 'id' | 'image'> {
  /** Default `s<position>`. */
  id?: string;
  image?: string | GreyImage;
}

export interface CreateSessionOptions {
  /** The session's name (default: the folder's name). */
  id?: string;
  classes: readonly string[];
  samples: readonly NewSample[];
  /** Who labels through `label()` when no `by` is given (default: the operating-system user). */
  labeler?: string;
}

export interface OpenSessionOptions {
  labeler?: string;
  /** How often the folder is polled while waiting, besides watching it (default 250 ms). */
  pollMs?: number;
}

/** An accepted label, and the file that holds it. */
export interface LabelRecord extends LabelDocument {
  file: string;
}

/** A label file that was refused, and why. */
export interface RejectedLabel {
  file: string;
  reason: string;
}

export interface Progress {
  /** Samples with a class. */
  labeled: number;
  /** Samples the labeler skipped (label null). */
  skipped: number;
  total: number;
}

export interface WaitOptions {
  /** Give up after this long with a LabelTimeoutError (default: wait forever). */
  timeoutMs?: number;
}

export class LabelingSession {
  private manifest: SessionManifest;
  private readonly accepted: LabelRecord[] = [];
  private readonly bySample = new Map<string, LabelRecord>();
  private readonly sampleIds = new Set<string>();
  private readonly known = new Set<string>();
  private readonly refused: RejectedLabel[] = [];
  private readonly unreadable = new Map<string, string>();
  private readonly waiters = new Set<() => void>();
  private watcher?: FSWatcher;
  private poller?: NodeJS.Timeout;
  private delivered = 0;
  private closed = false;
  readonly folder: string;
  readonly labeler: string;
  private readonly pollMs: number;

  private constructor(folder: string, manifest: SessionManifest, options: OpenSessionOptions) {
    this.folder = folder;
    this.manifest = manifest;
    this.labeler = options.labeler ?? defaultLabeler();
    this.pollMs = options.pollMs ?? 250;
    manifest.samples.forEach(s => this.sampleIds.add(s.id));
  }

  /** Creates a session in `folder` (made if missing; it must not hold a session already). */
  static create(folder: string, options: CreateSessionOptions): LabelingSession {
    const path = resolve(folder);
    if (existsSync(join(path, MANIFEST_FILE))) {
      throw new SessionError(
        `${join(path, MANIFEST_FILE)} exists: the folder holds a session already. Resume it with LabelingSession.open('${folder}'), or pick a new folder.`
      );
    }
    const classes = checkClasses(options.classes);
    const manifest: SessionManifest = {
      format: MANIFEST_FORMAT,
      version: 1,
      id: options.id ?? path.split(/[\\/]/).pop() ?? 'session',
      createdAt: new Date().toISOString(),
      classes,
      samples: prepareSamples(options.samples, classes, new Set())
    };
    if (manifest.samples.length === 0) {
      throw new SessionError(
        'A session needs at least one sample to label: pass the queried samples.'
      );
    }
    mkdirSync(join(path, LABELS_DIR), { recursive: true });
    writeManifest(path, manifest);
    return new LabelingSession(path, manifest, { labeler: options.labeler });
  }

  /** Resumes the session in `folder` with every label given so far. */
  static open(folder: string, options: OpenSessionOptions = {}): LabelingSession {
    const path = resolve(folder);
    let content: unknown;
    try {
      content = readManifestFile(path);
    } catch (error) {
      throw new SessionError(
        `${join(path, MANIFEST_FILE)} is not valid JSON (${(error as Error).message}): it is written only by the kernel; restore it from a backup or create a new session.`
      );
    }
    if (content === undefined) {
      throw new SessionError(
        `${path} holds no labeling session (no ${MANIFEST_FILE}): create one with LabelingSession.create.`
      );
    }
    const session = new LabelingSession(path, checkManifest(content, path), options);
    session.refused.push(...listRejected(path));
    session.refresh();
    return session;
  }

  get id(): string {
    return this.manifest.id;
  }
  get classes(): readonly string[] {
    return this.manifest.classes;
  }
  get samples(): readonly SessionSample[] {
    return this.manifest.samples;
  }
  /** Accepted labels, in the order they were accepted. */
  get labels(): readonly LabelRecord[] {
    return this.accepted;
  }
  /** Label files that were refused, and why (what rejected/ holds, oldest first). */
  get rejected(): readonly RejectedLabel[] {
    return this.refused;
  }
  /** Label files that are not valid JSON yet (perhaps still being written): file -> error. */
  get unreadableFiles(): ReadonlyMap<string, string> {
    return this.unreadable;
  }
  /** Samples without a label yet. */
  get pending(): SessionSample[] {
    return this.manifest.samples.filter(s => !this.bySample.has(s.id));
  }
  get progress(): Progress {
    const skipped = this.accepted.filter(l => l.label === null).length;
    return {
      labeled: this.accepted.length - skipped,
      skipped,
      total: this.manifest.samples.length
    };
  }
  get isComplete(): boolean {
    return this.bySample.size === this.manifest.samples.length;
  }

  labelOf(sample: string): LabelRecord | undefined {
    return this.bySample.get(sample);
  }

  /**
   * Labels `sample` as `label` (a class, or null to skip it), saved before this returns. Throws a
   * LabelError, writing nothing, for an unknown sample, a class outside the session's, or a sample
   * that has a label already.
   */
  label(
    sample: string,
    label: string | null,
    options: { by?: string; at?: Date } = {}
  ): LabelRecord {
    const at = options.at ?? new Date();
    if (Number.isNaN(at.getTime())) {
      throw new LabelError(`The time of the label of sample '${sample}' is an invalid Date.`);
    }
    const document: LabelDocument = {
      sample,
      label,
      by: options.by ?? this.labeler,
      at: at.toISOString()
    };
    this.refresh(); // a label another writer gave meanwhile makes this one a duplicate
    const problem = this.problemWith(document);
    if (problem) throw new LabelError(problem);
    const file = labelFileName(sample, at);
    writeLabelDocument(this.folder, file, document);
    return this.accept(document, file);
  }

  /** Adds samples for another round (ids must be new); the manifest is rewritten atomically. */
  addSamples(samples: readonly NewSample[]): SessionSample[] {
    const added = prepareSamples(samples, this.manifest.classes, this.sampleIds);
    const manifest = { ...this.manifest, samples: [...this.manifest.samples, ...added] };
    writeManifest(this.folder, manifest);
    this.manifest = manifest;
    added.forEach(s => this.sampleIds.add(s.id));
    return added;
  }

  /** Reads label files written by others; returns the ones accepted now. */
  refresh(): LabelRecord[] {
    const entries = listLabelFiles(this.folder, this.known);
    const valid: Array<{ document: LabelDocument; file: string }> = [];
    for (const entry of entries) {
      if ('unreadable' in entry) {
        this.unreadable.set(entry.name, entry.unreadable);
        continue;
      }
      this.unreadable.delete(entry.name);
      const problem = documentShapeProblem(entry.content);
      if (problem) {
        this.reject(entry.name, entry.content, problem);
      } else {
        valid.push({ document: entry.content as LabelDocument, file: entry.name });
      }
    }
    // Two new files for one sample: the earlier label wins, the later is a duplicate.
    valid.sort(
      (a, b) => a.document.at.localeCompare(b.document.at) || a.file.localeCompare(b.file)
    );
    const fresh: LabelRecord[] = [];
    for (const { document, file } of valid) {
      const problem = this.problemWith(document);
      if (problem) {
        this.reject(file, document, problem);
      } else {
        fresh.push(this.accept(document, file));
      }
    }
    return fresh;
  }

  /**
   * The labels accepted since the previous call (on resume: all of them), waiting until there is
   * at least one. Resolves with [] when every sample is labeled and nothing new came.
   */
  async nextLabels(options: WaitOptions = {}): Promise<LabelRecord[]> {
    await this.waitFor(
      () => this.accepted.length > this.delivered || this.isComplete,
      options,
      'the next labels'
    );
    const batch = this.accepted.slice(this.delivered);
    this.delivered = this.accepted.length;
    return batch;
  }

  /** Waits until every sample has a label (or was skipped); resolves with all the labels. */
  async complete(options: WaitOptions = {}): Promise<LabelRecord[]> {
    await this.waitFor(() => this.isComplete, options, 'every sample to be labeled');
    this.delivered = this.accepted.length;
    return [...this.accepted];
  }

  /** The data of the labeling MIME bundle (application/vnd.scanflow.labeling+json). */
  toBundle(): LabelingSessionBundle {
    this.refresh();
    return labelingSessionData(this);
  }

  /** What `show(session)` displays: the labeling bundle with a text/plain summary. */
  toMimeBundle(): MimeBundle {
    this.refresh();
    return labelingSessionBundle(this);
  }

  /** Stops watching the folder; pending waits fail with a LabelTimeoutError. */
  close(): void {
    this.closed = true;
    this.waiters.forEach(wake => wake());
    this.stopWatching();
  }

  private waitFor(done: () => boolean, options: WaitOptions, what: string): Promise<void> {
    this.refresh();
    if (done()) return Promise.resolve();
    if (this.closed)
      return Promise.reject(new LabelTimeoutError(`The session ${this.id} is closed.`));
    return new Promise<void>((resolvePromise, rejectPromise) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (error?: Error): void => {
        this.waiters.delete(wake);
        if (timer) clearTimeout(timer);
        if (this.waiters.size === 0) this.stopWatching();
        if (error) rejectPromise(error);
        else resolvePromise();
      };
      const wake = (): void => {
        if (this.closed) {
          finish(
            new LabelTimeoutError(`The session ${this.id} was closed while waiting for ${what}.`)
          );
        } else if (done()) {
          finish();
        }
      };
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const { labeled, skipped, total } = this.progress;
          finish(
            new LabelTimeoutError(
              `Waited ${options.timeoutMs} ms for ${what} in ${this.folder}; ${labeled + skipped} of ${total} samples have labels. Wait again, or read session.labels for what came.`
            )
          );
        }, options.timeoutMs);
      }
      this.waiters.add(wake);
      this.startWatching();
    });
  }

  private startWatching(): void {
    if (this.poller) return;
    const check = (): void => {
      try {
        this.refresh();
      } catch {
        // A file that vanished mid-read, a folder briefly locked: the next look sees it.
      }
      this.waiters.forEach(wake => wake());
    };
    mkdirSync(join(this.folder, LABELS_DIR), { recursive: true });
    try {
      this.watcher = watch(join(this.folder, LABELS_DIR), check);
      this.watcher.on('error', () => undefined); // polling still runs
    } catch {
      // Some file systems cannot be watched; polling covers them.
    }
    this.poller = setInterval(check, this.pollMs);
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private accept(document: LabelDocument, file: string): LabelRecord {
    const record: LabelRecord = {
      sample: document.sample,
      label: document.label,
      by: document.by,
      at: document.at,
      file
    };
    this.known.add(file);
    this.accepted.push(record);
    this.bySample.set(record.sample, record);
    return record;
  }

  private reject(file: string, content: unknown, reason: string): void {
    rejectLabelFile(this.folder, file, content, reason);
    this.refused.push({ file, reason });
  }

  /** Why the session refuses this (well-formed) label, or undefined. */
  private problemWith(document: LabelDocument): string | undefined {
    const shape = documentShapeProblem(document);
    if (shape) return shape;
    if (!this.sampleIds.has(document.sample)) {
      return `Sample '${document.sample}' is not in session ${this.id}: label one of its ${this.sampleIds.size} samples (session.samples).`;
    }
    if (document.label !== null && !this.manifest.classes.includes(document.label)) {
      return `'${document.label}' is not a class of session ${this.id}: use one of ${this.manifest.classes.map(c => `'${c}'`).join(', ')} (or null to skip the sample).`;
    }
    const previous = this.bySample.get(document.sample);
    if (previous) {
      return `Sample '${document.sample}' already has the label ${JSON.stringify(previous.label)} (by ${previous.by} at ${previous.at}); a sample takes one label.`;
    }
    return undefined;
  }
}

function defaultLabeler(): string {
  try {
    return process.env.JUPYTERHUB_USER || process.env.USER || userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Why `content` is not a label document at all, or undefined. */
function documentShapeProblem(content: unknown): string | undefined {
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    return 'A label file must hold one JSON object: {"sample": ..., "label": ..., "by": ..., "at": ...}.';
  }
  const d = content as Record<string, unknown>;
  if (typeof d.sample !== 'string' || d.sample === '') {
    return "A label needs 'sample': the id of the sample it labels, as a string.";
  }
  if (d.label !== null && typeof d.label !== 'string') {
    return `The label of sample '${d.sample}' must be a class name (a string) or null to skip, got ${JSON.stringify(d.label)}.`;
  }
  if (typeof d.by !== 'string' || d.by.trim() === '') {
    return `The label of sample '${d.sample}' needs 'by': who gave it (a user name).`;
  }
  if (typeof d.at !== 'string' || Number.isNaN(Date.parse(d.at))) {
    return `The label of sample '${d.sample}' needs 'at': when it was given, as an ISO 8601 time such as ${new Date().toISOString()}.`;
  }
  return undefined;
}

function checkClasses(classes: readonly string[]): string[] {
  if (!Array.isArray(classes) || classes.length < 2) {
    throw new SessionError(
      'A session needs at least two classes to choose from, e.g. ["cat", "dog"].'
    );
  }
  classes.forEach((c, i) => {
    if (typeof c !== 'string' || c === '') {
      throw new SessionError(
        `Class ${i} is ${JSON.stringify(c)}: classes are non-empty strings (write digits as '0', '1', ...).`
      );
    }
  });
  const duplicate = classes.find((c, i) => classes.indexOf(c) !== i);
  if (duplicate !== undefined) {
    throw new SessionError(`Class '${duplicate}' is listed twice: each class once.`);
  }
  return [...classes];
}

function prepareSamples(
  samples: readonly NewSample[],
  classes: readonly string[],
  taken: ReadonlySet<string>
): SessionSample[] {
  const ids = new Set(taken);
  return samples.map((sample, i) => {
    const id = sample.id ?? `s${taken.size + i}`;
    if (!SAMPLE_ID.test(id)) {
      throw new SessionError(
        `Sample id '${id}' cannot name a file: use letters, digits, '_', '-' and '.', not starting with '.'.`
      );
    }
    if (ids.has(id)) {
      throw new SessionError(
        `Sample id '${id}' is used twice in the session: give every sample its own id.`
      );
    }
    if (sample.guess !== undefined && !classes.includes(sample.guess)) {
      throw new SessionError(
        `The guess '${sample.guess}' of sample '${id}' is not one of the classes.`
      );
    }
    ids.add(id);
    const { image, ...rest } = sample;
    const prepared: SessionSample = { ...rest, id };
    if (image !== undefined)
      prepared.image = typeof image === 'string' ? image : greyImageDataUrl(image);
    return prepared;
  });
}

function checkManifest(content: unknown, folder: string): SessionManifest {
  const m = content as Partial<SessionManifest> | null;
  if (
    typeof m !== 'object' ||
    m === null ||
    m.format !== MANIFEST_FORMAT ||
    m.version !== 1 ||
    typeof m.id !== 'string' ||
    !Array.isArray(m.classes) ||
    !Array.isArray(m.samples)
  ) {
    throw new SessionError(
      `${join(folder, MANIFEST_FILE)} is not a labeling session of format ${MANIFEST_FORMAT} version 1: open a folder made by LabelingSession.create.`
    );
  }
  return m as SessionManifest;
}
