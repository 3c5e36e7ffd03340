/**
 * The autoencoder reconstruction-error detector on real MNIST digits: calibrated on held-out
 * reference digits, it keeps its false-positive rate on unseen unshifted digits and detects
 * Gaussian noise. Kept small (1,000 reference digits, a few epochs): the benchmark measures more.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { AutoencoderDrift } from '../../src/check/autoencoder-detector';
import { CalibrationError, DetectorOptionError, DriftDataError } from '../../src/check/errors';
import { MMDDrift } from '../../src/check/mmd-detector';
import { loadDetector, saveDetector } from '../../src/check/persist';
import { digits, gaussianNoise } from './mnist';

const reference = digits(0, 1000).images;
const unseen = digits(5000, 9000).images;

function batches(images: Float32Array[], size: number, count: number): Float32Array[][] {
  return Array.from({ length: count }, (_, k) => images.slice(k * size, (k + 1) * size));
}

describe('AutoencoderDrift (dense) on MNIST', () => {
  let detector: AutoencoderDrift;
  before(async () => {
    detector = await AutoencoderDrift.fit(reference, {
      architecture: 'dense',
      epochs: 4,
      level: 0.05,
      sampleFalsePositiveRate: 0.05
    });
  });

  it('learns: the training loss falls', () => {
    const losses = detector.trainingLosses;
    assert.equal(losses.length, 4);
    assert.ok(losses[losses.length - 1] < losses[0] * 0.7, `losses ${losses.join(', ')}`);
  });

  it('unshifted batches: false-positive rate near the 5% level', () => {
    const verdicts = batches(unseen, 100, 40).map(batch => detector.predict(batch));
    const rate = verdicts.filter(v => v.isDrift).length / verdicts.length;
    // 40 batches at 5%: 2 expected; 6 or more (15%) would mean a miscalibrated test.
    assert.ok(rate <= 0.125, `false-positive rate ${rate}`);
    verdicts.forEach(v => assert.ok(v.pValue !== null && Number.isFinite(v.pValue)));
  });

  it('unshifted digits: per-sample outlier rate near the configured 5%', () => {
    const result = detector.predict(unseen.slice(0, 2000));
    assert.ok(
      result.details.outlierRate > 0.01 && result.details.outlierRate < 0.1,
      `outlier rate ${result.details.outlierRate}`
    );
    assert.equal(result.details.errors.length, 2000);
  });

  it('Gaussian-noise-shifted batches are detected', () => {
    const noisy = batches(gaussianNoise(unseen.slice(0, 1000), 0.2, 1), 50, 20);
    const detected = noisy.filter(batch => detector.predict(batch).isDrift).length;
    assert.ok(detected >= 19, `${detected} of 20 noisy batches detected`);
    const one = detector.predict(noisy[0]);
    assert.ok(one.details.outlierRate > 0.5, `noisy outlier rate ${one.details.outlierRate}`);
    assert.ok(one.details.errors.every(e => Number.isFinite(e)));
  });

  it('saves and loads with the same scaler, weights and thresholds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanflow-ae-'));
    try {
      const file = join(dir, 'ae.json');
      saveDetector(detector, file);
      const loaded = (await loadDetector(file)) as AutoencoderDrift;
      assert.equal(loaded.sampleThreshold, detector.sampleThreshold);
      const batch = gaussianNoise(unseen.slice(0, 30), 0.05, 2);
      const a = detector.predict(batch);
      const b = loaded.predict(batch);
      assert.equal(b.isDrift, a.isDrift);
      assert.equal(b.pValue, a.pValue);
      b.details.errors.forEach((e, i) => assert.ok(Math.abs(e - a.details.errors[i]) < 1e-9));
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('its encoder is a preprocessing step for other detectors (MMD on latent codes)', () => {
    const codes = detector.encode(unseen.slice(0, 5));
    assert.equal(codes.length, 5);
    assert.equal(codes[0].length, 32);
    const mmd = new MMDDrift(reference.slice(0, 300), {
      preprocess: rows => detector.encode(rows),
      permutations: 50
    });
    assert.equal(mmd.predict(gaussianNoise(unseen.slice(0, 60), 0.2, 4)).isDrift, true);
    assert.equal(mmd.predict(unseen.slice(60, 120)).isDrift, false);
  });

  it('monitors a stream of digits and alerts soon after noise starts', () => {
    const monitor = detector.monitor({ windowSize: 20, expectedRunTime: 300, simulations: 50 });
    monitor.update(detector.score(unseen.slice(0, 100)));
    const cleanAlerts = monitor.alerts.length;
    const raised = monitor.update(detector.score(gaussianNoise(unseen.slice(100, 160), 0.2, 5)));
    assert.ok(cleanAlerts <= 1, `${cleanAlerts} alerts on 100 clean digits`);
    assert.ok(
      raised.length >= 1 && raised[0].t <= 100 + 20,
      `alerts ${raised.map(a => a.t).join(', ')}`
    );
  });

  it('rejects batches of the wrong shape or with NaN', () => {
    assert.throws(
      () => detector.predict([new Float32Array(100)]),
      (e: Error) =>
        e instanceof DriftDataError &&
        /100 features but the detector was fitted on 784/.test(e.message)
    );
    const bad = Float32Array.from(unseen[0]);
    bad[17] = NaN;
    assert.throws(
      () => detector.predict([bad]),
      (e: Error) => e instanceof DriftDataError && /NaN at row 0, feature 17/.test(e.message)
    );
    assert.throws(() => detector.predict([]), DriftDataError);
  });
});

describe('AutoencoderDrift (convolutional) on MNIST', () => {
  it('trains on the wasm backend and detects Gaussian noise', async () => {
    const detector = await AutoencoderDrift.fit(digits(0, 700).images, {
      architecture: 'conv',
      imageShape: [28, 28, 1],
      epochs: 2,
      sampleFalsePositiveRate: 0.05
    });
    const clean = detector.predict(unseen.slice(0, 200));
    const noisy = detector.predict(gaussianNoise(unseen.slice(200, 400), 0.2, 3));
    assert.equal(noisy.isDrift, true);
    assert.ok((noisy.pValue ?? 1) < (clean.pValue ?? 0));
    assert.ok(noisy.details.outlierRate > clean.details.outlierRate);
    detector.dispose();
  });
});

describe('AutoencoderDrift bad input', () => {
  it('a reference too small to calibrate is refused, with how many are needed', async () => {
    await assert.rejects(
      AutoencoderDrift.fit(reference.slice(0, 150), { sampleFalsePositiveRate: 0.01 }),
      (e: Error) =>
        e instanceof CalibrationError &&
        /needs at least 500/.test(e.message) &&
        /Pass at least/.test(e.message)
    );
  });

  it('a convolutional autoencoder needs an image shape that fits', async () => {
    await assert.rejects(
      AutoencoderDrift.fit(reference, { architecture: 'conv' }),
      DetectorOptionError
    );
    await assert.rejects(
      AutoencoderDrift.fit(reference, { architecture: 'conv', imageShape: [28, 14, 1] }),
      (e: Error) => e instanceof DetectorOptionError && /holds 392 values/.test(e.message)
    );
  });
});
