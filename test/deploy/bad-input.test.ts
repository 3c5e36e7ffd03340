/**
 * What a target cannot express is refused before anything is written or built: 100 generated
 * definitions, each with one such feature somewhere in a nested graph, each get one clear error
 * (the step, the feature and the fix), exit code 2, and no files.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../../src/cli/main';
import type { NodeSpec, StepSpec, WorkflowSpec } from '../../src/workflow';

const dir = mkdtempSync(join(tmpdir(), 'scanflow-bad-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

interface Case {
  target: 'compose' | 'swarm' | 'k8s';
  args: string[];
  /** The offending step's field, and what the message must say. */
  field: string;
  says: RegExp;
  make: (name: string) => Partial<StepSpec>;
}

const CASES: Case[] = [
  {
    target: 'swarm',
    args: [],
    field: 'resources.gpus',
    says: /Swarm services cannot request GPUs.*Fix: export to compose or k8s/,
    make: () => ({ image: 'scanflow/node:20', resources: { gpus: 1 } })
  },
  {
    target: 'swarm',
    args: [],
    field: 'dockerfile',
    says: /built from a Dockerfile, which 'docker stack deploy' does not build.*Fix: export with --build/,
    make: name => ({ dockerfile: `${name}/Dockerfile` })
  },
  {
    target: 'k8s',
    args: [],
    field: 'dockerfile',
    says: /Kubernetes does not build.*Fix: export with --build --registry HOST:PORT/,
    make: name => ({ dockerfile: `${name}/Dockerfile` })
  },
  {
    target: 'compose',
    args: [],
    field: 'base',
    says: /built from `base` plus the definition.s folder \(and pip requirements\), which only scanflow builds.*Fix: export with --build/,
    make: () => ({ base: 'scanflow/python:3.11', requirements: ['numpy'] })
  },
  {
    target: 'k8s',
    args: ['--build'],
    field: 'base',
    says: /built on this machine, which a Kubernetes cluster's nodes cannot pull.*--registry/,
    make: () => ({ base: 'scanflow/node:20' })
  }
];

function generate(seed: number): { spec: WorkflowSpec; bad: string; kase: Case } {
  const next = random(seed);
  const kase = CASES[seed % CASES.length];
  const steps: StepSpec[] = [];
  const count = 2 + Math.floor(next() * 6);
  const badIndex = Math.floor(next() * count);
  for (let i = 0; i < count; i++) {
    const name = `s${i}-${Math.floor(next() * 1000)}`;
    steps.push({
      kind: 'step',
      name,
      command: ['node', '-e', '0'],
      ...(i === badIndex ? kase.make(name) : { image: 'scanflow/node:20' })
    } as StepSpec);
  }
  // Nest them: runs of steps become parallel groups or sub-workflows at random.
  const nodes: NodeSpec[] = [];
  for (let i = 0; i < steps.length;) {
    const size = 1 + Math.floor(next() * 3);
    const group = steps.slice(i, i + size);
    nodes.push(
      group.length === 1
        ? group[0]
        : { kind: next() < 0.5 ? 'parallel' : 'workflow', name: `g${i}`, steps: group }
    );
    i += size;
  }
  const spec: WorkflowSpec = { kind: 'workflow', name: `gen${seed}`, steps: nodes };
  const bad = steps[badIndex].name;
  return { spec, bad, kase };
}

test('100 definitions a target cannot express: one clear error each, exit 2, nothing written', async () => {
  for (let seed = 0; seed < 100; seed++) {
    const { spec, bad, kase } = generate(seed);
    const file = join(dir, `gen${seed}.json`);
    writeFileSync(file, JSON.stringify(spec));
    const out = join(dir, `out${seed}`);
    let stdout = '';
    let stderr = '';
    const code = await main(['export', file, '--to', kase.target, '-o', out, ...kase.args], {
      out: text => (stdout += text),
      err: text => (stderr += text)
    });
    const where = `seed ${seed} (${kase.target} ${kase.field})`;
    assert.equal(code, 2, `${where}: ${stderr}`);
    assert.equal(stdout, '', where);
    assert.ok(!existsSync(out), `${where}: nothing written`);
    const problems = stderr.split('\n').filter(line => line.startsWith('  - '));
    assert.equal(problems.length, 1, `${where}: ${stderr}`);
    assert.match(
      problems[0],
      new RegExp(`^  - gen${seed}\\.(g\\d+\\.)?${bad} \\(${kase.field.replace('.', '\\.')}\\): `),
      where
    );
    assert.match(problems[0], kase.says, where);
  }
});

test('a workflow with a service is refused by every target, naming the service; exit 2, nothing written', async () => {
  const spec: WorkflowSpec = {
    kind: 'workflow',
    name: 'served',
    steps: [
      { kind: 'step', name: 'train', image: 'scanflow/node:20', command: ['node', '-e', '0'] },
      {
        kind: 'service',
        name: 'api',
        image: 'scanflow/node:20',
        command: ['node', 'serve.js'],
        port: 8080
      }
    ]
  };
  const file = join(dir, 'served.json');
  writeFileSync(file, JSON.stringify(spec));
  for (const target of ['compose', 'swarm', 'k8s']) {
    const out = join(dir, `served-${target}`);
    let stdout = '';
    let stderr = '';
    const code = await main(['export', file, '--to', target, '-o', out], {
      out: text => (stdout += text),
      err: text => (stderr += text)
    });
    assert.equal(code, 2, `${target}: ${stderr}`);
    assert.equal(stdout, '', target);
    assert.ok(!existsSync(out), `${target}: nothing written`);
    const problems = stderr.split('\n').filter(line => line.startsWith('  - '));
    assert.deepEqual(
      problems,
      [
        `  - served.api: it is a service, and services are not exported yet (to ${target} or any ` +
          'target). Fix: run the workflow with `scanflow run`, which keeps its services up until ' +
          'Ctrl-C, or serve the model with `scanflow serve`.'
      ],
      target
    );
  }
});
