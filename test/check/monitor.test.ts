/** The online monitor: its calibrated run length between false alarms, and alerts on a shift. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CalibrationError, DetectorOptionError, DriftDataError } from '../../src/check/errors';
import { ksStatisticBySearch, ksStatisticSorted } from '../../src/check/ks';
import { type MonitorAlert, OnlineMonitor } from '../../src/check/online-monitor';
import { seededNormal } from '../../src/check/random';

const reference = Array.from({ length: 400 }, seededNormal(1));

describe('OnlineMonitor', () => {
  it('without drift, false alarms come about once per expected run time', () => {
    const monitor = new OnlineMonitor(reference, { windowSize: 20, expectedRunTime: 200, seed: 3 });
    const normal = seededNormal(11);
    const length = 30_000;
    for (let i = 0; i < length; i++) monitor.update(normal());
    const meanRunLength = length / Math.max(1, monitor.alerts.length);
    // About 150 alarms expected; the mean run length is within a factor 1.6 of the target.
    assert.ok(
      meanRunLength > 200 / 1.6 && meanRunLength < 200 * 1.6,
      `mean run length ${meanRunLength} for a target of 200`
    );
  });

  it('a shift raises an alert soon, with its evidence', () => {
    const seen: MonitorAlert[] = [];
    const monitor = new OnlineMonitor(reference, {
      windowSize: 20,
      expectedRunTime: 500,
      seed: 3,
      onAlert: a => seen.push(a)
    });
    const normal = seededNormal(12);
    for (let i = 0; i < 100; i++) monitor.update(normal());
    const before = monitor.alerts.filter(a => a.t <= 100).length;
    const shifted = Array.from({ length: 100 }, () => normal() + 1.5);
    const raised = monitor.update(shifted);
    assert.ok(raised.length >= 1, 'no alert after a shift of 1.5 standard deviations');
    const first = raised[0];
    assert.ok(first.t > 100 && first.t <= 100 + 20, `first alert at t = ${first.t}`);
    assert.ok(first.distance > first.threshold);
    assert.ok(first.windowMedian > first.referenceMedian);
    assert.ok(first.pValue < 0.01);
    assert.equal(first.window.length, 20);
    assert.equal(seen.length, before + raised.length);
    assert.equal(monitor.timeline.length, 200);
  });

  it('refuses settings it cannot calibrate and values it cannot use', () => {
    assert.throws(
      () => new OnlineMonitor(reference.slice(0, 30), { windowSize: 20 }),
      CalibrationError
    );
    assert.throws(
      () => new OnlineMonitor(reference, { windowSize: 50, expectedRunTime: 40 }),
      DetectorOptionError
    );
    const monitor = new OnlineMonitor(reference, {
      windowSize: 10,
      expectedRunTime: 100,
      simulations: 20
    });
    assert.throws(() => monitor.update(NaN), DriftDataError);
  });

  it('the fast windowed KS distance equals the merge-based one (ties included)', () => {
    const sample = fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const x = Float64Array.from(a).sort();
        const y = Float64Array.from(b).sort();
        return Math.abs(ksStatisticBySearch(x, y) - ksStatisticSorted(x, y)) < 1e-12;
      })
    );
  });
});
