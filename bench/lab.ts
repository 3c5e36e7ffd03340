/**
 * `npm run bench -- lab`: time to first render of 50-, 200- and 500-step nested workflow graphs in
 * Chromium (Debian's), with the real renderer (elkjs layout + SVG), and of a 300-sample labeling
 * grid with the real labeling widget. Target: 500 steps in under 1 s on 2 cores. Anchors: the same
 * graphs drawn as plain nested HTML boxes (no layout engine); the same 300 images as bare <img>s.
 * Each size is rendered once to warm up, then `runs` times; the median is reported.
 */
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult } from './run';
import { greyImageDataUrl } from '../src/improve/images';
import { parallel, step, workflow } from '../src/workflow/builders';
import type { NodeSpec, WorkflowSpec } from '../src/workflow/types';

/** n steps in sub-workflows of 10: a step, a parallel group of 4, then 5 chained steps. */
export function nestedWorkflow(n: number): WorkflowSpec {
  const parts: NodeSpec[] = [];
  let k = 0;
  for (let g = 0; k < n; g++) {
    const inner: NodeSpec[] = [step(`prep-${g}`, { image: 'scanflow/node:20' })];
    k++;
    const group: NodeSpec[] = [];
    for (let i = 0; i < 4 && k < n; i++, k++) group.push(step(`model-${g}-${i}`, { image: 'x' }));
    if (group.length) inner.push(parallel(`models-${g}`, group));
    for (let i = 0; i < 5 && k < n; i++, k++) inner.push(step(`step-${g}-${i}`, { image: 'x' }));
    parts.push(workflow(`part-${g}`, inner));
  }
  return workflow('bench', parts);
}

const ORIGIN = 'http://scanflow.bench';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number): number => Math.round(x * 10) / 10;

export default async function lab(args: string[]): Promise<BenchResult> {
  const runs = Number(args[0] ?? 5);
  const bundle = await build({
    entryPoints: [join(__dirname, '..', 'ui-tests', 'bench', 'graph-page.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    logLevel: 'error'
  });
  const browser = await chromium.launch({
    executablePath: process.env.SCANFLOW_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run'
    ]
  });
  try {
    // A page of its own origin, so that the renderer can start elkjs's Web Worker as it does in
    // JupyterLab (the worker script is served from node_modules).
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const script = bundle.outputFiles[0].text;
    const worker = readFileSync(require.resolve('elkjs/lib/elk-worker.min.js'), 'utf8');
    await context.route(`${ORIGIN}/**`, route => {
      const path = new URL(route.request().url()).pathname;
      const [body, type] =
        path === '/bundle.js'
          ? [script, 'text/javascript']
          : path.endsWith('/elk-worker.min.js')
            ? [worker, 'text/javascript']
            : [
                '<!doctype html><html><body><script type="module" src="/bundle.js"></script></body></html>',
                'text/html'
              ];
      return route.fulfill({ status: 200, contentType: type, body });
    });
    const page = await context.newPage();
    const workers: string[] = [];
    page.on('worker', w => workers.push(w.url()));
    const ours: Record<string, number> = {};
    const anchor: Record<string, number> = {};
    const ratio: Record<string, number> = {};
    type Fn = 'renderGraph' | 'renderBoxes';
    const fresh = async (): Promise<void> => {
      await page.goto(`${ORIGIN}/`);
      await page.waitForFunction(() => 'renderGraph' in globalThis);
    };
    const render = (fn: Fn, spec: WorkflowSpec): Promise<number> =>
      page.evaluate(
        ([f, s]) =>
          (globalThis as unknown as Record<string, (s: unknown) => Promise<number>>)[f](s),
        [fn, spec] as const
      );
    for (const n of [50, 200, 500]) {
      const spec = nestedWorkflow(n);
      // Cold: the first graph in a fresh page (elkjs compiles its code on first use).
      // Warm: in a page that has drawn two other graphs (the renderer reuses the layout of a graph
      // it has already seen, so the warm-up graphs have other shapes).
      const measure = async (fn: Fn, cold: boolean): Promise<number> => {
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          await fresh();
          if (!cold) {
            // Two other graphs first, as in a session that has shown some already.
            await render(fn, nestedWorkflow(n + 3));
            await render(fn, nestedWorkflow(n + 7));
          }
          times.push(await render(fn, spec));
        }
        return round(median(times));
      };
      ours[`graph${n}WarmMs`] = await measure('renderGraph', false);
      ours[`graph${n}ColdMs`] = await measure('renderGraph', true);
      anchor[`boxes${n}Ms`] = await measure('renderBoxes', true);
      ratio[`steps${n}`] = round(ours[`graph${n}WarmMs`] / Math.max(0.1, anchor[`boxes${n}Ms`]));
      console.log(
        `${n} steps: graph ${ours[`graph${n}WarmMs`]} ms warm, ${ours[`graph${n}ColdMs`]} ms cold; ` +
          `plain boxes ${anchor[`boxes${n}Ms`]} ms`
      );
    }
    // A 300-sample labeling grid of 28x28 digit-like images.
    const image = greyImageDataUrl({
      width: 28,
      height: 28,
      values: Array.from({ length: 784 }, (_, i) => (Math.abs((i % 28) - 14) < 2 ? 255 : 0))
    });
    const grid = async (fn: 'renderLabeling' | 'renderImages'): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        await fresh();
        times.push(
          await page.evaluate(
            ([f, img]) =>
              (globalThis as unknown as Record<string, (i: string, n: number) => Promise<number>>)[
                f
              ](img, 300),
            [fn, image] as const
          )
        );
      }
      return round(median(times));
    };
    ours.labeling300Ms = await grid('renderLabeling');
    anchor.images300Ms = await grid('renderImages');
    ratio.labeling300 = round(ours.labeling300Ms / Math.max(0.1, anchor.images300Ms));
    console.log(
      `300-sample labeling grid: ${ours.labeling300Ms} ms, bare images ${anchor.images300Ms} ms`
    );

    return {
      anchor,
      ours,
      ratio,
      target: { graph500WarmMs: 1000, met: ours.graph500WarmMs < 1000 },
      runs,
      browser: `chromium ${browser.version()}`,
      layoutInWorker: workers.length > 0,
      note: 'median time to first render (layout, DOM, style, reflow, next frame); ratio = ours (warm) / anchor'
    };
  } finally {
    await browser.close();
  }
}
