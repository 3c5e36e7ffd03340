/**
 * An OpenAPI 3 description of the REST API this tracker serves: the contract the fuzz test
 * (schemathesis) generates requests from, and documentation for other clients. Fields follow
 * MLflow's REST API reference; errors are MLflow's `{ error_code, message }`.
 */
type FieldType =
  'string' | 'integer' | 'number' | 'boolean' | 'strings' | 'keyValues' | 'metrics' | 'datasets';

interface Endpoint {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  fields: Record<string, FieldType>;
  required?: string[];
}

const SEARCH: Record<string, FieldType> = {
  filter: 'string',
  order_by: 'strings',
  max_results: 'integer',
  page_token: 'string'
};

const ENDPOINTS: Endpoint[] = [
  {
    method: 'post',
    path: 'experiments/create',
    fields: { name: 'string', artifact_location: 'string', tags: 'keyValues' },
    required: ['name']
  },
  {
    method: 'get',
    path: 'experiments/get',
    fields: { experiment_id: 'string' },
    required: ['experiment_id']
  },
  {
    method: 'get',
    path: 'experiments/get-by-name',
    fields: { experiment_name: 'string' },
    required: ['experiment_name']
  },
  { method: 'post', path: 'experiments/search', fields: { ...SEARCH, view_type: 'string' } },
  {
    method: 'post',
    path: 'experiments/update',
    fields: { experiment_id: 'string', new_name: 'string' },
    required: ['experiment_id', 'new_name']
  },
  {
    method: 'post',
    path: 'experiments/delete',
    fields: { experiment_id: 'string' },
    required: ['experiment_id']
  },
  {
    method: 'post',
    path: 'experiments/restore',
    fields: { experiment_id: 'string' },
    required: ['experiment_id']
  },
  {
    method: 'post',
    path: 'experiments/set-experiment-tag',
    fields: { experiment_id: 'string', key: 'string', value: 'string' },
    required: ['experiment_id', 'key']
  },
  {
    method: 'post',
    path: 'experiments/delete-experiment-tag',
    fields: { experiment_id: 'string', key: 'string' },
    required: ['experiment_id', 'key']
  },
  {
    method: 'post',
    path: 'runs/create',
    fields: {
      experiment_id: 'string',
      user_id: 'string',
      run_name: 'string',
      start_time: 'integer',
      tags: 'keyValues'
    }
  },
  { method: 'get', path: 'runs/get', fields: { run_id: 'string' }, required: ['run_id'] },
  {
    method: 'post',
    path: 'runs/update',
    fields: { run_id: 'string', status: 'string', end_time: 'integer', run_name: 'string' },
    required: ['run_id']
  },
  { method: 'post', path: 'runs/delete', fields: { run_id: 'string' }, required: ['run_id'] },
  { method: 'post', path: 'runs/restore', fields: { run_id: 'string' }, required: ['run_id'] },
  {
    method: 'post',
    path: 'runs/search',
    fields: { ...SEARCH, experiment_ids: 'strings', run_view_type: 'string' }
  },
  {
    method: 'post',
    path: 'runs/set-tag',
    fields: { run_id: 'string', key: 'string', value: 'string' },
    required: ['run_id', 'key']
  },
  {
    method: 'post',
    path: 'runs/delete-tag',
    fields: { run_id: 'string', key: 'string' },
    required: ['run_id', 'key']
  },
  {
    method: 'post',
    path: 'runs/log-metric',
    fields: {
      run_id: 'string',
      key: 'string',
      value: 'number',
      timestamp: 'integer',
      step: 'integer'
    },
    required: ['run_id', 'key', 'value']
  },
  {
    method: 'post',
    path: 'runs/log-parameter',
    fields: { run_id: 'string', key: 'string', value: 'string' },
    required: ['run_id', 'key']
  },
  {
    method: 'post',
    path: 'runs/log-batch',
    fields: { run_id: 'string', metrics: 'metrics', params: 'keyValues', tags: 'keyValues' },
    required: ['run_id']
  },
  {
    method: 'post',
    path: 'runs/log-inputs',
    fields: { run_id: 'string', datasets: 'datasets' },
    required: ['run_id']
  },
  {
    method: 'post',
    path: 'runs/log-model',
    fields: { run_id: 'string', model_json: 'string' },
    required: ['run_id', 'model_json']
  },
  {
    method: 'get',
    path: 'metrics/get-history',
    fields: {
      run_id: 'string',
      metric_key: 'string',
      max_results: 'integer',
      page_token: 'string'
    },
    required: ['run_id', 'metric_key']
  },
  {
    method: 'get',
    path: 'artifacts/list',
    fields: { run_id: 'string', path: 'string' },
    required: ['run_id']
  },
  {
    method: 'post',
    path: 'registered-models/create',
    fields: { name: 'string', tags: 'keyValues', description: 'string' },
    required: ['name']
  },
  { method: 'get', path: 'registered-models/get', fields: { name: 'string' }, required: ['name'] },
  {
    method: 'post',
    path: 'registered-models/rename',
    fields: { name: 'string', new_name: 'string' },
    required: ['name', 'new_name']
  },
  {
    method: 'patch',
    path: 'registered-models/update',
    fields: { name: 'string', description: 'string' },
    required: ['name']
  },
  {
    method: 'delete',
    path: 'registered-models/delete',
    fields: { name: 'string' },
    required: ['name']
  },
  { method: 'get', path: 'registered-models/search', fields: SEARCH },
  {
    method: 'post',
    path: 'registered-models/get-latest-versions',
    fields: { name: 'string', stages: 'strings' },
    required: ['name']
  },
  {
    method: 'post',
    path: 'registered-models/set-tag',
    fields: { name: 'string', key: 'string', value: 'string' },
    required: ['name', 'key']
  },
  {
    method: 'delete',
    path: 'registered-models/delete-tag',
    fields: { name: 'string', key: 'string' },
    required: ['name', 'key']
  },
  {
    method: 'post',
    path: 'registered-models/alias',
    fields: { name: 'string', alias: 'string', version: 'string' },
    required: ['name', 'alias', 'version']
  },
  {
    method: 'delete',
    path: 'registered-models/alias',
    fields: { name: 'string', alias: 'string' },
    required: ['name', 'alias']
  },
  {
    method: 'get',
    path: 'registered-models/alias',
    fields: { name: 'string', alias: 'string' },
    required: ['name', 'alias']
  },
  {
    method: 'post',
    path: 'model-versions/create',
    fields: {
      name: 'string',
      source: 'string',
      run_id: 'string',
      tags: 'keyValues',
      run_link: 'string',
      description: 'string'
    },
    required: ['name', 'source']
  },
  {
    method: 'get',
    path: 'model-versions/get',
    fields: { name: 'string', version: 'string' },
    required: ['name', 'version']
  },
  {
    method: 'patch',
    path: 'model-versions/update',
    fields: { name: 'string', version: 'string', description: 'string' },
    required: ['name', 'version']
  },
  {
    method: 'delete',
    path: 'model-versions/delete',
    fields: { name: 'string', version: 'string' },
    required: ['name', 'version']
  },
  { method: 'get', path: 'model-versions/search', fields: SEARCH },
  {
    method: 'get',
    path: 'model-versions/get-download-uri',
    fields: { name: 'string', version: 'string' },
    required: ['name', 'version']
  },
  {
    method: 'post',
    path: 'model-versions/transition-stage',
    fields: {
      name: 'string',
      version: 'string',
      stage: 'string',
      archive_existing_versions: 'boolean'
    },
    required: ['name', 'version', 'stage']
  },
  {
    method: 'post',
    path: 'model-versions/set-tag',
    fields: { name: 'string', version: 'string', key: 'string', value: 'string' },
    required: ['name', 'version', 'key']
  },
  {
    method: 'delete',
    path: 'model-versions/delete-tag',
    fields: { name: 'string', version: 'string', key: 'string' },
    required: ['name', 'version', 'key']
  }
];

