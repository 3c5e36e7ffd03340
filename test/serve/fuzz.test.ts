/**
 * 200 malformed requests (fuzzed JSON, shapes, types, sizes, content types, methods) against a
 * real server: every one gets a 4xx naming a problem, none a 5xx, and the server still predicts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ModelServer } from '../../src/serve';
import { invoke, rowsOf, savedClassifier, temporaryFolder, unseen } from './fixtures';

const folder = temporaryFolder('serve-fuzz');
let server: ModelServer;
const MAX_BODY = 64 * 1024;

before(async () => {
  const { model, path } = await savedClassifier(folder.path);
  model.dispose();
  server = await ModelServer.start({ model: path, port: 0, maxBodyBytes: MAX_BODY, maxRows: 50 });
});

after(async () => {
  await server.close();
  folder.remove();
});

interface Malformed {
  what: string;
  method?: string;
  path?: string;
  contentType?: string;
  body: string;
}

const json = (value: unknown): string => JSON.stringify(value);
const row = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 40 });
const notANumber = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 })
);
const format = fc.constantFrom('inputs', 'instances');

/** Requests that are wrong by construction, one family each. */
const families: Array<fc.Arbitrary<Malformed>> = [
  // Text that is not JSON at all.
  fc
    .string({ minLength: 1 })
    .filter(text => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    })
    .map(body => ({ what: 'not JSON', body })),
  // Any JSON value that lacks a scoring key.
  fc
    .jsonValue()
    .filter(
      v =>
        typeof v !== 'object' ||
        v === null ||
        Array.isArray(v) ||
        !['inputs', 'instances', 'dataframe_split', 'dataframe_records'].some(k => k in v)
    )
    .map(v => ({ what: 'no scoring key', body: json(v) })),
  // Rows of the wrong width (the model takes 784).
  fc
    .tuple(format, fc.array(row, { minLength: 1, maxLength: 5 }))
    .map(([key, rows]) => ({ what: 'wrong width', body: json({ [key]: rows }) })),
  // A row holding something other than numbers.
  fc.tuple(format, fc.nat(783), notANumber).map(([key, at, value]) => {
    const values: unknown[] = Array.from({ length: 784 }, () => 0.5);
    values[at] = value;
    return { what: 'a value that is not a number', body: json({ [key]: [values] }) };
  }),
  // Rows that are not lists, and formats of the wrong type.
  fc
    .tuple(
      fc.constantFrom('inputs', 'instances', 'dataframe_split', 'dataframe_records'),
      fc.oneof(
        fc.string(),
        fc.integer(),
        fc.constant(null),
        fc.array(fc.integer(), { maxLength: 3 })
      )
    )
    .map(([key, value]) => ({ what: 'wrong type', body: json({ [key]: value }) })),
  // Hostile nesting.
  fc.integer({ min: 4, max: 20_000 }).map(depth => ({
    what: 'deep nesting',
    body: `{"inputs": [${'['.repeat(depth)}1${']'.repeat(depth)}]}`
  })),
  // Bodies over the limit, and too many rows.
  fc
    .integer({ min: MAX_BODY + 1, max: 4 * MAX_BODY })
    .map(size => ({ what: 'too large', body: json({ inputs: [[1]] }).padEnd(size, ' ') })),
  fc
    .integer({ min: 51, max: 60 })
    .map(n => ({ what: 'too many rows', body: json({ inputs: Array(n).fill([1]) }) })),
  // Bad params.
  fc
    .tuple(fc.string(), fc.jsonValue())
    .filter(([key, value]) => key !== 'output' || value !== 'label')
    .map(([key, value]) => ({
      what: 'bad params',
      body: json({ inputs: rowsOf([unseen.images[0]]), params: { [key]: value } })
    })),
  // Wrong content types, methods and paths.
  fc
    .constantFrom('text/plain', 'text/csv', 'application/x-www-form-urlencoded', '')
    .map(contentType => ({
      what: 'wrong content type',
      contentType,
      body: json({ inputs: rowsOf([unseen.images[0]]) })
    })),
  fc
    .tuple(
      fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH'),
      fc.constantFrom('/invocations', '/predict', '/../etc/passwd', '/metrics/x')
    )
    .map(([method, path]) => ({ what: 'wrong method or path', method, path, body: '' }))
];

describe('malformed requests', () => {
  it('200 of them: each a 4xx with a message, no 5xx, and the server still answers', async () => {
    const requests = fc.sample(fc.oneof(...families), { numRuns: 200, seed: 17 });
    const statuses = new Map<string, number[]>();
    const queue = [...requests];
    const worker = async (): Promise<void> => {
      for (let request = queue.shift(); request; request = queue.shift()) {
        const method = request.method ?? 'POST';
        const response = await fetch(`${server.url}${request.path ?? '/invocations'}`, {
          method,
          headers:
            request.contentType === ''
              ? {}
              : { 'Content-Type': request.contentType ?? 'application/json' },
          body: method === 'GET' ? undefined : request.body
        });
        const text = await response.text();
        const list = statuses.get(request.what) ?? [];
        list.push(response.status);
        statuses.set(request.what, list);
        assert.ok(
          response.status >= 400 && response.status < 500,
          `${request.what}: ${response.status} ${text.slice(0, 200)}`
        );
        const answer = JSON.parse(text) as { error_code: string; message: string };
        assert.ok(answer.error_code && answer.message.length > 10, text);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.equal([...statuses.values()].flat().length, 200);
    assert.ok(statuses.size >= 9, `families seen: ${[...statuses.keys()].join(', ')}`);
    assert.ok(statuses.get('too large')?.every(s => s === 413));
    const after = await invoke(server.url, { inputs: rowsOf(unseen.images.slice(0, 3)) });
    assert.equal(after.status, 200);
    assert.equal((after.body.predictions as number[]).length, 3);
  });
});
