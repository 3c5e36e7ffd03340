/**
 * A small multilayer perceptron in TensorFlow.js: the model the improver retrains on the reference
 * data plus the new labels. It takes flat rows of numbers (784 pixels in [0, 1] for MNIST) and
 * class indices, and gives class probabilities, which is all the query strategies need.
 *
 * Training starts from fresh weights every time (seeded), so that an old and a retrained model
 * differ only by the data they saw.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensorflowBackend, tf } from '../check/backend';
import { TrainingDataError } from './errors';
import type { Matrix } from './strategies';

export interface ClassifierOptions {
  /** Units of each hidden layer (default [256]). */
  hidden?: number[];
  /** Dropout after each hidden layer (default 0.2), which helps a lot on a few hundred samples. */
  dropout?: number;
  /** Passes over the data (default: enough for about 300 gradient steps, between 20 and 150). */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Seed of the weight initializers (default 1). */
  seed?: number;
}

export interface TrainingSet {
  /** One row of features per sample. */
  x: Matrix;
  /** The class index of each row, in [0, classes). */
  y: ArrayLike<number>;
}

const PREDICT_BATCH = 2048;
const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

export class MlpClassifier {
  private constructor(
    private readonly model: tf.LayersModel,
    readonly inputSize: number,
    readonly classes: number,
    /** Samples the model was trained on. */
    readonly trainedOn: number
  ) {}

  /** Builds a fresh network and trains it on `data`. */
  static async train(
    data: TrainingSet,
    classes: number,
    options: ClassifierOptions = {}
  ): Promise<MlpClassifier> {
    const inputSize = checkTrainingSet(data, classes);
    await tensorflowBackend();
    const model = buildMlp(inputSize, classes, options);
    const batchSize = options.batchSize ?? 32;
    const stepsPerEpoch = Math.ceil(data.x.length / batchSize);
    const epochs = options.epochs ?? Math.min(150, Math.max(20, Math.ceil(300 / stepsPerEpoch)));
    model.compile({
      optimizer: tf.train.adam(options.learningRate ?? 1e-3),
      loss: 'sparseCategoricalCrossentropy'
    });
    const x = toTensor(data.x, inputSize);
    const y = tf.tensor1d(Float32Array.from(data.y));
    try {
      await model.fit(x, y, { epochs, batchSize, shuffle: true, verbose: 0 });
    } finally {
      x.dispose();
      y.dispose();
    }
    return new MlpClassifier(model, inputSize, classes, data.x.length);
  }

  /** Class probabilities, one row per sample (each row sums to 1). */
  predictProbabilities(rows: Matrix): Float32Array[] {
    if (rows.length === 0) return [];
    checkWidth(rows, this.inputSize, 'samples');
    const flat = tf.tidy(() => {
      // Keras's default of 32 rows per call costs a hundred times more than the arithmetic.
      const output = this.model.predict(toTensor(rows, this.inputSize), {
        batchSize: PREDICT_BATCH
      }) as tf.Tensor;
      return output.dataSync() as Float32Array;
    });
    return Array.from({ length: rows.length }, (_, i) =>
      flat.slice(i * this.classes, (i + 1) * this.classes)
    );
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
    await this.model.save(
      tf.io.withSaveHandler(async artifacts => {
        const { weightData, ...topology } = artifacts;
        mkdirSync(dir, { recursive: true });
        const weights = Buffer.concat(
          (Array.isArray(weightData) ? weightData : weightData ? [weightData] : []).map(b =>
            Buffer.from(b)
          )
        );
        writeFileSync(join(dir, WEIGHTS_FILE), weights);
        const model = {
          ...topology,
          scanflow: { classes: this.classes, trainedOn: this.trainedOn }
        };
        writeFileSync(join(dir, MODEL_FILE), JSON.stringify(model));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      })
    );
    return dir;
  }

  /** Loads a network saved by `save`. */
  static async load(dir: string): Promise<MlpClassifier> {
    await tensorflowBackend();
    const saved = JSON.parse(
      readFileSync(join(dir, MODEL_FILE), 'utf8')
    ) as tf.io.ModelArtifacts & {
      scanflow: { classes: number; trainedOn: number };
    };
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
    return new MlpClassifier(model, inputSize, saved.scanflow.classes, saved.scanflow.trainedOn);
  }

  /** Frees the network's tensors. */
  dispose(): void {
    this.model.dispose();
  }
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

function buildMlp(inputSize: number, classes: number, options: ClassifierOptions): tf.LayersModel {
  let seed = options.seed ?? 1;
  const model = tf.sequential();
  (options.hidden ?? [256]).forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        inputShape: i === 0 ? [inputSize] : undefined,
        kernelInitializer: tf.initializers.heNormal({ seed: seed++ })
      })
    );
    model.add(tf.layers.dropout({ rate: options.dropout ?? 0.2, seed: seed++ }));
  });
  model.add(
    tf.layers.dense({
      units: classes,
      activation: 'softmax',
      inputShape: options.hidden?.length === 0 ? [inputSize] : undefined,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ })
    })
  );
  return model;
}

function toTensor(rows: Matrix, width: number): tf.Tensor2D {
  const flat = new Float32Array(rows.length * width);
  rows.forEach((row, i) => flat.set(Array.from(row), i * width));
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
