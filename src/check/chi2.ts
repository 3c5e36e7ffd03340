/**
 * Chi-squared test of homogeneity on a contingency table (rows: samples such as reference and
 * batch; columns: category levels), as scipy.stats.chi2_contingency with its defaults: Yates'
 * continuity correction when there is one degree of freedom. The p-value is the regularized upper
 * incomplete gamma function, accurate far into the tail.
 */
import type gammainc from '@stdlib/math-base-special-gammainc';
import { DriftDataError } from './errors';

export interface Chi2Result {
  statistic: number;
  pValue: number;
  dof: number;
}

/** P(X > x) for X chi-squared with `dof` degrees of freedom. */
export function chi2Survival(x: number, dof: number): number {
  if (x <= 0) return 1;
  // Loaded on first use: it takes a tenth of a second, which importing the package should not cost.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const upperGamma = require('@stdlib/math-base-special-gammainc') as typeof gammainc;
  return upperGamma(x / 2, dof / 2, true, true);
}

/**
 * Tests whether the rows of `table` (counts) come from the same distribution over its columns.
 * Columns that are zero in every row are dropped first (a level nobody saw tells nothing).
 */
export function chi2Contingency(table: ReadonlyArray<ReadonlyArray<number>>): Chi2Result {
  if (table.length < 2) {
    throw new DriftDataError('A contingency table needs at least two rows (reference and batch).');
  }
  const width = table[0].length;
  for (const row of table) {
    if (row.length !== width)
      throw new DriftDataError(
        'Every row of a contingency table needs the same number of columns.'
      );
    for (const count of row) {
      if (!Number.isFinite(count) || count < 0) {
        throw new DriftDataError(
          `A contingency table holds counts, got ${String(count)}: pass non-negative numbers.`
        );
      }
    }
  }
  const keep = Array.from({ length: width }, (_, j) => j).filter(j =>
    table.some(row => row[j] > 0)
  );
  const rowSums = table.map(row => keep.reduce((s, j) => s + row[j], 0));
  if (rowSums.some(s => s === 0)) {
    throw new DriftDataError(
      'A row of the contingency table has no counts at all: every sample needs at least one observation.'
    );
  }
  const colSums = keep.map(j => table.reduce((s, row) => s + row[j], 0));
  const total = rowSums.reduce((s, v) => s + v, 0);
  const dof = (table.length - 1) * (keep.length - 1);
  if (dof === 0) return { statistic: 0, pValue: 1, dof: 0 };
  let statistic = 0;
  table.forEach((row, r) => {
    keep.forEach((j, c) => {
      const expected = (rowSums[r] * colSums[c]) / total;
      let diff = Math.abs(row[j] - expected);
      if (dof === 1) diff = Math.max(0, diff - Math.min(0.5, diff)); // Yates, as scipy
      statistic += (diff * diff) / expected;
    });
  });
  return { statistic, pValue: chi2Survival(statistic, dof), dof };
}
