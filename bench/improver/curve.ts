/**
 * One learning curve of the improver benchmark: a strategy, a seed, rounds of 10 labels from the
 * simulated oracle (the ground truth) until the label budget, the test accuracy after each round.
 * Run in worker processes by bench/improver.ts (one curve per message), since tfjs's wasm backend
 * keeps one core busy and the machine has more.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import randu from '@stdlib/random-base-randu';
import { AutoencoderDrift } from '../../src/check/autoencoder-detector';
import { tensorflowBackend } from '../../src/check/backend';
import { Classifier, type ClassifierOptions } from '../../src/improve/classifier';
import type { StrategyName } from '../../src/improve/learner';
import {
  anomalyRanking,
  entropySampling,
  leastConfidence,
  marginSampling,
  marginScores,
  randomSampling,
  rankedBatch,
  type Matrix,
  type Query,
  type SelectOptions
} from '../../src/improve/strategies';

export type Strategy = StrategyName;

/** A strategy and, for least confidence, margin and entropy, how it makes a batch of its scores. */
export interface Variant {
  strategy: Strategy;
  select?: NonNullable<SelectOptions['select']>;
  /** The uncertainty ranked batch trades against diversity (default least confidence). */
  uncertainty?: 'least-confidence' | 'margin';
  /** How many of the most uncertain samples ranked batch ranks (its default: 10 k). */
  candidates?: number;
  /** Where ranked batch measures diversity: 'model' (default, as ActiveLearner does), the
   *  classifier's last hidden layer, or 'pixels'. */
  space?: 'pixels' | 'model';
}

export interface Training {
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
  /** Score only this many unlabeled samples, drawn at random each round (default: all). */
  subset?: number;
  /** Sharpness of the 'power' draws. */
  beta: number;
}

export interface Job {
  variant: Variant;
  seed: number;
  maxLabels: number;
  training: Training;
}

export interface Curve {
  /** [labels, test accuracy] after each round. */
  points: Array<[number, number]>;
  /** How many of the final labels are of each class (0..9). */
  classes: number[];
  seconds: number;
  /** The TensorFlow.js backend that trained the models. */
  backend: string;
}

export const TEST_SIZE = 2000;
export const INITIAL_PER_CLASS = 2;
export const BATCH = 10;
export const DIGITS = 10_000;

interface Digits {
  x: Float32Array[];
  y: number[];
}

interface MnistDigit {
  length: number;
  get(index: number): number[];
}

