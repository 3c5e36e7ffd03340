import { window } from './dom';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../../src/mime';
import { driftBundle, trackerBundle } from '../../src/notebook/bundles';
import { DriftRenderer } from '../../src/lab/drift-renderer';
import { TrackerRenderer, trackerServices } from '../../src/lab/tracker-renderer';

const options = (mimeType: string): IRenderMime.IRendererOptions =>
  ({
    mimeType,
    sanitizer: { sanitize: (s: string) => s },
    resolver: null,
    linkHandler: null,
    latexTypesetter: null
  }) as unknown as IRenderMime.IRendererOptions;

const model = (mime: string, data: unknown): IRenderMime.IMimeModel => ({
  trusted: false,
  data: { [mime]: data } as IRenderMime.IMimeModel['data'],
  metadata: {},
  setData: () => undefined
});

const XSS = '<img src=x onerror=alert(1)>';

const tracker = trackerBundle({
  experiment: 'mnist',
  runs: [
    {
      id: 'r1',
      name: 'small',
      status: 'FINISHED',
      startTime: 1000,
      params: { lr: '0.1', layers: '2' },
      metrics: { acc: 0.91 }
    },
    {
      id: 'r2',
      name: 'big',
      status: 'FINISHED',
      startTime: 2000,
      params: { lr: '0.01', layers: '2' },
      metrics: { acc: 0.95 }
    },
    {
      id: 'r3',
      name: XSS,
      status: 'FAILED',
      startTime: 3000,
      params: { lr: XSS },
      metrics: { acc: 0.5 }
    }
  ]
}).data[MIME.tracker];

const rows = (r: TrackerRenderer): string[] =>
  [...r.node.querySelectorAll('.jp-ScanflowTracker-runs tr[data-run]')].map(
    tr => tr.children[1].textContent ?? ''
  );

describe('the tracker panel', () => {
  it('lists runs, sorts by a clicked column and filters by text', async () => {
    const r = new TrackerRenderer(options(MIME.tracker));
    await r.renderModel(model(MIME.tracker, tracker));
    assert.match(r.node.textContent ?? '', /3 runs · experiment mnist/);
    assert.deepEqual(rows(r), [XSS, 'big', 'small']); // newest first
    const header = (label: string): HTMLElement =>
      [...r.node.querySelectorAll<HTMLElement>('th')].find(th =>
        th.textContent?.startsWith(label)
      )!;
    header('acc').click();
    assert.deepEqual(rows(r), [XSS, 'small', 'big']);
    header('acc').click();
    assert.deepEqual(rows(r), ['big', 'small', XSS]);
    const filter = r.node.querySelector<HTMLInputElement>('.jp-ScanflowTracker-filter')!;
    filter.value = 'lr=0.01';
    filter.dispatchEvent(new window.Event('input'));
    assert.deepEqual(rows(r), ['big']);
  });

  it('diffs the params of the ticked runs', async () => {
    const r = new TrackerRenderer(options(MIME.tracker));
    await r.renderModel(model(MIME.tracker, JSON.stringify(tracker)));
    for (const id of ['r1', 'r2']) {
      const box = r.node.querySelector<HTMLInputElement>(`tr[data-run="${id}"] input`)!;
      box.checked = true;
      box.dispatchEvent(new window.Event('change'));
    }
    const diff = [...r.node.querySelectorAll('.jp-ScanflowTracker-difftable tr')].map(tr =>
      [...tr.children].map(c => c.textContent)
    );
    assert.deepEqual(diff, [
      ['param', 'small', 'big'],
      ['lr', '0.1', '0.01']
    ]);
  });

  it("hands the bundle's vega-lite charts to JupyterLab's renderer", async () => {
    const rendered: unknown[] = [];
    trackerServices.charts = {
      createRenderer: mimeType => {
        assert.equal(mimeType, 'application/vnd.vegalite.v5+json');
        const node = window.document.createElement('div');
        return {
          node,
          renderModel: async (m: IRenderMime.IMimeModel) => {
            rendered.push(m.data[mimeType]);
          },
          dispose: () => undefined
        } as unknown as IRenderMime.IRenderer;
      }
    };
    const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', mark: 'line' };
    const r = new TrackerRenderer(options(MIME.tracker));
    await r.renderModel(model(MIME.tracker, { ...(tracker as object), charts: [spec] }));
    assert.deepEqual(rendered, [spec]);
    trackerServices.charts = undefined;
  });

  it('renders hostile names and params as text', async () => {
    const r = new TrackerRenderer(options(MIME.tracker));
    await r.renderModel(model(MIME.tracker, tracker));
    assert.equal(r.node.querySelectorAll('img').length, 0);
    assert.ok((r.node.textContent ?? '').includes(XSS));
  });
});

describe('the drift panel', () => {
  const drift = {
    ...(driftBundle({
      checker: XSS,
      detector: 'ks',
      threshold: 2,
      points: [
        { t: 1, score: 0.5 },
        { t: 2, score: 1.2 },
        { t: 3, score: 3.4, drift: true }
      ],
      features: [
        { name: 'pixel-1', pValue: 0.4 },
        { name: 'pixel-2', pValue: 0.001 }
      ]
    }).data[MIME.drift] as object),
    scoreLabel: '-log10(p-value)',
    verdict: { isDrift: true, pValue: 0.0004 }
  };

  it('draws the score timeline with its threshold band and alert markers', async () => {
    const r = new DriftRenderer(options(MIME.drift));
    await r.renderModel(model(MIME.drift, drift));
    assert.match(
      r.node.textContent ?? '',
      /\(ks\) · DRIFT \(p = 0\.000400\) · 3 batches, 1 over the threshold/
    );
    assert.equal(r.node.querySelectorAll('circle.sf-point').length, 3);
    assert.equal(r.node.querySelectorAll('circle.sf-alert').length, 1);
    assert.equal(r.node.querySelectorAll('line.sf-threshold').length, 1);
    assert.equal(r.node.querySelectorAll('rect.sf-band').length, 1);
    // The alert lies above the threshold line (smaller y).
    const threshold = Number(r.node.querySelector('line.sf-threshold')?.getAttribute('y1'));
    const alert = Number(r.node.querySelector('circle.sf-alert')?.getAttribute('cy'));
    assert.ok(alert < threshold);
  });

  it('lists per-feature p-values, smallest first, marking the significant ones', async () => {
    const r = new DriftRenderer(options(MIME.drift));
    await r.renderModel(model(MIME.drift, JSON.stringify(drift)));
    const table = [...r.node.querySelectorAll('.jp-ScanflowDrift-features tr')].map(tr =>
      [...tr.children].map(c => c.textContent)
    );
    assert.deepEqual(table, [
      ['feature', 'p-value'],
      ['pixel-2', '0.00100'],
      ['pixel-1', '0.400']
    ]);
    assert.equal(r.node.querySelectorAll('tr.jp-mod-drift').length, 1);
    assert.equal(r.node.querySelectorAll('img').length, 0);
    assert.ok((r.node.textContent ?? '').startsWith(XSS));
  });
});
