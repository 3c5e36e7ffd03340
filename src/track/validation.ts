/**
 * Every limit and every input check of the tracker, in one place. The SQLite store calls the
 * entity checks (so library users get them too); the server reads request fields through the
 * readers at the bottom, which turn wrong types and missing fields into MLflow's
 * INVALID_PARAMETER_VALUE.
 */
import { InvalidParameterError } from './errors';
import {
  MODEL_STAGES,
  RUN_STATUSES,
  type KeyValue,
  type Metric,
  type ModelStage,
  type RunStatus
} from './types';

/** MLflow's limits (mlflow/utils/validation.py). */
export const LIMITS = {
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  entitiesPerBatch: 1000,
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 8000,
  experimentNameLength: 500,
  modelNameLength: 500,
  descriptionLength: 65535,
  searchMaxResults: 50000,
  searchDefaultResults: 1000,
  registrySearchMaxResults: 1000,
  registrySearchDefaultResults: 100,
  filterLength: 10000,
  /** Experiments one run search may span (each is a bound SQL variable). */
  searchExperimentIds: 5000,
  /** JSON request bodies; artifacts have their own limit in the server options. */
  jsonBodyBytes: 16 * 1024 * 1024
} as const;

const KEY_PATTERN = /^[/\w.\- :]+$/;

function checkKey(kind: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidParameterError(
      `Invalid ${kind} name: '${String(key)}'. Names may not be empty.`
    );
  }
  if (key.length > LIMITS.keyLength) {
    throw new InvalidParameterError(
      `${kind} name '${key.slice(0, 40)}...' is ${key.length} characters long; the limit is ${LIMITS.keyLength}.`
    );
  }
  if (!KEY_PATTERN.test(key)) {
    throw new InvalidParameterError(
      `Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).`
    );
  }
  const segments = key.split('/');
  if (key.startsWith('/') || segments.some(s => s === '..' || s === '.' || s === '')) {
    throw new InvalidParameterError(
      `Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such (no leading '/', no empty, '.' or '..' segments).`
    );
  }
}

function checkValueLength(
  kind: string,
  key: string,
  value: unknown,
  limit: number
): asserts value is string {
  if (typeof value !== 'string') {
    throw new InvalidParameterError(`The value of ${kind} '${key}' must be a string.`);
  }
  if (value.length > limit) {
    throw new InvalidParameterError(
      `${kind} '${key}' had length ${value.length}, which exceeded length limit of ${limit}.`
    );
  }
}

export function checkParam(param: KeyValue): void {
  checkKey('param', param.key);
  checkValueLength('Param', param.key, param.value, LIMITS.paramValueLength);
}

export function checkTag(tag: KeyValue): void {
  checkKey('tag', tag.key);
  checkValueLength('Tag', tag.key, tag.value, LIMITS.tagValueLength);
}

export function checkMetric(metric: Metric): void {
  checkKey('metric', metric.key);
  if (typeof metric.value !== 'number') {
    throw new InvalidParameterError(
      `Got invalid value ${String(metric.value)} for metric '${metric.key}'. Please specify a number.`
    );
  }
  if (!Number.isSafeInteger(metric.timestamp)) {
    throw new InvalidParameterError(
      `Got invalid timestamp ${String(metric.timestamp)} for metric '${metric.key}'. Timestamp must be an integer (milliseconds since the epoch).`
    );
  }
  if (!Number.isSafeInteger(metric.step)) {
    throw new InvalidParameterError(
      `Got invalid step ${String(metric.step)} for metric '${metric.key}'. Step must be an integer.`
    );
  }
}

export function checkBatch(metrics: Metric[], params: KeyValue[], tags: KeyValue[]): void {
  const over = (what: string, n: number, limit: number): never => {
    throw new InvalidParameterError(
      `A batch logging request can contain at most ${limit} ${what}. Got ${n} ${what}. Please split up the batch into smaller requests.`
    );
  };
  if (metrics.length > LIMITS.metricsPerBatch)
    over('metrics', metrics.length, LIMITS.metricsPerBatch);
  if (params.length > LIMITS.paramsPerBatch) over('params', params.length, LIMITS.paramsPerBatch);
  if (tags.length > LIMITS.tagsPerBatch) over('tags', tags.length, LIMITS.tagsPerBatch);
  const total = metrics.length + params.length + tags.length;
  if (total > LIMITS.entitiesPerBatch)
    over('metrics, params and tags in total', total, LIMITS.entitiesPerBatch);
  metrics.forEach(checkMetric);
  params.forEach(checkParam);
  tags.forEach(checkTag);
  const seen = new Map<string, string>();
  for (const p of params) {
    const earlier = seen.get(p.key);
    if (earlier !== undefined && earlier !== p.value) {
      throw new InvalidParameterError(
        `Duplicate parameter keys have been submitted: '${p.key}' with different values. Please ensure the request contains only one value per parameter.`
      );
    }
    seen.set(p.key, p.value);
  }
}

export function checkExperimentName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidParameterError(
      `Invalid experiment name: '${String(name)}'. Experiment names must be non-empty strings.`
    );
  }
  if (name.length > LIMITS.experimentNameLength) {
    throw new InvalidParameterError(
      `Experiment name is ${name.length} characters long; the limit is ${LIMITS.experimentNameLength}.`
    );
  }
}

export function checkModelName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidParameterError(
      `Registered model name cannot be empty. Give the model a non-empty name.`
    );
  }
  if (name.length > LIMITS.modelNameLength) {
    throw new InvalidParameterError(
      `Registered model name is ${name.length} characters long; the limit is ${LIMITS.modelNameLength}.`
    );
  }
}

