/**
 * Multiple-testing corrections for per-feature tests, delegated to @stdlib/stats-padjust.
 */
import type padjust from '@stdlib/stats-padjust';

/** `bonferroni` controls the family-wise error rate; `fdr` (Benjamini-Hochberg) the false discovery rate. */
export type Correction = 'bonferroni' | 'fdr';

export const CORRECTIONS: readonly Correction[] = ['bonferroni', 'fdr'];

/** Adjusted p-values, in the order given; compare each with the detector's level. */
export function adjustPValues(pValues: readonly number[], correction: Correction): number[] {
  if (pValues.length === 1) return [...pValues];
  // Loaded on first use, as the other @stdlib functions: importing the package stays quick.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const adjust = require('@stdlib/stats-padjust') as typeof padjust;
  return adjust([...pValues], correction === 'bonferroni' ? 'bonferroni' : 'bh');
}
