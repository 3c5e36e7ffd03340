/**
 * Errors raised by the improver. One class per kind of failure, each message naming what is wrong
 * and how to fix it. Whatever raised one left the session and the models as they were.
 */

/** Base class of every improver error: `instanceof ImproverError` catches them all. */
export class ImproverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A query cannot be made: an empty pool, a batch size out of range, malformed probabilities. */
export class QueryError extends ImproverError {}

/** A label was refused: a class outside the session's classes, a second label for one sample,
 *  a sample id the session does not hold, a missing labeler or time. */
export class LabelError extends ImproverError {}

/** A session folder cannot be created, read or resumed (missing manifest, corrupt document). */
export class SessionError extends ImproverError {}

/** Waiting for labels ended before they came (timeout or a closed session). */
export class LabelTimeoutError extends ImproverError {}

/** Training data for a model is unusable (no rows, ragged rows, labels outside the classes). */
export class TrainingDataError extends ImproverError {}
