import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { readBundleData, type TrackerBundleData } from '../notebook/bundles';

/** JupyterLab's own vega-lite renderer, reached through the rendermime registry (set by a plugin). */
export interface ChartRendering {
  createRenderer(mimeType: string): IRenderMime.IRenderer;
}

export const trackerServices: {
  charts?: ChartRendering;
  /** A vega theme for the charts ('auto': JupyterLab's choice); set from the settings. */
  chartTheme: string;
} = { chartTheme: 'auto' };

const VEGA_LITE = 'application/vnd.vegalite.v5+json';

type Run = TrackerBundleData['runs'][number];

/** What src/track adds to the shared tracker shape (all optional here). */
interface TrackerData extends TrackerBundleData {
  view?: string;
  charts?: Array<Record<string, unknown>>;
  diff?: Array<{ key: string; values: Record<string, string | null> }>;
}

interface Column {
  key: string;
  label: string;
  value: (run: Run) => string | number | undefined;
}

/**
 * The tracker panel for `application/vnd.scanflow.tracker+json`: the runs table (click a header to
 * sort, type to filter), a params diff between the runs ticked in the table, and the bundle's
 * vega-lite charts drawn by JupyterLab's own vega renderer. Every string is set as text.
 */
export class TrackerRenderer extends Widget implements IRenderMime.IRenderer {
  private data?: TrackerData;
  private sortKey = 'startTime';
  private descending = true;
  private filter = '';
  private readonly selected = new Set<string>();
  private readonly charts: IRenderMime.IRenderer[] = [];
  private readonly header = element('div', 'jp-ScanflowTracker-header');
  private readonly search = document.createElement('input');
  private readonly table = element('table', 'jp-ScanflowTracker-runs');
  private readonly diff = element('div', 'jp-ScanflowTracker-diff');
  private readonly chartBox = element('div', 'jp-ScanflowTracker-charts');

  constructor(private readonly options: Pick<IRenderMime.IRendererOptions, 'mimeType'>) {
    super();
    this.addClass('jp-ScanflowTracker');
    this.search.type = 'search';
    this.search.placeholder = 'Filter runs (name, status, params)';
    this.search.className = 'jp-ScanflowTracker-filter jp-mod-styled';
    this.search.addEventListener('input', () => {
      this.filter = this.search.value.trim().toLowerCase();
      this.drawTable();
    });
    this.node.append(this.header, this.search, this.table, this.diff, this.chartBox);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const value = readBundleData(model.data[this.options.mimeType]) as TrackerData | undefined;
    if (!value || !Array.isArray(value.runs)) {
      this.data = undefined;
      this.header.textContent = 'No tracker data to show.';
      this.table.replaceChildren();
      return;
    }
    this.data = value;
    const where = [value.experiment ? `experiment ${value.experiment}` : '', value.url ?? '']
      .filter(Boolean)
      .join(' · ');
    this.header.textContent = `${value.runs.length} runs${where ? ` · ${where}` : ''}`;
    this.drawTable();
    await this.drawCharts(value.charts ?? []);
  }

  private columns(runs: Run[]): Column[] {
    const metrics = [...new Set(runs.flatMap(r => Object.keys(r.metrics ?? {})))].sort();
    const params = [...new Set(runs.flatMap(r => Object.keys(r.params ?? {})))].sort();
    return [
      { key: 'name', label: 'run', value: r => r.name ?? r.id },
      { key: 'status', label: 'status', value: r => r.status },
      {
        key: 'startTime',
        label: 'started',
        value: r => r.startTime
      },
      ...metrics.map(m => ({ key: `m:${m}`, label: m, value: (r: Run) => r.metrics?.[m] })),
      ...params.map(p => ({
        key: `p:${p}`,
        label: `${p} (param)`,
        value: (r: Run) => r.params?.[p]
      }))
    ];
  }

