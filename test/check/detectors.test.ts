/** The statistical detectors on data with known shifts, their level reports and bad-input errors. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChiSquareDrift, ClassBalanceDrift } from '../../src/check/chi2-detector';
import { DetectorFormatError, DetectorOptionError, DriftDataError } from '../../src/check/errors';
import { KSDrift } from '../../src/check/ks-detector';
import { MMDDrift } from '../../src/check/mmd-detector';
import { detectorFromJSON, loadDetector, saveDetector } from '../../src/check/persist';
import { seededNormal, seededUniform } from '../../src/check/random';
import { digits, withoutClass } from './mnist';

/** n rows of `width` standard normal features; feature j shifted by shifts[j]. */
function gaussianRows(n: number, width: number, seed: number, shifts: number[] = []): number[][] {
  const normal = seededNormal(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: width }, (_, j) => normal() + (shifts[j] ?? 0))
  );
}

describe('KSDrift', () => {
  const reference = gaussianRows(500, 5, 1);

  it('rarely flags batches from the reference distribution (family-wise level kept)', () => {
    const detector = new KSDrift(reference, { level: 0.05 });
    let flagged = 0;
    for (let seed = 100; seed < 160; seed++)
      if (detector.predict(gaussianRows(100, 5, seed)).isDrift) flagged++;
    // 60 batches at a 5% family-wise level: about 3 expected, 9 or more would be a broken level.
    assert.ok(flagged <= 8, `${flagged} of 60 unshifted batches flagged`);
  });

  it('flags a shifted feature and names it', () => {
    const detector = new KSDrift(reference, { featureNames: ['a', 'b', 'c', 'd', 'e'] });
    const result = detector.predict(gaussianRows(200, 5, 7, [0, 0, 0.6, 0, 0]));
    assert.equal(result.isDrift, true);
    assert.deepEqual(
      result.perFeature?.filter(f => f.isDrift).map(f => f.feature),
      ['c']
    );
    assert.equal(result.pValue, result.perFeature?.[2].adjustedPValue);
    assert.equal(result.threshold, 0.05);
    assert.equal(result.batchSize, 200);
  });

  it('Benjamini-Hochberg finds at least as many drifted features as Bonferroni', () => {
    const batch = gaussianRows(80, 5, 9, [0.3, 0.3, 0.3, 0.3, 0]);
    const bonferroni = new KSDrift(reference, { correction: 'bonferroni' }).predict(batch);
    const fdr = new KSDrift(reference, { correction: 'fdr' }).predict(batch);
    assert.ok(fdr.details.driftedFeatures >= bonferroni.details.driftedFeatures);
    fdr.perFeature?.forEach((f, j) =>
      assert.ok(f.adjustedPValue <= (bonferroni.perFeature?.[j].adjustedPValue ?? 1))
    );
  });

  it('rejects bad input with errors that name the problem', () => {
    const detector = new KSDrift(reference);
    assert.throws(
      () => detector.predict([]),
      (e: Error) => e instanceof DriftDataError && /empty/.test(e.message)
    );
    assert.throws(
      () => detector.predict([[1, 2, 3]]),
      (e: Error) =>
        e instanceof DriftDataError && /3 features but the detector was fitted on 5/.test(e.message)
    );
    assert.throws(
      () => detector.predict([[1, 2, 3, Infinity, 5]]),
      (e: Error) => e instanceof DriftDataError && /Infinity at row 0, feature 3/.test(e.message)
    );
    assert.throws(
      () => new KSDrift([[1, 2], [3]]),
      (e: Error) => e instanceof DriftDataError && /row 1 has 1 features/.test(e.message)
    );
    assert.throws(
      () => detector.predict({ shape: [2, 5] } as unknown as number[][]),
      (e: Error) => e instanceof DriftDataError && /must be an array of rows/.test(e.message)
    );
    assert.throws(() => new KSDrift(reference, { level: 5 }), DetectorOptionError);
    assert.throws(() => new KSDrift(reference, { featureNames: ['x'] }), DetectorOptionError);
  });

  it('works on a preprocessed representation', () => {
    // Drift in the sum of two features only: visible after projecting onto it.
    const project = (rows: ArrayLike<number>[] | readonly ArrayLike<number>[]) =>
      rows.map(r => [r[0] + r[1]]);
    const detector = new KSDrift(reference, { preprocess: project });
    const batch = gaussianRows(200, 5, 11, [0.4, 0.4]);
    const result = detector.predict(batch);
    assert.equal(result.perFeature?.length, 1);
    assert.equal(result.isDrift, true);
  });
});

