import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { readBundleData, type LabelingBundleData, type LabelingSample } from '../notebook/bundles';

/** Where labels are written: JupyterLab's Contents API (set by the labeling plugin). */
export interface LabelStore {
  /** Writes a whole text file at a server path (relative to the server's root). */
  save(path: string, text: string): Promise<void>;
  /** Who labels: the Jupyter user's name. */
  user(): string;
  /** The text files in a folder, by name; empty when the folder does not exist. */
  read?(folder: string): Promise<Record<string, string>>;
}

export const labelingServices: { store?: LabelStore } = {};

/** The labeling bundle as src/improve writes it: the bridge's shape plus labels given so far. */
interface LabelingData extends LabelingBundleData {
  labelsDir?: string;
  rejectedDir?: string;
  labels?: Record<string, { label: string | null; by?: string; at?: string }>;
}

interface SampleState {
  label: string | null;
  /**
   * pending: given here, not written yet; saving; saved: written to the session folder; error:
   * not written, or refused by the kernel (then `error` says why).
   */
  state: 'pending' | 'saving' | 'saved' | 'error';
  error?: string;
}

const IMAGE_URL = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/;

/**
 * The labeling widget for `application/vnd.scanflow.labeling+json`: a grid of the queried samples
 * with the model's guess and score; class buttons and digit keys label the current sample, `s`
 * skips it, Backspace (or `u`) undoes, arrows move, Enter (or Submit) writes the labels, one JSON
 * file each, through the Contents API into the session's `labels/` folder (src/improve/README.md).
 * Every string from the bundle is set as text; images are only ever base64 data URLs.
 */
export class LabelingRenderer extends Widget implements IRenderMime.IRenderer {
  private data?: LabelingData;
  private states = new Map<string, SampleState>();
  private undoStack: string[] = [];
  private current = 0;
  private readonly header: HTMLElement;
  private readonly progress: HTMLElement;
  private readonly classBar: HTMLElement;
  private readonly actions: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly message: HTMLElement;

  constructor(private readonly options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('jp-ScanflowLabeling');
    this.node.tabIndex = 0;
    // Digit keys label here; JupyterLab's notebook shortcuts must not see them.
    this.node.dataset.lmSuppressShortcuts = 'true';
    this.header = element('div', 'jp-ScanflowLabeling-header');
    this.progress = element('div', 'jp-ScanflowLabeling-progress');
    this.classBar = element('div', 'jp-ScanflowLabeling-classes');
    this.actions = element('div', 'jp-ScanflowLabeling-actions');
    this.grid = element('div', 'jp-ScanflowLabeling-grid');
    this.message = element('div', 'jp-ScanflowLabeling-message');
    this.actions.append(
      button('Undo', 'Undo the last label not yet submitted (Backspace)', () => this.undo()),
      button('Skip', 'Cannot tell: skip this sample (s)', () => this.label(null)),
      button('Previous', 'Previous sample (←)', () => this.move(-1)),
      button('Next', 'Next sample (→)', () => this.move(1)),
      button('Submit', 'Write the labels to the session folder (Enter)', () => void this.submit())
    );
    this.node.append(
      this.header,
      this.progress,
      this.classBar,
      this.actions,
      this.grid,
      this.message
    );
    this.node.addEventListener('keydown', this.onKey);
    this.grid.addEventListener('click', this.onCardClick);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const value = readBundleData(model.data[this.options.mimeType]) as LabelingData | undefined;
    if (!value || !Array.isArray(value.samples) || !Array.isArray(value.classes)) {
      this.data = undefined;
      this.node.replaceChildren(
        element('div', 'jp-ScanflowLabeling-message', 'No labeling session to show.')
      );
      return;
    }
    const sameSession = this.data?.session === value.session;
    this.data = value;
    if (!sameSession) {
      this.states = new Map();
      this.undoStack = [];
      this.current = 0;
    }
    // Labels the kernel already has are saved, whatever this widget did.
    for (const [id, given] of Object.entries(value.labels ?? {})) {
      this.states.set(id, { label: given.label, state: 'saved' });
    }
    if (!sameSession) this.current = Math.max(0, this.nextOpen(0));
    this.draw();
    // A reopened notebook or a reloaded page: the session folder knows what was saved since.
    if (!sameSession) await this.readSaved(value);
  }

