/**
 * Query strategies: which unlabeled samples a person should label next. After modAL, each one is a
 * plain function over what the model says about the pool (its class probabilities, or a per-sample
 * anomaly score) and a batch size k; it returns the chosen pool indices, most informative first,
 * with their scores. They share nothing but this shape, so they combine freely with any model.
 *
 * Every score reads the same way: higher means more worth labeling. Ties go to the lower index so
 * that a query is reproducible.
 */
import { QueryError } from './errors';

/** One row per pool sample, one column per class, each row summing to 1 (softmax outputs). */
export type Probabilities = ReadonlyArray<ArrayLike<number>>;

/** Samples as rows of features: `rows[i][j]` is feature j of sample i. */
export type Matrix = ReadonlyArray<ArrayLike<number>>;

/** The chosen pool indices, most informative first, and the score of each (same order). */
export interface Query {
  indices: number[];
  scores: number[];
}

/** Maps samples to one anomaly score each, higher meaning less like the reference (for example
 *  an autoencoder's reconstruction error: `rows => detector.score(rows)`). */
export type AnomalyScorer = (rows: Matrix) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** Uniform numbers in [0, 1); pass a seeded generator for reproducible queries. */
export type Uniform = () => number;

/** How far from 1 a probability row's sum may be before it is taken for logits or garbage. */
const SUM_TOLERANCE = 1e-3;

/** How an uncertainty strategy turns its scores into a batch. */
export interface SelectOptions extends PowerOptions {
  /** 'top' (default): the k highest scores. 'power': k drawn with probability proportional to
   *  score^beta (see `powerSampling`), which spreads a batch over more kinds of hard samples. */
  select?: 'top' | 'power';
}

/** Picks the k pool samples whose most likely class has the lowest probability: 1 - max p. */
export function leastConfidence(
  probabilities: Probabilities,
  k: number,
  options: SelectOptions = {}
): Query {
  return select(leastConfidenceScores(probabilities), k, options);
}

/** Picks the k samples whose two most likely classes are closest: 1 - (p1 - p2). */
export function marginSampling(
  probabilities: Probabilities,
  k: number,
  options: SelectOptions = {}
): Query {
  return select(marginScores(probabilities), k, options);
}

/** Picks the k samples whose predicted distribution has the highest entropy (natural log). */
export function entropySampling(
  probabilities: Probabilities,
  k: number,
  options: SelectOptions = {}
): Query {
  return select(entropyScores(probabilities), k, options);
}

function select(scores: Float64Array, k: number, options: SelectOptions): Query {
  const how = options.select ?? 'top';
  if (how === 'power') return powerSampling(scores, k, options);
  if (how !== 'top') {
    throw new QueryError(`Unknown selection '${String(how)}': use 'top' or 'power'.`);
  }
  return topK(scores, k);
}

/** Picks the k samples with the highest anomaly scores (already computed, one per sample). */
export function anomalyRanking(scores: ArrayLike<number>, k: number): Query {
  checkBatchSize(k, scores.length);
  const values = Float64Array.from(scores);
  values.forEach((value, i) => {
    if (!Number.isFinite(value)) {
      throw new QueryError(
        `The anomaly score of pool sample ${i} is ${value}: a scorer must return one finite number per sample.`
      );
    }
  });
  return topK(values, k);
}

/**
 * The seed's way: the k samples the checker finds most anomalous, for example those an
 * autoencoder reconstructs worst. `scorer` is any function from samples to per-sample scores.
 */
export async function reconstructionErrorSampling(
  pool: Matrix,
  scorer: AnomalyScorer,
  k: number
): Promise<Query> {
  checkBatchSize(k, pool.length);
  const scores = await scorer(pool);
  if (scores.length !== pool.length) {
    throw new QueryError(
      `The anomaly scorer returned ${scores.length} scores for a pool of ${pool.length} samples: it must return one score per sample, in order.`
    );
  }
  return anomalyRanking(scores, k);
}

/** k distinct pool indices drawn uniformly: the baseline every strategy is measured against.
 *  Scores are all 0, as random ranks nothing. */
