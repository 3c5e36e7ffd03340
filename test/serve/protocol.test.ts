/** MLflow's scoring formats and the micro-batcher, without a model. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MicroBatcher } from '../../src/serve/batcher';
import { RequestError } from '../../src/serve/errors';
import { parseModelUri } from '../../src/serve/model-uri';
import { parseScoringRequest } from '../../src/serve/scoring';
import { ServeError } from '../../src/serve/errors';

const limits = { width: 3, maxRows: 100 };
const rows = [
  [1, 2, 3],
  [4, 5, 6]
];

describe("MLflow's scoring formats", () => {
  it('inputs, instances, dataframe_split and dataframe_records give the same rows', () => {
    const bodies = [
      { inputs: rows },
      { instances: rows },
      { inputs: { pixels: rows } },
      { dataframe_split: { columns: ['a', 'b', 'c'], data: rows } },
      {
        dataframe_records: rows.map(([a, b, c]) => ({ a, b, c }))
      }
    ];
    for (const body of bodies) {
      const parsed = parseScoringRequest(body, limits);
      assert.deepEqual(
        parsed.rows.map(r => Array.from(r)),
        rows,
        JSON.stringify(body)
      );
    }
  });

  it('nested rows (an image per row) are flattened, and params are kept', () => {
    const parsed = parseScoringRequest(
      { inputs: [[[1], [2], [3]]], params: { output: 'probabilities' } },
      limits
    );
    assert.deepEqual(Array.from(parsed.rows[0]), [1, 2, 3]);
    assert.deepEqual(parsed.params, { output: 'probabilities' });
  });

  const refused: Array<[string, unknown, RegExp, number]> = [
    ['not an object', [[1, 2, 3]], /JSON object with one of the keys/, 400],
    ['two formats', { inputs: rows, instances: rows }, /exactly one of/, 400],
    ['an unknown key', { input: rows }, /"input"/, 400],
    ['no rows', { inputs: [] }, /holds no rows/, 400],
    ['a short row', { inputs: [[1, 2]] }, /Row 0 has 2 values but the model takes 3/, 400],
    ['a string value', { inputs: [[1, 'x', 3]] }, /Row 0, column 1 is the string "x"/, 400],
    ['a null value', { inputs: [[1, null, 3]] }, /column 1 is null/, 400],
    ['a scalar row', { inputs: [1, 2, 3] }, /Row 0 of "inputs" is number 1, not a list/, 400],
    ['params not an object', { inputs: rows, params: 3 }, /"params" must be a JSON object/, 400],
    ['too many rows', { inputs: Array(101).fill([1, 2, 3]) }, /101 rows, more than the 100/, 413],
    [
      'ragged dataframe_split',
      { dataframe_split: { columns: ['a', 'b', 'c'], data: [[1, 2]] } },
      /has 2 values but there are 3 columns/,
      400
    ],
    [
      'records with other columns',
      {
        dataframe_records: [
          { a: 1, b: 2, c: 3 },
          { a: 1, b: 2, d: 3 }
        ]
      },
      /Record 1 .* other columns/,
      400
    ]
  ];
  for (const [what, body, message, status] of refused) {
    it(`refuses ${what} with ${status} and a message naming it`, () => {
      assert.throws(
        () => parseScoringRequest(body, limits),
        (error: unknown) =>
          error instanceof RequestError && error.status === status && message.test(error.message)
      );
    });
  }
});

describe('model URIs', () => {
  it('reads the forms MLflow uses', () => {
    assert.deepEqual(parseModelUri('models:/mnist/3'), {
      kind: 'version',
      name: 'mnist',
      version: '3'
    });
    assert.deepEqual(parseModelUri('models:/mnist@champion'), {
      kind: 'alias',
      name: 'mnist',
      alias: 'champion'
    });
    assert.deepEqual(parseModelUri('models:/mnist/latest'), { kind: 'latest', name: 'mnist' });
    assert.deepEqual(parseModelUri('runs:/abc/model'), {
      kind: 'run',
      runId: 'abc',
      path: 'model'
    });
    assert.deepEqual(parseModelUri('/tmp/m'), { kind: 'path', path: '/tmp/m' });
  });

  it('refuses stages and foreign schemes, naming the forms it reads', () => {
    assert.throws(
      () => parseModelUri('models:/mnist/Production'),
      (e: Error) =>
        e instanceof ServeError &&
        /not a version number/.test(e.message) &&
        /use an alias/.test(e.message)
    );
    assert.throws(
      () => parseModelUri('s3://bucket/model'),
      (e: Error) => e instanceof ServeError && /models:\/<name>@<alias>/.test(e.message)
    );
  });
});

describe('MicroBatcher', () => {
  const row = (v: number): Float32Array => Float32Array.of(v);
  const doubling = (calls: number[]) => (batch: Float32Array[]) => {
    calls.push(batch.length);
    return { outputs: batch.map(r => Float32Array.of(r[0] * 2)), context: calls.length };
  };

  it('predicts concurrent requests in one call and gives each its own rows back', async () => {
    const calls: number[] = [];
    const batcher = new MicroBatcher(doubling(calls), { enabled: true, windowMs: 0, maxRows: 100 });
    const answers = await Promise.all([
      batcher.submit([row(1)]),
      batcher.submit([row(2), row(3)]),
      batcher.submit([row(4)])
    ]);
    assert.deepEqual(calls, [4]);
    assert.deepEqual(
      answers.map(a => a.outputs.map(o => o[0])),
      [[2], [4, 6], [8]]
    );
    assert.ok(answers.every(a => a.batchRows === 4));
  });

  it('splits batches at maxRows, and without batching calls the model per request', async () => {
    const calls: number[] = [];
    const small = new MicroBatcher(doubling(calls), { enabled: true, windowMs: 0, maxRows: 2 });
    await Promise.all([1, 2, 3, 4, 5].map(v => small.submit([row(v)])));
    assert.deepEqual(calls, [2, 2, 1]);
    const alone: number[] = [];
    const off = new MicroBatcher(doubling(alone), { enabled: false, windowMs: 0, maxRows: 100 });
    await Promise.all([1, 2, 3].map(v => off.submit([row(v)])));
    assert.deepEqual(alone, [1, 1, 1]);
  });

  it('a window gathers requests that arrive a little later', async () => {
    const calls: number[] = [];
    const batcher = new MicroBatcher(doubling(calls), {
      enabled: true,
      windowMs: 30,
      maxRows: 100
    });
    const first = batcher.submit([row(1)]);
    await new Promise(r => setTimeout(r, 5));
    const second = batcher.submit([row(2)]);
    await Promise.all([first, second]);
    assert.deepEqual(calls, [2]);
  });

  it('a failing model call fails the requests of that batch only', async () => {
    let call = 0;
    const batcher = new MicroBatcher(
      (batch: Float32Array[]) => {
        if (++call === 1) throw new Error('boom');
        return { outputs: batch, context: call };
      },
      { enabled: true, windowMs: 0, maxRows: 1 }
    );
    const [a, b] = await Promise.allSettled([batcher.submit([row(1)]), batcher.submit([row(2)])]);
    assert.equal(a.status, 'rejected');
    assert.equal(b.status, 'fulfilled');
  });
});