  /**
   * Marks the labels found in the session's labels/ folder as saved, and those in rejected/ with
   * the kernel's reason, unless this widget holds a newer, unsubmitted label for the sample.
   */
  private async readSaved(data: LabelingData): Promise<void> {
    const store = labelingServices.store;
    if (!store?.read) return;
    const folder = await this.folderPath(data.folder);
    const [labels, rejected] = await Promise.all([
      store.read(`${folder}/${data.labelsDir ?? 'labels'}`),
      store.read(`${folder}/${data.rejectedDir ?? 'rejected'}`)
    ]);
    if (this.data !== data) return; // another session arrived meanwhile
    const samples = new Set(data.samples.map(sample => sample.id));
    const found = new Map<string, SampleState & { at: string }>();
    for (const text of Object.values(rejected)) {
      const refused = parseJson(text) as { document?: unknown; reason?: unknown } | undefined;
      const label = labelFile(refused?.document);
      if (label && samples.has(label.sample)) {
        const reason = typeof refused?.reason === 'string' ? refused.reason : 'refused';
        found.set(label.sample, { label: label.label, state: 'error', error: reason, at: '' });
      }
    }
    for (const text of Object.values(labels)) {
      const label = labelFile(parseJson(text));
      if (!label || !samples.has(label.sample)) continue;
      const earlier = found.get(label.sample);
      // Two files for one sample: the earlier `at` wins, as in the kernel (src/improve/README.md).
      if (earlier?.state === 'saved' && earlier.at <= label.at) continue;
      found.set(label.sample, { label: label.label, state: 'saved', at: label.at });
    }
    for (const [id, { label, state, error }] of found) {
      const mine = this.states.get(id);
      if (mine && (mine.state === 'pending' || mine.state === 'saving')) continue;
      if (mine?.state === 'saved' && state === 'error') continue;
      this.states.set(id, error === undefined ? { label, state } : { label, state, error });
    }
    if (found.size === 0) return;
    const current = data.samples[this.current];
    if (current && this.states.has(current.id))
      this.current = Math.max(0, this.nextOpen(this.current));
    this.draw();
  }

  /** Labels the current sample (`null`: skip) and moves to the next one without a label. */
  label(label: string | null): void {
    const sample = this.data?.samples[this.current];
    if (!sample) return;
    const before = this.states.get(sample.id);
    if (before && before.state !== 'pending' && before.state !== 'error') {
      this.say(`${sample.id} is already saved as ${before.label ?? 'skipped'}.`);
      return;
    }
    this.states.set(sample.id, { label, state: 'pending' });
    this.undoStack.push(sample.id);
    const next = this.nextOpen(this.current + 1);
    if (next >= 0) this.current = next;
    this.draw();
  }

  /** Takes back the last label that was not submitted yet. */
  undo(): void {
    const id = this.undoStack.pop();
    if (!id || !this.data) return;
    this.states.delete(id);
    this.current = Math.max(
      0,
      this.data.samples.findIndex(s => s.id === id)
    );
    this.draw();
  }

  move(step: number): void {
    if (!this.data) return;
    const count = this.data.samples.length;
    this.current = Math.min(count - 1, Math.max(0, this.current + step));
    this.draw();
  }

