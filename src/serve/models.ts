/**
 * The models the server can serve, behind one interface: the improver's TensorFlow.js classifier
 * (a folder written by `Classifier.save`) and the checker's autoencoder (a detector written by
 * `saveDetector`), which serves its reconstruction errors. `predict` is synchronous on purpose: a
 * batch runs start to end without yielding, so a hot swap can never land in the middle of one.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AutoencoderDrift } from '../check/autoencoder-detector';
import type { OnlineMonitor, OnlineMonitorOptions } from '../check/online-monitor';
import { detectorFromJSON, type AnyDetector } from '../check/persist';
import { Classifier } from '../improve/classifier';
import { RequestError, ServeError } from './errors';

/** One JSON value per row, as it goes into `{"predictions": [...]}`. */
export type Prediction = number | number[] | Record<string, number | boolean>;

export interface ServedModel {
  readonly kind: 'classifier' | 'autoencoder';
  /** Numbers per input row. */
  readonly inputWidth: number;
  /** How many classes a classifier tells apart (predictions are indices below this). */
  readonly classes?: number;
  /** Refuses request params this model does not understand (before the request is queued). */
  checkParams(params: Record<string, unknown>): void;
  /** The model's raw outputs of a batch, one per row. */
  run(rows: Float32Array[]): Float32Array[];
  /** One request's predictions from its rows' raw outputs, shaped by its params. */
  format(outputs: Float32Array[], params: Record<string, unknown>): Prediction[];
  /** A model that judges its own inputs (an autoencoder): its monitor and per-row scores. */
  readonly selfCheck?: {
    monitor(options: Omit<OnlineMonitorOptions, 'label'>): OnlineMonitor;
    scores(outputs: Float32Array[]): number[];
  };
  dispose(): void;
}

const CLASSIFIER_OUTPUTS = ['label', 'probabilities'];

class ServedClassifier implements ServedModel {
  readonly kind = 'classifier';
  constructor(private readonly model: Classifier) {}

  get inputWidth(): number {
    return this.model.inputSize;
  }

  get classes(): number {
    return this.model.classes;
  }

  checkParams(params: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(params)) {
      if (key !== 'output') {
        throw new RequestError(
          'INVALID_PARAMETER_VALUE',
          `Unknown parameter ${JSON.stringify(key)}: this classifier takes only "output" ("label" or "probabilities")`
        );
      }
      if (typeof value !== 'string' || !CLASSIFIER_OUTPUTS.includes(value)) {
        throw new RequestError(
          'INVALID_PARAMETER_VALUE',
          `"output" is ${JSON.stringify(value)}: give "label" (the class index) or "probabilities" (one per class)`
        );
      }
    }
  }

  run(rows: Float32Array[]): Float32Array[] {
    return this.model.predictProbabilities(rows);
  }

  format(outputs: Float32Array[], params: Record<string, unknown>): Prediction[] {
    if (params.output === 'probabilities') return outputs.map(p => Array.from(p));
    return outputs.map(argmax);
  }

  dispose(): void {
    this.model.dispose();
  }
}

class ServedAutoencoder implements ServedModel {
  readonly kind = 'autoencoder';
  constructor(private readonly detector: AutoencoderDrift) {}

  get inputWidth(): number {
    return this.detector.inputSize;
  }

  checkParams(params: Record<string, unknown>): void {
    const keys = Object.keys(params);
    if (keys.length > 0) {
      throw new RequestError(
        'INVALID_PARAMETER_VALUE',
        `Unknown parameter ${JSON.stringify(keys[0])}: the autoencoder takes no parameters`
      );
    }
  }

  run(rows: Float32Array[]): Float32Array[] {
    return Array.from(this.detector.score(rows), error => Float32Array.of(error));
  }

  format(outputs: Float32Array[]): Prediction[] {
    const threshold = this.detector.sampleThreshold;
    return outputs.map(([error]) => ({ reconstruction_error: error, outlier: error > threshold }));
  }

  readonly selfCheck = {
    monitor: (options: Omit<OnlineMonitorOptions, 'label'>) => this.detector.monitor(options),
    scores: (outputs: Float32Array[]) => outputs.map(([error]) => error)
  };

  dispose(): void {
    this.detector.dispose();
  }
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

const WHAT_SERVES =
  'serve a folder written by Classifier.save (model.json and weights.bin) or an autoencoder written by saveDetector';

/** The saved detector document in `path` (a .json file, or a folder holding exactly one). */
function detectorDocument(path: string): unknown {
  let file = path;
  if (statSync(path).isDirectory()) {
    const candidates = readdirSync(path).filter(name => name.endsWith('.json'));
    if (candidates.length !== 1) return undefined;
    file = join(path, candidates[0]);
  }
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown };
    return parsed?.format === 'scanflow.detector' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Loads the model saved at `path` (a folder or a file). */
export async function loadServedModel(path: string): Promise<ServedModel> {
  if (!existsSync(path)) {
    throw new ServeError(`There is no model at ${path}`, WHAT_SERVES);
  }
  if (statSync(path).isDirectory() && existsSync(join(path, 'model.json'))) {
    const saved = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as {
      scanflow?: unknown;
    };
    if (saved.scanflow === undefined) {
      throw new ServeError(
        `${join(path, 'model.json')} is a TensorFlow.js model but not one saved by scanflow's Classifier`,
        WHAT_SERVES
      );
    }
    return new ServedClassifier(await Classifier.load(path));
  }
  const document = detectorDocument(path);
  if (document === undefined)
    throw new ServeError(`${path} holds no model scanflow can serve`, WHAT_SERVES);
  const detector = await detectorFromJSON(document);
  if (!(detector instanceof AutoencoderDrift)) {
    throw new ServeError(
      `${path} is a ${detector.kind} detector, which checks data but predicts nothing`,
      `pass it as --checker, and ${WHAT_SERVES}`
    );
  }
  return new ServedAutoencoder(detector);
}

/** Loads a saved detector to check live traffic with. */
export async function loadChecker(path: string): Promise<AnyDetector> {
  const document = existsSync(path) ? detectorDocument(path) : undefined;
  if (document === undefined) {
    throw new ServeError(
      `${path} is not a saved detector`,
      'give --checker a detector written by saveDetector (a .json file, or a folder holding one)'
    );
  }
  return detectorFromJSON(document);
}
