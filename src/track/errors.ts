/**
 * The tracker's failures, one class per kind, each carrying MLflow's error code and HTTP status so
 * the server can answer in MLflow's format (`{ "error_code": ..., "message": ... }`) and clients
 * can tell them apart.
 */
export type MlflowErrorCode =
  | 'INVALID_PARAMETER_VALUE'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'INVALID_STATE'
  | 'BAD_REQUEST'
  | 'ENDPOINT_NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'INTERNAL_ERROR';

/** Base class of every error the tracker reports. */
export class TrackerError extends Error {
  constructor(
    message: string,
    readonly errorCode: MlflowErrorCode,
    readonly httpStatus: number
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** The body MLflow sends for this error. */
  toJSON(): { error_code: MlflowErrorCode; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

/** A request field is missing, has the wrong type or breaks a limit. */
export class InvalidParameterError extends TrackerError {
  constructor(message: string) {
    super(message, 'INVALID_PARAMETER_VALUE', 400);
  }
}

/** The request body is not JSON, or the request cannot be read at all. */
export class BadRequestError extends TrackerError {
  constructor(message: string) {
    super(message, 'BAD_REQUEST', 400);
  }
}

/** An experiment, run, model, version, alias or artifact that does not exist. */
export class NotFoundError extends TrackerError {
  constructor(message: string) {
    super(message, 'RESOURCE_DOES_NOT_EXIST', 404);
  }
}

/** Creating something whose name is taken. MLflow answers 400 here, not 409. */
export class AlreadyExistsError extends TrackerError {
  constructor(message: string) {
    super(message, 'RESOURCE_ALREADY_EXISTS', 400);
  }
}

/** The object exists but is in the wrong lifecycle state (a deleted run, a deleted experiment). */
export class InvalidStateError extends TrackerError {
  constructor(message: string) {
    super(message, 'INVALID_STATE', 400);
  }
}

/** No such route (or not with this HTTP method). */
export class EndpointNotFoundError extends TrackerError {
  constructor(message: string, httpStatus = 404) {
    super(message, 'ENDPOINT_NOT_FOUND', httpStatus);
  }
}

/** The server wants a bearer token and the request has none, or a wrong one. */
export class UnauthenticatedError extends TrackerError {
  constructor(message: string) {
    super(message, 'UNAUTHENTICATED', 401);
  }
}

/** The request body is larger than the server accepts. */
export class PayloadTooLargeError extends TrackerError {
  constructor(message: string) {
    super(message, 'REQUEST_LIMIT_EXCEEDED', 413);
  }
}

/** The store file cannot be opened as a tracker store (not SQLite, unreadable, ...). */
export class StoreOpenError extends TrackerError {
  constructor(
    readonly path: string,
    reason: string
  ) {
    super(
      `Cannot open the tracker store ${path}: ${reason}. Fix: point it at a scanflow tracker file, or at a new path to start an empty store`,
      'INVALID_STATE',
      500
    );
  }
}

/** A remote tracker (ours or a real MLflow) answered with an error the codes above do not cover. */
export class RemoteTrackerError extends TrackerError {}

const BY_CODE: Partial<Record<MlflowErrorCode, new (message: string) => TrackerError>> = {
  INVALID_PARAMETER_VALUE: InvalidParameterError,
  BAD_REQUEST: BadRequestError,
  RESOURCE_DOES_NOT_EXIST: NotFoundError,
  RESOURCE_ALREADY_EXISTS: AlreadyExistsError,
  INVALID_STATE: InvalidStateError,
  ENDPOINT_NOT_FOUND: EndpointNotFoundError,
  UNAUTHENTICATED: UnauthenticatedError,
  REQUEST_LIMIT_EXCEEDED: PayloadTooLargeError
};

/** Rebuilds the typed error from an MLflow error body received over HTTP. */
export function errorFromResponse(status: number, body: unknown, where: string): TrackerError {
  const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof record.error_code === 'string' ? record.error_code : 'INTERNAL_ERROR';
  const message =
    typeof record.message === 'string'
      ? record.message
      : `${where} answered HTTP ${status}${typeof body === 'string' ? `: ${body.slice(0, 200)}` : ''}`;
  const Kind = BY_CODE[code as MlflowErrorCode];
  return Kind
    ? new Kind(message)
    : new RemoteTrackerError(message, code as MlflowErrorCode, status);
}
