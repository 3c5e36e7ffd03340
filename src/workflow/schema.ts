import Ajv, { type ErrorObject } from 'ajv';
import { closest } from 'fastest-levenshtein';
import { NAME_RULE, suggestName } from './names';
import type { Problem } from './problems';
import workflowSchema from './workflow.schema.json';

/** The published JSON schema of a workflow definition (draft-07). */
export const WORKFLOW_SCHEMA: object = workflowSchema;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(workflowSchema);

const STEP_FIELDS = Object.keys(workflowSchema.definitions.step.properties);
const SERVICE_FIELDS = Object.keys(workflowSchema.definitions.service.properties);
/** Fields only a service has: on a node without `kind` (a step), the service's kind was forgotten. */
const SERVICE_ONLY = ['port', 'replicas', 'healthcheck'];
/** Step fields a service cannot have, and why: said instead of a bare "unknown field". */
const NOT_FOR_SERVICES: Record<string, { message: string; fix: string }> = {
  outputs: {
    message:
      'a service has no outputs: it runs until the run is stopped, so no step could wait for them',
    fix: "write outputs from a step (a step may depend on the service and call it), or remove 'outputs'"
  },
  retries: {
    message: 'a service is not retried: a service whose container exits fails the run',
    fix: "remove 'retries' (make the service's command restart itself if it must)"
  },
  timeout: {
    message: 'a service has no timeout: it runs until the run is stopped',
    fix: "remove 'timeout' (the healthcheck's 'retries' and 'interval' bound how long it may take to be ready)"
  }
};
const PARALLEL_FIELDS = Object.keys(workflowSchema.definitions.parallel.properties);
const WORKFLOW_FIELDS = Object.keys(workflowSchema.definitions.workflow.properties);

/** Structural problems (types, unknown and missing fields, ranges) of a raw definition. */
export function schemaProblems(definition: unknown): Problem[] {
  if (validateSchema(definition)) {
    return [];
  }
  const problems = new Map<string, Problem>();
  for (const error of validateSchema.errors ?? []) {
    const problem = translate(definition, error);
    if (problem) {
      // One problem per place and message: if/then/else and oneOf repeat themselves.
      problems.set(`${problem.where}|${problem.field}|${problem.message}`, problem);
    }
  }
  return [...problems.values()];
}

interface Location {
  where: string;
  field: string;
  /** The node object that holds the field. */
  node: Record<string, unknown> | undefined;
  /** How deep that node is: 0 for the root workflow. */
  depth: number;
}

/** Turns a JSON pointer such as /steps/1/resources/cpus into "hello.train: resources.cpus". */
export function locate(definition: unknown, pointer: string): Location {
  const segments = pointer
    .split('/')
    .slice(1)
    .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node = asRecord(definition);
  let where = nodeLabel(node, 'workflow');
  let i = 0;
  while (i + 1 < segments.length && segments[i] === 'steps' && node && Array.isArray(node.steps)) {
    const child = asRecord(node.steps[Number(segments[i + 1])]);
    if (!child) {
      break;
    }
    where = `${where}.${nodeLabel(child, `#${segments[i + 1]}`)}`;
    node = child;
    i += 2;
  }
  return { where, field: segments.slice(i).join('.'), node, depth: i / 2 };
}

