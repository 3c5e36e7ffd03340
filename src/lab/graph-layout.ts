/**
 * The graph layout engine of the workflow renderer: elkjs, in a Web Worker so that JupyterLab stays
 * responsive while a big graph is laid out (on the main thread where no worker can start).
 *
 * elkjs is compiled Java: its first layout in a page spends seconds compiling code paths. So the
 * plugin calls `preloadLayout()` at activation, which starts the worker and lays out a small
 * nested workflow that takes the same paths, before any notebook output asks for a graph.
 */
import type { ElkNode } from 'elkjs/lib/elk-api';
import { drawWorkflow, type Layouter } from '../notebook/workflow-drawing';
import type { WorkflowBundleData } from '../notebook/bundles';
import type { NodeSpec, WorkflowSpec } from '../workflow/types';

let engine: Promise<Layouter> | undefined;

/** The shared elkjs engine; it lays out each distinct graph once (status updates reuse it). */
export function elkLayouter(): Promise<Layouter> {
  engine ??= createEngine().then(elk => {
    let lastKey = '';
    let last: ElkNode | undefined;
    return {
      async layout(graph: ElkNode): Promise<ElkNode> {
        const key = JSON.stringify(graph);
        if (key !== lastKey || !last) {
          last = await elk.layout(graph);
          lastKey = key;
        }
        return structuredClone(last);
      }
    };
  });
  return engine;
}

let preloaded: Promise<void> | undefined;

/** Starts the engine and compiles its code paths; resolves when it is warm (never rejects). */
export function preloadLayout(): Promise<void> {
  preloaded ??= elkLayouter()
    .then(elk => drawWorkflow(WARM_UP, elk))
    .then(
      () => undefined,
      error => console.warn('scanflow: graph layout warm-up failed', error)
    );
  return preloaded;
}

/** A nested workflow with groups, chains and an `after` edge across levels: the usual paths. */
const WARM_UP: WorkflowBundleData = (() => {
  const step = (name: string): NodeSpec => ({ kind: 'step', name, image: 'x' });
  const part = (g: number): NodeSpec => ({
    kind: 'workflow',
    name: `p${g}`,
    steps: [
      step('a'),
      { kind: 'parallel', name: 'g', steps: [step('b'), step('c'), step('d')] },
      step('e'),
      { ...step('f'), after: ['a'] }
    ]
  });
  const workflow: WorkflowSpec = {
    kind: 'workflow',
    name: 'warm-up',
    steps: Array.from({ length: 6 }, (_, g) => part(g))
  };
  return { version: 1, workflow };
})();

const PROBE: ElkNode = { id: 'probe', children: [{ id: 'a', width: 10, height: 10 }], edges: [] };

async function createEngine(): Promise<Layouter> {
  if (typeof Worker !== 'undefined') {
    let worker: Worker | undefined;
    try {
      const { default: ELK } = await import('elkjs/lib/elk-api.js');
      const elk = new ELK({
        workerFactory: () =>
          (worker = new Worker(new URL('elkjs/lib/elk-worker.min.js', import.meta.url)))
      });
      // A worker that cannot load never answers: give it a while, then use the main thread.
      await Promise.race([
        elk.layout(PROBE),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), 15_000))
      ]);
      return elk;
    } catch (error) {
      worker?.terminate();
      console.warn('scanflow: graph layout runs on the main thread', error);
    }
  }
  const { default: ELK } = await import('elkjs/lib/elk.bundled.js');
  return new ELK();
}