export function randomSampling(poolSize: number, k: number, uniform: Uniform = Math.random): Query {
  checkBatchSize(k, poolSize);
  // A partial Fisher-Yates shuffle: the first k places are a uniform sample without replacement.
  const order = Array.from({ length: poolSize }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(uniform() * (poolSize - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { indices: order.slice(0, k), scores: new Array<number>(k).fill(0) };
}

export interface PowerOptions {
  /** Uniform numbers in [0, 1) for the draw (default Math.random). */
  uniform?: Uniform;
  /** Sharpness: 0 draws uniformly, larger values come closer to the k best (default 1). */
  beta?: number;
}

/**
 * Power acquisition (Kirsch et al. 2023, "Stochastic Batch Acquisition"): k distinct samples drawn
 * with probability proportional to score^beta, instead of the k best. The k best of one model are
 * often near-copies of one hard case; a draw still favours high scores but spreads the batch, at
 * no extra cost. Drawn as the k largest of beta ln(score) + Gumbel noise (the Gumbel top-k trick),
 * and returned highest score first.
 * Scores must be non-negative; samples scoring 0 are drawn only when nothing else is left.
 */
export function powerSampling(
  scores: ArrayLike<number>,
  k: number,
  options: PowerOptions = {}
): Query {
  checkBatchSize(k, scores.length);
  const uniform = options.uniform ?? Math.random;
  const beta = options.beta ?? 1;
  if (!(beta >= 0 && Number.isFinite(beta))) {
    throw new QueryError(`beta must be a finite number of at least 0, got ${beta}.`);
  }
  const keys = Float64Array.from(scores, (score, i) => {
    if (!(score >= 0 && Number.isFinite(score))) {
      throw new QueryError(
        `The score of pool sample ${i} is ${score}: power sampling needs finite scores of at least 0.`
      );
    }
    // uniform() lies in [0, 1); 0 would make the noise infinite.
    const gumbel = -Math.log(-Math.log(uniform() || Number.MIN_VALUE));
    return score === 0 ? -Infinity : beta * Math.log(score) + gumbel;
  });
  // The batch is a set: hand it over most informative first, as the other strategies do.
  const chosen = topK(keys, k).indices.sort((a, b) => scores[b] - scores[a] || a - b);
  return { indices: chosen, scores: chosen.map(i => scores[i]) };
}

export interface RankedBatchOptions {
  /** Features of the samples already labeled (same width as the pool's); may be empty. */
  labeled: Matrix;
  /** Weight of diversity against uncertainty, in [0, 1]. Default |pool| / (|pool| + |labeled|),
   *  as in Cardoso et al. (2017) and modAL: diversity first while few samples are labeled. */
  alpha?: number;
  /** Per-sample uncertainty in [0, 1]; default least confidence, 1 - max p. */
  uncertainty?: (probabilities: Probabilities) => Float64Array;
  /** Rank only this many of the most uncertain pool samples (default 10 k; Infinity ranks the
   *  whole pool, as modAL does). With few labels and a large pool alpha is near 1, and over the
   *  whole pool the most "diverse" samples are outliers (odd digits, smudges), which teach little;
   *  among the most uncertain ones, diversity instead stops a batch from being k near-copies. */
  candidates?: number;
}

/**
 * Ranked batch-mode sampling (Cardoso et al. 2017, as in modAL): picks samples one at a time by
 * alpha * (1 - similarity to the labeled and already picked samples) + (1 - alpha) * uncertainty,
 * so that a batch is not k near-copies of the same hard sample. Similarity is 1 / (1 + euclidean
 * distance) to the nearest such sample. Unlike modAL, only the `candidates` most uncertain samples
 * are ranked (the filter of Zhdanov 2019's diverse mini-batches), so the strategy stays
 * uncertainty-based however large the pool. `pool` and `labeled` are whatever features distance
 * should be measured in: the model's own (`Classifier.embed`, as ActiveLearner passes) needed
 * fewer labels on MNIST than pixels (src/improve/README.md).
 */
export function rankedBatch(
  probabilities: Probabilities,
  pool: Matrix,
  k: number,
  options: RankedBatchOptions
): Query {
  const uncertainty = (options.uncertainty ?? leastConfidenceScores)(probabilities);
  if (pool.length !== probabilities.length) {
    throw new QueryError(
      `The pool has ${pool.length} samples but there are ${probabilities.length} probability rows: pass one row of features and one of probabilities per pool sample, in the same order.`
    );
  }
  checkBatchSize(k, pool.length);
  const width = checkFeatures(pool, 'pool');
  if (options.labeled.length > 0) checkFeatures(options.labeled, 'labeled set', width);
  const alpha = options.alpha ?? pool.length / (pool.length + options.labeled.length);
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new QueryError(`alpha must be between 0 and 1, got ${alpha}.`);
  }
  const candidates = options.candidates ?? 10 * k;
  if (!(candidates >= k) || !(Number.isInteger(candidates) || candidates === Infinity)) {
    throw new QueryError(
      `candidates must be a whole number of at least k (${k}), or Infinity, got ${candidates}.`
    );
  }
  // The samples ranked: the most uncertain ones (ties to the lower index), or the whole pool.
  const ranked =
    candidates >= pool.length
      ? pool.map((_, i) => i)
      : topK(uncertainty, candidates).indices.sort((a, b) => a - b);
  const rows = ranked.map(i => pool[i]);

  // Distance from each ranked sample to its nearest labeled (or picked) sample; Infinity = none.
  const nearest = new Float64Array(ranked.length).fill(Infinity);
  for (const row of options.labeled) updateNearest(nearest, rows, row);

  const picked = new Uint8Array(ranked.length);
  const query: Query = { indices: [], scores: [] };
  for (let round = 0; round < k; round++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let r = 0; r < ranked.length; r++) {
      if (picked[r]) continue;
      const u = uncertainty[ranked[r]];
      const similarity = 1 / (1 + nearest[r]); // 0 when nothing is labeled yet
      const score = alpha * (1 - similarity) + (1 - alpha) * u;
      // Equal scores (nothing labeled yet and alpha 1) go to the more uncertain sample.
      if (score > bestScore || (score === bestScore && u > uncertainty[ranked[best]])) {
        best = r;
        bestScore = score;
      }
    }
    picked[best] = 1;
    query.indices.push(ranked[best]);
    query.scores.push(bestScore);
    updateNearest(nearest, rows, rows[best]);
  }
  return query;
}

/** 1 - max p for each row. */
export function leastConfidenceScores(probabilities: Probabilities): Float64Array {
  checkProbabilities(probabilities);
  return Float64Array.from(probabilities, row => 1 - Math.max(...Array.from(row)));
}

/** 1 - (p1 - p2) for each row, p1 and p2 the two highest probabilities. */
export function marginScores(probabilities: Probabilities): Float64Array {
  checkProbabilities(probabilities);
  return Float64Array.from(probabilities, row => {
    let first = -Infinity;
    let second = -Infinity;
    for (let j = 0; j < row.length; j++) {
      const p = row[j];
      if (p > first) {
        second = first;
        first = p;
      } else if (p > second) {
        second = p;
      }
    }
    return 1 - (first - second);
  });
}

/** -sum p ln p for each row (0 ln 0 taken as 0). */
export function entropyScores(probabilities: Probabilities): Float64Array {
  checkProbabilities(probabilities);
  return Float64Array.from(probabilities, row => {
    let h = 0;
    for (let j = 0; j < row.length; j++) {
      if (row[j] > 0) h -= row[j] * Math.log(row[j]);
    }
    return h;
  });
}

/** The k highest scores' indices, ties to the lower index. */
function topK(scores: Float64Array, k: number): Query {
  checkBatchSize(k, scores.length);
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const indices = order.slice(0, k);
  return { indices, scores: indices.map(i => scores[i]) };
}

function updateNearest(nearest: Float64Array, pool: Matrix, row: ArrayLike<number>): void {
  for (let i = 0; i < pool.length; i++) {
    const sample = pool[i];
    let squared = 0;
    for (let j = 0; j < row.length; j++) {
      const d = sample[j] - row[j];
      squared += d * d;
    }
    const distance = Math.sqrt(squared);
    if (distance < nearest[i]) nearest[i] = distance;
  }
}

function checkBatchSize(k: number, poolSize: number): void {
  if (poolSize === 0) {
    throw new QueryError(
      'The pool is empty: there is nothing left to query. Add unlabeled samples to the pool, or stop: every sample is labeled.'
    );
  }
  if (!Number.isInteger(k) || k < 1) {
    throw new QueryError(`The batch size k must be a whole number of at least 1, got ${k}.`);
  }
  if (k > poolSize) {
    throw new QueryError(
      `The batch size k is ${k} but the pool has only ${poolSize} samples: ask for at most ${poolSize}.`
    );
  }
}

function checkProbabilities(probabilities: Probabilities): void {
  if (!Array.isArray(probabilities) || probabilities.length === 0) {
    throw new QueryError(
      "The pool is empty (no probability rows): pass the model's class probabilities for at least one unlabeled sample."
    );
  }
  const classes = probabilities[0].length;
  if (classes < 2) {
    throw new QueryError(
      `Probability rows have ${classes} column(s): pass one probability per class, for at least 2 classes.`
    );
  }
  probabilities.forEach((row, i) => {
    if (row.length !== classes) {
      throw new QueryError(
        `Probability row ${i} has ${row.length} classes but row 0 has ${classes}: every row needs one probability per class.`
      );
    }
    let sum = 0;
    for (let j = 0; j < row.length; j++) {
      const p = row[j];
      if (!Number.isFinite(p) || p < 0 || p > 1) {
        throw new QueryError(
          `Probability row ${i} has ${p} for class ${j}: probabilities must lie in [0, 1]. Pass softmax outputs (model.predict), not logits.`
        );
      }
      sum += p;
    }
    if (Math.abs(sum - 1) > SUM_TOLERANCE) {
      throw new QueryError(
        `Probability row ${i} sums to ${sum.toFixed(4)}, not 1: pass softmax outputs over all classes.`
      );
    }
  });
}

function checkFeatures(rows: Matrix, what: string, width?: number): number {
  const expected = width ?? rows[0].length;
  rows.forEach((row, i) => {
    if (row.length !== expected) {
      throw new QueryError(
        `Row ${i} of the ${what} has ${row.length} features, expected ${expected}: pool and labeled samples need the same features.`
      );
    }
  });
  return expected;
}
