/**
 * `scanflow demo mnist`: the seed's MNIST debugging use case, end to end and headless.
 *   1. run the MNIST workflow (one container per step) with its tracker kept in a file store;
 *   2. checker: fit the autoencoder drift detector on the reference digits, check the production
 *      stream batch by batch, log the verdicts to the tracker;
 *   3. improver: ask a simulated labeler for the most uncertain drifted digits (margin sampling),
 *      retrain, compare with the model in service on the same held-out drifted digits, and promote
 *      in the tracker's model registry only when the new model is better.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoencoderDrift, logVerdict, trackerRun } from '../../check';
import {
  ActiveLearner,
  Classifier,
  SimulatedOracle,
  trackerRegistry,
  type Comparison
} from '../../improve';
import { runWorkflow, type EngineKind, type ExecutorKind, type RunEvent } from '../../run';
import { ArtifactStore, SqliteStore, loadRecordedRun, type Run } from '../../track';
import { bundleSteps } from './bundle';
import {
  CLASSES,
  SIDE,
  SIZES,
  classifierOptions,
  demoData,
  type Dataset,
  type Shift,
  type SizeName
} from './data';
import { mnistWorkflow } from './workflow';

/** The registered model's name in the tracker's model registry. */
export const MODEL_NAME = 'mnist';

export interface MnistDemoOptions {
  /** Where the tracker store, labeling sessions and models go (default .scanflow/demo). */
  out?: string;
  executor?: ExecutorKind | 'auto';
  size?: SizeName;
  /** A line of progress (the demo's own phases). */
  print?: (line: string) => void;
  /** Every event of the workflow run, for a live display. */
  onRunEvent?: (event: RunEvent) => void;
}

export interface BatchVerdict {
  batch: number;
  shift: Shift;
  drift: boolean;
  pValue: number | null;
  outlierRate: number;
}

export interface MnistDemoSummary {
  runId: string;
  executor: EngineKind;
  /** The step outputs' Docker volume or folder, when kept. */
  outputs?: string;
  store: string;
  artifacts: string;
  trainAccuracy?: number;
  testAccuracy?: number;
  verdicts: BatchVerdict[];
  labelsUsed: number;
  rounds: Comparison[];
  /** Accuracy of the workflow's model and of the model in service at the end. */
  before: { clean: number; drifted: number };
  after: { clean: number; drifted: number };
  drifted: number;
  /** The registered versions: the workflow's model first, then each promoted one. */
  versions: string[];
  durationMs: number;
}

/** A failure of the demo, with what went wrong in one sentence. */
export class DemoError extends Error {}

/** The folder of the MNIST example: the run's baseDir. */
export const EXAMPLE_DIR = resolve(__dirname, '../../../examples/mnist');

