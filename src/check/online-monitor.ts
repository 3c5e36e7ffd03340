/**
 * An online monitor on a stream of scores (reconstruction errors, predicted probabilities, any
 * number per prediction). At every new value it measures the KS distance between the last
 * `windowSize` values and the reference scores, and raises an alert when the distance exceeds a
 * threshold calibrated so that, with no drift, alerts come on average once every
 * `expectedRunTime` values (the expected run time, ERT, between false alarms).
 *
 * Calibration simulates the no-drift case from the reference itself: each simulated stream draws
 * its values, and a stand-in reference of the same size, with replacement from the reference (so
 * both the window's and the reference's sampling noise are in the simulation), and records the
 * first time each threshold would have been crossed. The threshold whose mean run length is the
 * ERT is kept. After an alert the window starts afresh, so each alert rests on new evidence.
 */
import { checkPositiveInteger, checkVector } from './data';
import { CalibrationError, DetectorOptionError } from './errors';
import { ks2sampSorted, ksStatisticBySearch } from './ks';
import { seededUniform, type Uniform } from './random';

export interface OnlineMonitorOptions {
  /** Values per window (default 50). */
  windowSize?: number;
  /** Mean number of values between false alarms when nothing drifts (default 1000). */
  expectedRunTime?: number;
  /** Simulated no-drift streams used for calibration (default 200). */
  simulations?: number;
  seed?: number;
  /** Called with each alert as it happens. */
  onAlert?: (alert: MonitorAlert) => void;
  /** What the values are, for reports (default 'score'). */
  label?: string;
  /** Keep only the last this many points in `timeline` (default: all; a server sets a limit). */
  timelineLimit?: number;
}

/** The evidence of an alert. */
export interface MonitorAlert {
  /** How many values the monitor had seen when it alerted (1-based). */
  t: number;
  /** KS distance between the window and the reference. */
  distance: number;
  threshold: number;
  /** The two-sample KS p-value of the window against the reference (for reading, not deciding). */
  pValue: number;
  windowMedian: number;
  referenceMedian: number;
  /** The window's values, oldest first. */
  window: number[];
}

export interface MonitorPoint {
  t: number;
  value: number;
  /** Windowed distance, or null until the window is full. */
  distance: number | null;
  alert: boolean;
}

export class OnlineMonitor {
  readonly windowSize: number;
  readonly expectedRunTime: number;
  readonly threshold: number;
  readonly label: string;
  readonly alerts: MonitorAlert[] = [];
  /** Every value seen (or the last `timelineLimit`), with its windowed distance (the report's timeline). */
  readonly timeline: MonitorPoint[] = [];
  private readonly reference: Float64Array;
  private readonly onAlert?: (alert: MonitorAlert) => void;
  private readonly timelineLimit: number;
  private window: SlidingWindow;
  private seen = 0;

  constructor(referenceScores: ArrayLike<number>, options: OnlineMonitorOptions = {}) {
    checkVector(referenceScores, 'reference scores');
    this.windowSize = checkPositiveInteger(options.windowSize ?? 50, 'windowSize');
    this.expectedRunTime = checkPositiveInteger(options.expectedRunTime ?? 1000, 'expectedRunTime');
    const simulations = checkPositiveInteger(options.simulations ?? 200, 'simulations');
    if (this.expectedRunTime <= this.windowSize) {
      throw new DetectorOptionError(
        `expectedRunTime (${this.expectedRunTime}) must exceed windowSize (${this.windowSize}): no alert can come before the first window is full.`
      );
    }
    if (referenceScores.length < 2 * this.windowSize) {
      throw new CalibrationError(
        `The monitor has ${referenceScores.length} reference scores but a window of ${this.windowSize} needs at least ${2 * this.windowSize} to calibrate: pass more reference scores or a smaller window.`
      );
    }
    this.reference = Float64Array.from(referenceScores).sort();
    this.window = new SlidingWindow(this.windowSize);
    this.label = options.label ?? 'score';
    this.onAlert = options.onAlert;
    this.timelineLimit =
      options.timelineLimit === undefined
        ? Infinity
        : checkPositiveInteger(options.timelineLimit, 'timelineLimit');
    this.threshold = calibrate(
      this.reference,
      this.windowSize,
      this.expectedRunTime,
      simulations,
      seededUniform(options.seed ?? 0)
    );
  }

  /** Feeds one value or several, in order; returns the alerts they raised. */
  update(values: number | ArrayLike<number>): MonitorAlert[] {
    const list = typeof values === 'number' ? [values] : values;
    checkVector(list, 'stream values');
    const raised: MonitorAlert[] = [];
    for (let i = 0; i < list.length; i++) {
      const value = list[i];
      this.window.push(value);
      const t = ++this.seen;
      let distance: number | null = null;
      let alert = false;
      if (this.window.full) {
        const sortedWindow = this.window.sorted;
        distance = ksStatisticBySearch(sortedWindow, this.reference);
        if (distance > this.threshold) {
          alert = true;
          const evidence: MonitorAlert = {
            t,
            distance,
            threshold: this.threshold,
            pValue: ks2sampSorted(sortedWindow, this.reference).pValue,
            windowMedian: sortedWindow[sortedWindow.length >> 1],
            referenceMedian: this.reference[this.reference.length >> 1],
            window: this.window.values()
          };
          this.alerts.push(evidence);
          raised.push(evidence);
          this.window = new SlidingWindow(this.windowSize);
          this.onAlert?.(evidence);
        }
      }
      this.timeline.push({ t, value, distance, alert });
      if (this.timeline.length > this.timelineLimit) this.timeline.shift();
    }
    return raised;
  }
}

