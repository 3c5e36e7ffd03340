import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DefinitionError,
  formatProblem,
  fromJSON,
  fromYAML,
  parseWorkflow,
  validate,
  type Problem
} from '../../src/workflow';

const node = { image: 'scanflow/node:20' };

function messages(definition: unknown): string[] {
  return validate(definition).map(formatProblem);
}

function only(definition: unknown): Problem {
  const problems = validate(definition);
  assert.equal(
    problems.length,
    1,
    `expected one problem, got: ${problems.map(formatProblem).join(' | ')}`
  );
  return problems[0];
}

describe('validation', () => {
  it('accepts a valid definition and fills in the kinds', () => {
    const spec = parseWorkflow({ name: 'ok', steps: [{ name: 'a', ...node }] });
    assert.equal(spec.kind, 'workflow');
    assert.equal(spec.steps[0].kind, 'step');
  });

  it('reports a step that reads an output nobody it waits for writes', () => {
    const problems = messages({
      name: 'flow',
      steps: [
        {
          kind: 'parallel',
          name: 'p',
          steps: [
            { name: 'write', ...node, outputs: ['x'] },
            { name: 'read', ...node, inputs: ['x', 'y'] }
          ]
        },
        { name: 'after-all', ...node, after: ['p'], inputs: ['x'] }
      ]
    });
    assert.deepEqual(problems, [
      "flow.p.read (inputs): it reads 'x', which flow.p.write writes, but it does not wait for " +
        "flow.p.write. Fix: add 'flow.p.write' to its 'after', or move it after flow.p.write.",
      "flow.p.read (inputs): it reads 'y', which no step writes. Fix: list 'y' in the 'outputs' " +
        "of a step that runs before it, or remove it from 'inputs'."
    ]);
  });

  it('prints a cycle with the steps that form it', () => {
    const problem = only({
      name: 'loop',
      steps: [
        {
          kind: 'parallel',
          name: 'p',
          steps: [
            { name: 'a', ...node, after: ['b'] },
            { name: 'b', ...node, after: ['a'] }
          ]
        }
      ]
    });
    assert.match(problem.message, /cycle: loop\.p\.(a|b) -> loop\.p\.(b|a) -> loop\.p\.\1/);
    assert.match(problem.fix ?? '', /remove one of these dependencies/);
  });

  it('reports duplicate names in one scope, but allows the same name in different scopes', () => {
    const problem = only({
      name: 'dup',
      steps: [
        { name: 'a', ...node },
        { name: 'a', ...node },
        { kind: 'workflow', name: 'inner', steps: [{ name: 'a', ...node }] }
      ]
    });
    assert.equal(problem.where, 'dup.a');
    assert.match(problem.message, /name 'a' is used twice in workflow 'dup'/);
  });

  it('reports unknown dependencies, and dependencies on itself or its own container', () => {
    const found = messages({
      name: 'deps',
      steps: [
        { name: 'a', ...node, after: ['nope'] },
        { name: 'b', ...node, after: ['b'] },
        { kind: 'workflow', name: 'w', steps: [{ name: 'c', ...node, after: ['w'] }] }
      ]
    });
    assert.equal(found.length, 3);
    assert.match(found[0], /^deps\.a \(after\): it depends on 'nope', which does not exist/);
    assert.match(found[1], /^deps\.b \(after\): it depends on itself/);
    assert.match(found[2], /^deps\.w\.c \(after\): it depends on 'w', which contains it/);
  });

  it('reports names that Docker cannot use, with a suggestion', () => {
    const problem = only({ name: 'names', steps: [{ name: 'my step!', ...node }] });
    assert.equal(problem.where, 'names.my step!');
    assert.equal(problem.field, 'name');
    assert.match(problem.message, /"my step!" is not a valid name/);
    assert.match(problem.fix ?? '', /letters, digits, '-' or '_'.*e\.g\. 'my-step'/);
  });

  it('reports empty workflows and groups', () => {
    const found = messages({
      name: 'empty',
      steps: [
        { name: 'a', ...node },
        { kind: 'parallel', name: 'p', steps: [] }
      ]
    });
    assert.deepEqual(found, [
      'empty.p (steps): it has no steps. Fix: add at least one step, or remove it.'
    ]);
    assert.match(messages({ name: 'bare', steps: [] })[0], /^bare \(steps\): it has no steps/);
  });

  it('reports a step with neither image nor dockerfile nor base, and one with two of them', () => {
    const found = messages({
      name: 'img',
      steps: [
        { name: 'none', command: ['true'] },
        { name: 'two', image: 'x', dockerfile: 'Dockerfile' }
      ]
    });
    assert.equal(found.length, 2);
    assert.match(
      found[0],
      /^img\.none: the step has no image, dockerfile or base\. Fix: set 'image'/
    );
    assert.match(found[1], /^img\.two \(image, dockerfile\): .*exclude each other/);
  });

  it('reports negative and malformed resources', () => {
    const found = messages({
      name: 'res',
      steps: [
        { name: 'a', ...node, resources: { cpus: -1, memory: '-5g', gpus: -2 } },
        { name: 'b', ...node, retries: -1, timeout: 0 }
      ]
    });
    assert.ok(
      found.includes(
        "res.a (resources.cpus): resources.cpus must be greater than 0, got -1. Fix: use a value greater than 0, or remove 'resources.cpus'."
      )
    );
    assert.ok(found.some(m => /^res\.a \(resources\.memory\): "-5g" is not a memory size/.test(m)));
    assert.ok(
      found.some(m =>
        /^res\.a \(resources\.gpus\): resources\.gpus must be at least 0, got -2/.test(m)
      )
    );
    assert.ok(found.some(m => /^res\.b \(retries\): retries must be at least 0, got -1/.test(m)));
    assert.ok(
      found.some(m => /^res\.b \(timeout\): timeout must be greater than 0, got 0/.test(m))
    );
    assert.equal(found.length, 5);
  });

  it('reports unknown fields with the closest known one, and wrong types', () => {
    const found = messages({
      name: 'fields',
      steps: [{ name: 'a', imagee: 'x', command: 'python train.py' }]
    });
    assert.ok(
      found.some(m => /^fields\.a: unknown field 'imagee'\. Fix: did you mean 'image'\?/.test(m))
    );
    assert.ok(
      found.some(m =>
        /^fields\.a \(command\): command must be an array, not string "python train\.py"/.test(m)
      )
    );
    assert.ok(found.some(m => /no image, dockerfile or base/.test(m)));
  });

  it('reports every problem at once, not only the first', () => {
    const found = messages({
      name: 'many',
      steps: [
        { name: 'a', after: ['ghost'] },
        { name: 'a', ...node, resources: { cpus: 0 } },
        { kind: 'parallel', name: 'p', steps: [] }
      ]
    });
    assert.equal(found.length, 5, found.join('\n'));
  });

  it('never throws on malformed input: it reports it', () => {
    for (const bad of [null, 42, 'text', [], {}, { name: 1, steps: 'x' }, { steps: [null] }]) {
      const problems = validate(bad);
      assert.ok(problems.length > 0, `no problem for ${JSON.stringify(bad)}`);
      assert.throws(() => parseWorkflow(bad), DefinitionError);
    }
  });
});