export async function runMnistDemo(options: MnistDemoOptions = {}): Promise<MnistDemoSummary> {
  const started = Date.now();
  const print = options.print ?? (() => undefined);
  const size = SIZES[options.size ?? 'standard'];
  const out = resolve(options.out ?? '.scanflow/demo');
  mkdirSync(out, { recursive: true });

  print('bundling the step program (TensorFlow.js and the digits) into lib/demo-build/mnist');
  bundleSteps();
  const run = runWorkflow(mnistWorkflow({ size: options.size }), {
    executor: options.executor ?? 'auto',
    store: join(out, 'tracker.sqlite'),
    baseDir: EXAMPLE_DIR
  });
  if (options.onRunEvent) run.on(options.onRunEvent);
  const result = await run.done;
  if (result.status !== 'succeeded') {
    throw new DemoError(
      `the workflow run ${result.id} ${result.status}: ${result.error?.message ?? 'see the step logs above'}`
    );
  }
  const tracker = result.trackers?.[0];
  if (!tracker) throw new DemoError(`the workflow run ${result.id} recorded no tracker`);

  const store = new SqliteStore(tracker.store);
  try {
    const artifacts = new ArtifactStore(tracker.artifacts);
    const workDir = join(out, 'runs', result.id);
    const recorded = await loadRecordedRun(store, artifacts, tracker.experiment, result.id);
    const stepRun = (step: string): string => {
      // Qualified ids: 'mnist.train', 'mnist.use.evaluate'.
      const found = recorded.steps.find(s => s.step.endsWith(`.${step}`));
      if (!found) throw new DemoError(`the tracker has no run of the step ${step}`);
      return found.mlflowRunId;
    };
    const metric = (run: Run, key: string): number | undefined =>
      run.data.metrics.find(m => m.key === key)?.value;

    // The workflow's model and its training accuracy, as the train step logged them.
    const trainRun = await store.getRun(stepRun('train'));
    const modelDir = join(workDir, 'models', 'workflow');
    mkdirSync(modelDir, { recursive: true });
    for (const file of ['model.json', 'weights.bin']) {
      writeFileSync(
        join(modelDir, file),
        await artifacts.downloadArtifact(trainRun.info.artifact_uri, `model/${file}`)
      );
    }
    const model = await Classifier.load(modelDir);
    const data = demoData(size);

    const verdicts = await check(data.train, data.production, size.detectorEpochs, {
      store,
      experiment: tracker.experiment,
      parent: recorded.mlflowRunId,
      runId: result.id,
      print
    });

    // The drifted digits: half to label from, half held out to compare models on.
    const flagged = data.production.filter(b => verdicts[b.index].drift);
    const pool: Dataset = { x: [], y: [] };
    const heldOut: Dataset = { x: [], y: [] };
    for (const batch of flagged) {
      batch.x.forEach((row, i) => {
        const half = i % 2 === 0 ? pool : heldOut;
        half.x.push(row);
        half.y.push(batch.y[i]);
      });
    }
    const clean = data.test;
    const before = { clean: model.accuracy(clean), drifted: accuracyOrNaN(model, heldOut) };

    const registry = trackerRegistry(store, { experiment: `${tracker.experiment}-improver` });
    const versions = [
      await registry.registerModelVersion(MODEL_NAME, modelDir, {
        runId: trainRun.info.run_id,
        description: `trained by the workflow run ${result.id}`
      })
    ];
    await registry.setAlias(MODEL_NAME, 'champion', versions[0]);

    const rounds: Comparison[] = [];
    let labelsUsed = 0;
    // The learner starts from the workflow's model and owns it from here on.
    const learner = await ActiveLearner.start({
      classes: CLASSES,
      pool: pool.x,
      poolIds: pool.x.map((_, i) => `drifted-${i}`),
      labeled: data.train,
      heldOut,
      strategy: 'margin',
      image: { width: SIDE, height: SIDE },
      classifier: classifierOptions(size),
      model
    });
    if (pool.x.length === 0) {
      print('improver: no batch drifted, nothing to label');
    }
    const oracle = SimulatedOracle.fromMap(
      new Map(pool.y.map((y, i) => [`drifted-${i}`, CLASSES[y]]))
    );
    for (let round = 1; round <= size.rounds && learner.poolSize > 0; round++) {
      const folder = join(workDir, 'sessions', `round-${round}`);
      const session = await learner.query(Math.min(size.perRound, learner.poolSize), folder);
      oracle.answer(folder);
      labelsUsed += (await session.complete()).length;
      const comparison = await learner.teach(session, {
        target: { registry, model: MODEL_NAME, saveTo: join(workDir, 'models', `round-${round}`) }
      });
      rounds.push(comparison);
      print(`improver round ${round}: ${labelsUsed} labels so far; ${comparison.reason}`);
      if (comparison.promote) versions.push(comparison.version!);
    }
    const after = {
      clean: learner.champion.accuracy(clean),
      drifted: accuracyOrNaN(learner.champion, heldOut)
    };
    learner.dispose();
    return {
      runId: result.id,
      executor: result.executor,
      outputs: result.outputs,
      store: tracker.store,
      artifacts: tracker.artifacts,
      trainAccuracy: metric(trainRun, 'train_accuracy'),
      testAccuracy: metric(await store.getRun(stepRun('evaluate')), 'test_accuracy'),
      verdicts,
      labelsUsed,
      rounds,
      before,
      after,
      drifted: heldOut.x.length,
      versions,
      durationMs: Date.now() - started
    };
  } finally {
    store.close();
  }
}

function accuracyOrNaN(model: Classifier, data: Dataset): number {
  return data.x.length === 0 ? Number.NaN : model.accuracy(data);
}

interface CheckTarget {
  store: SqliteStore;
  experiment: string;
  /** The workflow run's MLflow run: the checker's run is nested under it. */
  parent: string;
  runId: string;
  print: (line: string) => void;
}

