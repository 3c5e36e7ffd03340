import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { readBundleData, type DriftBundleData } from '../notebook/bundles';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const HEIGHT = 180;
const PAD = { left: 44, right: 12, top: 10, bottom: 24 };

/** What src/check adds to the shared drift shape (all optional here). */
interface DriftData extends DriftBundleData {
  scoreLabel?: string;
  verdict?: { isDrift?: boolean; pValue?: number; score?: number; threshold?: number };
  alerts?: Array<{ t: number; distance?: number; pValue?: number }>;
}

/**
 * The drift panel for `application/vnd.scanflow.drift+json`: the score timeline with its threshold
 * band (scores above it are drift) and alert markers, drawn as our own SVG on theme colours, and
 * the per-feature p-values of the latest batch, smallest first. Every string is set as text.
 */
export class DriftRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private readonly options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('jp-ScanflowDrift');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = readBundleData(model.data[this.options.mimeType]) as DriftData | undefined;
    if (!data || !Array.isArray(data.points)) {
      this.node.replaceChildren(
        text('div', 'jp-ScanflowDrift-message', 'No drift report to show.')
      );
      return;
    }
    const parts: Element[] = [text('div', 'jp-ScanflowDrift-header', header(data))];
    if (data.points.length > 0) parts.push(timeline(data));
    if (data.features && data.features.length > 0) parts.push(features(data.features));
    this.node.replaceChildren(...parts);
  }
}

function header(data: DriftData): string {
  const alerts = data.points.filter(p => p.drift).length;
  const verdict =
    data.verdict?.isDrift === undefined ? '' : data.verdict.isDrift ? ' · DRIFT' : ' · no drift';
  const p =
    typeof data.verdict?.pValue === 'number' ? ` (p = ${data.verdict.pValue.toPrecision(3)})` : '';
  return (
    `${data.checker}${data.detector ? ` (${data.detector})` : ''}${verdict}${p} · ` +
    `${data.points.length} batches, ${alerts} over the threshold`
  );
}

function timeline(data: DriftData): SVGSVGElement {
  const scores = data.points.map(p => p.score).filter(Number.isFinite);
  const threshold = data.threshold ?? data.verdict?.threshold;
  const top = Math.max(...scores, threshold ?? -Infinity) * 1.1 || 1;
  const bottom = Math.min(0, ...scores);
  const n = data.points.length;
  const x = (i: number): number =>
    PAD.left + (n <= 1 ? 0.5 : i / (n - 1)) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number): number =>
    PAD.top + (1 - (v - bottom) / (top - bottom || 1)) * (HEIGHT - PAD.top - PAD.bottom);
  const svg = svgEl('svg', {
    class: 'jp-ScanflowDrift-timeline',
    width: WIDTH,
    height: HEIGHT,
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img'
  }) as SVGSVGElement;
  svg.appendChild(svgEl('title', {}, `${data.scoreLabel ?? 'score'} per batch`));
  if (threshold !== undefined && Number.isFinite(threshold)) {
    svg.appendChild(
      svgEl('rect', {
        class: 'sf-band',
        x: PAD.left,
        y: PAD.top,
        width: WIDTH - PAD.left - PAD.right,
        height: Math.max(0, y(threshold) - PAD.top)
      })
    );
    svg.appendChild(
      svgEl('line', {
        class: 'sf-threshold',
        x1: PAD.left,
        x2: WIDTH - PAD.right,
        y1: y(threshold),
        y2: y(threshold)
      })
    );
    svg.appendChild(
      svgEl(
        'text',
        { class: 'sf-axis', x: WIDTH - PAD.right, y: y(threshold) - 3, 'text-anchor': 'end' },
        `threshold ${round(threshold)}`
      )
    );
  }
  svg.appendChild(
    svgEl('line', {
      class: 'sf-axis-line',
      x1: PAD.left,
      x2: PAD.left,
      y1: PAD.top,
      y2: HEIGHT - PAD.bottom
    })
  );
  svg.appendChild(
    svgEl('line', {
      class: 'sf-axis-line',
      x1: PAD.left,
      x2: WIDTH - PAD.right,
      y1: HEIGHT - PAD.bottom,
      y2: HEIGHT - PAD.bottom
    })
  );
  svg.appendChild(
    svgEl(
      'text',
      { class: 'sf-axis', x: PAD.left - 4, y: y(top) + 4, 'text-anchor': 'end' },
      String(round(top))
    )
  );
  svg.appendChild(
    svgEl(
      'text',
      { class: 'sf-axis', x: PAD.left - 4, y: y(bottom), 'text-anchor': 'end' },
      String(round(bottom))
    )
  );
  svg.appendChild(
    svgEl(
      'text',
      { class: 'sf-axis', x: PAD.left, y: HEIGHT - 6 },
      `${data.scoreLabel ?? 'score'} · batch 1 to ${n}`
    )
  );
  const d = data.points
    .map((p, i) =>
      Number.isFinite(p.score) ? `${i ? 'L' : 'M'}${round(x(i))} ${round(y(p.score))}` : ''
    )
    .join(' ');
  svg.appendChild(svgEl('path', { class: 'sf-score', d }));
  data.points.forEach((p, i) => {
    if (!Number.isFinite(p.score)) return;
    const dot = svgEl('circle', {
      class: p.drift ? 'sf-point sf-alert' : 'sf-point',
      cx: round(x(i)),
      cy: round(y(p.score)),
      r: p.drift ? 4 : 2.5
    });
    dot.appendChild(
      svgEl('title', {}, `batch ${String(p.t)}: ${round(p.score)}${p.drift ? ' (drift)' : ''}`)
    );
    svg.appendChild(dot);
  });
  return svg;
}

function features(list: Array<{ name: string; pValue: number }>): HTMLElement {
  const table = text('table', 'jp-ScanflowDrift-features') as HTMLTableElement;
  const head = document.createElement('tr');
  head.append(text('th', '', 'feature'), text('th', '', 'p-value'));
  table.appendChild(head);
  for (const f of [...list].sort((a, b) => a.pValue - b.pValue)) {
    const row = document.createElement('tr');
    if (f.pValue < 0.05) row.className = 'jp-mod-drift';
    row.append(text('td', '', f.name), text('td', '', f.pValue.toPrecision(3)));
    table.appendChild(row);
  }
  return table;
}

function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}

function svgEl(tag: string, attrs: Record<string, string | number>, content?: string): Element {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (content !== undefined) e.textContent = content;
  return e;
}

function text(tag: string, className: string, content: string = ''): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  e.textContent = content;
  return e;
}
