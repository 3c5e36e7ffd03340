/**
 * The REST API's handlers: each one reads its fields (validation.ts), calls the store and returns
 * the JSON body MLflow returns for that endpoint. Nothing here knows about HTTP.
 */
import type { ModelRegistryStore, TrackingStore } from './store';
import type { SearchOptions, ViewType } from './types';
import {
  type Fields,
  keyValues,
  metrics,
  objectList,
  optionalBoolean,
  optionalInteger,
  optionalString,
  readMetric,
  requiredInteger,
  requiredObject,
  requiredString,
  stringList,
  toModelStage,
  toRunStatus
} from './validation';
import { InvalidParameterError } from './errors';

export type Handler = (fields: Fields) => Promise<object>;

const VIEW_TYPES: readonly ViewType[] = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'];

function viewType(fields: Fields, name: string): ViewType | undefined {
  const value = optionalString(fields, name);
  if (value === undefined) return undefined;
  if (!VIEW_TYPES.includes(value as ViewType)) {
    throw new InvalidParameterError(
      `Invalid value '${value}' for parameter '${name}': use one of ${VIEW_TYPES.join(', ')}.`
    );
  }
  return value as ViewType;
}

function searchOptions(fields: Fields, view?: string): SearchOptions {
  return {
    filter: optionalString(fields, 'filter'),
    orderBy: stringList(fields, 'order_by'),
    maxResults: optionalInteger(fields, 'max_results'),
    pageToken: optionalString(fields, 'page_token'),
    viewType: view ? viewType(fields, view) : undefined
  };
}

/** Runs are named `run_id`; older clients still send `run_uuid`. */
function runId(fields: Fields): string {
  return optionalString(fields, 'run_id') || requiredString(fields, 'run_uuid');
}

function page<T>(name: string, result: { items: T[]; nextPageToken?: string }): object {
  return { [name]: result.items, next_page_token: result.nextPageToken };
}

/** The tracking API: route ("METHOD path" under /api/2.0/mlflow/) to handler. */
export function trackingHandlers(store: TrackingStore): Record<string, Handler> {
  return {
    'POST experiments/create': async f => ({
      experiment_id: await store.createExperiment(
        requiredString(f, 'name'),
        optionalString(f, 'artifact_location'),
        keyValues(f, 'tags')
      )
    }),
    'GET experiments/get': async f => ({
      experiment: await store.getExperiment(requiredString(f, 'experiment_id'))
    }),
    'GET experiments/get-by-name': async f => ({
      experiment: await store.getExperimentByName(requiredString(f, 'experiment_name'))
    }),
    'POST experiments/search': async f =>
      page('experiments', await store.searchExperiments(searchOptions(f, 'view_type'))),
    'GET experiments/search': async f =>
      page('experiments', await store.searchExperiments(searchOptions(f, 'view_type'))),
    'POST experiments/update': async f => {
      await store.renameExperiment(
        requiredString(f, 'experiment_id'),
        requiredString(f, 'new_name')
      );
      return {};
    },
    'POST experiments/delete': async f => {
      await store.deleteExperiment(requiredString(f, 'experiment_id'));
      return {};
    },
    'POST experiments/restore': async f => {
      await store.restoreExperiment(requiredString(f, 'experiment_id'));
      return {};
    },
    'POST experiments/set-experiment-tag': async f => {
      await store.setExperimentTag(
        requiredString(f, 'experiment_id'),
        requiredString(f, 'key'),
        optionalString(f, 'value') ?? ''
      );
      return {};
    },
    'POST experiments/delete-experiment-tag': async f => {
      await store.deleteExperimentTag(requiredString(f, 'experiment_id'), requiredString(f, 'key'));
      return {};
    },
    'POST runs/create': async f => ({
      run: await store.createRun(optionalString(f, 'experiment_id') || '0', {
        runName: optionalString(f, 'run_name'),
        userId: optionalString(f, 'user_id'),
        startTime: optionalInteger(f, 'start_time'),
        tags: keyValues(f, 'tags')
      })
    }),
    'GET runs/get': async f => ({ run: await store.getRun(runId(f)) }),
    'POST runs/update': async f => {
      const status = optionalString(f, 'status');
      return {
        run_info: await store.updateRun(runId(f), {
          status: status === undefined ? undefined : toRunStatus(status),
          endTime: optionalInteger(f, 'end_time'),
          runName: optionalString(f, 'run_name')
        })
      };
    },
    'POST runs/delete': async f => {
      await store.deleteRun(runId(f));
      return {};
    },
    'POST runs/restore': async f => {
      await store.restoreRun(runId(f));
      return {};
    },
    'POST runs/search': async f =>
      page(
        'runs',
        await store.searchRuns(stringList(f, 'experiment_ids'), searchOptions(f, 'run_view_type'))
      ),
    'POST runs/set-tag': async f => {
      await store.setTag(runId(f), requiredString(f, 'key'), optionalString(f, 'value') ?? '');
      return {};
    },
    'POST runs/delete-tag': async f => {
      await store.deleteTag(runId(f), requiredString(f, 'key'));
      return {};
    },
    'POST runs/log-metric': async f => {
      await store.logMetric(runId(f), readMetric(f, Date.now()));
      return {};
    },
    'POST runs/log-parameter': async f => {
      await store.logParam(runId(f), requiredString(f, 'key'), optionalString(f, 'value') ?? '');
      return {};
    },
    'POST runs/log-batch': async f => {
      await store.logBatch(runId(f), {
        metrics: metrics(f, 'metrics', Date.now()),
        params: keyValues(f, 'params'),
        tags: keyValues(f, 'tags')
      });
      return {};
    },
    'POST runs/log-inputs': async f => {
      const datasets = objectList(f, 'datasets').map(input => {
        const dataset = requiredObject(input, 'dataset');
        return {
          tags: keyValues(input, 'tags'),
          dataset: {
            name: requiredString(dataset, 'name'),
            digest: requiredString(dataset, 'digest'),
            source_type: optionalString(dataset, 'source_type') ?? '',
            source: optionalString(dataset, 'source') ?? '',
            schema: optionalString(dataset, 'schema'),
            profile: optionalString(dataset, 'profile')
          }
        };
      });
      await store.logInputs(runId(f), datasets);
      return {};
    },
    'POST runs/log-model': async f => {
      // MLflow keeps logged model descriptions in a run tag; so do we.
      const id = runId(f);
      const model = requiredString(f, 'model_json');
      try {
        JSON.parse(model);
      } catch {
        throw new InvalidParameterError(`'model_json' must be a JSON document.`);
      }
      const run = await store.getRun(id);
      const history = run.data.tags.find(t => t.key === 'mlflow.log-model.history')?.value;
      const entries = history ? (JSON.parse(history) as unknown[]) : [];
      await store.setTag(
        id,
        'mlflow.log-model.history',
        JSON.stringify([...entries, JSON.parse(model)])
      );
      return {};
    },
    // MLflow 3's "logged models" are not stored here (creating one answers 404), so a search finds
    // none; MLflow's register_model searches them before it falls back to the run's artifacts.
    'POST logged-models/search': async f => {
      stringList(f, 'experiment_ids');
      return { models: [] };
    },
    'GET metrics/get-history': async f => {
      const result = await store.getMetricHistory(runId(f), requiredString(f, 'metric_key'), {
        maxResults: optionalInteger(f, 'max_results'),
        pageToken: optionalString(f, 'page_token')
      });
      return page('metrics', result);
    }
  };
}

