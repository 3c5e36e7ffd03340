/**
 * The seed's built-in checker: an autoencoder learns to reproduce the reference; samples it
 * reconstructs badly are unlike the reference.
 *
 * Fitting splits the reference: the autoencoder trains on one part and the reconstruction errors
 * of the held-out part (never trained on) serve as the calibration sample. A batch drifts when a
 * two-sample KS test of its errors against the calibration errors rejects at `level`; each sample
 * is flagged as an outlier when its error exceeds the calibrated quantile threshold, chosen so that
 * a sample like the reference is flagged with probability at most `sampleFalsePositiveRate`
 * (the conformal rank rule: the ceil((n+1)(1-rate))-th smallest calibration error).
 */
import {
  type AutoencoderArchitecture,
  buildAutoencoder,
  encode,
  reconstructionErrors,
  trainAutoencoder
} from './autoencoder';
import { tensorflowBackend, tf } from './backend';
import { checkLevel, checkMatrix, checkPositiveInteger, type Matrix } from './data';
import { CalibrationError, DetectorOptionError } from './errors';
import { ks2sampSorted } from './ks';
import { OnlineMonitor, type OnlineMonitorOptions } from './online-monitor';
import { seededUniform, shuffledIndices } from './random';
import type { DriftDetector, DriftResult, SavedDetector } from './result';
import { MinMaxScaler, type MinMaxScalerState } from './scaler';

export interface AutoencoderDriftOptions {
  architecture?: AutoencoderArchitecture;
  /** For 'conv': [height, width, channels] of one sample, e.g. [28, 28, 1]. */
  imageShape?: [number, number, number];
  latentDim?: number;
  /** Share of the reference held out for calibration (default 0.3). */
  heldOutFraction?: number;
  /** Significance level of the batch KS test (default 0.05). */
  level?: number;
  /** Per-sample false-positive rate of the outlier threshold (default 0.05). */
  sampleFalsePositiveRate?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Seed of the split and of the weight initializers (default 42). */
  seed?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface AutoencoderDetails {
  /** Reconstruction error of each sample of the batch. */
  errors: number[];
  /** Whether each sample's error exceeds `sampleThreshold`. */
  outliers: boolean[];
  /** The calibrated per-sample error threshold. */
  sampleThreshold: number;
  sampleFalsePositiveRate: number;
  /** Share of the batch flagged as outliers. */
  outlierRate: number;
  /** Median calibration error, for scale. */
  referenceMedianError: number;
}

/** Everything a fitted detector needs, as plain data (weights as base64 float32). */
interface AutoencoderState {
  architecture: AutoencoderArchitecture;
  imageShape?: [number, number, number];
  latentDim: number;
  inputSize: number;
  level: number;
  sampleFalsePositiveRate: number;
  sampleThreshold: number;
  scaler: MinMaxScalerState;
  calibrationErrors: number[];
  trainingLosses: number[];
  weights: Array<{ shape: number[]; data: string }>;
}

/** At least this many held-out samples, and enough that the quantile threshold exists. */
export function minimumCalibrationSize(sampleFalsePositiveRate: number): number {
  return Math.max(20, Math.ceil(5 / sampleFalsePositiveRate));
}

export class AutoencoderDrift implements DriftDetector<Matrix, AutoencoderDetails> {
  readonly kind = 'autoencoder';

  private constructor(
    private readonly model: tf.LayersModel,
    private readonly state: Omit<AutoencoderState, 'weights'>,
    private readonly scaler: MinMaxScaler,
    private readonly sortedCalibration: Float64Array
  ) {}

  get level(): number {
    return this.state.level;
  }

  /** Numbers per sample the autoencoder takes. */
  get inputSize(): number {
    return this.state.inputSize;
  }

  get sampleThreshold(): number {
    return this.state.sampleThreshold;
  }
  /** Mean training loss after each epoch. */
  get trainingLosses(): readonly number[] {
    return this.state.trainingLosses;
  }
  /** The calibration (held-out reference) errors, sorted. */
  get calibrationErrors(): readonly number[] {
    return Array.from(this.sortedCalibration);
  }

