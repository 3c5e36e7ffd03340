/** Custom checkers, the drift MIME bundle, and logging verdicts to a real tracker store. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ClassBalanceDrift } from '../../src/check/chi2-detector';
import { KSDrift } from '../../src/check/ks-detector';
import { OnlineMonitor } from '../../src/check/online-monitor';
import { saveDetector } from '../../src/check/persist';
import { CheckerPluginError, createChecker, defineChecker } from '../../src/check/plugin';
import { seededNormal } from '../../src/check/random';
import { toBundle, DriftReport, type DriftReportData } from '../../src/check/report';
import { logVerdict, trackerRun } from '../../src/check/tracker-hook';
import { ValueRangeCheck } from '../../src/check/value-range-check';
import { MIME } from '../../src/mime';
import { SqliteStore } from '../../src/track/sqlite-store';

const rows = (n: number, seed: number, shift = 0): number[][] => {
  const normal = seededNormal(seed);
  return Array.from({ length: n }, () => [normal() + shift, normal(), normal()]);
};

describe('custom checkers', () => {
  it('the value-range sanity check reports every kind of violation', async () => {
    const checker = await createChecker({
      name: 'pixels',
      kind: 'custom',
      plugin: 'value-range',
      options: { features: 3, range: { min: 0, max: 1 } }
    });
    const result = await checker.check([
      [0.1, 0.5, 0.9],
      [0.1, NaN, 0.9],
      [0.1, 0.5],
      [-0.2, 0.5, 1.5],
      [0, 1, 0.5]
    ]);
    assert.equal(result.isDrift, true);
    assert.equal(result.score, 3 / 5);
    const details = result.details as { violations: Array<{ row: number; reason: string }> };
    assert.deepEqual(
      details.violations.map(v => [v.row, v.reason]),
      [
        [1, 'not-finite'],
        [2, 'width'],
        [3, 'below-min'],
        [3, 'above-max']
      ]
    );
  });

  it('learns ranges from reference rows and passes clean batches', () => {
    const check = ValueRangeCheck.fromReference(rows(500, 1), 0.1);
    assert.equal(check.check(rows(50, 2)).isDrift, false);
    assert.equal(check.check([[100, 0, 0]]).isDrift, true);
  });

  it('a plain function is a checker', async () => {
    const tooMany = defineChecker('batch-size', (batch: unknown[]) => batch.length > 3);
    assert.equal((await tooMany.check([1, 2, 3, 4])).isDrift, true);
    assert.equal((await tooMany.check([1])).isDrift, false);
  });

  it('a drift entry builds a detector from inline reference data or a saved file', async () => {
    const inline = await createChecker({
      name: 'inputs',
      kind: 'drift',
      detector: 'ks',
      options: { reference: rows(200, 1), level: 0.01 }
    });
    assert.equal((await inline.check(rows(100, 2, 1))).isDrift, true);
    const dir = mkdtempSync(join(tmpdir(), 'scanflow-plugin-'));
    try {
      const file = join(dir, 'labels.json');
      saveDetector(new ClassBalanceDrift([0, 1, 2, 0, 1, 2, 0, 1, 2]), file);
      const saved = await createChecker({ name: 'labels', kind: 'drift', options: { path: file } });
      const verdict = (await saved.check([0, 1, 7])) as { details: { levelChanges?: unknown } };
      assert.deepEqual(verdict.details.levelChanges, [
        { feature: 'class', newLevels: [7], vanishedLevels: [2] }
      ]);
      await assert.rejects(
        createChecker({ name: 'labels', kind: 'drift', detector: 'mmd', options: { path: file } }),
        /expects a mmd detector but .* holds a class-balance detector/
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(
      createChecker({ name: 'x', kind: 'drift', detector: 'ks' }),
      /needs options.path .* or options.reference/
    );
  });

  it('an unknown plugin is a clear error', async () => {
    await assert.rejects(
      createChecker({ name: 'x', kind: 'custom', plugin: 'no-such-plugin' }),
      (e: Error) =>
        e instanceof CheckerPluginError &&
        /no-such-plugin/.test(e.message) &&
        /value-range/.test(e.message)
    );
    await assert.rejects(createChecker({ name: 'x', kind: 'custom' }), CheckerPluginError);
  });
});

describe('drift MIME bundle', () => {
  const detector = new KSDrift(rows(300, 3), { featureNames: ['age', 'income', 'score'] });

  it('a per-feature verdict carries p-values and a readable summary', () => {
    const result = detector.predict(rows(100, 4, 0.8));
    const bundle = toBundle(result);
    const data = bundle.data[MIME.drift] as DriftReportData;
    assert.equal(data.version, 1);
    assert.deepEqual(
      data.features?.map(f => f.name),
      ['age', 'income', 'score']
    );
    assert.equal(data.features?.[0].pValue, result.perFeature?.[0].pValue);
    assert.equal(data.verdict?.isDrift, true);
    const text = bundle.data['text/plain'] as string;
    assert.match(text, /^drift check 'ks': DRIFT/);
    assert.match(text, /features drifted: 1 of 3: age/);
  });

  it('a series of verdicts is a timeline against the level', () => {
    const results = [0, 0, 0.8].map((shift, i) => detector.predict(rows(100, 10 + i, shift)));
    const data = toBundle(results).data[MIME.drift] as DriftReportData;
    assert.equal(data.points.length, 3);
    assert.deepEqual(
      data.points.map(p => p.drift),
      results.map(r => r.isDrift)
    );
    assert.ok(Math.abs((data.threshold ?? 0) - -Math.log10(0.05)) < 1e-12);
    assert.ok(data.points[2].score > (data.threshold ?? Infinity));
  });

  it('vanished classes and monitor alerts appear in the summary', () => {
    const labels = new ClassBalanceDrift([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], { name: 'digit' });
    const text = new DriftReport(labels.predict([0, 1, 0, 1, 0, 1])).toString();
    assert.match(text, /digit: vanished levels 2/);

    const monitor = new OnlineMonitor(Array.from({ length: 200 }, seededNormal(5)), {
      windowSize: 10,
      expectedRunTime: 100,
      simulations: 30
    });
    monitor.update(Array.from({ length: 30 }, () => 5));
    const bundle = toBundle(monitor, { checker: 'errors' });
    const data = bundle.data[MIME.drift] as DriftReportData;
    assert.ok((data.alerts?.length ?? 0) >= 1);
    assert.equal(data.threshold, monitor.threshold);
    assert.match(bundle.data['text/plain'] as string, /alert at t = 10/);
  });
});

describe('logging verdicts to the tracker', () => {
  it('metrics and a tag land in a run of the SQLite tracking store', async () => {
    const store = new SqliteStore(':memory:');
    try {
      const run = await store.createRun('0', { runName: 'checker' });
      const tracker = trackerRun(store, run.info.run_id);
      const detector = new KSDrift(rows(300, 3), { featureNames: ['age', 'income', 'score'] });
      await logVerdict(tracker, detector.predict(rows(100, 4, 0.8)), { step: 7 });
      const logged = await store.getRun(run.info.run_id);
      const metric = (key: string) => logged.data.metrics.find(m => m.key === key);
      assert.equal(metric('drift.ks.is_drift')?.value, 1);
      assert.equal(metric('drift.ks.is_drift')?.step, 7);
      assert.ok((metric('drift.ks.p_value.age')?.value ?? 1) < 0.05);
      assert.ok((metric('drift.ks.p_value.income')?.value ?? 0) > 0.05);
      assert.equal(logged.data.tags.find(t => t.key === 'drift.ks')?.value, 'drift');
    } finally {
      store.close();
    }
  });
});