const KEY_VALUE = {
  type: 'object',
  properties: { key: { type: 'string' }, value: { type: 'string' } },
  required: ['key']
};

function schemaOf(type: FieldType): object {
  switch (type) {
    case 'strings':
      return { type: 'array', items: { type: 'string' } };
    case 'keyValues':
      return { type: 'array', items: KEY_VALUE };
    case 'metrics':
      return {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            key: { type: 'string' },
            value: { type: 'number' },
            timestamp: { type: 'integer' },
            step: { type: 'integer' }
          },
          required: ['key', 'value']
        }
      };
    case 'datasets':
      return {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            tags: { type: 'array', items: KEY_VALUE },
            dataset: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                digest: { type: 'string' },
                source_type: { type: 'string' },
                source: { type: 'string' }
              },
              required: ['name', 'digest']
            }
          },
          required: ['dataset']
        }
      };
    default:
      return { type };
  }
}

const ERROR_RESPONSE = {
  description: "An error in MLflow's format",
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: { error_code: { type: 'string' }, message: { type: 'string' } },
        required: ['error_code', 'message']
      }
    }
  }
};

const JSON_OK = {
  description: "The endpoint's answer",
  content: { 'application/json': { schema: { type: 'object' } } }
};

/**
 * The OpenAPI document; `servers` is left to the caller (schemathesis takes --url). `examples` gives
 * example values by field name (e.g. a real run_id), so generated requests also reach objects that
 * exist instead of stopping at "not found".
 */
