/**
 * How sure a label ratio is, from the seeds it was measured on: the seeds are resampled with
 * replacement (the same draw for random and the strategy, since they share each seed's split and
 * start model), the mean curves read again, and the ratio taken each time. With 5 seeds and a
 * random curve that is nearly flat around the threshold, one seed more or less moves random's
 * crossing by tens of labels; this says by how much.
 */
import randu from '@stdlib/random-base-randu';

export type Points = ReadonlyArray<readonly [number, number]>;

export interface RatioSpread {
  /** 5th and 95th percentiles of the resampled ratios. */
  low: number;
  high: number;
  /** Share of the resamples in which the ratio is at most `target`. */
  atMostTarget: number;
  resamples: number;
}

/** Fewest labels at which the curve reaches `threshold`, or null. */
export function labelsToReach(points: Points, threshold: number): number | null {
  return points.find(([, accuracy]) => accuracy >= threshold)?.[0] ?? null;
}

/** The mean over curves of the same label counts. */
export function meanCurve(curves: readonly Points[]): Array<[number, number]> {
  return curves[0].map(([labels], r) => [
    labels,
    Number((curves.reduce((sum, c) => sum + c[r][1], 0) / curves.length).toFixed(4))
  ]);
}

/**
 * The spread of labels(strategy) / labels(random) to `threshold` over `resamples` bootstrap draws
 * of the seeds. A mean curve that never reaches the threshold within the budget counts as needing
 * `beyond` labels (one batch more): for random a lower bound on what it needs, so the ratio is never
 * smaller than the truth; for a strategy, a ratio the target can never accept.
 */
export function ratioSpread(
  strategy: readonly Points[],
  random: readonly Points[],
  options: { threshold: number; beyond: number; target: number; resamples?: number; seed?: number }
): RatioSpread {
  const resamples = options.resamples ?? 2000;
  const uniform = randu.factory({ seed: options.seed ?? 1 });
  const seeds = Math.min(strategy.length, random.length);
  const labels = (curves: Points[]): number =>
    labelsToReach(meanCurve(curves), options.threshold) ?? options.beyond;
  const ratios: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const draw = Array.from({ length: seeds }, () => Math.floor(uniform() * seeds));
    ratios.push(labels(draw.map(s => strategy[s])) / labels(draw.map(s => random[s])));
  }
  ratios.sort((a, b) => a - b);
  const at = (q: number): number => Number(ratios[Math.floor(q * (resamples - 1))].toFixed(3));
  return {
    low: at(0.05),
    high: at(0.95),
    atMostTarget: Number((ratios.filter(r => r <= options.target).length / resamples).toFixed(3)),
    resamples
  };
}
