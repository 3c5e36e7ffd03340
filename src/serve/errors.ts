/**
 * Errors of the model server. A `ServeError` stops the server from starting (a model URI it cannot
 * resolve, a file that is not a model); a `RequestError` is one client's bad request and becomes a
 * 4xx answer in MLflow's error format, naming the problem and the fix.
 */

/** The server cannot start or load a model: names what is wrong and how to fix it. */
export class ServeError extends Error {
  constructor(
    message: string,
    readonly fix?: string
  ) {
    super(fix ? `${message}. Fix: ${fix}.` : message);
    this.name = 'ServeError';
  }
}

/** MLflow's error codes for the answers the scoring protocol gives. */
export type RequestErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_PARAMETER_VALUE'
  | 'ENDPOINT_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SERVICE_UNAVAILABLE';

const STATUS: Record<RequestErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 400,
  ENDPOINT_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SERVICE_UNAVAILABLE: 503
};

/** A request the server refuses; `status` is its HTTP status. */
export class RequestError extends Error {
  readonly status: number;

  constructor(
    readonly code: RequestErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'RequestError';
    this.status = STATUS[code];
  }
}