export function openApiDocument(examples: Record<string, unknown> = {}): Record<string, unknown> {
  const withExample = (name: string, schema: object): object =>
    name in examples ? { ...schema, example: examples[name] } : schema;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const endpoint of ENDPOINTS) {
    const operation: Record<string, unknown> = {
      operationId: `${endpoint.method}-${endpoint.path.replace(/\//g, '-')}`,
      responses: { '200': JSON_OK, '4XX': ERROR_RESPONSE }
    };
    if (endpoint.method === 'get') {
      operation.parameters = Object.entries(endpoint.fields).map(([name, type]) => ({
        name,
        in: 'query',
        required: endpoint.required?.includes(name) ?? false,
        schema: withExample(name, schemaOf(type)),
        ...(type === 'strings' ? { style: 'form', explode: true } : {})
      }));
    } else {
      operation.requestBody = {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: Object.fromEntries(
                Object.entries(endpoint.fields).map(([name, type]) => [name, schemaOf(type)])
              ),
              required: endpoint.required ?? []
            }
          }
        }
      };
    }
    (paths[`/api/2.0/mlflow/${endpoint.path}`] ??= {})[endpoint.method] = operation;
  }
  const artifactPath = { name: 'path', in: 'path', required: true, schema: { type: 'string' } };
  paths['/api/2.0/mlflow-artifacts/artifacts/{path}'] = {
    get: {
      operationId: 'download-artifact',
      parameters: [artifactPath],
      responses: {
        '200': {
          description: 'The file',
          content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
        },
        '4XX': ERROR_RESPONSE
      }
    },
    put: {
      operationId: 'upload-artifact',
      parameters: [artifactPath],
      requestBody: {
        required: true,
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
      },
      responses: { '200': JSON_OK, '4XX': ERROR_RESPONSE }
    },
    delete: {
      operationId: 'delete-artifact',
      parameters: [artifactPath],
      responses: { '200': JSON_OK, '4XX': ERROR_RESPONSE }
    }
  };
  paths['/api/2.0/mlflow-artifacts/artifacts'] = {
    get: {
      operationId: 'list-artifacts',
      parameters: [{ name: 'path', in: 'query', required: false, schema: { type: 'string' } }],
      responses: { '200': JSON_OK, '4XX': ERROR_RESPONSE }
    }
  };
  return {
    openapi: '3.0.3',
    info: { title: 'Scanflow tracker (MLflow REST API)', version: '1.0.0' },
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }
  };
}
