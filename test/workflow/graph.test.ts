import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildGraph,
  criticalPath,
  findCycle,
  flatten,
  isService,
  parallel,
  service,
  stages,
  step,
  toDot,
  workflow
} from '../../src/workflow';
import { image, nested } from './fixtures';

const sortedEdges = (edges: Array<[string, string]>): string[] =>
  edges.map(([from, to]) => `${from} -> ${to}`).sort();

describe('flatten', () => {
  it('chains a workflow, fans a parallel group out and in, and treats nesting as one unit', () => {
    const graph = flatten(nested);
    assert.deepEqual(
      graph.steps.map(s => s.id),
      [
        'ml.fetch',
        'ml.train.prep',
        'ml.train.models.cnn',
        'ml.train.models.ensemble.trees',
        'ml.train.models.ensemble.boost',
        'ml.train.models.mlp',
        'ml.train.pick',
        'ml.publish.report',
        'ml.publish.deploy'
      ]
    );
    assert.deepEqual(
      sortedEdges(graph.edges),
      [
        'ml.fetch -> ml.train.prep',
        'ml.publish.report -> ml.publish.deploy',
        'ml.train.models.cnn -> ml.train.pick',
        'ml.train.models.ensemble.boost -> ml.train.pick',
        'ml.train.models.ensemble.trees -> ml.train.models.ensemble.boost',
        'ml.train.models.mlp -> ml.train.pick',
        'ml.train.pick -> ml.publish.report',
        'ml.train.prep -> ml.train.models.cnn',
        'ml.train.prep -> ml.train.models.ensemble.trees',
        'ml.train.prep -> ml.train.models.mlp'
      ].sort()
    );
    // deploy waits for report (its `after`), so only report starts the publish group.
    const deploy = graph.steps.find(s => s.id === 'ml.publish.deploy');
    assert.deepEqual(deploy?.needs, ['ml.publish.report']);
  });

  it('lists every workflow and group with the steps it holds at any depth', () => {
    const graph = flatten(nested);
    const train = graph.containers.find(c => c.id === 'ml.train');
    assert.equal(train?.spec.kind, 'workflow');
    assert.equal(train?.steps.length, 6);
    const ensemble = graph.containers.find(c => c.id === 'ml.train.models.ensemble');
    assert.deepEqual(ensemble?.parents, ['ml', 'ml.train', 'ml.train.models']);
    assert.deepEqual(ensemble?.steps, [
      'ml.train.models.ensemble.trees',
      'ml.train.models.ensemble.boost'
    ]);
  });

  it('resolves `after` by sibling name, outward scope and qualified id', () => {
    const spec = workflow('w', [
      parallel('p', [
        step('a', image),
        step('b', { ...image, after: ['w.p.a'] }),
        workflow('inner', [step('c', { ...image, after: ['solo'] })])
      ]),
      step('solo', { ...image, after: ['p.a'] })
    ]);
    // 'solo' is not a sibling of c, but is found in an enclosing scope; that makes a cycle
    // (solo runs after the group that contains c), which validation must report.
    assert.throws(() => flatten(spec), /cycle: w\.solo -> w\.p\.inner\.c -> w\.solo|cycle/);
    const acyclic = workflow('w', [
      parallel('p', [step('a', image), step('b', { ...image, after: ['w.p.a'] })]),
      step('solo', { ...image, after: ['p.a'] })
    ]);
    const graph = flatten(acyclic);
    assert.deepEqual(graph.steps.find(s => s.id === 'w.p.b')?.needs, ['w.p.a']);
    assert.deepEqual(graph.steps.find(s => s.id === 'w.solo')?.needs.sort(), ['w.p.a', 'w.p.b']);
  });
});

describe('graph algorithms', () => {
  it('orders steps into topological stages of steps that can run together', () => {
    assert.deepEqual(stages(flatten(nested)), [
      ['ml.fetch'],
      ['ml.train.prep'],
      ['ml.train.models.cnn', 'ml.train.models.ensemble.trees', 'ml.train.models.mlp'],
      ['ml.train.models.ensemble.boost'],
      ['ml.train.pick'],
      ['ml.publish.report'],
      ['ml.publish.deploy']
    ]);
  });

  it('finds the critical path, by step count or by given durations', () => {
    const graph = flatten(nested);
    assert.deepEqual(criticalPath(graph).steps, [
      'ml.fetch',
      'ml.train.prep',
      'ml.train.models.ensemble.trees',
      'ml.train.models.ensemble.boost',
      'ml.train.pick',
      'ml.publish.report',
      'ml.publish.deploy'
    ]);
    const slowCnn = criticalPath(graph, s => (s.spec.name === 'cnn' ? 10 : 1));
    assert.equal(slowCnn.length, 15);
    assert.ok(slowCnn.steps.includes('ml.train.models.cnn'));
  });

  it('reports a cycle as the chain of steps that closes it', () => {
    const spec = workflow('loop', [
      parallel('p', [
        step('a', { ...image, after: ['c'] }),
        step('b', { ...image, after: ['a'] }),
        step('c', { ...image, after: ['b'] })
      ])
    ]);
    const cycle = findCycle(buildGraph(spec));
    assert.ok(cycle);
    assert.equal(cycle[0], cycle[cycle.length - 1]);
    assert.deepEqual(new Set(cycle), new Set(['loop.p.a', 'loop.p.b', 'loop.p.c']));
    assert.throws(() => stages(buildGraph(spec)), /cycle/);
    assert.equal(findCycle(buildGraph(nested)), undefined);
  });
});

describe('services in the graph', () => {
  // A service in a parallel group beside a step; a later step waits for the group.
  const spec = workflow('serve', [
    step('train', image),
    parallel('up', [service('api', { ...image, port: 8080, replicas: 2 }), step('warm', image)]),
    step('call', image)
  ]);

  it('is a node of the DAG like a step, ordered by nesting and `after`', () => {
    const graph = flatten(spec);
    assert.deepEqual(
      graph.steps.filter(isService).map(s => s.id),
      ['serve.up.api']
    );
    assert.deepEqual(stages(graph), [
      ['serve.train'],
      ['serve.up.api', 'serve.up.warm'],
      ['serve.call']
    ]);
    assert.deepEqual(graph.steps.find(s => s.id === 'serve.call')!.needs.sort(), [
      'serve.up.api',
      'serve.up.warm'
    ]);
  });

  it('is drawn in DOT as a hexagon labelled with its port and replicas', () => {
    const dot = toDot(flatten(spec));
    assert.match(dot, /"serve\.up\.api" \[label="api :8080 ×2", shape=hexagon, style=solid\];/);
    assert.match(dot, /"serve\.train" \[label="train"\];/);
  });
});
