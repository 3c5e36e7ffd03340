/**
 * `npm run bench -- checker [--quick]`: the drift detectors on real MNIST digits.
 *
 * Reference: 3,000 digits; batches: random subsets of the 7,000 others, unshifted (false-positive
 * rate) or shifted (detection rate): Gaussian pixel noise at three strengths, class 3 knocked out,
 * rotation by 20 degrees. Sample sizes 10..1000, `repeats` batches each. Detectors:
 * - ae-dense, ae-conv: autoencoder reconstruction errors, batch KS against held-out errors;
 * - ks-latent: per-dimension KS (Bonferroni) on the dense autoencoder's 32-d latent codes;
 * - mmd-latent: MMD (median heuristic, 100 permutations) on the same codes;
 * - class-balance: chi-squared on the batch's labels (only label shifts can show here).
 * Anchor: the dense autoencoder with the batch KS run against its *training* errors instead of
 * held-out ones (no held-out calibration), the shortcut that makes thresholds too tight.
 * ratio: ours / anchor for the mean false-positive rate (lower is better) and for the mean
 * detection rate over the shifts (higher is better).
 * Also timed: fitting each autoencoder, and scoring 10,000 images with it. And the online monitor
 * (window 30, expected run time 500) on the dense autoencoder's errors: the measured run length
 * between false alarms on 21,000 unshifted values, and the delay to the first alert after noise.
 */
import { loadavg } from 'node:os';
import { AutoencoderDrift } from '../src/check/autoencoder-detector';
import { tensorflowBackend } from '../src/check/backend';
import { ClassBalanceDrift } from '../src/check/chi2-detector';
import { ks2sampSorted } from '../src/check/ks';
import { KSDrift } from '../src/check/ks-detector';
import { MMDDrift } from '../src/check/mmd-detector';
import { seededUniform, shuffledIndices } from '../src/check/random';
import { allDigits, type Digits, gaussianNoise, rotate, withoutClass } from '../test/check/mnist';
import type { BenchResult } from './run';

const SIZES = [10, 20, 50, 100, 200, 500, 1000];
const LEVEL = 0.05;

type Verdict = (batch: Digits) => boolean;

function seconds(start: number): number {
  return Math.round((performance.now() - start) / 10) / 100;
}

