/**
 * A labeling session as the MIME bundle `application/vnd.scanflow.labeling+json` (drawn by the
 * labeling widget in src/lab) with a text/plain summary. The data extends the notebook bridge's
 * `LabelingBundleData` with what the widget needs to work against the session folder: progress,
 * the labels given so far and where to write new ones (the format is in src/improve/README.md).
 */
import { isAbsolute, relative } from 'node:path';
import { MIME } from '../mime';
import type { LabelingBundleData, LabelingSample, MimeBundle } from '../notebook/bundles';
import { LABELS_DIR, MANIFEST_FORMAT, REJECTED_DIR } from './label-files';
import type { LabelingSession, Progress } from './session';

export interface LabelingSessionBundle extends LabelingBundleData {
  /** The folder's file format (src/improve/README.md). */
  format: typeof MANIFEST_FORMAT;
  /**
   * The session folder: relative to the kernel's working directory (for tslab, the notebook's own
   * folder) when it lies inside it, else absolute. `absoluteFolder` is the full path.
   */
  folder: string;
  absoluteFolder: string;
  /** Where to write one JSON file per label, and where refused ones go, inside `folder`. */
  labelsDir: typeof LABELS_DIR;
  rejectedDir: typeof REJECTED_DIR;
  samples: Array<LabelingSample & { probabilities?: number[] }>;
  progress: Progress;
  /** Labels given so far: sample id -> label (null: skipped), who and when. */
  labels: Record<string, { label: string | null; by: string; at: string }>;
}

/** The session's bundle data. */
export function labelingSessionData(
  session: LabelingSession,
  cwd = process.cwd()
): LabelingSessionBundle {
  const inside = relative(cwd, session.folder);
  const folder =
    inside !== '' && !inside.startsWith('..') && !isAbsolute(inside) ? inside : session.folder;
  const labels: LabelingSessionBundle['labels'] = {};
  for (const l of session.labels) labels[l.sample] = { label: l.label, by: l.by, at: l.at };
  return {
    version: 1,
    format: MANIFEST_FORMAT,
    session: session.id,
    folder: folder.split('\\').join('/'),
    absoluteFolder: session.folder,
    labelsDir: LABELS_DIR,
    rejectedDir: REJECTED_DIR,
    classes: [...session.classes],
    samples: session.samples.map(s => ({ ...s })),
    progress: session.progress,
    labels
  };
}

/** A short text summary: progress, classes, where labels go, the next samples to label. */
export function labelingSessionText(session: LabelingSession): string {
  const { labeled, skipped, total } = session.progress;
  const pending = session.pending;
  const lines = [
    `labeling session ${session.id}: ${labeled} of ${total} samples labeled${skipped ? `, ${skipped} skipped` : ''}`,
    `classes: ${session.classes.join(', ')}`,
    `folder: ${session.folder} (one JSON file per label in ${LABELS_DIR}/)`
  ];
  if (pending.length > 0) {
    const shown = pending.slice(0, 5).map(s => {
      const facts = [
        s.guess !== undefined ? `guess ${s.guess}` : '',
        s.score !== undefined ? `score ${s.score.toFixed(3)}` : ''
      ].filter(Boolean);
      return facts.length ? `${s.id} (${facts.join(', ')})` : s.id;
    });
    lines.push(
      `to label: ${shown.join(', ')}${pending.length > 5 ? `, and ${pending.length - 5} more` : ''}`
    );
  } else {
    lines.push('every sample is labeled');
  }
  return lines.join('\n');
}

/** The MIME bundle `show(session)` displays. */
export function labelingSessionBundle(session: LabelingSession): MimeBundle {
  return {
    data: {
      [MIME.labeling]: labelingSessionData(session),
      'text/plain': labelingSessionText(session)
    },
    metadata: {}
  };
}