  /** Writes every pending label as its own file in `<folder>/labels/`. */
  async submit(): Promise<void> {
    const data = this.data;
    const store = labelingServices.store;
    if (!data) return;
    if (!store) {
      this.say('Cannot save: the Contents API is not available.');
      return;
    }
    const folder = await this.folderPath(data.folder);
    const labelsDir = data.labelsDir ?? 'labels';
    const pending = [...this.states].filter(
      ([, s]) => s.state === 'pending' || s.state === 'error'
    );
    if (pending.length === 0) {
      this.say('Nothing to submit.');
      return;
    }
    for (const [, s] of pending) s.state = 'saving';
    this.draw();
    const by = store.user();
    await Promise.all(
      pending.map(async ([id, s]) => {
        const at = new Date().toISOString();
        const name = `${id}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.json`;
        const text = `${JSON.stringify({ sample: id, label: s.label, by, at })}\n`;
        try {
          await store.save(`${folder}/${labelsDir}/${name}`, text);
          s.state = 'saved';
        } catch (error) {
          s.state = 'error';
          s.error = (error as Error).message;
        }
      })
    );
    this.undoStack = this.undoStack.filter(id => this.states.get(id)?.state === 'pending');
    // The kernel moves labels it refuses to rejected/ with the reason, within a quarter second.
    const written = pending.filter(([, s]) => s.state === 'saved').map(([id]) => id);
    if (written.length && store.read) {
      setTimeout(() => void this.checkRejected(folder, written), 1000);
    }
    const failed = pending.filter(([, s]) => s.state === 'error').length;
    this.say(
      failed
        ? `${failed} of ${pending.length} labels could not be saved; submit again to retry.`
        : `Saved ${pending.length} label${pending.length === 1 ? '' : 's'} to ${folder}/${labelsDir}/.`
    );
    this.draw();
  }

  /** Marks submitted labels that the kernel refused, with its reason. */
  private async checkRejected(folder: string, ids: string[]): Promise<void> {
    const files = await labelingServices.store?.read?.(
      `${folder}/${this.data?.rejectedDir ?? 'rejected'}`
    );
    let refused = 0;
    for (const [name, text] of Object.entries(files ?? {})) {
      const id = ids.find(sample => name.startsWith(`${sample}.`));
      const state = id === undefined ? undefined : this.states.get(id);
      if (!state || state.state !== 'saved') continue;
      let reason = 'refused by the kernel';
      try {
        reason = String((JSON.parse(text) as { reason?: unknown }).reason ?? reason);
      } catch {
        // keep the default reason
      }
      state.state = 'error';
      state.error = reason;
      refused++;
    }
    if (refused) {
      this.say(
        `The kernel refused ${refused} label${refused === 1 ? '' : 's'}: hover them for why.`
      );
      this.draw();
    }
  }

  /** The session folder as a server path: relative folders are relative to the notebook. */
  private async folderPath(folder: string): Promise<string> {
    const resolver = this.options.resolver;
    if (!resolver || folder.startsWith('/')) return folder.replace(/\/+$/, '');
    const resolved = await resolver.resolveUrl(folder);
    return decodeURIComponent(resolved).replace(/^\/+/, '').replace(/\/+$/, '');
  }

  private nextOpen(from: number): number {
    const samples = this.data?.samples ?? [];
    for (let i = 0; i < samples.length; i++) {
      const index = (from + i) % samples.length;
      if (!this.states.has(samples[index].id)) return index;
    }
    return -1;
  }

  private say(text: string): void {
    this.message.textContent = text;
  }

  private draw(): void {
    const data = this.data;
    if (!data) return;
    if (!this.node.contains(this.grid)) {
      this.node.replaceChildren(
        this.header,
        this.progress,
        this.classBar,
        this.actions,
        this.grid,
        this.message
      );
    }
    this.header.textContent = `Labeling session ${data.session}`;
    const states = [...this.states.values()];
    const labeled = states.filter(s => s.label !== null).length;
    const skipped = states.filter(s => s.label === null).length;
    const unsaved = states.filter(s => s.state !== 'saved').length;
    this.progress.textContent =
      `${labeled} of ${data.samples.length} labeled` +
      (skipped ? ` · ${skipped} skipped` : '') +
      (unsaved ? ` · ${unsaved} not submitted` : ' · all saved');

    this.classBar.replaceChildren(
      ...data.classes.map((name, i) => {
        const key = keyOf(data.classes, i);
        const b = button(key ? `${key}  ${name}` : name, `Label as ${name}`, () =>
          this.label(name)
        );
        b.dataset.class = name;
        return b;
      })
    );

    this.grid.replaceChildren(
      ...data.samples.map((sample, i) => this.card(sample, i === this.current))
    );
  }