  private drawTable(): void {
    const data = this.data;
    if (!data) return;
    const columns = this.columns(data.runs);
    const sortBy = columns.find(c => c.key === this.sortKey) ?? columns[0];
    const rows = data.runs
      .filter(run => !this.filter || searchText(run).includes(this.filter))
      .sort((a, b) => compare(sortBy.value(a), sortBy.value(b)) * (this.descending ? -1 : 1));

    const head = document.createElement('tr');
    head.appendChild(element('th', '', ''));
    for (const column of columns) {
      const th = element('th', 'jp-ScanflowTracker-sortable', column.label);
      th.dataset.key = column.key;
      if (column.key === sortBy.key) {
        th.textContent = `${column.label} ${this.descending ? '▼' : '▲'}`;
        th.setAttribute('aria-sort', this.descending ? 'descending' : 'ascending');
      }
      th.addEventListener('click', () => {
        this.descending = this.sortKey === column.key ? !this.descending : false;
        this.sortKey = column.key;
        this.drawTable();
      });
      head.appendChild(th);
    }
    const body = rows.map(run => {
      const tr = document.createElement('tr');
      tr.dataset.run = run.id;
      const pick = document.createElement('input');
      pick.type = 'checkbox';
      pick.checked = this.selected.has(run.id);
      pick.title = 'Compare the params of the ticked runs';
      pick.addEventListener('change', () => {
        if (pick.checked) this.selected.add(run.id);
        else this.selected.delete(run.id);
        this.drawDiff();
      });
      const cell = element('td', '');
      cell.appendChild(pick);
      tr.appendChild(cell);
      for (const column of columns) {
        const value = column.value(run);
        tr.appendChild(element('td', '', format(column.key, value)));
      }
      return tr;
    });
    this.table.replaceChildren(head, ...body);
    this.drawDiff();
  }

  /** Params that differ between the ticked runs (or the bundle's own diff when none are ticked). */
  private drawDiff(): void {
    const data = this.data;
    if (!data) return;
    const runs = data.runs.filter(r => this.selected.has(r.id));
    let diff = data.diff ?? [];
    if (runs.length >= 2) {
      const keys = [...new Set(runs.flatMap(r => Object.keys(r.params ?? {})))].sort();
      diff = keys
        .map(key => ({
          key,
          values: Object.fromEntries(runs.map(r => [r.id, r.params?.[key] ?? null]))
        }))
        .filter(d => new Set(Object.values(d.values)).size > 1);
    }
    if (diff.length === 0) {
      this.diff.replaceChildren(
        element(
          'div',
          'jp-ScanflowTracker-hint',
          runs.length >= 2
            ? 'The ticked runs have the same params.'
            : 'Tick two or more runs to compare their params.'
        )
      );
      return;
    }
    const ids = Object.keys(diff[0].values);
    const table = element('table', 'jp-ScanflowTracker-difftable');
    const head = document.createElement('tr');
    head.appendChild(element('th', '', 'param'));
    ids.forEach(id => head.appendChild(element('th', '', nameOf(data, id))));
    table.appendChild(head);
    for (const d of diff) {
      const tr = document.createElement('tr');
      tr.appendChild(element('td', '', d.key));
      ids.forEach(id => tr.appendChild(element('td', '', d.values[id] ?? '—')));
      table.appendChild(tr);
    }
    this.diff.replaceChildren(
      element('div', 'jp-ScanflowTracker-hint', 'Params that differ'),
      table
    );
  }

  private async drawCharts(specs: Array<Record<string, unknown>>): Promise<void> {
    this.charts.splice(0).forEach(chart => chart.dispose());
    this.chartBox.replaceChildren();
    const charts = trackerServices.charts;
    if (!charts || specs.length === 0) return;
    for (const spec of specs) {
      try {
        const renderer = charts.createRenderer(VEGA_LITE);
        this.charts.push(renderer);
        this.chartBox.appendChild(renderer.node);
        // JupyterLab's vega renderer reads vega-embed options from the output's metadata.
        const theme = trackerServices.chartTheme;
        const metadata = theme === 'auto' ? {} : { [VEGA_LITE]: { embed_options: { theme } } };
        await renderer.renderModel({
          trusted: true,
          data: { [VEGA_LITE]: spec as IRenderMime.IMimeModel['data'][string] },
          metadata,
          setData: () => undefined
        });
      } catch (error) {
        this.chartBox.appendChild(
          element('div', 'jp-ScanflowTracker-hint', `chart failed: ${(error as Error).message}`)
        );
      }
    }
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.charts.splice(0).forEach(chart => chart.dispose());
    super.dispose();
  }
}

function nameOf(data: TrackerData, id: string): string {
  const run = data.runs.find(r => r.id === id);
  return run?.name ?? id;
}

function searchText(run: Run): string {
  return [
    run.name,
    run.id,
    run.status,
    ...Object.entries(run.params ?? {}).map(([k, v]) => `${k}=${v}`)
  ]
    .join(' ')
    .toLowerCase();
}

function compare(a: string | number | undefined, b: string | number | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function format(key: string, value: string | number | undefined): string {
  if (value === undefined) return '';
  if (key === 'startTime' && typeof value === 'number') {
    return new Date(value).toISOString().replace('T', ' ').slice(0, 19);
  }
  if (typeof value === 'number')
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  return value;
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
