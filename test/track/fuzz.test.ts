/**
 * Fuzzing: schemathesis (from PyPI) generates well over 1,000 requests from our OpenAPI description,
 * valid and invalid, against a live server. Every answer must be a success or a 4xx in MLflow's
 * error format; any 5xx, crash or hang fails. We count the requests on the server side.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  ArtifactStore,
  SqliteStore,
  openApiDocument,
  trackerRequestListener
} from '../../src/track';
import { listen } from '../../src/track/server';
import { ROOT, requirePython, temporaryFolder } from './helpers';

const folder = temporaryFolder('fuzz');
after(() => folder.remove());

test(
  'schemathesis: over 1,000 generated requests, never a 5xx, errors in MLflow format',
  { timeout: 600_000 },
  async () => {
    requirePython();
    const store = new SqliteStore(join(folder.path, 'tracker.db'));
    const listener = trackerRequestListener({
      store,
      registry: store,
      artifacts: new ArtifactStore(join(folder.path, 'artifacts')),
      maxArtifactBytes: 1024 * 1024
    });
    let requests = 0;
    const serverErrors: string[] = [];
    const server = createServer((request, response) => {
      requests++;
      response.on('finish', () => {
        if (response.statusCode >= 500)
          serverErrors.push(`${request.method} ${request.url} -> ${response.statusCode}`);
      });
      listener(request, response);
    });
    const { url } = await listen(server, '127.0.0.1', 0);
    const schema = join(folder.path, 'openapi.json');
    // Real objects for the generated requests to find: an experiment, a run with a metric, a model.
    const experimentId = await store.createExperiment('fuzzed');
    const run = await store.createRun(experimentId, { runName: 'fuzzed' });
    await store.logMetric(run.info.run_id, { key: 'loss', value: 1, step: 0, timestamp: 0 });
    await store.createRegisteredModel('fuzzed');
    await store.createModelVersion('fuzzed', 'runs:/x/model');
    const examples = {
      experiment_id: experimentId,
      run_id: run.info.run_id,
      metric_key: 'loss',
      name: 'fuzzed',
      version: '1',
      experiment_ids: [experimentId]
    };
    writeFileSync(schema, JSON.stringify(openApiDocument(examples)));
    // The 200-or-4xx checks only: "positive data acceptance" would demand that any schema-valid body
    // succeeds, but MLflow's API rejects many (unknown run ids, changed params) by design.
    const output = await new Promise<string>(resolve => {
      execFile(
        join(ROOT, '.venv/bin/schemathesis'),
        [
          'run',
          schema,
          '--url',
          url,
          '--checks',
          'not_a_server_error,response_schema_conformance,status_code_conformance',
          '--phases',
          'examples,coverage,fuzzing',
          '--max-examples',
          '30',
          '--seed',
          '4',
          '--workers',
          '2',
          '--no-color',
          '--suppress-health-check',
          'all',
          '--generation-database',
          'none',
          '--request-timeout',
          '10'
        ],
        { maxBuffer: 64 * 1024 * 1024, timeout: 540_000, cwd: folder.path },
        (error, stdout, stderr) =>
          resolve(`${error ? `exit: ${error.message}\n` : ''}${stdout}${stderr}`)
      );
    });
    await new Promise<void>(resolve => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    store.close();
    assert.deepEqual(serverErrors, [], output.slice(-4000));
    const generated = Number(/(\d+) generated/.exec(output)?.[1] ?? 0);
    assert.ok(
      generated >= 1000 && requests >= 1000,
      `only ${requests} requests (${generated} cases) were sent`
    );
    assert.ok(requests >= 1000, `only ${requests} requests were generated\n${output.slice(-2000)}`);
    assert.doesNotMatch(output, /^exit:/, output.slice(-6000));
  }
);
