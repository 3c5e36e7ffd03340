/**
 * An example custom checker: a sanity check of a batch's schema and value ranges. It finds what
 * the statistical detectors refuse as bad input (wrong width, NaN, Infinity, values outside the
 * allowed range) and reports each violation, rather than throwing: for this checker bad rows are
 * the finding. Registered as the plugin 'value-range'.
 */
import type { Matrix } from './data';
import { DetectorOptionError } from './errors';
import { registerChecker, type Checker } from './plugin';
import type { DriftResult } from './result';

export interface Range {
  min: number;
  max: number;
}

export interface ValueRangeOptions {
  /** The expected number of features per row. */
  features: number;
  /** One range for every feature, or one per feature. */
  range: Range | Range[];
  /** Share of rows allowed to violate before the batch fails (default 0: any violation fails). */
  maxViolationRate?: number;
  /** Name shown in results (default 'value-range'). */
  name?: string;
}

export interface Violation {
  row: number;
  /** The feature index, or null for a row of the wrong width. */
  feature: number | null;
  value: number | null;
  reason: 'width' | 'not-finite' | 'below-min' | 'above-max';
}

export interface ValueRangeDetails {
  /** Rows with at least one violation. */
  badRows: number;
  /** Up to 20 violations, for reading; `violationCount` has them all. */
  violations: Violation[];
  violationCount: number;
}

export class ValueRangeCheck implements Checker<Matrix, ValueRangeDetails> {
  readonly name: string;
  private readonly ranges: Range[];
  private readonly maxViolationRate: number;
  private readonly features: number;

  constructor(options: ValueRangeOptions) {
    this.name = options.name ?? 'value-range';
    this.features = options.features;
    if (!Number.isInteger(this.features) || this.features < 1) {
      throw new DetectorOptionError(
        `features must be a positive integer, got ${String(options.features)}.`
      );
    }
    this.ranges = Array.isArray(options.range)
      ? options.range
      : Array.from({ length: this.features }, () => options.range as Range);
    if (this.ranges.length !== this.features) {
      throw new DetectorOptionError(
        `range has ${this.ranges.length} entries for ${this.features} features: give one range, or one per feature.`
      );
    }
    this.ranges.forEach((r, j) => {
      if (!(r && r.min <= r.max))
        throw new DetectorOptionError(`range ${j} must have min <= max, got ${JSON.stringify(r)}.`);
    });
    this.maxViolationRate = options.maxViolationRate ?? 0;
  }

  /** Ranges learned from reference rows (their min and max, widened by `margin` of the span). */
  static fromReference(rows: Matrix, margin = 0, name?: string): ValueRangeCheck {
    const width = rows[0]?.length ?? 0;
    const range = Array.from({ length: width }, (_, j) => {
      let min = Infinity;
      let max = -Infinity;
      for (const row of rows) {
        min = Math.min(min, row[j]);
        max = Math.max(max, row[j]);
      }
      const pad = (max - min) * margin;
      return { min: min - pad, max: max + pad };
    });
    return new ValueRangeCheck({ features: width, range, name });
  }

  check(batch: Matrix): DriftResult<ValueRangeDetails> {
    const violations: Violation[] = [];
    let violationCount = 0;
    let badRows = 0;
    const note = (v: Violation): void => {
      violationCount++;
      if (violations.length < 20) violations.push(v);
    };
    batch.forEach((row, i) => {
      const before = violationCount;
      if (row.length !== this.features) {
        note({ row: i, feature: null, value: row.length, reason: 'width' });
      } else {
        for (let j = 0; j < this.features; j++) {
          const value = row[j];
          if (!Number.isFinite(value))
            note({
              row: i,
              feature: j,
              value: Number.isNaN(value) ? null : value,
              reason: 'not-finite'
            });
          else if (value < this.ranges[j].min)
            note({ row: i, feature: j, value, reason: 'below-min' });
          else if (value > this.ranges[j].max)
            note({ row: i, feature: j, value, reason: 'above-max' });
        }
      }
      if (violationCount > before) badRows++;
    });
    const rate = batch.length ? badRows / batch.length : 0;
    return {
      detector: this.name,
      isDrift: rate > this.maxViolationRate,
      pValue: null,
      score: rate,
      threshold: this.maxViolationRate,
      distance: rate,
      batchSize: batch.length,
      details: { badRows, violations, violationCount }
    };
  }
}

registerChecker(
  'value-range',
  options => new ValueRangeCheck(options as unknown as ValueRangeOptions)
);
