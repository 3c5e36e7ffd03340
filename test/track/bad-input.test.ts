/**
 * Bad input gets a 4xx in MLflow's error format (error_code + a message naming the problem),
 * never a 5xx; artifact paths cannot leave the artifact root; a bearer token, when set, guards
 * every route. Requests are sent raw (node:http), so paths like `../` reach the server unchanged.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTracker, type RunningTracker } from '../../src/track';
import { temporaryFolder } from './helpers';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

function raw(
  base: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {}
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const length: Record<string, string> =
      body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) };
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { ...length, ...headers } },
      response => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({ status: response.statusCode ?? 0, body: parsed, text });
        });
      }
    );
    req.on('error', reject);
    req.end(body);
  });
}

const folder = temporaryFolder('bad-input');
let tracker: RunningTracker;
let runId: string;
const api = (path: string): string => `/api/2.0/mlflow/${path}`;

before(async () => {
  tracker = await startTracker({
    storePath: join(folder.path, 'tracker.db'),
    maxArtifactBytes: 1024
  });
  runId = (await tracker.store.createRun('0', { runName: 'target' })).info.run_id;
});
after(async () => {
  await tracker.close();
  folder.remove();
});

describe('bad input answers 4xx in MLflow format', () => {
  const cases: Array<[string, string, string, string | undefined, number, string, RegExp]> = [
    [
      'malformed JSON',
      'POST',
      'runs/log-metric',
      '{"run_id": ',
      400,
      'BAD_REQUEST',
      /Malformed JSON/
    ],
    [
      'a JSON array body',
      'POST',
      'runs/create',
      '[1,2]',
      400,
      'INVALID_PARAMETER_VALUE',
      /JSON object/
    ],
    [
      'a missing field',
      'POST',
      'runs/log-parameter',
      '{"key":"a","value":"b"}',
      400,
      'INVALID_PARAMETER_VALUE',
      /'run_uuid'/
    ],
    [
      'a number where a string goes',
      'POST',
      'experiments/create',
      '{"name": 5}',
      400,
      'INVALID_PARAMETER_VALUE',
      /'name'.*string/
    ],
    [
      'a string metric value',
      'POST',
      'runs/log-metric',
      '{"run_id":"RUN","key":"m","value":"high"}',
      400,
      'INVALID_PARAMETER_VALUE',
      /'value'.*number/
    ],
    [
      'a fractional step',
      'POST',
      'runs/log-metric',
      '{"run_id":"RUN","key":"m","value":1,"step":1.5}',
      400,
      'INVALID_PARAMETER_VALUE',
      /'step'.*integer/
    ],
    [
      'an unknown run id',
      'POST',
      'runs/log-metric',
      '{"run_id":"nope","key":"m","value":1}',
      404,
      'RESOURCE_DOES_NOT_EXIST',
      /Run with id=nope not found/
    ],
    [
      'an unknown experiment',
      'GET',
      'experiments/get?experiment_id=12345',
      undefined,
      404,
      'RESOURCE_DOES_NOT_EXIST',
      /12345/
    ],
    [
      'a key with ..',
      'POST',
      'runs/log-parameter',
      '{"run_id":"RUN","key":"../etc","value":"x"}',
      400,
      'INVALID_PARAMETER_VALUE',
      /Invalid param name/
    ],
    [
      'a too long key',
      'POST',
      'runs/set-tag',
      `{"run_id":"RUN","key":"${'k'.repeat(251)}","value":"x"}`,
      400,
      'INVALID_PARAMETER_VALUE',
      /limit is 250/
    ],
    [
      'a too long param value',
      'POST',
      'runs/log-parameter',
      `{"run_id":"RUN","key":"big","value":"${'v'.repeat(6001)}"}`,
      400,
      'INVALID_PARAMETER_VALUE',
      /exceeded length limit of 6000/
    ],
    [
      '1001 metrics in a batch',
      'POST',
      'runs/log-batch',
      JSON.stringify({
        run_id: 'RUN',
        metrics: Array.from({ length: 1001 }, (_, i) => ({
          key: 'm',
          value: i,
          timestamp: 0,
          step: i
        }))
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 1000 metrics/
    ],
    [
      '101 params in a batch',
      'POST',
      'runs/log-batch',
      JSON.stringify({
        run_id: 'RUN',
        params: Array.from({ length: 101 }, (_, i) => ({ key: `p${i}`, value: 'v' }))
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 100 params/
    ],
    [
      'a bad filter',
      'POST',
      'runs/search',
      '{"experiment_ids":["0"],"filter":"metrics.acc >>> 1"}',
      400,
      'INVALID_PARAMETER_VALUE',
      /Invalid filter/
    ],
    [
      'OR in a filter',
      'POST',
      'runs/search',
      `{"experiment_ids":["0"],"filter":"params.a = '1' OR params.b = '2'"}`,
      400,
      'INVALID_PARAMETER_VALUE',
      /OR is not supported/
    ],
    [
      'a bad order_by',
      'POST',
      'runs/search',
      '{"experiment_ids":["0"],"order_by":["metrics.acc SIDEWAYS"]}',
      400,
      'INVALID_PARAMETER_VALUE',
      /order_by/
    ],
    [
      'an absurd max_results',
      'POST',
      'runs/search',
      '{"experiment_ids":["0"],"max_results":99999999}',
      400,
      'INVALID_PARAMETER_VALUE',
      /max_results/
    ],
    [
      'a forged page token',
      'POST',
      'runs/search',
      '{"experiment_ids":["0"],"page_token":"!!!"}',
      400,
      'INVALID_PARAMETER_VALUE',
      /page token/
    ],
    [
      'too many experiments in one search',
      'POST',
      'runs/search',
      JSON.stringify({ experiment_ids: Array.from({ length: 40000 }, (_, i) => String(i)) }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 5000 experiments/
    ],
    [
      'a bad run status',
      'POST',
      'runs/update',
      '{"run_id":"RUN","status":"DONE"}',
      400,
      'INVALID_PARAMETER_VALUE',
      /FINISHED/
    ],
    [
      'a bad stage',
      'POST',
      'model-versions/transition-stage',
      '{"name":"m","version":"1","stage":"Live"}',
      400,
      'INVALID_PARAMETER_VALUE',
      /Production/
    ],
    [
      'an unknown endpoint',
      'POST',
      'runs/teleport',
      '{}',
      404,
      'ENDPOINT_NOT_FOUND',
      /No API endpoint/
    ],
    ['a wrong method', 'DELETE', 'runs/create', '{}', 405, 'ENDPOINT_NOT_FOUND', /use POST/]
  ];
  for (const [name, method, path, body, status, code, message] of cases) {
    test(name, async () => {
      const answer = await raw(tracker.url, method, api(path), body?.replace('RUN', runId), {
        'Content-Type': 'application/json'
      });
      assert.equal(answer.status, status, answer.text);
      assert.equal(answer.body.error_code, code, answer.text);
      assert.match(String(answer.body.message), message);
    });
  }

  test('a changed param value is refused and the first value kept', async () => {
    await tracker.store.logParam(runId, 'fixed', 'one');
    const answer = await raw(
      tracker.url,
      'POST',
      api('runs/log-parameter'),
      JSON.stringify({ run_id: runId, key: 'fixed', value: 'two' })
    );
    assert.equal(answer.status, 400);
    assert.match(String(answer.body.message), /Changing param values is not allowed/);
    const run = await tracker.store.getRun(runId);
    assert.equal(run.data.params.find(p => p.key === 'fixed')?.value, 'one');
  });

  test('a batch with one bad entry stores nothing of it', async () => {
    const answer = await raw(
      tracker.url,
      'POST',
      api('runs/log-batch'),
      JSON.stringify({
        run_id: runId,
        metrics: [
          { key: 'good', value: 1, timestamp: 0, step: 0 },
          { key: '', value: 2, timestamp: 0, step: 0 }
        ]
      })
    );
    assert.equal(answer.status, 400);
    assert.deepEqual((await tracker.store.getMetricHistory(runId, 'good')).items, []);
  });

  test('a body over the declared size limit is refused before it is read', async () => {
    const small = await raw(
      tracker.url,
      'POST',
      api('runs/log-batch'),
      JSON.stringify({ run_id: runId })
    );
    assert.equal(small.status, 200, small.text);
    const huge = await raw(
      tracker.url,
      'POST',
      api('runs/log-batch'),
      Buffer.alloc(17 * 1024 * 1024, 32)
    );
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error_code, 'REQUEST_LIMIT_EXCEEDED');
  });
});

describe('artifact paths', () => {
  const artifacts = '/api/2.0/mlflow-artifacts/artifacts';

  test('upload, list, download and delete round-trip', async () => {
    assert.equal(
      (await raw(tracker.url, 'PUT', `${artifacts}/0/r/a%20b.txt`, 'hello')).status,
      200
    );
    const listed = await raw(tracker.url, 'GET', `${artifacts}?path=0/r`);
    assert.deepEqual(listed.body, { files: [{ path: 'a b.txt', is_dir: false, file_size: 5 }] });
    assert.equal((await raw(tracker.url, 'GET', `${artifacts}/0/r/a%20b.txt`)).text, 'hello');
    assert.equal((await raw(tracker.url, 'DELETE', `${artifacts}/0/r/a%20b.txt`)).status, 200);
    assert.equal((await raw(tracker.url, 'GET', `${artifacts}/0/r/a%20b.txt`)).status, 404);
  });

  const secret = join(folder.path, 'secret.txt');
  for (const path of [
    '../secret.txt',
    '..%2Fsecret.txt',
    '%2e%2e/secret.txt',
    '0/../../secret.txt',
    '%2Fetc%2Fpasswd',
    '0/%00x',
    'a\\..\\b'
  ]) {
    test(`traversal is refused: ${path}`, async () => {
      writeFileSync(secret, 'do not touch');
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const answer = await raw(
          tracker.url,
          method,
          `${artifacts}/${path}`,
          method === 'PUT' ? 'overwritten' : undefined
        );
        assert.equal(answer.status, 400, `${method} ${path}: ${answer.text}`);
        assert.equal(answer.body.error_code, 'INVALID_PARAMETER_VALUE');
      }
      const listing = await raw(tracker.url, 'GET', `${artifacts}?path=${path}`);
      assert.equal(listing.status, 400);
      assert.ok(existsSync(secret));
    });
  }

  test('a path through an existing file is refused', async () => {
    assert.equal((await raw(tracker.url, 'PUT', `${artifacts}/0/file.txt`, 'x')).status, 200);
    const answer = await raw(tracker.url, 'PUT', `${artifacts}/0/file.txt/inner.txt`, 'y');
    assert.equal(answer.status, 400, answer.text);
    assert.match(String(answer.body.message), /a part of it is a file/);
    const folder = await raw(tracker.url, 'PUT', `${artifacts}/0`, 'z');
    assert.equal(folder.status, 400, folder.text);
  });

  test('an artifact over the size limit is refused and not kept', async () => {
    const answer = await raw(tracker.url, 'PUT', `${artifacts}/0/r/big.bin`, Buffer.alloc(4096));
    assert.equal(answer.status, 413);
    assert.equal((await raw(tracker.url, 'GET', `${artifacts}/0/r/big.bin`)).status, 404);
    const listed = await raw(tracker.url, 'GET', `${artifacts}?path=0/r`);
    assert.deepEqual(listed.body, { files: [] });
  });
});

describe('bearer token', () => {
  test('every route needs the token when one is set', async () => {
    const guarded = await startTracker({
      storePath: join(folder.path, 'guarded.db'),
      token: 's3cret'
    });
    try {
      for (const [method, path] of [
        ['GET', api('experiments/get?experiment_id=0')],
        ['POST', api('runs/create')],
        ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=0'],
        ['PUT', '/api/2.0/mlflow-artifacts/artifacts/0/x.txt'],
        ['GET', '/health']
      ]) {
        const none = await raw(guarded.url, method, path, '{}');
        assert.equal(none.status, 401, `${method} ${path}`);
        assert.equal(none.body.error_code, 'UNAUTHENTICATED');
        const wrong = await raw(guarded.url, method, path, '{}', {
          Authorization: 'Bearer s3cres'
        });
        assert.equal(wrong.status, 401);
      }
      const ok = await raw(guarded.url, 'GET', api('experiments/get?experiment_id=0'), undefined, {
        Authorization: 'Bearer s3cret'
      });
      assert.equal(ok.status, 200);
      assert.equal((ok.body.experiment as { name: string }).name, 'Default');
    } finally {
      await guarded.close();
    }
  });

  test('binds to 127.0.0.1 by default', () => {
    assert.equal(tracker.host, '127.0.0.1');
  });
});
