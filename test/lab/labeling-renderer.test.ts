import { window } from './dom';
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { MimeModel } from '@jupyterlab/rendermime/lib/mimemodel';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { MIME } from '../../src/mime';
import { labelingBundle, type LabelingSample } from '../../src/notebook/bundles';
import { LabelingRenderer, labelingServices } from '../../src/lab/labeling-renderer';

const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const samples: LabelingSample[] = [
  { id: 's0', image: PNG, guess: '3', score: 0.41 },
  { id: 's1', image: PNG, guess: '5', score: 0.52 },
  { id: 's2', image: 'javascript:alert(1)', guess: '<b>7</b>' },
  { id: 's3', row: { age: 41, '<i>x</i>': '<script>alert(1)</script>' } }
];
const classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** The Contents API as the widget sees it: files written land here, by server path. */
const written = new Map<string, string>();
labelingServices.store = {
  save: async (path, text) => {
    written.set(path, text);
  },
  user: () => 'ana'
};

function render(extra: Record<string, unknown> = {}): Promise<LabelingRenderer> {
  const data = {
    ...(labelingBundle({ session: 'round-1', folder: 'sessions/round-1', classes, samples }).data[
      MIME.labeling
    ] as object),
    ...extra
  };
  const renderer = new LabelingRenderer({
    mimeType: MIME.labeling,
    sanitizer: { sanitize: (s: string) => s },
    resolver: {
      // As for a notebook at work/demo.ipynb: relative paths resolve against its folder.
      resolveUrl: async (url: string) => `work/${url}`,
      getDownloadUrl: async (url: string) => url
    },
    linkHandler: null,
    latexTypesetter: null
  } as unknown as IRenderMime.IRendererOptions);
  const model = new MimeModel({
    data: { [MIME.labeling]: data } as IRenderMime.IMimeModel['data']
  });
  return renderer.renderModel(model).then(() => renderer);
}

const key = (r: LabelingRenderer, k: string): void => {
  r.node.dispatchEvent(new window.KeyboardEvent('keydown', { key: k, bubbles: true }));
};
const badge = (r: LabelingRenderer, id: string): string | null | undefined =>
  r.node.querySelector(`.jp-ScanflowLabeling-card[data-id="${id}"] .jp-ScanflowLabeling-label`)
    ?.textContent;
const currentId = (r: LabelingRenderer): string | undefined =>
  r.node.querySelector('.jp-ScanflowLabeling-card.jp-mod-current')?.getAttribute('data-id') ??
  undefined;

