/**
 * The checker on live traffic. Every answered request's rows and predictions are fed here, after
 * the answer has gone out, in arrival order:
 *   - a per-sample score (an autoencoder's reconstruction error, from the --checker or from the
 *     served autoencoder itself) goes to the checker's `OnlineMonitor`: a windowed KS distance to
 *     the reference, with a threshold calibrated to an expected run time between false alarms;
 *   - any other detector judges tumbling windows with its own `predict`: KS or MMD on the inputs,
 *     class balance on the predicted classes.
 * Each full window gives a verdict, and an alert is a verdict with `isDrift`.
 */
import { AutoencoderDrift } from '../check/autoencoder-detector';
import { ClassBalanceDrift } from '../check/chi2-detector';
import { KSDrift } from '../check/ks-detector';
import { MMDDrift } from '../check/mmd-detector';
import type { OnlineMonitor } from '../check/online-monitor';
import type { AnyDetector } from '../check/persist';
import type { DriftResult } from '../check/result';
import { ServeError } from './errors';
import type { ServedModel } from './models';

export interface LiveCheckOptions {
  /** Samples per window (default 50). */
  windowSize?: number;
  /** For score monitors: mean samples between false alarms without drift (default 1000). */
  expectedRunTime?: number;
  /** For score monitors: simulated streams of the calibration (default 200). */
  simulations?: number;
}

/** A window's verdict. */
export interface LiveVerdict {
  /** Samples seen when the verdict came (1-based). */
  t: number;
  detector: string;
  isDrift: boolean;
  distance: number;
  threshold: number;
  pValue: number | null;
  /** The window's input rows, oldest first (what a labeler would look at). */
  rows: Float32Array[];
  /** The window's predicted classes, when the model is a classifier. */
  predictions: number[];
}

export interface LiveCheckStatus {
  detector: string;
  windowSize: number;
  samples: number;
  windows: number;
  alerts: number;
  lastDistance: number | null;
  threshold: number | null;
}

export interface LiveCheck {
  readonly status: LiveCheckStatus;
  /** Feeds one request's rows, the model's raw outputs and their predicted classes. */
  observe(rows: Float32Array[], outputs: Float32Array[], classes: number[]): LiveVerdict[];
}

/** The last `size` rows and predicted classes, for the labeler. */
class RecentRows {
  private rows: Float32Array[] = [];
  private classes: number[] = [];
  constructor(private readonly size: number) {}

  push(row: Float32Array, predicted: number): void {
    this.rows.push(row);
    this.classes.push(predicted);
    if (this.rows.length > this.size) {
      this.rows.shift();
      this.classes.shift();
    }
  }

  take(): { rows: Float32Array[]; predictions: number[] } {
    const taken = { rows: this.rows, predictions: this.classes };
    this.rows = [];
    this.classes = [];
    return taken;
  }
}

/** Per-sample scores through an OnlineMonitor; a verdict at every window boundary and alert. */
class ScoreMonitor implements LiveCheck {
  private samples = 0;
  private windows = 0;
  private lastDistance: number | null = null;
  private readonly recent: RecentRows;

  constructor(
    private readonly monitor: OnlineMonitor,
    private readonly score: (rows: Float32Array[], outputs: Float32Array[]) => ArrayLike<number>,
    private readonly detector: string
  ) {
    this.recent = new RecentRows(monitor.windowSize);
  }

  get status(): LiveCheckStatus {
    return {
      detector: this.detector,
      windowSize: this.monitor.windowSize,
      samples: this.samples,
      windows: this.windows,
      alerts: this.monitor.alerts.length,
      lastDistance: this.lastDistance,
      threshold: this.monitor.threshold
    };
  }

  observe(rows: Float32Array[], outputs: Float32Array[], classes: number[]): LiveVerdict[] {
    const scores = this.score(rows, outputs);
    const verdicts: LiveVerdict[] = [];
    for (let i = 0; i < rows.length; i++) {
      this.recent.push(rows[i], classes[i]);
      const [alert] = this.monitor.update(scores[i]);
      this.samples++;
      const point = this.monitor.timeline[this.monitor.timeline.length - 1];
      this.lastDistance = point.distance;
      if (alert || this.samples % this.monitor.windowSize === 0) {
        this.windows++;
        verdicts.push({
          t: this.samples,
          detector: this.detector,
          isDrift: Boolean(alert),
          distance: point.distance ?? 0,
          threshold: this.monitor.threshold,
          pValue: alert ? alert.pValue : null,
          ...(alert ? this.recent.take() : { rows: [], predictions: [] })
        });
      }
    }
    return verdicts;
  }
}

