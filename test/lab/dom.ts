/**
 * A jsdom window installed as the global browser environment, for the renderers' unit tests.
 * Import this module before any module that touches `document` (Lumino widgets do at construction).
 */
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>', {
  url: 'http://localhost/',
  pretendToBeVisual: true
});
const { window } = dom;
// jsdom has no DragEvent; Lumino's drag-and-drop module only subclasses it.
class DragEvent extends window.MouseEvent {}

const globals: Record<string, unknown> = {
  DragEvent,
  window,
  document: window.document,
  navigator: window.navigator,
  Node: window.Node,
  Element: window.Element,
  HTMLElement: window.HTMLElement,
  SVGElement: window.SVGElement,
  Event: window.Event,
  MouseEvent: window.MouseEvent,
  KeyboardEvent: window.KeyboardEvent,
  DOMParser: window.DOMParser,
  WebSocket: window.WebSocket,
  getComputedStyle: window.getComputedStyle.bind(window),
  requestAnimationFrame: window.requestAnimationFrame.bind(window),
  cancelAnimationFrame: window.cancelAnimationFrame.bind(window)
};
for (const [name, value] of Object.entries(globals)) {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}

export { window };
