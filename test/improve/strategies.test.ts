import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import randu from '@stdlib/random-base-randu';
import {
  anomalyRanking,
  entropySampling,
  leastConfidence,
  marginSampling,
  powerSampling,
  randomSampling,
  rankedBatch,
  reconstructionErrorSampling,
  type Matrix
} from '../../src/improve/strategies';
import { QueryError } from '../../src/improve/errors';

// Five pool samples over three classes, chosen so that the three uncertainty measures disagree.
const PROBABILITIES = [
  [0.9, 0.05, 0.05], // 0: confident          1-max 0.10  margin 0.15  entropy 0.39
  [0.4, 0.35, 0.25], // 1: spread out         1-max 0.60  margin 0.95  entropy 1.08
  [0.5, 0.5, 0.0], //   2: a coin toss of two 1-max 0.50  margin 1.00  entropy 0.69
  [0.34, 0.33, 0.33], // 3: nearly uniform    1-max 0.66  margin 0.99  entropy 1.10
  [0.6, 0.2, 0.2] //    4: leaning            1-max 0.40  margin 0.60  entropy 0.95
];

describe('uncertainty strategies on a hand-made pool', () => {
  it('least confidence picks the lowest top probability first', () => {
    const query = leastConfidence(PROBABILITIES, 2);
    assert.deepEqual(query.indices, [3, 1]);
    assert.deepEqual(
      query.scores.map(s => Number(s.toFixed(2))),
      [0.66, 0.6]
    );
  });

  it('margin picks the closest two best classes first', () => {
    const query = marginSampling(PROBABILITIES, 2);
    assert.deepEqual(query.indices, [2, 3]);
    assert.deepEqual(
      query.scores.map(s => Number(s.toFixed(2))),
      [1, 0.99]
    );
  });

  it('entropy picks the flattest distributions first', () => {
    const query = entropySampling(PROBABILITIES, 3);
    assert.deepEqual(query.indices, [3, 1, 4]);
    assert.ok(Math.abs(query.scores[0] - Math.log(3)) < 1e-3);
  });

  it('a batch of the whole pool ranks every sample, ties to the lower index', () => {
    const tied = [
      [0.5, 0.5],
      [0.9, 0.1],
      [0.5, 0.5]
    ];
    assert.deepEqual(leastConfidence(tied, 3).indices, [0, 2, 1]);
  });
});

describe('reconstruction-error ranking', () => {
  const pool: Matrix = [
    [0, 0],
    [3, 4],
    [1, 0],
    [0, 2]
  ];
  const norm = (rows: Matrix): number[] => rows.map(r => Math.hypot(r[0], r[1]));

  it('picks the samples the scorer finds most anomalous', async () => {
    const query = await reconstructionErrorSampling(pool, norm, 2);
    assert.deepEqual(query.indices, [1, 3]);
    assert.deepEqual(query.scores, [5, 2]);
  });

  it('accepts an asynchronous scorer', async () => {
    const query = await reconstructionErrorSampling(
      pool,
      async rows => Float64Array.from(norm(rows)),
      1
    );
    assert.deepEqual(query.indices, [1]);
  });

  it('refuses a scorer that returns the wrong number of scores', async () => {
    await assert.rejects(
      reconstructionErrorSampling(pool, () => [1, 2], 1),
      {
        name: 'QueryError',
        message: /returned 2 scores for a pool of 4 samples/
      }
    );
  });

  it('refuses scores that are not finite', () => {
    assert.throws(() => anomalyRanking([1, NaN, 3], 1), /pool sample 1 is NaN/);
  });
});

