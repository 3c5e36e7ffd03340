/**
 * Two-sample Kolmogorov-Smirnov test (two-sided), following scipy.stats.ks_2samp: the statistic is
 * the largest gap between the two empirical CDFs; the p-value is exact (lattice-path count, as
 * scipy's 'exact' mode) when the product of the sample sizes is at most EXACT_LIMIT, and otherwise
 * the Kolmogorov limit with Stephens' small-sample correction. Test fixtures computed with scipy
 * check both regimes (test/check/fixtures).
 */
import { checkVector } from './data';

/** Above this many lattice cells (n1 * n2) the exact p-value costs too much; use the asymptotic one. */
export const EXACT_LIMIT = 10_000_000;

export interface KSResult {
  statistic: number;
  pValue: number;
  method: 'exact' | 'asymptotic';
}

function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** The KS statistic of two sorted samples (ties handled as scipy does: CDFs right-continuous). */
export function ksStatisticSorted(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n1 && j < n2) {
    const x = Math.min(a[i], b[j]);
    while (i < n1 && a[i] <= x) i++;
    while (j < n2 && b[j] <= x) j++;
    const gap = Math.abs(i / n1 - j / n2);
    if (gap > d) d = gap;
  }
  return d;
}

function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The same statistic as ksStatisticSorted, in O(m log n) for a small sorted `sample` against a
 * large sorted `reference`: between two of the sample's values only the reference's CDF moves, so
 * the largest gap is at a sample value or just before it.
 */
export function ksStatisticBySearch(sample: Float64Array, reference: Float64Array): number {
  const m = sample.length;
  const n = reference.length;
  let d = 0;
  let i = 0;
  while (i < m) {
    const v = sample[i];
    const before = i / m;
    while (i < m && sample[i] === v) i++;
    const after = i / m;
    d = Math.max(
      d,
      Math.abs(after - upperBound(reference, v) / n),
      Math.abs(before - lowerBound(reference, v) / n)
    );
  }
  return d;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * P(D >= d) for samples of sizes n1 and n2 with no ties: one minus the share of the monotone
 * lattice paths from (0,0) to (n1,n2) that stay strictly inside the band |i/n1 - j/n2| < d. The
 * share is carried normalized by the binomial path count so that nothing overflows.
 */
function exactPValue(n1: number, n2: number, d: number): number {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = Math.round(d * lcm);
  if (h === 0) return 1;
  const a = n2 / g; // i/n1 * lcm = i * a
  const b = n1 / g; // j/n2 * lcm = j * b
  // inside[j] holds the normalized count for the current row i.
  const inside = new Float64Array(n2 + 1);
  inside[0] = 1;
  for (let j = 1; j <= n2; j++) inside[j] = Math.abs(-j * b) < h ? inside[j - 1] : 0;
  for (let i = 1; i <= n1; i++) {
    const ia = i * a;
    inside[0] = ia < h ? inside[0] : 0;
    for (let j = 1; j <= n2; j++) {
      if (Math.abs(ia - j * b) >= h) {
        inside[j] = 0;
      } else {
        const total = i + j;
        inside[j] = (inside[j] * i) / total + (inside[j - 1] * j) / total;
      }
    }
  }
  return Math.min(1, Math.max(0, 1 - inside[n2]));
}

/** Survival function of the Kolmogorov distribution, P(K > lambda). */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 1) {
    // P(K <= l) = sqrt(2 pi)/l * sum_k exp(-(2k-1)^2 pi^2 / (8 l^2)), fast for small l.
    const c = -(Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let k = 1; k <= 20; k++) sum += Math.exp(c * (2 * k - 1) * (2 * k - 1));
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum));
  }
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-300) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

function asymptoticPValue(n1: number, n2: number, d: number): number {
  const en = Math.sqrt((n1 * n2) / (n1 + n2));
  return kolmogorovSurvival((en + 0.12 + 0.11 / en) * d);
}

/** Two-sided two-sample KS test of `a` against `b`. */
export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>): KSResult {
  checkVector(a, 'first sample');
  checkVector(b, 'second sample');
  return ks2sampSorted(sorted(a), sorted(b));
}

/** As ks2samp, for samples already sorted ascending (saves the sort of a fixed reference). */
export function ks2sampSorted(a: Float64Array, b: Float64Array): KSResult {
  const statistic = ksStatisticSorted(a, b);
  if (a.length * b.length <= EXACT_LIMIT) {
    const pValue = exactPValue(a.length, b.length, statistic);
    // 1 - P(inside) cancels to nothing below ~1e-12; the asymptotic value keeps the magnitude.
    if (pValue >= 1e-12) return { statistic, pValue, method: 'exact' };
  }
  return {
    statistic,
    pValue: asymptoticPValue(a.length, b.length, statistic),
    method: 'asymptotic'
  };
}
