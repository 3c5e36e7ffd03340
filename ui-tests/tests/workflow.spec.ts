/**
 * The example notebook in a real JupyterLab with the tslab kernel: run all cells, see the nested
 * graph, watch a real (local) run turn every step green, collapse a sub-workflow (kept in the
 * saved notebook), switch to the dark theme, and see a hostile step name drawn as text.
 */
import { expect, test } from '@jupyterlab/galata';
import { dismissedDialogs } from './dialogs';
import { openExampleNotebook } from './example-notebook';

const NOTEBOOK = 'hello.ipynb';
const XSS = '<img src=x onerror=alert(1)>';

test('the hello notebook draws, runs, collapses and themes its workflow graph', async ({
  page,
  tmpPath
}) => {
  const alerts = dismissedDialogs(page);
  const layoutWarnings: string[] = [];
  page.on('console', message => {
    if (message.text().includes('scanflow: graph layout')) layoutWarnings.push(message.text());
  });

  await openExampleNotebook(page, tmpPath, NOTEBOOK);
  await page.notebook.run();

  const graphs = page.locator('.jp-OutputArea-output.jp-ScanflowWorkflow');
  await expect(graphs).toHaveCount(3);
  const [definition, live, names] = [graphs.nth(0), graphs.nth(1), graphs.nth(2)];

  // The nested graph: 3 workflows (hello, train, evaluate), 1 parallel group, 6 steps.
  await expect(definition.locator('g.sf-workflow')).toHaveCount(3);
  await expect(definition.locator('g.sf-parallel')).toHaveCount(1);
  await expect(definition.locator('g.sf-step')).toHaveCount(6);
  await expect(definition.locator('path.sf-edge')).toHaveCount(4);
  await expect(definition.locator('g[data-id="hello.train.models.linear"]')).toBeVisible();

  // The run followed live: every step ends succeeded.
  await expect(live.locator('g.sf-step.sf-status-succeeded')).toHaveCount(6);
  await expect(live.locator('.jp-ScanflowWorkflow-summary')).toContainText(
    /6 succeeded · run \S+: succeeded/
  );

  // Collapse the train sub-workflow: one box stands for its 3 steps.
  await definition.locator('g[data-id="hello.train"] > .sf-toggle').click();
  await expect(definition.locator('g.sf-collapsed')).toHaveCount(1);
  await expect(definition.locator('g.sf-step')).toHaveCount(3);
  await expect(definition.locator('g.sf-collapsed .sf-label')).toHaveText('train (3 steps)');

  // The collapsed state is saved with the notebook, in the output's metadata.
  await page.notebook.save();
  const saved = await page.request.get(`/api/contents/${tmpPath}/${NOTEBOOK}?content=1`);
  expect(saved.ok()).toBe(true);
  const notebook = (await saved.json()) as {
    content: { cells: Array<{ outputs?: Array<{ metadata?: Record<string, unknown> }> }> };
  };
  const outputs = notebook.content.cells.flatMap(cell => cell.outputs ?? []);
  expect(outputs.map(o => o.metadata?.['application/vnd.scanflow.workflow+json'])).toContainEqual({
    collapsed: ['hello.train']
  });

  // A hostile step name is drawn as text; nothing in any graph became an element.
  await expect(names.locator('g.sf-step .sf-label')).toHaveText(XSS);
  expect(await page.locator('.jp-ScanflowWorkflow img').count()).toBe(0);
  expect(alerts).toEqual([]);
  // The layout ran in its Web Worker (no fallback to the main thread), started at activation.
  expect(layoutWarnings).toEqual([]);
  expect(page.workers().length).toBeGreaterThanOrEqual(1);

  // The dark theme: the graph follows JupyterLab's theme variables.
  const labelColour = () =>
    definition
      .locator('g.sf-step .sf-label')
      .first()
      .evaluate(e => getComputedStyle(e).fill);
  const background = () =>
    definition
      .locator('g.sf-step > rect')
      .first()
      .evaluate(e => getComputedStyle(e).fill);
  const light = { label: await labelColour(), box: await background() };
  await page.theme.setDarkTheme();
  await expect.poll(labelColour).not.toBe(light.label);
  const dark = { label: await labelColour(), box: await background() };
  expect(brightness(dark.label)).toBeGreaterThan(brightness(dark.box));
  expect(brightness(light.label)).toBeLessThan(brightness(light.box));
});

/** 0..255 brightness of a CSS rgb()/rgba() colour. */
function brightness(colour: string): number {
  const [r, g, b] = (colour.match(/[\d.]+/g) ?? ['0', '0', '0']).map(Number);
  return 0.299 * r + 0.587 * g + 0.114 * b;
}
