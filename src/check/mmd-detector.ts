/**
 * Multivariate drift by the maximum mean discrepancy (MMD) between reference and batch, with a
 * Gaussian kernel whose bandwidth is the median pairwise distance (the median heuristic) and a
 * p-value from a permutation test: the batch drifts when its MMD^2 is larger than that of most
 * random re-splits of the pooled samples.
 */
import { checkLevel, checkMatrix, checkPositiveInteger, featureNames, type Matrix } from './data';
import { DetectorOptionError, DriftDataError } from './errors';
import type { Preprocess } from './ks-detector';
import { seededUniform, shuffledIndices } from './random';
import type { DriftDetector, DriftResult, SavedDetector } from './result';

export interface MMDDriftOptions {
  /** Significance level (default 0.05). */
  level?: number;
  /** Number of permutations of the p-value (default 100). */
  permutations?: number;
  /** Kernel bandwidth; by default the median pairwise distance of reference and batch. */
  sigma?: number;
  /** Keep at most this many reference samples (a seeded random subset; default 1000). */
  maxReference?: number;
  /** Seed of the subset and the permutations (default 0). */
  seed?: number;
  featureNames?: readonly string[];
  /** Applied to the reference and every batch before testing (e.g. an encoder). Not saved. */
  preprocess?: Preprocess;
}

export interface MMDDetails {
  /** The unbiased MMD^2 estimate of the batch (also `distance`). */
  mmd2: number;
  /** The kernel bandwidth used. */
  sigma: number;
  permutations: number;
}

interface MMDState {
  level: number;
  permutations: number;
  sigma?: number;
  seed: number;
  featureNames: string[];
  reference: number[][];
}

function squaredDistances(points: Float64Array[]): Float64Array {
  const n = points.length;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const a = points[i];
    for (let j = i + 1; j < n; j++) {
      const b = points[j];
      let s = 0;
      for (let k = 0; k < a.length; k++) {
        const d = a[k] - b[k];
        s += d * d;
      }
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Unbiased MMD^2 of the split where `inX[i]` says whether point i belongs to the first sample. */
function mmd2(kernel: Float64Array, n: number, inX: Uint8Array, nx: number): number {
  const ny = n - nx;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = i + 1; j < n; j++) {
      const k = kernel[row + j];
      if (inX[i] && inX[j]) xx += k;
      else if (!inX[i] && !inX[j]) yy += k;
      else xy += k;
    }
  }
  return (2 * xx) / (nx * (nx - 1)) + (2 * yy) / (ny * (ny - 1)) - (2 * xy) / (nx * ny);
}

export class MMDDrift implements DriftDetector<Matrix, MMDDetails> {
  readonly kind = 'mmd';
  readonly level: number;
  readonly permutations: number;
  readonly featureNames: string[];
  private readonly reference: Float64Array[];
  private readonly sigma?: number;
  private readonly seed: number;
  private readonly preprocess?: Preprocess;

  /** @param referenceIsPreprocessed internal: set by fromJSON, whose reference is already mapped. */
  constructor(reference: Matrix, options: MMDDriftOptions = {}, referenceIsPreprocessed = false) {
    this.level = checkLevel(options.level ?? 0.05, 'level');
    this.permutations = checkPositiveInteger(options.permutations ?? 100, 'permutations');
    const maxReference = checkPositiveInteger(options.maxReference ?? 1000, 'maxReference');
    if (options.sigma !== undefined && !(options.sigma > 0 && Number.isFinite(options.sigma))) {
      throw new DetectorOptionError(
        `sigma must be a positive number, got ${String(options.sigma)}.`
      );
    }
    this.sigma = options.sigma;
    this.seed = options.seed ?? 0;
    this.preprocess = options.preprocess;
    const rows =
      this.preprocess && !referenceIsPreprocessed ? this.preprocess(reference) : reference;
    const width = checkMatrix(rows, 'reference');
    if (rows.length < 2) {
      throw new DriftDataError(
        'The reference has 1 sample: MMD needs at least 2 reference samples.'
      );
    }
    this.featureNames = featureNames(width, options.featureNames);
    const keep =
      rows.length > maxReference
        ? shuffledIndices(rows.length, seededUniform(this.seed)).subarray(0, maxReference)
        : null;
    this.reference = (keep ? Array.from(keep, i => rows[i]) : [...rows]).map(r =>
      Float64Array.from(r)
    );
  }

  predict(batch: Matrix): DriftResult<MMDDetails> {
    const rows = this.preprocess ? this.preprocess(batch) : batch;
    checkMatrix(rows, 'batch', this.reference[0].length);
    if (rows.length < 2) {
      throw new DriftDataError(
        'The batch has 1 sample: MMD needs at least 2; gather a larger batch.'
      );
    }
    const points = [...this.reference, ...rows.map(r => Float64Array.from(r))];
    const n = points.length;
    const nx = this.reference.length;
    const distances = squaredDistances(points);
    const sigma = this.sigma ?? this.medianBandwidth(distances, n, nx);
    const kernel = distances.map(d => Math.exp(-d / (2 * sigma * sigma)));
    const inX = new Uint8Array(n);
    inX.fill(1, 0, nx);
    const observed = mmd2(kernel, n, inX, nx);
    const uniform = seededUniform(this.seed + 1);
    let atLeastAsLarge = 0;
    for (let p = 0; p < this.permutations; p++) {
      const order = shuffledIndices(n, uniform);
      inX.fill(0);
      for (let i = 0; i < nx; i++) inX[order[i]] = 1;
      if (mmd2(kernel, n, inX, nx) >= observed) atLeastAsLarge++;
    }
    const pValue = (atLeastAsLarge + 1) / (this.permutations + 1);
    return {
      detector: this.kind,
      isDrift: pValue < this.level,
      pValue,
      score: null,
      threshold: this.level,
      distance: observed,
      batchSize: rows.length,
      details: { mmd2: observed, sigma, permutations: this.permutations }
    };
  }

  /** Median distance between reference and batch points (never 0: then 1). */
  private medianBandwidth(distances: Float64Array, n: number, nx: number): number {
    const cross = new Float64Array(nx * (n - nx));
    let k = 0;
    for (let i = 0; i < nx; i++)
      for (let j = nx; j < n; j++) cross[k++] = Math.sqrt(distances[i * n + j]);
    return median(cross) || 1;
  }

  toJSON(): SavedDetector {
    const state: MMDState = {
      level: this.level,
      permutations: this.permutations,
      sigma: this.sigma,
      seed: this.seed,
      featureNames: this.featureNames,
      reference: this.reference.map(r => Array.from(r))
    };
    return { format: 'scanflow.detector', version: 1, kind: this.kind, state };
  }

  static fromJSON(state: MMDState, preprocess?: Preprocess): MMDDrift {
    return new MMDDrift(
      state.reference,
      {
        level: state.level,
        permutations: state.permutations,
        sigma: state.sigma,
        seed: state.seed,
        featureNames: state.featureNames,
        maxReference: state.reference.length,
        preprocess
      },
      true
    );
  }
}
