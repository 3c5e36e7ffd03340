/**
 * Univariate drift on numeric features: a two-sample KS test per feature between the reference and
 * the batch, with a Bonferroni or Benjamini-Hochberg correction across features. The batch drifts
 * when any feature's adjusted p-value is below the level.
 */
import { adjustPValues, CORRECTIONS, type Correction } from './correction';
import { checkLevel, checkMatrix, column, featureNames, type Matrix } from './data';
import { DetectorOptionError } from './errors';
import { ks2sampSorted } from './ks';
import type { DriftDetector, DriftResult, FeatureResult, SavedDetector } from './result';

/** Maps a batch to the representation the test runs on (an encoder, a projection, ...). */
export type Preprocess = (rows: Matrix) => Matrix;

export interface KSDriftOptions {
  /** Significance level compared with the adjusted p-values (default 0.05). */
  level?: number;
  /** Correction across features (default 'bonferroni'). */
  correction?: Correction;
  featureNames?: readonly string[];
  /** Applied to the reference and to every batch before testing. Not saved by toJSON. */
  preprocess?: Preprocess;
}

export interface KSDetails {
  correction: Correction;
  /** How many features drifted after correction. */
  driftedFeatures: number;
}

interface KSState {
  level: number;
  correction: Correction;
  featureNames: string[];
  /** Per feature, the reference values sorted ascending. */
  reference: number[][];
}

export class KSDrift implements DriftDetector<Matrix, KSDetails> {
  readonly kind = 'ks';
  readonly level: number;
  readonly correction: Correction;
  readonly featureNames: string[];
  private readonly sortedReference: Float64Array[];
  private readonly preprocess?: Preprocess;

  /** @param referenceIsPreprocessed internal: set by fromJSON, whose reference is already mapped. */
  constructor(reference: Matrix, options: KSDriftOptions = {}, referenceIsPreprocessed = false) {
    this.level = checkLevel(options.level ?? 0.05, 'level');
    this.correction = options.correction ?? 'bonferroni';
    if (!CORRECTIONS.includes(this.correction)) {
      throw new DetectorOptionError(
        `correction must be one of ${CORRECTIONS.join(', ')}, got ${String(this.correction)}.`
      );
    }
    this.preprocess = options.preprocess;
    const rows =
      this.preprocess && !referenceIsPreprocessed ? this.preprocess(reference) : reference;
    const width = checkMatrix(rows, 'reference');
    this.featureNames = featureNames(width, options.featureNames);
    this.sortedReference = Array.from({ length: width }, (_, j) => column(rows, j).sort());
  }

  predict(batch: Matrix): DriftResult<KSDetails> {
    const rows = this.preprocess ? this.preprocess(batch) : batch;
    checkMatrix(rows, 'batch', this.sortedReference.length);
    const tests = this.sortedReference.map((ref, j) => ks2sampSorted(ref, column(rows, j).sort()));
    const adjusted = adjustPValues(
      tests.map(t => t.pValue),
      this.correction
    );
    const perFeature: FeatureResult[] = tests.map((t, j) => ({
      feature: this.featureNames[j],
      pValue: t.pValue,
      adjustedPValue: adjusted[j],
      distance: t.statistic,
      isDrift: adjusted[j] < this.level
    }));
    const worst = perFeature.reduce((a, b) => (b.adjustedPValue < a.adjustedPValue ? b : a));
    const driftedFeatures = perFeature.filter(f => f.isDrift).length;
    return {
      detector: this.kind,
      isDrift: driftedFeatures > 0,
      pValue: worst.adjustedPValue,
      score: null,
      threshold: this.level,
      distance: Math.max(...perFeature.map(f => f.distance)),
      batchSize: rows.length,
      perFeature,
      details: { correction: this.correction, driftedFeatures }
    };
  }

  toJSON(): SavedDetector {
    const state: KSState = {
      level: this.level,
      correction: this.correction,
      featureNames: this.featureNames,
      reference: this.sortedReference.map(values => Array.from(values))
    };
    return { format: 'scanflow.detector', version: 1, kind: this.kind, state };
  }

  static fromJSON(state: KSState, preprocess?: Preprocess): KSDrift {
    // The saved reference is already preprocessed: rebuild the rows it came from, then attach the
    // preprocessing for future batches.
    const width = state.reference.length;
    const n = state.reference[0]?.length ?? 0;
    const rows = Array.from({ length: n }, (_, i) =>
      Array.from({ length: width }, (_, j) => state.reference[j][i])
    );
    return new KSDrift(
      rows,
      {
        level: state.level,
        correction: state.correction,
        featureNames: state.featureNames,
        preprocess
      },
      true
    );
  }
}
