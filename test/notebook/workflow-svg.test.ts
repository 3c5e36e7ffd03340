import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflowSvg } from '../../src/notebook/workflow-drawing';
import { parallel, step, workflow } from '../../src/workflow/builders';

const XSS = '<img src=x onerror=alert(1)>';

describe('workflowSvg (for scanflow graph --format svg)', () => {
  it('draws a standalone SVG file with nested boxes, statuses and escaped names', async () => {
    const spec = workflow('demo', [
      step('prep', { image: 'a' }),
      workflow('train', [
        parallel('models', [step('x', { image: 'b' }), step(XSS, { image: 'c' })])
      ])
    ]);
    const svg = await workflowSvg({
      version: 1,
      workflow: spec,
      status: { 'demo.prep': { status: 'succeeded' } }
    });
    assert.match(
      svg,
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/
    );
    assert.equal((svg.match(/class="sf-node sf-step/g) ?? []).length, 3);
    assert.equal((svg.match(/class="sf-node sf-workflow/g) ?? []).length, 2);
    assert.equal((svg.match(/class="sf-node sf-parallel/g) ?? []).length, 1);
    assert.match(svg, /data-id="demo\.prep" data-kind="step" data-status="succeeded"/);
    assert.ok(svg.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(!svg.includes('<img'));
    assert.match(svg, /<style>/);
  });

  it('draws collapsed sub-workflows as one box', async () => {
    const spec = workflow('demo', [
      step('a', { image: 'a' }),
      workflow('inner', [step('b', { image: 'b' }), step('c', { image: 'c' })])
    ]);
    const svg = await workflowSvg(spec, { collapsed: ['demo.inner'] });
    assert.equal((svg.match(/class="[^"]*sf-collapsed/g) ?? []).length, 1);
    assert.match(svg, />inner \(2 steps\)</);
  });
});
