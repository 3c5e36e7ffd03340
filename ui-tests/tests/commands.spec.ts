/**
 * Scanflow's palette commands and the graph tooltip in a real JupyterLab, with the settings they
 * read: the tracker panel for the tracker URL setting (a real tracker that test/ui started, read
 * through the server extension) and for a tracker that needs a token (typed into the panel, or
 * from the token setting), exporting a graph as SVG, running a workflow file with the default
 * executor setting and following its log live, and cleaning up a run's leftover Docker network.
 */
import { expect, galata, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dismissedDialogs } from './dialogs';

const TRACKER = process.env.SCANFLOW_TRACKER_URL ?? '';
const GUARDED = process.env.SCANFLOW_GUARDED_TRACKER_URL ?? '';
const GUARDED_TOKEN = process.env.SCANFLOW_GUARDED_TRACKER_TOKEN ?? '';
const UI_ROOT = process.env.SCANFLOW_UI_ROOT ?? '';
const CLEAN_RUN = process.env.SCANFLOW_CLEAN_RUN ?? '';
const XSS = '<img src=x onerror=alert(1)>';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'scanflow:settings': { trackerUrl: TRACKER, defaultExecutor: 'local', chartTheme: 'auto' }
  }
});

/** Runs a command from the command palette, by its label. */
async function fromPalette(page: IJupyterLabPageFixture, label: string): Promise<void> {
  await page.keyboard.press('Control+Shift+C');
  const input = page.locator('.lm-CommandPalette-input');
  await input.fill(label);
  await page.locator('.lm-CommandPalette-item', { hasText: label }).first().click();
}

/** A notebook whose saved output is a workflow graph with a finished run: no kernel needed. */
function graphNotebook(): string {
  const step = (name: string, extra: Record<string, unknown> = {}) => ({
    kind: 'step',
    name,
    image: 'scanflow/node:20',
    ...extra
  });
  const workflow = {
    kind: 'workflow',
    name: 'shown',
    steps: [
      step('prepare', {
        command: ['node', 'prep.js', '--rows', '1 000'],
        resources: { cpus: 2, memory: '1g' }
      }),
      { kind: 'workflow', name: 'train', steps: [step('fit', { retries: 1 }), step(XSS)] }
    ]
  };
  const status = {
    'shown.prepare': {
      status: 'succeeded',
      attempt: 1,
      startedAt: '2026-11-29T10:00:00.000Z',
      finishedAt: '2026-11-29T10:00:02.500Z',
      durationMs: 2500,
      logs: 'https://logs.example/shown/prepare'
    },
    'shown.train.fit': { status: 'failed', attempt: 2, message: 'exit code 3' }
  };
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    // A kernel that starts at once, so that JupyterLab asks nothing.
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' }
    },
    cells: [
      {
        cell_type: 'code',
        id: 'graph',
        execution_count: 1,
        metadata: {},
        source: 'show(view)',
        outputs: [
          {
            output_type: 'display_data',
            data: {
              'application/vnd.scanflow.workflow+json': { version: 1, workflow, status },
              'text/plain': 'workflow shown'
            },
            metadata: {}
          }
        ]
      }
    ]
  });
}

test('the tracker panel opens from the palette on the tracker URL setting', async ({ page }) => {
  expect(TRACKER).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  await fromPalette(page, 'Open Tracker Panel');
  const url = page.locator('.jp-Dialog input');
  await expect(url).toHaveValue(TRACKER);
  await page.locator('.jp-Dialog button', { hasText: 'Open' }).click();

  const panel = page.locator('.jp-ScanflowTrackerPanel');
  await expect(panel.locator('.jp-ScanflowTrackerPanel-experiments')).toHaveValue('mnist');
  const names = panel.locator('tr[data-run] td:nth-child(2)');
  await expect(names).toHaveText(['big', 'small', 'tiny']);
  // A chart per metric, drawn by JupyterLab's vega renderer.
  await expect(
    panel.locator('.jp-ScanflowTracker-charts canvas, .jp-ScanflowTracker-charts svg.marks')
  ).toHaveCount(2);
  for (const name of ['small', 'big']) {
    await panel.locator('tr[data-run]', { hasText: name }).locator('input[type=checkbox]').check();
  }
  await expect(panel.locator('.jp-ScanflowTracker-difftable tr').nth(1)).toContainText('lr');
});