  private card(sample: LabelingSample, current: boolean): HTMLElement {
    const card = element('div', 'jp-ScanflowLabeling-card');
    card.dataset.id = sample.id;
    if (current) card.classList.add('jp-mod-current');
    const state = this.states.get(sample.id);
    if (state) card.dataset.state = state.state;
    if (sample.image && IMAGE_URL.test(sample.image)) {
      const img = document.createElement('img');
      img.src = sample.image;
      img.alt = sample.id;
      img.className = 'jp-ScanflowLabeling-image';
      card.appendChild(img);
    } else if (sample.row) {
      const table = element('table', 'jp-ScanflowLabeling-row');
      for (const [key, value] of Object.entries(sample.row)) {
        const tr = document.createElement('tr');
        tr.append(element('th', '', key), element('td', '', String(value)));
        table.appendChild(tr);
      }
      card.appendChild(table);
    }
    const facts = [sample.id];
    if (sample.guess !== undefined) facts.push(`guess ${sample.guess}`);
    if (typeof sample.score === 'number') facts.push(`score ${sample.score.toFixed(2)}`);
    card.appendChild(element('div', 'jp-ScanflowLabeling-caption', facts.join(' · ')));
    const badge = element('div', 'jp-ScanflowLabeling-label');
    if (state) {
      const label = state.label ?? 'skipped';
      badge.textContent =
        state.state === 'saved'
          ? `✓ ${label}`
          : state.state === 'saving'
            ? `… ${label}`
            : state.state === 'error'
              ? `! ${label}`
              : `→ ${label}`;
      badge.title =
        state.state === 'saved'
          ? 'saved in the session folder'
          : state.state === 'error'
            ? (state.error ?? 'not saved')
            : 'not submitted yet';
    }
    card.appendChild(badge);
    return card;
  }

  private readonly onCardClick = (event: MouseEvent): void => {
    const id = (event.target as Element | null)
      ?.closest?.('.jp-ScanflowLabeling-card')
      ?.getAttribute('data-id');
    const index = this.data?.samples.findIndex(s => s.id === id) ?? -1;
    if (index >= 0) {
      this.current = index;
      this.node.focus();
      this.draw();
    }
  };

  private readonly onKey = (event: KeyboardEvent): void => {
    const data = this.data;
    if (!data || event.ctrlKey || event.metaKey || event.altKey) return;
    const byKey = data.classes.findIndex((_, i) => keyOf(data.classes, i) === event.key);
    let handled = true;
    if (byKey >= 0) this.label(data.classes[byKey]);
    else if (event.key === 's') this.label(null);
    else if (event.key === 'Backspace' || event.key === 'u') this.undo();
    else if (event.key === 'ArrowRight') this.move(1);
    else if (event.key === 'ArrowLeft') this.move(-1);
    else if (event.key === 'Enter') void this.submit();
    else handled = false;
    if (handled) {
      // Keep JupyterLab's notebook shortcuts (e.g. digit keys change cell types) out of it.
      event.preventDefault();
      event.stopPropagation();
    }
  };

  dispose(): void {
    if (this.isDisposed) return;
    this.node.removeEventListener('keydown', this.onKey);
    this.grid.removeEventListener('click', this.onCardClick);
    super.dispose();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A label file's document (src/improve/README.md), or undefined when it is not one. */
function labelFile(
  value: unknown
): { sample: string; label: string | null; at: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { sample, label, at } = value as Record<string, unknown>;
  if (typeof sample !== 'string' || (typeof label !== 'string' && label !== null)) return undefined;
  return { sample, label, at: typeof at === 'string' ? at : '' };
}

/**
 * The key of a class: its own name when that is one digit (MNIST's "0".."9"), else 1..9 and 0 by
 * position; classes beyond ten have buttons only.
 */
function keyOf(classes: string[], index: number): string | undefined {
  if (classes.every(c => /^\d$/.test(c))) return classes[index];
  return index < 9 ? String(index + 1) : index === 9 ? '0' : undefined;
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const result = document.createElement(tag);
  if (className) result.className = className;
  if (text !== undefined) result.textContent = text;
  return result;
}

function button(label: string, title: string, action: () => void): HTMLButtonElement {
  const result = element('button', 'jp-ScanflowLabeling-button jp-mod-styled') as HTMLButtonElement;
  result.type = 'button';
  result.textContent = label;
  result.title = title;
  result.addEventListener('click', action);
  return result;
}