/** Fits the autoencoder detector on the reference and checks each production batch. */
async function check(
  reference: Dataset,
  production: ReadonlyArray<Dataset & { index: number; shift: Shift }>,
  epochs: number,
  target: CheckTarget
): Promise<BatchVerdict[]> {
  target.print(
    `checker: fitting the autoencoder drift detector on ${reference.x.length} reference digits`
  );
  // A low level keeps clean batches quiet (the batch test runs once per batch); shifted inputs
  // raise reconstruction errors far beyond it. Seeded, so verdicts repeat run after run.
  const detector = await AutoencoderDrift.fit(reference.x, {
    architecture: 'dense',
    epochs,
    level: 0.01,
    seed: 1
  });
  const { experiment_id } = await target.store.getExperimentByName(target.experiment);
  const checkerRun = await target.store.createRun(experiment_id, {
    runName: 'checker',
    tags: [
      { key: 'mlflow.parentRunId', value: target.parent },
      { key: 'scanflow.run', value: target.runId },
      { key: 'scanflow.checker', value: 'autoencoder' }
    ]
  });
  const runId = checkerRun.info.run_id;
  const verdicts: BatchVerdict[] = [];
  for (const batch of production) {
    const verdict = detector.predict(batch.x);
    await logVerdict(trackerRun(target.store, runId), verdict, {
      step: batch.index,
      prefix: 'drift'
    });
    verdicts.push({
      batch: batch.index,
      shift: batch.shift,
      drift: verdict.isDrift,
      pValue: verdict.pValue,
      outlierRate: verdict.details.outlierRate
    });
    target.print(
      `checker: batch ${batch.index} ${verdict.isDrift ? 'DRIFT' : 'ok'} ` +
        `(p = ${verdict.pValue?.toExponential(2) ?? '-'}, ` +
        `${(verdict.details.outlierRate * 100).toFixed(0)}% of digits above the error threshold)`
    );
  }
  await target.store.logBatch(runId, {
    metrics: [
      {
        key: 'drift.batches_flagged',
        value: verdicts.filter(v => v.drift).length,
        timestamp: Date.now(),
        step: 0
      }
    ]
  });
  await target.store.updateRun(runId, { status: 'FINISHED', endTime: Date.now() });
  return verdicts;
}

/** The result as a short table and the lines a user needs next. */
export function formatSummary(summary: MnistDemoSummary, cwd = process.cwd()): string {
  const pct = (value: number): string =>
    Number.isNaN(value) ? '-' : `${(value * 100).toFixed(1)}%`;
  const flagged = summary.verdicts.filter(v => v.drift);
  const shifted = summary.verdicts.filter(v => v.shift !== 'none');
  const store = summary.store.startsWith(`${cwd}/`)
    ? summary.store.slice(cwd.length + 1)
    : summary.store;
  const promoted = summary.rounds.filter(r => r.promote).length;
  const rows: Array<[string, string, string]> = [
    ['', 'before', 'after'],
    [
      `accuracy on clean test digits (${summary.testAccuracy === undefined ? '' : 'workflow: '}${pct(summary.testAccuracy ?? Number.NaN)})`,
      pct(summary.before.clean),
      pct(summary.after.clean)
    ],
    [
      `accuracy on held-out drifted digits (${summary.drifted})`,
      pct(summary.before.drifted),
      pct(summary.after.drifted)
    ]
  ];
  const width = Math.max(...rows.map(r => r[0].length));
  const table = rows.map(([a, b, c]) => `  ${a.padEnd(width)}  ${b.padStart(7)}  ${c.padStart(7)}`);
  return [
    '',
    `MNIST demo: workflow run ${summary.runId} (${summary.executor}) and checks done in ${(summary.durationMs / 1000).toFixed(0)} s`,
    ...table,
    `  batches flagged as drift: ${flagged.map(v => `${v.batch} (${v.shift})`).join(', ') || 'none'}; ` +
      `shifted batches: ${shifted.map(v => `${v.batch} (${v.shift})`).join(', ') || 'none'}`,
    `  labels used: ${summary.labelsUsed} in ${summary.rounds.length} rounds; ` +
      `promoted ${promoted} time(s); model '${MODEL_NAME}' versions ${summary.versions.join(', ')} ` +
      `(champion: version ${summary.versions[summary.versions.length - 1]})`,
    `  tracker store: ${store}`,
    `  browse it: scanflow tracker --store ${store}`,
    `  serve the champion: scanflow serve models:/${MODEL_NAME}@champion --tracker ${store}`,
    ...(summary.outputs
      ? [
          `  step outputs: ${summary.executor === 'docker' ? 'Docker volume' : 'folder'} ${summary.outputs}` +
            (summary.executor === 'docker'
              ? ` (scanflow clean --run ${summary.runId} removes it)`
              : '')
        ]
      : []),
    ''
  ].join('\n');
}
