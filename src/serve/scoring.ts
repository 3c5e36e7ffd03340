/**
 * MLflow's scoring protocol (what `mlflow models serve` accepts on POST /invocations), so that an
 * MLflow user's client works unchanged:
 *   {"inputs": [[...], ...]}              tensor input, a list of rows (or {"name": rows})
 *   {"instances": [[...], ...]}           TF-serving's name for the same
 *   {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
 *   {"dataframe_records": [{"col": value, ...}, ...]}
 * each with optional "params". Answers are {"predictions": [...]}. Every refusal names the problem
 * and the fix, and comes before the model sees anything.
 */
import { RequestError } from './errors';

export const SCORING_FORMATS = ['inputs', 'instances', 'dataframe_split', 'dataframe_records'];

export interface ScoringRequest {
  /** One row of numbers per sample, each as wide as the model's input. */
  rows: Float32Array[];
  /** The request's "params" (MLflow's inference parameters), if any. */
  params: Record<string, unknown>;
}

export interface ScoringLimits {
  /** The model's input width. */
  width: number;
  /** Most rows one request may carry. */
  maxRows: number;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function bad(message: string): RequestError {
  return new RequestError('BAD_REQUEST', message);
}

/** Reads a parsed JSON body in any of MLflow's formats. */
export function parseScoringRequest(body: unknown, limits: ScoringLimits): ScoringRequest {
  if (!isObject(body)) {
    throw bad(
      `The body must be a JSON object with one of the keys ${SCORING_FORMATS.join(', ')}, e.g. {"inputs": [[0.1, 0.2, ...]]}`
    );
  }
  const keys = Object.keys(body).filter(key => key !== 'params');
  const formats = keys.filter(key => SCORING_FORMATS.includes(key));
  if (formats.length !== 1 || keys.length !== 1) {
    const found = keys.length ? keys.map(k => JSON.stringify(k)).join(', ') : 'no key';
    throw bad(
      `The body has ${found}: it must have exactly one of ${SCORING_FORMATS.join(', ')} (and optionally "params")`
    );
  }
  const params = body.params ?? {};
  if (!isObject(params)) throw bad('"params" must be a JSON object of parameter names and values');
  const format = formats[0];
  const table = tableOf(format, body[format]);
  return { rows: numericRows(table, format, limits), params };
}

/** The request's rows as given, before any type check. */
function tableOf(format: string, value: unknown): unknown[] {
  switch (format) {
    case 'dataframe_split': {
      if (!isObject(value) || !Array.isArray(value.data)) {
        throw bad(
          '"dataframe_split" must be an object with "data": a list of rows (and "columns")'
        );
      }
      if (value.columns !== undefined && !Array.isArray(value.columns)) {
        throw bad('"dataframe_split.columns" must be a list of column names');
      }
      const columns = value.columns as unknown[] | undefined;
      if (columns) {
        value.data.forEach((row, i) => {
          if (Array.isArray(row) && row.length !== columns.length) {
            throw bad(
              `Row ${i} of "dataframe_split.data" has ${row.length} values but there are ${columns.length} columns`
            );
          }
        });
      }
      return value.data;
    }
    case 'dataframe_records': {
      if (!Array.isArray(value)) throw bad('"dataframe_records" must be a list of records');
      const columns = isObject(value[0]) ? Object.keys(value[0]) : [];
      return value.map((record, i) => {
        if (!isObject(record)) throw bad(`Record ${i} of "dataframe_records" is not an object`);
        const keys = Object.keys(record);
        if (keys.length !== columns.length || keys.some((k, j) => k !== columns[j])) {
          throw bad(
            `Record ${i} of "dataframe_records" has other columns than record 0: every record needs the same columns in the same order`
          );
        }
        return columns.map(column => record[column]);
      });
    }
    default: {
      // "inputs" and "instances": a list of rows, or one named tensor {"name": rows}.
      if (isObject(value)) {
        const names = Object.keys(value);
        if (names.length !== 1) {
          throw bad(
            `"${format}" names ${names.length} tensors but the model has one input: send {"${format}": [[...], ...]}`
          );
        }
        return tableOf(format, value[names[0]]);
      }
      if (!Array.isArray(value)) {
        throw bad(`"${format}" must be a list of rows, e.g. {"${format}": [[0.1, 0.2, ...]]}`);
      }
      return value;
    }
  }
}

function numericRows(table: unknown[], format: string, limits: ScoringLimits): Float32Array[] {
  if (table.length === 0) throw bad(`"${format}" holds no rows: send at least one`);
  if (table.length > limits.maxRows) {
    throw new RequestError(
      'PAYLOAD_TOO_LARGE',
      `The request holds ${table.length} rows, more than the ${limits.maxRows} one request may carry: split it, or start the server with a larger --max-rows`
    );
  }
  return table.map((row, i) => {
    if (!Array.isArray(row)) {
      throw bad(
        `Row ${i} of "${format}" is ${describe(row)}, not a list: send a list of rows, each a list of ${limits.width} numbers`
      );
    }
    const values = flattened(row, i);
    if (values.length !== limits.width) {
      throw new RequestError(
        'INVALID_PARAMETER_VALUE',
        `Row ${i} has ${values.length} values but the model takes ${limits.width}: send rows of ${limits.width} numbers`
      );
    }
    const out = new Float32Array(limits.width);
    for (let j = 0; j < values.length; j++) {
      const value = values[j];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new RequestError(
          'INVALID_PARAMETER_VALUE',
          `Row ${i}, column ${j} is ${describe(value)}: every value must be a finite number`
        );
      }
      out[j] = value;
    }
    return out;
  });
}

/** Deepest nesting of a row: an image with channels ([height][width][channels]). */
const MAX_ROW_DEPTH = 3;

/** A row's numbers, nested lists (an image) read row-major; iterative, for hostile depths. */
function flattened(row: unknown[], index: number): unknown[] {
  let values = row;
  for (let depth = 1; values.some(Array.isArray); depth++) {
    if (depth >= MAX_ROW_DEPTH) {
      throw bad(
        `Row ${index} is nested more than ${MAX_ROW_DEPTH} lists deep: send each row as a list of numbers (or an image as [height][width][channels])`
      );
    }
    values = values.flat(1);
  }
  return values;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 20))}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
