/**
 * The one result shape every detector returns, after alibi-detect's: a verdict, the p-value (or a
 * score for detectors that have none), the threshold it was compared with, a distance, optional
 * per-feature results, and detector-specific details.
 */

/** One feature's share of a multivariate verdict. */
export interface FeatureResult {
  feature: string;
  /** The test's own p-value. */
  pValue: number;
  /** The p-value after the multiple-testing correction (compare it with the detector's level). */
  adjustedPValue: number;
  /** The test statistic: KS distance, chi-squared statistic, ... */
  distance: number;
  isDrift: boolean;
}

export interface DriftResult<Details = Record<string, unknown>> {
  /** The detector that produced this verdict (`ks`, `chi2`, `mmd`, `autoencoder`, or a plugin's). */
  detector: string;
  isDrift: boolean;
  /** The batch-level p-value (for per-feature detectors: the smallest adjusted p-value), or null. */
  pValue: number | null;
  /** A score for detectors without a p-value (higher means more drift), or null. */
  score: number | null;
  /** What `pValue` (or `score`) was compared with. */
  threshold: number;
  /** The test statistic or distance behind the verdict. */
  distance: number;
  /** The number of samples in the batch. */
  batchSize: number;
  perFeature?: FeatureResult[];
  details: Details;
}

/** A fitted detector: call `predict` on a batch, get a verdict; `toJSON` saves it. */
export interface DriftDetector<Batch, Details = Record<string, unknown>> {
  /** A short name for the kind of detector, also the key used by `loadDetector`. */
  readonly kind: string;
  predict(batch: Batch): DriftResult<Details>;
  toJSON(): SavedDetector;
}

/** The serialized form of a fitted detector (see persist.ts). */
export interface SavedDetector {
  format: 'scanflow.detector';
  version: 1;
  kind: string;
  state: unknown;
}
