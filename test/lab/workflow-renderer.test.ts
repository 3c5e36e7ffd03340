import { window } from './dom';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MimeModel } from '@jupyterlab/rendermime/lib/mimemodel';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../../src/mime';
import { workflowBundle, type StepState } from '../../src/notebook/bundles';
import { graphSettings, WorkflowRenderer } from '../../src/lab/workflow-renderer';
import { parallel, service, step, workflow } from '../../src/workflow/builders';

const XSS = '<img src=x onerror=alert(1)>';

const hello = workflow('hello', [
  step('make-data', { image: 'scanflow/node:20', command: ['node', 'make.js'] }),
  workflow('train', [
    parallel('models', [step('linear', { image: 'a' }), step('mean', { image: 'b' })]),
    step('pick', { image: 'c', resources: { cpus: 0.5, memory: '256m' } })
  ]),
  step('report', { image: 'd' })
]);

/** A real MimeModel; what the renderer saves through setData lands in `saved` (the output's). */
const saved: { metadata?: Record<string, unknown> } = {};
function model(data: unknown, metadata: Record<string, unknown> = {}): MimeModel {
  return new MimeModel({
    data: { [MIME.workflow]: data } as IRenderMime.IMimeModel['data'],
    metadata: metadata as IRenderMime.IMimeModel['metadata'],
    callback: options => {
      saved.metadata = options.metadata as Record<string, unknown> | undefined;
    }
  });
}

function renderer(): WorkflowRenderer {
  return new WorkflowRenderer({
    mimeType: MIME.workflow,
    sanitizer: { sanitize: (s: string) => s },
    resolver: null,
    linkHandler: null,
    latexTypesetter: null
  } as unknown as IRenderMime.IRendererOptions);
}

/** Waits until the condition holds (layouts run asynchronously after a click). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/** Moves the pointer over a node; returns the tooltip. */
function hover(r: WorkflowRenderer, id: string): HTMLElement | null {
  const target = [...r.node.querySelectorAll('g.sf-node')]
    .find(g => g.getAttribute('data-id') === id)
    ?.querySelector('rect');
  assert.ok(target, `no node ${id}`);
  target.dispatchEvent(
    new window.MouseEvent('pointerover', { bubbles: true, clientX: 5, clientY: 5 })
  );
  return r.node.querySelector<HTMLElement>('.jp-ScanflowWorkflow-tooltip');
}

/** The tooltip's facts, term -> value. */
function facts(tip: HTMLElement | null): Record<string, string> {
  const terms = [...(tip?.querySelectorAll('dt') ?? [])].map(dt => dt.textContent ?? '');
  const values = [...(tip?.querySelectorAll('dd') ?? [])].map(dd => dd.textContent ?? '');
  return Object.fromEntries(terms.map((term, i) => [term, values[i]]));
}

const count = (r: WorkflowRenderer, selector: string): number =>
  r.node.querySelectorAll(selector).length;
const data = (status?: Record<string, StepState>): unknown =>
  workflowBundle(hello, status).data[MIME.workflow];