export function checkAlias(alias: unknown): asserts alias is string {
  if (typeof alias !== 'string' || !/^[\w-]{1,255}$/.test(alias)) {
    throw new InvalidParameterError(
      `Invalid alias '${String(alias)}': aliases are 1 to 255 alphanumerics, underscores or dashes.`
    );
  }
  if (/^v\d+$/i.test(alias) || alias.toLowerCase() === 'latest') {
    throw new InvalidParameterError(
      `Invalid alias '${alias}': 'latest' and 'v<number>' are reserved for versions.`
    );
  }
}

export function checkMaxResults(
  value: number | undefined,
  fallback: number,
  limit: number
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > limit) {
    throw new InvalidParameterError(
      `Invalid value ${value} for parameter 'max_results': it must be an integer from 1 to ${limit}.`
    );
  }
  return value;
}

export function toRunStatus(value: string): RunStatus {
  if (!(RUN_STATUSES as readonly string[]).includes(value)) {
    throw new InvalidParameterError(
      `Invalid run status '${value}'. Use one of ${RUN_STATUSES.join(', ')}.`
    );
  }
  return value as RunStatus;
}

export function toModelStage(value: string): ModelStage {
  const stage = MODEL_STAGES.find(s => s.toLowerCase() === value.toLowerCase());
  if (!stage) {
    throw new InvalidParameterError(
      `Invalid model version stage '${value}'. Use one of ${MODEL_STAGES.join(', ')}.`
    );
  }
  return stage;
}

// ---- Request field readers ----

/** A request's fields: the JSON body, or the query string of a GET (every value a string). */
export type Fields = Record<string, unknown>;

function missing(name: string): never {
  throw new InvalidParameterError(
    `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`
  );
}

function wrongType(name: string, expected: string, value: unknown): never {
  const shown = JSON.stringify(value) ?? String(value);
  throw new InvalidParameterError(
    `Invalid value ${shown.length > 80 ? `${shown.slice(0, 80)}...` : shown} for parameter '${name}' supplied: it must be ${expected}.`
  );
}

export function optionalString(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') wrongType(name, 'a string', value);
  return value;
}

export function requiredString(fields: Fields, name: string): string {
  const value = optionalString(fields, name);
  if (value === undefined || value === '') missing(name);
  return value;
}

/** int64 fields arrive as JSON numbers or, from protobuf's JSON and from query strings, as strings. */
export function optionalInteger(fields: Fields, name: string): number | undefined {
  const value = fields[name];
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number))
    wrongType(name, 'an integer', value);
  return number;
}

export function requiredInteger(fields: Fields, name: string): number {
  const value = optionalInteger(fields, name);
  if (value === undefined) missing(name);
  return value;
}

/** A double: a JSON number, or protobuf's strings "NaN", "Infinity", "-Infinity" (or a numeric string). */
export function requiredDouble(fields: Fields, name: string): number {
  const value = fields[name];
  if (value === undefined || value === null) missing(name);
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    if (value === 'NaN') return NaN;
    if (value === 'Infinity' || value === 'inf') return Infinity;
    if (value === '-Infinity' || value === '-inf') return -Infinity;
    const parsed = Number(value);
    if (value.trim() !== '' && !Number.isNaN(parsed)) return parsed;
  }
  return wrongType(name, 'a number', value);
}

export function optionalBoolean(fields: Fields, name: string): boolean | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'True') return true;
  if (value === 'false' || value === 'False') return false;
  return wrongType(name, 'a boolean', value);
}

function asRecord(name: string, value: unknown): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    wrongType(name, 'an object', value);
  }
  return value as Fields;
}

export function optionalArray(fields: Fields, name: string): unknown[] {
  const value = fields[name];
  if (value === undefined || value === null) return [];
  // A GET query string repeats a key for lists; a single occurrence arrives as a plain string.
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) wrongType(name, 'a list', value);
  return value;
}

export function stringList(fields: Fields, name: string): string[] {
  return optionalArray(fields, name).map((v, i) => {
    if (typeof v !== 'string') wrongType(`${name}[${i}]`, 'a string', v);
    return v;
  });
}

export function keyValues(fields: Fields, name: string): KeyValue[] {
  return optionalArray(fields, name).map((item, i) => {
    const record = asRecord(`${name}[${i}]`, item);
    const key = requiredString(record, 'key');
    const value = optionalString(record, 'value') ?? '';
    return { key, value };
  });
}

export function metrics(fields: Fields, name: string, now: number): Metric[] {
  return optionalArray(fields, name).map((item, i) =>
    readMetric(asRecord(`${name}[${i}]`, item), now)
  );
}

/** A metric from its request fields; a missing timestamp is "now", a missing step 0 (as MLflow). */
export function readMetric(fields: Fields, now: number): Metric {
  return {
    key: requiredString(fields, 'key'),
    value: requiredDouble(fields, 'value'),
    timestamp: optionalInteger(fields, 'timestamp') ?? now,
    step: optionalInteger(fields, 'step') ?? 0
  };
}

export function objectList(fields: Fields, name: string): Fields[] {
  return optionalArray(fields, name).map((item, i) => asRecord(`${name}[${i}]`, item));
}

export function requiredObject(fields: Fields, name: string): Fields {
  const value = fields[name];
  if (value === undefined || value === null) missing(name);
  return asRecord(name, value);
}