describe('the labeling widget', () => {
  beforeEach(() => written.clear());

  it('shows a grid of samples with guesses, scores and class buttons', async () => {
    const r = await render();
    assert.equal(r.node.querySelectorAll('.jp-ScanflowLabeling-card').length, 4);
    assert.equal(r.node.querySelectorAll('[data-class]').length, 10);
    assert.match(r.node.textContent ?? '', /s0 · guess 3 · score 0\.41/);
    assert.match(r.node.textContent ?? '', /0 of 4 labeled/);
    assert.equal(currentId(r), 's0');
  });

  it('labels with digit keys, skips, undoes, and moves on to the next sample', async () => {
    const r = await render();
    key(r, '3');
    assert.equal(badge(r, 's0'), '→ 3');
    assert.equal(currentId(r), 's1');
    key(r, 's');
    assert.equal(badge(r, 's1'), '→ skipped');
    key(r, 'Backspace');
    assert.equal(badge(r, 's1'), '');
    assert.equal(currentId(r), 's1');
    r.node.querySelector<HTMLButtonElement>('[data-class="5"]')?.click();
    assert.equal(badge(r, 's1'), '→ 5');
    key(r, 'ArrowLeft');
    assert.equal(currentId(r), 's1');
    assert.match(r.node.textContent ?? '', /2 of 4 labeled · 2 not submitted/);
  });

  it('submits one label file per sample through the Contents API, in the session folder', async () => {
    const r = await render();
    key(r, '3');
    key(r, '5');
    key(r, 's');
    await r.submit();
    assert.equal(written.size, 3);
    const files = [...written].map(([path, text]) => ({ path, label: JSON.parse(text) }));
    for (const { path } of files) {
      assert.match(path, /^work\/sessions\/round-1\/labels\/s\d\.\d+\.[a-z0-9]+\.json$/);
    }
    const bySample = Object.fromEntries(files.map(f => [f.label.sample, f.label]));
    assert.equal(bySample.s0.label, '3');
    assert.equal(bySample.s1.label, '5');
    assert.equal(bySample.s2.label, null);
    assert.equal(bySample.s0.by, 'ana');
    assert.ok(!Number.isNaN(Date.parse(bySample.s0.at)));
    assert.equal(badge(r, 's0'), '✓ 3');
    assert.match(r.node.textContent ?? '', /Saved 3 labels to work\/sessions\/round-1\/labels\//);
    // Saved labels are final: undo has nothing left to take back, and no file is written twice.
    key(r, 'Backspace');
    assert.equal(badge(r, 's0'), '✓ 3');
    await r.submit();
    assert.equal(written.size, 3);
  });

  it('shows the reason when the kernel refuses a submitted label', async () => {
    const store = labelingServices.store!;
    labelingServices.store = {
      ...store,
      read: async folder => {
        if (folder === 'work/sessions/round-1/labels') return {};
        assert.equal(folder, 'work/sessions/round-1/rejected');
        if (written.size === 0) return {}; // the widget opens: nothing refused yet
        const name = [...written.keys()]
          .find(p => p.includes('/s0.'))!
          .split('/')
          .pop()!;
        return { [name]: JSON.stringify({ reason: 'sample s0 already has a label' }) };
      }
    };
    try {
      const r = await render();
      key(r, '3');
      key(r, '4');
      await r.submit();
      assert.equal(badge(r, 's0'), '✓ 3');
      await new Promise(resolve => setTimeout(resolve, 1300));
      assert.equal(badge(r, 's0'), '! 3');
      assert.equal(badge(r, 's1'), '✓ 4');
      const title = r.node
        .querySelector('[data-id="s0"] .jp-ScanflowLabeling-label')
        ?.getAttribute('title');
      assert.equal(title, 'sample s0 already has a label');
      assert.match(r.node.textContent ?? '', /The kernel refused 1 label/);
    } finally {
      labelingServices.store = store;
    }
  });

  it('shows labels the kernel already has as saved, and starts at the first open sample', async () => {
    const r = await render({
      labels: { s0: { label: '2', by: 'bo', at: '2026-11-29T14:00:00Z' } }
    });
    assert.equal(badge(r, 's0'), '✓ 2');
    assert.equal(currentId(r), 's1');
  });

  it('re-reads the labels saved in the session folder when reopened, and marks them saved', async () => {
    const store = labelingServices.store!;
    const file = (sample: string, label: string | null, at: string): string =>
      JSON.stringify({ sample, label, by: 'ana', at });
    const folders: Record<string, Record<string, string>> = {
      'work/sessions/round-1/labels': {
        's0.1.a.json': file('s0', '3', '2026-11-29T14:00:01.000Z'),
        // Two files for s1: the earlier one counts, as in the kernel.
        's1.2.b.json': file('s1', '8', '2026-11-29T14:00:09.000Z'),
        's1.1.c.json': file('s1', '5', '2026-11-29T14:00:02.000Z'),
        'junk.json': '{not json',
        'other.json': file('not-in-session', '1', '2026-11-29T14:00:03.000Z')
      },
      'work/sessions/round-1/rejected': {
        's2.1.d.json': JSON.stringify({
          document: { sample: 's2', label: '<b>7</b>', by: 'ana', at: 'x' },
          reason: 'label <b>7</b> is not a class'
        })
      }
    };
    labelingServices.store = { ...store, read: async folder => folders[folder] ?? {} };
    try {
      const r = await render();
      assert.equal(badge(r, 's0'), '✓ 3');
      assert.equal(badge(r, 's1'), '✓ 5');
      assert.equal(badge(r, 's2'), '! <b>7</b>');
      assert.equal(
        r.node.querySelector('[data-id="s2"] .jp-ScanflowLabeling-label')?.getAttribute('title'),
        'label <b>7</b> is not a class'
      );
      assert.equal(r.node.querySelectorAll('b').length, 0);
      assert.equal(
        r.node.querySelectorAll('.jp-ScanflowLabeling-card[data-state="saved"]').length,
        2
      );
      assert.match(r.node.textContent ?? '', /3 of 4 labeled · 1 not submitted/);
      // Labeling goes on at the first sample without a label; saved ones are not written again.
      assert.equal(currentId(r), 's3');
      key(r, '1');
      await r.submit();
      assert.deepEqual(
        [...written.keys()].map(path => path.split('/').pop()!.split('.')[0]).sort(),
        ['s2', 's3']
      );
    } finally {
      labelingServices.store = store;
    }
  });

  it('renders hostile strings as text and only data-URL images', async () => {
    const r = await render();
    const images = [...r.node.querySelectorAll('img')].map(img => img.getAttribute('src'));
    assert.deepEqual(images, [PNG, PNG]);
    assert.equal(r.node.querySelectorAll('script, b, i').length, 0);
    assert.match(r.node.textContent ?? '', /guess <b>7<\/b>/);
    assert.match(r.node.textContent ?? '', /<script>alert\(1\)<\/script>/);
  });
});
