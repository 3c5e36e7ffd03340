/**
 * A small neural classifier in TensorFlow.js: the model the improver retrains on the reference
 * data plus the new labels. It takes flat rows of numbers (784 pixels in [0, 1] for MNIST) and
 * class indices, and gives class probabilities, which is all the query strategies need. By default
 * it is a multilayer perceptron; with `image` it reads each row as a grey image and puts a small
 * convolutional network in front (conv 3x3 then max pool 2x2 per block), which learns digits from
 * far fewer labels.
 *
 * Training is reproducible: weights are initialized, batches shuffled and dropout masks drawn from
 * `seed` (tfjs itself shuffles with Math.random, and its seeded dropout repeats one mask at every
 * step). `train` starts from fresh weights, so that an old and a retrained model differ only by the
 * data they saw; `continueTraining` starts from a copy of this model's weights instead.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensorflowBackend, tf } from '../check/backend';
import { seededUniform, shuffledIndices } from '../check/random';
import { TrainingDataError } from './errors';
import type { Matrix } from './strategies';

export interface ClassifierOptions {
  /** Read each row as a grey image of this size (row-major, width x height = row length) and
   *  put convolution blocks in front of the dense layers. */
  image?: { width: number; height: number };
  /** Filters of each convolution block (3x3 convolution, relu, 2x2 max pool), used with `image`
   *  (default [16, 32]). */
  filters?: number[];
  /** Units of each hidden dense layer (default [256], or [64] after convolutions). */
  hidden?: number[];
  /** Dropout before each hidden dense layer's output and the output layer (default 0.2), which
   *  helps a lot on a few hundred samples. */
  dropout?: number;
  /** Passes over the data (default: enough for about 300 gradient steps, between 20 and 150). */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Seed of the weight initializers, the batch order and the dropout masks (default 1). */
  seed?: number;
}

/** How to train further from the current weights (see `continueTraining`). */
export interface ContinueOptions {
  /** Passes over the data (default: enough for about 100 gradient steps, between 5 and 50). */
  epochs?: number;
  /** Seed of the batch order and dropout masks (default: the model's seed plus its rounds). */
  seed?: number;
}

export interface TrainingSet {
  /** One row of features per sample. */
  x: Matrix;
  /** The class index of each row, in [0, classes). */
  y: ArrayLike<number>;
}

/** What training needs besides the data; kept with the model so that it can train further. */
interface TrainingSettings {
  batchSize: number;
  learningRate: number;
  seed: number;
  /** How many times this lineage of weights was trained (fresh training is round 1). */
  round: number;
}

const PREDICT_BATCH = 2048;
const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

let seededDropout: ReturnType<typeof defineSeededDropout> | undefined;

/**
 * The SeededDropout layer class, defined and registered (so that saved models that use it load)
 * on first use: it extends a TensorFlow.js class, and TensorFlow.js loads only when needed.
 */
function seededDropoutClass(): ReturnType<typeof defineSeededDropout> {
  seededDropout ??= defineSeededDropout();
  return seededDropout;
}

/**
 * Dropout whose masks are reproducible and differ at every step: tfjs's own dropout layer either
 * draws from Math.random (unseeded) or, given a seed, draws the same mask at every call.
 */
function defineSeededDropout() {
  class SeededDropout extends tf.layers.Layer {
    static readonly className = 'ScanflowSeededDropout';
    private readonly rate: number;
    private readonly seed: number;
    private calls = 0;

    constructor(config: { rate: number; seed: number; name?: string }) {
      super(config);
      this.rate = config.rate;
      this.seed = config.seed;
    }

    /** `pass`: the Monte Carlo pass of a prediction, whose mask depends on nothing else. */
    call(
      inputs: tf.Tensor | tf.Tensor[],
      kwargs: { training?: boolean; pass?: number }
    ): tf.Tensor {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (!kwargs.training || this.rate === 0) return x;
      // One seed per training call and layer: distinct masks, the same ones on every run. A
      // prediction's passes count down from the layer's seed instead, so that a model predicts
      // the same however often it predicted before.
      const offset = kwargs.pass === undefined ? this.calls++ : -1 - kwargs.pass;
      return tf.dropout(x, this.rate, undefined, this.seed * 1_000_003 + offset);
    }

    getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), rate: this.rate, seed: this.seed };
    }
  }
  tf.serialization.registerClass(SeededDropout);
  return SeededDropout;
}

