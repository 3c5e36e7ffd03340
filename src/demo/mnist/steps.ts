/**
 * The MNIST workflow's step program, bundled (with TensorFlow.js and the digits) into one file that
 * every step image runs: `node steps.js <prepare|train|evaluate|predict>`. It reads its inputs from
 * SCANFLOW_INPUTS, writes its outputs to SCANFLOW_OUTPUTS and logs to the run's tracker through
 * MLflow's REST API, as any MLflow client would (MLFLOW_TRACKING_URI, MLFLOW_RUN_ID,
 * MLFLOW_TRACKING_TOKEN).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Classifier, argmax } from '../../improve/classifier';
import {
  SIZES,
  classifierOptions,
  decode,
  demoData,
  encode,
  type Dataset,
  type SizeName
} from './data';

const outputs = process.env.SCANFLOW_OUTPUTS ?? 'outputs';
const inputs = process.env.SCANFLOW_INPUTS ?? 'outputs';
const sizeName = (process.env.SCANFLOW_PARAM_SIZE ?? 'standard') as SizeName;
const size = SIZES[sizeName];

/** One request to the run's tracker; without a tracker the step still does its work. */
async function tracker(method: string, path: string, body: Buffer | string): Promise<unknown> {
  const uri = process.env.MLFLOW_TRACKING_URI;
  if (!uri) return undefined;
  const response = await fetch(`${uri.replace(/\/$/, '')}${path}`, {
    method,
    headers: {
      'content-type': typeof body === 'string' ? 'application/json' : 'application/octet-stream',
      ...(process.env.MLFLOW_TRACKING_TOKEN
        ? { authorization: `Bearer ${process.env.MLFLOW_TRACKING_TOKEN}` }
        : {})
    },
    body: method === 'GET' ? undefined : body
  });
  if (!response.ok) {
    throw new Error(
      `tracker answered ${response.status} to ${method} ${path}: ${await response.text()}`
    );
  }
  return response.json();
}

/** Logs params and metrics to the step's own MLflow run. */
async function log(
  params: Record<string, string | number>,
  metrics: Record<string, number>,
  step = 0
): Promise<void> {
  const runId = process.env.MLFLOW_RUN_ID;
  if (!runId || !process.env.MLFLOW_TRACKING_URI) return;
  const timestamp = Date.now();
  await tracker(
    'POST',
    '/api/2.0/mlflow/runs/log-batch',
    JSON.stringify({
      run_id: runId,
      params: Object.entries(params).map(([key, value]) => ({ key, value: String(value) })),
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp, step }))
    })
  );
}

/** Uploads a file to the step run's artifacts (the tracker's mlflow-artifacts proxy). */
async function logArtifact(path: string, content: Buffer): Promise<void> {
  const runId = process.env.MLFLOW_RUN_ID;
  if (!runId || !process.env.MLFLOW_TRACKING_URI) return;
  const run = (await tracker('GET', `/api/2.0/mlflow/runs/get?run_id=${runId}`, '')) as {
    run: { info: { artifact_uri: string } };
  };
  const root = run.run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
  await tracker('PUT', `/api/2.0/mlflow-artifacts/artifacts/${root}/${path}`, content);
}

function write(name: string, data: Dataset): void {
  const { pixels, labels } = encode(data);
  writeFileSync(join(outputs, 'data', `${name}.bin`), pixels);
  writeFileSync(join(outputs, 'data', `${name}.json`), labels);
}

function read(name: string): Dataset {
  return decode(
    readFileSync(join(inputs, 'data', `${name}.bin`)),
    readFileSync(join(inputs, 'data', `${name}.json`), 'utf8')
  );
}

async function prepare(): Promise<void> {
  const data = demoData(size);
  mkdirSync(join(outputs, 'data'), { recursive: true });
  write('train', data.train);
  write('test', data.test);
  for (const batch of data.production) write(`batch-${batch.index}`, batch);
  writeFileSync(
    join(outputs, 'data', 'production.json'),
    JSON.stringify(data.production.map(b => ({ index: b.index, shift: b.shift, size: b.y.length })))
  );
  console.log(
    `prepared ${data.train.y.length} training, ${data.test.y.length} test digits and ` +
      `${data.production.length} production batches (${data.production.map(b => b.shift).join(', ')})`
  );
  await log(
    { size: sizeName, train: data.train.y.length, test: data.test.y.length, batches: size.batches },
    {}
  );
}

async function train(): Promise<void> {
  const data = read('train');
  const settings = classifierOptions(size);
  const model = await Classifier.train(data, 10, settings);
  const accuracy = model.accuracy(data);
  const dir = await model.save(join(outputs, 'model'));
  console.log(`trained on ${data.y.length} digits: training accuracy ${accuracy.toFixed(4)}`);
  await log(
    {
      epochs: settings.epochs,
      hidden: settings.hidden.join(','),
      seed: settings.seed,
      model: 'mlp',
      train_size: data.y.length
    },
    { train_accuracy: accuracy }
  );
  for (const file of ['model.json', 'weights.bin']) {
    await logArtifact(`model/${file}`, readFileSync(join(dir, file)));
  }
}

async function evaluate(): Promise<void> {
  const model = await Classifier.load(join(inputs, 'model'));
  const test = read('test');
  const accuracy = model.accuracy(test);
  console.log(`test accuracy ${accuracy.toFixed(4)} on ${test.y.length} held-out digits`);
  await log({ test_size: test.y.length }, { test_accuracy: accuracy });
}

async function predict(): Promise<void> {
  const model = await Classifier.load(join(inputs, 'model'));
  const batches = JSON.parse(
    readFileSync(join(inputs, 'data', 'production.json'), 'utf8')
  ) as Array<{
    index: number;
  }>;
  mkdirSync(join(outputs, 'predictions'), { recursive: true });
  for (const { index } of batches) {
    const probabilities = model.predictProbabilities(read(`batch-${index}`).x);
    const predicted = probabilities.map(p => argmax(p));
    const confidence = probabilities.map(p => Math.max(...Array.from(p)));
    const mean = confidence.reduce((s, c) => s + c, 0) / confidence.length;
    writeFileSync(
      join(outputs, 'predictions', `batch-${index}.json`),
      JSON.stringify({ predicted, confidence: confidence.map(c => Number(c.toFixed(4))) })
    );
    console.log(
      `batch ${index}: ${predicted.length} predictions, mean confidence ${mean.toFixed(3)}`
    );
    // The model's confidence per batch: a first hint of drift, before any checker runs.
    await log({}, { mean_confidence: mean }, index);
  }
}

const commands: Record<string, () => Promise<void>> = { prepare, train, evaluate, predict };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error(`usage: node steps.js <${Object.keys(commands).join('|')}>`);
  process.exit(2);
}
command().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