export default async function checker(args: string[]): Promise<BenchResult> {
  const quick = args.includes('--quick');
  const repeats = quick ? 4 : 20;
  const loadBefore = loadavg()[0];
  const backend = await tensorflowBackend();
  const all = allDigits();
  const reference: Digits = {
    images: all.images.slice(0, 3000),
    labels: all.labels.slice(0, 3000)
  };
  const pool: Digits = { images: all.images.slice(3000), labels: all.labels.slice(3000) };

  const shifts: Record<string, Digits> = {
    'noise-0.01': { ...pool, images: gaussianNoise(pool.images, 0.01, 1) },
    'noise-0.03': { ...pool, images: gaussianNoise(pool.images, 0.03, 2) },
    'noise-0.1': { ...pool, images: gaussianNoise(pool.images, 0.1, 3) },
    'knockout-3': withoutClass(pool, 3),
    'rotation-20': { ...pool, images: rotate(pool.images, 20) }
  };

  console.log(`checker bench: backend ${backend}, ${repeats} batches per cell`);
  let start = performance.now();
  const dense = await AutoencoderDrift.fit(reference.images, {
    architecture: 'dense',
    epochs: quick ? 3 : 10,
    level: LEVEL
  });
  const fitDense = seconds(start);
  start = performance.now();
  const conv = await AutoencoderDrift.fit(reference.images, {
    architecture: 'conv',
    imageShape: [28, 28, 1],
    epochs: quick ? 1 : 5,
    level: LEVEL
  });
  const fitConv = seconds(start);
  start = performance.now();
  dense.score(all.images);
  const scoreDense = seconds(start);
  start = performance.now();
  conv.score(all.images);
  const scoreConv = seconds(start);
  console.log(
    `fit: dense ${fitDense} s, conv ${fitConv} s; score 10,000: dense ${scoreDense} s, conv ${scoreConv} s`
  );

  // The anchor: the same dense autoencoder, its batch test run against training errors.
  const heldOut = Math.round(reference.images.length * 0.3);
  const order = shuffledIndices(reference.images.length, seededUniform(42)); // the detector's split
  const trainingErrors = dense
    .score(Array.from(order.subarray(heldOut), i => reference.images[i]))
    .sort();

  const encode = (rows: readonly ArrayLike<number>[]): number[][] => dense.encode(rows);
  const ksLatent = new KSDrift(reference.images, { preprocess: encode, level: LEVEL });
  const mmdLatent = new MMDDrift(reference.images, {
    preprocess: encode,
    level: LEVEL,
    maxReference: 500,
    permutations: 100
  });
  const classBalance = new ClassBalanceDrift(reference.labels, { level: LEVEL });

  const detectors: Record<string, Verdict> = {
    'ae-dense': b => dense.predict(b.images).isDrift,
    'ae-conv': b => conv.predict(b.images).isDrift,
    'ks-latent': b => ksLatent.predict(b.images).isDrift,
    'mmd-latent': b => mmdLatent.predict(b.images).isDrift,
    'class-balance': b => classBalance.predict(b.labels).isDrift
  };
  const anchor: Verdict = b =>
    ks2sampSorted(trainingErrors, dense.score(b.images).sort()).pValue < LEVEL;

  const rate = (verdict: Verdict, data: Digits, n: number, seed: number): number => {
    const uniform = seededUniform(seed);
    let hits = 0;
    const count = n >= 500 ? Math.max(2, repeats / 2) : repeats;
    for (let r = 0; r < count; r++) {
      const pick = shuffledIndices(data.images.length, uniform).subarray(0, n);
      const batch = {
        images: Array.from(pick, i => data.images[i]),
        labels: Array.from(pick, i => data.labels[i])
      };
      if (verdict(batch)) hits++;
    }
    return hits / count;
  };

  const table = (verdict: Verdict, name: string) => {
    const t0 = performance.now();
    const falsePositiveRate = Object.fromEntries(
      SIZES.map(n => [n, rate(verdict, pool, n, 1000 + n)])
    );
    const detectionRate = Object.fromEntries(
      Object.entries(shifts).map(([shift, data]) => [
        shift,
        Object.fromEntries(SIZES.map(n => [n, rate(verdict, data, n, 2000 + n)]))
      ])
    );
    console.log(
      `${name}: ${seconds(t0)} s; false-positive rate by n ${JSON.stringify(falsePositiveRate)}`
    );
    return { falsePositiveRate, detectionRate };
  };

  const ours = Object.fromEntries(
    Object.entries(detectors).map(([name, verdict]) => [name, table(verdict, name)])
  );
  const anchorTable = table(anchor, 'anchor');

  // The online monitor on the dense autoencoder's errors: run length between false alarms on a
  // stream of unshifted digits, and the delay to the first alert once noise (0.03) starts.
  const monitorOptions = { windowSize: 30, expectedRunTime: 500 };
  const cleanErrors = dense.score(pool.images);
  const noisyErrors = dense.score(shifts['noise-0.03'].images);
  const streamOrder = seededUniform(77);
  const stream = [0, 1, 2].flatMap(() =>
    Array.from(shuffledIndices(cleanErrors.length, streamOrder), i => cleanErrors[i])
  );
  const quiet = dense.monitor(monitorOptions);
  quiet.update(stream);
  const delays: number[] = [];
  for (let trial = 0; trial < (quick ? 5 : 20); trial++) {
    const monitor = dense.monitor(monitorOptions);
    const clean = shuffledIndices(cleanErrors.length, streamOrder).subarray(0, 200);
    monitor.update(Array.from(clean, i => cleanErrors[i]));
    const noisy = shuffledIndices(noisyErrors.length, streamOrder).subarray(0, 2000);
    const raised = monitor.update(Array.from(noisy, i => noisyErrors[i]));
    delays.push(raised.length ? raised[0].t - 200 : Infinity);
  }
  const sortedDelays = [...delays].sort((a, b) => a - b);
  const onlineMonitor = {
    ...monitorOptions,
    streamLength: stream.length,
    falseAlarms: quiet.alerts.length,
    measuredMeanRunLength: stream.length / Math.max(1, quiet.alerts.length),
    medianDelayToAlertAfterNoise: sortedDelays[sortedDelays.length >> 1],
    delays
  };
  console.log(`online monitor: ${JSON.stringify(onlineMonitor)}`);

  // Per-sample outlier flags on 2,000 unshifted digits (configured rate 0.05).
  const outlierRate = {
    'ae-dense': dense.predict(pool.images.slice(0, 2000)).details.outlierRate,
    'ae-conv': conv.predict(pool.images.slice(0, 2000)).details.outlierRate
  };

  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const meanFpr = (t: { falsePositiveRate: Record<string, number> }) =>
    mean(Object.values(t.falsePositiveRate));
  const meanDetection = (t: { detectionRate: Record<string, Record<string, number>> }) =>
    mean(Object.values(t.detectionRate).flatMap(bySize => Object.values(bySize)));
  const oursDense = ours['ae-dense'];
  return {
    anchor: {
      detector: 'dense autoencoder, batch KS against training errors (no held-out calibration)',
      ...anchorTable,
      meanFalsePositiveRate: meanFpr(anchorTable),
      meanDetectionRate: meanDetection(anchorTable)
    },
    machine: {
      cores: 2,
      // Other work on the machine slows the timings (not the rates): the 1-minute load averages.
      loadAverageAtStart: loadBefore,
      loadAverageAtEnd: loadavg()[0]
    },
    ours: {
      backend,
      level: LEVEL,
      repeats,
      sampleSizes: SIZES,
      timings: {
        fitDenseSeconds: fitDense,
        fitConvSeconds: fitConv,
        score10000DenseSeconds: scoreDense,
        score10000ConvSeconds: scoreConv,
        trainingImages: reference.images.length - heldOut,
        denseEpochs: quick ? 3 : 10,
        convEpochs: quick ? 1 : 5
      },
      perSampleOutlierRate: outlierRate,
      onlineMonitor,
      detectors: ours,
      meanFalsePositiveRate: Object.fromEntries(
        Object.entries(ours).map(([k, t]) => [k, meanFpr(t)])
      ),
      meanDetectionRate: Object.fromEntries(
        Object.entries(ours).map(([k, t]) => [k, meanDetection(t)])
      )
    },
    ratio: {
      falsePositiveRate: meanFpr(oursDense) / Math.max(meanFpr(anchorTable), 1e-9),
      detectionRate: meanDetection(oursDense) / Math.max(meanDetection(anchorTable), 1e-9)
    }
  };
}