/** Every digit of the package, averaged down to 14x14 unless `side` is 28. */
function loadDigits(side: 14 | 28): Digits {
  const load = createRequire(join(__dirname, '..', '..', 'package.json'));
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

function subset(data: Digits, indices: readonly number[]): Digits {
  return { x: indices.map(i => data.x[i]), y: indices.map(i => data.y[i]) };
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

/** What every curve of one seed shares: the split, the first labels and the model trained on
 *  them, and (when asked for) the autoencoder's anomaly scores of the pool. */
interface SeedSetup {
  seed: number;
  pool: Digits;
  test: Digits;
  initial: number[];
  start: Classifier;
  startAccuracy: number;
  anomaly?: Float64Array;
}

let digits: Digits | undefined;
let current: SeedSetup | undefined;

async function setupFor(seed: number, training: Training): Promise<SeedSetup> {
  if (current?.seed === seed) return current;
  current?.start.dispose();
  digits ??= loadDigits(training.side);
  const order = randomSampling(digits.x.length, digits.x.length, randu.factory({ seed })).indices;
  const test = subset(digits, order.slice(0, TEST_SIZE));
  const pool = subset(digits, order.slice(TEST_SIZE));
  const initial: number[] = [];
  for (let d = 0; d < 10; d++) {
    initial.push(...pool.y.flatMap((y, i) => (y === d ? [i] : [])).slice(0, INITIAL_PER_CLASS));
  }
  const start = await train(pool, initial, seed, training);
  current = {
    seed,
    pool,
    test,
    initial,
    start,
    startAccuracy: Number(start.accuracy(test).toFixed(4))
  };
  return current;
}

function query(
  variant: Variant,
  setup: SeedSetup,
  unlabeled: number[],
  context: QueryContext
): Query {
  const { pool } = setup;
  const rows: Matrix = unlabeled.map(i => pool.x[i]);
  const select: SelectOptions = {
    select: variant.select,
    uniform: context.uniform,
    beta: context.training.beta
  };
  switch (variant.strategy) {
    case 'random':
      return randomSampling(rows.length, BATCH, context.uniform);
    case 'reconstruction-error':
      return anomalyRanking(
        unlabeled.map(i => (setup.anomaly as Float64Array)[i]),
        BATCH
      );
    default:
  }
  const probabilities = context.model.predictProbabilities(rows, {
    samples: context.training.passes
  });
  switch (variant.strategy) {
    case 'least-confidence':
      return leastConfidence(probabilities, BATCH, select);
    case 'margin':
      return marginSampling(probabilities, BATCH, select);
    case 'entropy':
      return entropySampling(probabilities, BATCH, select);
    default: {
      const labeledRows = context.labeled.map(i => pool.x[i]);
      const features = (x: Matrix): Matrix =>
        variant.space === 'pixels' ? x : context.model.embed(x);
      return rankedBatch(probabilities, features(rows), BATCH, {
        labeled: features(labeledRows),
        uncertainty: variant.uncertainty === 'margin' ? marginScores : undefined,
        candidates: variant.candidates
      });
    }
  }
}

interface QueryContext {
  model: Classifier;
  labeled: number[];
  uniform: () => number;
  training: Training;
}

export async function curve(job: Job): Promise<Curve> {
  const { variant, seed, maxLabels, training } = job;
  const t = performance.now();
  const setup = await setupFor(seed, training);
  const { pool, test, start } = setup;
  if (variant.strategy === 'reconstruction-error' && !setup.anomaly) {
    // The seed's way: rank by the checker's autoencoder, fitted on the unlabeled pool.
    const detector = await AutoencoderDrift.fit(pool.x, { epochs: 5, latentDim: 16, seed });
    setup.anomaly = detector.score(pool.x);
    detector.dispose();
  }
  const labeled = [...setup.initial];
  const isLabeled = new Uint8Array(pool.x.length);
  labeled.forEach(i => (isLabeled[i] = 1));
  const uniform = randu.factory({ seed: seed + 1000 });
  const subsetUniform = randu.factory({ seed: seed + 2000 });
  const points: Array<[number, number]> = [[labeled.length, setup.startAccuracy]];
  // The seed's start model is shared by its curves: only later models are this curve's to free.
  const release = (model: Classifier): void => {
    if (model !== start) model.dispose();
  };
  let model = start;
  while (labeled.length < maxLabels) {
    let unlabeled = pool.x.map((_, i) => i).filter(i => !isLabeled[i]);
    if (variant.strategy !== 'random' && training.subset && training.subset < unlabeled.length) {
      unlabeled = randomSampling(unlabeled.length, training.subset, subsetUniform).indices.map(
        p => unlabeled[p]
      );
    }
    const chosen = query(variant, setup, unlabeled, { model, labeled, uniform, training });
    for (const position of chosen.indices) {
      // The simulated oracle: the label comes from the ground truth.
      const index = unlabeled[position];
      isLabeled[index] = 1;
      labeled.push(index);
    }
    const next = await train(pool, labeled, seed, training, model);
    release(model);
    model = next;
    points.push([labeled.length, Number(model.accuracy(test).toFixed(4))]);
  }
  release(model);
  const classes = new Array<number>(10).fill(0);
  for (const i of labeled) classes[pool.y[i]]++;
  return {
    points,
    classes,
    seconds: Math.round((performance.now() - t) / 1000),
    backend: await tensorflowBackend()
  };
}

// Run as a worker process: one job per message, one curve back.
if (process.send && process.env.SCANFLOW_BENCH_WORKER === 'improver') {
  // A bench stopped with Ctrl-C or killed leaves no worker computing on.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (job: Job) => {
    curve(job).then(
      result => process.send?.({ ok: true, result }),
      (error: unknown) => process.send?.({ ok: false, error: String(error) })
    );
  });
}
