/**
 * Drift on categorical features, and class balance of labels or predicted labels.
 *
 * Per feature, levels the batch has but the reference never had ("new") and levels of the
 * reference missing from the batch ("vanished") are reported explicitly, before any test; then a
 * chi-squared test of homogeneity compares the level counts of reference and batch, with a
 * correction across features. A new level is drift by itself (unless `newLevelIsDrift: false`):
 * a model has never seen it. A vanished level is only reported, since a small batch often misses
 * a rare level; the test decides.
 */
import { chi2Contingency } from './chi2';
import { adjustPValues, CORRECTIONS, type Correction } from './correction';
import { type Category, checkCategoryMatrix, checkLevel, featureNames } from './data';
import { DetectorOptionError, DriftDataError } from './errors';
import type { DriftDetector, DriftResult, FeatureResult, SavedDetector } from './result';

export type CategoryMatrix = ReadonlyArray<ReadonlyArray<Category>>;

export interface ChiSquareDriftOptions {
  /** Significance level (default 0.05). */
  level?: number;
  /** Correction across features (default 'bonferroni'). */
  correction?: Correction;
  featureNames?: readonly string[];
  /** Whether a level never seen in the reference makes the batch drift by itself (default true). */
  newLevelIsDrift?: boolean;
}

/** Level changes of one feature. */
export interface LevelChanges {
  feature: string;
  /** Levels in the batch that the reference never had. */
  newLevels: Category[];
  /** Levels of the reference absent from the batch. */
  vanishedLevels: Category[];
}

export interface ChiSquareDetails {
  correction: Correction;
  /** One entry per feature that gained or lost levels (features without changes are left out). */
  levelChanges: LevelChanges[];
  /** Per feature, level -> [reference proportion, batch proportion]. */
  proportions: Record<string, Record<string, [number, number]>>;
}

interface ChiSquareState {
  level: number;
  correction: Correction;
  featureNames: string[];
  newLevelIsDrift: boolean;
  /** Per feature, [level, count] pairs of the reference. */
  counts: Array<Array<[Category, number]>>;
}

function countLevels(rows: CategoryMatrix, j: number): Map<Category, number> {
  const counts = new Map<Category, number>();
  for (const row of rows) counts.set(row[j], (counts.get(row[j]) ?? 0) + 1);
  return counts;
}

export class ChiSquareDrift implements DriftDetector<CategoryMatrix, ChiSquareDetails> {
  readonly kind = 'chi2';
  readonly level: number;
  readonly correction: Correction;
  readonly featureNames: string[];
  readonly newLevelIsDrift: boolean;
  protected readonly referenceCounts: Array<Map<Category, number>>;

  constructor(reference: CategoryMatrix, options: ChiSquareDriftOptions = {}) {
    this.level = checkLevel(options.level ?? 0.05, 'level');
    this.correction = options.correction ?? 'bonferroni';
    if (!CORRECTIONS.includes(this.correction)) {
      throw new DetectorOptionError(
        `correction must be one of ${CORRECTIONS.join(', ')}, got ${String(this.correction)}.`
      );
    }
    this.newLevelIsDrift = options.newLevelIsDrift ?? true;
    const width = checkCategoryMatrix(reference, 'reference');
    this.featureNames = featureNames(width, options.featureNames);
    this.referenceCounts = Array.from({ length: width }, (_, j) => countLevels(reference, j));
  }