function nodeLabel(node: Record<string, unknown> | undefined, fallback: string): string {
  return node && typeof node.name === 'string' && node.name ? node.name : fallback;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function translate(definition: unknown, error: ErrorObject): Problem | undefined {
  const { where, field, node, depth } = locate(definition, error.instancePath);
  const params = error.params as Record<string, unknown>;
  const value = field ? valueAt(definition, error.instancePath) : undefined;
  const at = field || 'this node';
  if (field.endsWith('memory') && error.keyword !== 'oneOf') {
    return undefined; // the branches of memory's oneOf; reported once below
  }
  switch (error.keyword) {
    case 'if':
    case 'oneOf':
      if (field.endsWith('memory')) {
        return {
          where,
          field,
          message: `${show(value)} is not a memory size`,
          fix: 'give bytes as a positive integer, or a size such as "512m" or "2g"'
        };
      }
      return undefined;
    case 'required': {
      const missing = String(params.missingProperty);
      return {
        where,
        field: field || undefined,
        message: `the required field '${missing}' is missing`,
        fix:
          missing === 'steps'
            ? "add a 'steps' list with at least one step"
            : missing === 'port'
              ? "add 'port', the port the service listens on (e.g. 8080)"
              : `add '${missing}'`
      };
    }
    case 'additionalProperties': {
      const unknown = String(params.additionalProperty);
      if (field === '' && node?.kind === 'service' && unknown in NOT_FOR_SERVICES) {
        return { where, field: unknown, ...NOT_FOR_SERVICES[unknown] };
      }
      if (
        field === '' &&
        node &&
        depth > 0 &&
        SERVICE_ONLY.includes(unknown) &&
        node.kind === 'step'
      ) {
        return {
          where,
          field: unknown,
          message: `'${unknown}' belongs to a service, and this node is a step`,
          fix: "declare it with kind: service (service(...) in code), or remove 'port', 'replicas' and 'healthcheck'"
        };
      }
      const known =
        field === '' && node
          ? node.kind === 'parallel'
            ? PARALLEL_FIELDS
            : node.kind === 'workflow' || depth === 0
              ? WORKFLOW_FIELDS
              : node.kind === 'service'
                ? SERVICE_FIELDS
                : STEP_FIELDS
          : [];
      const guess = known.length ? closest(unknown, known) : undefined;
      return {
        where,
        field: field || undefined,
        message: `unknown field '${unknown}'`,
        fix: guess ? `did you mean '${guess}'? Otherwise remove it` : 'remove it'
      };
    }
    case 'pattern':
      if (field === 'name' || field.endsWith('.name')) {
        return {
          where,
          field,
          message: `${show(value)} is not a valid name`,
          fix: `${NAME_RULE}, e.g. '${suggestName(String(value))}'`
        };
      }
      if (field === 'healthcheck.path') {
        return {
          where,
          field,
          message: `${show(value)} is not an HTTP path`,
          fix: 'start it with a slash, e.g. "/health"'
        };
      }
      return undefined; // memory: reported once under oneOf
    case 'type':
      if (field === 'replicas' || field === 'port') {
        return {
          where,
          field,
          message: `${field} must be a whole number, not ${describe(value)}`,
          fix:
            field === 'replicas'
              ? 'give the number of containers that run the service, 1 or more'
              : 'give the port the service listens on, from 1 to 65535'
        };
      }
      return {
        where,
        field: field || undefined,
        message: `${at} must be ${article(String(params.type))}, not ${describe(value)}`
      };
    case 'minimum':
    case 'exclusiveMinimum': {
      const limit = Number(params.limit);
      const bound = error.keyword === 'minimum' ? `at least ${limit}` : `greater than ${limit}`;
      const fixBound =
        error.keyword === 'minimum' ? `of at least ${limit}` : `greater than ${limit}`;
      return {
        where,
        field,
        message: `${at} must be ${bound}, got ${show(value)}`,
        fix:
          field === 'port'
            ? 'give the port the service listens on, from 1 to 65535'
            : `use a value ${fixBound}, or remove '${field}'`
      };
    }
    case 'maximum': {
      const limit = Number(params.limit);
      return {
        where,
        field,
        message: `${at} must be at most ${limit}, got ${show(value)}`,
        fix:
          field === 'port'
            ? 'give the port the service listens on, from 1 to 65535'
            : `use a value of at most ${limit}`
      };
    }
    case 'minItems':
      return {
        where,
        field,
        message: field === 'steps' ? 'it has no steps' : `${at} is empty`,
        fix:
          field === 'steps'
            ? 'add at least one step, or remove it'
            : `give at least one item, or remove '${field}'`
      };
    case 'minLength':
      return { where, field, message: `${at} is empty`, fix: `give a value, or remove '${field}'` };
    case 'const':
    case 'enum': {
      const allowed =
        error.keyword === 'const'
          ? field === 'kind'
            ? ['step', 'service', 'parallel', 'workflow']
            : [params.allowedValue]
          : (params.allowedValues as unknown[]);
      return {
        where,
        field,
        message: `${show(value)} is not allowed here`,
        fix: `use one of ${allowed.map(show).join(', ')}`
      };
    }
    default:
      return {
        where,
        field: field || undefined,
        message: `${at} ${error.message ?? 'is invalid'}`
      };
  }
}

function valueAt(definition: unknown, pointer: string): unknown {
  let value = definition;
  for (const segment of pointer.split('/').slice(1)) {
    value =
      value && typeof value === 'object' ? (value as Record<string, unknown>)[segment] : undefined;
  }
  return value;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  return typeof value === 'object' ? 'an object' : `${typeof value} ${show(value)}`;
}
