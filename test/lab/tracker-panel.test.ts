import { window } from './dom';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { MIME } from '../../src/mime';
import { settings } from '../../src/lab/settings-plugin';
import { TrackerClient, type ScanflowRequest } from '../../src/lab/tracker-client';
import { TrackerPanel } from '../../src/lab/tracker-panel';
import { TrackerRenderer, trackerServices } from '../../src/lab/tracker-renderer';
import { graphSettings } from '../../src/lab/workflow-renderer';
import { seedRuns, startTracker, type Started } from '../extension/servers';

/**
 * The server extension's proxy, as the client sees it: `tracker/<MLflow path>` goes to the
 * tracker named in X-Scanflow-Tracker (test/extension checks the real proxy).
 */
const direct: ScanflowRequest = (path, init) => {
  const headers = new Headers(init.headers);
  const tracker = headers.get('X-Scanflow-Tracker');
  assert.ok(path.startsWith('tracker/') && tracker);
  const token = headers.get('X-Scanflow-Tracker-Token');
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return fetch(`${tracker}/${path.slice('tracker/'.length)}`, { ...init, headers });
};

/** JupyterLab's vega renderer, as the tracker renderer hands charts to it. */
const charts: IRenderMime.IMimeModel[] = [];
trackerServices.charts = {
  createRenderer: () =>
    ({
      node: window.document.createElement('div'),
      renderModel: async (model: IRenderMime.IMimeModel) => {
        charts.push(model);
      },
      dispose: () => undefined
    }) as unknown as IRenderMime.IRenderer
};

const TOKEN = 'tracker-token-for-the-panel';

describe('the standalone tracker panel', () => {
  let tracker: Started | undefined;
  let guarded: Started | undefined;

  before(async () => {
    [tracker, guarded] = await Promise.all([startTracker(), startTracker(TOKEN)]);
    await seedRuns(tracker.url, 'mnist');
    await seedRuns(tracker.url, 'fashion');
    await seedRuns(guarded.url, 'mnist', TOKEN);
  });
  after(() => {
    tracker?.stop();
    guarded?.stop();
  });

  it("reads a tracker's experiments and shows a run table with params and metric charts", async () => {
    charts.length = 0;
    const panel = new TrackerPanel(new TrackerClient(direct, tracker!.url), 'mnist');
    await panel.load();
    const options = [...panel.node.querySelectorAll('option')].map(o => o.textContent);
    assert.deepEqual(options, ['Default', 'fashion', 'mnist']);
    assert.equal(panel.node.querySelector('select')?.value, 'mnist');
    const names = [...panel.node.querySelectorAll('tr[data-run] td:nth-child(2)')].map(
      td => td.textContent
    );
    assert.deepEqual(names, ['big', 'small', 'tiny']); // newest first
    assert.match(panel.node.textContent ?? '', /3 runs · experiment mnist/);
    assert.ok([...panel.node.querySelectorAll('th')].some(th => th.textContent === 'lr (param)'));
    // A chart per metric, each with every run's history.
    const titles = charts.map(
      c => (c.data['application/vnd.vegalite.v5+json'] as { title: string }).title
    );
    assert.deepEqual(titles, ['acc', 'loss']);
    const loss = charts[1].data['application/vnd.vegalite.v5+json'] as {
      data: { values: Array<{ run: string; step: number }> };
    };
    assert.equal(loss.data.values.length, 9);

    // The params diff of two ticked runs, as in notebook outputs.
    for (const name of ['small', 'big']) {
      const row = [...panel.node.querySelectorAll('tr[data-run]')].find(tr =>
        tr.textContent?.includes(name)
      );
      const box = row!.querySelector<HTMLInputElement>('input[type=checkbox]')!;
      box.checked = true;
      box.dispatchEvent(new window.Event('change'));
    }
    const diff = [...panel.node.querySelectorAll('.jp-ScanflowTracker-difftable tr')];
    assert.equal(diff.length, 2);
    assert.match(diff[1].textContent ?? '', /^lr/);

    // Another experiment from the toolbar.
    const select = panel.node.querySelector('select')!;
    select.value = 'fashion';
    select.dispatchEvent(new window.Event('change'));
    for (let i = 0; i < 100 && !/experiment fashion/.test(panel.node.textContent ?? ''); i++) {
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    assert.match(panel.node.textContent ?? '', /3 runs · experiment fashion/);
  });

  it('says that a tracker needs a token, and where to enter it; reads it with the token', async () => {
    const panel = new TrackerPanel(new TrackerClient(direct, guarded!.url));
    window.document.body.append(panel.node);
    try {
      await panel.load();
      const status = panel.node.querySelector('.jp-ScanflowTrackerPanel-status')!;
      assert.ok(status.classList.contains('jp-mod-error'));
      assert.match(
        status.textContent ?? '',
        /^The tracker at http:\S+ needs a token \(401\)\. Enter its token in the Token field/
      );
      assert.equal(panel.node.querySelectorAll('tr[data-run]').length, 0);
      assert.equal(panel.node.querySelector<HTMLElement>('.jp-ScanflowTracker')?.hidden, true);
      const field = panel.node.querySelector<HTMLInputElement>('.jp-ScanflowTrackerPanel-token')!;
      assert.equal(field.type, 'password');
      assert.equal(window.document.activeElement, field);

      field.value = 'wrong';
      field.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }));
      for (let i = 0; i < 200 && !/refused/.test(status.textContent ?? ''); i++) {
        await new Promise(resolve => setTimeout(resolve, 20));
      }
      assert.match(status.textContent ?? '', /refused the token \(401\)/);

      field.value = TOKEN;
      await panel.load();
      assert.equal(status.textContent, '');
      assert.equal(panel.node.querySelectorAll('tr[data-run]').length, 3);
      assert.equal(panel.node.querySelector<HTMLElement>('.jp-ScanflowTracker')?.hidden, false);
      assert.ok(!panel.node.outerHTML.includes(TOKEN));
    } finally {
      panel.node.remove();
      panel.dispose();
    }

    // A token given when opening (the command's argument or the setting) is used, and not shown.
    const given = new TrackerPanel(new TrackerClient(direct, guarded!.url, TOKEN));
    await given.load();
    assert.equal(given.node.querySelectorAll('tr[data-run]').length, 3);
    const field = given.node.querySelector<HTMLInputElement>('.jp-ScanflowTrackerPanel-token')!;
    assert.equal(field.value, '');
    assert.equal(field.placeholder, 'Token (from settings)');
    assert.ok(!given.node.outerHTML.includes(TOKEN));
    given.dispose();
  });

  it('says what went wrong when the tracker cannot be read', async () => {
    const panel = new TrackerPanel(new TrackerClient(direct, 'http://127.0.0.1:9'));
    await panel.load();
    assert.match(
      panel.node.querySelector('.jp-ScanflowTrackerPanel-status.jp-mod-error')?.textContent ?? '',
      /Could not reach|fetch failed/
    );
    const failing: ScanflowRequest = async () =>
      new Response(JSON.stringify({ message: 'Only MLflow read API is proxied' }), { status: 403 });
    const refused = new TrackerPanel(new TrackerClient(failing, 'http://tracker.example'));
    await refused.load();
    assert.match(
      refused.node.textContent ?? '',
      /http:\/\/tracker\.example answered 403 to experiments\/search: Only MLflow read API/
    );
  });
});