/** The model registry API, under the same prefix. */
export function registryHandlers(registry: ModelRegistryStore): Record<string, Handler> {
  const name = (f: Fields): string => requiredString(f, 'name');
  const version = (f: Fields): string => String(requiredInteger(f, 'version'));
  const latest: Handler = async f => ({
    model_versions: await registry.getLatestVersions(name(f), stringList(f, 'stages'))
  });
  return {
    'POST registered-models/create': async f => ({
      registered_model: await registry.createRegisteredModel(name(f), {
        tags: keyValues(f, 'tags'),
        description: optionalString(f, 'description')
      })
    }),
    'GET registered-models/get': async f => ({
      registered_model: await registry.getRegisteredModel(name(f))
    }),
    'POST registered-models/rename': async f => ({
      registered_model: await registry.renameRegisteredModel(name(f), requiredString(f, 'new_name'))
    }),
    'PATCH registered-models/update': async f => ({
      registered_model: await registry.updateRegisteredModel(
        name(f),
        optionalString(f, 'description') ?? ''
      )
    }),
    'DELETE registered-models/delete': async f => {
      await registry.deleteRegisteredModel(name(f));
      return {};
    },
    'GET registered-models/search': async f =>
      page('registered_models', await registry.searchRegisteredModels(searchOptions(f))),
    'POST registered-models/get-latest-versions': latest,
    'GET registered-models/get-latest-versions': latest,
    'POST registered-models/set-tag': async f => {
      await registry.setRegisteredModelTag(
        name(f),
        requiredString(f, 'key'),
        optionalString(f, 'value') ?? ''
      );
      return {};
    },
    'DELETE registered-models/delete-tag': async f => {
      await registry.deleteRegisteredModelTag(name(f), requiredString(f, 'key'));
      return {};
    },
    'POST registered-models/alias': async f => {
      await registry.setRegisteredModelAlias(name(f), requiredString(f, 'alias'), version(f));
      return {};
    },
    'DELETE registered-models/alias': async f => {
      await registry.deleteRegisteredModelAlias(name(f), requiredString(f, 'alias'));
      return {};
    },
    'GET registered-models/alias': async f => ({
      model_version: await registry.getModelVersionByAlias(name(f), requiredString(f, 'alias'))
    }),
    'POST model-versions/create': async f => ({
      model_version: await registry.createModelVersion(name(f), requiredString(f, 'source'), {
        runId: optionalString(f, 'run_id') || undefined,
        tags: keyValues(f, 'tags'),
        runLink: optionalString(f, 'run_link') || undefined,
        description: optionalString(f, 'description') || undefined
      })
    }),
    'GET model-versions/get': async f => ({
      model_version: await registry.getModelVersion(name(f), version(f))
    }),
    'PATCH model-versions/update': async f => ({
      model_version: await registry.updateModelVersion(
        name(f),
        version(f),
        optionalString(f, 'description') ?? ''
      )
    }),
    'DELETE model-versions/delete': async f => {
      await registry.deleteModelVersion(name(f), version(f));
      return {};
    },
    'GET model-versions/search': async f =>
      page('model_versions', await registry.searchModelVersions(searchOptions(f))),
    'GET model-versions/get-download-uri': async f => ({
      artifact_uri: await registry.getModelVersionDownloadUri(name(f), version(f))
    }),
    'POST model-versions/transition-stage': async f => ({
      model_version: await registry.transitionModelVersionStage(
        name(f),
        version(f),
        toModelStage(requiredString(f, 'stage')),
        optionalBoolean(f, 'archive_existing_versions') ?? false
      )
    }),
    'POST model-versions/set-tag': async f => {
      await registry.setModelVersionTag(
        name(f),
        version(f),
        requiredString(f, 'key'),
        optionalString(f, 'value') ?? ''
      );
      return {};
    },
    'DELETE model-versions/delete-tag': async f => {
      await registry.deleteModelVersionTag(name(f), version(f), requiredString(f, 'key'));
      return {};
    }
  };
}
