import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DefinitionError,
  flatten,
  formatProblem,
  fromJSON,
  fromYAML,
  parseWorkflow,
  service,
  step,
  validate,
  workflow,
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

describe('services', () => {
  const api = { kind: 'service', name: 'api', ...node, command: ['node', 'serve.js'], port: 8080 };

  it('accepts a service between steps, with replicas and a healthcheck, and a step that depends on it', () => {
    const spec = parseWorkflow({
      name: 'flow',
      steps: [
        { name: 'train', ...node, outputs: ['model'] },
        { ...api, inputs: ['model'], replicas: 3, healthcheck: { path: '/health', retries: 5 } },
        { name: 'call', ...node, after: ['api'] }
      ]
    });
    assert.equal(spec.steps[1].kind, 'service');
    const built = workflow('flow', [
      step('train', { ...node, outputs: ['model'] }),
      service('api', { ...node, port: 8080, inputs: ['model'] }),
      step('call', node)
    ]);
    assert.deepEqual(validate(built), []);
    assert.deepEqual(
      flatten(built).steps.map(s => [s.id, s.spec.kind, s.needs]),
      [
        ['flow.train', 'step', []],
        ['flow.api', 'service', ['flow.train']],
        ['flow.call', 'step', ['flow.api']]
      ]
    );
  });

  it('refuses a port out of range or fractional, or a missing one, naming the range', () => {
    for (const port of [0, 70000, 80.5]) {
      const problem = only({ name: 'flow', steps: [{ ...api, port }] });
      assert.equal(problem.where, 'flow.api');
      assert.equal(problem.field, 'port');
      assert.match(formatProblem(problem), /from 1 to 65535/);
    }
    const portless: Record<string, unknown> = { ...api };
    delete portless.port;
    assert.match(
      formatProblem(only({ name: 'flow', steps: [portless] })),
      /the required field 'port' is missing\. Fix: add 'port', the port the service listens on/
    );
  });

  it('refuses replicas of 0 or fractional', () => {
    assert.equal(
      formatProblem(only({ name: 'flow', steps: [{ ...api, replicas: 0 }] })),
      "flow.api (replicas): replicas must be at least 1, got 0. Fix: use a value of at least 1, or remove 'replicas'."
    );
    assert.equal(
      formatProblem(only({ name: 'flow', steps: [{ ...api, replicas: 1.5 }] })),
      'flow.api (replicas): replicas must be a whole number, not number 1.5. Fix: give the number ' +
        'of containers that run the service, 1 or more.'
    );
  });

  it('refuses outputs, retries and a timeout on a service, saying why', () => {
    const problems = validate({
      name: 'flow',
      steps: [{ ...api, outputs: ['x'], retries: 2, timeout: 10 }]
    });
    assert.deepEqual(
      problems.map(p => [p.field, p.message.split(':')[0]]),
      [
        ['outputs', 'a service has no outputs'],
        ['retries', 'a service is not retried'],
        ['timeout', 'a service has no timeout']
      ]
    );
    assert.match(problems[0].fix!, /write outputs from a step/);
  });

  it('refuses two services on one port, and a service whose name another step has', () => {
    const problems = messages({
      name: 'flow',
      steps: [
        api,
        { ...api, name: 'db', port: 8080 },
        { kind: 'workflow', name: 'inner', steps: [{ name: 'api', ...node }] }
      ]
    });
    assert.deepEqual(problems, [
      "flow.api: its name 'api', by which steps reach it, is also the name of step flow.inner.api. " +
        'Fix: give the service a name that no other step or service of the workflow has.',
      'flow.db (port): port 8080 is also the port of service flow.api. Fix: give every service of ' +
        'the workflow its own port.'
    ]);
    assert.match(
      messages({ name: 'flow', steps: [api, { ...api, name: 'API', port: 9090 }] }).join(),
      /its URL variable SCANFLOW_SERVICE_API_URL is also that of service flow.api/
    );
  });

  it('refuses a healthcheck with both or neither of path and command, and a path without a slash', () => {
    assert.match(
      formatProblem(
        only({ name: 'flow', steps: [{ ...api, healthcheck: { path: '/h', command: ['true'] } }] })
      ),
      /the healthcheck sets both 'path' and 'command'/
    );
    assert.match(
      formatProblem(only({ name: 'flow', steps: [{ ...api, healthcheck: { interval: 2 } }] })),
      /the healthcheck has neither an HTTP 'path' nor a 'command'/
    );
    assert.match(
      formatProblem(only({ name: 'flow', steps: [{ ...api, healthcheck: { path: 'health' } }] })),
      /"health" is not an HTTP path\. Fix: start it with a slash/
    );
  });

  it('tells a step with a port that a service is declared with its kind', () => {
    const asStep: Record<string, unknown> = { ...api };
    delete asStep.kind;
    assert.match(
      formatProblem(only({ name: 'flow', steps: [asStep] })),
      /'port' belongs to a service, and this node is a step\. Fix: declare it with kind: service/
    );
  });
});