describe('ChiSquareDrift and ClassBalanceDrift', () => {
  const uniform = seededUniform(3);
  const pick = <T>(levels: T[], weights: number[]): T => {
    let u = uniform() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < levels.length; i++) if ((u -= weights[i]) < 0) return levels[i];
    return levels[levels.length - 1];
  };
  const colours = ['red', 'green', 'blue'];
  const reference = Array.from({ length: 600 }, () => [
    pick(colours, [1, 1, 1]),
    pick([0, 1], [3, 1])
  ]);

  it('reports a new category explicitly and calls it drift', () => {
    const detector = new ChiSquareDrift(reference, { featureNames: ['colour', 'flag'] });
    const batch = Array.from({ length: 100 }, (_, i) => [
      i < 3 ? 'purple' : pick(colours, [1, 1, 1]),
      pick([0, 1], [3, 1])
    ]);
    const result = detector.predict(batch);
    assert.equal(result.isDrift, true);
    assert.deepEqual(result.details.levelChanges, [
      { feature: 'colour', newLevels: ['purple'], vanishedLevels: [] }
    ]);
    assert.equal(result.perFeature?.[0].isDrift, true);
    assert.equal(result.perFeature?.[1].isDrift, false);
  });

  it('detects changed proportions and keeps quiet on unchanged ones', () => {
    const detector = new ChiSquareDrift(reference);
    const same = detector.predict(
      Array.from({ length: 300 }, () => [pick(colours, [1, 1, 1]), pick([0, 1], [3, 1])])
    );
    assert.equal(same.isDrift, false);
    const shifted = detector.predict(
      Array.from({ length: 300 }, () => [pick(colours, [2, 1, 1]), pick([0, 1], [3, 1])])
    );
    assert.equal(shifted.isDrift, true);
    assert.equal(shifted.details.levelChanges.length, 0);
    assert.ok(shifted.details.proportions.f0.red[1] > shifted.details.proportions.f0.red[0]);
  });

  it('on MNIST labels: a knocked-out class is reported as vanished and the balance test fires', () => {
    const detector = new ClassBalanceDrift(digits(0, 2000).labels, { name: 'digit' });
    const knocked = withoutClass(digits(2000, 3000), 3).labels.slice(0, 500);
    const result = detector.predict(knocked);
    assert.deepEqual(result.details.levelChanges, [
      { feature: 'digit', newLevels: [], vanishedLevels: [3] }
    ]);
    assert.equal(result.isDrift, true);
    assert.ok((result.pValue ?? 1) < 1e-6);
    const unchanged = detector.predict(digits(3000, 3500).labels);
    assert.equal(unchanged.isDrift, false);
  });

  it('rejects missing values and ragged rows', () => {
    const detector = new ChiSquareDrift(reference);
    assert.throws(
      () => detector.predict([['red', null as unknown as number]]),
      (e: Error) => e instanceof DriftDataError && /null at row 0, feature 1/.test(e.message)
    );
    assert.throws(() => detector.predict([['red']]), DriftDataError);
    assert.throws(
      () => new ClassBalanceDrift([]),
      (e: Error) => e instanceof DriftDataError && /empty/.test(e.message)
    );
  });
});

describe('MMDDrift', () => {
  const reference = gaussianRows(150, 4, 21);

  it('flags a joint shift and not a same-distribution batch', () => {
    const detector = new MMDDrift(reference, { permutations: 100, seed: 1 });
    const same = detector.predict(gaussianRows(60, 4, 22));
    assert.equal(same.isDrift, false);
    const shifted = detector.predict(gaussianRows(60, 4, 23, [0.7, 0.7, 0, 0]));
    assert.equal(shifted.isDrift, true);
    assert.ok(shifted.distance > same.distance);
    assert.ok(shifted.details.sigma > 0);
    assert.equal(shifted.pValue, 1 / 101);
  });

  it('needs at least two samples per side', () => {
    const detector = new MMDDrift(reference);
    assert.throws(
      () => detector.predict([[0, 0, 0, 0]]),
      (e: Error) => e instanceof DriftDataError && /at least 2/.test(e.message)
    );
  });
});

describe('saving and loading', () => {
  it('a loaded detector gives the same verdicts as the fitted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanflow-check-'));
    try {
      const batch = gaussianRows(50, 3, 31, [0.5]);
      const detectors = [
        new KSDrift(gaussianRows(200, 3, 30), { correction: 'fdr', level: 0.01 }),
        new MMDDrift(gaussianRows(80, 3, 30), { permutations: 50 })
      ];
      for (const detector of detectors) {
        const file = join(dir, `${detector.kind}.json`);
        saveDetector(detector, file);
        const loaded = await loadDetector(file);
        assert.equal(loaded.kind, detector.kind);
        assert.deepEqual((loaded as typeof detector).predict(batch), detector.predict(batch));
      }
      const labels = new ClassBalanceDrift([1, 1, 2, 3, 3, 3], { level: 0.1 });
      const reloaded = (await detectorFromJSON(
        JSON.parse(JSON.stringify(labels.toJSON()))
      )) as ClassBalanceDrift;
      assert.deepEqual(reloaded.predict([1, 2, 4]), labels.predict([1, 2, 4]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses documents that are not saved detectors', async () => {
    await assert.rejects(detectorFromJSON({ hello: 1 }), DetectorFormatError);
    await assert.rejects(
      detectorFromJSON({ format: 'scanflow.detector', version: 1, kind: 'constructor', state: {} }),
      /Unknown detector kind "constructor"/
    );
    await assert.rejects(
      detectorFromJSON({ format: 'scanflow.detector', version: 1, kind: 'ks', state: {} }),
      DetectorFormatError
    );
  });
});
