/**
 * Saving and loading fitted detectors: one JSON document per detector, holding its reference
 * statistics, thresholds, scaler and (for the autoencoder) weights. `detectorToJSON` /
 * `detectorFromJSON` work on the document; `saveDetector` / `loadDetector` on a file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { AutoencoderDrift } from './autoencoder-detector';
import { ChiSquareDrift, ClassBalanceDrift } from './chi2-detector';
import { DetectorFormatError } from './errors';
import { KSDrift, type Preprocess } from './ks-detector';
import { MMDDrift } from './mmd-detector';
import type { SavedDetector } from './result';

export type AnyDetector =
  KSDrift | ChiSquareDrift | ClassBalanceDrift | MMDDrift | AutoencoderDrift;

export interface LoadOptions {
  /** The preprocessing of a KS or MMD detector (functions are not saved). */
  preprocess?: Preprocess;
}

export function detectorToJSON(detector: AnyDetector): SavedDetector {
  return detector.toJSON();
}

type Loader = (state: never, options: LoadOptions) => AnyDetector | Promise<AnyDetector>;

const loaders: Record<string, Loader> = {
  ks: (state: Parameters<typeof KSDrift.fromJSON>[0], o) => KSDrift.fromJSON(state, o.preprocess),
  chi2: (state: Parameters<typeof ChiSquareDrift.fromJSON>[0]) => ChiSquareDrift.fromJSON(state),
  'class-balance': (state: Parameters<typeof ClassBalanceDrift.fromJSON>[0]) =>
    ClassBalanceDrift.fromJSON(state),
  mmd: (state: Parameters<typeof MMDDrift.fromJSON>[0], o) =>
    MMDDrift.fromJSON(state, o.preprocess),
  autoencoder: (state: Parameters<typeof AutoencoderDrift.fromJSON>[0]) =>
    AutoencoderDrift.fromJSON(state)
};

export async function detectorFromJSON(
  saved: unknown,
  options: LoadOptions = {}
): Promise<AnyDetector> {
  const doc = saved as Partial<SavedDetector> | null;
  if (doc == null || typeof doc !== 'object' || doc.format !== 'scanflow.detector') {
    throw new DetectorFormatError(
      'This is not a saved scanflow detector (its "format" is not "scanflow.detector").'
    );
  }
  if (doc.version !== 1) {
    throw new DetectorFormatError(
      `Saved detector version ${String(doc.version)} is not supported (this scanflow reads version 1).`
    );
  }
  const loader =
    typeof doc.kind === 'string' && Object.hasOwn(loaders, doc.kind)
      ? loaders[doc.kind]
      : undefined;
  if (!loader) {
    throw new DetectorFormatError(
      `Unknown detector kind ${JSON.stringify(doc.kind)}: expected one of ${Object.keys(loaders).join(', ')}.`
    );
  }
  try {
    return await loader(doc.state as never, options);
  } catch (error) {
    if (error instanceof DetectorFormatError) throw error;
    throw new DetectorFormatError(
      `The saved ${doc.kind} detector is corrupt: ${(error as Error).message}`
    );
  }
}

/** Writes a fitted detector to `file` as JSON. */
export function saveDetector(detector: AnyDetector, file: string): void {
  writeFileSync(file, JSON.stringify(detector.toJSON()));
}

/** Reads a detector written by saveDetector. */
export async function loadDetector(file: string, options: LoadOptions = {}): Promise<AnyDetector> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new DetectorFormatError(
      `Cannot read a detector from ${file}: ${(error as Error).message}`
    );
  }
  return detectorFromJSON(parsed, options);
}
