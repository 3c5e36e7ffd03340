import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fromJSON, fromYAML } from '../../src/workflow';
import { loadWorkflow } from '../../src/cli/load';

const root = join(__dirname, '..', '..');
const hello = join(root, 'examples', 'hello');

/** Runs the built `scanflow` command as a user would. */
function scanflow(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'scanflow.js'), ...args], {
    cwd: root,
    encoding: 'utf8'
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-cli-'));
  for (const [file, text] of Object.entries(files)) {
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

describe('scanflow graph', () => {
  it('prints the definition of a .ts workflow as JSON that reads back unchanged', () => {
    const result = scanflow('graph', join(hello, 'workflow.ts'), '--format', 'json');
    assert.equal(result.status, 0, result.stderr);
    const spec = fromJSON(result.stdout);
    assert.equal(spec.name, 'hello');
    assert.deepEqual(spec, loadWorkflow(join(hello, 'workflow.ts')));
  });

  it('reads the YAML example, which is the same workflow as the TypeScript one', () => {
    assert.deepEqual(
      fromYAML(readFileSync(join(hello, 'workflow.yaml'), 'utf8')),
      loadWorkflow(join(hello, 'workflow.ts'))
    );
    const result = scanflow('graph', join(hello, 'workflow.yaml'), '-f', 'dag');
    assert.equal(result.status, 0, result.stderr);
    const dag = JSON.parse(result.stdout) as { stages: string[][]; criticalPath: string[] };
    assert.deepEqual(dag.stages[1].sort(), [
      'hello.train.models.linear',
      'hello.train.models.mean'
    ]);
    assert.equal(dag.criticalPath[dag.criticalPath.length - 1], 'hello.report');
  });

  it('draws DOT with nested clusters and writes to a file with -o', () => {
    const out = join(scratch({}), 'hello.dot');
    const result = scanflow('graph', join(hello, 'workflow.ts'), '-f', 'dot', '-o', out);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, '');
    const dot = readFileSync(out, 'utf8');
    assert.match(dot, /subgraph "cluster_hello\.train" \{/);
    assert.match(dot, /subgraph "cluster_hello\.train\.models" \{[^}]*style=dashed/);
    assert.match(dot, /"hello\.train\.pick" -> "hello\.report";/);
  });

  it('draws an SVG picture with a box per step, workflow and group, names as text', () => {
    const result = scanflow('graph', join(hello, 'workflow.ts'), '--format', 'svg');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^<\?xml version="1\.0"[^>]*\?>\n<svg /);
    assert.match(result.stdout, /<style>/);
    for (const name of ['make-data', 'train', 'models', 'linear', 'mean', 'pick', 'report']) {
      assert.match(result.stdout, new RegExp(`>${name}</text>`));
    }
    assert.equal((result.stdout.match(/<rect /g) ?? []).length >= 7, true);
  });
});

describe('exit codes and errors', () => {
  it('exits 0 for help and version, with every command described', () => {
    const help = scanflow('--help');
    assert.equal(help.status, 0);
    for (const command of ['graph', 'validate', 'schema']) {
      assert.match(help.stdout, new RegExp(`\\n  ${command} `));
      const sub = scanflow(command, '--help');
      assert.equal(sub.status, 0);
      assert.match(sub.stdout, new RegExp(`Usage: scanflow ${command}`));
    }
    assert.match(scanflow('--version').stdout, /^\d+\.\d+\.\d+/);
  });

  it('exits 2 for an unknown command, an unknown option and a bad option value', () => {
    const unknown = scanflow('frobnicate');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const option = scanflow('graph', join(hello, 'workflow.ts'), '--colour');
    assert.equal(option.status, 2);
    assert.match(option.stderr, /unknown option '--colour'/);
    const format = scanflow('graph', join(hello, 'workflow.ts'), '-f', 'png');
    assert.equal(format.status, 2);
    assert.match(format.stderr, /Allowed choices are json, yaml, dag, dot, svg/);
  });

  it('exits 2 with every problem listed, and no stack trace, for a bad definition', () => {
    const dir = scratch({
      'bad.yaml':
        'name: bad\nsteps:\n  - name: a\n    after: [ghost]\n  - name: b c\n    image: x\n',
      'race.yaml':
        'name: race\nsteps:\n  - kind: parallel\n    name: p\n    steps:\n' +
        '      - name: w\n        image: x\n        outputs: [model]\n' +
        '      - name: r\n        image: x\n        inputs: [model]\n',
      'broken.json': '{ "name": "x", "steps": [ }',
      'empty.ts': 'export const unused = 1;\n',
      'notes.txt': 'hello'
    });
    const bad = scanflow('validate', join(dir, 'bad.yaml'));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /has 3 problems/);
    assert.match(bad.stderr, /bad\.a: the step has no image/);
    assert.match(bad.stderr, /bad\.a \(after\): it depends on 'ghost', which does not exist/);
    assert.match(bad.stderr, /bad\.b c \(name\): "b c" is not a valid name\. Fix: .* e\.g\. 'b-c'/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);

    const race = scanflow('validate', join(dir, 'race.yaml'));
    assert.equal(race.status, 2);
    assert.match(
      race.stderr,
      /race\.p\.r \(inputs\): it reads 'model', which race\.p\.w writes, but it does/
    );

    const broken = scanflow('graph', join(dir, 'broken.json'));
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /broken\.json \(line 1, column 27\): the JSON does not parse/);

    const empty = scanflow('graph', join(dir, 'empty.ts'));
    assert.equal(empty.status, 2);
    assert.match(
      empty.stderr,
      /no default export\. Fix: end the module with `export default workflow\(\.\.\.\)`/
    );

    assert.equal(scanflow('graph', join(dir, 'notes.txt')).status, 2);
    const missing = scanflow('graph', join(dir, 'nope.yaml'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.yaml: no such file/);
  });

  it('validates a good definition with a summary line', () => {
    const result = scanflow('validate', join(hello, 'workflow.yaml'));
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /workflow 'hello' is valid: 5 steps, 3 workflows and groups, 4 stages/
    );
  });

  it('prints the JSON schema', () => {
    const result = scanflow('schema');
    assert.equal(result.status, 0);
    const schema = JSON.parse(result.stdout) as {
      title: string;
      definitions: Record<string, unknown>;
    };
    assert.equal(schema.title, 'Scanflow workflow');
    assert.ok(
      schema.definitions.step && schema.definitions.parallel && schema.definitions.workflow
    );
  });
});