export class Classifier {
  private constructor(
    private readonly model: tf.LayersModel,
    readonly inputSize: number,
    readonly classes: number,
    /** Samples the model was trained on (in its last training). */
    readonly trainedOn: number,
    private readonly settings: TrainingSettings
  ) {}

  /** Builds a fresh network and trains it on `data`. */
  static async train(
    data: TrainingSet,
    classes: number,
    options: ClassifierOptions = {}
  ): Promise<Classifier> {
    const inputSize = checkTrainingSet(data, classes);
    await tensorflowBackend();
    const seed = options.seed ?? 1;
    const model = buildNetwork(inputSize, classes, options, seed);
    const settings: TrainingSettings = {
      batchSize: options.batchSize ?? 32,
      learningRate: options.learningRate ?? 1e-3,
      seed,
      round: 1
    };
    const stepsPerEpoch = Math.ceil(data.x.length / settings.batchSize);
    const epochs = options.epochs ?? Math.min(150, Math.max(20, Math.ceil(300 / stepsPerEpoch)));
    try {
      await fit(model, data, inputSize, epochs, settings);
    } catch (error) {
      model.dispose();
      throw error;
    }
    return new Classifier(model, inputSize, classes, data.x.length, settings);
  }

  /**
   * A new classifier that starts from a copy of this one's weights and trains on `data` (usually
   * everything labeled so far): far fewer steps than training afresh when a few labels were
   * added. This classifier is left as it was.
   */
  async continueTraining(data: TrainingSet, options: ContinueOptions = {}): Promise<Classifier> {
    checkTrainingSet(data, this.classes, this.inputSize);
    const model = await copyNetwork(this.model);
    const settings: TrainingSettings = {
      ...this.settings,
      seed: options.seed ?? this.settings.seed + this.settings.round * 7919,
      round: this.settings.round + 1
    };
    const stepsPerEpoch = Math.ceil(data.x.length / settings.batchSize);
    const epochs = options.epochs ?? Math.min(50, Math.max(5, Math.ceil(100 / stepsPerEpoch)));
    try {
      await fit(model, data, this.inputSize, epochs, settings);
    } catch (error) {
      model.dispose();
      throw error;
    }
    return new Classifier(model, this.inputSize, this.classes, data.x.length, settings);
  }

  /**
   * Class probabilities, one row per sample (each row sums to 1). With `samples` above 1, the mean
   * of that many passes with dropout left on (Monte Carlo dropout, Gal and Ghahramani 2016): an
   * estimate that also reflects how unsure the network is of its own weights, which the
   * uncertainty strategies read better than a single pass. Only the dense layers (where dropout
   * is) run more than once.
   */
  predictProbabilities(rows: Matrix, options: { samples?: number } = {}): Float32Array[] {
    if (rows.length === 0) return [];
    checkWidth(rows, this.inputSize, 'samples');
    const samples = options.samples ?? 1;
    if (!(Number.isInteger(samples) && samples >= 1)) {
      throw new TrainingDataError(
        `samples must be a whole number of at least 1 (passes with dropout), got ${samples}.`
      );
    }
    const flat = tf.tidy(() => {
      const x = toTensor(rows, this.inputSize);
      // Keras's default of 32 rows per call costs a hundred times more than the arithmetic.
      if (samples === 1) {
        const output = this.model.predict(x, { batchSize: PREDICT_BATCH }) as tf.Tensor;
        return output.dataSync() as Float32Array;
      }
      const start = this.model.layers.findIndex(layer => layer.getClassName() === 'Dense');
      const features = start === 0 ? x : this.activations(x, start - 1);
      const head = this.model.layers.slice(start);
      let sum: tf.Tensor = tf.zeros([rows.length, this.classes]);
      for (let pass = 0; pass < samples; pass++) {
        const output = head.reduce(
          (h, layer) => layer.apply(h, { training: true, pass }) as tf.Tensor,
          features
        );
        sum = tf.add(sum, output);
      }
      return tf.div(sum, samples).dataSync() as Float32Array;
    });
    return splitRows(flat, rows.length);
  }