/** A batch detector on tumbling windows of inputs or of predicted classes. */
class WindowCheck implements LiveCheck {
  private samples = 0;
  private windows = 0;
  private alerts = 0;
  private last: DriftResult<unknown> | undefined;
  private rows: Float32Array[] = [];
  private classes: number[] = [];

  constructor(
    private readonly detector: string,
    private readonly windowSize: number,
    private readonly judge: (rows: Float32Array[], classes: number[]) => DriftResult<unknown>
  ) {}

  get status(): LiveCheckStatus {
    return {
      detector: this.detector,
      windowSize: this.windowSize,
      samples: this.samples,
      windows: this.windows,
      alerts: this.alerts,
      lastDistance: this.last?.distance ?? null,
      threshold: this.last?.threshold ?? null
    };
  }

  observe(rows: Float32Array[], _outputs: Float32Array[], classes: number[]): LiveVerdict[] {
    const verdicts: LiveVerdict[] = [];
    for (let i = 0; i < rows.length; i++) {
      this.rows.push(rows[i]);
      this.classes.push(classes[i]);
      this.samples++;
      if (this.rows.length < this.windowSize) continue;
      const window = { rows: this.rows, predictions: this.classes };
      this.rows = [];
      this.classes = [];
      const result = this.judge(window.rows, window.predictions);
      this.last = result;
      this.windows++;
      if (result.isDrift) this.alerts++;
      verdicts.push({
        t: this.samples,
        detector: this.detector,
        isDrift: result.isDrift,
        distance: result.distance ?? 0,
        threshold: result.threshold,
        pValue: result.pValue,
        ...(result.isDrift ? window : { rows: [], predictions: [] })
      });
    }
    return verdicts;
  }
}

/**
 * The live check for a served model: the --checker if one was given, else the served model
 * itself when it scores its own inputs (an autoencoder), else none.
 */
export function liveCheck(
  model: ServedModel,
  checker: AnyDetector | undefined,
  options: LiveCheckOptions = {}
): LiveCheck | undefined {
  const windowSize = options.windowSize ?? 50;
  const monitorOptions = {
    windowSize,
    // A server sees values without end: keep the last window's points, not every one.
    timelineLimit: windowSize,
    expectedRunTime: options.expectedRunTime ?? 1000,
    simulations: options.simulations
  };
  if (checker === undefined) {
    if (!model.selfCheck) return undefined;
    const { monitor, scores } = model.selfCheck;
    return new ScoreMonitor(
      monitor(monitorOptions),
      (_rows, outputs) => scores(outputs),
      model.kind
    );
  }
  if (checker instanceof AutoencoderDrift) {
    sameWidth(checker.inputSize, model);
    return new ScoreMonitor(
      checker.monitor(monitorOptions),
      rows => checker.score(rows),
      checker.kind
    );
  }
  if (checker instanceof ClassBalanceDrift) {
    if (model.kind !== 'classifier') {
      throw new ServeError(
        'A class-balance checker reads predicted classes, and this model predicts none',
        'serve a classifier with it, or check the inputs with an autoencoder, KS or MMD detector'
      );
    }
    return new WindowCheck(checker.kind, windowSize, (_rows, classes) => checker.predict(classes));
  }
  if (checker instanceof KSDrift || checker instanceof MMDDrift) {
    sameWidth(checker.featureNames.length, model);
    return new WindowCheck(checker.kind, windowSize, rows => checker.predict(rows));
  }
  throw new ServeError(
    `A ${checker.kind} detector cannot check this model's live traffic`,
    'use an autoencoder, KS or MMD detector on the inputs, or class balance on the predictions'
  );
}

function sameWidth(width: number, model: ServedModel): void {
  if (width !== model.inputWidth) {
    throw new ServeError(
      `The checker was fitted on ${width} features but the model takes ${model.inputWidth}`,
      'give --checker a detector fitted on the data this model predicts on'
    );
  }
}
