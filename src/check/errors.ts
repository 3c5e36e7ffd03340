/**
 * Errors raised by the checkers. One class per kind of failure, each message naming what is wrong
 * and how to fix it.
 */

/** Base class of every checker error: `instanceof CheckerError` catches them all. */
export class CheckerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The data given to a detector is unusable: empty, ragged, wrong width, NaN/Infinity, bad labels. */
export class DriftDataError extends CheckerError {}

/** The reference data is too small to calibrate a threshold at the requested level. */
export class CalibrationError extends CheckerError {}

/** A detector option is out of range (a significance level of 2, a window of 0, ...). */
export class DetectorOptionError extends CheckerError {}

/** A saved detector cannot be read back (unknown kind, wrong version, corrupt fields). */
export class DetectorFormatError extends CheckerError {}