/** ksStatisticBySearch for a window of reference indices, with the other CDF tabulated. */
function distanceOfIndices(
  sortedIndices: Float64Array,
  reference: Float64Array,
  below: Float64Array,
  atOrBelow: Float64Array
): number {
  const m = sortedIndices.length;
  let d = 0;
  let i = 0;
  while (i < m) {
    const r = sortedIndices[i];
    const value = reference[r];
    const before = i / m;
    while (i < m && reference[sortedIndices[i]] === value) i++;
    d = Math.max(d, Math.abs(i / m - atOrBelow[r]), Math.abs(before - below[r]));
  }
  return d;
}

/** The windowed-KS threshold whose simulated mean run length without drift is `ert`. */
function calibrate(
  reference: Float64Array,
  w: number,
  ert: number,
  simulations: number,
  uniform: Uniform
): number {
  const n = reference.length;
  const drawIndex = (): number => Math.floor(uniform() * n);
  const horizon = 4 * ert;
  // For each simulated stream: the running maximum of the distance at each time, so that the
  // first crossing of any threshold h is the first t with runningMax[t] > h.
  const runningMaxima: Float64Array[] = [];
  const below = new Float64Array(n);
  const atOrBelow = new Float64Array(n);
  for (let s = 0; s < simulations; s++) {
    const standIn = Float64Array.from({ length: n }, () => reference[drawIndex()]).sort();
    // Streams draw reference values by index; the stand-in's CDF just below and at each
    // reference value is tabulated once, so each step costs O(window) instead of a search.
    for (let r = 0, a = 0, b = 0; r < n; r++) {
      while (a < n && standIn[a] < reference[r]) a++;
      while (b < n && standIn[b] <= reference[r]) b++;
      below[r] = a / n;
      atOrBelow[r] = b / n;
    }
    const window = new SlidingWindow(w); // holds indices: sorted indices are sorted values
    const maxima = new Float64Array(horizon);
    let max = 0;
    for (let t = 0; t < horizon; t++) {
      window.push(drawIndex());
      if (window.full)
        max = Math.max(max, distanceOfIndices(window.sorted, reference, below, atOrBelow));
      maxima[t] = max;
    }
    runningMaxima.push(maxima);
  }
  const meanRunLength = (h: number): number => {
    let total = 0;
    for (const maxima of runningMaxima) {
      // First index with maxima > h (maxima is non-decreasing): binary search.
      let lo = 0;
      let hi = horizon;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (maxima[mid] > h) hi = mid;
        else lo = mid + 1;
      }
      total += lo + 1; // censored at the horizon when never crossed
    }
    return total / runningMaxima.length;
  };
  // The mean run length grows with h; bisect on h in [0, 1].
  let lo = 0;
  let hi = 1;
  for (let k = 0; k < 40; k++) {
    const mid = (lo + hi) / 2;
    if (meanRunLength(mid) < ert) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The last `size` values, kept both in arrival order and sorted (O(size) per new value). */
class SlidingWindow {
  private readonly ring: Float64Array;
  private readonly sortedValues: Float64Array;
  private count = 0;
  private next = 0;

  constructor(private readonly size: number) {
    this.ring = new Float64Array(size);
    this.sortedValues = new Float64Array(size);
  }

  get full(): boolean {
    return this.count === this.size;
  }

  /** The window's values sorted ascending (a view: valid until the next push). */
  get sorted(): Float64Array {
    return this.sortedValues.subarray(0, this.count);
  }

  /** The window's values, oldest first. */
  values(): number[] {
    if (!this.full) return Array.from(this.ring.subarray(0, this.count));
    return [...this.ring.subarray(this.next), ...this.ring.subarray(0, this.next)];
  }

  push(value: number): void {
    let length = this.count;
    if (this.full) {
      // Remove the oldest value from the sorted copy.
      const oldest = this.ring[this.next];
      let k = 0;
      while (this.sortedValues[k] !== oldest) k++;
      this.sortedValues.copyWithin(k, k + 1, length);
      length--;
    }
    let k = length;
    while (k > 0 && this.sortedValues[k - 1] > value) {
      this.sortedValues[k] = this.sortedValues[k - 1];
      k--;
    }
    this.sortedValues[k] = value;
    this.ring[this.next] = value;
    this.next = (this.next + 1) % this.size;
    this.count = Math.min(this.size, this.count + 1);
  }
}