describe('ranked batch', () => {
  it('spreads a batch out instead of taking near-copies of one hard sample', () => {
    const pool: Matrix = [[0], [0.01], [5]];
    const probabilities = [
      [0.5, 0.5],
      [0.51, 0.49],
      [0.7, 0.3]
    ];
    // Least confidence alone takes the two near-identical samples 0 and 1.
    assert.deepEqual(leastConfidence(probabilities, 2).indices, [0, 1]);
    const query = rankedBatch(probabilities, pool, 2, { labeled: [], alpha: 0.5 });
    assert.deepEqual(query.indices, [0, 2]);
  });

  it('moves away from what is already labeled', () => {
    const pool: Matrix = [[0], [0.1], [5], [10]];
    const probabilities = [
      [0.5, 0.5],
      [0.5, 0.5],
      [0.9, 0.1],
      [0.8, 0.2]
    ];
    const query = rankedBatch(probabilities, pool, 2, { labeled: [[0]], alpha: 0.5 });
    assert.deepEqual(query.indices, [3, 2]);
    // score of sample 3: 0.5 * (1 - 1 / (1 + 10)) + 0.5 * 0.2
    assert.ok(Math.abs(query.scores[0] - (0.5 * (10 / 11) + 0.1)) < 1e-12);
  });

  it('with nothing labeled and the default alpha, starts from the most uncertain sample', () => {
    const pool: Matrix = [[0], [1], [2]];
    const probabilities = [
      [0.9, 0.1],
      [0.5, 0.5],
      [0.8, 0.2]
    ];
    // alpha = 3 / (3 + 0) = 1: all diversity, so the first pick is a tie broken by uncertainty,
    // then, of the two samples equally far from it, again the more uncertain.
    assert.deepEqual(rankedBatch(probabilities, pool, 2, { labeled: [] }).indices, [1, 2]);
  });

  it('ranks only the most uncertain candidates, so a far-off confident outlier is not picked', () => {
    const pool: Matrix = [[0], [1], [2], [100]];
    const probabilities = [
      [0.6, 0.4],
      [0.5, 0.5],
      [0.55, 0.45],
      [0.99, 0.01]
    ];
    const options = { labeled: [[0]] }; // alpha = 4 / 5: mostly diversity
    // Over the whole pool (modAL's way) the outlier wins on distance alone.
    assert.deepEqual(
      rankedBatch(probabilities, pool, 1, { ...options, candidates: Infinity }).indices,
      [3]
    );
    // Among the 2 most uncertain samples (1 and 2), the one farther from the labeled sample.
    assert.deepEqual(
      rankedBatch(probabilities, pool, 1, { ...options, candidates: 2 }).indices,
      [2]
    );
    assert.throws(
      () => rankedBatch(probabilities, pool, 2, { ...options, candidates: 1 }),
      /candidates must be a whole number of at least k \(2\)/
    );
  });

  it('with alpha 0 is least confidence', () => {
    const pool: Matrix = PROBABILITIES.map((_, i) => [i]);
    const query = rankedBatch(PROBABILITIES, pool, 3, { labeled: [[2]], alpha: 0 });
    assert.deepEqual(query.indices, leastConfidence(PROBABILITIES, 3).indices);
  });

  it('refuses a pool whose features do not match the probabilities', () => {
    assert.throws(
      () => rankedBatch(PROBABILITIES, [[0], [1]], 1, { labeled: [] }),
      /pool has 2 samples but there are 5 probability rows/
    );
  });
});

describe('random baseline', () => {
  it('draws k distinct indices of the pool, reproducibly with a seeded generator', () => {
    const a = randomSampling(50, 10, randu.factory({ seed: 3 }));
    const b = randomSampling(50, 10, randu.factory({ seed: 3 }));
    assert.deepEqual(a.indices, b.indices);
    assert.equal(new Set(a.indices).size, 10);
    assert.ok(a.indices.every(i => Number.isInteger(i) && i >= 0 && i < 50));
  });

  it('gives every sample the same chance', () => {
    const uniform = randu.factory({ seed: 11 });
    const counts = new Array<number>(10).fill(0);
    for (let draw = 0; draw < 2000; draw++) {
      for (const i of randomSampling(10, 3, uniform).indices) counts[i]++;
    }
    // 600 expected per index; a biased shuffle (e.g. swapping with any position) misses by far more.
    assert.ok(
      counts.every(c => Math.abs(c - 600) < 75),
      `counts ${counts.join(',')}`
    );
  });
});

