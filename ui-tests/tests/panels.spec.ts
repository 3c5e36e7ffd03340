/**
 * The panels notebook in a real JupyterLab: a tracker query from a real (in-memory SQLite) store as
 * the runs table (sort, filter, params diff), its metric history chart drawn by JupyterLab's own
 * vega-lite renderer, and a KS drift report as the drift panel.
 */
import { expect, test } from '@jupyterlab/galata';
import { openExampleNotebook } from './example-notebook';

const NOTEBOOK = 'panels.ipynb';

test('tracker and drift panels draw real query results and drift verdicts', async ({
  page,
  tmpPath
}) => {
  await openExampleNotebook(page, tmpPath, NOTEBOOK);
  await page.notebook.run();

  const trackers = page.locator('.jp-OutputArea-output.jp-ScanflowTracker');
  await expect(trackers).toHaveCount(2);
  const table = trackers.first();
  const names = table.locator('.jp-ScanflowTracker-runs tr[data-run] td:nth-child(2)');
  await expect(names).toHaveCount(3);

  // Sort by the acc metric (ascending, then descending) and filter by a param.
  await table.locator('th', { hasText: /^acc/ }).click();
  await expect(names).toHaveText(['tiny', 'small', 'big']);
  await table.locator('th', { hasText: /^acc/ }).click();
  await expect(names).toHaveText(['big', 'small', 'tiny']);
  await table.locator('.jp-ScanflowTracker-filter').fill('lr=0.01');
  await expect(names).toHaveText(['big']);
  await table.locator('.jp-ScanflowTracker-filter').fill('');

  // Params diff of two ticked runs: only lr differs.
  for (const name of ['small', 'big']) {
    await table.locator('tr[data-run]', { hasText: name }).locator('input[type=checkbox]').check();
  }
  const diff = table.locator('.jp-ScanflowTracker-difftable tr');
  await expect(diff).toHaveCount(2);
  await expect(diff.nth(1)).toContainText('lr');

  // The history's chart, drawn by JupyterLab's vega-lite renderer.
  const chart = trackers.nth(1).locator('.jp-ScanflowTracker-charts');
  await expect(chart.locator('canvas, svg.marks').first()).toBeVisible();

  // The drift panel: five batches, the shifted ones over the threshold, features by p-value.
  const drift = page.locator('.jp-OutputArea-output.jp-ScanflowDrift');
  await expect(drift).toHaveCount(1);
  await expect(drift.locator('circle.sf-point')).toHaveCount(5);
  expect(await drift.locator('circle.sf-alert').count()).toBeGreaterThanOrEqual(1);
  await expect(drift.locator('line.sf-threshold')).toHaveCount(1);
  await expect(drift.locator('.jp-ScanflowDrift-features tr').nth(1)).toContainText('brightness');
  await expect(drift.locator('.jp-ScanflowDrift-header')).toContainText('DRIFT');
});