test('a tracker that needs a token: the panel says so, and reads it with the token typed in', async ({
  page
}) => {
  expect(GUARDED).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  await fromPalette(page, 'Open Tracker Panel');
  await page.locator('.jp-Dialog input').fill(GUARDED);
  await page.locator('.jp-Dialog button', { hasText: 'Open' }).click();

  // No token: the problem and the fix, instead of a table.
  const panel = page.locator('.jp-ScanflowTrackerPanel');
  const status = panel.locator('.jp-ScanflowTrackerPanel-status');
  await expect(status).toHaveText(
    `The tracker at ${GUARDED} needs a token (401). Enter its token in the Token field and ` +
      "press Enter (or set 'Tracker token' in Scanflow's settings)."
  );
  await expect(status).toHaveClass(/jp-mod-error/);
  await expect(panel.locator('.jp-ScanflowTracker-runs')).toBeHidden();
  const token = panel.locator('.jp-ScanflowTrackerPanel-token');
  await expect(token).toHaveAttribute('type', 'password');
  await expect(token).toBeFocused();

  await token.fill('not-the-token');
  await token.press('Enter');
  await expect(status).toContainText(`The tracker at ${GUARDED} refused the token (401).`);
  await expect(panel.locator('.jp-ScanflowTracker-runs')).toBeHidden();

  await token.fill(GUARDED_TOKEN);
  await token.press('Enter');
  await expect(panel.locator('tr[data-run] td:nth-child(2)')).toHaveText(['big', 'small', 'tiny']);
  await expect(status).toHaveText('');
  await expect(status).not.toHaveClass(/jp-mod-error/);
  // The token is never written into the page.
  expect(await page.content()).not.toContain(GUARDED_TOKEN);
});

test.describe('with the token setting', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'scanflow:settings': { trackerUrl: GUARDED, trackerToken: GUARDED_TOKEN }
    }
  });

  test("the panel reads the settings' tracker with its token; the editor hides it", async ({
    page
  }) => {
    await fromPalette(page, 'Open Tracker Panel');
    await expect(page.locator('.jp-Dialog input')).toHaveValue(GUARDED);
    await page.locator('.jp-Dialog button', { hasText: 'Open' }).click();
    const panel = page.locator('.jp-ScanflowTrackerPanel');
    await expect(panel.locator('tr[data-run] td:nth-child(2)')).toHaveText([
      'big',
      'small',
      'tiny'
    ]);
    const token = panel.locator('.jp-ScanflowTrackerPanel-token');
    await expect(token).toHaveValue('');
    await expect(token).toHaveAttribute('placeholder', 'Token (from settings)');
    expect(await page.content()).not.toContain(GUARDED_TOKEN);

    // The settings editor shows the token as a password field.
    await page.evaluate(() =>
      window.jupyterapp.commands.execute('settingeditor:open', { query: 'Scanflow' })
    );
    await page.locator('.jp-PluginList-entry', { hasText: 'Scanflow' }).first().click();
    const field = page.locator('input[id$="trackerToken"]');
    await expect(field).toHaveAttribute('type', 'password');
  });
});