describe('the workflow graph renderer', () => {
  it('draws nested workflows and parallel groups as boxes in boxes, with edges', async () => {
    const r = renderer();
    await r.renderModel(model(data()));
    assert.equal(count(r, 'svg g.sf-workflow'), 2);
    assert.equal(count(r, 'svg g.sf-parallel'), 1);
    assert.equal(count(r, 'svg g.sf-step'), 5);
    assert.equal(count(r, 'svg path.sf-edge'), 3);
    // The parallel group is inside train, inside hello.
    const models = r.node.querySelector('g.sf-parallel');
    assert.equal(models?.getAttribute('data-id'), 'hello.train.models');
    // Its members share a layer: one above the other, centred on the same vertical line.
    const [linear, mean] = ['linear', 'mean'].map(name => {
      const g = r.node.querySelector(`g[data-id="hello.train.models.${name}"]`);
      const [x, y] = g!
        .getAttribute('transform')!
        .match(/[\d.]+/g)!
        .map(Number);
      const width = Number(g!.querySelector('rect')!.getAttribute('width'));
      return { centre: x + width / 2, y };
    });
    assert.ok(Math.abs(linear.centre - mean.centre) < 1);
    assert.notEqual(linear.y, mean.y);
    assert.match(r.node.textContent ?? '', /5 steps · 2 workflows · 1 parallel groups/);
  });

  it('accepts the bundle as a JSON string (tslab display.raw) and a bare workflow spec', async () => {
    const a = renderer();
    await a.renderModel(model(JSON.stringify(data())));
    assert.equal(count(a, 'g.sf-step'), 5);
    const b = renderer();
    await b.renderModel(model(hello));
    assert.equal(count(b, 'g.sf-step'), 5);
    const c = renderer();
    await c.renderModel(model('{not json'));
    assert.equal(count(c, 'svg'), 0);
    assert.match(c.node.textContent ?? '', /No workflow to show/);
  });

  it('collapses a sub-workflow on its toggle and keeps the state in the output metadata', async () => {
    const r = renderer();
    const m = model(data());
    await r.renderModel(m);
    const toggle = r.node.querySelector('g[data-id="hello.train"] > .sf-toggle');
    assert.ok(toggle);
    toggle.dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
    await until(() => count(r, 'g.sf-collapsed') === 1);
    assert.deepEqual(saved.metadata?.[MIME.workflow], { collapsed: ['hello.train'] });
    assert.equal(count(r, 'g.sf-step'), 2);
    assert.equal(count(r, 'g.sf-collapsed'), 1);
    assert.equal(r.node.querySelector('g.sf-collapsed .sf-label')?.textContent, 'train (3 steps)');
    // Edges into and out of the collapsed box remain.
    assert.equal(count(r, 'path.sf-edge'), 2);

    // A new renderer of the saved output (e.g. after reopening the notebook) starts collapsed.
    const reopened = renderer();
    await reopened.renderModel(model(data(), saved.metadata));
    assert.equal(count(reopened, 'g.sf-collapsed'), 1);
    // And expanding again restores every box.
    reopened.node
      .querySelector('g.sf-collapsed .sf-toggle')
      ?.dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
    await until(() => count(reopened, 'g.sf-step') === 5);
    assert.equal(count(reopened, 'g.sf-step'), 5);
    assert.deepEqual(saved.metadata?.[MIME.workflow], { collapsed: [] });
  });

  it('collapses and expands every sub-workflow at once (the palette commands)', async () => {
    const r = renderer();
    await r.renderModel(model(data()));
    assert.equal(WorkflowRenderer.current !== undefined, true);
    await r.collapseAll(true);
    assert.equal(count(r, 'g.sf-collapsed'), 1); // train holds models: only train shows
    assert.equal(count(r, 'g.sf-step'), 2);
    assert.deepEqual(saved.metadata?.[MIME.workflow], {
      collapsed: ['hello.train', 'hello.train.models']
    });
    await r.collapseAll(false);
    assert.equal(count(r, 'g.sf-step'), 5);
  });

  it('starts big graphs collapsed when the setting asks, unless the output says otherwise', async () => {
    const before = graphSettings.collapseAbove;
    graphSettings.collapseAbove = 4;
    try {
      const r = renderer();
      await r.renderModel(model(data()));
      assert.equal(count(r, 'g.sf-collapsed'), 1);
      const kept = renderer();
      await kept.renderModel(model(data(), { [MIME.workflow]: { collapsed: [] } }));
      assert.equal(count(kept, 'g.sf-collapsed'), 0);
    } finally {
      graphSettings.collapseAbove = before;
    }
  });

  it('by default draws the sub-workflows of a graph over 200 steps collapsed', async () => {
    const parts = Array.from({ length: 21 }, (_, g) =>
      workflow(
        `part-${g}`,
        Array.from({ length: 10 }, (_, i) => step(`s${i}`, { image: 'x' }))
      )
    );
    const r = renderer();
    await r.renderModel(model(workflowBundle(workflow('big', parts)).data[MIME.workflow]));
    await r.whenLaidOut();
    assert.equal(count(r, 'g.sf-collapsed'), 21);
    assert.equal(count(r, 'g.sf-step'), 0);
    assert.match(r.node.textContent ?? '', /21 collapsed/);
    // Expanding one keeps the choice in the output's metadata.
    await r.toggle('big.part-3');
    assert.equal(count(r, 'g.sf-step'), 10);
    assert.equal(
      (saved.metadata?.[MIME.workflow] as { collapsed: string[] }).collapsed.includes('big.part-3'),
      false
    );
  });

  it("draws a quick stage layout while elkjs is busy, then elkjs's layout", async () => {
    const before = graphSettings.quickAfterMs;
    graphSettings.quickAfterMs = 0;
    try {
      // A graph elkjs has not laid out yet (it keeps the last layout for status updates).
      const fresh = workflow('fresh', [...hello.steps, step('extra', { image: 'e' })]);
      const r = renderer();
      await r.renderModel(model(workflowBundle(fresh).data[MIME.workflow]));
      const svg = (): SVGSVGElement | null => r.node.querySelector('svg');
      const summary = (): string =>
        r.node.querySelector('.jp-ScanflowWorkflow-summary')?.textContent ?? '';
      assert.equal(svg()?.dataset.layout, 'stage');
      assert.match(summary(), /arranging the graph/);
      assert.equal(count(r, 'g.sf-step'), 6);
      assert.equal(count(r, 'path.sf-edge'), 4);
      await r.whenLaidOut();
      assert.equal(svg()?.dataset.layout, 'elk');
      assert.doesNotMatch(summary(), /arranging/);
      assert.equal(count(r, 'g.sf-step'), 6);
      assert.equal(count(r, 'path.sf-edge'), 4);
    } finally {
      graphSettings.quickAfterMs = before;
    }
  });

  it('colours nodes by status and summarizes containers; updates in place', async () => {
    const r = renderer();
    const m = model(data({ 'hello.make-data': { status: 'succeeded' } }));
    await r.renderModel(m);
    assert.equal(
      r.node.querySelector('g[data-id="hello.make-data"]')?.getAttribute('data-status'),
      'succeeded'
    );
    assert.equal(
      r.node.querySelector('g[data-id="hello.train"]')?.getAttribute('data-status'),
      null
    );

    // update_display_data: the same renderer gets a new model with more statuses.
    await r.renderModel(
      model(
        data({
          'hello.make-data': { status: 'succeeded' },
          'hello.train.models.linear': { status: 'failed', attempt: 2, message: 'exit code 1' },
          'hello.train.models.mean': { status: 'running' }
        })
      )
    );
    const status = (id: string): string | null | undefined =>
      r.node.querySelector(`g[data-id="${id}"]`)?.getAttribute('data-status');
    assert.equal(status('hello.train.models.linear'), 'failed');
    assert.equal(status('hello.train.models.mean'), 'running');
    assert.equal(status('hello.train.models'), 'failed');
    assert.equal(status('hello.train'), 'failed');
    assert.ok(
      r.node
        .querySelector('g[data-id="hello.train.models.linear"]')
        ?.classList.contains('sf-status-failed')
    );
    const tip = hover(r, 'hello.train.models.linear');
    assert.equal(tip?.querySelector('.jp-ScanflowWorkflow-tooltipStatus')?.textContent, 'failed');
    assert.deepEqual(facts(tip), {
      image: 'a',
      attempt: '2',
      message: 'exit code 1'
    });
    assert.match(r.node.textContent ?? '', /1 succeeded, 1 failed/);
  });

  it('shows the tracker, checkers and improver attached to their workflow', async () => {
    const attached = workflow(
      'watched',
      [
        workflow('inner', [step('a', { image: 'x' })], {
          checkers: [{ name: 'drift', kind: 'drift', detector: 'ks' }]
        })
      ],
      { tracker: { scope: 'workflow' }, improver: { strategy: 'least-confidence' } }
    );
    const r = renderer();
    await r.renderModel(model(workflowBundle(attached).data[MIME.workflow]));
    const header = (id: string): string | null | undefined =>
      r.node.querySelector(`g[data-id="${id}"] > .sf-header`)?.textContent;
    assert.equal(header('watched'), 'watched · tracker · improver (least-confidence)');
    assert.equal(header('watched.inner'), 'inner · checker drift (ks)');
  });

  it('shows a structured tooltip over a node: image, command, resources, status, timings, logs', async () => {
    const run = workflow('run', [
      step('fit', {
        image: 'scanflow/node:20',
        command: ['node', 'fit.js', '--name', 'two words'],
        resources: { cpus: 0.5, memory: '256m', gpus: 1 },
        retries: 2,
        timeout: 60
      }),
      workflow('inner', [step('a', { image: 'x' })])
    ]);
    const r = renderer();
    await r.renderModel(
      model(
        workflowBundle(run, {
          'run.fit': {
            status: 'succeeded',
            attempt: 2,
            startedAt: '2026-11-29T10:00:00.000Z',
            finishedAt: '2026-11-29T10:00:02.500Z',
            durationMs: 2500,
            logs: 'https://logs.example/run/fit'
          }
        }).data[MIME.workflow]
      )
    );
    await r.whenLaidOut();
    // The browser's own tooltip is gone from the page (it stays in exported files).
    assert.equal(count(r, 'svg title'), 0);
    assert.match(r.toSvg(), /<title>step run\.fit/);

    const tip = hover(r, 'run.fit');
    assert.ok(tip && !tip.hidden);
    assert.equal(tip.getAttribute('role'), 'tooltip');
    assert.equal(
      tip.querySelector('.jp-ScanflowWorkflow-tooltipTitle')?.textContent,
      'step run.fit'
    );
    assert.equal(tip.querySelector('.jp-ScanflowWorkflow-tooltipStatus')?.textContent, 'succeeded');
    const shown = facts(tip);
    assert.equal(shown.image, 'scanflow/node:20');
    assert.equal(shown.command, 'node fit.js --name "two words"');
    assert.equal(shown.resources, '0.5 CPUs · 256m memory · 1 GPU');
    assert.equal(shown.retries, 'up to 2');
    assert.equal(shown.timeout, '60 s');
    assert.equal(shown.attempt, '2 of 3');
    assert.equal(shown.took, '2.5 s');
    assert.ok(shown.started && shown.finished);
    const link = tip.querySelector<HTMLAnchorElement>('a.jp-ScanflowWorkflow-tooltipLogs');
    assert.equal(link?.href, 'https://logs.example/run/fit');
    assert.equal(link?.rel, 'noopener noreferrer');

    // A container tells its size; leaving the node hides the tooltip.
    assert.deepEqual(facts(hover(r, 'run.inner')), { steps: '1' });
    r.node
      .querySelector('g[data-id="run.inner"]')!
      .dispatchEvent(new window.MouseEvent('pointerout', { bubbles: true }));
    await until(() => tip.hidden);
    assert.equal(tip.hidden, true);
  });

  it("links a log path to JupyterLab's file opener, resolved from the notebook's folder", async () => {
    const handled: Array<{ path: string; node: HTMLElement }> = [];
    const r = new WorkflowRenderer({
      mimeType: MIME.workflow,
      sanitizer: { sanitize: (s: string) => s },
      resolver: { resolveUrl: async (url: string) => `work/${url}` },
      linkHandler: {
        handleLink: (node: HTMLElement, path: string) => handled.push({ node, path })
      },
      latexTypesetter: null
    } as unknown as IRenderMime.IRendererOptions);
    const bundle = workflowBundle(hello, {
      'hello.report': { status: 'failed', logs: 'logs/report%20run.log' }
    });
    await r.renderModel(model(bundle.data[MIME.workflow]));
    const tip = hover(r, 'hello.report');
    await until(() => handled.length > 0);
    assert.equal(handled.length, 1);
    assert.equal(handled[0].path, 'work/logs/report run.log');
    assert.equal(handled[0].node, tip?.querySelector('a.jp-ScanflowWorkflow-tooltipLogs'));
    assert.equal(handled[0].node.textContent, 'logs/report%20run.log');
  });

  it('puts hostile strings in the tooltip as text, and links only http(s) logs', async () => {
    const evil = workflow('evil', [
      step(XSS, { image: XSS, command: [XSS], description: `<b>${XSS}</b>` })
    ]);
    const r = renderer();
    await r.renderModel(
      model(
        workflowBundle(evil, {
          [`evil.${XSS}`]: { status: 'failed', message: XSS, logs: 'javascript:alert(1)' }
        }).data[MIME.workflow]
      )
    );
    const tip = hover(r, `evil.${XSS}`);
    assert.ok(tip);
    assert.equal(tip.querySelectorAll('img, b, script').length, 0);
    assert.equal(facts(tip).image, XSS);
    assert.equal(facts(tip).message, XSS);
    assert.equal(tip.querySelector('a'), null);
    assert.match(tip.textContent ?? '', /javascript:alert\(1\)/);
  });

  it('renders hostile names as text, never as HTML', async () => {
    const evil = workflow(XSS, [
      step(XSS, { image: '"><script>alert(1)</script>', command: ['<b>x</b>'] }),
      parallel(`${XSS}-group`, [step('a"b', { image: 'x' })])
    ]);
    const r = renderer();
    await r.renderModel(model(workflowBundle(evil).data[MIME.workflow]));
    assert.equal(count(r, 'img'), 0);
    assert.equal(count(r, 'script'), 0);
    assert.equal(count(r, 'b'), 0);
    const labels = [...r.node.querySelectorAll('.sf-label')].map(e => e.textContent);
    assert.ok(labels.includes(XSS));
    assert.equal(
      r.node.querySelector(`g.sf-step[data-id="${XSS}.${XSS}"]`)?.getAttribute('data-kind'),
      'step'
    );

    // The exported SVG is well-formed XML with the names escaped.
    const svg = r.toSvg();
    const doc = new window.DOMParser().parseFromString(svg, 'image/svg+xml');
    assert.equal(doc.getElementsByTagName('parsererror').length, 0);
    assert.equal(doc.getElementsByTagName('img').length, 0);
    assert.equal(doc.getElementsByTagName('script').length, 0);
    assert.ok(svg.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(svg.includes('<style>'));
  });

  it('draws a service as a pill with its port and replicas; ready, it shows running and healthy', async () => {
    const serving = workflow('serving', [
      step('train', { image: 'a' }),
      service('api', {
        image: 'b',
        command: ['node', 'serve.js'],
        port: 8080,
        replicas: 2,
        healthcheck: { path: '/health' }
      }),
      step('call', { image: 'c' })
    ]);
    const bundle = (status?: Record<string, StepState>): unknown =>
      workflowBundle(serving, status).data[MIME.workflow];
    const r = renderer();
    await r.renderModel(model(bundle({ 'serving.api': { status: 'running', attempt: 1 } })));
    const api = r.node.querySelector('g[data-id="serving.api"]');
    assert.equal(api?.getAttribute('data-kind'), 'service');
    assert.ok(api?.classList.contains('sf-service'));
    assert.equal(api?.querySelector('.sf-service-badge text')?.textContent, ':8080 ×2');
    assert.ok(!api?.querySelector('.sf-service-badge')?.classList.contains('sf-healthy'));
    // A pill: its corners are rounded to half its height, where a step's box keeps small corners.
    const rect = api?.querySelector(':scope > rect');
    assert.equal(Number(rect?.getAttribute('rx')), Number(rect?.getAttribute('height')) / 2);
    assert.equal(
      r.node.querySelector('g[data-id="serving.train"] > rect')?.getAttribute('rx'),
      '4'
    );
    assert.match(r.node.textContent ?? '', /2 steps · 1 service · 1 workflows/);

    // Ready: drawn as running and healthy (never as finished), with where it is reached.
    await r.renderModel(
      model(
        bundle({
          'serving.train': { status: 'succeeded' },
          'serving.api': {
            status: 'ready',
            endpoints: ['http://127.0.0.1:8080', 'http://127.0.0.1:32768']
          },
          'serving.call': { status: 'succeeded' }
        })
      )
    );
    const ready = r.node.querySelector('g[data-id="serving.api"]');
    assert.equal(ready?.getAttribute('data-status'), 'ready');
    assert.ok(ready?.querySelector('.sf-service-badge')?.classList.contains('sf-healthy'));
    // The workflow that holds a ready service is still running.
    assert.equal(
      r.node.querySelector('g[data-id="serving"]')?.getAttribute('data-status'),
      'running'
    );
    const tip = hover(r, 'serving.api');
    assert.equal(
      tip?.querySelector('.jp-ScanflowWorkflow-tooltipStatus')?.textContent,
      'running, healthy'
    );
    const shown = facts(tip);
    assert.equal(shown.port, '8080 · 2 replicas');
    assert.equal(shown.healthcheck, 'GET /health');
    assert.equal(shown.endpoint, 'http://127.0.0.1:32768');
    assert.match(r.node.textContent ?? '', /2 succeeded, 1 serving/);
    assert.match(r.toSvg(), /:8080 ×2/);
  });
});