describe('power sampling', () => {
  it('draws each sample with probability proportional to its score', () => {
    const uniform = randu.factory({ seed: 5 });
    const counts = [0, 0, 0, 0];
    for (let draw = 0; draw < 10000; draw++) {
      counts[powerSampling([1, 2, 3, 4], 1, { uniform }).indices[0]]++;
    }
    // Expected 1000, 2000, 3000, 4000; top-k would give 0, 0, 0, 10000.
    counts.forEach((c, i) =>
      assert.ok(Math.abs(c - 1000 * (i + 1)) < 150, `counts ${counts.join(',')}`)
    );
  });

  it('comes closer to the k best as beta grows, and draws uniformly at beta 0', () => {
    const scores = [0.1, 0.9, 0.3, 0.8, 0.2];
    const sharp = powerSampling(scores, 2, { uniform: randu.factory({ seed: 1 }), beta: 200 });
    assert.deepEqual(sharp.indices, [1, 3]);
    assert.deepEqual(sharp.scores, [0.9, 0.8]);
    const uniform = randu.factory({ seed: 2 });
    const counts = new Array<number>(5).fill(0);
    for (let draw = 0; draw < 5000; draw++) {
      counts[powerSampling(scores, 1, { uniform, beta: 0 }).indices[0]]++;
    }
    assert.ok(
      counts.every(c => Math.abs(c - 1000) < 120),
      `counts ${counts.join(',')}`
    );
  });

  it('draws samples scoring 0 only when nothing else is left, and never one twice', () => {
    const uniform = randu.factory({ seed: 9 });
    for (let draw = 0; draw < 200; draw++) {
      assert.deepEqual(powerSampling([0, 0.5, 0, 0.01], 2, { uniform }).indices.sort(), [1, 3]);
      const three = powerSampling([0, 0.5, 0, 0.01], 3, { uniform }).indices;
      assert.equal(new Set(three).size, 3);
    }
  });

  it('repeats with the same seed, and hands the batch over highest score first', () => {
    const scores = Array.from({ length: 100 }, (_, i) => (i % 7) + 1);
    const a = powerSampling(scores, 10, { uniform: randu.factory({ seed: 4 }) });
    const b = powerSampling(scores, 10, { uniform: randu.factory({ seed: 4 }) });
    assert.deepEqual(a, b);
    assert.deepEqual(
      a.scores,
      [...a.scores].sort((x, y) => y - x)
    );
    assert.deepEqual(
      a.scores,
      a.indices.map(i => scores[i])
    );
  });

  it("is the uncertainty strategies' 'power' selection", () => {
    const query = (select: 'top' | 'power'): number[] =>
      entropySampling(PROBABILITIES, 2, { select, uniform: randu.factory({ seed: 3 }) }).indices;
    assert.deepEqual(query('top'), [3, 1]);
    const uniform = randu.factory({ seed: 3 });
    const drawn = new Set<number>();
    for (let draw = 0; draw < 100; draw++) {
      for (const i of marginSampling(PROBABILITIES, 2, { select: 'power', uniform }).indices) {
        drawn.add(i);
      }
    }
    // Every sample has a margin score above 0, so every one gets drawn at times.
    assert.equal(drawn.size, PROBABILITIES.length);
  });

  it('refuses negative or non-finite scores, a bad beta and an unknown selection', () => {
    assert.throws(() => powerSampling([0.2, -1], 1), {
      name: 'QueryError',
      message: /sample 1 is -1: power sampling needs finite scores of at least 0/
    });
    assert.throws(() => powerSampling([0.2, NaN], 1), /sample 1 is NaN/);
    assert.throws(() => powerSampling([0.2, 0.3], 1, { beta: -1 }), /beta must be/);
    assert.throws(() => powerSampling([0.2], 2), /ask for at most 1/);
    assert.throws(
      () => leastConfidence(PROBABILITIES, 1, { select: 'best' as 'top' }),
      /Unknown selection 'best': use 'top' or 'power'/
    );
  });
});

describe('bad input', () => {
  const strategies: Array<[string, (k: number, empty: boolean) => unknown]> = [
    ['least confidence', (k, empty) => leastConfidence(empty ? [] : PROBABILITIES, k)],
    ['margin', (k, empty) => marginSampling(empty ? [] : PROBABILITIES, k)],
    ['entropy', (k, empty) => entropySampling(empty ? [] : PROBABILITIES, k)],
    ['anomaly ranking', (k, empty) => anomalyRanking(empty ? [] : [1, 2, 3, 4, 5], k)],
    ['random', (k, empty) => randomSampling(empty ? 0 : 5, k)],
    [
      'ranked batch',
      (k, empty) =>
        rankedBatch(empty ? [] : PROBABILITIES, empty ? [] : PROBABILITIES, k, { labeled: [] })
    ]
  ];
  for (const [name, query] of strategies) {
    it(`${name}: an empty pool, and k larger than the pool or not a whole number`, () => {
      assert.throws(() => query(1, true), { name: 'QueryError', message: /pool is empty/ });
      assert.throws(() => query(6, false), {
        name: 'QueryError',
        message: /k is 6 but the pool has only 5 samples: ask for at most 5/
      });
      assert.throws(() => query(0, false), QueryError);
      assert.throws(() => query(1.5, false), /whole number/);
    });
  }

  it('reconstruction-error ranking: an empty pool, and k larger than the pool', async () => {
    await assert.rejects(
      reconstructionErrorSampling([], () => [], 1),
      /pool is empty/
    );
    await assert.rejects(
      reconstructionErrorSampling([[1]], () => [1], 2),
      /ask for at most 1/
    );
  });

  it('logits, ragged rows and single-class rows are refused with the fix', () => {
    assert.throws(() => leastConfidence([[2.3, -1.2]], 1), /not logits/);
    assert.throws(() => leastConfidence([[0.6, 0.6]], 1), /sums to 1.2000/);
    assert.throws(
      () => marginSampling([[0.5, 0.5], [1]], 1),
      /row 1 has 1 classes but row 0 has 2/
    );
    assert.throws(() => entropySampling([[1]], 1), /at least 2 classes/);
  });
});
