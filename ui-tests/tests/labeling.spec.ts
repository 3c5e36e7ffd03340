/**
 * The labeling notebook in a real JupyterLab with the tslab kernel: the session's widget appears,
 * three samples are labeled with the keyboard and submitted, the label files land in the session
 * folder through the Contents API, and the waiting kernel cell receives them. Reopened after a
 * page reload, the widget reads the folder again and shows those labels as saved.
 */
import { expect, test } from '@jupyterlab/galata';
import { openExampleNotebook } from './example-notebook';

const NOTEBOOK = 'labeling.ipynb';

interface Listing {
  content: Array<{ name: string; type: string }>;
}

test('three samples labeled with keys are saved to the session folder and reach the kernel', async ({
  page,
  tmpPath
}) => {
  await openExampleNotebook(page, tmpPath, NOTEBOOK);
  // Run all without waiting: the last cell waits for the labels given below.
  await page.evaluate(() => {
    const app = (
      window as unknown as { jupyterapp: { commands: { execute(id: string): Promise<unknown> } } }
    ).jupyterapp;
    void app.commands.execute('notebook:run-all-cells');
  });

  const widget = page.locator('.jp-OutputArea-output.jp-ScanflowLabeling');
  const cards = widget.locator('.jp-ScanflowLabeling-card');
  await expect(cards).toHaveCount(6);
  await expect(widget.locator('img.jp-ScanflowLabeling-image')).toHaveCount(6);
  await expect(widget.locator('.jp-ScanflowLabeling-progress')).toHaveText(/0 of 6 labeled/);

  await cards.first().click();
  for (const key of ['1', '0', '1']) await page.keyboard.press(key);
  await expect(widget.locator('.jp-ScanflowLabeling-progress')).toHaveText(
    /3 of 6 labeled · 3 not submitted/
  );
  await page.keyboard.press('Enter');
  await expect(widget.locator('.jp-ScanflowLabeling-card[data-state="saved"]')).toHaveCount(3);
  await expect(widget.locator('.jp-ScanflowLabeling-message')).toHaveText(/Saved 3 labels/);

  // The store: one file per label in <session>/labels/.
  const sessions = (await (
    await page.request.get(`/api/contents/${tmpPath}/sessions?content=1`)
  ).json()) as Listing;
  expect(sessions.content).toHaveLength(1);
  const folder = `${tmpPath}/sessions/${sessions.content[0].name}`;
  const labels = (await (
    await page.request.get(`/api/contents/${folder}/labels?content=1`)
  ).json()) as Listing;
  expect(labels.content.map(f => f.name.split('.')[0]).sort()).toEqual(['s0', 's1', 's2']);

  // The kernel accepted them: the waiting cell printed them.
  const printed = page.locator('.jp-OutputArea-output', { hasText: 's0=1 by' });
  await expect(printed).toBeVisible();
  await expect(printed).toContainText('s1=0 by');
  await expect(printed).toContainText('s2=1 by');

  // Reload the page and reopen the notebook: the widget shows what the folder holds as saved.
  await page.notebook.save();
  // Playwright's own reload: Galata's waits for the Launcher, which a restored notebook hides.
  await page.mainFrame().goto(page.url());
  await page.waitForFunction(() => 'jupyterapp' in window);
  await page.evaluate(async path => {
    const app = (
      window as unknown as {
        jupyterapp: {
          restored: Promise<void>;
          commands: { execute(id: string, args: object): Promise<unknown> };
        };
      }
    ).jupyterapp;
    await app.restored;
    await app.commands.execute('docmanager:open', { path });
  }, `${tmpPath}/${NOTEBOOK}`);
  const reopened = page.locator('.jp-OutputArea-output.jp-ScanflowLabeling');
  await expect(reopened.locator('.jp-ScanflowLabeling-card[data-state="saved"]')).toHaveCount(3);
  await expect(
    reopened.locator('.jp-ScanflowLabeling-card[data-id="s1"] .jp-ScanflowLabeling-label')
  ).toHaveText('✓ 0');
  await expect(reopened.locator('.jp-ScanflowLabeling-progress')).toHaveText(/3 of 6 labeled/);
});
