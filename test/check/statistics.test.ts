/** The statistical tests agree with scipy (fixtures made by fixtures/make_fixtures.py). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chi2Contingency } from '../../src/check/chi2';
import { adjustPValues } from '../../src/check/correction';
import { DriftDataError } from '../../src/check/errors';
import { ks2samp } from '../../src/check/ks';

interface Fixtures {
  ks2samp: Array<{
    name: string;
    a: number[];
    b: number[];
    statistic: number;
    pValue: number;
    method: string;
  }>;
  chi2Contingency: Array<{
    name: string;
    table: number[][];
    statistic: number;
    pValue: number;
    dof: number;
  }>;
  corrections: { pValues: number[]; bonferroni: number[]; fdr_bh: number[] };
}

const fixtures = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'scipy-reference.json'), 'utf8')
) as Fixtures;

function assertClose(actual: number, expected: number, relative: number, what: string): void {
  const tolerance = relative * Math.abs(expected) + 1e-300;
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: got ${actual}, scipy says ${expected}`
  );
}

describe('two-sample Kolmogorov-Smirnov', () => {
  for (const c of fixtures.ks2samp) {
    it(`matches scipy.stats.ks_2samp: ${c.name} (${c.a.length} vs ${c.b.length})`, () => {
      const result = ks2samp(c.a, c.b);
      assertClose(result.statistic, c.statistic, 1e-12, 'statistic');
      if (c.method === 'exact' && c.pValue >= 1e-12) {
        assert.equal(result.method, 'exact');
        assertClose(result.pValue, c.pValue, 1e-5, 'exact p-value');
      } else if (c.method === 'exact') {
        // Below 1e-12 we report the asymptotic value: same verdict, same order of magnitude.
        assert.ok(
          result.pValue < 1e-12 && result.pValue > c.pValue / 100,
          `tiny p-value ${result.pValue} vs ${c.pValue}`
        );
      } else {
        assert.equal(result.method, 'asymptotic');
        assertClose(result.pValue, c.pValue, 0.02, 'asymptotic p-value');
      }
    });
  }

  it('is symmetric in its two samples', () => {
    const c = fixtures.ks2samp[3];
    assert.equal(ks2samp(c.a, c.b).pValue, ks2samp(c.b, c.a).pValue);
  });

  it('rejects NaN and empty samples with a clear error', () => {
    assert.throws(
      () => ks2samp([1, 2, NaN], [1, 2]),
      (e: Error) => e instanceof DriftDataError && /NaN at position 2/.test(e.message)
    );
    assert.throws(
      () => ks2samp([], [1, 2]),
      (e: Error) => e instanceof DriftDataError && /empty/.test(e.message)
    );
  });
});

describe('chi-squared contingency test', () => {
  for (const c of fixtures.chi2Contingency) {
    it(`matches scipy.stats.chi2_contingency: ${c.name}`, () => {
      const result = chi2Contingency(c.table);
      assert.equal(result.dof, c.dof);
      assertClose(result.statistic, c.statistic, 1e-10, 'statistic');
      assertClose(result.pValue, c.pValue, 1e-8, 'p-value');
    });
  }

  it('refuses negative counts', () => {
    assert.throws(
      () =>
        chi2Contingency([
          [1, -2],
          [3, 4]
        ]),
      DriftDataError
    );
  });
});

describe('multiple-testing corrections', () => {
  const { pValues, bonferroni, fdr_bh } = fixtures.corrections;
  it('Bonferroni matches scipy', () => {
    adjustPValues(pValues, 'bonferroni').forEach((p, i) =>
      assertClose(p, bonferroni[i], 1e-12, `p${i}`)
    );
  });
  it('Benjamini-Hochberg matches scipy.stats.false_discovery_control', () => {
    adjustPValues(pValues, 'fdr').forEach((p, i) => assertClose(p, fdr_bh[i], 1e-12, `p${i}`));
  });
});
