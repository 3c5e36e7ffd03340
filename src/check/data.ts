/**
 * Checks on the data handed to detectors, so that bad input fails loudly with a message naming
 * the problem instead of producing a NaN verdict.
 */
import { DetectorOptionError, DriftDataError } from './errors';

/** Samples as rows: `rows[i][j]` is feature j of sample i (plain arrays or typed arrays). */
export type Matrix = ReadonlyArray<ArrayLike<number>>;

/** A categorical value: a level's name or code. */
export type Category = string | number;

/**
 * Checks that `rows` is a non-empty matrix of finite numbers whose rows all have the same width
 * (and `width` columns, when given). `what` names the data in messages ("reference", "batch").
 * Returns the width.
 */
export function checkMatrix(rows: Matrix, what: string, width?: number): number {
  if (!Array.isArray(rows)) {
    throw new DriftDataError(
      `The ${what} must be an array of rows (one array of numbers per sample), got ${describe(rows)}.`
    );
  }
  if (rows.length === 0) {
    throw new DriftDataError(
      `The ${what} is empty: pass at least one sample (an array of rows, one row per sample).`
    );
  }
  const expected = width ?? rows[0].length;
  if (expected === 0) {
    throw new DriftDataError(
      `The ${what} has rows with no features: each row needs one value per feature.`
    );
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row == null || typeof row.length !== 'number') {
      throw new DriftDataError(`The ${what}'s row ${i} is not an array of numbers.`);
    }
    if (row.length !== expected) {
      throw new DriftDataError(
        width === undefined
          ? `The ${what}'s row ${i} has ${row.length} features but row 0 has ${expected}: every row needs the same number of features.`
          : `The ${what}'s row ${i} has ${row.length} features but the detector was fitted on ${expected}: pass rows with the reference's features, in the same order.`
      );
    }
    for (let j = 0; j < row.length; j++) {
      const value = row[j];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new DriftDataError(
          `The ${what} has ${String(value)} at row ${i}, feature ${j}: detectors need finite numbers; drop or impute missing values first.`
        );
      }
    }
  }
  return expected;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'an object';
}

/** Checks a non-empty list of finite numbers (one value per sample). */
export function checkVector(values: ArrayLike<number>, what: string): void {
  if (values == null || values.length === 0) {
    throw new DriftDataError(`The ${what} is empty: pass at least one value.`);
  }
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number' || !Number.isFinite(values[i])) {
      throw new DriftDataError(
        `The ${what} has ${String(values[i])} at position ${i}: detectors need finite numbers; drop or impute missing values first.`
      );
    }
  }
}

/** Checks a matrix of categories (strings or finite numbers), returns its width. */
export function checkCategoryMatrix(
  rows: ReadonlyArray<ReadonlyArray<Category>>,
  what: string,
  width?: number
): number {
  if (!Array.isArray(rows)) {
    throw new DriftDataError(
      `The ${what} must be an array of rows (one array of categories per sample), got ${describe(rows)}.`
    );
  }
  if (rows.length === 0) {
    throw new DriftDataError(`The ${what} is empty: pass at least one sample.`);
  }
  const expected = width ?? rows[0].length;
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== expected) {
      throw new DriftDataError(
        `The ${what}'s row ${i} has ${Array.isArray(row) ? row.length : 'no'} categorical features, expected ${expected}: pass one value per feature, in the reference's order.`
      );
    }
    row.forEach((value, j) => {
      const ok = typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
      if (!ok) {
        throw new DriftDataError(
          `The ${what} has ${String(value)} at row ${i}, feature ${j}: a category must be a string or a finite number; map missing values to a level such as "missing".`
        );
      }
    });
  });
  return expected;
}

/** Checks a significance level or false-positive rate: a number strictly between 0 and 1. */
export function checkLevel(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    throw new DetectorOptionError(
      `${name} must be a number strictly between 0 and 1, got ${String(value)}.`
    );
  }
  return value;
}

/** Checks a positive integer option. */
export function checkPositiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new DetectorOptionError(`${name} must be a positive integer, got ${String(value)}.`);
  }
  return value;
}

/** Column j of a matrix as a Float64Array. */
export function column(rows: Matrix, j: number): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = rows[i][j];
  return out;
}

/** Feature names: the user's (checked for length) or `f0, f1, ...`. */
export function featureNames(count: number, names?: readonly string[]): string[] {
  if (names === undefined) return Array.from({ length: count }, (_, j) => `f${j}`);
  if (names.length !== count) {
    throw new DetectorOptionError(
      `featureNames has ${names.length} names but the reference has ${count} features: give one name per feature.`
    );
  }
  return [...names];
}