describe('the Scanflow settings', () => {
  const registry = (values: Record<string, unknown>): ISettingRegistry =>
    ({
      load: async () => ({
        get: (key: string) => ({ composite: values[key] }),
        changed: { connect: () => true }
      })
    }) as unknown as ISettingRegistry;

  it('apply to graphs and charts, and publish the tracker URL and token and the default executor', async () => {
    const before = { ...graphSettings };
    try {
      const published = await settings.activate(
        {} as JupyterFrontEnd,
        registry({
          maxGraphHeight: 900,
          collapseAbove: 50,
          trackerUrl: 'http://tracker.example:5000',
          trackerToken: 's3cret',
          chartTheme: 'ggplot2',
          defaultExecutor: 'local'
        })
      );
      assert.equal(graphSettings.maxHeight, 900);
      assert.equal(graphSettings.collapseAbove, 50);
      assert.equal(published.trackerUrl, 'http://tracker.example:5000');
      assert.equal(published.trackerToken, 's3cret');
      assert.equal(published.defaultExecutor, 'local');
      assert.equal(trackerServices.chartTheme, 'ggplot2');

      // The tracker's charts get the theme, through the vega renderer's embed options.
      charts.length = 0;
      const r = new TrackerRenderer({ mimeType: MIME.tracker });
      await r.renderModel({
        trusted: true,
        data: {
          [MIME.tracker]: { version: 1, runs: [], charts: [{ $schema: 'x', mark: 'line' }] }
        } as unknown as IRenderMime.IMimeModel['data'],
        metadata: {},
        setData: () => undefined
      });
      assert.deepEqual(charts[0].metadata, {
        'application/vnd.vegalite.v5+json': { embed_options: { theme: 'ggplot2' } }
      });

      // 'auto' leaves the theme to JupyterLab (dark themes draw charts dark).
      const second = await settings.activate(
        {} as JupyterFrontEnd,
        registry({ chartTheme: 'auto', defaultExecutor: 'nonsense' })
      );
      assert.equal(second.defaultExecutor, 'auto');
      charts.length = 0;
      await r.renderModel({
        trusted: true,
        data: {
          [MIME.tracker]: { version: 1, runs: [], charts: [{ $schema: 'x', mark: 'line' }] }
        } as unknown as IRenderMime.IMimeModel['data'],
        metadata: {},
        setData: () => undefined
      });
      assert.deepEqual(charts[0].metadata, {});
    } finally {
      Object.assign(graphSettings, before);
      trackerServices.chartTheme = 'auto';
    }
  });
});
