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
import type { NodeSpec, ServiceSpec, StepSpec, WorkflowSpec } from '../../src/workflow';

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

/** Runs `scanflow export` of `spec` to `target`; what it printed, its exit code, whether it wrote. */
async function exportCli(spec: WorkflowSpec, target: string, label: string, args: string[] = []) {
  const file = join(dir, `${label}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const out = join(dir, `${label}-${target}`);
  let stdout = '';
  let stderr = '';
  const code = await main(['export', file, '--to', target, '-o', out, ...args], {
    out: text => (stdout += text),
    err: text => (stderr += text)
  });
  const problems = stderr.split('\n').filter(line => line.startsWith('  - '));
  return { code, stdout, stderr, problems, wrote: existsSync(out) };
}

const trainStep: StepSpec = {
  kind: 'step',
  name: 'train',
  image: 'scanflow/node:20',
  command: ['node', '-e', '0']
};

function servedWith(service: Partial<ServiceSpec>, name = 'served'): WorkflowSpec {
  return {
    kind: 'workflow',
    name,
    steps: [
      trainStep,
      {
        kind: 'service',
        name: 'api',
        image: 'scanflow/node:20',
        command: ['node', 'serve.js'],
        port: 8080,
        ...service
      }
    ]
  };
}

test('a workflow with a service exports to every target', async () => {
  for (const target of ['compose', 'swarm', 'k8s']) {
    const result = await exportCli(servedWith({ healthcheck: { path: '/health' } }), target, 'ok');
    assert.equal(result.code, 0, `${target}: ${result.stderr}`);
    assert.ok(result.wrote, target);
  }
});

test('what a target cannot express of a service is refused, naming the service, the feature and the fix; exit 2, nothing written', async () => {
  const cases: Array<{ spec: WorkflowSpec; targets: string[]; args?: string[]; problem: string }> =
    [
      {
        spec: servedWith({ healthcheck: { path: '/health check' } }),
        targets: ['compose', 'swarm', 'k8s'],
        problem:
          '  - served.api (healthcheck.path): the healthcheck path "/health check" holds spaces or ' +
          'control characters, which an HTTP request line (and a Kubernetes probe) cannot carry. ' +
          'Fix: percent-encode them, e.g. "/health%20check".'
      },
      {
        spec: servedWith({ name: '2api' }),
        targets: ['k8s'],
        problem:
          '  - served.2api: its Kubernetes Service name would begin with a digit, which Service ' +
          'names cannot (DNS-1035). Fix: give the service (or the workflow that holds it) a name ' +
          'that begins with a letter.'
      },
      {
        spec: servedWith({ name: 'tracker' }),
        targets: ['compose', 'swarm', 'k8s'],
        problem:
          "  - served.tracker: its name on the deployment's network, 'tracker', is that of the " +
          "deployment's tracker service. Fix: rename the service, or deploy with --tracker URL " +
          '(or --no-tracker).'
      },
      {
        spec: servedWith({ image: undefined, dockerfile: 'Dockerfile' }),
        targets: ['swarm'],
        problem:
          "  - served.api (dockerfile): its image is built from a Dockerfile, which 'docker stack " +
          "deploy' does not build. Fix: export with --build."
      },
      {
        spec: servedWith({ resources: { gpus: 1 } }),
        targets: ['swarm'],
        problem:
          '  - served.api (resources.gpus): Swarm services cannot request GPUs (a stack file has ' +
          'no device requests). Fix: export to compose or k8s, or remove resources.gpus and place ' +
          'the step with node labels.'
      }
    ];
  for (const [i, kase] of cases.entries()) {
    for (const target of kase.targets) {
      const result = await exportCli(kase.spec, target, `refused${i}`, kase.args);
      assert.equal(result.code, 2, `${target}: ${result.stderr}`);
      assert.equal(result.stdout, '', target);
      assert.ok(!result.wrote, `${target}: nothing written`);
      assert.deepEqual(result.problems, [kase.problem], target);
    }
  }
  // A tracker of the person's own frees the name.
  const external = await exportCli(servedWith({ name: 'tracker' }), 'compose', 'external', [
    '--tracker',
    'http://mlflow.example:5000'
  ]);
  assert.equal(external.code, 0, external.stderr);
});
