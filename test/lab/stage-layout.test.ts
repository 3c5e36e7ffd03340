import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stageLayouter } from '../../src/notebook/stage-layout';
import { drawWorkflow, type SvgElement } from '../../src/notebook/workflow-drawing';
import { parallel, step, workflow } from '../../src/workflow/builders';

const definition = workflow('flow', [
  step('load', { image: 'x' }),
  workflow('train', [
    parallel('models', [
      step('a', { image: 'x' }),
      step('b', { image: 'x' }),
      step('c', { image: 'x' })
    ]),
    step('pick', { image: 'x' })
  ]),
  step('report', { image: 'x', after: ['load'] }),
  step('publish', { image: 'x' })
]);

interface Box {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Every box of a drawing with its absolute position (the drawing's transforms are absolute). */
function boxes(svg: SvgElement): Map<string, Box> {
  const found = new Map<string, Box>();
  const visit = (e: SvgElement): void => {
    if (e.tag === 'g' && typeof e.attrs['data-id'] === 'string') {
      const [x, y] = String(e.attrs.transform)
        .match(/-?[\d.]+/g)!
        .map(Number);
      const rect = e.children.find(c => c.tag === 'rect')!;
      found.set(e.attrs['data-id'], {
        id: e.attrs['data-id'],
        x,
        y,
        width: Number(rect.attrs.width),
        height: Number(rect.attrs.height)
      });
    }
    e.children.forEach(visit);
  };
  visit(svg);
  return found;
}

const inside = (inner: Box, outer: Box): boolean =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;

const overlap = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe('the quick stage layout', () => {
  it('puts boxes inside their workflow, siblings apart, and stages in dependency order', async () => {
    const drawing = await drawWorkflow({ version: 1, workflow: definition }, stageLayouter);
    const all = boxes(drawing.svg);
    assert.equal(all.size, 10);
    for (const box of all.values()) {
      const parent = box.id.slice(0, box.id.lastIndexOf('.'));
      if (all.has(parent))
        assert.ok(inside(box, all.get(parent)!), `${box.id} is outside ${parent}`);
      for (const other of all.values()) {
        const sibling = other.id.slice(0, other.id.lastIndexOf('.')) === parent;
        if (sibling && other !== box)
          assert.ok(!overlap(box, other), `${box.id} hides ${other.id}`);
      }
      assert.ok(box.x + box.width <= drawing.width && box.y + box.height <= drawing.height);
    }
    const at = (id: string): Box => all.get(`flow.${id}`)!;
    // A chain goes left to right; the members of a parallel group share a stage.
    assert.ok(at('load').x + at('load').width < at('train').x);
    assert.ok(at('train').x + at('train').width < at('report').x);
    assert.ok(at('report').x + at('report').width < at('publish').x);
    assert.equal(
      at('train.models.a').x + at('train.models.a').width / 2,
      at('train.models.b').x + at('train.models.b').width / 2
    );
    assert.ok(at('train.models.a').y < at('train.models.b').y);
    // Every edge is drawn, from the right side of one box to the left side of the next.
    assert.equal(drawing.counts.edges, 5);
    const edges: string[] = [];
    const collect = (e: SvgElement): void => {
      if (e.tag === 'path' && e.attrs.class === 'sf-edge') edges.push(String(e.attrs.d));
      e.children.forEach(collect);
    };
    collect(drawing.svg);
    const loadToTrain = edges.find(d => d.startsWith(`M${at('load').x + at('load').width} `));
    assert.ok(loadToTrain, 'no edge leaves load from its right side');
    assert.ok(loadToTrain.endsWith(` ${at('train').y + at('train').height / 2}`));
  });
});