describe('scanflow start-up', () => {
  /** The npm packages that `scanflow <args>` loads (fixtures/report-packages.cjs lists them). */
  function packagesLoaded(...args: string[]): string[] {
    const report = join(mkdtempSync(join(tmpdir(), 'scanflow-cli-')), 'packages.txt');
    const result = spawnSync(
      process.execPath,
      [
        '--require',
        join(__dirname, 'fixtures', 'report-packages.cjs'),
        join(root, 'bin', 'scanflow.js'),
        ...args
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, SCANFLOW_PACKAGES_REPORT: report } }
    );
    assert.equal(result.status, 0, result.stderr);
    return readFileSync(report, 'utf8').split('\n');
  }

  it('loads neither TensorFlow.js, dockerode nor the MNIST digits to validate or draw a workflow', () => {
    // The example imports the package ('scanflow'), whose index must load them lazily too.
    for (const args of [
      ['validate', join(hello, 'workflow.ts')],
      ['graph', join(hello, 'workflow.ts'), '--format', 'svg'],
      ['--help']
    ]) {
      const loaded = packagesLoaded(...args);
      assert.ok(loaded.includes('commander'), `the report lists nothing: ${loaded.join(' ')}`);
      assert.deepEqual(
        loaded.filter(name => /^(@tensorflow\/.*|dockerode|mnist)$/.test(name)),
        [],
        `scanflow ${args.join(' ')}`
      );
    }
  });
});