  predict(batch: CategoryMatrix): DriftResult<ChiSquareDetails> {
    checkCategoryMatrix(batch, 'batch', this.referenceCounts.length);
    const levelChanges: LevelChanges[] = [];
    const proportions: ChiSquareDetails['proportions'] = {};
    const tests = this.referenceCounts.map((refCounts, j) => {
      const batchCounts = countLevels(batch, j);
      const feature = this.featureNames[j];
      const newLevels = [...batchCounts.keys()].filter(level => !refCounts.has(level));
      const vanishedLevels = [...refCounts.keys()].filter(level => !batchCounts.has(level));
      if (newLevels.length > 0 || vanishedLevels.length > 0) {
        levelChanges.push({ feature, newLevels, vanishedLevels });
      }
      const levels = [...refCounts.keys(), ...newLevels];
      const refTotal = [...refCounts.values()].reduce((a, b) => a + b, 0);
      proportions[feature] = Object.fromEntries(
        levels.map(level => [
          String(level),
          [(refCounts.get(level) ?? 0) / refTotal, (batchCounts.get(level) ?? 0) / batch.length]
        ])
      );
      const test = chi2Contingency([
        levels.map(level => refCounts.get(level) ?? 0),
        levels.map(level => batchCounts.get(level) ?? 0)
      ]);
      return { test, hasNewLevel: newLevels.length > 0 };
    });
    const adjusted = adjustPValues(
      tests.map(t => t.test.pValue),
      this.correction
    );
    const perFeature: FeatureResult[] = tests.map((t, j) => ({
      feature: this.featureNames[j],
      pValue: t.test.pValue,
      adjustedPValue: adjusted[j],
      distance: t.test.statistic,
      isDrift: adjusted[j] < this.level || (this.newLevelIsDrift && t.hasNewLevel)
    }));
    const worst = Math.min(...adjusted);
    return {
      detector: this.kind,
      isDrift: perFeature.some(f => f.isDrift),
      pValue: worst,
      score: null,
      threshold: this.level,
      distance: Math.max(...perFeature.map(f => f.distance)),
      batchSize: batch.length,
      perFeature,
      details: { correction: this.correction, levelChanges, proportions }
    };
  }

  toJSON(): SavedDetector {
    const state: ChiSquareState = {
      level: this.level,
      correction: this.correction,
      featureNames: this.featureNames,
      newLevelIsDrift: this.newLevelIsDrift,
      counts: this.referenceCounts.map(counts => [...counts.entries()])
    };
    return { format: 'scanflow.detector', version: 1, kind: this.kind, state };
  }

  static fromJSON(state: ChiSquareState): ChiSquareDrift {
    // Rebuild a reference with the saved counts (same levels, same counts, same verdicts).
    const columns = state.counts.map(pairs =>
      pairs.flatMap(([level, count]) => Array<Category>(count).fill(level))
    );
    const rows = columns[0].map((_, i) => columns.map(values => values[i]));
    return new ChiSquareDrift(rows, {
      level: state.level,
      correction: state.correction,
      featureNames: state.featureNames,
      newLevelIsDrift: state.newLevelIsDrift
    });
  }
}

export interface ClassBalanceDriftOptions {
  /** Significance level (default 0.05). */
  level?: number;
  /** The name shown for the label column (default 'class'). */
  name?: string;
  /** Whether a class never seen in the reference is drift by itself (default true). */
  newLevelIsDrift?: boolean;
}

function asColumn(labels: readonly Category[], what: string): Category[][] {
  if (!Array.isArray(labels)) {
    throw new DriftDataError(
      `The ${what} must be an array of labels (strings or numbers), one per sample.`
    );
  }
  return labels.map(label => [label]);
}

/**
 * Class balance of labels or predicted labels: a one-feature ChiSquareDrift whose batches are plain
 * label arrays. New and vanished classes are reported in `details.levelChanges`.
 */
export class ClassBalanceDrift implements DriftDetector<readonly Category[], ChiSquareDetails> {
  readonly kind = 'class-balance';
  private readonly inner: ChiSquareDrift;

  constructor(referenceLabels: readonly Category[], options: ClassBalanceDriftOptions = {}) {
    this.inner = new ChiSquareDrift(asColumn(referenceLabels, 'reference labels'), {
      level: options.level,
      featureNames: [options.name ?? 'class'],
      newLevelIsDrift: options.newLevelIsDrift
    });
  }

  predict(labels: readonly Category[]): DriftResult<ChiSquareDetails> {
    return { ...this.inner.predict(asColumn(labels, 'batch labels')), detector: this.kind };
  }

  toJSON(): SavedDetector {
    return { ...this.inner.toJSON(), kind: this.kind };
  }

  static fromJSON(state: ChiSquareState): ClassBalanceDrift {
    const labels = state.counts[0].flatMap(([label, count]) => Array<Category>(count).fill(label));
    return new ClassBalanceDrift(labels, {
      level: state.level,
      name: state.featureNames[0],
      newLevelIsDrift: state.newLevelIsDrift
    });
  }
}
