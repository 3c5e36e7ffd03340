/**
 * Dense and convolutional autoencoders in TensorFlow.js, and the reconstruction error they give
 * each sample. Models take and return flat rows (the convolutional one reshapes internally), with
 * values scaled to [0, 1].
 */
import { DetectorOptionError } from './errors';
import { tf } from './backend';
import { seededUniform, shuffledIndices } from './random';

export type AutoencoderArchitecture = 'dense' | 'conv';

/** The bottleneck layer's name, so that the encoder half can be cut out of a trained model. */
export const LATENT_LAYER = 'latent';

export interface AutoencoderShape {
  architecture: AutoencoderArchitecture;
  /** Number of values per sample (784 for MNIST). */
  inputSize: number;
  /** For 'conv': [height, width, channels]; height and width must be multiples of 4. */
  imageShape?: [number, number, number];
  /** Size of the bottleneck (default 32). */
  latentDim?: number;
  /** Seed of the weight initializers (default 42). */
  seed?: number;
}

export function buildAutoencoder(shape: AutoencoderShape): tf.LayersModel {
  const latent = shape.latentDim ?? 32;
  const seed = shape.seed ?? 42;
  let layerSeed = seed;
  const init = (): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed: layerSeed++ });
  const input = tf.input({ shape: [shape.inputSize] });
  let output: tf.SymbolicTensor;
  if (shape.architecture === 'dense') {
    let x = tf.layers
      .dense({ units: 128, activation: 'relu', kernelInitializer: init() })
      .apply(input) as tf.SymbolicTensor;
    x = tf.layers
      .dense({ name: LATENT_LAYER, units: latent, activation: 'relu', kernelInitializer: init() })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .dense({ units: 128, activation: 'relu', kernelInitializer: init() })
      .apply(x) as tf.SymbolicTensor;
    output = tf.layers
      .dense({ units: shape.inputSize, activation: 'sigmoid', kernelInitializer: init() })
      .apply(x) as tf.SymbolicTensor;
  } else if (shape.architecture === 'conv') {
    const [h, w, c] = checkImageShape(shape);
    const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor): tf.SymbolicTensor =>
      layer.apply(x) as tf.SymbolicTensor;
    let x = apply(tf.layers.reshape({ targetShape: [h, w, c] }), input);
    x = apply(
      tf.layers.conv2d({
        filters: 16,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init()
      }),
      x
    );
    x = apply(
      tf.layers.conv2d({
        filters: 32,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init()
      }),
      x
    );
    x = apply(tf.layers.flatten(), x);
    x = apply(
      tf.layers.dense({
        name: LATENT_LAYER,
        units: latent,
        activation: 'relu',
        kernelInitializer: init()
      }),
      x
    );
    x = apply(
      tf.layers.dense({
        units: (h / 4) * (w / 4) * 32,
        activation: 'relu',
        kernelInitializer: init()
      }),
      x
    );
    x = apply(tf.layers.reshape({ targetShape: [h / 4, w / 4, 32] }), x);
    x = apply(
      tf.layers.conv2dTranspose({
        filters: 16,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init()
      }),
      x
    );
    x = apply(
      tf.layers.conv2dTranspose({
        filters: c,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'sigmoid',
        kernelInitializer: init()
      }),
      x
    );
    output = apply(tf.layers.flatten(), x);
  } else {
    throw new DetectorOptionError(
      `architecture must be 'dense' or 'conv', got ${String(shape.architecture)}.`
    );
  }
  const model = tf.model({ inputs: input, outputs: output });
  return model;
}

function checkImageShape(shape: AutoencoderShape): [number, number, number] {
  const image = shape.imageShape;
  if (!image || image.length !== 3 || image.some(v => !Number.isInteger(v) || v < 1)) {
    throw new DetectorOptionError(
      "The 'conv' autoencoder needs imageShape: [height, width, channels], e.g. [28, 28, 1] for MNIST."
    );
  }
  const [h, w, c] = image;
  if (h * w * c !== shape.inputSize) {
    throw new DetectorOptionError(
      `imageShape [${image.join(', ')}] holds ${h * w * c} values but each sample has ${shape.inputSize}: give the shape of one sample.`
    );
  }
  if (h % 4 !== 0 || w % 4 !== 0) {
    throw new DetectorOptionError(
      `The 'conv' autoencoder halves the image twice, so height and width must be multiples of 4; got ${h}x${w}. Pad the images or use architecture 'dense'.`
    );
  }
  return [h, w, c];
}

export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Seed of the order in which each epoch visits the rows (default 42): training is repeatable. */
  seed?: number;
  /** Called after each epoch with its mean training loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

/** Trains the autoencoder to reproduce `scaled` (rows of `inputSize` values, row-major). */
export async function trainAutoencoder(
  model: tf.LayersModel,
  scaled: Float32Array,
  inputSize: number,
  options: TrainOptions = {}
): Promise<number[]> {
  model.compile({
    optimizer: tf.train.adam(options.learningRate ?? 1e-3),
    loss: 'meanSquaredError'
  });
  const rows = scaled.length / inputSize;
  const x = tf.tensor2d(scaled, [rows, inputSize]);
  const uniform = seededUniform(options.seed ?? 42);
  const losses: number[] = [];
  try {
    // tfjs shuffles with Math.random; shuffling here with a seeded generator keeps fits repeatable.
    for (let epoch = 0; epoch < (options.epochs ?? 10); epoch++) {
      const order = tf.tensor1d(Int32Array.from(shuffledIndices(rows, uniform)), 'int32');
      const shuffled = tf.gather(x, order);
      try {
        const history = await model.fit(shuffled, shuffled, {
          epochs: 1,
          batchSize: options.batchSize ?? 64,
          shuffle: false,
          verbose: 0
        });
        const loss = Number(history.history.loss[0]);
        losses.push(loss);
        options.onEpoch?.(epoch, loss);
      } finally {
        order.dispose();
        shuffled.dispose();
      }
    }
  } finally {
    x.dispose();
  }
  return losses;
}

/** Mean squared reconstruction error of each row (scaled, row-major), computed in chunks. */
export function reconstructionErrors(
  model: tf.LayersModel,
  scaled: Float32Array,
  inputSize: number
): Float64Array {
  const n = scaled.length / inputSize;
  const out = new Float64Array(n);
  const chunk = 1000;
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const errors = tf.tidy(() => {
      const x = tf.tensor2d(scaled.subarray(start * inputSize, end * inputSize), [
        end - start,
        inputSize
      ]);
      const y = model.predict(x) as tf.Tensor;
      return tf.mean(tf.squaredDifference(x, y), 1);
    });
    out.set(errors.dataSync(), start);
    errors.dispose();
  }
  return out;
}

/** The latent code of each row (scaled, row-major): the encoder half of a trained autoencoder. */
const encoders = new WeakMap<tf.LayersModel, tf.LayersModel>();

export function encode(model: tf.LayersModel, scaled: Float32Array, inputSize: number): number[][] {
  let encoder = encoders.get(model);
  if (!encoder) {
    encoder = tf.model({ inputs: model.inputs, outputs: model.getLayer(LATENT_LAYER).output });
    encoders.set(model, encoder);
  }
  const n = scaled.length / inputSize;
  const out: number[][] = [];
  const chunk = 1000;
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const codes = tf.tidy(() =>
      encoder.predict(
        tf.tensor2d(scaled.subarray(start * inputSize, end * inputSize), [end - start, inputSize])
      )
    ) as tf.Tensor2D;
    out.push(...(codes.arraySync() as number[][]));
    codes.dispose();
  }
  return out;
}