  /**
   * The network's own features of each sample: the last hidden layer's activations, what the
   * output layer reads (the input itself when there is no hidden layer). Distances here follow
   * what the model has learned to tell apart, where pixel distances follow stroke thickness and
   * position; ranked batch measures diversity in this space (as core-set and BADGE methods do).
   */
  embed(rows: Matrix): Float32Array[] {
    if (rows.length === 0) return [];
    checkWidth(rows, this.inputSize, 'samples');
    const last = this.model.layers.length - 1;
    if (last === 0) return rows.map(row => Float32Array.from(row));
    const flat = tf.tidy(
      () => this.activations(toTensor(rows, this.inputSize), last - 1).dataSync() as Float32Array
    );
    return splitRows(flat, rows.length);
  }

  /** What layer `index` outputs for `x`, in inference mode (dropout off). */
  private activations(x: tf.Tensor, index: number): tf.Tensor {
    const outputs = this.model.layers[index].output as tf.SymbolicTensor;
    const body = tf.model({ inputs: this.model.inputs, outputs });
    return body.predict(x, { batchSize: PREDICT_BATCH }) as tf.Tensor;
  }

  /** The most likely class of each sample. */
  predict(rows: Matrix): number[] {
    return this.predictProbabilities(rows).map(argmax);
  }

  /** Share of `data` classified correctly. */
  accuracy(data: TrainingSet): number {
    checkTrainingSet(data, this.classes, this.inputSize);
    const predicted = this.predict(data.x);
    let correct = 0;
    predicted.forEach((c, i) => {
      if (c === data.y[i]) correct++;
    });
    return correct / predicted.length;
  }

  /** Saves the network to `dir` as TensorFlow.js's model.json and weights.bin; returns `dir`. */
  async save(dir: string): Promise<string> {
    const { weightData, ...topology } = await artifactsOf(this.model);
    mkdirSync(dir, { recursive: true });
    const weights = Buffer.concat(
      (Array.isArray(weightData) ? weightData : weightData ? [weightData] : []).map(b =>
        Buffer.from(b)
      )
    );
    writeFileSync(join(dir, WEIGHTS_FILE), weights);
    const saved: SavedModel['scanflow'] = {
      classes: this.classes,
      trainedOn: this.trainedOn,
      training: this.settings
    };
    writeFileSync(join(dir, MODEL_FILE), JSON.stringify({ ...topology, scanflow: saved }));
    return dir;
  }

  /** Loads a network saved by `save`. */
  static async load(dir: string): Promise<Classifier> {
    await tensorflowBackend();
    // The saved model may hold SeededDropout layers: their class must be registered.
    seededDropoutClass();
    const saved = JSON.parse(readFileSync(join(dir, MODEL_FILE), 'utf8')) as SavedModel;
    const weights = readFileSync(join(dir, WEIGHTS_FILE));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        ...saved,
        weightData: weights.buffer.slice(
          weights.byteOffset,
          weights.byteOffset + weights.byteLength
        )
      })
    );
    const inputSize = (model.inputs[0].shape[1] as number) ?? 0;
    // Models saved before the training settings were recorded continue with the defaults.
    const settings = saved.scanflow.training ?? {
      batchSize: 32,
      learningRate: 1e-3,
      seed: 1,
      round: 1
    };
    return new Classifier(
      model,
      inputSize,
      saved.scanflow.classes,
      saved.scanflow.trainedOn,
      settings
    );
  }

  /** Frees the network's tensors. */
  dispose(): void {
    this.model.dispose();
  }
}

/** @deprecated The classifier is not always a perceptron any more: use `Classifier`. */
export const MlpClassifier = Classifier;
/** @deprecated Use `Classifier`. */
export type MlpClassifier = Classifier;

type SavedModel = tf.io.ModelArtifacts & {
  scanflow: { classes: number; trainedOn: number; training?: TrainingSettings };
};

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

function buildNetwork(
  inputSize: number,
  classes: number,
  options: ClassifierOptions,
  firstSeed: number
): tf.Sequential {
  let seed = firstSeed;
  const rate = options.dropout ?? 0.2;
  const model = tf.sequential();
  // Only the first layer names the input's shape.
  const input = (): { inputShape?: number[] } =>
    model.layers.length === 0 ? { inputShape: [inputSize] } : {};
  const image = options.image;
  if (image) {
    checkImage(image, inputSize, options.filters ?? [16, 32]);
    model.add(tf.layers.reshape({ targetShape: [image.height, image.width, 1], ...input() }));
    for (const filters of options.filters ?? [16, 32]) {
      model.add(
        tf.layers.conv2d({
          filters,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.heNormal({ seed: seed++ })
        })
      );
      model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    }
    model.add(tf.layers.flatten());
  }
  for (const units of options.hidden ?? (image ? [64] : [256])) {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: seed++ }),
        ...input()
      })
    );
    model.add(new (seededDropoutClass())({ rate, seed: seed++ }));
  }
  model.add(
    tf.layers.dense({
      units: classes,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
      ...input()
    })
  );
  return model;
}