  /** Splits the reference, trains the autoencoder, calibrates the thresholds. */
  static async fit(
    reference: Matrix,
    options: AutoencoderDriftOptions = {}
  ): Promise<AutoencoderDrift> {
    const inputSize = checkMatrix(reference, 'reference');
    const level = checkLevel(options.level ?? 0.05, 'level');
    const rate = checkLevel(options.sampleFalsePositiveRate ?? 0.05, 'sampleFalsePositiveRate');
    const heldOutFraction = checkLevel(options.heldOutFraction ?? 0.3, 'heldOutFraction');
    const latentDim = checkPositiveInteger(options.latentDim ?? 32, 'latentDim');
    const architecture = options.architecture ?? 'dense';
    if (architecture !== 'dense' && architecture !== 'conv') {
      throw new DetectorOptionError(
        `architecture must be 'dense' or 'conv', got ${String(architecture)}.`
      );
    }
    const seed = options.seed ?? 42;
    const heldOut = Math.round(reference.length * heldOutFraction);
    const needed = minimumCalibrationSize(rate);
    if (heldOut < needed || reference.length - heldOut < needed) {
      throw new CalibrationError(
        `The reference has ${reference.length} samples; holding out ${Math.round(heldOutFraction * 100)}% leaves ${heldOut} for calibration and ${reference.length - heldOut} for training, but a per-sample false-positive rate of ${rate} needs at least ${needed} in each. Pass at least ${Math.ceil(needed / Math.min(heldOutFraction, 1 - heldOutFraction))} reference samples, or raise sampleFalsePositiveRate.`
      );
    }
    await tensorflowBackend();
    const order = shuffledIndices(reference.length, seededUniform(seed));
    const calibrationRows = Array.from(order.subarray(0, heldOut), i => reference[i]);
    const trainingRows = Array.from(order.subarray(heldOut), i => reference[i]);

    const scaler = MinMaxScaler.fit(trainingRows);
    const model = buildAutoencoder({
      architecture,
      inputSize,
      imageShape: options.imageShape,
      latentDim,
      seed
    });
    const trainingLosses = await trainAutoencoder(
      model,
      scaler.transform(trainingRows),
      inputSize,
      { ...options, seed }
    );
    const calibration = reconstructionErrors(
      model,
      scaler.transform(calibrationRows),
      inputSize
    ).sort();
    const state = {
      architecture,
      imageShape: options.imageShape,
      latentDim,
      inputSize,
      level,
      sampleFalsePositiveRate: rate,
      sampleThreshold: quantileThreshold(calibration, rate),
      scaler: scaler.state,
      calibrationErrors: Array.from(calibration),
      trainingLosses
    };
    return new AutoencoderDrift(model, state, scaler, calibration);
  }

  /** The reconstruction error of each row. */
  score(rows: Matrix): Float64Array {
    checkMatrix(rows, 'batch', this.state.inputSize);
    return reconstructionErrors(this.model, this.scaler.transform(rows), this.state.inputSize);
  }

  /**
   * The autoencoder's latent code of each row: a compact representation to hand other detectors
   * as preprocessing, e.g. `new MMDDrift(reference, { preprocess: rows => ae.encode(rows) })`.
   */
  encode(rows: Matrix): number[][] {
    checkMatrix(rows, 'batch', this.state.inputSize);
    return encode(this.model, this.scaler.transform(rows), this.state.inputSize);
  }

  /**
   * An online monitor of this autoencoder's reconstruction errors, calibrated on the held-out
   * errors: feed it `monitor.update(ae.score(samples))` as predictions arrive.
   */
  monitor(options: Omit<OnlineMonitorOptions, 'label'> = {}): OnlineMonitor {
    return new OnlineMonitor(this.sortedCalibration, { ...options, label: 'reconstruction error' });
  }

  predict(batch: Matrix): DriftResult<AutoencoderDetails> {
    const errors = this.score(batch);
    const test = ks2sampSorted(this.sortedCalibration, Float64Array.from(errors).sort());
    const threshold = this.state.sampleThreshold;
    const outliers = Array.from(errors, e => e > threshold);
    return {
      detector: this.kind,
      isDrift: test.pValue < this.state.level,
      pValue: test.pValue,
      score: null,
      threshold: this.state.level,
      distance: test.statistic,
      batchSize: errors.length,
      details: {
        errors: Array.from(errors),
        outliers,
        sampleThreshold: threshold,
        sampleFalsePositiveRate: this.state.sampleFalsePositiveRate,
        outlierRate: outliers.filter(Boolean).length / outliers.length,
        referenceMedianError: this.sortedCalibration[Math.floor(this.sortedCalibration.length / 2)]
      }
    };
  }

  toJSON(): SavedDetector {
    const weights = this.model.getWeights().map(w => ({
      shape: w.shape,
      data: Buffer.from((w.dataSync() as Float32Array).slice().buffer).toString('base64')
    }));
    const state: AutoencoderState = { ...this.state, weights };
    return { format: 'scanflow.detector', version: 1, kind: this.kind, state };
  }

  static async fromJSON(state: AutoencoderState): Promise<AutoencoderDrift> {
    await tensorflowBackend();
    const model = buildAutoencoder({
      architecture: state.architecture,
      inputSize: state.inputSize,
      imageShape: state.imageShape,
      latentDim: state.latentDim
    });
    const { weights, ...rest } = state;
    const tensors = weights.map(w => {
      const bytes = Buffer.from(w.data, 'base64');
      const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      return tf.tensor(values.slice(), w.shape);
    });
    model.setWeights(tensors);
    tensors.forEach(t => t.dispose());
    return new AutoencoderDrift(
      model,
      rest,
      new MinMaxScaler(state.scaler),
      Float64Array.from(state.calibrationErrors)
    );
  }

  /** Frees the model's tensors. */
  dispose(): void {
    this.model.dispose();
  }
}

/** The ceil((n+1)(1-rate))-th smallest of the sorted calibration errors. */
function quantileThreshold(sortedErrors: Float64Array, rate: number): number {
  const rank = Math.ceil((sortedErrors.length + 1) * (1 - rate));
  return sortedErrors[Math.min(rank, sortedErrors.length) - 1];
}