test('a node tooltip shows what a step runs and how it went; the graph exports as SVG', async ({
  page,
  tmpPath
}) => {
  const alerts = dismissedDialogs(page);
  await page.contents.uploadContent(graphNotebook(), 'text', `${tmpPath}/graph.ipynb`);
  await page.notebook.openByPath(`${tmpPath}/graph.ipynb`);
  const graph = page.locator('.jp-OutputArea-output.jp-ScanflowWorkflow');
  await expect(graph.locator('svg[data-layout="elk"]')).toHaveCount(1);

  await graph.locator('g[data-id="shown.prepare"]').hover();
  const tip = graph.locator('.jp-ScanflowWorkflow-tooltip');
  await expect(tip).toBeVisible();
  await expect(tip.locator('.jp-ScanflowWorkflow-tooltipTitle')).toHaveText('step shown.prepare');
  await expect(tip.locator('.jp-ScanflowWorkflow-tooltipStatus')).toHaveText('succeeded');
  const fact = (term: string) =>
    tip.locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');
  await expect(fact('image')).toHaveText('scanflow/node:20');
  await expect(fact('command')).toHaveText('node prep.js --rows "1 000"');
  await expect(fact('resources')).toHaveText('2 CPUs · 1g memory');
  await expect(fact('took')).toHaveText('2.5 s');
  await expect(tip.locator('a.jp-ScanflowWorkflow-tooltipLogs')).toHaveAttribute(
    'href',
    'https://logs.example/shown/prepare'
  );
  // The tooltip stays while the pointer moves onto it, so that the link can be clicked.
  await tip.hover();
  await expect(tip).toBeVisible();

  await graph.locator('g[data-id="shown.train.fit"]').hover();
  await expect(tip.locator('.jp-ScanflowWorkflow-tooltipTitle')).toHaveText('step shown.train.fit');
  await expect(fact('attempt')).toHaveText('2 of 2');
  await expect(fact('message')).toHaveText('exit code 3');
  await graph.locator(`g[data-id="shown.train.${XSS}"]`).hover();
  await expect(tip.locator('.jp-ScanflowWorkflow-tooltipTitle')).toHaveText(
    `step shown.train.${XSS}`
  );
  expect(await page.locator('.jp-ScanflowWorkflow img').count()).toBe(0);

  // The tooltip follows the theme.
  const colours = () =>
    tip.evaluate(e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]);
  const [lightText, lightBack] = await colours();
  expect(brightness(lightText)).toBeLessThan(brightness(lightBack));
  await page.theme.setDarkTheme();
  await graph.locator('g[data-id="shown.prepare"]').hover();
  await expect.poll(async () => (await colours())[1]).not.toBe(lightBack);
  const [darkText, darkBack] = await colours();
  expect(brightness(darkText)).toBeGreaterThan(brightness(darkBack));

  // Export the graph used last from the palette.
  await graph.locator('g[data-id="shown.prepare"]').click();
  const download = page.waitForEvent('download');
  await fromPalette(page, 'Export Workflow Graph as SVG');
  const file = await (await download).path();
  expect((await download).suggestedFilename()).toBe('shown.svg');
  const svg = readFileSync(file, 'utf8');
  expect(svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  expect(svg).toContain('&lt;img src=x onerror=alert(1)&gt;');
  expect(svg).toContain('<style>');
  expect(svg.match(/class="sf-node sf-step/g)).toHaveLength(3);
  expect(alerts).toEqual([]);
});

/** A one-step workflow file whose step runs `script` with node (the local executor setting). */
async function workflowFile(
  page: IJupyterLabPageFixture,
  path: string,
  script: string
): Promise<void> {
  const definition = {
    kind: 'workflow',
    name: 'from-palette',
    steps: [
      { kind: 'step', name: 'say', image: 'scanflow/node:20', command: ['node', '-e', script] }
    ]
  };
  await page.contents.uploadContent(JSON.stringify(definition), 'text', path);
}

/** Runs a workflow file from the palette; the run's log opens in a tab. */
async function runFromPalette(page: IJupyterLabPageFixture, path: string): Promise<void> {
  await fromPalette(page, 'Run Workflow File (local executor)');
  await page.locator('.jp-Dialog input').fill(path);
  await page.locator('.jp-Dialog button', { hasText: 'Run' }).click();
}

test('a workflow file runs on the server with the default executor setting; its log follows it', async ({
  page,
  tmpPath
}) => {
  const alerts = dismissedDialogs(page);
  // The step prints a line, then waits for a file this test writes once the first line is shown.
  const go = `${UI_ROOT}/${tmpPath}/go`;
  await workflowFile(
    page,
    `${tmpPath}/flow.json`,
    `console.log('hello from the palette ${XSS}'); ` +
      `setInterval(() => { if (require('fs').existsSync(${JSON.stringify(go)})) { ` +
      `console.log('second line, written later'); process.exit(0); } }, 100);`
  );
  await runFromPalette(page, `${tmpPath}/flow.json`);

  const view = page.locator('.jp-ScanflowRunLog');
  await expect(page.locator('.lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel')).toHaveText(
    'Run flow.json'
  );
  const text = view.locator('.jp-ScanflowRunLog-text');
  const status = view.locator('.jp-ScanflowRunLog-status');
  await expect(text).toContainText('$ scanflow run flow.json --executor local');
  await expect(text).toContainText(`hello from the palette ${XSS}`);
  await expect(status).toHaveText('running…');
  await expect(text).not.toContainText('second line');

  await page.contents.uploadContent('', 'text', `${tmpPath}/go`);
  await expect(text).toContainText('second line, written later');
  await expect(text).toContainText(/run \S+ succeeded: 1 steps/);
  await expect(status).toHaveText('succeeded');
  await expect(status).toHaveAttribute('data-state', 'succeeded');
  await expect(view.locator('button', { hasText: 'Cancel' })).toBeHidden();
  expect(await view.locator('img').count()).toBe(0);
  expect(alerts).toEqual([]);

  // The same log is a file next to the workflow, which JupyterLab opens.
  await view.locator('button', { hasText: 'Open Log File' }).click();
  await expect(page.locator('.lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel')).toHaveText(
    /^flow\.json\.\d{8}-\d{6}\.log$/
  );
});

test('a run followed from the lab can be cancelled, and says so', async ({ page, tmpPath }) => {
  await workflowFile(
    page,
    `${tmpPath}/endless.json`,
    "console.log('waiting forever'); setInterval(() => {}, 1000);"
  );
  await runFromPalette(page, `${tmpPath}/endless.json`);
  const view = page.locator('.jp-ScanflowRunLog');
  await expect(view.locator('.jp-ScanflowRunLog-text')).toContainText('waiting forever');
  await view.locator('button', { hasText: 'Cancel' }).click();
  const status = view.locator('.jp-ScanflowRunLog-status');
  await expect(status).toHaveText('cancelled');
  await expect(view.locator('.jp-ScanflowRunLog-text')).toContainText('was cancelled');
});

test("cleaning up removes a run's leftover Docker objects", async ({ page }) => {
  test.skip(!CLEAN_RUN, 'no Docker engine answered: test/ui made no leftover to clean');
  await fromPalette(page, 'Clean Up Scanflow Leftovers');
  await page.locator('.jp-Dialog .jp-ScanflowClean-run').fill(CLEAN_RUN);
  await page.locator('.jp-Dialog button', { hasText: 'Remove' }).click();
  await expect(page.locator('.jp-toast-message, .Toastify__toast').first()).toContainText(
    'removed 0 containers, 1 networks, 0 volumes'
  );
  const left = spawnSync(
    'docker',
    ['network', 'ls', '-q', '--filter', `label=scanflow.run=${CLEAN_RUN}`],
    {
      encoding: 'utf8'
    }
  );
  expect(left.stdout.trim()).toBe('');
});

/** 0..255 brightness of a CSS rgb()/rgba() colour. */
function brightness(colour: string): number {
  const [r, g, b] = (colour.match(/[\d.]+/g) ?? ['0', '0', '0']).map(Number);
  return 0.299 * r + 0.587 * g + 0.114 * b;
}