/** Trains `model` in place for `epochs` passes, batches in a seeded order. */
async function fit(
  model: tf.LayersModel,
  data: TrainingSet,
  width: number,
  epochs: number,
  settings: TrainingSettings
): Promise<void> {
  model.compile({
    optimizer: tf.train.adam(settings.learningRate),
    loss: 'sparseCategoricalCrossentropy'
  });
  const uniform = seededUniform(settings.seed);
  const x = toTensor(data.x, width);
  const y = tf.tensor1d(Float32Array.from(data.y));
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      // tfjs would shuffle with Math.random: a seeded order keeps trainings repeatable.
      const order = tf.tensor1d(Int32Array.from(shuffledIndices(data.x.length, uniform)), 'int32');
      const xs = tf.gather(x, order);
      const ys = tf.gather(y, order);
      try {
        await model.fit(xs, ys, {
          epochs: 1,
          batchSize: settings.batchSize,
          shuffle: false,
          verbose: 0
        });
      } finally {
        tf.dispose([order, xs, ys]);
      }
    }
  } finally {
    x.dispose();
    y.dispose();
  }
}

/** The network's topology and weights, as `save` writes them. */
async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async artifacts => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    })
  );
  if (!captured) throw new Error('TensorFlow.js saved no model artifacts.');
  return captured;
}

/** An independent copy of a network (same layers, same weights). */
async function copyNetwork(model: tf.LayersModel): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(await artifactsOf(model)));
}

function checkImage(
  image: { width: number; height: number },
  inputSize: number,
  filters: readonly number[]
): void {
  const { width, height } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width * height === inputSize)) {
    throw new TrainingDataError(
      `Rows have ${inputSize} features but the image is ${width}x${height}: pass image sizes whose product is the row length (for example 28x28 for 784 pixels).`
    );
  }
  const smallest = Math.min(width, height) / 2 ** filters.length;
  if (smallest < 1) {
    throw new TrainingDataError(
      `A ${width}x${height} image is too small for ${filters.length} convolution blocks (each halves it): pass fewer filters.`
    );
  }
}

/** A row-major array (a tensor's data) as its `count` rows. */
function splitRows(flat: Float32Array, count: number): Float32Array[] {
  const width = flat.length / count;
  return Array.from({ length: count }, (_, i) => flat.slice(i * width, (i + 1) * width));
}

/** One tensor of the rows; `set` copies a typed array without building a JavaScript array first. */
function toTensor(rows: Matrix, width: number): tf.Tensor2D {
  const flat = new Float32Array(rows.length * width);
  rows.forEach((row, i) => flat.set(row, i * width));
  return tf.tensor2d(flat, [rows.length, width]);
}

function checkWidth(rows: Matrix, width: number, what: string): void {
  rows.forEach((row, i) => {
    if (row.length !== width) {
      throw new TrainingDataError(
        `Row ${i} of the ${what} has ${row.length} features but the model takes ${width}: pass rows with the same features as the training data.`
      );
    }
  });
}

/** Checks rows and class indices, returns the number of features. */
function checkTrainingSet(data: TrainingSet, classes: number, width?: number): number {
  if (data.x.length === 0) {
    throw new TrainingDataError('The training set is empty: pass at least one labeled sample.');
  }
  if (data.y.length !== data.x.length) {
    throw new TrainingDataError(
      `There are ${data.x.length} rows but ${data.y.length} labels: pass one class index per row.`
    );
  }
  const inputSize = width ?? data.x[0].length;
  checkWidth(data.x, inputSize, 'training set');
  for (let i = 0; i < data.y.length; i++) {
    const c = data.y[i];
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new TrainingDataError(
        `Label ${i} is ${c}, not a class index in [0, ${classes}): map class names to their position in the class list first.`
      );
    }
  }
  return inputSize;
}
