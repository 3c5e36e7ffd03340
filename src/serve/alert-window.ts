/**
 * The exact inputs of a flagged window, kept beside its labeling session (`window.json`): the
 * session shows the samples as images, the improver retrains on these rows once they are labeled.
 *
 *   const window = readAlertWindow(folder);
 *   const newLabels = labelsAsTrainingSet(session.labels, classes, id => window.rows.get(id)!);
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServeError } from './errors';

const FILE = 'window.json';
const FORMAT = 'scanflow.alert-window';

export interface AlertWindow {
  /** Sample id (as in the session) -> its input row. */
  rows: Map<string, Float32Array>;
  /** The model version that predicted them. */
  version?: string;
}

export function writeAlertWindow(
  folder: string,
  window: { ids: string[]; rows: Float32Array[]; version?: string }
): void {
  const document = {
    format: FORMAT,
    version: window.version ?? null,
    samples: window.ids.map((id, i) => ({ id, row: Array.from(window.rows[i]) }))
  };
  writeFileSync(join(folder, FILE), JSON.stringify(document));
}

export function readAlertWindow(folder: string): AlertWindow {
  let document: {
    format?: string;
    version?: string | null;
    samples?: Array<{ id: string; row: number[] }>;
  };
  try {
    document = JSON.parse(readFileSync(join(folder, FILE), 'utf8')) as typeof document;
  } catch (error) {
    throw new ServeError(
      `${join(folder, FILE)} cannot be read (${(error as Error).message})`,
      'give the folder of a session that scanflow serve opened for a flagged window'
    );
  }
  if (document.format !== FORMAT || !Array.isArray(document.samples)) {
    throw new ServeError(`${join(folder, FILE)} is not a flagged window written by scanflow serve`);
  }
  return {
    rows: new Map(document.samples.map(s => [s.id, Float32Array.from(s.row)])),
    version: document.version ?? undefined
  };
}