describe('parsing JSON and YAML', () => {
  it('gives the line and column of a JSON syntax error', () => {
    const text = '{\n  "name": "x",\n  "steps": [\n    { "name": "a" "image": "y" }\n  ]\n}\n';
    const error = (() => {
      try {
        fromJSON(text, 'broken.json');
      } catch (e) {
        return e as DefinitionError;
      }
      return undefined;
    })();
    assert.ok(error instanceof DefinitionError);
    assert.equal(error.problems[0].line, 4);
    assert.equal(error.problems[0].column, 19);
    assert.match(error.message, /broken\.json \(line 4, column 19\): the JSON does not parse/);
  });

  it('gives the line and column of a YAML syntax error', () => {
    const text = 'name: x\nsteps:\n  - name: a\n    image: [unclosed\n';
    assert.throws(
      () => fromYAML(text, 'broken.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof DefinitionError);
        assert.ok(error.problems[0].line !== undefined && error.problems[0].line >= 4);
        assert.match(
          error.message,
          /broken\.yaml \(line \d+, column \d+\): the YAML does not parse/
        );
        return true;
      }
    );
  });

  it('rejects duplicate keys in YAML', () => {
    assert.throws(() => fromYAML('name: x\nname: y\nsteps: []\n'), /line 2.*YAML does not parse/s);
  });

  it('validates what it parsed', () => {
    assert.throws(
      () => fromYAML('name: x\nsteps:\n  - name: a\n', 'w.yaml'),
      /w\.yaml.*x\.a: the step has no image/s
    );
  });
});
