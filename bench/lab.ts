/**
 * `npm run bench -- lab`: time to first render of 50-, 200- and 500-step nested workflow graphs in
 * Chromium (Debian's), with the real renderer (elkjs layout + SVG). Target: 500 steps in under
 * 1 s on 2 cores. Anchor: the same graphs drawn as plain nested HTML boxes (no layout engine).
 * Each size is rendered once to warm up, then `runs` times; the median is reported.
 */
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { join } from 'node:path';
import type { BenchResult } from './run';
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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number): number => Math.round(x * 10) / 10;

export default async function lab(args: string[]): Promise<BenchResult> {
  const runs = Number(args[0] ?? 5);
  const bundle = await build({
    entryPoints: [join(__dirname, '..', 'ui-tests', 'bench', 'graph-page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
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
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const script = bundle.outputFiles[0].text;
    const ours: Record<string, number> = {};
    const anchor: Record<string, number> = {};
    const ratio: Record<string, number> = {};
    type Fn = 'renderGraph' | 'renderBoxes';
    const fresh = async (): Promise<void> => {
      await page.setContent('<!doctype html><html><body></body></html>');
      await page.addScriptTag({ content: script });
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
      // Warm: in a page that has drawn another graph (the renderer reuses the layout of a graph
      // it has already seen, so the warm-up graph has a different shape).
      const measure = async (fn: Fn, cold: boolean): Promise<number> => {
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          await fresh();
          if (!cold) await render(fn, nestedWorkflow(n + 3));
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
    return {
      anchor,
      ours,
      ratio,
      target: { graph500WarmMs: 1000, met: ours.graph500WarmMs < 1000 },
      runs,
      browser: `chromium ${browser.version()}`,
      note: 'median time to first render (layout, DOM, style, reflow, next frame); ratio = ours (warm) / anchor'
    };
  } finally {
    await browser.close();
  }
}
