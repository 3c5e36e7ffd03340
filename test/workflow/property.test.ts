import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DefinitionError,
  flatten,
  fromJSON,
  fromYAML,
  toJSON,
  toYAML,
  validate,
  type NodeSpec,
  type StepSpec,
  type WorkflowSpec
} from '../../src/workflow';

const name = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,11}$/);

const stepFields = fc.record(
  {
    image: fc.constantFrom('scanflow/node:20', 'python:3.11-slim', 'busybox'),
    command: fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    env: fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,7}$/), fc.string({ maxLength: 8 }), {
      maxKeys: 2,
      noNullPrototype: true
    }),
    parameters: fc.dictionary(
      fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/),
      fc.oneof(
        fc.string({ maxLength: 6 }),
        fc.integer(),
        fc.boolean(),
        // JSON has no -0: it reads back as 0, the same value for a step's argument.
        fc.double({ noNaN: true, noDefaultInfinity: true }).map(x => (Object.is(x, -0) ? 0 : x))
      ),
      { maxKeys: 2, noNullPrototype: true }
    ),
    outputs: fc.array(name, { maxLength: 2 }),
    resources: fc.record(
      {
        cpus: fc.double({ min: 0.1, max: 8, noNaN: true }),
        memory: fc.oneof(
          fc.integer({ min: 1, max: 2 ** 34 }),
          fc.constantFrom('512m', '2g', '1.5GiB')
        ),
        gpus: fc.integer({ min: 0, max: 2 })
      },
      { requiredKeys: [], noNullPrototype: true }
    ),
    retries: fc.integer({ min: 0, max: 3 }),
    timeout: fc.integer({ min: 1, max: 3600 })
  },
  { requiredKeys: ['image'], noNullPrototype: true }
);

/** Children with unique names; containers nest up to `depth` levels. */
function children(depth: number): fc.Arbitrary<NodeSpec[]> {
  const leaf = stepFields.map(
    fields => ({ kind: 'step' as const, name: '', ...fields }) as StepSpec
  );
  const node: fc.Arbitrary<NodeSpec> =
    depth <= 0
      ? leaf
      : fc.oneof(
          { weight: 3, arbitrary: leaf },
          {
            weight: 1,
            arbitrary: fc
              .tuple(fc.constantFrom('workflow' as const, 'parallel' as const), children(depth - 1))
              .map(([kind, steps]) => ({ kind, name: '', steps }) as NodeSpec)
          }
        );
  return fc
    .tuple(
      fc.uniqueArray(name, { minLength: 1, maxLength: 4 }),
      fc.array(node, { minLength: 4, maxLength: 4 })
    )
    .map(([names, nodes]) => names.map((n, i) => ({ ...nodes[i], name: n })));
}

const definition: fc.Arbitrary<WorkflowSpec> = fc
  .tuple(name, children(3))
  .map(([root, steps]) => ({ kind: 'workflow', name: root, steps }));

describe('random definitions', () => {
  it('200 well-formed definitions validate and round-trip losslessly through JSON and YAML', () => {
    fc.assert(
      fc.property(definition, spec => {
        assert.deepEqual(validate(spec), []);
        assert.deepEqual(fromJSON(toJSON(spec)), spec);
        assert.deepEqual(fromYAML(toYAML(spec)), spec);
        const graph = flatten(spec);
        assert.equal(new Set(graph.steps.map(s => s.id)).size, graph.steps.length);
      }),
      { numRuns: 200 }
    );
  });

  /** Ways to break a definition; each must be rejected with a DefinitionError. */
  const mutations: Array<(spec: WorkflowSpec, step: StepSpec) => unknown> = [
    (_s, step) => delete step.image,
    (_s, step) => (step.resources = { cpus: -1 }),
    (_s, step) => (step.name = 'bad name!'),
    (_s, step) => (step.after = ['does-not-exist']),
    (_s, step) => ((step as unknown as Record<string, unknown>).command = 'a shell string'),
    (_s, step) => ((step as unknown as Record<string, unknown>).imagee = 'typo'),
    (_s, step) => (step.timeout = 0),
    spec => spec.steps.push({ ...spec.steps[0] }),
    spec => spec.steps.push({ kind: 'parallel', name: 'zz-empty', steps: [] }),
    (_s, step) => (step.after = [step.name]),
    (spec, step) =>
      spec.steps.push({
        kind: 'parallel',
        name: 'zz-loop',
        steps: [
          { ...step, name: 'x', after: ['y'] },
          { ...step, name: 'y', after: ['x'] }
        ]
      }),
    (_s, step) => (step.inputs = ['zz-nobody-writes-this']),
    spec => ((spec as unknown as Record<string, unknown>).steps = 'nope')
  ];

  it('200 broken definitions are rejected with a DefinitionError, never a crash', () => {
    fc.assert(
      fc.property(definition, fc.nat(mutations.length + 1), (spec, which) => {
        const broken = structuredClone(spec);
        const step = firstStep(broken);
        let text: string;
        if (which === mutations.length) {
          text = toJSON(broken).slice(0, -4); // truncated JSON
        } else if (which === mutations.length + 1) {
          text = `${toYAML(broken)}\n  - : [\n`; // broken YAML
        } else {
          mutations[which](broken, step);
          text = toJSON(broken);
        }
        const parse = which === mutations.length + 1 ? fromYAML : fromJSON;
        assert.throws(
          () => parse(text),
          (error: unknown) =>
            error instanceof DefinitionError &&
            error.problems.length > 0 &&
            !/\n\s+at /.test(error.message)
        );
      }),
      { numRuns: 200 }
    );
  });
});

function firstStep(spec: WorkflowSpec): StepSpec {
  let node: NodeSpec = spec;
  while (node.kind === 'workflow' || node.kind === 'parallel') {
    node = node.steps[0];
  }
  if (node.kind !== 'step') {
    throw new Error('the generated workflows hold steps only');
  }
  return node;
}
